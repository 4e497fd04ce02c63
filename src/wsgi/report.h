/*
 * How what went wrong is reported, by the bridge and the host alike: one
 * way for every start-up error and every Python exception (an app's
 * traceback too). Before the logs are open the words go to
 * stderr as they are (Gunicorn's "Error: ..." lines, a traceback as
 * Python prints it); once they are open (cu_report_to_log), to the error
 * log -- during a HUP, stderr may be /dev/null.
 */
#ifndef CU_WSGI_REPORT_H
#define CU_WSGI_REPORT_H

#define PY_SSIZE_T_CLEAN
#include <Python.h>

/* From now on, reports go to the error log (cu_log_open has run). */
void cu_report_to_log(void);

/* One error line: "Error: ..." on stderr, or an ERROR line in the log. */
void cu_report_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* The current Python exception: `what`, then its traceback whole (a log
 * line has a cap, a traceback must not lose its end). Clears it. */
void cu_report_exception(const char *what);

/* Python mode (src/host/pylog.c): while fn is set, cu_report_exception()
 * hands the exception to it once the logs are open; fn returns 0 when it
 * took it, or -1 for the report to be written as without it. NULL: off. */
void cu_report_divert(int (*fn)(const char *what, PyObject *t, PyObject *v, PyObject *tb));

/* A Python string as UTF-8 for a message: never NULL ("?" when it cannot
 * be had, the error cleared). */
const char *cu_report_text(PyObject *s);

#endif
