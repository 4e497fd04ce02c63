/*
 * The WSGI bridge (PEP 3333): environ, start_response, wsgi.input,
 * wsgi.errors, wsgi.file_wrapper, and the response on the wire.
 *
 * This folder and src/host/ are the only C that includes Python.h.
 * Everything here runs with the GIL held, except where it says it drops it
 * around a blocking read or write.
 */
#ifndef CU_WSGI_H
#define CU_WSGI_H

#define PY_SSIZE_T_CLEAN
#include <Python.h>

#include "http/parser.h"
#include "worker/worker.h"
#include "wsgi/opts.h"

/* The module's heap types, created once in the module's exec slot. */
struct cu_wsgi_types {
    PyTypeObject *input;
    PyTypeObject *errors;
    PyTypeObject *start_response;
    PyTypeObject *file_wrapper;
    /* What start_response raises for a bad header name or value (Gunicorn's
     * InvalidHeaderName and InvalidHeader); one the app lets through before
     * the head went out is answered 400, not 500. */
    PyObject *invalid_header;
    PyObject *invalid_header_name;
    PyObject *request_timeout;   /* raised in the app by --request-timeout */
};

int cu_wsgi_types_init(PyObject *module, struct cu_wsgi_types *t);
int cu_wsgi_types_traverse(struct cu_wsgi_types *t, visitproc visit, void *arg);
void cu_wsgi_types_clear(struct cu_wsgi_types *t);


struct cu_wsgi;  /* one per worker: the app, the environ template */

struct cu_wsgi *cu_wsgi_new(PyObject *app, const struct cu_wsgi_types *t,
                            const struct cu_wsgi_opts *o);
void cu_wsgi_free(struct cu_wsgi *w);


/*
 * Serves one request whose head is parsed: builds the environ, calls the
 * app, sends the response, and says how it went in q->out. The GIL is
 * held on entry and exit. environ: NULL, or where the environ goes (a new
 * reference, NULL if none was built: the post_request hook's). Returns 0,
 * or -1 when the connection failed.
 */
int cu_wsgi_serve(struct cu_wsgi *w, struct cu_request *q, PyObject **environ);
/*
 * With q->may_pause (gthread), a streamed response (the app's iterable,
 * not a list or tuple) pauses when the socket does not take an item: the
 * rest of that item is queued on the connection, cu_wsgi_serve returns 0
 * with q->paused set, and the worker calls this once it has sent the
 * queue, on any thread, with the GIL. It writes on (and may pause again),
 * or with abandon (the client gone, or timed out) ends the request:
 * close() called, q->out filled. Returns as cu_wsgi_serve. Never with an
 * environ to hand over: the post_request hook's requests never pause.
 */
int cu_wsgi_resume(struct cu_wsgi *w, struct cu_request *q, int abandon);

/* In a block of "Name: value\r\n" lines, block[from..len): the value of
 * the last header called name (any case), its length in *vlen; NULL when
 * there is none. The access log's {name}o. */
const char *cu_block_header(const char *block, size_t from, size_t len, const char *name,
                            size_t *vlen);

/* Appends s[0..n) to the PyMem buffer *buf (*len bytes used of *cap),
 * growing it. 0, or -1 with MemoryError. */
int cu_pymem_append(char **buf, size_t *len, size_t *cap, const char *s, size_t n);

/* The part of a response head every response has, after the status:
 * "\r\nServer: S\r\nDate: D\r\nConnection: X\r\n", X keep-alive (conn
 * 0), close (1) or upgrade (2). Rebuilt once a second; valid while the
 * GIL is held (the asgi bridge writes it without dropping it). */
const char *cu_resp_fixed_head(int conn, size_t *len);

/* Drops what the bridge kept on c between requests (its gunicorn.socket);
 * with the GIL, before the connection closes. */
void cu_wsgi_conn_free(struct cu_wsgi *w, struct cu_conn *c);

#endif
