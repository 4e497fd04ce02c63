/*
 * One HTTP/2 connection: nghttp2's server session, its callbacks, the
 * defences (docs/compat.md, HTTP/2), and the pump that moves bytes
 * between the socket and nghttp2 under the session's lock.
 */
#include "http2/internal.h"

#include <errno.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "core/clock.h"
#include "core/log.h"

#define READ_MAX 65536  /* the connection's read buffer, at most */

/* ---- the pump --------------------------------------------------------------- */

/* Reads what the socket has and feeds it to nghttp2. 0 when the socket is
 * drained, -1 when the session is over (EOF, an error, a fatal frame). */
static int pump_read(struct h2_session *s)
{
    for (;;) {
        ssize_t n;

        if (s->c.start < s->c.end) {  /* the worker read the first bytes */
            n = nghttp2_session_mem_recv(s->ng, (const uint8_t *)s->c.buf + s->c.start,
                                         s->c.end - s->c.start);
            if (n < 0) {
                /* fatal: a flood, a bad preface, a protocol error; the
                 * peer is told why when it can be */
                cu_log(CU_DEBUG, "HTTP/2: %s", nghttp2_strerror((int)n));
                (void)nghttp2_session_terminate_session(
                    s->ng, n == NGHTTP2_ERR_FLOODED || n == NGHTTP2_ERR_TOO_MANY_CONTINUATIONS
                               ? NGHTTP2_ENHANCE_YOUR_CALM : NGHTTP2_PROTOCOL_ERROR);
                return -1;
            }
            s->c.start = s->c.end;
        }
        n = cu_conn_fill(&s->c, READ_MAX);
        if (n == 0)
            return -1;
        if (n < 0)
            return errno == EAGAIN || errno == EWOULDBLOCK ? 0 : -1;
    }
}

/* Gathers frames from nghttp2 into s->out, up to a batch. -1: fatal. */
static int gather(struct h2_session *s)
{
    if (s->out_off == s->out_len)
        s->out_off = s->out_len = 0;
    while (s->out_len < H2_OUT_BATCH) {
        const uint8_t *d;
        ssize_t n = nghttp2_session_mem_send(s->ng, &d);

        if (n < 0)
            return -1;
        if (n == 0)
            break;
        if (h2_append(&s->out, &s->out_len, &s->out_cap, d, (size_t)n) < 0)
            return -1;
    }
    return 0;
}

/* Writes what nghttp2 has made. 0: all out; 1: the socket is full; -1. */
static int pump_write(struct h2_session *s)
{
    for (;;) {
        struct iovec iov;
        size_t before;
        int rc;

        if (s->out_off == s->out_len && gather(s) < 0)
            return -1;
        if (s->out_off == s->out_len)
            return 0;
        iov.iov_base = s->out + s->out_off;
        iov.iov_len = before = s->out_len - s->out_off;
        rc = cu_conn_writev(&s->c, &iov, 1);
        /* all of it, or as far as the iovec was moved */
        s->out_off += rc == 0 ? before : before - iov.iov_len;
        if (rc < 0)
            return errno == EAGAIN || errno == EWOULDBLOCK ? 1 : -1;
    }
}

int h2_pump(struct h2_session *s)
{
    if (s->dead)
        return -1;
    s->flush = 0;
    if (pump_read(s) < 0) {
        (void)pump_write(s);  /* a GOAWAY nghttp2 queued, if it can go */
        h2_kill(s);
        return -1;
    }
    if (pump_write(s) < 0 ||
        (!nghttp2_session_want_read(s->ng) && !nghttp2_session_want_write(s->ng) &&
         s->out_off == s->out_len)) {
        h2_kill(s);
        return -1;
    }
    return 0;
}

/* Loop mode: the write watcher on while frames wait or are to be made. */
static void loop_arm(struct h2_session *s)
{
    const struct cu_h2_host *host = &s->h->host;
    int need = !s->dead && (s->out_off < s->out_len || s->flush);

    if (need == s->out_armed)
        return;
    if (host->watch(host->arg, s->wfd, 'w', need, &s->wr) < 0) {
        h2_kill(s);
        return;
    }
    s->out_armed = need;
}

void h2_loop_flush(struct h2_session *s)
{
    s->flush = 1;
    loop_arm(s);
}

void h2_after_pump(struct h2_session *s)
{
    struct cu_poller *p = s->h->host.poller;

    if (H2_LOOP(s->h)) {
        loop_arm(s);
        return;
    }
    h2_signal(s->h);  /* the streams this pump queued */
    if (s->io_busy) {  /* the thread in poll() may be waiting for this */
        uint64_t one = 1;
        if (write(s->wake, &one, sizeof(one)) < 0 && errno != EAGAIN)
            cu_log(CU_ERROR, "HTTP/2: wake: %s", strerror(errno));
    }
    if (!s->dead && !s->out_armed && (s->out_off < s->out_len || s->flush)) {
        int rc = s->wfd_added ? cu_poller_arm(p, s->wfd, CU_EV_OUT, &s->wr)
                              : cu_poller_add(p, s->wfd, CU_EV_OUT, &s->wr);
        s->wfd_added = 1;
        s->out_armed = 1;
        s->refs++;
        if (rc < 0) {
            cu_log(CU_ERROR, "worker: poller: %s", strerror(errno));
            s->out_armed = 0;
            s->refs--;
            h2_kill(s);
        }
    }
    pthread_cond_broadcast(&s->cv);
}

void h2_kill(struct h2_session *s)
{
    if (s->dead)
        return;
    s->dead = 1;
    (void)shutdown(s->c.fd, SHUT_RDWR);
    pthread_cond_broadcast(&s->cv);
}

static void session_free(struct h2_session *s)
{
    struct cu_h2 *h = s->h;
    struct cu_poller *p = h->host.poller;

    pthread_mutex_lock(&h->lock);
    if (s->prev)
        s->prev->next = s->next;
    else
        h->sessions = s->next;
    if (s->next)
        s->next->prev = s->prev;
    pthread_mutex_unlock(&h->lock);
    if ((s->c.pysock || s->c.pyaddr) && h->host.env->conn_free)
        h->host.env->conn_free(h->host.env->app, &s->c);
    while (s->streams) {  /* closed by nothing: nghttp2 goes first */
        struct h2_stream *st = s->streams;
        st->refs = 1;
        h2_stream_unref(st);
    }
    nghttp2_session_del(s->ng);
    if (H2_LOOP(h)) {
        if (!s->unwatched) {
            (void)h->host.watch(h->host.arg, s->c.fd, 'r', 0, &s->rd);
            (void)h->host.watch(h->host.arg, s->wfd, 'w', 0, &s->wr);
        }
    } else {
        (void)cu_poller_del(p, s->c.fd);
        (void)cu_poller_del(p, s->wfd);
    }
    close(s->wfd);
    close(s->wake);
    cu_conn_close(&s->c);
    free(s->out);
    pthread_mutex_destroy(&s->m);
    pthread_cond_destroy(&s->cv);
    h->host.gone(h->host.arg);
    free(s);
}

void h2_unref(struct h2_session *s)
{
    int last = --s->refs == 0;

    pthread_mutex_unlock(&s->m);
    if (last)
        session_free(s);
}

int h2_wait(struct h2_session *s, int (*cond)(void *), void *arg, long long deadline_ms)
{
    for (;;) {
        long long now = cu_now_ms(), step;

        if (cond(arg))
            return 0;
        if (s->dead) {
            errno = ECONNRESET;
            return -1;
        }
        if (now >= deadline_ms) {
            errno = ETIMEDOUT;
            return -1;
        }
        step = deadline_ms - now < 1000 ? deadline_ms - now : 1000;
        if (!s->io_busy) {  /* drive the socket: nobody else may be */
            struct pollfd pfd[2] = {{s->c.fd, POLLIN, 0}, {s->wake, POLLIN, 0}};
            uint64_t v;
            if (s->out_off < s->out_len)
                pfd[0].events |= POLLOUT;
            s->io_busy = 1;
            pthread_mutex_unlock(&s->m);
            (void)poll(pfd, 2, (int)step);
            pthread_mutex_lock(&s->m);
            s->io_busy = 0;
            if (pfd[1].revents && read(s->wake, &v, sizeof(v)) < 0 && errno != EAGAIN)
                cu_log(CU_ERROR, "HTTP/2: wake: %s", strerror(errno));
            (void)h2_pump(s);
            h2_after_pump(s);
        } else {
            struct timespec ts;
            clock_gettime(CLOCK_MONOTONIC, &ts);  /* the cv's clock */
            ts.tv_sec += step / 1000;
            ts.tv_nsec += (step % 1000) * 1000000;
            if (ts.tv_nsec >= 1000000000) {
                ts.tv_sec++;
                ts.tv_nsec -= 1000000000;
            }
            (void)pthread_cond_timedwait(&s->cv, &s->m, &ts);
        }
    }
}

/* ---- nghttp2's callbacks ---------------------------------------------------- */

static struct h2_stream *stream_of(nghttp2_session *ng, int32_t id)
{
    return nghttp2_session_get_stream_user_data(ng, id);
}

/* Control frames beyond H2_CTL_PER_SEC a second (PING, SETTINGS,
 * PRIORITY and empty DATA floods; a fast download's WINDOW_UPDATEs are
 * not counted): GOAWAY ENHANCE_YOUR_CALM. -1 when over. */
static int ctl_frame(struct h2_session *s)
{
    long long now = cu_now_ms();

    if (now - s->ctl_at >= 1000) {
        s->ctl_at = now;
        s->ctl_count = 0;
    }
    if (++s->ctl_count <= H2_CTL_PER_SEC)
        return 0;
    cu_log(CU_WARNING, "HTTP/2: control frame flood, closing the connection");
    (void)nghttp2_session_terminate_session(s->ng, NGHTTP2_ENHANCE_YOUR_CALM);
    return -1;
}

static int on_begin_headers(nghttp2_session *ng, const nghttp2_frame *f, void *user)
{
    struct h2_session *s = user;
    struct h2_stream *st;

    if (f->hd.type != NGHTTP2_HEADERS || f->headers.cat != NGHTTP2_HCAT_REQUEST)
        return 0;
    /* Ours: streams the peer reset whose apps still run count too, so
     * resetting cannot make more apps run than the limit (rapid reset) */
    if (s->running >= (int)s->h->host.env->h2.max_streams ||
        s->goaway || !(st = h2_stream_new(s, f->hd.stream_id)))
        return nghttp2_submit_rst_stream(ng, NGHTTP2_FLAG_NONE, f->hd.stream_id,
                                         NGHTTP2_REFUSED_STREAM) == 0 ? 0
               : NGHTTP2_ERR_CALLBACK_FAILURE;
    if (nghttp2_session_set_stream_user_data(ng, f->hd.stream_id, st) != 0) {
        h2_stream_unref(st);
        return NGHTTP2_ERR_TEMPORAL_CALLBACK_FAILURE;
    }
    return 0;
}

static int on_header(nghttp2_session *ng, const nghttp2_frame *f, const uint8_t *name,
                     size_t nlen, const uint8_t *value, size_t vlen, uint8_t flags,
                     void *user)
{
    struct h2_stream *st = stream_of(ng, f->hd.stream_id);

    (void)flags;
    (void)user;
    if (!st || f->hd.type != NGHTTP2_HEADERS)
        return 0;
    return h2_stream_header(st, name, nlen, value, vlen);
}

static int on_frame_recv(nghttp2_session *ng, const nghttp2_frame *f, void *user)
{
    struct h2_session *s = user;
    struct h2_stream *st = f->hd.stream_id ? stream_of(ng, f->hd.stream_id) : NULL;
    int end = (f->hd.flags & NGHTTP2_FLAG_END_STREAM) != 0;

    switch (f->hd.type) {
    case NGHTTP2_HEADERS:
        s->deadline = cu_now_ms() + s->h->host.timeout_ms;
        if (!st)
            return 0;
        if (!st->in_headers_done) {
            if (f->hd.flags & NGHTTP2_FLAG_PRIORITY)
                h2_stream_priority(st, &f->headers.pri_spec);
            (void)h2_stream_request(st, end);  /* a refused one is answered */
            return 0;
        }
        if (end)
            st->in_end = 1;  /* trailers */
        return 0;
    case NGHTTP2_DATA:
        if (st && end)
            st->in_end = 1;
        if (f->hd.length == 0 && !end)
            return ctl_frame(s) < 0 ? NGHTTP2_ERR_CALLBACK_FAILURE : 0;
        return 0;
    case NGHTTP2_PING:
    case NGHTTP2_SETTINGS:
        if (f->hd.flags & NGHTTP2_FLAG_ACK)
            return 0;
        return ctl_frame(s) < 0 ? NGHTTP2_ERR_CALLBACK_FAILURE : 0;
    case NGHTTP2_PRIORITY:  /* the app sees its HEADERS' priority only */
        return ctl_frame(s) < 0 ? NGHTTP2_ERR_CALLBACK_FAILURE : 0;
    default:
        return 0;
    }
}

static int on_data(nghttp2_session *ng, uint8_t flags, int32_t id, const uint8_t *data,
                   size_t len, void *user)
{
    struct h2_stream *st = stream_of(ng, id);

    (void)flags;
    (void)user;
    if (st && !st->out_end && !st->closed) {
        h2_stream_data(st, data, len);
        return 0;
    }
    /* nobody reads it: its window back at once */
    (void)nghttp2_session_consume(ng, id, len);
    return 0;
}

static int on_stream_close(nghttp2_session *ng, int32_t id, uint32_t code, void *user)
{
    struct h2_stream *st = stream_of(ng, id);

    (void)code;
    (void)user;
    if (!st)
        return 0;
    if (st->in_len > st->in_off)  /* unread: the connection's window back */
        (void)nghttp2_session_consume_connection(ng, st->in_len - st->in_off);
    st->in_off = st->in_len = 0;
    st->closed = 1;
    (void)nghttp2_session_set_stream_user_data(ng, id, NULL);
    h2_stream_unref(st);
    return 0;
}

static int on_frame_send(nghttp2_session *ng, const nghttp2_frame *f, void *user)
{
    struct h2_stream *st;

    (void)user;
    if ((f->hd.type == NGHTTP2_DATA || f->hd.type == NGHTTP2_HEADERS) &&
        (f->hd.flags & NGHTTP2_FLAG_END_STREAM) && (st = stream_of(ng, f->hd.stream_id)))
        h2_stream_sent_end(st);
    return 0;
}

/* ---- the session's making ----------------------------------------------------- */

int h2_setup(struct cu_h2 *h)
{
    nghttp2_session_callbacks *c;
    nghttp2_option *o;

    if (nghttp2_session_callbacks_new(&c) != 0)
        return -1;
    nghttp2_session_callbacks_set_on_begin_headers_callback(c, on_begin_headers);
    nghttp2_session_callbacks_set_on_header_callback(c, on_header);
    nghttp2_session_callbacks_set_on_frame_recv_callback(c, on_frame_recv);
    nghttp2_session_callbacks_set_on_data_chunk_recv_callback(c, on_data);
    nghttp2_session_callbacks_set_on_stream_close_callback(c, on_stream_close);
    nghttp2_session_callbacks_set_on_frame_send_callback(c, on_frame_send);
    h->cbs = c;
    if (nghttp2_option_new(&o) != 0)
        return -1;
    h->opts = o;
    /* the app's reads give the window back (flow control, back-pressure) */
    nghttp2_option_set_no_auto_window_update(o, 1);
    nghttp2_option_set_max_settings(o, H2_MAX_SETTINGS);
    nghttp2_option_set_max_outbound_ack(o, H2_MAX_OUTBOUND_ACK);
    nghttp2_option_set_max_continuations(o, H2_MAX_CONTINUATIONS);
    nghttp2_option_set_stream_reset_rate_limit(o, H2_RESET_BURST, H2_RESET_RATE);
    nghttp2_option_set_max_deflate_dynamic_table_size(o, H2_MAX_HEADER_TABLE);
    nghttp2_option_set_no_closed_streams(o, 1);
    return 0;
}

int h2_session_start(struct h2_session *s)
{
    const struct cu_h2_settings *h = &s->h->host.env->h2;
    nghttp2_settings_entry iv[5] = {
        {NGHTTP2_SETTINGS_MAX_CONCURRENT_STREAMS, h->max_streams},
        {NGHTTP2_SETTINGS_INITIAL_WINDOW_SIZE, h->window},
        {NGHTTP2_SETTINGS_MAX_FRAME_SIZE, h->max_frame},
        {NGHTTP2_SETTINGS_HEADER_TABLE_SIZE, H2_MAX_HEADER_TABLE},
        {NGHTTP2_SETTINGS_MAX_HEADER_LIST_SIZE, h->max_header_list},
    };
    int rc = -1;

    if (nghttp2_session_server_new2(&s->ng, s->h->cbs, s, s->h->opts) == 0) {
        rc = nghttp2_submit_settings(s->ng, NGHTTP2_FLAG_NONE, iv,
                                     h->max_header_list ? 5 : 4);
        if (rc == 0 && h->window < H2_CONN_WINDOW)
            rc = nghttp2_session_set_local_window_size(s->ng, NGHTTP2_FLAG_NONE, 0,
                                                       H2_CONN_WINDOW);
        if (rc != 0)
            cu_log(CU_ERROR, "HTTP/2: settings: %s", nghttp2_strerror(rc));
    } else {
        cu_log(CU_ERROR, "HTTP/2: out of memory for a session");
    }
    return rc == 0 ? 0 : -1;
}
