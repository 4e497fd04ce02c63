/*
 * The gevent and eventlet worker classes (-k gevent, -k eventlet, and the
 * names Gunicorn's users write for them): a greenlet per connection on
 * the class's hub, in the worker's main thread. The hub is Python's
 * (gevent's or eventlet's), so the host provides it (env->hub_open,
 * src/host/green.c, cunicorn/_green.py); everything else is this plain C
 * loop and what every class shares: the connection, the parser, the body
 * reader, the refused requests' answers and lines, the access log, the
 * WSGI bridge (env->serve). Where a socket would block, the connection
 * waits on the hub (cu_conn's wait), so the other greenlets run.
 *
 *   main greenlet     heartbeat (once a second, twice per --timeout), the
 *                     master's pid, USR1; on TERM the graceful stop
 *   an acceptor per   accepts, and spawns a connection's greenlet in the
 *   listener          pool (at most --worker-connections: it waits while
 *                     the pool is full)
 *   a greenlet per    reads and parses a head (--timeout), runs the app,
 *   connection        again for the next request while kept (Gunicorn's
 *                     rules, docs/compat.md, Keep-alive), idle for at most
 *                     --keep-alive seconds between requests
 *
 * Nothing a greenlet shares lives on a greenlet's stack (greenlets copy
 * their stacks in and out as they switch): the worker, the listeners'
 * tasks and the connections are on the heap.
 */
#include "worker/worker.h"

#include <errno.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/log.h"
#include "core/proctitle.h"
#include "net/listeners.h"
#include "worker/green_h2.h"

#define DRAIN_LIMIT 65536   /* an unread body dropped before reuse */
#define DRAIN_MS 5000
#define ACCEPT_BATCH 100    /* gevent's StreamServer's max_accept */

struct gconn;

struct gaccept {
    struct gworker *w;
    const struct cu_listener *l;
    struct cu_hub_task task;
    void *g;                 /* its greenlet */
};

struct gworker {
    struct cu_worker_env env;  /* a copy: the caller's is on a stack */
    struct cu_hub hub;
    struct gconn *conns;       /* the open connections */
    size_t nconns;
    unsigned long served;
    int timeout_ms;            /* a head, a body or a write waits this long */
    int watch_ms;              /* the hub held this long: its holder's stack
                                * is logged (0: not watched) */
    struct gaccept *acceptors; /* one per listener */
    size_t nacceptors;
    struct cu_green_h2 *h2;    /* HTTP/2's sessions (env.h2.on), or NULL */
};

struct gconn {
    struct cu_conn c;
    struct gworker *w;
    struct gconn *prev, *next;
    struct cu_hub_task task;
    void *g;                   /* its greenlet */
    int idle;                  /* waiting for its next request */
    int trusted;               /* the peer is in forwarded_allow_ips */
    struct http_header *headers;
};

/* ---- a connection -------------------------------------------------------- */

/* Gunicorn's keep-alive rule for its async workers (docs/compat.md,
 * Keep-alive): never when keepalive is 0, when stopping, when the request
 * says close, or for the last request before max_requests. */
static int must_close(const struct gworker *w, const struct http_request *r)
{
    const struct cu_worker_env *env = &w->env;

    if (env->keepalive <= 0 || cu_worker_stop || !(r->flags & HTTP_REQ_KEEP_ALIVE) ||
        (r->flags & HTTP_REQ_MUST_CLOSE))
        return 1;
    return env->max_requests > 0 && w->served + 1 >= (unsigned long)env->max_requests;
}

/* Runs the app on the request whose head (len bytes) g holds. 1 when the
 * connection stays open for another request, 0 when it must close
 * (lingering first when the peer's bytes are unread). */
static int serve_one(struct gworker *w, struct gconn *g, struct http_request *r,
                     int64_t len)
{
    struct cu_worker_env *env = &w->env;
    struct cu_body body;
    struct cu_request q = {.conn = &g->c, .http = r, .head_off = g->c.start,
                           .body = &body, .must_close = must_close(w, r)};
    int rc;

    q.started_us = cu_access_wanted() ? cu_now_us() : 0;
    g->c.start += (size_t)len;
    g->c.keep = g->c.start;  /* the head stays put while the body is read */
    cu_body_init(&body, r, env->http);
    rc = env->serve(env->app, &q);
    if (cu_access_wanted())
        cu_access(&q);
    if (env->max_requests > 0 && ++w->served >= (unsigned long)env->max_requests)
        cu_worker_recycle(env->slot, CU_RECYCLE_MAX_REQUESTS);
    if (rc < 0)
        return 0;
    if (q.out.close || cu_worker_stop) {
        if (!body.done || g->c.end > g->c.start)
            cu_conn_linger(&g->c, CU_LINGER_LIMIT, CU_LINGER_MS);
        return 0;
    }
    if (!body.done) {
        g->c.timeout_ms = DRAIN_MS;
        if (cu_body_drain(&body, &g->c, DRAIN_LIMIT) < 0) {
            /* its rest unread: a plain close could reset the response */
            cu_conn_linger(&g->c, CU_LINGER_LIMIT, CU_LINGER_MS);
            return 0;
        }
    }
    g->c.keep = 0;
    return 1;
}

/* A refused request: Gunicorn's answer (or a silent close), its lines.
 * r: the request as parsed (NULL: none). */
static void refuse(struct gconn *g, const struct http_parser *p, const struct http_request *r,
                   int code)
{
    if (code != HTTP_E_EOF || g->c.eof)
        cu_request_refused(&g->c, p, code);
    cu_request_refused_access(&g->c, p, r, g->c.buf + g->c.start, code);
    if (cu_conn_send_error(&g->c, code) == 0 && http_error_info(code)->respond)
        cu_conn_linger(&g->c, CU_LINGER_LIMIT, CU_LINGER_MS);  /* the rest is coming */
}

/* Between two requests: waits up to --keep-alive for the next one's first
 * bytes, holding no buffer meanwhile. 1 when they came. */
static int await_next(struct gworker *w, struct gconn *g)
{
    ssize_t n;

    if (g->c.end > g->c.start)
        return 1;  /* pipelined */
    if (cu_worker_stop)
        return 0;
    free(g->headers);
    g->headers = NULL;
    cu_conn_shrink(&g->c);
    g->c.timeout_ms = w->env.keepalive * 1000;
    g->idle = 1;
    n = cu_conn_fill(&g->c, cu_head_max(&w->env));
    g->idle = 0;
    return n > 0;
}

static void conn_close(struct gworker *w, struct gconn *g)
{
    if (g->prev)
        g->prev->next = g->next;
    else
        w->conns = g->next;
    if (g->next)
        g->next->prev = g->prev;
    w->nconns--;
    /* the GIL only for a connection the bridge kept objects on (gthread's) */
    if ((g->c.pysock || g->c.pyaddr) && w->env.conn_free)
        w->env.conn_free(w->env.app, &g->c);
    cu_conn_close(&g->c);
    free(g->headers);
    if (g->g)
        w->hub.release(w->hub.arg, g->g);
    free(g);
}

/* TLS: the handshake first, each wait on the hub (to read or to write,
 * as OpenSSL asks), within --timeout and the new connection's deadline;
 * idle meanwhile (no request yet: TERM closes it). 0, or -1 (logged). */
static int handshake(struct gworker *w, struct gconn *g)
{
    int rc;

    g->c.timeout_ms = w->timeout_ms;
    g->idle = 1;
    rc = cu_tls_accept(&g->c, w->env.tls);
    g->idle = 0;
    return rc;
}

/* ---- HTTP/2 (green_h2.c) ------------------------------------------------------ */

/* Hands g's connection over to a session (up: the request that asked for
 * the h2c upgrade, in g's buffer, or NULL); g is closed. */
static void hand_over(struct gworker *w, struct gconn *g, const struct cu_h2_upgrade *up)
{
    struct cu_conn c;

    memcpy(&c, &g->c, sizeof(c));
    memset(&g->c, 0, sizeof(g->c));
    g->c.fd = -1;
    cu_green_h2_take(w->h2, &c, g->trusted, up);
    conn_close(w, g);  /* up's headers with it, once adopted */
}

/* A trusted peer's first bytes on a plain connection, read as far as
 * needed (idle meanwhile: no request yet, TERM closes it), past a PROXY
 * header (taken): 1 when they are the h2c preface, 0 when not (or the
 * peer left part-way: the head's reader says why), -1 when it said
 * nothing in time or its PROXY header was refused (answered). */
static int preface(struct gworker *w, struct gconn *g, int *proxy_done)
{
    int pre;

    g->c.timeout_ms = w->timeout_ms;
    g->idle = 1;
    while ((pre = cu_h2c_opens(&w->env, &g->c, proxy_done)) == HTTP_AGAIN) {
        if (cu_conn_fill(&g->c, cu_head_max(&w->env)) <= 0) {
            pre = g->c.eof && g->c.end > g->c.start ? 0 : -1;
            break;
        }
    }
    g->idle = 0;
    if (pre < -1) {
        refuse(g, NULL, NULL, pre);
        pre = -1;
    }
    return pre;
}

/* Whether a new connection speaks HTTP/2 (docs/compat.md, HTTP/2): ALPN
 * chose h2, or a trusted peer's first bytes on a plain connection are
 * the h2c preface (after its PROXY header, if any). 1: handed over (g is
 * gone); 0: HTTP/1; -1: the peer said nothing in time, or its PROXY
 * header was refused (close g). */
static int to_h2(struct gworker *w, struct gconn *g, int *proxy_done)
{
    int pre;

    if (g->c.tls ? !cu_conn_alpn_h2(&g->c) : !w->env.h2.prior_knowledge || !g->trusted)
        return 0;
    if (!g->c.tls && (pre = preface(w, g, proxy_done)) <= 0)
        return pre;
    hand_over(w, g, NULL);
    return 1;
}

/* A request of len bytes from a trusted peer on a plain connection that
 * asks for h2c by Upgrade, when http2_cleartext allows it: 1 when g was
 * handed over (the request is stream 1 of its session; g is gone), -1
 * when refused (a bad HTTP2-Settings: 400; g must close), 0: it is served
 * as HTTP/1.1. */
static int upgrade_h2(struct gworker *w, struct gconn *g, const struct http_parser *p,
                      const struct http_request *r, int64_t len)
{
    uint8_t settings[CU_H2C_SETTINGS_MAX];
    struct cu_h2_upgrade up = {.settings = settings, .buf = g->c.buf + g->c.start,
                               .r = r};
    int rc;

    if (!w->h2 || !w->env.h2.upgrade || g->c.tls || !g->trusted)
        return 0;
    rc = cu_h2c_asked(up.buf, r, settings, &up.settings_len);
    if (rc < 0) {
        cu_log(CU_DEBUG, "Refusing an h2c upgrade: HTTP2-Settings is not base64url "
               "of a SETTINGS payload");
        refuse(g, p, r, HTTP_E_HEADER);
    } else if (rc > 0) {
        g->c.start += (size_t)len;  /* what follows the head is HTTP/2's */
        hand_over(w, g, &up);
    }
    return rc;
}

/* A connection's greenlet: its requests, one after the other. */
static void conn_main(void *arg)
{
    struct gconn *g = arg;
    struct gworker *w = g->w;
    const struct cu_worker_env *env = &w->env;
    struct http_parser p;
    struct http_request r;
    int proxy_done = env->proxy == HTTP_PROXY_OFF, h2;

    if (env->tls && handshake(w, g) < 0) {
        conn_close(w, g);
        return;
    }
    if (w->h2 && (h2 = to_h2(w, g, &proxy_done)) != 0) {
        if (h2 < 0)
            conn_close(w, g);
        return;
    }
    for (int first = 1;; first = 0) {
        int64_t rc;

        if (!first && !await_next(w, g))
            break;
        if (!g->headers &&
            !(g->headers = malloc(sizeof(*g->headers) * env->http->limit_request_fields))) {
            cu_log(CU_ERROR, "out of memory for a request");
            break;
        }
        g->c.timeout_ms = w->timeout_ms;
        http_parser_init(&p, env->http, g->trusted);
        http_request_init(&r, g->headers, env->http->limit_request_fields);
        rc = cu_head_read(env, &g->c, &p, &r, &proxy_done);
        if (rc <= 0) {
            if (rc < 0)
                refuse(g, &p, &r, (int)rc);
            break;
        }
        if (w->h2 && (h2 = upgrade_h2(w, g, &p, &r, rc)) != 0) {
            if (h2 > 0)
                return;
            break;
        }
        if (!serve_one(w, g, &r, rc))
            break;
    }
    conn_close(w, g);
}

/* A new connection: its greenlet, in the pool (pooled: waiting while it
 * is full), or beside it. A connection accepted is always served: when
 * the acceptor is killed while it waits (the stop), the greenlet goes
 * beside the pool, and -1 says the acceptor is done. */
static int add_conn(struct gworker *w, int fd, const struct sockaddr_storage *peer,
                    socklen_t plen, const struct cu_listener *l, int pooled)
{
    struct gconn *g = calloc(1, sizeof(*g));

    if (!g || cu_conn_init(&g->c, fd, 0) < 0) {
        cu_log(CU_ERROR, "out of memory for a connection");
        free(g);
        close(fd);
        return 0;
    }
    g->w = w;
    g->c.peer = *peer;
    g->c.peerlen = plen;
    g->c.listener = l;
    g->c.keeps_objects = 1;
    g->c.wait = w->hub.wait;
    g->c.wait_arg = w->hub.arg;
    /* the deadlines against slow clients (docs/operations.md) */
    g->c.send_timeout_ms = w->env.send_ms;
    g->c.body_ms = w->env.body_ms;
    g->c.body_min_rate = w->env.body_min_rate;
    g->c.deadline_ms = w->env.new_conn_ms > 0 ? cu_now_ms() + w->env.new_conn_ms : 0;
    g->trusted = cu_allow_match(w->env.allow, (const struct sockaddr *)peer, plen);
    g->task.fn = conn_main;
    g->task.arg = g;
    g->next = w->conns;
    if (w->conns)
        w->conns->prev = g;
    w->conns = g;
    w->nconns++;
    g->g = w->hub.spawn(w->hub.arg, &g->task, pooled);
    if (!g->g && errno == ECANCELED) {
        g->g = w->hub.spawn(w->hub.arg, &g->task, 0);
        if (g->g)
            return -1;
    }
    if (!g->g)
        conn_close(w, g);
    return 0;
}

/* ---- the acceptors and the main greenlet --------------------------------- */

/* HTTP/2 sessions hold no place in the pool of --worker-connections (no
 * greenlet waits for them) but count among the connections: while they
 * and the connections fill it, no accepting (checked every 100 ms). */
static int sessions_full(const struct gworker *w)
{
    return w->h2 && cu_green_h2_sessions(w->h2) > 0 &&
           w->nconns >= (size_t)w->env.worker_connections;
}

/* Full with sessions among the connections, and a connection waits in a
 * backlog: the tick closes the session idle longest for it, if one is
 * (an idle HTTP/1 connection is not closed: Gunicorn's pool waits). */
static int room_wanted(const struct gworker *w)
{
    return sessions_full(w) && cu_listeners_waiting(w->env.listeners, w->env.n_listeners);
}

/* A listener's greenlet: accepts until the worker stops. With more than
 * one worker, one connection per wake-up, as Gunicorn's (the kernel
 * wakes them all: the others get theirs). */
static void accept_main(void *arg)
{
    struct gaccept *a = arg;
    struct gworker *w = a->w;
    int batch = w->env.workers > 1 ? 1 : ACCEPT_BATCH;

    while (!cu_worker_stop) {
        if (sessions_full(w)) {
            if (w->hub.wait(w->hub.arg, -1, 0, 100) < 0 && errno == ECANCELED)
                return;
            continue;
        }
        for (int i = 0; i < batch && !cu_worker_stop && !sessions_full(w); i++) {
            struct sockaddr_storage peer;
            socklen_t plen;
            int fd = cu_accept(a->l, &peer, &plen);

            if (fd < 0) {
                if (errno == EAGAIN)
                    break;
                cu_log(CU_ERROR, "worker: accept: %s", strerror(errno));
                /* out of fds or memory: the listener stays ready */
                if (w->hub.wait(w->hub.arg, -1, 0, 100) < 0 && errno == ECANCELED)
                    return;
                break;
            }
            if (add_conn(w, fd, &peer, plen, a->l, 1) < 0)
                return;
        }
        if (w->hub.wait(w->hub.arg, a->l->fd, POLLIN, 1000) == 0 || errno == ETIMEDOUT)
            continue;
        if (errno == ECANCELED)
            return;
        /* EIO (logged): again in a second */
        if (w->hub.wait(w->hub.arg, -1, 0, 1000) < 0 && errno == ECANCELED)
            return;
    }
}

static int start_acceptors(struct gworker *w)
{
    w->acceptors = calloc(w->env.n_listeners ? w->env.n_listeners : 1,
                          sizeof(*w->acceptors));
    if (!w->acceptors) {
        cu_log(CU_ERROR, "worker: out of memory");
        return -1;
    }
    for (size_t i = 0; i < w->env.n_listeners; i++) {
        struct gaccept *a = &w->acceptors[i];

        a->w = w;
        a->l = &w->env.listeners[i];
        a->task.fn = accept_main;
        a->task.arg = a;
        if (!(a->g = w->hub.spawn(w->hub.arg, &a->task, 0)))
            return -1;
        w->nacceptors++;
    }
    return 0;
}

/* Kills the greenlets of the connections (only the idle ones: idle_only)
 * and of the acceptors. */
static void kill_all(struct gworker *w, int idle_only)
{
    size_t n = 0, streams = w->h2 ? cu_green_h2_count(w->h2) : 0;
    void **h = malloc(sizeof(*h) * (w->nconns + w->nacceptors + streams + 1));

    if (!h) {
        cu_log(CU_ERROR, "worker: out of memory");
        return;
    }
    for (size_t i = 0; i < w->nacceptors; i++)
        h[n++] = w->acceptors[i].g;
    for (struct gconn *g = w->conns; g; g = g->next)
        if (g->g && (g->idle || !idle_only))
            h[n++] = g->g;
    if (w->h2 && !idle_only)  /* the sessions' streams */
        n += cu_green_h2_greenlets(w->h2, h + n);
    w->hub.kill(w->hub.arg, h, n);
    free(h);
}

/* Waits until the connections are gone, at most ms, beating. */
static void await_conns(struct gworker *w, long long ms)
{
    long long until = cu_now_ms() + ms;

    while (w->nconns > 0 && cu_now_ms() < until) {
        cu_heartbeat(w->env.slot);
        if (w->h2)  /* GOAWAY, then each session closes once its streams end */
            cu_green_h2_tick(w->h2, 0);
        if (w->watch_ms)
            w->hub.watch(w->hub.arg, w->watch_ms);
        if (w->hub.wait(w->hub.arg, -1, 0, 50) < 0 && errno != ETIMEDOUT)
            break;
    }
}

/* Takes in the connections already waiting in the listeners' backlogs
 * (never a new wait): each gets its request answered, in a greenlet
 * beside the pool, so that the main greenlet never waits for a place in
 * it and keeps beating (Ours: Gunicorn's gevent worker leaves them).
 * Then closes this worker's copies of the listeners at once: a
 * connection that queued behind them until the worker's exit would be
 * reset by the kernel then, unanswered. */
static void drain_backlog(struct gworker *w)
{
    for (size_t i = 0; i < w->env.n_listeners; i++) {
        struct cu_listener *l = &w->env.listeners[i];
        struct sockaddr_storage peer;
        socklen_t plen;
        int fd;

        while ((fd = cu_accept(l, &peer, &plen)) >= 0)
            (void)add_conn(w, fd, &peer, plen, l, 0);
        (void)close(l->fd);
        l->fd = -1;
    }
}

/* TERM (Gunicorn's gevent worker): no more accepting (but the backlog,
 * Ours), the idle connections closed, the requests in flight given
 * graceful_timeout, then killed. */
static void graceful(struct gworker *w)
{
    kill_all(w, 1);
    (void)w->hub.wait(w->hub.arg, -1, 0, 0);  /* their turn to end */
    drain_backlog(w);
    await_conns(w, (long long)w->env.graceful_timeout * 1000);
    if (w->nconns > 0) {
        cu_log(CU_WARNING, "Worker graceful timeout (pid:%d)", (int)getpid());
        kill_all(w, 0);
        (void)w->hub.wait(w->hub.arg, -1, 0, 0);
        await_conns(w, 1000);
    }
}

/* The main greenlet's loop, until TERM or the master is gone. */
static void supervise(struct gworker *w, int wake)
{
    const struct cu_worker_env *env = &w->env;
    int tick = env->timeout > 0 && env->timeout < 2 ? env->timeout * 500 : 1000;
    while (!cu_worker_stop) {
        char sink[64];

        if (getppid() != env->ppid) {
            cu_log(CU_INFO, "Parent changed, shutting down: %d", (int)getpid());
            cu_worker_stop = 1;
            break;
        }
        cu_heartbeat(env->slot);
        if (w->watch_ms)
            w->hub.watch(w->hub.arg, w->watch_ms);
        if (w->h2)  /* idle sessions past --keep-alive, or one for room */
            cu_green_h2_tick(w->h2, room_wanted(w));
        if (cu_worker_reopen) {
            cu_worker_reopen = 0;
            cu_log_reopen();
        }
        if (w->hub.wait(w->hub.arg, wake, POLLIN, tick) < 0 && errno != ETIMEDOUT) {
            if (errno == ECANCELED)
                break;
            (void)w->hub.wait(w->hub.arg, -1, 0, tick);  /* logged: do not spin */
        }
        while (read(wake, sink, sizeof(sink)) > 0)
            ;
    }
}

static int green_run(struct cu_worker_env *env, const char *kind)
{
    struct gworker *w = calloc(1, sizeof(*w));
    int wake, rc = 1;

    if (!w) {
        cu_log(CU_ERROR, "worker: out of memory");
        return 1;
    }
    w->env = *env;
    w->timeout_ms = env->timeout > 0 ? env->timeout * 1000 : 3600 * 1000;
    /* three quarters of --timeout, so that the stack is in the log before
     * the master aborts the worker (and beyond a tick: no false alarm) */
    w->watch_ms = env->timeout > 1 ? env->timeout * 750 : 0;
    if ((wake = cu_worker_wake_pipe()) < 0 || !env->hub_open ||
        env->hub_open(env->app, kind, env->worker_connections, &w->hub) < 0 ||
        (env->h2.on && !(w->h2 = cu_green_h2_new(&w->env, &w->hub, w->timeout_ms,
                                                  &w->nconns, &w->served)))) {
        if (wake >= 0)
            close(wake);
        free(w);
        return 1;
    }
    if (start_acceptors(w) == 0) {
        supervise(w, wake);
        cu_proctitle_state("stopping");
        graceful(w);
        rc = 0;
    }
    if (w->watch_ms)
        w->hub.watch(w->hub.arg, 0);
    /* w stays: greenlets killed may still run to their end (a worker_exit
     * hook that waits lets them), and the process is ending */
    close(wake);
    if (cu_worker_reopen)  /* a USR1 that came with the TERM */
        cu_log_reopen();
    cu_log(CU_INFO, "Worker exiting (pid: %d)", (int)getpid());
    return rc;
}

int cu_gevent_run(struct cu_worker_env *env)
{
    return green_run(env, "gevent");
}

int cu_eventlet_run(struct cu_worker_env *env)
{
    return green_run(env, "eventlet");
}
