/*
 * The gevent and eventlet classes' hub, as the host provides it
 * (cu_worker_env's hub_open; src/worker/green.c is the loop): the
 * standard library patched before the app is imported (host_green_patch),
 * and the hub's operations (struct cu_hub) over cunicorn._green's wait,
 * spawn and kill. Each operation is called without the GIL from a
 * greenlet of the worker's main thread, takes the GIL for the hub's
 * Python, and drops it again; the thread state is the main thread's for
 * every greenlet (a greenlet switch keeps it).
 */
#include "host/host.h"

#include <errno.h>
#include <poll.h>
#include <stdlib.h>

#include "core/log.h"
#include "wsgi/report.h"

/* One hub per worker process. */
static struct {
    PyObject *wait, *spawn, *kill;  /* cunicorn._green.hub()'s */
    PyObject *io, *parker, *park, *unpark;  /* ... and HTTP/2's */
    PyObject *run;                  /* run_task, as a callable */
    PyObject *exit;                 /* greenlet.GreenletExit */
    PyObject *watch, *unwatch;      /* faulthandler's dump_traceback_later,
                                     * cancel_dump_traceback_later */
    PyThreadState *ts;              /* the main thread's */
} hub;

/* A greenlet's body, or a watched descriptor's call in the hub's greenlet
 * (hub_io): the task's C function, without the GIL. */
static PyObject *run_task(PyObject *self, PyObject *cap)
{
    const struct cu_hub_task *t = PyCapsule_GetPointer(cap, "cunicorn.task");
    PyThreadState *ts;

    (void)self;
    if (!t)
        return NULL;
    ts = PyEval_SaveThread();
    t->fn(t->arg);  /* t may be gone after this */
    PyEval_RestoreThread(ts);
    Py_RETURN_NONE;
}

static PyMethodDef run_def = {"run_task", run_task, METH_O, NULL};

/* A watched descriptor's call (hub_io): a task of its own, freed with
 * its capsule; run_task runs it in the hub's greenlet. */
static void task_free(PyObject *cap)
{
    free(PyCapsule_GetPointer(cap, "cunicorn.task"));
}

/* After a hub call failed: a greenlet killed (GreenletExit) is
 * ECANCELED, anything else is logged as EIO. */
static int failed(const char *what)
{
    if (PyErr_ExceptionMatches(hub.exit)) {
        PyErr_Clear();
        return ECANCELED;
    }
    cu_report_exception(what);
    return EIO;
}

/* A wait's end, r its hub call's result (NULL: it raised; False: its
 * deadline passed): 0, or -1 with errno (ETIMEDOUT, ECANCELED, EIO); the
 * GIL dropped again. */
static int waited(PyObject *r, const char *what)
{
    int err = 0;

    if (!r)
        err = failed(what);
    else if (r == Py_False)
        err = ETIMEDOUT;
    Py_XDECREF(r);
    hub.ts = PyEval_SaveThread();
    errno = err;
    return err ? -1 : 0;
}

static int hub_wait(void *arg, int fd, short events, int ms)
{
    (void)arg;
    PyEval_RestoreThread(hub.ts);
    return waited(PyObject_CallFunction(hub.wait, "iid", fd, (events & POLLOUT) != 0,
                                        ms / 1000.0),
                  "worker: waiting on the hub");
}

static void *hub_spawn(void *arg, const struct cu_hub_task *t, int pooled)
{
    PyObject *cap, *g = NULL;
    int err = 0;

    (void)arg;
    PyEval_RestoreThread(hub.ts);
    cap = PyCapsule_New((void *)t, "cunicorn.task", NULL);
    if (cap)
        g = PyObject_CallFunction(hub.spawn, "iOO", pooled, hub.run, cap);
    if (!g)
        err = failed("worker: spawning a greenlet");
    Py_XDECREF(cap);
    hub.ts = PyEval_SaveThread();
    errno = err;
    return g;
}

static void hub_kill(void *arg, void *const *handles, size_t n)
{
    PyObject *l, *r = NULL;

    (void)arg;
    PyEval_RestoreThread(hub.ts);
    if ((l = PyList_New((Py_ssize_t)n)) != NULL) {
        for (size_t i = 0; i < n; i++) {
            Py_INCREF((PyObject *)handles[i]);
            PyList_SET_ITEM(l, (Py_ssize_t)i, (PyObject *)handles[i]);
        }
        r = PyObject_CallOneArg(hub.kill, l);
        Py_DECREF(l);
    }
    if (!r)
        cu_report_exception("worker: killing greenlets");
    Py_XDECREF(r);
    hub.ts = PyEval_SaveThread();
}

/* faulthandler's watchdog thread: unless called again within ms, it
 * writes every thread's stack to the error log; the main thread's is the
 * greenlet that holds the hub. ms 0: no more. */
static void hub_watch(void *arg, int ms)
{
    PyObject *r;

    (void)arg;
    PyEval_RestoreThread(hub.ts);
    r = ms > 0 ? PyObject_CallFunction(hub.watch, "di", ms / 1000.0, cu_log_error_fd())
               : PyObject_CallNoArgs(hub.unwatch);
    if (!r)
        cu_report_exception("worker: faulthandler.dump_traceback_later");
    Py_XDECREF(r);
    hub.ts = PyEval_SaveThread();
}

static void hub_release(void *arg, void *handle)
{
    (void)arg;
    PyEval_RestoreThread(hub.ts);
    Py_DECREF((PyObject *)handle);
    hub.ts = PyEval_SaveThread();
}

static int hub_io(void *arg, int fd, int write, int on, void (*fn)(void *), void *data)
{
    PyObject *cap = NULL, *r = NULL;
    struct cu_hub_task *t = NULL;

    (void)arg;
    PyEval_RestoreThread(hub.ts);
    if (on && (t = malloc(sizeof(*t))) == NULL)
        PyErr_NoMemory();
    else if (on) {
        *t = (struct cu_hub_task){fn, data};
        if (!(cap = PyCapsule_New(t, "cunicorn.task", task_free)))
            free(t);
    }
    if (!on || cap)
        r = PyObject_CallFunction(hub.io, "iiiOO", fd, write, on, hub.run,
                                  cap ? cap : Py_None);
    Py_XDECREF(cap);
    if (!r)
        cu_report_exception("worker: watching a socket on the hub");
    Py_XDECREF(r);
    hub.ts = PyEval_SaveThread();
    return r ? 0 : -1;
}

static void *hub_parker(void *arg)
{
    PyObject *p;

    (void)arg;
    PyEval_RestoreThread(hub.ts);
    if (!(p = PyObject_CallNoArgs(hub.parker)))
        cu_report_exception("worker: a parker on the hub");
    hub.ts = PyEval_SaveThread();
    return p;
}

static int hub_park(void *arg, void *p, int ms)
{
    (void)arg;
    PyEval_RestoreThread(hub.ts);
    return waited(PyObject_CallFunction(hub.park, "Od", (PyObject *)p, ms / 1000.0),
                  "worker: parked on the hub");
}

static void hub_unpark(void *arg, void *p)
{
    PyObject *r;

    (void)arg;
    PyEval_RestoreThread(hub.ts);
    if (!(r = PyObject_CallOneArg(hub.unpark, (PyObject *)p)))
        cu_report_exception("worker: waking a greenlet");
    Py_XDECREF(r);
    hub.ts = PyEval_SaveThread();
}

/* The module's attribute name, or NULL (an exception set). */
static PyObject *attr_of(const char *module, const char *name)
{
    PyObject *m = PyImport_ImportModule(module), *a;

    if (!m)
        return NULL;
    a = PyObject_GetAttrString(m, name);
    Py_DECREF(m);
    return a;
}

/* hub's Python objects, each step only once the one before it succeeded
 * (no call runs with an exception set). 0, or -1 with the exception set. */
static int hub_objects(const char *kind, int worker_connections)
{
    PyObject *mod = PyImport_ImportModule("cunicorn._green");
    PyObject *ops = mod ? PyObject_CallMethod(mod, "hub", "si", kind, worker_connections)
                        : NULL;
    int rc = -1;

    Py_XDECREF(mod);
    if (ops &&
        PyArg_ParseTuple(ops, "OOOOOOO", &hub.wait, &hub.spawn, &hub.kill, &hub.io,
                         &hub.parker, &hub.park, &hub.unpark) &&
        (hub.exit = attr_of("greenlet", "GreenletExit")) != NULL &&
        (hub.watch = attr_of("faulthandler", "dump_traceback_later")) != NULL &&
        (hub.unwatch = attr_of("faulthandler", "cancel_dump_traceback_later")) != NULL &&
        (hub.run = PyCFunction_New(&run_def, NULL)) != NULL) {
        PyObject **borrowed[] = {&hub.wait, &hub.spawn, &hub.kill, &hub.io,
                                 &hub.parker, &hub.park, &hub.unpark};
        for (size_t i = 0; i < sizeof(borrowed) / sizeof(borrowed[0]); i++)
            Py_INCREF(*borrowed[i]);
        rc = 0;
    } else {  /* what was borrowed from ops is not ours: only the others */
        hub.wait = hub.spawn = hub.kill = NULL;
        hub.io = hub.parker = hub.park = hub.unpark = NULL;
        Py_CLEAR(hub.run);
        Py_CLEAR(hub.exit);
        Py_CLEAR(hub.watch);
        Py_CLEAR(hub.unwatch);
    }
    Py_XDECREF(ops);
    return rc;
}

int host_green_open(void *arg, const char *kind, int worker_connections,
                    struct cu_hub *out)
{
    int rc;

    (void)arg;
    PyEval_RestoreThread(hub.ts);
    rc = hub_objects(kind, worker_connections);
    if (rc < 0)
        cu_report_exception("Exception in worker process");
    hub.ts = PyEval_SaveThread();
    *out = (struct cu_hub){.wait = hub_wait, .spawn = hub_spawn, .kill = hub_kill,
                           .release = hub_release, .watch = hub_watch, .io = hub_io,
                           .parker = hub_parker, .park = hub_park, .unpark = hub_unpark};
    return rc;
}

int host_green_patch(const char *kind)
{
    PyObject *mod = PyImport_ImportModule("cunicorn._green");
    PyObject *r = mod ? PyObject_CallMethod(mod, "patch", "s", kind) : NULL;

    Py_XDECREF(mod);
    if (!r) {
        cu_report_exception("Exception in worker process");
        return -1;
    }
    Py_DECREF(r);
    hub.ts = PyThreadState_Get();
    return 0;
}
