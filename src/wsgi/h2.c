/*
 * What an HTTP/2 stream's environ has beyond HTTP/1's, as Gunicorn 26.1's
 * gthread worker gives it (docs/compat.md, HTTP/2): the stream's priority
 * as the client sent it, and send_trailers, which queues trailer fields
 * for a HEADERS after the body. The stream itself is src/http2/'s.
 */
#include "wsgi/internal.h"

#include <errno.h>
#include <string.h>

#include "http/http.h"
#include "http2/h2.h"

/* env[key] = v, v a new reference or NULL (an exception). 0, or -1. */
static int put(PyObject *env, PyObject *key, PyObject *v)
{
    int rc = v ? PyDict_SetItem(env, key, v) : -1;

    Py_XDECREF(v);
    return rc;
}

int cu_h2_environ(const struct cu_wsgi *w, PyObject *env, struct cu_conn *c, PyObject *sr)
{
    struct h2_stream *st = cu_h2_stream_of(c);
    PyObject *const *k = w->keys;
    int weight;
    int32_t dep;

    if (!st)
        return 0;
    cu_h2_stream_priority(st, &weight, &dep);
    /* Gunicorn's gthread says "2" there, over a client's HTTP-Version */
    return PyDict_SetItem(env, k[K_HTTP_VERSION], k[V_TWO]) < 0 ||
           put(env, k[K_H2_WEIGHT], PyLong_FromLong(weight)) < 0 ||
           put(env, k[K_H2_DEPENDS_ON], PyLong_FromLong((long)dep)) < 0 ||
           put(env, k[K_H2_SEND_TRAILERS], PyObject_GetAttr(sr, k[K_SEND_TRAILERS_ATTR])) < 0
               ? -1 : 0;
}

/* One (name, value) pair as "name: value\r\n" into *block, the name
 * lower-cased: a str name, the value a str or made one (as Gunicorn's
 * str(value)). 0, or -1 with an exception (nothing malformed kept). */
static int add_pair(PyObject *item, char **block, size_t *len, size_t *cap)
{
    PyObject *pn, *pv;
    const char *name, *value;
    Py_ssize_t nl = 0, vl = 0;
    size_t at = *len;
    int rc = -1;

    if (!PyTuple_Check(item) || PyTuple_GET_SIZE(item) != 2) {
        PyErr_SetString(PyExc_TypeError, "each trailer must be a (name, value) tuple");
        return -1;
    }
    pn = PyTuple_GET_ITEM(item, 0);  /* borrowed */
    if (!(pv = PyObject_Str(PyTuple_GET_ITEM(item, 1))))
        return -1;
    if (!(name = cu_latin1_bytes(pn, &nl)) || !(value = cu_latin1_bytes(pv, &vl))) {
        if (!PyErr_Occurred())
            PyErr_Format(PyExc_ValueError, "Invalid HTTP trailer: %R: %R", pn, pv);
    } else if (nl > 0 && name[0] == ':') {
        PyErr_Format(PyExc_ValueError, "Pseudo-header %R not allowed in trailers", pn);
    } else if (http_field_bad(name, (size_t)nl, value, (size_t)vl)) {
        PyErr_Format(PyExc_ValueError, "Invalid HTTP trailer: %R: %R", pn, pv);
    } else if (http_trailer_forbidden(name, (size_t)nl)) {
        PyErr_Format(PyExc_ValueError, "%R is not allowed in trailers", pn);
    } else if (cu_pymem_append(block, len, cap, name, (size_t)nl) == 0 &&
               cu_pymem_append(block, len, cap, ": ", 2) == 0 &&
               cu_pymem_append(block, len, cap, value, (size_t)vl) == 0 &&
               cu_pymem_append(block, len, cap, "\r\n", 2) == 0) {
        for (char *c = *block + at, *e = c + nl; c < e; c++)
            if (*c >= 'A' && *c <= 'Z')
                *c = (char)(*c | 0x20);
        rc = 0;
    }
    Py_DECREF(pv);
    return rc;
}

/* What cu_h2_stream_trailers' errno says, as an exception. */
static void trailers_refused(int e)
{
    if (e == EPIPE)
        PyErr_SetString(PyExc_RuntimeError, "send_trailers() after the response ended");
    else if (e == E2BIG)
        PyErr_SetString(PyExc_ValueError, "the trailers are too large (128 KiB at most)");
    else if (e == ENOMEM)
        PyErr_NoMemory();
    else
        PyErr_SetString(PyExc_ValueError, "Invalid HTTP trailers");
}

PyObject *cu_h2_send_trailers(struct resp *p, PyObject *trailers)
{
    struct h2_stream *st = p ? cu_h2_stream_of(p->c) : NULL;
    PyObject *seq;
    char *block = NULL;
    size_t len = 0, cap = 0;
    int rc = 0;

    if (!st) {
        PyErr_SetString(PyExc_RuntimeError, "send_trailers() after the request ended");
        return NULL;
    }
    if (!(seq = PySequence_Fast(trailers, "trailers must be a list of (name, value) tuples")))
        return NULL;
    for (Py_ssize_t i = 0; i < PySequence_Fast_GET_SIZE(seq) && rc == 0; i++)
        rc = add_pair(PySequence_Fast_GET_ITEM(seq, i), &block, &len, &cap);
    Py_DECREF(seq);
    if (rc == 0 && len && cu_h2_stream_trailers(st, block, len) < 0) {
        trailers_refused(errno);
        rc = -1;
    }
    PyMem_Free(block);
    if (rc < 0)
        return NULL;
    Py_RETURN_NONE;
}
