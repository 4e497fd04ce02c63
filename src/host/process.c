/*
 * The processes: the ids workers take on, detaching from the terminal,
 * titles, and what the interpreter needs around fork(). The master's
 * callbacks for fork, USR1 and the stop are here too.
 */
#include "host/host.h"

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#ifdef __GLIBC__
#include <malloc.h>
#endif
#include <pwd.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/log.h"
#include "core/proctitle.h"
#include "core/statsd.h"
#include "core/syslog.h"
#include "net/listeners.h"
#include "wsgi/report.h"

/* --user and --group: a name or a number; -1 when unset. The master
 * runs no other thread yet: getpwnam and friends are safe here. */
int host_resolve_ids(struct cu_host *h)
{
    const char *u = h->cfg.user, *g = h->cfg.group;
    char *end;

    h->uid = (uid_t)-1;
    h->gid = (gid_t)-1;
    if (u && *u) {
        unsigned long v = strtoul(u, &end, 10);
        /* cppcheck-suppress [getpwnamCalled, getpwuidCalled] */
        struct passwd *pw = *end ? getpwnam(u) : getpwuid((uid_t)v);
        if (!*end && !pw) {
            h->uid = (uid_t)v;
        } else if (!pw) {
            cu_report_error("Error: no such user: %s", u);
            return -1;
        } else {
            h->uid = pw->pw_uid;
            if (!(g && *g))
                h->gid = pw->pw_gid;
        }
    }
    if (g && *g) {
        unsigned long v = strtoul(g, &end, 10);
        /* cppcheck-suppress getgrnamCalled */
        struct group *gr = *end ? getgrnam(g) : NULL;
        if (!*end) {
            h->gid = (gid_t)v;
        } else if (!gr) {
            cu_report_error("Error: no such group: %s", g);
            return -1;
        } else {
            h->gid = gr->gr_gid;
        }
    }
    return 0;
}

/* In a worker: take on --group (with supplementary groups when asked)
 * and --user; the master keeps its ids (docs/compat.md, "Worker
 * start-up"). */
int host_drop_privileges(const struct cu_host *h)
{
    if (h->gid != (gid_t)-1) {
        if (h->cfg.initgroups && h->cfg.user) {
            /* cppcheck-suppress getpwuidCalled ; the worker's one thread */
            struct passwd *pw = getpwuid(h->uid);
            if (pw && initgroups(pw->pw_name, h->gid) < 0) {
                cu_log(CU_ERROR, "initgroups(%s): %s", pw->pw_name, strerror(errno));
                return -1;
            }
        }
        if (setgid(h->gid) < 0) {
            cu_log(CU_ERROR, "setgid(%d): %s", (int)h->gid, strerror(errno));
            return -1;
        }
    }
    if (h->uid != (uid_t)-1 && setuid(h->uid) < 0) {
        cu_log(CU_ERROR, "setuid(%d): %s", (int)h->uid, strerror(errno));
        return -1;
    }
    return 0;
}

/* -D: detach from the terminal (fork, setsid, fork), stdin to /dev/null,
 * and stdout and stderr too unless keep_stdio (-R) leaves those that are
 * no terminal where they go (`cunicorn -D -R > out.log`), as Gunicorn. */
int host_daemonize(int keep_stdio)
{
    int fd;

    for (int i = 0; i < 2; i++) {
        pid_t pid;
        PyOS_BeforeFork();
        pid = fork();
        if (pid < 0) {
            PyOS_AfterFork_Parent();
            cu_report_error("Error: --daemon: fork: %s", strerror(errno));
            return -1;
        }
        if (pid > 0)
            _exit(0);
        PyOS_AfterFork_Child();
        if (i == 0 && setsid() < 0) {
            cu_report_error("Error: --daemon: setsid: %s", strerror(errno));
            return -1;
        }
    }
    (void)fflush(NULL);
    fd = open("/dev/null", O_RDWR | O_CLOEXEC);
    if (fd < 0 || dup2(fd, 0) < 0 ||
        ((!keep_stdio || isatty(1)) && dup2(fd, 1) < 0) ||
        ((!keep_stdio || isatty(2)) && dup2(fd, 2) < 0)) {
        cu_report_error("Error: --daemon: /dev/null: %s", strerror(errno));
        if (fd >= 0)
            close(fd);
        return -1;
    }
    close(fd);
    return 0;
}

/* "cunicorn: <role> [NAME]": NAME is proc_name, else default_proc_name,
 * with ".2" while a USR2 started this master and it is not promoted yet
 * (Gunicorn's arbiter adds it to its proc_name; the workers forked then
 * have it too). */
void host_title(const struct cu_host *h, const char *role)
{
    const char *name = h->cfg.proc_name ? h->cfg.proc_name : h->cfg.default_proc_name;
    char two[512];

    if (h->up.parent != 0 && name) {
        (void)snprintf(two, sizeof(two), "%s.2", name);  /* cut: so is the title */
        name = two;
    }
    cu_proctitle_set(role, name);
}

void host_promoted(void *arg)
{
    host_title(arg, "master");
}

/* os.environ is Python's copy of the environment from start-up: drop the
 * hand-over variables the C side has removed since (the inherited
 * sockets' on adoption, GUNICORN_PID on promotion), as Gunicorn pops
 * them. */
void host_environ_sync(void)
{
    static const char *const keys[] = {"LISTEN_PID", "LISTEN_FDS", "LISTEN_FDNAMES",
                                       "GUNICORN_FD", "GUNICORN_PID"};
    PyObject *os = PyImport_ImportModule("os");
    PyObject *env = os ? PyObject_GetAttrString(os, "environ") : NULL;

    for (size_t i = 0; env && i < sizeof(keys) / sizeof(keys[0]); i++) {
        PyObject *r;
        if (getenv(keys[i]))
            continue;
        r = PyObject_CallMethod(env, "pop", "sO", keys[i], Py_None);
        if (!r)
            break;
        Py_DECREF(r);
    }
    if (PyErr_Occurred())
        cu_report_exception("os.environ");
    Py_XDECREF(env);
    Py_XDECREF(os);
}

void host_flush_stdio(void)
{
    static const char *const names[] = {"stdout", "stderr"};

    for (size_t i = 0; i < 2; i++) {
        PyObject *f = PySys_GetObject(names[i]);  /* borrowed */
        PyObject *r = f && f != Py_None ? PyObject_CallMethod(f, "flush", NULL) : NULL;

        Py_XDECREF(r);
        PyErr_Clear();  /* a closed or broken stream: nothing to flush */
    }
}

/* A list of str, for raw_env, raw_paste_global_conf and the hooks'
 * server.cfg. */
PyObject *host_strv_list(const struct cu_strv *l)
{
    PyObject *list = PyList_New((Py_ssize_t)l->n);

    for (size_t i = 0; list && i < l->n; i++) {
        PyObject *s = PyUnicode_DecodeFSDefault(l->v[i]);
        if (!s) {
            Py_CLEAR(list);
            break;
        }
        PyList_SET_ITEM(list, (Py_ssize_t)i, s);  /* steals */
    }
    return list;
}

/* raw_env (docs/compat.md, Environment variables): put, each KEY=VALUE
 * into os.environ, and so into the C environment (os.environ's setter
 * calls setenv, which copies); else each KEY back to its value at start.
 * In the master, before the app is imported; the workers inherit it. */
int host_raw_env(struct cu_host *h, const struct cu_strv *l, int put)
{
    PyObject *list = host_strv_list(l), *r = NULL;

    if (list)
        r = PyObject_CallMethod(h->loader, "raw_env", "Oi", list, put);
    Py_XDECREF(list);
    if (!r) {
        cu_report_exception("Error: raw_env");
        return -1;
    }
    Py_DECREF(r);
    return 0;
}

/* --spew: Gunicorn's line tracer on (or off) in this thread: in the
 * master at start and on HUP (a fork keeps it for the worker's main
 * thread), and in each pool thread of a gthread worker. */
void host_spew(struct cu_host *h)
{
    PyObject *r = PyObject_CallMethod(h->loader, "spew", "i", h->cfg.spew);

    if (!r)
        cu_report_exception("--spew");
    Py_XDECREF(r);
}

/*
 * Every object the process holds moves to the collector's permanent
 * generation. In the master before the first fork (with --preload, the
 * app): collections in the workers then never write to those objects, and
 * the pages they are on stay shared instead of being copied into each
 * worker. In a worker after its import: a request's young objects are all
 * a collection scans (hello world: ~14% more requests per second).
 *
 * Then the heap's free pages go back to the kernel (glibc keeps them
 * otherwise): start-up's garbage, the compiler's above all when a module
 * has no .pyc to load, would else stay resident in the master and, by
 * fork, in every worker (docs/operations.md, Memory).
 */
void host_freeze_gc(void)
{
    PyObject *gc = PyImport_ImportModule("gc");
    PyObject *r = gc ? PyObject_CallMethod(gc, "freeze", NULL) : NULL;

    if (!r)
        cu_report_exception("gc.freeze()");
    Py_XDECREF(r);
    Py_XDECREF(gc);
#ifdef __GLIBC__
    malloc_trim(0);  /* says only whether it released anything */
#endif
}

void host_before_fork(void *arg)
{
    (void)arg;
    host_pylog_hold(1);  /* no Python logging while the child may be half made */
    PyOS_BeforeFork();
}

void host_after_fork_parent(void *arg)
{
    (void)arg;
    PyOS_AfterFork_Parent();
    host_pylog_hold(0);
}

void host_after_fork_child(void *arg)
{
    (void)arg;
    PyOS_AfterFork_Child();
    host_pylog_hold(0);
    host_environ_sync();
    cu_statsd_reopen();  /* a socket of the worker's own */
}

void host_statsd_open(struct cu_host *h)
{
    char err[256];

    /* Gunicorn goes on without metrics, silently; Ours: it says so */
    if (cu_statsd_open(&h->set->statsd, err, sizeof(err)) < 0)
        cu_log(CU_WARNING, "statsd_host %s: %s; no metrics are sent",
               h->cfg.statsd_host, err);
}

int host_syslog_open(struct cu_host *h, int start)
{
    char err[256];

    if (cu_syslog_open(&h->set->syslog, err, sizeof(err)) == 0)
        return 0;
    if (start)
        cu_report_error("Error: syslog_addr '%s': %s", h->cfg.syslog_addr, err);
    else
        cu_log(CU_ERROR, "syslog_addr '%s': %s; syslog goes on as before",
               h->cfg.syslog_addr, err);
    return -1;
}

int host_backlog(void *arg)
{
    const struct cu_host *h = arg;

    return cu_listeners_backlog(h->listeners, h->n_listeners);
}

void host_reopen_logs(void *arg)
{
    (void)arg;
    if (cu_log_reopen() < 0)
        cu_log(CU_ERROR, "reopening the logs: %s", strerror(errno));
}

/* TERM/INT/QUIT: the master's copies of the listeners go. */
void host_close_listeners(void *arg)
{
    struct cu_host *h = arg;

    for (size_t i = 0; i < h->n_listeners; i++)
        if (h->listeners[i].fd >= 0) {
            close(h->listeners[i].fd);
            h->listeners[i].fd = -1;
        }
}
