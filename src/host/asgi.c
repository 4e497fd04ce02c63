/*
 * The event-loop classes' loop, as the host runs it (cu_worker_env's
 * event_loop): asgi's and tornado's. The bridge's options from the
 * configuration, and the request hooks (Gunicorn's default pre_request
 * debug line, or the config file's pre_request and post_request) around
 * each request; for a plain WSGI app under tornado, the WSGI bridge.
 */
#include "host/host.h"

#include "asgi/asgi.h"
#include "core/log.h"
#include "wsgi/report.h"

/* Gunicorn's asgi worker calls pre_request(worker, req) before the app
 * and post_request(worker, req, environ, resp) after the response; an
 * ASGI request has no environ: post_request's is {}. */
static void hook(void *arg, int post, struct cu_request *q)
{
    struct cu_host *h = arg;
    struct cu_hooks *k = &h->hooks;
    PyObject *req, *env, *resp, *args;
    int n = k->post_request_args;

    if (!post && !k->fn[CU_H_PRE_REQUEST]) {
        /* Gunicorn's default pre_request: "METHOD PATH" at debug level */
        const struct http_request *r = q->http;
        const char *head = cu_request_head(q);
        cu_log(CU_DEBUG, "%.*s %.*s", (int)r->method.len, head + r->method.off,
               (int)r->path.len, head + r->path.off);
        return;
    }
    if (post && !k->fn[CU_H_POST_REQUEST])
        return;
    if (!(req = cu_hooks_request(k, q))) {
        cu_report_exception("Exception while making the request for the hooks");
        return;
    }
    if (!post) {
        (void)cu_hooks_call(k, CU_H_PRE_REQUEST, PyTuple_Pack(2, k->worker, req));
    } else if (n <= 2) {
        (void)cu_hooks_call(k, CU_H_POST_REQUEST, PyTuple_Pack(2, k->worker, req));
    } else {
        env = PyDict_New();
        resp = n >= 4 ? cu_hooks_response(k, q->out.status, (unsigned long long)q->out.bytes)
                      : NULL;
        args = !env || (n >= 4 && !resp) ? NULL
               : n == 3 ? PyTuple_Pack(3, k->worker, req, env)
                        : PyTuple_Pack(4, k->worker, req, env, resp);
        (void)cu_hooks_call(k, CU_H_POST_REQUEST, args);
        Py_XDECREF(env);
        Py_XDECREF(resp);
    }
    Py_DECREF(req);
}

/* A plain WSGI app's request under tornado, on the loop's thread (which
 * holds the GIL): the WSGI bridge, with the hooks as sync has them. */
static int wsgi_on_loop(void *arg, struct cu_request *q)
{
    return host_serve_wsgi(arg, q);
}

static int loop_for(void *arg, struct cu_worker_env *env, const char *module)
{
    struct cu_host *h = arg;
    struct cu_hooks *k = &h->hooks;
    struct cu_asgi_opts o = {h->cfg.asgi_lifespan, h->cfg.asgi_loop, h->cfg.root_path,
                             h->cfg.asgi_disconnect_grace_period, h->cfg.ws_max_size,
                             h->cfg.ws_per_message_deflate, h->cfg.ws_ping_interval,
                             h->cfg.ws_ping_timeout, NULL, h, NULL};
    PyGILState_STATE g = PyGILState_Ensure();
    PyObject *helper = PyImport_ImportModule(module);
    int rc = 1;

    if (k->fn[CU_H_PRE_REQUEST] || k->fn[CU_H_POST_REQUEST] || cu_log_enabled(CU_DEBUG))
        o.hook = hook;
    o.wsgi = wsgi_on_loop;
    if (!helper) {
        cu_report_exception("Exception in worker process");
    } else {
        rc = cu_asgi_serve(h->app, helper, &o, env);
        Py_DECREF(helper);
    }
    PyGILState_Release(g);
    return rc;
}

int host_asgi_loop(void *arg, struct cu_worker_env *env)
{
    return loop_for(arg, env, "cunicorn._asgi");
}

int host_tornado_loop(void *arg, struct cu_worker_env *env)
{
    return loop_for(arg, env, "cunicorn._tornado");
}
