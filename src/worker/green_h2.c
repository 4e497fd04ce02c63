/*
 * HTTP/2 in the gevent and eventlet classes: see green_h2.h. The hub
 * drives the sessions (src/http2/, the loop mode):
 *
 *   the hub's greenlet   the sessions' sockets are watched (hub->io); when
 *                        one is ready, cu_h2_event pumps it, never
 *                        waiting, begins the requests that came and wakes
 *                        the streams whose wait is over
 *   a greenlet per       spawned as its request comes (beside the pool of
 *   stream               --worker-connections: the session is one of
 *                        them), runs the app through the WSGI bridge; its
 *                        connection reads and writes through the stream
 *                        and, where it would wait, parks (hub->park)
 *                        until the session unparks it, at most --timeout
 *                        (--send-timeout, the body's deadline) as an
 *                        HTTP/1 connection's waits
 *
 * Everything is in the worker's main thread: the sessions' locks are
 * never contended, and no greenlet parks holding one.
 */
#include "worker/green_h2.h"

#include <errno.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>

#include "core/clock.h"
#include "core/log.h"

struct gstream;

struct cu_green_h2 {
    struct cu_worker_env *env;
    struct cu_hub hub;
    struct cu_h2 *h;
    int timeout_ms;
    size_t *nconns;
    unsigned long *served;
    struct gstream *streams;  /* the streams' greenlets, running */
    size_t nstreams;
    size_t nsessions;
};

/* One stream's request, on the heap (greenlets' stacks move). */
struct gstream {
    struct cu_conn c;            /* reads and writes through the stream */
    struct http_request r;
    struct http_header *hdrs;
    struct cu_body body;
    struct h2_stream *st;
    struct cu_green_h2 *g;
    struct gstream *prev, *next;
    struct cu_hub_task task;
    void *greenlet;
    void *parker;                /* made at its first wait (most never wait) */
    int trusted;
    int parked;                  /* waits at parker for the stream */
};

/* ---- the hub's side: the sessions' sockets ----------------------------------- */

/* A session's socket is ready (the hub's greenlet). */
static void on_ready(void *watcher)
{
    cu_h2_event(watcher, 0, NULL);
}

/* host->watch */
static int h2_watch(void *arg, int fd, int what, int on, void *watcher)
{
    struct cu_green_h2 *g = arg;

    return g->hub.io(g->hub.arg, fd, what == 'w', on, on_ready, watcher);
}

/* host->event: what a stream's greenlet waits for came (or the stream
 * is gone: its next read or write says so). */
static void h2_event(void *up, int what)
{
    struct gstream *gs = up;

    (void)what;
    if (gs->parked)
        gs->g->hub.unpark(gs->g->hub.arg, gs->parker);
}

/* host->gone: a session closed. */
static void h2_gone(void *arg)
{
    struct cu_green_h2 *g = arg;

    (*g->nconns)--;
    g->nsessions--;
}

/* ---- a stream's greenlet ------------------------------------------------------ */

/* The stream connection's wait (cu_conn's): parks until the session says
 * the stream is readable or takes more, or ms passed. */
static int stream_wait(void *arg, int fd, short events, int ms)
{
    struct gstream *gs = arg;
    int what = (events & POLLOUT) ? 'w' : 'r', rc;

    (void)fd;  /* the session's: the hub's greenlet watches it */
    if (!gs->parker && !(gs->parker = gs->g->hub.parker(gs->g->hub.arg))) {
        errno = EIO;  /* logged */
        return -1;
    }
    cu_h2_stream_want(gs->st, what, 1);
    gs->parked = 1;
    rc = gs->g->hub.park(gs->g->hub.arg, gs->parker, ms);
    gs->parked = 0;
    cu_h2_stream_want(gs->st, what, 0);
    return rc;
}

static void stream_free(struct gstream *gs)
{
    struct cu_green_h2 *g = gs->g;

    if (gs->prev)
        gs->prev->next = gs->next;
    else
        g->streams = gs->next;
    if (gs->next)
        gs->next->prev = gs->prev;
    g->nstreams--;
    free(gs->hdrs);
    if (gs->parker)
        g->hub.release(g->hub.arg, gs->parker);
    if (gs->greenlet)
        g->hub.release(g->hub.arg, gs->greenlet);
    free(gs);
}

/* A stream's greenlet: its request through the bridge, then its end. */
static void stream_main(void *arg)
{
    struct gstream *gs = arg;
    struct cu_green_h2 *g = gs->g;
    struct cu_worker_env *env = g->env;
    struct cu_request q = {.conn = &gs->c, .http = &gs->r, .head_off = 0,
                           .body = &gs->body};
    int rc;

    q.started_us = cu_access_wanted() ? cu_now_us() : 0;
    cu_body_init(&gs->body, &gs->r, env->http);
    rc = env->serve(env->app, &q);
    if (cu_access_wanted())
        cu_access(&q);
    if (env->max_requests > 0 && ++*g->served >= (unsigned long)env->max_requests)
        cu_worker_recycle(env->slot, CU_RECYCLE_MAX_REQUESTS);
    if ((gs->c.pysock || gs->c.pyaddr) && env->conn_free)
        env->conn_free(env->app, &gs->c);  /* not reached: streams keep none */
    cu_h2_stream_end(gs->st, &gs->c, rc == 0);
    stream_free(gs);
}

/* host->begin: st's request starts in a greenlet of its own. 0, or -1
 * (the stream is reset). */
static int h2_begin(void *arg, struct h2_stream *st)
{
    struct cu_green_h2 *g = arg;
    struct gstream *gs = calloc(1, sizeof(*gs));

    if (!gs) {
        cu_log(CU_ERROR, "worker: out of memory for an HTTP/2 stream");
        return -1;
    }
    gs->g = g;
    gs->st = st;
    gs->next = g->streams;
    if (g->streams)
        g->streams->prev = gs;
    g->streams = gs;
    g->nstreams++;
    cu_h2_stream_take(st, gs, &gs->c, &gs->r, &gs->hdrs, &gs->trusted);
    gs->c.timeout_ms = g->timeout_ms;  /* its waits park: stream_wait */
    gs->c.wait = stream_wait;
    gs->c.wait_arg = gs;
    gs->task = (struct cu_hub_task){stream_main, gs};
    if (!(gs->greenlet = g->hub.spawn(g->hub.arg, &gs->task, 0))) {
        cu_h2_stream_end(st, &gs->c, 0);
        stream_free(gs);
    }
    return 0;
}

/* ---- the worker's side --------------------------------------------------------- */

struct cu_green_h2 *cu_green_h2_new(struct cu_worker_env *env, const struct cu_hub *hub,
                                    int timeout_ms, size_t *nconns, unsigned long *served)
{
    struct cu_green_h2 *g = calloc(1, sizeof(*g));

    if (!g) {
        cu_log(CU_ERROR, "worker: out of memory");
        return NULL;
    }
    *g = (struct cu_green_h2){.env = env, .hub = *hub, .timeout_ms = timeout_ms,
                              .nconns = nconns, .served = served};
    g->h = cu_h2_new(&(struct cu_h2_host){
        .env = env, .poller = NULL, .timeout_ms = timeout_ms, .watch = h2_watch,
        .begin = h2_begin, .event = h2_event, .gone = h2_gone, .arg = g});
    if (!g->h) {
        free(g);
        return NULL;
    }
    return g;
}

void cu_green_h2_take(struct cu_green_h2 *g, struct cu_conn *c, int trusted,
                      const struct cu_h2_upgrade *up)
{
    (*g->nconns)++;
    g->nsessions++;
    if (cu_h2_adopt(g->h, c, trusted, up) < 0) {
        (*g->nconns)--;
        g->nsessions--;
    }
}

size_t cu_green_h2_sessions(const struct cu_green_h2 *g)
{
    return g->nsessions;
}

void cu_green_h2_tick(struct cu_green_h2 *g, int evict)
{
    (void)cu_h2_tick(g->h, cu_now_ms(), evict);
}

size_t cu_green_h2_count(const struct cu_green_h2 *g)
{
    return g->nstreams;
}

size_t cu_green_h2_greenlets(const struct cu_green_h2 *g, void **out)
{
    size_t n = 0;

    for (const struct gstream *gs = g->streams; gs; gs = gs->next)
        if (gs->greenlet)
            out[n++] = gs->greenlet;
    return n;
}
