/*
 * The host: the extension module cunicorn._cunicorn, which runs the C
 * server inside the Python interpreter. Private to src/host/; each file is
 * one concern of it (docs/architecture.md, "The host").
 *
 * The master holds the GIL (it runs no Python while it waits); a worker
 * drops it except while the application runs.
 */
#ifndef CU_HOST_HOST_H
#define CU_HOST_HOST_H

#define PY_SSIZE_T_CLEAN
#include <Python.h>

#include <sys/types.h>

#include "config/derive.h"
#include "config/settings.h"
#include "host/hooks.h"
#include "master/arbiter.h"
#include "master/upgrade.h"
#include "net/listen.h"
#include "worker/class.h"
#include "worker/worker.h"
#include "wsgi/wsgi.h"

/* --reload, in a worker: what the reloader's thread asks Python for. */
struct cu_autoreload {
    PyObject *mod;          /* cunicorn._reloader */
    PyObject *extra;        /* reload_extra_files, and a file that broke */
    Py_ssize_t known;       /* modules seen so far; -1 before the first list */
    PyThreadState *ts;      /* the reloader thread's, while it waits */
};

/* Everything the start-up sets up, shared with the callbacks of the
 * master and of the workers. One per process. */
struct cu_host {
    struct cu_config cfg;
    struct cu_derived *set;     /* what cfg means for the subsystems */
    struct cu_derived *retired; /* HUP's previous one, kept until the
                                 * next: the master may still point into it */
    struct cu_listener *listeners;
    size_t n_listeners;
    PyObject *loader;           /* cunicorn._loader */
    PyObject *app;              /* preloaded, or loaded in the worker */
    struct cu_wsgi_types *types;
    struct cu_wsgi *wsgi;
    pid_t master_pid;
    uid_t uid;                  /* --user / --group for the workers, or -1 */
    gid_t gid;
    int argc;                   /* the command line, for HUP */
    char *const *argv;
    struct cu_upgrade up;       /* USR2: the start's command line and
                                 * environment, the hand-over's state */
    struct cu_autoreload reload;
    struct cu_hooks hooks;      /* the config file's server hooks */
    char *worker_subclass;      /* -k MODULE.CLASS that runs as the table's
                                 * class it derives from (subclass.c), or NULL */
    PyObject *file_names;       /* the config file's top-level names, as
                                 * last read (logconfig_dict, a
                                 * logger_class class), or NULL */
};

/* ---- subclass.c: -k MODULE.CLASS, a subclass of a table's class ---- */

/* When h->cfg.worker_class is a class the table does not name: imports it
 * and, if it derives from one the table names and defines nothing but
 * CONFIG_KWARGS (uvicorn's, applied as asgi settings), sets worker_class
 * to that one and keeps the name given in h->worker_subclass. 0 (also
 * when there is nothing to do), or -1 (reported: not found, or not a
 * class cunicorn can run). */
int host_worker_subclass(struct cu_host *h);

/* ---- config.c: the configuration, at start-up and on HUP ---- */

/* Resolves the configuration (defaults < config file < GUNICORN_CMD_ARGS
 * < command line) into h->cfg, h->cfg.app set. 0 to go on; -1 to stop
 * with *status (0 after --help or --version, 2 for a usage error, 1 for a
 * bad setting or no application), the reason reported. */
int host_resolve(struct cu_host *h, int *status);
/* What h->cfg means for the subsystems (cu_derive), into h->set. 0 or -1
 * (reported). */
int host_derive(struct cu_host *h);
/* Frees the configuration and what was derived from it. */
void host_config_free(struct cu_host *h);
/* HUP (cu_master_ops.reload): the configuration resolved again; on
 * success *next is the master's new one. */
int host_reconfigure(void *arg, const struct cu_master_config **next);
/* At debug level, the configuration as Gunicorn's arbiter logs it at
 * start and on HUP: "Current configuration:" and "  name: value" for
 * each setting, in the table's order, values as --print-config shows
 * them. */
void host_log_config(const struct cu_host *h);

/* ---- process.c: the processes ---- */

int host_resolve_ids(struct cu_host *h);
int host_drop_privileges(const struct cu_host *h);
int host_daemonize(int keep_stdio);
/* "cunicorn: ROLE [NAME]"; NAME.2 in a master a USR2 started, until it
 * is promoted, and in the workers it forks meanwhile (Gunicorn's). */
void host_title(const struct cu_host *h, const char *role);
void host_environ_sync(void);
/* sys.stdout and sys.stderr flushed (with the GIL), errors cleared: before
 * an _exit, or before --capture-output moves fds 1 and 2. */
void host_flush_stdio(void);
/* raw_env into os.environ (put 1), or its names back to their values at
 * start (put 0). 0 or -1 (reported). */
int host_raw_env(struct cu_host *h, const struct cu_strv *l, int put);
/* l as a new list of str (the file system's encoding), or NULL with an
 * exception set. */
PyObject *host_strv_list(const struct cu_strv *l);
/* --spew, as h->cfg says, in the calling thread. */
void host_spew(struct cu_host *h);
void host_freeze_gc(void);
/* The master's callbacks around fork, USR1 and the stop. */
void host_before_fork(void *arg);
void host_after_fork_parent(void *arg);
void host_after_fork_child(void *arg);
void host_reopen_logs(void *arg);
void host_close_listeners(void *arg);
/* A USR2 master's promotion: its title loses the ".2". */
void host_promoted(void *arg);
/* statsd in the master, as h->set says (at start, and after each HUP); a
 * name that does not resolve is logged, and the server goes on without
 * metrics. A worker reopens it in host_after_fork_child. */
void host_statsd_open(struct cu_host *h);
/* syslog in the master, as h->set says (docs/compat.md, Syslog): at start
 * (before the configuration's debug lines and "Starting"; start 1 then: a
 * failure is reported and stops the start, as Gunicorn's does) and after
 * each HUP (start 0: a failure is logged and the previous syslog goes on).
 * 0 or -1. Each process forked makes its own stream connection itself. */
int host_syslog_open(struct cu_host *h, int start);
/* enable_backlog_metric (cu_master_ops.backlog): the listen queues. */
int host_backlog(void *arg);

/* ---- app.c: importing the application ---- */

/* Loads the app into h->app: 0, or the exit status (3 or 4), logged. */
int host_load_app(struct cu_host *h);
/* The same, but a SyntaxError is left set (for --reload): 0 or -1. */
int host_import_app(struct cu_host *h);
/* After host_import_app failed: logs why, returns the exit status. */
int host_load_failed(struct cu_host *h);

/* ---- paste.c: the app from a PasteDeploy .ini file ---- */

/* In host_resolve, once every layer is in and paste is set: the file made
 * absolute (against the start's directory) and checked, h->cfg.app its
 * uri (FILE[#SECTION]), and the file the default_proc_name when that is
 * still name_before (what it was before the config file was read).
 * module: the APP_MODULE paste takes the place of, or NULL. 0, or -1
 * (reported: the start stops, status 1). */
int host_paste_locate(struct cu_host *h, const char *module, const char *name_before);
/* In the master, before it starts and on HUP: the file's [loggers] for
 * Python's logging, if it has one. 0, or -1 (reported). */
int host_paste_logging(struct cu_host *h);
/* The app of h->cfg.app, raw_paste_global_conf its global_conf: a new
 * reference, or NULL with the exception set. */
PyObject *host_paste_load(struct cu_host *h);

/* ---- pylog.c: Python mode (logconfig*, logger_class) ---- */

/* In the master, at start (before its first line worth keeping) and on
 * HUP (reload 1): when the settings ask for it, the logger made or set up
 * again, and the logs diverted to it; else back to the C lines. 0, or -1:
 * at start "Error: SETTING: why" on stderr (the start stops), on HUP an
 * error line, the previous set-up kept. */
int host_pylog_setup(struct cu_host *h, int reload);
/* Around fork: 1 from before PyOS_BeforeFork until after
 * PyOS_AfterFork_*, when the C lines are written instead. */
void host_pylog_hold(int hold);
/* Back to the C lines; the logger dropped. With the GIL. */
void host_pylog_end(void);

/* ---- reloader.c: --reload's Python side, in a worker ---- */

/* Loads the app if needed, and starts watching its files. 0, or the exit
 * status of a failed load. */
int host_start_reloader(struct cu_host *h);

/* ---- hookpoints.c: where Gunicorn's server hooks are called ---- */

int host_hooks_start(struct cu_host *h);
int host_master_hook(void *arg, int which, const struct cu_master_event *ev);
int host_hooks_worker_start(struct cu_host *h, int age);
int host_hooks_worker_ready(struct cu_host *h);
int host_serve_hooked(struct cu_host *h, struct cu_request *q);

/* ---- worker.c: a worker's start, and the GIL hand-off ---- */

int host_worker_main(void *arg, int age, struct cu_worker_slot *slot);
/* One request through the WSGI bridge, with the GIL held: Gunicorn's
 * default pre_request debug line, or the config file's request hooks,
 * around it. 0, or -1 when the connection failed. */
int host_serve_wsgi(struct cu_host *h, struct cu_request *q);

/* ---- asgi.c: the asgi class's event loop ---- */

/* cu_worker_env.event_loop: the asgi bridge over the loaded app, with the
 * GIL for as long as the loop runs. The worker's exit status. */
int host_asgi_loop(void *arg, struct cu_worker_env *env);
/* The same for the tornado class (cunicorn._tornado): a tornado
 * Application, or a plain WSGI app through the WSGI bridge. */
int host_tornado_loop(void *arg, struct cu_worker_env *env);

/* ---- green.c: the gevent and eventlet classes' hub ---- */

/* In the worker, before the app is imported: the standard library
 * patched for the class named kind (Gunicorn's patch()). With the GIL.
 * 0, or -1 (reported). */
int host_green_patch(const char *kind);
/* cu_worker_env.hub_open, without the GIL. */
int host_green_open(void *arg, const char *kind, int worker_connections,
                    struct cu_hub *out);

/* ---- main.c ---- */

/* _cunicorn.main(argv): runs the server; its exit status as an int. */
PyObject *cu_host_main(PyObject *args, struct cu_wsgi_types *types);
/* The C logs as h->cfg says: errorlog, accesslog, loglevel,
 * access_log_format, capture_output. In the master at start (reload 0: a
 * failure is reported and stops the start) and on HUP before the new
 * workers fork, which inherit them (reload 1: a failure -- a file that
 * cannot be opened, a format that does not compile -- is logged, as
 * Gunicorn's arbiter logs a logger set-up that failed, and all of them
 * stay as they were). 0 or -1. */
int host_open_logs(struct cu_host *h, int reload);

/* ---- interrupt.c: --request-timeout in a pool thread ---- */

/* A pool thread registers itself once, with the GIL. */
void host_thread_register(void);
/* With the GIL, around the app: begin (1) or end (0) a request. */
void host_in_app(int in);
/* cu_worker_env.interrupt: RequestTimeout raised in that thread. */
void host_interrupt(void *arg, unsigned long thread);

/* ---- gil.c: the GIL for a pool's requests, in FIFO order ---- */

/* Whether pool threads take turns for the GIL (before the pool starts). */
void host_gil_fifo(int on);
/* PyEval_RestoreThread(ts), after the threads that asked before. */
void host_gil_take(PyThreadState *ts);

#endif
