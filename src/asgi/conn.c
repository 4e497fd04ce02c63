/*
 * One client connection of the asgi worker, driven by the loop's
 * callbacks: its head read and parsed in C (the parser, the limits and
 * the refused requests' answers of every worker class), the app started
 * on it, then the next request (pipelined, or after an idle keep-alive
 * wait), or the close.
 *
 * A connection is read only while something wants its bytes: a head, or
 * a receive() waiting for the body (or for the client to leave). While
 * the app works on a request nothing more is read, so a client cannot
 * make the worker hold more than a buffer's worth, and the reader is
 * dropped lazily: only when the peer sends while nothing wants it.
 */
#include "asgi/internal.h"

#include <errno.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/clock.h"
#include "core/log.h"
#include "net/allow.h"
#include "wsgi/report.h"

#define LINGER_MS 2000           /* a closing connection's last bytes */
/* A response's rest that the socket did not take is queued (and the app's
 * send waits for it to drain): at most what one send() gave. */
#define QUEUE_MAX ((size_t)1 << 40)

static void aconn_dealloc(PyObject *self)
{
    struct aconn *a = (struct aconn *)self;
    PyTypeObject *tp = Py_TYPE(self);

    cu_conn_close(&a->c);  /* after aconn_close: nothing left */
    free(a->headers);
    Py_XDECREF(a->fd);
    Py_XDECREF(a->tctx);
    Py_XDECREF(a->tls_ext);
    PyObject_Free(self);
    Py_DECREF(tp);
}

static PyType_Slot conn_slots[] = {
    {Py_tp_dealloc, (void *)aconn_dealloc},
    {Py_tp_doc, (void *)"A client connection of the asgi worker."},
    {0, NULL},
};

PyType_Spec asgi_conn_spec = {
    .name = "cunicorn._cunicorn.ASGIConnection",
    .basicsize = sizeof(struct aconn),
    .flags = Py_TPFLAGS_DEFAULT,
    .slots = conn_slots,
};

long long asrv_deadline(const struct asrv *s)
{
    long long t = s->env->timeout > 0 ? (long long)s->env->timeout * 1000 : 3600LL * 1000;

    return cu_now_ms() + t;
}

long long asrv_after(const struct asrv *s, int ms)
{
    long long t = asrv_deadline(s);

    /* never past --timeout, as every wait (docs/operations.md) */
    return ms > 0 && cu_now_ms() + ms < t ? cu_now_ms() + ms : t;
}

long long asrv_body_deadline(struct aconn *a)
{
    long long d = cu_body_deadline(&a->body, &a->c), t = asrv_deadline(a->srv);

    /* and no wait past --timeout, as cu_body_wait's */
    return d && d < t ? d : t;
}

/* Keeps srv->head_mem up to date with a's buffer (counted while a reads
 * a head). -1 when the heads' buffers in all are past --max-head-memory
 * and a's has grown past its first size: the caller drops a. */
static int account(struct aconn *a)
{
    struct asrv *s = a->srv;
    size_t now = a->state == C_HEAD ? a->c.cap : 0;

    s->head_mem = s->head_mem - a->counted + now;
    a->counted = now;
    return s->env->head_memory > 0 && now > CU_CONN_BUF && s->head_mem > s->env->head_memory
               ? -1 : 0;
}

/* A fresh parse for the next head. */
static void begin_head(struct aconn *a)
{
    const struct http_config *http = a->srv->env->http;

    http_parser_init(&a->p, http, a->trusted);
    http_request_init(&a->r, a->headers, http->limit_request_fields);
    a->state = C_HEAD;
}

struct aconn *aconn_new(struct asrv *s, int fd, const struct sockaddr_storage *peer,
                        socklen_t plen, const struct cu_listener *l)
{
    const struct cu_worker_env *env = s->env;
    struct aconn *a = PyObject_New(struct aconn, s->conn_type);

    if (!a) {
        close(fd);
        cu_report_exception("worker: a connection");
        return NULL;
    }
    memset((char *)a + sizeof(PyObject), 0, sizeof(*a) - sizeof(PyObject));
    a->srv = s;
    (void)cu_conn_init(&a->c, -1, 0);  /* no buffer yet: it cannot fail */
    a->headers = malloc(sizeof(*a->headers) * env->http->limit_request_fields);
    a->fd = PyLong_FromLong(fd);
    if (!a->headers || !a->fd) {
        close(fd);
        a->state = C_CLOSED;
        Py_DECREF(a);
        cu_log(CU_ERROR, "out of memory for a connection");
        PyErr_Clear();
        return NULL;
    }
    a->c.fd = fd;
    a->c.peer = *peer;
    a->c.peerlen = plen;
    a->c.listener = l;
    a->c.timeout_ms = 0;       /* never wait: the loop does */
    a->c.queue_max = QUEUE_MAX;
    a->c.send_timeout_ms = env->send_ms;
    a->c.body_ms = env->body_ms;
    a->c.body_min_rate = env->body_min_rate;
    /* TLS: the handshake is the first read's (advance), a step per
     * readiness, under the new connection's deadline */
    if (env->tls && cu_conn_tls(&a->c, env->tls) < 0) {
        close(fd);
        a->c.fd = -1;
        a->state = C_CLOSED;
        Py_DECREF(a);
        cu_log(CU_ERROR, "out of memory for a TLS connection");
        return NULL;
    }
    a->trusted = cu_allow_match(env->allow, (const struct sockaddr *)peer, plen);
    a->proxy_done = env->proxy == HTTP_PROXY_OFF;
    /* its first byte (a head's) is due soon */
    a->born = cu_now_ms();
    a->fresh = 1;
    a->deadline = asrv_after(s, env->new_conn_ms);
    begin_head(a);
    /* the server's list holds a reference until the close */
    a->next = s->conns;
    if (s->conns)
        s->conns->prev = a;
    s->conns = a;
    s->nconns++;
    Py_INCREF(a);
    if (asrv_watch(a, 'r', 1) < 0) {
        aconn_close(a, 0);
        Py_DECREF(a);
        return NULL;
    }
    return a;
}

/* The keep-alive rule of gthread (docs/compat.md, Keep-alive): none when
 * --keep-alive is 0, when stopping, when the request says close, or when
 * this request reaches --max-requests. */
static int must_close(const struct aconn *a)
{
    const struct asrv *s = a->srv;
    const struct cu_worker_env *env = s->env;

    return env->keepalive <= 0 || cu_worker_stop || !(a->r.flags & HTTP_REQ_KEEP_ALIVE) ||
           (a->r.flags & HTTP_REQ_MUST_CLOSE) ||
           (env->max_requests > 0 && s->served + 1 >= env->max_requests);
}

/* A refused request: Gunicorn's answer (an error page fits any socket
 * buffer; a rest is dropped), then a lingering close. */
static void refuse(struct aconn *a, int code)
{
    cu_request_refused(&a->c, &a->p, code);
    cu_request_refused_access(&a->c, &a->p, &a->r, a->c.buf + a->c.start, code);
    if (!http_error_info(code)->respond) {
        aconn_close(a, 0);
        return;
    }
    cu_conn_whole(&a->c);
    if (cu_conn_send_error(&a->c, code) < 0) {
        aconn_close(a, 0);
        return;
    }
    aconn_close(a, 1);
}

/* A complete head of len bytes: the request is handed to the app (a
 * WebSocket handshake too, unless it is no valid one). */
static void head_done(struct aconn *a, int64_t len)
{
    size_t head_off = a->c.start;
    struct http_span key = {0, 0};
    /* tornado: its own WebSocketHandler answers a handshake */
    int hs = a->srv->mode == MODE_ASGI ? ws_check_upgrade(a->c.buf + head_off, &a->r, &key)
                                       : WS_HS_NONE;

    a->c.start += (size_t)len;
    a->c.keep = a->c.start;  /* the head stays put while the body is read */
    if (hs == WS_HS_OK && a->r.body != HTTP_BODY_NONE)
        hs = WS_HS_BAD;      /* frames follow a handshake, never a body */
    if (hs < 0) {
        aws_refuse(a, hs);
        return;
    }
    cu_body_init(&a->body, &a->r, a->srv->env->http);
    a->state = C_REQ;
    (void)account(a);  /* no head's now */
    a->deadline = 0;
    if (a->srv->mode == MODE_TORNADO_WSGI) {
        twsgi_serve(a->srv, a, head_off, must_close(a));
        return;
    }
    a->upgraded = hs == WS_HS_OK;
    if (areq_start(a->srv, a, head_off, must_close(a) || a->upgraded,
                   a->upgraded ? &key : NULL) < 0)
        aconn_close(a, 1);
}

/* C_HEAD, nothing more to read for now: the loop says when there is
 * (TLS may have to write to go on: its handshake, a key update). */
static void wait_more(struct aconn *a)
{
    int out = cu_conn_want(&a->c, POLLIN) == POLLOUT;

    (void)asrv_watch(a, 'w', out);
    (void)asrv_watch(a, 'r', !out);
}

/* C_HEAD: parses what is buffered, reads more while the peer has sent
 * some, until a head is complete or the peer has nothing more for now. */
static void advance(struct aconn *a)
{
    struct asrv *s = a->srv;

    for (;;) {
        /* HTTP/2 (h2.c): ALPN's h2, or the h2c preface (past a PROXY header) */
        int h2 = s->h2 ? aconn_to_h2(a) : 0;
        int64_t rc = h2 < 0 ? h2
                            : h2 > 0 ? 0 : cu_head_step(s->env, &a->c, &a->p, &a->r,
                                                        &a->proxy_done);
        ssize_t n;

        if (h2 > 0)
            return;  /* a is a session's now */
        if (rc > 0) {
            int up = s->h2 ? aconn_upgrade_h2(a, rc) : 0;  /* Upgrade: h2c */
            if (up < 0)
                refuse(a, HTTP_E_HEADER);
            else if (up == 0)
                head_done(a, rc);
            return;
        }
        if (rc != HTTP_AGAIN) {
            refuse(a, (int)rc);
            return;
        }
        n = cu_conn_fill(&a->c, s->head_max);
        if (n > 0) {
            if (a->idle || a->fresh) {  /* the first byte: the head's clock starts */
                a->idle = a->fresh = 0;
                a->deadline = asrv_after(s, s->env->header_ms);
            }
            if (account(a) < 0) {
                cu_log(CU_DEBUG, "Closing a connection: the heads' buffers passed "
                       "--max-head-memory");
                aconn_close(a, 0);
                return;
            }
            continue;
        }
        if (n < 0 && errno == EAGAIN) {
            wait_more(a);
            return;
        }
        if (n < 0 && a->c.tls && errno == EPROTO) {
            /* not TLS (plain HTTP?), or a refused handshake: what it sent,
             * unread, would turn a close now into a reset */
            cu_tls_failed(&a->c, errno);
            aconn_close(a, 1);
            return;
        }
        /* EOF, reset, or a head past the buffer's limit: just close, as
         * Gunicorn does when the peer is gone */
        if (n == 0 && a->c.end > a->c.start)
            cu_request_refused(&a->c, &a->p, HTTP_E_EOF);
        aconn_close(a, 0);
        return;
    }
}

/* C_LINGER: drops what the peer sends until it closes. */
static void linger(struct aconn *a)
{
    char sink[4096];

    for (;;) {
        ssize_t n = recv(a->c.fd, sink, sizeof(sink), 0);
        if (n > 0 || (n < 0 && errno == EINTR))
            continue;
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
            return;
        aconn_close(a, 0);
        return;
    }
}

void aconn_readable(struct aconn *a)
{
    switch (a->state) {
    case C_HEAD:
        advance(a);
        break;
    case C_REQ:
        if (a->req && a->req->ws.on)
            aws_readable(a->req);
        else if (a->req && (a->req->wait == W_BODY || a->req->wait == W_DISCONNECT))
            areq_receive_more(a->req);
        else
            (void)asrv_watch(a, 'r', 0);  /* nothing wants it now */
        break;
    case C_LINGER:
        linger(a);
        break;
    case C_CLOSED:
        break;
    }
}

void aconn_writable(struct aconn *a)
{
    uint64_t before = a->c.wrote;
    int rc;

    if (a->state == C_HEAD && !a->c.queue) {
        /* TLS's handshake (or a read) waited to write */
        (void)asrv_watch(a, 'w', 0);
        advance(a);
        return;
    }
    rc = cu_conn_flush(&a->c);

    if (rc > 0 && a->c.wrote != before && a->state != C_CLOSED)
        a->deadline = asrv_after(a->srv, a->srv->env->send_ms);  /* it took some */
    if (rc > 0 || a->state == C_CLOSED)
        return;
    (void)asrv_watch(a, 'w', 0);
    if (rc < 0) {  /* the client is gone */
        if (a->req) {
            areq_gone(a->req);
            areq_over(a->req, 1);
        } else {
            aconn_close(a, 0);
        }
        return;
    }
    if (a->req)
        areq_drained(a->req);
}

void aconn_close(struct aconn *a, int unread)
{
    struct asrv *s = a->srv;

    if (a->state == C_CLOSED)
        return;
    if (a->req) {  /* the client left mid-request: the request ends too */
        areq_over(a->req, 1);  /* and closes a through aconn_response_over */
        return;
    }
    if (a->h2) {  /* an HTTP/2 stream's: the stream ends */
        a->state = C_CLOSED;
        a->deadline = 0;
        asrv_conn_gone(s, a);
        aconn_h2_end(a);
        a->h2 = NULL;
        Py_DECREF(a);  /* the server list's */
        return;
    }
    /* TLS: close_notify first */
    if (unread && a->state != C_LINGER && cu_conn_shut_wr(&a->c) == 0) {
        /* so that unread input cannot turn the close into a reset that
         * destroys the response at the peer */
        a->state = C_LINGER;
        a->deadline = cu_now_ms() + LINGER_MS;
        (void)asrv_watch(a, 'r', 1);
        return;
    }
    (void)asrv_watch(a, 'r', 0);
    (void)asrv_watch(a, 'w', 0);
    a->state = C_CLOSED;
    (void)account(a);
    a->deadline = 0;
    cu_conn_close(&a->c);
    asrv_conn_gone(s, a);
    Py_DECREF(a);  /* the server list's */
}

void aconn_response_over(struct aconn *a, int close)
{
    struct asrv *s = a->srv;

    if (a->h2) {  /* a stream serves one request */
        aconn_close(a, 0);
        return;
    }
    if (a->c.queue) {  /* not reached: over comes after the drain */
        close = 1;
        cu_conn_unqueue(&a->c);
    }
    if (!close && !a->body.done && cu_body_drain(&a->body, &a->c, 65536) < 0)
        close = 1;  /* the body's rest is not all in: the peer may send it */
    /* a peer that shut its side after pipelining requests still gets
     * their answers */
    if (close || cu_worker_stop || (a->c.eof && a->c.end == a->c.start)) {
        /* a WebSocket's peer may still be sending when we close */
        aconn_close(a, !a->body.done || a->upgraded);
        return;
    }
    a->c.keep = 0;
    begin_head(a);
    if (a->c.end == a->c.start) {
        /* nothing pipelined: idle, without a buffer */
        a->idle = 1;
        cu_conn_shrink(&a->c);
        (void)account(a);
        a->deadline = cu_now_ms() + (long long)s->env->keepalive * 1000;
        (void)asrv_watch(a, 'r', 1);
        return;
    }
    a->deadline = asrv_after(s, s->env->header_ms);  /* a head, already here */
    if (s->mode != MODE_ASGI) {
        /* tornado: the response may end inside the handler's finish(),
         * and a WSGI app's within this call: the next request starts
         * from the loop, never nested in the last one */
        if (asrv_soon(a) < 0)
            aconn_close(a, 1);
        return;
    }
    advance(a);
}

void aconn_expired(struct aconn *a)
{
    a->deadline = 0;
    /* a head (or a body, or a drain) past --timeout, an idle keep-alive
     * past --keep-alive, a linger past its 2 s: closed */
    if (a->req) {
        areq_gone(a->req);
        areq_over(a->req, 1);
    } else {
        aconn_close(a, 0);
    }
}

void aconn_stop(struct aconn *a)
{
    /* no keep-alive now: idle connections go at once; a new one (taken
     * from the backlog) gets until the stop's deadline to send its
     * request, which may be on its way */
    if (a->state == C_HEAD && a->idle && a->c.end == a->c.start)
        aconn_close(a, 0);
    else if (a->req && a->req->ws.on)
        aws_stop(a->req);
}
