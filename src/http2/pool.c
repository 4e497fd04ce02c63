/*
 * The worker's HTTP/2 part: connections taken over as sessions, the
 * queue of streams whose requests wait for a pool thread (an eventfd in
 * the worker's poller, one job per event), the poller's events for both,
 * and the main thread's tick (idle deadlines, the graceful stop).
 */
#include "http2/internal.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "core/clock.h"
#include "core/log.h"

static const char preface[] = "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";

int cu_h2_preface(const char *buf, size_t n)
{
    size_t len = sizeof(preface) - 1;

    if (memcmp(buf, preface, n < len ? n : len) != 0)
        return 0;
    return n >= len ? 1 : -1;
}

void cu_h2_free(struct cu_h2 *h)
{
    if (!h)
        return;
    if (h->efd >= 0) {
        (void)cu_poller_del(h->host.poller, h->efd);
        close(h->efd);
    }
    nghttp2_session_callbacks_del(h->cbs);
    nghttp2_option_del(h->opts);
    free(h);
}

struct cu_h2 *cu_h2_new(const struct cu_h2_host *host)
{
    struct cu_h2 *h = calloc(1, sizeof(*h));

    if (h)
        h->efd = -1;
    if (!h || h2_setup(h) < 0) {
        cu_log(CU_ERROR, "HTTP/2: out of memory");
        cu_h2_free(h);
        return NULL;
    }
    h->host = *host;
    /* the worker's parser rules, with "HTTP/2.0" in the head we make */
    h->http = *host->env->http;
    h->http.flags |= HTTP_PERMIT_UNCONVENTIONAL_VERSION;
    pthread_mutex_init(&h->qlock, NULL);
    pthread_mutex_init(&h->lock, NULL);
    h->jw.kind = CU_H2_KIND;
    h->jw.what = W_JOBS;
    h->jw.owner = h;
    if (H2_LOOP(h))  /* no pool: the streams are begun by the walk */
        return h;
    h->efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK | EFD_SEMAPHORE);
    if (h->efd < 0 || cu_poller_add(host->poller, h->efd, CU_EV_IN, &h->jw) < 0) {
        cu_log(CU_ERROR, "HTTP/2: job queue: %s", strerror(errno));
        cu_h2_free(h);
        return NULL;
    }
    return h;
}

void h2_dispatch(struct h2_stream *st)
{
    struct h2_session *s = st->s;
    struct cu_h2 *h = s->h;

    st->refs++;
    st->dispatched = 1;
    s->refs++;
    s->running++;
    pthread_mutex_lock(&h->qlock);
    if (h->jobs_last)
        h->jobs_last->next_job = st;
    else
        h->jobs = st;
    h->jobs_last = st;
    h->unsignalled++;
    pthread_mutex_unlock(&h->qlock);
}

void h2_signal(struct cu_h2 *h)
{
    uint64_t n;

    if (H2_LOOP(h))
        return;
    pthread_mutex_lock(&h->qlock);
    n = h->unsignalled;
    h->unsignalled = 0;
    pthread_mutex_unlock(&h->qlock);
    if (n && write(h->efd, &n, sizeof(n)) < 0)  /* not reached: 2^64 - 2 jobs */
        cu_log(CU_ERROR, "HTTP/2: job queue: %s", strerror(errno));
}

/* Takes one queued job, if the eventfd still counts one for it (a
 * semaphore: each read claims one). NULL: none left. */
static struct h2_stream *claim(struct cu_h2 *h)
{
    uint64_t v;
    struct h2_stream *st = NULL;

    if (read(h->efd, &v, sizeof(v)) == (ssize_t)sizeof(v)) {
        pthread_mutex_lock(&h->qlock);
        if ((st = h->jobs) != NULL && !(h->jobs = st->next_job))
            h->jobs_last = NULL;
        pthread_mutex_unlock(&h->qlock);
    }
    return st;
}

static void on_jobs(struct cu_h2 *h, void *thread)
{
    struct h2_stream *st = claim(h);

    /* the next job to the next thread, while this one runs its own */
    if (cu_poller_arm(h->host.poller, h->efd, CU_EV_IN, &h->jw) < 0)
        cu_log(CU_ERROR, "HTTP/2: job queue: %s", strerror(errno));
    if (st)
        h2_stream_run(st, thread);
}

/* ---- the loop mode ------------------------------------------------------------ */

/* The next queued stream (loop mode: no eventfd), or NULL. */
static struct h2_stream *next_job(struct cu_h2 *h)
{
    struct h2_stream *st = h->jobs;

    if (st && !(h->jobs = st->next_job))
        h->jobs_last = NULL;
    return st;
}

/* Begins the streams whose requests came (s->m held, released around the
 * host's calls). */
static void begin_streams(struct h2_session *s)
{
    struct cu_h2 *h = s->h;
    struct h2_stream *st;

    while ((st = next_job(h))) {
        int rc = -1;
        if (!st->closed && !st->s->dead) {
            pthread_mutex_unlock(&s->m);
            rc = h->host.begin(h->host.arg, st);
            pthread_mutex_lock(&s->m);
        }
        if (rc < 0) {  /* nobody serves it: its end (a reset) */
            struct h2_session *o = st->s;
            if (o != s)  /* not reached: each walk begins what its pump queued */
                pthread_mutex_lock(&o->m);
            h2_stream_over(st, 0);
            o->refs--;  /* the job's; s's own walk holds one more */
            if (o != s)
                pthread_mutex_unlock(&o->m);
        }
    }
}

/* A stream whose waiter is due an event, not seen by this walk yet; the
 * event in *what. NULL: none left. */
static struct h2_stream *due_one(struct h2_session *s, int *what)
{
    for (struct h2_stream *st = s->streams; st; st = st->snext) {
        if (st->walked == s->walk)
            continue;
        st->walked = s->walk;
        if ((*what = h2_stream_due(st)) != 0)
            return st;
    }
    return NULL;
}

/* After a pump (loop mode): new requests begun, each waiting stream told
 * what came for it; then a dead session's fds are let go. s->m is not
 * held; the caller holds a reference to s, dropped here. */
static void walk(struct h2_session *s)
{
    struct cu_h2 *h = s->h;
    struct h2_stream *st;
    int what;

    pthread_mutex_lock(&s->m);
    begin_streams(s);
    s->walk++;
    while ((st = due_one(s, &what))) {
        st->refs++;  /* the event may end the stream's app */
        pthread_mutex_unlock(&s->m);
        h->host.event(st->up, what);
        pthread_mutex_lock(&s->m);
        h2_stream_unref(st);  /* the list may have changed: due_one starts over */
    }
    if (s->dead && !s->unwatched) {
        s->unwatched = 1;
        (void)h->host.watch(h->host.arg, s->c.fd, 'r', 0, &s->rd);
        (void)h->host.watch(h->host.arg, s->wfd, 'w', 0, &s->wr);
        s->out_armed = 0;
        s->refs--;  /* the read watcher's (the caller's is still held) */
    }
    h2_unref(s);
}

/* Loop mode: the socket is readable or writable. */
static void on_ready(struct h2_session *s)
{
    pthread_mutex_lock(&s->m);
    if (!s->dead) {
        (void)h2_pump(s);
        h2_after_pump(s);
    }
    s->refs++;
    pthread_mutex_unlock(&s->m);
    walk(s);
}

/* The read watcher: bytes (or the end) from the peer. */
static void on_read(struct h2_session *s, void *thread)
{
    pthread_mutex_lock(&s->m);
    if (!s->dead) {
        (void)h2_pump(s);
        h2_after_pump(s);
    }
    if (!s->dead && cu_poller_arm(s->h->host.poller, s->c.fd, CU_EV_IN, &s->rd) == 0) {
        struct cu_h2 *h = s->h;
        struct h2_stream *st;
        pthread_mutex_unlock(&s->m);
        /* a request this read completed runs here, as an HTTP/1 one does
         * on the thread that read it: no hand-off for the first job */
        if ((st = claim(h)))
            h2_stream_run(st, thread);
        return;
    }
    h2_kill(s);
    h2_unref(s);  /* the read watcher's */
}

/* The write watcher: the socket takes more of what waits. */
static void on_write(struct h2_session *s)
{
    pthread_mutex_lock(&s->m);
    s->out_armed = 0;
    if (!s->dead) {
        (void)h2_pump(s);
        h2_after_pump(s);  /* armed again, with a reference, if still full */
    }
    h2_unref(s);  /* the one taken when it was armed */
}

void cu_h2_event(void *data, unsigned events, void *thread)
{
    struct h2_watch *wt = data;

    (void)events;
    if (wt->what != W_JOBS && H2_LOOP(((struct h2_session *)wt->owner)->h))
        on_ready(wt->owner);
    else if (wt->what == W_JOBS)
        on_jobs(wt->owner, thread);
    else if (wt->what == W_READ)
        on_read(wt->owner, thread);
    else
        on_write(wt->owner);
}

/* A new session over c (taken). NULL: no memory or no fd. */
static struct h2_session *session_new(struct cu_h2 *h, struct cu_conn *c, int trusted)
{
    struct h2_session *s = calloc(1, sizeof(*s));
    pthread_condattr_t ca;

    if (!s)
        return NULL;
    memcpy(&s->c, c, sizeof(*c));
    memset(c, 0, sizeof(*c));
    c->fd = -1;
    s->h = h;
    s->trusted = trusted;
    s->rd = (struct h2_watch){CU_H2_KIND, W_READ, s};
    s->wr = (struct h2_watch){CU_H2_KIND, W_WRITE, s};
    s->c.timeout_ms = 0;  /* never wait: the pump is non-blocking */
    s->c.keep = 0;
    s->c.queue_max = 0;
    s->c.keeps_objects = 0;
    s->refs = 1;  /* the read watcher's */
    /* its first request's head is due within --header-timeout, from the
     * preface (its first bytes), as an HTTP/1 head; at most --timeout */
    s->deadline = cu_now_ms() + (h->host.env->header_ms > 0 &&
                                         h->host.env->header_ms < h->host.timeout_ms
                                     ? h->host.env->header_ms
                                     : h->host.timeout_ms);
    pthread_mutex_init(&s->m, NULL);
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&s->cv, &ca);
    pthread_condattr_destroy(&ca);
    s->wfd = dup(s->c.fd);
    s->wake = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    if (s->wfd < 0 || s->wake < 0 || h2_session_start(s) < 0) {
        if (s->wfd >= 0)
            close(s->wfd);
        if (s->wake >= 0)
            close(s->wake);
        nghttp2_session_del(s->ng);  /* NULL, or made before SETTINGS failed */
        cu_conn_close(&s->c);
        pthread_mutex_destroy(&s->m);
        pthread_cond_destroy(&s->cv);
        free(s);
        return NULL;
    }
    return s;
}

int cu_h2_adopt(struct cu_h2 *h, struct cu_conn *c, int trusted,
                const struct cu_h2_upgrade *up)
{
    struct h2_session *s = session_new(h, c, trusted);

    if (!s) {
        cu_log(CU_ERROR, "HTTP/2: cannot take a connection: %s", strerror(errno));
        cu_conn_close(c);  /* still ours when the session was never made */
        return -1;
    }
    pthread_mutex_lock(&h->lock);
    s->next = h->sessions;
    if (h->sessions)
        h->sessions->prev = s;
    h->sessions = s;
    pthread_mutex_unlock(&h->lock);
    pthread_mutex_lock(&s->m);
    if (up && h2_upgrade(s, up) < 0)
        h2_kill(s);
    /* the preface and what followed it are in c's buffer already; our
     * SETTINGS go first */
    (void)h2_pump(s);
    h2_after_pump(s);
    if (H2_LOOP(h)) {
        if (!s->dead && h->host.watch(h->host.arg, s->c.fd, 'r', 1, &s->rd) < 0)
            h2_kill(s);
        s->refs++;
        pthread_mutex_unlock(&s->m);
        walk(s);  /* requests that came with the preface */
        return 0;
    }
    if (!s->dead && cu_poller_add(h->host.poller, s->c.fd, CU_EV_IN, &s->rd) == 0) {
        pthread_mutex_unlock(&s->m);
        return 0;
    }
    h2_kill(s);
    h2_unref(s);
    return 0;
}

/* Whether s (its lock held) is idle: no stream at work, nothing to send. */
static int session_idle(const struct h2_session *s)
{
    return !s->dead && !s->goaway && s->running == 0 && s->out_off == s->out_len;
}

/* Closes the session idle longest (the earliest idle deadline; of equal
 * ones the older session, later in the list, which takes new ones at its
 * head), if any, with h->lock held. */
static void evict_idle(struct cu_h2 *h)
{
    struct h2_session *oldest = NULL;

    for (struct h2_session *s = h->sessions; s; s = s->next) {
        pthread_mutex_lock(&s->m);
        if (session_idle(s) && (!oldest || s->deadline <= oldest->deadline))
            oldest = s;
        pthread_mutex_unlock(&s->m);
    }
    if (!oldest)
        return;
    pthread_mutex_lock(&oldest->m);
    if (session_idle(oldest))  /* it may have woken meanwhile */
        h2_kill(oldest);  /* its end frees it and gives the room back */
    pthread_mutex_unlock(&oldest->m);
}

void cu_h2_tick(struct cu_h2 *h, long long now_ms, int evict)
{
    pthread_mutex_lock(&h->lock);
    for (struct h2_session *s = h->sessions; s; s = s->next) {
        pthread_mutex_lock(&s->m);
        if (cu_worker_stop && !s->goaway && !s->dead) {
            s->goaway = 1;
            (void)nghttp2_submit_goaway(s->ng, NGHTTP2_FLAG_NONE,
                                        nghttp2_session_get_last_proc_stream_id(s->ng),
                                        NGHTTP2_NO_ERROR, NULL, 0);
            if (H2_LOOP(h))
                h2_loop_flush(s);  /* the write watcher's turn pumps and walks */
            else {
                (void)h2_pump(s);
                h2_after_pump(s);
            }
        }
        /* (loop mode: the GOAWAY is made by the write watcher's turn) */
        if (!s->dead && s->running == 0 &&
            (now_ms >= s->deadline ||
             (s->goaway && s->out_off == s->out_len && !(H2_LOOP(h) && s->flush))))
            h2_kill(s);
        pthread_mutex_unlock(&s->m);
    }
    if (evict && !cu_worker_stop)
        evict_idle(h);
    pthread_mutex_unlock(&h->lock);
}
