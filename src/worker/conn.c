/*
 * Client connection I/O with bounded waits. See conn.h.
 */
#include "worker/conn.h"

#include "core/clock.h"
#include "core/log.h"
#include "http/http.h"
#include "http/pages.h"
#include "http/proxy.h"
#include "net/allow.h"
#include "net/tls.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdint.h>
#include <poll.h>
#include <stdio.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/sendfile.h>
#include <time.h>
#include <unistd.h>

/*
 * One free buffer of CU_CONN_BUF bytes per thread. A kept-alive
 * connection gives its buffer back between requests (an idle one holds
 * none); the next request this thread reads takes it again, instead of a
 * malloc and a free per request. A thread that ends frees its own.
 */
static pthread_key_t spare_key;
static pthread_once_t spare_once = PTHREAD_ONCE_INIT;
static int spare_ok;

static void spare_init(void)
{
    spare_ok = pthread_key_create(&spare_key, free) == 0;
}

static char *buf_get(size_t cap)
{
    char *p;

    (void)pthread_once(&spare_once, spare_init);
    if (cap == CU_CONN_BUF && spare_ok && (p = pthread_getspecific(spare_key))) {
        (void)pthread_setspecific(spare_key, NULL);
        return p;
    }
    return malloc(cap);
}

static void buf_put(char *p, size_t cap)
{
    if (p && cap == CU_CONN_BUF && spare_ok && !pthread_getspecific(spare_key) &&
        pthread_setspecific(spare_key, p) == 0)
        return;
    free(p);
}

int cu_conn_init(struct cu_conn *c, int fd, size_t cap)
{
    memset(c, 0, sizeof(*c));
    c->fd = fd;
    c->timeout_ms = 30000;
    if (cap == 0)
        return 0;
    c->buf = buf_get(cap);
    if (!c->buf)
        return -1;
    c->cap = cap;
    return 0;
}

void cu_conn_shrink(struct cu_conn *c)
{
    if (c->start == c->end && c->keep == 0) {
        buf_put(c->buf, c->cap);
        c->buf = NULL;
        c->cap = c->start = c->end = 0;
    }
}

/* A TLS peer may have sent close_notify (or more) that nobody read: a
 * close with unread bytes is a reset, which can destroy the response at
 * the peer. Drops what has come, without waiting. */
static void drop_arrived(int fd)
{
    char sink[4096];
    size_t seen = 0;
    ssize_t n;

    while (seen < 65536 && (n = recv(fd, sink, sizeof(sink), MSG_DONTWAIT)) > 0)
        seen += (size_t)n;
}

void cu_conn_close(struct cu_conn *c)
{
    cu_conn_unqueue(c);
    if (c->tls) {
        cu_tls_conn_free(c->tls);  /* close_notify first */
        c->tls = NULL;
        if (c->fd >= 0)
            drop_arrived(c->fd);
    }
    if (c->fd >= 0)
        close(c->fd);
    c->fd = -1;
    buf_put(c->buf, c->cap);
    c->buf = NULL;
    c->cap = 0;
    free(c->tls_proxy_buf);
    c->tls_proxy_buf = NULL;
    c->tls_proxy_len = 0;
}

/* Drops what the peer sends until it closes, up to limit bytes or ms
 * milliseconds. Async-signal-safe (clock_gettime, poll, recv) when c has
 * no wait of its own (c NULL: none): the never-blocking recv also holds
 * when another thread read first. */
static void drain(const struct cu_conn *c, int fd, size_t limit, int ms)
{
    long long deadline = cu_now_ms() + ms;
    char sink[4096];
    size_t seen = 0;

    while (seen < limit) {
        struct pollfd pfd = {fd, POLLIN, 0};
        long long left = deadline - cu_now_ms();
        ssize_t n;

        if (left <= 0)
            return;
        if (c && c->wait ? c->wait(c->wait_arg, fd, POLLIN, (int)left) < 0
                         : poll(&pfd, 1, (int)left) <= 0)
            return;
        n = recv(fd, sink, sizeof(sink), MSG_DONTWAIT);
        if (n <= 0)
            return;  /* the peer's EOF (or a reset): done */
        seen += (size_t)n;
    }
}

void cu_conn_linger(struct cu_conn *c, size_t limit, int ms)
{
    if (c->fd >= 0 && cu_conn_shut_wr(c) == 0)
        drain(c, c->fd, limit, ms);
}

/* Waits until fd is ready for events, in steps of at most a second so the
 * caller's tick (the heartbeat) keeps going; at most timeout_ms (a write:
 * send_timeout_ms when that is shorter: a write's wait is bounded by
 * both, as a read's by timeout_ms and deadline_ms), and never past
 * deadline_ms. 0, or -1 with ETIMEDOUT. */
static int wait_for(struct cu_conn *c, short events)
{
    int ms = (events & POLLOUT) && c->send_timeout_ms > 0 && c->send_timeout_ms < c->timeout_ms
                 ? c->send_timeout_ms
                 : c->timeout_ms;
    long long deadline = cu_now_ms() + ms;

    if (c->timeout_ms == 0) {  /* never wait: the caller has a poller */
        errno = EAGAIN;
        return -1;
    }
    if (c->deadline_ms > 0 && c->deadline_ms < deadline)
        deadline = c->deadline_ms;
    for (;;) {
        struct pollfd pfd = {c->fd, events, 0};
        long long left = deadline - cu_now_ms();
        int rc;

        if (left <= 0) {
            errno = ETIMEDOUT;
            return -1;
        }
        if (c->wait)  /* a hub's: one wait, the hub beats the heart itself */
            return c->wait(c->wait_arg, c->fd, events, (int)left);
        rc = poll(&pfd, 1, left > 1000 ? 1000 : (int)left);
        if (rc > 0)
            return 0;
        if (rc < 0 && errno != EINTR)
            return -1;
        if (c->tick)
            c->tick(c->tick_arg);
    }
}

short cu_conn_want(struct cu_conn *c, short dflt)
{
    short w = dflt;

    if (c->tls && c->tls_want != 0)
        w = c->tls_want;
    c->tls_want = 0;
    return w;
}

/* After a call that failed with errno: 0 to call again (EINTR, or the
 * socket became ready), -1 to give up (a real error, or the timeout). */
static int retry(struct cu_conn *c, short events)
{
    if (errno == EINTR)
        return 0;
    if (errno != EAGAIN && errno != EWOULDBLOCK)
        return -1;
    return wait_for(c, cu_conn_want(c, events));
}

/* ---- TLS ------------------------------------------------------------------ */

int cu_conn_tls(struct cu_conn *c, struct cu_tls *t)
{
    c->tls = cu_tls_conn_new(t, c->fd);
    c->tls_proxy = (enum http_proxy_mode)cu_tls_proxy(t, &c->tls_proxy_allow);
    return c->tls ? 0 : -1;
}

/* The longest PROXY header taken ahead of TLS: a v2 header's addresses
 * and the TLVs a proxy adds (HAProxy's send-proxy-v2-ssl) fit. */
#define TLS_PROXY_MAX 2048

/* Refuses the connection before its handshake: cu_tls_error says why. */
static int tls_proxy_refuse(struct cu_conn *c, const char *why)
{
    cu_tls_refused(c->tls, why);
    errno = EPROTO;
    return -1;
}

/* The PROXY header's bytes so far: b[0..have) came off the socket earlier
 * (c->tls_proxy_buf), then what the socket holds now, peeked. The length
 * in b, 0 at the peer's end, or -1 (EAGAIN: nothing new, or a socket
 * error). */
static ssize_t tls_proxy_bytes(struct cu_conn *c, char *b, size_t size, size_t have)
{
    ssize_t n;

    if (have)
        memcpy(b, c->tls_proxy_buf, have);
    n = recv(c->fd, b + have, size - have, MSG_PEEK | MSG_DONTWAIT);
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
        c->tls_want = POLLIN;
    return n <= 0 ? n : (ssize_t)have + n;
}

/* Takes n more bytes off the socket (peeked already, so there at once)
 * into the stash, or only drops them (keep 0). 0, or -1 (errno). */
static int tls_proxy_take(struct cu_conn *c, size_t n, int keep)
{
    char sink[TLS_PROXY_MAX];
    char *to = sink;

    if (keep) {
        if (!c->tls_proxy_buf && !(c->tls_proxy_buf = malloc(TLS_PROXY_MAX)))
            return -1;  /* ENOMEM */
        to = c->tls_proxy_buf + c->tls_proxy_len;
    }
    if (recv(c->fd, to, n, MSG_DONTWAIT) != (ssize_t)n) {
        errno = EIO;
        return -1;
    }
    if (keep)
        c->tls_proxy_len += n;
    return 0;
}

/* The stash is done with. */
static void tls_proxy_done(struct cu_conn *c)
{
    free(c->tls_proxy_buf);
    c->tls_proxy_buf = NULL;
    c->tls_proxy_len = 0;
    c->tls_proxy = HTTP_PROXY_OFF;
}

/* A PROXY header ahead of the TLS handshake (docs/compat.md, PROXY
 * protocol), as a proxy passing TLS through in TCP mode sends it: read in
 * the clear, exactly its bytes, before OpenSSL sees any. What the socket
 * holds is peeked; while it is a header's start and no more, it is taken
 * off into a stash (the socket would else stay readable and the poller
 * would call again at once). 0 when done (c->has_proxy: one came); -1
 * with errno: EAGAIN (c->tls_want POLLIN), EPROTO (a bad header, one too
 * long, cut by the peer's end, or from a peer not in proxy_allow_ips: the
 * connection is refused, cu_tls_error says why), or another error. */
static int tls_proxy_first(struct cu_conn *c)
{
    char b[TLS_PROXY_MAX];
    size_t have = c->tls_proxy_len;
    ssize_t n = tls_proxy_bytes(c, b, sizeof(b), have);
    int64_t len;

    if (n <= 0) {
        if (n < 0)
            return -1;
        if (have)
            return tls_proxy_refuse(c, "a bad PROXY header before the TLS handshake");
        tls_proxy_done(c);  /* OpenSSL sees the end */
        return 0;
    }
    /* a header from a peer that may not send one: refused at its start */
    if (http_proxy_sniff(b, (size_t)n, c->tls_proxy) > 0 &&
        !cu_allow_match(c->tls_proxy_allow, (const struct sockaddr *)&c->peer, c->peerlen))
        return tls_proxy_refuse(c, "a PROXY header from a peer not in proxy_allow_ips");
    len = http_proxy_parse(b, (size_t)n, c->tls_proxy, &c->proxy);
    if (len == HTTP_AGAIN && (size_t)n < sizeof(b)) {
        /* every byte so far is the header's (TLS never starts so) */
        if (tls_proxy_take(c, (size_t)n - have, 1) < 0)
            return -1;
        c->tls_want = POLLIN;
        errno = EAGAIN;
        return -1;
    }
    if (len == HTTP_AGAIN || len < 0)
        return tls_proxy_refuse(c, "a bad PROXY header before the TLS handshake");
    if (len > 0 && tls_proxy_take(c, (size_t)len - have, 0) < 0)
        return -1;
    c->has_proxy = len > 0;
    tls_proxy_done(c);
    return 0;
}

int cu_conn_handshake(struct cu_conn *c)
{
    long long deadline = cu_now_ms() + c->timeout_ms;
    int saved = c->timeout_ms, rc;

    while (((rc = c->tls_proxy ? tls_proxy_first(c) : 0) < 0 ||
            (rc = cu_tls_handshake(c->tls, &c->tls_want)) < 0) && errno == EAGAIN) {
        long long left = deadline - cu_now_ms();

        if (left <= 0) {
            errno = ETIMEDOUT;
            break;
        }
        c->timeout_ms = (int)left;  /* one deadline for every wait */
        rc = wait_for(c, cu_conn_want(c, POLLIN));
        c->timeout_ms = saved;
        if (rc < 0)
            break;
    }
    return rc;
}

int cu_conn_silent(const struct cu_conn *c)
{
    char b;

    return recv(c->fd, &b, 1, MSG_PEEK | MSG_DONTWAIT) < 0 &&
           (errno == EAGAIN || errno == EWOULDBLOCK);
}

int cu_conn_alpn_h2(const struct cu_conn *c)
{
    return c->tls && cu_tls_alpn_h2(c->tls);
}

int cu_conn_pending(const struct cu_conn *c)
{
    return c->tls && cu_tls_pending(c->tls);
}

void cu_conn_keep_nonblocking(const struct cu_conn *c)
{
    int fl = fcntl(c->fd, F_GETFL);

    if (fl >= 0 && !(fl & O_NONBLOCK) && fcntl(c->fd, F_SETFL, fl | O_NONBLOCK) < 0)
        cu_log(CU_WARNING, "could not make the connection non-blocking again: %s",
               strerror(errno));
}

int cu_conn_shut_wr(struct cu_conn *c)
{
    if (c->tls)
        cu_tls_notify(c->tls);
    return shutdown(c->fd, SHUT_WR);
}

static ssize_t conn_recv(struct cu_conn *c, void *p, size_t n)
{
    if (c->vt)
        return c->vt->recv(c->vt_arg, p, n);
    if (c->tls) {
        if (c->tls_proxy && tls_proxy_first(c) < 0)
            return -1;
        return cu_tls_read(c->tls, p, n, &c->tls_want);
    }
    return recv(c->fd, p, n, MSG_DONTWAIT);
}

/* One TLS record's worth: what a write puts in one SSL_write. */
#define TLS_CHUNK 16384

/* writev(2) over TLS: the first iovec alone when it is large, else the
 * first TLS_CHUNK bytes of them all copied together. A call again after
 * EAGAIN, with the same iovecs, offers the same bytes. */
static ssize_t tls_writev(struct cu_conn *c, const struct iovec *iov, int n)
{
    char buf[TLS_CHUNK];
    size_t len = 0;

    if (n == 1 || iov[0].iov_len >= sizeof(buf))
        return cu_tls_write(c->tls, iov[0].iov_base, iov[0].iov_len, &c->tls_want);
    for (int i = 0; i < n && len < sizeof(buf); i++) {
        size_t k = iov[i].iov_len < sizeof(buf) - len ? iov[i].iov_len : sizeof(buf) - len;
        memcpy(buf + len, iov[i].iov_base, k);
        len += k;
    }
    return cu_tls_write(c->tls, buf, len, &c->tls_want);
}

/* sendfile(2) over TLS or a vt: read, then write what was read. */
static ssize_t tls_sendfile(struct cu_conn *c, int fd, off_t *off, size_t n)
{
    char buf[TLS_CHUNK];
    ssize_t r = pread(fd, buf, n < sizeof(buf) ? n : sizeof(buf), *off);
    struct iovec iov = {buf, 0};

    if (r <= 0)
        return r;
    iov.iov_len = (size_t)r;
    r = c->vt ? c->vt->writev(c->vt_arg, &iov, 1)
              : cu_tls_write(c->tls, buf, (size_t)r, &c->tls_want);
    if (r > 0)
        *off += r;
    return r;
}

static int make_room(struct cu_conn *c, size_t max)
{
    /* consumed bytes go; the pinned ones, [0, keep), stay */
    if (c->start > c->keep && (c->end == c->cap || c->start == c->end)) {
        memmove(c->buf + c->keep, c->buf + c->start, c->end - c->start);
        c->end -= c->start - c->keep;
        c->start = c->keep;
    }
    if (c->end == c->cap) {
        size_t cap = c->cap ? c->cap * 2 : CU_CONN_BUF;
        char *p;
        if (c->cap >= max) {
            errno = ENOBUFS;
            return -1;
        }
        if (cap > max)
            cap = max;
        p = c->cap ? realloc(c->buf, cap) : buf_get(cap);
        if (!p)
            return -1;
        c->buf = p;
        c->cap = cap;
    }
    return 0;
}

ssize_t cu_conn_fill(struct cu_conn *c, size_t max)
{
    if (make_room(c, max) < 0)
        return -1;
    for (;;) {
        ssize_t n = conn_recv(c, c->buf + c->end, c->cap - c->end);
        if (n > 0) {
            c->end += (size_t)n;
            return n;
        }
        if (n == 0) {
            c->eof = 1;
            return 0;
        }
        if (retry(c, POLLIN) < 0)
            return -1;
    }
}

/* Every write to the socket goes through these two: a write never runs
 * once another thread has aborted the connection. */
static int write_begin(struct cu_conn *c)
{
    int idle = CU_W_IDLE;

    if (atomic_compare_exchange_strong(&c->wstate, &idle, CU_W_WRITING))
        return 0;
    errno = ECONNABORTED;
    return -1;
}

static ssize_t write_end(struct cu_conn *c, ssize_t w)
{
    int err = errno, writing = CU_W_WRITING;

    if (w > 0)
        c->wrote += (uint64_t)w;
    /* an abort during the write stays: this write was the last */
    (void)atomic_compare_exchange_strong(&c->wstate, &writing, CU_W_IDLE);
    errno = err;
    return w;
}

/*
 * The parts of a small write go as one buffer, with send(2): the kernel
 * takes one range instead of importing an iovec, and copies once instead
 * of once a part with its checks (a response's head is five or six parts;
 * hello world's whole response is about 170 bytes). Larger writes keep
 * their parts: copying them here would cost what it saves.
 */
#define GATHER_MAX 2048

static ssize_t plain_writev(int fd, const struct iovec *iov, int n)
{
    char buf[GATHER_MAX];
    size_t total = 0;

    if (n == 1)
        return send(fd, iov[0].iov_base, iov[0].iov_len, MSG_DONTWAIT);
    for (int i = 0; i < n && total <= GATHER_MAX; i++)
        total += iov[i].iov_len;
    if (total <= GATHER_MAX) {
        total = 0;
        for (int i = 0; i < n; i++) {
            if (iov[i].iov_len == 0)
                continue;  /* its base may be NULL: no memcpy from it */
            memcpy(buf + total, iov[i].iov_base, iov[i].iov_len);
            total += iov[i].iov_len;
        }
        return send(fd, buf, total, MSG_DONTWAIT);
    }
    /* sendmsg, not writev: MSG_DONTWAIT whatever the app did to the
     * file's O_NONBLOCK (cu_conn_keep_nonblocking) */
    return sendmsg(fd, &(struct msghdr){.msg_iov = (struct iovec *)iov, .msg_iovlen = (size_t)n},
                   MSG_DONTWAIT);
}

static ssize_t do_writev(struct cu_conn *c, const struct iovec *iov, int n)
{
    if (write_begin(c) < 0)
        return -1;
    if (c->vt)
        return write_end(c, c->vt->writev(c->vt_arg, iov, n));
    if (c->tls)
        return write_end(c, tls_writev(c, iov, n));
    return write_end(c, plain_writev(c->fd, iov, n));
}

static ssize_t do_send(struct cu_conn *c, const void *p, size_t n)
{
    struct iovec iov = {(void *)(uintptr_t)p, n};

    if (write_begin(c) < 0)
        return -1;
    if (c->vt)
        return write_end(c, c->vt->writev(c->vt_arg, &iov, 1));
    if (c->tls)
        return write_end(c, cu_tls_write(c->tls, p, n, &c->tls_want));
    return write_end(c, send(c->fd, p, n, MSG_DONTWAIT));
}

static ssize_t do_sendfile(struct cu_conn *c, int fd, off_t *off, size_t n)
{
    if (write_begin(c) < 0)
        return -1;
    if (c->tls || c->vt)
        return write_end(c, tls_sendfile(c, fd, off, n));
    cu_conn_keep_nonblocking(c);  /* sendfile(2) takes no MSG_DONTWAIT */
    return write_end(c, sendfile(c->fd, fd, off, n));
}

/* Takes the connection away from its writer: no write starts after
 * this. With no write under way and wrote == sent_before, page goes out
 * (one send, which never waits). 1 when it did. Async-signal-safe: a
 * lock-free compare-and-swap, send(). */
static int take_away(struct cu_conn *c, uint64_t sent_before, const char *page, size_t len)
{
    int idle = CU_W_IDLE;

    if (atomic_compare_exchange_strong(&c->wstate, &idle, CU_W_ABORTED))
        return c->wrote == sent_before && page &&
               send(c->fd, page, len, MSG_DONTWAIT | MSG_NOSIGNAL) == (ssize_t)len;
    atomic_store(&c->wstate, CU_W_ABORTED);  /* the write under way is the last */
    return 0;
}

int cu_conn_abort(struct cu_conn *c, uint64_t sent_before, const char *page, size_t len)
{
    int sent;

    if (c->vt) {  /* a stream: reset it; the socket is the connection's */
        (void)take_away(c, sent_before, NULL, 0);
        c->vt->abort(c->vt_arg);
        return 0;
    }
    sent = take_away(c, sent_before, c->tls ? NULL : page, len);

    (void)shutdown(c->fd, SHUT_RDWR);
    return sent;
}

/* A signal handler may use it: the counter is lock-free. */
_Static_assert(ATOMIC_LLONG_LOCK_FREE == 2, "final_from must be lock-free");

int cu_conn_abort_now(struct cu_conn *c, const char *page, size_t len, int linger_ms)
{
    int sent = take_away(c, (uint64_t)atomic_load(&c->final_from), c->tls ? NULL : page, len);

    /* shutdown, not cu_conn_shut_wr: TLS is not async-signal-safe */
    if (shutdown(c->fd, SHUT_WR) == 0)
        drain(NULL, c->fd, CU_LINGER_LIMIT, linger_ms);
    return sent;
}

/* ---- the write queue ------------------------------------------------------ */

void cu_conn_whole(struct cu_conn *c)
{
    c->whole = c->queue_max > 0;
}

void cu_conn_unqueue(struct cu_conn *c)
{
    while (c->queue) {
        struct cu_seg *s = c->queue;
        c->queue = s->next;
        if (s->fd >= 0)
            close(s->fd);
        free(s);
    }
    c->queue_last = NULL;
    c->queued = 0;
    c->whole = 0;
}

static void seg_append(struct cu_conn *c, struct cu_seg *s)
{
    s->next = NULL;
    if (c->queue_last)
        c->queue_last->next = s;
    else
        c->queue = s;
    c->queue_last = s;
}

/* Queues iov[0..n) when allowed: 1 when queued, 0 when the caller must
 * write (and wait) itself, -1 when out of memory. */
static int queue_iov(struct cu_conn *c, const struct iovec *iov, int n)
{
    size_t len = 0;
    struct cu_seg *s;
    char *p;

    if (!c->whole)
        return 0;
    for (int i = 0; i < n; i++)
        len += iov[i].iov_len;
    if (c->queued + len > c->queue_max)
        return 0;  /* past the cap: the caller waits */
    s = malloc(sizeof(*s) + len);
    if (!s)
        return -1;
    s->buf = p = (char *)(s + 1);
    s->len = len;
    s->off = 0;
    s->fd = -1;
    for (int i = 0; i < n; i++) {
        memcpy(p, iov[i].iov_base, iov[i].iov_len);
        p += iov[i].iov_len;
    }
    seg_append(c, s);
    c->queued += len;
    return 1;
}

static int queue_file(struct cu_conn *c, int fd, off_t off, size_t n)
{
    struct cu_seg *s = malloc(sizeof(*s));

    if (!s)
        return -1;
    s->buf = NULL;
    s->len = s->off = 0;
    s->fd = fcntl(fd, F_DUPFD_CLOEXEC, 0);
    if (s->fd < 0) {
        free(s);
        return -1;
    }
    s->foff = off;
    s->fleft = n;
    seg_append(c, s);
    return 1;
}

int cu_conn_flush(struct cu_conn *c)
{
    while (c->queue) {
        struct cu_seg *s = c->queue;
        ssize_t w;

        if (s->fd < 0) {
            w = do_send(c, s->buf + s->off, s->len - s->off);
            if (w > 0 && (s->off += (size_t)w) < s->len)
                continue;
        } else {
            w = do_sendfile(c, s->fd, &s->foff,
                            s->fleft > (1u << 30) ? (1u << 30) : s->fleft);
            if (w == 0) {
                errno = EIO;  /* the file is shorter than it said */
                return -1;
            }
            if (w > 0 && (s->fleft -= (size_t)w) > 0)
                continue;
        }
        if (w < 0) {
            if (errno == EINTR)
                continue;
            return errno == EAGAIN || errno == EWOULDBLOCK ? 1 : -1;
        }
        c->queue = s->next;
        if (!c->queue)
            c->queue_last = NULL;
        if (s->fd >= 0)
            close(s->fd);
        else
            c->queued -= s->len;
        free(s);
    }
    return 0;
}

/* Taken away by cu_conn_abort: every write fails, queued or not. */
static int aborted(const struct cu_conn *c)
{
    if (atomic_load(&c->wstate) != CU_W_ABORTED)
        return 0;
    errno = ECONNABORTED;
    return 1;
}

int cu_conn_hold(struct cu_conn *c, const struct iovec *iov, int n)
{
    size_t len = 0;
    int rc;

    if (!c->may_hold || c->queue || c->tls || c->vt || n > IOV_MAX ||
        atomic_load(&c->wstate) != CU_W_IDLE)
        return 0;  /* aborted: the write fails as usual */
    for (int i = 0; i < n; i++)
        len += iov[i].iov_len;
    if (len > CU_HOLD_MAX)
        return 0;
    c->whole = c->queue_max > 0;  /* nothing of the response follows */
    rc = queue_iov(c, iov, n);
    c->held = rc > 0;
    return rc;
}

/* Moves iov and *n past w bytes written. */
static struct iovec *skip_written(struct iovec *iov, int *n, size_t w)
{
    while (*n > 0 && w >= iov->iov_len) {
        w -= iov->iov_len;
        iov++;
        (*n)--;
    }
    if (*n > 0) {
        iov->iov_base = (char *)iov->iov_base + w;
        iov->iov_len -= w;
    }
    return iov;
}

int cu_conn_writev_now(struct cu_conn *c, struct iovec **iov, int *n)
{
    size_t total = 0;
    ssize_t w;

    if (c->queue || c->tls || c->vt || *n > IOV_MAX)
        return 0;
    for (int i = 0; i < *n; i++)
        total += (*iov)[i].iov_len;
    if (total > CU_WRITE_NOW_MAX)
        return 0;
    w = do_writev(c, *iov, *n);  /* aborted: fails, as cu_conn_writev will */
    if (w <= 0)
        return 0;  /* cu_conn_writev waits, or says what failed */
    *iov = skip_written(*iov, n, (size_t)w);
    return *n == 0;
}

int cu_conn_writev(struct cu_conn *c, struct iovec *iov, int n)
{
    int q;

    if (aborted(c))
        return -1;
    if (c->queue) {  /* behind what is queued: queue too, or wait it out */
        if ((q = queue_iov(c, iov, n)) != 0)
            return q > 0 ? 0 : -1;
        while ((q = cu_conn_flush(c)) != 0)
            if (q < 0 || wait_for(c, cu_conn_want(c, POLLOUT)) < 0)
                return -1;
    }
    while (n > 0) {
        ssize_t w = do_writev(c, iov, n > IOV_MAX ? IOV_MAX : n);
        if (w < 0) {
            if ((errno == EAGAIN || errno == EWOULDBLOCK) &&
                (q = queue_iov(c, iov, n)) != 0)
                return q > 0 ? 0 : -1;
            if (retry(c, POLLOUT) < 0)
                return -1;
            continue;
        }
        iov = skip_written(iov, &n, (size_t)w);
    }
    return 0;
}

int cu_conn_sendfile(struct cu_conn *c, int fd, off_t off, size_t n)
{
    if (n == 0)
        return 0;
    if (aborted(c))
        return -1;
    if (c->queue)
        return queue_file(c, fd, off, n) > 0 ? 0 : -1;
    while (n > 0) {
        ssize_t w = do_sendfile(c, fd, &off, n > (1u << 30) ? (1u << 30) : n);
        if (w > 0) {
            n -= (size_t)w;
            continue;
        }
        if (w == 0) {
            errno = EIO;  /* the file is shorter than it said */
            return -1;
        }
        if ((errno == EAGAIN || errno == EWOULDBLOCK) && c->whole)
            return queue_file(c, fd, off, n) > 0 ? 0 : -1;
        if (retry(c, POLLOUT) < 0)
            return -1;
    }
    return 0;
}

int cu_conn_write(struct cu_conn *c, const void *p, size_t n)
{
    struct iovec iov = {(void *)(uintptr_t)p, n};

    return cu_conn_writev(c, &iov, 1);
}

int cu_conn_send_error_to(struct cu_conn *c, int code, int head)
{
    const struct http_error_info *e = http_error_info(code);
    char text[HTTP_PAGE_HEAD];
    struct iovec iov[HTTP_PAGE_IOV];

    if (!e->respond)
        return 0;
    if (http_page_iov(iov, text, e->status, e->reason, e->name, strlen(e->name)) == 0) {
        errno = EINVAL;  /* not reached: every status and reason is one a page takes */
        return -1;
    }
    /* RFC 9110 §9.3.2: the answer to HEAD has no content */
    return cu_conn_writev(c, iov, head ? HTTP_PAGE_IOV_HEAD : HTTP_PAGE_IOV);
}

int cu_conn_send_error(struct cu_conn *c, int code)
{
    int head = c->end - c->start >= 5 && memcmp(c->buf + c->start, "HEAD ", 5) == 0;

    return cu_conn_send_error_to(c, code, head);
}
