/*
 * Gunicorn's server hooks (docs/compat.md, Server hooks): the callables a config
 * file names, and the Python objects they are called with.
 *
 * The settings table has one CU_CALLABLE row per hook (its meta is the
 * signature); this keeps the callables themselves, which plain C cannot.
 * Who calls which hook when is hookpoints.c's business (the master's
 * through cu_master_ops.hook); docs/hooks.md lists the call points.
 * Everything here runs with the GIL held, except the signal thread.
 */
#ifndef CU_HOST_HOOKS_H
#define CU_HOST_HOOKS_H

#define PY_SSIZE_T_CLEAN
#include <Python.h>

#include <sys/types.h>

#include "config/settings.h"
#include "http/parser.h"
#include "worker/worker.h"

/* In the settings table's order of the hook rows. */
enum cu_hook {
    CU_H_ON_STARTING, CU_H_ON_RELOAD, CU_H_WHEN_READY, CU_H_PRE_FORK,
    CU_H_POST_FORK, CU_H_POST_WORKER_INIT, CU_H_WORKER_INT,
    CU_H_WORKER_ABORT, CU_H_PRE_EXEC, CU_H_PRE_REQUEST, CU_H_POST_REQUEST,
    CU_H_CHILD_EXIT, CU_H_WORKER_EXIT, CU_H_NWORKERS_CHANGED, CU_H_ON_EXIT,
    CU_H_SSL_CONTEXT,
    /* refused when set (their rows say why); checked like the others */
    CU_H_ON_DIRTY_STARTING, CU_H_DIRTY_POST_FORK, CU_H_DIRTY_WORKER_INIT,
    CU_H_DIRTY_WORKER_EXIT, CU_H_COUNT
};

struct cu_hooks {
    PyObject *fn[CU_H_COUNT];  /* NULL: not set */
    int post_request_args;     /* 2, 3 or 4: what that callable takes */
    PyObject *mod;             /* cunicorn._hooks, once needed */
    PyObject *server;          /* the master as hooks see it, or NULL */
    PyObject *worker;          /* in a worker: this worker, or NULL */
    int ran_int, ran_exit;     /* worker_int, worker_exit: once a worker
                                * (read and set with the GIL) */
};

/* The hook a setting is, or -1. */
int cu_hook_index(const char *name);
/* Any hook set at all? (No objects are built otherwise.) */
int cu_hooks_any(const struct cu_hooks *h);

/*
 * A config file's value v for the hook setting s: a callable or a
 * "module.attr" string, with the number of positional parameters that
 * s->meta allows. Kept in h; its --print-config text goes to c. Returns 0,
 * or -1 with "Invalid value for NAME: why" in err (a Python error, if any,
 * is cleared).
 */
int cu_hooks_set(struct cu_hooks *h, struct cu_config *c,
                 const struct cu_setting *s, PyObject *v, char *err,
                 size_t errlen);
/* Every setting of c by name, as Python sees it (server.cfg's values): a
 * new dict, or NULL with an exception. */
PyObject *cu_hooks_settings(const struct cu_hooks *h, const struct cu_config *c);
/* Drops every callable and object. */
void cu_hooks_clear(struct cu_hooks *h);
/* HUP: the callables move to saved (only its fn[] and post_request_args
 * are used) while the config file is read again; then the new ones are
 * kept (keep_new) and the old dropped, or the other way round. */
void cu_hooks_stash(struct cu_hooks *h, struct cu_hooks *saved);
void cu_hooks_unstash(struct cu_hooks *h, struct cu_hooks *saved, int keep_new);

/* (Re)builds the server object from the configuration: pid, cfg (every
 * setting by name), log, num_workers. 0 or -1 (Python error set). */
int cu_hooks_server(struct cu_hooks *h, const struct cu_config *c,
                    pid_t master_pid, int num_workers);
/* A worker object (age, pid or "[booting]" when pid is 0); new ref. */
PyObject *cu_hooks_worker(struct cu_hooks *h, int age, pid_t pid);

/*
 * Calls hook `which` with args (stolen; NULL: the error is logged). An
 * exception is logged with its traceback as "Exception in NAME hook".
 * Returns 0 (also when the hook is not set) or -1 if it raised.
 */
int cu_hooks_call(struct cu_hooks *h, int which, PyObject *args);

/* pre_request/post_request's req and resp (new references). */
PyObject *cu_hooks_request(struct cu_hooks *h, const struct cu_request *q);
PyObject *cu_hooks_response(struct cu_hooks *h, int status,
                            unsigned long long sent);

/*
 * worker_int / worker_abort: the worker's signal handlers cannot run
 * Python, so they write the signal's number to a pipe (see
 * cu_worker_signal_pipe) and this thread, started with its read end, takes
 * the GIL, runs the hook and worker_exit, and leaves the process: 0 after
 * INT/QUIT, 1 after ABRT. 0 or -1 (logged).
 */
int cu_hooks_signal_thread(struct cu_hooks *h, int fd);
/* That thread's hook, also --reload's (src/host/reloader.c): with the GIL,
 * worker.alive = False, worker_int(worker) (abrt: worker_abort), then what
 * it printed is flushed. Nothing without a worker object; worker_int runs
 * once in a worker (an INT during a reload's does not run it again). */
void cu_hooks_worker_int(struct cu_hooks *h, int abrt);
/* worker_exit(server, worker), with the GIL, once in a worker whichever way
 * it leaves (its end, or that thread's _exit), then what it printed is
 * flushed. */
void cu_hooks_worker_exit(struct cu_hooks *h);

/* _cunicorn._log(level, text[, exception]): for the log object's
 * methods; exception: a log.exception line (core/log.h). */
PyObject *cu_hooks_py_log(PyObject *module, PyObject *args);
/* _cunicorn._statsd([body]): whether statsd is on in this process, after
 * sending body (bytes, "name:value|type") with the prefix and tags: a
 * metric a hook passes in the log's `extra`, as Gunicorn's statsd logger
 * takes it. */
PyObject *cu_hooks_py_statsd(PyObject *module, PyObject *args);

#endif
