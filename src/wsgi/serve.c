/*
 * One WSGI request: the environ, start_response, the response on the wire
 * (docs/compat.md, WSGI environ and Responses; PEP 3333).
 *
 * The app is called with the environ and a start_response; its result is
 * iterated onto the wire (or sent by sendfile(2)), and its close() called
 * on every path. An app error is logged; before the head went out it is
 * answered (500; 400 for a bad response header, 504 for --request-timeout),
 * and the connection closes after it.
 */
#include "wsgi/internal.h"

#include <stdio.h>
#include <string.h>

#include "core/access.h"
#include "core/log.h"
#include "wsgi/report.h"

/* result.close(), if it has one. 0, or -1 with an exception. */
static int call_close(PyObject *result)
{
    PyObject *r;

    /* the usual results have no close(): no failed lookup (and no
     * AttributeError made and dropped) for them */
    if (PyList_CheckExact(result) || PyTuple_CheckExact(result) ||
        PyBytes_CheckExact(result) || !PyObject_HasAttrString(result, "close"))
        return 0;
    r = PyObject_CallMethod(result, "close", NULL);
    if (!r)
        return -1;
    Py_DECREF(r);
    return 0;
}

/* The app's exception, in Gunicorn's words (docs/compat.md, Logging):
 * "Error handling request METHOD URI" and the traceback while the answer
 * is still the server's to give (a 500 follows), "Error handling request"
 * once the app's head went out. */
static void report_app_error(const struct resp *p)
{
    const struct cu_request *q = p->q;
    const struct http_request *r = q->http;
    const char *head = cu_request_head(q);
    char what[4200];

    if (p->headers_sent) {
        cu_report_exception("Error handling request");
        return;
    }
    (void)snprintf(what, sizeof(what), "Error handling request %.*s %.*s", (int)r->method.len,
                   head + r->method.off, (int)r->target.len, head + r->target.off);
    cu_report_exception(what);
}

/* The body the app read was bad, as Gunicorn logs it: a bad trailer is a
 * refused request (400); a peer gone mid-body, a debug line; a framing
 * error reaches Gunicorn's worker as a socket error, with the app's
 * traceback. */
static void body_failed(const struct resp *p, const struct cu_body *b)
{
    if (http_error_info(b->error)->respond)
        cu_request_refused(p->c, &b->chunked.trailer, b->error);
    else if (b->error == HTTP_E_EOF)
        cu_request_refused(p->c, NULL, HTTP_E_EOF);
    else if (PyErr_Occurred())
        cu_report_exception("Socket error processing request.");
    else
        cu_log(CU_ERROR, "Socket error processing request.");
    PyErr_Clear();
}

/* Iterates the app's result onto the wire. */
static int send_result(struct resp *p, PyObject *result, int sendfile_ok)
{
    PyObject *it, *item;

    /* the whole response is in hand: a worker with a poller may finish
     * sending it there, instead of in a thread that waits */
    if (PyList_CheckExact(result) || PyTuple_CheckExact(result))
        cu_conn_whole(p->c);
    if (sendfile_ok) {
        int rc = cu_resp_send_file(p, result);
        if (rc <= 0)
            return rc;
    }
    it = PyObject_GetIter(result);
    if (!it)
        return -1;
    while ((item = PyIter_Next(it))) {
        int rc;
        if (!PyBytes_Check(item)) {
            PyErr_Format(PyExc_TypeError, "the app must yield bytes, not %.50s",
                         Py_TYPE(item)->tp_name);
            Py_DECREF(item);
            Py_DECREF(it);
            return -1;
        }
        if (!p->headers_set) {
            PyErr_SetString(PyExc_RuntimeError, "the app yielded data before start_response()");
            Py_DECREF(item);
            Py_DECREF(it);
            return -1;
        }
        /* empty items are skipped: never a premature last chunk */
        rc = PyBytes_GET_SIZE(item) || !p->headers_sent
                 ? cu_resp_send_data(p, PyBytes_AS_STRING(item), (size_t)PyBytes_GET_SIZE(item))
                 : 0;
        Py_DECREF(item);
        if (rc < 0) {
            Py_DECREF(it);
            return -1;
        }
    }
    Py_DECREF(it);
    if (PyErr_Occurred())
        return -1;
    if (!p->headers_set) {
        PyErr_SetString(PyExc_RuntimeError, "the app returned without calling start_response()");
        return -1;
    }
    return cu_resp_finish(p);
}

/*
 * The app (or its iterable) raised: says so once, with the traceback.
 * A bad status or header from the app is the app's error: a 500 follows
 * (Ours: Gunicorn answers 400; docs/compat.md, Framing).
 */
static void app_failed(struct resp *p)
{
    if (PyErr_ExceptionMatches(p->types->request_timeout)) {
        static const char pre[] = "Request timeout (--request-timeout): ";
        char line[sizeof(pre) + 256];
        memcpy(line, pre, sizeof(pre) - 1);
        cu_request_line(p->q, line + sizeof(pre) - 1, 256);
        p->timed_out = 1;
        cu_report_exception(line);
        return;
    }
    report_app_error(p);
}

/* start_response for p, also in env as wsgi.early_hints's owner. A new
 * reference, or NULL with an exception. */
static struct start_response *start_response_for(struct cu_wsgi *w, struct resp *p,
                                                 PyObject *env)
{
    struct start_response *sr = PyObject_New(struct start_response,
                                              w->types->start_response);
    PyObject *hints;

    if (!sr)
        return NULL;
    sr->resp = p;
    hints = PyObject_GetAttrString((PyObject *)sr, "early_hints");
    if (!hints || PyDict_SetItemString(env, "wsgi.early_hints", hints) < 0) {
        Py_XDECREF(hints);
        sr->resp = NULL;
        Py_DECREF(sr);
        return NULL;
    }
    Py_DECREF(hints);
    return sr;
}

/* Once the response is over: what the access log needs, the client
 * socket kept or closed, and the outcome in q->out. Steals remote. */
static void conclude(struct cu_wsgi *w, struct cu_request *q, struct resp *p, int app_head,
                     PyObject *env, PyObject *remote, PyObject *sock)
{
    /* Ours: after a 101 the connection speaks another protocol, so no
     * keep-alive worker may read an HTTP request from it (Gunicorn's
     * should_close() does not look at the upgrade) */
    if (p->status == 101)
        p->must_close = 1;
    /* a body that ended in an error, even one the app caught, leaves
     * the connection's framing unknown */
    if (q->body->error)
        p->must_close = 1;
    if (w->log_needs & (CU_ACC_NEED_REMOTE | CU_ACC_NEED_PATH | CU_ACC_NEED_RESP |
                        CU_ACC_NEED_ENV))
        cu_wsgi_logged(w, q, app_head ? p : NULL, env, remote);
    Py_XDECREF(remote);
    cu_socket_done(w, q->conn, sock, !p->must_close);
    q->out.status = p->status;
    q->out.bytes = p->sent;
    q->out.close = p->must_close;
}

int cu_wsgi_serve(struct cu_wsgi *w, struct cu_request *q, PyObject **environ)
{
    struct cu_conn *c = q->conn;
    const struct http_request *r = q->http;
    const char *head = cu_request_head(q);  /* until the body is read */
    struct cu_body *b = q->body;
    struct resp p;
    struct start_response *sr = NULL;
    PyObject *input, *sock = NULL, *env = NULL, *result = NULL;
    PyObject *remote = NULL;  /* REMOTE_ADDR as made, for the access log */
    int ok = -1, app_head = 0;

    memset(&p, 0, sizeof(p));
    p.c = c;
    p.r = r;
    p.q = q;
    p.types = w->types;
    p.must_close = q->must_close;
    p.head = r->method.len == 4 && memcmp(head + r->method.off, "HEAD", 4) == 0;
    /* nothing of this request's response is out yet (a worker timeout's
     * 500 may still be sent: cu_conn_abort_now) */
    atomic_store(&c->final_from, c->wrote);
    input = cu_input_new(w->types->input, c, b);
    if (!input || !(sock = cu_socket_get(w, c)) ||
        !(env = cu_environ_new(w, c, r, head, input, sock)))
        goto fail;
    if (w->log_needs & CU_ACC_NEED_REMOTE)
        remote = cu_wsgi_logged_remote(w, env);
    if (r->flags & HTTP_REQ_EXPECT_CONTINUE) {
        struct iovec iov = {(void *)"HTTP/1.1 100 Continue\r\n\r\n", 25};
        if (cu_resp_send_interim(&p, &iov, 1) < 0)
            goto fail;
    }
    if (!(sr = start_response_for(w, &p, env)))
        goto fail;
    result = PyObject_CallFunctionObjArgs(w->app, env, (PyObject *)sr, NULL);
    cu_keep_nonblocking(c);
    if (!result)
        goto fail;
    ok = send_result(&p, result, w->sendfile &&
                     PyObject_TypeCheck(result, w->types->file_wrapper));
    if (ok < 0 && !p.failed && !b->error)
        app_failed(&p);
    else if (ok < 0 && !p.failed)
        body_failed(&p, b);
    PyErr_Clear();
    /* close() on every path (PEP 3333) */
    if (call_close(result) < 0) {
        report_app_error(&p);
        ok = -1;
    }
    app_head = p.headers_sent;
    if (ok == 0)
        goto done;
    goto answer;
fail:
    if (b->error)
        body_failed(&p, b);
    else if (PyErr_Occurred() && !p.failed)
        app_failed(&p);
    PyErr_Clear();
answer:
    app_head = p.headers_sent;
    cu_resp_answer_error(&p, b);
    ok = p.failed ? -1 : 0;
done:
    if (sr)
        sr->resp = NULL;
    if (input)
        cu_input_detach(input);
    conclude(w, q, &p, app_head, env, remote, sock);
    Py_XDECREF((PyObject *)sr);
    Py_XDECREF(input);
    if (environ)
        *environ = env;  /* the caller's now */
    else
        Py_XDECREF(env);
    Py_XDECREF(result);
    PyMem_Free(p.block);
    return ok;
}
