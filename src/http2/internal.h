/*
 * Shared by the files of src/http2/ only:
 *
 *   pool.c     the worker's part: the job queue of streams (an eventfd in
 *              the poller), the list of sessions, the tick, the events
 *   session.c  one connection: nghttp2's session, its callbacks, the
 *              defences, and the pump (socket <-> nghttp2) under the
 *              session's lock
 *   upgrade.c  the h2c upgrade: an HTTP/1.1 request that asks for it
 *              becomes stream 1 of a session
 *   stream.c   one stream: its request made from HEADERS (parsed by the
 *              HTTP/1 parser, so the same rules hold), its body as the
 *              app reads it, its response from the bridge's bytes
 *
 * Locking: everything of a session and its streams is under the
 * session's mutex m, held only for work that never waits (non-blocking
 * reads and writes). A thread that must wait (an app reading a body, or
 * writing faster than the peer takes) either drives the socket itself
 * (one at a time: s->io_busy) or waits on s->cv, which every pump
 * broadcasts.
 */
#ifndef CU_HTTP2_INTERNAL_H
#define CU_HTTP2_INTERNAL_H

#include <nghttp2/nghttp2.h>
#include <pthread.h>

#include "http2/h2.h"
#include "worker/body.h"

/* Defences' bounds (docs/compat.md, HTTP/2) */
#define H2_MAX_SETTINGS 32        /* entries per SETTINGS frame */
#define H2_MAX_OUTBOUND_ACK 100   /* SETTINGS/PING ACKs queued unsent */
#define H2_MAX_CONTINUATIONS 8    /* CONTINUATION frames per header block */
#define H2_RESET_BURST 200        /* RST_STREAM from the peer: a burst of */
#define H2_RESET_RATE 33          /* ... then this many a second */
#define H2_MAX_HEADER_TABLE 4096  /* the HPACK table the peer may make us keep */
#define H2_OUT_HIGH (256u << 10)  /* a stream's response bytes buffered before
                                   * the app's write waits */
#define H2_HEAD_MAX (128u << 10)  /* a request head as text, at most */
#define H2_BODY_ROOM 16384        /* a body's read buffer, after its head */
#define H2_CTL_PER_SEC 1000       /* PING, SETTINGS, PRIORITY, empty DATA
                                   * frames a second */
#define H2_CONN_WINDOW (1u << 20) /* the connection's receive window */
#define H2_OUT_BATCH (64u << 10)  /* frames gathered before one write */

struct h2_session;

/* A watcher in the worker's poller: kind first (CU_H2_KIND). */
enum { W_READ, W_WRITE, W_JOBS };
struct h2_watch {
    int kind;
    int what;
    void *owner;  /* the session, or the struct cu_h2 for W_JOBS */
};

struct h2_stream {
    struct h2_stream *next_job;  /* in the job queue */
    struct h2_stream *sprev, *snext;  /* in s->streams */
    struct h2_session *s;
    int32_t id;
    int refs;                    /* nghttp2's (until closed), the job's */
    int closed;                  /* nghttp2 closed it (done or reset) */
    int dispatched;              /* its job is queued or running */
    /* the request: the head as HTTP/1 text, built from HEADERS */
    char *head;
    size_t head_len, head_cap;
    char *pseudo[4];             /* :method :path :authority :scheme */
    char *cookie;                /* cookie fields joined with "; " */
    size_t cookie_len, cookie_cap;
    char *trailers;              /* "Name: value\r\n"..., request trailers */
    size_t trailers_len, trailers_cap;
    int in_headers_done, bad, is_head;
    size_t hsize;                /* the header list's size, as RFC 9113 counts */
    uint32_t nfields;            /* fields in head: the parser's array's size */
    struct http_request r;
    struct http_header *hdrs;
    struct cu_body body;
    struct cu_conn sc;           /* the stream's connection for the bridge */
    /* the body as it arrives: in[in_off..in_len) unread by the app */
    char *in;
    size_t in_len, in_off, in_cap;
    int in_end;                  /* END_STREAM came */
    int chunked;                 /* no content-length: framed as chunked */
    char frbuf[32];              /* chunked framing still to give out: */
    char *fr, *fr_owned;         /* fr[fr_off..fr_len), in frbuf or owned */
    size_t fr_len, fr_off, data_left;
    int terminated;              /* the last chunk was given out */
    /* the response: the bridge's bytes, the head as HTTP/1 text first */
    char *rhead;
    size_t rhead_len, rhead_cap;
    int resp_state;              /* R_HEAD, R_BODY */
    int resp_chunked;            /* the bridge chunked the body: unchunk */
    int dc_state;                /* the unchunker's state */
    size_t dc_left;
    int64_t resp_cl;             /* the response's Content-Length, or -1 */
    uint64_t resp_bytes;         /* body bytes the bridge gave */
    char *out;                   /* body bytes for DATA: out[out_off..out_len) */
    size_t out_len, out_off, out_cap;
    int out_end;                 /* the app is done: END_STREAM after out */
    int deferred;                /* the data source said DEFERRED */
    int submitted;               /* the response's HEADERS are queued */
    int aborted;                 /* --request-timeout reset it */
    int status;
    /* the response's trailers ("name: value\r\n"..., the app's): a
     * HEADERS with END_STREAM after the body (cu_h2_stream_trailers) */
    char *rtrailers;
    size_t rtrailers_len, rtrailers_cap;
    /* the priority the client gave in the request's HEADERS (RFC 9113
     * 5.3, deprecated): only told to the app; set before its job is */
    int pri_weight;
    int32_t pri_depends_on;
    /* the loop mode's: the app's side (cu_h2_stream_take), what it waits
     * for, whether it was told of the reset, the last walk that saw it */
    void *up;
    int want_r, want_w, told_reset;
    unsigned walked;
};

struct h2_session {
    struct h2_watch rd, wr;
    struct cu_h2 *h;
    struct h2_session *prev, *next;  /* in h->sessions, under h->lock */
    pthread_mutex_t m;
    pthread_cond_t cv;
    nghttp2_session *ng;
    struct cu_conn c;            /* the connection: fd, TLS, read buffer */
    int wfd;                     /* a dup of c.fd, for the write watcher */
    int refs;                    /* the read watcher, the write watcher
                                  * while armed, each stream's job */
    int dead;                    /* closing: no more I/O */
    int out_armed;               /* the write watcher is armed */
    int flush;                   /* frames to make and write: the write
                                  * watcher's thread does it, with what
                                  * other streams add meanwhile */
    int wfd_added;               /* wfd is in the poller */
    int io_busy;                 /* a waiting app thread drives the socket */
    int wake;                    /* an eventfd: wakes that thread's poll()
                                  * when another thread's pump did its work */
    int goaway;                  /* GOAWAY sent for the worker's stop */
    int trusted;
    int running;                 /* streams whose job is not over */
    struct h2_stream *streams;   /* every stream not freed */
    long long ctl_at;            /* control frames: this second's start */
    int ctl_count;               /* ... and how many came in it */
    char *out;                   /* frames nghttp2 made, not yet written */
    size_t out_len, out_off, out_cap;
    long long deadline;          /* idle: closed by the tick after it */
    unsigned walk;               /* loop mode: the streams' walks so far */
    int unwatched;               /* loop mode: dead, the fds no more watched */
};

/* The asgi worker's loop mode (h2.h): no poller, one thread. */
#define H2_LOOP(h) ((h)->host.poller == NULL)

struct cu_h2 {
    struct cu_h2_host host;
    nghttp2_session_callbacks *cbs;
    nghttp2_option *opts;        /* the defences' bounds */
    struct http_config http;     /* the worker's, taking "HTTP/2.0" */
    struct h2_watch jw;
    int efd;                     /* the job queue's eventfd (semaphore) */
    pthread_mutex_t qlock;       /* the job queue (taken under a s->m) */
    struct h2_stream *jobs, *jobs_last;
    uint64_t unsignalled;        /* jobs queued, not yet told to the eventfd */
    pthread_mutex_t lock;        /* the sessions list (s->m taken under it) */
    struct h2_session *sessions;
};

/* ---- session.c ------------------------------------------------------------ */

/* Runs the socket as far as it goes without waiting (with s->m held):
 * reads and feeds nghttp2, writes what it made. 0, or -1 when the session
 * is over (s->dead set, the socket shut down). */
int h2_pump(struct h2_session *s);
/* After a pump, with s->m held: arms the write watcher when frames wait
 * for the socket; wakes the waiters. */
void h2_after_pump(struct h2_session *s);
/* Marks s dead and shuts its socket down (s->m held): every watcher
 * fires, every waiter gives up. */
void h2_kill(struct h2_session *s);
/* Drops one reference (s->m held; released here); the last frees s. */
void h2_unref(struct h2_session *s);
/* Waits, with s->m held, until cond(arg) or until deadline_ms (then -1,
 * ETIMEDOUT) or the session dies (-1, ECONNRESET): drives the socket
 * when no other thread does. */
int h2_wait(struct h2_session *s, int (*cond)(void *), void *arg, long long deadline_ms);
/* Loop mode (s->m held): frames are to be made and written; the write
 * watcher's turn does it, then tells the streams what came. */
void h2_loop_flush(struct h2_session *s);
/* nghttp2's callbacks and options (h->cbs, h->opts), once per worker.
 * 0, or -1: out of memory. */
int h2_setup(struct cu_h2 *h);
/* Makes s->ng and queues our SETTINGS. 0, or -1 (logged). */
int h2_session_start(struct h2_session *s);

/* ---- stream.c ------------------------------------------------------------- */

/* Appends p[0..n) to *buf (len, cap), growing it. 0, or -1 (ENOMEM). */
int h2_append(char **buf, size_t *len, size_t *cap, const void *p, size_t n);
struct h2_stream *h2_stream_new(struct h2_session *s, int32_t id);
/* One header field of a stream's request (or its trailers). 0, or
 * NGHTTP2_ERR_TEMPORAL_CALLBACK_FAILURE to reset the stream. */
int h2_stream_header(struct h2_stream *st, const uint8_t *name, size_t nlen,
                     const uint8_t *value, size_t vlen);
/* The request's HEADERS are complete (end_stream: no body): builds and
 * parses its head, then queues its job. 0, or -1: refused (answered). */
int h2_stream_request(struct h2_stream *st, int end_stream);
/* DATA for the stream: kept for the app (the window holds it back). */
void h2_stream_data(struct h2_stream *st, const uint8_t *data, size_t len);
/* The stream's connection for the bridge: reads and writes */
extern const struct cu_conn_vt h2_stream_vt;
/* The response's data source for nghttp2. */
ssize_t h2_stream_read(nghttp2_session *ng, int32_t id, uint8_t *buf, size_t len,
                       uint32_t *flags, nghttp2_data_source *src, void *user);
/* Drops one reference (s->m held); the last frees st. */
void h2_stream_unref(struct h2_stream *st);
/* We sent the end of st's response (s->m held): a request body still
 * coming is cut with RST_STREAM(NO_ERROR). */
void h2_stream_sent_end(struct h2_stream *st);
/* Runs a queued stream's request on this pool thread. */
void h2_stream_run(struct h2_stream *st, void *thread);
/* The app is done with st (s->m held): its response's end, or a reset
 * when !ok or the response is not whole; the job's reference of st
 * dropped (the caller drops the session's: h2_unref). */
void h2_stream_over(struct h2_stream *st, int ok);
/* Loop mode: the events st's waiter is due (CU_H2_*), 0 for none. */
int h2_stream_due(struct h2_stream *st);
/* Refuses a stream's request with status and no body (s->m held). */
void h2_stream_refuse(struct h2_stream *st, int status);
/* The client's priority for st, from its request's HEADERS. */
void h2_stream_priority(struct h2_stream *st, const nghttp2_priority_spec *pri);

/* ---- upgrade.c ------------------------------------------------------------ */

/* Answers 101 (queued before our SETTINGS) and makes up's request stream
 * 1, with the client's HTTP2-Settings (s->m held, before the first pump).
 * 0, or -1 (logged): the session must go. */
int h2_upgrade(struct h2_session *s, const struct cu_h2_upgrade *up);

/* ---- pool.c --------------------------------------------------------------- */

/* Queues st's job for the pool; h2_signal() tells the pool. */
void h2_dispatch(struct h2_stream *st);
/* Tells the pool of the jobs queued since the last call: one write. */
void h2_signal(struct cu_h2 *h);

#endif
