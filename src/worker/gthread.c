/*
 * The gthread worker (-k gthread, or sync with --threads > 1): persistent
 * connections, pipelining, and a pool of threads that run the app.
 *
 * One poller holds the listeners and every connection that waits for
 * bytes: new ones, idle keep-alive ones, slow clients part-way through a
 * head (or a small body), and closing ones draining the peer's last bytes.
 * One pool thread at a time waits at the poller (gate.h): it takes an
 * event, accepts, or reads and parses without the GIL, and only when a
 * request is complete does it take the GIL and run the app; then it goes
 * back to the poller. The other threads are spares, woken only when what
 * is in flight stalls (the app waits on I/O, or runs long), so a quick
 * app is served in arrival order with no hand-over of the GIL between
 * requests. A slow client costs a connection's memory, never a thread.
 * Connections stay armed between requests (level-triggered): the one
 * thread that gets a connection's event owns it until it parks it; the
 * gate keeps another thread from taking it meanwhile, and frees a closed
 * one only once no event can name it. With HTTP/2 and several threads,
 * arming is one-shot instead.
 *
 * The worker's main thread never serves: it beats the heartbeat every
 * second whatever the pool does, expires timers, watches the requests in
 * the pool for --timeout and --request-timeout (running.c), and runs the
 * graceful stop.
 *
 * Timers: four lists under one lock, each ordered by deadline --
 * fresh (--new-connection-timeout from accept, until the first byte),
 * idle (--keep-alive), head (--header-timeout from the first byte of a
 * request; a small body's and a queued response's deadlines too) and
 * linger (2 s). The main thread expires a connection without touching
 * its owner's work: it marks it expired and shuts the socket down, which
 * wakes the poller; the thread that gets that event closes it.
 *
 * The budget (docs/operations.md, Facing the internet without a proxy):
 * at --worker-connections, the oldest idle connection (keep-alive, or new
 * and silent past a grace) is expired to make room for a new one, so idle
 * sockets never stop the accepting; heads being received are never taken.
 * The heads' buffers count against --max-head-memory.
 */
#include "worker/worker.h"

#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "core/access.h"
#include "core/clock.h"
#include "core/log.h"
#include "ev/poller.h"
#include "ev/timers.h"
#include "ev/wake.h"
#include "http2/h2.h"
#include "net/allow.h"
#include "net/listeners.h"
#include "worker/gate.h"
#include "worker/running.h"

#define ACCEPT_BATCH 16
#define WAIT_BATCH 16            /* events per wait, at most */
#define CHEAP_US 20              /* ... while they take less than this each */
#define LINGER_MS 2000           /* a closing connection's last bytes */
#define DRAIN_LIMIT 65536        /* an unread body dropped before reuse */
#define DRAIN_MS 5000
#define STOP_QUIET_MS 1000       /* stopping: a new connection silent this
                                  * long is closed */
#define STALL_MS 1               /* several pool threads: the watcher looks
                                  * this often, and a spare takes the work
                                  * when two looks saw nothing served
                                  * (gate.h) */
#define QUEUE_MAX (16u << 20)    /* a whole response's rest, sent by the
                                  * poller instead of a waiting thread */
#define HOLD_BATCH 16            /* one thread: held responses go when
                                  * this many wait, ... */
#define HOLD_WAIT_US 1000        /* ... when the first has waited this
                                  * long, or when nothing is ready ... */
#define HOLD_RESCUE_MS 2         /* ... and the main thread sends them
                                  * when the pool thread, stuck in the
                                  * app, has not after this long */
#define HOLD_US 20               /* requests from this long on average
                                  * (app_us8) ... */
#define HOLD_MAX_US 200          /* ... to this have their responses' last
                                  * writes held (run_request) */

enum kind { SRC_LISTENER, SRC_CONN };

enum state {
    ST_HEAD,    /* reading a head (new, or after the first byte) */
    ST_BODY,    /* head done, reading a small body before the app runs */
    ST_SPOOL,   /* head done, spooling a larger body before the app runs */
    ST_WRITE,   /* the app returned; the poller sends the queued rest */
    ST_IDLE,    /* keep-alive: between requests, no byte yet */
    ST_LINGER   /* response sent, write side shut, dropping input */
};

struct gconn {
    enum kind kind;           /* SRC_CONN; first, as in struct glisten */
    enum state state;
    struct cu_conn c;
    struct http_parser p;
    struct http_request r;
    struct http_header *headers;  /* allocated while a request is read */
    struct cu_body body;
    int trusted;              /* peer in forwarded_allow_ips */
    int close_after;          /* ST_WRITE: close once the queue is sent */
    int proxy_done;
    size_t head_off;          /* ST_BODY: where the head starts in c.buf */
    struct cu_spool spool;    /* ST_SPOOL: the body, read ahead of the app */
    int owe_continue;         /* ST_SPOOL: "100 Continue" not sent yet */
    struct cu_request q;      /* the request served; kept while its
                               * streamed response is paused (ST_WRITE) */
    long long born_ms;        /* accepted at */
    int fresh;                /* no byte yet since accept */
    size_t counted;           /* its buffer, counted in w->head_mem */
    unsigned armed;           /* the events its fd is armed for (with
                               * w->keep they stay armed across its
                               * events); 0: not in the poller */
    int held;                 /* on w->held (one thread, hold_add) */
    struct gconn *held_next;
    /* under the worker's lock: */
    struct cu_timer timer;    /* in the timer list of its state, while parked */
    int expired;              /* the main thread timed it out */
};

struct glisten {
    enum kind kind;           /* SRC_LISTENER */
    struct cu_listener *l;
};

struct gworker;

struct gthread {
    struct gworker *w;
    struct cu_running *run;   /* its request, as the main thread watches it */
    int64_t now_ms;           /* its clock: read as it takes an event, and
                               * after each app call (app_end) */
    int64_t now_us;           /* the same, in µs */
    int64_t app_us8;          /* its requests' time, from its clock to the
                               * end of the app's call, a moving average
                               * (an eighth of each new one), times 8 */
    int hold;                 /* that average is HOLD_US to HOLD_MAX_US:
                               * hold the next response (run_request) */
};

struct gworker {
    struct cu_worker_env *env;
    struct cu_poller *poller;
    struct glisten *listeners;
    struct gthread *threads;
    struct cu_running *running;  /* one per thread */
    int timeout_ms;           /* --timeout (0: an hour) */
    size_t head_max, body_max;
    pthread_mutex_t lock;     /* guards the lists, parked, gconn.list/expired */
    struct cu_timers idle, head, linger, fresh;
    int parked;               /* listeners left unarmed at the cap */
    atomic_size_t head_mem;   /* the heads' buffers, for --max-head-memory */
    int head_ms, new_ms, send_ms;  /* the deadlines (0: --timeout's) */
    atomic_int nconns;
    atomic_int served;
    atomic_int accepting;
    atomic_int accepters;     /* pool threads inside on_listener() */
    struct cu_h2 *h2;         /* HTTP/2's sessions (env->h2.on), or NULL */
    unsigned keep;            /* CU_EV_KEEP, or 0: one-shot (several
                               * threads with HTTP/2) */
    struct cu_gate *gate;     /* several pool threads: one at the poller */
    /* one pool thread: the held responses (hold_add), in order; the pool
     * thread adds and takes, the main thread only sends (hold_rescue) */
    pthread_mutex_t held_lock;
    struct gconn *held_first, *held_last;
    int nheld;                /* how many (the pool thread's to read) */
    int64_t held_since;       /* the first's hold began (cu_now_us) */
    int napping;              /* under held_lock: the main thread sleeps
                               * past HOLD_RESCUE_MS (nothing held); a
                               * hold wakes it through nap */
    struct cu_wake nap;       /* what it naps on */
};

/* ---- timer lists (called with the lock held) ------------------------------ */

/* Times g out: its owner is the poller, so wake it with a shutdown and
 * let the thread that gets the event close it. */
static void expire(struct gconn *g)
{
    cu_timers_remove(&g->timer);
    g->expired = 1;
    (void)shutdown(g->c.fd, SHUT_RDWR);
}

static struct gconn *of_timer(struct cu_timer *t)
{
    return (struct gconn *)(void *)((char *)t - offsetof(struct gconn, timer));
}

/* Expires what is due in l; returns the next deadline in l, or 0. */
static long long expire_due(struct cu_timers *l, long long now)
{
    struct cu_timer *t;

    while ((t = cu_timers_due(l, now)))
        expire(of_timer(t));
    return cu_timers_next(l);
}

/* ---- deadlines and the budget ---------------------------------------------- */

/* The first byte of a head (or a pipelined head already here): the
 * head's clock starts (--header-timeout). */
static void head_clock(struct gworker *w, const struct gthread *t, struct gconn *g)
{
    g->fresh = 0;
    g->timer.deadline = t->now_ms + w->head_ms;
}

/* A small body read before the app runs got n more bytes (0: its start):
 * its deadline, the one cu_body_wait keeps (--body-timeout,
 * --body-min-rate). */
static void body_clock(struct gworker *w, struct gconn *g, ssize_t n)
{
    long long d;

    g->body.got += (uint64_t)n;
    d = cu_body_deadline(&g->body, &g->c);
    g->timer.deadline = d ? d : cu_now_ms() + w->timeout_ms;
}

/* A queued response's rest: the client has --send-timeout to take some. */
static void send_clock(struct gworker *w, struct gconn *g)
{
    g->timer.deadline = cu_now_ms() + w->send_ms;
}

/* Keeps w->head_mem up to date with g's buffer (counted while g reads a
 * head). -1 when the heads' buffers in all are past --max-head-memory
 * and g's has grown past its first size: the caller drops g. */
static int account(struct gworker *w, struct gconn *g)
{
    size_t now = g->state == ST_HEAD ? g->c.cap : 0, total;

    /* most calls change nothing (a read into the same buffer, a park):
     * no read-modify-write on the counter all threads share */
    if (now == g->counted)
        total = atomic_load(&w->head_mem);
    else if (now > g->counted)
        total = atomic_fetch_add(&w->head_mem, now - g->counted) + (now - g->counted);
    else
        total = atomic_fetch_sub(&w->head_mem, g->counted - now) - (g->counted - now);
    g->counted = now;
    return w->env->head_memory > 0 && now > CU_CONN_BUF && total > w->env->head_memory
               ? -1 : 0;
}

/* At --worker-connections: expires the oldest idle keep-alive connection,
 * else the oldest new one silent past CU_FRESH_GRACE_MS, so that a new
 * connection gets its place (its close re-arms the listeners). A head
 * being received is never taken. Called with w->lock held. 1 when one
 * went. */
static int evict_one(struct gworker *w, long long now)
{
    int looked = 0;

    for (struct cu_timer *t = w->idle.first; t && looked < 64; t = t->next, looked++)
        if (cu_conn_silent(&of_timer(t)->c)) {
            expire(of_timer(t));
            return 1;
        }
    for (struct cu_timer *t = w->fresh.first; t && looked < 128; t = t->next, looked++) {
        struct gconn *g = of_timer(t);
        if (now - g->born_ms < CU_FRESH_GRACE_MS)
            break;  /* the list is in the order of accepting */
        if (cu_conn_silent(&g->c)) {
            expire(g);
            return 1;
        }
    }
    return 0;
}

/* ---- connections ---------------------------------------------------------- */

/* Called with w->lock held, so that stop_accepting() (which closes the
 * listeners under the same lock's protection) never races an arming.
 * Returns 0, or the errno of an arming that failed, for the caller to log
 * once the lock is released: a log line may take the GIL (Python logging
 * mode), and a thread holding the GIL may be waiting for w->lock. */
static int rearm_listeners(struct gworker *w)
{
    int failed = 0;

    if (!atomic_load(&w->accepting))
        return 0;
    for (size_t i = 0; i < w->env->n_listeners; i++)
        if (cu_poller_arm(w->poller, w->listeners[i].l->fd, CU_EV_IN,
                          &w->listeners[i]) < 0 && errno != ENOENT && !failed)
            failed = errno;
    return failed;
}

static void stream_abandon(struct gworker *w, struct gconn *g);

/* A connection is gone: one fewer, and the listeners armed again when
 * they were parked at the cap. */
static void conn_gone(void *arg)
{
    struct gworker *w = arg;
    int unpark = 0, failed = 0;

    pthread_mutex_lock(&w->lock);
    if (atomic_fetch_sub(&w->nconns, 1) - 1 < w->env->worker_connections &&
        w->parked && atomic_load(&w->accepting)) {
        w->parked = 0;
        unpark = 1;
    }
    if (unpark)
        failed = rearm_listeners(w);
    pthread_mutex_unlock(&w->lock);
    if (failed)
        cu_log(CU_ERROR, "worker: poller: %s", strerror(failed));
}

/* A header array given back by a connection gone idle, for this thread's
 * next request (as conn.c keeps a buffer): no malloc and free per
 * kept-alive request. Every array of a worker is the same size. */
static _Thread_local struct http_header *spare_headers;

static void headers_put(struct gconn *g)
{
    if (!spare_headers)
        spare_headers = g->headers;
    else
        free(g->headers);
    g->headers = NULL;
}

/* g's fd leaves the poller for good (it is closed next, or handed on):
 * the gate no longer takes it out for another thread (gate.h) */
static void unregister(struct gworker *w, struct gconn *g)
{
    if (w->gate)
        cu_gate_closing(w->gate, g);
    (void)cu_poller_del(w->poller, g->c.fd);
}

/* g's memory: at once, or with several threads once no event the gate
 * has let through can name it */
static void gconn_free(struct gworker *w, struct gconn *g)
{
    if (w->gate)
        cu_gate_retire(w->gate, g);
    else
        free(g);
}

static void destroy(struct gworker *w, struct gconn *g)
{
    /* explicitly: the app may hold a dup of the fd (gunicorn.socket), and
     * then close() alone would leave the registration behind */
    unregister(w, g);
    if (g->q.paused)  /* before the spool goes: close() may read the body */
        stream_abandon(w, g);
    cu_spool_free(&g->spool);
    atomic_fetch_sub(&w->head_mem, g->counted);
    if ((g->c.pysock || g->c.pyaddr) && w->env->conn_free)
        w->env->conn_free(w->env->app, &g->c);
    cu_conn_close(&g->c);
    if (g->headers)
        headers_put(g);
    gconn_free(w, g);
    conn_gone(w);
}

static void park_failed(struct gworker *w, struct gconn *g)
{
    g->armed = 0;
    cu_log(CU_ERROR, "worker: poller: %s", strerror(errno));
    pthread_mutex_lock(&w->lock);
    cu_timers_remove(&g->timer);
    pthread_mutex_unlock(&w->lock);
    destroy(w, g);
}

/* Puts g back in the poller, in the timer list of its state. */
static void park(struct gworker *w, struct gconn *g)
{
    struct cu_timers *l = g->state == ST_IDLE ? &w->idle
                      : g->state == ST_LINGER ? &w->linger
                      : g->fresh ? &w->fresh : &w->head;
    /* TLS may need the other direction (a handshake, a key update) */
    short want = POLLIN;
    unsigned events;
    int gone = 0;

    if (g->state == ST_WRITE)
        want = cu_conn_want(&g->c, POLLOUT);
    else if (g->state != ST_LINGER)
        want = cu_conn_want(&g->c, POLLIN);
    events = (want == POLLOUT ? CU_EV_OUT : CU_EV_IN) | w->keep;
    (void)account(w, g);  /* a head's buffer stays counted while parked */
    pthread_mutex_lock(&w->lock);
    cu_timers_add(l, &g->timer);
    pthread_mutex_unlock(&w->lock);
    /* kept armed, there is no epoll_ctl per kept-alive request */
    if (!(w->keep && events == g->armed)) {
        int rc = g->armed ? cu_poller_arm(w->poller, g->c.fd, events, g)
                          : cu_poller_add(w->poller, g->c.fd, events, g);
        /* ENOENT: the gate took it out of the poller (below) */
        if (rc < 0 && !(w->gate && errno == ENOENT)) {
            park_failed(w, g);
            return;
        }
        gone = rc < 0;
        g->armed = events;
    }
    /* several threads: let go of g, and add it again if the poller
     * reported it to another thread meanwhile (gate.h); out of the
     * poller, it is still this thread's */
    if (w->gate && cu_gate_done(w->gate, g)) {
        g->armed = events;
        if (cu_poller_add(w->poller, g->c.fd, events, g) < 0)
            park_failed(w, g);
    } else if (gone) {
        errno = ENOENT;  /* out of the poller, and not by the gate */
        park_failed(w, g);
    }
}

/* Closes g after a response: at once when the peer has nothing more to
 * send, else after a linger, so that unread input cannot turn the close
 * into a reset that destroys the response at the peer. */
static void finish(struct gworker *w, struct gconn *g, int unread)
{
    if (!unread || cu_conn_shut_wr(&g->c) < 0) {
        destroy(w, g);
        return;
    }
    g->state = ST_LINGER;
    g->timer.deadline = cu_now_ms() + LINGER_MS;
    park(w, g);
}

/* Allocates what a request needs and starts its parse. -1: no memory. */
static int begin_head(struct gworker *w, struct gconn *g)
{
    const struct http_config *http = w->env->http;

    if (!g->headers && spare_headers) {
        g->headers = spare_headers;
        spare_headers = NULL;
    }
    if (!g->headers) {
        g->headers = malloc(sizeof(*g->headers) * http->limit_request_fields);
        if (!g->headers) {
            cu_log(CU_ERROR, "out of memory for a request");
            return -1;
        }
    }
    http_parser_init(&g->p, http, g->trusted);
    http_request_init(&g->r, g->headers, http->limit_request_fields);
    g->state = ST_HEAD;
    return 0;
}

static void add_conn(struct gworker *w, int fd, const struct sockaddr_storage *peer,
                     socklen_t plen, const struct cu_listener *l)
{
    const struct cu_worker_env *env = w->env;
    struct gconn *g = calloc(1, sizeof(*g));

    if (!g || cu_conn_init(&g->c, fd, 0) < 0) {
        cu_log(CU_ERROR, "out of memory for a connection");
        free(g);
        close(fd);
        return;
    }
    g->kind = SRC_CONN;
    g->c.peer = *peer;
    g->c.peerlen = plen;
    g->c.listener = l;
    g->c.timeout_ms = 0;
    g->c.queue_max = QUEUE_MAX;
    g->c.keeps_objects = 1;
    g->c.send_timeout_ms = env->send_ms;
    g->c.body_ms = env->body_ms;
    g->c.body_min_rate = env->body_min_rate;
    if (env->tls && cu_conn_tls(&g->c, env->tls) < 0) {
        cu_log(CU_ERROR, "out of memory for a TLS connection");
        cu_conn_close(&g->c);
        free(g);
        return;
    }
    g->trusted = cu_allow_match(env->allow, (const struct sockaddr *)peer, plen);
    g->proxy_done = env->proxy == HTTP_PROXY_OFF;
    atomic_fetch_add(&w->nconns, 1);
    g->state = ST_HEAD;
    g->born_ms = cu_now_ms();
    g->fresh = 1;
    g->timer.deadline = g->born_ms + w->new_ms;
    pthread_mutex_lock(&w->lock);
    cu_timers_add(&w->fresh, &g->timer);
    pthread_mutex_unlock(&w->lock);
    g->armed = CU_EV_IN | w->keep;
    if (cu_poller_add(w->poller, fd, g->armed, g) < 0) {
        cu_log(CU_ERROR, "worker: poller: %s", strerror(errno));
        pthread_mutex_lock(&w->lock);
        cu_timers_remove(&g->timer);
        pthread_mutex_unlock(&w->lock);
        destroy(w, g);
    }
}

static void on_listener(struct gworker *w, struct glisten *gl)
{
    int cap = w->env->worker_connections, failed = 0;

    /* counted before `accepting` is read: stop_accepting() waits for this
     * to fall to 0, so that a connection taken here is in nconns before
     * the graceful stop counts what is left, and the listener's fd is
     * never closed under an accept */
    atomic_fetch_add(&w->accepters, 1);
    for (int i = 0; i < ACCEPT_BATCH && atomic_load(&w->nconns) < cap &&
                    atomic_load(&w->accepting); i++) {
        struct sockaddr_storage peer;
        socklen_t plen;
        int fd = cu_accept(gl->l, &peer, &plen);

        if (fd < 0) {
            if (errno != EAGAIN) {
                cu_log(CU_ERROR, "worker: accept: %s", strerror(errno));
                /* out of fds or memory: the listener stays ready, so do
                 * not spin on it */
                if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS ||
                    errno == ENOMEM)
                    (void)poll(NULL, 0, 100);
            }
            break;
        }
        add_conn(w, fd, &peer, plen, gl->l);
    }
    pthread_mutex_lock(&w->lock);
    if (atomic_load(&w->nconns) >= cap && cu_listeners_waiting(gl->l, 1)) {
        /* full, and someone waits: an idle connection makes room, and
         * its close (destroy) re-arms the listeners; else the tick
         * looks again. Full with nobody waiting: armed, so that the
         * next one brings us here. */
        w->parked = 1;
        (void)evict_one(w, cu_now_ms());
    } else if (atomic_load(&w->accepting) &&
             cu_poller_arm(w->poller, gl->l->fd, CU_EV_IN, gl) < 0 && errno != ENOENT)
        failed = errno;
    pthread_mutex_unlock(&w->lock);
    atomic_fetch_sub(&w->accepters, 1);
    if (failed)  /* not under the lock: see rearm_listeners() */
        cu_log(CU_ERROR, "worker: poller: %s", strerror(failed));
}

/* ---- spooled bodies (docs/compat.md, Request bodies) ---------------------- */

/* A body the app would wait for in a thread: larger than --buffer-body,
 * or chunked (its size unknown); unless --stream-request-body. */
static int wants_spool(const struct gworker *w, const struct gconn *g)
{
    if (w->env->stream_body || g->body.done)
        return 0;
    return g->r.body == HTTP_BODY_CHUNKED ||
           (g->r.body == HTTP_BODY_LENGTH && g->r.content_length > w->env->buffer_body);
}

static void spool_begin(struct gworker *w, struct gconn *g)
{
    cu_spool_init(&g->spool, w->env->spool_memory, w->env->upload_dir);
    /* the client waits for it before it sends the body, which the
     * worker reads now, as a buffering proxy does */
    g->owe_continue = (g->r.flags & HTTP_REQ_EXPECT_CONTINUE) != 0;
    g->state = ST_SPOOL;
    body_clock(w, g, 0);
}

/* The request is over: its spool goes (the file with it). */
static void spool_done(struct gconn *g)
{
    g->body.spool = NULL;
    cu_spool_free(&g->spool);
}

static void refuse_as(struct gworker *w, struct gconn *g, int code, int head);

/* ST_SPOOL: moves what the connection holds of the body into the spool.
 * 1: the app may run (the body is whole, or failed: the error is
 * sticky); 0: more must come (the body's deadline moved on when some
 * came); -1: g was closed (a body over limit_request_body, answered 413;
 * or no room to spool it). */
static int spool_step(struct gworker *w, struct gconn *g)
{
    static const char cont[] = "HTTP/1.1 100 Continue\r\n\r\n";

    if (g->owe_continue) {
        g->owe_continue = 0;
        if (cu_conn_write(&g->c, cont, sizeof(cont) - 1) < 0) {
            destroy(w, g);
            return -1;
        }
    }
    for (;;) {
        const char *p;
        int64_t n = cu_body_peek(&g->body, &g->c, &p);

        if (n > 0 && cu_spool_add(&g->spool, p, (size_t)n) == 0) {
            cu_body_consume(&g->body, &g->c, (size_t)n);
            continue;
        }
        if (n == 0) {
            g->body.spool = &g->spool;
            return 1;
        }
        if (n == HTTP_AGAIN) {
            g->body.dpos = g->body.dend = 0;  /* all taken: the buffer may move */
            return 0;
        }
        if (n > 0) {  /* the spool failed (logged) */
            destroy(w, g);
            return -1;
        }
        if (n == HTTP_E_BODY_TOO_LARGE) {
            /* 413, the app never called; c.start is in the body now */
            const char *m = g->c.buf + g->head_off + g->r.method.off;
            refuse_as(w, g, (int)n, g->r.method.len == 4 && memcmp(m, "HEAD", 4) == 0);
            return -1;
        }
        /* a bad body, or the peer gone: the app meets it as it reads,
         * reported and answered as without a spool (serve.c) */
        return 1;
    }
}

/* ---- streamed responses (docs/compat.md, Responses) ----------------------- */

/* A response with its rest queued (a streamed one paused, or one whole
 * in hand): the poller waits for the socket, and no thread waits with
 * it. Its deadline is --send-timeout from each park (send_clock), moved
 * on whenever the client takes some: a reader that takes nothing that
 * long is cut. */
static int write_park(struct gworker *w, struct gconn *g)
{
    g->state = ST_WRITE;
    g->c.timeout_ms = 0;
    send_clock(w, g);
    park(w, g);
    return 0;
}

/* ---- held responses with one thread ----------------------------------------- */

/*
 * With several threads a held response parks for the poller (request_end
 * and write_park), and should this thread block in the app, a spare takes
 * the poller (the gate). With one there is no spare, so a held response
 * waits on w->held instead, its fd armed for reading as before: this
 * thread sends the list once the poller has nothing ready, once
 * HOLD_BATCH wait, or once the first has waited HOLD_WAIT_US, always
 * between two waits (pool_main: an event of the last wait may name a
 * connection that sending closes);
 * should it be stuck in the app, the main thread sends their bytes after
 * HOLD_RESCUE_MS (hold_rescue). The main thread looks that often while
 * anything is held, else it naps (tick) until a hold wakes it (hold_add).
 * The main thread only sends, under held_lock and while a connection is
 * on the list; this thread takes a connection off the list before it
 * touches it again.
 */
static void write_more(struct gworker *w, struct gthread *t, struct gconn *g);

static void hold_add(struct gworker *w, const struct gthread *t, struct gconn *g)
{
    int wake;

    g->state = ST_WRITE;
    g->timer.deadline = t->now_ms + w->send_ms;  /* should the socket be full */
    g->held = 1;
    g->held_next = NULL;
    pthread_mutex_lock(&w->held_lock);
    if (w->held_last)
        w->held_last->held_next = g;
    else {
        w->held_first = g;
        w->held_since = t->now_us;
    }
    w->held_last = g;
    w->nheld++;
    wake = w->napping;
    w->napping = 0;
    pthread_mutex_unlock(&w->held_lock);
    if (wake)
        cu_wake_signal(&w->nap);
}

/* An event for g, held: g leaves the list, this thread's again. */
static void hold_take(struct gworker *w, struct gconn *g)
{
    struct gconn *prev = NULL, *x;

    pthread_mutex_lock(&w->held_lock);
    for (x = w->held_first; x != g; x = x->held_next)
        prev = x;
    if (prev)
        prev->held_next = g->held_next;
    else
        w->held_first = g->held_next;
    if (w->held_last == g)
        w->held_last = prev;
    w->nheld--;
    pthread_mutex_unlock(&w->held_lock);
    g->held = 0;
}

/* Sends every held response, all of them before any connection goes on
 * (to its next request, or back to the poller). */
static void hold_flush(struct gworker *w, struct gthread *t)
{
    struct gconn *g, *next;

    pthread_mutex_lock(&w->held_lock);
    g = w->held_first;
    w->held_first = w->held_last = NULL;
    w->nheld = 0;
    pthread_mutex_unlock(&w->held_lock);
    for (struct gconn *x = g; x; x = x->held_next)
        (void)cu_conn_flush(&x->c);  /* write_more says what failed */
    for (; g; g = next) {
        next = g->held_next;
        g->held = 0;
        write_more(w, t, g);
    }
}

/* The main thread: the held responses' bytes, should the pool thread
 * not have sent them after HOLD_RESCUE_MS (it is in the app). 1 when it
 * must look again in HOLD_RESCUE_MS (something is held); 0: it naps, and
 * hold_add wakes it. */
static int hold_rescue(struct gworker *w, long long now)
{
    int look;

    pthread_mutex_lock(&w->held_lock);
    if (w->held_first && now * 1000 - w->held_since >= HOLD_RESCUE_MS * INT64_C(1000))
        for (struct gconn *g = w->held_first; g; g = g->held_next)
            (void)cu_conn_flush(&g->c);
    look = w->held_first != NULL;
    w->napping = !look;
    pthread_mutex_unlock(&w->held_lock);
    return look;
}

/* A request is over (HTTP/1 or an HTTP/2 stream): its access-log line,
 * and one more toward --max-requests. */
static void served(struct gworker *w, struct cu_request *q)
{
    const struct cu_worker_env *env = w->env;

    if (cu_access_wanted())
        cu_access(q);
    if (env->max_requests > 0 &&
        atomic_fetch_add(&w->served, 1) + 1 >= env->max_requests)
        cu_worker_recycle(env->slot, CU_RECYCLE_MAX_REQUESTS);
}

/* The paused response's end, the client gone: close() and the access
 * log, before g closes. */
static void stream_abandon(struct gworker *w, struct gconn *g)
{
    (void)w->env->resume(w->env->app, &g->q, 1);
    served(w, &g->q);  /* logged and counted as a request that ended */
}

/* ---- requests ------------------------------------------------------------- */

/* Gunicorn's keep-alive rule for gthread (docs/compat.md, Keep-alive): never when
 * keepalive is 0, when stopping, when the request says close, or when the
 * idle connections reach worker_connections - threads. */
static int must_close(struct gworker *w, const struct gconn *g)
{
    const struct cu_worker_env *env = w->env;
    if (env->keepalive <= 0 || cu_worker_stop ||
        !(g->r.flags & HTTP_REQ_KEEP_ALIVE) || (g->r.flags & HTTP_REQ_MUST_CLOSE))
        return 1;
    if (env->max_requests > 0 && atomic_load(&w->served) + 1 >= env->max_requests)
        return 1;
    return atomic_load(&w->idle.n) >= env->worker_connections - env->threads;
}

/* After a response is all sent: closes g (0), or makes it ready for the
 * next request (1). */
static int after_response(struct gworker *w, struct gthread *t, struct gconn *g)
{
    if (g->close_after || cu_worker_stop) {
        g->c.timeout_ms = 0;
        finish(w, g, !g->body.done);
        return 0;
    }
    if (!g->body.done) {
        g->c.timeout_ms = DRAIN_MS;
        if (cu_body_drain(&g->body, &g->c, DRAIN_LIMIT) < 0) {
            /* the rest of a body past the limit (--stream-request-body)
             * is unread: close after a linger, so that it cannot turn
             * the close into a reset that destroys the response */
            g->c.timeout_ms = 0;
            finish(w, g, 1);
            return 0;
        }
        t->now_us = cu_now_us();  /* the drain may have waited */
        t->now_ms = t->now_us / 1000;
    }
    g->c.timeout_ms = 0;
    g->c.keep = 0;
    return 1;
}

/* The response is over, or failed (rc < 0): the access log, the
 * recycle count, and g closed, parked for its queued rest, or ready for
 * its next request. Returns as run_request. */
static int request_end(struct gworker *w, struct gthread *t, struct gconn *g, int rc)
{
    spool_done(g);
    if (atomic_load(&g->c.wstate) == CU_W_ABORTED)
        rc = -1;  /* taken away by --request-timeout */
    g->c.whole = 0;
    served(w, &g->q);
    if (rc < 0) {
        destroy(w, g);
        return 0;
    }
    g->close_after = g->q.out.close;
    if (g->c.held && !w->gate) {  /* one thread: see hold_add */
        g->c.held = 0;
        hold_add(w, t, g);
        return 0;
    }
    g->c.held = 0;
    if (g->c.queue)
        return write_park(w, g);
    return after_response(w, t, g);
}

/* Around the app's part of request q on t: watched for --timeout; then
 * t's clock is read again, as the app may have taken long. */
static void app_begin(struct gthread *t, const struct cu_worker_env *env,
                      const struct cu_request *q)
{
    cu_running_begin(t->run, env, q, t->now_ms);
}

static void app_end(struct gthread *t, const struct cu_worker_env *env, int64_t began_us)
{
    int64_t now = cu_now_us();

    cu_running_end(t->run, env);
    t->now_ms = now / 1000;
    t->now_us = now;
    /* kept times 8, so that the average's division loses nothing */
    t->app_us8 += now - began_us - t->app_us8 / 8;
    t->hold = t->app_us8 >= INT64_C(8) * HOLD_US && t->app_us8 < INT64_C(8) * HOLD_MAX_US;
}

/*
 * Runs the app on the request whose head g holds. Returns 1 when g stays
 * open for the next request, 0 when it was closed or parked (its queued
 * response goes out from the poller; a streamed one is resumed then).
 *
 * Held responses (docs/architecture.md): while this thread's requests
 * take HOLD_US to HOLD_MAX_US on average, a response's last write is not
 * sent from the app's call but queued (cu_conn_hold), and the poller
 * sends it with the others that are ready. Each send to a waiting client
 * wakes it, on another core at the cost of an interrupt, and runs its
 * side of the TCP stack here between two app calls, leaving the app's
 * caches cold: held, the sends go out together and the app runs warm.
 * Quicker apps keep their clients busy, so their sends wake no one;
 * beside slower ones the wake is small, and a held response would wait
 * behind the events ready before it, or behind an app that blocks.
 * Should this thread's next call, another connection's, block (a long
 * poll, a stream), someone else must send the held response, or it would
 * wait for that call however long: with several threads a free one (a
 * spare, or one at the poller), so only while there is one; with one
 * thread the main thread (hold_rescue). Nor with --request-timeout:
 * a call past it is taken away (running.c) with a 504 when nothing of
 * its response was written, which a held response is not yet.
 */
static int run_request(struct gworker *w, struct gthread *t, struct gconn *g)
{
    struct cu_worker_env *env = w->env;
    struct cu_request *q = &g->q;
    int64_t began = t->now_us;  /* no clock read of its own (app_end) */
    int rc;

    *q = (struct cu_request){.conn = &g->c, .http = &g->r, .head_off = g->head_off,
                             .body = &g->body, .must_close = must_close(w, g),
                             .may_pause = env->resume != NULL};
    q->started_us = cu_access_wanted() ? cu_now_us() : 0;
    app_begin(t, env, q);
    /* the app's reads and writes wait in this thread, bounded */
    g->c.timeout_ms = w->timeout_ms;
    g->c.may_hold = t->hold && !g->c.vt && !env->request_timeout &&
                    (!w->gate || cu_gate_spare(w->gate));
    rc = env->serve(env->app, q);
    g->c.may_hold = 0;
    app_end(t, env, began);
    if (q->paused && rc == 0)
        return write_park(w, g);
    return request_end(w, t, g, rc);
}

/* A refused request: Gunicorn's answer, then close. */
/* head: 1 or 0 when the request's method is known (its head parsed), -1
 * when the error page must look at what is buffered for "HEAD ". */
static void refuse_as(struct gworker *w, struct gconn *g, int code, int head)
{
    int rc;

    cu_request_refused(&g->c, &g->p, code);
    /* a head is at c.start until it is done, at head_off after */
    cu_request_refused_access(&g->c, &g->p, &g->r,
                              g->c.buf + (head < 0 ? g->c.start : g->head_off), code);
    g->c.timeout_ms = 1000;  /* an error page fits any socket buffer */
    rc = !http_error_info(code)->respond ? -1
         : head < 0 ? cu_conn_send_error(&g->c, code)
                    : cu_conn_send_error_to(&g->c, code, head);
    if (rc < 0) {
        destroy(w, g);
        return;
    }
    g->c.timeout_ms = 0;
    finish(w, g, 1);
}

static void refuse(struct gworker *w, struct gconn *g, int code)
{
    refuse_as(w, g, code, -1);
}

/* A complete head of len bytes: sets up its body. 1 when the app can run,
 * 0 when a small body is still on its way (state ST_BODY). */
static int head_done(struct gworker *w, struct gconn *g, int64_t len)
{
    g->head_off = g->c.start;
    g->c.start += (size_t)len;
    g->c.keep = g->c.start;  /* the head stays put while the body is read */
    cu_body_init(&g->body, &g->r, w->env->http);
    if (wants_spool(w, g)) {
        spool_begin(w, g);
        return 0;
    }
    if (g->r.body == HTTP_BODY_LENGTH && g->r.content_length <= w->env->buffer_body &&
        !(g->r.flags & HTTP_REQ_EXPECT_CONTINUE) &&
        g->c.end - g->c.start < g->r.content_length) {
        g->state = ST_BODY;
        body_clock(w, g, 0);
        return 0;
    }
    return 1;
}

/*
 * Takes g as far as it goes without waiting: reads what the peer sent,
 * parses, runs the app, and again for pipelined requests; then parks g in
 * the poller, or closes it.
 */
/* Makes g ready for its next request after a response: 1 to go on parsing
 * what is buffered, 0 when g was parked idle or closed. */
static int next_request(struct gworker *w, const struct gthread *t, struct gconn *g)
{
    if (begin_head(w, g) < 0) {
        destroy(w, g);
        return 0;
    }
    if (g->c.end == g->c.start && !cu_conn_pending(&g->c)) {
        /* nothing pipelined: idle, without a buffer */
        g->state = ST_IDLE;
        cu_conn_shrink(&g->c);
        headers_put(g);
        g->timer.deadline = t->now_ms + (long long)w->env->keepalive * 1000;
        park(w, g);
        return 0;
    }
    head_clock(w, t, g);  /* a new head, already here */
    return 1;
}

/* ---- HTTP/2 (src/http2/) --------------------------------------------------- */

/* One HTTP/2 stream's request on this pool thread, as run_request runs
 * an HTTP/1 one: watched for --timeout, logged, counted. */
static int serve_stream(void *arg, void *thread, struct cu_request *q)
{
    struct gworker *w = arg;
    struct gthread *t = thread;
    struct cu_worker_env *env = w->env;
    int64_t began = t->now_us;
    int rc;

    q->started_us = cu_access_wanted() ? cu_now_us() : 0;
    app_begin(t, env, q);
    rc = env->serve(env->app, q);
    app_end(t, env, began);
    served(w, q);
    return rc;
}

/* Hands g's connection over to a session (up: the request that asked for
 * the h2c upgrade, in g's buffer, or NULL); g is gone. */
static void hand_over(struct gworker *w, struct gconn *g, const struct cu_h2_upgrade *up)
{
    struct cu_conn c;
    struct http_header *headers = g->headers;  /* up's, until adopted */
    int trusted = g->trusted;

    unregister(w, g);
    memcpy(&c, &g->c, sizeof(c));
    /* no spool yet: what counts for HTTP/1 goes with g */
    cu_spool_free(&g->spool);
    atomic_fetch_sub(&w->head_mem, g->counted);
    gconn_free(w, g);
    if (cu_h2_adopt(w->h2, &c, trusted, up) < 0)
        conn_gone(w);
    free(headers);
}

/* Whether g speaks HTTP/2 (docs/compat.md, HTTP/2): ALPN chose h2, or a
 * trusted peer opened a plain connection with the h2c preface (after its
 * PROXY header, taken here). 1: g was handed over to a session (g is
 * gone); HTTP_AGAIN: its first bytes agree with the preface so far, wait
 * for more; another HTTP_E_*: its PROXY header is refused; 0: HTTP/1. */
static int to_h2(struct gworker *w, struct gconn *g)
{
    if (g->c.tls ? !cu_conn_alpn_h2(&g->c)
                 : !w->env->h2.prior_knowledge || !g->trusted || g->c.wrote ||
                       g->c.end == g->c.start)
        return 0;
    if (!g->c.tls) {
        int pre = cu_h2c_opens(w->env, &g->c, &g->proxy_done);
        if (pre <= 0)
            return pre;
    }
    hand_over(w, g, NULL);
    return 1;
}

/* An HTTP/1.1 request whose head of len bytes g holds, from a trusted
 * peer on a plain connection, asking for h2c by Upgrade when
 * http2_cleartext allows it (docs/compat.md, HTTP/2): 1 when g was
 * handed over (the request is stream 1 of its session) or refused (a
 * bad HTTP2-Settings: 400); 0: it is served as HTTP/1.1. */
static int upgrade_h2(struct gworker *w, struct gconn *g, int64_t len)
{
    uint8_t settings[CU_H2C_SETTINGS_MAX];
    struct http_request r = g->r;  /* g goes before the session is made */
    struct cu_h2_upgrade up = {.settings = settings, .buf = g->c.buf + g->c.start, .r = &r};
    int rc;

    if (!w->env->h2.upgrade || g->c.tls || !g->trusted)
        return 0;
    rc = cu_h2c_asked(up.buf, &g->r, settings, &up.settings_len);
    if (rc < 0) {
        cu_log(CU_DEBUG, "Refusing an h2c upgrade: HTTP2-Settings is not base64url "
               "of a SETTINGS payload");
        refuse(w, g, HTTP_E_HEADER);
    } else if (rc > 0) {
        g->c.start += (size_t)len;  /* what follows the head is HTTP/2's */
        hand_over(w, g, &up);
    }
    return rc != 0;
}

/*
 * Takes g as far as it goes without waiting: reads what the peer sent,
 * parses, runs the app, and again for pipelined requests; then parks g in
 * the poller, or closes it.
 */
static void advance(struct gworker *w, struct gthread *t, struct gconn *g)
{
    for (;;) {
        ssize_t n;

        if (g->state == ST_SPOOL) {
            int rc = spool_step(w, g);
            if (rc < 0)
                return;
            if (rc > 0) {
                if (!run_request(w, t, g) || !next_request(w, t, g))
                    return;
                continue;
            }
        } else if (g->state == ST_BODY) {
            if (g->c.end - g->c.start >= g->r.content_length) {
                if (!run_request(w, t, g) || !next_request(w, t, g))
                    return;
                continue;
            }
        } else if (g->state == ST_HEAD) {
            int64_t rc;
            int h2 = w->h2 ? to_h2(w, g) : 0;
            if (h2 > 0)
                return;
            if (!g->headers && begin_head(w, g) < 0) {  /* a new connection */
                destroy(w, g);
                return;
            }
            rc = h2 < 0 ? h2 : cu_head_step(w->env, &g->c, &g->p, &g->r, &g->proxy_done);
            if (rc > 0) {
                if (w->h2 && upgrade_h2(w, g, rc))
                    return;
                if (!head_done(w, g, rc))
                    continue;
                if (!run_request(w, t, g) || !next_request(w, t, g))
                    return;
                continue;
            }
            if (rc != HTTP_AGAIN) {
                refuse(w, g, (int)rc);
                return;
            }
        }
        n = cu_conn_fill(&g->c, g->state == ST_BODY || g->state == ST_SPOOL ? w->body_max
                                                                           : w->head_max);
        if (n > 0) {
            if (g->state == ST_IDLE) {
                /* the first byte of a new request: the head's clock starts */
                if (begin_head(w, g) < 0) {
                    destroy(w, g);
                    return;
                }
                head_clock(w, t, g);
            } else if (g->state == ST_BODY || g->state == ST_SPOOL) {
                body_clock(w, g, n);
            } else if (g->fresh) {
                head_clock(w, t, g);
            }
            if (account(w, g) < 0) {
                cu_log(CU_DEBUG, "Closing a connection: the heads' buffers passed "
                       "--max-head-memory");
                destroy(w, g);
                return;
            }
            continue;
        }
        if (n < 0 && errno == EAGAIN) {
            park(w, g);
            return;
        }
        if (n == 0 && g->state == ST_SPOOL)
            continue;  /* the body's end, or a body cut short: spool_step says */
        if (n == 0 && g->state == ST_BODY) {
            /* the body is cut short: the app sees that as it reads, as
             * with sync (the head and what came of the body are here) */
            if (run_request(w, t, g))
                destroy(w, g);
            return;
        }
        /* EOF, reset, or a head past the buffer's limit: just close, as
         * Gunicorn does when the peer is gone */
        if (n < 0 && g->c.tls && errno == EPROTO) {
            /* not TLS (plain HTTP?), or a refused handshake: what it sent,
             * unread, would turn a close now into a reset */
            cu_tls_failed(&g->c, errno);
            finish(w, g, 1);
            return;
        }
        if (n == 0 && g->state == ST_HEAD && g->c.end > g->c.start)
            cu_request_refused(&g->c, &g->p, HTTP_E_EOF);
        destroy(w, g);
        return;
    }
}

/* ST_WRITE, a paused response's queue sent: the app's iterator goes on
 * in this thread until the socket is full again, or the response ends. */
static void stream_resume(struct gworker *w, struct gthread *t, struct gconn *g)
{
    struct cu_worker_env *env = w->env;
    int64_t began = t->now_us;
    int rc;

    app_begin(t, env, &g->q);
    g->c.timeout_ms = w->timeout_ms;
    rc = env->resume(env->app, &g->q, 0);
    app_end(t, env, began);
    if (g->q.paused && rc == 0) {
        write_park(w, g);
        return;
    }
    if (request_end(w, t, g, rc) && next_request(w, t, g))
        advance(w, t, g);
}

/* ST_WRITE: more of the queued response. */
static void write_more(struct gworker *w, struct gthread *t, struct gconn *g)
{
    uint64_t before = g->c.wrote;
    int rc = cu_conn_flush(&g->c);

    if (rc > 0) {
        if (g->c.wrote != before)  /* the client took some */
            send_clock(w, g);
        park(w, g);
        return;
    }
    if (rc < 0) {
        destroy(w, g);
        return;
    }
    if (g->q.paused) {
        stream_resume(w, t, g);
        return;
    }
    if (after_response(w, t, g) && next_request(w, t, g))
        advance(w, t, g);
}

static void linger(struct gworker *w, struct gconn *g)
{
    char sink[4096];

    for (;;) {
        ssize_t n = recv(g->c.fd, sink, sizeof(sink), MSG_DONTWAIT);
        if (n > 0)
            continue;
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
            park(w, g);  /* its deadline is unchanged */
            return;
        }
        destroy(w, g);
        return;
    }
}

static void on_conn(struct gworker *w, struct gthread *t, struct gconn *g)
{
    int expired;

    if (g->held)  /* one thread: bytes came, or the client left */
        hold_take(w, g);
    pthread_mutex_lock(&w->lock);
    expired = g->expired;
    cu_timers_remove(&g->timer);
    pthread_mutex_unlock(&w->lock);
    if (expired)
        destroy(w, g);
    else if (g->state == ST_LINGER)
        linger(w, g);
    else if (g->state == ST_WRITE)
        write_more(w, t, g);
    else
        advance(w, t, g);
}

/* ---- the pool ------------------------------------------------------------- */

static void on_event(struct gworker *w, struct gthread *t, const struct cu_event *ev)
{
    if (*(enum kind *)ev->data == SRC_LISTENER)
        on_listener(w, ev->data);
    else if (*(enum kind *)ev->data == SRC_CONN)
        on_conn(w, t, ev->data);
    else
        cu_h2_event(ev->data, ev->events, t);
}

/* An event the gate gave: a listener or an HTTP/2 session is one-shot,
 * re-armed by its handler, and not this thread's once re-armed; a
 * connection is let go when parked or closed. */
static void gated_event(struct gworker *w, struct gthread *t, const struct cu_event *ev)
{
    if (*(enum kind *)ev->data != SRC_CONN)
        (void)cu_gate_done(w->gate, ev->data);
    on_event(w, t, ev);
}

/*
 * How many events the next wait takes: up to max while events are cheap
 * (an epoll_wait for several), one at a time once they are not. A batch
 * is served in full before the next wait, so a connection whose request
 * came while it was served waits for the whole batch, and then for
 * those the next wait puts before it: with slow requests that tail is
 * worse than the strict order of one event a wait (an app of 250 µs of
 * Python, wrk -c8: p99 3.8 ms against 2.3), and the system call saved is
 * nothing beside them.
 */
static int batch_size(int max, int64_t since_us, int served)
{
    return served > 0 && (cu_now_us() - since_us) / served < CHEAP_US ? max : 1;
}

/* Several pool threads: what the gate gives this one, an event or its
 * turn at the poller (gate.h). */
static void *gated_main(struct gworker *w, struct gthread *t, int max)
{
    struct cu_event ev[WAIT_BATCH];
    int me = (int)(t - w->threads), served = 0, want = max, count = 0;
    int64_t since = 0;

    for (;;) {
        int n, got = cu_gate_next(w->gate, me, served, &ev[0]);

        if (got) {
            served = 1;
            count++;
            if (got == 2) {  /* it slept in the gate; else the clock is
                              * the one its last event left (app_end) */
                t->now_us = cu_now_us();
                t->now_ms = t->now_us / 1000;
            }
            gated_event(w, t, &ev[0]);
            continue;
        }
        if (count > 0)
            want = batch_size(max, since, count);
        n = cu_poller_wait_many(w->poller, ev, want, 1000);
        served = 1;
        if (n < 0 && errno != EINTR) {
            cu_log(CU_ERROR, "worker: poller: %s", strerror(errno));
            cu_gate_leave(w->gate);  /* the poller is free for another */
            break;
        }
        since = cu_now_us();
        t->now_ms = since / 1000;
        t->now_us = since;
        count = 0;
        if (cu_gate_serve(w->gate, me, ev, n) > 0) {
            count++;
            gated_event(w, t, &ev[0]);
        }
    }
    return NULL;
}

static void *pool_main(void *arg)
{
    struct gthread *t = arg;
    struct gworker *w = t->w;
    struct cu_event ev[WAIT_BATCH];
    /* a wait takes what is ready in one call: a lone pool thread, or the
     * gate's, which hands what it cannot serve at once to a spare should
     * it stall. One event a wait with HTTP/2, as one session's event may
     * end the session another names */
    int max = w->h2 ? 1 : WAIT_BATCH, want = max;

    if (w->env->thread_start)
        w->env->thread_start(w->env->app);
    if (w->gate)
        return gated_main(w, t, max);
    for (;;) {
        int n;
        int64_t since;

        /* held responses go once enough wait, or the first has waited long
         * enough, or nothing is ready (hold_add); between two waits, so
         * that no event of a wait names a connection their end closed */
        if (w->nheld >= HOLD_BATCH ||
            (w->nheld && t->now_us - w->held_since >= HOLD_WAIT_US))
            hold_flush(w, t);
        n = cu_poller_wait_many(w->poller, ev, want, w->nheld ? 0 : 1000);
        if (n == 0 && w->nheld) {
            hold_flush(w, t);
            continue;
        }
        since = cu_now_us();
        /* the batch's clock: a wait takes several events only while they
         * are cheap (batch_size) */
        t->now_ms = since / 1000;
        t->now_us = since;
        if (n < 0 && errno != EINTR) {
            cu_log(CU_ERROR, "worker: poller: %s", strerror(errno));
            break;
        }
        for (int i = 0; i < n; i++)
            on_event(w, t, &ev[i]);
        if (n > 0)
            want = batch_size(max, since, n);
    }
    return NULL;
}

/* Starts the pool with every signal blocked but the ones that must reach
 * the thread that caused or is meant for them: the process's signals all
 * go to the main thread. */
static int start_pool(struct gworker *w)
{
    sigset_t all, old;
    int rc = 0;

    sigfillset(&all);
    sigdelset(&all, SIGSEGV);
    sigdelset(&all, SIGBUS);
    sigdelset(&all, SIGFPE);
    sigdelset(&all, SIGILL);
    if (w->env->dump_signal > 0)
        sigdelset(&all, w->env->dump_signal);
    pthread_sigmask(SIG_SETMASK, &all, &old);
    for (int i = 0; i < w->env->threads && rc == 0; i++) {
        struct cu_running *r = &w->running[i];
        w->threads[i].w = w;
        w->threads[i].run = r;
        cu_running_init(r);
        rc = pthread_create(&r->tid, NULL, pool_main, &w->threads[i]);
        if (rc)
            cu_log(CU_ERROR, "worker: starting thread %d: %s", i + 1, strerror(rc));
        else
            pthread_detach(r->tid);
    }
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    return rc ? -1 : 0;
}

/* ---- the main thread ------------------------------------------------------ */

/* One turn of the main thread: beat, expire, report; sleeps until the
 * next timer, a second at most, or a signal. */
static void tick(struct gworker *w, int max_sleep_ms)
{
    long long now = cu_now_ms(), next = now + max_sleep_ms, d;
    int room = 0;

    cu_heartbeat(w->env->slot);
    if (cu_worker_reopen) {
        cu_worker_reopen = 0;
        cu_log_reopen();
    }
    pthread_mutex_lock(&w->lock);
    if (cu_worker_stop) {
        /* no keep-alive now: idle connections go at once, and so do new
         * ones that have sent nothing for a while (those just taken
         * from the backlog are read first) */
        struct cu_timer *t = w->fresh.first, *after;
        while (w->idle.first)
            expire(of_timer(w->idle.first));
        for (; t; t = after) {
            struct gconn *g = of_timer(t);
            after = t->next;
            if (g->c.end == 0 && now - g->born_ms > STOP_QUIET_MS && cu_conn_silent(&g->c))
                expire(g);
        }
    }
    if ((d = expire_due(&w->idle, now)) && d < next)
        next = d;
    if ((d = expire_due(&w->head, now)) && d < next)
        next = d;
    if ((d = expire_due(&w->linger, now)) && d < next)
        next = d;
    if ((d = expire_due(&w->fresh, now)) && d < next)
        next = d;
    /* full, and someone waits: room, if an idle connection can give it
     * (an HTTP/1 one, else an idle HTTP/2 session, below) */
    if (w->parked && !cu_worker_stop &&
        cu_listeners_waiting(w->env->listeners, w->env->n_listeners))
        room = !evict_one(w, now);
    pthread_mutex_unlock(&w->lock);
    if (w->h2)
        cu_h2_tick(w->h2, now, room);
    cu_running_watch(w->running, w->env->threads, w->env, w->timeout_ms, now);
    /* a list that was empty gets deadlines no sooner than its shortest
     * duration, which max_sleep_ms never exceeds */
    if (w->gate) {
        (void)poll(NULL, 0, (int)(next - now));
        return;
    }
    if (hold_rescue(w, now) && next > now + HOLD_RESCUE_MS)
        next = now + HOLD_RESCUE_MS;
    /* one thread: a hold ends a nap (hold_add) */
    (void)cu_wake_wait(&w->nap, (int)(next - now));
}

/* A graceful stop: no more accepting from the poller; the connections
 * already in the listeners' backlogs are taken in (and served by the
 * pool), then this worker's copies of the listeners are closed. */
static void stop_accepting(struct gworker *w)
{
    pthread_mutex_lock(&w->lock);
    atomic_store(&w->accepting, 0);
    pthread_mutex_unlock(&w->lock);
    /* a pool thread may be between its look at `accepting` and an accept:
     * what it takes must be counted before the wait for nconns begins */
    while (atomic_load(&w->accepters) > 0)
        (void)poll(NULL, 0, 1);
    for (size_t i = 0; i < w->env->n_listeners; i++) {
        struct cu_listener *l = w->listeners[i].l;

        (void)cu_poller_del(w->poller, l->fd);
        for (int n = 0; n < w->env->worker_connections; n++) {
            struct sockaddr_storage peer;
            socklen_t plen;
            int fd = cu_accept(l, &peer, &plen);
            if (fd < 0)
                break;  /* EAGAIN: the backlog is empty */
            add_conn(w, fd, &peer, plen, l);
        }
        close(l->fd);
    }
}

/* The gate's (gate.h): a kept-armed connection the poller reported
 * while another thread serves it leaves the poller until that thread is
 * done; a closed one is freed once no event can name it. */
static void held_off(void *data, void *arg)
{
    struct gworker *w = arg;
    struct gconn *g = data;

    if (g->kind == SRC_CONN)
        (void)cu_poller_del(w->poller, g->c.fd);
}

static void release(void *data, void *arg)
{
    (void)arg;
    free(data);
}

static int setup(struct gworker *w, struct cu_worker_env *env)
{
    int shortest = 1000;

    memset(w, 0, sizeof(*w));
    w->env = env;
    w->timeout_ms = env->timeout > 0 ? env->timeout * 1000 : 3600 * 1000;
    w->head_ms = env->header_ms > 0 ? env->header_ms : w->timeout_ms;
    w->new_ms = env->new_conn_ms > 0 ? env->new_conn_ms : w->timeout_ms;
    /* a write's wait: the shorter of the two, as conn.c's wait_for */
    w->send_ms = env->send_ms > 0 && env->send_ms < w->timeout_ms ? env->send_ms
                                                                  : w->timeout_ms;
    w->head_max = cu_head_max(env);
    w->body_max = w->head_max + env->buffer_body;
    if (env->threads < 1)
        env->threads = 1;
    if (env->worker_connections < 1)
        env->worker_connections = 1;
    /* one thread at the poller at a time (several: the gate), so a
     * connection's fd may stay armed while it is served (poller.h); one-
     * shot with several threads and HTTP/2 */
    w->keep = env->threads == 1 || !env->h2.on ? CU_EV_KEEP : 0;
    if (env->threads > 1 &&
        !(w->gate = cu_gate_new(env->threads, STALL_MS, WAIT_BATCH,
                                &(struct cu_gate_ops){.held = held_off, .release = release,
                                                      .arg = w}))) {
        cu_log(CU_ERROR, "worker: the pool's gate: %s", strerror(errno));
        return -1;
    }
    w->nap.fds[0] = w->nap.fds[1] = -1;
    /* one pool thread: the main thread's naps, which a hold ends */
    if (!w->gate && cu_wake_open(&w->nap) < 0) {
        cu_log(CU_ERROR, "worker: the main thread's wake-up channel: %s", strerror(errno));
        return -1;
    }
    atomic_store(&w->accepting, 1);
    if ((errno = pthread_mutex_init(&w->lock, NULL)) != 0 ||
        (errno = pthread_mutex_init(&w->held_lock, NULL)) != 0) {
        cu_log(CU_ERROR, "worker: a lock: %s", strerror(errno));
        return -1;
    }
    w->poller = cu_poller_new();
    w->listeners = calloc(env->n_listeners ? env->n_listeners : 1, sizeof(*w->listeners));
    w->threads = calloc((size_t)env->threads, sizeof(*w->threads));
    w->running = calloc((size_t)env->threads, sizeof(*w->running));
    if (!w->poller || !w->listeners || !w->threads || !w->running) {
        cu_log(CU_ERROR, "worker: %s", strerror(errno ? errno : ENOMEM));
        return -1;
    }
    for (size_t i = 0; i < env->n_listeners; i++) {
        w->listeners[i].kind = SRC_LISTENER;
        w->listeners[i].l = &env->listeners[i];
        if (cu_poller_add(w->poller, env->listeners[i].fd, CU_EV_IN, &w->listeners[i]) < 0) {
            cu_log(CU_ERROR, "worker: poller: %s", strerror(errno));
            return -1;
        }
    }
    if (env->h2.on && !(w->h2 = cu_h2_new(&(struct cu_h2_host){
                           .env = env, .poller = w->poller, .timeout_ms = w->timeout_ms,
                           .serve = serve_stream, .gone = conn_gone, .arg = w})))
        return -1;
    if (env->keepalive > 0 && env->keepalive * 1000 < shortest)
        shortest = env->keepalive * 1000;
    /* the heartbeat twice per --timeout, so the master never sees a gap */
    if (env->timeout > 0 && env->timeout * 500 < shortest)
        shortest = env->timeout * 500;
    return shortest;
}

int cu_gthread_run(struct cu_worker_env *env)
{
    struct gworker w;
    long long until;
    int max_sleep = setup(&w, env);

    if (max_sleep < 0 || start_pool(&w) < 0)
        return 1;
    while (!cu_worker_stop) {
        if (getppid() != env->ppid) {
            cu_log(CU_INFO, "Parent changed, shutting down: %d", (int)getpid());
            cu_worker_stop = 1;
            break;
        }
        tick(&w, max_sleep);
    }
    /* graceful: no new connections; idle ones close, requests in flight
     * finish, within --graceful-timeout */
    stop_accepting(&w);
    until = cu_now_ms() + (long long)env->graceful_timeout * 1000;
    while (atomic_load(&w.nconns) > 0 && cu_now_ms() < until)
        tick(&w, 100);
    if (cu_worker_reopen)
        cu_log_reopen();
    cu_log(CU_INFO, "Worker exiting (pid: %d)", (int)getpid());
    /* the pool is left running: the process exits under it */
    return 0;
}
