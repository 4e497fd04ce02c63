/* Shared by the files of src/wsgi/ only. */
#ifndef CU_WSGI_INTERNAL_H
#define CU_WSGI_INTERNAL_H

#include "wsgi/wsgi.h"

struct cu_input {
    PyObject_HEAD
    struct cu_conn *conn;   /* NULL once the request is over */
    struct cu_body *body;
};

struct cu_file_wrapper {
    PyObject_HEAD
    PyObject *filelike;
    Py_ssize_t blksize;
};

PyObject *cu_input_new(PyTypeObject *type, struct cu_conn *c, struct cu_body *b);
void cu_input_detach(PyObject *input);
PyObject *cu_errors_new(PyTypeObject *type, int fd);

/* The types' specs, made into the module's heap types by types.c. */
extern PyType_Spec cu_input_spec, cu_errors_spec, cu_file_wrapper_spec,
    cu_start_response_spec;
/* tp_dealloc of a type with nothing to release but itself. */
void cu_plain_dealloc(PyObject *self);

#endif
