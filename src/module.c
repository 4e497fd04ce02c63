/*
 * cunicorn._cunicorn: the extension module's entry point, and main().
 *
 * main() resolves the configuration (defaults < config file <
 * GUNICORN_CMD_ARGS < command line), opens the logs and the listeners, and
 * runs the C master, whose workers serve the app through src/wsgi/. Config
 * files and the app are Python by nature: python/cunicorn/_loader.py reads
 * and imports them when asked.
 *
 * Multi-phase initialisation (PEP 489); the module state holds the heap
 * types. The master holds the GIL (it runs no Python while it waits); a
 * worker drops it except while the application runs.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <pwd.h>
#include <pthread.h>
#include <stdatomic.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "config/derive.h"
#include "config/settings.h"
#include "core/log.h"
#include "core/proctitle.h"
#include "cu_version.h"
#include "master/arbiter.h"
#include "master/upgrade.h"
#include "worker/reloader.h"
#include "worker/worker.h"
#include "wsgi/hooks.h"
#include "wsgi/wsgi.h"

struct module_state {
    struct cu_wsgi_types types;
};

/* --reload, in a worker: what the reloader's thread asks Python for. */
struct reload_state {
    PyObject *mod;          /* cunicorn._reloader */
    PyObject *extra;        /* reload_extra_files, and a file that broke */
    Py_ssize_t known;       /* modules seen so far; -1 before the first list */
    PyThreadState *ts;      /* the reloader thread's, while it waits */
};

/* Everything main() sets up, shared with the callbacks of the master. */
struct server {
    struct cu_config cfg;
    struct http_config http;
    struct http_scheme_header *scheme;
    const char **forwarders;
    struct cu_listener *listeners;
    size_t n_listeners;
    PyObject *loader;           /* cunicorn._loader */
    PyObject *app;              /* preloaded, or loaded in the worker */
    struct cu_wsgi_types *types;
    struct cu_wsgi *wsgi;
    pid_t master_pid;
    uid_t uid;                  /* --user / --group for the workers, or -1 */
    gid_t gid;
    int argc;                   /* the command line, for HUP */
    char *const *argv;
    struct cu_master_config *mc;
    struct cu_config previous;  /* kept until the next reload: the master
                                 * may still point into it */
    struct cu_upgrade up;       /* USR2: the start's command line and
                                 * environment, the hand-over's state */
    struct reload_state reload;
    struct cu_hooks hooks;      /* the config file's server hooks */
};

/* ---- configuration -------------------------------------------------------- */

/* A config file value, handed to the setting's validator as text. */
static int set_from_python(struct cu_config *c, const struct cu_setting *s,
                           PyObject *v, char *err, size_t errlen)
{
    PyObject *str;
    int rc;

    if (v == Py_None)
        return cu_config_set(c, s, NULL, 0, err, errlen);
    if (PyBool_Check(v))
        return cu_config_set(c, s, v == Py_True ? "true" : "false", 0, err, errlen);
    if (PyDict_Check(v)) {
        PyObject *k, *val;
        Py_ssize_t pos = 0;
        cu_config_clear(c, s);
        while (PyDict_Next(v, &pos, &k, &val)) {
            PyObject *kv = PyUnicode_FromFormat("%S=%S", k, val);
            if (!kv)
                return -1;
            rc = cu_config_set(c, s, PyUnicode_AsUTF8(kv), 1, err, errlen);
            Py_DECREF(kv);
            if (rc < 0)
                return -1;
        }
        return 0;
    }
    if ((PyList_Check(v) || PyTuple_Check(v)) &&
        (s->type == CU_LIST || s->type == CU_CSV || s->type == CU_DICT)) {
        cu_config_clear(c, s);
        for (Py_ssize_t i = 0; i < PySequence_Size(v); i++) {
            PyObject *item = PySequence_GetItem(v, i);
            if (!item || !(str = PyObject_Str(item))) {
                Py_XDECREF(item);
                return -1;
            }
            Py_DECREF(item);
            rc = cu_config_set(c, s, PyUnicode_AsUTF8(str), 1, err, errlen);
            Py_DECREF(str);
            if (rc < 0)
                return -1;
        }
        return 0;
    }
    if (PyCallable_Check(v) && !PyUnicode_Check(v)) {
        snprintf(err, errlen, "Invalid value for %s: a callable", s->name);
        return -1;
    }
    if (!(str = PyObject_Str(v)))
        return -1;
    rc = cu_config_set(c, s, PyUnicode_AsUTF8(str), 0, err, errlen);
    Py_DECREF(str);
    return rc;
}

/* Once the logs are open (a HUP), configuration errors go to the error
 * log, not to a stderr that may be /dev/null by then. */
static int logs_open;

static void config_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static void config_error(const char *fmt, ...)
{
    char msg[1024];
    va_list ap;

    va_start(ap, fmt);
    (void)vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    if (logs_open)
        cu_log(CU_ERROR, "%s", msg);
    else
        fprintf(stderr, "%s\n", msg);
}

/* The Python exception of a config error, where config_error() goes. */
static void config_exception(void)
{
    if (logs_open)
        cu_wsgi_log_exception("Error in the config file");
    else
        PyErr_Print();
}

static int read_config_file(struct server *sv, const char *path)
{
    PyObject *names, *k, *v;
    Py_ssize_t pos = 0;
    char err[512];

    names = PyObject_CallMethod(sv->loader, "read_config", "s", path);
    if (!names) {
        config_error("Failed to read config file: %s", path);
        config_exception();
        return -1;
    }
    while (PyDict_Next(names, &pos, &k, &v)) {
        const char *name = PyUnicode_Check(k) ? PyUnicode_AsUTF8(k) : NULL;
        const struct cu_setting *s = name ? cu_setting_find(name) : NULL;
        if (!s)
            continue;  /* other names in the file are the file's business */
        if (s->type == CU_CALLABLE
                ? cu_hooks_set(&sv->hooks, &sv->cfg, s, v, err, sizeof(err)) < 0
                : set_from_python(&sv->cfg, s, v, err, sizeof(err)) < 0) {
            if (PyErr_Occurred())
                config_exception();
            config_error("Error: %s (in %s)", err[0] ? err : name, path);
            Py_DECREF(names);
            return -1;
        }
    }
    Py_DECREF(names);
    return 0;
}

/* The last -c in a layer, if any. */
static const char *config_arg(const struct cu_args *a)
{
    const char *path = NULL;

    for (size_t i = 0; i < a->n; i++)
        if (strcmp(a->v[i].s->name, "config") == 0)
            path = a->v[i].value;
    return path;
}

/* Returns 0 to go on, or an exit status + 1000 to stop now. */
static int resolve(struct server *sv, int argc, char *const *argv)
{
    struct cu_args cli = {0}, env = {0};
    char err[1024] = "";
    const char *env_args = getenv("GUNICORN_CMD_ARGS"), *path;
    int eargc = 0, rc = 1001;
    char **eargv = NULL;

    if (cu_config_init(&sv->cfg) < 0) {
        fprintf(stderr, "cunicorn: out of memory\n");
        return 1001;
    }
    if (cu_args_parse(argc, argv, &cli, err, sizeof(err)) < 0) {
        config_error("usage: cunicorn [OPTIONS] [APP_MODULE]\ncunicorn: error: %s", err);
        rc = 1002;
        goto out;
    }
    if (cli.help) {
        cu_config_help(stdout, "cunicorn");
        rc = 1000;
        goto out;
    }
    if (cli.version) {
        printf("cunicorn %s\n", CU_VERSION);
        rc = 1000;
        goto out;
    }
    if (env_args && (cu_argv_split(env_args, &eargc, &eargv, err, sizeof(err)) < 0 ||
                     cu_args_parse(eargc, eargv, &env, err, sizeof(err)) < 0)) {
        config_error("cunicorn: error in GUNICORN_CMD_ARGS: %s", err);
        rc = 1002;
        goto out;
    }
    /* the APP_MODULE names the processes unless a layer above says
     * otherwise (Gunicorn sets it before reading the config file) */
    if ((cli.app || env.app) &&
        cu_config_set(&sv->cfg, cu_setting_find("default_proc_name"),
                      cli.app ? cli.app : env.app, 0, err, sizeof(err)) < 0) {
        fprintf(stderr, "Error: %s\n", err);
        goto out;
    }
    path = config_arg(&cli) ? config_arg(&cli) : config_arg(&env);
    if (!path && access("gunicorn.conf.py", F_OK) == 0)
        path = "gunicorn.conf.py";
    if (path && read_config_file(sv, path) < 0)
        goto out;
    if (cu_args_apply(&sv->cfg, &env, err, sizeof(err)) < 0 ||
        cu_args_apply(&sv->cfg, &cli, err, sizeof(err)) < 0 ||
        cu_config_finish(&sv->cfg, err, sizeof(err)) < 0) {
        config_error("Error: %s", err);
        goto out;
    }
    free(sv->cfg.app);
    sv->cfg.app = NULL;
    path = cli.app ? cli.app : env.app ? env.app : sv->cfg.wsgi_app;
    if (path && !(sv->cfg.app = strdup(path))) {
        fprintf(stderr, "cunicorn: out of memory\n");
        goto out;
    }
    rc = 0;
out:
    cu_args_free(&cli);
    cu_args_free(&env);
    if (eargv)
        cu_argv_free(eargc, eargv);
    return rc;
}

/* The parser's settings, from the resolved configuration. */
static int http_settings(struct server *sv)
{
    const struct cu_config *c = &sv->cfg;
    struct http_config *h = &sv->http;

    http_config_init(h);
    http_config_finish(h, c->limit_request_line, c->limit_request_fields,
                       c->limit_request_field_size);
    h->flags = (c->permit_unconventional_http_method ? HTTP_PERMIT_UNCONVENTIONAL_METHOD : 0) |
               (c->casefold_http_method ? HTTP_CASEFOLD_METHOD : 0) |
               (c->strip_header_spaces ? HTTP_STRIP_HEADER_SPACES : 0) |
               (c->permit_obsolete_folding ? HTTP_PERMIT_OBS_FOLD : 0) |
               (c->permit_unconventional_http_version ? HTTP_PERMIT_UNCONVENTIONAL_VERSION : 0);
    h->header_map = (enum http_header_map)c->header_map;
    sv->scheme = calloc(c->secure_scheme_headers.n + 1, sizeof(*sv->scheme));
    sv->forwarders = calloc(c->forwarder_headers.n + 1, sizeof(char *));
    if (!sv->scheme || !sv->forwarders)
        return -1;
    h->n_scheme_headers = 0;  /* the configured ones replace the defaults */
    for (size_t i = 0; i < c->secure_scheme_headers.n; i++) {
        const char *kv = c->secure_scheme_headers.v[i], *eq = strchr(kv, '=');
        struct http_scheme_header *sh = &sv->scheme[h->n_scheme_headers];
        if (!eq)
            continue;
        /* NAME=value: the name is a copy, the value the config's own */
        if (!(sh->name = strndup(kv, (size_t)(eq - kv))))
            return -1;
        sh->value = eq + 1;
        sh->name_len = (uint32_t)(eq - kv);
        sh->value_len = (uint32_t)strlen(eq + 1);
        h->n_scheme_headers++;
    }
    h->scheme_headers = sv->scheme;
    for (size_t i = 0; i < c->forwarder_headers.n; i++)
        sv->forwarders[i] = c->forwarder_headers.v[i];
    h->forwarder_headers = sv->forwarders;
    h->n_forwarder_headers = c->forwarder_headers.n;
    return 0;
}

#define MAX_INHERITED 64

/* Adopts the sockets systemd or an old master handed over (§2.6). */
static int adopt_inherited(struct server *sv, int *n)
{
    int fds[MAX_INHERITED], systemd;
    char err[512];

    *n = cu_listen_fds_from_env(fds, MAX_INHERITED, &systemd, err, sizeof(err));
    if (*n < 0) {
        cu_log(CU_ERROR, "Inherited sockets: %s", err);
        return -1;
    }
    sv->listeners = calloc((size_t)*n + sv->cfg.bind.n, sizeof(*sv->listeners));
    if (!sv->listeners)
        return -1;
    for (int i = 0; i < *n; i++) {
        struct cu_addr a = {.kind = CU_ADDR_FD, .fd = fds[i]};
        if (cu_listen(&a, 0, 0, &sv->listeners[i], err, sizeof(err)) < 0) {
            cu_log(CU_ERROR, "Inherited socket: %s", err);
            return -1;
        }
        sv->n_listeners++;
    }
    sv->up.n_systemd = systemd ? (size_t)*n : 0;
    return 0;
}

/* A bind the inherited sockets stand for: as Gunicorn, they replace
 * binding; only an fd:// bind not among them is adopted too. */
static int bind_inherited(const struct server *sv, size_t n, const struct cu_addr *a,
                          const char *bind)
{
    for (size_t i = 0; i < n; i++)
        if (cu_listener_matches(a, &sv->listeners[i]))
            return 1;
    if (a->kind == CU_ADDR_FD)
        return 0;
    cu_log(sv->up.n_systemd ? CU_DEBUG : CU_WARNING,
           "%s is not among the inherited sockets: not bound", bind);
    return 1;
}

static int open_listeners(struct server *sv)
{
    char err[512];
    int inherited;

    if (adopt_inherited(sv, &inherited) < 0)
        return -1;
    for (size_t i = 0; i < sv->cfg.bind.n; i++) {
        struct cu_addr a;
        if (cu_addr_parse(sv->cfg.bind.v[i], &a, err, sizeof(err)) < 0) {
            cu_log(CU_ERROR, "Connection in use or bad address: %s", err);
            return -1;
        }
        if (inherited > 0 && bind_inherited(sv, (size_t)inherited, &a, sv->cfg.bind.v[i]))
            continue;
        if (cu_listen(&a, sv->cfg.backlog, sv->cfg.reuse_port,
                      &sv->listeners[sv->n_listeners], err, sizeof(err)) < 0) {
            cu_log(CU_ERROR, "Connection in use or bad address: %s", err);
            return -1;
        }
        sv->n_listeners++;
    }
    for (size_t i = 0; i < sv->n_listeners; i++)
        cu_log(CU_INFO, "Listening at: %s%s (%d)",
               sv->listeners[i].family == AF_UNIX ? "" : "http://",
               sv->listeners[i].name, (int)getpid());
    return 0;
}

static void free_http_settings(struct server *sv)
{
    for (size_t i = 0; sv->scheme && i < sv->http.n_scheme_headers; i++)
        free((char *)sv->scheme[i].name);
    free(sv->scheme);
    free(sv->forwarders);
    sv->scheme = NULL;
    sv->forwarders = NULL;
}

static void master_settings(struct server *sv)
{
    struct cu_master_config *mc = sv->mc;

    mc->workers = sv->cfg.workers;
    mc->timeout = sv->cfg.timeout;
    mc->graceful_timeout = sv->cfg.graceful_timeout;
    mc->daemon = sv->cfg.daemon;
    mc->pidfile = sv->cfg.pidfile;
    mc->proc_name = sv->cfg.proc_name;
    mc->max_worker_lifetime = sv->cfg.max_worker_lifetime;
    mc->max_worker_memory = sv->cfg.max_worker_memory;
}

/* "cunicorn: <role> [NAME]": NAME is proc_name, else default_proc_name. */
static void set_title(const struct server *sv, const char *role)
{
    cu_proctitle_set(role, sv->cfg.proc_name ? sv->cfg.proc_name
                                             : sv->cfg.default_proc_name);
}

/* HUP: the configuration read again, from the same command line. The new
 * workers load the app afresh (unless it was preloaded). On failure the old
 * configuration stays, and so do the old workers. */
static int reload(void *arg)
{
    struct server *sv = arg;
    struct cu_config old = sv->cfg;
    struct http_scheme_header *old_scheme = sv->scheme;
    const char **old_fwd = sv->forwarders;
    struct http_config old_http = sv->http;
    struct cu_hooks old_hooks;

    memset(&sv->cfg, 0, sizeof(sv->cfg));
    sv->scheme = NULL;
    sv->forwarders = NULL;
    cu_proctitle_state("reloading");
    cu_hooks_stash(&sv->hooks, &old_hooks);
    if (resolve(sv, sv->argc, sv->argv) != 0 || !sv->cfg.app ||
        http_settings(sv) < 0) {
        cu_log(CU_ERROR, "Reloading the configuration failed (the reason is above)");
        cu_proctitle_state(NULL);
        cu_hooks_unstash(&sv->hooks, &old_hooks, 0);
        free_http_settings(sv);
        cu_config_free(&sv->cfg);
        sv->cfg = old;
        sv->scheme = old_scheme;
        sv->forwarders = old_fwd;
        sv->http = old_http;
        return -1;
    }
    /* what was in use until now, freed at the next reload */
    {
        struct server gone = {0};
        gone.scheme = old_scheme;
        gone.forwarders = old_fwd;
        gone.http = old_http;
        free_http_settings(&gone);
    }
    cu_config_free(&sv->previous);
    sv->previous = old;
    master_settings(sv);
    set_title(sv, "master");  /* the new name, if it changed */
    cu_hooks_unstash(&sv->hooks, &old_hooks, 1);
    if ((sv->hooks.server || cu_hooks_any(&sv->hooks)) &&
        cu_hooks_server(&sv->hooks, &sv->cfg, sv->master_pid, sv->mc->workers) < 0)
        cu_wsgi_log_exception("Exception while making the server object for the hooks");
    return 0;
}

/* ---- processes ------------------------------------------------------------ */

/* --user and --group: a name or a number; -1 when unset. */
static int resolve_ids(struct server *sv)
{
    const char *u = sv->cfg.user, *g = sv->cfg.group;
    char *end;

    sv->uid = (uid_t)-1;
    sv->gid = (gid_t)-1;
    if (u && *u) {
        unsigned long v = strtoul(u, &end, 10);
        struct passwd *pw = *end ? getpwnam(u) : getpwuid((uid_t)v);
        if (!*end && !pw) {
            sv->uid = (uid_t)v;
        } else if (!pw) {
            fprintf(stderr, "Error: no such user: %s\n", u);
            return -1;
        } else {
            sv->uid = pw->pw_uid;
            if (!(g && *g))
                sv->gid = pw->pw_gid;
        }
    }
    if (g && *g) {
        unsigned long v = strtoul(g, &end, 10);
        struct group *gr = *end ? getgrnam(g) : NULL;
        if (!*end) {
            sv->gid = (gid_t)v;
        } else if (!gr) {
            fprintf(stderr, "Error: no such group: %s\n", g);
            return -1;
        } else {
            sv->gid = gr->gr_gid;
        }
    }
    return 0;
}

/* In a worker: take on --group (with supplementary groups when asked)
 * and --user; the master keeps its ids (§2.8). */
static int drop_privileges(const struct server *sv)
{
    if (sv->gid != (gid_t)-1) {
        if (sv->cfg.initgroups && sv->cfg.user) {
            struct passwd *pw = getpwuid(sv->uid);
            if (pw && initgroups(pw->pw_name, sv->gid) < 0) {
                cu_log(CU_ERROR, "initgroups(%s): %s", pw->pw_name, strerror(errno));
                return -1;
            }
        }
        if (setgid(sv->gid) < 0) {
            cu_log(CU_ERROR, "setgid(%d): %s", (int)sv->gid, strerror(errno));
            return -1;
        }
    }
    if (sv->uid != (uid_t)-1 && setuid(sv->uid) < 0) {
        cu_log(CU_ERROR, "setuid(%d): %s", (int)sv->uid, strerror(errno));
        return -1;
    }
    return 0;
}

/* -D: detach from the terminal (fork, setsid, fork), stdio to /dev/null. */
static int daemonize(void)
{
    int fd;

    for (int i = 0; i < 2; i++) {
        pid_t pid;
        PyOS_BeforeFork();
        pid = fork();
        if (pid < 0) {
            PyOS_AfterFork_Parent();
            fprintf(stderr, "Error: --daemon: fork: %s\n", strerror(errno));
            return -1;
        }
        if (pid > 0)
            _exit(0);
        PyOS_AfterFork_Child();
        if (i == 0 && setsid() < 0) {
            fprintf(stderr, "Error: --daemon: setsid: %s\n", strerror(errno));
            return -1;
        }
    }
    fflush(NULL);
    fd = open("/dev/null", O_RDWR | O_CLOEXEC);
    if (fd < 0 || dup2(fd, 0) < 0 || dup2(fd, 1) < 0 || dup2(fd, 2) < 0)
        return -1;
    close(fd);
    return 0;
}

/* ---- the app -------------------------------------------------------------- */

/* After the app failed to load: logs why, returns the exit status (3/4). */
static int load_failed(struct server *sv)
{
    PyObject *exc_type;
    PyObject *t, *v, *tb;

    PyErr_Fetch(&t, &v, &tb);
    exc_type = PyObject_GetAttrString(sv->loader, "AppImportError");
    if (exc_type && t && PyErr_GivenExceptionMatches(t, exc_type)) {
        PyObject *msg;
        PyErr_NormalizeException(&t, &v, &tb);
        msg = v ? PyObject_Str(v) : NULL;
        cu_log(CU_ERROR, "%s", msg ? PyUnicode_AsUTF8(msg) : "the app failed to load");
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
    cu_wsgi_log_exception("Exception in worker process");
    return CU_EXIT_WORKER_BOOT;
}

/* Imports the app: 0, or -1 with the exception set. */
static int load_app_call(struct server *sv)
{
    sv->app = PyObject_CallMethod(sv->loader, "load_app", "s", sv->cfg.app);
    return sv->app ? 0 : -1;
}

/* Loads the app; on failure logs why and returns the exit status (3/4). */
static int load_app(struct server *sv)
{
    return load_app_call(sv) == 0 ? 0 : load_failed(sv);
}

/* ---- --reload --------------------------------------------------------------- */

/* The files to watch, from _reloader.watched(), with the GIL: 1 with the
 * list, 0 when there is nothing new, -1 on failure (logged). */
static int list_files(struct reload_state *rs, char ***paths, size_t *n)
{
    PyObject *r, *files, *unmatched;
    Py_ssize_t count, len;
    int first = rs->known < 0, rc = -1;

    r = PyObject_CallMethod(rs->mod, "watched", "On", rs->extra, rs->known);
    if (!r) {
        cu_wsgi_log_exception("Reloader: listing the files failed");
        return -1;
    }
    if (r == Py_None) {
        Py_DECREF(r);
        return 0;
    }
    if (!PyArg_ParseTuple(r, "nO!O!", &count, &PyList_Type, &files, &PyList_Type,
                          &unmatched)) {
        cu_wsgi_log_exception("Reloader: listing the files failed");
        Py_DECREF(r);
        return -1;
    }
    for (Py_ssize_t i = 0; first && i < PyList_GET_SIZE(unmatched); i++) {
        const char *u = PyUnicode_AsUTF8(PyList_GET_ITEM(unmatched, i));
        cu_log(CU_WARNING, "reload_extra_files: %s matches no file (yet)",
               u ? u : "?");
    }
    PyErr_Clear();
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

/* The same from the reloader's thread, which takes the GIL for it. */
static int reload_list(void *arg, char ***paths, size_t *n)
{
    struct reload_state *rs = arg;
    int rc;

    if (rs->ts)
        PyEval_RestoreThread(rs->ts);
    else  /* its first call: a thread state of its own, kept */
        (void)PyGILState_Ensure();
    rc = list_files(rs, paths, n);
    rs->ts = PyEval_SaveThread();
    return rc;
}

/* A watched file changed: the worker stops as on the master's TERM,
 * finishing its requests, and exits 0; the master forks a new one. The
 * reloader's thread blocks every signal, so the worker's loop gets it. */
static void reload_changed(void *arg, const char *path)
{
    (void)arg;
    cu_log(CU_INFO, "Worker reloading: %s modified", path);
    if (kill(getpid(), SIGTERM) < 0)
        cu_worker_stop = 1;
}

/* A SyntaxError in the app does not fail the boot with --reload (§3): it
 * is logged, its files are watched (*broken: the one with the error and the
 * import chain to it), and every request gets a 500 page with the
 * traceback until one of them changes. Other errors are load_app's. */
static int load_app_reloading(struct server *sv, PyObject **broken)
{
    PyObject *t, *v, *tb, *msg, *r;

    if (load_app_call(sv) == 0 || !PyErr_ExceptionMatches(PyExc_SyntaxError))
        return sv->app ? 0 : load_failed(sv);
    PyErr_Fetch(&t, &v, &tb);
    PyErr_NormalizeException(&t, &v, &tb);
    if (tb)
        PyException_SetTraceback(v, tb);
    msg = PyObject_Str(v);
    PyErr_Clear();
    r = PyObject_CallMethod(sv->reload.mod, "fail_app", "O", v);
    if (!r || !PyArg_ParseTuple(r, "OO!", &sv->app, &PyList_Type, broken)) {
        sv->app = NULL;
        cu_wsgi_log_exception("Reloader: the error page failed");
    } else {
        Py_INCREF(sv->app);
        Py_INCREF(*broken);
    }
    Py_XDECREF(r);
    PyErr_Restore(t, v, tb);
    cu_wsgi_log_exception(msg ? PyUnicode_AsUTF8(msg) : "SyntaxError");
    Py_XDECREF(msg);
    return sv->app ? 0 : CU_EXIT_WORKER_BOOT;
}

/* reload_extra_files, and the files of a SyntaxError: a list of str. */
static PyObject *extra_files(const struct server *sv, PyObject *broken)
{
    PyObject *l = broken ? PySequence_List(broken) : PyList_New(0);

    for (size_t i = 0; l && i < sv->cfg.reload_extra_files.n; i++) {
        PyObject *f = PyUnicode_DecodeFSDefault(sv->cfg.reload_extra_files.v[i]);
        if (!f || PyList_Append(l, f) < 0)
            Py_CLEAR(l);
        Py_XDECREF(f);
    }
    return l;
}

/* In a worker, before it serves: the app (see load_app_reloading), its
 * files listed and watched, then the thread; so a change after the first
 * response is never missed. A reloader that cannot start is logged and
 * the worker serves without. 0, or the exit status of a failed load. */
static int start_reloading(struct server *sv)
{
    struct reload_state *rs = &sv->reload;
    struct cu_reloader_ops ops = {reload_list, reload_changed, rs};
    struct cu_reloader *r = NULL;
    PyObject *broken = NULL;
    char **paths = NULL;
    size_t n = 0;
    int rc;

    if (!(rs->mod = PyImport_ImportModule("cunicorn._reloader"))) {
        cu_wsgi_log_exception("Exception in worker process");
        return CU_EXIT_WORKER_BOOT;
    }
    if (!sv->app && (rc = load_app_reloading(sv, &broken)) != 0)
        return rc;
    rs->known = -1;
    rs->extra = extra_files(sv, broken);
    Py_XDECREF(broken);
    if (!rs->extra) {
        cu_wsgi_log_exception("Reloader");
        goto fail;
    }
    r = cu_reloader_new((enum cu_reload_engine)sv->cfg.reload_engine, &ops);
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

/* The thread state of the thread that serves, while it runs without the
 * GIL: the worker's main thread (sync) or a pool thread (gthread). */
static _Thread_local PyThreadState *tls_ts;

/* Where a gthread pool thread is, for --request-timeout's interrupt:
 * n, in_app and interrupted change with the GIL held only. Pool threads
 * never exit, so their entries stay valid. */
struct in_app {
    unsigned long ident;     /* the thread's Python ident */
    atomic_ulong n;          /* requests begun */
    atomic_int in_app;
    int interrupted;         /* a RequestTimeout was set for it */
    struct in_app *next;
};

static _Thread_local struct in_app tls_app;
static struct in_app *apps;  /* every pool thread's, under apps_mu */
static pthread_mutex_t apps_mu = PTHREAD_MUTEX_INITIALIZER;

/* ---- server hooks --------------------------------------------------------- */

/* One request with pre_request/post_request around it (only built when one
 * of them is set: no cost per request otherwise). */
static int serve_hooked(struct server *sv, struct cu_request *q)
{
    struct cu_hooks *h = &sv->hooks;
    PyObject *req = cu_hooks_request(h, q), *env = NULL, *resp, *args;
    int n = h->post_request_args, rc;

    if (!req)
        cu_wsgi_log_exception("Exception while making the request for the hooks");
    else if (h->fn[CU_H_PRE_REQUEST])
        (void)cu_hooks_call(h, CU_H_PRE_REQUEST, PyTuple_Pack(2, h->worker, req));
    rc = cu_wsgi_serve(sv->wsgi, q, h->fn[CU_H_POST_REQUEST] && n >= 3 ? &env : NULL);
    if (req && h->fn[CU_H_POST_REQUEST]) {
        if (n >= 3 && !env)
            env = PyDict_New();  /* none was built: Gunicorn passes {} */
        if (n <= 2) {
            args = PyTuple_Pack(2, h->worker, req);
        } else if (n == 3) {
            args = env ? PyTuple_Pack(3, h->worker, req, env) : NULL;
        } else {
            resp = cu_hooks_response(h, q->out.status, (unsigned long long)q->out.bytes);
            args = resp && env ? PyTuple_Pack(4, h->worker, req, env, resp) : NULL;
            Py_XDECREF(resp);
        }
        (void)cu_hooks_call(h, CU_H_POST_REQUEST, args);
    }
    Py_XDECREF(env);
    Py_XDECREF(req);
    return rc;
}

/* The master's hooks (cu_master_ops.hook). */
static int master_hook(void *arg, int which, pid_t pid, int age, int old)
{
    static const int hook_of[] = {
        [CU_MASTER_HOOK_WHEN_READY] = CU_H_WHEN_READY,
        [CU_MASTER_HOOK_ON_RELOAD] = CU_H_ON_RELOAD,
        [CU_MASTER_HOOK_PRE_FORK] = CU_H_PRE_FORK,
        [CU_MASTER_HOOK_CHILD_EXIT] = CU_H_CHILD_EXIT,
        [CU_MASTER_HOOK_NWORKERS_CHANGED] = CU_H_NWORKERS_CHANGED,
        [CU_MASTER_HOOK_ON_EXIT] = CU_H_ON_EXIT,
        [CU_MASTER_HOOK_PRE_EXEC] = CU_H_PRE_EXEC,
    };
    struct server *sv = arg;
    struct cu_hooks *h = &sv->hooks;
    int hk = hook_of[which];
    PyObject *n, *w, *args;

    if (!h->fn[hk] || !h->server)
        return 0;
    n = PyLong_FromLong(sv->mc->workers);
    if (!n || PyObject_SetAttrString(h->server, "num_workers", n) < 0)
        PyErr_Clear();
    Py_XDECREF(n);
    switch (which) {
    case CU_MASTER_HOOK_PRE_FORK:
    case CU_MASTER_HOOK_CHILD_EXIT:
        w = cu_hooks_worker(h, age, pid);
        args = w ? PyTuple_Pack(2, h->server, w) : NULL;
        Py_XDECREF(w);
        break;
    case CU_MASTER_HOOK_NWORKERS_CHANGED:
        args = Py_BuildValue("(Oii)", h->server, sv->mc->workers, old);
        break;
    default:
        args = PyTuple_Pack(1, h->server);
        break;
    }
    return cu_hooks_call(h, hk, args);
}

/* At start-up, before the sockets: the server object, then
 * nworkers_changed(server, workers, None) and on_starting(server). An
 * exception in either stops the start (exit 1), as in Gunicorn. */
static int hooks_start(struct server *sv)
{
    struct cu_hooks *h = &sv->hooks;

    if (!cu_hooks_any(h))
        return 0;
    if (cu_hooks_server(h, &sv->cfg, getpid(), sv->cfg.workers) < 0) {
        cu_wsgi_log_exception("Exception while making the server object for the hooks");
        return -1;
    }
    if (cu_hooks_call(h, CU_H_NWORKERS_CHANGED,
                      Py_BuildValue("(OiO)", h->server, sv->cfg.workers, Py_None)) < 0 ||
        cu_hooks_call(h, CU_H_ON_STARTING, PyTuple_Pack(1, h->server)) < 0)
        return -1;
    return 0;
}

/* In a new worker: its object, post_fork(server, worker), and the thread
 * that runs worker_int/worker_abort (and worker_exit) on INT/QUIT/ABRT.
 * Returns 0, or -1 (the worker failed to boot). */
static int hooks_worker_start(struct server *sv, int age)
{
    struct cu_hooks *h = &sv->hooks;
    int ints = h->fn[CU_H_WORKER_INT] || h->fn[CU_H_WORKER_EXIT];
    int abrt = h->fn[CU_H_WORKER_ABORT] || h->fn[CU_H_WORKER_EXIT];
    int fd;

    if (!h->server)
        return 0;
    if (!(h->worker = cu_hooks_worker(h, age, getpid()))) {
        cu_wsgi_log_exception("Exception in worker process");
        return -1;
    }
    if (cu_hooks_call(h, CU_H_POST_FORK, PyTuple_Pack(2, h->server, h->worker)) < 0)
        return -1;
    if ((ints || abrt) && ((fd = cu_worker_signal_pipe(ints, abrt)) < 0 ||
                           cu_hooks_signal_thread(h, fd) < 0))
        return -1;
    return 0;
}

/* After the app is loaded: worker.wsgi, then post_worker_init(worker). */
static int hooks_worker_ready(struct server *sv)
{
    struct cu_hooks *h = &sv->hooks;

    if (!h->worker)
        return 0;
    if (PyObject_SetAttrString(h->worker, "wsgi", sv->app) < 0 ||
        cu_hooks_call(h, CU_H_POST_WORKER_INIT, PyTuple_Pack(1, h->worker)) < 0) {
        PyErr_Clear();
        return -1;
    }
    if (PyObject_SetAttrString(h->worker, "booted", Py_True) < 0)
        PyErr_Clear();
    return 0;
}

/* The worker's hand-off: takes the GIL for the length of one request. */
static int serve(void *arg, struct cu_request *q)
{
    struct server *sv = arg;
    int rc;

    PyEval_RestoreThread(tls_ts);
    tls_app.n++;  /* these three change with the GIL held only */
    tls_app.in_app = 1;
    if (sv->hooks.fn[CU_H_PRE_REQUEST] || sv->hooks.fn[CU_H_POST_REQUEST])
        rc = serve_hooked(sv, q);
    else
        rc = cu_wsgi_serve(sv->wsgi, q, NULL);
    tls_app.in_app = 0;
    if (tls_app.interrupted) {  /* a RequestTimeout that never went off */
        tls_app.interrupted = 0;
        (void)PyThreadState_SetAsyncExc(tls_app.ident, NULL);
    }
    tls_ts = PyEval_SaveThread();
    return rc;
}

/* A gthread pool thread, before its first request: a thread state of its
 * own, kept for the thread's life (the process exits under it). */
static void thread_start(void *arg)
{
    (void)arg;
    (void)PyGILState_Ensure();
    tls_app.ident = PyThread_get_thread_ident();
    pthread_mutex_lock(&apps_mu);
    tls_app.next = apps;
    apps = &tls_app;
    pthread_mutex_unlock(&apps_mu);
    tls_ts = PyEval_SaveThread();
}

/* A gthread pool thread, before it closes a connection the bridge kept
 * objects on. */
static void conn_free(void *arg, struct cu_conn *c)
{
    struct server *sv = arg;

    PyEval_RestoreThread(tls_ts);
    cu_wsgi_conn_free(sv->wsgi, c);
    tls_ts = PyEval_SaveThread();
}

/* --request-timeout with gthread: RequestTimeout raised in the thread
 * that runs the app. Done by a short-lived thread of its own, since
 * taking the GIL may wait for as long as the app holds it. */
struct interrupt {
    struct server *sv;
    struct in_app *who;
    unsigned long n;   /* the request it was in when the timeout was seen */
};

static void *interrupt_main(void *arg)
{
    struct interrupt *in = arg;
    PyGILState_STATE g = PyGILState_Ensure();

    /* with the GIL: still in the app, and in the same request? */
    if (in->who->in_app && in->who->n == in->n &&
        PyThreadState_SetAsyncExc(in->who->ident, in->sv->types->request_timeout) == 1)
        in->who->interrupted = 1;
    else
        cu_log(CU_WARNING, "--request-timeout: thread %#lx had left that request",
               in->who->ident);
    PyGILState_Release(g);
    free(in);
    return NULL;
}

static void interrupt(void *arg, unsigned long thread)
{
    struct interrupt *in = malloc(sizeof(*in));
    struct in_app *who;
    pthread_t t;
    int rc;

    if (!in) {
        cu_log(CU_ERROR, "--request-timeout: out of memory");
        return;
    }
    pthread_mutex_lock(&apps_mu);
    for (who = apps; who && who->ident != thread; who = who->next)
        ;
    pthread_mutex_unlock(&apps_mu);
    if (!who) {
        free(in);
        return;
    }
    in->sv = arg;
    in->who = who;
    in->n = who->n;  /* a racy read, checked again with the GIL */
    rc = pthread_create(&t, NULL, interrupt_main, in);
    if (rc) {
        cu_log(CU_ERROR, "--request-timeout: a thread: %s", strerror(rc));
        free(in);
        return;
    }
    pthread_detach(t);
}

/* The signal a gthread worker raises on a thread stuck past --timeout:
 * faulthandler, registered for it, writes that thread's Python stack. */
static int dump_signal(void)
{
    return SIGRTMIN + 1;
}

static void freeze_gc(void);

static int worker_serve(struct server *sv, int age, struct cu_worker_slot *slot)
{
    struct cu_wsgi_opts opts = {0};
    struct cu_worker_env env;
    struct cu_allow allow, proxy_allow;
    const struct cu_worker_class *k;
    PyObject *r;
    int rc, gthread;

    set_title(sv, "worker");
    if (hooks_worker_start(sv, age) < 0 || cu_worker_signals(slot) < 0 ||
        drop_privileges(sv) < 0)
        return CU_EXIT_WORKER_BOOT;
    /* Beyond Gunicorn: when the master aborts a frozen worker, the Python
     * stack of every thread goes to the error log first (faulthandler's
     * dump is signal-safe), then the worker's own handler runs. */
    k = cu_worker_class_pick(sv->cfg.worker_class, sv->cfg.threads);
    gthread = k != NULL && (k->flags & CU_WC_THREADS) != 0;
    r = PyObject_CallMethod(sv->loader, "dump_stacks", "ii", cu_log_error_fd(),
                            gthread ? dump_signal() : 0);
    if (r && !gthread && sv->cfg.request_timeout > 0) {
        /* sync: SIGALRM raises RequestTimeout in the app (see sync.c) */
        Py_DECREF(r);
        r = PyObject_CallMethod(sv->loader, "request_alarm", NULL);
    }
    if (!r)
        cu_wsgi_log_exception("faulthandler");
    Py_XDECREF(r);
    if (sv->cfg.reload && (rc = start_reloading(sv)) != 0)
        return rc;
    if (!sv->app) {
        if ((rc = load_app(sv)) != 0)
            return rc;
        /* Ours: what the import made lives as long as the worker; out of
         * the collector's way, a request's young objects are all it scans
         * (hello world: ~14% more requests per second on one core) */
        freeze_gc();
    }
    opts.multiprocess = sv->cfg.workers > 1;
    opts.multithread = gthread;
    opts.errors_fd = cu_log_error_fd();
    opts.sendfile = sv->cfg.sendfile;
    opts.server_software = "cunicorn/" CU_VERSION;
    sv->wsgi = cu_wsgi_new(sv->app, sv->types, &opts);
    if (!sv->wsgi) {
        cu_wsgi_log_exception("Exception in worker process");
        return CU_EXIT_WORKER_BOOT;
    }
    if (hooks_worker_ready(sv) < 0)
        return CU_EXIT_WORKER_BOOT;
    slot->booted = 1;
    memset(&env, 0, sizeof(env));
    env.listeners = sv->listeners;
    env.n_listeners = sv->n_listeners;
    env.http = &sv->http;
    env.proxy = (enum http_proxy_mode)sv->cfg.proxy_protocol;
    env.timeout = sv->cfg.timeout;
    env.graceful_timeout = sv->cfg.graceful_timeout;
    env.max_requests = sv->cfg.max_requests;
    if (env.max_requests > 0 && sv->cfg.max_requests_jitter > 0) {
        /* Gunicorn's: max_requests + randint(0, jitter), per worker */
        srandom((unsigned)getpid() ^ (unsigned)time(NULL));
        env.max_requests += (int)(random() % ((long)sv->cfg.max_requests_jitter + 1));
    }
    env.keepalive = sv->cfg.keepalive;
    env.worker_connections = sv->cfg.worker_connections;
    env.threads = sv->cfg.threads;
    env.buffer_body = (size_t)sv->cfg.buffer_body;
    env.dump_signal = gthread ? dump_signal() : 0;
    env.thread_start = thread_start;
    env.conn_free = conn_free;
    env.interrupt = interrupt;
    env.request_timeout = sv->cfg.request_timeout;
    if (cu_allow_compile(&allow, (const char *const *)sv->cfg.forwarded_allow_ips.v,
                         sv->cfg.forwarded_allow_ips.n, NULL, 0) < 0 ||
        cu_allow_compile(&proxy_allow, (const char *const *)sv->cfg.proxy_allow_ips.v,
                         sv->cfg.proxy_allow_ips.n, NULL, 0) < 0) {
        cu_log(CU_ERROR, "out of memory for the allow lists");
        return CU_EXIT_WORKER_BOOT;
    }
    env.allow = &allow;
    env.proxy_allow = &proxy_allow;
    env.serve = serve;
    env.app = sv;
    env.slot = slot;
    env.ppid = sv->master_pid;  /* not getppid(): the master may be gone */
    tls_ts = PyEval_SaveThread();
    if (gthread) {  /* returns with the pool still running: no GIL again, */
        rc = cu_gthread_run(&env);
        if (sv->hooks.fn[CU_H_WORKER_EXIT])  /* but for worker_exit */
            PyEval_RestoreThread(tls_ts);
        return rc;
    }
    rc = cu_sync_run(&env);
    PyEval_RestoreThread(tls_ts);
    return rc;
}

/* A worker's life; worker_exit(server, worker) on every way out, as
 * Gunicorn's finally-block (INT/QUIT/ABRT: the hooks' thread calls it). */
static int worker_main(void *arg, int age, struct cu_worker_slot *slot)
{
    struct server *sv = arg;
    int rc = worker_serve(sv, age, slot);
    struct cu_hooks *h = &sv->hooks;

    if (h->fn[CU_H_WORKER_EXIT] && h->worker) {
        PyObject *r;

        (void)cu_hooks_call(h, CU_H_WORKER_EXIT, PyTuple_Pack(2, h->server, h->worker));
        r = PyObject_CallMethod(h->mod, "flush", NULL);
        Py_XDECREF(r);
        PyErr_Clear();
    }
    return rc;
}

static void before_fork(void *arg)
{
    (void)arg;
    PyOS_BeforeFork();
}

static void after_fork_parent(void *arg)
{
    (void)arg;
    PyOS_AfterFork_Parent();
}

/* os.environ is Python's copy of the environment from start-up: drop the
 * hand-over variables the C side has removed since (the inherited sockets'
 * on adoption, GUNICORN_PID on promotion), as Gunicorn pops them. */
static void environ_sync(void)
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
        cu_wsgi_log_exception("os.environ");
    Py_XDECREF(env);
    Py_XDECREF(os);
}

static void after_fork_child(void *arg)
{
    (void)arg;
    PyOS_AfterFork_Child();
    environ_sync();
}

/* TERM/INT/QUIT: the master's copies of the listeners go. */
static void close_listeners(void *arg)
{
    struct server *sv = arg;

    for (size_t i = 0; i < sv->n_listeners; i++)
        if (sv->listeners[i].fd >= 0) {
            close(sv->listeners[i].fd);
            sv->listeners[i].fd = -1;
        }
}

static void reopen_logs(void *arg)
{
    (void)arg;
    if (cu_log_reopen() < 0)
        cu_log(CU_ERROR, "reopening the logs: %s", strerror(errno));
}

/* Before the first fork: every object the master holds (with --preload,
 * the app) moves to the collector's permanent generation, so collections in
 * the workers never write to those objects, and the pages they are on stay
 * shared with the master instead of being copied into each worker. */
static void freeze_gc(void)
{
    PyObject *gc = PyImport_ImportModule("gc");
    PyObject *r = gc ? PyObject_CallMethod(gc, "freeze", NULL) : NULL;

    if (!r)
        cu_wsgi_log_exception("gc.freeze()");
    Py_XDECREF(r);
    Py_XDECREF(gc);
}

/* ---- main ----------------------------------------------------------------- */

static int run(struct server *sv)
{
    struct cu_master_config mc;
    struct cu_master_ops ops = {worker_main, before_fork, after_fork_parent,
                                after_fork_child, reload, reopen_logs,
                                close_listeners, NULL};
    char err[512];
    const struct cu_worker_class *k;
    PyObject *r;

    if (!sv->cfg.app) {
        fprintf(stderr, "Error: No application module specified.\n");
        return 1;
    }
    if (!(k = cu_derive_worker_class(&sv->cfg, err, sizeof(err)))) {
        fprintf(stderr, "Error: %s\n", err);
        return 1;
    }
    if (cu_log_open(sv->cfg.errorlog, sv->cfg.accesslog,
                    cu_config_choice(&sv->cfg, cu_setting_find("loglevel")), err,
                    sizeof(err)) < 0 ||
        cu_access_format_set(sv->cfg.access_log_format, err, sizeof(err)) < 0) {
        fprintf(stderr, "Error: %s\n", err);
        return 1;
    }
    /* --capture-output: the process's own stdout and stderr go to the
     * error log file (not when that is stderr already) */
    logs_open = 1;
    if (sv->cfg.capture_output && strcmp(sv->cfg.errorlog, "-") != 0 &&
        cu_log_capture() < 0) {
        fprintf(stderr, "Error: --capture-output: %s\n", strerror(errno));
        return 1;
    }
    for (size_t i = 0; i < sv->cfg.raw_env.n; i++)
        if (putenv(sv->cfg.raw_env.v[i]) != 0) {
            fprintf(stderr, "Error: --env %s: %s\n", sv->cfg.raw_env.v[i], strerror(errno));
            return 1;
        }
    r = PyObject_CallMethod(sv->loader, "setup_paths", "zz", sv->cfg.chdir,
                            sv->cfg.pythonpath);
    if (!r) {
        PyErr_Print();
        return 1;
    }
    Py_DECREF(r);
    if (http_settings(sv) < 0) {
        fprintf(stderr, "cunicorn: out of memory\n");
        return 1;
    }
    if (sv->cfg.check_config || sv->cfg.print_config) {
        if (sv->cfg.print_config)
            cu_config_print(&sv->cfg, stdout);
        return load_app(sv) == 0 ? 0 : 1;
    }
    if (resolve_ids(sv) < 0)
        return 1;
    if (sv->cfg.daemon && getenv("NOTIFY_SOCKET"))
        fprintf(stderr, "Warning: you shouldn't specify `daemon = True` when "
                "launching by systemd with `Type = notify`\n");
    /* A USR2 child stays under its old master (already detached). */
    if (sv->cfg.daemon && !getenv("GUNICORN_FD") && daemonize() < 0)
        return 1;
    if (cu_proctitle_init() < 0)
        cu_log(CU_DEBUG, "No process titles: the argv area was not found");
    set_title(sv, "master");
    umask((mode_t)sv->cfg.umask);
    cu_log(CU_INFO, "Starting cunicorn %s", CU_VERSION);
    if (hooks_start(sv) < 0)
        return 1;
    ops.hook = master_hook;
    if (open_listeners(sv) < 0)
        return 1;
    environ_sync();
    cu_log(CU_INFO, "Using worker: %s", k->name);
    if (sv->cfg.preload_app) {
        int rc = load_app(sv);
        if (rc)
            return rc;
        if (sv->cfg.reload)
            cu_log(CU_WARNING, "--reload with --preload: the workers restart "
                   "when a file changes, but they are forked from this master, "
                   "which keeps the code it preloaded; only modules the "
                   "workers import themselves are loaded anew");
    }
    freeze_gc();
    sv->master_pid = getpid();
    sv->mc = &mc;
    master_settings(sv);
    sv->up.listeners = &sv->listeners;
    sv->up.n_listeners = &sv->n_listeners;
    mc.upgrade = &sv->up;
    return cu_master_run(&mc, &ops, sv);
}

/* For USR2: the same interpreter runs `-m cunicorn` with these arguments
 * again, in the environment and directory of now (before --env and
 * --chdir apply). 0, or -1 with a Python exception set. */
static int capture_start(struct server *sv)
{
    PyObject *exe = PySys_GetObject("executable");  /* borrowed */
    const char *head[] = {NULL, "-m", "cunicorn"};
    char err[256];

    if (exe && PyUnicode_Check(exe) && !(head[0] = PyUnicode_AsUTF8(exe)))
        return -1;
    if (cu_upgrade_capture(&sv->up, head, 3, sv->argc, sv->argv, err, sizeof(err)) < 0) {
        PyErr_Format(PyExc_OSError, "cunicorn: %s", err);
        return -1;
    }
    return 0;
}

static PyObject *cunicorn_main(PyObject *module, PyObject *args)
{
    struct module_state *st = PyModule_GetState(module);
    struct server sv;
    PyObject *list, *loader;
    char **argv;
    Py_ssize_t argc;
    int rc, unlink;

    if (!PyArg_ParseTuple(args, "O!:main", &PyList_Type, &list))
        return NULL;
    loader = PyImport_ImportModule("cunicorn._loader");
    if (!loader)
        return NULL;
    argc = PyList_GET_SIZE(list);
    argv = PyMem_Calloc((size_t)argc + 1, sizeof(char *));
    if (!argv) {
        Py_DECREF(loader);
        return PyErr_NoMemory();
    }
    for (Py_ssize_t i = 0; i < argc; i++) {
        PyObject *a = PyList_GET_ITEM(list, i);
        if (!PyUnicode_Check(a) || !(argv[i] = (char *)PyUnicode_AsUTF8(a))) {
            PyErr_SetString(PyExc_TypeError, "arguments must be str");
            PyMem_Free(argv);
            Py_DECREF(loader);
            return NULL;
        }
    }
    memset(&sv, 0, sizeof(sv));
    sv.loader = loader;
    sv.types = &st->types;
    sv.argc = (int)argc;
    sv.argv = argv;
    if (capture_start(&sv) < 0) {
        PyMem_Free(argv);
        Py_DECREF(loader);
        return NULL;
    }
    rc = resolve(&sv, (int)argc, argv);
    rc = rc >= 1000 ? rc - 1000 : run(&sv);
    fflush(stdout);
    /* The socket files stay while another master (USR2) or systemd
     * holds the same sockets. */
    unlink = !sv.up.n_systemd && !sv.up.parent && !sv.up.child && !sv.cfg.reuse_port;
    for (size_t i = 0; i < sv.n_listeners; i++)
        cu_listener_close(&sv.listeners[i], unlink);
    cu_upgrade_release(&sv.up);
    free(sv.listeners);
    free_http_settings(&sv);
    cu_config_free(&sv.cfg);
    cu_config_free(&sv.previous);
    cu_hooks_clear(&sv.hooks);
    Py_XDECREF(sv.app);
    Py_DECREF(loader);
    PyMem_Free(argv);
    return PyLong_FromLong(rc);
}

/* ---- the module ----------------------------------------------------------- */

static int cunicorn_exec(PyObject *m)
{
    struct module_state *st = PyModule_GetState(m);

    if (PyModule_AddStringConstant(m, "__version__", CU_VERSION) < 0)
        return -1;
    return cu_wsgi_types_init(m, &st->types);
}

static int cunicorn_traverse(PyObject *m, visitproc visit, void *arg)
{
    struct module_state *st = PyModule_GetState(m);

    return st ? cu_wsgi_types_traverse(&st->types, visit, arg) : 0;
}

static int cunicorn_clear(PyObject *m)
{
    struct module_state *st = PyModule_GetState(m);

    if (st)
        cu_wsgi_types_clear(&st->types);
    return 0;
}

static void cunicorn_free(void *m)
{
    cunicorn_clear((PyObject *)m);
}

static PyObject *cunicorn_armed(PyObject *module, PyObject *unused)
{
    (void)module;
    (void)unused;
    return PyBool_FromLong(cu_request_armed);
}

static PyObject *cunicorn_worker_alive(PyObject *module, PyObject *unused)
{
    (void)module;
    (void)unused;
    return PyBool_FromLong(!cu_worker_stop && !cu_worker_signalled);
}

static PyMethodDef cunicorn_methods[] = {
    {"main", cunicorn_main, METH_VARARGS,
     "main(argv) -> exit status: runs the server with these arguments."},
    {"_request_armed", cunicorn_armed, METH_NOARGS,
     "Whether a request runs under --request-timeout's alarm (sync)."},
    {"_log", cu_hooks_py_log, METH_VARARGS,
     "_log(level, text): a line in the error log (the hooks' log object)."},
    {"_worker_alive", cunicorn_worker_alive, METH_NOARGS,
     "False once this worker was asked to stop (worker.alive)."},
    {NULL, NULL, 0, NULL},
};

static PyModuleDef_Slot cunicorn_slots[] = {
    {Py_mod_exec, (void *)cunicorn_exec},
    {0, NULL},
};

static struct PyModuleDef cunicorn_module = {
    PyModuleDef_HEAD_INIT,
    .m_name = "cunicorn._cunicorn",
    .m_doc = "The C core of cunicorn.",
    .m_size = sizeof(struct module_state),
    .m_methods = cunicorn_methods,
    .m_slots = cunicorn_slots,
    .m_traverse = cunicorn_traverse,
    .m_clear = cunicorn_clear,
    .m_free = cunicorn_free,
};

PyMODINIT_FUNC PyInit__cunicorn(void);

PyMODINIT_FUNC PyInit__cunicorn(void)
{
    return PyModuleDef_Init(&cunicorn_module);
}
