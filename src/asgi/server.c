/*
 * The asgi worker's server object: what ties the C protocol to Python's
 * event loop. cunicorn._asgi makes the loop and runs the app's lifespan;
 * it calls open() (the wake-up pipe and the tick: heartbeats from the
 * first moment) and, once the lifespan startup is over, serve() (the
 * listeners). The loop then calls back into C only: a listener readable
 * (on_accept), a connection readable or writable, a signal's byte on the
 * pipe (on_wake), the tick.
 *
 * The graceful stop (TERM, or the master gone): no more accepting (the
 * backlog is taken in), idle connections close, in-flight requests
 * finish, within --graceful-timeout; then the future `stopped` completes
 * and cunicorn._asgi runs the lifespan shutdown.
 */
#include "asgi/internal.h"

#include <errno.h>
#include <string.h>
#include <unistd.h>

#include "core/clock.h"
#include "core/log.h"
#include "http2/h2.h"
#include "net/listeners.h"
#include "wsgi/report.h"

int asrv_call(PyObject *m, PyObject *args)
{
    PyObject *r;

    if (!args)
        return -1;
    r = PyObject_Call(m, args, NULL);
    Py_DECREF(args);
    if (!r)
        return -1;
    Py_DECREF(r);
    return 0;
}

int asrv_soon(struct aconn *a)
{
    struct asrv *s = a->srv;
    PyObject *args[3] = {s->loop, s->on_readable, (PyObject *)a};
    PyObject *h = PyObject_VectorcallMethod(s->k[M_CALL_SOON], args,
                                            3 | PY_VECTORCALL_ARGUMENTS_OFFSET, NULL);

    if (!h) {
        cu_report_exception("worker: event loop");
        return -1;
    }
    Py_DECREF(h);
    return 0;
}

int asrv_watch(struct aconn *a, int what, int on)
{
    struct asrv *s = a->srv;
    int *flag = what == 'r' ? &a->reading : &a->writing;
    PyObject *m, *args;

    if (a->h2) {  /* an HTTP/2 stream's: the session's walk says when */
        if (a->state != C_CLOSED)
            cu_h2_stream_want(a->h2, what, on);
        *flag = on;
        return 0;
    }

    /* TLS read more off the socket than was asked for: the loop would
     * not say readable for it, so the next turn does */
    if (what == 'r' && on && a->state != C_CLOSED && cu_conn_pending(&a->c))
        (void)asrv_soon(a);
    if (*flag == on || a->state == C_CLOSED)
        return 0;
    if (on) {
        m = what == 'r' ? s->add_reader : s->add_writer;
        args = PyTuple_Pack(3, a->fd, what == 'r' ? s->on_readable : s->on_writable, a);
    } else {
        m = what == 'r' ? s->remove_reader : s->remove_writer;
        args = PyTuple_Pack(1, a->fd);
    }
    if (asrv_call(m, args) < 0) {
        cu_report_exception("worker: event loop");
        return -1;
    }
    *flag = on;
    return 0;
}

/* ---- the listeners --------------------------------------------------------- */

/* Watches the listeners (on 1) or not (0). */
static void listen_on(struct asrv *s, int on)
{
    struct cu_worker_env *env = s->env;

    if (s->listening == on)
        return;
    for (size_t i = 0; i < env->n_listeners; i++) {
        PyObject *args, *idx;
        int rc;

        if (on) {
            idx = PyLong_FromSize_t(i);
            args = idx ? PyTuple_Pack(3, s->lfd[i], s->on_accept, idx) : NULL;
            Py_XDECREF(idx);
            rc = asrv_call(s->add_reader, args);
        } else {
            rc = asrv_call(s->remove_reader, PyTuple_Pack(1, s->lfd[i]));
        }
        if (rc < 0)
            cu_report_exception("worker: event loop");
    }
    s->listening = on;
}

/* Accepts what is waiting on listener i, up to --worker-connections.
 * serve: each connection's head is looked at now (it may be in already;
 * a WSGI app under tornado then runs at once); else the loop reads it in
 * its next turn, as for the stop's drain, which must end with the
 * backlog empty, not with a batch of requests served while the clients
 * queue again. */
static void accept_from(struct asrv *s, size_t i, int batch, int serve)
{
    struct cu_listener *l = &s->env->listeners[i];

    for (int n = 0; n < batch && s->nconns < s->env->worker_connections; n++) {
        struct sockaddr_storage peer;
        socklen_t plen;
        int fd = cu_accept(l, &peer, &plen);
        struct aconn *a;

        if (fd < 0) {
            if (errno != EAGAIN)
                cu_log(CU_ERROR, "worker: accept: %s", strerror(errno));
            return;
        }
        a = aconn_new(s, fd, &peer, plen, l);
        if (a) {
            if (serve)
                aconn_readable(a);  /* the head may be in already */
            Py_DECREF(a);           /* the server's list keeps it */
        }
    }
}

/* At --worker-connections: closes the oldest idle keep-alive connection,
 * else the oldest new one silent past CU_FRESH_GRACE_MS, so that a new
 * connection gets its place (docs/operations.md, Facing the internet
 * without a proxy). A head being received is never taken. 1 when one
 * went. */
static int evict_one(struct asrv *s)
{
    struct aconn *idle = NULL, *fresh = NULL;
    long long now = cu_now_ms();

    for (struct aconn *a = s->conns; a; a = a->next) {
        if (a->state != C_HEAD || a->c.end > a->c.start)
            continue;
        if (a->idle && (!idle || a->deadline < idle->deadline))
            idle = a;
        else if (a->fresh && now - a->born >= CU_FRESH_GRACE_MS &&
                 (!fresh || a->born < fresh->born))
            fresh = a;
    }
    if (!idle)
        idle = fresh;
    /* bytes waiting: the loop reads them in this turn, and it is idle no
     * more; the tick looks again */
    if (!idle || !cu_conn_silent(&idle->c))
        return 0;
    aconn_close(idle, 0);
    return 1;
}

/* Full, and someone waits on listener i: room for them, while an idle
 * connection can give it (16 at most, then the loop's turn). 0, or -1
 * when someone waits and no one is idle. */
static int make_room(struct asrv *s, size_t i)
{
    for (int n = 0; n < 16; n++) {
        if (!s->accepting || s->nconns < s->env->worker_connections ||
            !cu_listeners_waiting(&s->env->listeners[i], 1))
            return 0;
        if (!evict_one(s))
            return -1;
        accept_from(s, i, 1, 1);
    }
    return 0;
}

static PyObject *on_accept(PyObject *self, PyObject *idx)
{
    struct asrv *s = (struct asrv *)self;
    size_t i = PyLong_AsSize_t(idx);
    int stuck = 0;

    if (i == (size_t)-1 && PyErr_Occurred())
        return NULL;
    if (s->accepting) {
        accept_from(s, i, 16, 1);
        stuck = make_room(s, i) < 0;
    }
    /* at --worker-connections with someone waiting and no one idle: no
     * more until one closes (or the tick finds room); else the loop
     * calls again for the next one */
    if (stuck)
        listen_on(s, 0);
    Py_RETURN_NONE;
}

/* a, with a reference the caller holds (NULL: NULL). */
static struct aconn *held(struct aconn *a)
{
    Py_XINCREF(a);
    return a;
}

/* ---- stopping ----------------------------------------------------------- */

/* The stop is done once no connection is left, or at the deadline. */
static void check_stopped(struct asrv *s)
{
    PyObject *r;

    if (!s->stop_until || !s->stopped || (s->nconns > 0 && cu_now_ms() < s->stop_until))
        return;
    r = PyObject_CallMethod(s->stopped, "done", NULL);
    if (r == Py_False) {
        Py_DECREF(r);
        r = PyObject_CallMethod(s->stopped, "set_result", "O", Py_None);
    }
    if (!r)
        cu_report_exception("worker: event loop");
    Py_XDECREF(r);
}

static void begin_stop(struct asrv *s)
{
    struct aconn *a, *next;

    long long now = cu_now_ms(), grace = (long long)s->env->graceful_timeout * 1000;
    PyObject *h;

    if (s->stop_until)
        return;
    /* the requests in flight get 4/5 of --graceful-timeout, the app's
     * lifespan shutdown the rest, so that the worker is gone before the
     * master's SIGKILL */
    s->stop_end = now + grace;
    s->stop_until = now + grace * 4 / 5;
    if (s->stop_until == 0)
        s->stop_until = 1;
    h = PyObject_CallFunction(s->call_later, "dO", (double)(s->stop_until - now) / 1000.0,
                              s->on_stop_due);
    if (!h)
        cu_report_exception("worker: event loop");
    Py_XDECREF(h);
    if (s->accepting) {
        /* the connections already in the backlogs are taken in (a close
         * meanwhile must not watch the listeners again) */
        s->accepting = 0;
        listen_on(s, 0);
        for (size_t i = 0; i < s->env->n_listeners; i++)
            accept_from(s, i, s->env->worker_connections, 0);
    }
    /* this worker's copies of the listeners go now, served from or not
     * yet (a TERM during the app's import or lifespan): one left open
     * until the exit would have the kernel reset what queues behind it */
    for (size_t i = 0; i < s->env->n_listeners; i++) {
        if (s->env->listeners[i].fd >= 0)
            (void)close(s->env->listeners[i].fd);
        s->env->listeners[i].fd = -1;
    }
    for (a = held(s->conns); a; a = next) {
        next = held(a->next);  /* before a's close unlinks it */
        aconn_stop(a);
        Py_DECREF(a);
    }
    check_stopped(s);
}

void asrv_conn_gone(struct asrv *s, struct aconn *a)
{
    if (a->prev)
        a->prev->next = a->next;
    else
        s->conns = a->next;
    if (a->next)
        a->next->prev = a->prev;
    a->prev = a->next = NULL;
    if (a->h2)  /* a stream's: its session counts */
        return;
    asrv_count_gone(s);
}

void asrv_count_gone(struct asrv *s)
{
    s->nconns--;
    if (s->accepting && !s->listening && s->nconns < s->env->worker_connections)
        listen_on(s, 1);
    check_stopped(s);
}

/* TERM or USR1 wrote to the pipe. */
static PyObject *on_wake(PyObject *self, PyObject *unused)
{
    struct asrv *s = (struct asrv *)self;
    char sink[64];

    (void)unused;
    while (read(s->wake_fd, sink, sizeof(sink)) > 0)
        ;
    if (cu_worker_reopen) {
        cu_worker_reopen = 0;
        cu_log_reopen();
    }
    if (cu_worker_stop)
        begin_stop(s);
    Py_RETURN_NONE;
}

/* ---- the tick ---------------------------------------------------------- */

/* Seconds to the next tick: the heartbeat twice per --timeout at least. */
static double tick_every(const struct asrv *s)
{
    return s->env->timeout > 0 && s->env->timeout < 2 ? s->env->timeout * 0.5 : 1.0;
}

static PyObject *on_tick(PyObject *self, PyObject *unused)
{
    struct asrv *s = (struct asrv *)self;
    long long now = cu_now_ms();
    struct aconn *a, *next;
    PyObject *h;
    int room = 0;

    (void)unused;
    cu_heartbeat(s->env->slot);
    if (!cu_worker_stop && getppid() != s->env->ppid) {
        cu_log(CU_INFO, "Parent changed, shutting down: %d", (int)getpid());
        cu_worker_stop = 1;
    }
    if (cu_worker_stop)
        begin_stop(s);
    for (size_t i = 0; !s->listening && i < s->env->n_listeners; i++)
        if (make_room(s, i) < 0)  /* the cap was reached with nothing idle then */
            room = 1;             /* an idle HTTP/2 session, if any, goes below */
    /* next is taken before a's close unlinks it (a next closed meanwhile
     * ends the walk early: the next tick goes on) */
    for (a = held(s->conns); a; a = next) {
        next = held(a->next);
        if (a->deadline && a->deadline <= now)
            aconn_expired(a);
        Py_DECREF(a);
    }
    if (s->h2)
        cu_h2_tick(s->h2, now, room);
    check_stopped(s);
    h = PyObject_CallFunction(s->call_later, "dO", tick_every(s), s->on_tick);
    if (!h)
        return NULL;
    Py_DECREF(h);
    Py_RETURN_NONE;
}

/* The requests' part of the graceful stop is up. */
static PyObject *on_stop_due(PyObject *self, PyObject *unused)
{
    (void)unused;
    check_stopped((struct asrv *)self);
    Py_RETURN_NONE;
}

static PyObject *on_readable(PyObject *self, PyObject *conn)
{
    (void)self;
    aconn_readable((struct aconn *)conn);
    Py_RETURN_NONE;
}

static PyObject *on_writable(PyObject *self, PyObject *conn)
{
    (void)self;
    aconn_writable((struct aconn *)conn);
    Py_RETURN_NONE;
}

static PyMethodDef cb_defs[] = {
    {"on_readable", on_readable, METH_O, NULL},
    {"on_writable", on_writable, METH_O, NULL},
    {"on_accept", on_accept, METH_O, NULL},
    {"on_wake", on_wake, METH_NOARGS, NULL},
    {"on_tick", on_tick, METH_NOARGS, NULL},
    {"on_stop_due", on_stop_due, METH_NOARGS, NULL},
};

/* ---- open() and serve(), for cunicorn._asgi ---------------------------- */

static PyObject *bound(PyObject *loop, const char *name, PyObject **out)
{
    *out = PyObject_GetAttrString(loop, name);
    return *out;
}

/* open(loop, stopped): the loop's methods, the wake-up pipe, the tick. */
static PyObject *srv_open(PyObject *self, PyObject *args)
{
    struct asrv *s = (struct asrv *)self;
    PyObject *loop, *stopped, *h;

    if (!PyArg_ParseTuple(args, "OO", &loop, &stopped))
        return NULL;
    s->loop = Py_NewRef(loop);
    s->stopped = Py_NewRef(stopped);
    if (!bound(loop, "add_reader", &s->add_reader) ||
        !bound(loop, "remove_reader", &s->remove_reader) ||
        !bound(loop, "add_writer", &s->add_writer) ||
        !bound(loop, "remove_writer", &s->remove_writer) ||
        !bound(loop, "create_task", &s->create_task) ||
        !bound(loop, "create_future", &s->create_future) ||
        !bound(loop, "call_later", &s->call_later))
        return NULL;
    if ((s->wake_fd = cu_worker_wake_pipe()) < 0) {
        PyErr_SetString(PyExc_OSError, "worker: no wake-up pipe");
        return NULL;
    }
    h = PyObject_CallMethod(loop, "add_reader", "iO", s->wake_fd, s->on_wake);
    if (!h)
        return NULL;
    Py_DECREF(h);
    /* a TERM from now on is the pipe's; one that came while the worker
     * booted or imported what its loop needs released the listeners */
    (void)cu_worker_boot_end();
    if (cu_worker_stop)
        begin_stop(s);  /* a TERM before the pipe */
    return on_tick(self, NULL);
}

/* serve(state): the lifespan's state for every scope; the listeners. */
static PyObject *srv_serve(PyObject *self, PyObject *state)
{
    struct asrv *s = (struct asrv *)self;

    Py_XSETREF(s->state, Py_NewRef(state));
    if (s->env->h2.on && s->mode == MODE_ASGI && !s->h2 && asrv_h2_open(s) < 0) {
        PyErr_SetString(PyExc_RuntimeError, "worker: HTTP/2 cannot start");
        return NULL;
    }
    s->env->slot->booted = 1;
    if (!s->stop_until) {
        s->accepting = 1;
        listen_on(s, 1);
    }
    Py_RETURN_NONE;
}

/* left(): seconds left of --graceful-timeout since the stop began (all
 * of it before). */
static PyObject *srv_left(PyObject *self, PyObject *unused)
{
    struct asrv *s = (struct asrv *)self;
    long long left = s->stop_end ? s->stop_end - cu_now_ms()
                                 : (long long)s->env->graceful_timeout * 1000;

    (void)unused;
    return PyFloat_FromDouble(left > 0 ? (double)left / 1000.0 : 0.0);
}

/* tornado(start_request, RequestStartLine, HTTPHeaders, HTTPOutputError,
 * StreamClosedError, convert_yielded, Context, detach, done): the tornado
 * class's names; start_request None: the app is a WSGI one. */
static PyObject *srv_tornado(PyObject *self, PyObject *args)
{
    struct asrv *s = (struct asrv *)self;

    if (!PyTuple_Check(args) || PyTuple_GET_SIZE(args) != T_COUNT) {
        PyErr_Format(PyExc_TypeError, "tornado() takes %d arguments", (int)T_COUNT);
        return NULL;
    }
    for (int i = 0; i < T_COUNT; i++)
        Py_XSETREF(s->t[i], Py_NewRef(PyTuple_GET_ITEM(args, i)));
    s->mode = s->t[T_START_REQUEST] == Py_None ? MODE_TORNADO_WSGI : MODE_TORNADO;
    Py_RETURN_NONE;
}

static PyMethodDef srv_methods[] = {
    {"tornado", srv_tornado, METH_VARARGS,
     "tornado(start_request, ...): serve a tornado app (or a WSGI one)."},
    {"left", srv_left, METH_NOARGS,
     "left(): seconds left of --graceful-timeout since the stop began."},
    {"open", srv_open, METH_VARARGS,
     "open(loop, stopped): heartbeats and signals from now on; stopped "
     "completes once the worker has stopped serving."},
    {"serve", srv_serve, METH_O, "serve(state): accept and serve connections."},
    {NULL, NULL, 0, NULL},
};

static void srv_dealloc(PyObject *self)
{
    PyTypeObject *tp = Py_TYPE(self);

    PyObject_Free(self);  /* not reached: the server lives as long as the worker */
    Py_DECREF(tp);
}

static PyType_Slot srv_slots[] = {
    {Py_tp_dealloc, (void *)srv_dealloc},
    {Py_tp_methods, srv_methods},
    {Py_tp_doc, (void *)"The asgi worker's server."},
    {0, NULL},
};

static PyType_Spec srv_spec = {
    .name = "cunicorn._cunicorn.ASGIServer",
    .basicsize = sizeof(struct asrv),
    .flags = Py_TPFLAGS_DEFAULT,
    .slots = srv_slots,
};

/* ---- set-up ----------------------------------------------------------- */

static int make_types(struct asrv *s)
{
    s->conn_type = (PyTypeObject *)PyType_FromSpec(&asgi_conn_spec);
    s->req_type = (PyTypeObject *)PyType_FromSpec(&asgi_req_spec);
    s->ready_type = (PyTypeObject *)PyType_FromSpec(&asgi_ready_spec);
    s->treq_type = (PyTypeObject *)PyType_FromSpec(&tornado_conn_spec);
    if (!s->conn_type || !s->req_type || !s->ready_type || !s->treq_type)
        return -1;
    s->ready_none = asgi_ready(s, Py_NewRef(Py_None));
    return s->ready_none ? 0 : -1;
}

static int make_callables(struct asrv *s)
{
    PyObject **out[] = {&s->on_readable, &s->on_writable, &s->on_accept, &s->on_wake,
                        &s->on_tick, &s->on_stop_due};

    for (size_t i = 0; i < sizeof(out) / sizeof(out[0]); i++)
        if (!(*out[i] = PyCFunction_New(&cb_defs[i], (PyObject *)s)))
            return -1;
    return 0;
}

/* Each listener's fd, as the loop takes it, and its scope "server". */
static int make_listeners(struct asrv *s)
{
    size_t n = s->env->n_listeners ? s->env->n_listeners : 1;

    s->lfd = PyMem_Calloc(n, sizeof(PyObject *));
    s->lserver = PyMem_Calloc(n, sizeof(PyObject *));
    if (!s->lfd || !s->lserver) {
        PyErr_NoMemory();
        return -1;
    }
    for (size_t i = 0; i < s->env->n_listeners; i++) {
        const struct cu_listener *l = &s->env->listeners[i];
        char host[128];
        int port;

        if (!(s->lfd[i] = PyLong_FromLong(l->fd)))
            return -1;
        if (l->family == AF_UNIX ||
            cu_sockaddr_text((const struct sockaddr *)&l->sa, l->salen, host, sizeof(host),
                             &port) < 0)
            s->lserver[i] = Py_NewRef(Py_None);
        else
            s->lserver[i] = Py_BuildValue("(si)", host, port);
        if (!s->lserver[i])
            return -1;
    }
    return 0;
}

static const char *const lifespans[] = {"auto", "on", "off"};
static const char *const loops[] = {"auto", "asyncio", "uvloop"};

int cu_asgi_serve(PyObject *app, PyObject *helper, const struct cu_asgi_opts *o,
                  struct cu_worker_env *env)
{
    PyTypeObject *tp = (PyTypeObject *)PyType_FromSpec(&srv_spec);
    struct asrv *s = tp ? PyObject_New(struct asrv, tp) : NULL;
    PyObject *r;
    long rc;

    Py_XDECREF(tp);  /* the object holds its type */
    if (!s) {
        cu_report_exception("Exception in worker process");
        return 1;
    }
    memset((char *)s + sizeof(PyObject), 0, sizeof(*s) - sizeof(PyObject));
    s->env = env;
    s->opts = o;
    s->app = Py_NewRef(app);
    s->helper = Py_NewRef(helper);
    s->wake_fd = -1;
    s->head_max = cu_head_max(env);
    if (env->worker_connections < 1)
        env->worker_connections = 1;
    if (make_types(s) < 0 || make_callables(s) < 0 || make_listeners(s) < 0 ||
        asgi_scope_init(s) < 0) {
        cu_report_exception("Exception in worker process");
        return 1;
    }
    r = PyObject_CallMethod(helper, "run", "OOss", (PyObject *)s, app,
                            lifespans[o->lifespan % 3], loops[o->loop % 3]);
    if (!r) {
        cu_report_exception("Exception in worker process");
        return 1;
    }
    rc = PyLong_AsLong(r);
    Py_DECREF(r);
    if (rc == -1 && PyErr_Occurred()) {
        cu_report_exception("Exception in worker process");
        return 1;
    }
    return (int)rc;
}
