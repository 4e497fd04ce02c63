/*
 * The request connection of the tornado worker class: the object a
 * tornado handler's request.connection is, and that the app's
 * start_request() was given. It is the request itself (struct areq), as
 * a type with tornado's HTTPConnection methods, in C:
 *
 *   write_headers(start_line, headers, chunk=None), write(chunk): the
 *       response on the wire, framed as tornado's HTTP1Connection frames
 *       it (a "HTTP/1.1" status line; chunked on HTTP/1.1 without a
 *       Content-Length or Transfer-Encoding; none for HEAD, 1xx, 204 and
 *       304; "Connection: close" when the connection closes after it,
 *       "Connection: Keep-Alive" to an HTTP/1.0 client that asked).
 *       Each returns a future done once the socket took the bytes.
 *   finish(): the response is complete; it is over once it has gone out.
 *   set_close_callback(cb): called if the client leaves before that.
 *   detach(): the socket handed over as a tornado IOStream (a
 *       WebSocketHandler's), after its 101.
 *   set_max_body_size(n), set_body_timeout(seconds): for
 *       stream_request_body handlers.
 *   context: remote_ip, protocol, address, for HTTPServerRequest.
 *
 * Writes never wait: what the socket does not take is queued, and the
 * future completes when it has drained (docs/compat.md, tornado).
 */
#include "asgi/internal.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "core/clock.h"
#include "core/log.h"
#include "http/http.h"
#include "http/pages.h"
#include "net/listen.h"
#include "wsgi/report.h"
#include "wsgi/wsgi.h"

/* A future failed with StreamClosedError, its exception marked seen (as
 * tornado's are). A new reference, or NULL. */
static PyObject *closed(struct asrv *s)
{
    PyObject *fut = PyObject_CallNoArgs(s->create_future), *exc, *r = NULL;

    exc = fut ? PyObject_CallNoArgs(s->t[T_CLOSED_ERROR]) : NULL;
    if (exc)
        r = PyObject_CallMethodOneArg(fut, s->k[M_SET_EXCEPTION], exc);
    Py_XDECREF(exc);
    Py_XSETREF(r, r ? PyObject_CallMethodNoArgs(fut, s->k[M_EXCEPTION]) : NULL);
    if (!r)
        Py_CLEAR(fut);
    Py_XDECREF(r);
    return fut;
}

PyObject *atn_written(struct areq *q)
{
    struct asrv *s = q->srv;
    struct aconn *a = q->conn;

    if (!a->c.queue)
        return Py_NewRef(s->t[T_DONE]);
    if (!q->send_fut) {  /* one future for everything queued */
        if (!(q->send_fut = PyObject_CallNoArgs(s->create_future)))
            return NULL;
        a->deadline = asrv_after(s, s->env->send_ms);
        (void)asrv_watch(a, 'w', 1);
    }
    return Py_NewRef(q->send_fut);
}

/* ---- the head ----------------------------------------------------------- */

static int is(const char *s, size_t n, const char *lower)
{
    return n == strlen(lower) && strncasecmp(s, lower, n) == 0;
}

/* A header name or value as bytes: str (latin-1, as tornado writes it)
 * or bytes. A new reference, or NULL. */
static PyObject *as_bytes(PyObject *v)
{
    if (PyBytes_Check(v))
        return Py_NewRef(v);
    if (PyUnicode_Check(v))
        return PyUnicode_AsLatin1String(v);
    PyErr_Format(PyExc_TypeError, "a header must be str, not %.50s", Py_TYPE(v)->tp_name);
    return NULL;
}

/* What the head's framing depends on, from the handler's headers. */
struct frame {
    int has_te;                 /* a Transfer-Encoding of the handler's */
    size_t conn_off, conn_len;  /* its Connection line in q->block */
};

/* One (name, value) of the handler's into q->block, checked (arg: the
 * struct frame). */
static int add_line(struct areq *q, PyObject *item, void *arg)
{
    struct frame *f = arg;
    PyObject *n = NULL, *v = NULL;
    const char *name, *value;
    Py_ssize_t nl, vl;
    int rc = -1;

    if (!PyTuple_Check(item) || PyTuple_GET_SIZE(item) != 2) {
        PyErr_SetString(PyExc_TypeError, "get_all() must give (name, value) pairs");
        return -1;
    }
    if (!(n = as_bytes(PyTuple_GET_ITEM(item, 0))) || !(v = as_bytes(PyTuple_GET_ITEM(item, 1))))
        goto out;
    name = PyBytes_AS_STRING(n);
    nl = PyBytes_GET_SIZE(n);
    value = PyBytes_AS_STRING(v);
    vl = PyBytes_GET_SIZE(v);
    if (http_field_bad(name, (size_t)nl, value, (size_t)vl)) {
        PyErr_Format(PyExc_ValueError, "Invalid HTTP header: %R", item);
        goto out;
    }
    if (is(name, (size_t)nl, "content-length")) {
        int cl = areq_content_length(q, value, (size_t)vl, v);
        if (cl != 0) {
            rc = cl > 0 ? 0 : -1;  /* a repeat is sent once */
            goto out;
        }
    } else if (is(name, (size_t)nl, "transfer-encoding")) {
        f->has_te = 1;
    } else if (is(name, (size_t)nl, "connection")) {
        if (strcasestr(value, "close"))
            q->must_close = 1;
        f->conn_off = q->blen;
        f->conn_len = (size_t)(nl + vl) + 4;
    }
    rc = areq_block_line(q, name, (size_t)nl, value, (size_t)vl);
out:
    Py_XDECREF(n);
    Py_XDECREF(v);
    return rc;
}

/* The handler's headers into q->block. 0, or -1 with an exception. */
static int header_lines(struct areq *q, PyObject *hs, struct frame *f)
{
    PyObject *all = PyObject_CallMethodNoArgs(hs, q->srv->k[M_GET_ALL]);
    int rc = all ? areq_each(q, all, add_line, f) : -1;

    Py_XDECREF(all);
    return rc;
}

/* tornado's framing decisions, and the lines they add to q->block. */
static int framing(struct areq *q, struct frame *f)
{
    const struct http_request *r = q->q.http;
    int v11 = r->major == 1 && r->minor >= 1;
    const char *line = NULL;

    q->no_body = areq_bodiless(q);
    q->chunked = v11 && !q->no_body && q->length < 0 && !f->has_te;
    if (!q->no_body && q->length < 0 && !q->chunked)
        q->must_close = 1;  /* only the close can end that body */
    if (cu_worker_stop)
        q->must_close = 1;  /* stopping: no keep-alive */
    if (q->must_close && v11)
        line = "Connection: close\r\n";
    else if (!v11 && !q->must_close && (r->flags & HTTP_REQ_KEEP_ALIVE))
        line = "Connection: Keep-Alive\r\n";
    if (line && f->conn_len) {  /* ours in place of the handler's */
        memmove(q->block + f->conn_off, q->block + f->conn_off + f->conn_len,
                q->blen - f->conn_off - f->conn_len);
        q->blen -= f->conn_len;
    }
    if ((line && cu_pymem_append(&q->block, &q->blen, &q->bcap, line, strlen(line)) < 0) ||
        (q->chunked && cu_pymem_append(&q->block, &q->blen, &q->bcap,
                                       "Transfer-Encoding: chunked\r\n", 28) < 0))
        return -1;
    return 0;
}

/* ---- writing -------------------------------------------------------------- */

/* What went wrong writing: the client gone (a StreamClosedError future,
 * as tornado's), or more than the Content-Length (HTTPOutputError). */
static PyObject *gone(struct areq *q)
{
    struct asrv *s = q->srv;

    cu_log(CU_DEBUG, "Ignored a response to a client gone: %s", strerror(errno));
    areq_gone(q);
    areq_over(q, 1);
    return closed(s);
}

static PyObject *output_error(struct areq *q, const char *text)
{
    struct asrv *s = q->srv;

    q->failed = 1;
    areq_over(q, 1);
    PyErr_SetString(s->t[T_OUTPUT_ERROR], text);
    return NULL;
}

/* Writes the head (line: the status line, or NULL once it went) and n
 * bytes of the body, framed; last: the chunked end too. The future of
 * the write, or NULL with an exception. */
static PyObject *put(struct areq *q, const char *line, size_t llen, const char *data,
                     size_t n, int last)
{
    struct iovec iov[8];
    char size[32];
    int k = 0;
    int64_t limit = q->no_body ? 0 : q->length;

    if (limit >= 0 && q->sent + n > (uint64_t)limit)
        return output_error(q, "Tried to write more data than Content-Length");
    if (line) {
        iov[k++] = (struct iovec){(void *)line, llen};
        iov[k++] = (struct iovec){q->block, q->blen};
        iov[k++] = (struct iovec){(void *)"\r\n", 2};
        q->head_sent = 1;
    }
    k = areq_body_iov(q, iov, k, size, data, n, last);
    q->sent += n;
    cu_conn_whole(&q->conn->c);
    if (k && cu_conn_writev(&q->conn->c, iov, k) < 0)
        return gone(q);
    return atn_written(q);
}

/* A head that cannot be written (a bad header, status or Content-Length):
 * the handler gets the exception, the client Gunicorn's 500 page, and the
 * request ends (tornado's handler would go on writing a body without a
 * head). NULL, the exception kept. */
static PyObject *bad_head(struct areq *q)
{
    PyObject *t, *e, *tb;

    PyErr_Fetch(&t, &e, &tb);
    cu_log(CU_DEBUG, "A response head that cannot be written: the 500 page");
    q->failed = 1;
    areq_send_500(q);
    areq_over(q, 1);
    PyErr_Restore(t, e, tb);
    return NULL;
}

static PyObject *head_out(struct areq *q, PyObject *const *args);

/* write_headers(start_line, headers, chunk=None) */
static PyObject *write_headers(PyObject *self, PyObject *const *argv, Py_ssize_t nargs,
                               PyObject *kwnames)
{
    PyObject *args[3] = {NULL, NULL, Py_None};
    Py_ssize_t nkw = kwnames ? PyTuple_GET_SIZE(kwnames) : 0;

    /* chunk may come by name (WSGIContainer's call) */
    if (nkw > 1 || (nkw == 1 && !PyUnicode_Check(PyTuple_GET_ITEM(kwnames, 0))) ||
        (nkw == 1 && PyUnicode_CompareWithASCIIString(PyTuple_GET_ITEM(kwnames, 0),
                                                      "chunk") != 0) ||
        nargs + nkw < 2 || nargs + nkw > 3 || nargs < 2) {
        PyErr_SetString(PyExc_TypeError, "write_headers(start_line, headers, chunk=None)");
        return NULL;
    }
    for (Py_ssize_t i = 0; i < nargs + nkw; i++)
        args[i] = argv[i];
    return head_out((struct areq *)self, args);
}

/* The head (args: start_line, headers, chunk or None) on the wire. */
static PyObject *head_out(struct areq *q, PyObject *const *args)
{
    struct frame f = {0, 0, 0};
    char line[HTTP_PAGE_REASON_MAX + 32];
    const char *reason;
    Py_buffer chunk = {0};
    PyObject *code, *why, *r;
    long status;
    int n;

    if (q->over || !q->conn)
        return closed(q->srv);
    if (q->head_sent) {
        PyErr_SetString(PyExc_RuntimeError, "write_headers() called twice");
        return NULL;
    }
    code = PySequence_GetItem(args[0], 1);
    why = code ? PySequence_GetItem(args[0], 2) : NULL;
    status = code ? PyLong_AsLong(code) : -1;
    /* a code that is no int: its exception, not a reason's on top */
    reason = why && !(status == -1 && PyErr_Occurred()) ? PyUnicode_AsUTF8(why) : NULL;
    if (reason && (status < 100 || status > 999 ||
                   http_field_bad("-", 1, reason, strlen(reason)))) {
        PyErr_Format(PyExc_ValueError, "Invalid HTTP status: %ld %R", status, why);
        reason = NULL;
    }
    n = reason ? snprintf(line, sizeof(line), "HTTP/1.1 %ld %s\r\n", status, reason) : 0;
    Py_XDECREF(code);
    Py_XDECREF(why);
    q->blen = 0;  /* a failed try left nothing behind */
    q->length = -1;
    q->status = (int)status;
    q->started = 1;
    if (!reason || header_lines(q, args[1], &f) < 0 || framing(q, &f) < 0 ||
        (args[2] != Py_None &&
         PyObject_GetBuffer(args[2], &chunk, PyBUF_SIMPLE) < 0))
        return bad_head(q);
    if (n < 0 || (size_t)n >= sizeof(line))
        n = (int)sizeof(line) - 1;
    r = put(q, line, (size_t)n, chunk.buf, chunk.buf ? (size_t)chunk.len : 0, 0);
    if (chunk.buf)
        PyBuffer_Release(&chunk);
    return r;
}

/* write(chunk) */
static PyObject *write_chunk(PyObject *self, PyObject *arg)
{
    struct areq *q = (struct areq *)self;
    Py_buffer chunk;
    PyObject *r;

    if (q->over || !q->conn)
        return closed(q->srv);
    if (!q->head_sent) {
        PyErr_SetString(PyExc_RuntimeError, "write() before write_headers()");
        return NULL;
    }
    if (PyObject_GetBuffer(arg, &chunk, PyBUF_SIMPLE) < 0)
        return NULL;
    r = put(q, NULL, 0, chunk.buf, (size_t)chunk.len, 0);
    PyBuffer_Release(&chunk);
    return r;
}

/* A 101 whose handler did not detach: the connection cannot go on. */
static PyObject *upgrade_due(PyObject *self, PyObject *unused)
{
    struct areq *q = (struct areq *)self;

    (void)unused;
    if (!q->over)
        areq_over(q, 1);
    Py_RETURN_NONE;
}

static PyMethodDef upgrade_due_def = {"upgrade_due", upgrade_due, METH_NOARGS, NULL};

/* finish() */
static PyObject *finish(PyObject *self, PyObject *unused)
{
    struct areq *q = (struct areq *)self;
    int64_t limit = q->no_body ? 0 : q->length;
    PyObject *r, *fn;
    char text[96];

    (void)unused;
    if (q->over || !q->conn || q->tn.write_done)
        Py_RETURN_NONE;
    if (!q->head_sent) {
        PyErr_SetString(PyExc_RuntimeError, "finish() before write_headers()");
        return NULL;
    }
    if (limit >= 0 && q->sent != (uint64_t)limit) {
        (void)snprintf(text, sizeof(text), "Tried to write %lld bytes less than Content-Length",
                       (long long)((uint64_t)limit - q->sent));
        return output_error(q, text);
    }
    q->tn.write_done = 1;
    if (!q->tn.read_done)
        q->must_close = 1;  /* tornado's: the rest of the body is never read */
    if (q->chunked) {
        if (!(r = put(q, NULL, 0, NULL, 0, 1)))
            return NULL;
        Py_DECREF(r);
    }
    if (q->over)
        Py_RETURN_NONE;
    if (q->status == 101) {  /* detach() is to follow, in this turn */
        q->tn.upgrade = 1;
        fn = PyCFunction_New(&upgrade_due_def, self);
        r = fn ? PyObject_CallMethod(q->srv->loop, "call_soon", "O", fn) : NULL;
        Py_XDECREF(fn);
        if (!r)
            return NULL;
        Py_DECREF(r);
        Py_RETURN_NONE;
    }
    q->finishing = 1;
    if (!q->conn->c.queue)
        areq_over(q, q->must_close);
    Py_RETURN_NONE;
}

/* set_close_callback(cb) */
static PyObject *set_close_callback(PyObject *self, PyObject *cb)
{
    struct areq *q = (struct areq *)self;

    Py_XSETREF(q->tn.close_cb, cb == Py_None ? NULL : Py_NewRef(cb));
    Py_RETURN_NONE;
}

static PyObject *set_max_body_size(PyObject *self, PyObject *arg)
{
    struct areq *q = (struct areq *)self;
    long long n = PyLong_AsLongLong(arg);

    if (n == -1 && PyErr_Occurred())
        return NULL;
    q->tn.max_body = n;
    Py_RETURN_NONE;
}

static PyObject *set_body_timeout(PyObject *self, PyObject *arg)
{
    struct areq *q = (struct areq *)self;
    double t = PyFloat_AsDouble(arg);

    if (t == -1.0 && PyErr_Occurred())
        return NULL;
    q->tn.body_until = cu_now_ms() + (long long)(t * 1000.0);
    Py_RETURN_NONE;
}

/* The bytes queued for the socket, as one bytes object (files are never
 * queued here). A new reference, or NULL. */
static PyObject *queued_bytes(const struct cu_conn *c)
{
    size_t n = 0, off = 0;
    PyObject *b;

    for (const struct cu_seg *s = c->queue; s; s = s->next)
        n += s->len - s->off;
    if (!(b = PyBytes_FromStringAndSize(NULL, (Py_ssize_t)n)))
        return NULL;
    for (const struct cu_seg *s = c->queue; s; s = s->next) {
        memcpy(PyBytes_AS_STRING(b) + off, s->buf + s->off, s->len - s->off);
        off += s->len - s->off;
    }
    return b;
}

/* detach(): after the 101, the socket as a tornado IOStream (over a
 * duplicate of the descriptor), with what the client sent after its head
 * and what is still queued for it; this connection is done. */
static PyObject *detach(PyObject *self, PyObject *unused)
{
    struct areq *q = (struct areq *)self;
    struct aconn *a = q->conn;
    PyObject *rest = NULL, *queued = NULL, *stream = NULL;
    int fd;

    (void)unused;
    if (!q->tn.upgrade || q->over || !a) {
        PyErr_SetString(PyExc_RuntimeError, "detach() is for a 101 response, once finished");
        return NULL;
    }
    if (a->c.tls) {
        /* the TLS state is ours, in C: a tornado IOStream cannot go on
         * with it; the 101 is out, so the connection is of no more use */
        areq_over(q, 1);  /* before the exception: it calls into Python */
        PyErr_SetString(PyExc_RuntimeError, "detach(): not over TLS (a tornado WebSocket "
                        "is not served over TLS)");
        return NULL;
    }
    if ((fd = fcntl(a->c.fd, F_DUPFD_CLOEXEC, 0)) < 0)
        return PyErr_SetFromErrno(PyExc_OSError);
    rest = PyBytes_FromStringAndSize(a->c.buf ? a->c.buf + a->c.start : "",
                                     (Py_ssize_t)(a->c.end - a->c.start));
    queued = rest ? queued_bytes(&a->c) : NULL;
    if (queued)
        stream = PyObject_CallFunction(q->srv->t[T_DETACH], "iiOO", fd,
                                       (int)a->c.peer.ss_family, rest, queued);
    Py_XDECREF(rest);
    Py_XDECREF(queued);
    if (!stream) {
        close(fd);
        return NULL;
    }
    /* ours closes without a word: the stream has the socket now */
    a->c.start = a->c.end;
    cu_conn_unqueue(&a->c);
    areq_over(q, 1);
    return stream;
}

/* context: the connection's (remote_ip, protocol, address), made once. */
static PyObject *get_context(PyObject *self, void *unused)
{
    struct areq *q = (struct areq *)self;
    struct aconn *a = q->conn;
    const struct cu_conn *c;
    char host[128];
    int port = 0;
    PyObject *addr;

    (void)unused;
    if (!a)
        Py_RETURN_NONE;
    if (a->tctx)
        return Py_NewRef(a->tctx);
    c = &a->c;
    if (c->has_proxy && c->proxy.has_addr)
        addr = Py_BuildValue("(si)", c->proxy.src_addr, (int)c->proxy.src_port);
    else if (c->peer.ss_family != AF_UNIX &&
             cu_sockaddr_text((const struct sockaddr *)&c->peer, c->peerlen, host,
                              sizeof(host), &port) == 0)
        addr = Py_BuildValue("(si)", host, port);
    else
        addr = Py_NewRef(Py_None);
    if (!addr)
        return NULL;
    a->tctx = PyObject_CallFunction(q->srv->t[T_CONTEXT], "Oii", addr, (int)c->peer.ss_family,
                                    asgi_https(a));
    Py_DECREF(addr);
    return a->tctx ? Py_NewRef(a->tctx) : NULL;
}

static PyMethodDef methods[] = {
    {"write_headers", (PyCFunction)(void (*)(void))write_headers, METH_FASTCALL | METH_KEYWORDS,
     "write_headers(start_line, headers, chunk=None): the response's head."},
    {"write", write_chunk, METH_O, "write(chunk): more of the body."},
    {"finish", finish, METH_NOARGS, "finish(): the response is complete."},
    {"set_close_callback", set_close_callback, METH_O,
     "set_close_callback(cb): called if the client leaves first."},
    {"set_max_body_size", set_max_body_size, METH_O, "set_max_body_size(n)"},
    {"set_body_timeout", set_body_timeout, METH_O, "set_body_timeout(seconds)"},
    {"detach", detach, METH_NOARGS, "detach(): the socket as an IOStream, after a 101."},
    {NULL, NULL, 0, NULL},
};

static PyGetSetDef getset[] = {
    {"context", get_context, NULL, "remote_ip, protocol and address of the client", NULL},
    {NULL, NULL, NULL, NULL, NULL},
};

static PyType_Slot slots[] = {
    {Py_tp_dealloc, (void *)areq_dealloc},
    {Py_tp_methods, methods},
    {Py_tp_getset, getset},
    {Py_tp_doc, (void *)"A request of the tornado worker: its HTTPConnection."},
    {0, NULL},
};

PyType_Spec tornado_conn_spec = {
    .name = "cunicorn._cunicorn.TornadoConnection",
    .basicsize = sizeof(struct areq),
    .flags = Py_TPFLAGS_DEFAULT,
    .slots = slots,
};
