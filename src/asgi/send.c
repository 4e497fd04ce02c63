/*
 * send(): the response on the wire. http.response.start keeps the status
 * and the app's headers (checked: a token name, a value without CR, LF or
 * other control bytes; the hop-by-hop ones, Server and Date dropped, as
 * for WSGI, since the head has the server's own); the head goes out with
 * the first body, in one writev. Without a Content-Length, a response
 * whose first body is its last gets one; otherwise it is chunked on
 * HTTP/1.1 and ends with the connection on HTTP/1.0. HEAD, 1xx, 204 and
 * 304 send no body; a body past the Content-Length is cut.
 *
 * The write never waits: what the socket does not take is queued, and
 * the app's await then waits on a loop future until the socket has sent
 * it (a slow client pauses the app's send, holding one message at most).
 * After the client left, sends are dropped without an error, as
 * Gunicorn's and uvicorn's do.
 *
 * The extensions (docs/compat.md, ASGI): http.response.pathsend sends a
 * file by sendfile(2), its rest queued as a file range; with
 * http.response.trailers the response is chunked and its trailer fields
 * follow the last chunk (on an HTTP/2 stream: a HEADERS after the body).
 */
#include "asgi/internal.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/clock.h"
#include "core/log.h"
#include "http/http.h"
#include "http/pages.h"
#include "http2/h2.h"
#include "wsgi/wsgi.h"

/* ---- http.response.start ------------------------------------------------ */

static int block_add(struct areq *q, const char *s, size_t n)
{
    return cu_pymem_append(&q->block, &q->blen, &q->bcap, s, n);
}

static int is(const char *s, size_t n, const char *lower)
{
    return n == strlen(lower) && strncasecmp(s, lower, n) == 0;
}

/* Headers the server writes itself, or that describe this hop only. */
static int dropped(const char *n, size_t len)
{
    static const char *const names[] = {"keep-alive", "proxy-authenticate",
                                        "proxy-authorization", "te", "trailers",
                                        "transfer-encoding", "upgrade", "server", "date"};

    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
        if (is(n, len, names[i]))
            return 1;
    return 0;
}

int areq_block_line(struct areq *q, const char *name, size_t nl, const char *value, size_t vl)
{
    return block_add(q, name, nl) < 0 || block_add(q, ": ", 2) < 0 ||
           block_add(q, value, vl) < 0 || block_add(q, "\r\n", 2) < 0 ? -1 : 0;
}

int areq_content_length(struct areq *q, const char *value, size_t vl, PyObject *shown)
{
    char *end;
    unsigned long long v;

    errno = 0;
    v = strtoull(value, &end, 10);
    /* digits only, and a length an int64_t holds (a larger one would
     * read as "unknown", and the body be sent chunked) */
    if (vl == 0 || end != value + vl || value[0] < '0' || value[0] > '9' ||
        errno == ERANGE || v > INT64_MAX) {
        PyErr_Format(PyExc_ValueError, "Invalid Content-Length: %R", shown);
        return -1;
    }
    /* RFC 9110 §8.6: two that differ make the response ambiguous (a
     * 500); an equal one is sent once */
    if (q->length >= 0 && q->length != (int64_t)v) {
        PyErr_Format(PyExc_ValueError, "conflicting Content-Length: %R", shown);
        return -1;
    }
    if (q->length >= 0)
        return 1;
    q->length = (int64_t)v;
    return 0;
}

/* item's [name, value], both bytes (what: "header", "trailer"): 0 with
 * a new reference to each, or -1 with a TypeError. */
static int bytes_pair(PyObject *item, const char *what, PyObject **pn, PyObject **pv)
{
    if (!PySequence_Check(item) || PySequence_Size(item) != 2) {
        PyErr_Format(PyExc_TypeError, "each %s must be a [name, value] pair", what);
        return -1;
    }
    *pn = PySequence_GetItem(item, 0);
    *pv = *pn ? PySequence_GetItem(item, 1) : NULL;
    if (!*pv || !PyBytes_Check(*pn) || !PyBytes_Check(*pv)) {
        if (*pv)
            PyErr_Format(PyExc_TypeError, "%s names and values must be bytes", what);
        Py_CLEAR(*pn);
        Py_CLEAR(*pv);
        return -1;
    }
    return 0;
}

/* One (name, value) pair of byte strings, checked, into the block. */
static int add_header(struct areq *q, PyObject *item)
{
    PyObject *pn, *pv;
    const char *name, *value;
    Py_ssize_t nl, vl;

    if (bytes_pair(item, "header", &pn, &pv) < 0)
        return -1;
    name = PyBytes_AS_STRING(pn);
    nl = PyBytes_GET_SIZE(pn);
    value = PyBytes_AS_STRING(pv);
    vl = PyBytes_GET_SIZE(pv);
    switch (http_field_bad(name, (size_t)nl, value, (size_t)vl)) {
    case 2:
        PyErr_Format(PyExc_ValueError, "Invalid HTTP header value: %R", pv);
        goto fail;
    case 1:
        PyErr_Format(PyExc_ValueError, "Invalid HTTP header name: %R", pn);
        goto fail;
    default:
        break;
    }
    if (is(name, (size_t)nl, "connection")) {
        if (strcasestr(value, "close"))
            q->must_close = 1;
    } else if (is(name, (size_t)nl, "content-length")) {
        int rc = areq_content_length(q, value, (size_t)vl, pv);
        if (rc < 0)
            goto fail;
        if (rc > 0) {  /* a repeat: sent once */
            Py_DECREF(pn);
            Py_DECREF(pv);
            return 0;
        }
    }
    if (!is(name, (size_t)nl, "connection") && !dropped(name, (size_t)nl) &&
        areq_block_line(q, name, (size_t)nl, value, (size_t)vl) < 0)
        goto fail;
    Py_DECREF(pn);
    Py_DECREF(pv);
    return 0;
fail:
    Py_DECREF(pn);
    Py_DECREF(pv);
    return -1;
}

int areq_each(struct areq *q, PyObject *items,
              int (*fn)(struct areq *q, PyObject *item, void *arg), void *arg)
{
    PyObject *it = PyObject_GetIter(items), *item;

    if (!it)
        return -1;
    while ((item = PyIter_Next(it))) {
        int rc = fn(q, item, arg);
        Py_DECREF(item);
        if (rc < 0) {
            Py_DECREF(it);
            return -1;
        }
    }
    Py_DECREF(it);
    return PyErr_Occurred() ? -1 : 0;
}

static int add_header_cb(struct areq *q, PyObject *item, void *unused)
{
    (void)unused;
    return add_header(q, item);
}

int areq_headers(struct areq *q, PyObject *hs)
{
    if (!hs || hs == Py_None)
        return 0;
    return areq_each(q, hs, add_header_cb, NULL);
}

static int response_start(struct areq *q, PyObject *msg)
{
    struct asrv *s = q->srv;
    PyObject *st = PyDict_GetItemWithError(msg, s->k[K_STATUS]), *hs, *tr;
    long status;

    if (!st) {
        if (!PyErr_Occurred())
            PyErr_SetString(PyExc_KeyError, "http.response.start needs a status");
        return -1;
    }
    status = PyLong_AsLong(st);
    if (status == -1 && PyErr_Occurred())
        return -1;
    if (status < 100 || status > 999) {
        PyErr_Format(PyExc_ValueError, "Invalid HTTP status: %ld", status);
        return -1;
    }
    hs = PyDict_GetItemWithError(msg, s->k[K_HEADERS]);
    if ((!hs && PyErr_Occurred()) || areq_headers(q, hs) < 0)
        return -1;
    tr = PyDict_GetItemWithError(msg, s->k[K_TRAILERS]);
    if ((!tr && PyErr_Occurred()) || (tr && (q->trailers = PyObject_IsTrue(tr)) < 0))
        return -1;
    q->status = (int)status;
    q->started = 1;
    return 0;
}

/* ---- http.response.body ------------------------------------------------- */

/* "HTTP/1.1 200 OK": the reason from Python's http.HTTPStatus, made once
 * per status. */
static PyObject *reasons;

static const char *reason(int status)
{
    static int last;           /* the last status asked for, and its text */
    static const char *last_text;
    PyObject *k, *v;

    if (status == last && last_text)
        return last_text;
    if (!reasons && !(reasons = PyDict_New()))
        goto none;
    k = PyLong_FromLong(status);
    v = k ? PyDict_GetItemWithError(reasons, k) : NULL;
    if (k && !v && !PyErr_Occurred()) {
        PyObject *mod = PyImport_ImportModule("http");
        PyObject *hs = mod ? PyObject_GetAttrString(mod, "HTTPStatus") : NULL;
        PyObject *e = hs ? PyObject_CallOneArg(hs, k) : NULL;
        v = e ? PyObject_GetAttrString(e, "phrase") : NULL;
        if (!v) {
            PyErr_Clear();
            v = PyUnicode_FromString("");
        }
        if (v && PyDict_SetItem(reasons, k, v) < 0)
            PyErr_Clear();
        Py_XDECREF(v);  /* the dict holds it */
        Py_XDECREF(e);
        Py_XDECREF(hs);
        Py_XDECREF(mod);
    }
    Py_XDECREF(k);
    if (v && PyUnicode_Check(v)) {
        const char *t = PyUnicode_AsUTF8(v);  /* lives as long as the dict */
        if (t) {
            last = status;
            last_text = t;
            return t;
        }
    }
none:
    PyErr_Clear();
    return "";
}

/* "Content-Length: N\r\n" into out (48 bytes hold it), without printf:
 * it is in most responses. Its length. */
static size_t content_length(char *out, uint64_t n)
{
    static const char pre[] = "Content-Length: ";
    char digits[24];
    size_t k = sizeof(digits), len = sizeof(pre) - 1;

    do
        digits[--k] = (char)('0' + n % 10);
    while ((n /= 10) > 0);
    memcpy(out, pre, len);
    memcpy(out + len, digits + k, sizeof(digits) - k);
    len += sizeof(digits) - k;
    memcpy(out + len, "\r\n", 3);
    return len + 2;
}

/* "HTTP/1.1 200 OK": made again only when the version or the status
 * changes (with the GIL: one thread). Its length. */
static const char *status_line(const struct http_request *r, int status, size_t *len)
{
    static char line[HTTP_PAGE_REASON_MAX + 32];
    static size_t n;
    static int for_status;
    static unsigned for_version;
    unsigned version = (unsigned)r->major << 8 | r->minor;
    int w;

    if (n && status == for_status && version == for_version) {
        *len = n;
        return line;
    }
    w = snprintf(line, sizeof(line), "HTTP/%u.%u %d %s", r->major == 1 ? 1u : r->major,
                 r->major == 1 ? (unsigned)r->minor : 0u, status, reason(status));
    n = w < 0 ? 0 : (size_t)w < sizeof(line) ? (size_t)w : sizeof(line) - 1;
    for_status = status;
    for_version = version;
    *len = n;
    return line;
}

int areq_bodiless(const struct areq *q)
{
    return q->is_head || q->status < 200 || q->status == 204 || q->status == 304;
}

int areq_body_iov(const struct areq *q, struct iovec *iov, int k, char size[32],
                  const char *data, size_t n, int last)
{
    if (n && q->chunked)
        iov[k++] = (struct iovec){size, (size_t)snprintf(size, 32, "%zx\r\n", n)};
    if (n)
        iov[k++] = (struct iovec){(void *)data, n};
    if (n && q->chunked)
        iov[k++] = (struct iovec){(void *)"\r\n", 2};
    if (last && q->chunked)
        iov[k++] = (struct iovec){(void *)"0\r\n\r\n", 5};
    return k;
}

/* The head's framing, decided with the first body: no body, a length,
 * chunked, or the connection's end. */
static size_t framing(struct areq *q, size_t n, int more, char *clen)
{
    const struct http_request *r = q->q.http;

    q->no_body = areq_bodiless(q);
    if (q->length >= 0 || q->no_body)
        return 0;
    if (!more && !(q->trailers && r->major == 1 && r->minor >= 1))
        return content_length(clen, n);  /* trailers need the chunked framing */
    if (r->major == 1 && r->minor >= 1)
        q->chunked = 1;
    else
        q->must_close = 1;  /* HTTP/1.0: the end of the connection ends it */
    return 0;
}

/* The response's last byte is written: short of its Content-Length,
 * only the close ends it (RFC 9112 §6.3; docs/compat.md, Framing). */
static void short_check(struct areq *q)
{
    if (q->length >= 0 && q->sent < (uint64_t)q->length && !q->no_body) {
        q->must_close = 1;
        cu_log(CU_WARNING, "Response shorter than its Content-Length (%llu of %lld bytes): "
               "connection closed", (unsigned long long)q->sent, (long long)q->length);
    }
}

/* Writes the head (the first time) and n bytes of data; the rest the
 * socket does not take is queued. 0, or -1 (the client is gone). */
static int write_body(struct areq *q, const char *data, size_t n, int more)
{
    const struct http_request *r = q->q.http;
    struct cu_conn *c = &q->conn->c;
    struct iovec iov[12];
    char clen[48], size[32];
    int k = 0;

    if (!q->head_sent) {
        size_t flen, slen, cl = framing(q, n, more, clen);
        const char *fixed = cu_resp_fixed_head(q->must_close ? 1 : 0, &flen);
        iov[k].iov_base = (void *)status_line(r, q->status, &slen);
        iov[k++].iov_len = slen;
        iov[k].iov_base = (void *)fixed;
        iov[k++].iov_len = flen;
        if (q->chunked) {
            iov[k].iov_base = (void *)"Transfer-Encoding: chunked\r\n";
            iov[k++].iov_len = 28;
        }
        if (cl) {
            iov[k].iov_base = clen;
            iov[k++].iov_len = cl;
        }
        iov[k].iov_base = q->block;
        iov[k++].iov_len = q->blen;
        iov[k].iov_base = (void *)"\r\n";
        iov[k++].iov_len = 2;
        q->head_sent = 1;
        q->tsend = q->trailers && q->chunked;
    }
    if (q->no_body)
        n = 0;
    if (q->length >= 0 && (uint64_t)q->length - q->sent < n)
        n = (size_t)((uint64_t)q->length - q->sent);  /* cut (compat.md, Responses) */
    /* the last chunk, unless the trailers end the response */
    k = areq_body_iov(q, iov, k, size, data, n, !more && !q->tsend);
    q->sent += n;
    if (!more)
        short_check(q);
    cu_conn_whole(c);
    return k ? cu_conn_writev(c, iov, k) : 0;
}

static PyObject *written(struct areq *q, int rc);

static PyObject *response_body(struct areq *q, PyObject *msg)
{
    struct asrv *s = q->srv;
    PyObject *body = PyDict_GetItemWithError(msg, s->k[K_BODY]), *more_o;
    Py_buffer view = {0};
    int more = 0, rc;

    if (!body && PyErr_Occurred())
        return NULL;
    more_o = PyDict_GetItemWithError(msg, s->k[K_MORE_BODY]);
    if ((!more_o && PyErr_Occurred()) || (more_o && (more = PyObject_IsTrue(more_o)) < 0))
        return NULL;
    if (body && PyObject_GetBuffer(body, &view, PyBUF_SIMPLE) < 0)
        return NULL;
    q->finishing = !more && !q->trailers;  /* else http.response.trailers ends it */
    q->tready = !more;
    rc = write_body(q, body ? view.buf : NULL, body ? (size_t)view.len : 0, more);
    if (body)
        PyBuffer_Release(&view);
    return written(q, rc);
}

/* After a write of rc (0, or -1: the client is gone): the app awaits a
 * future until the socket took what is queued; a response whose end
 * went out (q->finishing) is over. */
static PyObject *written(struct areq *q, int rc)
{
    struct asrv *s = q->srv;
    struct aconn *a = q->conn;
    PyObject *fut;

    if (rc < 0) {  /* the client is gone: dropped, as Gunicorn does */
        cu_log(CU_DEBUG, "Ignored a response to a client gone: %s", strerror(errno));
        areq_gone(q);
        areq_over(q, 1);
        return Py_NewRef(s->ready_none);
    }
    if (a->c.queue) {  /* the app waits until the socket took it */
        if (!(fut = PyObject_CallNoArgs(s->create_future)))
            return NULL;
        q->send_fut = Py_NewRef(fut);
        a->deadline = asrv_after(s, s->env->send_ms);
        if (asrv_watch(a, 'w', 1) < 0)
            areq_over(q, 1);
        return fut;
    }
    if (q->finishing)
        areq_over(q, q->must_close);
    return Py_NewRef(s->ready_none);
}

/* ---- http.response.pathsend -------------------------------------------- */

/* The file at the message's path, opened for reading: its fd and size,
 * or -1 with an exception (the spec's: an absolute path, a file). */
static int open_path(struct areq *q, PyObject *msg, off_t *size)
{
    PyObject *p = PyDict_GetItemWithError(msg, q->srv->k[K_PATH]), *b;
    struct stat st;
    int fd, e;

    if (!p) {
        if (!PyErr_Occurred())
            PyErr_SetString(PyExc_KeyError, "http.response.pathsend needs a path");
        return -1;
    }
    if (!PyUnicode_Check(p)) {
        PyErr_Format(PyExc_TypeError, "the pathsend path is a str, not %.50s",
                     Py_TYPE(p)->tp_name);
        return -1;
    }
    if (!PyUnicode_FSConverter(p, &b))
        return -1;
    if (PyBytes_AS_STRING(b)[0] != '/') {
        PyErr_Format(PyExc_ValueError, "the pathsend path must be absolute: %R", p);
        Py_DECREF(b);
        return -1;
    }
    fd = open(PyBytes_AS_STRING(b), O_RDONLY | O_CLOEXEC | O_NONBLOCK);
    e = errno;
    Py_DECREF(b);
    if (fd >= 0 && fstat(fd, &st) < 0)
        e = errno;
    else if (fd >= 0 && !S_ISREG(st.st_mode))
        e = S_ISDIR(st.st_mode) ? EISDIR : EINVAL;  /* no regular file */
    else
        e = fd < 0 ? e : 0;
    if (fd >= 0 && e) {
        close(fd);
        fd = -1;
    }
    errno = e;
    if (fd < 0) {
        PyErr_SetFromErrnoWithFilenameObject(PyExc_OSError, p);
        return -1;
    }
    *size = st.st_size;
    return fd;
}

/* The head, then the file by sendfile(2) (read and written through TLS
 * on a TLS connection): what the socket does not take is queued as the
 * file's range, and the app's await waits until it is sent. */
static PyObject *response_pathsend(struct areq *q, PyObject *msg)
{
    struct aconn *a = q->conn;
    off_t size;
    size_t n;
    int fd = open_path(q, msg, &size), rc;

    if (fd < 0)
        return NULL;
    if (q->length < 0) {  /* framed by its size, never chunked */
        char clen[48];
        if (block_add(q, clen, content_length(clen, (uint64_t)size)) < 0) {
            close(fd);
            return NULL;
        }
        q->length = size;
    }
    if (size < q->length && !areq_bodiless(q))
        q->must_close = 1;  /* said before the head: short_check below logs it */
    q->finishing = !q->trailers;
    q->tready = 1;
    rc = write_body(q, NULL, 0, 1);  /* the head */
    n = q->no_body ? 0 : (size_t)(size < q->length ? size : q->length);
    cu_conn_whole(&a->c);
    if (rc == 0 && n)
        rc = cu_conn_sendfile(&a->c, fd, 0, n);
    close(fd);  /* the queue holds its own */
    q->sent += n;
    short_check(q);
    return written(q, rc);
}

/* ---- http.response.trailers -------------------------------------------- */

/* One trailer field, checked, into q->block (the head's is sent by now). */
static int add_trailer(struct areq *q, PyObject *item, void *unused)
{
    PyObject *pn, *pv;
    const char *name, *value;
    size_t nl, vl;
    int rc = -1;

    (void)unused;
    if (bytes_pair(item, "trailer", &pn, &pv) < 0)
        return -1;
    name = PyBytes_AS_STRING(pn);
    nl = (size_t)PyBytes_GET_SIZE(pn);
    value = PyBytes_AS_STRING(pv);
    vl = (size_t)PyBytes_GET_SIZE(pv);
    if (http_field_bad(name, nl, value, vl))
        PyErr_Format(PyExc_ValueError, "Invalid HTTP trailer: %R: %R", pn, pv);
    else if (http_trailer_forbidden(name, nl))
        PyErr_Format(PyExc_ValueError, "%R is not allowed in trailers", pn);
    else
        rc = areq_block_line(q, name, nl, value, vl);
    Py_DECREF(pn);
    Py_DECREF(pv);
    return rc;
}

/* The fields after the last chunk; the last message ends the response.
 * On an HTTP/2 stream they are a HEADERS after the body, ending the
 * stream. Without the chunked framing on HTTP/1 (HTTP/1.0, the app's
 * Content-Length, a file) they are checked and dropped. */
static PyObject *response_trailers(struct areq *q, PyObject *msg)
{
    struct asrv *s = q->srv;
    PyObject *hs = PyDict_GetItemWithError(msg, s->k[K_HEADERS]), *more_o;
    int more = 0, rc = 0;

    if (!hs && PyErr_Occurred())
        return NULL;
    more_o = PyDict_GetItemWithError(msg, s->k[K_MORE_TRAILERS]);
    if ((!more_o && PyErr_Occurred()) || (more_o && (more = PyObject_IsTrue(more_o)) < 0))
        return NULL;
    if (q->tready == 1) {  /* the first: the block is the trailers' now */
        q->blen = 0;
        q->tready = 2;
    }
    if (hs && hs != Py_None && areq_each(q, hs, add_trailer, NULL) < 0) {
        q->tsend = 0;  /* the response is cut: no last chunk goes out */
        q->must_close = 1;
        return NULL;
    }
    if (more || q->over || !q->conn)
        return Py_NewRef(s->ready_none);
    if (q->conn->h2 && q->blen && cu_h2_stream_trailers(q->conn->h2, q->block, q->blen) < 0) {
        /* past 128 KiB, or no memory: the stream is reset, not ended */
        PyErr_Format(errno == ENOMEM ? PyExc_MemoryError : PyExc_ValueError,
                     "the trailers cannot be sent: %s", strerror(errno));
        return NULL;
    }
    q->finishing = 1;
    if (q->tsend) {
        struct iovec iov[3] = {{(void *)"0\r\n", 3}, {q->block, q->blen},
                               {(void *)"\r\n", 2}};
        cu_conn_whole(&q->conn->c);
        rc = cu_conn_writev(&q->conn->c, iov, 3);
    }
    return written(q, rc);
}

PyObject *areq_send(PyObject *self, PyObject *msg)
{
    struct areq *q = (struct areq *)self;
    struct asrv *s = q->srv;
    PyObject *type;

    if (!PyDict_Check(msg)) {
        PyErr_Format(PyExc_TypeError, "an ASGI message is a dict, not %.50s",
                     Py_TYPE(msg)->tp_name);
        return NULL;
    }
    type = PyDict_GetItemWithError(msg, s->k[K_TYPE]);
    if (!type) {
        if (!PyErr_Occurred())
            PyErr_SetString(PyExc_KeyError, "an ASGI message needs a type");
        return NULL;
    }
    if (q->send_fut) {
        PyErr_SetString(PyExc_RuntimeError, "send() called while another send() waits");
        return NULL;
    }
    if (q->ws.on) {
        /* the denial response (websocket.http.response.*) is an http one */
        if (q->ws.accepted || (PyUnicode_Compare(type, s->k[V_WS_RESP_START]) != 0 &&
                               PyUnicode_Compare(type, s->k[V_WS_RESP_BODY]) != 0))
            return PyErr_Occurred() ? NULL : aws_send(q, msg, type);
        q->must_close = 1;
        type = s->k[PyUnicode_Compare(type, s->k[V_WS_RESP_START]) == 0 ? V_START
                                                                         : V_RESP_BODY];
    }
    if (PyUnicode_Compare(type, s->k[V_START]) == 0) {
        if (q->started) {
            PyErr_SetString(PyExc_RuntimeError, "Unexpected ASGI message "
                            "'http.response.start' sent, after response already started.");
            return NULL;
        }
        if (q->over)
            return Py_NewRef(s->ready_none);
        return response_start(q, msg) < 0 ? NULL : Py_NewRef(s->ready_none);
    }
    if (PyUnicode_Compare(type, s->k[V_RESP_BODY]) == 0) {
        if (!q->started) {
            PyErr_SetString(PyExc_RuntimeError, "Unexpected ASGI message "
                            "'http.response.body' sent, before 'http.response.start'.");
            return NULL;
        }
        if (q->finishing) {
            PyErr_SetString(PyExc_RuntimeError, "Unexpected ASGI message "
                            "'http.response.body' sent, after response already completed.");
            return NULL;
        }
        if (q->over || !q->conn)
            return Py_NewRef(s->ready_none);
        return response_body(q, msg);
    }
    if (!q->ws.on && PyUnicode_Compare(type, s->k[V_TRAILERS]) == 0) {
        if (!q->trailers || !q->tready || q->finishing) {
            PyErr_SetString(PyExc_RuntimeError, "Unexpected ASGI message "
                            "'http.response.trailers' sent, without 'trailers' in "
                            "'http.response.start', before the last body or after the "
                            "last trailers.");
            return NULL;
        }
        return response_trailers(q, msg);
    }
    if (!q->ws.on && PyUnicode_Compare(type, s->k[V_PATHSEND]) == 0) {
        if (!q->started || q->finishing || q->head_sent) {
            PyErr_SetString(PyExc_RuntimeError, "Unexpected ASGI message "
                            "'http.response.pathsend' sent, before 'http.response.start' "
                            "or after a body.");
            return NULL;
        }
        if (q->over || !q->conn)
            return Py_NewRef(s->ready_none);
        return response_pathsend(q, msg);
    }
    if (PyErr_Occurred())
        return NULL;
    PyErr_Format(PyExc_RuntimeError, "Unexpected ASGI message type %R for an http scope",
                 type);
    return NULL;
}

void areq_drained(struct areq *q)
{
    if (q->send_fut) {
        q->conn->deadline = 0;
        areq_wake(q->srv, &q->send_fut, Py_NewRef(Py_None));
    }
    /* the last body (or a WebSocket's last close frame) is out */
    if (q->finishing && !q->over)
        areq_over(q, q->must_close);
}

void areq_send_500(struct areq *q)
{
    char head[HTTP_PAGE_HEAD];
    struct iovec iov[HTTP_PAGE_IOV];

    if (!q->conn || q->head_sent ||
        !http_page_iov(iov, head, 500, "Internal Server Error", NULL, 0))
        return;
    q->status = 500;
    q->head_sent = 1;
    q->paged = 1;
    q->must_close = 1;
    cu_conn_whole(&q->conn->c);
    /* RFC 9110 §9.3.2: no content in the answer to HEAD */
    (void)cu_conn_writev(&q->conn->c, iov, q->is_head ? HTTP_PAGE_IOV_HEAD : HTTP_PAGE_IOV);
}
