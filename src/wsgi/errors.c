/*
 * wsgi.errors: a text stream into the error log (PEP 3333). Each write()
 * goes straight to the log's fd; nothing is held, so flush() has nothing
 * to do.
 */
#include "wsgi/internal.h"

#include "core/io.h"

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
