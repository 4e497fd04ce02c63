/*
 * The awaitable receive() and send() return when they need not wait: its
 * await completes at once with its value, without a future, a loop turn
 * or an exception (am_send returns the value; iterating it, as older
 * callers do, raises StopIteration with it). It may be awaited again.
 */
#include "asgi/internal.h"

struct ready {
    PyObject_HEAD
    PyObject *value;
};

PyObject *asgi_ready(struct asrv *s, PyObject *v)
{
    struct ready *r;

    if (!v)
        return NULL;
    r = PyObject_New(struct ready, s->ready_type);
    if (!r) {
        Py_DECREF(v);
        return NULL;
    }
    r->value = v;
    return (PyObject *)r;
}

static void ready_dealloc(PyObject *self)
{
    PyTypeObject *tp = Py_TYPE(self);

    Py_XDECREF(((struct ready *)self)->value);
    PyObject_Free(self);
    Py_DECREF(tp);
}

static PyObject *ready_await(PyObject *self)
{
    Py_INCREF(self);
    return self;
}

static PyObject *ready_next(PyObject *self)
{
    PyObject *v = ((struct ready *)self)->value;

    if (v == Py_None) {
        PyErr_SetNone(PyExc_StopIteration);
        return NULL;
    }
    /* a dict: StopIteration(v).value is v */
    PyErr_SetObject(PyExc_StopIteration, v);
    return NULL;
}

#if PY_VERSION_HEX >= 0x030A0000
/* 3.10 and later: the value without an exception */
static PySendResult ready_send(PyObject *self, PyObject *arg, PyObject **result)
{
    (void)arg;
    *result = Py_NewRef(((struct ready *)self)->value);
    return PYGEN_RETURN;
}
#endif

static PyType_Slot ready_slots[] = {
    {Py_tp_dealloc, (void *)ready_dealloc},
    {Py_am_await, (void *)ready_await},
#if PY_VERSION_HEX >= 0x030A0000
    {Py_am_send, (void *)ready_send},
#endif
    {Py_tp_iter, (void *)ready_await},
    {Py_tp_iternext, (void *)ready_next},
    {Py_tp_doc, (void *)"An awaitable that completes at once."},
    {0, NULL},
};

PyType_Spec asgi_ready_spec = {
    .name = "cunicorn._cunicorn.ASGIReady",
    .basicsize = sizeof(struct ready),
    .flags = Py_TPFLAGS_DEFAULT,
    .slots = ready_slots,
};
