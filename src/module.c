/*
 * cunicorn._cunicorn: the extension module's entry point.
 *
 * Multi-phase initialisation (PEP 489) so the module has no process-wide
 * state. Today it carries the version; the master, the workers and the WSGI
 * bridge hang off it as they are built.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>

#include "cu_version.h"

static int cunicorn_exec(PyObject *m)
{
    if (PyModule_AddStringConstant(m, "__version__", CU_VERSION) < 0)
        return -1;
    return 0;
}

static PyModuleDef_Slot cunicorn_slots[] = {
    {Py_mod_exec, (void *)cunicorn_exec},
    {0, NULL},
};

static struct PyModuleDef cunicorn_module = {
    PyModuleDef_HEAD_INIT,
    .m_name = "cunicorn._cunicorn",
    .m_doc = "The C core of cunicorn.",
    .m_size = 0,
    .m_slots = cunicorn_slots,
};

PyMODINIT_FUNC PyInit__cunicorn(void);

PyMODINIT_FUNC PyInit__cunicorn(void)
{
    return PyModuleDef_Init(&cunicorn_module);
}
