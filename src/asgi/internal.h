/*
 * Shared by the files of src/asgi/ only:
 *
 *   server.c   the worker's server object: the loop's callables, the
 *              listeners, the wake-up pipe, the once-a-second tick
 *              (heartbeat, deadlines, the graceful stop)
 *   conn.c     one connection: reading and parsing heads, keep-alive,
 *              pipelining, refused requests, lingering closes
 *   scope.c    the http scope of one request
 *   request.c  one request: its task, its end (the access log, the
 *              hooks), the app's errors
 *   receive.c  the receive callable: http.request, http.disconnect
 *   send.c     the send callable: the response on the wire
 *   ready.c    the awaitable that completes at once
 *   ws.c       a WebSocket (the websocket scope): the handshake's answer,
 *              receive() and send() over RFC 6455 frames, the close
 *
 * and for the tornado worker class, which runs on the same loop:
 *   tornado.c  one request handed to a tornado Application's delegate:
 *              the start line and headers, the body fed to it, its end
 *   tconn.c    the HTTPConnection object the handler writes through
 *   twsgi.c    a plain WSGI app's request, served on the loop's thread
 */
#ifndef CU_ASGI_INTERNAL_H
#define CU_ASGI_INTERNAL_H

#include "asgi/asgi.h"
#include "http/parser.h"
#include "http/ws.h"
#include "http/ws_deflate.h"
#include "worker/body.h"
#include "worker/conn.h"

/* The scope's keys and constant values, interned once (srv->k). */
enum { K_TYPE, K_ASGI, K_HTTP_VERSION, K_METHOD, K_SCHEME, K_PATH, K_RAW_PATH,
       K_QUERY, K_ROOT_PATH, K_HEADERS, K_CLIENT, K_SERVER, K_STATE, K_BODY,
       K_MORE_BODY, K_STATUS, K_TRAILERS,
       V_HTTP, V_HTTPS, V_1_0, V_1_1, V_REQUEST, V_DISCONNECT, V_START, V_RESP_BODY,
       V_PATHSEND, V_TRAILERS, K_MORE_TRAILERS,
       K_HTTP_EXTS,  /* the http scope's extensions (a dict) */
       /* the websocket scope's */
       K_SUBPROTOCOLS, K_EXTENSIONS, K_SUBPROTOCOL, K_CODE, K_REASON, K_TEXT, K_BYTES,
       V_WEBSOCKET, V_WS, V_WSS, V_WS_CONNECT, V_WS_ACCEPT, V_WS_RECEIVE, V_WS_SEND,
       V_WS_CLOSE, V_WS_DISCONNECT, V_WS_RESP_START, V_WS_RESP_BODY, V_WS_RESP,
       K_TLS,        /* the tls extension's key */
       /* the methods called on a task, a future or a timer */
       M_ADD_DONE, M_CANCELLED, M_EXCEPTION, M_SET_RESULT, M_SET_EXCEPTION, M_CANCEL,
       M_CALL_SOON,  /* the loop's */
       /* tornado's delegate methods */
       M_HEADERS_RECEIVED, M_DATA_RECEIVED, M_FINISH, M_ON_CONNECTION_CLOSE, M_ADD,
       M_GET_ALL,
       K_COUNT };

/* What the loop serves (asrv.mode). */
enum { MODE_ASGI, MODE_TORNADO, MODE_TORNADO_WSGI };

/* The tornado names the tornado class uses (asrv.t). */
enum { T_START_REQUEST,  /* the app's start_request(server_conn, request_conn) */
       T_START_LINE,     /* httputil.RequestStartLine */
       T_HEADERS,        /* httputil.HTTPHeaders */
       T_OUTPUT_ERROR,   /* httputil.HTTPOutputError */
       T_CLOSED_ERROR,   /* iostream.StreamClosedError */
       T_CONVERT,        /* gen.convert_yielded */
       T_CONTEXT,        /* cunicorn._tornado.Context */
       T_DETACH,         /* cunicorn._tornado.detach */
       T_DONE,           /* a future done with None, shared */
       T_COUNT };

#if PY_VERSION_HEX < 0x030A0000
/* Py_NewRef arrived in 3.10. */
static inline PyObject *cu_new_ref(PyObject *o)
{
    Py_INCREF(o);
    return o;
}
#define Py_NewRef(o) cu_new_ref((PyObject *)(o))
#endif

struct aconn;
struct areq;
struct cu_h2;
struct h2_stream;

/* The worker's server: one per process. */
struct asrv {
    PyObject_HEAD
    struct cu_worker_env *env;
    const struct cu_asgi_opts *opts;
    PyObject *app, *loop, *stopped, *state, *asgi_info;
    PyObject *helper;           /* cunicorn._asgi */
    /* the loop's methods, bound once */
    PyObject *add_reader, *remove_reader, *add_writer, *remove_writer;
    PyObject *create_task, *create_future, *call_later;
    /* our callables, handed to the loop */
    PyObject *on_readable, *on_writable, *on_accept, *on_wake, *on_tick, *on_stop_due;
    PyObject *k[K_COUNT];
    PyObject *root_path, *empty_bytes;
    PyObject **lfd, **lserver;  /* per listener: its fd (int), its scope server */
    PyTypeObject *conn_type, *req_type, *ready_type;
    int mode;                   /* MODE_*: what the loop serves */
    PyTypeObject *treq_type;    /* tornado: the request's HTTPConnection */
    PyObject *t[T_COUNT];       /* tornado: its names (set by tornado()) */
    PyObject *ready_none;       /* an awaitable of None, shared */
    struct aconn *conns;        /* every open connection */
    int nconns, served, accepting, listening, wake_fd;
    long long stop_until;       /* graceful stop: the requests' deadline
                                 * (ms), 0 before the stop */
    long long stop_end;         /* ... and the worker's: --graceful-timeout
                                 * after the stop began */
    size_t head_max;
    size_t head_mem;            /* the heads' buffers, for --max-head-memory */
    struct cu_h2 *h2;           /* HTTP/2's sessions (h2.c), or NULL */
    PyObject *on_h2;            /* the loop's callback for their fds */
};

enum cstate {
    C_HEAD,     /* reading a head (or idle before one) */
    C_REQ,      /* a request's response is under way */
    C_LINGER,   /* write side shut, dropping what the peer sends */
    C_CLOSED
};

struct aconn {
    PyObject_HEAD
    struct asrv *srv;           /* borrowed: it outlives every connection */
    struct aconn *prev, *next;  /* srv->conns */
    enum cstate state;
    int reading, writing;       /* registered with the loop */
    int idle;                   /* C_HEAD between requests, no byte yet */
    int fresh;                  /* C_HEAD, no byte yet since accept */
    long long born;             /* accepted at (cu_now_ms) */
    size_t counted;             /* its buffer, counted in srv->head_mem */
    long long deadline;         /* ms (cu_now_ms); 0: none */
    PyObject *fd;               /* the socket's number, as the loop takes it */
    struct cu_conn c;
    struct http_parser p;
    struct http_request r;
    struct http_header *headers;
    struct cu_body body;
    int trusted, proxy_done;
    int upgraded;               /* a WebSocket: its close lingers */
    struct areq *req;           /* the request being served (strong) */
    PyObject *tctx;             /* tornado: the connection's context, or NULL */
    PyObject *tls_ext;          /* TLS: the scope's tls extension, made at its
                                 * first request and shared by the next ones */
    struct h2_stream *h2;       /* an HTTP/2 stream's (h2.c): c is the
                                 * stream's, the watches its wants */
    int h2_ok;                  /* ... its response was whole */
};

/* A request that is a WebSocket handshake: its state (ws.c). */
struct aws {
    int on;                     /* the request asked for a WebSocket */
    int connected;              /* websocket.connect was received */
    int accepted;               /* the 101 went out */
    int close_sent, close_rcvd; /* the close frames, ours and the peer's */
    uint16_t code;              /* what websocket.disconnect says */
    struct http_span key;       /* Sec-WebSocket-Key, in the head */
    struct ws_parser p;
    char *msg;                  /* a message over several reads (PyMem) */
    size_t mlen, mcap;
    struct ws_pmd *pmd;         /* permessage-deflate's contexts, when
                                 * negotiated; freed when the request is over */
    /* the server's pings (--ws-ping-interval; the areq's timer) */
    long long next_ping;        /* when the next one goes (cu_now_ms) */
    long long pong_due;         /* the pong awaited by then; 0: none awaited */
    uint32_t ping_seq;          /* the last ping's payload */
};

/* A request of a tornado Application (tornado.c, tconn.c). */
struct atn {
    int on;
    PyObject *delegate;         /* its HTTPMessageDelegate, until the end */
    PyObject *close_cb;         /* set_close_callback's, or NULL */
    PyObject *waiting;          /* what the delegate gave to await, or NULL */
    int read_done;              /* the delegate's finish() was called */
    int write_done;             /* the handler's finish() was called */
    int upgrade;                /* a 101 went out: detach() is to follow */
    uint64_t fed;               /* body bytes fed to the delegate */
    int64_t max_body;           /* set_max_body_size's, or tornado's 100 MiB */
    long long body_until;       /* set_body_timeout's deadline (ms), 0: none */
};

/* What a request waits for, when the app awaits a future. */
enum { W_NONE, W_BODY, W_DISCONNECT };

struct areq {
    PyObject_HEAD
    struct asrv *srv;
    struct aconn *conn;         /* strong; NULL once the response is over */
    struct cu_request q;
    PyObject *task;             /* the app's, until it ends */
    PyObject *timer;            /* --request-timeout's handle, or NULL */
    /* the futures the app awaits: receive()'s (wait W_BODY or
     * W_DISCONNECT) and send()'s (the socket to drain); a task may await both at
     * once (Starlette listens for the disconnect while it streams) */
    PyObject *recv_fut, *send_fut;
    int wait;                   /* receive()'s: W_NONE, W_BODY, W_DISCONNECT */
    int started, head_sent, over, failed, chunked, no_body, must_close;
    int is_head, continue_sent, body_end, finishing, gone, status;
    int paged;                  /* the server's error page is the response */
    int trailers;               /* the app said it sends trailers */
    int tsend;                  /* ... and they go out (chunked framing) */
    int tready;                 /* the last body went: trailers are due */
    int64_t length;             /* the app's Content-Length, -1: none */
    uint64_t sent;              /* body bytes written */
    char *block;                /* "Name: value\r\n"... (PyMem) */
    size_t blen, bcap;
    struct aws ws;
    struct atn tn;
};

/* ---- server.c ---- */
/* The loop's method m called with args (steals the tuple, which may be
 * NULL with an exception). 0, or -1 with an exception. */
int asrv_call(PyObject *m, PyObject *args);
/* Registers or drops conn's fd with the loop: reader (what 'r') or
 * writer ('w'). 0, or -1 (logged). */
int asrv_watch(struct aconn *a, int what, int on);
/* Now plus --timeout (an hour when 0): when a stalled connection is dropped. */
long long asrv_deadline(const struct asrv *s);
/* Now plus ms, or asrv_deadline when ms is 0 or that is sooner: a
 * deadline of docs/operations.md's (--header-timeout, --send-timeout ...). */
long long asrv_after(const struct asrv *s, int ms);
/* The deadline of a body the app waits for (--body-timeout,
 * --body-min-rate: cu_body_deadline), or asrv_deadline when that is
 * sooner. */
long long asrv_body_deadline(struct aconn *a);
/* The loop's next turn goes on with a as if readable. 0, or -1
 * (reported). */
int asrv_soon(struct aconn *a);
/* A connection closed: the server forgets it (may finish a stop). */
void asrv_conn_gone(struct asrv *s, struct aconn *a);
/* One connection fewer (a session's, h2.c): the listeners may take more,
 * the stop may be done. */
void asrv_count_gone(struct asrv *s);

/* ---- h2.c ---- */
/* HTTP/2's part of the server (env->h2.on, the asgi mode). 0, or -1
 * (logged). */
int asrv_h2_open(struct asrv *s);
/* Whether a (C_HEAD, nothing answered on it yet) speaks HTTP/2: ALPN
 * chose h2, or a trusted peer's plain connection starts with the h2c
 * preface (after its PROXY header, taken here: cu_h2c_opens). 1: a was
 * handed over to a session (a is closed); HTTP_AGAIN: its bytes agree
 * with the preface so far; another HTTP_E_*: its PROXY header is
 * refused; 0: HTTP/1. */
int aconn_to_h2(struct aconn *a);
/* a's HTTP/1.1 request, whose head of len bytes a holds, from a trusted
 * peer on a plain connection, asking for h2c by Upgrade when
 * http2_cleartext allows it: 1 when a was handed over (the request is
 * stream 1 of a session, answered after the 101; a is closed), 0 when it
 * is served as HTTP/1.1, -1 when its HTTP2-Settings is bad (a 400). */
int aconn_upgrade_h2(struct aconn *a, int64_t len);
/* A stream's request is over (a is closed): the stream's end. */
void aconn_h2_end(struct aconn *a);

/* ---- conn.c ---- */
extern PyType_Spec asgi_conn_spec;
/* A new connection on an accepted fd; NULL (fd closed, logged). */
struct aconn *aconn_new(struct asrv *s, int fd, const struct sockaddr_storage *peer,
                        socklen_t plen, const struct cu_listener *l);
/* The loop says: readable, writable. */
void aconn_readable(struct aconn *a);
void aconn_writable(struct aconn *a);
/* Closes at once (or after a linger, unread: the peer may still send). */
void aconn_close(struct aconn *a, int unread);
/* The response of a->req is over: the next request, or the close. */
void aconn_response_over(struct aconn *a, int close);
/* The deadline passed (the tick). */
void aconn_expired(struct aconn *a);
/* Stopping: an idle connection closes now. */
void aconn_stop(struct aconn *a);

/* ---- scope.c ---- */
/* The http scope of a's request. A new reference, or NULL (exception). */
PyObject *asgi_scope(struct asrv *s, struct aconn *a);
/* What the keys and values are made of; 0 or -1 (exception). */
int asgi_scope_init(struct asrv *s);
/* Whether a's request is https (wss): TLS, or a trusted peer's scheme
 * header (secure_scheme_headers) that says so. */
int asgi_https(const struct aconn *a);
/* The method m[0..n) as str (the common ones made once): a new reference. */
PyObject *asgi_method(const char *m, size_t n);

/* ---- request.c ---- */
extern PyType_Spec asgi_req_spec;
/* Starts the app on a's parsed request, whose head is at head_off in
 * a->c.buf; close: the connection closes after its response; ws_key: the
 * Sec-WebSocket-Key of a WebSocket handshake, or NULL. 0, or -1 (the
 * caller closes the connection). */
int areq_start(struct asrv *s, struct aconn *a, size_t head_off, int close,
               const struct http_span *ws_key);
/* The client is gone while the app runs: its task is cancelled after
 * --asgi-disconnect-grace-period, unless it ends before. */
void areq_gone(struct areq *q);
/* The response is over, whatever its end: the access line, the hooks,
 * the connection moves on. close: the connection must close. */
void areq_over(struct areq *q, int close);
/* Resolves the future *fut (q->recv_fut or q->send_fut, then NULL) with
 * v (steals v; NULL with an exception: that exception). */
void areq_wake(struct asrv *s, PyObject **fut, PyObject *v);

/* ---- receive.c ---- */
PyObject *areq_receive(PyObject *self, PyObject *unused);
/* More bytes may be in (or EOF): a receive waiting for them finishes. */
void areq_receive_more(struct areq *q);
/* An http.disconnect message; a new reference. */
PyObject *asgi_disconnect_msg(struct asrv *s);

/* ---- send.c ---- */
PyObject *areq_send(PyObject *self, PyObject *msg);
/* "name: value\r\n" appended to q->block. 0, or -1 (no memory). */
int areq_block_line(struct areq *q, const char *name, size_t nl, const char *value, size_t vl);
/* A response's Content-Length value (digits only, an int64_t) into
 * q->length: 0, or 1 when it repeats the one taken (to be sent once);
 * -1 with a ValueError naming shown (bad, or another one taken). */
int areq_content_length(struct areq *q, const char *value, size_t vl, PyObject *shown);
/* HEAD, 1xx, 204 and 304: a response without a body. */
int areq_bodiless(const struct areq *q);
/* n bytes of data after iov[0..k), framed (q->chunked: its size line and
 * CRLF, written into size; last: the last chunk too). The new k (4 more
 * at most). */
int areq_body_iov(const struct areq *q, struct iovec *iov, int k, char size[32],
                  const char *data, size_t n, int last);
/* fn(q, item, arg) for each item of the iterable items, until one
 * fails. 0, or -1 with an exception. */
int areq_each(struct areq *q, PyObject *items,
              int (*fn)(struct areq *q, PyObject *item, void *arg), void *arg);
/* The app's headers (an iterable of [name, value] bytes pairs), checked,
 * into q->block. 0, or -1 with an exception. */
int areq_headers(struct areq *q, PyObject *hs);
/* The socket drained: a send waiting for it finishes. */
void areq_drained(struct areq *q);
/* Answers a request that failed before its head went out: 500 page. */
void areq_send_500(struct areq *q);

/* ---- ws.c ---- */
/* A handshake that is no valid one (hs: WS_HS_BAD, WS_HS_VERSION): 400,
 * or 426 with the version we speak; the connection closes. */
void aws_refuse(struct aconn *a, int hs);
/* The websocket scope from the http one d (0, or -1 with an exception). */
int aws_scope(struct asrv *s, struct aconn *a, PyObject *d);
/* receive() and send() of a WebSocket. */
PyObject *aws_receive(struct areq *q);
PyObject *aws_send(struct areq *q, PyObject *msg, PyObject *type);
/* The loop says readable. */
void aws_readable(struct areq *q);
/* websocket.disconnect with q's code; a new reference. */
PyObject *aws_disconnect_msg(struct areq *q);
/* The app's task ended with the WebSocket open: the close (1000, or 1011
 * after an exception). */
void aws_app_done(struct areq *q, int failed);
/* Stopping: an open WebSocket is closed with 1001 (going away). */
void aws_stop(struct areq *q);

/* ---- tornado.c ---- */
/* Hands q's parsed request to the tornado app's delegate. 0, or -1 with
 * an exception (the caller answers 500). */
int atn_start(struct asrv *s, struct areq *q);
/* The loop says readable while q waits for its body or its end. */
void atn_readable(struct areq *q);
/* The request ends (from areq_over): a delegate or handler that did not
 * see its end is told the connection closed; the references go. */
void atn_end(struct areq *q);
/* A failure of the app's side: reported; a 500 if nothing went out. */
void atn_failed(struct areq *q);

/* ---- tconn.c ---- */
extern PyType_Spec tornado_conn_spec;
/* An awaitable of q's writes so far: done, or done once the socket took
 * them. A new reference, or NULL with an exception. */
PyObject *atn_written(struct areq *q);

/* ---- twsgi.c ---- */
/* Serves a's parsed request (head at head_off) with the WSGI app, on the
 * loop's thread; then the connection moves on. */
void twsgi_serve(struct asrv *s, struct aconn *a, size_t head_off, int close);

/* ---- shared with the tornado files ---- */
/* request.c: "Error handling request METHOD TARGET" into out. */
void areq_what_failed(const struct areq *q, char *out, size_t n);
/* receive.c: the body failed (a framing error, the peer gone): said and
 * answered as the other classes do; the caller ends the request. An
 * http.disconnect message (a new reference), or NULL. */
PyObject *areq_body_failed(struct areq *q);
/* One more request served: --max-requests, the slot's request line. */
void asrv_served(struct asrv *s);
/* receive.c: answers "Expect: 100-continue" once, before the body is
 * first waited for. */
void areq_send_continue(struct areq *q);
void areq_dealloc(PyObject *self);

/* ---- ready.c ---- */
extern PyType_Spec asgi_ready_spec;
/* An awaitable whose await gives v at once (steals v). */
PyObject *asgi_ready(struct asrv *s, PyObject *v);

#endif
