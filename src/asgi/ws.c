/*
 * A WebSocket of the asgi worker (ASGI's websocket scope, RFC 6455): the
 * codec is src/http/ws.c's; here are the ASGI messages over it.
 *
 * receive(): websocket.connect first; then each message the client sends,
 * assembled in C from its frames (one copy when it spans several reads,
 * none when it came whole); websocket.disconnect with the close code at
 * the end. Frames are read only while receive() waits (or while our close
 * waits for the peer's), so a slow app leaves the bytes in the socket and
 * TCP holds the client back. Pings are answered with pongs here, pongs
 * dropped; a protocol error closes with 1002, 1007 or 1009. With
 * permessage-deflate (src/http/ws_deflate.h, negotiated at accept), a
 * compressed message is inflated as its chunks are read, within
 * --ws-max-size, and what the app sends is compressed.
 *
 * send(): websocket.accept writes the 101 (with the app's subprotocol and
 * headers); websocket.send a frame, the app's await waiting while the
 * socket holds the frame back (a slow client pauses the app);
 * websocket.close before accept answers 403, after it sends the close
 * frame and waits up to WS_CLOSE_MS for the peer's. Before accept,
 * websocket.http.response.start/body answer in HTTP (send.c). Either
 * close frame received and sent ends the request, and the connection
 * closes after a linger (the peer may still be sending).
 */
#include "asgi/internal.h"

#include <errno.h>
#include <string.h>
#include <sys/ioctl.h>

#include "core/clock.h"
#include "core/log.h"
#include "http/pages.h"
#include "wsgi/report.h"
#include "wsgi/wsgi.h"

#define WS_CLOSE_MS 5000            /* our close waits this long for the peer's */
#define WS_READ_MAX ((size_t)65536) /* the read buffer past the head */
#define WS_PONG_QUEUE ((size_t)65536) /* above: a ping gets no pong */

/* ---- the handshake's refusal and the scope -------------------------------- */

void aws_refuse(struct aconn *a, int hs)
{
    static const char version[] = "Sec-WebSocket-Version: 13\r\n";
    char page[HTTP_PAGE_MAX];
    int v = hs == WS_HS_VERSION;
    size_t n = v ? http_page(page, sizeof(page), 426, "Upgrade Required", NULL, 0)
                 : http_page(page, sizeof(page), 400, "Bad Request", NULL, 0);
    const char *eol = n ? memchr(page, '\n', n) : NULL;
    struct iovec iov[3];

    cu_log(CU_DEBUG, "Invalid WebSocket handshake: %s", v ? "version" : "request");
    if (!eol) {
        aconn_close(a, 0);
        return;
    }
    /* the status line, the version header (426), the rest */
    iov[0].iov_base = page;
    iov[0].iov_len = (size_t)(eol + 1 - page);
    iov[1].iov_base = (void *)version;
    iov[1].iov_len = v ? sizeof(version) - 1 : 0;
    iov[2].iov_base = (void *)(eol + 1);
    iov[2].iov_len = n - iov[0].iov_len;
    cu_conn_whole(&a->c);
    if (cu_conn_writev(&a->c, iov, 3) < 0) {
        aconn_close(a, 0);
        return;
    }
    aconn_close(a, 1);
}

/* The offered subprotocols: every Sec-WebSocket-Protocol header's
 * comma-separated tokens, in order. */
static PyObject *subprotocols(const struct http_request *r, const char *head)
{
    PyObject *l = PyList_New(0);

    for (uint32_t i = 0; l && i < r->n_headers; i++) {
        const struct http_header *h = &r->headers[i];
        size_t p = h->value.off, end = p + h->value.len, s, e;
        if (!http_span_ieq(head, h->name, "sec-websocket-protocol"))
            continue;
        while (l && ws_list_next(head, &p, end, &s, &e)) {
            PyObject *t;
            if (e == s)
                continue;
            t = PyUnicode_DecodeLatin1(head + s, (Py_ssize_t)(e - s), NULL);
            if (!t || PyList_Append(l, t) < 0)
                Py_CLEAR(l);
            Py_XDECREF(t);
        }
    }
    return l;
}

int aws_scope(struct asrv *s, struct aconn *a, PyObject *d)
{
    PyObject **k = s->k, *ext, *sub;
    int https = asgi_https(a), rc;

    if (PyDict_SetItem(d, k[K_TYPE], k[V_WEBSOCKET]) < 0 ||
        PyDict_SetItem(d, k[K_SCHEME], k[https ? V_WSS : V_WS]) < 0 ||
        PyDict_DelItem(d, k[K_METHOD]) < 0)
        return -1;
    sub = subprotocols(&a->r, cu_request_head(&a->req->q));
    if (!sub)
        return -1;
    rc = PyDict_SetItem(d, k[K_SUBPROTOCOLS], sub);
    Py_DECREF(sub);
    ext = rc < 0 ? NULL : Py_BuildValue("{O{}}", k[V_WS_RESP]);
    if (!ext)
        return -1;
    rc = PyDict_SetItem(d, k[K_EXTENSIONS], ext);
    Py_DECREF(ext);
    return rc;
}

/* ---- writing frames --------------------------------------------------------- */

/* The client is gone: the app hears 1006, its task is cancelled after
 * the grace period unless it ends first, and the request ends. */
static void gone(struct areq *q)
{
    if (q->over)
        return;
    q->ws.code = WS_CLOSE_ABNORMAL;
    q->ws.close_rcvd = 1;
    areq_gone(q);
    areq_over(q, 1);
}

/* Writes a frame (what the socket does not take is queued). 0, or -1
 * when the client is gone (the request is then over). */
static int write_frame(struct areq *q, int op, const void *p, size_t n)
{
    uint8_t head[10];
    struct iovec iov[2] = {{head, ws_frame_head(head, 1, op, n)}, {(void *)p, n}};

    cu_conn_whole(&q->conn->c);
    q->sent += n;  /* the access log's bytes: the payloads' */
    if (cu_conn_writev(&q->conn->c, iov, n ? 2 : 1) < 0) {
        cu_log(CU_DEBUG, "WebSocket: the client is gone: %s", strerror(errno));
        gone(q);
        return -1;
    }
    if (q->conn->c.queue && asrv_watch(q->conn, 'w', 1) < 0) {
        gone(q);
        return -1;
    }
    return 0;
}

/* Writes a data message: compressed (RSV1) when permessage-deflate was
 * negotiated and it is not small; as it is otherwise, or when the
 * compressor failed. */
static int write_data(struct areq *q, int op, const void *p, size_t n)
{
    const uint8_t *z;
    size_t zlen;

    if (q->ws.pmd && n >= WS_PMD_MIN_SIZE &&
        ws_pmd_deflate(q->ws.pmd, p, n, &z, &zlen) == 0) {
        uint64_t before = q->sent;
        int rc = write_frame(q, op | WS_RSV1, z, zlen);
        q->sent = before + n;  /* the access log counts the app's bytes */
        return rc;
    }
    return write_frame(q, op, p, n);
}

/* Sends our close frame. 0, or -1 (gone). */
static int send_close(struct areq *q, unsigned code, const char *reason, size_t rlen)
{
    uint8_t pl[125];
    size_t n = code == WS_CLOSE_NO_STATUS ? 0 : ws_close_payload(pl, code, reason, rlen);

    q->ws.close_sent = 1;
    return write_frame(q, WS_OP_CLOSE, pl, n);
}

/* Both close frames are out (or ours after an error): the request ends
 * once the socket took ours. */
static void closed(struct areq *q)
{
    struct aconn *a = q->conn;

    if (q->over || !a)
        return;
    if (a->c.queue) {
        q->finishing = 1;  /* areq_drained ends it */
        a->deadline = cu_now_ms() + WS_CLOSE_MS;
        return;
    }
    areq_over(q, 1);
}

/* Our close is out: the peer's is awaited (read even while the app does
 * not receive), WS_CLOSE_MS at most; with it, the request ends. */
static void await_close(struct areq *q)
{
    if (q->ws.close_rcvd) {
        closed(q);
        return;
    }
    q->conn->deadline = cu_now_ms() + WS_CLOSE_MS;
    (void)asrv_watch(q->conn, 'r', 1);
}

/* ---- the server's pings (--ws-ping-interval, --ws-ping-timeout) ------------ */

static void arm_ping(struct areq *q);

/* Has the client sent bytes not read yet: in our buffer, decrypted
 * inside OpenSSL, or in the socket? They may hold the pong behind
 * messages the app has not asked for (frames are read only as it
 * receives): a client that sends is alive. */
static int client_spoke(struct areq *q)
{
    struct cu_conn *c = &q->conn->c;
    int n = 0;

    return c->start < c->end || cu_conn_pending(c) ||
           (ioctl(c->fd, FIONREAD, &n) == 0 && n > 0);
}

/* No pong in time: closed with 1011 ("keepalive ping timeout", as the
 * websockets library says it); the app hears websocket.disconnect 1011
 * and its task is cancelled after the grace period unless it ends. */
static void ping_timed_out(struct areq *q)
{
    static const char why[] = "keepalive ping timeout";

    cu_log(CU_DEBUG, "WebSocket: no pong within --ws-ping-timeout: closing with 1011");
    if (send_close(q, WS_CLOSE_INTERNAL, why, sizeof(why) - 1) < 0)
        return;  /* gone: over already */
    q->ws.code = WS_CLOSE_INTERNAL;
    q->ws.close_rcvd = 1;  /* the client's close is not awaited */
    areq_gone(q);
    areq_over(q, 1);
}

/* Sends a ping whose payload is the next number; the pong is due within
 * --ws-ping-timeout. 0, or -1 (gone). */
static int send_ping(struct areq *q, long long now)
{
    uint8_t pl[4];
    uint64_t sent = q->sent;
    uint32_t seq = ++q->ws.ping_seq;

    pl[0] = (uint8_t)(seq >> 24);
    pl[1] = (uint8_t)(seq >> 16);
    pl[2] = (uint8_t)(seq >> 8);
    pl[3] = (uint8_t)seq;
    if (write_frame(q, WS_OP_PING, pl, sizeof pl) < 0)
        return -1;
    q->sent = sent;  /* the access log counts the app's bytes */
    if (q->srv->opts->ws_pong_ms)
        q->ws.pong_due = now + q->srv->opts->ws_pong_ms;
    return 0;
}

/* The timer: the pong's deadline checked, the next ping sent, the timer
 * armed again; nothing once a close went either way. */
static PyObject *ping_timer(PyObject *self, PyObject *unused)
{
    struct areq *q = (struct areq *)self;
    long long now = cu_now_ms();

    (void)unused;
    Py_CLEAR(q->timer);
    if (q->over || !q->conn || q->ws.close_sent || q->ws.close_rcvd)
        Py_RETURN_NONE;
    if (q->ws.pong_due && now >= q->ws.pong_due) {
        if (!client_spoke(q)) {
            ping_timed_out(q);
            Py_RETURN_NONE;
        }
        q->ws.pong_due = 0;
    }
    if (now >= q->ws.next_ping) {
        q->ws.next_ping = now + q->srv->opts->ws_ping_ms;
        /* one ping at a time: a new one waits for the pong */
        if (!q->ws.pong_due && send_ping(q, now) < 0)
            Py_RETURN_NONE;
    }
    arm_ping(q);
    Py_RETURN_NONE;
}

static PyMethodDef ping_def = {"ping", ping_timer, METH_NOARGS, NULL};

/* The timer at the next ping or the pong's deadline, whichever is first. */
static void arm_ping(struct areq *q)
{
    long long at = q->ws.next_ping, wait;
    PyObject *fn;

    if (q->ws.pong_due && q->ws.pong_due < at)
        at = q->ws.pong_due;
    wait = at - cu_now_ms();
    fn = PyCFunction_New(&ping_def, (PyObject *)q);
    q->timer = fn ? PyObject_CallFunction(q->srv->call_later, "dO",
                                          (double)(wait > 0 ? wait : 1) / 1000.0, fn)
                  : NULL;
    Py_XDECREF(fn);
    if (!q->timer)
        cu_report_exception("worker: event loop");
}

/* A pong: the one awaited when it carries the last ping's number. */
static void pong(struct areq *q, const uint8_t *p, size_t n)
{
    uint32_t seq = q->ws.ping_seq;

    if (q->ws.pong_due && n == 4 && p[0] == (uint8_t)(seq >> 24) &&
        p[1] == (uint8_t)(seq >> 16) && p[2] == (uint8_t)(seq >> 8) && p[3] == (uint8_t)seq)
        q->ws.pong_due = 0;
}

/* ---- the client's frames ---------------------------------------------------- */

PyObject *aws_disconnect_msg(struct areq *q)
{
    struct asrv *s = q->srv;

    return Py_BuildValue("{OOOi}", s->k[K_TYPE], s->k[V_WS_DISCONNECT], s->k[K_CODE],
                         (int)(q->ws.code ? q->ws.code : WS_CLOSE_ABNORMAL));
}

/* websocket.receive with a message's bytes (text, or bytes). */
static PyObject *receive_msg(struct areq *q, int text, const char *p, size_t n)
{
    struct asrv *s = q->srv;
    PyObject *v = text ? PyUnicode_DecodeUTF8(p, (Py_ssize_t)n, NULL)
                       : PyBytes_FromStringAndSize(p, (Py_ssize_t)n);
    PyObject *d;

    if (!v)
        return NULL;
    d = Py_BuildValue("{OOON}", s->k[K_TYPE], s->k[V_WS_RECEIVE],
                      s->k[text ? K_TEXT : K_BYTES], v);
    return d;
}

/* The end of the reading, with code: our close with it (unless ours went
 * out already), and websocket.disconnect. */
static PyObject *end_with_close(struct areq *q, uint16_t code)
{
    q->ws.close_rcvd = 1;  /* nothing more is read */
    q->ws.code = code;
    if (!q->ws.close_sent && send_close(q, code, "", 0) < 0)
        return aws_disconnect_msg(q);
    closed(q);
    return aws_disconnect_msg(q);
}

/* A protocol error: our close with its code, and the end. */
static PyObject *protocol_error(struct areq *q, int err)
{
    cu_log(CU_DEBUG, "WebSocket protocol error: %s", ws_error_text(err));
    return end_with_close(q, ws_error_close_code(err));
}

/* A compressed message's chunk, inflated as it comes (RFC 7692): the
 * message when it ends here, else NULL (kept); a failure (a bomb past
 * --ws-max-size, no deflate data, no UTF-8) closes as a protocol error. */
static PyObject *inflated(struct areq *q, const uint8_t *base, const struct ws_chunk *ch)
{
    struct aws *w = &q->ws;
    int text = ch->op == WS_OP_TEXT, rc;
    const uint8_t *msg = NULL;
    size_t n = 0;
    PyObject *m;

    rc = ws_pmd_inflate(w->pmd, base + ch->off, ch->len, text, w->p.max_message);
    if (rc == 0 && ch->done)
        rc = ws_pmd_finish(w->pmd, text, w->p.max_message, &msg, &n);
    if (rc < 0)
        return protocol_error(q, rc);
    if (!ch->done)
        return NULL;
    m = receive_msg(q, text, (const char *)msg, n);
    ws_pmd_done(w->pmd);
    return m;
}

/* A data chunk: a message when it ends one, else NULL (kept). NULL with
 * an exception on failure. */
static PyObject *data(struct areq *q, const uint8_t *base, const struct ws_chunk *ch)
{
    struct aws *w = &q->ws;
    PyObject *m;

    if (w->close_sent)
        return NULL;  /* closing: what still comes is dropped */
    if (ch->deflated)
        return inflated(q, base, ch);
    if (ch->done && w->mlen == 0)  /* whole in the buffer: no copy */
        return receive_msg(q, ch->op == WS_OP_TEXT, (const char *)base + ch->off, ch->len);
    if (ch->len &&
        cu_pymem_append(&w->msg, &w->mlen, &w->mcap, (const char *)base + ch->off, ch->len) < 0)
        return PyErr_NoMemory();
    if (!ch->done)
        return NULL;
    m = receive_msg(q, ch->op == WS_OP_TEXT, w->msg, w->mlen);
    w->mlen = 0;
    if (w->mcap > WS_READ_MAX) {  /* a big message's buffer is not kept */
        PyMem_Free(w->msg);
        w->msg = NULL;
        w->mcap = 0;
    }
    return m;
}

/* One piece of what the client sent: a message for the app (a new
 * reference), or NULL (nothing for the app; an exception on failure). */
static PyObject *chunk(struct areq *q, const uint8_t *base, const struct ws_chunk *ch)
{
    switch (ch->op) {
    case WS_OP_PING:
        if (!q->ws.close_sent && q->conn->c.queued <= WS_PONG_QUEUE)
            (void)write_frame(q, WS_OP_PONG, base + ch->off, ch->len);
        return NULL;
    case WS_OP_PONG:
        pong(q, base + ch->off, ch->len);
        return NULL;
    case WS_OP_CLOSE:  /* the peer's: ours in answer, its code echoed */
        return end_with_close(q, ch->code);
    default:
        return data(q, base, ch);
    }
}

/*
 * The next message the client's bytes give, reading the socket while it
 * has some: a new reference; NULL without an exception when more must
 * come (the caller waits for readable); NULL with one on failure. The
 * end (a close, an error, the client gone) gives websocket.disconnect,
 * with the request over.
 */
static PyObject *next_msg(struct areq *q)
{
    struct cu_conn *c = &q->conn->c;

    for (;;) {
        ssize_t n;
        while (c->start < c->end) {
            struct ws_chunk ch;
            uint8_t *base = (uint8_t *)c->buf + c->start;
            int64_t used = ws_parse(&q->ws.p, base, c->end - c->start, &ch);
            PyObject *m;
            if (used == WS_AGAIN)
                break;
            if (used < 0)
                return protocol_error(q, (int)used);
            c->start += (size_t)used;
            m = chunk(q, base, &ch);
            if (m || PyErr_Occurred())
                return m;
            if (q->over)  /* a pong's write found the client gone */
                return aws_disconnect_msg(q);
        }
        n = cu_conn_fill(c, c->keep + WS_READ_MAX);
        if (n > 0)
            continue;
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
            return NULL;
        gone(q);  /* the end without a close frame, or a reset */
        return aws_disconnect_msg(q);
    }
}

PyObject *aws_receive(struct areq *q)
{
    struct asrv *s = q->srv;
    struct aconn *a = q->conn;
    PyObject *msg, *fut;

    if (!q->ws.connected) {
        q->ws.connected = 1;
        return asgi_ready(s, Py_BuildValue("{OO}", s->k[K_TYPE], s->k[V_WS_CONNECT]));
    }
    if (q->over || !a || q->ws.close_rcvd)
        return asgi_ready(s, aws_disconnect_msg(q));
    if (q->recv_fut) {
        PyErr_SetString(PyExc_RuntimeError, "receive() called while another receive() waits");
        return NULL;
    }
    msg = next_msg(q);
    if (msg)
        return asgi_ready(s, msg);
    if (PyErr_Occurred())
        return NULL;
    if (!(fut = PyObject_CallNoArgs(s->create_future)))
        return NULL;
    q->recv_fut = Py_NewRef(fut);
    q->wait = W_BODY;
    if (asrv_watch(a, 'r', 1) < 0) {
        q->wait = W_NONE;
        areq_wake(q->srv, &q->recv_fut, NULL);
    }
    return fut;
}

void aws_readable(struct areq *q)
{
    PyObject *msg;

    if (q->over || !q->conn)
        return;
    if (!q->recv_fut && !(q->ws.close_sent && !q->ws.close_rcvd)) {
        (void)asrv_watch(q->conn, 'r', 0);  /* nothing wants the bytes now */
        return;
    }
    Py_INCREF(q);  /* the end of the request may drop the connection's */
    msg = next_msg(q);
    if (msg || PyErr_Occurred()) {
        q->wait = W_NONE;
        if (q->recv_fut)
            areq_wake(q->srv, &q->recv_fut, msg);
        else if (!msg)
            cu_report_exception("worker: a WebSocket");
        else
            Py_DECREF(msg);  /* read while closing: no one asked */
    }
    Py_DECREF(q);
}

/* ---- send() ------------------------------------------------------------------ */

/* permessage-deflate, when on and the client offers one we take: its
 * contexts made, the response's Sec-WebSocket-Extensions line in ext
 * (its length; 0: no extension, also when there is no memory for it). */
static size_t negotiate(struct areq *q, char ext[WS_PMD_RESPONSE_MAX])
{
    struct ws_pmd_params pp;
    size_t n;

    if (!q->srv->opts->ws_deflate ||
        !ws_pmd_negotiate(cu_request_head(&q->q), q->q.http, &pp) ||
        !(n = ws_pmd_response(&pp, ext)))
        return 0;
    if (!(q->ws.pmd = ws_pmd_new(&pp))) {
        cu_log(CU_WARNING, "WebSocket: no memory for permessage-deflate; "
               "the connection goes on uncompressed");
        return 0;
    }
    q->ws.p.deflate = 1;
    return n;
}

/* The 101 with the accept key, the subprotocol, the extension and the
 * app's headers. */
static PyObject *handshake_accept(struct areq *q, PyObject *msg)
{
    struct asrv *s = q->srv;
    static const char line[] = "HTTP/1.1 101 Switching Protocols";
    static const char upgrade[] = "Upgrade: websocket\r\nSec-WebSocket-Accept: ";
    char acc[29], proto[300], ext[WS_PMD_RESPONSE_MAX];
    const char *fixed;
    PyObject *sub = PyDict_GetItemWithError(msg, s->k[K_SUBPROTOCOL]), *hs;
    struct iovec iov[9];
    size_t flen, plen = 0, elen;

    if (!sub && PyErr_Occurred())
        return NULL;
    if (sub && sub != Py_None) {
        Py_ssize_t n = 0;
        const char *t = PyUnicode_Check(sub) ? PyUnicode_AsUTF8AndSize(sub, &n) : NULL;
        if (!t || n == 0 || n > 250 || strpbrk(t, "\r\n")) {
            if (!PyErr_Occurred())
                PyErr_Format(PyExc_ValueError, "Invalid WebSocket subprotocol: %R", sub);
            return NULL;
        }
        plen = (size_t)snprintf(proto, sizeof(proto), "Sec-WebSocket-Protocol: %s\r\n", t);
    }
    hs = PyDict_GetItemWithError(msg, s->k[K_HEADERS]);
    if ((!hs && PyErr_Occurred()) || areq_headers(q, hs) < 0)
        return NULL;
    if (ws_accept_key(cu_request_head(&q->q) + q->ws.key.off, q->ws.key.len, acc) < 0) {
        PyErr_SetString(PyExc_RuntimeError, "the WebSocket accept key could not be made");
        return NULL;
    }
    elen = negotiate(q, ext);
    fixed = cu_resp_fixed_head(2, &flen);
    iov[0] = (struct iovec){(void *)line, sizeof(line) - 1};
    iov[1] = (struct iovec){(void *)fixed, flen};
    iov[2] = (struct iovec){(void *)upgrade, sizeof(upgrade) - 1};
    iov[3] = (struct iovec){acc, 28};
    iov[4] = (struct iovec){(void *)"\r\n", 2};
    iov[5] = (struct iovec){proto, plen};
    iov[6] = (struct iovec){ext, elen};
    iov[7] = (struct iovec){q->block, q->blen};
    iov[8] = (struct iovec){(void *)"\r\n", 2};
    q->status = 101;
    q->started = q->head_sent = 1;
    q->ws.accepted = 1;
    cu_conn_whole(&q->conn->c);
    if (cu_conn_writev(&q->conn->c, iov, 9) < 0 ||
        (q->conn->c.queue && asrv_watch(q->conn, 'w', 1) < 0))
        gone(q);
    else if (s->opts->ws_ping_ms && !q->timer) {
        q->ws.next_ping = cu_now_ms() + s->opts->ws_ping_ms;
        arm_ping(q);
    }
    return Py_NewRef(s->ready_none);
}

/* The app's await on a frame: at once, or once the socket took it. */
static PyObject *sent(struct areq *q)
{
    struct asrv *s = q->srv;
    struct aconn *a = q->conn;
    PyObject *fut;

    if (q->over || !a || !a->c.queue)
        return Py_NewRef(s->ready_none);
    if (!(fut = PyObject_CallNoArgs(s->create_future)))
        return NULL;
    q->send_fut = Py_NewRef(fut);
    a->deadline = asrv_after(s, s->env->send_ms);
    return fut;
}

/* The client left, or the close went out: a send now fails, as ASGI says
 * (an OSError: Starlette turns it into WebSocketDisconnect). */
static PyObject *closed_error(struct areq *q)
{
    if (q->ws.close_sent && !q->over && !q->ws.close_rcvd)
        PyErr_SetString(PyExc_RuntimeError,
                        "Unexpected ASGI message 'websocket.send', after 'websocket.close'.");
    else
        PyErr_SetString(PyExc_ConnectionResetError, "the WebSocket is closed");
    return NULL;
}

/* websocket.send: text or bytes, as one frame. */
static PyObject *send_data(struct areq *q, PyObject *msg)
{
    struct asrv *s = q->srv;
    PyObject *text = PyDict_GetItemWithError(msg, s->k[K_TEXT]), *bytes = NULL;
    Py_buffer view = {0};
    int rc;

    if (!text && PyErr_Occurred())
        return NULL;
    if (!text || text == Py_None) {
        bytes = PyDict_GetItemWithError(msg, s->k[K_BYTES]);
        if (!bytes && PyErr_Occurred())
            return NULL;
        if (!bytes || bytes == Py_None) {
            PyErr_SetString(PyExc_ValueError, "websocket.send needs 'text' or 'bytes'");
            return NULL;
        }
    }
    if (q->over || !q->conn || q->ws.close_sent || q->ws.close_rcvd)
        return closed_error(q);
    if (text && text != Py_None) {
        Py_ssize_t n;
        const char *t = PyUnicode_Check(text) ? PyUnicode_AsUTF8AndSize(text, &n) : NULL;
        if (!t) {
            if (!PyErr_Occurred())
                PyErr_SetString(PyExc_TypeError, "websocket.send's 'text' must be a str");
            return NULL;
        }
        rc = write_data(q, WS_OP_TEXT, t, (size_t)n);
    } else {
        if (PyObject_GetBuffer(bytes, &view, PyBUF_SIMPLE) < 0)
            return NULL;
        rc = write_data(q, WS_OP_BINARY, view.buf, (size_t)view.len);
        PyBuffer_Release(&view);
    }
    if (rc < 0)
        return closed_error(q);
    return sent(q);
}

/* websocket.close: before accept a 403; after, our close frame, then the
 * peer's is awaited (WS_CLOSE_MS at most). */
static PyObject *close_msg(struct areq *q, PyObject *msg)
{
    struct asrv *s = q->srv;
    PyObject *code = PyDict_GetItemWithError(msg, s->k[K_CODE]), *reason;
    const char *r = "";
    Py_ssize_t rlen = 0;
    long c = WS_CLOSE_NORMAL;

    if ((!code && PyErr_Occurred()) ||
        (code && code != Py_None && (c = PyLong_AsLong(code)) == -1 && PyErr_Occurred()))
        return NULL;
    reason = PyDict_GetItemWithError(msg, s->k[K_REASON]);
    if (!reason && PyErr_Occurred())
        return NULL;
    if (reason && reason != Py_None && !(r = PyUnicode_AsUTF8AndSize(reason, &rlen)))
        return NULL;
    /* the codes an endpoint may send (RFC 6455 7.4): 1005, 1006 and 1015
     * are reserved for reports, and a peer fails the connection on them */
    if (c < 1000 || c > 4999 || !ws_close_code_ok((unsigned)c)) {
        PyErr_Format(PyExc_ValueError, "Invalid WebSocket close code: %ld", c);
        return NULL;
    }
    if (q->over || !q->conn || q->ws.close_sent)
        return Py_NewRef(s->ready_none);
    if (!q->ws.accepted) {
        char head[HTTP_PAGE_HEAD];
        struct iovec iov[HTTP_PAGE_IOV];
        q->status = 403;
        q->head_sent = q->started = 1;
        if (http_page_iov(iov, head, 403, "Forbidden", NULL, 0)) {
            cu_conn_whole(&q->conn->c);
            (void)cu_conn_writev(&q->conn->c, iov, HTTP_PAGE_IOV);
        }
        q->finishing = 1;  /* over now, or once the socket took the page */
        if (!q->conn->c.queue)
            areq_over(q, 1);
        else
            (void)asrv_watch(q->conn, 'w', 1);
        return Py_NewRef(s->ready_none);
    }
    q->ws.code = (uint16_t)c;
    if (send_close(q, (unsigned)c, r, (size_t)rlen) == 0)
        await_close(q);
    return Py_NewRef(s->ready_none);
}

PyObject *aws_send(struct areq *q, PyObject *msg, PyObject *type)
{
    PyObject **k = q->srv->k;

    if (PyUnicode_Compare(type, k[V_WS_SEND]) == 0) {
        if (!q->ws.accepted) {
            PyErr_SetString(PyExc_RuntimeError, "Unexpected ASGI message 'websocket.send', "
                            "before 'websocket.accept'.");
            return NULL;
        }
        return send_data(q, msg);
    }
    if (PyUnicode_Compare(type, k[V_WS_ACCEPT]) == 0) {
        if (q->started) {
            PyErr_SetString(PyExc_RuntimeError, "Unexpected ASGI message 'websocket.accept', "
                            "after the handshake was answered.");
            return NULL;
        }
        if (q->over || !q->conn)
            return closed_error(q);
        return handshake_accept(q, msg);
    }
    if (PyUnicode_Compare(type, k[V_WS_CLOSE]) == 0) {
        if (q->started && !q->ws.accepted) {
            PyErr_SetString(PyExc_RuntimeError, "Unexpected ASGI message 'websocket.close', "
                            "after the handshake was answered.");
            return NULL;
        }
        return close_msg(q, msg);
    }
    if (PyErr_Occurred())
        return NULL;
    PyErr_Format(PyExc_RuntimeError, "Unexpected ASGI message type %R for a websocket scope",
                 type);
    return NULL;
}

/* ---- the ends ------------------------------------------------------------------ */

void aws_app_done(struct areq *q, int failed)
{
    if (q->over || !q->conn)
        return;
    if (!q->ws.close_sent) {
        q->ws.code = failed ? WS_CLOSE_INTERNAL : WS_CLOSE_NORMAL;
        if (send_close(q, q->ws.code, "", 0) < 0)
            return;
        await_close(q);
    }
}

void aws_stop(struct areq *q)
{
    if (q->over || !q->conn || !q->ws.accepted || q->ws.close_sent)
        return;
    if (send_close(q, WS_CLOSE_GOING_AWAY, "", 0) == 0)
        await_close(q);
}
