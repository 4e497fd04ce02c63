/* See report.h. */
#include "wsgi/report.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "core/io.h"
#include "core/log.h"
#include "core/syslog.h"

static int to_log;
static int (*g_divert)(const char *what, PyObject *t, PyObject *v, PyObject *tb);

void cu_report_divert(int (*fn)(const char *what, PyObject *t, PyObject *v, PyObject *tb))
{
    g_divert = fn;
}

void cu_report_to_log(void)
{
    to_log = 1;
}

void cu_report_error(const char *fmt, ...)
{
    char msg[1024];
    va_list ap;

    va_start(ap, fmt);
    (void)vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    if (to_log)
        cu_log(CU_ERROR, "%s", msg);
    else
        (void)fprintf(stderr, "%s\n", msg);
}

const char *cu_report_text(PyObject *s)
{
    const char *t = s ? PyUnicode_AsUTF8(s) : NULL;

    if (!t) {
        PyErr_Clear();
        return "?";
    }
    return t;
}

/* The exception as Python prints it, a new reference, or NULL. */
static PyObject *format_exception(PyObject *t, PyObject *v, PyObject *tb)
{
    PyObject *mod = PyImport_ImportModule("traceback"), *lines = NULL, *text = NULL;
    PyObject *empty = PyUnicode_FromString("");

    if (mod && empty && t)
        lines = PyObject_CallMethod(mod, "format_exception", "OOO", t,
                                    v ? v : Py_None, tb ? tb : Py_None);
    if (lines)
        text = PyUnicode_Join(empty, lines);
    Py_XDECREF(mod);
    Py_XDECREF(lines);
    Py_XDECREF(empty);
    return text;
}

void cu_report_exception(const char *what)
{
    PyObject *t, *v, *tb, *text;
    const char *s = NULL;
    Py_ssize_t n = 0;

    PyErr_Fetch(&t, &v, &tb);
    PyErr_NormalizeException(&t, &v, &tb);
    if (to_log && g_divert && g_divert(what, t, v, tb) == 0) {
        Py_XDECREF(t);
        Py_XDECREF(v);
        Py_XDECREF(tb);
        return;
    }
    text = format_exception(t, v, tb);
    if (text && !(s = PyUnicode_AsUTF8AndSize(text, &n)))
        PyErr_Clear();
    if (!s)
        PyErr_Clear();
    if (to_log) {
        cu_log_exception("%s%s", what, s ? "" : " (and the traceback could not be formatted)");
        if (s) {
            (void)cu_write_all(cu_log_error_fd(), s, (size_t)n);
            /* Ours: syslog has the traceback as a message of its own */
            if (cu_log_enabled(CU_ERROR))
                cu_syslog_error(CU_ERROR, s, n > 0 && s[n - 1] == '\n' ? (size_t)n - 1 : (size_t)n);
        }
    } else {
        (void)fflush(stdout);
        (void)fprintf(stderr, "%s\n", what);
        (void)fflush(stderr);
        if (s)
            (void)cu_write_all(STDERR_FILENO, s, (size_t)n);
    }
    Py_XDECREF(text);
    Py_XDECREF(t);
    Py_XDECREF(v);
    Py_XDECREF(tb);
}
