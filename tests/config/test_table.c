/*
 * The settings table (src/config/table.c): one row per field of struct
 * cu_config with Gunicorn's name, type and flags; the lookups; each
 * CU_CHOICE's names in the order of the enum its index stands for.
 */
#include "config/settings.h"
#include "http/parser.h"
#include "http/proxy.h"
#include "worker/reloader.h"
#include "../lib/tap.h"

#include <stdio.h>
#include <string.h>

struct expect {
    const char *name;
    enum cu_stype type;
    const char *flags;   /* space-separated, "" for file only */
    const char *refused; /* the reason, or NULL: it works */
};

#define SSLCTX "the hook is not built yet: cunicorn's TLS is OpenSSL in C and " \
               "cannot take a Python SSLContext; use certfile, keyfile, ca_certs, " \
               "cert_reqs and ciphers"
#define UWSGI "the uWSGI protocol is not built yet"
#define DIRTY "the dirty arbiter is not built yet"
#define CONTROL "the control socket is not built yet"

/* Gunicorn 26.1's 119 settings and our 15, in the table's order. */
static const struct expect expected[] = {
    {"config", CU_STR, "-c --config", NULL},
    {"wsgi_app", CU_STR_OPT, "", NULL},
    {"bind", CU_LIST, "-b --bind", NULL},
    {"backlog", CU_INT, "--backlog", NULL},
    {"workers", CU_INT, "-w --workers", NULL},
    {"worker_class", CU_STR, "-k --worker-class", NULL},
    {"threads", CU_INT, "--threads", NULL},
    {"worker_connections", CU_INT, "--worker-connections", NULL},
    {"max_requests", CU_INT, "--max-requests", NULL},
    {"max_requests_jitter", CU_INT, "--max-requests-jitter", NULL},
    {"max_worker_lifetime", CU_INT, "--max-worker-lifetime", NULL},  /* ours */
    {"max_worker_memory", CU_INT, "--max-worker-memory", NULL},  /* ours */
    {"request_timeout", CU_INT, "--request-timeout", NULL},  /* ours */
    {"timeout", CU_INT, "-t --timeout", NULL},
    {"graceful_timeout", CU_INT, "--graceful-timeout", NULL},
    {"new_connection_timeout", CU_INT, "--new-connection-timeout", NULL},  /* ours */
    {"header_timeout", CU_INT, "--header-timeout", NULL},  /* ours */
    {"body_timeout", CU_INT, "--body-timeout", NULL},  /* ours */
    {"body_min_rate", CU_INT, "--body-min-rate", NULL},  /* ours */
    {"send_timeout", CU_INT, "--send-timeout", NULL},  /* ours */
    {"max_head_memory", CU_INT, "--max-head-memory", NULL},  /* ours */
    {"keepalive", CU_INT, "--keep-alive", NULL},
    {"buffer_body", CU_INT, "--buffer-body", NULL},  /* ours */
    {"limit_request_body", CU_INT, "--limit-request-body", NULL},  /* ours */
    {"stream_request_body", CU_BOOL, "--stream-request-body", NULL},  /* ours */
    {"spool_memory", CU_INT, "--spool-memory", NULL},  /* ours */
    {"asgi_loop", CU_CHOICE, "--asgi-loop", NULL},
    {"asgi_lifespan", CU_CHOICE, "--asgi-lifespan", NULL},
    {"asgi_disconnect_grace_period", CU_INT, "--asgi-disconnect-grace-period", NULL},
    {"ws_max_size", CU_INT, "--ws-max-size", NULL},  /* ours */
    {"ws_per_message_deflate", CU_CHOICE, "--ws-per-message-deflate", NULL},  /* ours */
    {"ws_ping_interval", CU_SECONDS, "--ws-ping-interval", NULL},  /* ours */
    {"ws_ping_timeout", CU_SECONDS, "--ws-ping-timeout", NULL},  /* ours */
    {"http_parser", CU_CHOICE, "--http-parser",
     "the gunicorn_h1c parser is not built in (cunicorn's own parser keeps "
     "the rules of Gunicorn's python one)"},
    {"limit_request_line", CU_INT, "--limit-request-line", NULL},
    {"limit_request_fields", CU_INT, "--limit-request-fields", NULL},
    {"limit_request_field_size", CU_INT, "--limit-request-field_size", NULL},
    {"check_config", CU_BOOL, "--check-config", NULL},
    {"print_config", CU_BOOL, "--print-config", NULL},
    {"reload", CU_BOOL, "--reload", NULL},
    {"reload_engine", CU_CHOICE, "--reload-engine", NULL},
    {"reload_extra_files", CU_LIST, "--reload-extra-file", NULL},
    {"spew", CU_BOOL, "--spew", NULL},
    {"preload_app", CU_BOOL, "--preload", NULL},
    {"reuse_port", CU_BOOL, "--reuse-port", NULL},
    {"chdir", CU_STR, "--chdir", NULL},
    {"daemon", CU_BOOL, "-D --daemon", NULL},
    {"raw_env", CU_LIST, "-e --env", NULL},
    {"pidfile", CU_STR_OPT, "-p --pid", NULL},
    {"worker_tmp_dir", CU_STR_OPT, "--worker-tmp-dir", NULL},
    {"user", CU_STR_OPT, "-u --user", NULL},
    {"group", CU_STR_OPT, "-g --group", NULL},
    {"umask", CU_OCTAL, "-m --umask", NULL},
    {"initgroups", CU_BOOL, "--initgroups", NULL},
    {"tmp_upload_dir", CU_STR_OPT, "", NULL},
    {"sendfile", CU_BOOL, "--no-sendfile", NULL},
    {"secure_scheme_headers", CU_DICT, "", NULL},
    {"forwarded_allow_ips", CU_CSV, "--forwarded-allow-ips", NULL},
    {"pythonpath", CU_STR_OPT, "--pythonpath", NULL},
    {"paste", CU_STR_OPT, "--paste --paster", NULL},
    {"proxy_protocol", CU_CHOICE, "--proxy-protocol", NULL},
    {"proxy_allow_ips", CU_CSV, "--proxy-allow-from", NULL},
    {"protocol", CU_STR, "--protocol", UWSGI},
    {"uwsgi_allow_ips", CU_CSV, "--uwsgi-allow-from", UWSGI},
    {"raw_paste_global_conf", CU_LIST, "--paste-global", NULL},
    {"permit_obsolete_folding", CU_BOOL, "--permit-obsolete-folding", NULL},
    {"strip_header_spaces", CU_BOOL, "--strip-header-spaces", NULL},
    {"permit_unconventional_http_method", CU_BOOL,
     "--permit-unconventional-http-method", NULL},
    {"permit_unconventional_http_version", CU_BOOL,
     "--permit-unconventional-http-version", NULL},
    {"casefold_http_method", CU_BOOL, "--casefold-http-method", NULL},
    {"forwarder_headers", CU_CSV, "--forwarder-headers", NULL},
    {"header_map", CU_CHOICE, "--header-map", NULL},
    {"root_path", CU_STR, "--root-path", NULL},
    {"accesslog", CU_STR_OPT, "--access-logfile", NULL},
    {"disable_redirect_access_to_syslog", CU_BOOL,
     "--disable-redirect-access-to-syslog", NULL},
    {"access_log_format", CU_STR, "--access-logformat", NULL},
    {"errorlog", CU_STR, "--error-logfile --log-file", NULL},
    {"loglevel", CU_CHOICE, "--log-level", NULL},
    {"capture_output", CU_BOOL, "--capture-output", NULL},
    {"logger_class", CU_STR, "--logger-class", NULL},
    {"logconfig", CU_STR_OPT, "--log-config", NULL},
    {"logconfig_dict", CU_DICT, "", NULL},
    {"logconfig_json", CU_STR_OPT, "--log-config-json", NULL},
    {"syslog_addr", CU_STR, "--log-syslog-to", NULL},
    {"syslog", CU_BOOL, "--log-syslog", NULL},
    {"syslog_prefix", CU_STR_OPT, "--log-syslog-prefix", NULL},
    {"syslog_facility", CU_STR, "--log-syslog-facility", NULL},
    {"enable_stdio_inheritance", CU_BOOL, "-R --enable-stdio-inheritance", NULL},
    {"statsd_host", CU_STR_OPT, "--statsd-host", NULL},
    {"dogstatsd_tags", CU_STR, "--dogstatsd-tags", NULL},
    {"statsd_prefix", CU_STR, "--statsd-prefix", NULL},
    {"enable_backlog_metric", CU_BOOL, "--enable-backlog-metric", NULL},
    {"proc_name", CU_STR_OPT, "-n --name", NULL},
    {"default_proc_name", CU_STR, "", NULL},
    {"on_starting", CU_CALLABLE, "", NULL},
    {"on_reload", CU_CALLABLE, "", NULL},
    {"when_ready", CU_CALLABLE, "", NULL},
    {"pre_fork", CU_CALLABLE, "", NULL},
    {"post_fork", CU_CALLABLE, "", NULL},
    {"post_worker_init", CU_CALLABLE, "", NULL},
    {"worker_int", CU_CALLABLE, "", NULL},
    {"worker_abort", CU_CALLABLE, "", NULL},
    {"pre_exec", CU_CALLABLE, "", NULL},
    {"pre_request", CU_CALLABLE, "", NULL},
    {"post_request", CU_CALLABLE, "", NULL},
    {"child_exit", CU_CALLABLE, "", NULL},
    {"worker_exit", CU_CALLABLE, "", NULL},
    {"nworkers_changed", CU_CALLABLE, "", NULL},
    {"on_exit", CU_CALLABLE, "", NULL},
    {"ssl_context", CU_CALLABLE, "", SSLCTX},
    {"keyfile", CU_STR_OPT, "--keyfile", NULL},
    {"certfile", CU_STR_OPT, "--certfile", NULL},
    {"ssl_version", CU_INT, "--ssl-version", NULL},
    {"cert_reqs", CU_INT, "--cert-reqs", NULL},
    {"ca_certs", CU_STR_OPT, "--ca-certs", NULL},
    {"suppress_ragged_eofs", CU_BOOL, "--suppress-ragged-eofs", NULL},
    {"do_handshake_on_connect", CU_BOOL, "--do-handshake-on-connect", NULL},
    {"ciphers", CU_STR_OPT, "--ciphers", NULL},
    {"ssl_ocsp_response", CU_STR_OPT, "--ssl-ocsp-response", NULL},  /* ours */
    {"http_protocols", CU_CSV, "--http-protocols", NULL},
    {"http2_cleartext", CU_CHOICE, "--http2-cleartext", NULL},
    {"http2_max_concurrent_streams", CU_INT, "--http2-max-concurrent-streams", NULL},
    {"http2_initial_window_size", CU_INT, "--http2-initial-window-size", NULL},
    {"http2_max_frame_size", CU_INT, "--http2-max-frame-size", NULL},
    {"http2_max_header_list_size", CU_INT, "--http2-max-header-list-size", NULL},
    {"dirty_apps", CU_LIST, "--dirty-app", DIRTY},
    {"dirty_workers", CU_INT, "--dirty-workers", DIRTY},
    {"dirty_timeout", CU_INT, "--dirty-timeout", DIRTY},
    {"dirty_threads", CU_INT, "--dirty-threads", DIRTY},
    {"dirty_graceful_timeout", CU_INT, "--dirty-graceful-timeout", DIRTY},
    {"on_dirty_starting", CU_CALLABLE, "", DIRTY},
    {"dirty_post_fork", CU_CALLABLE, "", DIRTY},
    {"dirty_worker_init", CU_CALLABLE, "", DIRTY},
    {"dirty_worker_exit", CU_CALLABLE, "", DIRTY},
    {"control_socket", CU_STR_OPT, "--control-socket", CONTROL},
    {"control_socket_mode", CU_OCTAL, "--control-socket-mode", CONTROL},
    {"control_socket_disable", CU_BOOL, "--no-control-socket", NULL},
};

#define N_EXPECTED (sizeof expected / sizeof expected[0])

static void test_table(void)
{
    int names_ok = 1, flags_ok = 1, offsets_ok = 1, order_ok = 1, refused_ok = 1;
    int fit_ok = 1;
    size_t ours = 0;

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
        if (i < cu_n_settings && s != &cu_settings[i])
            order_ok = 0;
        ours += s->ours != 0;
        if (expected[i].refused == NULL ? s->refused != NULL
            : s->refused == NULL || strcmp(s->refused, expected[i].refused) != 0) {
            diag("%s is refused for '%s', want '%s'", s->name,
                 s->refused ? s->refused : "(nothing)",
                 expected[i].refused ? expected[i].refused : "(nothing)");
            refused_ok = 0;
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
    ok(order_ok, "in the table's order");
    ok(ours == 18 && N_EXPECTED - ours == 119,
       "18 of our own, and Gunicorn 26.1's 119 (%zu ours)", ours);
    ok(refused_ok, "exactly these are refused, each with its reason");
    for (size_t i = 0; i < cu_n_settings; i++) {
        const struct cu_setting *s = &cu_settings[i];

        if ((s->refused != NULL && s->inert != NULL) ||
            (s->allowed != NULL && s->refused == NULL) ||
            (s->if_true != NULL && s->type != CU_CHOICE) ||
            (s->ours && (s->refused != NULL || s->inert != NULL))) {
            diag("%s: refused, inert, allowed, if_true or ours do not fit", s->name);
            fit_ok = 0;
        }
    }
    ok(fit_ok, "a row is refused or inert, not both; allowed only where "
       "refused; if_true only on choices");
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

/* ---- choices: a name's index is its enum's value ---------------------- */

struct choice {
    int value;
    const char *name;
};

/* s has exactly the names want[0..n), want[i].name at index want[i].value. */
static void choices_are(const char *setting, const struct choice *want, size_t n)
{
    const struct cu_setting *s = cu_setting_find(setting);
    size_t count = 0;
    int same = s != NULL && s->type == CU_CHOICE;

    while (same && s->choices[count] != NULL)
        count++;
    same = same && count == n;
    for (size_t i = 0; same && i < n; i++) {
        same = strcmp(s->choices[want[i].value], want[i].name) == 0;
        if (!same)
            diag("%s: index %d is %s, want %s", setting, want[i].value,
                 s->choices[want[i].value], want[i].name);
    }
    ok(same, "%s: %zu names, each at its enum's value", setting, n);
}

static void test_choices(void)
{
    static const struct choice proxy[] = {
        {HTTP_PROXY_OFF, "off"}, {HTTP_PROXY_V1, "v1"},
        {HTTP_PROXY_V2, "v2"}, {HTTP_PROXY_AUTO, "auto"},
    };
    static const struct choice header_map[] = {
        {HTTP_HEADER_MAP_DROP, "drop"}, {HTTP_HEADER_MAP_DANGEROUS, "dangerous"},
        {HTTP_HEADER_MAP_REFUSE, "refuse"},
    };
    static const struct choice engine[] = {
        {CU_RELOAD_AUTO, "auto"}, {CU_RELOAD_INOTIFY, "inotify"},
        {CU_RELOAD_POLL, "poll"},
    };
    static const struct choice level[] = {
        {0, "debug"}, {1, "info"}, {2, "warning"}, {3, "error"}, {4, "critical"},
    };
    static const enum cu_level level_of[] = {CU_DEBUG, CU_INFO, CU_WARNING, CU_ERROR,
                                             CU_CRITICAL};
    const struct cu_setting *loglevel = cu_setting_find("loglevel");
    struct cu_config c = {0};
    int levels = 1, named = 1;
    size_t n = 0;

    choices_are("proxy_protocol", proxy, sizeof(proxy) / sizeof(proxy[0]));
    choices_are("header_map", header_map, sizeof(header_map) / sizeof(header_map[0]));
    choices_are("reload_engine", engine, sizeof(engine) / sizeof(engine[0]));
    choices_are("loglevel", level, sizeof(level) / sizeof(level[0]));
    /* stored as the index, read back by name (cu_config_choice) */
    static const struct choice loop[] = {{0, "auto"}, {1, "asyncio"}, {2, "uvloop"}};
    static const struct choice lifespan[] = {{0, "auto"}, {1, "on"}, {2, "off"}};
    static const struct choice parser[] = {{0, "auto"}, {1, "fast"}, {2, "python"}};
    static const struct choice h2c[] = {
        {0, "off"}, {1, "prior-knowledge"}, {2, "upgrade"}, {3, "both"},
    };
    choices_are("asgi_loop", loop, sizeof(loop) / sizeof(loop[0]));
    choices_are("asgi_lifespan", lifespan, sizeof(lifespan) / sizeof(lifespan[0]));
    choices_are("http_parser", parser, sizeof(parser) / sizeof(parser[0]));
    choices_are("http2_cleartext", h2c, sizeof(h2c) / sizeof(h2c[0]));
    static const struct choice boolean[] = {{0, "false"}, {1, "true"}};
    choices_are("ws_per_message_deflate", boolean, sizeof(boolean) / sizeof(boolean[0]));
    for (size_t i = 0; i < cu_n_settings; i++)
        n += cu_settings[i].type == CU_CHOICE;
    ok(n == 9, "those are all the choices (%zu)", n);

    /* loglevel: the level of each name is the logger's own reading of it */
    for (c.loglevel = 0; loglevel->choices[c.loglevel] != NULL; c.loglevel++) {
        const char *name = loglevel->choices[c.loglevel];

        if (cu_config_loglevel(&c) != level_of[c.loglevel]) {
            diag("%s is level %d", name, (int)cu_config_loglevel(&c));
            levels = 0;
        }
        if (cu_config_choice(&c, loglevel) != name)
            named = 0;
    }
    ok(levels, "cu_config_loglevel: each name's enum cu_level");
    ok(named, "cu_config_choice: the name of the index");
    c.proxy_protocol = HTTP_PROXY_V2;
    c.reload_engine = CU_RELOAD_POLL;
    c.header_map = HTTP_HEADER_MAP_REFUSE;
    ok(strcmp(cu_config_choice(&c, cu_setting_find("proxy_protocol")), "v2") == 0 &&
       strcmp(cu_config_choice(&c, cu_setting_find("reload_engine")), "poll") == 0 &&
       strcmp(cu_config_choice(&c, cu_setting_find("header_map")), "refuse") == 0,
       "cu_config_choice names the enum's value");
}

int main(void)
{
    test_table();
    test_choices();
    return tap_done();
}
