/*
 * --help and --print-config (src/config/help.c): every flag in the help,
 * its layout, and the listing's order, padding and Python reprs.
 */
#include "common.h"

static char *capture_help(const char *prog)
{
    struct capture k;

    cu_config_help(capture_start(&k), prog);
    return capture_end(&k);
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
    ok(printed_is(&c, "proxy_protocol", "off") && printed_is(&c, "header_map", "drop") &&
       printed_is(&c, "reload_engine", "auto"), "choices by name");
    parse_apply(&c, ARGV("--proxy-protocol", "-k", "egg:gunicorn#sync", "--threads",
                         "2", "--header-map", "Dangerous", "--reload-engine", "INOTIFY",
                         "--log-level", "critical"));
    ok(printed_is(&c, "proxy_protocol", "auto") &&
       printed_is(&c, "header_map", "dangerous") &&
       printed_is(&c, "reload_engine", "inotify") &&
       printed_is(&c, "loglevel", "critical"), "choices by name, in lower case");
    ok(printed_is(&c, "worker_class", "egg:gunicorn#sync"),
       "worker_class as given, as Gunicorn prints it");
    cu_config_free(&c);
}

int main(void)
{
    clear_env();
    test_help();
    test_print();
    return tap_done();
}
