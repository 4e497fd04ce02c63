/*
 * The bridge of one worker (struct cu_wsgi): the app, and the environ
 * template every request's environ is copied from (the keys that never
 * change, interned key names, wsgi.errors, and what gunicorn.socket is made
 * with).
 */
#include "wsgi/internal.h"

#include "core/access.h"

#include <stdlib.h>
#include <string.h>

static const char *const key_names[K_COUNT] = {
    "REQUEST_METHOD", "SCRIPT_NAME", "PATH_INFO", "QUERY_STRING", "RAW_URI",
    "SERVER_PROTOCOL", "CONTENT_TYPE", "CONTENT_LENGTH", "REMOTE_ADDR",
    "REMOTE_PORT", "SERVER_NAME", "SERVER_PORT", "wsgi.url_scheme",
    "wsgi.input", "wsgi.errors", "gunicorn.socket", "HTTP_HOST", "wsgi.early_hints",
    "fileno", "HTTP_VERSION", "2", "gunicorn.http2.priority_weight",
    "gunicorn.http2.priority_depends_on", "gunicorn.http2.send_trailers", "send_trailers",
    "close"};

int cu_dict_set_new(PyObject *d, const char *key, PyObject *v)
{
    int rc;

    if (!v)
        return -1;
    rc = PyDict_SetItemString(d, key, v);
    Py_DECREF(v);
    return rc;
}

/* The template's room, which its copies keep (PyDict_Copy clones the
 * table): the request's keys (about 15, and a browser's dozen headers) go
 * in without a resize. */
#define ENVIRON_ROOM 32

const char *const cu_method_names[N_METHODS] = {"GET", "POST", "HEAD", "PUT",
                                                "DELETE", "OPTIONS", "PATCH"};

struct cu_wsgi *cu_wsgi_new(PyObject *app, const struct cu_wsgi_types *t,
                            const struct cu_wsgi_opts *o)
{
    struct cu_wsgi *w = PyMem_Calloc(1, sizeof(*w));
    const char *script = getenv("SCRIPT_NAME");

    if (!w)
        return (struct cu_wsgi *)PyErr_NoMemory();
    w->types = t;
    cu_resp_set_server(o->server);
    w->is_ssl = o->is_ssl;
    w->sendfile = o->sendfile;
    w->log_needs = cu_access_needs();
    Py_INCREF(app);
    w->app = app;
    for (int i = 0; i < K_COUNT; i++)
        if (!(w->keys[i] = PyUnicode_InternFromString(key_names[i])))
            goto fail;
    for (int i = 0; i < N_METHODS; i++)
        if (!(w->methods[i] = PyUnicode_InternFromString(cu_method_names[i])))
            goto fail;
    if (!(w->http = PyUnicode_InternFromString("http")) ||
        !(w->https = PyUnicode_InternFromString("https")) ||
        !(w->protocols[0] = PyUnicode_InternFromString("HTTP/1.0")) ||
        !(w->protocols[1] = PyUnicode_InternFromString("HTTP/1.1")) ||
        !(w->errors = cu_errors_new(t->errors, o->errors_fd)) ||
        cu_socket_class(w) < 0 || !(w->base = _PyDict_NewPresized(ENVIRON_ROOM)))
        goto fail;
    if (cu_dict_set_new(w->base, "wsgi.version", Py_BuildValue("(ii)", 1, 0)) < 0 ||
        PyDict_SetItemString(w->base, "wsgi.multithread",
                             o->multithread ? Py_True : Py_False) < 0 ||
        PyDict_SetItemString(w->base, "wsgi.multiprocess",
                             o->multiprocess ? Py_True : Py_False) < 0 ||
        PyDict_SetItemString(w->base, "wsgi.run_once", Py_False) < 0 ||
        PyDict_SetItemString(w->base, "wsgi.input_terminated", Py_True) < 0 ||
        PyDict_SetItemString(w->base, "wsgi.file_wrapper",
                             (PyObject *)t->file_wrapper) < 0 ||
        PyDict_SetItem(w->base, w->keys[K_ERRORS], w->errors) < 0 ||
        cu_dict_set_new(w->base, "SERVER_SOFTWARE",
                        PyUnicode_FromString(o->server_software)) < 0 ||
        cu_dict_set_new(w->base, "SCRIPT_NAME",
                        PyUnicode_DecodeLatin1(script ? script : "",
                                               script ? (Py_ssize_t)strlen(script) : 0,
                                               NULL)) < 0)
        goto fail;
    return w;
fail:
    cu_wsgi_free(w);
    return NULL;
}

void cu_wsgi_free(struct cu_wsgi *w)
{
    if (!w)
        return;
    for (int i = 0; i < N_LISTENER_CACHE; i++) {
        Py_XDECREF(w->lcache[i].name);
        Py_XDECREF(w->lcache[i].port);
    }
    Py_XDECREF(w->app);
    Py_XDECREF(w->base);
    for (int i = 0; i < K_COUNT; i++)
        Py_XDECREF(w->keys[i]);
    for (int i = 0; i < N_METHODS; i++)
        Py_XDECREF(w->methods[i]);
    Py_XDECREF(w->http);
    Py_XDECREF(w->https);
    Py_XDECREF(w->protocols[0]);
    Py_XDECREF(w->protocols[1]);
    Py_XDECREF(w->errors);
    Py_XDECREF(w->sock_class);
    Py_XDECREF(w->sock_close);
    Py_XDECREF(w->spare_input);
    Py_XDECREF(w->spare_hints);
    Py_XDECREF((PyObject *)w->spare_sr);
    PyMem_Free(w);
}
