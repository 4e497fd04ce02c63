/*
 * Shared by the files of src/wsgi/ only:
 *
 *   bridge.c          struct cu_wsgi: the app, the environ template
 *   environ.c         the environ of one request
 *   socket.c          gunicorn.socket, kept per connection
 *   headers.c         start_response's status and headers, checked and
 *                     encoded into the header block
 *   response.c        the response on the wire: the head, the body, a
 *                     file_wrapper by sendfile(2), the error answers
 *   start_response.c  the start_response callable (write, early_hints)
 *   h2.c              an HTTP/2 stream's environ keys (priority, trailers)
 *   serve.c           one request: the app called, its result sent, closed
 *   logged.c          what the access log takes from the environ and the
 *                     response headers
 *   input.c, errors.c, file_wrapper.c: the streams PEP 3333 hands the app
 *   types.c           the module's heap types and exceptions
 */
#ifndef CU_WSGI_INTERNAL_H
#define CU_WSGI_INTERNAL_H

#include <sys/uio.h>

#include "wsgi/wsgi.h"

/* ---- bridge.c: one per worker --------------------------------------------- */

/* The environ's keys, and the names looked up per request, interned once
 * (w->keys). */
enum { K_METHOD, K_SCRIPT, K_PATH, K_QUERY, K_RAW_URI, K_PROTOCOL,
       K_CONTENT_TYPE, K_CONTENT_LENGTH, K_REMOTE_ADDR, K_REMOTE_PORT,
       K_SERVER_NAME, K_SERVER_PORT, K_SCHEME, K_INPUT, K_ERRORS, K_SOCKET,
       K_HOST, K_EARLY_HINTS, K_FILENO,
       /* an HTTP/2 stream's (h2.c): HTTP_VERSION, its value "2", ... */
       K_HTTP_VERSION, V_TWO, K_H2_WEIGHT, K_H2_DEPENDS_ON, K_H2_SEND_TRAILERS,
       K_SEND_TRAILERS_ATTR,
       K_CLOSE_ATTR,  /* the result's close (serve.c) */
       K_COUNT };

#define N_LISTENER_CACHE 8

/* REQUEST_METHOD strings made once: the methods most requests use */
#define N_METHODS 7
extern const char *const cu_method_names[N_METHODS];

struct cu_wsgi {
    /* SERVER_NAME and SERVER_PORT of a TCP listener, made once */
    struct {
        const struct cu_listener *l;
        PyObject *name, *port;
    } lcache[N_LISTENER_CACHE];
    PyObject *app;
    PyObject *base;          /* the keys every environ has */
    PyObject *keys[K_COUNT]; /* interned */
    PyObject *http, *https;
    PyObject *protocols[2];  /* SERVER_PROTOCOL: "HTTP/1.0", "HTTP/1.1" */
    PyObject *methods[N_METHODS];  /* cu_method_names, interned */
    PyObject *errors;        /* the wsgi.errors stream */
    PyObject *sock_class;    /* cunicorn._loader.ClientSocket */
    PyObject *sock_close;    /* _socket.socket.close */
    const struct cu_wsgi_types *types;
    int is_ssl;
    int sendfile;
    unsigned log_needs;      /* cu_access_needs(), once: it is the process's */
    /* a finished request's wsgi.input and start_response (with its
     * bound early_hints) that nobody else held: the next request's
     * (serve.c). Taken and put back under the GIL */
    PyObject *spare_input, *spare_hints;
    struct start_response *spare_sr;
};

/* Sets d[key] = v, then drops v: v is a new reference, or NULL with an
 * exception (then -1 at once). 0, or -1 with an exception. */
int cu_dict_set_new(PyObject *d, const char *key, PyObject *v);

/* ---- environ.c ------------------------------------------------------------ */

/* The environ of the request whose head is head (r's spans are offsets into
 * it), with input as wsgi.input and sock as gunicorn.socket. A new
 * reference, or NULL with an exception. */
PyObject *cu_environ_new(struct cu_wsgi *w, struct cu_conn *c,
                         const struct http_request *r, const char *head,
                         PyObject *input, PyObject *sock);

/* ---- socket.c ------------------------------------------------------------- */

/* Looks up what gunicorn.socket is made with (w->sock_class, w->sock_close).
 * 0, or -1 with an exception. */
int cu_socket_class(struct cu_wsgi *w);
/* The request's gunicorn.socket: the one kept on c, or a new one. A new
 * reference, or NULL with an exception. */
PyObject *cu_socket_get(struct cu_wsgi *w, struct cu_conn *c);
/* At the end of the request: keeps sock on c for its next request when
 * may_keep and the app left it open, else closes it. Steals sock (NULL:
 * nothing to do). */
void cu_socket_done(struct cu_wsgi *w, struct cu_conn *c, PyObject *sock, int may_keep);
/* Sets O_NONBLOCK on c's socket again, if the app cleared it. */
void cu_keep_nonblocking(const struct cu_conn *c);

/* ---- the response (headers.c, response.c) --------------------------------- */

struct resp {
    struct cu_conn *c;
    const struct http_request *r;
    const struct cu_wsgi_types *types;
    int must_close, head, no_body, chunked;
    int upgrade;              /* the app said "Connection: upgrade" */
    int timed_out;            /* the app raised RequestTimeout */
    const struct cu_request *q;
    int headers_set, headers_sent, failed;
    int status;
    int64_t length;           /* Content-Length the app set, -1 if none */
    uint64_t sent;            /* body bytes written */
    /* iterating the app's result: the write that ends the response may
     * be held (cu_conn_hold; then c->held, and nothing is written after) */
    int may_hold;
    char *block;              /* "200 OK" then "Name: value\r\n"... */
    size_t blen, bcap, status_len;
};

/* headers.c. Each returns 0, or -1 with an exception. */
/* The latin-1 bytes of a str, in place (*n of them): NULL with a
 * TypeError for a non-str, NULL without an exception for text beyond
 * latin-1. */
const char *cu_latin1_bytes(PyObject *s, Py_ssize_t *n);
/* Appends s[0..n) to the header block. */
int cu_resp_block_add(struct resp *p, const char *s, size_t n);
/* Checks and encodes one (name, value) pair into the header block. */
int cu_resp_add_header(struct resp *p, PyObject *item);
/* start_response(status, headers): fills p's header block; a failed call
 * leaves the headers of an earlier one as they were. */
int cu_resp_set_headers(struct resp *p, PyObject *status, PyObject *headers);

/* response.c. Each returns 0, or -1 with an exception (p->failed set when
 * the connection failed). */
/* The Server header's value from now on (NULL: "cunicorn"); with the
 * GIL, before the first response. */
void cu_resp_set_server(const char *name);
/* Writes iov with the GIL dropped. */
int cu_resp_send_iov(struct resp *p, struct iovec *iov, int n);
/* Writes an interim (1xx) answer: the final response may still follow
 * it, a timeout's 500 too (c->final_from moves past it). */
int cu_resp_send_interim(struct resp *p, struct iovec *iov, int n);
/* Sends data (maybe empty), with the head first if it has not gone yet. */
int cu_resp_send_data(struct resp *p, const char *data, size_t n);
/* The head if it has not gone yet, and the last chunk when chunked. */
int cu_resp_finish(struct resp *p);
/* A wsgi.file_wrapper result by sendfile(2); 1 when that does not apply. */
int cu_resp_send_file(struct resp *p, PyObject *result);
/* The answer when the response failed before its head went out. Never
 * raises. */
void cu_resp_answer_error(struct resp *p, struct cu_body *b);

/* ---- logged.c ------------------------------------------------------------- */

/* What the access log takes from this request's environ and response
 * (q->logged), as Gunicorn's atoms see them once the app is done: only
 * what cu_access_needs() asks for. p: the response whose head the app
 * sent (NULL when it failed before, and the answer is the server's own);
 * remote: the REMOTE_ADDR the environ was made with (or NULL). Never
 * raises; a value it cannot get prints "-". */
void cu_wsgi_logged(struct cu_wsgi *w, struct cu_request *q, const struct resp *p,
                    PyObject *env, PyObject *remote);
/* The REMOTE_ADDR a new environ has (a new reference, for
 * cu_wsgi_logged() to tell whether the app changed it), or NULL. Called
 * when the format prints h. Never raises. */
PyObject *cu_wsgi_logged_remote(struct cu_wsgi *w, PyObject *env);

/* ---- h2.c: an HTTP/2 stream's keys (docs/compat.md, HTTP/2) -------------- */

/* On an HTTP/2 stream's request (else nothing): Gunicorn's HTTP_VERSION
 * "2", gunicorn.http2.priority_weight, .priority_depends_on and
 * .send_trailers (sr's send_trailers method). 0, or -1 with an exception. */
int cu_h2_environ(const struct cu_wsgi *w, PyObject *env, struct cu_conn *c, PyObject *sr);
/* send_trailers(trailers) for p's response: the (name, value) pairs
 * checked, all or none queued for the end of the stream. None, or NULL
 * with an exception. */
PyObject *cu_h2_send_trailers(struct resp *p, PyObject *trailers);

/* ---- start_response.c ----------------------------------------------------- */

struct start_response {
    PyObject_HEAD
    struct resp *resp;   /* NULL once the request is over */
};
/* sr's early_hints method, bound (a new reference, or NULL). */
PyObject *cu_start_response_hints(PyObject *sr);

/* ---- the streams (input.c, errors.c, file_wrapper.c) ---------------------- */

struct cu_input {
    PyObject_HEAD
    struct cu_conn *conn;   /* NULL once the request is over */
    struct cu_body *body;
    /* "Expect: 100-continue": the response that owes the 100, sent on
     * the app's first read (NULL: none owed, or sent) */
    struct resp *expect;
};

struct cu_file_wrapper {
    PyObject_HEAD
    PyObject *filelike;
    Py_ssize_t blksize;
};

PyObject *cu_input_new(PyTypeObject *type, struct cu_conn *c, struct cu_body *b);
void cu_input_detach(PyObject *input);
/* A detached input (a spare, serve.c) made the request's on c and b. */
void cu_input_attach(PyObject *input, struct cu_conn *c, struct cu_body *b);
/* p owes "100 Continue", sent on the app's first read of input. */
void cu_input_expect(PyObject *input, struct resp *p);
/* Whether the 100 Continue is still owed (the app never read). */
int cu_input_owes_continue(PyObject *input);
/* The response moved from `from` to `to` (a paused stream, serve.c). */
void cu_input_moved(PyObject *input, struct resp *from, struct resp *to);
PyObject *cu_errors_new(PyTypeObject *type, int fd);

/* The types' specs, made into the module's heap types by types.c. */
extern PyType_Spec cu_input_spec, cu_errors_spec, cu_file_wrapper_spec,
    cu_start_response_spec;
/* tp_dealloc of a type with nothing to release but itself. */
void cu_plain_dealloc(PyObject *self);

#endif
