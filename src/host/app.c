/*
 * Importing the application: cunicorn._loader does the importing
 * (MODULE:NAME, or a factory call), or paste.c (a PasteDeploy file); this
 * says what a failure means. An app that is not there or not callable
 * (Gunicorn's AppImportError) exits the worker with 4, anything else that
 * goes wrong with 3 (docs/compat.md, "Worker start-up").
 */
#include "host/host.h"

#include "core/log.h"
#include "wsgi/report.h"

int host_import_app(struct cu_host *h)
{
    h->app = h->cfg.paste ? host_paste_load(h)
                          : PyObject_CallMethod(h->loader, "load_app", "s", h->cfg.app);
    return h->app ? 0 : -1;
}

int host_load_failed(struct cu_host *h)
{
    PyObject *exc_type, *t, *v, *tb;

    PyErr_Fetch(&t, &v, &tb);
    exc_type = PyObject_GetAttrString(h->loader, "AppImportError");
    if (exc_type && t && PyErr_GivenExceptionMatches(t, exc_type)) {
        PyObject *msg;
        PyErr_NormalizeException(&t, &v, &tb);
        msg = v ? PyObject_Str(v) : NULL;
        cu_log(CU_ERROR, "%s", msg ? cu_report_text(msg) : "the app failed to load");
        Py_XDECREF(msg);
        Py_XDECREF(t);
        Py_XDECREF(v);
        Py_XDECREF(tb);
        PyErr_Clear();
        Py_DECREF(exc_type);
        return CU_EXIT_APP_LOAD;
    }
    Py_XDECREF(exc_type);
    PyErr_Clear();
    PyErr_Restore(t, v, tb);
    cu_report_exception("Exception in worker process");
    return CU_EXIT_WORKER_BOOT;
}

int host_load_app(struct cu_host *h)
{
    return host_import_app(h) == 0 ? 0 : host_load_failed(h);
}
