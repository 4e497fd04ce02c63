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
static int call_close(const struct cu_wsgi *w, PyObject *result)
{
    PyObject *close, *r;

    /* the usual results have no close(): no failed lookup (and no
     * AttributeError made and dropped) for them */
    if (PyList_CheckExact(result) || PyTuple_CheckExact(result) || PyBytes_CheckExact(result))
        return 0;
    /* one lookup, by the interned name; as hasattr() did here, a lookup
     * that raises means no close() */
    close = PyObject_GetAttr(result, w->keys[K_CLOSE_ATTR]);
    if (!close) {
        PyErr_Clear();
        return 0;
    }
    r = PyObject_CallNoArgs(close);
    Py_DECREF(close);
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

/* Writes the items of the result's iterator *itp. With may_pause, a write
 * the socket does not take is queued, and after that item the iteration
 * pauses (1): the worker's poller sends the queue and has it resumed
 * (cu_wsgi_resume), so no thread waits on a slow reader. Else 0 when the
 * response is complete, -1 with an exception; *itp is released then. */
static int send_items(struct resp *p, PyObject **itp, int may_pause)
{
    PyObject *item;

    if (may_pause)
        cu_conn_whole(p->c);
    while ((item = PyIter_Next(*itp))) {
        int rc;
        if (!PyBytes_Check(item)) {
            PyErr_Format(PyExc_TypeError, "the app must yield bytes, not %.50s",
                         Py_TYPE(item)->tp_name);
            Py_DECREF(item);
            Py_CLEAR(*itp);
            return -1;
        }
        if (!p->headers_set) {
            PyErr_SetString(PyExc_RuntimeError, "the app yielded data before start_response()");
            Py_DECREF(item);
            Py_CLEAR(*itp);
            return -1;
        }
        /* empty items are skipped: never a premature last chunk */
        rc = PyBytes_GET_SIZE(item) || !p->headers_sent
                 ? cu_resp_send_data(p, PyBytes_AS_STRING(item), (size_t)PyBytes_GET_SIZE(item))
                 : 0;
        Py_DECREF(item);
        if (rc < 0) {
            Py_CLEAR(*itp);
            return -1;
        }
        if (may_pause && p->c->queue && !p->c->held)
            return 1;
    }
    Py_CLEAR(*itp);
    if (PyErr_Occurred())
        return -1;
    if (!p->headers_set) {
        PyErr_SetString(PyExc_RuntimeError, "the app returned without calling start_response()");
        return -1;
    }
    return cu_resp_finish(p);
}

/* Sends the app's result: 0, -1 with an exception, or 1 when a streamed
 * result paused with its iterator in *itp (send_items). */
static int send_result(struct resp *p, PyObject *result, int sendfile_ok, PyObject **itp,
                       int may_pause)
{
    p->may_hold = 1;  /* the app's call is over but for this iteration */
    /* the whole response is in hand: a worker with a poller may finish
     * sending it there, instead of in a thread that waits */
    if (PyList_CheckExact(result) || PyTuple_CheckExact(result)) {
        cu_conn_whole(p->c);
        may_pause = 0;
    }
    if (sendfile_ok) {
        int rc = cu_resp_send_file(p, result);
        if (rc <= 0)
            return rc;
    }
    *itp = PyObject_GetIter(result);
    if (!*itp)
        return -1;
    return send_items(p, itp, may_pause);
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

/*
 * Spares: a request's wsgi.input and start_response (with its bound
 * early_hints) that nobody but the request held at its end serve the
 * next request, instead of three objects made and freed per request.
 * An app that keeps one (the environ, start_response, its write, a weak
 * reference to early_hints) keeps it for good: it is not reused then.
 * The counts are looked at again as a spare is taken: meanwhile an app
 * could have found it (gc.get_objects()).
 */
static int input_unheld(PyObject *input)
{
    return Py_REFCNT(input) == 1;
}

/* hints holds sr once; a bound method may have weak references. */
static int start_response_unheld(const struct start_response *sr, PyObject *hints)
{
    return Py_REFCNT(sr) == 2 && Py_REFCNT(hints) == 1 &&
           ((PyCFunctionObject *)hints)->m_weakreflist == NULL;
}

static PyObject *input_for(struct cu_wsgi *w, struct cu_conn *c, struct cu_body *b)
{
    PyObject *in = w->spare_input;

    w->spare_input = NULL;
    if (in && !input_unheld(in))
        Py_CLEAR(in);
    if (!in)
        return cu_input_new(w->types->input, c, b);
    cu_input_attach(in, c, b);
    return in;
}

/* Steals input (detached). */
static void input_done(struct cu_wsgi *w, PyObject *input)
{
    if (input && input_unheld(input) && !w->spare_input)
        w->spare_input = input;
    else
        Py_XDECREF(input);
}

/* start_response for p, also in env as wsgi.early_hints's owner (*hints,
 * bound to it), and on an HTTP/2 stream gunicorn.http2.send_trailers's.
 * A new reference, or NULL with an exception. */
static struct start_response *start_response_for(struct cu_wsgi *w, struct resp *p,
                                                 PyObject *env, PyObject **hints)
{
    struct start_response *sr = w->spare_sr;

    *hints = w->spare_hints;
    w->spare_sr = NULL;
    w->spare_hints = NULL;
    if (sr && !start_response_unheld(sr, *hints)) {
        Py_CLEAR(*hints);
        Py_CLEAR(sr);
    }
    if (!sr) {
        if (!(sr = PyObject_New(struct start_response, w->types->start_response)))
            return NULL;
        sr->resp = NULL;
        if (!(*hints = cu_start_response_hints((PyObject *)sr))) {
            Py_DECREF(sr);
            return NULL;
        }
    }
    sr->resp = p;
    if (PyDict_SetItem(env, w->keys[K_EARLY_HINTS], *hints) < 0 ||
        cu_h2_environ(w, env, p->c, (PyObject *)sr) < 0) {
        Py_CLEAR(*hints);
        sr->resp = NULL;
        Py_DECREF(sr);
        return NULL;
    }
    return sr;
}

/* Steals sr (over: resp NULL) and hints, bound to it. */
static void start_response_done(struct cu_wsgi *w, struct start_response *sr, PyObject *hints)
{
    if (sr && hints && start_response_unheld(sr, hints) && !w->spare_sr) {
        w->spare_sr = sr;
        w->spare_hints = hints;
        return;
    }
    Py_XDECREF(hints);
    Py_XDECREF((PyObject *)sr);
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

/*
 * Everything a request holds from the app's call to its response's end:
 * on the stack, or moved to the heap while a streamed response waits for
 * the socket (serve_pause).
 */
struct serving {
    struct resp p;
    struct start_response *sr;
    PyObject *hints;   /* sr's early_hints, bound */
    PyObject *input, *sock, *env, *result;
    PyObject *it;      /* the result's iterator, while items are to come */
    PyObject *remote;  /* REMOTE_ADDR as made, for the access log */
};

/* The end of every request: the outcome in q->out, and what it held
 * released (the environ handed over when asked for). Returns ok. */
static int serve_done(struct cu_wsgi *w, struct cu_request *q, struct serving *s, int ok,
                      int app_head, PyObject **environ)
{
    if (s->sr)
        s->sr->resp = NULL;
    /* Ours: a body the client holds back for a 100 never sent is not
     * waited for: the connection closes after the response */
    if (s->input && cu_input_owes_continue(s->input) && !q->body->done)
        s->p.must_close = 1;
    if (s->input)
        cu_input_detach(s->input);
    conclude(w, q, &s->p, app_head, s->env, s->remote, s->sock);
    s->remote = NULL;
    if (environ)
        *environ = s->env;  /* the caller's now */
    else
        Py_XDECREF(s->env);
    Py_XDECREF(s->result);
    Py_XDECREF(s->it);
    /* last: what the environ and the result held of them is gone */
    start_response_done(w, s->sr, s->hints);
    input_done(w, s->input);
    PyMem_Free(s->p.block);
    return ok;
}

/* The server's answer while the head is still its own to send (a 500,
 * or what the failure calls for), then the end. */
static int serve_answer(struct cu_wsgi *w, struct cu_request *q, struct serving *s,
                        PyObject **environ)
{
    int app_head = s->p.headers_sent;

    cu_resp_answer_error(&s->p, q->body);
    return serve_done(w, q, s, s->p.failed ? -1 : 0, app_head, environ);
}

/* The app could not be called, or raised: said, answered, ended. */
static int serve_failed(struct cu_wsgi *w, struct cu_request *q, struct serving *s,
                        PyObject **environ)
{
    if (q->body->error)
        body_failed(&s->p, q->body);
    else if (PyErr_Occurred() && !s->p.failed)
        app_failed(&s->p);
    PyErr_Clear();
    return serve_answer(w, q, s, environ);
}

/* The result was sent (ok 0) or failed (-1): close() on every path
 * (PEP 3333), then the end. */
static int serve_sent(struct cu_wsgi *w, struct cu_request *q, struct serving *s, int ok,
                      PyObject **environ)
{
    if (ok < 0 && !s->p.failed && !q->body->error)
        app_failed(&s->p);
    else if (ok < 0 && !s->p.failed)
        body_failed(&s->p, q->body);
    PyErr_Clear();
    if (call_close(w, s->result) < 0) {
        report_app_error(&s->p);
        ok = -1;
    }
    if (ok == 0)
        return serve_done(w, q, s, 0, s->p.headers_sent, environ);
    return serve_answer(w, q, s, environ);
}

/* A streamed response paused (send_items): its state moves to the heap,
 * in q->paused, until cu_wsgi_resume. 0, or -1 with no memory (the
 * caller then writes the rest itself). */
static int serve_pause(struct cu_request *q, struct serving *s)
{
    struct serving *h = PyMem_Malloc(sizeof(*h));

    if (!h)
        return -1;
    *h = *s;
    if (h->sr)
        h->sr->resp = &h->p;
    if (h->input)
        cu_input_moved(h->input, &s->p, &h->p);
    q->paused = h;
    return 0;
}

int cu_wsgi_serve(struct cu_wsgi *w, struct cu_request *q, PyObject **environ)
{
    struct cu_conn *c = q->conn;
    const struct http_request *r = q->http;
    const char *head = cu_request_head(q);  /* until the body is read */
    struct cu_body *b = q->body;
    struct serving s;
    int ok;

    memset(&s, 0, sizeof(s));
    s.p.c = c;
    s.p.r = r;
    s.p.q = q;
    s.p.types = w->types;
    s.p.must_close = q->must_close;
    s.p.head = r->method.len == 4 && memcmp(head + r->method.off, "HEAD", 4) == 0;
    q->paused = NULL;
    /* nothing of this request's response is out yet (a worker timeout's
     * 500 may still be sent: cu_conn_abort_now) */
    atomic_store(&c->final_from, c->wrote);
    s.input = input_for(w, c, b);
    if (!s.input || !(s.sock = cu_socket_get(w, c)) ||
        !(s.env = cu_environ_new(w, c, r, head, s.input, s.sock)))
        return serve_failed(w, q, &s, environ);
    if (w->log_needs & CU_ACC_NEED_REMOTE)
        s.remote = cu_wsgi_logged_remote(w, s.env);
    /* Ours: the 100 waits for the app's first read (docs/compat.md,
     * Request bodies); a spooled body had it from the worker */
    if ((r->flags & HTTP_REQ_EXPECT_CONTINUE) && !b->spool && !b->done)
        cu_input_expect(s.input, &s.p);
    if (!(s.sr = start_response_for(w, &s.p, s.env, &s.hints)))
        return serve_failed(w, q, &s, environ);
    s.result = PyObject_CallFunctionObjArgs(w->app, s.env, (PyObject *)s.sr, NULL);
    cu_keep_nonblocking(c);
    if (!s.result)
        return serve_failed(w, q, &s, environ);
    ok = send_result(&s.p, s.result, w->sendfile &&
                     PyObject_TypeCheck(s.result, w->types->file_wrapper), &s.it,
                     q->may_pause && !environ);
    if (ok > 0 && serve_pause(q, &s) == 0)
        return 0;
    if (ok > 0) {  /* no memory to pause: this thread writes the rest */
        c->whole = 0;
        ok = send_items(&s.p, &s.it, 0);
    }
    return serve_sent(w, q, &s, ok, environ);
}

int cu_wsgi_resume(struct cu_wsgi *w, struct cu_request *q, int abandon)
{
    struct serving *h = q->paused;
    int ok = -1;

    q->paused = NULL;
    if (abandon)
        h->p.failed = 1;  /* the client is gone: close(), no answer */
    else
        ok = send_items(&h->p, &h->it, 1);
    if (ok > 0) {
        q->paused = h;
        return 0;
    }
    ok = serve_sent(w, q, h, ok, NULL);
    PyMem_Free(h);
    return ok;
}
