/*
 * The client connection (src/worker/conn.c) over real sockets, its write
 * side: write/writev (partial writes, the iov left where it stopped,
 * EPIPE, ECONNRESET, timeouts), sendfile, the write queue (whole, flush,
 * unqueue, the cap), and abort from another thread. The read side and the
 * connection's life are test_conn.c's; the helpers conntest.c's.
 */
#include "conntest.h"
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
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <unistd.h>

/* ---- write, writev ---------------------------------------------------------- */

static void test_write_small(void)
{
    enum { MANY = IOV_MAX + 6 };
    static struct iovec many[MANY];
    const size_t all = (size_t)3 * MANY;
    struct iovec iov[4] = {{"ab", 2}, {NULL, 0}, {"cde", 3}, {"", 0}};
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
       c.wrote == 10, "writev with empty entries (one with no base): the others, in order");
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
    /* the app may clear O_NONBLOCK (through gunicorn.socket's dup): the
     * writes still never wait inside the system call (MSG_DONTWAIT) */
    set_blocking(fd, 1);
    errno = 0;
    rc = cu_conn_write(&c, "x", 1);
    err = errno;
    ok(rc == -1 && err == EAGAIN && c.wrote == wrote,
       "the same on a socket made blocking: -1 EAGAIN, not a wait");
    set_blocking(fd, 0);
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
 * waiting for the socket, its fd non-blocking (0) or made blocking, as an
 * app may (1: the writer still waits in poll, its writes MSG_DONTWAIT). */
static void abort_stuck(int blocking)
{
    struct cu_conn c;
    struct writer w;
    struct timeval tv = {5, 0};
    struct pollfd p;
    char *buf = malloc(4u << 20);
    size_t got;
    int fd, peer, rc, end;

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
    rc = cu_conn_abort(&c, 0, PAGE, PAGE_LEN);
    (void)pthread_join(w.t, NULL);
    got = read_until(peer, buf, 4u << 20, 2000, &end);
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

/* ---- abort from a signal handler (the sync worker's SIGABRT) ---------------- */

static struct cu_conn *sig_conn;
static volatile sig_atomic_t sig_linger_ms, sig_rc = -1;

static void on_sigusr2(int sig)
{
    (void)sig;
    sig_rc = cu_conn_abort_now(sig_conn, PAGE, PAGE_LEN, sig_linger_ms);
}

/* Raises SIGUSR2, whose handler calls cu_conn_abort_now(c): its result,
 * and how long it took in *ms. */
static int abort_now_in_handler(struct cu_conn *c, int linger_ms, int64_t *ms)
{
    struct sigaction sa;
    int64_t t0;

    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = on_sigusr2;
    sigemptyset(&sa.sa_mask);
    if (sigaction(SIGUSR2, &sa, NULL) < 0)
        die("sigaction");
    sig_conn = c;
    sig_linger_ms = linger_ms;
    sig_rc = -1;
    t0 = cu_now_ms();
    (void)raise(SIGUSR2);
    *ms = cu_now_ms() - t0;
    return sig_rc;
}

/* What the connection still has to read, unread (FIONREAD). */
static int unread(int fd)
{
    int n = -1;

    return ioctl(fd, FIONREAD, &n) < 0 ? -1 : n;
}

static void test_abort_now(void)
{
    static const char hint[] = "HTTP/1.1 103 Early Hints\r\n\r\n";
    struct cu_conn c;
    char buf[512];
    size_t got;
    int64_t ms;
    int fd, peer, rc, end, left;

    /* nothing out; the peer's unread body is dropped, and its close ends
     * the wait at once */
    unix_pair(&fd, &peer);
    conn_init(&c, fd, 0);
    if (write(peer, PAT, 10000) != 10000)
        die("write");
    (void)shutdown(peer, SHUT_WR);
    rc = abort_now_in_handler(&c, 3000, &ms);
    left = unread(fd);
    got = read_until(peer, buf, sizeof(buf), 2000, &end);
    ok(rc == 1 && got == PAGE_LEN && memcmp(buf, PAGE, PAGE_LEN) == 0 && end == 0,
       "abort_now with nothing out: 1, the page, then the end (rc %d, got %zu, end %d)", rc, got, end);
    ok(left == 0 && ms < 3000 - AT_ONCE_MS,
       "what the peer had sent is read and dropped (%d left); its close ends the wait "
       "(%lld ms)", left, (long long)ms);
    ok(atomic_load(&c.wstate) == CU_W_ABORTED && cu_conn_write(&c, "x", 1) == -1 &&
       errno == ECONNABORTED, "later writes fail: ECONNABORTED");
    cu_conn_close(&c);
    close(peer);

    /* a peer that neither sends nor closes: waited for linger_ms */
    unix_pair(&fd, &peer);
    conn_init(&c, fd, 0);
    rc = abort_now_in_handler(&c, 300, &ms);
    got = read_until(peer, buf, sizeof(buf), 2000, &end);
    ok(rc == 1 && got == PAGE_LEN && end == 0 && ms >= 290 && ms < 300 + SLACK_MS,
       "a silent peer: the page, and the wait lasts linger_ms (%lld ms)", (long long)ms);
    cu_conn_close(&c);
    close(peer);

    /* an interim answer out (final_from moved past it): the page follows */
    unix_pair(&fd, &peer);
    conn_init(&c, fd, 0);
    (void)cu_conn_write(&c, hint, sizeof(hint) - 1);
    atomic_store(&c.final_from, c.wrote);
    (void)shutdown(peer, SHUT_WR);
    rc = abort_now_in_handler(&c, 3000, &ms);
    got = read_until(peer, buf, sizeof(buf), 2000, &end);
    ok(rc == 1 && end == 0 && got == sizeof(hint) - 1 + PAGE_LEN &&
       memcmp(buf + sizeof(hint) - 1, PAGE, PAGE_LEN) == 0,
       "after a 1xx: the page follows it");
    cu_conn_close(&c);
    close(peer);

    /* bytes of the final response out: no page, the response is cut */
    unix_pair(&fd, &peer);
    conn_init(&c, fd, 0);
    (void)cu_conn_write(&c, "HTTP/1.1 200 OK\r\n", 17);
    (void)shutdown(peer, SHUT_WR);
    rc = abort_now_in_handler(&c, 3000, &ms);
    got = read_until(peer, buf, sizeof(buf), 2000, &end);
    ok(rc == 0 && end == 0 && got == 17 && memcmp(buf, "HTTP/1.1 200 OK\r\n", 17) == 0,
       "after bytes of the response: 0, no page, the end after them");
    cu_conn_close(&c);
    close(peer);
}

/* cu_conn_hold: the last write of a response queued, not sent, when the
 * worker allows it; the poller's flush sends it. */
static void test_hold(void)
{
    struct iovec iov[2] = {{"head ", 5}, {"body", 4}};
    struct cu_conn c;
    char buf[64];
    int fd, peer, rc;

    unix_pair(&fd, &peer);
    conn_init(&c, fd, 0);
    c.queue_max = 65536;
    ok(cu_conn_hold(&c, iov, 2) == 0 && c.queue == NULL && !c.whole,
       "hold without may_hold: 0, nothing queued (the caller writes)");
    c.may_hold = 1;
    rc = cu_conn_hold(&c, iov, 2);
    ok(rc == 1 && c.queued == 9 && c.whole && c.wrote == 0 &&
       avail(peer, buf, sizeof(buf)) == 0, "with may_hold: 1, queued, nothing sent");
    ok(cu_conn_hold(&c, iov, 2) == 0 && c.queued == 9,
       "behind a queue: 0 (the caller's write queues behind it, in order)");
    rc = cu_conn_flush(&c);
    ok(rc == 0 && c.queue == NULL && c.wrote == 9 && avail(peer, buf, sizeof(buf)) == 9 &&
       memcmp(buf, "head body", 9) == 0, "the flush sends it whole");
    iov[1].iov_base = PAT;
    iov[1].iov_len = CU_HOLD_MAX;
    ok(cu_conn_hold(&c, iov, 2) == 0 && c.queue == NULL,
       "past CU_HOLD_MAX: 0, written as usual");
    iov[1].iov_len = CU_HOLD_MAX - 5;
    ok(cu_conn_hold(&c, iov, 2) == 1 && c.queued == CU_HOLD_MAX, "CU_HOLD_MAX itself: held");
    cu_conn_unqueue(&c);
    atomic_store(&c.wstate, CU_W_ABORTED);
    ok(cu_conn_hold(&c, iov, 2) == 0 && c.queue == NULL,
       "taken away (--request-timeout): 0, and the caller's write fails");
    atomic_store(&c.wstate, CU_W_IDLE);
    c.queue_max = 0;
    ok(cu_conn_hold(&c, iov, 2) == 0 && c.queue == NULL,
       "a connection that never queues (queue_max 0): 0");
    cu_conn_close(&c);
    close(peer);
}

int main(void)
{
    int f, fds;

    (void)signal(SIGPIPE, SIG_IGN);  /* as in a worker (signals.c) */
    (void)alarm(60);                 /* a hang fails the test, not the suite */
    make_pattern();
    fds = count_fds();
    f = temp_file();
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
    test_hold();
    test_abort_idle(f);
    test_abort_written();
    abort_stuck(0);
    abort_stuck(1);
    test_abort_now();
    close(f);
    ok(count_fds() == fds, "no fd left open (%d at the start)", fds);
    free(PAT);
    return tap_done();
}
