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
        cu_conn_write(q->conn, body, (size_t)bl) < 0)
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
    (void)f;
    (void)fl;
    if (nl == 7 && memcmp(name, ":status", 7) == 0 && vl == 3)
        c->status = (value[0] - '0') * 100 + (value[1] - '0') * 10 + (value[2] - '0');
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

/* One request on a new client session; runs it to the stream's close
 * (at most 10 s). */
static void request(struct client *c, const char *method, const char *upload, size_t n)
{
    nghttp2_session_callbacks *cb;
    nghttp2_nv nv[] = {
        {(uint8_t *)":method", (uint8_t *)method, 7, strlen(method), 0},
        {(uint8_t *)":path", (uint8_t *)"/x", 5, 2, 0},
        {(uint8_t *)":scheme", (uint8_t *)"http", 7, 4, 0},
        {(uint8_t *)":authority", (uint8_t *)"t", 10, 1, 0},
    };
    nghttp2_data_provider dp = {.read_callback = c_read};
    long long until = cu_now_ms() + 10000;

    c->upload = upload;
    c->upload_len = n;
    nghttp2_session_callbacks_new(&cb);
    nghttp2_session_callbacks_set_send_callback(cb, c_send);
    nghttp2_session_callbacks_set_on_header_callback(cb, c_header);
    nghttp2_session_callbacks_set_on_data_chunk_recv_callback(cb, c_data);
    nghttp2_session_callbacks_set_on_stream_close_callback(cb, c_close);
    nghttp2_session_client_new(&c->ng, cb, c);
    nghttp2_session_callbacks_del(cb);
    nghttp2_submit_settings(c->ng, NGHTTP2_FLAG_NONE, NULL, 0);
    nghttp2_submit_request(c->ng, NULL, nv, 4, upload ? &dp : NULL, NULL);
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
    ok(cu_h2_adopt(h, &c, 1) == 0 && c.fd == -1, "the connection is taken over");
    return sv[1];
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
        while (atomic_load(&gone) < 2 && cu_now_ms() < until)
            (void)poll(NULL, 0, 10);
    }
    ok(gone_before <= 1 && atomic_load(&gone) == 2, "both sessions closed once their "
       "clients left (%d)", atomic_load(&gone));
    atomic_store(&stop, 1);
    for (int i = 0; i < 2; i++)
        pthread_join(t[i], NULL);
    cu_h2_free(h);
    cu_poller_free(poller);
    return tap_done();
}
