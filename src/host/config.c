/*
 * The configuration, at start-up and on HUP: the layers resolved into one
 * struct cu_config (defaults < config file < GUNICORN_CMD_ARGS < command
 * line; docs/compat.md, "Settings"), and what the subsystems are given
 * from it. A config file is Python: cunicorn._configfile (through
 * cunicorn._loader.read_config) executes it and hands
 * its top-level names over; each goes through its setting's validator as
 * text, a server hook to src/host/hooks.c.
 */
#include "host/host.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/errbuf.h"
#include "core/log.h"
#include "core/proctitle.h"
#include "cu_version.h"
#include "http2/plugin.h"
#include "wsgi/report.h"

/* One value of a list or dict as text, through the validator. */
static int set_text(struct cu_config *c, const struct cu_setting *s, PyObject *text,
                    int append, char *err, size_t errlen)
{
    const char *t = PyUnicode_AsUTF8(text);

    return t ? cu_config_set(c, s, t, append, err, errlen) : -1;
}

/* A config file value, handed to the setting's validator as text.
 * 0, or -1 with a message in err or a Python error set. */
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
            rc = set_text(c, s, kv, 1, err, errlen);
            Py_DECREF(kv);
            if (rc < 0)
                return -1;
        }
        return 0;
    }
    if ((PyList_Check(v) || PyTuple_Check(v)) &&
        (s->type == CU_LIST || s->type == CU_CSV || s->type == CU_DICT)) {
        Py_ssize_t n = PySequence_Size(v);
        cu_config_clear(c, s);
        for (Py_ssize_t i = 0; i < n; i++) {
            PyObject *item = PySequence_GetItem(v, i);
            if (!item || !(str = PyObject_Str(item))) {
                Py_XDECREF(item);
                return -1;
            }
            Py_DECREF(item);
            rc = set_text(c, s, str, 1, err, errlen);
            Py_DECREF(str);
            if (rc < 0)
                return -1;
        }
        return 0;
    }
    if (PyType_Check(v)) {
        /* logger_class = SomeClass: by its dotted name (Gunicorn takes a
         * class there); pylog.c finds the class in the file's names */
        PyObject *mod = PyObject_GetAttrString(v, "__module__");
        PyObject *qual = mod ? PyObject_GetAttrString(v, "__qualname__") : NULL;
        str = qual ? PyUnicode_FromFormat("%S.%S", mod, qual) : NULL;
        Py_XDECREF(mod);
        Py_XDECREF(qual);
        if (!str)
            return -1;
        rc = set_text(c, s, str, 0, err, errlen);
        Py_DECREF(str);
        return rc;
    }
    if (PyCallable_Check(v) && !PyUnicode_Check(v)) {
        cu_seterr(err, errlen, "Invalid value for %s: a callable", s->name);
        return -1;
    }
    if (!(str = PyObject_Str(v)))
        return -1;
    rc = set_text(c, s, str, 0, err, errlen);
    Py_DECREF(str);
    return rc;
}

static int read_config_file(struct cu_host *h, const char *path)
{
    PyObject *names, *k, *v;
    Py_ssize_t pos = 0;
    char err[512];

    names = PyObject_CallMethod(h->loader, "read_config", "s", path);
    if (!names) {
        char what[600];
        (void)snprintf(what, sizeof(what), "Failed to read config file: %s", path);
        cu_report_exception(what);
        return -1;
    }
    while (PyDict_Next(names, &pos, &k, &v)) {
        const char *name = PyUnicode_Check(k) ? PyUnicode_AsUTF8(k) : NULL;
        const struct cu_setting *s = name ? cu_setting_find(name) : NULL;

        if (!s) {
            PyErr_Clear();  /* a name no setting has (or not text) */
            continue;       /* other names in the file are the file's business */
        }
        err[0] = '\0';
        if (s->type == CU_CALLABLE
                ? cu_hooks_set(&h->hooks, &h->cfg, s, v, err, sizeof(err)) < 0
                : set_from_python(&h->cfg, s, v, err, sizeof(err)) < 0) {
            if (PyErr_Occurred())
                cu_report_exception("Error in the config file");
            cu_report_error("Error: %s (in %s)", err[0] ? err : name, path);
            Py_DECREF(names);
            return -1;
        }
    }
    Py_XSETREF(h->file_names, names);  /* for Python mode (pylog.c) */
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

/* The layers into h->cfg; see host.h. */
int host_resolve(struct cu_host *h, int *status)
{
    struct cu_args cli = {0}, env = {0};
    char err[1024] = "";
    const char *env_args = getenv("GUNICORN_CMD_ARGS"), *path;
    int eargc = 0, rc = -1;
    char **eargv = NULL, *name_before = NULL;

    *status = 1;
    if (cu_config_init(&h->cfg) < 0) {
        cu_report_error("cunicorn: out of memory");
        return -1;
    }
    if (cu_args_parse(h->argc, h->argv, &cli, err, sizeof(err)) < 0) {
        cu_report_error("usage: cunicorn [OPTIONS] [APP_MODULE]\ncunicorn: error: %s", err);
        *status = 2;
        goto out;
    }
    if (cli.help || cli.version) {
        if (cli.help)
            cu_config_help(stdout, "cunicorn");
        else
            printf("cunicorn %s\n", CU_VERSION);
        *status = 0;
        goto out;
    }
    if (env_args && (cu_argv_split(env_args, &eargc, &eargv, err, sizeof(err)) < 0 ||
                     cu_args_parse(eargc, eargv, &env, err, sizeof(err)) < 0)) {
        cu_report_error("cunicorn: error in GUNICORN_CMD_ARGS: %s", err);
        *status = 2;
        goto out;
    }
    /* the APP_MODULE names the processes unless a layer above says
     * otherwise (Gunicorn sets it before reading the config file) */
    if ((cli.app || env.app) &&
        cu_config_set(&h->cfg, cu_setting_find("default_proc_name"),
                      cli.app ? cli.app : env.app, 0, err, sizeof(err)) < 0) {
        cu_report_error("Error: %s", err);
        goto out;
    }
    /* the process name so far: paste's file takes its place unless the
     * config file (the only layer that can) names another */
    if (!(name_before = strdup(h->cfg.default_proc_name))) {
        cu_report_error("cunicorn: out of memory");
        goto out;
    }
    path = config_arg(&cli) ? config_arg(&cli) : config_arg(&env);
    if (!path && access("gunicorn.conf.py", F_OK) == 0)
        path = "gunicorn.conf.py";
    if (path && read_config_file(h, path) < 0)
        goto out;
    if (cu_args_apply(&h->cfg, &env, err, sizeof(err)) < 0 ||
        cu_args_apply(&h->cfg, &cli, err, sizeof(err)) < 0 ||
        cu_config_finish(&h->cfg, err, sizeof(err)) < 0) {
        cu_report_error("Error: %s", err);
        goto out;
    }
    if (host_worker_subclass(h) < 0)
        goto out;
    free(h->cfg.app);
    h->cfg.app = NULL;
    path = cli.app ? cli.app : env.app ? env.app : h->cfg.wsgi_app;
    if (h->cfg.paste) {  /* from any layer, in place of an APP_MODULE */
        rc = host_paste_locate(h, path, name_before);
        goto out;
    }
    /* Gunicorn reads it only for paste, silently; Ours: a warning */
    if (h->cfg.raw_paste_global_conf.n)
        cu_log(CU_WARNING, "raw_paste_global_conf has no effect without paste");
    if (!path) {
        cu_report_error("Error: No application module specified.");
        goto out;
    }
    if (!(h->cfg.app = strdup(path))) {
        cu_report_error("cunicorn: out of memory");
        goto out;
    }
    rc = 0;
out:
    free(name_before);
    cu_args_free(&cli);
    cu_args_free(&env);
    if (eargv)
        cu_argv_free(eargc, eargv);
    return rc;
}

/* ---- what the subsystems are given ---------------------------------------- */

/* A new derived set from h->cfg, or NULL (reported). */
static struct cu_derived *derive(struct cu_host *h)
{
    struct cu_derived *d = malloc(sizeof(*d));
    char err[512];

    if (!d) {
        cu_report_error("cunicorn: out of memory");
        return NULL;
    }
    if (cu_derive(d, &h->cfg, err, sizeof(err)) < 0) {
        cu_report_error("Error: %s", err);
        free(d);
        return NULL;
    }
    /* HTTP/2's plugin loaded here, in the master, so that the workers
     * share it (src/http2/plugin.h; TLS's loaded with the context) */
    if (d->worker.h2.on && cu_h2tls_load(err, sizeof(err)) < 0) {
        cu_report_error("Error: http_protocols: %s", err);
        cu_derived_free(d);
        free(d);
        return NULL;
    }
    d->master.upgrade = &h->up;
    return d;
}

static void derived_free(struct cu_derived *d)
{
    if (d) {
        cu_derived_free(d);
        free(d);
    }
}

int host_derive(struct cu_host *h)
{
    struct cu_derived *d = derive(h);

    if (!d)
        return -1;
    derived_free(h->set);
    h->set = d;
    return 0;
}

void host_config_free(struct cu_host *h)
{
    derived_free(h->set);
    derived_free(h->retired);
    h->set = h->retired = NULL;
    cu_config_free(&h->cfg);
    free(h->worker_subclass);
    h->worker_subclass = NULL;
}

/* ---- HUP ------------------------------------------------------------------- */

/*
 * HUP: the configuration read again, from the same command line. The new
 * workers load the app afresh (unless it was preloaded). On failure the
 * old configuration stays, and so do the old workers.
 */
/* The index of the setting whose name comes next after prev's, by strcmp
 * (the order of --print-config); prev -1: the first. -1 after the last. */
static long next_by_name(long prev)
{
    long next = -1;

    for (size_t i = 0; i < cu_n_settings; i++) {
        const char *name = cu_settings[i].name;
        if ((prev < 0 || strcmp(name, cu_settings[prev].name) > 0) &&
            (next < 0 || strcmp(name, cu_settings[next].name) < 0))
            next = (long)i;
    }
    return next;
}

void host_log_config(const struct cu_host *h)
{
    char *text = NULL, *msg, *at, mark[128];
    size_t tlen = 0, width = 0, o, *off, *len;
    long k, next;
    FILE *f;

    if (!cu_log_enabled(CU_DEBUG))
        return;
    /* each value as --print-config shows it: "NAME<pad> = VALUE\n", by name */
    f = open_memstream(&text, &tlen);
    if (!f)
        return;
    cu_config_print(&h->cfg, f);
    if (fclose(f) != 0 || !text) {
        free(text);
        return;
    }
    for (size_t i = 0; i < cu_n_settings; i++)
        if (strlen(cu_settings[i].name) > width)
            width = strlen(cu_settings[i].name);
    off = calloc(cu_n_settings, sizeof(*off));
    len = calloc(cu_n_settings, sizeof(*len));
    msg = malloc(tlen + cu_n_settings * 4 + 32);
    if (!off || !len || !msg || width + 8 > sizeof(mark))
        goto out;
    at = text;
    for (k = next_by_name(-1); k >= 0; k = next) {
        char *end;
        next = next_by_name(k);
        at += width + 3;    /* the name, its padding and " = " */
        if (at > text + tlen)
            goto out;
        end = NULL;
        if (next >= 0) {    /* a value may hold a newline: the next name ends it */
            (void)snprintf(mark, sizeof(mark), "\n%-*s = ", (int)width, cu_settings[next].name);
            end = strstr(at, mark);
        }
        if (!end)
            end = text + tlen - (tlen && text[tlen - 1] == '\n');
        off[k] = (size_t)(at - text);
        len[k] = (size_t)(end - at);
        at = end + 1;
    }
    /* Gunicorn's arbiter: one message, the settings in the table's order */
    o = (size_t)sprintf(msg, "Current configuration:");
    for (size_t i = 0; i < cu_n_settings; i++) {
        o += (size_t)sprintf(msg + o, "\n  %s: ", cu_settings[i].name);
        memcpy(msg + o, text + off[i], len[i]);
        o += len[i];
    }
    cu_log_text(CU_DEBUG, msg, o);
out:
    free(off);
    free(len);
    free(msg);
    free(text);
}

int host_reconfigure(void *arg, const struct cu_master_config **next)
{
    struct cu_host *h = arg;
    struct cu_config old = h->cfg;
    struct cu_derived *d = NULL;
    struct cu_hooks old_hooks;
    int status;

    PyObject *old_names = h->file_names;

    h->file_names = NULL;
    memset(&h->cfg, 0, sizeof(h->cfg));
    cu_proctitle_state("reloading");
    cu_hooks_stash(&h->hooks, &old_hooks);
    /* as Gunicorn: the old raw_env's names get their start values back
     * before the config file runs again, and the new raw_env goes in */
    (void)host_raw_env(h, &old.raw_env, 0);
    if (host_resolve(h, &status) < 0 || !(d = derive(h))) {
        cu_log(CU_ERROR, "Reloading the configuration failed (the reason is above)");
        cu_proctitle_state(NULL);
        cu_hooks_unstash(&h->hooks, &old_hooks, 0);
        cu_config_free(&h->cfg);
        h->cfg = old;
        Py_XSETREF(h->file_names, old_names);
        (void)host_raw_env(h, &h->cfg.raw_env, 1);
        return -1;
    }
    Py_XDECREF(old_names);
    (void)host_raw_env(h, &h->cfg.raw_env, 1);
    /* as Gunicorn's logger on HUP; a failure is reported, and the
     * reload goes on */
    (void)host_open_logs(h, 1);
    if (h->cfg.paste)
        (void)host_paste_logging(h);
    (void)host_pylog_setup(h, 1);  /* a failure keeps the previous one */
    /* the set in use until now stays until the next reload: the master
     * copies its part, but keeps pointing at its strings */
    cu_config_free(&old);
    derived_free(h->retired);
    h->retired = h->set;
    h->set = d;
    host_title(h, "master");  /* the new name, if it changed */
    host_statsd_open(h);      /* Ours: HUP applies the statsd settings */
    (void)host_syslog_open(h, 0);  /* as Gunicorn's logger on HUP */
    host_spew(h);             /* on or off, for the workers forked next */
    cu_hooks_unstash(&h->hooks, &old_hooks, 1);
    if ((h->hooks.server || cu_hooks_any(&h->hooks)) &&
        cu_hooks_server(&h->hooks, &h->cfg, h->master_pid, h->cfg.workers) < 0)
        cu_report_exception("Exception while making the server object for the hooks");
    *next = &d->master;
    host_log_config(h);  /* as Gunicorn's arbiter does on reload */
    return 0;
}
