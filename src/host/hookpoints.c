/*
 * Where Gunicorn's server hooks are called (docs/hooks.md lists the call
 * points; docs/compat.md, "Server hooks"). The callables and the objects
 * they get are hooks.c's; this is only the when and with what. Nothing is
 * built for a hook that is not set.
 */
#include "host/host.h"

#include "core/log.h"
#include "wsgi/report.h"
#include "worker/worker.h"

/* At start-up, before the sockets: the server object, then
 * nworkers_changed(server, workers, None) and on_starting(server). An
 * exception in either stops the start (exit 1), as in Gunicorn. */
int host_hooks_start(struct cu_host *h)
{
    struct cu_hooks *k = &h->hooks;

    if (!cu_hooks_any(k))
        return 0;
    if (cu_hooks_server(k, &h->cfg, getpid(), h->cfg.workers) < 0) {
        cu_report_exception("Exception while making the server object for the hooks");
        return -1;
    }
    if (cu_hooks_call(k, CU_H_NWORKERS_CHANGED,
                      Py_BuildValue("(OiO)", k->server, h->cfg.workers, Py_None)) < 0 ||
        cu_hooks_call(k, CU_H_ON_STARTING, PyTuple_Pack(1, k->server)) < 0)
        return -1;
    return 0;
}

/* The master's hooks (cu_master_ops.hook). */
int host_master_hook(void *arg, int which, const struct cu_master_event *ev)
{
    static const int hook_of[] = {
        [CU_MASTER_HOOK_WHEN_READY] = CU_H_WHEN_READY,
        [CU_MASTER_HOOK_ON_RELOAD] = CU_H_ON_RELOAD,
        [CU_MASTER_HOOK_PRE_FORK] = CU_H_PRE_FORK,
        [CU_MASTER_HOOK_CHILD_EXIT] = CU_H_CHILD_EXIT,
        [CU_MASTER_HOOK_NWORKERS_CHANGED] = CU_H_NWORKERS_CHANGED,
        [CU_MASTER_HOOK_ON_EXIT] = CU_H_ON_EXIT,
        [CU_MASTER_HOOK_PRE_EXEC] = CU_H_PRE_EXEC,
    };
    struct cu_host *h = arg;
    struct cu_hooks *k = &h->hooks;
    int hk = hook_of[which];
    PyObject *n, *w, *args;

    if (!k->fn[hk] || !k->server)
        return 0;
    n = PyLong_FromLong(ev->workers);
    if (!n || PyObject_SetAttrString(k->server, "num_workers", n) < 0)
        PyErr_Clear();
    Py_XDECREF(n);
    switch (which) {
    case CU_MASTER_HOOK_PRE_FORK:
    case CU_MASTER_HOOK_CHILD_EXIT:
        w = cu_hooks_worker(k, ev->age, ev->pid);
        args = w ? PyTuple_Pack(2, k->server, w) : NULL;
        Py_XDECREF(w);
        break;
    case CU_MASTER_HOOK_NWORKERS_CHANGED:
        args = Py_BuildValue("(Oii)", k->server, ev->workers, ev->old_workers);
        break;
    default:
        args = PyTuple_Pack(1, k->server);
        break;
    }
    return cu_hooks_call(k, hk, args);
}

/* In a new worker: its object, post_fork(server, worker), and the thread
 * that runs worker_int/worker_abort (and worker_exit) on INT/QUIT/ABRT.
 * Returns 0, or -1 (the worker failed to boot). */
int host_hooks_worker_start(struct cu_host *h, int age)
{
    struct cu_hooks *k = &h->hooks;
    int ints = k->fn[CU_H_WORKER_INT] || k->fn[CU_H_WORKER_EXIT];
    int abrt = k->fn[CU_H_WORKER_ABORT] || k->fn[CU_H_WORKER_EXIT];
    int fd;

    if (!k->server)
        return 0;
    if (!(k->worker = cu_hooks_worker(k, age, getpid()))) {
        cu_report_exception("Exception in worker process");
        return -1;
    }
    if (cu_hooks_call(k, CU_H_POST_FORK, PyTuple_Pack(2, k->server, k->worker)) < 0)
        return -1;
    if ((ints || abrt) && ((fd = cu_worker_signal_pipe(ints, abrt)) < 0 ||
                           cu_hooks_signal_thread(k, fd) < 0))
        return -1;
    return 0;
}

/* After the app is loaded: worker.wsgi, then post_worker_init(worker). */
int host_hooks_worker_ready(struct cu_host *h)
{
    struct cu_hooks *k = &h->hooks;

    if (!k->worker)
        return 0;
    if (PyObject_SetAttrString(k->worker, "wsgi", h->app) < 0) {
        cu_report_exception("Exception in worker process");
        return -1;
    }
    if (cu_hooks_call(k, CU_H_POST_WORKER_INIT, PyTuple_Pack(1, k->worker)) < 0)
        return -1;  /* logged */
    if (PyObject_SetAttrString(k->worker, "booted", Py_True) < 0)
        PyErr_Clear();
    return 0;
}

/* One request with pre_request/post_request around it (only when one of
 * them is set: no cost per request otherwise). */
int host_serve_hooked(struct cu_host *h, struct cu_request *q)
{
    struct cu_hooks *k = &h->hooks;
    PyObject *req = cu_hooks_request(k, q), *env = NULL, *resp, *args;
    int n = k->post_request_args, rc;

    if (k->fn[CU_H_POST_REQUEST])
        q->may_pause = 0;  /* post_request follows the response's end, here */
    if (!req)
        cu_report_exception("Exception while making the request for the hooks");
    else if (k->fn[CU_H_PRE_REQUEST])
        (void)cu_hooks_call(k, CU_H_PRE_REQUEST, PyTuple_Pack(2, k->worker, req));
    rc = cu_wsgi_serve(h->wsgi, q, k->fn[CU_H_POST_REQUEST] && n >= 3 ? &env : NULL);
    if (req && k->fn[CU_H_POST_REQUEST]) {
        if (n >= 3 && !env)
            env = PyDict_New();  /* none was built: Gunicorn passes {} */
        if (n <= 2) {
            args = PyTuple_Pack(2, k->worker, req);
        } else if (n == 3) {
            args = env ? PyTuple_Pack(3, k->worker, req, env) : NULL;
        } else {
            resp = cu_hooks_response(k, q->out.status, (unsigned long long)q->out.bytes);
            args = resp && env ? PyTuple_Pack(4, k->worker, req, env, resp) : NULL;
            Py_XDECREF(resp);
        }
        (void)cu_hooks_call(k, CU_H_POST_REQUEST, args);
    }
    Py_XDECREF(env);
    Py_XDECREF(req);
    return rc;
}
