/*
 * The command line (src/config/args.c): every flag in every form,
 * argparse's details, the layers, what parsing refuses, and
 * GUNICORN_CMD_ARGS splitting.
 */
#include "common.h"
#include "http/proxy.h"

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
        if (strcmp(s->name, "http2_max_frame_size") == 0)
            return (struct sample){"0x10000", "65536"};
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
        return (struct sample){"a=1", "['a=1']"};
    case CU_CSV:
        if (strcmp(s->name, "forwarder_headers") == 0)
            return (struct sample){"X_A,X_B", "['X_A', 'X_B']"};
        if (strcmp(s->name, "http_protocols") == 0)
            return (struct sample){"H2, h1", "['h2', 'h1']"};
        return (struct sample){"10.0.0.1,fd00::/8",
                               "['10.0.0.1', 'fd00::/8']"};
    case CU_CHOICE: {
        size_t n = 0;

        while (s->choices[n + 1] != NULL)
            n++;
        xsnprintf(choice, sizeof choice, "%s", s->choices[n]);
        return (struct sample){choice, choice};
    }
    case CU_BOOL:
        return (struct sample){NULL, s->bare ? "False" : "True"};
    case CU_SECONDS:
        return (struct sample){"0.25", "0.25"};
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
            xsnprintf(joined, sizeof joined, "%s=%s", f, v.value);
            check_form(s, ARGV(joined), v.shown);
            if (f[1] != '-') {
                xsnprintf(joined, sizeof joined, "%s%s", f, v.value);
                check_form(s, ARGV(joined), v.shown);
            }
        }
    }
}

static void test_flag_details(void)
{
    struct cu_config c;

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
       cu_config_loglevel(&c) == CU_DEBUG && strcmp(c.worker_class, "GThread") == 0,
       "choices ignore case; worker_class is kept as given");
    cu_config_free(&c);
    ok(fresh(&c, ARGV("--chdir", "/tmp/../tmp/./")) == 0 &&
       strcmp(c.chdir, "/tmp") == 0, "chdir normalised");
    cu_config_free(&c);
}

/* proxy_protocol: --proxy-protocol [MODE] */
static void test_proxy_protocol_flag(void)
{
    struct cu_config c;

    ok(fresh(&c, ARGV("--proxy-protocol")) == 0 &&
       c.proxy_protocol == HTTP_PROXY_AUTO, "--proxy-protocol alone: auto");
    cu_config_free(&c);
    ok(fresh(&c, ARGV("--proxy-protocol", "-D")) == 0 && c.daemon &&
       c.proxy_protocol == HTTP_PROXY_AUTO,
       "--proxy-protocol before another option: auto");
    cu_config_free(&c);
    ok(fresh(&c, ARGV("--proxy-protocol", "v2", "app:x")) == 0 &&
       c.proxy_protocol == HTTP_PROXY_V2 && strcmp(c.app, "app:x") == 0,
       "--proxy-protocol v2 APP");
    cu_config_free(&c);
    ok(fresh(&c, ARGV("--proxy-protocol", "--", "app:x")) == 0 &&
       c.proxy_protocol == HTTP_PROXY_AUTO && strcmp(c.app, "app:x") == 0,
       "--proxy-protocol -- APP: auto");
    cu_config_free(&c);
    ok(fresh(&c, ARGV("--proxy-protocol=true")) == 0 &&
       c.proxy_protocol == HTTP_PROXY_AUTO, "--proxy-protocol=true: auto");
    cu_config_free(&c);
    ok(fresh(&c, ARGV("--proxy-protocol", "False")) == 0 &&
       c.proxy_protocol == HTTP_PROXY_OFF, "--proxy-protocol False: off");
    cu_config_free(&c);
    ok(fresh(&c, ARGV("--proxy-protocol", "app:x")) == -1 &&
       strstr(err, "Invalid value for proxy_protocol: 'app:x'") != NULL,
       "--proxy-protocol takes the next word, as argparse's nargs='?' does");
    cu_config_free(&c);
}

/* positionals, --, -h, -v */
static void test_positionals(void)
{
    struct cu_config c;
    struct cu_args a;

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


/* ---- what parsing refuses --------------------------------------------- */

static void bad_parse(const char *const *argv, const char *want)
{
    fails(argv, -2, want);
}

static void test_parse_errors(void)
{
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

int main(void)
{
    clear_env();
    test_every_flag();
    test_flag_details();
    test_proxy_protocol_flag();
    test_positionals();
    test_layers();
    test_parse_errors();
    test_split();
    return tap_done();
}
