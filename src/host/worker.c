/*
 * A worker's life, after the master's fork: its title, hooks, signals and
 * ids, faulthandler, the app (unless preloaded), the bridge, then the
 * worker class's loop (src/worker/class.h) without the GIL. And the GIL
 * hand-off: the loop calls serve() without it, for each request.
 */
#include "host/host.h"

#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "core/log.h"
#include "cu_version.h"
#include "wsgi/report.h"

/* The thread state of the thread that serves, while it runs without the
 * GIL: the worker's main thread, or a pool thread. */
static _Thread_local PyThreadState *tls_ts;
/* Gunicorn's default pre_request hook logs each request at debug level;
 * set once per worker (worker_env), before any request. */
static int debug_requests;

int host_serve_wsgi(struct cu_host *h, struct cu_request *q)
{
    int rc;

    /* Gunicorn's default pre_request hook: "METHOD PATH" at debug level,
     * unless a pre_request of the config file takes its place */
    if (debug_requests) {
        const struct http_request *r = q->http;
        const char *head = cu_request_head(q);
        cu_log(CU_DEBUG, "%.*s %.*s", (int)r->method.len, head + r->method.off,
               (int)r->path.len, head + r->path.off);
    }
    host_in_app(1);
    if (h->hooks.fn[CU_H_PRE_REQUEST] || h->hooks.fn[CU_H_POST_REQUEST])
        rc = host_serve_hooked(h, q);
    else
        rc = cu_wsgi_serve(h->wsgi, q, NULL);
    host_in_app(0);
    return rc;
}

/* cu_worker_env.serve: takes the GIL for the length of one request, in
 * turn with the pool's other threads (gil.c). */
static int serve(void *arg, struct cu_request *q)
{
    int rc;

    host_gil_take(tls_ts);
    rc = host_serve_wsgi(arg, q);
    tls_ts = PyEval_SaveThread();
    return rc;
}

/* cu_worker_env.resume: a paused streamed response (gthread), with the
 * GIL for as long as it writes. */
static int resume(void *arg, struct cu_request *q, int abandon)
{
    struct cu_host *h = arg;
    int rc;

    host_gil_take(tls_ts);
    host_in_app(1);
    rc = cu_wsgi_resume(h->wsgi, q, abandon);
    host_in_app(0);
    tls_ts = PyEval_SaveThread();
    return rc;
}

/* A pool thread, before its first request: a thread state of its own,
 * kept for the thread's life (the process exits under it). */
static void thread_start(void *arg)
{
    struct cu_host *h = arg;

    (void)PyGILState_Ensure();
    host_thread_register();
    if (h->cfg.spew)
        host_spew(h);  /* a trace function is the thread's own */
    tls_ts = PyEval_SaveThread();
}

/* A pool thread, before it closes a connection the bridge kept objects
 * on. */
static void conn_free(void *arg, struct cu_conn *c)
{
    struct cu_host *h = arg;

    PyEval_RestoreThread(tls_ts);
    cu_wsgi_conn_free(h->wsgi, c);
    tls_ts = PyEval_SaveThread();
}

/* The signal a threaded worker raises on a thread stuck past --timeout:
 * faulthandler, registered for it, writes that thread's Python stack. */
static int dump_signal(void)
{
    return SIGRTMIN + 1;
}

/* Beyond Gunicorn: when the master aborts a frozen worker, the Python
 * stack of every thread goes to the error log first (faulthandler's dump
 * is signal-safe), then the worker's own handler runs. sync's
 * --request-timeout: SIGALRM raises RequestTimeout in the app. */
static void stacks_and_alarms(struct cu_host *h, int threads)
{
    PyObject *r = PyObject_CallMethod(h->loader, "dump_stacks", "ii", cu_log_error_fd(),
                                      threads ? dump_signal() : 0);

    if (r && !threads && h->cfg.request_timeout > 0) {
        Py_DECREF(r);
        r = PyObject_CallMethod(h->loader, "request_alarm", NULL);
    }
    if (!r)
        cu_report_exception("faulthandler");
    Py_XDECREF(r);
}

/* The bridge for the loaded app. Its Server header and SERVER_SOFTWARE
 * are ours unless the config file set gunicorn.SERVER or
 * gunicorn.SERVER_SOFTWARE (cunicorn._loader.server_names). 0, or -1
 * (logged). */
static int start_bridge(struct cu_host *h)
{
    struct cu_wsgi_opts opts = h->set->wsgi;
    PyObject *names = PyObject_CallMethod(h->loader, "server_names", NULL);
    PyObject *server, *software;

    opts.errors_fd = cu_log_error_fd();
    opts.server_software = "cunicorn/" CU_VERSION;
    if (!names || !PyArg_ParseTuple(names, "OO", &server, &software) ||
        (server != Py_None && !(opts.server = PyBytes_AsString(server))) ||
        (software != Py_None && !(opts.server_software = PyUnicode_AsUTF8(software)))) {
        cu_report_exception("Exception in worker process");
        Py_XDECREF(names);
        return -1;
    }
    h->wsgi = cu_wsgi_new(h->app, h->types, &opts);  /* copies both */
    Py_DECREF(names);
    if (!h->wsgi) {
        cu_report_exception("Exception in worker process");
        return -1;
    }
    return 0;
}

/* What the worker class's loop is given: the settings derived, and what
 * only this process knows. */
static void worker_env(struct cu_host *h, struct cu_worker_env *env,
                       struct cu_worker_slot *slot, int threads)
{
    *env = h->set->worker;  /* it points into h->set, which stays */
    if (env->max_requests > 0 && h->set->max_requests_jitter > 0) {
        /* Gunicorn's: max_requests + randint(0, jitter), per worker */
        srandom((unsigned)getpid() ^ (unsigned)time(NULL));
        env->max_requests += (int)(random() % ((long)h->set->max_requests_jitter + 1));
    }
    env->listeners = h->listeners;
    env->n_listeners = h->n_listeners;
    env->dump_signal = threads ? dump_signal() : 0;
    env->thread_start = thread_start;
    env->conn_free = conn_free;
    env->interrupt = host_interrupt;
    env->serve = serve;
    env->resume = resume;
    env->event_loop = h->set->worker_class->flags & CU_WC_TORNADO ? host_tornado_loop
                                                                  : host_asgi_loop;
    env->hub_open = host_green_open;
    env->app = h;
    env->slot = slot;
    env->ppid = h->master_pid;  /* not getppid(): the master may be gone */
    debug_requests = !h->hooks.fn[CU_H_PRE_REQUEST] && cu_log_enabled(CU_DEBUG);
}

/* From the signals to the loop: the patch, the app's import, the
 * bridge, the worker_ready hook. 0, or the worker's exit status. */
static int worker_boot(struct cu_host *h, int threads)
{
    const struct cu_worker_class *k = h->set->worker_class;
    int rc;

    if (host_drop_privileges(h) < 0 ||
        /* Gunicorn's async workers patch in the worker, before the app's
         * import (a --preload app was imported unpatched) */
        ((k->flags & CU_WC_GREEN) && host_green_patch(k->name) < 0))
        return CU_EXIT_WORKER_BOOT;
    stacks_and_alarms(h, threads);
    if (h->cfg.reload && (rc = host_start_reloader(h)) != 0)
        return rc;
    if (!h->app) {
        if ((rc = host_load_app(h)) != 0)
            return rc;
        host_freeze_gc();  /* what the import made lives as long as we do */
    }
    if (start_bridge(h) < 0 || host_hooks_worker_ready(h) < 0)
        return CU_EXIT_WORKER_BOOT;
    return 0;
}

/* Up to the loop; returns its exit status. */
static int worker_run(struct cu_host *h, int age, struct cu_worker_slot *slot)
{
    const struct cu_worker_class *k = h->set->worker_class;
    int threads = (k->flags & CU_WC_THREADS) != 0, rc, in_loop;
    struct cu_worker_env env;

    host_title(h, "worker");
    if (host_hooks_worker_start(h, age) < 0 || cu_worker_signals(slot) < 0)
        return CU_EXIT_WORKER_BOOT;
    /* a TERM from here on releases the listeners at once (boot.c) */
    cu_worker_boot_begin(h->listeners, h->n_listeners);
    rc = worker_boot(h, threads);
    /* asgi, tornado: the boot goes on in the loop (what it imports) until
     * it watches for a TERM itself (src/asgi/server.c, open) */
    in_loop = rc == 0 && (k->flags & CU_WC_ASYNC) && !cu_worker_stop;
    if (!in_loop && cu_worker_boot_end() && rc == 0) {
        /* TERMed while booting: nothing taken in, nothing to serve */
        if (cu_worker_reopen)
            cu_log_reopen();
        cu_log(CU_INFO, "Worker exiting (pid: %d)", (int)getpid());
        return 0;
    }
    if (rc != 0)
        return rc;
    /* an asgi worker is booted once its app's lifespan startup is over */
    if (!(k->flags & CU_WC_ASYNC))
        slot->booted = 1;
    worker_env(h, &env, slot, threads);
    /* a pool takes the GIL in turns (gil.c) */
    host_gil_fifo(threads && env.threads > 1);
    tls_ts = PyEval_SaveThread();
    rc = k->run(&env);
    /* a pool is still running: no GIL again, but for worker_exit */
    if (!threads || h->hooks.fn[CU_H_WORKER_EXIT])
        PyEval_RestoreThread(tls_ts);
    return rc;
}

/* cu_master_ops.worker_main: a worker's life; worker_exit(server,
 * worker) on every way out. */
int host_worker_main(void *arg, int age, struct cu_worker_slot *slot)
{
    struct cu_host *h = arg;
    int rc = worker_run(h, age, slot);

    cu_hooks_worker_exit(&h->hooks);  /* on every way out, as Gunicorn's finally-block */
    return rc;
}
