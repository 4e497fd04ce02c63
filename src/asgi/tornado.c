/*
 * One request of the tornado worker class, handed to a tornado
 * Application as tornado's own HTTP1Connection hands it (tornado 6,
 * http1connection.py, _read_message): the app's start_request(server
 * connection, request connection) gives an HTTPMessageDelegate, which
 * gets headers_received(start_line, headers), data_received(chunk) for
 * each piece of the body (64 KiB at most, tornado's chunk_size) and
 * finish(). An awaitable one of them returns is awaited before the next
 * (stream_request_body's flow control). The head was parsed in C, the
 * body is decoded in C; the request connection is this request's object
 * itself (tconn.c), which the handler writes its response through.
 *
 * The body is read only while the delegate wants it, as for ASGI; once
 * it is all delivered the connection is watched for the client leaving
 * (tornado's close callback) until the handler's finish() has gone out.
 */
#include "asgi/internal.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "core/clock.h"
#include "core/log.h"
#include "wsgi/report.h"

#define CHUNK 65536                    /* tornado's chunk_size */
#define MAX_BODY ((int64_t)100 << 20)  /* tornado's max_body_size by default */

static void feed(struct areq *q);

static PyObject *latin1(const char *p, size_t n)
{
    return PyUnicode_DecodeLatin1(p, (Py_ssize_t)n, NULL);
}

/* RequestStartLine(method, target, version): a new reference, or NULL. */
static PyObject *start_line(struct asrv *s, struct areq *q)
{
    const struct http_request *r = q->q.http;
    const char *head = cu_request_head(&q->q);
    char v[32];
    PyObject *args[3], *line = NULL;

    (void)snprintf(v, sizeof(v), "HTTP/%u.%u", r->major, r->minor);
    args[0] = asgi_method(head + r->method.off, r->method.len);
    args[1] = args[0] ? latin1(head + r->target.off, r->target.len) : NULL;
    args[2] = args[1] ? PyUnicode_FromString(v) : NULL;
    if (args[2])
        line = PyObject_Vectorcall(s->t[T_START_LINE], args, 3, NULL);
    for (int i = 0; i < 3; i++)
        Py_XDECREF(args[i]);
    return line;
}

/* HTTPHeaders with each header as received (tornado's add() normalizes
 * the names and joins repeats): a new reference, or NULL. */
static PyObject *headers(struct asrv *s, struct areq *q)
{
    const struct http_request *r = q->q.http;
    const char *head = cu_request_head(&q->q);
    PyObject *h = PyObject_CallNoArgs(s->t[T_HEADERS]);

    for (uint32_t i = 0; h && i < r->n_headers; i++) {
        const struct http_header *f = &r->headers[i];
        PyObject *args[3] = {h, latin1(head + f->name.off, f->name.len), NULL}, *rc = NULL;

        if (args[1] && (args[2] = latin1(head + f->value.off, f->value.len)))
            rc = PyObject_VectorcallMethod(s->k[M_ADD], args,
                                           3 | PY_VECTORCALL_ARGUMENTS_OFFSET, NULL);
        Py_XDECREF(args[1]);
        Py_XDECREF(args[2]);
        if (!rc)
            Py_CLEAR(h);
        Py_XDECREF(rc);
    }
    return h;
}

void atn_failed(struct areq *q)
{
    char what[4200];

    areq_what_failed(q, what, sizeof(what));
    cu_report_exception(what);
    if (!q->over) {
        q->failed = 1;
        areq_send_500(q);
        areq_over(q, 1);
    }
}

/* The delegate's method m called with arg (or none): 0 when it wants
 * nothing awaited, 1 when it does (then q->tn.waiting and the feed goes
 * on from resume()), -1 on failure (an exception). */
static int call_delegate(struct areq *q, int m, PyObject *arg, PyObject *arg2);

static PyObject *resume(PyObject *self, PyObject *fut)
{
    struct areq *q = (struct areq *)self;
    struct asrv *s = q->srv;
    PyObject *exc = PyObject_CallMethodNoArgs(fut, s->k[M_EXCEPTION]);

    Py_CLEAR(q->tn.waiting);
    if (q->over) {
        Py_XDECREF(exc);
        PyErr_Clear();
        Py_RETURN_NONE;
    }
    if (exc && exc != Py_None)
        PyErr_Restore(Py_NewRef((PyObject *)Py_TYPE(exc)), Py_NewRef(exc),
                      PyException_GetTraceback(exc));
    if (!exc || exc != Py_None)
        atn_failed(q);  /* what it raised, or its cancellation */
    else
        feed(q);
    Py_XDECREF(exc);
    Py_RETURN_NONE;
}

static PyMethodDef resume_def = {"resume", resume, METH_O, NULL};

static int call_delegate(struct areq *q, int m, PyObject *arg, PyObject *arg2)
{
    struct asrv *s = q->srv;
    PyObject *args[3] = {q->tn.delegate, arg, arg2}, *r, *fut, *cb, *rc;
    size_t n = arg2 ? 3 : arg ? 2 : 1;

    r = PyObject_VectorcallMethod(s->k[m], args, n | PY_VECTORCALL_ARGUMENTS_OFFSET, NULL);
    if (!r || r == Py_None) {
        Py_XDECREF(r);
        return r ? 0 : -1;
    }
    fut = PyObject_CallOneArg(s->t[T_CONVERT], r);
    Py_DECREF(r);
    cb = fut ? PyCFunction_New(&resume_def, (PyObject *)q) : NULL;
    rc = cb ? PyObject_CallMethodOneArg(fut, s->k[M_ADD_DONE], cb) : NULL;
    Py_XDECREF(cb);
    if (!rc) {
        Py_XDECREF(fut);
        return -1;
    }
    Py_DECREF(rc);
    Py_XSETREF(q->tn.waiting, fut);
    return 1;
}

/* A body past the delegate's max_body_size: tornado's answer, a bare
 * 400, and the close. */
static void too_large(struct areq *q, const char *why)
{
    static const char bad[] = "HTTP/1.1 400 Bad Request\r\n\r\n";
    struct iovec iov = {(void *)bad, sizeof(bad) - 1};

    cu_log(CU_INFO, "Malformed HTTP message: %s", why);
    if (!q->head_sent) {
        q->head_sent = 1;
        q->status = 400;
        cu_conn_whole(&q->conn->c);
        (void)cu_conn_writev(&q->conn->c, &iov, 1);
    }
    q->failed = 1;
    areq_over(q, 1);
}

/* The body is all in: the delegate's finish(); then the handler's
 * response is waited for, and the client's leaving watched. */
static void read_done(struct areq *q)
{
    struct aconn *a = q->conn;

    q->tn.read_done = 1;
    a->deadline = 0;
    if (call_delegate(q, M_FINISH, NULL, NULL) < 0) {
        atn_failed(q);
        return;
    }
    /* the client's leaving is watched for (tornado's close callback) */
    if (!q->over && !q->tn.write_done && !a->c.eof) {
        q->wait = W_DISCONNECT;
        (void)asrv_watch(a, 'r', 1);
    }
}

/* No body bytes buffered: one read, else the wait for more. 1 to go on,
 * 0 when waiting, -1 when the body failed. */
static int more_body(struct areq *q, int *tried)
{
    struct aconn *a = q->conn;

    if (!*tried) {
        *tried = 1;
        if (cu_body_wait(&a->body, &a->c) == 0)
            return 1;  /* an EOF shows in the next peek */
        if (errno != EAGAIN && errno != EWOULDBLOCK) {
            a->body.error = HTTP_E_EOF;  /* a reset */
            return -1;
        }
    }
    q->wait = W_BODY;
    areq_send_continue(q);
    if (!q->tn.body_until)
        a->deadline = asrv_body_deadline(a);
    (void)asrv_watch(a, 'r', 1);
    return 0;
}

/* Hands the body to the delegate while it is buffered and wanted. */
static void feed(struct areq *q)
{
    struct aconn *a = q->conn;
    const struct http_request *r = q->q.http;
    int tried = 0;

    if (q->tn.body_until)
        a->deadline = q->tn.body_until;
    if (q->tn.fed == 0 && r->body == HTTP_BODY_LENGTH &&
        r->content_length > (uint64_t)q->tn.max_body) {
        too_large(q, "Content-Length too long");
        return;
    }
    while (!q->over && !q->tn.waiting && !q->tn.read_done) {
        const char *p;
        int64_t n = cu_body_peek(&a->body, &a->c, &p);
        PyObject *bytes;
        int rc;

        if (n == HTTP_AGAIN && (rc = more_body(q, &tried)) >= 0) {
            if (rc == 0)
                return;
            continue;
        }
        if (n < 0) {
            Py_XDECREF(areq_body_failed(q));
            areq_over(q, 1);
            return;
        }
        if (n == 0) {
            read_done(q);
            return;
        }
        n = n > CHUNK ? CHUNK : n;
        if ((int64_t)q->tn.fed + n > q->tn.max_body) {
            too_large(q, "chunked body too large");
            return;
        }
        bytes = PyBytes_FromStringAndSize(p, (Py_ssize_t)n);
        cu_body_consume(&a->body, &a->c, (size_t)n);
        q->tn.fed += (uint64_t)n;
        rc = bytes ? call_delegate(q, M_DATA_RECEIVED, bytes, NULL) : -1;
        Py_XDECREF(bytes);
        if (rc < 0)
            atn_failed(q);
    }
}

int atn_start(struct asrv *s, struct areq *q)
{
    PyObject *line = NULL, *hs = NULL;
    int rc = -1;

    q->tn.on = 1;
    q->tn.max_body = MAX_BODY;
    if (!(line = start_line(s, q)) || !(hs = headers(s, q)))
        goto out;
    q->tn.delegate = PyObject_CallFunctionObjArgs(s->t[T_START_REQUEST], (PyObject *)q->conn,
                                                  (PyObject *)q, NULL);
    if (!q->tn.delegate || (rc = call_delegate(q, M_HEADERS_RECEIVED, line, hs)) < 0)
        goto out;
    if (rc == 0)
        feed(q);
    rc = 0;
out:
    Py_XDECREF(line);
    Py_XDECREF(hs);
    return rc;
}

void atn_readable(struct areq *q)
{
    struct aconn *a = q->conn;
    ssize_t n;

    if (q->wait == W_BODY) {
        q->wait = W_NONE;
        feed(q);
        return;
    }
    if (q->wait != W_DISCONNECT) {
        (void)asrv_watch(a, 'r', 0);  /* nothing wants it now */
        return;
    }
    /* bytes of a next request stay in the buffer */
    n = cu_conn_fill(&a->c, q->srv->head_max);
    if (n > 0 || (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)))
        return;
    if (n == 0 || (n < 0 && errno == ENOBUFS)) {
        /* the end of the client's input: it may have shut its side
         * after sending its requests, which still get their answers
         * (Ours: tornado takes it for a close); or a full buffer. No
         * more reading for now. */
        (void)asrv_watch(a, 'r', 0);
        return;
    }
    /* a reset: the client is gone (tornado's close callback) */
    q->wait = W_NONE;
    areq_gone(q);
    areq_over(q, 1);
}

void atn_end(struct areq *q)
{
    PyObject *d = q->tn.delegate, *cb = q->tn.close_cb, *r = NULL;
    int normal = q->tn.write_done && !q->gone && !q->failed;

    q->tn.delegate = q->tn.close_cb = NULL;
    Py_CLEAR(q->tn.waiting);
    if (!normal && !q->tn.read_done && d)
        r = PyObject_CallMethodNoArgs(d, q->srv->k[M_ON_CONNECTION_CLOSE]);
    else if (!normal && cb)
        r = PyObject_CallNoArgs(cb);
    else
        r = Py_NewRef(Py_None);
    if (!r)
        cu_report_exception("Exception in the connection's close callback");
    Py_XDECREF(r);
    Py_XDECREF(d);
    Py_XDECREF(cb);
}
