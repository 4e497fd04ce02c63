/*
 * start_response, the callable the app is given (PEP 3333): called, it
 * sets the response's status and headers; it returns write(), which sends
 * body bytes at once; its early_hints method is wsgi.early_hints, and
 * its send_trailers method an HTTP/2 stream's gunicorn.http2.send_trailers. It
 * points at the request's struct resp while the request lasts.
 */
#include "wsgi/internal.h"

#include <string.h>

/* The write() callable start_response returns. */
static PyObject *sr_write(PyObject *self, PyObject *data)
{
    struct resp *p = ((struct start_response *)self)->resp;
    Py_buffer view;
    int rc;

    if (!p || !p->headers_set) {
        PyErr_SetString(PyExc_RuntimeError, "write() before start_response()");
        return NULL;
    }
    if (!PyBytes_Check(data)) {
        PyErr_Format(PyExc_TypeError, "write() argument must be bytes, not %.50s",
                     Py_TYPE(data)->tp_name);
        return NULL;
    }
    if (PyObject_GetBuffer(data, &view, PyBUF_SIMPLE) < 0)
        return NULL;
    rc = cu_resp_send_data(p, view.buf, (size_t)view.len);
    PyBuffer_Release(&view);
    if (rc < 0)
        return NULL;
    Py_RETURN_NONE;
}

/* wsgi.early_hints(headers): a 103 before the response (docs/compat.md, WSGI
 * environ); a no-op on HTTP/1.0 or once the response head has gone out. */
static PyObject *sr_early_hints(PyObject *self, PyObject *headers)
{
    struct resp *p = ((struct start_response *)self)->resp;
    struct resp hints;
    struct iovec iov[2];
    PyObject *seq;
    int rc = 0;

    if (!p || p->headers_sent || !(p->r->major > 1 || p->r->minor >= 1))
        Py_RETURN_NONE;
    memset(&hints, 0, sizeof(hints));
    hints.r = p->r;
    hints.types = p->types;
    hints.status = 103;
    seq = PySequence_Fast(headers, "early hints must be a list of (name, value) tuples");
    if (!seq)
        return NULL;
    for (Py_ssize_t i = 0; i < PySequence_Fast_GET_SIZE(seq) && rc == 0; i++)
        rc = cu_resp_add_header(&hints, PySequence_Fast_GET_ITEM(seq, i));
    Py_DECREF(seq);
    if (rc == 0) {
        iov[0].iov_base = (void *)"HTTP/1.1 103 Early Hints\r\n";
        iov[0].iov_len = 26;
        if (cu_resp_block_add(&hints, "\r\n", 2) < 0) {
            rc = -1;
        } else {
            iov[1].iov_base = hints.block;
            iov[1].iov_len = hints.blen;
            rc = cu_resp_send_interim(p, iov, 2);
        }
    }
    PyMem_Free(hints.block);
    if (rc < 0)
        return NULL;
    Py_RETURN_NONE;
}

/* gunicorn.http2.send_trailers(trailers), on an HTTP/2 stream (h2.c). */
static PyObject *sr_send_trailers(PyObject *self, PyObject *trailers)
{
    return cu_h2_send_trailers(((struct start_response *)self)->resp, trailers);
}

/* The methods bound by index, not looked up by name, per request. */
enum { SR_WRITE, SR_EARLY_HINTS };

static PyMethodDef sr_methods[] = {
    /* in the order of the enum above */
    {"write", sr_write, METH_O, "write(bytes): send body bytes now."},
    {"early_hints", sr_early_hints, METH_O,
     "early_hints(headers): send a 103 Early Hints response first."},
    {"send_trailers", sr_send_trailers, METH_O,
     "send_trailers(trailers): HTTP/2 trailer fields after the body."},
    {NULL, NULL, 0, NULL},
};

/* start_response's arguments: positional ones, the usual call, taken
 * from the tuple; keywords (or a wrong count, for its message) through
 * PyArg_ParseTupleAndKeywords. 0, or -1 with an exception. */
static int sr_args(PyObject *args, PyObject *kw, PyObject **status, PyObject **headers,
                   PyObject **exc_info)
{
    static char *kwlist[] = {"status", "headers", "exc_info", NULL};
    Py_ssize_t n = PyTuple_GET_SIZE(args);

    if (!kw && n >= 2 && n <= 3) {
        *status = PyTuple_GET_ITEM(args, 0);
        *headers = PyTuple_GET_ITEM(args, 1);
        *exc_info = n == 3 ? PyTuple_GET_ITEM(args, 2) : Py_None;
        return 0;
    }
    return PyArg_ParseTupleAndKeywords(args, kw, "OO|O:start_response", kwlist, status,
                                       headers, exc_info) ? 0 : -1;
}

static PyObject *sr_call(PyObject *self, PyObject *args, PyObject *kw)
{
    struct resp *p = ((struct start_response *)self)->resp;
    PyObject *status, *headers, *exc_info = Py_None;

    if (sr_args(args, kw, &status, &headers, &exc_info) < 0)
        return NULL;
    if (!p) {
        PyErr_SetString(PyExc_RuntimeError, "start_response after the request ended");
        return NULL;
    }
    if (exc_info != Py_None) {
        if (p->headers_sent) {
            /* too late to change the status: re-raise (PEP 3333) */
            PyObject *t, *v, *tb;
            if (!PyTuple_Check(exc_info) || PyTuple_GET_SIZE(exc_info) != 3) {
                PyErr_SetString(PyExc_TypeError, "exc_info must be a 3-tuple");
                return NULL;
            }
            v = PyTuple_GET_ITEM(exc_info, 1);
            tb = PyTuple_GET_ITEM(exc_info, 2);
            if (!PyExceptionInstance_Check(v)) {
                PyErr_SetString(PyExc_TypeError,
                                "exc_info must hold an exception (sys.exc_info())");
                return NULL;
            }
            t = (PyObject *)Py_TYPE(v);
            Py_INCREF(t);
            Py_INCREF(v);
            if (PyTraceBack_Check(tb))
                Py_INCREF(tb);
            else
                tb = NULL;
            PyErr_Restore(t, v, tb);
            return NULL;
        }
    } else if (p->headers_set) {
        PyErr_SetString(PyExc_AssertionError, "Response headers already set!");
        return NULL;
    }
    if (cu_resp_set_headers(p, status, headers) < 0)
        return NULL;
    return PyCFunction_New(&sr_methods[SR_WRITE], self);  /* self.write */
}

PyObject *cu_start_response_hints(PyObject *sr)
{
    return PyCFunction_New(&sr_methods[SR_EARLY_HINTS], sr);
}

static PyType_Slot sr_slots[] = {
    {Py_tp_dealloc, (void *)cu_plain_dealloc},
    {Py_tp_call, (void *)sr_call},
    {Py_tp_methods, sr_methods},
    {Py_tp_doc, (void *)"start_response(status, headers, exc_info=None)"},
    {0, NULL},
};

PyType_Spec cu_start_response_spec = {
    "cunicorn._cunicorn.StartResponse", sizeof(struct start_response), 0,
    Py_TPFLAGS_DEFAULT, sr_slots,
};
