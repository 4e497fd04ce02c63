/*
 * The values of the settings (src/config/settings.c): every default, the
 * ones from the environment, the validators and their errors, the
 * checks after all layers, and the copy.
 */
#include "common.h"
#include "http/parser.h"
#include "http/proxy.h"
#include "worker/reloader.h"

#include <errno.h>
#include <sys/stat.h>
#include <unistd.h>

static int set(struct cu_config *c, const char *name, const char *value)
{
    err[0] = '\0';
    return cu_config_set(c, cu_setting_find(name), value, 0, err, sizeof err);
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
    ok(!c.reload && c.reload_engine == CU_RELOAD_AUTO &&
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
    ok(c.proxy_protocol == HTTP_PROXY_OFF, "proxy_protocol off");
    ok(strv_is(&c.proxy_allow_ips, ARGV("127.0.0.1", "::1")),
       "proxy_allow_ips");
    ok(!c.permit_obsolete_folding && !c.strip_header_spaces &&
       !c.permit_unconventional_http_method &&
       !c.permit_unconventional_http_version && !c.casefold_http_method,
       "HTTP leniency switches off");
    ok(strv_is(&c.forwarder_headers, ARGV("SCRIPT_NAME", "PATH_INFO")),
       "forwarder_headers");
    ok(c.header_map == HTTP_HEADER_MAP_DROP, "header_map drop");
    ok(c.accesslog == NULL, "accesslog unset");
    ok(strcmp(c.access_log_format,
              "%(h)s %(l)s %(u)s %(t)s \"%(r)s\" %(s)s %(b)s \"%(f)s\" "
              "\"%(a)s\"") == 0, "access_log_format");
    ok(strcmp(c.errorlog, "-") == 0, "errorlog -");
    ok(cu_config_loglevel(&c) == CU_INFO, "loglevel info");
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


/* ---- validators via cu_config_set (the file layer) -------------------- */

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
       c.proxy_protocol == HTTP_PROXY_V1, "proxy_protocol V1");
    ok(set(&c, "proxy_protocol", "True") == 0 &&
       c.proxy_protocol == HTTP_PROXY_AUTO, "proxy_protocol True: auto");
    ok(set(&c, "proxy_protocol", "false") == 0 &&
       c.proxy_protocol == HTTP_PROXY_OFF, "proxy_protocol false: off");
    ok(set(&c, "header_map", " Refuse ") == 0 &&
       c.header_map == HTTP_HEADER_MAP_REFUSE, "header_map ' Refuse '");
    ok(set(&c, "header_map", "DANGEROUS") == 0 &&
       c.header_map == HTTP_HEADER_MAP_DANGEROUS, "header_map DANGEROUS");
    ok(set(&c, "reload_engine", "Inotify") == 0 &&
       c.reload_engine == CU_RELOAD_INOTIFY && set(&c, "reload_engine", "poll") == 0 &&
       c.reload_engine == CU_RELOAD_POLL, "reload_engine inotify, poll");
    ok(set(&c, "loglevel", "Warning") == 0 && cu_config_loglevel(&c) == CU_WARNING,
       "loglevel Warning");
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
    ok(set(&c, "worker_class", " egg:gunicorn#gevent ") == 0 &&
       strcmp(c.worker_class, "egg:gunicorn#gevent") == 0,
       "worker_class: any string, stripped (derive.c resolves it)");
    ok(set(&c, "worker_class", "fork") == 0 && strcmp(c.worker_class, "fork") == 0,
       "worker_class: an unknown name too, as Gunicorn takes it");
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
    xsnprintf(want, sizeof want, "%s/templates/**/*.html", cwd ? cwd : "");
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
    xsnprintf(want, sizeof want, "Invalid value for %s: '%s'", name, value);
    ok(rc == -1 && strstr(err, want) != NULL && strcmp(before, after) == 0,
       "%s = '%s' refused (%s), config unchanged: %s", name, value, msg, err);
    free(before);
    free(after);
}

/* A value the validator refuses on the command line. */
static void bad_apply(const char *const *argv, const char *want)
{
    fails(argv, -1, want);
}

static void test_errors(void)
{
    struct cu_config c;

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
    bad_apply(ARGV("--log-level", "verbose"),
              "Invalid value for loglevel: 'verbose' (choose from debug, "
              "info, warning, error, critical)");
    bad_apply(ARGV("--header-map", "keep"),
              "Invalid value for header_map: 'keep' (choose from drop, "
              "dangerous, refuse)");
    bad_apply(ARGV("--reload-engine", "watchdog"),
              "Invalid value for reload_engine: 'watchdog' (choose from auto, "
              "inotify, poll)");
    bad_apply(ARGV("--proxy-protocol=v3"),
              "Invalid value for proxy_protocol: 'v3' (choose from off, v1, "
              "v2, auto)");
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

    fresh(&c, ARGV("--threads", "4", "-w", "1"));
    ok(cu_config_finish(&c, err, sizeof err) == 0 &&
       strcmp(c.worker_class, "sync") == 0 && c.threads == 4 && c.workers == 1,
       "sync + threads 4 is left as given (derive.c picks gthread)");
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

int main(void)
{
    clear_env();
    test_defaults();
    test_env_defaults();
    test_validators();
    test_extra_files();
    test_errors();
    test_umask_decimal();
    test_finish();
    test_copy();
    return tap_done();
}
