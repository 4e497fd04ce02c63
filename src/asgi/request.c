/*
 * One ASGI request: the app's coroutine started as a task on the loop,
 * with its scope and the receive and send callables, and the request's
 * end. The response is over when its last body went out (or the client
 * left, or the app failed): then the access line, statsd and the
 * post_request hook, and the connection goes on to its next request.
 * The task may run on after that (a background task): when it ends, only
 * an exception is reported.
 *
 * An app that raises before its head went out gets Gunicorn's 500 page;
 * after, the connection closes (the response is cut). Either way the
 * error log has "Error handling request" and the traceback, as for every
 * worker class (docs/compat.md, Logging).
 */
#include "asgi/internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/access.h"
#include "core/clock.h"
#include "core/log.h"
#include "http/pages.h"
#include "wsgi/report.h"
#include "wsgi/wsgi.h"

void areq_dealloc(PyObject *self)
{
    struct areq *q = (struct areq *)self;
    PyTypeObject *tp = Py_TYPE(self);

    Py_XDECREF(q->tn.delegate);  /* a tornado request's: cleared when over */
    Py_XDECREF(q->tn.close_cb);
    Py_XDECREF(q->tn.waiting);
    Py_XDECREF(q->task);
    Py_XDECREF(q->timer);
    Py_XDECREF(q->recv_fut);
    Py_XDECREF(q->send_fut);
    Py_XDECREF((PyObject *)q->conn);  /* not reached: cleared when over */
    PyMem_Free(q->block);
    PyMem_Free(q->ws.msg);
    ws_pmd_free(q->ws.pmd);
    PyObject_Free(self);
    Py_DECREF(tp);
}

static PyType_Slot req_slots[] = {
    {Py_tp_dealloc, (void *)areq_dealloc},
    {Py_tp_doc, (void *)"An ASGI request of the asgi worker."},
    {0, NULL},
};

PyType_Spec asgi_req_spec = {
    .name = "cunicorn._cunicorn.ASGIRequest",
    .basicsize = sizeof(struct areq),
    .flags = Py_TPFLAGS_DEFAULT,
    .slots = req_slots,
};

static PyMethodDef receive_def = {"receive", areq_receive, METH_NOARGS,
                                  "receive(): the next http.request or http.disconnect."};
static PyMethodDef send_def = {"send", areq_send, METH_O, "send(message)"};
static PyObject *areq_done(PyObject *self, PyObject *task);
static PyMethodDef done_def = {"done", areq_done, METH_O, NULL};

void areq_wake(struct asrv *s, PyObject **futp, PyObject *v)
{
    PyObject *fut = *futp, *r;

    *futp = NULL;
    if (!fut) {
        Py_XDECREF(v);
        PyErr_Clear();
        return;
    }
    if (!v) {
        PyObject *t, *e, *tb;
        PyErr_Fetch(&t, &e, &tb);
        PyErr_NormalizeException(&t, &e, &tb);
        r = PyObject_CallMethodOneArg(fut, s->k[M_SET_EXCEPTION], e ? e : Py_None);
        Py_XDECREF(t);
        Py_XDECREF(e);
        Py_XDECREF(tb);
    } else {
        r = PyObject_CallMethodNoArgs(fut, s->k[M_CANCELLED]);
        if (r == Py_False) {
            Py_DECREF(r);
            r = PyObject_CallMethodOneArg(fut, s->k[M_SET_RESULT], v);
        }
        Py_DECREF(v);
    }
    if (!r)
        cu_report_exception("worker: event loop");
    Py_XDECREF(r);
    Py_DECREF(fut);
}

void areq_what_failed(const struct areq *q, char *out, size_t n)
{
    if (q->conn && !q->head_sent) {
        const struct http_request *r = q->q.http;
        const char *head = cu_request_head(&q->q);
        (void)snprintf(out, n, "Error handling request %.*s %.*s", (int)r->method.len,
                       head + r->method.off, (int)r->target.len, head + r->target.off);
    } else {
        (void)snprintf(out, n, "Error handling request");
    }
}

/* What the access log takes from the app's side (q->q.logged): the path
 * (U), the request's as sent, percent-encoded (the other classes show the
 * environ's PATH_INFO; an ASGI app has none), and the response headers
 * ({name}o); an environ ({name}e) there is not. */
static void logged(struct areq *q)
{
    const struct http_request *r = q->q.http;
    const char *const *names = NULL;
    const char *v[16];
    size_t vl[16], all = 0, n, total, off;
    unsigned needs = cu_access_needs();
    struct cu_logvals *lv;
    char *p;

    if (!(needs & (CU_ACC_NEED_PATH | CU_ACC_NEED_RESP)))
        return;
    if (needs & CU_ACC_NEED_RESP)
        all = cu_access_lookups('o', &names);
    n = all < 16 ? all : 16;  /* a format with more prints "-" for the rest */
    total = sizeof(*lv) + all * sizeof(struct cu_str) + r->path.len;
    for (size_t i = 0; i < n; i++) {
        v[i] = cu_block_header(q->block, 0, q->blen, names[i], &vl[i]);
        total += v[i] ? vl[i] : 0;
    }
    if (!(lv = calloc(1, total)))
        return;  /* the line goes out without them */
    lv->resp = (struct cu_str *)(lv + 1);
    p = (char *)(lv->resp + all);
    memcpy(p, cu_request_head(&q->q) + r->path.off, r->path.len);
    lv->path.p = p;
    lv->path.len = r->path.len;
    off = r->path.len;
    for (size_t i = 0; i < n; i++)
        if (v[i]) {
            memcpy(p + off, v[i], vl[i]);
            lv->resp[i].p = p + off;
            lv->resp[i].len = vl[i];
            off += vl[i];
        }
    q->q.logged = lv;
}

void areq_over(struct areq *q, int close)
{
    struct asrv *s = q->srv;
    struct aconn *a = q->conn;

    if (q->over || !a)
        return;
    q->over = 1;
    if (q->tn.on)
        atn_end(q);
    if (q->timer) {  /* --request-timeout's: not needed now */
        PyObject *r = PyObject_CallMethodNoArgs(q->timer, s->k[M_CANCEL]);
        if (!r)
            cu_report_exception("worker: event loop");
        Py_XDECREF(r);
        Py_CLEAR(q->timer);
    }
    if (q->send_fut)
        areq_wake(s, &q->send_fut, Py_NewRef(Py_None));
    if (q->recv_fut) {
        q->wait = W_NONE;
        areq_wake(s, &q->recv_fut, q->ws.on ? aws_disconnect_msg(q) : asgi_disconnect_msg(s));
    }
    ws_pmd_free(q->ws.pmd);  /* nothing compresses or inflates past the end */
    q->ws.pmd = NULL;
    q->q.out.status = q->status;
    q->q.out.bytes = q->sent;
    q->q.out.close = close || q->must_close || q->failed;
    if (cu_access_wanted()) {
        logged(q);
        cu_access(&q->q);
    }
    if (s->opts->hook)
        s->opts->hook(s->opts->hook_arg, 1, &q->q);
    asrv_served(s);
    /* the connection goes on without it */
    q->conn = NULL;
    a->req = NULL;
    a->deadline = 0;
    /* HTTP/2: a response the app did not end is reset, not ended */
    a->h2_ok = q->paged || (q->finishing && !q->failed);
    aconn_response_over(a, q->q.out.close);
    Py_DECREF(q);  /* a's */
    Py_DECREF(a);  /* q's */
}

void asrv_served(struct asrv *s)
{
    const struct cu_worker_env *env = s->env;

    s->served++;
    if (env->max_requests > 0 && s->served >= env->max_requests)
        cu_worker_recycle(env->slot, CU_RECYCLE_MAX_REQUESTS);
    env->slot->request[0] = '\0';
}

void areq_gone(struct areq *q)
{
    PyObject *cancel, *h;

    if (q->tn.on)  /* the handler is told when the request ends */
        q->gone = 1;
    if (q->gone || !q->task)
        return;
    q->gone = 1;
    cancel = PyObject_GetAttrString(q->task, "cancel");
    h = cancel ? PyObject_CallFunction(q->srv->call_later, "iO", q->srv->opts->grace, cancel)
               : NULL;
    if (!h)
        cu_report_exception("worker: event loop");
    Py_XDECREF(h);
    Py_XDECREF(cancel);
}

/*
 * --request-timeout (docs/compat.md, ASGI): the request line and the
 * coroutine's stack in the error log, the task cancelled, and the client
 * a 504 when nothing of the response went out, else the close.
 */
static PyObject *areq_timed_out(PyObject *self, PyObject *unused)
{
    struct areq *q = (struct areq *)self;
    char line[300];
    PyObject *r;

    (void)unused;
    Py_CLEAR(q->timer);
    if (q->over || !q->conn)
        Py_RETURN_NONE;
    cu_request_line(&q->q, line, sizeof(line));
    r = PyObject_CallMethod(q->srv->helper, "request_timed_out", "Os",
                            q->task ? q->task : Py_None, line);
    if (!r)
        cu_report_exception("Request timeout (--request-timeout)");
    Py_XDECREF(r);
    if (!q->head_sent) {
        char page[HTTP_PAGE_MAX];
        struct iovec iov = {page, cu_page_504(page, sizeof(page))};
        q->head_sent = 1;
        q->paged = 1;
        q->status = 504;
        cu_conn_whole(&q->conn->c);
        (void)cu_conn_writev(&q->conn->c, &iov, 1);
    }
    areq_over(q, 1);
    Py_RETURN_NONE;
}

static PyMethodDef timed_out_def = {"timed_out", areq_timed_out, METH_NOARGS, NULL};

/* Arms --request-timeout for q. */
static void arm_timeout(struct asrv *s, struct areq *q)
{
    PyObject *fn = PyCFunction_New(&timed_out_def, (PyObject *)q);

    q->timer = fn ? PyObject_CallFunction(s->call_later, "iO", s->env->request_timeout, fn)
                  : NULL;
    if (!q->timer)
        cu_report_exception("worker: event loop");
    Py_XDECREF(fn);
}

/* Sets exc (with its traceback) as the current exception. */
static void restore(PyObject *exc)
{
    PyErr_Restore(Py_NewRef((PyObject *)Py_TYPE(exc)), Py_NewRef(exc),
                  PyException_GetTraceback(exc));
}

/* The app's task ended: what it left undone is the server's. */
static PyObject *areq_done(PyObject *self, PyObject *task)
{
    struct areq *q = (struct areq *)self;
    PyObject *exc = NULL, *r = PyObject_CallMethodNoArgs(task, q->srv->k[M_CANCELLED]);
    char what[4200];

    Py_CLEAR(q->task);  /* the task no longer refers to q: no cycle */
    if (!r)
        return NULL;
    if (r == Py_True && q->gone)
        cu_log(CU_DEBUG, "Request cancelled (client disconnected)");
    if (r == Py_False && !(exc = PyObject_CallMethodNoArgs(task, q->srv->k[M_EXCEPTION]))) {
        Py_DECREF(r);
        return NULL;
    }
    Py_DECREF(r);
    areq_what_failed(q, what, sizeof(what));
    if (exc && exc != Py_None) {
        restore(exc);
        cu_report_exception(what);
    } else if (q->ws.accepted) {
        /* a WebSocket's app may end without a close: the server's */
    } else if (!q->over && !q->started) {
        cu_log(CU_ERROR, "%s: the app returned without starting a response", what);
    } else if (!q->over) {
        cu_log(CU_ERROR, "%s: the app returned without completing its response", what);
    }
    if (!q->over && q->ws.accepted) {
        aws_app_done(q, exc && exc != Py_None);
    } else if (!q->over) {
        if (!q->head_sent)
            areq_send_500(q);
        areq_over(q, 1);
    }
    Py_XDECREF(exc);
    Py_RETURN_NONE;
}

/* The app's coroutine for q, started as a task whose end areq_done
 * sees. 0, or -1 with an exception. */
static int start_task(struct asrv *s, struct areq *q)
{
    PyObject *scope = asgi_scope(s, q->conn), *recv = NULL, *send = NULL, *coro = NULL;
    PyObject *task = NULL, *done = NULL, *r = NULL;
    int rc = -1;

    if (!scope || !(recv = PyCFunction_New(&receive_def, (PyObject *)q)) ||
        !(send = PyCFunction_New(&send_def, (PyObject *)q)))
        goto out;
    coro = PyObject_CallFunctionObjArgs(s->app, scope, recv, send, NULL);
    if (!coro)
        goto out;
    task = PyObject_CallOneArg(s->create_task, coro);
    if (!task || !(done = PyCFunction_New(&done_def, (PyObject *)q)))
        goto out;
    r = PyObject_CallMethodOneArg(task, s->k[M_ADD_DONE], done);
    rc = r ? 0 : -1;
    if (r)
        q->task = Py_NewRef(task);
out:
    Py_XDECREF(scope);
    Py_XDECREF(recv);
    Py_XDECREF(send);
    Py_XDECREF(coro);
    Py_XDECREF(task);
    Py_XDECREF(done);
    Py_XDECREF(r);
    return rc;
}

int areq_start(struct asrv *s, struct aconn *a, size_t head_off, int close,
               const struct http_span *ws_key)
{
    struct areq *q = PyObject_New(struct areq, s->mode == MODE_TORNADO ? s->treq_type
                                                                        : s->req_type);
    const struct http_request *r = &a->r;
    char what[4200];

    if (!q) {
        cu_report_exception("worker: a request");
        return -1;
    }
    memset((char *)q + sizeof(PyObject), 0, sizeof(*q) - sizeof(PyObject));
    q->srv = s;
    q->conn = (struct aconn *)Py_NewRef((PyObject *)a);
    a->req = q;  /* a holds the reference made here */
    q->q.conn = &a->c;
    q->q.http = r;
    q->q.head_off = head_off;
    q->q.body = &a->body;
    q->q.must_close = close;
    q->q.started_us = cu_access_wanted() ? cu_now_us() : 0;
    q->must_close = close;
    q->length = -1;
    if (ws_key) {
        q->ws.on = 1;
        q->ws.key = *ws_key;
        q->ws.p.max_message = (uint64_t)s->opts->ws_max_size;
    }
    q->is_head = r->method.len == 4 && memcmp(a->c.buf + head_off + r->method.off, "HEAD", 4) == 0;
    /* the request line, for the master's timeout report */
    cu_request_line(&q->q, s->env->slot->request, sizeof(s->env->slot->request));
    if (s->opts->hook)
        s->opts->hook(s->opts->hook_arg, 0, &q->q);
    Py_INCREF(q);
    if (s->env->request_timeout > 0 && !q->ws.on)  /* a WebSocket lives on */
        arm_timeout(s, q);
    if ((s->mode == MODE_TORNADO ? atn_start(s, q) : start_task(s, q)) < 0) {
        areq_what_failed(q, what, sizeof(what));
        cu_report_exception(what);
        if (!q->over) {
            areq_send_500(q);
            areq_over(q, 1);
        }
    }
    Py_DECREF(q);
    return 0;
}
