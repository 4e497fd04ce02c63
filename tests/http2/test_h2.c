/*
 * src/http2/ without Python: a session over a socketpair, driven by two
 * pool threads at a poller as gthread drives it, an nghttp2 client on the
 * other end, and an application layer in C that reads the request body
 * through the stream's connection and answers with HTTP/1 bytes, as the
 * WSGI bridge does. Run under ASan+UBSan by `make test-asan`.
 */
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <nghttp2/nghttp2.h>

#include "core/clock.h"
#include "http2/h2.h"
#include "../lib/tap.h"

static atomic_int gone, stop;
static struct cu_poller *poller;
/* test_trailers: the app adds trailers, and says what it saw */
static atomic_int want_trailers, refused, weight, depends_on;

/* The app's trailers (test_trailers): the bad ones refused, each whole,
 * the good ones taken; the stream's priority noted. 0, or -1. */
static int app_trailers(struct cu_conn *conn)
{
    static const char *const bad[] = {
        "content-length: 1\r\n", ":status: 200\r\n", "x-a: 1", "x-a 1\r\n",
        "x-a: b\nc\r\n", "x-ok: 1\r\nSet-Cookie: a=1\r\n", "x-a: \x01\r\n"};
    static const char good[] = "X-Sum: 3\r\nx-b: two\r\n";
    struct h2_stream *st = cu_h2_stream_of(conn);
    int32_t dep;
    int w, n = 0;

    if (!st)
        return -1;
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        n += cu_h2_stream_trailers(st, bad[i], strlen(bad[i])) < 0 && errno == EINVAL;
    atomic_store(&refused, n);
    cu_h2_stream_priority(st, &w, &dep);
    atomic_store(&weight, w);
    atomic_store(&depends_on, dep);
    return cu_h2_stream_trailers(st, good, sizeof(good) - 1);
}

/* The application layer: the body's length back, as text. The body is
 * read as the WSGI bridge reads it (src/worker/body.c): chunked framing
 * when no content-length came, decoded there. */
static int serve(void *arg, void *thread, struct cu_request *q)
{
    char head[128], body[32];
    size_t total = 0;
    int hl, bl;

    (void)arg;
    (void)thread;
    for (;;) {
        const char *p;
        int64_t n = cu_body_peek(q->body, q->conn, &p);
        if (n == HTTP_AGAIN) {
            if (cu_body_wait(q->body, q->conn) < 0)
                return -1;
            continue;
        }
        if (n <= 0)
            break;
        total += (size_t)n;
        cu_body_consume(q->body, q->conn, (size_t)n);
    }
    bl = snprintf(body, sizeof(body), "%zu", total);
    hl = snprintf(head, sizeof(head), "HTTP/2.0 200 OK\r\nContent-Length: %d\r\n"
                  "Connection: keep-alive\r\n\r\n", bl);
    if (cu_conn_write(q->conn, head, (size_t)hl) < 0 ||
        cu_conn_write(q->conn, body, (size_t)bl) < 0 ||
        (atomic_load(&want_trailers) && app_trailers(q->conn) < 0))
        return -1;
    q->out.status = 200;
    return 0;
}

static void on_gone(void *arg)
{
    (void)arg;
    atomic_fetch_add(&gone, 1);
}

static void *pool(void *arg)
{
    (void)arg;
    while (!atomic_load(&stop)) {
        void *data;
        unsigned events;
        if (cu_poller_wait(poller, &data, &events, 100) == 1)
            cu_h2_event(data, events, NULL);
    }
    return NULL;
}

/* ---- the client --------------------------------------------------------------- */

struct client {
    int fd;
    nghttp2_session *ng;
    int status, closed;
    char body[64];
    size_t blen;
    char trailers[128];  /* "name=value;"... of a HEADERS after the response's */
    size_t tlen;
    const char *upload;
    size_t upload_len, upload_off;
};

static ssize_t c_send(nghttp2_session *s, const uint8_t *d, size_t n, int f, void *u)
{
    struct client *c = u;

    (void)s;
    (void)f;
    return write(c->fd, d, n);
}

static int c_header(nghttp2_session *s, const nghttp2_frame *f, const uint8_t *name, size_t nl,
                    const uint8_t *value, size_t vl, uint8_t fl, void *u)
{
    struct client *c = u;

    (void)s;
    (void)fl;
    if (nl == 7 && memcmp(name, ":status", 7) == 0 && vl == 3)
        c->status = (value[0] - '0') * 100 + (value[1] - '0') * 10 + (value[2] - '0');
    if (f->hd.type == NGHTTP2_HEADERS && f->headers.cat == NGHTTP2_HCAT_HEADERS &&
        (f->hd.flags & NGHTTP2_FLAG_END_STREAM) && c->tlen + nl + vl + 2 < sizeof(c->trailers))
        c->tlen += (size_t)snprintf(c->trailers + c->tlen, sizeof(c->trailers) - c->tlen,
                                    "%.*s=%.*s;", (int)nl, name, (int)vl, value);
    return 0;
}

static int c_data(nghttp2_session *s, uint8_t fl, int32_t id, const uint8_t *d, size_t n,
                  void *u)
{
    struct client *c = u;

    (void)s;
    (void)fl;
    (void)id;
    if (c->blen + n < sizeof(c->body)) {
        memcpy(c->body + c->blen, d, n);
        c->blen += n;
    }
    return 0;
}

static int c_close(nghttp2_session *s, int32_t id, uint32_t code, void *u)
{
    struct client *c = u;

    (void)s;
    (void)id;
    c->closed = code == 0 ? 1 : -1;
    return 0;
}

static ssize_t c_read(nghttp2_session *s, int32_t id, uint8_t *buf, size_t len,
                      uint32_t *flags, nghttp2_data_source *src, void *u)
{
    struct client *c = u;
    size_t k = c->upload_len - c->upload_off;

    (void)s;
    (void)id;
    (void)src;
    if (k > len)
        k = len;
    memcpy(buf, c->upload + c->upload_off, k);
    c->upload_off += k;
    if (c->upload_off == c->upload_len)
        *flags |= NGHTTP2_DATA_FLAG_EOF;
    return (ssize_t)k;
}

/* A new client session for c. */
static void client_start(struct client *c)
{
    nghttp2_session_callbacks *cb;

    nghttp2_session_callbacks_new(&cb);
    nghttp2_session_callbacks_set_send_callback(cb, c_send);
    nghttp2_session_callbacks_set_on_header_callback(cb, c_header);
    nghttp2_session_callbacks_set_on_data_chunk_recv_callback(cb, c_data);
    nghttp2_session_callbacks_set_on_stream_close_callback(cb, c_close);
    nghttp2_session_client_new(&c->ng, cb, c);
    nghttp2_session_callbacks_del(cb);
    nghttp2_submit_settings(c->ng, NGHTTP2_FLAG_NONE, NULL, 0);
}

/* Runs c's session until its stream closes (at most 10 s). */
static void client_run(struct client *c)
{
    long long until = cu_now_ms() + 10000;

    while (!c->closed && cu_now_ms() < until) {
        struct pollfd p = {c->fd, POLLIN, 0};
        uint8_t buf[16384];
        ssize_t r;
        nghttp2_session_send(c->ng);
        if (poll(&p, 1, 100) <= 0)
            continue;
        r = read(c->fd, buf, sizeof(buf));
        if (r <= 0 || nghttp2_session_mem_recv(c->ng, buf, (size_t)r) < 0)
            break;
    }
}

/* One request on a new client session (pri: its HEADERS' priority, or
 * NULL); runs it to the stream's close. */
static void request_pri(struct client *c, const char *method, const char *upload, size_t n,
                        const nghttp2_priority_spec *pri)
{
    nghttp2_nv nv[] = {
        {(uint8_t *)":method", (uint8_t *)method, 7, strlen(method), 0},
        {(uint8_t *)":path", (uint8_t *)"/x", 5, 2, 0},
        {(uint8_t *)":scheme", (uint8_t *)"http", 7, 4, 0},
        {(uint8_t *)":authority", (uint8_t *)"t", 10, 1, 0},
    };
    nghttp2_data_provider dp = {.read_callback = c_read};

    c->upload = upload;
    c->upload_len = n;
    client_start(c);
    nghttp2_submit_request(c->ng, pri, nv, 4, upload ? &dp : NULL, NULL);
    client_run(c);
}

static void request(struct client *c, const char *method, const char *upload, size_t n)
{
    request_pri(c, method, upload, n, NULL);
}

/* A session over a socketpair: the client's end. */
static int session(struct cu_h2 *h)
{
    int sv[2];
    struct cu_conn c;

    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, sv) < 0)
        bail("socketpair");
    memset(&c, 0, sizeof(c));
    if (cu_conn_init(&c, sv[0], 0) < 0)
        bail("conn");
    c.peer.ss_family = AF_UNIX;
    c.peerlen = sizeof(sa_family_t);
    ok(cu_h2_adopt(h, &c, 1, NULL) == 0 && c.fd == -1, "the connection is taken over");
    return sv[1];
}

/* Response trailers (cu_h2_stream_trailers) and the request's priority. */
static void test_trailers(struct cu_h2 *h)
{
    nghttp2_priority_spec pri;
    struct client c;

    atomic_store(&want_trailers, 1);
    memset(&c, 0, sizeof(c));
    c.fd = session(h);
    request(&c, "GET", NULL, 0);
    ok(c.closed == 1 && c.status == 200 && c.blen == 1 &&
       c.tlen == 16 && memcmp(c.trailers, "x-sum=3;x-b=two;", 16) == 0,
       "the trailers end the stream after the body, names lower-cased (%.*s)",
       (int)c.tlen, c.trailers);
    ok(atomic_load(&refused) == 7, "a pseudo-header, content-length, set-cookie, a line "
       "without CRLF, without a colon, with a LF or a control byte: refused (%d of 7)",
       atomic_load(&refused));
    ok(atomic_load(&weight) == 16 && atomic_load(&depends_on) == 0,
       "no priority: 16 and 0 (%d, %d)", atomic_load(&weight), atomic_load(&depends_on));
    nghttp2_session_del(c.ng);
    close(c.fd);

    memset(&c, 0, sizeof(c));
    c.fd = session(h);
    nghttp2_priority_spec_init(&pri, 0, 200, 0);
    request_pri(&c, "GET", NULL, 0, &pri);
    ok(c.closed == 1 && atomic_load(&weight) == 200 && atomic_load(&depends_on) == 0,
       "the HEADERS' priority (%d)", atomic_load(&weight));
    nghttp2_session_del(c.ng);
    close(c.fd);
    atomic_store(&want_trailers, 0);
}

/* What cu_h2c_asked says of an HTTP/1 head. */
static int asked(const char *head)
{
    static char buf[1024];
    struct http_config http;
    struct http_parser p;
    struct http_request r;
    struct http_header hdrs[16];
    uint8_t settings[CU_H2C_SETTINGS_MAX];
    size_t n = strlen(head), len = 0;

    memcpy(buf, head, n);
    http_config_init(&http);
    http_config_finish(&http, 4094, 16, 8190);
    http_parser_init(&p, &http, 1);
    http_request_init(&r, hdrs, 16);
    if (http_parse_head(&p, &r, buf, n) <= 0)
        bail("a test head does not parse");
    return cu_h2c_asked(buf, &r, settings, &len);
}

#define UP "Connection: Upgrade, HTTP2-Settings\r\nUpgrade: h2c\r\n"

static void test_asked(void)
{
    ok(asked("GET / HTTP/1.1\r\nHost: t\r\n" UP "HTTP2-Settings: AAMAAABk\r\n\r\n") == 1,
       "an upgrade asked for");
    ok(asked("GET / HTTP/1.1\r\n" UP "HTTP2-Settings:\r\n\r\n") == 1, "no settings: asked");
    ok(asked("GET / HTTP/1.1\r\n" UP "HTTP2-Settings: AAMAAABk+A\r\n\r\n") == -1,
       "not base64url: refused");
    ok(asked("GET / HTTP/1.1\r\n" UP "HTTP2-Settings: AAMAAAB\r\n\r\n") == -1,
       "not whole settings: refused");
    ok(asked("GET / HTTP/1.1\r\n" UP "HTTP2-Settings: AAIAAAAC\r\n\r\n") == -1,
       "ENABLE_PUSH 2: refused");
    ok(asked("GET / HTTP/1.1\r\nConnection: Upgrade\r\nUpgrade: h2c\r\n"
             "HTTP2-Settings: AAMAAABk\r\n\r\n") == 0, "HTTP2-Settings not an option: not asked");
    ok(asked("GET / HTTP/1.1\r\n" UP "\r\n") == 0, "no HTTP2-Settings: not asked");
    ok(asked("POST / HTTP/1.1\r\nContent-Length: 1\r\n" UP "HTTP2-Settings: AAMAAABk\r\n"
             "\r\n") == 0, "a body: not asked");
    ok(asked("POST / HTTP/1.1\r\nContent-Length: 0\r\n" UP "HTTP2-Settings: AAMAAABk\r\n"
             "\r\n") == 1, "an empty body: asked");
    ok(asked("POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n" UP
             "HTTP2-Settings: AAMAAABk\r\n\r\n") == 0, "a chunked body: not asked");
    ok(asked("GET / HTTP/1.0\r\n" UP "HTTP2-Settings: AAMAAABk\r\n\r\n") == 0,
       "HTTP/1.0: not asked");
}

/* A session made by an upgrade: the client's request is parsed as the
 * worker parses it, the client reads the 101, then stream 1's answer. */
static void test_upgrade(struct cu_h2 *h, const struct http_config *http)
{
    static const char req[] = "GET /x HTTP/1.1\r\nHost: t\r\nCookie: a=1\r\n" UP
                              "HTTP2-Settings: AAMAAABk\r\n\r\n";
    struct http_parser p;
    struct http_request r;
    struct http_header hdrs[16];
    uint8_t settings[CU_H2C_SETTINGS_MAX];
    struct cu_h2_upgrade up = {.settings = settings, .r = &r};
    struct client c;
    struct cu_conn sc;
    char got[256];
    size_t n = 0;
    int64_t len;
    int sv[2];

    memset(&c, 0, sizeof(c));
    memset(&sc, 0, sizeof(sc));
    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, sv) < 0 ||
        cu_conn_init(&sc, sv[0], 0) < 0 || write(sv[1], req, sizeof(req) - 1) < 0 ||
        cu_conn_fill(&sc, 65536) != (ssize_t)sizeof(req) - 1)
        bail("an upgrading connection");
    sc.peer.ss_family = AF_UNIX;
    sc.peerlen = sizeof(sa_family_t);
    http_parser_init(&p, http, 1);
    http_request_init(&r, hdrs, 16);
    up.buf = sc.buf + sc.start;
    len = http_parse_head(&p, &r, up.buf, sc.end - sc.start);
    ok(len > 0 && cu_h2c_asked(up.buf, &r, settings, &up.settings_len) == 1 &&
       up.settings_len == 6, "the upgrade is asked for");
    sc.start += (size_t)len;
    ok(cu_h2_adopt(h, &sc, 1, &up) == 0 && sc.fd == -1, "the upgrade is taken over");
    c.fd = sv[1];
    while (n < sizeof(got) - 1 && !(n >= 4 && memcmp(got + n - 4, "\r\n\r\n", 4) == 0)) {
        struct pollfd pf = {c.fd, POLLIN, 0};
        if (poll(&pf, 1, 5000) <= 0 || read(c.fd, got + n, 1) != 1)
            break;
        n++;
    }
    got[n] = '\0';
    ok(strncmp(got, "HTTP/1.1 101 Switching Protocols\r\n", 34) == 0 &&
       strstr(got, "\r\nUpgrade: h2c\r\n"), "101 Switching Protocols");
    client_start(&c);
    ok(nghttp2_session_upgrade2(c.ng, settings, up.settings_len, 0, NULL) == 0,
       "the client's side upgraded");
    client_run(&c);
    ok(c.closed == 1 && c.status == 200 && c.blen == 1 && c.body[0] == '0',
       "stream 1 answered: 200 (%d)", c.status);
    nghttp2_session_del(c.ng);
    close(c.fd);
}

int main(void)
{
    static char big[200000];
    struct http_config http;
    struct cu_worker_env env;
    struct cu_h2 *h;
    pthread_t t[2];
    struct client c;
    int gone_before;

    (void)signal(SIGPIPE, SIG_IGN);  /* as in a worker (signals.c): a write to a
                                      * closed peer is EPIPE, not death */
    ok(cu_h2_preface("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\nxyz", 27) == 1, "the whole preface");
    ok(cu_h2_preface("PRI * HTTP/2", 12) == -1, "a part of it: more is needed");
    ok(cu_h2_preface("GET / HTTP/1.1\r\n", 16) == 0, "HTTP/1: not the preface");
    ok(cu_h2_preface("PRI * HTTP/1.1\r\n\r\nSM\r\n\r\n", 24) == 0, "close, but no");

    http_config_init(&http);
    http_config_finish(&http, 4094, 100, 8190);
    memset(&env, 0, sizeof(env));
    env.http = &http;
    env.keepalive = 2;
    env.h2 = (struct cu_h2_settings){.on = 1, .max_streams = 100, .window = 65535,
                                     .max_frame = 16384, .max_header_list = 65536};
    poller = cu_poller_new();
    h = poller ? cu_h2_new(&(struct cu_h2_host){.env = &env, .poller = poller,
                                                .timeout_ms = 5000, .serve = serve,
                                                .gone = on_gone}) : NULL;
    if (!h)
        bail("cu_h2_new");
    for (int i = 0; i < 2; i++)
        pthread_create(&t[i], NULL, pool, NULL);

    memset(&c, 0, sizeof(c));
    c.fd = session(h);
    request(&c, "GET", NULL, 0);
    ok(c.closed == 1 && c.status == 200 && c.blen == 1 && c.body[0] == '0',
       "GET: 200, no body read (%d, %.*s)", c.status, (int)c.blen, c.body);
    nghttp2_session_del(c.ng);
    close(c.fd);

    test_asked();
    test_upgrade(h, &http);
    test_trailers(h);

    memset(big, 'b', sizeof(big));
    memset(&c, 0, sizeof(c));
    c.fd = session(h);
    request(&c, "POST", big, sizeof(big));
    ok(c.closed == 1 && c.status == 200 && c.blen == 6 && memcmp(c.body, "200000", 6) == 0,
       "POST of 200000 bytes, three windows' worth: all read (%.*s)", (int)c.blen, c.body);
    nghttp2_session_del(c.ng);
    gone_before = atomic_load(&gone);
    close(c.fd);
    {
        long long until = cu_now_ms() + 10000;
        while (atomic_load(&gone) < 5 && cu_now_ms() < until)
            (void)poll(NULL, 0, 10);
    }
    ok(gone_before <= 4 && atomic_load(&gone) == 5, "the sessions closed once their "
       "clients left (%d)", atomic_load(&gone));
    atomic_store(&stop, 1);
    for (int i = 0; i < 2; i++)
        pthread_join(t[i], NULL);
    cu_h2_free(h);
    cu_poller_free(poller);
    return tap_done();
}
