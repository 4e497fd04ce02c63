/*
 * wsgi.input, wsgi.errors and wsgi.file_wrapper: the streams PEP 3333 hands
 * the application.
 *
 * wsgi.input streams the body from the connection (struct cu_body): bytes
 * already buffered are copied with the GIL held; a read that must wait for
 * the peer drops the GIL for the wait. It is only valid during the request:
 * after the response, it reads as empty.
 */
#include "wsgi/internal.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "core/io.h"

/* ---- wsgi.input ----------------------------------------------------------- */

PyObject *cu_input_new(PyTypeObject *type, struct cu_conn *c, struct cu_body *b)
{
    struct cu_input *in = PyObject_New(struct cu_input, type);

    if (!in)
        return NULL;
    in->conn = c;
    in->body = b;
    return (PyObject *)in;
}

void cu_input_detach(PyObject *o)
{
    struct cu_input *in = (struct cu_input *)o;

    in->conn = NULL;
    in->body = NULL;
}

/* Bytes available now: n > 0 with *p, 0 at the end, -1 with an exception. */
static int64_t input_peek(struct cu_input *in, const char **p)
{
    for (;;) {
        int64_t n;
        int rc, err;

        if (!in->body)
            return 0;
        n = cu_body_peek(in->body, in->conn, p);
        if (n >= 0)
            return n;
        if (n != HTTP_AGAIN) {
            PyErr_Format(PyExc_OSError, "request body: %s",
                         http_error_info((int)n)->name);
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

/* ---- wsgi.errors ---------------------------------------------------------- */

struct cu_errors {
    PyObject_HEAD
    int fd;
};

PyObject *cu_errors_new(PyTypeObject *type, int fd)
{
    struct cu_errors *e = PyObject_New(struct cu_errors, type);

    if (e)
        e->fd = fd;
    return (PyObject *)e;
}

static PyObject *errors_write(PyObject *self, PyObject *arg)
{
    struct cu_errors *e = (struct cu_errors *)self;
    Py_ssize_t n;
    const char *s;

    if (!PyUnicode_Check(arg)) {
        PyErr_Format(PyExc_TypeError, "write() argument must be str, not %.50s",
                     Py_TYPE(arg)->tp_name);
        return NULL;
    }
    s = PyUnicode_AsUTF8AndSize(arg, &n);
    if (!s)
        return NULL;
    (void)cu_write_all(e->fd, s, (size_t)n);  /* a broken log must not break the request */
    return PyLong_FromSsize_t(n);
}

static PyObject *errors_writelines(PyObject *self, PyObject *seq)
{
    PyObject *it = PyObject_GetIter(seq), *item;

    if (!it)
        return NULL;
    while ((item = PyIter_Next(it))) {
        PyObject *r = errors_write(self, item);
        Py_DECREF(item);
        if (!r) {
            Py_DECREF(it);
            return NULL;
        }
        Py_DECREF(r);
    }
    Py_DECREF(it);
    if (PyErr_Occurred())
        return NULL;
    Py_RETURN_NONE;
}

static PyObject *errors_flush(PyObject *self, PyObject *unused)
{
    (void)self;
    (void)unused;
    Py_RETURN_NONE;
}

static PyMethodDef errors_methods[] = {
    {"write", errors_write, METH_O, "write(str) to the error log."},
    {"writelines", errors_writelines, METH_O, "writelines(iterable of str)."},
    {"flush", errors_flush, METH_NOARGS, "flush(): lines are never held."},
    {NULL, NULL, 0, NULL},
};

static PyType_Slot errors_slots[] = {
    {Py_tp_dealloc, (void *)cu_plain_dealloc},
    {Py_tp_methods, errors_methods},
    {Py_tp_doc, (void *)"wsgi.errors: a text stream into the error log."},
    {0, NULL},
};

PyType_Spec cu_errors_spec = {
    "cunicorn._cunicorn.Errors", sizeof(struct cu_errors), 0,
    Py_TPFLAGS_DEFAULT, errors_slots,
};

/* ---- wsgi.file_wrapper ---------------------------------------------------- */

static int wrapper_init(PyObject *self, PyObject *args, PyObject *kw)
{
    struct cu_file_wrapper *fw = (struct cu_file_wrapper *)self;
    static char *kwlist[] = {"filelike", "blksize", NULL};
    PyObject *filelike;
    Py_ssize_t blksize = 8192;

    if (!PyArg_ParseTupleAndKeywords(args, kw, "O|n", kwlist, &filelike,
                                     &blksize))
        return -1;
    if (blksize <= 0) {
        PyErr_SetString(PyExc_ValueError, "blksize must be positive");
        return -1;
    }
    Py_INCREF(filelike);
    Py_XSETREF(fw->filelike, filelike);
    fw->blksize = blksize;
    return 0;
}

static PyObject *wrapper_iternext(PyObject *self)
{
    struct cu_file_wrapper *fw = (struct cu_file_wrapper *)self;
    PyObject *data;

    if (!fw->filelike)
        return NULL;
    data = PyObject_CallMethod(fw->filelike, "read", "n", fw->blksize);
    if (data && PyBytes_Check(data) && PyBytes_GET_SIZE(data) == 0) {
        Py_DECREF(data);
        return NULL;
    }
    return data;
}

static PyObject *wrapper_close(PyObject *self, PyObject *unused)
{
    struct cu_file_wrapper *fw = (struct cu_file_wrapper *)self;

    (void)unused;
    if (fw->filelike && PyObject_HasAttrString(fw->filelike, "close"))
        return PyObject_CallMethod(fw->filelike, "close", NULL);
    Py_RETURN_NONE;
}

static int wrapper_traverse(PyObject *self, visitproc visit, void *arg)
{
    Py_VISIT(((struct cu_file_wrapper *)self)->filelike);
    Py_VISIT(Py_TYPE(self));
    return 0;
}

static int wrapper_clear(PyObject *self)
{
    Py_CLEAR(((struct cu_file_wrapper *)self)->filelike);
    return 0;
}

static void wrapper_dealloc(PyObject *self)
{
    PyTypeObject *tp = Py_TYPE(self);

    PyObject_GC_UnTrack(self);
    wrapper_clear(self);
    tp->tp_free(self);
    Py_DECREF(tp);
}

static PyMethodDef wrapper_methods[] = {
    {"close", wrapper_close, METH_NOARGS, "close(): closes the file."},
    {NULL, NULL, 0, NULL},
};

static PyType_Slot wrapper_slots[] = {
    {Py_tp_init, (void *)wrapper_init},
    {Py_tp_new, (void *)PyType_GenericNew},
    {Py_tp_dealloc, (void *)wrapper_dealloc},
    {Py_tp_traverse, (void *)wrapper_traverse},
    {Py_tp_clear, (void *)wrapper_clear},
    {Py_tp_iter, (void *)PyObject_SelfIter},
    {Py_tp_iternext, (void *)wrapper_iternext},
    {Py_tp_methods, wrapper_methods},
    {Py_tp_doc, (void *)"wsgi.file_wrapper(filelike, blksize=8192)."},
    {0, NULL},
};

PyType_Spec cu_file_wrapper_spec = {
    "cunicorn._cunicorn.FileWrapper", sizeof(struct cu_file_wrapper), 0,
    Py_TPFLAGS_DEFAULT | Py_TPFLAGS_HAVE_GC | Py_TPFLAGS_BASETYPE,
    wrapper_slots,
};
