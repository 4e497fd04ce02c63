/* The helpers of the conn.c tests. See conntest.h. */
#include "conntest.h"
#include "core/clock.h"
#include "http/http.h"

#include <arpa/inet.h>
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

char *PAT;

void die(const char *what)
{
    (void)printf("Bail out! %s: %s\n", what, strerror(errno));
    exit(1);
}

void make_pattern(void)
{
    PAT = malloc(PAT_LEN);
    if (!PAT)
        die("malloc");
    for (size_t i = 0; i < PAT_LEN; i++)
        PAT[i] = (char)(((i * 2654435761u) >> 11) ^ i);
}

/* The connection's end and the peer's, both non-blocking. */
void unix_pair(int *conn, int *peer)
{
    int sv[2];

    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, sv) < 0)
        die("socketpair");
    *conn = sv[0];
    *peer = sv[1];
}

void set_blocking(int fd, int on)
{
    int fl = fcntl(fd, F_GETFL);

    if (fl < 0 || fcntl(fd, F_SETFL, on ? fl & ~O_NONBLOCK : fl | O_NONBLOCK) < 0)
        die("fcntl");
}

void tcp_pair(int *conn, int *peer)
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
void tcp_reset(int conn, int peer)
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
size_t avail(int fd, char *buf, size_t max)
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
size_t read_until(int fd, char *buf, size_t max, int ms, int *end)
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
size_t fill_socket(int fd)
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

int all_f(const char *p, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (p[i] != 'F')
            return 0;
    return 1;
}

/* The poller's part: flush whenever the socket is writable, while the
 * peer reads everything, until the queue is empty or flush fails. Returns
 * flush's last answer; what the peer read is appended to buf. */
int flush_out(struct cu_conn *c, int peer, char *buf, size_t max, size_t *got)
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

int temp_file(void)
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

void reader_start(struct reader *r, int fd, size_t want, size_t step)
{
    memset(r, 0, sizeof(*r));
    r->fd = fd;
    r->want = want;
    r->step = step;
    r->buf = malloc(want);
    if (!r->buf || pthread_create(&r->t, NULL, reader_main, r) != 0)
        die("reader");
}

void reader_join(struct reader *r)
{
    (void)pthread_join(r->t, NULL);
}

void on_tick(void *arg)
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
void conn_init(struct cu_conn *c, int fd, size_t cap)
{
    if (cu_conn_init(c, fd, cap) < 0)
        die("cu_conn_init");
    c->timeout_ms = 2000;
}

/* A connection that queues (queue_max, whole), on a socket already full. */
size_t queueing(struct cu_conn *c, int *peer, size_t queue_max)
{
    int fd;

    unix_pair(&fd, peer);
    conn_init(c, fd, 0);
    c->timeout_ms = 5000;
    c->queue_max = queue_max;
    cu_conn_whole(c);
    return fill_socket(fd);
}
