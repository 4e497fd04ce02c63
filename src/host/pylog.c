/*
 * Python mode (docs/compat.md, Python logging): with logconfig,
 * logconfig_dict, logconfig_json or another logger_class set, the error
 * log's lines, the exceptions the bridge and the host report, and the
 * access log's requests go to a Gunicorn-style logger object made by
 * cunicorn._logging (in the master, before its first line and again on
 * HUP; the workers inherit it through fork), instead of being written by
 * C. Without those settings nothing here is set up, and the C logs write
 * every line as before.
 *
 * The C side stays plain: src/core/log.c and src/core/access.c each have
 * a divert (a function pointer) that this file sets. Every callback takes
 * the GIL (PyGILState_Ensure: cu_log may be called from any thread -- the
 * master, which holds the GIL already, a worker's loop, gthread's pool and
 * main threads, the reloader), keeps any exception the caller had set
 * aside, calls Python, and gives the GIL back. A failure in Python is
 * reported as sys.unraisablehook would (print_unraisable) and the line is
 * written by C instead; a handler's own failure is logging's
 * (handleError), so nothing here ever stops a process.
 *
 * When Python must not be entered, the callbacks decline and the C line
 * is written (the access line of that request is dropped):
 *   - around fork, between PyOS_BeforeFork and PyOS_AfterFork_* (held);
 *   - before the interpreter is initialized, or while it finalizes;
 *   - from inside a callback (a handler that logs through cunicorn).
 * Signal handlers never come here: cu_log_signal is not diverted.
 *
 * Locks: a callback waits for the GIL, so a cu_log made while holding a C
 * lock that a thread holding the GIL waits for would deadlock. None is
 * made: the worker's locks (gthread's w->lock, running.c's mu, the
 * poller's, interrupt.c's apps_mu) are taken and waited for only without
 * the GIL, so the thread holding the GIL never waits for their holder.
 *
 * Process-wide state, like log.c's: one logger per process (g_py), set in
 * the master while it is the only thread, read-only in the workers.
 */
#include "host/host.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/access.h"
#include "core/log.h"
#include "core/statsd.h"
#include "wsgi/report.h"

#if PY_VERSION_HEX >= 0x030D0000
#define finalizing() Py_IsFinalizing()
#else
#define finalizing() _Py_IsFinalizing()
#endif

static struct {
    PyObject *mod;      /* cunicorn._logging */
    PyObject *logger;   /* NULL: not in Python mode */
    int held;           /* around fork */
} g_py;

static _Thread_local int tls_busy;  /* inside a callback */

static int usable(void)
{
    return g_py.logger && !__atomic_load_n(&g_py.held, __ATOMIC_ACQUIRE) && !tls_busy &&
           Py_IsInitialized() && !finalizing();
}

/* The GIL, with the caller's exception (if any) set aside. */
struct entered {
    PyGILState_STATE g;
    PyObject *t, *v, *tb;
};

static void enter(struct entered *e)
{
    tls_busy = 1;
    e->g = PyGILState_Ensure();
    PyErr_Fetch(&e->t, &e->v, &e->tb);
}

/* The exception set, printed as sys.unraisablehook's default would, in
 * one write (_logging.unraisable): the default hook writes a report in
 * many small writes, and a master and its workers share one stderr, so
 * their reports would interleave mid-line. sys.stderr is not swapped for
 * the while: another thread reporting at the same moment would find the
 * swapped one and put it back for good. With the app's own hook, or when
 * that fails, printed by PyErr_WriteUnraisable. */
static void print_unraisable(PyObject *ctx)
{
    PyObject *t, *v, *tb, *r = NULL;

    PyErr_Fetch(&t, &v, &tb);
    PyErr_NormalizeException(&t, &v, &tb);
    if (v && tb && PyException_SetTraceback(v, tb) < 0)
        PyErr_Clear();
    if (v && ctx && g_py.mod)
        r = PyObject_CallMethod(g_py.mod, "unraisable", "OO", ctx, v);
    if (r == Py_True) {
        Py_DECREF(r);
        Py_XDECREF(t);
        Py_XDECREF(v);
        Py_XDECREF(tb);
        return;
    }
    Py_XDECREF(r);
    PyErr_Clear();
    PyErr_Restore(t, v, tb);
    PyErr_WriteUnraisable(ctx);
}

/* r: what the call returned. 0 when it went well; else the exception is
 * printed (sys.unraisablehook) and -1. */
static int leave(struct entered *e, PyObject *r, const char *what)
{
    int rc = 0;

    if (!r) {
        PyObject *ctx = PyUnicode_FromString(what);
        print_unraisable(ctx);
        Py_XDECREF(ctx);
        PyErr_Clear();
        rc = -1;
    }
    Py_XDECREF(r);
    PyErr_Restore(e->t, e->v, e->tb);
    PyGILState_Release(e->g);
    tls_busy = 0;
    return rc;
}

/* _logging.NAME(logger, ...); args: a new tuple of the rest, or NULL. */
static PyObject *call(const char *name, PyObject *args)
{
    PyObject *fn, *all = NULL, *r = NULL;
    Py_ssize_t n;

    if (!args)
        return NULL;
    n = PyTuple_GET_SIZE(args);
    fn = PyObject_GetAttrString(g_py.mod, name);
    if (fn && (all = PyTuple_New(n + 1))) {
        Py_INCREF(g_py.logger);
        PyTuple_SET_ITEM(all, 0, g_py.logger);
        for (Py_ssize_t i = 0; i < n; i++) {
            PyObject *o = PyTuple_GET_ITEM(args, i);
            Py_INCREF(o);
            PyTuple_SET_ITEM(all, i + 1, o);
        }
        r = PyObject_Call(fn, all, NULL);
    }
    Py_XDECREF(all);
    Py_XDECREF(fn);
    Py_DECREF(args);
    return r;
}

/* ---- the error log ---------------------------------------------------------- */

static int divert_line(void *arg, enum cu_level level, const char *msg, size_t len,
                       int exception)
{
    struct entered e;
    PyObject *text, *r = NULL;

    (void)arg;
    (void)exception;  /* the level says it: Gunicorn's exception() is an error */
    if (!usable())
        return -1;
    enter(&e);
    text = PyUnicode_DecodeUTF8(msg, (Py_ssize_t)len, "backslashreplace");
    if (text)
        r = call("line", Py_BuildValue("(iN)", (int)level, text));
    return leave(&e, r, "cunicorn: logging an error-log line");
}

static void divert_reopen(void *arg)
{
    struct entered e;

    (void)arg;
    if (!usable())
        return;
    enter(&e);
    (void)leave(&e, call("reopen", PyTuple_New(0)), "cunicorn: reopening the log files");
}

/* An exception the bridge or the host reports, with its traceback, as
 * Gunicorn's log.exception() gives it to formatters. */
static int divert_exception(const char *what, PyObject *t, PyObject *v, PyObject *tb)
{
    struct entered e;
    PyObject *text, *r = NULL;
    int rc;

    if (!usable())
        return -1;
    enter(&e);
    text = PyUnicode_DecodeUTF8(what, (Py_ssize_t)strlen(what), "backslashreplace");
    if (text)
        r = call("exception", Py_BuildValue("(NOOO)", text, t ? t : Py_None,
                                            v ? v : Py_None, tb ? tb : Py_None));
    rc = leave(&e, r, "cunicorn: logging an exception");
    if (rc == 0)
        cu_statsd_log(CU_ERROR, 1);  /* as cu_log_exception counts it */
    return rc;
}

/* ---- the access log ---------------------------------------------------------- */

/* d[letter] = v; 0, or -1 with an exception. */
static int set_letter(PyObject *d, char letter, PyObject *v)
{
    PyObject *k = PyUnicode_FromStringAndSize(&letter, 1);
    int rc = k ? PyDict_SetItem(d, k, v) : -1;

    Py_XDECREF(k);
    return rc;
}

/* The atoms of the letters, as the C access log renders them: text, and
 * numbers for B, T, M and D (Gunicorn's ints). A new dict, or NULL. */
static PyObject *letter_atoms(const struct cu_access *a)
{
    static const char letters[] = "hlutrsmUqHbBfaTMDLp";
    char buf[CU_ACCESS_ATOM_BUF], num[32];
    PyObject *d = PyDict_New();

    for (const char *c = letters; d && *c; c++) {
        char *heap = NULL;
        struct cu_str s = cu_access_atom(*c, a, buf, &heap);
        PyObject *v;

        if (strchr("BTMD", *c) && s.len < sizeof(num)) {
            memcpy(num, s.p, s.len);
            num[s.len] = '\0';
            v = PyLong_FromString(num, NULL, 10);
        } else if (*c == 'u') {
            v = PyUnicode_DecodeUTF8(s.p, (Py_ssize_t)s.len, "replace");
        } else {
            v = PyUnicode_DecodeLatin1(s.p, (Py_ssize_t)s.len, NULL);
        }
        free(heap);
        if (!v || set_letter(d, *c, v) < 0)
            Py_CLEAR(d);
        Py_XDECREF(v);
    }
    return d;
}

/* The divert's reference when no line is written: released under the GIL
 * (reentrant inside a callback) while the interpreter is up; at its
 * finalization it is left, as nothing can be released then. Only a
 * reference count falls: no logging is called, so a fork in progress
 * (held) only makes this wait for the GIL. */
static void drop(PyObject *o)
{
    PyGILState_STATE g;

    if (!o || !Py_IsInitialized() || finalizing())
        return;
    g = PyGILState_Ensure();
    Py_DECREF(o);
    PyGILState_Release(g);
}

static PyObject *latin1_str(struct cu_str s)
{
    return PyUnicode_DecodeLatin1(s.p ? s.p : "", (Py_ssize_t)s.len, NULL);
}

/* A refused request as the application layer's tuple gives one
 * (_logging.access): Gunicorn's small environ, its status line, no
 * response headers, the request's headers with their names upper-cased;
 * and its path, which that environ does not have. A new tuple, or NULL
 * with an exception. */
static PyObject *refused_request(const struct cu_access_refused *f)
{
    PyObject *env = PyDict_New(), *hdrs = PyList_New(0), *t = NULL;
    int ok = env && hdrs;

    for (size_t i = 0; ok && i < f->n_env; i++) {
        PyObject *v = latin1_str(f->env[2 * i + 1]);
        ok = v && PyDict_SetItemString(env, f->env[2 * i].p, v) == 0;
        Py_XDECREF(v);
    }
    for (size_t i = 0; ok && i < f->n_headers; i++) {
        PyObject *n = latin1_str(f->headers[2 * i]);
        PyObject *u = n ? PyObject_CallMethod(n, "upper", NULL) : NULL;
        PyObject *v = latin1_str(f->headers[2 * i + 1]);
        PyObject *pair = u && v ? PyTuple_Pack(2, u, v) : NULL;

        ok = pair && PyList_Append(hdrs, pair) == 0;
        Py_XDECREF(n);
        Py_XDECREF(u);
        Py_XDECREF(v);
        Py_XDECREF(pair);
    }
    if (ok)
        t = Py_BuildValue("(Os[]ON)", env, f->status, hdrs, latin1_str(f->path));
    Py_XDECREF(env);
    Py_XDECREF(hdrs);
    return t;
}

static void divert_access(const struct cu_access *a)
{
    PyObject *req = a->host;  /* ours: the application layer's tuple */
    struct entered e;
    PyObject *atoms, *r = NULL;

    if (!usable()) {
        drop(req);  /* no line, but the request is still ours to release */
        return;
    }
    enter(&e);
    if (!req && a->refused && !(req = refused_request(a->refused)))
        PyErr_Clear();  /* logged without it */
    atoms = letter_atoms(a);
    if (atoms)
        r = call("access", Py_BuildValue("(NOL)", atoms, req ? req : Py_None,
                                         (long long)(a->request_time_us > 0
                                                     ? a->request_time_us : 0)));
    Py_XDECREF(req);
    (void)leave(&e, r, "cunicorn: logging a request");
}

/* ---- set-up -------------------------------------------------------------------- */

static void divert(int on, int level)
{
    struct cu_log_divert d = {divert_line, divert_reopen, NULL, level};

    cu_log_divert(on ? &d : NULL);
    cu_access_divert(on ? divert_access : NULL);
    cu_report_divert(on ? divert_exception : NULL);
}

/* The failure of _logging.setup: one line naming the setting at start
 * (Gunicorn's "Error: ..."), an error line on HUP, where the logger keeps
 * its set-up. */
static void setup_failed(int reload)
{
    PyObject *t, *v, *tb, *cls, *text;

    PyErr_Fetch(&t, &v, &tb);
    PyErr_NormalizeException(&t, &v, &tb);
    cls = PyObject_GetAttrString(g_py.mod, "LogConfigError");
    if (!cls || !t || !PyErr_GivenExceptionMatches(t, cls)) {
        Py_XDECREF(cls);
        PyErr_Restore(t, v, tb);
        cu_report_exception(reload ? "Error: reloading the logger configuration failed, "
                                     "keeping the previous one"
                                   : "Error: the logging set-up failed");
        return;
    }
    Py_DECREF(cls);
    text = v ? PyObject_Str(v) : NULL;
    if (reload)
        cu_log(CU_ERROR, "reloading the logger configuration failed, keeping the "
               "previous one: %s", cu_report_text(text));
    else
        (void)fprintf(stderr, "Error: %s\n", cu_report_text(text));
    Py_XDECREF(text);
    Py_XDECREF(t);
    Py_XDECREF(v);
    Py_XDECREF(tb);
    PyErr_Clear();
}

/* Python mode is surely off: no logconfig, logconfig_json or
 * logconfig_dict, and logger_class unset or its default. Then
 * cunicorn._logging (with _hooks) is not imported to ask wanted(): what
 * the master imports, every worker holds too (docs/operations.md,
 * Memory). Any other value asks wanted(), which knows the names. */
static int surely_off(const struct cu_config *c)
{
    const struct cu_setting *s = cu_setting_find("logger_class");
    const char *cls = c->logger_class;

    return (!c->logconfig || !*c->logconfig) && (!c->logconfig_json || !*c->logconfig_json) &&
           c->logconfig_dict.n == 0 &&
           (!cls || !*cls || (s && s->dflt && strcmp(cls, s->dflt) == 0));
}

/* 1: the settings ask for Python mode; 0: not; -1: a Python error. */
static int wanted(PyObject *values)
{
    PyObject *r = PyObject_CallMethod(g_py.mod, "wanted", "O", values);
    int on = r ? PyObject_IsTrue(r) : -1;

    Py_XDECREF(r);
    return on;
}

/* A HUP that left Python mode: the C lines from now on, and the files
 * the logger's handlers held closed (_logging.teardown), else the master
 * and every worker forked after would keep them open. */
static void mode_left(void)
{
    PyObject *r;

    if (!g_py.logger)
        return;
    host_pylog_end();  /* first: a failure below is a C line */
    r = PyObject_CallMethod(g_py.mod, "teardown", NULL);
    if (!r)
        cu_report_exception("Error: closing the files of the Python logger");
    Py_XDECREF(r);
}

int host_pylog_setup(struct cu_host *h, int reload)
{
    PyObject *values, *logger, *level;
    int on, lv;

    if (surely_off(&h->cfg)) {
        mode_left();
        return 0;
    }
    if (!g_py.mod && !(g_py.mod = PyImport_ImportModule("cunicorn._logging"))) {
        cu_report_exception("Error: cunicorn._logging");
        return -1;
    }
    if (!(values = cu_hooks_settings(&h->hooks, &h->cfg)) || (on = wanted(values)) < 0) {
        Py_XDECREF(values);
        cu_report_exception("Error: the logging settings");
        return -1;
    }
    if (!on) {
        Py_DECREF(values);
        mode_left();
        return 0;
    }
    logger = PyObject_CallMethod(g_py.mod, "setup", "OOO", values,
                                 h->file_names ? h->file_names : Py_None,
                                 g_py.logger ? g_py.logger : Py_None);
    Py_DECREF(values);
    if (!logger) {
        setup_failed(reload);
        return -1;
    }
    level = PyObject_CallMethod(g_py.mod, "threshold", "O", logger);
    lv = level ? (int)PyLong_AsLong(level) : CU_DEBUG;
    Py_XDECREF(level);
    PyErr_Clear();  /* no threshold: every line goes to Python */
    Py_XSETREF(g_py.logger, logger);
    divert(1, lv);
    return 0;
}

void host_pylog_hold(int hold)
{
    __atomic_store_n(&g_py.held, hold, __ATOMIC_RELEASE);
}

void host_pylog_end(void)
{
    divert(0, 0);
    Py_CLEAR(g_py.logger);
}
