/*
 * receive(): the request body as the app awaits it, then http.disconnect.
 *
 * A message is made from what the connection's buffer holds (chunked
 * bodies decoded in place, as for every class); only when it holds
 * nothing is the socket read, once, and only when that would block does
 * the app wait, on a loop future that the connection's readable callback
 * completes. So a body is never read ahead of the app: the client is
 * held back by TCP, not by our memory. "Expect: 100-continue" is answered
 * the first time the app waits for the body.
 *
 * Once the body is all delivered, receive() waits for the client to
 * leave (http.disconnect) while the response is under way, as uvicorn's
 * does; after the response, it says http.disconnect at once.
 */
#include "asgi/internal.h"

#include <errno.h>

#include "core/clock.h"
#include "core/log.h"
#include "wsgi/report.h"

PyObject *asgi_disconnect_msg(struct asrv *s)
{
    PyObject *d = PyDict_New();

    if (d && PyDict_SetItem(d, s->k[K_TYPE], s->k[V_DISCONNECT]) < 0)
        Py_CLEAR(d);
    return d;
}

static PyObject *request_msg(struct asrv *s, PyObject *body, int more)
{
    PyObject *d = body ? PyDict_New() : NULL;

    if (d && (PyDict_SetItem(d, s->k[K_TYPE], s->k[V_REQUEST]) < 0 ||
              PyDict_SetItem(d, s->k[K_BODY], body) < 0 ||
              PyDict_SetItem(d, s->k[K_MORE_BODY], more ? Py_True : Py_False) < 0))
        Py_CLEAR(d);
    Py_XDECREF(body);
    return d;
}

/* The body failed (a framing error, a bad trailer, the peer gone): said
 * as the other classes say it, and answered as they answer it -- a
 * framing error closes without a word, a bad trailer gets its 400 --
 * unless the app's head went out already. The app sees the client
 * leave; the caller ends the request (q->failed). */
PyObject *areq_body_failed(struct areq *q)
{
    struct aconn *a = q->conn;
    const struct cu_body *b = &a->body;
    const struct http_error_info *e = http_error_info(b->error);

    if (e->respond)
        cu_request_refused(&a->c, &b->chunked.trailer, b->error);
    else if (b->error == HTTP_E_EOF)
        cu_request_refused(&a->c, NULL, HTTP_E_EOF);
    else
        cu_log(CU_ERROR, "Socket error processing request.");
    if (b->error == HTTP_E_EOF)
        areq_gone(q);
    if (!q->head_sent) {
        q->head_sent = 1;
        q->status = e->respond ? e->status : 0;
        cu_conn_whole(&a->c);
        (void)cu_conn_send_error_to(&a->c, b->error, q->is_head);
    }
    q->must_close = 1;
    q->body_end = 1;
    q->failed = 1;
    return asgi_disconnect_msg(q->srv);
}

/*
 * The next message the body gives without waiting: a new reference;
 * NULL without an exception when the app must wait (q->wait says for
 * what); NULL with an exception on failure.
 */
static PyObject *body_msg(struct areq *q)
{
    struct aconn *a = q->conn;
    struct cu_body *b = &a->body;
    int tried = 0;

    for (;;) {
        const char *p, *p2;
        int64_t n = cu_body_peek(b, &a->c, &p);

        if (n > 0) {
            PyObject *bytes = PyBytes_FromStringAndSize(p, (Py_ssize_t)n);
            cu_body_consume(b, &a->c, (size_t)n);
            /* the end is known now when the framing says so */
            /* (a body cut short: more_body, the next receive says why not) */
            n = b->done ? 0 : cu_body_peek(b, &a->c, &p2);
            q->body_end = n == 0;
            return request_msg(q->srv, bytes, n != 0);
        }
        if (n == 0) {
            if (q->body_end) {
                q->wait = W_DISCONNECT;
                return NULL;
            }
            q->body_end = 1;
            return request_msg(q->srv, Py_NewRef(q->srv->empty_bytes), 0);
        }
        if (n != HTTP_AGAIN)
            return areq_body_failed(q);
        if (tried) {
            q->wait = W_BODY;
            return NULL;
        }
        tried = 1;
        if (cu_body_wait(b, &a->c) < 0) {  /* one read; an EOF shows in the peek */
            if (errno == EAGAIN || errno == EWOULDBLOCK) {
                q->wait = W_BODY;
                return NULL;
            }
            b->error = HTTP_E_EOF;  /* a reset */
            return areq_body_failed(q);
        }
    }
}

void areq_send_continue(struct areq *q)
{
    struct aconn *a = q->conn;
    struct iovec iov = {(void *)"HTTP/1.1 100 Continue\r\n\r\n", 25};

    if (q->continue_sent || q->head_sent || !(a->r.flags & HTTP_REQ_EXPECT_CONTINUE))
        return;
    q->continue_sent = 1;
    cu_conn_whole(&a->c);  /* 25 bytes: a full socket queues them */
    if (cu_conn_writev(&a->c, &iov, 1) < 0)
        q->must_close = 1;
    else if (a->c.queue)
        (void)asrv_watch(a, 'w', 1);
}

PyObject *areq_receive(PyObject *self, PyObject *unused)
{
    struct areq *q = (struct areq *)self;
    struct asrv *s = q->srv;
    struct aconn *a = q->conn;
    PyObject *msg, *fut;

    (void)unused;
    if (q->ws.on)
        return aws_receive(q);
    if (q->over || !a)
        return asgi_ready(s, asgi_disconnect_msg(s));
    if (q->recv_fut) {
        PyErr_SetString(PyExc_RuntimeError, "receive() called while another receive() waits");
        return NULL;
    }
    msg = body_msg(q);
    if (msg) {
        PyObject *r = asgi_ready(s, msg);
        if (q->failed)
            areq_over(q, 1);
        return r;
    }
    if (PyErr_Occurred())
        return NULL;
    if (q->wait == W_BODY) {
        areq_send_continue(q);
        a->deadline = asrv_body_deadline(a);
    }
    fut = PyObject_CallNoArgs(s->create_future);
    if (!fut) {
        q->wait = W_NONE;
        return NULL;
    }
    q->recv_fut = Py_NewRef(fut);
    if (asrv_watch(a, 'r', 1) < 0) {
        q->wait = W_NONE;
        areq_wake(q->srv, &q->recv_fut, NULL);
    }
    return fut;
}

void areq_receive_more(struct areq *q)
{
    struct aconn *a = q->conn;
    PyObject *msg;

    if (q->tn.on) {
        atn_readable(q);
        return;
    }
    if (q->wait == W_DISCONNECT) {
        /* bytes of a next request stay in the buffer; the end (or a
         * reset) is the client leaving */
        ssize_t n = cu_conn_fill(&a->c, q->srv->head_max);
        if (n > 0 || (n < 0 && errno == EAGAIN))
            return;
        if (n < 0 && errno == ENOBUFS) {
            (void)asrv_watch(a, 'r', 0);  /* full: no more reading for now */
            return;
        }
        q->must_close = 1;
        q->wait = W_NONE;
        areq_wake(q->srv, &q->recv_fut, asgi_disconnect_msg(q->srv));
        areq_gone(q);
        return;
    }
    q->wait = W_NONE;
    msg = body_msg(q);
    if (!msg && !PyErr_Occurred()) {
        a->deadline = asrv_body_deadline(a);  /* what came counts */
        return;  /* still waiting (q->wait set again) */
    }
    a->deadline = 0;
    areq_wake(q->srv, &q->recv_fut, msg);
    if (q->failed)
        areq_over(q, 1);
}
