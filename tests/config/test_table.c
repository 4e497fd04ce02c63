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
};

static const struct expect expected[] = {
    {"config", CU_STR, "-c --config"},
    {"wsgi_app", CU_STR_OPT, ""},
    {"bind", CU_LIST, "-b --bind"},
    {"backlog", CU_INT, "--backlog"},
    {"workers", CU_INT, "-w --workers"},
    {"worker_class", CU_STR, "-k --worker-class"},
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
    for (size_t i = 0; i < cu_n_settings; i++)
        n += cu_settings[i].type == CU_CHOICE;
    ok(n == 4, "those are all the choices (%zu)", n);

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
