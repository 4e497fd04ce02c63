/*
 * The client connection (src/worker/conn.c) over real sockets: a
 * socketpair(AF_UNIX, SOCK_STREAM), and a TCP loopback pair where TCP
 * behaves otherwise (a reset; a close with unread input). The
 * connection's end is non-blocking, as a worker's is; the other end is the
 * peer, played by this test (or by a thread that reads). Every wait has a
 * deadline; the bytes are a pattern, so a byte lost, doubled or moved
 * shows.
 *
 * Covered: init, shrink, fill (growth, moves, the pinned head, EOF, the
 * socket's errors, timeouts and the tick), write/writev (partial writes,
 * the iov left where it stopped, EPIPE, ECONNRESET, timeouts), sendfile,
 * the write queue (whole, flush, unqueue, the cap), abort from another
 * thread, linger, close, send_error.
 */
#include "worker/conn.h"
#include "core/clock.h"
#include "http/http.h"
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

/* malloc(SIZE_MAX) returns NULL under ASan too, as it does in libc. */
const char *__asan_default_options(void);
const char *__asan_default_options(void)
{
    return "allocator_may_return_null=1";
}

#define SLACK_MS 2000          /* how late a bounded wait may end (a busy machine) */
#define AT_ONCE_MS 250         /* "returns at once" */
#define PAT_LEN (8u << 20)
#define FSIZE (1u << 20)       /* the temp file: PAT[0..FSIZE) */

static char *PAT;              /* PAT[i] is a function of i, not periodic */

static const char PAGE[] = "HTTP/1.1 504 Gateway Timeout\r\nConnection: close\r\n"
                           "Content-Length: 0\r\n\r\n";
#define PAGE_LEN (sizeof(PAGE) - 1)

/* ---- helpers ------------------------------------------------------------ */

static void die(const char *what)
{
    (void)printf("Bail out! %s: %s\n", what, strerror(errno));
    exit(1);
}

static void make_pattern(void)
{
    PAT = malloc(PAT_LEN);
    if (!PAT)
        die("malloc");
    for (size_t i = 0; i < PAT_LEN; i++)
        PAT[i] = (char)(((i * 2654435761u) >> 11) ^ i);
}

static int count_fds(void)
{
    DIR *d = opendir("/proc/self/fd");
    struct dirent *e;
    int n = 0;

    if (d == NULL)
        return -1;
    while ((e = readdir(d)) != NULL)
        if (e->d_name[0] != '.')
            n++;
    if (closedir(d) == -1)
        return -1;
    return n - 1;  /* the DIR's own fd */
}

/* The connection's end and the peer's, both non-blocking. */
static void unix_pair(int *conn, int *peer)
{
    int sv[2];

    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, sv) < 0)
        die("socketpair");
    *conn = sv[0];
    *peer = sv[1];
}

static void set_blocking(int fd, int on)
{
    int fl = fcntl(fd, F_GETFL);

    if (fl < 0 || fcntl(fd, F_SETFL, on ? fl & ~O_NONBLOCK : fl | O_NONBLOCK) < 0)
        die("fcntl");
}

static void tcp_pair(int *conn, int *peer)
{
    struct sockaddr_in a;
    socklen_t alen = sizeof(a);
    int l = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

    memset(&a, 0, sizeof(a));
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (l < 0 || bind(l, (struct sockaddr *)&a, sizeof(a)) < 0 || listen(l, 1) < 0 ||
        getsockname(l, (struct sockaddr *)&a, &alen) < 0)
        die("tcp listener");
    *peer = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (*peer < 0 || connect(*peer, (struct sockaddr *)&a, sizeof(a)) < 0)
        die("connect");
    *conn = accept4(l, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (*conn < 0)
        die("accept4");
    set_blocking(*peer, 0);
    close(l);
}

/* The peer resets the connection (SO_LINGER 0), and the reset arrives. */
static void tcp_reset(int conn, int peer)
{
    struct linger lg = {1, 0};
    struct pollfd p = {conn, POLLIN, 0};

    if (setsockopt(peer, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg)) < 0)
        die("SO_LINGER");
    close(peer);
    if (poll(&p, 1, 2000) != 1)
        die("no reset");
}

/* What fd has to read right now (AF_UNIX: everything sent), up to max. */
static size_t avail(int fd, char *buf, size_t max)
{
    size_t got = 0;

    while (got < max) {
        ssize_t n = recv(fd, buf + got, max - got, MSG_DONTWAIT);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            break;
        got += (size_t)n;
    }
    return got;
}

/* Reads fd until EOF, within ms. Returns the bytes read; *end is 0 at
 * EOF, else the errno that stopped it (ETIMEDOUT, ENOBUFS past max). */
static size_t read_until(int fd, char *buf, size_t max, int ms, int *end)
{
    int64_t deadline = cu_now_ms() + ms;
    size_t got = 0;
    char sink[1] = {0};

    for (;;) {
        struct pollfd p = {fd, POLLIN, 0};
        int64_t left = deadline - cu_now_ms();
        ssize_t n;

        if (left <= 0) {
            *end = ETIMEDOUT;
            return got;
        }
        if (poll(&p, 1, (int)left) <= 0)
            continue;
        n = recv(fd, got < max ? buf + got : sink, got < max ? max - got : 1, MSG_DONTWAIT);
        if (n == 0) {
            *end = 0;
            return got;
        }
        if (n < 0) {
            if (errno == EAGAIN || errno == EINTR)
                continue;
            *end = errno;
            return got;
        }
        if (got >= max) {
            *end = ENOBUFS;
            return got;
        }
        got += (size_t)n;
    }
}

/* Sends 'F' bytes until the socket takes no more; returns how many. */
static size_t fill_socket(int fd)
{
    static char junk[65536];
    size_t total = 0, step = sizeof(junk);

    memset(junk, 'F', sizeof(junk));
    while (step > 0) {
        ssize_t n = send(fd, junk, step, MSG_DONTWAIT | MSG_NOSIGNAL);
        if (n > 0)
            total += (size_t)n;
        else if (n < 0 && errno == EINTR)
            continue;
        else
            step /= 16;
    }
    return total;
}

static int all_f(const char *p, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (p[i] != 'F')
            return 0;
    return 1;
}

/* The poller's part: flush whenever the socket is writable, while the
 * peer reads everything, until the queue is empty or flush fails. Returns
 * flush's last answer; what the peer read is appended to buf. */
static int flush_out(struct cu_conn *c, int peer, char *buf, size_t max, size_t *got)
{
    int64_t deadline = cu_now_ms() + 5000;
    int rc, err;

    for (;;) {
        struct pollfd p = {c->fd, POLLOUT, 0};

        *got += avail(peer, buf + *got, max - *got);
        rc = cu_conn_flush(c);
        err = errno;
        if (rc <= 0 || cu_now_ms() > deadline)
            break;
        (void)poll(&p, 1, 100);
    }
    *got += avail(peer, buf + *got, max - *got);
    errno = err;  /* flush's */
    return rc;
}

static int temp_file(void)
{
    char path[] = "/tmp/cu-conn-XXXXXX";
    int fd = mkstemp(path);

    if (fd < 0)
        die("mkstemp");
    (void)unlink(path);
    if (write(fd, PAT, FSIZE) != (ssize_t)FSIZE)
        die("write");
    return fd;
}

/* A thread that reads want bytes (or up to EOF), step bytes at a time. */
struct reader {
    pthread_t t;
    int fd;
    size_t want, step, got;
    char *buf;
    int end;        /* 0, or the errno that stopped it */
};

static void *reader_main(void *arg)
{
    struct reader *r = arg;
    int64_t deadline = cu_now_ms() + 8000;

    while (r->got < r->want) {
        struct pollfd p = {r->fd, POLLIN, 0};
        int64_t left = deadline - cu_now_ms();
        size_t n = r->want - r->got < r->step ? r->want - r->got : r->step;
        ssize_t k;

        if (left <= 0) {
            r->end = ETIMEDOUT;
            break;
        }
        if (poll(&p, 1, (int)left) <= 0)
            continue;
        k = recv(r->fd, r->buf + r->got, n, MSG_DONTWAIT);
        if (k > 0) {
            r->got += (size_t)k;
        } else if (k == 0) {
            break;
        } else if (errno != EAGAIN && errno != EINTR) {
            r->end = errno;
            break;
        }
    }
    return NULL;
}

static void reader_start(struct reader *r, int fd, size_t want, size_t step)
{
    memset(r, 0, sizeof(*r));
    r->fd = fd;
    r->want = want;
    r->step = step;
    r->buf = malloc(want);
    if (!r->buf || pthread_create(&r->t, NULL, reader_main, r) != 0)
        die("reader");
}

static void reader_join(struct reader *r)
{
    (void)pthread_join(r->t, NULL);
}

/* Counts its calls; the first one sends "late" to fd if fd >= 0. */
struct ticker {
    int n;
    int fd;
};

static void on_tick(void *arg)
{
    struct ticker *t = arg;

    t->n++;
    if (t->fd >= 0) {
        ssize_t w = send(t->fd, "late", 4, MSG_NOSIGNAL);
        (void)w;
        t->fd = -1;
    }
}

/* cu_conn_init() with waits of at most 2 s: a wrong answer from the code
 * under test fails a check instead of stalling the run for 30 s. */
static void conn_init(struct cu_conn *c, int fd, size_t cap)
{
    if (cu_conn_init(c, fd, cap) < 0)
        die("cu_conn_init");
    c->timeout_ms = 2000;
}

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

/* ---- write, writev ---------------------------------------------------------- */

static void test_write_small(void)
{
    enum { MANY = IOV_MAX + 6 };
    static struct iovec many[MANY];
    const size_t all = (size_t)3 * MANY;
    struct iovec iov[4] = {{"ab", 2}, {"", 0}, {"cde", 3}, {"", 0}};
    struct cu_conn c;
    char buf[4096];
    int fd, peer, rc;

    unix_pair(&fd, &peer);
    conn_init(&c, fd, 0);
    rc = cu_conn_write(&c, "hello", 5);
    ok(rc == 0 && avail(peer, buf, sizeof(buf)) == 5 && memcmp(buf, "hello", 5) == 0 &&
       c.wrote == 5, "write: 0, the bytes sent, counted in wrote");
    rc = cu_conn_write(&c, "", 0);
    ok(rc == 0 && avail(peer, buf, sizeof(buf)) == 0 && c.wrote == 5,
       "write of 0 bytes: 0, nothing sent");
    rc = cu_conn_writev(&c, iov, 4);
    ok(rc == 0 && avail(peer, buf, sizeof(buf)) == 5 && memcmp(buf, "abcde", 5) == 0 &&
       c.wrote == 10, "writev with empty entries: the others, in order");
    ok(cu_conn_writev(&c, iov, 0) == 0 && avail(peer, buf, sizeof(buf)) == 0,
       "writev of no entries: 0, nothing sent");
    for (size_t i = 0; i < MANY; i++) {
        many[i].iov_base = PAT + 3 * i;
        many[i].iov_len = 3;
    }
    rc = cu_conn_writev(&c, many, MANY);
    ok(rc == 0 && avail(peer, buf, sizeof(buf)) == all && memcmp(buf, PAT, all) == 0 &&
       c.wrote == 10 + all,
       "writev of IOV_MAX + 6 entries: all of them, in order");
    cu_conn_close(&c);
    close(peer);
}

static void test_write_big(void)
{
    const size_t sizes[7] = {1, 100000, 0, 3, 700001, 1, 77777};
    struct iovec iov[7];
    struct cu_conn c;
    struct reader r;
    size_t total = 0;
    socklen_t sl = sizeof(int);
    int fd, peer, rc, sndbuf = 0;

    unix_pair(&fd, &peer);
    conn_init(&c, fd, 0);
    (void)getsockopt(fd, SOL_SOCKET, SO_SNDBUF, &sndbuf, &sl);
    reader_start(&r, peer, 4u << 20, 1000);
    rc = cu_conn_write(&c, PAT, 4u << 20);
    reader_join(&r);
    ok(rc == 0 && r.got == 4u << 20 && memcmp(r.buf, PAT, r.got) == 0 && c.wrote == 4u << 20,
       "4 MiB through a socket buffer of %d bytes, read 1000 bytes at a time: "
       "all of it, in order", sndbuf);
    free(r.buf);

    for (int i = 0; i < 7; i++) {
        iov[i].iov_base = PAT + total;
        iov[i].iov_len = sizes[i];
        total += sizes[i];
    }
    reader_start(&r, peer, total, 4096);
    rc = cu_conn_writev(&c, iov, 7);
    reader_join(&r);
    ok(rc == 0 && r.got == total && memcmp(r.buf, PAT, total) == 0 &&
       c.wrote == (4u << 20) + total,
       "writev of 7 entries (%zu bytes) written in parts: all of them, in order", total);
    free(r.buf);
    cu_conn_close(&c);
    close(peer);
}

/* After a write stopped at byte `at` of what orig[] held: the entry where
 * it stopped starts at the first unsent byte and ends where it did; the
 * entries after it are as they were. */
static int iov_left_at(const struct iovec *iov, const struct iovec *orig, int n, size_t at)
{
    size_t pre = 0;
    int k = 0;

    while (k < n && pre + orig[k].iov_len <= at)
        pre += orig[k++].iov_len;
    if (k == n)
        return 0;  /* everything went: this was no stop */
    if ((char *)iov[k].iov_base != (char *)orig[k].iov_base + (at - pre) ||
        iov[k].iov_len != orig[k].iov_len - (at - pre))
        return 0;
    for (int i = k + 1; i < n; i++)
        if (iov[i].iov_base != orig[i].iov_base || iov[i].iov_len != orig[i].iov_len)
            return 0;
    return 1;
}

static void test_write_timeout(void)
{
    struct iovec iov[3] = {{PAT, 100000}, {PAT + 100000, 3000000}, {PAT + 3100000, 1000000}};
    struct iovec orig[3];
    struct cu_conn c;
    char *buf = malloc(4200000);
    int64_t t0, ms;
    size_t got;
    uint64_t wrote;
    int fd, peer, rc, err;

    if (!buf)
        die("malloc");
    memcpy(orig, iov, sizeof(iov));
    unix_pair(&fd, &peer);
    conn_init(&c, fd, 0);
    c.timeout_ms = 300;
    t0 = cu_now_ms();
    errno = 0;
    rc = cu_conn_writev(&c, iov, 3);
    err = errno;
    ms = cu_now_ms() - t0;
    ok(rc == -1 && err == ETIMEDOUT && ms >= 300 && ms < 300 + SLACK_MS,
       "a peer that never reads: -1 ETIMEDOUT after timeout_ms 300 (%lld ms)", (long long)ms);
    wrote = c.wrote;
    c.timeout_ms = 0;
    t0 = cu_now_ms();
    errno = 0;
    rc = cu_conn_write(&c, "x", 1);
    err = errno;
    ok(rc == -1 && err == EAGAIN && c.wrote == wrote && c.queue == NULL &&
       cu_now_ms() - t0 < AT_ONCE_MS,
       "timeout_ms 0 on a full socket: -1 EAGAIN at once, nothing queued");
    got = avail(peer, buf, 4200000);
    ok(got > 0 && got < 4100000 && got == wrote && memcmp(buf, PAT, got) == 0,
       "what went out (%zu bytes) is a prefix, counted in wrote", got);
    ok(iov_left_at(iov, orig, 3, got),
       "the iov is left at the first unsent byte, the entries after it untouched");
    free(buf);
    cu_conn_close(&c);
    close(peer);
}

static void test_write_errors(void)
{
    struct cu_conn c;
    int fd, peer, rc, err;

    unix_pair(&fd, &peer);
    conn_init(&c, fd, 0);
    close(peer);
    errno = 0;
    rc = cu_conn_write(&c, "x", 1);
    err = errno;
    ok(rc == -1 && err == EPIPE && c.wrote == 0, "the peer closed: -1 EPIPE");
    cu_conn_close(&c);

    tcp_pair(&fd, &peer);
    conn_init(&c, fd, 0);
    tcp_reset(fd, peer);
    errno = 0;
    rc = cu_conn_write(&c, PAT, 100000);
    err = errno;
    ok(rc == -1 && err == ECONNRESET && c.wrote == 0, "the peer reset (TCP): -1 ECONNRESET");
    cu_conn_close(&c);
}

/* ---- sendfile ----------------------------------------------------------------- */

static void test_sendfile(int f)
{
    struct cu_conn c;
    struct reader r;
    char buf[2048];
    int fd, peer, rc, err, dir;

    unix_pair(&fd, &peer);
    conn_init(&c, fd, 0);
    rc = cu_conn_sendfile(&c, f, 10, 20);
    ok(rc == 0 && avail(peer, buf, sizeof(buf)) == 20 && memcmp(buf, PAT + 10, 20) == 0 &&
       c.wrote == 20 && lseek(f, 0, SEEK_CUR) == (off_t)FSIZE,
       "sendfile(off 10, n 20): those bytes, counted; the file's offset unchanged");
    reader_start(&r, peer, 900000, 4096);
    rc = cu_conn_sendfile(&c, f, 12345, 900000);
    reader_join(&r);
    ok(rc == 0 && r.got == 900000 && memcmp(r.buf, PAT + 12345, 900000) == 0 &&
       c.wrote == 900020, "sendfile of 900000 bytes through a slow reader: all of them");
    free(r.buf);
    errno = 0;
    rc = cu_conn_sendfile(&c, f, FSIZE - 100, 1000);
    err = errno;
    ok(rc == -1 && err == EIO && avail(peer, buf, sizeof(buf)) == 100 &&
       memcmp(buf, PAT + FSIZE - 100, 100) == 0,
       "n beyond the end of the file: the 100 bytes there are, then -1 EIO");
    errno = 0;
    rc = cu_conn_sendfile(&c, f, FSIZE + 10, 5);
    err = errno;
    ok(rc == -1 && err == EIO && avail(peer, buf, sizeof(buf)) == 0,
       "an offset past the end: -1 EIO, nothing sent");
    ok(cu_conn_sendfile(&c, f, 0, 0) == 0 && avail(peer, buf, sizeof(buf)) == 0,
       "n 0: 0, nothing sent");
    errno = 0;
    rc = cu_conn_sendfile(&c, f, -1, 5);
    err = errno;
    ok(rc == -1 && err == EINVAL, "a negative offset: -1 EINVAL");
    dir = open("/tmp", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    errno = 0;
    rc = cu_conn_sendfile(&c, dir, 0, 5);
    err = errno;
    ok(rc == -1 && err == EINVAL, "a directory: -1 EINVAL");
    close(dir);
    errno = 0;
    rc = cu_conn_sendfile(&c, peer, 0, 5);
    err = errno;
    ok(rc == -1 && (err == EINVAL || err == ESPIPE) && avail(peer, buf, sizeof(buf)) == 0,
       "a socket for a file: -1 (%s; conn.h says EINVAL)", strerror(err));
    errno = 0;
    rc = cu_conn_sendfile(&c, -1, 0, 5);
    err = errno;
    ok(rc == -1 && err == EBADF, "no file: -1 EBADF");
    cu_conn_close(&c);
    close(peer);
}

static void test_sendfile_errors(int f)
{
    struct cu_conn c;
    char *buf = malloc(FSIZE);
    int64_t t0, ms;
    size_t got;
    int fd, peer, rc, err;

    if (!buf)
        die("malloc");
    unix_pair(&fd, &peer);
    conn_init(&c, fd, 0);
    c.timeout_ms = 300;
    t0 = cu_now_ms();
    errno = 0;
    rc = cu_conn_sendfile(&c, f, 0, FSIZE);
    err = errno;
    ms = cu_now_ms() - t0;
    got = avail(peer, buf, FSIZE);
    ok(rc == -1 && err == ETIMEDOUT && ms >= 300 && ms < 300 + SLACK_MS && got > 0 &&
       got < FSIZE && got == c.wrote && memcmp(buf, PAT, got) == 0,
       "a peer that never reads: -1 ETIMEDOUT (%lld ms), what went out (%zu) counted",
       (long long)ms, got);
    close(peer);
    errno = 0;
    rc = cu_conn_sendfile(&c, f, 0, 10);
    err = errno;
    ok(rc == -1 && err == EPIPE, "the peer closed: -1 EPIPE");
    cu_conn_close(&c);
    free(buf);
}

/* ---- the write queue ------------------------------------------------------------ */

/* A connection that queues (queue_max, whole), on a socket already full. */
static size_t queueing(struct cu_conn *c, int *peer, size_t queue_max)
{
    int fd;

    unix_pair(&fd, peer);
    conn_init(c, fd, 0);
    c->timeout_ms = 5000;
    c->queue_max = queue_max;
    cu_conn_whole(c);
    return fill_socket(fd);
}

static void test_queue(int f)
{
    struct cu_conn c;
    struct cu_seg *s;
    size_t filler, got = 0, want;
    char *buf;
    int64_t t0;
    int peer, f2, fds, rc1, rc2;

    filler = queueing(&c, &peer, 65536);
    ok(c.whole == 1, "whole with a queue_max: writes may be queued");
    f2 = dup(f);
    fds = count_fds();
    t0 = cu_now_ms();
    rc1 = cu_conn_write(&c, PAT, 10000);
    rc2 = cu_conn_write(&c, PAT + 10000, 5000);
    ok(rc1 == 0 && rc2 == 0 && cu_now_ms() - t0 < AT_ONCE_MS && c.queued == 15000 &&
       c.queue != NULL && c.queue->next == c.queue_last && c.queue->fd == -1 &&
       c.queue_last->fd == -1 && c.queue_last->next == NULL && c.wrote == 0,
       "a full socket: two writes queued (15000 bytes), each returning at once");
    rc1 = cu_conn_sendfile(&c, f2, 100, 20000);
    s = c.queue_last;
    ok(rc1 == 0 && s != NULL && s->fd >= 0 && s->fd != f2 && s->foff == 100 &&
       s->fleft == 20000 && c.queued == 15000 && count_fds() == fds + 1,
       "then a file: queued as a dup of its fd (files are not counted in queued)");
    close(f2);
    ok(cu_conn_flush(&c) == 1 && c.queued == 15000,
       "flush while the peer reads nothing: 1, the socket is full");
    want = filler + 35000;
    buf = malloc(want + 1);
    if (!buf)
        die("malloc");
    rc1 = flush_out(&c, peer, buf, want + 1, &got);
    ok(rc1 == 0 && got == want && all_f(buf, filler) && memcmp(buf + filler, PAT, 15000) == 0 &&
       memcmp(buf + filler + 15000, PAT + 100, 20000) == 0,
       "flush as the peer reads: 0 at the end; the writes, then the file, in order "
       "(the file's own fd was closed before)");
    ok(c.queue == NULL && c.queue_last == NULL && c.queued == 0 && c.wrote == 35000 &&
       count_fds() == fds - 1, "the queue is empty, the dup closed; every byte in wrote");
    ok(cu_conn_flush(&c) == 0, "flush of an empty queue: 0");
    free(buf);
    cu_conn_close(&c);
    close(peer);
}

/* A write that fills the socket: what goes out goes, the rest is queued. */
static void test_queue_partial(int f)
{
    struct cu_conn c;
    struct cu_seg *s;
    char *buf = malloc(FSIZE + 1);
    size_t got = 0;
    int64_t t0;
    int fd, peer, rc;

    if (!buf)
        die("malloc");
    unix_pair(&fd, &peer);
    conn_init(&c, fd, 0);
    c.timeout_ms = 5000;
    c.queue_max = 1 << 20;
    cu_conn_whole(&c);
    t0 = cu_now_ms();
    rc = cu_conn_write(&c, PAT, 600000);
    ok(rc == 0 && cu_now_ms() - t0 < AT_ONCE_MS && c.wrote > 0 && c.wrote < 600000 &&
       c.wrote + c.queued == 600000 && c.queue != NULL && c.queue == c.queue_last,
       "write of 600000 bytes, the peer not reading: %llu sent, the rest queued, at once",
       (unsigned long long)c.wrote);
    rc = flush_out(&c, peer, buf, FSIZE + 1, &got);
    ok(rc == 0 && got == 600000 && memcmp(buf, PAT, 600000) == 0 && c.wrote == 600000,
       "flushed: all of it, in order");

    got = 0;
    t0 = cu_now_ms();
    rc = cu_conn_sendfile(&c, f, 0, FSIZE);
    s = c.queue;
    ok(rc == 0 && cu_now_ms() - t0 < AT_ONCE_MS && s != NULL && s->fd >= 0 &&
       c.wrote > 600000 && s->foff == (off_t)(c.wrote - 600000) &&
       s->fleft == FSIZE - (c.wrote - 600000) && c.queued == 0,
       "sendfile of 1 MiB, the peer not reading: the rest of the file queued from "
       "where it stopped");
    rc = flush_out(&c, peer, buf, FSIZE + 1, &got);
    ok(rc == 0 && got == FSIZE && memcmp(buf, PAT, FSIZE) == 0 && c.queue == NULL,
       "flushed: the whole file");
    free(buf);
    cu_conn_close(&c);
    close(peer);
}

/* Past queue_max a write waits, as when nothing queues. */
static void test_queue_max(void)
{
    struct cu_conn c;
    struct reader r;
    size_t filler;
    int64_t t0, ms;
    int peer, rc, err;

    (void)queueing(&c, &peer, 0);
    c.timeout_ms = 0;
    errno = 0;
    rc = cu_conn_write(&c, "0123456789", 10);
    err = errno;
    ok(c.whole == 0 && rc == -1 && err == EAGAIN && c.queue == NULL,
       "queue_max 0: whole does nothing, a write that would block waits (timeout 0: EAGAIN)");
    cu_conn_close(&c);
    close(peer);

    filler = queueing(&c, &peer, 1000);
    c.timeout_ms = 0;
    errno = 0;
    rc = cu_conn_write(&c, PAT, 5000);
    err = errno;
    ok(rc == -1 && err == EAGAIN && c.queue == NULL,
       "one write bigger than queue_max: not queued, it waits (timeout 0: EAGAIN)");
    c.timeout_ms = 300;
    rc = cu_conn_write(&c, PAT, 800);
    ok(rc == 0 && c.queued == 800, "800 bytes within queue_max 1000: queued");
    t0 = cu_now_ms();
    errno = 0;
    rc = cu_conn_write(&c, PAT + 800, 300);
    err = errno;
    ms = cu_now_ms() - t0;
    ok(rc == -1 && err == ETIMEDOUT && ms >= 300 && ms < 300 + SLACK_MS && c.queued == 800 &&
       c.queue == c.queue_last, "300 more, past the cap: it waits for the queue "
       "(-1 ETIMEDOUT after %lld ms), the queue intact", (long long)ms);
    c.timeout_ms = 0;
    t0 = cu_now_ms();
    errno = 0;
    rc = cu_conn_write(&c, PAT + 800, 300);
    err = errno;
    ok(rc == -1 && err == EAGAIN && cu_now_ms() - t0 < AT_ONCE_MS && c.queued == 800,
       "the same with timeout_ms 0: -1 EAGAIN at once");

    c.timeout_ms = 5000;
    reader_start(&r, peer, filler + 1100, 1000);
    rc = cu_conn_write(&c, PAT + 800, 300);
    while (rc == 0 && c.queue != NULL) {  /* the 300 may be queued in turn */
        struct pollfd p = {c.fd, POLLOUT, 0};
        (void)poll(&p, 1, 100);
        if (cu_conn_flush(&c) < 0)
            rc = -1;
    }
    reader_join(&r);
    ok(rc == 0 && r.got == filler + 1100 && all_f(r.buf, filler) &&
       memcmp(r.buf + filler, PAT, 1100) == 0,
       "with a reader: the queue goes first, then the write; all in order");
    free(r.buf);
    cu_conn_close(&c);
    close(peer);
}

static void test_queue_errors(int f)
{
    struct cu_conn c;
    char *buf;
    size_t filler, got = 0;
    int peer, fds, rc, err;

    filler = queueing(&c, &peer, 65536);
    (void)cu_conn_write(&c, PAT, 100);
    (void)cu_conn_sendfile(&c, f, 0, 100);
    close(peer);
    fds = count_fds();
    errno = 0;
    rc = cu_conn_flush(&c);
    err = errno;
    ok(rc == -1 && err == EPIPE && c.queue != NULL && c.queued == 100,
       "flush after the peer closed: -1 EPIPE, the queue left");
    cu_conn_unqueue(&c);
    ok(c.queue == NULL && c.queue_last == NULL && c.queued == 0 && c.whole == 0 &&
       count_fds() == fds - 1, "unqueue: the queue dropped, its file closed, whole reset");
    cu_conn_close(&c);

    filler = queueing(&c, &peer, 65536);
    buf = malloc(filler + 100);
    if (!buf)
        die("malloc");
    rc = cu_conn_sendfile(&c, f, FSIZE - 10, 100);
    ok(rc == 0 && c.queue != NULL && c.queue->fleft == 100,
       "a file queued for 100 bytes where it has 10");
    errno = 0;
    rc = flush_out(&c, peer, buf, filler + 100, &got);
    err = errno;
    ok(rc == -1 && err == EIO && got == filler + 10 &&
       memcmp(buf + filler, PAT + FSIZE - 10, 10) == 0,
       "flush: the 10 bytes, then -1 EIO (the file is shorter than it said)");
    cu_conn_close(&c);
    close(peer);

    free(buf);
    got = 0;
    filler = queueing(&c, &peer, 65536);
    buf = malloc(filler + 100);
    if (!buf)
        die("malloc");
    (void)cu_conn_write(&c, "0123456789", 10);
    rc = cu_conn_sendfile(&c, f, 0, 0);
    ok(rc == 0, "sendfile of 0 bytes behind a queue: 0");
    errno = 0;
    rc = flush_out(&c, peer, buf, filler + 100, &got);
    err = errno;
    ok(rc == 0 && got == filler + 10,
       "and the queue then flushes: 0, not -1 EIO (flush: %d, %s)", rc,
       rc < 0 ? strerror(err) : "ok");
    free(buf);
    cu_conn_close(&c);
    close(peer);
}

/* ---- abort ------------------------------------------------------------------------ */

struct abort_call {
    struct cu_conn *c;
    uint64_t before;
    const char *page;
    size_t len;
    int rc;
};

static void *abort_main(void *arg)
{
    struct abort_call *a = arg;

    a->rc = cu_conn_abort(a->c, a->before, a->page, a->len);
    return NULL;
}

/* cu_conn_abort() from another thread, as the main thread of gthread. */
static int abort_from_thread(struct cu_conn *c, uint64_t before, const char *page, size_t len)
{
    struct abort_call a = {c, before, page, len, -1};
    pthread_t t;

    if (pthread_create(&t, NULL, abort_main, &a) != 0)
        die("pthread_create");
    (void)pthread_join(t, NULL);
    return a.rc;
}

static void test_abort_idle(int f)
{
    struct cu_conn c;
    struct iovec iov = {"x", 1};
    char buf[512];
    size_t got;
    int fd, peer, rc, rc1, rc2, rc3, rc4, end, e1, e2, e3, e4;

    unix_pair(&fd, &peer);
    conn_init(&c, fd, 0);
    rc = abort_from_thread(&c, c.wrote, PAGE, PAGE_LEN);
    got = read_until(peer, buf, sizeof(buf), 2000, &end);
    ok(rc == 1 && got == PAGE_LEN && memcmp(buf, PAGE, PAGE_LEN) == 0 && end == 0,
       "abort with nothing written: 1, the page, then EOF");
    ok(atomic_load(&c.wstate) == CU_W_ABORTED, "the connection is marked aborted");
    errno = 0;
    rc1 = cu_conn_write(&c, "x", 1);
    e1 = errno;
    rc2 = cu_conn_writev(&c, &iov, 1);
    e2 = errno;
    rc3 = cu_conn_sendfile(&c, f, 0, 10);
    e3 = errno;
    rc4 = cu_conn_send_error(&c, HTTP_E_METHOD);
    e4 = errno;
    ok(rc1 == -1 && rc2 == -1 && rc3 == -1 && rc4 == -1 && e1 == ECONNABORTED && e2 == ECONNABORTED && e3 == ECONNABORTED &&
       e4 == ECONNABORTED, "later writes: -1 ECONNABORTED (write, writev, sendfile, send_error)");
    ok(cu_conn_fill(&c, 1 << 20) == 0 && c.eof == 1, "and a read sees EOF: the socket is shut");
    cu_conn_close(&c);
    close(peer);

    /* a queue: the poller's flush fails too */
    (void)queueing(&c, &peer, 65536);
    (void)cu_conn_write(&c, "queued", 6);
    rc = abort_from_thread(&c, c.wrote, PAGE, PAGE_LEN);
    errno = 0;
    rc1 = cu_conn_flush(&c);
    ok(rc == 0 && rc1 == -1 && errno == ECONNABORTED,
       "abort on a full socket: no room for the page (0); flush: -1 ECONNABORTED");
    errno = 0;
    rc1 = cu_conn_write(&c, "more", 4);
    e1 = errno;
    rc2 = cu_conn_sendfile(&c, f, 0, 10);
    e2 = errno;
    ok(rc1 == -1 && e1 == ECONNABORTED && rc2 == -1 && e2 == ECONNABORTED &&
       c.queued == 6 && c.queue == c.queue_last,
       "and writes behind that queue: -1 ECONNABORTED, not queued (write %d, sendfile %d, "
       "%zu bytes queued)", rc1, rc2, c.queued);
    cu_conn_close(&c);
    close(peer);
}

static void test_abort_written(void)
{
    static const char head[] = "HTTP/1.1 200 OK\r\n";
    struct cu_conn c;
    char buf[512];
    size_t got;
    int fd, peer, rc, end;

    unix_pair(&fd, &peer);
    conn_init(&c, fd, 0);
    (void)cu_conn_write(&c, "previous response", 17);
    {
        uint64_t before = c.wrote;
        (void)cu_conn_write(&c, head, sizeof(head) - 1);
        rc = abort_from_thread(&c, before, PAGE, PAGE_LEN);
    }
    got = read_until(peer, buf, sizeof(buf), 2000, &end);
    ok(rc == 0 && end == 0 && got == 17 + sizeof(head) - 1 &&
       memcmp(buf + 17, head, sizeof(head) - 1) == 0,
       "abort after bytes of this response went out: 0, no page, EOF after them");
    cu_conn_close(&c);
    close(peer);

    unix_pair(&fd, &peer);
    conn_init(&c, fd, 0);
    (void)cu_conn_write(&c, "previous response", 17);
    rc = abort_from_thread(&c, c.wrote, NULL, 0);
    got = read_until(peer, buf, sizeof(buf), 2000, &end);
    ok(rc == 0 && end == 0 && got == 17, "abort without a page: 0, EOF after the bytes before");
    cu_conn_close(&c);
    close(peer);
}

struct writer {
    pthread_t t;
    struct cu_conn *c;
    size_t n;
    int rc, err;
    int64_t ms;
};

static void *writer_main(void *arg)
{
    struct writer *w = arg;
    int64_t t0 = cu_now_ms();

    w->rc = cu_conn_write(w->c, PAT, w->n);
    w->err = errno;
    w->ms = cu_now_ms() - t0;
    return NULL;
}

/* A writer stuck on a peer that does not read, taken away by an abort:
 * waiting for the socket (blocking 0), or inside its writev (blocking 1). */
static void abort_stuck(int blocking)
{
    struct cu_conn c;
    struct writer w;
    struct timeval tv = {5, 0};
    struct pollfd p;
    char *buf = malloc(4u << 20);
    size_t got;
    int fd, peer, rc, state, end;

    if (!buf)
        die("malloc");
    unix_pair(&fd, &peer);
    conn_init(&c, fd, 0);
    c.timeout_ms = 5000;
    if (blocking) {
        set_blocking(fd, 1);
        (void)setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
    }
    memset(&w, 0, sizeof(w));
    w.c = &c;
    w.n = 4u << 20;
    if (pthread_create(&w.t, NULL, writer_main, &w) != 0)
        die("pthread_create");
    p.fd = peer;
    p.events = POLLIN;
    (void)poll(&p, 1, 5000);  /* the writer has begun */
    state = atomic_load(&c.wstate);
    rc = cu_conn_abort(&c, 0, PAGE, PAGE_LEN);
    (void)pthread_join(w.t, NULL);
    got = read_until(peer, buf, 4u << 20, 2000, &end);
    if (blocking)
        ok(state == CU_W_WRITING, "blocking: the writer is inside writev (CU_W_WRITING)");
    ok(rc == 0 && w.rc == -1 && (w.err == ECONNABORTED || w.err == EPIPE) && w.ms < 3000,
       "%s: abort returns 0, the writer -1 (%s) at once (%lld ms)",
       blocking ? "blocking" : "waiting", strerror(w.err), (long long)w.ms);
    ok(end == 0 && got > 0 && got < 4u << 20 && memcmp(buf, PAT, got) == 0 && got == c.wrote,
       "%s: the peer gets the writer's bytes (%zu, all counted) and no page, then EOF",
       blocking ? "blocking" : "waiting", got);
    ok(atomic_load(&c.wstate) == CU_W_ABORTED && cu_conn_write(&c, "x", 1) == -1 &&
       errno == ECONNABORTED, "%s: still aborted after the write ended; writes fail",
       blocking ? "blocking" : "waiting");
    free(buf);
    cu_conn_close(&c);
    close(peer);
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

/* What the peer gets from send_error(code), up to EOF. */
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
    return end == 0 ? got : SIZE_MAX;
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
    test_fill_errors();
    test_write_small();
    test_write_big();
    test_write_timeout();
    test_write_errors();
    test_sendfile(f);
    test_sendfile_errors(f);
    test_queue(f);
    test_queue_partial(f);
    test_queue_max();
    test_queue_errors(f);
    test_abort_idle(f);
    test_abort_written();
    abort_stuck(0);
    abort_stuck(1);
    test_linger();
    test_linger_tcp();
    test_close(f);
    test_send_error();
    close(f);
    ok(count_fds() == fds, "no fd left open (%d at the start)", fds);
    free(PAT);
    return tap_done();
}
