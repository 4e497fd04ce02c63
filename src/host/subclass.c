/*
 * -k MODULE.CLASS that the worker-class table does not name. Gunicorn
 * imports any class and runs it; cunicorn's workers are C, so a class
 * runs here only as the table's class it derives from, and only when it
 * adds nothing a C worker would have to run: paperless-ngx's
 * ConfigurableWorker(UvicornWorker), which sets CONFIG_KWARGS, is the
 * common case. Anything else is refused by name (docs/compat.md, "Worker
 * classes"). cunicorn._loader.worker_class_bases does the importing.
 */
#include "host/host.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config/settings.h"
#include "wsgi/report.h"
#include "worker/class.h"

/* "Error: class uri 'X' invalid or not found: TYPE: TEXT", as Gunicorn
 * words a class it cannot load, for the exception set. */
static void report_not_found(const char *uri)
{
    PyObject *t, *v, *tb, *text;

    PyErr_Fetch(&t, &v, &tb);
    PyErr_NormalizeException(&t, &v, &tb);
    text = v ? PyObject_Str(v) : NULL;
    PyErr_Clear();
    cu_report_error("Error: class uri '%s' invalid or not found: %s: %s", uri,
                    t ? ((PyTypeObject *)t)->tp_name : "Error",
                    text ? cu_report_text(text) : "?");
    Py_XDECREF(text);
    Py_XDECREF(t);
    Py_XDECREF(v);
    Py_XDECREF(tb);
}

/* A class before the table's one in the MRO that defines something:
 * reported, 1; else 0. -1: a Python error (reported). */
static int defines_behaviour(const char *uri, const char *cls, PyObject *defined,
                             const char *base)
{
    PyObject *sep, *names;

    if (PyList_GET_SIZE(defined) == 0)
        return 0;
    sep = PyUnicode_FromString(", ");
    names = sep ? PyUnicode_Join(sep, defined) : NULL;
    Py_XDECREF(sep);
    if (!names) {
        cu_report_exception("Error: -k MODULE.CLASS");
        return -1;
    }
    cu_report_error("Error: worker class %s cannot run in cunicorn: %s defines %s, and "
                    "cunicorn's workers are C (a subclass of %s may set only "
                    "CONFIG_KWARGS)", uri, cls, cu_report_text(names), base);
    Py_DECREF(names);
    return 1;
}

/* The first class of bases ([(name, [names its body defines])]) that the
 * table names, when none before it defines anything; NULL (reported)
 * otherwise. The name points into bases. */
static const char *table_base(const char *uri, PyObject *bases)
{
    Py_ssize_t n = PyList_GET_SIZE(bases), i, found = -1;
    const char *base = NULL;

    for (i = 0; i < n && found < 0; i++) {
        base = PyUnicode_AsUTF8(PyTuple_GET_ITEM(PyList_GET_ITEM(bases, i), 0));
        if (!base) {
            cu_report_exception("Error: -k MODULE.CLASS");
            return NULL;
        }
        if (cu_worker_class_find(base))
            found = i;
    }
    if (found < 0) {
        cu_report_error("Error: class uri '%s' is no worker class cunicorn can run: it "
                        "derives from none of Gunicorn's or uvicorn's worker classes", uri);
        return NULL;
    }
    for (i = 0; i < found; i++) {
        PyObject *item = PyList_GET_ITEM(bases, i);
        /* converted by the first loop: cannot fail now */
        const char *cls = PyUnicode_AsUTF8(PyTuple_GET_ITEM(item, 0));
        if (defines_behaviour(uri, cls, PyTuple_GET_ITEM(item, 1), base) != 0)
            return NULL;
    }
    return base;
}

/* uvicorn's Config options a UvicornWorker subclass may set in
 * CONFIG_KWARGS, and the setting each one is here (NULL: the HTTP and
 * WebSocket implementations, which are cunicorn's C whatever they say). */
static const struct {
    const char *key;
    const char *setting;
} uvicorn_kwargs[] = {
    {"loop", "asgi_loop"}, {"lifespan", "asgi_lifespan"}, {"root_path", "root_path"},
    {"http", NULL}, {"ws", NULL},
};

/* CONFIG_KWARGS applied over every other layer, as uvicorn's worker lays
 * them over what it takes from Gunicorn's settings. 0, or -1 (reported). */
static int apply_kwargs(struct cu_host *h, const char *uri, PyObject *kwargs)
{
    PyObject *k, *v;
    Py_ssize_t pos = 0;
    char err[512];

    while (PyDict_Next(kwargs, &pos, &k, &v)) {
        const char *key = PyUnicode_Check(k) ? PyUnicode_AsUTF8(k) : NULL;
        const char *val = PyUnicode_Check(v) ? PyUnicode_AsUTF8(v) : NULL;
        size_t i, n = sizeof(uvicorn_kwargs) / sizeof(uvicorn_kwargs[0]);

        PyErr_Clear();
        for (i = 0; key && i < n && strcmp(uvicorn_kwargs[i].key, key) != 0; i++)
            ;
        if (!key || i == n || !val) {
            cu_report_error("Error: worker class %s: CONFIG_KWARGS[%s] is not taken by "
                            "cunicorn (it takes loop, lifespan and root_path as text; "
                            "http and ws have no effect)", uri, key ? key : "?");
            return -1;
        }
        if (uvicorn_kwargs[i].setting &&
            cu_config_set(&h->cfg, cu_setting_find(uvicorn_kwargs[i].setting), val, 0, err,
                          sizeof(err)) < 0) {
            cu_report_error("Error: worker class %s: CONFIG_KWARGS[%s]: %s", uri, key, err);
            return -1;
        }
    }
    return 0;
}

int host_worker_subclass(struct cu_host *h)
{
    const char *uri = h->cfg.worker_class, *base;
    PyObject *r, *bases, *kwargs;
    const struct cu_worker_class *k;
    char err[512], *was;
    int rc = -1;

    if (!uri || cu_worker_class_find(uri) || !strchr(uri, '.') ||
        strncmp(uri, "egg:", 4) == 0)
        return 0;  /* the table's, or one cu_derive reports */
    r = PyObject_CallMethod(h->loader, "worker_class_bases", "szz", uri, h->cfg.chdir,
                            h->cfg.pythonpath);
    if (!r) {
        report_not_found(uri);
        return -1;
    }
    if (!PyArg_ParseTuple(r, "O!O", &PyList_Type, &bases, &kwargs)) {
        cu_report_exception("Error: -k MODULE.CLASS");
        Py_DECREF(r);
        return -1;
    }
    if (!(base = table_base(uri, bases)))
        goto out;
    if (!(was = strdup(uri))) {
        cu_report_error("cunicorn: out of memory");
        goto out;
    }
    k = cu_worker_class_find(base);
    if (strcmp(k->name, "asgi") == 0 && PyDict_Check(kwargs) &&
        apply_kwargs(h, was, kwargs) < 0) {
        free(was);
        goto out;
    }
    /* uri points into the setting, which this replaces */
    if (cu_config_set(&h->cfg, cu_setting_find("worker_class"), base, 0, err,
                      sizeof(err)) < 0) {
        cu_report_error("Error: %s", err);
        free(was);
        goto out;
    }
    free(h->worker_subclass);
    h->worker_subclass = was;
    rc = 0;
out:
    Py_DECREF(r);
    return rc;
}
