/*
 * One client connection as a worker holds it: the socket, the peer, and a
 * read buffer whose unconsumed bytes are buf[start..end). Plain C; every
 * wait is bounded by the connection's timeout. Call without the GIL.
 */
#ifndef CU_WORKER_CONN_H
#define CU_WORKER_CONN_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <sys/uio.h>

#include "http/proxy.h"

struct cu_allow;
struct cu_listener;
struct cu_tls;
struct cu_tls_conn;

/*
 * A transport other than the socket under a connection: an HTTP/2
 * stream (src/http2/). Each call waits itself, bounded by its own
 * deadline, and never fails with EAGAIN.
 */
struct cu_conn_vt {
    /* Like recv(2): bytes, 0 at the end, -1 with errno. */
    ssize_t (*recv)(void *arg, void *p, size_t n);
    /* Like writev(2), but takes everything: the byte count, or -1. */
    ssize_t (*writev)(void *arg, const struct iovec *iov, int n);
    /* --request-timeout took the connection away (another thread). */
    void (*abort)(void *arg);
};

struct cu_conn {
    int fd;
    struct sockaddr_storage peer;
    socklen_t peerlen;
    const struct cu_listener *listener;
    char *buf;
    size_t cap, start, end;
    size_t keep;          /* buf[0..keep) survives a refill: the head of
                           * the request being served (<= start) */
    int eof;
    int timeout_ms;       /* the longest wait for one read or write; 0:
                           * never wait, fail with EAGAIN */
    long long deadline_ms;  /* no wait goes past it (cu_now_ms; 0: none):
                             * a head's or a body's deadline, set by the
                             * worker around the reads it bounds */
    int send_timeout_ms;  /* a write's wait for the peer to take bytes,
                           * when shorter than timeout_ms; 0: timeout_ms */
    int body_ms, body_min_rate;  /* a body's deadline: cu_body_deadline */
    void (*tick)(void *); /* called about once a second while waiting */
    void *tick_arg;
    /* Where a wait goes instead of poll() (the gevent and eventlet
     * classes: their hub, so that other greenlets run meanwhile): waits
     * up to ms for fd to be ready for events (POLLIN or POLLOUT). 0, or
     * -1 with errno (ETIMEDOUT; ECANCELED when the wait was cancelled).
     * NULL: poll(). */
    int (*wait)(void *arg, int fd, short events, int ms);
    void *wait_arg;
    struct cu_tls_conn *tls;  /* NULL: plain; else every byte goes
                               * through it (cu_conn_tls) */
    const struct cu_conn_vt *vt;  /* NULL: the socket (or tls); else
                                   * every read and write goes to vt, and
                                   * fd is only the app's gunicorn.socket */
    void *vt_arg;
    short tls_want;       /* after a TLS call failed with EAGAIN: the
                           * readiness it waits for (POLLIN, POLLOUT) */
    /* proxy_protocol over TLS: a PROXY header may still come in the
     * clear, ahead of the handshake (the TLS context's setting; then
     * HTTP_PROXY_OFF once looked for), from a peer in tls_proxy_allow */
    enum http_proxy_mode tls_proxy;
    const struct cu_allow *tls_proxy_allow;
    char *tls_proxy_buf;   /* its bytes taken off the socket so far, while */
    size_t tls_proxy_len;  /* it is incomplete (malloc'd; NULL: none) */
    int has_proxy;        /* a PROXY header came first: proxy says who */
    struct http_proxy proxy;
    /* Writes that would block may be queued instead (gthread): up to
     * queue_max bytes, once the writer says the rest of the response is
     * known (cu_conn_whole). The worker's poller sends the queue. */
    size_t queue_max;     /* 0: never queue, always wait */
    int whole;
    /* The worker lets a response's last write be held (cu_conn_hold):
     * set around the app's call by gthread when its calls take long. */
    int may_hold;
    int held;             /* cu_conn_hold queued the response's end */
    struct cu_seg *queue, *queue_last;
    size_t queued;        /* bytes in the queue's buffers */
    /* The application layer's objects for this connection, kept between
     * requests when keeps_objects is set (gthread; the worker then has
     * them freed, with the GIL, before the connection closes). */
    int keeps_objects;
    void *pysock;
    void *pyaddr, *pyport;  /* REMOTE_ADDR, REMOTE_PORT strings */
    /* Writes against an abort from another thread (--request-timeout):
     * CU_W_IDLE, CU_W_WRITING while a write is under way, CU_W_ABORTED
     * once the connection was taken away (every write then fails). */
    atomic_int wstate;
    uint64_t wrote;       /* bytes written so far, any response */
    /* wrote when the final response of the request being served may
     * begin: set as the request is handed to the app, moved past each
     * interim (1xx) answer. Nothing of the final response is out while
     * wrote equals it. A signal handler reads it (cu_conn_abort_now). */
    atomic_ullong final_from;
};

enum { CU_W_IDLE, CU_W_WRITING, CU_W_ABORTED };

/* From another thread: takes the connection away from its writer. With
 * nothing written yet for this response (sent_before == c->wrote) and no
 * write under way, answers error_page first (not over TLS: the owner may
 * be reading through the same TLS state). Then shuts the socket down.
 * Returns 1 when the page went out. */
int cu_conn_abort(struct cu_conn *c, uint64_t sent_before, const char *error_page,
                  size_t len);

/* The same from a signal handler (the sync worker's SIGABRT), in the
 * thread it interrupted or another: async-signal-safe. Takes the
 * connection away; with nothing of the final response out (wrote ==
 * final_from) and no write under way, sends error_page with one send()
 * (plain only: TLS is not async-signal-safe).
 * Then shuts the write side (the peer sees the end), and, so that the
 * close does not turn into a reset that destroys what was sent, drops
 * what the peer sent until it closes, up to 64 KiB and linger_ms. 1 when
 * the page went out, 0 when not (the response had begun: it is cut). */
int cu_conn_abort_now(struct cu_conn *c, const char *error_page, size_t len,
                      int linger_ms);

/* A queued piece of a response: bytes (owned), or part of a file (a dup
 * of its fd, owned). */
struct cu_seg {
    struct cu_seg *next;
    char *buf;
    size_t len, off;      /* bytes: buf[off..len) still to go */
    int fd;               /* file: -1 for bytes */
    off_t foff;
    size_t fleft;
};

/* The read buffer's first size, when it is allocated on demand. */
#define CU_CONN_BUF 8192

/* A new connection silent this long counts as idle: at
 * --worker-connections it may make room for another (gthread, asgi;
 * docs/operations.md, Facing the internet without a proxy). */
#define CU_FRESH_GRACE_MS 1000

/* Allocates the read buffer (cap bytes; 0: on the first read). 0 or -1
 * (ENOMEM). */
int cu_conn_init(struct cu_conn *c, int fd, size_t cap);
/* Frees the read buffer if it holds nothing: an idle connection costs
 * no buffer. The next read allocates it again. */
void cu_conn_shrink(struct cu_conn *c);
void cu_conn_close(struct cu_conn *c);
/* Puts TLS under c (docs/compat.md, TLS): from now on every read and write
 * goes through it; the handshake is done by the first read, or by
 * cu_conn_handshake. With proxy_protocol on, a PROXY header sent in the
 * clear before the handshake is read first (docs/compat.md, PROXY
 * protocol): c->has_proxy and c->proxy say what it held. 0, or -1
 * (ENOMEM). */
int cu_conn_tls(struct cu_conn *c, struct cu_tls *t);
/* The TLS handshake, waiting at most timeout_ms in all (a client that
 * stalls mid-handshake loses its connection then). 0, or -1 with errno
 * (ETIMEDOUT, EPROTO: cu_tls_error says why, ECONNRESET). */
int cu_conn_handshake(struct cu_conn *c);
/* What to wait for before the next try, after a read or flush that failed
 * with EAGAIN: POLLIN or POLLOUT (TLS may need to write to read, and the
 * reverse); dflt when plain. Forgets the TLS layer's answer. */
short cu_conn_want(struct cu_conn *c, short dflt);
/* Nothing waits in the socket (a peek that would block): a connection
 * the budget may take as idle (gthread, asgi). Not for a socket another
 * thread may be reading. */
int cu_conn_silent(const struct cu_conn *c);
/* Whether the TLS handshake chose h2 by ALPN (0: plain, or not yet). */
int cu_conn_alpn_h2(const struct cu_conn *c);
/* Bytes already read off the socket, waiting in the TLS layer: the poller
 * will not say so. */
int cu_conn_pending(const struct cu_conn *c);
/* The end of what this side sends: close_notify (TLS), then shutdown's
 * SHUT_WR. 0, or -1 (errno). */
int cu_conn_shut_wr(struct cu_conn *c);

/* Sets O_NONBLOCK on c's socket again if it was cleared (an app may do
 * so through a dup of the fd, gunicorn.socket: the flag belongs to the
 * open file, which the dup shares). Plain reads and writes never need it
 * (they pass MSG_DONTWAIT); sendfile(2), OpenSSL's reads and writes and a
 * vt's do. */
void cu_conn_keep_nonblocking(const struct cu_conn *c);
/* A graceful close's first half (Gunicorn's): shuts the write side and
 * drops what the peer still sends, up to limit bytes or ms milliseconds,
 * so that unread input does not turn the close into a reset that destroys
 * the response at the peer. Call cu_conn_close() after. */
void cu_conn_linger(struct cu_conn *c, size_t limit, int ms);
/* A graceful close's usual bounds: this many bytes for this long at most
 * (Gunicorn's 2 s). */
#define CU_LINGER_LIMIT 65536
#define CU_LINGER_MS 2000

/*
 * Reads what the peer has sent into the buffer, waiting up to timeout_ms
 * for the first byte. Makes room by moving unconsumed bytes to the front
 * and by growing the buffer up to max bytes. Returns the number of bytes
 * read, 0 at EOF (c->eof set), or -1 with errno (ETIMEDOUT, ENOBUFS when
 * the buffer is full at max, or the socket's error).
 */
ssize_t cu_conn_fill(struct cu_conn *c, size_t max);

/* Writes all of iov (adjusting it), waiting as needed. 0 or -1 (errno). */
int cu_conn_writev(struct cu_conn *c, struct iovec *iov, int n);
int cu_conn_write(struct cu_conn *c, const void *p, size_t n);

/*
 * One try at writing a small iov (up to CU_WRITE_NOW_MAX bytes) on a
 * plain connection with nothing queued, without waiting: 1 when it all
 * went; 0 when the rest is for cu_conn_writev (*iov and *n moved past
 * what went), which then waits or says what failed. It never waits, so
 * the caller may hold the GIL across it: a small response goes out
 * without giving the GIL up and taking it back.
 */
#define CU_WRITE_NOW_MAX 16384
int cu_conn_writev_now(struct cu_conn *c, struct iovec **iov, int *n);

/* Sends n bytes of the file fd from offset off with sendfile(2), waiting
 * as needed. 0, or -1 (errno; EINVAL or ESPIPE when fd cannot be sent so). */
int cu_conn_sendfile(struct cu_conn *c, int fd, off_t off, size_t n);

/*
 * The last write of a response, held instead of written (with may_hold,
 * on a plain connection with nothing queued, up to CU_HOLD_MAX bytes):
 * queued for the worker's poller, which sends it once the app's call is
 * over, beside the other connections' (docs/architecture.md, "Held
 * responses"). 1 when held, 0 when the caller writes it as usual, -1
 * when out of memory.
 */
#define CU_HOLD_MAX 16384
int cu_conn_hold(struct cu_conn *c, const struct iovec *iov, int n);

/* Says that the rest of the response is known (the app returned it
 * whole): from now on a write that would block is queued (within
 * queue_max) and returns at once. */
void cu_conn_whole(struct cu_conn *c);
/* Sends what is queued without waiting: 0 when the queue is empty, 1
 * when the socket is full (wait for writable), -1 on error (errno). */
int cu_conn_flush(struct cu_conn *c);
/* Drops the queue. */
void cu_conn_unqueue(struct cu_conn *c);

/* Gunicorn's answer to a refused request (docs/compat.md, Error answers): the
 * status of the HTTP_E_* code, "Connection: close", a Date and a small HTML
 * page; nothing for the codes that close silently. For a head that failed
 * to parse: the request starts at c->buf + c->start, and a HEAD request
 * line gets the head without the page. 0, or -1 (errno). */
int cu_conn_send_error(struct cu_conn *c, int code);
/* The same for a request whose head was parsed (a body error): head says
 * whether it was HEAD. */
int cu_conn_send_error_to(struct cu_conn *c, int code, int head);

#endif
