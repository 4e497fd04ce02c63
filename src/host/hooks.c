/*
 * Server hooks: the callables, their checks, the objects they get (see
 * hooks.h). The objects' classes are Python (cunicorn/_hooks.py); this
 * builds them from the C configuration and the parsed request.
 */
#include "host/hooks.h"
#include "host/host.h"

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <string.h>
#include <unistd.h>

#include "core/errbuf.h"
#include "core/io.h"
#include "core/log.h"
#include "core/statsd.h"
#include "wsgi/report.h"
#include "wsgi/wsgi.h"

static const char *const hook_names[CU_H_COUNT] = {
    "on_starting", "on_reload", "when_ready", "pre_fork", "post_fork",
    "post_worker_init", "worker_int", "worker_abort", "pre_exec",
    "pre_request", "post_request", "child_exit", "worker_exit",
    "nworkers_changed", "on_exit", "ssl_context", "on_dirty_starting",
    "dirty_post_fork", "dirty_worker_init", "dirty_worker_exit"};

int cu_hook_index(const char *name)
{
    for (int i = 0; i < CU_H_COUNT; i++)
        if (strcmp(hook_names[i], name) == 0)
            return i;
    return -1;
}

int cu_hooks_any(const struct cu_hooks *h)
{
    for (int i = 0; i < CU_H_COUNT; i++)
        if (h->fn[i] != NULL)
            return 1;
    return 0;
}

static PyObject *hooks_module(struct cu_hooks *h)
{
    if (h->mod == NULL)
        h->mod = PyImport_ImportModule("cunicorn._hooks");
    return h->mod;
}

/* "worker, req[, environ[, resp]]": 2 required, 4 at most. */
static void signature_arity(const char *sig, int *lo, int *hi)
{
    int n = 1, optional = 0;

    *lo = -1;
    for (const char *p = sig; *p; p++) {
        if (*p == '[' && !optional) {
            optional = 1;
            *lo = n;
        } else if (*p == ',') {
            n++;
        }
    }
    *hi = n;
    if (*lo < 0)
        *lo = n;
}

/* The message of the current exception, into err; clears it. */
static void exception_text(const char *name, char *err, size_t errlen)
{
    PyObject *t, *v, *tb, *s = NULL;

    PyErr_Fetch(&t, &v, &tb);
    PyErr_NormalizeException(&t, &v, &tb);
    if (v)
        s = PyObject_Str(v);
    cu_seterr(err, errlen, "Invalid value for %s: %s", name, cu_report_text(s));
    Py_XDECREF(s);
    Py_XDECREF(t);
    Py_XDECREF(v);
    Py_XDECREF(tb);
    PyErr_Clear();
}

int cu_hooks_set(struct cu_hooks *h, struct cu_config *c,
                 const struct cu_setting *s, PyObject *v, char *err,
                 size_t errlen)
{
    int which = cu_hook_index(s->name), lo, hi, rc;
    PyObject *mod = hooks_module(h), *fn, *shown, *n;

    if (which < 0 || !mod) {
        exception_text(s->name, err, errlen);
        return -1;
    }
    if (v == Py_None) {  /* back to none */
        Py_CLEAR(h->fn[which]);
        return cu_config_set(c, s, NULL, 0, err, errlen);
    }
    signature_arity(s->meta, &lo, &hi);
    fn = PyObject_CallMethod(mod, "validate", "sOiis", s->name, v, lo, hi,
                             s->meta);
    if (!fn) {
        exception_text(s->name, err, errlen);
        return -1;
    }
    shown = PyObject_CallMethod(mod, "shown", "O", fn);
    if (!shown || !PyUnicode_AsUTF8(shown)) {
        Py_XDECREF(shown);
        Py_DECREF(fn);
        exception_text(s->name, err, errlen);
        return -1;
    }
    rc = cu_config_set(c, s, PyUnicode_AsUTF8(shown), 0, err, errlen);
    Py_DECREF(shown);
    if (rc < 0) {
        Py_DECREF(fn);
        return -1;
    }
    if (which == CU_H_POST_REQUEST) {
        n = PyObject_CallMethod(mod, "arity", "O", fn);
        h->post_request_args = n && PyLong_Check(n) ? (int)PyLong_AsLong(n) : hi;
        Py_XDECREF(n);
        PyErr_Clear();
    }
    Py_XSETREF(h->fn[which], fn);
    return 0;
}

void cu_hooks_clear(struct cu_hooks *h)
{
    for (int i = 0; i < CU_H_COUNT; i++)
        Py_CLEAR(h->fn[i]);
    Py_CLEAR(h->server);
    Py_CLEAR(h->worker);
    Py_CLEAR(h->mod);
}

/* NAME=value pairs as a dict. */
static PyObject *strv_dict(const struct cu_strv *l)
{
    PyObject *d = PyDict_New();

    for (size_t i = 0; d && i < l->n; i++) {
        const char *eq = strchr(l->v[i], '=');
        PyObject *k, *v;
        int rc;

        if (!eq)
            continue;
        k = PyUnicode_FromStringAndSize(l->v[i], eq - l->v[i]);
        v = PyUnicode_FromString(eq + 1);
        rc = k && v ? PyDict_SetItem(d, k, v) : -1;
        Py_XDECREF(k);
        Py_XDECREF(v);
        if (rc < 0)
            Py_CLEAR(d);
    }
    return d;
}

/* One setting's value as Python sees it. */
static PyObject *setting_value(const struct cu_hooks *h,
                               const struct cu_config *c,
                               const struct cu_setting *s)
{
    const void *p = (const char *)c + s->offset;
    const char *str = *(const char *const *)p;
    int which;

    switch (s->type) {
    case CU_STR:
    case CU_STR_OPT:
        if (str == NULL)
            Py_RETURN_NONE;
        return PyUnicode_DecodeFSDefault(str);
    case CU_CHOICE:
        return PyUnicode_FromString(cu_config_choice(c, s));
    case CU_CALLABLE:
        which = cu_hook_index(s->name);
        if (which < 0 || h->fn[which] == NULL)
            Py_RETURN_NONE;
        Py_INCREF(h->fn[which]);
        return h->fn[which];
    case CU_INT:
    case CU_OCTAL:
        return PyLong_FromLong(*(const int *)p);
    case CU_BOOL:
        return PyBool_FromLong(*(const int *)p);
    case CU_SECONDS:
        return PyFloat_FromDouble(*(const int *)p / 1000.0);
    case CU_LIST:
    case CU_CSV:
        return host_strv_list(p);
    case CU_DICT:
        return strv_dict(p);
    }
    Py_RETURN_NONE;
}

PyObject *cu_hooks_settings(const struct cu_hooks *h, const struct cu_config *c)
{
    PyObject *d = PyDict_New(), *v;

    for (size_t i = 0; d && i < cu_n_settings; i++) {
        v = setting_value(h, c, &cu_settings[i]);
        if (!v || PyDict_SetItemString(d, cu_settings[i].name, v) < 0)
            Py_CLEAR(d);
        Py_XDECREF(v);
    }
    if (d) {  /* the APP_MODULE, as Gunicorn's cfg.app_uri... by our name */
        v = c->app ? PyUnicode_DecodeFSDefault(c->app) : (Py_INCREF(Py_None), Py_None);
        if (!v || PyDict_SetItemString(d, "app", v) < 0)
            Py_CLEAR(d);
        Py_XDECREF(v);
    }
    return d;
}

int cu_hooks_server(struct cu_hooks *h, const struct cu_config *c,
                    pid_t master_pid, int num_workers)
{
    PyObject *mod = hooks_module(h), *values, *r;

    if (!mod || !(values = cu_hooks_settings(h, c)))
        return -1;
    if (h->server)
        r = PyObject_CallMethod(h->server, "set_config", "O", values);
    else
        r = h->server = PyObject_CallMethod(mod, "Server", "Oi", values,
                                            (int)master_pid);
    Py_DECREF(values);
    if (!r)
        return -1;
    if (r != h->server)
        Py_DECREF(r);
    r = PyLong_FromLong(num_workers);
    if (!r || PyObject_SetAttrString(h->server, "num_workers", r) < 0) {
        Py_XDECREF(r);
        return -1;
    }
    Py_DECREF(r);
    return 0;
}

PyObject *cu_hooks_worker(struct cu_hooks *h, int age, pid_t pid)
{
    PyObject *mod = hooks_module(h);

    if (!mod || !h->server)
        return NULL;
    if (pid == 0)
        return PyObject_CallMethod(mod, "Worker", "Ois", h->server, age,
                                   "[booting]");
    return PyObject_CallMethod(mod, "Worker", "Oii", h->server, age, (int)pid);
}

int cu_hooks_call(struct cu_hooks *h, int which, PyObject *args)
{
    char what[64];
    PyObject *r;

    if (h->fn[which] == NULL) {
        Py_XDECREF(args);
        return 0;
    }
    (void)snprintf(what, sizeof(what), "Exception in %s hook", hook_names[which]);
    if (!args) {
        cu_report_exception(what);
        return -1;
    }
    r = PyObject_Call(h->fn[which], args, NULL);
    Py_DECREF(args);
    if (!r) {
        cu_report_exception(what);
        return -1;
    }
    Py_DECREF(r);
    return 0;
}

static PyObject *span_str(const char *head, struct http_span s)
{
    return PyUnicode_DecodeLatin1(head + s.off, (Py_ssize_t)s.len, NULL);
}

/* [(NAME, value), ...], names upper-cased as Gunicorn's req.headers. */
static PyObject *header_list(const struct http_request *r, const char *head)
{
    PyObject *list = PyList_New((Py_ssize_t)r->n_headers);

    for (uint32_t i = 0; list && i < r->n_headers; i++) {
        PyObject *name = span_str(head, r->headers[i].name), *upper = NULL;
        PyObject *value = span_str(head, r->headers[i].value), *t = NULL;

        if (name)
            upper = PyObject_CallMethod(name, "upper", NULL);
        if (upper && value)
            t = PyTuple_Pack(2, upper, value);
        Py_XDECREF(name);
        Py_XDECREF(upper);
        Py_XDECREF(value);
        if (!t) {
            Py_CLEAR(list);
            break;
        }
        PyList_SET_ITEM(list, (Py_ssize_t)i, t);  /* steals */
    }
    return list;
}

PyObject *cu_hooks_request(struct cu_hooks *h, const struct cu_request *q)
{
    const struct http_request *r = q->http;
    const char *head = cu_request_head(q);
    PyObject *mod = hooks_module(h), *req = NULL;
    PyObject *f[5] = {NULL}, *headers = NULL;

    if (!mod)
        return NULL;
    f[0] = span_str(head, r->method);
    f[1] = span_str(head, r->target);
    f[2] = span_str(head, r->path);
    f[3] = span_str(head, r->query);
    f[4] = span_str(head, r->fragment);
    headers = header_list(r, head);
    if (f[0] && f[1] && f[2] && f[3] && f[4] && headers)
        req = PyObject_CallMethod(mod, "Request", "OOOOO(ii)OO", f[0], f[1],
                                  f[2], f[3], f[4], (int)r->major,
                                  (int)r->minor, headers, Py_None);
    for (int i = 0; i < 5; i++)
        Py_XDECREF(f[i]);
    Py_XDECREF(headers);
    return req;
}

PyObject *cu_hooks_response(struct cu_hooks *h, int status,
                            unsigned long long sent)
{
    PyObject *mod = hooks_module(h);

    if (!mod)
        return NULL;
    return PyObject_CallMethod(mod, "Response", "iK", status, sent);
}

void cu_hooks_stash(struct cu_hooks *h, struct cu_hooks *saved)
{
    memcpy(saved->fn, h->fn, sizeof(h->fn));
    saved->post_request_args = h->post_request_args;
    memset(h->fn, 0, sizeof(h->fn));
    h->post_request_args = 0;
}

void cu_hooks_unstash(struct cu_hooks *h, struct cu_hooks *saved, int keep_new)
{
    struct cu_hooks *gone = keep_new ? saved : h;

    for (int i = 0; i < CU_H_COUNT; i++)
        Py_CLEAR(gone->fn[i]);
    if (!keep_new) {
        memcpy(h->fn, saved->fn, sizeof(h->fn));
        h->post_request_args = saved->post_request_args;
    }
}

/* ---- worker_int / worker_abort -------------------------------------- */

struct signal_thread {
    struct cu_hooks *h;
    int fd;
};

void cu_hooks_worker_int(struct cu_hooks *h, int abrt)
{
    if (!h->worker || (!abrt && h->ran_int))
        return;
    if (!abrt)
        h->ran_int = 1;
    if (PyObject_SetAttrString(h->worker, "alive", Py_False) < 0)
        PyErr_Clear();
    (void)cu_hooks_call(h, abrt ? CU_H_WORKER_ABORT : CU_H_WORKER_INT,
                        PyTuple_Pack(1, h->worker));
    host_flush_stdio();
}

void cu_hooks_worker_exit(struct cu_hooks *h)
{
    if (!h->fn[CU_H_WORKER_EXIT] || !h->worker || !h->server || h->ran_exit)
        return;
    h->ran_exit = 1;
    (void)cu_hooks_call(h, CU_H_WORKER_EXIT, PyTuple_Pack(2, h->server, h->worker));
    host_flush_stdio();
}

static void *signal_main(void *arg)
{
    struct signal_thread st = *(struct signal_thread *)arg;
    struct cu_hooks *h = st.h;
    unsigned char sig = 0;
    ssize_t n;
    int abrt;

    free(arg);
    while ((n = read(st.fd, &sig, 1)) < 0 && errno == EINTR)
        ;
    if (n != 1)
        return NULL;  /* the pipe went away: nothing to do */
    abrt = sig == SIGABRT;
    (void)PyGILState_Ensure();  /* kept until _exit */
    cu_hooks_worker_int(h, abrt);
    cu_log(CU_INFO, "Worker exiting (pid: %d)", (int)getpid());
    cu_hooks_worker_exit(h);
    host_flush_stdio();
    _exit(abrt ? 1 : 0);
}

int cu_hooks_signal_thread(struct cu_hooks *h, int fd)
{
    struct signal_thread *st = malloc(sizeof(*st));
    sigset_t all, prev;
    pthread_t t;
    int rc;

    if (!st) {
        cu_log(CU_ERROR, "worker_int/worker_abort: out of memory");
        return -1;
    }
    st->h = h;
    st->fd = fd;
    /* the signals stay with the other threads: the handlers write the pipe */
    sigfillset(&all);
    pthread_sigmask(SIG_BLOCK, &all, &prev);
    rc = pthread_create(&t, NULL, signal_main, st);
    pthread_sigmask(SIG_SETMASK, &prev, NULL);
    if (rc) {
        cu_log(CU_ERROR, "worker_int/worker_abort: a thread: %s", strerror(rc));
        free(st);
        return -1;
    }
    pthread_detach(t);
    return 0;
}

/* ---- the log object ------------------------------------------------- */

PyObject *cu_hooks_py_log(PyObject *module, PyObject *args)
{
    const char *text, *nl;
    Py_ssize_t len;
    int level, exception = 0;

    (void)module;
    if (!PyArg_ParseTuple(args, "is#|p:_log", &level, &text, &len, &exception))
        return NULL;
    if (level < CU_DEBUG)
        level = CU_DEBUG;
    if (level > CU_CRITICAL)
        level = CU_CRITICAL;
    nl = memchr(text, '\n', (size_t)len);
    /* Python mode: the whole text is one record (its traceback must not
     * go to the C error log while its first line goes to the handlers) */
    if (nl && cu_log_divert_text((enum cu_level)level, text, (size_t)len, exception) == 0)
        Py_RETURN_NONE;
    /* one line through the log; a traceback after it, whole (a log line
     * has a cap) */
    if (exception)  /* log.exception: statsd counts it as such */
        cu_log_exception("%.*s", (int)(nl ? nl - text : len), text);
    else
        cu_log((enum cu_level)level, "%.*s", (int)(nl ? nl - text : len), text);
    if (nl && cu_log_enabled((enum cu_level)level)) {
        int fd = cu_log_error_fd();
        const char *end = text + len;

        if (cu_write_all(fd, nl + 1, (size_t)(end - nl - 1)) == 0 && end > nl + 1 &&
            end[-1] != '\n')
            (void)cu_write_all(fd, "\n", 1);
    }
    Py_RETURN_NONE;
}

PyObject *cu_hooks_py_statsd(PyObject *module, PyObject *args)
{
    const char *body = NULL;
    Py_ssize_t len = 0;

    (void)module;
    if (!PyArg_ParseTuple(args, "|y#:_statsd", &body, &len))
        return NULL;
    if (body != NULL)
        cu_statsd_send(body, (size_t)len);
    return PyBool_FromLong(cu_statsd_on());
}
