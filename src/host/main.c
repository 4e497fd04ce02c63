/*
 * main(): the start-up sequence, from the command line to the master's
 * loop, and what is released after it; the C logs as the configuration
 * says (host_open_logs, called again on HUP). The configuration is
 * config.c's; the master is plain C (src/master/), called back here for
 * what needs the interpreter (process.c, worker.c, hookpoints.c).
 */
#include "host/host.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/access.h"
#include "core/log.h"
#include "core/proctitle.h"
#include "core/statsd.h"
#include "core/syslog.h"
#include "cu_version.h"
#include "wsgi/report.h"
#include "net/listeners.h"

/* See host.h. */
int host_open_logs(struct cu_host *h, int reload)
{
    char err[512];
    int rc;

    /* the format first: nothing changes when it would not compile */
    rc = cu_access_format_check(h->cfg.access_log_format, err, sizeof(err)) < 0 ||
         cu_log_open(h->cfg.errorlog, h->cfg.accesslog, cu_config_loglevel(&h->cfg), err,
                     sizeof(err)) < 0 ||
         cu_access_format_set(h->cfg.access_log_format, err, sizeof(err)) < 0 ? -1 : 0;
    if (rc < 0) {
        if (reload)  /* the words of Gunicorn's arbiter, and why */
            cu_log(CU_ERROR, "reloading the logger configuration failed, keeping the "
                   "previous one: %s", err);
        else
            cu_report_error("Error: %s", err);
        return -1;
    }
    cu_report_to_log();
    /* --capture-output: the process's own stdout and stderr go to the
     * error log file (not when that is stderr); turned off by a HUP, they
     * stay where they point, as with Gunicorn, but no longer follow */
    if (h->cfg.capture_output && strcmp(h->cfg.errorlog, "-") != 0) {
        host_flush_stdio();  /* what they hold goes where it was meant to */
        if (cu_log_capture() < 0) {
            cu_report_error("Error: --capture-output: %s", strerror(errno));
            return -1;
        }
    }
    return 0;
}

/* --env, --chdir, --pythonpath. 0 or -1 (reported). */
static int set_environment(struct cu_host *h)
{
    PyObject *r;

    if (host_raw_env(h, &h->cfg.raw_env, 1) < 0)
        return -1;
    r = PyObject_CallMethod(h->loader, "setup_paths", "zz", h->cfg.chdir, h->cfg.pythonpath);
    if (!r) {
        cu_report_exception("Error: --chdir/--pythonpath");
        return -1;
    }
    Py_DECREF(r);
    return 0;
}

/* The master's side of the start, once the configuration is known:
 * returns the process's exit status. */
static int run(struct cu_host *h)
{
    struct cu_master_ops ops = {host_worker_main, host_before_fork, host_after_fork_parent,
                                host_after_fork_child, host_reconfigure, host_reopen_logs,
                                host_close_listeners, host_master_hook, host_promoted,
                                host_backlog};
    struct cu_bind_opts bind_opts;
    int rc;

    if (h->cfg.ssl_version != 2)  /* Gunicorn's warning, word for word */
        (void)fprintf(stderr, "Warning: option `ssl_version` is deprecated and it is "
                      "ignored. Use ssl_context instead.\n");
    if (host_derive(h) < 0 || host_open_logs(h, 0) < 0 || set_environment(h) < 0)
        return 1;
    /* the logger, as Gunicorn's arbiter makes it: before detaching; a bad
     * one stops --check-config too (not --print-config alone) */
    if ((!h->cfg.print_config || h->cfg.check_config) && host_pylog_setup(h, 0) < 0)
        return 1;
    if (h->cfg.check_config || h->cfg.print_config) {
        if (h->cfg.print_config)
            cu_config_print(&h->cfg, stdout);
        return host_load_app(h) == 0 ? 0 : 1;
    }
    if (host_resolve_ids(h) < 0)
        return 1;
    if (h->cfg.spew)
        host_spew(h);  /* where Gunicorn starts it: before detaching */
    if (h->cfg.daemon && getenv("NOTIFY_SOCKET"))
        (void)fprintf(stderr, "Warning: you shouldn't specify `daemon = True` when "
                "launching by systemd with `Type = notify`\n");  /* as Gunicorn */
    /* A USR2 child stays under its old master (already detached). */
    if (h->cfg.daemon && !getenv("GUNICORN_FD") && host_daemonize(h->cfg.enable_stdio_inheritance) < 0)
        return 1;
    /* where Gunicorn's logger reads it: after detaching, before the
     * hooks and a preloaded app */
    if (h->cfg.paste && host_paste_logging(h) < 0)
        return 1;
    if (cu_proctitle_init() < 0)
        cu_log(CU_DEBUG, "No process titles: the argv area was not found");
    host_title(h, "master");
    umask((mode_t)h->cfg.umask);
    /* where Gunicorn's logger adds its syslog handler: before the
     * configuration's debug lines */
    if (host_syslog_open(h, 1) < 0)
        return 1;
    host_log_config(h);
    host_statsd_open(h);
    cu_log(CU_INFO, "Starting cunicorn %s", CU_VERSION);
    if (host_hooks_start(h) < 0)
        return 1;
    bind_opts = (struct cu_bind_opts){h->cfg.backlog, h->cfg.reuse_port, h->uid, h->gid,
                                      CU_BIND_TRIES};
    rc = cu_listeners_open(&h->listeners, &h->n_listeners, &h->up.n_systemd,
                           (const char *const *)h->cfg.bind.v, h->cfg.bind.n, &bind_opts);
    if (rc > 0) {  /* INT, QUIT or TERM while a bind waited to be tried again */
        cu_log(CU_INFO, "Shutting down: Master");
        return 0;
    }
    if (rc < 0)
        return 1;
    cu_listeners_announce(h->listeners, h->n_listeners, h->set->tls != NULL);
    host_environ_sync();
    if (h->worker_subclass)  /* Ours: what it runs as */
        cu_log(CU_INFO, "Using worker: %s (%s, as its base class %s)",
               h->set->worker_class->name, h->worker_subclass, h->cfg.worker_class);
    else
        cu_log(CU_INFO, "Using worker: %s", h->set->worker_class->name);
    if (h->cfg.preload_app) {
        rc = host_load_app(h);
        if (rc)
            return rc;
        if (h->cfg.reload)
            cu_log(CU_WARNING, "--reload with --preload: the workers restart "
                   "when a file changes, but they are forked from this master, "
                   "which keeps the code it preloaded; only modules the "
                   "workers import themselves are loaded anew");
    }
    host_freeze_gc();
    h->master_pid = getpid();
    h->up.listeners = &h->listeners;
    h->up.n_listeners = &h->n_listeners;
    return cu_master_run(&h->set->master, &ops, h);
}

/* For USR2: the same interpreter runs `-m cunicorn` with these arguments
 * again, in the environment and directory of now (before --env and
 * --chdir apply). 0, or -1 with a Python exception set. */
static int capture_start(struct cu_host *h)
{
    PyObject *exe = PySys_GetObject("executable");  /* borrowed */
    const char *head[] = {NULL, "-m", "cunicorn"};
    char err[256];

    if (exe && PyUnicode_Check(exe) && !(head[0] = PyUnicode_AsUTF8(exe)))
        return -1;
    if (cu_upgrade_capture(&h->up, head, 3, h->argc, h->argv, err, sizeof(err)) < 0) {
        PyErr_Format(PyExc_OSError, "cunicorn: %s", err);
        return -1;
    }
    return 0;
}

/* After the master's loop (or a start that failed): what it held. */
static void release(struct cu_host *h)
{
    /* The socket files stay while another master (USR2) or systemd holds
     * the same sockets. */
    int unlink = !h->up.n_systemd && !h->up.parent && !h->up.child && !h->cfg.reuse_port;

    for (size_t i = 0; i < h->n_listeners; i++)
        cu_listener_close(&h->listeners[i], unlink);
    cu_upgrade_release(&h->up);
    cu_statsd_close();
    cu_syslog_close();
    host_pylog_end();
    Py_CLEAR(h->file_names);
    free(h->listeners);
    host_config_free(h);
    cu_hooks_clear(&h->hooks);
    Py_XDECREF(h->app);
}

/* _cunicorn.main(argv): the server, to its exit status. */
PyObject *cu_host_main(PyObject *args, struct cu_wsgi_types *types)
{
    struct cu_host h;
    PyObject *list, *loader;
    char **argv;
    Py_ssize_t argc;
    int rc;

    if (!PyArg_ParseTuple(args, "O!:main", &PyList_Type, &list))
        return NULL;
    loader = PyImport_ImportModule("cunicorn._loader");
    if (!loader)
        return NULL;
    argc = PyList_GET_SIZE(list);
    argv = PyMem_Calloc((size_t)argc + 1, sizeof(char *));
    if (!argv) {
        Py_DECREF(loader);
        return PyErr_NoMemory();
    }
    for (Py_ssize_t i = 0; i < argc; i++) {
        PyObject *a = PyList_GET_ITEM(list, i);
        if (!PyUnicode_Check(a) || !(argv[i] = (char *)PyUnicode_AsUTF8(a))) {
            if (!PyErr_Occurred())
                PyErr_SetString(PyExc_TypeError, "arguments must be str");
            PyMem_Free(argv);
            Py_DECREF(loader);
            return NULL;
        }
    }
    memset(&h, 0, sizeof(h));
    h.loader = loader;
    h.types = types;
    h.argc = (int)argc;
    h.argv = argv;
    if (capture_start(&h) < 0) {
        PyMem_Free(argv);
        Py_DECREF(loader);
        return NULL;
    }
    if (host_resolve(&h, &rc) == 0)
        rc = run(&h);
    (void)fflush(stdout);
    release(&h);
    Py_DECREF(loader);
    PyMem_Free(argv);
    return PyLong_FromLong(rc);
}
