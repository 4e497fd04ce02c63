/*
 * wsgi.input: the request body as PEP 3333 hands it to the application.
 *
 * It streams the body from the connection (struct cu_body): bytes
 * already buffered are copied with the GIL held; a read that must wait for
 * the peer drops the GIL for the wait. It is only valid during the request:
 * after the response, it reads as empty.
 */
#include "wsgi/internal.h"

#include <errno.h>
#include <string.h>

void cu_input_attach(PyObject *o, struct cu_conn *c, struct cu_body *b)
{
    struct cu_input *in = (struct cu_input *)o;

    in->conn = c;
    in->body = b;
    in->expect = NULL;
}

PyObject *cu_input_new(PyTypeObject *type, struct cu_conn *c, struct cu_body *b)
{
    PyObject *in = (PyObject *)PyObject_New(struct cu_input, type);

    if (in)
        cu_input_attach(in, c, b);
    return in;
}

void cu_input_expect(PyObject *o, struct resp *p)
{
    ((struct cu_input *)o)->expect = p;
}

int cu_input_owes_continue(PyObject *o)
{
    return ((struct cu_input *)o)->expect != NULL;
}

void cu_input_moved(PyObject *o, struct resp *from, struct resp *to)
{
    struct cu_input *in = (struct cu_input *)o;

    if (in->expect == from)
        in->expect = to;
}

/* Answers "Expect: 100-continue" on the app's first read (docs/compat.md,
 * Request bodies): an app that answers without reading sends no 100, and
 * none follows a response already begun. 0, or -1 with an exception. */
static int send_continue(struct cu_input *in)
{
    struct iovec iov = {(void *)"HTTP/1.1 100 Continue\r\n\r\n", 25};
    struct resp *p = in->expect;

    in->expect = NULL;
    if (p->headers_sent)
        return 0;
    return cu_resp_send_interim(p, &iov, 1);
}

void cu_input_detach(PyObject *o)
{
    struct cu_input *in = (struct cu_input *)o;

    in->conn = NULL;
    in->body = NULL;
    in->expect = NULL;
}

/* Bytes available now: n > 0 with *p, 0 at the end, -1 with an exception. */
static int64_t input_peek(struct cu_input *in, const char **p)
{
    for (;;) {
        int64_t n;
        int rc, err;

        if (!in->body)
            return 0;
        if (in->expect && send_continue(in) < 0)
            return -1;
        /* a body cut short is an error the app sees, never a short body
         * (cu_body_peek notes it on the body: no 200 follows) */
        n = cu_body_peek(in->body, in->conn, p);
        if (n >= 0)
            return n;
        if (n != HTTP_AGAIN) {
            PyErr_Format(PyExc_OSError, "request body: %s",
                         n == HTTP_E_EOF ? "the client closed before the end of the body"
                                         : http_error_info((int)n)->name);
            return -1;
        }
        Py_BEGIN_ALLOW_THREADS
        rc = cu_body_wait(in->body, in->conn);
        err = errno;
        Py_END_ALLOW_THREADS
        if (rc < 0) {
            errno = err;
            PyErr_SetFromErrno(PyExc_OSError);
            return -1;
        }
    }
}

/* Reads up to limit bytes (< 0: all), stopping after '\n' when line. */
static PyObject *input_take(struct cu_input *in, Py_ssize_t limit, int line)
{
    char *acc = NULL;
    size_t len = 0, cap = 0;
    PyObject *res;

    while (limit < 0 || (Py_ssize_t)len < limit) {
        const char *p, *nl = NULL;
        int64_t n = input_peek(in, &p);
        size_t take;

        if (n < 0) {
            PyMem_Free(acc);
            return NULL;
        }
        if (n == 0)
            break;
        take = (size_t)n;
        if (limit >= 0 && take > (size_t)limit - len)
            take = (size_t)limit - len;
        if (line && (nl = memchr(p, '\n', take)))
            take = (size_t)(nl - p) + 1;
        if (!acc && (nl || (limit >= 0 && take == (size_t)limit))) {
            /* the common case: one piece does it, no copy into acc */
            res = PyBytes_FromStringAndSize(p, (Py_ssize_t)take);
            if (res)
                cu_body_consume(in->body, in->conn, take);
            return res;
        }
        if (len + take > cap) {
            size_t ncap = cap ? cap * 2 : 8192;
            char *q;
            while (ncap < len + take)
                ncap *= 2;
            q = PyMem_Realloc(acc, ncap);
            if (!q) {
                PyMem_Free(acc);
                return PyErr_NoMemory();
            }
            acc = q;
            cap = ncap;
        }
        memcpy(acc + len, p, take);
        len += take;
        cu_body_consume(in->body, in->conn, take);
        if (nl)
            break;
    }
    res = PyBytes_FromStringAndSize(acc ? acc : "", (Py_ssize_t)len);
    PyMem_Free(acc);
    return res;
}

static int size_arg(PyObject *const *args, Py_ssize_t nargs, Py_ssize_t *size)
{
    *size = -1;
    if (nargs > 1) {
        PyErr_SetString(PyExc_TypeError, "expected at most one argument");
        return -1;
    }
    if (nargs == 1 && args[0] != Py_None) {
        *size = PyLong_AsSsize_t(args[0]);
        if (*size == -1 && PyErr_Occurred())
            return -1;
    }
    return 0;
}

static PyObject *input_read(PyObject *self, PyObject *const *args,
                            Py_ssize_t nargs)
{
    Py_ssize_t size;

    if (size_arg(args, nargs, &size) < 0)
        return NULL;
    return input_take((struct cu_input *)self, size, 0);
}

static PyObject *input_readline(PyObject *self, PyObject *const *args,
                                Py_ssize_t nargs)
{
    Py_ssize_t size;

    if (size_arg(args, nargs, &size) < 0)
        return NULL;
    return input_take((struct cu_input *)self, size, 1);
}

static PyObject *input_readlines(PyObject *self, PyObject *const *args,
                                 Py_ssize_t nargs)
{
    Py_ssize_t hint, total = 0;
    PyObject *list;

    if (size_arg(args, nargs, &hint) < 0)
        return NULL;
    list = PyList_New(0);
    if (!list)
        return NULL;
    for (;;) {
        PyObject *line = input_take((struct cu_input *)self, -1, 1);
        int rc;
        if (!line) {
            Py_DECREF(list);
            return NULL;
        }
        if (PyBytes_GET_SIZE(line) == 0) {
            Py_DECREF(line);
            return list;
        }
        total += PyBytes_GET_SIZE(line);
        rc = PyList_Append(list, line);
        Py_DECREF(line);
        if (rc < 0) {
            Py_DECREF(list);
            return NULL;
        }
        if (hint > 0 && total >= hint)
            return list;
    }
}

static PyObject *input_iternext(PyObject *self)
{
    PyObject *line = input_take((struct cu_input *)self, -1, 1);

    if (line && PyBytes_GET_SIZE(line) == 0) {
        Py_DECREF(line);
        return NULL;  /* StopIteration */
    }
    return line;
}

static PyMethodDef input_methods[] = {
    {"read", (PyCFunction)(void (*)(void))input_read, METH_FASTCALL,
     "read(size=-1): up to size bytes of the body; all of it when -1."},
    {"readline", (PyCFunction)(void (*)(void))input_readline, METH_FASTCALL,
     "readline(size=-1): one line, up to size bytes."},
    {"readlines", (PyCFunction)(void (*)(void))input_readlines, METH_FASTCALL,
     "readlines(hint=-1): the remaining lines."},
    {NULL, NULL, 0, NULL},
};

static PyType_Slot input_slots[] = {
    {Py_tp_dealloc, (void *)cu_plain_dealloc},
    {Py_tp_iter, (void *)PyObject_SelfIter},
    {Py_tp_iternext, (void *)input_iternext},
    {Py_tp_methods, input_methods},
    {Py_tp_doc, (void *)"wsgi.input: the request body, streamed."},
    {0, NULL},
};

PyType_Spec cu_input_spec = {
    "cunicorn._cunicorn.Input", sizeof(struct cu_input), 0,
    Py_TPFLAGS_DEFAULT, input_slots,
};
