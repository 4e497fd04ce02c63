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

/* The defaults of the rows Gunicorn 26.1 added to the 68 first built,
 * and of ours. */
static void later_defaults(const struct cu_config *c)
{
    ok(c->asgi_loop == 0 && c->asgi_lifespan == 0 && c->asgi_disconnect_grace_period == 3 &&
       c->http_parser == 0, "asgi_loop, asgi_lifespan auto; grace 3; http_parser auto");
    ok(c->ws_max_size == 16777216, "ws_max_size: 16 MiB, as uvicorn's");
    ok(c->ws_per_message_deflate == 1, "ws_per_message_deflate: true, as uvicorn's");
    ok(c->ws_ping_interval == 20000 && c->ws_ping_timeout == 20000,
       "ws_ping_interval, ws_ping_timeout: 20 s, as uvicorn's");
    ok(c->limit_request_body == 0 && !c->stream_request_body && c->spool_memory == 262144,
       "limit_request_body 0 (none, as Gunicorn), bodies spooled, 256 KiB in memory");
    ok(c->new_connection_timeout == 5 && c->header_timeout == 10 && c->body_timeout == 20 &&
       c->body_min_rate == 500 && c->send_timeout == 30 && c->max_head_memory == 64,
       "the deadlines and the heads' budget: 5, 10, 20 s + 500 B/s, 30 s, 64 MiB");
    ok(!c->spew && c->tmp_upload_dir == NULL && c->paste == NULL &&
       strcmp(c->protocol, "http") == 0 && strv_is(&c->uwsgi_allow_ips,
       ARGV("127.0.0.1", "::1")) && c->raw_paste_global_conf.n == 0 &&
       strcmp(c->root_path, "") == 0, "spew, tmp_upload_dir, paste, protocol, "
       "uwsgi_allow_ips, raw_paste_global_conf, root_path");
    ok(!c->disable_redirect_access_to_syslog &&
       strcmp(c->logger_class, "gunicorn.glogging.Logger") == 0 &&
       c->logconfig == NULL && c->logconfig_dict.n == 0 && c->logconfig_json == NULL &&
       strcmp(c->syslog_addr, "udp://localhost:514") == 0 && !c->syslog &&
       c->syslog_prefix == NULL && strcmp(c->syslog_facility, "user") == 0 &&
       !c->enable_stdio_inheritance && c->statsd_host == NULL &&
       strcmp(c->dogstatsd_tags, "") == 0 && strcmp(c->statsd_prefix, "") == 0 &&
       !c->enable_backlog_metric, "the logging rows");
    ok(c->keyfile == NULL && c->certfile == NULL && c->ssl_version == 2 &&
       c->cert_reqs == 0 && c->ca_certs == NULL && c->suppress_ragged_eofs &&
       !c->do_handshake_on_connect && c->ciphers == NULL && c->ssl_ocsp_response == NULL,
       "the SSL rows");
    ok(strv_is(&c->http_protocols, ARGV("h1")) && c->http2_cleartext == 0 &&
       c->http2_max_concurrent_streams == 100 && c->http2_initial_window_size == 65535 &&
       c->http2_max_frame_size == 16384 && c->http2_max_header_list_size == 65536,
       "the HTTP/2 rows");
    ok(c->dirty_apps.n == 0 && c->dirty_workers == 0 && c->dirty_timeout == 300 &&
       c->dirty_threads == 1 && c->dirty_graceful_timeout == 30 &&
       c->on_dirty_starting == NULL && c->dirty_post_fork == NULL &&
       c->dirty_worker_init == NULL && c->dirty_worker_exit == NULL, "the dirty rows");
    ok(c->control_socket == NULL && c->control_socket_mode == 0600 &&
       !c->control_socket_disable, "the control rows (no socket by default)");
}

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
    later_defaults(&c);
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


/* ---- settings not built yet: refused unless at their default ---------- */

/* A value other than s's default that its validator takes. */
static const char *not_default(const struct cu_setting *s)
{
    static const struct { const char *name, *value; } special[] = {
        {"protocol", "uwsgi"}, {"logger_class", "my.Logger"},
        {"uwsgi_allow_ips", "10.0.0.1"}, {"http_parser", "fast"},
        {"control_socket_mode", "0o644"},
    };

    for (size_t i = 0; i < sizeof special / sizeof special[0]; i++)
        if (strcmp(s->name, special[i].name) == 0)
            return special[i].value;
    switch (s->type) {
    case CU_INT:
    case CU_OCTAL:
        return "20000";
    case CU_SECONDS:
        return "2.5";
    case CU_BOOL:
        return strcmp(s->dflt, "true") == 0 ? "false" : "true";
    case CU_LIST:
    case CU_DICT:
        return "K=V";
    case CU_CALLABLE:
        return "<f()>";
    case CU_STR:
    case CU_STR_OPT:
    case CU_CSV:
    case CU_CHOICE:
        break;
    }
    return "x";
}

/* finish refuses c with exactly "NAME: REASON". */
static int refuses(struct cu_config *c, const struct cu_setting *s)
{
    char want[256];

    xsnprintf(want, sizeof want, "%s: %s", s->name, s->refused);
    err[0] = '\0';
    return cu_config_finish(c, err, sizeof err) == -1 && strcmp(err, want) == 0;
}

/* s back to its default, given explicitly. 0 or -1. */
static int to_default(struct cu_config *c, const struct cu_setting *s)
{
    if (s->dflt != NULL)
        return set(c, s->name, s->dflt);
    if (s->type == CU_DICT || s->type == CU_LIST) {
        cu_config_clear(c, s);
        return 0;
    }
    return cu_config_set(c, s, NULL, 0, err, sizeof err);
}

/* A row read only with another (dirty_workers with dirty_apps): taken while
 * that one is at its default, refused once it is set (the error may name
 * either, the first in the table's order). */
static int dependent_refused(struct cu_config *c, const struct cu_setting *s)
{
    const struct cu_setting *with = cu_setting_find(s->only_with);
    char want_s[256], want_w[256];
    int rc;

    if (with == NULL || cu_config_finish(c, err, sizeof err) != 0)
        return 0;
    if (set(c, with->name, not_default(with)) < 0)
        return 0;
    xsnprintf(want_s, sizeof want_s, "%s: %s", s->name, s->refused);
    xsnprintf(want_w, sizeof want_w, "%s: %s", with->name, with->refused ? with->refused : "");
    err[0] = '\0';
    rc = cu_config_finish(c, err, sizeof err) == -1 &&
         (strcmp(err, want_s) == 0 || strcmp(err, want_w) == 0);
    return to_default(c, with) == 0 && rc;
}

static void test_refused(void)
{
    struct cu_config c;
    size_t n = 0;
    int each = 1, dflt = 1, allowed = 1;

    clear_env();
    cu_config_init(&c);
    ok(cu_config_finish(&c, err, sizeof err) == 0, "every default is taken");
    cu_config_free(&c);
    for (size_t i = 0; i < cu_n_settings; i++) {
        const struct cu_setting *s = &cu_settings[i];
        const char *v = not_default(s);

        if (s->refused == NULL)
            continue;
        n++;
        cu_config_init(&c);
        if (set(&c, s->name, v) < 0 || cu_config_is_default(&c, s) != 0 ||
            !(s->only_with == NULL ? refuses(&c, s) : dependent_refused(&c, s))) {
            diag("%s = %s: %s", s->name, v, err);
            each = 0;
        }
        /* the default given explicitly, and each value as good as it */
        if (to_default(&c, s) < 0 || cu_config_is_default(&c, s) != 1 ||
            cu_config_finish(&c, err, sizeof err) != 0) {
            diag("%s back to its default: %s", s->name, err);
            dflt = 0;
        }
        for (size_t j = 0; s->allowed != NULL && s->allowed[j] != NULL; j++)
            if (set(&c, s->name, s->allowed[j]) < 0 ||
                cu_config_finish(&c, err, sizeof err) != 0) {
                diag("%s = %s: %s", s->name, s->allowed[j], err);
                allowed = 0;
            }
        cu_config_free(&c);
    }
    ok(n == 15, "15 settings are refused (%zu)", n);
    ok(each, "each refused away from its default, with 'NAME: REASON'");
    ok(dflt, "each taken at its default, given explicitly");
    ok(allowed, "the values each row allows are taken");
}

/* Values a refused row takes because they mean its default, and the
 * order refusals are reported in. */
static void test_refused_values(void)
{
    struct cu_config c;

    /* the first refused setting in the table's order is named */
    cu_config_init(&c);
    ok(set(&c, "protocol", "uwsgi") == 0 &&
       set(&c, "certfile", "c.pem") == 0 && refuses(&c, cu_setting_find("protocol")),
       "two refused: the earlier row is named (%s)", err);
    cu_config_free(&c);

    /* values that mean a row's default, and h2 (taken since HTTP/2 is built) */
    cu_config_init(&c);
    ok(set(&c, "http_protocols", " H1 , ") == 0 &&
       strv_is(&c.http_protocols, ARGV("h1")) &&
       cu_config_finish(&c, err, sizeof err) == 0, "http_protocols ' H1 , ' is h1");
    ok(set(&c, "http_protocols", "") == 0 && strv_is(&c.http_protocols, ARGV("h1")) &&
       cu_config_finish(&c, err, sizeof err) == 0, "http_protocols '' is h1");
    ok(set(&c, "http_protocols", "h1,h2") == 0 && strv_is(&c.http_protocols, ARGV("h1", "h2")) &&
       cu_config_finish(&c, err, sizeof err) == 0, "h1,h2 is taken");
    set(&c, "http_protocols", "h1");
    ok(set(&c, "http_parser", "PYTHON") == 0 && cu_config_finish(&c, err, sizeof err) == 0,
       "http_parser python: what cunicorn's parser does");
    ok(set(&c, "http_parser", "fast") == 0 && refuses(&c, cu_setting_find("http_parser")),
       "http_parser fast is refused (%s)", err);
    ok(set(&c, "http_parser", "auto") == 0 && set(&c, "logger_class", " simple ") == 0 &&
       cu_config_finish(&c, err, sizeof err) == 0, "logger_class simple is the built-in one");
    ok(set(&c, "logger_class", "gunicorn.glogging.Logger") == 0 &&
       cu_config_finish(&c, err, sizeof err) == 0, "so is gunicorn.glogging.Logger");
    ok(set(&c, "logger_class", "my.Logger") == 0 && cu_config_finish(&c, err, sizeof err) == 0,
       "another logger_class is taken (Python mode)");
    set(&c, "logger_class", "simple");
    ok(set(&c, "http2_cleartext", "False") == 0 && cu_config_finish(&c, err, sizeof err) == 0,
       "http2_cleartext False is off");
    ok(set(&c, "http2_cleartext", "True") == 0 && printed_is(&c, "http2_cleartext",
       "prior-knowledge") && cu_config_finish(&c, err, sizeof err) == 0,
       "http2_cleartext True is prior-knowledge");
    cu_config_free(&c);
}

/* The mechanism itself, on a row of the test's own; and rows without a
 * reason are never refused. */
static void test_refusal_mechanism(void)
{
    struct cu_config c;
    int later = 1;

    {
        static const char *const also[] = {"fine", NULL};
        struct cu_setting row = *cu_setting_find("protocol");

        row.allowed = also;
        cu_config_init(&c);
        ok(cu_config_is_default(&c, &row) == 1, "a row at its default");
        set(&c, "protocol", " fine ");
        ok(cu_config_is_default(&c, &row) == 1, "a value the row allows");
        ok(cu_config_is_default(&c, cu_setting_find("protocol")) == 0,
           "... which the table's row does not");
        set(&c, "protocol", "HTTP");
        ok(cu_config_is_default(&c, &row) == 0, "the default compares exactly");
        row.dflt = "HTTP";
        ok(cu_config_is_default(&c, &row) == 1, "against the row's default");
        cu_config_free(&c);
    }
    /* settings that work are never refused, whatever their value */
    cu_config_init(&c);
    for (size_t i = 0; i < cu_n_settings; i++) {
        const struct cu_setting *s = &cu_settings[i];

        if (s->refused == NULL && s->type != CU_CALLABLE && s->type != CU_DICT &&
            s->offset != offsetof(struct cu_config, chdir) &&
            s->offset != offsetof(struct cu_config, reload_extra_files) &&
            set(&c, s->name, not_default(s)) == 0 &&
            cu_config_finish(&c, err, sizeof err) != 0 &&
            strstr(err, "Invalid value") == NULL) {
            diag("%s: %s", s->name, err);
            later = 0;
        }
    }
    ok(later, "a setting without a reason is never refused");
    cu_config_free(&c);
}

/* raw_env: KEY=VALUE, as Gunicorn splits it for os.environ */
static void test_raw_env(void)
{
    struct cu_config c;

    cu_config_init(&c);
    ok(set(&c, "raw_env", " A=1 ") == 0 && strv_is(&c.raw_env, ARGV("A=1")),
       "raw_env A=1, stripped");
    ok(set(&c, "raw_env", "B==x") == 0 && strv_is(&c.raw_env, ARGV("B==x")),
       "a value may hold '='");
    ok(set(&c, "raw_env", "C=") == 0, "an empty value");
    bad_set(&c, "raw_env", "NOEQUALS", "no '='");
    bad_set(&c, "raw_env", "=value", "no name");
    bad_set(&c, "raw_env", "", "empty");
    bad_set(&c, "raw_env", "  ", "blank");
    cu_config_free(&c);
    fails(ARGV("-e", "A=1", "-e", "B"), -1,
          "Invalid value for raw_env: 'B' (expected KEY=VALUE)");
}

/* raw_paste_global_conf: KEY=VALUE split at the first '=' with no
 * backslash before it, as Gunicorn splits it for PasteDeploy */
static void test_paste_global_conf(void)
{
    struct cu_config c;

    cu_config_init(&c);
    ok(set(&c, "raw_paste_global_conf", " A=1 ") == 0 &&
       strv_is(&c.raw_paste_global_conf, ARGV("A=1")), "A=1, stripped");
    ok(set(&c, "raw_paste_global_conf", "a\\=b=c=d") == 0 &&
       strv_is(&c.raw_paste_global_conf, ARGV("a\\=b=c=d")),
       "kept as given: the escapes are undone when the app is loaded");
    ok(set(&c, "raw_paste_global_conf", "=x") == 0, "an empty KEY, as Gunicorn");
    ok(set(&c, "raw_paste_global_conf", "K=") == 0, "an empty VALUE");
    bad_set(&c, "raw_paste_global_conf", "NOEQUALS", "no '='");
    bad_set(&c, "raw_paste_global_conf", "a\\=b", "only an escaped '='");
    bad_set(&c, "raw_paste_global_conf", "", "empty");
    cu_config_free(&c);
    fails(ARGV("--paste-global", "A=1", "--paste-global", "B"), -1,
          "Invalid value for raw_paste_global_conf: 'B' (expected KEY=VALUE)");
}

/* the new rows' own validators */
static void test_new_validators(void)
{
    struct cu_config c;

    cu_config_init(&c);
    ok(set(&c, "uwsgi_allow_ips", "10.0.0.0/8, *") == 0 &&
       strv_is(&c.uwsgi_allow_ips, ARGV("10.0.0.0/8", "*")), "uwsgi_allow_ips");
    bad_set(&c, "uwsgi_allow_ips", "nginx", "address");
    bad_set(&c, "http_protocols", "h1,h4", "unknown protocol");
    bad_set(&c, "http_protocols", "h2,H2", "named twice");
    bad_set(&c, "http2_max_frame_size", "16383", "below RFC 9113's floor");
    bad_set(&c, "http2_max_frame_size", "16777216", "above its ceiling");
    ok(set(&c, "http2_max_frame_size", "16777215") == 0 &&
       set(&c, "http2_max_frame_size", "16384") == 0, "its bounds are taken");
    bad_set(&c, "http2_cleartext", "sometimes", "choice");
    bad_set(&c, "asgi_loop", "tokio", "choice");
    bad_set(&c, "asgi_lifespan", "maybe", "choice");
    bad_set(&c, "http_parser", "rust", "choice");
    bad_set(&c, "asgi_disconnect_grace_period", "-1", "negative");
    bad_set(&c, "ws_max_size", "-1", "negative");
    bad_set(&c, "ws_per_message_deflate", "maybe", "not a boolean");
    bad_set(&c, "ws_ping_interval", "-1", "negative");
    bad_set(&c, "ws_ping_interval", "soon", "not a number");
    bad_set(&c, "ws_ping_interval", "nan", "not a number");
    bad_set(&c, "ws_ping_timeout", "inf", "not a number");
    bad_set(&c, "ws_ping_timeout", "0x10", "hexadecimal");
    bad_set(&c, "ws_ping_timeout", "1e9", "too large");
    ok(set(&c, "ws_ping_interval", "0.25") == 0 && c.ws_ping_interval == 250 &&
       set(&c, "ws_ping_interval", " 2 ") == 0 && c.ws_ping_interval == 2000 &&
       set(&c, "ws_ping_interval", "0.0001") == 0 && c.ws_ping_interval == 1 &&
       set(&c, "ws_ping_interval", "None") == 0 && c.ws_ping_interval == 0 &&
       cu_config_set(&c, cu_setting_find("ws_ping_timeout"), NULL, 0, err, sizeof err) == 0 &&
       c.ws_ping_timeout == 0, "seconds as floats to ms; None and a file's None: 0");
    bad_set(&c, "header_timeout", "-1", "negative");
    bad_set(&c, "new_connection_timeout", "-1", "negative");
    bad_set(&c, "body_timeout", "-1", "negative");
    bad_set(&c, "body_min_rate", "-1", "negative");
    bad_set(&c, "send_timeout", "-1", "negative");
    bad_set(&c, "max_head_memory", "-1", "negative");
    bad_set(&c, "control_socket_mode", "0o9", "octal");
    bad_set(&c, "spew", "loud", "bool");
    bad_set(&c, "enable_stdio_inheritance", "2", "bool");
    bad_set(&c, "logconfig_dict", "not a dict", "dict");
    bad_set(&c, "cert_reqs", "-1", "negative");
    ok(set(&c, "control_socket_mode", "0600") == 0 && c.control_socket_mode == 384,
       "control_socket_mode 0600 is octal, as --umask");
    ok(set(&c, "asgi_loop", "UVLOOP") == 0 && printed_is(&c, "asgi_loop", "uvloop") &&
       set(&c, "asgi_lifespan", "Off") == 0 && printed_is(&c, "asgi_lifespan", "off"),
       "the asgi choices, any case");
    cu_config_free(&c);
    cu_config_init(&c);
    ok(set(&c, "root_path", " /api ") == 0 && strcmp(c.root_path, "/api") == 0 &&
       set(&c, "tmp_upload_dir", "/tmp/up") == 0 &&
       set(&c, "worker_tmp_dir", "/dev/shm") == 0 && set(&c, "spew", "true") == 0 &&
       set(&c, "enable_stdio_inheritance", "true") == 0 &&
       set(&c, "control_socket_disable", "true") == 0 &&
       cu_config_finish(&c, err, sizeof err) == 0,
       "taken, and never refused: root_path, tmp_upload_dir, worker_tmp_dir, spew, "
       "enable_stdio_inheritance, control_socket_disable (%s)", err);
    cu_config_free(&c);
}

/* statsd_host: Gunicorn's validate_statsd_address at set time (every form
 * it reads is tests/core/test_statsd.c); the four statsd settings are
 * taken at finish. */
static void test_statsd(void)
{
    struct cu_config c;

    cu_config_init(&c);
    ok(set(&c, "statsd_host", " localhost:8125 ") == 0 &&
       strcmp(c.statsd_host, "localhost:8125") == 0, "statsd_host, stripped");
    ok(set(&c, "statsd_host", "unix:///run/statsd.sock") == 0 &&
       set(&c, "statsd_host", "[::1]") == 0 && set(&c, "statsd_host", "unix:8125") == 0,
       "unix://PATH, [::1], unix:8125 (the host unix)");
    ok(set(&c, "statsd_host", "") == 0 && strcmp(c.statsd_host, "") == 0,
       "'' is taken (Gunicorn's 0.0.0.0:8125)");
    bad_set(&c, "statsd_host", "localhost:x", "a port that is no number");
    bad_set(&c, "statsd_host", "localhost:", "an empty port");
    bad_set(&c, "statsd_host", "udp://localhost:8125", "no udp:// in Gunicorn");
    bad_set(&c, "statsd_host", "localhost:65536", "a port out of range");
    bad_set(&c, "statsd_host", "localhost:-1", "a negative port");
    bad_set(&c, "statsd_host", "fd://3", "a file descriptor");
    bad_set(&c, "statsd_host", "unix://", "an empty path");
    ok(strstr(err, "(an empty path)") != NULL, "... saying why: %s", err);
    ok(set(&c, "statsd_host", "127.0.0.1:9") == 0 && set(&c, "statsd_prefix", "app") == 0 &&
       set(&c, "dogstatsd_tags", "env:prod") == 0 &&
       set(&c, "enable_backlog_metric", "true") == 0 && c.enable_backlog_metric &&
       cu_config_finish(&c, err, sizeof err) == 0,
       "statsd_host, statsd_prefix, dogstatsd_tags, enable_backlog_metric are "
       "taken (%s)", err);
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
    test_refused();
    test_refused_values();
    test_refusal_mechanism();
    test_raw_env();
    test_paste_global_conf();
    test_new_validators();
    test_statsd();
    test_copy();
    return tap_done();
}
