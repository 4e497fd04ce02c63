/*
 * wsgi.file_wrapper (PEP 3333): an iterable over a file-like object, read
 * blksize bytes at a time, with the file's close(). Unless --no-sendfile,
 * a result of this type over a real file goes out by sendfile(2) instead
 * (response.c).
 */
#include "wsgi/internal.h"

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
