/*
 * `paste` (--paste FILE.ini[#SECTION]): the app from a PasteDeploy .ini
 * file in place of an APP_MODULE, raw_paste_global_conf handed to it, and
 * the file's [loggers] for Python's logging (docs/compat.md,
 * "PasteDeploy"). cunicorn._paste does the Python part; this says when,
 * and what a failure means.
 */
#include "host/host.h"

#include <stdlib.h>
#include <string.h>

#include "core/log.h"
#include "wsgi/report.h"

/* cunicorn._paste's function `name` called with args (a new tuple, or
 * NULL: an exception is set), or NULL with an exception set. */
static PyObject *call(const char *name, PyObject *args)
{
    PyObject *mod, *fn, *r = NULL;

    if (!args)
        return NULL;
    mod = PyImport_ImportModule("cunicorn._paste");
    fn = mod ? PyObject_GetAttrString(mod, name) : NULL;
    if (fn)
        r = PyObject_Call(fn, args, NULL);
    Py_XDECREF(fn);
    Py_XDECREF(mod);
    Py_DECREF(args);
    return r;
}

/* "Error: TEXT" for the exception set, as Gunicorn reports what goes
 * wrong while it reads its configuration. */
static void report_error(void)
{
    PyObject *t, *v, *tb, *text;

    PyErr_Fetch(&t, &v, &tb);
    PyErr_NormalizeException(&t, &v, &tb);
    text = v ? PyObject_Str(v) : NULL;
    cu_report_error("Error: %s", text ? cu_report_text(text) : "paste: unknown error");
    Py_XDECREF(text);
    Py_XDECREF(t);
    Py_XDECREF(v);
    Py_XDECREF(tb);
    PyErr_Clear();
}

int host_paste_locate(struct cu_host *h, const char *module, const char *name_before)
{
    /* against the start's directory, also on HUP: Gunicorn's is the
     * current one, which --chdir has changed by then */
    PyObject *r = call("locate", Py_BuildValue("(ss)", h->cfg.paste, h->up.cwd));
    const char *uri, *file;
    char err[512];

    if (!r || !PyArg_ParseTuple(r, "ss", &uri, &file)) {
        Py_XDECREF(r);
        report_error();
        return -1;
    }
    free(h->cfg.app);
    h->cfg.app = strdup(uri);
    /* the file names the processes (Gunicorn sets it before reading the
     * config file, which may still set another) */
    if (!h->cfg.app ||
        (name_before && strcmp(h->cfg.default_proc_name, name_before) == 0 &&
         cu_config_set(&h->cfg, cu_setting_find("default_proc_name"), file, 0, err,
                       sizeof(err)) < 0)) {
        Py_DECREF(r);
        cu_report_error("cunicorn: out of memory");
        return -1;
    }
    /* Gunicorn leaves it unused without a word; Ours: a warning */
    if (module)
        cu_log(CU_WARNING, "paste is set: the application comes from %s, "
               "not from the APP_MODULE %s", uri, module);
    Py_DECREF(r);
    return 0;
}

int host_paste_logging(struct cu_host *h)
{
    PyObject *own = call("configure_logging", Py_BuildValue("(s)", h->cfg.app));
    char what[600];

    if (!own) {
        (void)snprintf(what, sizeof(what), "Error: the logging configuration of %s",
                       h->cfg.app);
        cu_report_exception(what);
        return -1;
    }
    for (Py_ssize_t i = 0; i < PyList_Size(own); i++)
        cu_log(CU_WARNING, "%s configures the logger %s, which cunicorn's own log "
               "lines do not go through: they follow --error-logfile, "
               "--access-logfile and --log-level", h->cfg.app,
               cu_report_text(PyList_GET_ITEM(own, i)));
    Py_DECREF(own);
    return 0;
}

PyObject *host_paste_load(struct cu_host *h)
{
    PyObject *entries = host_strv_list(&h->cfg.raw_paste_global_conf);

    if (!entries)
        return NULL;
    return call("load", Py_BuildValue("(sN)", h->cfg.app, entries));
}
