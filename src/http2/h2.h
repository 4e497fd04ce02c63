/*
 * HTTP/2 for the gthread worker (docs/compat.md, HTTP/2), with nghttp2.
 * Plain C.
 *
 * The worker hands a connection over once it knows the connection speaks
 * HTTP/2 (ALPN chose h2, a trusted peer's first bytes are the h2c
 * preface, or its HTTP/1.1 request asked for h2c by Upgrade); from then on the connection is a session here. Each stream's
 * request runs on the worker's pool as a job, concurrently with the
 * others, through the same application-layer callback HTTP/1 requests
 * use: its struct cu_request has a connection of its own (struct cu_conn
 * with a vt) whose reads are the stream's DATA and whose writes, the
 * bridge's HTTP/1 response, become the stream's HEADERS and DATA.
 *
 * Every watcher registered with the worker's poller by this module starts
 * with an int equal to CU_H2_KIND: the worker passes those events to
 * cu_h2_event().
 */
#ifndef CU_HTTP2_H2_H
#define CU_HTTP2_H2_H

#include "ev/poller.h"
#include "worker/worker.h"

#define CU_H2_KIND 2  /* the worker's own kinds are 0 and 1 */

struct h2_stream;

/* What a stream's waiter is told (the loop mode's event callback). */
enum { CU_H2_READABLE = 1, CU_H2_WRITABLE = 2, CU_H2_RESET = 4 };

/* What the worker gives the sessions. With a poller, the gthread worker's
 * mode: each stream's request is a job for the pool (serve). Without one,
 * the loop mode of the asgi worker (one thread, an event loop): the
 * sessions' fds are watched through watch, each stream's request is
 * begun (begin) and goes on as its app awaits; its connection's reads and
 * writes never wait (EAGAIN), and the stream's waiter is told (event)
 * when what it waits for came. */
struct cu_h2_host {
    struct cu_worker_env *env;
    struct cu_poller *poller;  /* NULL: the loop mode */
    /* loop mode: watches fd for reading ('r') or writing ('w') (on) or
     * not; the loop calls cu_h2_event(watcher, 0, NULL) when it is ready.
     * 0, or -1 (logged). */
    int (*watch)(void *arg, int fd, int what, int on, void *watcher);
    /* loop mode: st's request is complete (its head parsed): starts its
     * app without waiting (cu_h2_stream_take, then cu_h2_stream_end when
     * it is over). 0, or -1 (the stream is reset). */
    int (*begin)(void *arg, struct h2_stream *st);
    /* loop mode: what up (cu_h2_stream_take's) waited for came
     * (CU_H2_READABLE, CU_H2_WRITABLE), or the stream was reset while
     * it waited for neither (CU_H2_RESET). */
    void (*event)(void *up, int what);
    int timeout_ms;          /* --timeout: a stalled stream's or peer's bound */
    /* Serves one stream's request on the calling pool thread (thread: the
     * worker's own, as cu_h2_event got it): the app, the access log. */
    int (*serve)(void *arg, void *thread, struct cu_request *q);
    /* A connection handed over is closed: the worker counts it gone. */
    void (*gone)(void *arg);
    void *arg;
};

struct cu_h2;  /* one worker's sessions and the queue of their streams */

/* Makes the worker's HTTP/2 part (a job queue in the poller). NULL, logged. */
struct cu_h2 *cu_h2_new(const struct cu_h2_host *host);
/* Frees it, once every session is gone and no thread waits at the
 * poller (the worker exits under it instead). NULL is fine. */
void cu_h2_free(struct cu_h2 *h);

/* An HTTP/1.1 request that asked for h2c (Upgrade: h2c, upgrade.c) */
#define CU_H2C_SETTINGS_MAX 192  /* 32 settings, as a SETTINGS frame may have */
struct cu_h2_upgrade {
    const uint8_t *settings;  /* its HTTP2-Settings, decoded */
    size_t settings_len;
    char *buf;                /* its head (field names are lowered in it) */
    const struct http_request *r;  /* parsed from buf; no body */
};

/* Whether the request r parsed from buf asks for h2c by Upgrade (RFC 7540
 * 3.2: HTTP/1.1, no body, Upgrade: h2c, one HTTP2-Settings, Connection
 * naming both): 1 with its settings in settings[0..*len) (room for
 * CU_H2C_SETTINGS_MAX), 0 when it does not (it is served as HTTP/1.1),
 * -1 when its HTTP2-Settings is not base64url of a SETTINGS payload (a
 * 400). */
int cu_h2c_asked(const char *buf, const struct http_request *r, uint8_t *settings,
                 size_t *len);

/* Takes c over (its fd, TLS state and buffered bytes, the poller
 * registration of its fd deleted by the caller); c is left empty. trusted:
 * the peer is in forwarded_allow_ips. up: the request that asked for the
 * h2c upgrade (answered 101, then as stream 1; its head still in c's
 * buffer, consumed), or NULL. 0, or -1 (c closed, logged; the caller
 * calls host->gone itself). */
int cu_h2_adopt(struct cu_h2 *h, struct cu_conn *c, int trusted,
                const struct cu_h2_upgrade *up);

/* Whether buf[0..n) starts a connection with the h2c preface: 1 when the
 * whole preface is there, 0 when it is not the preface, -1 when the bytes
 * so far agree with it. */
int cu_h2_preface(const char *buf, size_t n);

/* An event of the poller for one of this module's watchers. */
void cu_h2_event(void *data, unsigned events, void *thread);

/* Loop mode: the stream's request for its app. c takes the stream's
 * connection (its buffer with the head at 0, reads and writes through the
 * stream, never waiting: timeout_ms 0), r its parsed head (its headers'
 * array, *hdrs, is the caller's to free); up is told the stream's events.
 * *trusted: the peer is in forwarded_allow_ips. */
void cu_h2_stream_take(struct h2_stream *st, void *up, struct cu_conn *c,
                       struct http_request *r, struct http_header **hdrs, int *trusted);
/* Loop mode: up waits for the stream to be readable ('r') or to take
 * more ('w') (on), or no more. */
void cu_h2_stream_want(struct h2_stream *st, int what, int on);
/* Loop mode: the app is done with the stream (ok: its response is whole
 * as far as it knows; else the stream is reset). Its connection c (the
 * one cu_h2_stream_take filled) is emptied: its buffer freed. */
void cu_h2_stream_end(struct h2_stream *st, struct cu_conn *c, int ok);

/* The stream whose connection c is (the bridge's in the pool mode, the
 * app's in the loop mode), or NULL when c is no HTTP/2 stream's. */
struct h2_stream *cu_h2_stream_of(const struct cu_conn *c);
/* The priority the client gave st in its request's HEADERS (RFC 9113
 * 5.3, deprecated), as Gunicorn tells it: *weight 1 to 256 (16 when none
 * came), *depends_on the stream it depends on (0 when none). Without a
 * lock: it never changes once the request is begun. */
void cu_h2_stream_priority(struct h2_stream *st, int *weight, int32_t *depends_on);
/* Trailer fields for st's response, after those given before: f[0..len)
 * is "name: value\r\n" lines (the names are sent lower-cased). They go
 * as a HEADERS with END_STREAM after the body, when the response is whole.
 * 0 (also when the stream is gone: dropped), or -1 with errno: EINVAL (a
 * line that is no field, a pseudo-header or a field RFC 9110 6.5.1 keeps
 * out of trailers: nothing of f taken), EPIPE (the response is over),
 * E2BIG (past 128 KiB of trailers), ENOMEM. */
int cu_h2_stream_trailers(struct h2_stream *st, const char *f, size_t len);

/* Called by the worker's main thread (gthread) or loop (asgi, gevent,
 * eventlet) on each tick: idle sessions past
 * their deadline are closed; once the worker stops, every session says
 * GOAWAY and closes when its streams are done. With evict (the worker is
 * at --worker-connections with a connection waiting, and has no idle
 * HTTP/1 one to close), the session idle longest is closed too. */
void cu_h2_tick(struct cu_h2 *h, long long now_ms, int evict);

#endif
