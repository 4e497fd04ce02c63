/*
 * What every worker class shares: the listeners, the HTTP settings, the
 * signals a worker reacts to, and the hand-off of a parsed request to the
 * application layer. Plain C: the application layer is a callback, which
 * takes the GIL itself.
 */
#ifndef CU_WORKER_WORKER_H
#define CU_WORKER_WORKER_H

#include <signal.h>

#include "core/access.h"
#include "core/clock.h"
#include "core/statsd.h"
#include "http/parser.h"
#include "http/proxy.h"
#include "master/contract.h"
#include "net/allow.h"
#include "net/listen.h"
#include "worker/body.h"
#include "worker/conn.h"

/* What the application layer reports about one response. */
struct cu_served {
    int status;        /* the status sent, 0 if none */
    uint64_t bytes;    /* body bytes sent */
    int close;         /* the connection must close now */
};

/*
 * What the access log takes from the application's side of a request
 * (docs/compat.md, Logging): the environ as the app left it, the response
 * headers. The application layer fills it while it holds them, with only
 * what the format uses (cu_access_needs()): one malloc'd block, freed by
 * cu_access().
 */
struct cu_logvals {
    struct cu_str remote;       /* REMOTE_ADDR, when the app changed it
                                 * (p NULL: the connection's) */
    struct cu_str path;         /* PATH_INFO (U) */
    struct cu_str *resp, *env;  /* {name}o / {name}e, in the order of
                                 * cu_access_lookups() */
    void *host;                 /* CU_ACC_NEED_HOST: the request as the
                                 * access divert takes it (its own) */
};

/*
 * One request on its way from a worker to the application layer and back:
 * the connection, the parsed head, the body reader, the worker's
 * keep-alive decision, and what the response came to.
 */
struct cu_request {
    struct cu_conn *conn;
    const struct http_request *http;  /* its spans are offsets from the head */
    /* The head is conn->buf + head_off: an offset, because reading the
     * body may move the buffer (conn->keep holds the head in place
     * within it). cu_request_head() gives it. */
    size_t head_off;
    struct cu_body *body;
    int must_close;        /* the worker closes after this response */
    int64_t started_us;    /* the head complete (cu_now_us), for the
                            * access log and statsd; 0 when both are off */
    struct cu_served out;  /* filled in by the application layer */
    /* gthread: a streamed response may pause when the socket is full
     * (may_pause); paused holds it until env->resume (NULL: none) */
    int may_pause;
    void *paused;
    struct cu_logvals *logged;  /* the same, for the access log; or NULL */
};

static inline const char *cu_request_head(const struct cu_request *q)
{
    return q->conn->buf + q->head_off;
}

struct cu_worker_env;

/* Something to run in a greenlet of its own: fn(arg). */
struct cu_hub_task {
    void (*fn)(void *arg);
    void *arg;
};

/*
 * The gevent and eventlet classes (CU_WC_GREEN): what their hub (gevent's
 * or eventlet's, in the worker's main thread) does for the class's plain
 * C loop. Every call is made without the GIL, from a greenlet; a call
 * that waits lets the other greenlets run meanwhile.
 */
struct cu_hub {
    /* Waits up to ms for fd to be ready for events (POLLIN, POLLOUT); fd
     * -1: sleeps ms. 0, or -1 with errno: ETIMEDOUT, ECANCELED (the
     * greenlet was killed: give up), EIO (logged). A cu_conn's wait. */
    int (*wait)(void *arg, int fd, short events, int ms);
    /* Runs t in a new greenlet, at once or once the hub gets to it.
     * pooled: one of at most --worker-connections, and waits while that
     * many run. The greenlet's handle (for kill and release), or NULL
     * with errno (ECANCELED: killed while waiting; else logged). t must
     * outlive the handle's release. */
    void *(*spawn)(void *arg, const struct cu_hub_task *t, int pooled);
    /* Has the greenlets of handles[0..n) give up: their waits fail with
     * ECANCELED. Returns at once. */
    void (*kill)(void *arg, void *const *handles, size_t n);
    /* Drops a handle. */
    void (*release)(void *arg, void *handle);
    /* The main greenlet's heartbeat: unless the next one comes within ms,
     * the stack of what keeps the hub from running is logged. ms 0: the
     * watch ends. */
    void (*watch)(void *arg, int ms);
    /* HTTP/2 (src/worker/green_h2.c). io: while on, fn(data) is called
     * from the hub's greenlet each time fd is ready for reading (write 0)
     * or writing; on 0 stops it. fn never waits. 0, or -1 (logged). */
    int (*io)(void *arg, int fd, int write, int on, void (*fn)(void *), void *data);
    /* A place for one greenlet to park at a time (a handle for release),
     * or NULL (logged). */
    void *(*parker)(void *arg);
    /* Parks the calling greenlet at p until unpark(p), at most ms. 0, or
     * -1 with errno: ETIMEDOUT, ECANCELED (killed), EIO (logged). */
    int (*park)(void *arg, void *p, int ms);
    /* The greenlet parked at p goes on once the hub gets to it (from any
     * greenlet; nothing when none is parked there). */
    void (*unpark)(void *arg, void *p);
    void *arg;
};

/* HTTP/2 (http_protocols with h2; docs/compat.md, HTTP/2): what the
 * sessions of src/http2/ are made with (gthread, gevent, eventlet, asgi). */
struct cu_h2_settings {
    int on;                 /* h2 is offered: ALPN over TLS */
    int prior_knowledge;    /* h2c: the preface on a plain connection from
                             * a peer in forwarded_allow_ips */
    int upgrade;            /* h2c: an HTTP/1.1 request's Upgrade: h2c from
                             * such a peer */
    uint32_t max_streams;   /* SETTINGS_MAX_CONCURRENT_STREAMS */
    uint32_t window;        /* SETTINGS_INITIAL_WINDOW_SIZE */
    uint32_t max_frame;     /* SETTINGS_MAX_FRAME_SIZE */
    uint32_t max_header_list;  /* SETTINGS_MAX_HEADER_LIST_SIZE; 0: none */
};

struct cu_worker_env {
    struct cu_listener *listeners;
    size_t n_listeners;
    const struct http_config *http;
    enum http_proxy_mode proxy;
    int timeout;            /* --timeout: also bounds a slow client's head */
    int graceful_timeout;
    int max_requests;       /* 0: never recycle */
    int keepalive;          /* gthread: idle keep-alive seconds; 0: none */
    int request_timeout;    /* seconds; 0: none */
    int worker_connections; /* gthread: open connections at most */
    int threads;            /* gthread: the pool's size */
    int workers;            /* how many workers the master keeps (at start) */
    size_t buffer_body;     /* gthread: bodies up to this size are read
                             * before the app runs (0: never) */
    /* gthread: a body larger than buffer_body, or chunked, is spooled
     * (spool.h) by the poller before the app runs, unless stream_body */
    int stream_body;
    size_t spool_memory;    /* of a spooled body, kept in memory */
    const char *upload_dir; /* the spool files' directory (tmp_upload_dir);
                             * NULL: $TMPDIR, else /tmp */
    /* Deadlines against slow clients (docs/operations.md, Facing the
     * internet without a proxy), in ms; 0: none (each wait is bounded by
     * timeout alone). */
    int new_conn_ms;        /* accept to the request's first byte */
    int header_ms;          /* a head's first byte to its end */
    int body_ms;            /* a body, from the first wait for it ... */
    int body_min_rate;      /* ... plus a second per this many bytes */
    int send_ms;            /* a response's wait with no byte taken */
    size_t head_memory;     /* gthread, asgi: the heads' buffers in all
                             * (bytes; 0: no cap) */
    int dump_signal;        /* gthread: raised on a thread stuck past
                             * --timeout, to log its Python stack; 0: none */
    const struct cu_allow *allow;        /* forwarded_allow_ips: trusted peers */
    const struct cu_allow *proxy_allow;  /* proxy_allow_ips */
    struct cu_tls *tls;     /* certfile: every connection speaks TLS;
                             * NULL: plain HTTP */
    struct cu_h2_settings h2;  /* HTTP/2 (gthread, gevent, eventlet, asgi) */
    /* Serves one request (q->out says how it went); called without the
     * GIL. 0, or -1 when the connection failed (close it). */
    int (*serve)(void *app, struct cu_request *q);
    /* A paused response (q->paused), once its queue went out: writes on,
     * or ends it (abandon: the client is gone). As serve; may be NULL
     * (then no response pauses). */
    int (*resume)(void *app, struct cu_request *q, int abandon);
    void *app;
    /* Called by each pool thread (gthread) before its first serve; may be
     * NULL. */
    void (*thread_start)(void *app);
    /* Frees what the application layer kept on a connection between
     * requests (c->pysock); called by a pool thread before closing it. */
    void (*conn_free)(void *app, struct cu_conn *c);
    /* gthread, --request-timeout: has the app on that thread interrupted
     * (RequestTimeout raised in it); called from the main thread, must
     * not wait for the GIL there. */
    void (*interrupt)(void *app, unsigned long thread);
    /* asgi (CU_WC_ASYNC): runs the event loop that serves every
     * connection, until the worker stops; its exit status. */
    int (*event_loop)(void *app, struct cu_worker_env *env);
    /* gevent, eventlet (CU_WC_GREEN): fills hub with the one of the
     * class named kind, pooling at most worker_connections greenlets.
     * 0, or -1 (logged). */
    int (*hub_open)(void *app, const char *kind, int worker_connections,
                    struct cu_hub *hub);
    struct cu_worker_slot *slot;
    pid_t ppid;             /* the master: a worker whose parent changes exits */
};

/* Set by the signal handlers (signals.c): TERM asks for a graceful stop,
 * USR1 for the logs to be reopened. */
extern volatile sig_atomic_t cu_worker_stop, cu_worker_reopen;
/* worker_int / worker_abort hooks (or worker_exit): instead of exiting in
 * the handler, INT/QUIT (ints) and ABRT (abrt) write their number to a
 * pipe for a thread that runs the hooks, then exits (src/host/hooks.c).
 * Call after cu_worker_signals. Returns the pipe's read end, or -1. */
int cu_worker_signal_pipe(int ints, int abrt);
/* The read end of a pipe that TERM and USR1 write a byte to, for a
 * worker that waits in an event loop rather than in poll() with a
 * timeout (asgi): its loop watches it. Non-blocking, close-on-exec.
 * Call after cu_worker_signals. Returns the fd, or -1 (logged). */
int cu_worker_wake_pipe(void);
/* Set once such a signal has been handed to that thread. */
extern volatile sig_atomic_t cu_worker_signalled;
/* sync, --request-timeout: set while the app runs under the alarm, so a
 * late SIGALRM is ignored. */
extern volatile sig_atomic_t cu_request_armed;

/* The answer to a request aborted by --request-timeout before its
 * response began (with Connection: close), built in buf[0..n)
 * (HTTP_PAGE_MAX bytes hold it). Its length, 0 when it does not fit. */
size_t cu_page_504(char *buf, size_t n);

/* Asks the master for a replacement (reason: CU_RECYCLE_*); the worker
 * goes on serving until the master retires it with TERM. Logs why. */
void cu_worker_recycle(struct cu_worker_slot *slot, int reason);

/* Installs the worker's signal handlers (TERM, INT, QUIT, USR1, ABRT);
 * before the app is loaded. 0 or -1 (logged). */
int cu_worker_signals(struct cu_worker_slot *slot);

/* ---- boot.c: a TERM while the worker boots --------------------------- */

/* From here to cu_worker_boot_end (the app's import, the hooks), a TERM
 * releases this process's copies of ls[0..n) at once, in its handler
 * (the numbers stay taken until the end); one that came before does so
 * now. Call after cu_worker_signals. Without a spare socket to do it
 * with (logged), the listeners stay until the loop's stop. */
void cu_worker_boot_begin(struct cu_listener *ls, size_t n);
/* The TERM handler's part (signal-safe). */
void cu_worker_boot_term(void);
/* The boot is over: 1 when a TERM released the listeners meanwhile
 * (their numbers are closed now and their fds -1: the worker has nothing
 * to serve and exits), else 0. */
int cu_worker_boot_end(void);

/* sync: the connection whose request the app is serving (NULL: none; set
 * it to NULL before the connection closes). On the master's SIGABRT the
 * handler answers it with Gunicorn's 500 if nothing of its response went
 * out, else cuts it (cu_conn_abort_now). */
void cu_worker_serving(struct cu_conn *c);

/* ---- request.c: what every worker class does around one request ---- */

/* How far a connection's buffer may grow while it holds a head. */
size_t cu_head_max(const struct cu_worker_env *env);
/* Takes the PROXY header (proxy_protocol; docs/compat.md, PROXY
 * protocol) at the start of what c holds while *proxy_done is 0, and sets
 * *proxy_done once it is taken or known absent (or came before TLS).
 * 0, HTTP_AGAIN (too few bytes to tell), HTTP_E_PROXY_FORBIDDEN (the peer
 * is not in proxy_allow_ips), or HTTP_E_PROXY_LINE/_HEADER (malformed). */
int cu_proxy_step(const struct cu_worker_env *env, struct cu_conn *c, int *proxy_done);
/* Whether a plain connection opens with the h2c preface, past its PROXY
 * header (cu_proxy_step): 1 it does, 0 it does not (HTTP/1),
 * HTTP_AGAIN (the bytes so far agree with it), or the PROXY header's
 * HTTP_E_* code. */
int cu_h2c_opens(const struct cu_worker_env *env, struct cu_conn *c, int *proxy_done);
/* Parses what c holds: the PROXY header first while *proxy_done is 0
 * (cu_proxy_step), then the head. The head's length, HTTP_AGAIN, or an
 * HTTP_E_* code. */
int64_t cu_head_step(const struct cu_worker_env *env, struct cu_conn *c,
                     struct http_parser *p, struct http_request *r,
                     int *proxy_done);
/* Reads and parses until the head is complete (cu_head_step over
 * cu_conn_fill, each wait bounded by c->timeout_ms; c->deadline_ms, the
 * new connection's if set, until the first byte, then --header-timeout
 * from it; cleared on return). The head's length, 0
 * for a clean EOF before any byte, or an HTTP_E_* code (HTTP_E_EOF too
 * when the wait timed out or failed: just close). */
int64_t cu_head_read(const struct cu_worker_env *env, struct cu_conn *c,
                     struct http_parser *p, struct http_request *r, int *proxy_done);
/* Logs a request refused with code (what cu_head_step or the body
 * returned) in Gunicorn's words (docs/compat.md, Logging): a warning
 * "Invalid request from ip=ADDR: TEXT", TEXT from what p (or, for a PROXY
 * header, c->proxy) noted, their spans counted from c->buf + c->start; a
 * peer gone mid-request (HTTP_E_EOF) at debug level, with the bytes that
 * came of the part being read (p NULL: a body). */
void cu_request_refused(const struct cu_conn *c, const struct http_parser *p, int code);
/* The access-log line and the statsd request metrics of a request refused
 * at its head with code, as Gunicorn gives them (docs/compat.md, Access
 * log): for the errors it raises with the request attached (the parser
 * marks them: a second Host or Content-Type, bad Content-Length or
 * Transfer-Encoding framing), and a body over limit_request_body (ours).
 * The error's status, b 0, a time of 0; the headers, once the head was
 * whole. r: the request as parsed, its spans from head. Nothing for
 * another error, or with neither an access log nor statsd. Call after
 * cu_request_refused, before the answer. */
void cu_request_refused_access(const struct cu_conn *c, const struct http_parser *p,
                               const struct http_request *r, const char *head, int code);
/* Logs a TLS connection that failed (errno err) before its request, as
 * Gunicorn does (docs/compat.md, TLS): a TLS error (EPROTO) as a warning
 * "Invalid request from ip=ADDR: [SSL] REASON"; a peer gone or stalled at
 * debug level. */
void cu_tls_failed(const struct cu_conn *c, int err);
/* Puts TLS (t) under a new connection and runs the handshake, waiting as
 * c waits (poll, or c->wait: a hub's), at most c->timeout_ms in all and
 * never past c->deadline_ms. 0; or -1 with the failure logged
 * (cu_tls_failed) and, for a peer that is not TLS, what it sent drained
 * first: the caller closes c. */
int cu_tls_accept(struct cu_conn *c, struct cu_tls *t);
/* The request line as received, NUL-terminated, cut to fit n bytes. */
void cu_request_line(const struct cu_request *q, char *out, size_t n);
/* Writes the access log line of a served request, sends its statsd
 * metrics, and frees q->logged. */
void cu_access(struct cu_request *q);
/* Whether a finished request goes anywhere (an access log, or statsd): the
 * classes time a request (started_us) and call cu_access only then. */
static inline int cu_access_wanted(void)
{
    return cu_access_enabled() || cu_statsd_on();
}

/* The sync worker: one request at a time, Connection: close after each.
 * Returns the worker's exit status. */
int cu_sync_run(struct cu_worker_env *env);

/* The gthread worker: persistent connections in a poller, requests on a
 * pool of env->threads threads. Returns the worker's exit status. */
int cu_gthread_run(struct cu_worker_env *env);

/* The gevent and eventlet workers: a greenlet per connection on the
 * class's hub, which the host provides (env->hub_open). Return the
 * worker's exit status. */
int cu_gevent_run(struct cu_worker_env *env);
int cu_eventlet_run(struct cu_worker_env *env);

/* The asgi worker: ASGI apps on an event loop in the main thread, which
 * the host runs (env->event_loop). Returns the worker's exit status. */
int cu_asgi_run(struct cu_worker_env *env);

#endif
