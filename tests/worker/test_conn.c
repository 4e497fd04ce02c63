/*
 * The client connection (src/worker/conn.c) over real sockets, its read
 * side and its life: init, shrink, fill (growth, moves, the pinned head,
 * EOF, the socket's errors, timeouts and the tick), linger, close,
 * send_error. Writes are test_conn_write.c's. A socketpair(AF_UNIX,
 * SOCK_STREAM), and a TCP loopback pair where TCP behaves otherwise (a
 * reset; a close with unread input). The connection's end is
 * non-blocking, as a worker's is; the other end is the peer, played by
 * this test. Every wait has a deadline; the bytes are a pattern, so a byte
 * lost, doubled or moved shows.
 */
#include "conntest.h"
#include "core/clock.h"
#include "http/http.h"
#include "http/pages.h"
#include "../lib/tap.h"

#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <unistd.h>

/* ---- init, shrink ------------------------------------------------------- */

static void test_init(void)
{
    struct cu_conn c;
    ssize_t n1, n2;
    int fd, peer;

    unix_pair(&fd, &peer);
    memset(&c, 0xa5, sizeof(c));
    ok(cu_conn_init(&c, fd, 0) == 0 && c.fd == fd && c.buf == NULL && c.cap == 0 &&
       c.start == 0 && c.end == 0 && c.keep == 0 && c.eof == 0,
       "init(fd, 0): 0, the fd, no buffer yet");
    ok(c.timeout_ms == 30000 && c.tick == NULL && c.tick_arg == NULL && c.has_proxy == 0 &&
       c.queue_max == 0 && c.whole == 0 && c.queue == NULL && c.queue_last == NULL &&
       c.queued == 0 && c.keeps_objects == 0 && c.pysock == NULL &&
       atomic_load(&c.wstate) == CU_W_IDLE && c.wrote == 0,
       "init: 30 s waits, no queue, idle, nothing written (no field left as it was)");
    (void)send(peer, "abc", 3, 0);
    ok(cu_conn_fill(&c, 1 << 20) == 3 && c.buf != NULL && c.cap == CU_CONN_BUF &&
       c.end == 3 && memcmp(c.buf, "abc", 3) == 0,
       "the first read allocates CU_CONN_BUF bytes");
    cu_conn_close(&c);
    close(peer);

    unix_pair(&fd, &peer);
    ok(cu_conn_init(&c, fd, 100) == 0 && c.buf != NULL && c.cap == 100,
       "init(fd, 100): a buffer of 100 bytes");
    memset(c.buf, 'x', 100);  /* all of it is ours (ASan) */
    (void)send(peer, PAT, 150, 0);
    n1 = cu_conn_fill(&c, 1 << 20);
    n2 = cu_conn_fill(&c, 1 << 20);
    ok(n1 == 100 && n2 == 50 && c.cap == 200 && c.end == 150 && memcmp(c.buf, PAT, 150) == 0,
       "it is filled before it grows: 100 bytes, then 50 into 200 (%zd, %zd, cap %zu)",
       n1, n2, c.cap);
    cu_conn_close(&c);
    close(peer);

    errno = 0;
    ok(cu_conn_init(&c, -1, SIZE_MAX) == -1 && errno == ENOMEM && c.buf == NULL &&
       c.cap == 0, "init(fd, SIZE_MAX): -1 ENOMEM, no buffer");
}

static void test_shrink(void)
{
    struct cu_conn c;
    char *was;
    int fd, peer;

    unix_pair(&fd, &peer);
    conn_init(&c, fd, 0);
    cu_conn_shrink(&c);
    ok(c.buf == NULL && c.cap == 0, "shrink without a buffer: still none");
    (void)send(peer, "hello", 5, 0);
    (void)cu_conn_fill(&c, 1 << 20);
    was = c.buf;
    c.start = 2;
    cu_conn_shrink(&c);
    ok(c.buf == was && c.cap == CU_CONN_BUF && c.start == 2 && c.end == 5 &&
       memcmp(c.buf + 2, "llo", 3) == 0, "shrink with unconsumed bytes: nothing changes");
    c.start = c.end;
    c.keep = 2;
    cu_conn_shrink(&c);
    ok(c.buf == was && c.cap == CU_CONN_BUF && c.start == 5 && memcmp(c.buf, "he", 2) == 0,
       "shrink with a pinned head (keep 2): nothing changes");
    c.keep = 0;
    cu_conn_shrink(&c);
    ok(c.buf == NULL && c.cap == 0 && c.start == 0 && c.end == 0,
       "shrink with everything consumed: the buffer is freed");
    (void)send(peer, "again", 5, 0);
    ok(cu_conn_fill(&c, 100) == 5 && c.cap == 100 && c.start == 0 && c.end == 5 &&
       memcmp(c.buf, "again", 5) == 0, "the next read allocates it again (max 100: 100 bytes)");
    cu_conn_close(&c);
    close(peer);
}

/* ---- fill ----------------------------------------------------------------- */

static void test_fill_growth(void)
{
    struct cu_conn c;
    ssize_t n[4];
    size_t caps[3];
    int fd, peer, err;

    unix_pair(&fd, &peer);
    conn_init(&c, fd, 0);
    (void)send(peer, PAT, 30000, 0);
    for (int i = 0; i < 3; i++) {
        n[i] = cu_conn_fill(&c, 20000);
        caps[i] = c.cap;
    }
    errno = 0;
    n[3] = cu_conn_fill(&c, 20000);
    err = errno;
    ok(n[0] == 8192 && caps[0] == 8192 && n[1] == 8192 && caps[1] == 16384 &&
       n[2] == 3616 && caps[2] == 20000,
       "the buffer doubles up to max: 8192, 16384, then 20000 (%zd/%zu %zd/%zu %zd/%zu)",
       n[0], caps[0], n[1], caps[1], n[2], caps[2]);
    ok(n[3] == -1 && err == ENOBUFS && c.cap == 20000 && c.end == 20000 &&
       memcmp(c.buf, PAT, 20000) == 0, "full at max: -1 ENOBUFS, the bytes kept");
    c.start = 5000;
    n[0] = cu_conn_fill(&c, 20000);
    ok(n[0] == 5000 && c.start == 0 && c.end == 20000 && c.cap == 20000 &&
       memcmp(c.buf, PAT + 5000, 20000) == 0,
       "5000 consumed: the rest moves to the front, 5000 more are read");

    /* a buffer that cannot grow (a capacity so large realloc must fail) */
    {
        char *was = c.buf;
        size_t cap = c.cap;
        c.cap = c.end = SIZE_MAX / 4;
        errno = 0;
        n[0] = cu_conn_fill(&c, SIZE_MAX);
        err = errno;
        c.cap = c.end = cap;
        ok(n[0] == -1 && err == ENOMEM && c.buf == was && memcmp(c.buf, PAT + 5000, 20000) == 0,
           "no memory to grow: -1 ENOMEM, the buffer as it was");
    }
    cu_conn_close(&c);
    close(peer);
}

static void test_fill_keep(void)
{
    struct cu_conn c;
    ssize_t n;
    int fd, peer, err;

    unix_pair(&fd, &peer);
    conn_init(&c, fd, 16);
    (void)send(peer, "0123456789abcdef", 16, 0);
    (void)cu_conn_fill(&c, 16);
    c.keep = 4;   /* "0123": the head of the request being served */
    c.start = 10; /* "456789" consumed */
    (void)send(peer, "XYZ", 3, 0);
    n = cu_conn_fill(&c, 16);
    ok(n == 3 && c.start == 4 && c.end == 13 && c.keep == 4 && c.cap == 16 &&
       memcmp(c.buf, "0123abcdefXYZ", 13) == 0,
       "a full buffer: unconsumed bytes move down to keep, the head stays");
    c.start = c.end;  /* all consumed, 3 bytes of room left at the end */
    (void)send(peer, "uvwxyz012345", 12, 0);
    n = cu_conn_fill(&c, 16);
    ok(n == 12 && c.start == 4 && c.end == 16 && memcmp(c.buf, "0123uvwxyz012345", 16) == 0,
       "everything consumed: the next read goes right after the head");
    c.keep = c.start = c.end = 16;
    (void)send(peer, "more", 4, 0);
    errno = 0;
    n = cu_conn_fill(&c, 16);
    err = errno;
    ok(n == -1 && err == ENOBUFS && memcmp(c.buf, "0123uvwxyz012345", 16) == 0,
       "the head pinned to the end of a buffer at max: -1 ENOBUFS, nothing dropped");
    n = cu_conn_fill(&c, 32);
    ok(n == 4 && c.cap == 32 && c.start == 16 && memcmp(c.buf, "0123uvwxyz012345more", 20) == 0,
       "with room to grow: it grows, the head in place");
    cu_conn_close(&c);
    close(peer);
}

static void test_fill_wait(void)
{
    struct cu_conn c;
    struct ticker t = {0, -1};
    int64_t t0, ms;
    ssize_t n;
    int fd, peer, err;

    unix_pair(&fd, &peer);
    conn_init(&c, fd, 0);
    c.tick = on_tick;
    c.tick_arg = &t;
    c.timeout_ms = 0;
    t0 = cu_now_ms();
    errno = 0;
    n = cu_conn_fill(&c, 1 << 20);
    err = errno;
    ok(n == -1 && err == EAGAIN && t.n == 0 && cu_now_ms() - t0 < AT_ONCE_MS,
       "timeout_ms 0 and nothing sent: -1 EAGAIN at once, no tick");

    c.timeout_ms = 300;
    t0 = cu_now_ms();
    errno = 0;
    n = cu_conn_fill(&c, 1 << 20);
    err = errno;
    ms = cu_now_ms() - t0;
    ok(n == -1 && err == ETIMEDOUT && ms >= 300 && ms < 300 + SLACK_MS,
       "a silent peer: -1 ETIMEDOUT after timeout_ms 300 (%lld ms)", (long long)ms);
    ok(t.n >= 1 && t.n <= 2, "the tick ran while it waited (%d)", t.n);

    t.n = 0;
    t.fd = peer;
    c.timeout_ms = 5000;
    t0 = cu_now_ms();
    n = cu_conn_fill(&c, 1 << 20);
    ms = cu_now_ms() - t0;
    ok(n == 4 && c.end == 4 && memcmp(c.buf, "late", 4) == 0 && t.n == 1 && ms >= 990 &&
       ms < 1000 + SLACK_MS, "a long wait ticks after a second and goes on waiting: "
       "the bytes the tick sent (%lld ms, %d ticks)", (long long)ms, t.n);
    cu_conn_close(&c);
    close(peer);
}

/* A hub's wait (the gevent and eventlet classes): records each call, and
 * waits with poll, or fails as told. */
struct hubwait {
    int calls, fd, ms, fail;
    short events;
};

static int hub_wait(void *arg, int fd, short events, int ms)
{
    struct hubwait *h = arg;
    struct pollfd pfd = {fd, events, 0};

    h->calls++;
    h->fd = fd;
    h->events = events;
    h->ms = ms;
    if (h->fail) {
        errno = h->fail;
        return -1;
    }
    if (poll(&pfd, 1, ms) <= 0) {
        errno = ETIMEDOUT;
        return -1;
    }
    return 0;
}

static void test_fill_hub_wait(void)
{
    struct cu_conn c;
    struct hubwait h = {0};
    char buf[16];
    ssize_t n;
    int fd, peer, err;

    unix_pair(&fd, &peer);
    conn_init(&c, fd, 0);
    c.wait = hub_wait;
    c.wait_arg = &h;
    c.timeout_ms = 200;
    n = cu_conn_fill(&c, 1 << 20);
    err = errno;
    ok(n == -1 && err == ETIMEDOUT && h.calls == 1 && h.fd == fd && h.events == POLLIN &&
       h.ms == 200, "a wait goes to the hub's, once, with the fd, POLLIN and timeout_ms: "
       "its ETIMEDOUT is the fill's");
    (void)send(peer, "hub", 3, 0);
    h.calls = 0;
    ok(cu_conn_fill(&c, 1 << 20) == 3 && h.calls == 0 && memcmp(c.buf, "hub", 3) == 0,
       "bytes already there: no wait");
    h.fail = ECANCELED;
    n = cu_conn_fill(&c, 1 << 20);
    err = errno;
    ok(n == -1 && err == ECANCELED && h.calls == 1,
       "a wait the hub cancelled (the greenlet killed): -1 ECANCELED");
    h = (struct hubwait){0};
    (void)send(peer, PAT, 100, 0);
    cu_conn_linger(&c, 1 << 20, 300);
    ok(h.calls >= 1 && h.fd == fd && recv(peer, buf, 1, MSG_DONTWAIT) == 0,
       "linger waits through the hub too (%d waits), after the peer saw EOF", h.calls);
    c.timeout_ms = 0;
    h.calls = 0;
    n = cu_conn_fill(&c, 1 << 20);
    err = errno;
    ok(n == -1 && err == EAGAIN && h.calls == 0, "timeout_ms 0: EAGAIN, the hub not asked");
    cu_conn_close(&c);
    close(peer);
}

/* deadline_ms and send_timeout_ms bound the hub's wait as they bound
 * poll's; a deadline already past fails before the hub is asked. */
static void test_hub_wait_bounds(void)
{
    struct cu_conn c;
    struct hubwait h = {.fail = ETIMEDOUT};
    static char big[1 << 16];
    ssize_t n;
    int fd, peer, err, rc = 0;

    unix_pair(&fd, &peer);
    conn_init(&c, fd, 0);
    c.wait = hub_wait;
    c.wait_arg = &h;
    c.timeout_ms = 60000;
    c.deadline_ms = cu_now_ms() + 300;
    n = cu_conn_fill(&c, 1 << 20);
    err = errno;
    ok(n == -1 && err == ETIMEDOUT && h.calls == 1 && h.ms > 0 && h.ms <= 300,
       "a read waits on the hub until deadline_ms at most (%d ms), not timeout_ms", h.ms);
    h.calls = 0;
    c.deadline_ms = cu_now_ms() - 1;
    n = cu_conn_fill(&c, 1 << 20);
    err = errno;
    ok(n == -1 && err == ETIMEDOUT && h.calls == 0,
       "deadline_ms already past: ETIMEDOUT, the hub not asked");
    c.deadline_ms = 0;
    c.send_timeout_ms = 200;
    h.calls = 0;
    for (int i = 0; i < 1000 && rc == 0 && h.calls == 0; i++)  /* fills the socket */
        rc = cu_conn_write(&c, big, sizeof(big));
    err = errno;
    ok(rc == -1 && err == ETIMEDOUT && h.calls == 1 && h.events == POLLOUT && h.ms > 0 &&
       h.ms <= 200, "a write the peer does not take waits send_timeout_ms (%d ms)", h.ms);
    h.calls = 0;
    n = cu_conn_fill(&c, 1 << 20);
    ok(n == -1 && h.calls == 1 && h.events == POLLIN && h.ms > 200,
       "a read's wait is timeout_ms's (%d ms): send_timeout_ms is the writes'", h.ms);
    cu_conn_close(&c);
    close(peer);
}

static void test_silent(void)
{
    struct cu_conn c;
    int fd, peer;

    unix_pair(&fd, &peer);
    conn_init(&c, fd, 0);
    ok(cu_conn_silent(&c) == 1, "silent: nothing sent yet");
    (void)send(peer, "G", 1, 0);
    ok(cu_conn_silent(&c) == 0 && cu_conn_fill(&c, 1 << 20) == 1 && c.buf[0] == 'G',
       "a byte waiting: not silent, and the byte stays for the read");
    ok(cu_conn_silent(&c) == 1, "silent again once read");
    close(peer);
    ok(cu_conn_silent(&c) == 0, "the peer's EOF is not silence");
    cu_conn_close(&c);
}

static void test_fill_errors(void)
{
    struct cu_conn c;
    ssize_t n1, n2, n3;
    int fd, peer, err;

    unix_pair(&fd, &peer);
    conn_init(&c, fd, 0);
    (void)send(peer, "last", 4, 0);
    (void)shutdown(peer, SHUT_WR);
    n1 = cu_conn_fill(&c, 1 << 20);
    ok(n1 == 4 && c.eof == 0, "the bytes before EOF first, eof not yet set");
    n2 = cu_conn_fill(&c, 1 << 20);
    n3 = cu_conn_fill(&c, 1 << 20);
    ok(n2 == 0 && n3 == 0 && c.eof == 1 && c.end == 4 && memcmp(c.buf, "last", 4) == 0,
       "then 0 with eof set, again at the next read; the bytes kept");
    cu_conn_close(&c);
    close(peer);

    /* AF_UNIX: the peer closes with our bytes unread */
    unix_pair(&fd, &peer);
    conn_init(&c, fd, 0);
    (void)send(fd, "unread", 6, 0);
    close(peer);
    errno = 0;
    n1 = cu_conn_fill(&c, 1 << 20);
    err = errno;
    ok(n1 == -1 && err == ECONNRESET && c.eof == 0, "a reset (AF_UNIX): -1 ECONNRESET");
    cu_conn_close(&c);

    tcp_pair(&fd, &peer);
    conn_init(&c, fd, 0);
    tcp_reset(fd, peer);
    errno = 0;
    n1 = cu_conn_fill(&c, 1 << 20);
    err = errno;
    ok(n1 == -1 && err == ECONNRESET && c.eof == 0, "a reset (TCP): -1 ECONNRESET");
    cu_conn_close(&c);

    conn_init(&c, -1, 0);
    errno = 0;
    n1 = cu_conn_fill(&c, 1 << 20);
    err = errno;
    ok(n1 == -1 && err == EBADF, "no socket: -1 with the socket's error (EBADF)");
    cu_conn_close(&c);
}

/* ---- linger ------------------------------------------------------------------------ */

static int64_t timed_linger(struct cu_conn *c, size_t limit, int ms)
{
    int64_t t0 = cu_now_ms();

    cu_conn_linger(c, limit, ms);
    return cu_now_ms() - t0;
}

static void test_linger(void)
{
    struct cu_conn c;
    char buf[65536];
    int64_t ms;
    size_t left;
    int fd, peer, p[2];

    unix_pair(&fd, &peer);
    conn_init(&c, fd, 0);
    (void)send(peer, PAT, 100, 0);
    (void)shutdown(peer, SHUT_WR);
    ms = timed_linger(&c, 1 << 20, 5000);
    ok(ms < 1000 && recv(peer, buf, 1, MSG_DONTWAIT) == 0 &&
       recv(fd, buf, sizeof(buf), MSG_DONTWAIT) == 0,
       "linger: the peer sees EOF before the close; its input dropped up to its EOF, "
       "where it returns (%lld ms)", (long long)ms);
    cu_conn_close(&c);
    close(peer);

    unix_pair(&fd, &peer);
    conn_init(&c, fd, 0);
    ms = timed_linger(&c, 1 << 20, 300);
    ok(ms >= 300 && ms < 300 + SLACK_MS && recv(peer, buf, 1, MSG_DONTWAIT) == 0,
       "a silent peer: linger returns after ms 300 (%lld ms)", (long long)ms);
    cu_conn_close(&c);
    close(peer);

    unix_pair(&fd, &peer);
    conn_init(&c, fd, 0);
    (void)send(peer, PAT, 65536, 0);
    ms = timed_linger(&c, 8192, 5000);
    left = avail(fd, buf, sizeof(buf));
    ok(ms < 1000 && 65536 - left >= 8192 && 65536 - left < 8192 + 4096 &&
       memcmp(buf, PAT + 65536 - left, left) == 0,
       "a peer that sends more: linger drops about limit 8192 (%zu) and returns (%lld ms)",
       65536 - left, (long long)ms);
    cu_conn_close(&c);
    close(peer);

    unix_pair(&fd, &peer);
    conn_init(&c, fd, 0);
    (void)send(peer, PAT, 100, 0);
    ms = timed_linger(&c, 0, 5000);
    ok(ms < AT_ONCE_MS && avail(fd, buf, sizeof(buf)) == 100 &&
       recv(peer, buf, 1, MSG_DONTWAIT) == 0, "limit 0: only the shutdown");
    cu_conn_close(&c);
    close(peer);

    if (pipe2(p, O_CLOEXEC) < 0)
        die("pipe");
    conn_init(&c, p[0], 0);
    if (write(p[1], "data", 4) != 4)
        die("write");
    ms = timed_linger(&c, 1 << 20, 5000);
    ok(ms < AT_ONCE_MS && read(p[0], buf, sizeof(buf)) == 4,
       "not a socket (shutdown fails): it returns at once, reads nothing");
    cu_conn_close(&c);
    close(p[1]);
    conn_init(&c, -1, 0);
    ms = timed_linger(&c, 1 << 20, 5000);
    ok(ms < AT_ONCE_MS, "no socket (-1): it returns at once");
    cu_conn_close(&c);
}

/* TCP: a close with unread input sends a reset, which linger avoids. */
static void test_linger_tcp(void)
{
    for (int linger = 1; linger >= 0; linger--) {
        struct cu_conn c;
        struct pollfd p;
        char buf[100];
        int64_t ms = 0;
        size_t got;
        ssize_t sent;
        int fd, peer, end;

        tcp_pair(&fd, &peer);
        conn_init(&c, fd, 0);
        sent = send(peer, PAT, 50000, MSG_DONTWAIT);  /* a request, and more */
        p.fd = fd;
        p.events = POLLIN;
        (void)poll(&p, 1, 2000);
        (void)cu_conn_fill(&c, 1000);
        (void)cu_conn_write(&c, "RESPONSE", 8);
        (void)shutdown(peer, SHUT_WR);  /* the client is done, it waits */
        if (linger)
            ms = timed_linger(&c, 1 << 20, 2000);
        cu_conn_close(&c);
        got = read_until(peer, buf, sizeof(buf), 2000, &end);
        if (linger)
            ok(sent > 1000 && ms < 1000 && got == 8 && memcmp(buf, "RESPONSE", 8) == 0 &&
               end == 0, "TCP, linger then close: the client reads the response and "
               "a clean EOF (%lld ms)", (long long)ms);
        else
            ok(sent > 1000 && end == ECONNRESET, "TCP, the same close without linger: "
               "the client gets a reset (%s)", end ? strerror(end) : "EOF");
        close(peer);
    }
}

/* ---- close ----------------------------------------------------------------------------- */

static void test_close(int f)
{
    struct cu_conn c;
    char *buf;
    size_t filler, got;
    int peer, fds, end, p[2], old;

    filler = queueing(&c, &peer, 65536);
    (void)cu_conn_write(&c, PAT, 100);
    (void)cu_conn_sendfile(&c, f, 0, 10);
    (void)send(peer, "in", 2, 0);
    (void)cu_conn_fill(&c, 1 << 20);
    old = c.fd;
    fds = count_fds();
    cu_conn_close(&c);
    ok(c.fd == -1 && c.buf == NULL && c.queue == NULL && c.queue_last == NULL &&
       c.queued == 0 && count_fds() == fds - 2,
       "close: the socket and the queued file's dup closed, buffer and queue freed");
    buf = malloc(filler + 200);
    if (!buf)
        die("malloc");
    got = read_until(peer, buf, filler + 200, 2000, &end);
    ok(end == 0 && got == filler, "the peer reads what had gone out, then EOF: "
       "nothing queued is sent");
    free(buf);
    close(peer);
    if (pipe2(p, O_CLOEXEC) < 0)
        die("pipe");
    cu_conn_close(&c);
    ok(fcntl(p[0], F_GETFD) >= 0 && fcntl(p[1], F_GETFD) >= 0,
       "close again: nothing else is closed (fd %d may be reused: %d, %d)", old, p[0], p[1]);
    close(p[0]);
    close(p[1]);
}

/* ---- send_error --------------------------------------------------------------------- */

/* Gunicorn's util.write_error() page for an error, from its table. */
static size_t gunicorn_page(int code, char *out, size_t max)
{
    const struct http_error_info *e = http_error_info(code);
    char body[512];
    int bl, n;

    bl = snprintf(body, sizeof(body),
                  "<html>\n  <head>\n    <title>%s</title>\n  </head>\n  <body>\n"
                  "    <h1><p>%s</p></h1>\n    %s\n  </body>\n</html>\n",
                  e->reason, e->reason, e->name);
    n = snprintf(out, max,
                 "HTTP/1.1 %u %s\r\nConnection: close\r\nContent-Type: text/html\r\n"
                 "Content-Length: %d\r\n\r\n%s", (unsigned)e->status, e->reason, bl, body);
    return n < 0 ? 0 : (size_t)n;
}

/* Takes out the Date line every page carries (ours: RFC 9110 §6.6.1; its
 * value is tests/http/test_pages.c's to check), as the last header line,
 * and its bytes from *wrote; SIZE_MAX when it is not there. */
static size_t undate(char *buf, size_t n, uint64_t *wrote)
{
    char *at = memmem(buf, n, "\r\nDate: ", 8), *end = memmem(buf, n, "\r\n\r\n", 4);

    if (!at || at + 8 + HTTP_DATE_LEN != end)
        return SIZE_MAX;
    memmove(at, at + 8 + HTTP_DATE_LEN, n - (size_t)(at + 8 + HTTP_DATE_LEN - buf));
    *wrote -= 8 + HTTP_DATE_LEN;
    return n - 8 - HTTP_DATE_LEN;
}

/* What the peer gets from send_error(code), up to EOF, its Date taken out. */
static size_t sent_for(int code, char *buf, size_t max, int *rc, uint64_t *wrote)
{
    struct cu_conn c;
    size_t got;
    int fd, peer, end;

    unix_pair(&fd, &peer);
    conn_init(&c, fd, 0);
    *rc = cu_conn_send_error(&c, code);
    *wrote = c.wrote;
    cu_conn_close(&c);
    got = read_until(peer, buf, max, 2000, &end);
    close(peer);
    if (end != 0)
        return SIZE_MAX;
    return got ? undate(buf, got, wrote) : 0;
}

/* The answer to a HEAD request: the page's head, without the page. */
static void test_send_error_head(void)
{
    char buf[2048], want[2048];
    size_t got, wl = gunicorn_page(HTTP_E_METHOD, want, sizeof(want));
    size_t head = (size_t)((char *)memmem(want, wl, "\r\n\r\n", 4) - want) + 4;
    uint64_t wrote;
    int fd, peer, end, rc;
    struct cu_conn c;

    for (int to = 0; to < 3; to++) {
        unix_pair(&fd, &peer);
        conn_init(&c, fd, 0);
        if (to < 2) {  /* a head that failed to parse, its request line read */
            (void)send(peer, to ? "HEAD / HTTP/1.1\r\n" : "HEAD", to ? 17 : 4, 0);
            (void)cu_conn_fill(&c, 1 << 20);
            rc = cu_conn_send_error(&c, HTTP_E_METHOD);
        } else {  /* a parsed HEAD request: the caller says so */
            rc = cu_conn_send_error_to(&c, HTTP_E_METHOD, 1);
        }
        wrote = c.wrote;
        cu_conn_close(&c);
        got = read_until(peer, buf, sizeof(buf), 2000, &end);
        close(peer);
        got = end == 0 && got ? undate(buf, got, &wrote) : SIZE_MAX;
        if (to == 0)
            ok(rc == 0 && got == wl && memcmp(buf, want, wl) == 0,
               "send_error after \"HEAD\" alone (not a HEAD line): the whole page");
        else
            ok(rc == 0 && got == head && memcmp(buf, want, head) == 0 && wrote == head,
               "%s: the page's head only, Content-Length kept (RFC 9110 §9.3.2)",
               to == 1 ? "send_error after a HEAD request line" : "send_error_to(head 1)");
    }
}

static void test_send_error(void)
{
    static const char method[] =
        "HTTP/1.1 400 Bad Request\r\nConnection: close\r\nContent-Type: text/html\r\n"
        "Content-Length: 141\r\n\r\n<html>\n  <head>\n    <title>Bad Request</title>\n"
        "  </head>\n  <body>\n    <h1><p>Bad Request</p></h1>\n    InvalidRequestMethod\n"
        "  </body>\n</html>\n";
    static const char *const too_large =
        "HTTP/1.1 431 Request Header Fields Too Large\r\nConnection: close\r\n"
        "Content-Type: text/html\r\nContent-Length: 180\r\n\r\n";
    char buf[2048], want[2048];
    uint64_t wrote;
    size_t got, wl;
    int rc, fd, peer, err;
    struct cu_conn c;

    got = sent_for(HTTP_E_METHOD, buf, sizeof(buf), &rc, &wrote);
    ok(rc == 0 && got == sizeof(method) - 1 && memcmp(buf, method, got) == 0 &&
       wrote == got, "send_error(HTTP_E_METHOD): Gunicorn's 400 page, byte for byte");
    got = sent_for(HTTP_E_HEADERS_TOO_LARGE, buf, sizeof(buf), &rc, &wrote);
    ok(rc == 0 && got == strlen(too_large) + 180 && memcmp(buf, too_large, strlen(too_large)) == 0,
       "send_error(HTTP_E_HEADERS_TOO_LARGE): 431, its Content-Length right");
    for (int code = 1; code >= HTTP_E_LAST - 1; code--) {
        const struct http_error_info *e = http_error_info(code);
        wl = e->respond ? gunicorn_page(code, want, sizeof(want)) : 0;
        got = sent_for(code, buf, sizeof(buf), &rc, &wrote);
        ok(rc == 0 && got == wl && memcmp(buf, want, wl) == 0 && wrote == wl,
           "send_error(%d) %s: %s", code, e->name,
           e->respond ? "its page (status, reason, name from http_error_info)"
                      : "nothing sent, it closes silently");
    }
    got = sent_for(-99, buf, sizeof(buf), &rc, &wrote);
    wl = gunicorn_page(-99, want, sizeof(want));
    ok(rc == 0 && got == wl && memcmp(buf, want, wl) == 0 && strstr(buf, " 500 ") != NULL,
       "send_error(-99), unknown: 500 Internal Server Error");

    unix_pair(&fd, &peer);
    conn_init(&c, fd, 0);
    close(peer);
    errno = 0;
    rc = cu_conn_send_error(&c, HTTP_E_METHOD);
    err = errno;
    ok(rc == -1 && err == EPIPE, "send_error to a closed peer: -1 EPIPE");
    ok(cu_conn_send_error(&c, HTTP_E_EOF) == 0, "a silent code to a closed peer: 0");
    cu_conn_close(&c);
    test_send_error_head();
}

int main(void)
{
    int f, fds;

    (void)signal(SIGPIPE, SIG_IGN);  /* as in a worker (signals.c) */
    (void)alarm(60);                 /* a hang fails the test, not the suite */
    make_pattern();
    fds = count_fds();
    f = temp_file();
    test_init();
    test_shrink();
    test_fill_growth();
    test_fill_keep();
    test_fill_wait();
    test_fill_hub_wait();
    test_hub_wait_bounds();
    test_silent();
    test_fill_errors();
    test_linger();
    test_linger_tcp();
    test_close(f);
    test_send_error();
    close(f);
    ok(count_fds() == fds, "no fd left open (%d at the start)", fds);
    free(PAT);
    return tap_done();
}
