/*
 * HTTP/2 in the asgi worker (docs/compat.md, HTTP/2): a connection that
 * speaks it (ALPN chose h2, a trusted peer's h2c preface, or its HTTP/1.1
 * request that asked for h2c by Upgrade) is handed to
 * a session of src/http2/ in its loop mode, whose fds the loop watches
 * here. Each stream's request becomes a connection of its own (struct
 * aconn, not counted among the connections): its cu_conn reads and writes
 * through the stream and never waits, and its watches are the stream's
 * wants, which the session's walk answers after each pump. The request
 * then runs as an HTTP/1 one does (request.c, receive.c, send.c): the body
 * reaches the app as it awaits it (its window given back as it reads), a
 * stalled stream parks the app's send, a reset is the client leaving.
 */
#include "asgi/internal.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "core/log.h"
#include "http2/h2.h"
#include "wsgi/report.h"

#define QUEUE_MAX ((size_t)1 << 40)  /* as conn.c's: one send's worth */

/* The loop's callback for a session's fd: its watcher, in a capsule. */
static PyObject *on_h2(PyObject *self, PyObject *capsule)
{
    void *w = PyCapsule_GetPointer(capsule, NULL);

    (void)self;
    if (!w)
        return NULL;
    cu_h2_event(w, 0, NULL);
    Py_RETURN_NONE;
}

static PyMethodDef on_h2_def = {"on_h2", on_h2, METH_O, NULL};

/* host->watch: the loop's add_reader/add_writer for fd. */
static int h2_watch(void *arg, int fd, int what, int on, void *watcher)
{
    struct asrv *s = arg;
    PyObject *m, *args;

    if (on) {
        PyObject *cap = PyCapsule_New(watcher, NULL, NULL);
        m = what == 'r' ? s->add_reader : s->add_writer;
        args = cap ? Py_BuildValue("(iOO)", fd, s->on_h2, cap) : NULL;
        Py_XDECREF(cap);
    } else {
        m = what == 'r' ? s->remove_reader : s->remove_writer;
        args = Py_BuildValue("(i)", fd);
    }
    if (asrv_call(m, args) < 0) {
        cu_report_exception("worker: event loop");
        return -1;
    }
    return 0;
}

/* A stream's connection: in the server's list (its deadlines, the
 * stop), not counted. NULL: no memory (reported). */
static struct aconn *stream_conn(struct asrv *s, struct h2_stream *st)
{
    struct aconn *a = PyObject_New(struct aconn, s->conn_type);

    if (!a) {
        cu_report_exception("worker: an HTTP/2 stream");
        return NULL;
    }
    memset((char *)a + sizeof(PyObject), 0, sizeof(*a) - sizeof(PyObject));
    a->srv = s;
    a->h2 = st;
    cu_h2_stream_take(st, a, &a->c, &a->r, &a->headers, &a->trusted);
    a->c.queue_max = QUEUE_MAX;
    a->proxy_done = 1;
    a->state = C_REQ;
    a->born = 0;
    cu_body_init(&a->body, &a->r, s->env->http);
    a->next = s->conns;
    if (s->conns)
        s->conns->prev = a;
    s->conns = a;
    return a;  /* the list's reference */
}

/* host->begin: st's request starts its app. */
static int h2_begin(void *arg, struct h2_stream *st)
{
    struct asrv *s = arg;
    struct aconn *a = stream_conn(s, st);

    if (!a)
        return -1;
    Py_INCREF(a);
    if (areq_start(s, a, 0, 0, NULL) < 0)
        aconn_close(a, 0);
    Py_DECREF(a);
    return 0;
}

/* host->event: what a stream's request waited for came. */
static void h2_event(void *up, int what)
{
    struct aconn *a = up;

    Py_INCREF(a);
    if (what & CU_H2_WRITABLE)
        aconn_writable(a);
    if ((what & CU_H2_READABLE) && a->state == C_REQ)
        aconn_readable(a);
    if (what == CU_H2_RESET && a->req)
        areq_gone(a->req);  /* the app finds out as it reads or writes */
    Py_DECREF(a);
}

/* host->gone: a session closed. */
static void h2_gone(void *arg)
{
    asrv_count_gone(arg);
}

int asrv_h2_open(struct asrv *s)
{
    struct cu_h2_host host = {
        .env = s->env,
        .poller = NULL,  /* the loop mode */
        .timeout_ms = s->env->timeout > 0 ? s->env->timeout * 1000 : 3600 * 1000,
        .watch = h2_watch,
        .begin = h2_begin,
        .event = h2_event,
        .gone = h2_gone,
        .arg = s,
    };

    if (!(s->on_h2 = PyCFunction_New(&on_h2_def, (PyObject *)s))) {
        cu_report_exception("worker: HTTP/2");
        return -1;
    }
    s->h2 = cu_h2_new(&host);
    return s->h2 ? 0 : -1;
}

/* Hands a's connection over to a session (up: the request that asked for
 * the h2c upgrade, its head in a's buffer, or NULL); a is closed. */
static void hand_over(struct aconn *a, const struct cu_h2_upgrade *up)
{
    struct asrv *s = a->srv;
    struct cu_conn c;
    int trusted = a->trusted;

    /* the session watches the fd from now on */
    (void)asrv_watch(a, 'r', 0);
    (void)asrv_watch(a, 'w', 0);
    memcpy(&c, &a->c, sizeof(c));
    memset(&a->c, 0, sizeof(a->c));
    a->c.fd = -1;
    s->nconns++;  /* the session's, while a's goes */
    aconn_close(a, 0);
    if (cu_h2_adopt(s->h2, &c, trusted, up) < 0)
        asrv_count_gone(s);
}

int aconn_to_h2(struct aconn *a)
{
    const struct cu_worker_env *env = a->srv->env;

    if (!a->srv->h2 || a->c.wrote ||
        (a->c.tls ? !cu_conn_alpn_h2(&a->c)
                  : !env->h2.prior_knowledge || !a->trusted || a->c.end == a->c.start))
        return 0;
    if (!a->c.tls) {
        int pre = cu_h2c_opens(env, &a->c, &a->proxy_done);
        if (pre <= 0)
            return pre;
    }
    hand_over(a, NULL);
    return 1;
}

int aconn_upgrade_h2(struct aconn *a, int64_t len)
{
    uint8_t settings[CU_H2C_SETTINGS_MAX];
    struct http_request r = a->r;  /* a goes before the session is made */
    struct cu_h2_upgrade up = {.settings = settings, .buf = a->c.buf + a->c.start, .r = &r};
    struct http_header *headers;
    int rc;

    if (!a->srv->h2 || !a->srv->env->h2.upgrade || a->c.tls || !a->trusted)
        return 0;
    rc = cu_h2c_asked(up.buf, &a->r, settings, &up.settings_len);
    if (rc < 0) {
        cu_log(CU_DEBUG, "Refusing an h2c upgrade: HTTP2-Settings is not base64url "
               "of a SETTINGS payload");
        return -1;
    }
    if (rc == 0)
        return 0;
    a->c.start += (size_t)len;  /* what follows the head is HTTP/2's */
    headers = a->headers;       /* r's, until the session took the request */
    a->headers = NULL;
    hand_over(a, &up);
    free(headers);
    return 1;
}

void aconn_h2_end(struct aconn *a)
{
    struct h2_stream *st = a->h2;

    /* the stream's connection is not ours to close: its fd and TLS are
     * the session's */
    cu_h2_stream_end(st, &a->c, a->h2_ok);
}
