/*
 * The module's types (struct cu_wsgi_types): the bridge's heap types, made
 * from their specs once, in the module's exec slot, and the exceptions an
 * app may meet. Each type's code is in the file of what it is (input.c,
 * errors.c, file_wrapper.c, start_response.c).
 */
#include "wsgi/internal.h"

#include <stdio.h>

void cu_plain_dealloc(PyObject *self)
{
    PyTypeObject *tp = Py_TYPE(self);

    PyObject_Free(self);
    Py_DECREF(tp);
}

#if PY_VERSION_HEX < 0x030A0000
/* PyModule_AddObjectRef arrived in 3.10. */
static int PyModule_AddObjectRef(PyObject *m, const char *name, PyObject *v)
{
    Py_INCREF(v);
    if (PyModule_AddObject(m, name, v) < 0) {
        Py_DECREF(v);
        return -1;
    }
    return 0;
}
#endif

static PyTypeObject *add_type(PyObject *m, PyType_Spec *spec, const char *name)
{
    PyObject *t = PyType_FromModuleAndSpec(m, spec, NULL);

    if (!t)
        return NULL;
    if (name && PyModule_AddObjectRef(m, name, t) < 0) {
        Py_DECREF(t);
        return NULL;
    }
    return (PyTypeObject *)t;
}

/*
 * The header errors start_response raises. ValueErrors, as cunicorn's
 * were before they had names, and as a wrong value for an argument is in
 * Python; siblings, as Gunicorn's are (InvalidHeaderName is no
 * InvalidHeader there either). Gunicorn's derive from its ParseException,
 * which an app cannot import without Gunicorn.
 */
static PyObject *add_error(PyObject *m, const char *name, const char *doc)
{
    char full[64];
    PyObject *e;

    (void)snprintf(full, sizeof(full), "cunicorn._cunicorn.%s", name);
    e = PyErr_NewExceptionWithDoc(full, doc, PyExc_ValueError, NULL);
    if (e && PyModule_AddObjectRef(m, name, e) < 0)
        Py_CLEAR(e);
    return e;
}

/* Raised in the app by --request-timeout: a BaseException, so that an
 * app's "except Exception" does not swallow it. */
static PyObject *add_timeout(PyObject *m)
{
    PyObject *e = PyErr_NewExceptionWithDoc(
        "cunicorn._cunicorn.RequestTimeout",
        "The request ran past --request-timeout.", PyExc_BaseException, NULL);

    if (e && PyModule_AddObjectRef(m, "RequestTimeout", e) < 0)
        Py_CLEAR(e);
    return e;
}

int cu_wsgi_types_init(PyObject *m, struct cu_wsgi_types *t)
{
    if (!(t->input = add_type(m, &cu_input_spec, NULL)) ||
        !(t->errors = add_type(m, &cu_errors_spec, NULL)) ||
        !(t->start_response = add_type(m, &cu_start_response_spec, NULL)) ||
        !(t->file_wrapper = add_type(m, &cu_file_wrapper_spec, "FileWrapper")) ||
        !(t->invalid_header = add_error(m, "InvalidHeader",
              "A response header value with a byte other than SP, HTAB, "
              "0x21-0x7E or 0x80-0xFF (CR, LF, NUL ...).")) ||
        !(t->invalid_header_name = add_error(m, "InvalidHeaderName",
              "A response header name that is not an RFC 9110 token.")) ||
        !(t->request_timeout = add_timeout(m)))
        return -1;
    return 0;
}

int cu_wsgi_types_traverse(struct cu_wsgi_types *t, visitproc visit, void *arg)
{
    Py_VISIT(t->input);
    Py_VISIT(t->errors);
    Py_VISIT(t->start_response);
    Py_VISIT(t->file_wrapper);
    Py_VISIT(t->invalid_header);
    Py_VISIT(t->invalid_header_name);
    Py_VISIT(t->request_timeout);
    return 0;
}

void cu_wsgi_types_clear(struct cu_wsgi_types *t)
{
    Py_CLEAR(t->input);
    Py_CLEAR(t->errors);
    Py_CLEAR(t->start_response);
    Py_CLEAR(t->file_wrapper);
    Py_CLEAR(t->invalid_header);
    Py_CLEAR(t->invalid_header_name);
    Py_CLEAR(t->request_timeout);
}
