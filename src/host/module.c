/*
 * cunicorn._cunicorn: the extension module's definition. Multi-phase
 * initialisation (PEP 489); the module state holds the heap types
 * (src/wsgi/types.c). main() is main.c's; the few other functions are for
 * cunicorn's own Python code (cunicorn/_loader.py, cunicorn/_hooks.py).
 */
#include "host/host.h"

#include "cu_version.h"

struct module_state {
    struct cu_wsgi_types types;
};

static PyObject *cunicorn_main(PyObject *module, PyObject *args)
{
    struct module_state *st = PyModule_GetState(module);

    return cu_host_main(args, &st->types);
}

static PyObject *cunicorn_armed(PyObject *module, PyObject *unused)
{
    (void)module;
    (void)unused;
    return PyBool_FromLong(cu_request_armed);
}

static PyObject *cunicorn_worker_alive(PyObject *module, PyObject *unused)
{
    (void)module;
    (void)unused;
    return PyBool_FromLong(!cu_worker_stop && !cu_worker_signalled);
}

static PyMethodDef cunicorn_methods[] = {
    {"main", cunicorn_main, METH_VARARGS,
     "main(argv) -> exit status: runs the server with these arguments."},
    {"_request_armed", cunicorn_armed, METH_NOARGS,
     "Whether a request runs under --request-timeout's alarm (sync)."},
    {"_log", cu_hooks_py_log, METH_VARARGS,
     "_log(level, text[, exception]): a line in the error log (the hooks' log "
     "object)."},
    {"_statsd", cu_hooks_py_statsd, METH_VARARGS,
     "_statsd([body]): sends a metric line (bytes) to statsd; whether statsd is on."},
    {"_worker_alive", cunicorn_worker_alive, METH_NOARGS,
     "False once this worker was asked to stop (worker.alive)."},
    {NULL, NULL, 0, NULL},
};

static int cunicorn_exec(PyObject *m)
{
    struct module_state *st = PyModule_GetState(m);

    if (PyModule_AddStringConstant(m, "__version__", CU_VERSION) < 0)
        return -1;
    return cu_wsgi_types_init(m, &st->types);
}

static int cunicorn_traverse(PyObject *m, visitproc visit, void *arg)
{
    struct module_state *st = PyModule_GetState(m);

    return st ? cu_wsgi_types_traverse(&st->types, visit, arg) : 0;
}

static int cunicorn_clear(PyObject *m)
{
    struct module_state *st = PyModule_GetState(m);

    if (st)
        cu_wsgi_types_clear(&st->types);
    return 0;
}

static void cunicorn_free(void *m)
{
    cunicorn_clear((PyObject *)m);
}

static PyModuleDef_Slot cunicorn_slots[] = {
    {Py_mod_exec, (void *)cunicorn_exec},
    {0, NULL},
};

static struct PyModuleDef cunicorn_module = {
    PyModuleDef_HEAD_INIT,
    .m_name = "cunicorn._cunicorn",
    .m_doc = "The C core of cunicorn.",
    .m_size = sizeof(struct module_state),
    .m_methods = cunicorn_methods,
    .m_slots = cunicorn_slots,
    .m_traverse = cunicorn_traverse,
    .m_clear = cunicorn_clear,
    .m_free = cunicorn_free,
};

PyMODINIT_FUNC PyInit__cunicorn(void);

PyMODINIT_FUNC PyInit__cunicorn(void)
{
    return PyModuleDef_Init(&cunicorn_module);
}
