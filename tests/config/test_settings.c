/*
 * The settings table and the command line (src/config/settings.c): every
 * default, every flag in every form, the layers, the validators and their
 * errors, GUNICORN_CMD_ARGS splitting, --help and --print-config.
 */
#include "config/settings.h"
#include "../lib/tap.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define ARGV(...) ((const char *const[]){__VA_ARGS__, NULL})

static char err[512];

static void clear_env(void)
{
    unsetenv("PORT");
    unsetenv("WEB_CONCURRENCY");
    unsetenv("FORWARDED_ALLOW_IPS");
    unsetenv("SENDFILE");
}

static int argv_len(const char *const *argv)
{
    int n = 0;

    while (argv[n] != NULL)
        n++;
    return n;
}

/* 0 ok, -1 cu_args_apply failed, -2 cu_args_parse failed (err set). */
static int parse_apply(struct cu_config *c, const char *const *argv)
{
    struct cu_args a;
    int rc;

    err[0] = '\0';
    if (cu_args_parse(argv_len(argv), (char *const *)argv, &a, err,
                      sizeof err) < 0)
        return -2;
    rc = cu_args_apply(c, &a, err, sizeof err);
    cu_args_free(&a);
    return rc;
}

/* A fresh config with argv applied; the caller frees it. */
static int fresh(struct cu_config *c, const char *const *argv)
{
    if (cu_config_init(c) < 0) {
        diag("cu_config_init failed");
        exit(1);
    }
    return parse_apply(c, argv);
}

static char *capture_print(const struct cu_config *c)
{
    char *buf = NULL;
    size_t n = 0;
    FILE *f = open_memstream(&buf, &n);

    if (f == NULL)
        exit(1);
    cu_config_print(c, f);
    fclose(f);
    return buf;
}

static char *capture_help(const char *prog)
{
    char *buf = NULL;
    size_t n = 0;
    FILE *f = open_memstream(&buf, &n);

    if (f == NULL)
        exit(1);
    cu_config_help(f, prog);
    fclose(f);
    return buf;
}

/* The text after "name<spaces> = " on name's --print-config line. */
static int printed_is(const struct cu_config *c, const char *name,
                      const char *want)
{
    char *all = capture_print(c);
    size_t len = strlen(name);
    int same = 0;

    for (char *line = all; line != NULL && *line != '\0';) {
        char *nl = strchr(line, '\n');
        char *eq = strstr(line, " = ");

        if (nl != NULL)
            *nl = '\0';
        if (strncmp(line, name, len) == 0 && eq != NULL &&
            strspn(line + len, " ") == (size_t)(eq - line - len) + 1) {
            same = strcmp(eq + 3, want) == 0;
            if (!same)
                diag("%s is %s, want %s", name, eq + 3, want);
            break;
        }
        line = nl ? nl + 1 : NULL;
    }
    free(all);
    return same;
}

static int strv_is(const struct cu_strv *l, const char *const *want)
{
    size_t n = 0;

    while (want[n] != NULL)
        n++;
    if (l->n != n)
        return 0;
    for (size_t i = 0; i < n; i++) {
        if (strcmp(l->v[i], want[i]) != 0)
            return 0;
    }
    return 1;
}

/* ---- the table -------------------------------------------------------- */

struct expect {
    const char *name;
    enum cu_stype type;
    const char *flags;   /* space-separated, "" for file only */
};

static const struct expect expected[] = {
    {"config", CU_STR, "-c --config"},
    {"wsgi_app", CU_STR_OPT, ""},
    {"bind", CU_LIST, "-b --bind"},
    {"backlog", CU_INT, "--backlog"},
    {"workers", CU_INT, "-w --workers"},
    {"worker_class", CU_CHOICE, "-k --worker-class"},
    {"threads", CU_INT, "--threads"},
    {"worker_connections", CU_INT, "--worker-connections"},
    {"max_requests", CU_INT, "--max-requests"},
    {"max_requests_jitter", CU_INT, "--max-requests-jitter"},
    {"timeout", CU_INT, "-t --timeout"},
    {"graceful_timeout", CU_INT, "--graceful-timeout"},
    {"keepalive", CU_INT, "--keep-alive"},
    {"buffer_body", CU_INT, "--buffer-body"},  /* ours */
    {"max_worker_lifetime", CU_INT, "--max-worker-lifetime"},  /* ours */
    {"request_timeout", CU_INT, "--request-timeout"},  /* ours */
    {"max_worker_memory", CU_INT, "--max-worker-memory"},  /* ours */
    {"limit_request_line", CU_INT, "--limit-request-line"},
    {"limit_request_fields", CU_INT, "--limit-request-fields"},
    {"limit_request_field_size", CU_INT, "--limit-request-field_size"},
    {"check_config", CU_BOOL, "--check-config"},
    {"print_config", CU_BOOL, "--print-config"},
    {"reload", CU_BOOL, "--reload"},
    {"reload_engine", CU_CHOICE, "--reload-engine"},
    {"reload_extra_files", CU_LIST, "--reload-extra-file"},
    {"preload_app", CU_BOOL, "--preload"},
    {"reuse_port", CU_BOOL, "--reuse-port"},
    {"chdir", CU_STR, "--chdir"},
    {"daemon", CU_BOOL, "-D --daemon"},
    {"raw_env", CU_LIST, "-e --env"},
    {"pidfile", CU_STR_OPT, "-p --pid"},
    {"worker_tmp_dir", CU_STR_OPT, "--worker-tmp-dir"},
    {"user", CU_STR_OPT, "-u --user"},
    {"group", CU_STR_OPT, "-g --group"},
    {"umask", CU_OCTAL, "-m --umask"},
    {"initgroups", CU_BOOL, "--initgroups"},
    {"sendfile", CU_BOOL, "--no-sendfile"},
    {"secure_scheme_headers", CU_DICT, ""},
    {"forwarded_allow_ips", CU_CSV, "--forwarded-allow-ips"},
    {"pythonpath", CU_STR_OPT, "--pythonpath"},
    {"proxy_protocol", CU_CHOICE, "--proxy-protocol"},
    {"proxy_allow_ips", CU_CSV, "--proxy-allow-from"},
    {"permit_obsolete_folding", CU_BOOL, "--permit-obsolete-folding"},
    {"strip_header_spaces", CU_BOOL, "--strip-header-spaces"},
    {"permit_unconventional_http_method", CU_BOOL,
     "--permit-unconventional-http-method"},
    {"permit_unconventional_http_version", CU_BOOL,
     "--permit-unconventional-http-version"},
    {"casefold_http_method", CU_BOOL, "--casefold-http-method"},
    {"forwarder_headers", CU_CSV, "--forwarder-headers"},
    {"header_map", CU_CHOICE, "--header-map"},
    {"accesslog", CU_STR_OPT, "--access-logfile"},
    {"access_log_format", CU_STR, "--access-logformat"},
    {"errorlog", CU_STR, "--error-logfile --log-file"},
    {"loglevel", CU_CHOICE, "--log-level"},
    {"capture_output", CU_BOOL, "--capture-output"},
    {"proc_name", CU_STR_OPT, "-n --name"},
    {"default_proc_name", CU_STR, ""},
    {"on_starting", CU_CALLABLE, ""},
    {"on_reload", CU_CALLABLE, ""},
    {"when_ready", CU_CALLABLE, ""},
    {"pre_fork", CU_CALLABLE, ""},
    {"post_fork", CU_CALLABLE, ""},
    {"post_worker_init", CU_CALLABLE, ""},
    {"worker_int", CU_CALLABLE, ""},
    {"worker_abort", CU_CALLABLE, ""},
    {"pre_exec", CU_CALLABLE, ""},
    {"pre_request", CU_CALLABLE, ""},
    {"post_request", CU_CALLABLE, ""},
    {"child_exit", CU_CALLABLE, ""},
    {"worker_exit", CU_CALLABLE, ""},
    {"nworkers_changed", CU_CALLABLE, ""},
    {"on_exit", CU_CALLABLE, ""},
    {"ssl_context", CU_CALLABLE, ""},
};

#define N_EXPECTED (sizeof expected / sizeof expected[0])

static void test_table(void)
{
    int names_ok = 1, flags_ok = 1, offsets_ok = 1;

    ok(cu_n_settings == N_EXPECTED, "%zu settings, one per field (%zu)",
       cu_n_settings, N_EXPECTED);
    for (size_t i = 0; i < N_EXPECTED; i++) {
        const struct cu_setting *s = cu_setting_find(expected[i].name);
        char flags[128] = "";

        if (s == NULL || s->type != expected[i].type) {
            diag("%s missing or of the wrong type", expected[i].name);
            names_ok = 0;
            continue;
        }
        for (size_t j = 0; j < 3 && s->flags[j] != NULL; j++) {
            if (j)
                strcat(flags, " ");
            strcat(flags, s->flags[j]);
            if (cu_setting_by_flag(s->flags[j]) != s)
                flags_ok = 0;
        }
        if (strcmp(flags, expected[i].flags) != 0) {
            diag("%s has flags '%s', want '%s'", s->name, flags,
                 expected[i].flags);
            flags_ok = 0;
        }
        if (s->help == NULL || s->section == NULL ||
            (s->type != CU_BOOL && s->meta == NULL) ||
            (s->type == CU_CHOICE && s->choices == NULL))
            names_ok = 0;
    }
    ok(names_ok, "every field of struct cu_config is a setting of its type");
    ok(flags_ok, "flags are exactly Gunicorn's and found by cu_setting_by_flag");
    for (size_t i = 0; i < cu_n_settings; i++) {
        if (cu_settings[i].offset >= offsetof(struct cu_config, app))
            offsets_ok = 0;
        for (size_t j = 0; j < i; j++) {
            if (cu_settings[i].offset == cu_settings[j].offset ||
                strcmp(cu_settings[i].name, cu_settings[j].name) == 0)
                offsets_ok = 0;
        }
    }
    ok(offsets_ok, "names and fields are unique; app is not a setting");
    ok(cu_setting_find("nope") == NULL, "unknown name: NULL");
    ok(cu_setting_by_flag("--nope") == NULL, "unknown flag: NULL");
    ok(cu_setting_by_flag("--help") == NULL, "--help is not a setting");
    ok(cu_setting_by_flag("--limit-request-field-size") == NULL,
       "--limit-request-field-size (all dashes) is not a flag");
}

/* ---- defaults --------------------------------------------------------- */

static void test_defaults(void)
{
    struct cu_config c;
    struct stat a, b;

    clear_env();
    ok(cu_config_init(&c) == 0, "cu_config_init");
    ok(strcmp(c.config, "./gunicorn.conf.py") == 0, "config");
    ok(c.wsgi_app == NULL, "wsgi_app unset");
    ok(strv_is(&c.bind, ARGV("127.0.0.1:8000")), "bind");
    ok(c.backlog == 2048, "backlog 2048");
    ok(c.workers == 1, "workers 1");
    ok(strcmp(c.worker_class, "sync") == 0, "worker_class sync");
    ok(c.threads == 1, "threads 1");
    ok(c.worker_connections == 1000, "worker_connections 1000");
    ok(c.max_requests == 0, "max_requests 0");
    ok(c.max_requests_jitter == 0, "max_requests_jitter 0");
    ok(c.timeout == 30, "timeout 30");
    ok(c.graceful_timeout == 30, "graceful_timeout 30");
    ok(c.keepalive == 2, "keepalive 2");
    ok(c.limit_request_line == 4094, "limit_request_line 4094");
    ok(c.limit_request_fields == 100, "limit_request_fields 100");
    ok(c.limit_request_field_size == 8190, "limit_request_field_size 8190");
    ok(!c.check_config && !c.print_config, "check_config, print_config off");
    ok(!c.reload && strcmp(c.reload_engine, "auto") == 0 &&
       c.reload_extra_files.n == 0, "reload off, engine auto, no extra files");
    ok(!c.preload_app && !c.reuse_port && !c.daemon && !c.initgroups,
       "preload_app, reuse_port, daemon, initgroups off");
    ok(c.chdir != NULL && c.chdir[0] == '/' && stat(c.chdir, &a) == 0 &&
       stat(".", &b) == 0 && a.st_ino == b.st_ino && a.st_dev == b.st_dev,
       "chdir is the absolute current directory (%s)", c.chdir);
    ok(c.raw_env.n == 0, "raw_env empty");
    ok(c.pidfile == NULL && c.worker_tmp_dir == NULL, "pidfile, tmp dir unset");
    ok(c.user == NULL && c.group == NULL, "user, group unset");
    ok(c.umask == 0, "umask 0");
    ok(c.sendfile == 1, "sendfile on");
    ok(strv_is(&c.secure_scheme_headers,
               ARGV("X-FORWARDED-PROTOCOL=ssl", "X-FORWARDED-PROTO=https",
                    "X-FORWARDED-SSL=on")), "secure_scheme_headers");
    ok(strv_is(&c.forwarded_allow_ips, ARGV("127.0.0.1", "::1")),
       "forwarded_allow_ips");
    ok(c.pythonpath == NULL, "pythonpath unset");
    ok(strcmp(c.proxy_protocol, "off") == 0, "proxy_protocol off");
    ok(strv_is(&c.proxy_allow_ips, ARGV("127.0.0.1", "::1")),
       "proxy_allow_ips");
    ok(!c.permit_obsolete_folding && !c.strip_header_spaces &&
       !c.permit_unconventional_http_method &&
       !c.permit_unconventional_http_version && !c.casefold_http_method,
       "HTTP leniency switches off");
    ok(strv_is(&c.forwarder_headers, ARGV("SCRIPT_NAME", "PATH_INFO")),
       "forwarder_headers");
    ok(strcmp(c.header_map, "drop") == 0, "header_map drop");
    ok(c.accesslog == NULL, "accesslog unset");
    ok(strcmp(c.access_log_format,
              "%(h)s %(l)s %(u)s %(t)s \"%(r)s\" %(s)s %(b)s \"%(f)s\" "
              "\"%(a)s\"") == 0, "access_log_format");
    ok(strcmp(c.errorlog, "-") == 0, "errorlog -");
    ok(strcmp(c.loglevel, "info") == 0, "loglevel info");
    ok(!c.capture_output, "capture_output off");
    ok(c.proc_name == NULL, "proc_name unset");
    ok(strcmp(c.default_proc_name, "cunicorn") == 0, "default_proc_name");
    ok(c.app == NULL, "no app");
    cu_config_free(&c);
}

static void test_env_defaults(void)
{
    struct cu_config c;

    clear_env();
    setenv("PORT", "9000", 1);
    setenv("WEB_CONCURRENCY", "5", 1);
    setenv("FORWARDED_ALLOW_IPS", "10.0.0.0/8, *", 1);
    ok(cu_config_init(&c) == 0, "init with PORT, WEB_CONCURRENCY, "
       "FORWARDED_ALLOW_IPS");
    ok(strv_is(&c.bind, ARGV("0.0.0.0:9000")), "PORT: bind 0.0.0.0:9000");
    ok(c.workers == 5, "WEB_CONCURRENCY: workers 5");
    ok(strv_is(&c.forwarded_allow_ips, ARGV("10.0.0.0/8", "*")),
       "FORWARDED_ALLOW_IPS split and stripped");
    ok(strv_is(&c.proxy_allow_ips, ARGV("127.0.0.1", "::1")),
       "proxy_allow_ips not affected");
    ok(parse_apply(&c, ARGV("-w", "2", "-b", ":1")) == 0 && c.workers == 2 &&
       strv_is(&c.bind, ARGV(":1")), "the command line beats env defaults");
    cu_config_free(&c);

    setenv("WEB_CONCURRENCY", "010", 1);   /* int(): plain decimal */
    ok(cu_config_init(&c) == 0 && c.workers == 10,
       "WEB_CONCURRENCY=010 is 10");
    cu_config_free(&c);
    setenv("WEB_CONCURRENCY", "lots", 1);
    errno = 0;
    ok(cu_config_init(&c) == -1 && errno == EINVAL,
       "WEB_CONCURRENCY=lots: init fails with EINVAL");
    setenv("WEB_CONCURRENCY", "-2", 1);
    ok(cu_config_init(&c) == -1, "WEB_CONCURRENCY=-2: init fails");
    unsetenv("WEB_CONCURRENCY");
    setenv("FORWARDED_ALLOW_IPS", "not-an-ip", 1);
    ok(cu_config_init(&c) == -1 && errno == EINVAL,
       "FORWARDED_ALLOW_IPS=not-an-ip: init fails");
    unsetenv("FORWARDED_ALLOW_IPS");

    setenv("SENDFILE", "no", 1);
    ok(cu_config_init(&c) == 0 && c.sendfile == 0, "SENDFILE=no: off");
    cu_config_free(&c);
    setenv("SENDFILE", "YES", 1);
    ok(cu_config_init(&c) == 0 && c.sendfile == 1, "SENDFILE=YES: on");
    cu_config_free(&c);
    setenv("SENDFILE", "1", 1);
    ok(fresh(&c, ARGV("--no-sendfile")) == 0 && c.sendfile == 0,
       "SENDFILE=1 with --no-sendfile: off");
    cu_config_free(&c);
    setenv("PORT", "", 1);
    ok(cu_config_init(&c) == 0 && strv_is(&c.bind, ARGV("0.0.0.0:")),
       "PORT set but empty: 0.0.0.0: as Gunicorn does");
    cu_config_free(&c);
    clear_env();
}

/* ---- every flag, every form ------------------------------------------- */

struct sample {
    const char *value;   /* NULL: a flag without a value */
    const char *shown;   /* as --print-config shows it */
};

static struct sample sample_for(const struct cu_setting *s)
{
    static char choice[32];

    switch (s->type) {
    case CU_INT:
    case CU_OCTAL:
        return (struct sample){"7", "7"};
    case CU_STR:
        if (strcmp(s->name, "chdir") == 0)
            return (struct sample){"/", "/"};
        return (struct sample){"some.thing", "some.thing"};
    case CU_STR_OPT:
    case CU_CALLABLE:
        return (struct sample){"some.thing", "some.thing"};
    case CU_LIST:
        if (strcmp(s->name, "reload_extra_files") == 0)
            return (struct sample){"/", "['/']"};
        return (struct sample){"a:1", "['a:1']"};
    case CU_CSV:
        if (strcmp(s->name, "forwarder_headers") == 0)
            return (struct sample){"X_A,X_B", "['X_A', 'X_B']"};
        return (struct sample){"10.0.0.1,fd00::/8",
                               "['10.0.0.1', 'fd00::/8']"};
    case CU_CHOICE: {
        size_t n = 0;

        while (s->choices[n + 1] != NULL)
            n++;
        snprintf(choice, sizeof choice, "%s", s->choices[n]);
        return (struct sample){choice, choice};
    }
    case CU_BOOL:
        return (struct sample){NULL, s->bare ? "False" : "True"};
    case CU_DICT:
        break;
    }
    return (struct sample){NULL, NULL};
}

static void check_form(const struct cu_setting *s, const char *const *argv,
                       const char *shown)
{
    struct cu_config c;
    int rc = fresh(&c, argv);

    ok(rc == 0 && printed_is(&c, s->name, shown), "%s%s%s sets %s to %s%s%s",
       argv[0], argv[1] ? " " : "", argv[1] ? argv[1] : "", s->name, shown,
       rc ? ": " : "", rc ? err : "");
    cu_config_free(&c);
}

static void test_every_flag(void)
{
    for (size_t i = 0; i < cu_n_settings; i++) {
        const struct cu_setting *s = &cu_settings[i];
        struct sample v = sample_for(s);

        for (size_t j = 0; j < 3 && s->flags[j] != NULL; j++) {
            const char *f = s->flags[j];
            char joined[128];

            if (v.value == NULL) {
                check_form(s, ARGV(f), v.shown);
                continue;
            }
            check_form(s, ARGV(f, v.value), v.shown);
            snprintf(joined, sizeof joined, "%s=%s", f, v.value);
            check_form(s, ARGV(joined), v.shown);
            if (f[1] != '-') {
                snprintf(joined, sizeof joined, "%s%s", f, v.value);
                check_form(s, ARGV(joined), v.shown);
            }
        }
    }
}

static void test_flag_details(void)
{
    struct cu_config c;
    struct cu_args a;

    ok(fresh(&c, ARGV("-w4", "-t", "9", "--keep-alive=0", "-m", "022")) == 0 &&
       c.workers == 4 && c.timeout == 9 && c.keepalive == 0 && c.umask == 18,
       "-w4 -t 9 --keep-alive=0 -m 022 (octal: 18)");
    cu_config_free(&c);
    ok(fresh(&c, ARGV("-b", "a:1", "--bind", "b:2", "--bind=c:3", "-bd:4")) == 0
       && strv_is(&c.bind, ARGV("a:1", "b:2", "c:3", "d:4")),
       "bind repeated accumulates within the command line");
    cu_config_free(&c);
    ok(fresh(&c, ARGV("-e", "A=1", "--env=B=2=3", "-eC=")) == 0 &&
       strv_is(&c.raw_env, ARGV("A=1", "B=2=3", "C=")),
       "-e KEY=VALUE, --env=K=V=W, -eC=");
    cu_config_free(&c);
    ok(fresh(&c, ARGV("-Dw3", "-Dp", "pid.txt")) == 0 && c.daemon &&
       c.workers == 3 && strcmp(c.pidfile, "pid.txt") == 0,
       "short flags cluster: -Dw3, -Dp FILE");
    cu_config_free(&c);
    ok(fresh(&c, ARGV("-Dw=3")) == 0 && c.workers == 3, "-Dw=3");
    cu_config_free(&c);
    ok(fresh(&c, ARGV("--backl", "5", "--preload", "--graceful=7")) == 0 &&
       c.backlog == 5 && c.preload_app && c.graceful_timeout == 7,
       "unique prefixes of long flags work (--backl, --graceful=)");
    cu_config_free(&c);
    ok(fresh(&c, ARGV("--access-logfile", "-", "--error-logfile", "-")) == 0 &&
       strcmp(c.accesslog, "-") == 0 && strcmp(c.errorlog, "-") == 0,
       "- is a value");
    cu_config_free(&c);
    ok(fresh(&c, ARGV("--log-file", "/tmp/x.log")) == 0 &&
       strcmp(c.errorlog, "/tmp/x.log") == 0, "--log-file is errorlog");
    cu_config_free(&c);
    ok(fresh(&c, ARGV("--access-logformat", "-%(h)s %(r)s")) == 0 &&
       strcmp(c.access_log_format, "-%(h)s %(r)s") == 0,
       "a value starting with - but holding a space is a value (argparse)");
    cu_config_free(&c);
    ok(fresh(&c, ARGV("--limit-request-field_size", "100")) == 0 &&
       c.limit_request_field_size == 100, "--limit-request-field_size");
    cu_config_free(&c);
    ok(fresh(&c, ARGV("--name", "  padded  ")) == 0 &&
       strcmp(c.proc_name, "padded") == 0, "strings are stripped");
    cu_config_free(&c);
    ok(fresh(&c, ARGV("--log-level", "DEBUG", "-k", "GThread")) == 0 &&
       strcmp(c.loglevel, "debug") == 0 && strcmp(c.worker_class, "gthread") == 0,
       "choices ignore case and are kept in lower case");
    cu_config_free(&c);
    ok(fresh(&c, ARGV("--chdir", "/tmp/../tmp/./")) == 0 &&
       strcmp(c.chdir, "/tmp") == 0, "chdir normalised");
    cu_config_free(&c);

    /* proxy_protocol: --proxy-protocol [MODE] */
    ok(fresh(&c, ARGV("--proxy-protocol")) == 0 &&
       strcmp(c.proxy_protocol, "auto") == 0, "--proxy-protocol alone: auto");
    cu_config_free(&c);
    ok(fresh(&c, ARGV("--proxy-protocol", "-D")) == 0 && c.daemon &&
       strcmp(c.proxy_protocol, "auto") == 0,
       "--proxy-protocol before another option: auto");
    cu_config_free(&c);
    ok(fresh(&c, ARGV("--proxy-protocol", "v2", "app:x")) == 0 &&
       strcmp(c.proxy_protocol, "v2") == 0 && strcmp(c.app, "app:x") == 0,
       "--proxy-protocol v2 APP");
    cu_config_free(&c);
    ok(fresh(&c, ARGV("--proxy-protocol", "--", "app:x")) == 0 &&
       strcmp(c.proxy_protocol, "auto") == 0 && strcmp(c.app, "app:x") == 0,
       "--proxy-protocol -- APP: auto");
    cu_config_free(&c);
    ok(fresh(&c, ARGV("--proxy-protocol=true")) == 0 &&
       strcmp(c.proxy_protocol, "auto") == 0, "--proxy-protocol=true: auto");
    cu_config_free(&c);
    ok(fresh(&c, ARGV("--proxy-protocol", "False")) == 0 &&
       strcmp(c.proxy_protocol, "off") == 0, "--proxy-protocol False: off");
    cu_config_free(&c);
    ok(fresh(&c, ARGV("--proxy-protocol", "app:x")) == -1 &&
       strstr(err, "Invalid value for proxy_protocol: 'app:x'") != NULL,
       "--proxy-protocol takes the next word, as argparse's nargs='?' does");
    cu_config_free(&c);

    /* positionals, --, -h, -v */
    ok(fresh(&c, ARGV("-w", "2", "app:x", "-t", "3")) == 0 &&
       strcmp(c.app, "app:x") == 0 && c.workers == 2 && c.timeout == 3,
       "APP_MODULE between options");
    cu_config_free(&c);
    ok(fresh(&c, ARGV("--", "-w")) == 0 && strcmp(c.app, "-w") == 0 &&
       c.workers == 1, "-- ends options");
    cu_config_free(&c);
    ok(fresh(&c, ARGV("-w", "-1")) == -1 &&
       strstr(err, "Invalid value for workers: '-1'") != NULL,
       "-w -1: -1 is taken as the value, then refused: %s", err);
    cu_config_free(&c);
    ok(cu_args_parse(1, (char *const *)ARGV("-h"), &a, err, sizeof err) == 0 &&
       a.help && !a.version, "-h sets help");
    cu_args_free(&a);
    ok(cu_args_parse(2, (char *const *)ARGV("--foo", "--version"), &a, err,
                     sizeof err) == 0 && a.version,
       "--version wins over an earlier unknown option (argparse exits there)");
    cu_args_free(&a);
    ok(cu_args_parse(2, (char *const *)ARGV("--vers", "-w"), &a, err,
                     sizeof err) == 0 && a.version,
       "--vers is --version; what follows is not read");
    cu_args_free(&a);
    ok(cu_args_parse(1, (char *const *)ARGV("-Dh"), &a, err, sizeof err) == 0 &&
       a.help && a.n == 1, "-Dh: daemon then help");
    cu_args_free(&a);
    ok(cu_args_parse(0, (char *const *)ARGV(NULL), &a, err, sizeof err) == 0 &&
       a.n == 0 && a.app == NULL && !a.help, "no arguments");
    cu_args_free(&a);
    ok(cu_args_parse(3, (char *const *)ARGV("-D", "-w", "2"), &a, err,
                     sizeof err) == 0 && a.n == 2 && a.v[0].value == NULL &&
       strcmp(a.v[1].value, "2") == 0 && a.v[1].s == cu_setting_find("workers"),
       "parse only collects (setting, value) pairs");
    cu_args_free(&a);
    ok(cu_args_parse(2, (char *const *)ARGV("-w", "abc"), &a, err,
                     sizeof err) == 0 && a.n == 1,
       "parse does not validate (-w abc is collected)");
    cu_args_free(&a);
}

/* ---- layers ----------------------------------------------------------- */

static void file_layer(struct cu_config *c)
{
    /* What the Python layer does with a config file: each item by name. */
    ok(cu_config_set(c, cu_setting_find("bind"), "file:1", 0, err,
                     sizeof err) == 0 &&
       cu_config_set(c, cu_setting_find("bind"), "file:2", 1, err,
                     sizeof err) == 0 &&
       cu_config_set(c, cu_setting_find("workers"), "3", 0, err,
                     sizeof err) == 0 &&
       cu_config_set(c, cu_setting_find("raw_env"), "F=1", 0, err,
                     sizeof err) == 0 &&
       cu_config_set(c, cu_setting_find("timeout"), "11", 0, err,
                     sizeof err) == 0 &&
       cu_config_set(c, cu_setting_find("preload_app"), "True", 0, err,
                     sizeof err) == 0, "file layer set");
}

static void test_layers(void)
{
    struct cu_config c;
    struct cu_args a;
    int argc;
    char **argv;

    clear_env();
    cu_config_init(&c);
    file_layer(&c);
    ok(strv_is(&c.bind, ARGV("file:1", "file:2")) && c.workers == 3,
       "file layer over the defaults");
    ok(cu_argv_split("-b env:1 -w 5 -e E=1 --bind 'env:2'", &argc, &argv, err,
                     sizeof err) == 0 &&
       cu_args_parse(argc, argv, &a, err, sizeof err) == 0 &&
       cu_args_apply(&c, &a, err, sizeof err) == 0, "GUNICORN_CMD_ARGS layer");
    cu_args_free(&a);
    cu_argv_free(argc, argv);
    ok(strv_is(&c.bind, ARGV("env:1", "env:2")),
       "env layer replaces the file's bind list, accumulates its own");
    ok(c.workers == 5 && c.timeout == 11 && c.preload_app,
       "env beats file for workers; file's timeout and preload stay");
    ok(strv_is(&c.raw_env, ARGV("E=1")), "raw_env replaced by the env layer");
    ok(parse_apply(&c, ARGV("-b", "cli:1", "-t", "12", "-b", "cli:2")) == 0,
       "command-line layer");
    ok(strv_is(&c.bind, ARGV("cli:1", "cli:2")), "cli replaces env's bind");
    ok(c.workers == 5 && c.timeout == 12 && strv_is(&c.raw_env, ARGV("E=1")),
       "cli beats env for timeout; env's workers and raw_env stay");
    cu_config_clear(&c, cu_setting_find("bind"));
    ok(c.bind.n == 0 && c.bind.v == NULL, "cu_config_clear empties a list");
    cu_config_clear(&c, cu_setting_find("workers"));
    ok(c.workers == 5, "cu_config_clear leaves a scalar alone");
    ok(cu_config_set(&c, cu_setting_find("bind"), "x:1", 1, err,
                     sizeof err) == 0 && strv_is(&c.bind, ARGV("x:1")),
       "append after clear");
    cu_config_free(&c);
}

/* ---- validators via cu_config_set (the file layer) -------------------- */

static int set(struct cu_config *c, const char *name, const char *value)
{
    err[0] = '\0';
    return cu_config_set(c, cu_setting_find(name), value, 0, err, sizeof err);
}

static void test_validators(void)
{
    struct cu_config c;

    cu_config_init(&c);
    ok(set(&c, "workers", "0x10") == 0 && c.workers == 16, "int 0x10 = 16");
    ok(set(&c, "workers", "0o22") == 0 && c.workers == 18, "int 0o22 = 18");
    ok(set(&c, "workers", "0b101") == 0 && c.workers == 5, "int 0b101 = 5");
    ok(set(&c, "workers", "1_000") == 0 && c.workers == 1000, "int 1_000");
    ok(set(&c, "workers", " +7 ") == 0 && c.workers == 7, "int ' +7 '");
    ok(set(&c, "workers", "0") == 0 && c.workers == 0, "int 0 (finish "
       "checks >= 1)");
    ok(set(&c, "workers", "-0") == 0 && c.workers == 0, "int -0 is 0");
    ok(set(&c, "workers", "2147483647") == 0 && c.workers == 2147483647,
       "INT_MAX");
    ok(set(&c, "umask", "022") == 0 && c.umask == 18, "umask 022 = 18");
    ok(set(&c, "umask", "0022") == 0 && c.umask == 18, "umask 0022 = 18");
    ok(set(&c, "umask", "0o22") == 0 && c.umask == 18, "umask 0o22 = 18");
    ok(set(&c, "umask", "0x12") == 0 && c.umask == 18, "umask 0x12 = 18");
    ok(set(&c, "umask", "18") == 0 && c.umask == 18,
       "umask 18 is decimal (Gunicorn's auto_int: only a leading 0 means "
       "octal)");
    ok(set(&c, "umask", "0") == 0 && c.umask == 0, "umask 0");
    ok(set(&c, "daemon", "TRUE") == 0 && c.daemon == 1, "bool TRUE");
    ok(set(&c, "daemon", " false ") == 0 && c.daemon == 0, "bool ' false '");
    ok(set(&c, "pidfile", " /run/x.pid ") == 0 &&
       strcmp(c.pidfile, "/run/x.pid") == 0, "string stripped");
    ok(cu_config_set(&c, cu_setting_find("pidfile"), NULL, 0, err,
                     sizeof err) == 0 && c.pidfile == NULL, "NULL unsets");
    ok(set(&c, "proxy_protocol", "V1") == 0 &&
       strcmp(c.proxy_protocol, "v1") == 0, "proxy_protocol V1");
    ok(set(&c, "proxy_protocol", "True") == 0 &&
       strcmp(c.proxy_protocol, "auto") == 0, "proxy_protocol True: auto");
    ok(set(&c, "proxy_protocol", "false") == 0 &&
       strcmp(c.proxy_protocol, "off") == 0, "proxy_protocol false: off");
    ok(set(&c, "header_map", " Refuse ") == 0 &&
       strcmp(c.header_map, "refuse") == 0, "header_map ' Refuse '");
    ok(set(&c, "forwarder_headers", " A , ,B,") == 0 &&
       strv_is(&c.forwarder_headers, ARGV("A", "B")), "csv split, stripped");
    ok(set(&c, "forwarded_allow_ips", "") == 0 &&
       c.forwarded_allow_ips.n == 0, "csv empty: []");
    ok(set(&c, "forwarded_allow_ips", "*,192.168.0.0/16,::1,2001:db8::/32")
       == 0 && c.forwarded_allow_ips.n == 4, "addresses, networks and *");
    ok(set(&c, "secure_scheme_headers", "X-PROTO=https") == 0 &&
       strv_is(&c.secure_scheme_headers, ARGV("X-PROTO=https")),
       "dict replaced by one pair");
    ok(cu_config_set(&c, cu_setting_find("secure_scheme_headers"), "X-B=on", 1,
                     err, sizeof err) == 0 &&
       c.secure_scheme_headers.n == 2, "dict pair appended");
    ok(set(&c, "wsgi_app", "pkg.mod:app") == 0 &&
       strcmp(c.wsgi_app, "pkg.mod:app") == 0, "wsgi_app (file only)");
    ok(set(&c, "chdir", "/") == 0 && strcmp(c.chdir, "/") == 0, "chdir /");
    ok(set(&c, "worker_class", "gevent") == 0 && set(&c, "worker_class",
       "eventlet") == 0 && set(&c, "worker_class", "tornado") == 0 &&
       set(&c, "worker_class", "asgi") == 0, "known worker class names");
    cu_config_free(&c);
}

/* reload_extra_files: existing files or patterns, made absolute. */
static void test_extra_files(void)
{
    struct cu_config c;
    char *cwd = getcwd(NULL, 0), want[4096];

    ok(fresh(&c, ARGV("--reload-extra-file", "/etc/../etc/passwd",
                      "--reload-extra-file", "/nowhere/*.html",
                      "--reload-extra-file=.")) == 0 &&
       c.reload_extra_files.n == 3 &&
       strcmp(c.reload_extra_files.v[0], "/etc/passwd") == 0 &&
       strcmp(c.reload_extra_files.v[1], "/nowhere/*.html") == 0,
       "files normalised, a pattern may match nothing yet: %s", err);
    ok(c.reload_extra_files.n == 3 && cwd != NULL &&
       strcmp(c.reload_extra_files.v[2], cwd) == 0,
       "a relative name is made absolute (%s)",
       c.reload_extra_files.n == 3 ? c.reload_extra_files.v[2] : "?");
    cu_config_free(&c);
    snprintf(want, sizeof want, "%s/templates/**/*.html", cwd ? cwd : "");
    ok(fresh(&c, ARGV("--reload-extra-file", "templates/**/*.html")) == 0 &&
       strcmp(c.reload_extra_files.v[0], want) == 0,
       "a relative pattern too");
    cu_config_free(&c);
    free(cwd);
}

/* ---- errors ----------------------------------------------------------- */

static void bad_set(struct cu_config *c, const char *name, const char *value,
                    const char *msg)
{
    char *before = capture_print(c);
    char *after;
    char want[160];
    int rc = set(c, name, value);

    after = capture_print(c);
    snprintf(want, sizeof want, "Invalid value for %s: '%s'", name, value);
    ok(rc == -1 && strstr(err, want) != NULL && strcmp(before, after) == 0,
       "%s = '%s' refused (%s), config unchanged: %s", name, value, msg, err);
    free(before);
    free(after);
}

static void bad_parse(const char *const *argv, const char *want)
{
    struct cu_config c;
    int rc = fresh(&c, argv);

    ok(rc == -2 && strstr(err, want) != NULL, "%s ...: '%s' (%s)", argv[0],
       want, err);
    cu_config_free(&c);
}

static void bad_apply(const char *const *argv, const char *want)
{
    struct cu_config c;
    int rc = fresh(&c, argv);

    ok(rc == -1 && strstr(err, want) != NULL, "%s ...: '%s' (%s)", argv[0],
       want, err);
    cu_config_free(&c);
}

static void test_errors(void)
{
    struct cu_config c;

    bad_parse(ARGV("--foo"), "unrecognized arguments: --foo");
    bad_parse(ARGV("--foo=1", "app", "x", "-q"),
              "unrecognized arguments: --foo=1 x -q");
    bad_parse(ARGV("app:a", "app:b"), "unrecognized arguments: app:b");
    bad_parse(ARGV("--limit-request-field-size", "1"),
              "unrecognized arguments: --limit-request-field-size");
    bad_parse(ARGV("-w"), "argument -w/--workers: expected one argument");
    bad_parse(ARGV("--bind"), "argument -b/--bind: expected one argument");
    bad_parse(ARGV("-w", "--daemon"),
              "argument -w/--workers: expected one argument");
    bad_parse(ARGV("-w", "--"), "argument -w/--workers: expected one argument");
    bad_parse(ARGV("--daemon=yes"),
              "argument -D/--daemon: ignored explicit argument 'yes'");
    bad_parse(ARGV("-D=1"),
              "argument -D/--daemon: ignored explicit argument '1'");
    bad_parse(ARGV("-Dx"), "unrecognized arguments: -x");
    bad_parse(ARGV("--work", "2"), "ambiguous option: --work could match "
              "--workers, --worker-class, --worker-connections, "
              "--worker-tmp-dir");
    bad_parse(ARGV("--log=x"), "ambiguous option: --log could match");
    bad_apply(ARGV("-w", "abc"), "Invalid value for workers: 'abc'");
    bad_apply(ARGV("--workers=-3"), "Invalid value for workers: '-3'");
    bad_apply(ARGV("--timeout", "-1"), "Invalid value for timeout: '-1'");
    bad_apply(ARGV("--threads", "1.5"), "Invalid value for threads: '1.5'");
    bad_apply(ARGV("--backlog", ""), "Invalid value for backlog: ''");
    bad_apply(ARGV("-w", "010"), "Invalid value for workers: '010'");
    bad_apply(ARGV("-w", "99999999999"),
              "Invalid value for workers: '99999999999' (too large)");
    bad_apply(ARGV("-m", "08"), "Invalid value for umask: '08'");
    bad_apply(ARGV("-m", "0o8"), "Invalid value for umask: '0o8'");
    bad_apply(ARGV("--umask", "-022"), "Invalid value for umask: '-022'");
    bad_apply(ARGV("-k", "fork"), "Invalid value for worker_class: 'fork'");
    bad_apply(ARGV("--log-level", "verbose"),
              "Invalid value for loglevel: 'verbose' (choose from debug, "
              "info, warning, error, critical)");
    bad_apply(ARGV("--header-map", "keep"),
              "Invalid value for header_map: 'keep'");
    bad_apply(ARGV("--proxy-protocol=v3"),
              "Invalid value for proxy_protocol: 'v3'");
    bad_apply(ARGV("--forwarded-allow-ips", "10.0.0.1/8"),
              "Invalid value for forwarded_allow_ips: '10.0.0.1/8'");
    bad_apply(ARGV("--proxy-allow-from", "localhost"),
              "Invalid value for proxy_allow_ips: 'localhost'");
    bad_apply(ARGV("--chdir", "/nonexistent/dir/x"),
              "Invalid value for chdir: '/nonexistent/dir/x'");

    cu_config_init(&c);
    bad_set(&c, "daemon", "yes", "bool");
    bad_set(&c, "daemon", "1", "bool");
    bad_set(&c, "workers", "0x", "int");
    bad_set(&c, "workers", "1__0", "int");
    bad_set(&c, "workers", "_1", "int");
    bad_set(&c, "workers", "1_", "int");
    bad_set(&c, "workers", "-1", "negative");
    bad_set(&c, "umask", "08", "octal");
    bad_set(&c, "umask", "0_22", "octal");
    bad_set(&c, "loglevel", "loud", "choice");
    bad_set(&c, "forwarded_allow_ips", "127.0.0.1,nope", "address");
    bad_set(&c, "forwarded_allow_ips", "::1/129", "prefix");
    bad_set(&c, "secure_scheme_headers", "noequals", "dict");
    bad_set(&c, "secure_scheme_headers", "=x", "dict");
    bad_set(&c, "reload_engine", "watchdog", "choice");
    bad_set(&c, "reload_extra_files", "/no/such/file", "missing file");
    bad_set(&c, "reload_extra_files", "", "empty");
    ok(cu_config_set(&c, cu_setting_find("workers"), NULL, 0, err,
                     sizeof err) == -1 &&
       strcmp(err, "Invalid value for workers: None") == 0,
       "NULL for an int: %s", err);
    cu_config_free(&c);
}

/* Gunicorn reads "-m 8" as decimal 8; only a leading 0 means octal. */
static void test_umask_decimal(void)
{
    struct cu_config c;

    ok(fresh(&c, ARGV("-m", "8")) == 0 && c.umask == 8,
       "-m 8 is 8, as Gunicorn's auto_int reads it");
    cu_config_free(&c);
}

/* ---- finish ----------------------------------------------------------- */

static void test_finish(void)
{
    struct cu_config c;

    fresh(&c, ARGV("--threads", "4"));
    ok(cu_config_finish(&c, err, sizeof err) == 0 &&
       strcmp(c.worker_class, "gthread") == 0, "sync + threads 4: gthread");
    cu_config_free(&c);
    fresh(&c, ARGV("--threads", "4", "-k", "gevent"));
    ok(cu_config_finish(&c, err, sizeof err) == 0 &&
       strcmp(c.worker_class, "gevent") == 0, "gevent + threads 4 stays");
    cu_config_free(&c);
    fresh(&c, ARGV("-w", "1"));
    ok(cu_config_finish(&c, err, sizeof err) == 0 &&
       strcmp(c.worker_class, "sync") == 0, "sync + 1 thread stays sync");
    cu_config_free(&c);
    fresh(&c, ARGV("-w", "0"));
    ok(cu_config_finish(&c, err, sizeof err) == -1 &&
       strstr(err, "Invalid value for workers: 0") != NULL, "workers 0: %s",
       err);
    cu_config_free(&c);
    fresh(&c, ARGV("--threads", "0"));
    ok(cu_config_finish(&c, err, sizeof err) == -1 &&
       strstr(err, "Invalid value for threads: 0") != NULL, "threads 0: %s",
       err);
    cu_config_free(&c);
}

/* ---- copy ------------------------------------------------------------- */

static void test_copy(void)
{
    struct cu_config c, d;
    char *p1, *p2;

    fresh(&c, ARGV("-b", "a:1", "-b", "b:2", "-e", "K=V", "-p", "x.pid",
                   "app:y"));
    ok(cu_config_copy(&d, &c) == 0, "cu_config_copy");
    p1 = capture_print(&c);
    p2 = capture_print(&d);
    ok(strcmp(p1, p2) == 0, "the copy prints the same");
    ok(d.bind.v != c.bind.v && d.bind.v[0] != c.bind.v[0] &&
       d.pidfile != c.pidfile && d.app != c.app && strcmp(d.app, "app:y") == 0,
       "the copy owns its strings");
    cu_config_free(&c);
    ok(strv_is(&d.bind, ARGV("a:1", "b:2")) && strcmp(d.pidfile, "x.pid") == 0,
       "the copy outlives the original");
    cu_config_free(&d);
    free(p1);
    free(p2);
}

/* ---- GUNICORN_CMD_ARGS ------------------------------------------------ */

/* in, with control characters escaped, for a TAP description. */
static const char *visible(const char *in)
{
    static char buf[256];
    size_t n = 0;

    for (; *in != '\0' && n + 5 < sizeof buf; in++) {
        if ((unsigned char)*in < 0x20)
            n += (size_t)snprintf(buf + n, sizeof buf - n, "\\x%02x",
                                  (unsigned char)*in);
        else
            buf[n++] = *in;
    }
    buf[n] = '\0';
    return buf;
}

static void split_is(const char *in, const char *const *want)
{
    int argc = -1, same;
    char **argv = NULL;
    int rc = cu_argv_split(in, &argc, &argv, err, sizeof err);

    same = rc == 0 && argc == argv_len(want) && argv[argc] == NULL;
    for (int i = 0; same && i < argc; i++)
        same = strcmp(argv[i], want[i]) == 0;
    ok(same, "split [%s]", visible(in));
    cu_argv_free(argc, argv);
}

static void split_fails(const char *in, const char *msg)
{
    int argc = 0;
    char **argv = NULL;

    ok(cu_argv_split(in, &argc, &argv, err, sizeof err) == -1 &&
       strcmp(err, msg) == 0 && argv == NULL, "split [%s] fails: %s",
       visible(in), err);
}

static void test_split(void)
{
    split_is("", ARGV(NULL));
    split_is("  \t\n ", ARGV(NULL));
    split_is("-w 3  --bind=:80", ARGV("-w", "3", "--bind=:80"));
    split_is("a'b c'd", ARGV("ab cd"));
    split_is("'it''s'", ARGV("its"));
    split_is("''", ARGV(""));
    split_is("a \"\" b", ARGV("a", "", "b"));
    split_is("'a\\b'", ARGV("a\\b"));
    split_is("\"a\\\"b\\\\c\"", ARGV("a\"b\\c"));
    split_is("\"\\$x \\`y\\` \\n\"", ARGV("\\$x \\`y\\` \\n"));
    split_is("\"'\" '\"'", ARGV("'", "\""));
    split_is("a\\ b \\'c", ARGV("a b", "'c"));
    split_is("x\\\\y", ARGV("x\\y"));
    split_is("--access-logformat '%(h)s \"%(r)s\"'",
             ARGV("--access-logformat", "%(h)s \"%(r)s\""));
    split_is("a\rb\tc", ARGV("a", "b", "c"));
    split_is("a#b #c", ARGV("a#b", "#c"));
    split_fails("'abc", "No closing quotation");
    split_fails("-n \"abc", "No closing quotation");
    split_fails("-n \"abc\\", "No escaped character");
    split_fails("abc\\", "No escaped character");
}

/* ---- --help and --print-config ---------------------------------------- */

/* flag appears as an option in the help: after "  " or ", ", before a
 * space, a comma or the end of the line. */
static int mentions_flag(const char *help, const char *flag)
{
    size_t n = strlen(flag);

    for (const char *p = strstr(help, flag); p != NULL;
         p = strstr(p + 1, flag)) {
        if (p - help >= 2 && (strncmp(p - 2, "  ", 2) == 0 ||
                              strncmp(p - 2, ", ", 2) == 0) &&
            (p[n] == ' ' || p[n] == ',' || p[n] == '\n'))
            return 1;
    }
    return 0;
}

static void test_help(void)
{
    char *help = capture_help("cunicorn");
    int all = 1, narrow = 1;
    size_t col = 0;

    ok(strncmp(help, "usage: cunicorn [OPTIONS] [APP_MODULE]\n",
               strlen("usage: cunicorn [OPTIONS] [APP_MODULE]\n")) == 0,
       "usage line first");
    for (size_t i = 0; i < cu_n_settings; i++) {
        for (size_t j = 0; j < 3 && cu_settings[i].flags[j] != NULL; j++) {
            if (!mentions_flag(help, cu_settings[i].flags[j])) {
                diag("help lacks %s", cu_settings[i].flags[j]);
                all = 0;
            }
        }
    }
    ok(all, "help mentions every flag");
    ok(mentions_flag(help, "-h") && mentions_flag(help, "--help") &&
       mentions_flag(help, "-v") && mentions_flag(help, "--version"),
       "help mentions -h/--help, -v/--version");
    ok(strstr(help, "  -w INT, --workers INT") != NULL &&
       strstr(help, "  -D, --daemon") != NULL &&
       strstr(help, "--proxy-protocol [MODE]") != NULL,
       "flags with their META, bare booleans, optional value in []");
    ok(strstr(help, "\nServer Socket:\n") != NULL &&
       strstr(help, "\nWorker Processes:\n") != NULL &&
       strstr(help, "\nLogging:\n") != NULL &&
       strstr(help, "\nProcess Naming:\n") != NULL, "grouped by section");
    ok(strstr(help, "[127.0.0.1:8000]") != NULL && strstr(help, "[2048]"),
       "defaults shown");
    ok(strstr(help, "wsgi_app") != NULL &&
       strstr(help, "secure_scheme_headers") != NULL,
       "file-only settings named");
    for (const char *p = help; *p != '\0'; p++) {
        col = *p == '\n' ? 0 : col + 1;
        if (col > 80)
            narrow = 0;
    }
    ok(narrow, "no line wider than 80 columns");
    free(help);
}

static void test_print(void)
{
    struct cu_config c;
    char *out, *line, *save = NULL;
    size_t lines = 0, width = 0;
    int sorted = 1, padded = 1;
    char prev[64] = "";

    clear_env();
    cu_config_init(&c);
    for (size_t i = 0; i < cu_n_settings; i++) {
        if (strlen(cu_settings[i].name) > width)
            width = strlen(cu_settings[i].name);
    }
    out = capture_print(&c);
    for (line = strtok_r(out, "\n", &save); line != NULL;
         line = strtok_r(NULL, "\n", &save)) {
        size_t name = strcspn(line, " ");

        lines++;
        if (strncmp(line + width, " = ", 3) != 0 ||
            strspn(line + name, " ") != width - name + 1)
            padded = 0;
        if (name >= sizeof prev) {
            sorted = 0;
            continue;
        }
        if (strncmp(prev, line, name) >= 0)
            sorted = 0;
        memcpy(prev, line, name);
        prev[name] = '\0';
    }
    free(out);
    ok(lines == cu_n_settings, "one line per setting (%zu)", lines);
    ok(sorted, "sorted by name");
    ok(padded, "names padded to the longest (%zu)", width);
    ok(printed_is(&c, "bind", "['127.0.0.1:8000']"), "list repr");
    ok(printed_is(&c, "raw_env", "[]"), "empty list");
    ok(printed_is(&c, "pidfile", "None"), "None");
    ok(printed_is(&c, "daemon", "False") && printed_is(&c, "sendfile", "True"),
       "False/True");
    ok(printed_is(&c, "workers", "1") && printed_is(&c, "umask", "0"), "ints");
    ok(printed_is(&c, "errorlog", "-") && printed_is(&c, "loglevel", "info"),
       "strings bare");
    ok(printed_is(&c, "access_log_format", "%(h)s %(l)s %(u)s %(t)s \"%(r)s\" "
                  "%(s)s %(b)s \"%(f)s\" \"%(a)s\""), "access_log_format");
    ok(printed_is(&c, "secure_scheme_headers",
                  "{'X-FORWARDED-PROTOCOL': 'ssl', 'X-FORWARDED-PROTO': "
                  "'https', 'X-FORWARDED-SSL': 'on'}"), "dict repr");
    ok(printed_is(&c, "forwarder_headers", "['SCRIPT_NAME', 'PATH_INFO']"),
       "csv repr");
    parse_apply(&c, ARGV("-e", "A='x'", "-e", "B=\"'", "-e", "C=\\\t", "-m",
                         "0o22"));
    ok(printed_is(&c, "raw_env", "[\"A='x'\", 'B=\"\\'', 'C=\\\\']"),
       "repr quoting and escapes as Python's");
    ok(printed_is(&c, "umask", "18"), "umask printed in decimal like Gunicorn");
    cu_config_free(&c);
}

int main(void)
{
    clear_env();
    test_table();
    test_defaults();
    test_env_defaults();
    test_every_flag();
    test_flag_details();
    test_layers();
    test_validators();
    test_extra_files();
    test_errors();
    test_umask_decimal();
    test_finish();
    test_copy();
    test_split();
    test_help();
    test_print();
    return tap_done();
}
