/*
 * --reload's Python side, in a worker (not HUP: that is config.c's
 * host_reconfigure). src/worker/reloader.c watches the files in a plain C
 * thread; it asks this, with the GIL, which files the imported modules
 * have (cunicorn._reloader), and tells it when one changed: the worker
 * then runs worker_int, as Gunicorn's does, and stops as on the master's
 * TERM, and the master forks a new one.
 */
#include "host/host.h"

#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/log.h"
#include "wsgi/report.h"
#include "worker/reloader.h"

/* The files to watch, from _reloader.watched(), with the GIL: 1 with the
 * list, 0 when there is nothing new, -1 on failure (logged). */
static int list_files(struct cu_autoreload *rs, char ***paths, size_t *n)
{
    PyObject *r, *files, *unmatched;
    Py_ssize_t count, len;
    int first = rs->known < 0, rc = -1;

    r = PyObject_CallMethod(rs->mod, "watched", "On", rs->extra, rs->known);
    if (!r) {
        cu_report_exception("Reloader: listing the files failed");
        return -1;
    }
    if (r == Py_None) {
        Py_DECREF(r);
        return 0;
    }
    if (!PyArg_ParseTuple(r, "nO!O!", &count, &PyList_Type, &files, &PyList_Type,
                          &unmatched)) {
        cu_report_exception("Reloader: listing the files failed");
        Py_DECREF(r);
        return -1;
    }
    for (Py_ssize_t i = 0; first && i < PyList_GET_SIZE(unmatched); i++)
        cu_log(CU_WARNING, "reload_extra_files: %s matches no file (yet)",
               cu_report_text(PyList_GET_ITEM(unmatched, i)));
    len = PyList_GET_SIZE(files);
    *n = 0;
    if (!(*paths = malloc((size_t)(len ? len : 1) * sizeof(char *))))
        goto out;
    for (Py_ssize_t i = 0; i < len; i++) {
        /* file names as the OS has them, undecodable bytes too */
        PyObject *b = PyUnicode_EncodeFSDefault(PyList_GET_ITEM(files, i));
        char *copy = b ? strdup(PyBytes_AS_STRING(b)) : NULL;
        Py_XDECREF(b);
        if (!copy) {
            PyErr_Clear();
            continue;
        }
        (*paths)[(*n)++] = copy;
    }
    rs->known = count;
    rc = 1;
out:
    if (rc < 0)
        cu_log(CU_ERROR, "Reloader: out of memory for the list of files");
    Py_DECREF(r);
    return rc;
}

/* The GIL for the reloader's thread, and back. */
static void take_gil(struct cu_autoreload *rs)
{
    if (rs->ts)
        PyEval_RestoreThread(rs->ts);
    else  /* its first time: a thread state of its own, kept */
        (void)PyGILState_Ensure();
}

static void drop_gil(struct cu_autoreload *rs)
{
    rs->ts = PyEval_SaveThread();
}

/* The same from the reloader's thread. */
static int reload_list(void *arg, char ***paths, size_t *n)
{
    struct cu_host *h = arg;
    int rc;

    take_gil(&h->reload);
    rc = list_files(&h->reload, paths, n);
    drop_gil(&h->reload);
    return rc;
}

/* A watched file changed: worker_int(worker) runs here, in the reloader's
 * thread (as in Gunicorn's), and to its end; then the worker stops as on
 * the master's TERM, finishing its requests, runs worker_exit and exits 0;
 * the master forks a new one. The reloader's thread blocks every signal,
 * so the worker's loop gets the TERM. */
static void reload_changed(void *arg, const char *path)
{
    struct cu_host *h = arg;

    cu_log(CU_INFO, "Worker reloading: %s modified", path);
    if (h->hooks.fn[CU_H_WORKER_INT]) {
        take_gil(&h->reload);
        cu_hooks_worker_int(&h->hooks, 0);
        drop_gil(&h->reload);
    }
    if (kill(getpid(), SIGTERM) < 0)
        cu_worker_stop = 1;
}

/* A SyntaxError in the app does not fail the boot with --reload
 * (docs/compat.md, "Worker start-up"): it is logged, its files are watched
 * (*broken: the one with the error and the import chain to it), and every
 * request gets a 500 page with the traceback until one of them changes.
 * Other errors are host_load_app's. */
static int load_app_reloading(struct cu_host *h, PyObject **broken)
{
    PyObject *t, *v, *tb, *msg, *r;

    if (host_import_app(h) == 0 || !PyErr_ExceptionMatches(PyExc_SyntaxError))
        return h->app ? 0 : host_load_failed(h);
    PyErr_Fetch(&t, &v, &tb);
    PyErr_NormalizeException(&t, &v, &tb);
    if (tb)
        PyException_SetTraceback(v, tb);
    msg = PyObject_Str(v);
    PyErr_Clear();
    r = PyObject_CallMethod(h->reload.mod, "fail_app", "O", v);
    if (!r || !PyArg_ParseTuple(r, "OO!", &h->app, &PyList_Type, broken)) {
        h->app = NULL;
        cu_report_exception("Reloader: the error page failed");
    } else {
        Py_INCREF(h->app);
        Py_INCREF(*broken);
    }
    Py_XDECREF(r);
    PyErr_Restore(t, v, tb);
    cu_report_exception(msg ? cu_report_text(msg) : "SyntaxError");
    Py_XDECREF(msg);
    return h->app ? 0 : CU_EXIT_WORKER_BOOT;
}

/* reload_extra_files, and the files of a SyntaxError: a list of str. */
static PyObject *extra_files(const struct cu_host *h, PyObject *broken)
{
    PyObject *l = broken ? PySequence_List(broken) : PyList_New(0);

    for (size_t i = 0; l && i < h->cfg.reload_extra_files.n; i++) {
        PyObject *f = PyUnicode_DecodeFSDefault(h->cfg.reload_extra_files.v[i]);
        if (!f || PyList_Append(l, f) < 0)
            Py_CLEAR(l);
        Py_XDECREF(f);
    }
    return l;
}

/* In a worker, before it serves: the app (see load_app_reloading), its
 * files listed and watched, then the thread; so a change after the first
 * response is never missed. A reloader that cannot start is logged and
 * the worker serves without. */
int host_start_reloader(struct cu_host *h)
{
    struct cu_autoreload *rs = &h->reload;
    struct cu_reloader_ops ops = {reload_list, reload_changed, h};
    struct cu_reloader *r = NULL;
    PyObject *broken = NULL;
    char **paths = NULL;
    size_t n = 0;
    int rc;

    if (!(rs->mod = PyImport_ImportModule("cunicorn._reloader"))) {
        cu_report_exception("Exception in worker process");
        return CU_EXIT_WORKER_BOOT;
    }
    if (!h->app && (rc = load_app_reloading(h, &broken)) != 0)
        return rc;
    rs->known = -1;
    rs->extra = extra_files(h, broken);
    Py_XDECREF(broken);
    if (!rs->extra) {
        cu_report_exception("Reloader");
        goto fail;
    }
    r = cu_reloader_new((enum cu_reload_engine)h->cfg.reload_engine, &ops);
    if (!r || (rc = list_files(rs, &paths, &n)) < 0)
        goto fail;
    if ((rc == 1 && cu_reloader_add(r, paths, n) < 0) || cu_reloader_start(r) < 0)
        goto fail;
    return 0;
fail:
    cu_log(CU_ERROR, "Reloader not started: this worker will not reload");
    cu_reloader_free(r);
    return 0;
}
