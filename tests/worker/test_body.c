/*
 * Request bodies (src/worker/body.c) read over a real connection
 * (socketpair(AF_UNIX, SOCK_STREAM)): Content-Length and chunked, peeked
 * and consumed as an application reads them, with the bytes arriving in
 * the pieces the test chooses. The connection's buffer starts small and
 * holds a request head pinned before the body ("HEAD", c->keep), so
 * every read moves or grows it; the bytes after the body (the next
 * request, "NEXT") must be left where the next parse expects them.
 *
 * A scripted peer sends its next piece whenever the body needs more, just
 * before cu_body_wait(); the connection's timeout_ms is 0 there, so a read
 * that would wait fails at once instead of hanging.
 */
#include "worker/body.h"
#include "core/clock.h"
#include "../lib/tap.h"

#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define SLACK_MS 2000
#define AT_ONCE_MS 250
#define WAIT_FAILED (-100)   /* read_body(): cu_body_wait() failed */

static struct http_config cfg;

/* ---- helpers ------------------------------------------------------------ */

static void die(const char *what)
{
    (void)printf("Bail out! %s: %s\n", what, strerror(errno));
    exit(1);
}

static void put(int fd, const char *p, size_t n)
{
    if (n && send(fd, p, n, MSG_NOSIGNAL) != (ssize_t)n)
        die("send");
}

/* A connection whose buffer (cap bytes at first) holds a request head,
 * "HEAD", pinned as sync.c pins it; the peer sends the body. */
static void conn_with_head(struct cu_conn *c, int *peer, size_t cap)
{
    int sv[2];

    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, sv) < 0)
        die("socketpair");
    *peer = sv[1];
    if (cu_conn_init(c, sv[0], cap) < 0)
        die("cu_conn_init");
    c->timeout_ms = 0;
    put(*peer, "HEAD", 4);
    if (cu_conn_fill(c, 1 << 20) != 4)
        die("fill");
    c->start = c->keep = 4;
}

static void done_with(struct cu_conn *c, int peer)
{
    cu_conn_close(c);
    if (peer >= 0)
        close(peer);
}

static void body_of(struct cu_body *b, uint8_t kind, uint64_t len)
{
    struct http_request r;

    http_request_init(&r, NULL, 0);
    r.body = kind;
    r.content_length = len;
    cu_body_init(b, &r, &cfg);
}

/* The peer's side: data goes out in pieces ending at cuts[0..n), then
 * (eof) the peer shuts its side. */
struct script {
    int fd;
    const char *data;
    const size_t *cuts;
    int n, next;
    int eof;
};

/* Sends the next piece, or the EOF after the last. */
static void feed(struct script *s)
{
    size_t from;

    if (s->next < s->n) {
        from = s->next ? s->cuts[s->next - 1] : 0;
        put(s->fd, s->data + from, s->cuts[s->next] - from);
        s->next++;
    } else if (s->eof == 1) {
        (void)shutdown(s->fd, SHUT_WR);
        s->eof = 2;
    }
}

/* Reads the body as an app does, taking at most bite bytes at a time
 * into out (max bytes); when it needs more, the script sends its next
 * piece first. Returns the last peek (0 at the end, an HTTP_E_* error),
 * or WAIT_FAILED (errno from cu_body_wait). */
static int64_t read_body(struct cu_body *b, struct cu_conn *c, struct script *s,
                         size_t bite, char *out, size_t max, size_t *outlen)
{
    *outlen = 0;
    for (int guard = 0; guard < 1000000; guard++) {
        const char *p = NULL;
        int64_t n = cu_body_peek(b, c, &p);

        if (n > 0) {
            size_t take = (size_t)n < bite ? (size_t)n : bite;
            if (*outlen + take > max || p == NULL)
                return WAIT_FAILED - 1;
            memcpy(out + *outlen, p, take);
            *outlen += take;
            cu_body_consume(b, c, take);
            continue;
        }
        if (n != HTTP_AGAIN)
            return n;
        if (s)
            feed(s);
        if (cu_body_wait(b, c) < 0)
            return WAIT_FAILED;
    }
    return WAIT_FAILED - 2;
}

/* The unconsumed bytes after the body, once the rest of the script (if
 * any) is in: the next request's, where its parse begins. */
static int rest_is(struct cu_conn *c, struct script *s, const char *want, size_t max)
{
    size_t n = strlen(want);

    while (s && s->next < s->n)
        feed(s);
    c->timeout_ms = 0;
    while (c->end - c->start < n && cu_conn_fill(c, max) > 0)
        ;
    return c->end - c->start == n && memcmp(c->buf + c->start, want, n) == 0;
}

/* A thread that sends n bytes of p, waiting for room as needed. */
struct sender {
    pthread_t t;
    int fd;
    const char *p;
    size_t n;
};

static void *sender_main(void *arg)
{
    struct sender *s = arg;
    int64_t deadline = cu_now_ms() + 8000;
    size_t off = 0;

    while (off < s->n && cu_now_ms() < deadline) {
        struct pollfd p = {s->fd, POLLOUT, 0};
        ssize_t k;

        if (poll(&p, 1, 1000) <= 0)
            continue;
        k = send(s->fd, s->p + off, s->n - off, MSG_DONTWAIT | MSG_NOSIGNAL);
        if (k > 0)
            off += (size_t)k;
        else if (k < 0 && errno != EAGAIN && errno != EINTR)
            break;
    }
    return NULL;
}

static void sender_start(struct sender *s, int fd, const char *p, size_t n)
{
    s->fd = fd;
    s->p = p;
    s->n = n;
    if (pthread_create(&s->t, NULL, sender_main, s) != 0)
        die("pthread_create");
}

/* ---- no body, empty bodies ------------------------------------------------ */

static void test_none(void)
{
    struct cu_conn c;
    struct cu_body b;
    const char *p = NULL;
    int fd[2];

    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, fd) < 0)
        die("socketpair");
    (void)cu_conn_init(&c, fd[0], 0);
    c.timeout_ms = 0;
    body_of(&b, HTTP_BODY_NONE, 0);
    ok(b.kind == HTTP_BODY_NONE && b.done == 1 && b.error == 0 && b.left == 0 &&
       b.max_buffer == 1 << 20, "HTTP_BODY_NONE: done from the start (max_buffer 1 MiB)");
    put(fd[1], "NEXT", 4);
    ok(cu_body_peek(&b, &c, &p) == 0 && p == NULL && c.buf == NULL,
       "peek: 0, without reading (no buffer yet, the peer's bytes not read)");
    ok(cu_body_drain(&b, &c, 0) == 0 && c.buf == NULL, "drain: 0, still nothing read");
    done_with(&c, fd[1]);

    conn_with_head(&c, &fd[1], 16);
    put(fd[1], "NEXT", 4);
    (void)cu_conn_fill(&c, 16);
    body_of(&b, HTTP_BODY_LENGTH, 0);
    ok(b.kind == HTTP_BODY_LENGTH && b.done == 1 && b.left == 0,
       "Content-Length: 0: done from the start");
    ok(cu_body_peek(&b, &c, &p) == 0 && p == NULL && cu_body_drain(&b, &c, 0) == 0 &&
       c.start == 4 && c.end == 8 && memcmp(c.buf + 4, "NEXT", 4) == 0,
       "peek and drain: 0; the next request's bytes, already read, untouched");
    done_with(&c, fd[1]);

    conn_with_head(&c, &fd[1], 16);
    body_of(&b, HTTP_BODY_CHUNKED, 0);
    ok(b.kind == HTTP_BODY_CHUNKED && b.done == 0, "chunked: not done before its last chunk");
    put(fd[1], "0\r\n\r\nNEXT", 9);
    ok(cu_body_peek(&b, &c, &p) == HTTP_AGAIN && p == NULL,
       "peek before anything was read: HTTP_AGAIN");
    ok(cu_body_wait(&b, &c) == 0 && cu_body_peek(&b, &c, &p) == 0 && b.done == 1 &&
       p == NULL && c.end - c.start == 4 && memcmp(c.buf + c.start, "NEXT", 4) == 0,
       "a chunked body of 0 bytes: 0, done, the next request left");
    ok(cu_body_peek(&b, &c, &p) == 0 && cu_body_drain(&b, &c, 0) == 0,
       "and again 0; drain 0");
    done_with(&c, fd[1]);
}

/* ---- Content-Length -------------------------------------------------------- */

static void test_length(void)
{
    struct cu_conn c;
    struct cu_body b;
    const char *p = NULL;
    int peer, ok1;
    int64_t n;

    conn_with_head(&c, &peer, 16);
    body_of(&b, HTTP_BODY_LENGTH, 10);
    ok(b.done == 0 && b.left == 10 && cu_body_peek(&b, &c, &p) == HTTP_AGAIN,
       "Content-Length 10, nothing read: HTTP_AGAIN");
    put(peer, "01", 2);
    n = cu_body_wait(&b, &c) == 0 ? cu_body_peek(&b, &c, &p) : -99;
    ok(n == 2 && memcmp(p, "01", 2) == 0, "a read of 2 bytes: peek gives them");
    cu_body_consume(&b, &c, 2);
    ok(b.left == 8 && b.done == 0 && cu_body_peek(&b, &c, &p) == HTTP_AGAIN,
       "consumed: 8 left, HTTP_AGAIN");
    put(peer, "2345", 4);
    n = cu_body_wait(&b, &c) == 0 ? cu_body_peek(&b, &c, &p) : -99;
    ok(n == 4 && memcmp(p, "2345", 4) == 0, "the next 4");
    cu_body_consume(&b, &c, 1);
    n = cu_body_peek(&b, &c, &p);
    ok(n == 3 && memcmp(p, "345", 3) == 0 && p == c.buf + c.start && b.left == 7,
       "1 consumed: peek gives the other 3");
    cu_body_consume(&b, &c, 3);
    put(peer, "6789NEXT", 8);
    n = cu_body_wait(&b, &c) == 0 ? cu_body_peek(&b, &c, &p) : -99;
    ok(n == 4 && memcmp(p, "6789", 4) == 0,
       "the last read brings the next request too: peek stops at the body's end");
    cu_body_consume(&b, &c, 3);
    ok1 = b.done == 0 && b.left == 1;
    cu_body_consume(&b, &c, 1);
    ok(ok1 && b.done == 1 && b.left == 0 && cu_body_peek(&b, &c, &p) == 0,
       "done exactly when the last byte is consumed; then peek 0");
    ok(c.end - c.start == 4 && memcmp(c.buf + c.start, "NEXT", 4) == 0 &&
       memcmp(c.buf, "HEAD", 4) == 0 && c.cap <= 16,
       "the next request's bytes where its parse begins, the head kept, no growth");
    put(peer, "MORE", 4);
    ok(cu_body_peek(&b, &c, &p) == 0 && cu_body_drain(&b, &c, 0) == 0 &&
       c.end - c.start == 4, "after the end, peek and drain read nothing more");
    done_with(&c, peer);
}

/* 300000 bytes from a sender thread, through a buffer of at most 64. */
static void test_length_big(void)
{
    enum { N = 300000 };
    struct cu_conn c;
    struct cu_body b;
    struct sender s;
    char *data = malloc(N + 4), *got = malloc(N);
    size_t len;
    int64_t rc;
    int peer;

    if (!data || !got)
        die("malloc");
    for (size_t i = 0; i < N; i++)
        data[i] = (char)(((i * 2654435761u) >> 9) ^ i);
    memcpy(data + N, "NEXT", 4);
    conn_with_head(&c, &peer, 16);
    c.timeout_ms = 5000;
    body_of(&b, HTTP_BODY_LENGTH, N);
    b.max_buffer = 64;
    sender_start(&s, peer, data, N + 4);
    rc = read_body(&b, &c, NULL, 7, got, N, &len);
    (void)pthread_join(s.t, NULL);
    ok(rc == 0 && len == N && memcmp(got, data, N) == 0 && b.done == 1,
       "a body of %d bytes from a sender, 7 bytes per consume: all of it, in order", N);
    ok(c.cap <= 64 && memcmp(c.buf, "HEAD", 4) == 0 && rest_is(&c, NULL, "NEXT", 64),
       "the buffer never past max_buffer (%zu), the head kept, the next request left",
       c.cap);
    done_with(&c, peer);
    free(data);
    free(got);
}

static void test_length_eof(void)
{
    struct cu_conn c;
    struct cu_body b;
    struct script s;
    const size_t cuts[] = {4};
    char out[16];
    size_t len;
    int64_t rc;
    int peer;

    conn_with_head(&c, &peer, 16);
    body_of(&b, HTTP_BODY_LENGTH, 10);
    s = (struct script){peer, "0123", cuts, 1, 0, 1};
    rc = read_body(&b, &c, &s, 100, out, sizeof(out), &len);
    ok(rc == HTTP_E_EOF && len == 4 && memcmp(out, "0123", 4) == 0 && c.eof == 1 &&
       b.error == HTTP_E_EOF && !b.done,
       "EOF after 4 of 10 bytes: the 4, then HTTP_E_EOF (never delivered short)");
    ok(cu_body_peek(&b, &c, &(const char *){NULL}) == HTTP_E_EOF, "and HTTP_E_EOF again");
    ok(cu_body_drain(&b, &c, 100) == -1, "draining it fails too");
    done_with(&c, peer);

    conn_with_head(&c, &peer, 16);
    body_of(&b, HTTP_BODY_LENGTH, 10);
    put(peer, "0123", 4);
    (void)shutdown(peer, SHUT_WR);
    rc = cu_body_drain(&b, &c, 1000);
    ok(rc == -1, "drain of a body cut short by EOF (4 of 10): -1, as body.h says (got %d)",
       (int)rc);
    done_with(&c, peer);
}

/* ---- chunked ---------------------------------------------------------------- */

static const char CHUNKED[] = "4\r\nWiki\r\n5;ext=1\r\npedia\r\nE\r\n in\r\n\r\nchunks.\r\n"
                              "0\r\nX-Trailer: yes\r\nX-Other: 2\r\n\r\nNEXT";
static const char DECODED[] = "Wikipedia in\r\n\r\nchunks.";

/* One read of CHUNKED in the given pieces: the body, done, and the next
 * request left in place. */
static int chunked_case(const size_t *cuts, int n, size_t bite)
{
    struct cu_conn c;
    struct cu_body b;
    struct script s;
    char out[64];
    size_t len;
    int64_t rc;
    int peer, good;

    conn_with_head(&c, &peer, 16);
    body_of(&b, HTTP_BODY_CHUNKED, 0);
    b.max_buffer = 64;
    s = (struct script){peer, CHUNKED, cuts, n, 0, 0};
    rc = read_body(&b, &c, &s, bite, out, sizeof(out), &len);
    good = rc == 0 && len == sizeof(DECODED) - 1 && memcmp(out, DECODED, len) == 0 &&
           b.done == 1 && b.error == 0 && b.chunked.n_trailers == 2 && cu_body_peek(&b, &c, &(const char *){NULL}) == 0 &&
           rest_is(&c, &s, "NEXT", 64) && memcmp(c.buf, "HEAD", 4) == 0 && c.cap <= 64;
    if (!good)
        diag("pieces ending at %zu %zu %zu, bite %zu: rc %lld, %zu bytes", cuts[0],
             n > 1 ? cuts[1] : 0, n > 2 ? cuts[2] : 0, bite, (long long)rc, len);
    done_with(&c, peer);
    return good;
}

static void test_chunked_splits(void)
{
    const size_t len = sizeof(CHUNKED) - 1;
    size_t cuts[sizeof(CHUNKED)];
    int bad = 0, cases = 0;

    cuts[0] = len;
    ok(chunked_case(cuts, 1, 100), "chunked, all in one read: the body, its 2 trailers counted "
       "(not kept), done, the next request left where it was");
    for (size_t i = 1; i < len; i++) {
        for (size_t j = i; j < len; j++) {
            size_t three[3] = {i, j, len};
            int n = 3;
            if (j == i) {  /* two pieces */
                three[1] = len;
                n = 2;
            }
            bad += !chunked_case(three, n, (i + j) % 2 ? 1 : 100);
            cases++;
        }
    }
    ok(bad == 0, "chunked split in two and three pieces at every boundary "
       "(%d cases, 1 or 100 bytes a consume): the same every time (%d differ)", cases, bad);
    for (size_t i = 0; i < len; i++)
        cuts[i] = i + 1;
    ok(chunked_case(cuts, (int)len, 1) && chunked_case(cuts, (int)len, 100),
       "chunked one byte per read: the same");
}

struct bad_body {
    const char *data;
    int err;
    const char *what;
    size_t data_len;    /* the body bytes before the error: at most these
                         * (a framing error), exactly these (at EOF) */
};

/* data, split in two at every step-th boundary, must end in err with a
 * prefix of "hello" delivered. eof: the peer closes after the data. */
static int framing_case(const struct bad_body *t, int eof, size_t step)
{
    const size_t len = strlen(t->data);
    int good = 1;

    for (size_t i = len ? 1 : 0; i <= len; i += step) {
        const size_t cuts[2] = {i, len};
        struct cu_conn c;
        struct cu_body b;
        struct script s;
        char out[64];
        size_t got;
        int64_t rc;
        int peer;

        conn_with_head(&c, &peer, 0);
        body_of(&b, HTTP_BODY_CHUNKED, 0);
        s = (struct script){peer, t->data, cuts, i < len ? 2 : len ? 1 : 0, 0, eof};
        rc = read_body(&b, &c, &s, 100, out, sizeof(out), &got);
        if (rc != t->err || b.error != t->err || got > t->data_len ||
            memcmp(out, "hello", got) != 0 || (eof && got != t->data_len) ||
            cu_body_peek(&b, &c, &(const char *){NULL}) != t->err ||
            cu_body_drain(&b, &c, 1 << 20) != -1) {
            diag("%s, split at %zu: rc %lld, error %d, %zu bytes", t->what, i,
                 (long long)rc, b.error, got);
            good = 0;
        }
        done_with(&c, peer);
    }
    return good;
}

static void test_chunked_bad(void)
{
    static const struct bad_body bad[] = {
        {"Z\r\n", HTTP_E_CHUNK_SIZE, "a size that is not hex", 0},
        {"\r\n", HTTP_E_CHUNK_SIZE, "an empty size line", 0},
        {"+5\r\nhello\r\n0\r\n\r\n", HTTP_E_CHUNK_SIZE, "a sign", 0},
        {"1000000000000000\r\n", HTTP_E_CHUNK_SIZE, "a size of 2^60", 0},
        {"5\r\nhelloX\r\n0\r\n\r\n", HTTP_E_CHUNK_TERMINATOR, "data not followed by CRLF", 5},
        {"5\r\nhello\r\r\n0\r\n\r\n", HTTP_E_CHUNK_TERMINATOR, "CR CR after the data", 5},
        {"5\r\nhello\r\nZ\r\n", HTTP_E_CHUNK_SIZE, "a bad size after a good chunk", 5},
        {"5;a\x01\r\nhello\r\n0\r\n\r\n", HTTP_E_CHUNK_EXTENSION,
         "a control byte in an extension", 0},
        {"5\r\nhello\r\n0\r\nHost: x\r\n\r\n", HTTP_E_HEADER_NAME, "a forbidden trailer", 5},
    };
    static const struct bad_body eofs[] = {
        {"", HTTP_E_EOF, "EOF before the first size line", 0},
        {"5\r", HTTP_E_EOF, "EOF in a size line", 0},
        {"5\r\nhel", HTTP_E_EOF, "EOF in the data", 3},
        {"5\r\nhello", HTTP_E_CHUNK_TERMINATOR, "EOF where the data's CRLF should be", 5},
        {"5\r\nhello\r", HTTP_E_CHUNK_TERMINATOR, "EOF between CR and LF", 5},
        {"5\r\nhello\r\n", HTTP_E_EOF, "EOF before the next size line", 5},
        {"5\r\nhello\r\n0\r\n", HTTP_E_CHUNK_TERMINATOR, "EOF before the trailers' end", 5},
        {"5\r\nhello\r\n0\r\nA: b\r\n", HTTP_E_CHUNK_TERMINATOR, "EOF in the trailers", 5},
    };
    char *line = malloc(HTTP_CHUNK_LINE_MAX + 16);
    struct bad_body over = {NULL, HTTP_E_CHUNK_OVERHEAD, "a size line of 4100 bytes", 0};

    for (size_t k = 0; k < sizeof(bad) / sizeof(bad[0]); k++)
        ok(framing_case(&bad[k], 0, 1), "chunked, %s: error %d at every split, "
           "sticky; drain -1", bad[k].what, bad[k].err);
    for (size_t k = 0; k < sizeof(eofs) / sizeof(eofs[0]); k++)
        ok(framing_case(&eofs[k], 1, 1), "chunked, %s: the data before it, then error %d, "
           "sticky; drain -1", eofs[k].what, eofs[k].err);
    if (!line)
        die("malloc");
    line[0] = '1';
    line[1] = ';';
    memset(line + 2, 'e', 4098);
    memcpy(line + 4100, "\r\n", 3);
    over.data = line;
    ok(framing_case(&over, 0, 97), "chunked, %s: error %d (ChunkOverhead)", over.what,
       over.err);
    free(line);
}

/* ---- limit_request_body -------------------------------------------------------- */

/* A chunked body of 5 + 5 bytes, cut at every byte, read with a limit. */
static int64_t chunked_with_limit(uint64_t limit, size_t *got)
{
    static const char data[] = "5\r\nhello\r\n5\r\nworld\r\n0\r\n\r\nNEXT";
    size_t cuts[sizeof(data) - 1];
    struct cu_conn c;
    struct cu_body b;
    struct script s;
    char out[64];
    int peer;
    int64_t rc;

    for (size_t i = 0; i < sizeof(cuts) / sizeof(cuts[0]); i++)
        cuts[i] = i + 1;
    conn_with_head(&c, &peer, 16);
    cfg.limit_request_body = limit;
    body_of(&b, HTTP_BODY_CHUNKED, 0);
    cfg.limit_request_body = 0;
    s = (struct script){peer, data, cuts, (int)(sizeof(cuts) / sizeof(cuts[0])), 0, 0};
    rc = read_body(&b, &c, &s, 64, out, sizeof(out), got);
    if (rc < 0 && cu_body_peek(&b, &c, &(const char *){NULL}) != rc)
        rc = WAIT_FAILED - 3;  /* not sticky */
    done_with(&c, peer);
    return rc;
}

static void test_limit(void)
{
    struct http_request r;
    size_t got;

    http_request_init(&r, NULL, 0);
    r.body = HTTP_BODY_LENGTH;
    r.content_length = 1000;
    cfg.limit_request_body = 1000;
    ok(cu_body_over_limit(&r, &cfg) == 0, "Content-Length at the limit: taken");
    r.content_length = 1001;
    ok(cu_body_over_limit(&r, &cfg) == HTTP_E_BODY_TOO_LARGE,
       "one byte over: HTTP_E_BODY_TOO_LARGE");
    r.body = HTTP_BODY_CHUNKED;
    ok(cu_body_over_limit(&r, &cfg) == 0, "chunked: not judged by its head");
    cfg.limit_request_body = 0;
    r.body = HTTP_BODY_LENGTH;
    r.content_length = UINT64_C(1) << 61;
    ok(cu_body_over_limit(&r, &cfg) == 0, "limit 0: no limit");
    ok(strcmp(http_error_info(HTTP_E_BODY_TOO_LARGE)->name, "LimitRequestBody") == 0 &&
       http_error_info(HTTP_E_BODY_TOO_LARGE)->status == 413 &&
       http_error_info(HTTP_E_BODY_TOO_LARGE)->respond,
       "LimitRequestBody is answered 413");

    ok(chunked_with_limit(10, &got) == 0 && got == 10,
       "chunked, 10 bytes with a limit of 10, a byte per read: whole");
    ok(chunked_with_limit(9, &got) == HTTP_E_BODY_TOO_LARGE && got == 9,
       "limit 9: the 9 bytes within it, then HTTP_E_BODY_TOO_LARGE, sticky");
    ok(chunked_with_limit(0, &got) == 0 && got == 10, "limit 0: whole");
}

/* ---- a spooled body ------------------------------------------------------------- */

static void test_spooled(void)
{
    static const char body[] = "a body read ahead, then handed out as the app asks";
    struct cu_spool sp;
    struct cu_conn c;
    struct cu_body b;
    char out[128];
    size_t got;
    int peer;

    conn_with_head(&c, &peer, 16);
    put(peer, "NEXT", 4);
    (void)cu_conn_fill(&c, 16);
    body_of(&b, HTTP_BODY_LENGTH, sizeof(body) - 1);
    cu_spool_init(&sp, 8, NULL);  /* 8 bytes in memory, the rest in $TMPDIR or /tmp */
    if (cu_spool_add(&sp, body, 20) < 0 || cu_spool_add(&sp, body + 20, sizeof(body) - 21) < 0)
        die("cu_spool_add");
    b.done = 1;
    b.spool = &sp;
    ok(read_body(&b, &c, NULL, 7, out, sizeof(out), &got) == 0 && got == sizeof(body) - 1 &&
       memcmp(out, body, got) == 0, "a spooled body reads through peek, consume and wait");
    ok(c.end - c.start == 4 && memcmp(c.buf + c.start, "NEXT", 4) == 0,
       "the connection's bytes untouched");
    cu_spool_free(&sp);
    done_with(&c, peer);
}

/* ---- cu_body_wait ------------------------------------------------------------- */

static void test_wait(void)
{
    struct cu_conn c;
    struct cu_body b;
    const char *p = NULL;
    int64_t t0, ms, n;
    int peer, rc, err;

    conn_with_head(&c, &peer, 16);
    body_of(&b, HTTP_BODY_CHUNKED, 0);
    c.timeout_ms = 200;
    t0 = cu_now_ms();
    errno = 0;
    rc = cu_body_wait(&b, &c);
    err = errno;
    ms = cu_now_ms() - t0;
    ok(rc == -1 && err == ETIMEDOUT && ms >= 200 && ms < 200 + SLACK_MS && b.error == 0,
       "wait on a silent peer: -1 ETIMEDOUT after timeout_ms 200 (%lld ms)", (long long)ms);
    c.timeout_ms = 0;
    t0 = cu_now_ms();
    errno = 0;
    rc = cu_body_wait(&b, &c);
    err = errno;
    ok(rc == -1 && err == EAGAIN && cu_now_ms() - t0 < AT_ONCE_MS,
       "timeout_ms 0: -1 EAGAIN at once");
    put(peer, "3\r\nabc\r\n", 8);
    n = cu_body_wait(&b, &c) == 0 ? cu_body_peek(&b, &c, &p) : -99;
    ok(n == 3 && memcmp(p, "abc", 3) == 0, "then the bytes come: 0, and peek has them");
    cu_body_consume(&b, &c, 3);
    (void)shutdown(peer, SHUT_WR);
    ok(cu_body_peek(&b, &c, &p) == HTTP_AGAIN && cu_body_wait(&b, &c) == 0 && c.eof == 1,
       "at EOF wait returns 0 (EOF is not its error) ...");
    ok(cu_body_peek(&b, &c, &p) == HTTP_E_EOF && b.error == HTTP_E_EOF,
       "... the next peek reports it (HTTP_E_EOF)");
    done_with(&c, peer);

    /* a size line that does not fit the buffer */
    conn_with_head(&c, &peer, 16);
    body_of(&b, HTTP_BODY_CHUNKED, 0);
    b.max_buffer = 32;
    put(peer, "1;eeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeee", 42);
    rc = 0;
    for (int i = 0; i < 10 && rc == 0; i++)
        if (cu_body_peek(&b, &c, &p) == HTTP_AGAIN)
            rc = cu_body_wait(&b, &c);
    err = errno;
    ok(rc == -1 && err == ENOBUFS && c.cap == 32 && memcmp(c.buf, "HEAD", 4) == 0,
       "a size line longer than max_buffer 32: wait -1 ENOBUFS");
    done_with(&c, peer);
}

/* The body's deadline (cu_body_deadline): body_ms from the first wait,
 * plus a second per body_min_rate bytes counted since; a wait ends at it
 * (ETIMEDOUT) even though timeout_ms is far longer. */
static void test_deadline(void)
{
    struct cu_conn c;
    struct cu_body b;
    int64_t t0, ms, d;
    int peer, rc, err;

    conn_with_head(&c, &peer, 16);
    body_of(&b, HTTP_BODY_LENGTH, 100000);
    ok(cu_body_deadline(&b, &c) == 0 && b.t0 == 0, "body_ms 0: no deadline, no clock");
    c.body_ms = 300;
    c.body_min_rate = 1000;
    t0 = cu_now_ms();
    d = cu_body_deadline(&b, &c);
    ok(b.t0 >= t0 && d == b.t0 + 300, "the clock starts at the first call: t0 + 300");
    b.got = 2500;
    ok(cu_body_deadline(&b, &c) == b.t0 + 300 + 2500,
       "2500 bytes at 1000 B/s: 2.5 s more");
    b.got = UINT64_MAX / 2;
    ok(cu_body_deadline(&b, &c) > b.t0, "a huge count does not overflow");
    b.got = 0;
    c.timeout_ms = 60000;
    put(peer, "abcd", 4);
    rc = cu_body_wait(&b, &c);
    ok(rc == 0 && b.got == 4 && c.deadline_ms == 0,
       "a wait counts what it read (4), and leaves no deadline behind");
    errno = 0;
    rc = cu_body_wait(&b, &c);
    err = errno;
    ms = cu_now_ms() - t0;
    ok(rc == -1 && err == ETIMEDOUT && ms < 300 + 4 + SLACK_MS,
       "a silent peer: ETIMEDOUT at the deadline, not timeout_ms 60 s (%lld ms)",
       (long long)ms);
    done_with(&c, peer);
}

/* ---- cu_body_drain ----------------------------------------------------------- */

/* drain(limit) of Content-Length n sent whole with "NEXT" after. */
static int drain_length(size_t n, uint64_t limit, int *rest_ok)
{
    struct cu_conn c;
    struct cu_body b;
    char data[205];
    int peer, rc;

    memset(data, 'b', n);
    memcpy(data + n, "NEXT", 5);
    conn_with_head(&c, &peer, 16);
    body_of(&b, HTTP_BODY_LENGTH, n);
    put(peer, data, n + 4);
    rc = cu_body_drain(&b, &c, limit);
    *rest_ok = (rc == 0) == (b.done == 1);
    if (rc == 0)
        *rest_ok = *rest_ok && rest_is(&c, NULL, "NEXT", 1 << 20);
    done_with(&c, peer);
    return rc;
}

static int drain_chunked(const char *data, uint64_t limit, int eof)
{
    struct cu_conn c;
    struct cu_body b;
    int peer, rc;

    conn_with_head(&c, &peer, 0);
    body_of(&b, HTTP_BODY_CHUNKED, 0);
    put(peer, data, strlen(data));
    if (eof)
        (void)shutdown(peer, SHUT_WR);
    rc = cu_body_drain(&b, &c, limit);
    done_with(&c, peer);
    return rc;
}

static void test_drain(void)
{
    static const char body23[] = "4\r\nWiki\r\n5;ext=1\r\npedia\r\nE\r\n in\r\n\r\nchunks.\r\n"
                                 "0\r\nX-Trailer: yes\r\n\r\n";
    struct cu_conn c;
    struct cu_body b;
    struct sender s;
    char *big = malloc(1 << 20);
    int64_t t0, ms;
    int r1, r2, rest1, rest2, peer, rc, err;

    r1 = drain_length(100, 100, &rest1);
    r2 = drain_length(100, 99, &rest2);
    ok(r1 == 0 && rest1, "drain of Content-Length 100, limit 100: 0, done, the next "
       "request left");
    ok(r2 == -1 && rest2, "limit 99: -1 (too long), not done");
    ok(drain_chunked(body23, 23, 0) == 0 && drain_chunked(body23, 22, 0) == -1,
       "chunked: the limit counts body bytes (23), not the framing (%zu)",
       sizeof(body23) - 1);
    ok(drain_chunked("5\r\nhello\r\nZ\r\n", 1 << 20, 0) == -1, "a framing error: -1");
    ok(drain_chunked("5\r\nhello\r\n", 1 << 20, 1) == -1, "chunked cut by EOF: -1");

    conn_with_head(&c, &peer, 16);
    body_of(&b, HTTP_BODY_LENGTH, 10);
    put(peer, "01234", 5);
    (void)cu_conn_fill(&c, 1 << 20);
    cu_body_consume(&b, &c, 3);
    c.timeout_ms = 200;
    t0 = cu_now_ms();
    errno = 0;
    rc = cu_body_drain(&b, &c, 1 << 20);
    err = errno;
    ms = cu_now_ms() - t0;
    ok(rc == -1 && err == ETIMEDOUT && ms >= 200 && ms < 200 + SLACK_MS && b.done == 0,
       "a peer that stops sending: -1 when the wait times out (%lld ms)", (long long)ms);
    put(peer, "56789", 5);
    ok(cu_body_drain(&b, &c, 5) == 0 && b.done == 1,
       "the rest comes: drain of its 5 bytes with limit 5: 0, done");
    done_with(&c, peer);

    if (!big)
        die("malloc");
    memset(big, 'x', 1 << 20);
    conn_with_head(&c, &peer, 16);
    c.timeout_ms = 5000;
    body_of(&b, HTTP_BODY_LENGTH, 1 << 20);
    sender_start(&s, peer, big, 1 << 20);
    rc = cu_body_drain(&b, &c, 1 << 20);
    (void)pthread_join(s.t, NULL);
    ok(rc == 0 && b.done == 1 && b.left == 0,
       "drain of 1 MiB arriving over many reads: 0, done");
    done_with(&c, peer);
    free(big);
}

/* ---- with the parser -------------------------------------------------------- */

/* The head parsed as sync.c does; the body follows it in the same read. */
static void test_parsed(void)
{
    static const char *const reqs[2] = {
        "POST /a HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nhelloGET ",
        "POST /a HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
        "5\r\nhello\r\n0\r\n\r\nGET ",
    };

    for (int k = 0; k < 2; k++) {
        struct http_header h[8];
        struct http_parser ps;
        struct http_request r;
        struct cu_conn c;
        struct cu_body b;
        char out[16];
        size_t len;
        int64_t head, rc;
        int fd[2];

        if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, fd) < 0)
            die("socketpair");
        (void)cu_conn_init(&c, fd[0], 0);
        c.timeout_ms = 0;
        put(fd[1], reqs[k], strlen(reqs[k]));
        (void)cu_conn_fill(&c, 1 << 20);
        http_parser_init(&ps, &cfg, 0);
        http_request_init(&r, h, 8);
        head = http_parse_head(&ps, &r, c.buf, c.end);
        c.start = c.keep = (size_t)head;
        cu_body_init(&b, &r, &cfg);
        rc = read_body(&b, &c, NULL, 100, out, sizeof(out), &len);
        ok(head > 0 && b.kind == (k ? HTTP_BODY_CHUNKED : HTTP_BODY_LENGTH) && rc == 0 &&
           len == 5 && memcmp(out, "hello", 5) == 0 && c.end - c.start == 4 &&
           memcmp(c.buf + c.start, "GET ", 4) == 0,
           "%s from the parser: the body, then the next request's bytes",
           k ? "chunked" : "Content-Length");
        done_with(&c, fd[1]);
    }
}

int main(void)
{
    (void)alarm(60);  /* a hang fails the test, not the suite */
    http_config_init(&cfg);
    test_none();
    test_length();
    test_length_big();
    test_length_eof();
    test_chunked_splits();
    test_chunked_bad();
    test_limit();
    test_spooled();
    test_wait();
    test_deadline();
    test_drain();
    test_parsed();
    return tap_done();
}
