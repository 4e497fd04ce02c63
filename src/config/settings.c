/*
 * The settings table, its validators, the command-line parser, the
 * GUNICORN_CMD_ARGS splitter, --help and --print-config (see settings.h).
 *
 * The rules are Gunicorn 26.1's (shared reference §1 and §6): argparse for
 * the command line, shlex.split for GUNICORN_CMD_ARGS, and the validators
 * of gunicorn/config.py for values (strings stripped, int(x, 0) for
 * numbers, "true"/"false" in any case for booleans). Places where we are
 * deliberately different are marked OURS.
 *
 * Every cu_config_set leaves the config unchanged when it fails.
 */
#include "settings.h"
#include "core/errbuf.h"

#include <arpa/inet.h>
#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#define OFF(field) offsetof(struct cu_config, field)

#define S_CONFIG "Config File"
#define S_SOCKET "Server Socket"
#define S_WORKER "Worker Processes"
#define S_SECURITY "Security"
#define S_DEBUG "Debugging"
#define S_MECH "Server Mechanics"
#define S_LOG "Logging"
#define S_NAMING "Process Naming"
#define S_HOOKS "Server Hooks"

static const char *const worker_classes[] = {
    "sync", "gthread", "gevent", "eventlet", "tornado", "asgi", NULL
};
static const char *const proxy_modes[] = {"off", "v1", "v2", "auto", NULL};
static const char *const header_maps[] = {"drop", "refuse", "dangerous", NULL};
static const char *const reload_engines[] = {"auto", "poll", "inotify", NULL};
static const char *const log_levels[] = {
    "debug", "info", "warning", "error", "critical", NULL
};

const struct cu_setting cu_settings[] = {
    /* Config File */
    {.name = "config", .section = S_CONFIG, .flags = {"-c", "--config"},
     .meta = "CONFIG", .type = CU_STR, .offset = OFF(config),
     .dflt = "./gunicorn.conf.py",
     .help = "Where to read settings from: PATH, file:PATH or "
             "python:MODULE. The default file is read only if it exists."},
    {.name = "wsgi_app", .section = S_CONFIG, .meta = "STRING",
     .type = CU_STR_OPT, .offset = OFF(wsgi_app),
     .help = "The application (MODULE:NAME) when a config file names it "
             "instead of the command line."},
    /* Server Socket */
    {.name = "bind", .section = S_SOCKET, .flags = {"-b", "--bind"},
     .meta = "ADDRESS", .type = CU_LIST, .offset = OFF(bind),
     .dflt = "127.0.0.1:8000",
     .help = "An address to listen on: HOST, HOST:PORT, [IPV6]:PORT, "
             "unix:PATH or fd://N. Repeat it to listen on several. When "
             "$PORT is set the default is 0.0.0.0:$PORT."},
    {.name = "backlog", .section = S_SOCKET, .flags = {"--backlog"},
     .meta = "INT", .type = CU_INT, .offset = OFF(backlog), .dflt = "2048",
     .help = "How many connections may wait in each listening socket's "
             "queue before the kernel refuses more."},
    /* Worker Processes */
    {.name = "workers", .section = S_WORKER, .flags = {"-w", "--workers"},
     .meta = "INT", .type = CU_INT, .offset = OFF(workers), .dflt = "1",
     .help = "How many worker processes to fork. When $WEB_CONCURRENCY is "
             "set it is the default."},
    {.name = "worker_class", .section = S_WORKER,
     .flags = {"-k", "--worker-class"}, .meta = "STRING", .type = CU_CHOICE,
     .offset = OFF(worker_class), .dflt = "sync", .choices = worker_classes,
     .help = "The kind of worker: sync or gthread (gevent, eventlet, "
             "tornado and asgi are known names too). sync with more than "
             "one thread becomes gthread."},
    {.name = "threads", .section = S_WORKER, .flags = {"--threads"},
     .meta = "INT", .type = CU_INT, .offset = OFF(threads), .dflt = "1",
     .help = "Threads per worker, each serving one request at a time. More "
             "than one turns the sync worker into gthread."},
    {.name = "worker_connections", .section = S_WORKER,
     .flags = {"--worker-connections"}, .meta = "INT", .type = CU_INT,
     .offset = OFF(worker_connections), .dflt = "1000",
     .help = "The most connections one worker holds at once (gthread and "
             "the event-loop workers)."},
    {.name = "max_requests", .section = S_WORKER, .flags = {"--max-requests"},
     .meta = "INT", .type = CU_INT, .offset = OFF(max_requests), .dflt = "0",
     .help = "Restart a worker once it has served this many requests; 0 "
             "never restarts it."},
    {.name = "max_requests_jitter", .section = S_WORKER,
     .flags = {"--max-requests-jitter"}, .meta = "INT", .type = CU_INT,
     .offset = OFF(max_requests_jitter), .dflt = "0",
     .help = "Add a random 0..N to max_requests for each worker so that "
             "they do not all restart at once."},
    {.name = "max_worker_lifetime", .section = S_WORKER,
     .flags = {"--max-worker-lifetime"}, .meta = "INT", .type = CU_INT,
     .offset = OFF(max_worker_lifetime), .dflt = "0",
     .help = "Replace a worker once it has run this many seconds (a new "
             "one is started first); 0: never. Not in Gunicorn."},
    {.name = "max_worker_memory", .section = S_WORKER,
     .flags = {"--max-worker-memory"}, .meta = "INT", .type = CU_INT,
     .offset = OFF(max_worker_memory), .dflt = "0",
     .help = "Replace a worker whose resident memory passes this many MiB, "
             "checked by the master every second (a new one is started "
             "first, one at a time); 0: never. Not in Gunicorn."},
    {.name = "request_timeout", .section = S_WORKER,
     .flags = {"--request-timeout"}, .meta = "INT", .type = CU_INT,
     .offset = OFF(request_timeout), .dflt = "0",
     .help = "Abort a request still running after this many seconds, in "
             "any worker class: its request line and Python stack are "
             "logged, the app gets RequestTimeout, the client a 504 (or a "
             "closed connection once the response has begun); 0: never. "
             "Not in Gunicorn."},
    {.name = "timeout", .section = S_WORKER, .flags = {"-t", "--timeout"},
     .meta = "INT", .type = CU_INT, .offset = OFF(timeout), .dflt = "30",
     .help = "Kill a worker that shows no sign of life for this many "
             "seconds; 0 turns the check off."},
    {.name = "graceful_timeout", .section = S_WORKER,
     .flags = {"--graceful-timeout"}, .meta = "INT", .type = CU_INT,
     .offset = OFF(graceful_timeout), .dflt = "30",
     .help = "On a stop or restart, the seconds workers get to finish "
             "their requests before they are killed."},
    {.name = "keepalive", .section = S_WORKER, .flags = {"--keep-alive"},
     .meta = "INT", .type = CU_INT, .offset = OFF(keepalive), .dflt = "2",
     .help = "Seconds an idle keep-alive connection waits for its next "
             "request (not with sync workers); 0 turns keep-alive off."},
    {.name = "buffer_body", .section = S_WORKER, .flags = {"--buffer-body"},
     .meta = "INT", .type = CU_INT, .offset = OFF(buffer_body), .dflt = "65536",
     .help = "gthread: a request body of up to this many bytes (with a "
             "Content-Length) is read before a thread runs the app, so a "
             "slow upload holds no thread; 0 turns it off. Not in Gunicorn."},
    /* Security */
    {.name = "limit_request_line", .section = S_SECURITY,
     .flags = {"--limit-request-line"}, .meta = "INT", .type = CU_INT,
     .offset = OFF(limit_request_line), .dflt = "4094",
     .help = "The longest request line accepted, in bytes, up to 8190; 0 "
             "leaves only that cap."},
    {.name = "limit_request_fields", .section = S_SECURITY,
     .flags = {"--limit-request-fields"}, .meta = "INT", .type = CU_INT,
     .offset = OFF(limit_request_fields), .dflt = "100",
     .help = "The most header fields accepted in one request (32768 at "
             "most)."},
    {.name = "limit_request_field_size", .section = S_SECURITY,
     .flags = {"--limit-request-field_size"}, .meta = "INT", .type = CU_INT,
     .offset = OFF(limit_request_field_size), .dflt = "8190",
     .help = "The longest header line accepted, in bytes; 0 means the "
             "default."},
    /* Debugging */
    {.name = "check_config", .section = S_DEBUG, .flags = {"--check-config"},
     .type = CU_BOOL, .offset = OFF(check_config), .dflt = "false",
     .help = "Load the settings and the application, then exit: status 0 "
             "when both are fine."},
    {.name = "print_config", .section = S_DEBUG, .flags = {"--print-config"},
     .type = CU_BOOL, .offset = OFF(print_config), .dflt = "false",
     .help = "Show every setting with its final value, then act as "
             "--check-config."},
    {.name = "reload", .section = S_DEBUG, .flags = {"--reload"},
     .type = CU_BOOL, .offset = OFF(reload), .dflt = "false",
     .help = "Restart a worker when a file of a module it imported (or a "
             "reload_extra_files one) changes. For development; preloaded "
             "code is not reloaded."},
    {.name = "reload_engine", .section = S_DEBUG, .flags = {"--reload-engine"},
     .meta = "STRING", .type = CU_CHOICE, .offset = OFF(reload_engine),
     .dflt = "auto", .choices = reload_engines,
     .help = "How --reload notices changes: inotify, poll (stat every "
             "file once a second) or auto (inotify where there is one)."},
    {.name = "reload_extra_files", .section = S_DEBUG,
     .flags = {"--reload-extra-file"}, .meta = "FILES", .type = CU_LIST,
     .offset = OFF(reload_extra_files),
     .help = "Another file for --reload to watch, such as a template; a "
             "pattern with *, ? or [ ] (** for any depth) watches whatever "
             "it matches, now or later. Repeat it for more."},
    /* Server Mechanics */
    {.name = "preload_app", .section = S_MECH, .flags = {"--preload"},
     .type = CU_BOOL, .offset = OFF(preload_app), .dflt = "false",
     .help = "Import the application in the master, before the workers "
             "are forked."},
    {.name = "reuse_port", .section = S_MECH, .flags = {"--reuse-port"},
     .type = CU_BOOL, .offset = OFF(reuse_port), .dflt = "false",
     .help = "Set SO_REUSEPORT on the listening sockets."},
    {.name = "chdir", .section = S_MECH, .flags = {"--chdir"}, .meta = "DIR",
     .type = CU_STR, .offset = OFF(chdir),
     .help = "The directory to change to before the application is "
             "loaded; by default the one the server was started in."},
    {.name = "daemon", .section = S_MECH, .flags = {"-D", "--daemon"},
     .type = CU_BOOL, .offset = OFF(daemon), .dflt = "false",
     .help = "Detach from the terminal and run in the background."},
    {.name = "raw_env", .section = S_MECH, .flags = {"-e", "--env"},
     .meta = "ENV", .type = CU_LIST, .offset = OFF(raw_env),
     .help = "Put KEY=VALUE into the environment of the master and the "
             "workers; repeat it for more variables."},
    {.name = "pidfile", .section = S_MECH, .flags = {"-p", "--pid"},
     .meta = "FILE", .type = CU_STR_OPT, .offset = OFF(pidfile),
     .help = "Write the master's process id to this file."},
    {.name = "worker_tmp_dir", .section = S_MECH,
     .flags = {"--worker-tmp-dir"}, .meta = "DIR", .type = CU_STR_OPT,
     .offset = OFF(worker_tmp_dir),
     .help = "Where workers keep their heartbeat file; a memory-backed "
             "directory such as /dev/shm avoids disk stalls."},
    {.name = "user", .section = S_MECH, .flags = {"-u", "--user"},
     .meta = "USER", .type = CU_STR_OPT, .offset = OFF(user),
     .help = "The user name or uid the workers run as; unset keeps the "
             "master's."},
    {.name = "group", .section = S_MECH, .flags = {"-g", "--group"},
     .meta = "GROUP", .type = CU_STR_OPT, .offset = OFF(group),
     .help = "The group name or gid the workers run as; unset keeps the "
             "master's."},
    {.name = "umask", .section = S_MECH, .flags = {"-m", "--umask"},
     .meta = "INT", .type = CU_OCTAL, .offset = OFF(umask), .dflt = "0",
     .help = "The umask for files the server creates, such as UNIX "
             "sockets. A leading 0 means octal (022); 0o22 and 0x12 work "
             "too."},
    {.name = "initgroups", .section = S_MECH, .flags = {"--initgroups"},
     .type = CU_BOOL, .offset = OFF(initgroups), .dflt = "false",
     .help = "Give the workers the supplementary groups of their user as "
             "well."},
    {.name = "sendfile", .section = S_MECH, .flags = {"--no-sendfile"},
     .type = CU_BOOL, .offset = OFF(sendfile), .dflt = "true",
     .bare = "false",
     .help = "Do not send files with sendfile(2). Without this option "
             "$SENDFILE decides when set (y, 1, yes or true: use it); "
             "otherwise it is used."},
    {.name = "secure_scheme_headers", .section = S_MECH,
     .meta = "NAME=value", .type = CU_DICT,
     .offset = OFF(secure_scheme_headers),
     .dflt = "X-FORWARDED-PROTOCOL=ssl,X-FORWARDED-PROTO=https,"
             "X-FORWARDED-SSL=on",
     .help = "Headers, with their values, that mark a request from a "
             "trusted proxy as https."},
    {.name = "forwarded_allow_ips", .section = S_MECH,
     .flags = {"--forwarded-allow-ips"}, .meta = "STRING", .type = CU_CSV,
     .offset = OFF(forwarded_allow_ips), .dflt = "127.0.0.1,::1",
     .help = "Comma-separated addresses or networks of the proxies trusted "
             "with scheme and forwarder headers; * trusts every peer. "
             "$FORWARDED_ALLOW_IPS, when set, is the default."},
    {.name = "pythonpath", .section = S_MECH, .flags = {"--pythonpath"},
     .meta = "STRING", .type = CU_STR_OPT, .offset = OFF(pythonpath),
     .help = "Comma-separated directories to put in front of the module "
             "search path."},
    {.name = "proxy_protocol", .section = S_MECH,
     .flags = {"--proxy-protocol"}, .meta = "MODE", .type = CU_CHOICE,
     .offset = OFF(proxy_protocol), .dflt = "off", .choices = proxy_modes,
     .bare = "auto",
     .help = "Expect a PROXY protocol header on each new connection: off, "
             "v1, v2 or auto (either one). The option alone means auto."},
    {.name = "proxy_allow_ips", .section = S_MECH,
     .flags = {"--proxy-allow-from"}, .meta = "STRING", .type = CU_CSV,
     .offset = OFF(proxy_allow_ips), .dflt = "127.0.0.1,::1",
     .help = "Comma-separated addresses or networks allowed to send a "
             "PROXY header; * allows every peer."},
    {.name = "permit_obsolete_folding", .section = S_MECH,
     .flags = {"--permit-obsolete-folding"}, .type = CU_BOOL,
     .offset = OFF(permit_obsolete_folding), .dflt = "false",
     .help = "Accept header lines continued by leading whitespace "
             "(obsolete folding) instead of refusing the request."},
    {.name = "strip_header_spaces", .section = S_MECH,
     .flags = {"--strip-header-spaces"}, .type = CU_BOOL,
     .offset = OFF(strip_header_spaces), .dflt = "false",
     .help = "Drop spaces between a header name and its colon. Unsafe: it "
             "opens the door to request smuggling."},
    {.name = "permit_unconventional_http_method", .section = S_MECH,
     .flags = {"--permit-unconventional-http-method"}, .type = CU_BOOL,
     .offset = OFF(permit_unconventional_http_method), .dflt = "false",
     .help = "Accept any token as a method, not only 3 to 20 characters "
             "without lower case or #."},
    {.name = "permit_unconventional_http_version", .section = S_MECH,
     .flags = {"--permit-unconventional-http-version"}, .type = CU_BOOL,
     .offset = OFF(permit_unconventional_http_version), .dflt = "false",
     .help = "Accept HTTP versions outside 1.0 to 1.9."},
    {.name = "casefold_http_method", .section = S_MECH,
     .flags = {"--casefold-http-method"}, .type = CU_BOOL,
     .offset = OFF(casefold_http_method), .dflt = "false",
     .help = "Upper-case the method once it is checked, as old versions "
             "did."},
    {.name = "forwarder_headers", .section = S_MECH,
     .flags = {"--forwarder-headers"}, .meta = "STRING", .type = CU_CSV,
     .offset = OFF(forwarder_headers), .dflt = "SCRIPT_NAME,PATH_INFO",
     .help = "Comma-separated header names with an underscore that a "
             "trusted proxy may pass into the environ."},
    {.name = "header_map", .section = S_MECH, .flags = {"--header-map"},
     .meta = "STRING", .type = CU_CHOICE, .offset = OFF(header_map),
     .dflt = "drop", .choices = header_maps,
     .help = "What to do with header names that contain an underscore: "
             "drop them, refuse the request, or map them as if the "
             "underscore were a dash (dangerous)."},
    /* Logging */
    {.name = "accesslog", .section = S_LOG, .flags = {"--access-logfile"},
     .meta = "FILE", .type = CU_STR_OPT, .offset = OFF(accesslog),
     .help = "Where to write the access log; - is stdout. Unset: no "
             "access log."},
    {.name = "access_log_format", .section = S_LOG,
     .flags = {"--access-logformat"}, .meta = "STRING", .type = CU_STR,
     .offset = OFF(access_log_format),
     .dflt = "%(h)s %(l)s %(u)s %(t)s \"%(r)s\" %(s)s %(b)s \"%(f)s\" "
             "\"%(a)s\"",
     .help = "The layout of an access log line, made of %(atom)s fields."},
    {.name = "errorlog", .section = S_LOG,
     .flags = {"--error-logfile", "--log-file"}, .meta = "FILE",
     .type = CU_STR, .offset = OFF(errorlog), .dflt = "-",
     .help = "Where to write the error log; - is stderr."},
    {.name = "loglevel", .section = S_LOG, .flags = {"--log-level"},
     .meta = "LEVEL", .type = CU_CHOICE, .offset = OFF(loglevel),
     .dflt = "info", .choices = log_levels,
     .help = "The least severe messages the error log keeps: debug, info, "
             "warning, error or critical."},
    {.name = "capture_output", .section = S_LOG, .flags = {"--capture-output"},
     .type = CU_BOOL, .offset = OFF(capture_output), .dflt = "false",
     .help = "Send what the processes write to stdout and stderr into the "
             "error log file."},
    /* Process Naming */
    {.name = "proc_name", .section = S_NAMING, .flags = {"-n", "--name"},
     .meta = "STRING", .type = CU_STR_OPT, .offset = OFF(proc_name),
     .help = "The name shown in process titles (ps, top); by default the "
             "application's."},
    {.name = "default_proc_name", .section = S_NAMING, .meta = "STRING",
     .type = CU_STR, .offset = OFF(default_proc_name), .dflt = "cunicorn",
     .help = "The name in process titles when proc_name is unset: the "
             "APP_MODULE given on the command line."},
    /* Server Hooks: callables (or "module.attr") from a config file */
    {.name = "on_starting", .section = S_HOOKS, .meta = "server",
     .type = CU_CALLABLE, .offset = OFF(on_starting),
     .help = "In the master, once at start-up, before the sockets are bound."},
    {.name = "on_reload", .section = S_HOOKS, .meta = "server",
     .type = CU_CALLABLE, .offset = OFF(on_reload),
     .help = "In the master, on HUP, once the configuration is read again and before the new workers start."},
    {.name = "when_ready", .section = S_HOOKS, .meta = "server",
     .type = CU_CALLABLE, .offset = OFF(when_ready),
     .help = "In the master, once the sockets listen and before the first worker is forked."},
    {.name = "pre_fork", .section = S_HOOKS, .meta = "server, worker",
     .type = CU_CALLABLE, .offset = OFF(pre_fork),
     .help = "In the master, just before each worker is forked (its pid is not known yet)."},
    {.name = "post_fork", .section = S_HOOKS, .meta = "server, worker",
     .type = CU_CALLABLE, .offset = OFF(post_fork),
     .help = "In the worker, right after the fork, before it takes on --user and loads the app."},
    {.name = "post_worker_init", .section = S_HOOKS, .meta = "worker",
     .type = CU_CALLABLE, .offset = OFF(post_worker_init),
     .help = "In the worker, once the app is loaded, before the first request."},
    {.name = "worker_int", .section = S_HOOKS, .meta = "worker",
     .type = CU_CALLABLE, .offset = OFF(worker_int),
     .help = "In the worker, on SIGINT or SIGQUIT, before it exits."},
    {.name = "worker_abort", .section = S_HOOKS, .meta = "worker",
     .type = CU_CALLABLE, .offset = OFF(worker_abort),
     .help = "In the worker, on SIGABRT (the master's timeout), before it exits."},
    {.name = "pre_exec", .section = S_HOOKS, .meta = "server",
     .type = CU_CALLABLE, .offset = OFF(pre_exec),
     .help = "In the re-executing child, on USR2, just before the new master is executed."},
    {.name = "pre_request", .section = S_HOOKS, .meta = "worker, req",
     .type = CU_CALLABLE, .offset = OFF(pre_request),
     .help = "In the worker, before each request is handed to the app."},
    {.name = "post_request", .section = S_HOOKS, .meta = "worker, req[, environ[, resp]]",
     .type = CU_CALLABLE, .offset = OFF(post_request),
     .help = "In the worker, after each request (also when the app raised)."},
    {.name = "child_exit", .section = S_HOOKS, .meta = "server, worker",
     .type = CU_CALLABLE, .offset = OFF(child_exit),
     .help = "In the master, after a worker has been reaped."},
    {.name = "worker_exit", .section = S_HOOKS, .meta = "server, worker",
     .type = CU_CALLABLE, .offset = OFF(worker_exit),
     .help = "In the worker, as it exits."},
    {.name = "nworkers_changed", .section = S_HOOKS, .meta = "server, new_value, old_value",
     .type = CU_CALLABLE, .offset = OFF(nworkers_changed),
     .help = "In the master, whenever the number of workers is set (old_value None at start-up)."},
    {.name = "on_exit", .section = S_HOOKS, .meta = "server",
     .type = CU_CALLABLE, .offset = OFF(on_exit),
     .help = "In the master, just before it exits."},
    {.name = "ssl_context", .section = S_HOOKS, .meta = "config, default_ssl_context_factory",
     .type = CU_CALLABLE, .offset = OFF(ssl_context),
     .help = "Accepted for Gunicorn config files; not called (cunicorn has no TLS yet)."},
};

#define N_SETTINGS (sizeof cu_settings / sizeof cu_settings[0])

const size_t cu_n_settings = N_SETTINGS;

/* ---- small helpers ---------------------------------------------------- */


/* Appends to the message already in err (truncating). */
__attribute__((format(printf, 3, 4)))
static void errcat(char *err, size_t errlen, const char *fmt, ...)
{
    va_list ap;
    size_t used;

    if (err == NULL || errlen == 0)
        return;
    used = strnlen(err, errlen);
    if (used + 1 >= errlen)
        return;
    va_start(ap, fmt);
    (void)vsnprintf(err + used, errlen - used, fmt, ap);
    va_end(ap);
}

static int invalid(char *err, size_t errlen, const struct cu_setting *s,
                   const char *value, const char *why)
{
    cu_seterr(err, errlen, "Invalid value for %s: '%s' (%s)", s->name, value,
           why);
    errno = EINVAL;
    return -1;
}

static int nomem(char *err, size_t errlen, const struct cu_setting *s)
{
    cu_seterr(err, errlen, "out of memory while setting %s", s->name);
    errno = ENOMEM;
    return -1;
}

static void *field(struct cu_config *c, const struct cu_setting *s)
{
    return (char *)c + s->offset;
}

static const void *cfield(const struct cu_config *c,
                          const struct cu_setting *s)
{
    return (const char *)c + s->offset;
}

/* Python's str.isspace() for ASCII: what str.strip() and int() drop. */
static int is_pyspace(int ch)
{
    return ch == ' ' || (ch >= '\t' && ch <= '\r') || (ch >= 0x1c && ch <= 0x1f);
}

/* The span of s without leading and trailing whitespace. */
static const char *strip(const char *s, size_t *len)
{
    size_t n = strlen(s);

    while (n > 0 && is_pyspace((unsigned char)*s)) {
        s++;
        n--;
    }
    while (n > 0 && is_pyspace((unsigned char)s[n - 1]))
        n--;
    *len = n;
    return s;
}

static void strv_clear(struct cu_strv *l)
{
    for (size_t i = 0; i < l->n; i++)
        free(l->v[i]);
    free(l->v);
    l->v = NULL;
    l->n = 0;
}

/* Appends a copy of s[0..len). Returns 0 or -1 (ENOMEM). */
static int strv_push(struct cu_strv *l, const char *s, size_t len)
{
    char **v;
    char *item = strndup(s, len);

    if (item == NULL)
        return -1;
    v = realloc(l->v, (l->n + 2) * sizeof *v);
    if (v == NULL) {
        free(item);
        return -1;
    }
    v[l->n++] = item;
    v[l->n] = NULL;     /* keeps v NULL-terminated for cu_argv_split */
    l->v = v;
    return 0;
}

static int strv_copy(struct cu_strv *dst, const struct cu_strv *src)
{
    dst->v = NULL;
    dst->n = 0;
    for (size_t i = 0; i < src->n; i++) {
        if (strv_push(dst, src->v[i], strlen(src->v[i])) < 0) {
            strv_clear(dst);
            return -1;
        }
    }
    return 0;
}

/* ---- numbers ---------------------------------------------------------- */

enum { PYINT_OK = 0, PYINT_BAD = -1, PYINT_RANGE = -2 };

static int digit_value(int ch)
{
    if (ch >= '0' && ch <= '9')
        return ch - '0';
    if (ch >= 'a' && ch <= 'z')
        return ch - 'a' + 10;
    if (ch >= 'A' && ch <= 'Z')
        return ch - 'A' + 10;
    return 99;
}

/*
 * Python's int(text, base) for base 0 (prefixes 0x/0o/0b, no leading
 * zeros in decimal), 8 (optional 0o) and 10: surrounding whitespace, a
 * sign and single underscores between digits are allowed. Values beyond
 * an int saturate and give PYINT_RANGE (unless negative: the caller
 * refuses those anyway).
 */
static int parse_pyint(const char *text, int base, long long *out)
{
    const char *p = text, *digits;
    unsigned long long acc = 0, cap = (unsigned long long)INT_MAX + 1;
    int neg = 0, prefixed = 0, big = 0, plain_decimal = 0;

    while (is_pyspace((unsigned char)*p))
        p++;
    if (*p == '+' || *p == '-')
        neg = *p++ == '-';
    if (p[0] == '0' && (base == 0 || base == 8)) {
        int kind = p[1] | 0x20;

        if (base == 0 && (kind == 'x' || kind == 'o' || kind == 'b')) {
            base = kind == 'x' ? 16 : kind == 'o' ? 8 : 2;
            prefixed = 1;
        } else if (base == 8 && kind == 'o') {
            prefixed = 1;
        }
        if (prefixed)
            p += 2;
    }
    if (base == 0) {
        base = 10;
        plain_decimal = 1;
    }
    if (prefixed && *p == '_')
        p++;
    digits = p;
    while (digit_value((unsigned char)*p) < base) {
        acc = acc * (unsigned)base + (unsigned)digit_value((unsigned char)*p);
        if (acc > cap) {
            acc = cap;
            big = 1;
        }
        p++;
        if (*p == '_' && digit_value((unsigned char)p[1]) < base)
            p++;
    }
    if (p == digits)
        return PYINT_BAD;
    if (plain_decimal && digits[0] == '0' && acc != 0)
        return PYINT_BAD;   /* "010": Python wants 0o10 */
    while (is_pyspace((unsigned char)*p))
        p++;
    if (*p != '\0')
        return PYINT_BAD;
    if (neg) {
        *out = -(long long)acc;
        return PYINT_OK;
    }
    if (big || acc > INT_MAX)
        return PYINT_RANGE;
    *out = (long long)acc;
    return PYINT_OK;
}

static int set_int(struct cu_config *c, const struct cu_setting *s,
                   const char *value, char *err, size_t errlen)
{
    long long v = 0;
    int rc;
    int *dst = field(c, s);

    /* Gunicorn's auto_int: "022" is read as 0o22 on the command line. */
    if (s->type == CU_OCTAL && value[0] == '0' &&
        value[1] >= '0' && value[1] <= '9')
        rc = parse_pyint(value + 1, 8, &v);
    else
        rc = parse_pyint(value, 0, &v);
    if (rc == PYINT_BAD)
        return invalid(err, errlen, s, value, "not an integer");
    if (rc == PYINT_RANGE)
        return invalid(err, errlen, s, value, "too large");
    if (v < 0)
        return invalid(err, errlen, s, value, "must not be negative");
    *dst = (int)v;
    return 0;
}

/* ---- strings, booleans, choices --------------------------------------- */

static int parse_bool(const char *value, int *out)
{
    size_t n;
    const char *p = strip(value, &n);

    if (n == 4 && strncasecmp(p, "true", 4) == 0)
        *out = 1;
    else if (n == 5 && strncasecmp(p, "false", 5) == 0)
        *out = 0;
    else
        return -1;
    return 0;
}

static int set_bool(struct cu_config *c, const struct cu_setting *s,
                    const char *value, char *err, size_t errlen)
{
    int v;
    int *dst = field(c, s);

    if (parse_bool(value, &v) < 0)
        return invalid(err, errlen, s, value, "expected true or false");
    *dst = v;
    return 0;
}

static int replace_str(char **dst, const char *s, size_t len)
{
    char *copy = strndup(s, len);

    if (copy == NULL)
        return -1;
    free(*dst);
    *dst = copy;
    return 0;
}

/* Gunicorn's util.getcwd(): $PWD when it is the same directory. */
static char *current_dir(void)
{
    struct stat a, b;
    const char *pwd = getenv("PWD");
    char *cwd = getcwd(NULL, 0);

    if (cwd == NULL)
        return NULL;
    if (pwd != NULL && pwd[0] == '/' && stat(pwd, &a) == 0 &&
        stat(cwd, &b) == 0 && a.st_dev == b.st_dev && a.st_ino == b.st_ino) {
        char *copy = strdup(pwd);

        if (copy != NULL) {
            free(cwd);
            return copy;
        }
    }
    return cwd;
}

/* os.path.abspath(os.path.normpath(path)), relative to current_dir(). */
static char *absolute_path(const char *path, size_t len)
{
    char *cwd = NULL, *in, *out, *tok, *save = NULL;
    size_t cwdlen = 0, n = 0;

    if (len == 0 || path[0] != '/') {
        cwd = current_dir();
        if (cwd == NULL)
            return NULL;
        cwdlen = strlen(cwd);
    }
    in = malloc(cwdlen + len + 2);
    out = malloc(cwdlen + len + 2);
    if (in == NULL || out == NULL) {
        free(in);
        free(out);
        free(cwd);
        return NULL;
    }
    if (cwd != NULL)
        memcpy(in, cwd, cwdlen);
    in[cwdlen] = '/';
    memcpy(in + cwdlen + 1, path, len);
    in[cwdlen + 1 + len] = '\0';
    free(cwd);
    for (tok = strtok_r(in, "/", &save); tok != NULL;
         tok = strtok_r(NULL, "/", &save)) {
        if (strcmp(tok, ".") == 0)
            continue;
        if (strcmp(tok, "..") == 0) {
            while (n > 0 && out[--n] != '/')
                ;
            continue;
        }
        out[n++] = '/';
        memcpy(out + n, tok, strlen(tok));
        n += strlen(tok);
    }
    if (n == 0)
        out[n++] = '/';
    out[n] = '\0';
    free(in);
    return out;
}

static int set_chdir(struct cu_config *c, const struct cu_setting *s,
                     const char *value, char *err, size_t errlen)
{
    struct stat st;
    size_t n;
    const char *p = strip(value, &n);
    char *path = absolute_path(p, n);
    char **dst = field(c, s);

    if (path == NULL)
        return errno == ENOMEM ? nomem(err, errlen, s)
                               : invalid(err, errlen, s, value,
                                         "the current directory is gone");
    if (stat(path, &st) != 0) {
        free(path);
        return invalid(err, errlen, s, value, "can't chdir there: it does "
                       "not exist");
    }
    free(*dst);
    *dst = path;
    return 0;
}

static int set_str(struct cu_config *c, const struct cu_setting *s,
                   const char *value, char *err, size_t errlen)
{
    size_t n;
    const char *p;
    char **dst = field(c, s);

    if (s->offset == OFF(chdir))
        return set_chdir(c, s, value, err, errlen);
    p = strip(value, &n);
    if (replace_str(dst, p, n) < 0)
        return nomem(err, errlen, s);
    return 0;
}

static int set_choice(struct cu_config *c, const struct cu_setting *s,
                      const char *value, char *err, size_t errlen)
{
    char why[160];
    size_t n;
    const char *p = strip(value, &n);
    const char *pick = NULL;
    char **dst = field(c, s);

    for (size_t i = 0; s->choices[i] != NULL && pick == NULL; i++) {
        if (strlen(s->choices[i]) == n && strncasecmp(p, s->choices[i], n) == 0)
            pick = s->choices[i];
    }
    /* proxy_protocol: a boolean True/False means auto/off. */
    if (pick == NULL && s->bare != NULL) {
        int b;

        if (parse_bool(value, &b) == 0)
            pick = b ? s->bare : s->dflt;
    }
    if (pick == NULL) {
        cu_seterr(why, sizeof why, "choose from");
        for (size_t i = 0; s->choices[i] != NULL; i++)
            errcat(why, sizeof why, "%s %s", i ? "," : "", s->choices[i]);
        return invalid(err, errlen, s, value, why);
    }
    if (replace_str(dst, pick, strlen(pick)) < 0)
        return nomem(err, errlen, s);
    return 0;
}

/* ---- lists ------------------------------------------------------------ */

/* Python's ipaddress.ip_network(a) (strict: no host bits), or "*". */
static int valid_network(const char *a, size_t len)
{
    char buf[64];
    unsigned char addr[16];
    const char *slash;
    long prefix = -1;
    int bits = 32;

    if (len == 1 && a[0] == '*')
        return 1;
    if (len >= sizeof buf)
        return 0;
    memcpy(buf, a, len);
    buf[len] = '\0';
    slash = strchr(buf, '/');
    if (slash != NULL) {
        const char *d = slash + 1;

        if (*d == '\0' || strlen(d) > 3)
            return 0;
        for (prefix = 0; *d >= '0' && *d <= '9'; d++)
            prefix = prefix * 10 + (*d - '0');
        if (*d != '\0')
            return 0;
        buf[slash - buf] = '\0';
    }
    if (inet_pton(AF_INET, buf, addr) != 1) {
        if (inet_pton(AF_INET6, buf, addr) != 1)
            return 0;
        bits = 128;
    }
    if (prefix < 0)
        return 1;
    if (prefix > bits)
        return 0;
    for (int i = (int)prefix; i < bits; i++) {
        if (addr[i / 8] & (0x80 >> (i % 8)))
            return 0;
    }
    return 1;
}

static int is_addr_list(const struct cu_setting *s)
{
    return s->offset == OFF(forwarded_allow_ips) ||
           s->offset == OFF(proxy_allow_ips);
}

/* Gunicorn's validate_string_to_list: split on commas, strip, drop empty
 * items (OURS: an item of only spaces is dropped too). */
static int set_csv(struct cu_config *c, const struct cu_setting *s,
                   const char *value, char *err, size_t errlen)
{
    struct cu_strv next = {0};
    struct cu_strv *dst = field(c, s);
    const char *p = value;

    for (;;) {
        const char *comma = strchr(p, ',');
        size_t len = comma ? (size_t)(comma - p) : strlen(p);
        const char *item = p;

        while (len > 0 && is_pyspace((unsigned char)*item)) {
            item++;
            len--;
        }
        while (len > 0 && is_pyspace((unsigned char)item[len - 1]))
            len--;
        if (len > 0 && is_addr_list(s) && !valid_network(item, len)) {
            strv_clear(&next);
            return invalid(err, errlen, s, value,
                           "not an IP address, network or *");
        }
        if (len > 0 && strv_push(&next, item, len) < 0) {
            strv_clear(&next);
            return nomem(err, errlen, s);
        }
        if (comma == NULL)
            break;
        p = comma + 1;
    }
    strv_clear(dst);
    *dst = next;
    return 0;
}

/* reload_extra_files: a file that exists, or a glob pattern (*, ? or [),
 * which may match nothing yet (Gunicorn 26.1 warns about that in the
 * worker). OURS: both are made absolute here, against the directory the
 * server was started in; Gunicorn keeps them relative, so the worker reads
 * them against --chdir. Returns a new string, or NULL with err set. */
static char *extra_file(const struct cu_setting *s, const char *p, size_t n,
                        char *err, size_t errlen)
{
    struct stat st;
    char *path;

    if (n == 0) {
        invalid(err, errlen, s, p, "an empty file name");
        return NULL;
    }
    if ((path = absolute_path(p, n)) == NULL) {
        nomem(err, errlen, s);
        return NULL;
    }
    if (strpbrk(path, "*?[") == NULL && stat(path, &st) != 0) {
        free(path);
        invalid(err, errlen, s, p, "no such file");
        return NULL;
    }
    return path;
}

static int set_list(struct cu_config *c, const struct cu_setting *s,
                    const char *value, int append, char *err, size_t errlen)
{
    struct cu_strv one = {0};
    struct cu_strv *dst = field(c, s);
    const char *p = value;
    size_t n = strlen(value);

    if (s->type == CU_DICT) {
        const char *eq = strchr(value, '=');

        if (eq == NULL || eq == value)
            return invalid(err, errlen, s, value, "expected NAME=value");
    } else {
        p = strip(value, &n);
    }
    if (s->offset == OFF(reload_extra_files)) {
        char *path = extra_file(s, p, n, err, errlen);
        int rc;

        if (path == NULL)
            return -1;
        rc = strv_push(append ? dst : &one, path, strlen(path));
        free(path);
        if (rc < 0)
            return nomem(err, errlen, s);
    } else if (strv_push(append ? dst : &one, p, n) < 0) {
        return nomem(err, errlen, s);
    }
    if (!append) {
        strv_clear(dst);
        *dst = one;
    }
    return 0;
}

/* ---- the table -------------------------------------------------------- */

const struct cu_setting *cu_setting_find(const char *name)
{
    for (size_t i = 0; i < N_SETTINGS; i++) {
        if (strcmp(cu_settings[i].name, name) == 0)
            return &cu_settings[i];
    }
    return NULL;
}

const struct cu_setting *cu_setting_by_flag(const char *flag)
{
    for (size_t i = 0; i < N_SETTINGS; i++) {
        for (size_t j = 0; j < 3 && cu_settings[i].flags[j] != NULL; j++) {
            if (strcmp(cu_settings[i].flags[j], flag) == 0)
                return &cu_settings[i];
        }
    }
    return NULL;
}

int cu_config_set(struct cu_config *c, const struct cu_setting *s,
                  const char *value, int append, char *err, size_t errlen)
{
    if (value == NULL) {
        if (s->type != CU_STR_OPT && s->type != CU_CALLABLE) {
            cu_seterr(err, errlen, "Invalid value for %s: None", s->name);
            errno = EINVAL;
            return -1;
        }
        free(*(char **)field(c, s));
        *(char **)field(c, s) = NULL;
        return 0;
    }
    switch (s->type) {
    case CU_STR:
    case CU_STR_OPT:
    case CU_CALLABLE:
        return set_str(c, s, value, err, errlen);
    case CU_INT:
    case CU_OCTAL:
        return set_int(c, s, value, err, errlen);
    case CU_BOOL:
        return set_bool(c, s, value, err, errlen);
    case CU_CHOICE:
        return set_choice(c, s, value, err, errlen);
    case CU_CSV:
        return set_csv(c, s, value, err, errlen);
    case CU_LIST:
    case CU_DICT:
        return set_list(c, s, value, append, err, errlen);
    }
    return invalid(err, errlen, s, value, "unknown type");
}

void cu_config_clear(struct cu_config *c, const struct cu_setting *s)
{
    if (s->type == CU_LIST || s->type == CU_CSV || s->type == CU_DICT)
        strv_clear(field(c, s));
}

static int set_default(struct cu_config *c, const struct cu_setting *s)
{
    char err[256];
    const char *d = s->dflt;

    if (s->offset == OFF(chdir))
        d = ".";
    if (d == NULL)
        return 0;
    if (s->type != CU_DICT)
        return cu_config_set(c, s, d, 0, err, sizeof err);
    /* The dict's default is its pairs, comma-separated. */
    while (*d != '\0') {
        size_t len = strcspn(d, ",");
        char *pair = strndup(d, len);
        int rc;

        if (pair == NULL)
            return -1;
        rc = cu_config_set(c, s, pair, 1, err, sizeof err);
        free(pair);
        if (rc < 0)
            return -1;
        d += len + (d[len] == ',');
    }
    return 0;
}

/* The defaults Gunicorn reads from the environment at start-up. */
static int env_defaults(struct cu_config *c)
{
    char err[256];
    const char *v;

    if ((v = getenv("PORT")) != NULL) {
        size_t len = strlen(v) + sizeof "0.0.0.0:";
        char *addr = malloc(len);
        int rc;

        if (addr == NULL)
            return -1;
        (void)snprintf(addr, len, "0.0.0.0:%s", v);
        rc = cu_config_set(c, cu_setting_find("bind"), addr, 0, err,
                           sizeof err);
        free(addr);
        if (rc < 0)
            return -1;
    }
    if ((v = getenv("WEB_CONCURRENCY")) != NULL) {
        long long n;

        /* int(os.environ["WEB_CONCURRENCY"]): plain decimal. */
        if (parse_pyint(v, 10, &n) != PYINT_OK || n < 0) {
            errno = EINVAL;
            return -1;
        }
        c->workers = (int)n;
    }
    if ((v = getenv("FORWARDED_ALLOW_IPS")) != NULL &&
        cu_config_set(c, cu_setting_find("forwarded_allow_ips"), v, 0, err,
                      sizeof err) < 0)
        return -1;
    if ((v = getenv("SENDFILE")) != NULL)
        c->sendfile = strcasecmp(v, "y") == 0 || strcmp(v, "1") == 0 ||
                      strcasecmp(v, "yes") == 0 || strcasecmp(v, "true") == 0;
    return 0;
}

/* Returns -1 with errno ENOMEM, or EINVAL when $WEB_CONCURRENCY or
 * $FORWARDED_ALLOW_IPS is not valid (Gunicorn fails at start-up too). */
int cu_config_init(struct cu_config *c)
{
    int saved;

    memset(c, 0, sizeof *c);
    for (size_t i = 0; i < N_SETTINGS; i++) {
        if (set_default(c, &cu_settings[i]) < 0)
            goto fail;
    }
    if (env_defaults(c) < 0)
        goto fail;
    return 0;
fail:
    saved = errno;
    cu_config_free(c);
    errno = saved;
    return -1;
}

void cu_config_free(struct cu_config *c)
{
    for (size_t i = 0; i < N_SETTINGS; i++) {
        const struct cu_setting *s = &cu_settings[i];

        switch (s->type) {
        case CU_STR:
        case CU_STR_OPT:
        case CU_CALLABLE:
        case CU_CHOICE:
            free(*(char **)field(c, s));
            break;
        case CU_LIST:
        case CU_CSV:
        case CU_DICT:
            strv_clear(field(c, s));
            break;
        case CU_INT:
        case CU_BOOL:
        case CU_OCTAL:
            break;
        }
    }
    free(c->app);
    memset(c, 0, sizeof *c);
}

static int copy_setting(struct cu_config *dst, const struct cu_config *src,
                        const struct cu_setting *s)
{
    const char *const *str = cfield(src, s);
    const int *num = cfield(src, s);

    switch (s->type) {
    case CU_STR:
    case CU_STR_OPT:
    case CU_CALLABLE:
    case CU_CHOICE:
        if (*str != NULL && (*(char **)field(dst, s) = strdup(*str)) == NULL)
            return -1;
        return 0;
    case CU_LIST:
    case CU_CSV:
    case CU_DICT:
        return strv_copy(field(dst, s), cfield(src, s));
    case CU_INT:
    case CU_BOOL:
    case CU_OCTAL:
        *(int *)field(dst, s) = *num;
        return 0;
    }
    return 0;
}

int cu_config_copy(struct cu_config *dst, const struct cu_config *src)
{
    memset(dst, 0, sizeof *dst);
    for (size_t i = 0; i < N_SETTINGS; i++) {
        if (copy_setting(dst, src, &cu_settings[i]) < 0)
            goto fail;
    }
    if (src->app != NULL && (dst->app = strdup(src->app)) == NULL)
        goto fail;
    return 0;
fail:
    cu_config_free(dst);
    errno = ENOMEM;
    return -1;
}

int cu_config_finish(struct cu_config *c, char *err, size_t errlen)
{
    /* negative INTs are refused by the type's validator already */
    const struct { const char *name; int value, min; } floor[] = {
        {"workers", c->workers, 1},
        {"threads", c->threads, 1},
    };

    for (size_t i = 0; i < sizeof(floor) / sizeof(floor[0]); i++)
        if (floor[i].value < floor[i].min) {
            cu_seterr(err, errlen, "Invalid value for %s: %d (must be at least %d)",
                      floor[i].name, floor[i].value, floor[i].min);
            return -1;
        }
    if (c->threads > 1 && strcmp(c->worker_class, "sync") == 0 &&
        replace_str(&c->worker_class, "gthread", 7) < 0) {
        cu_seterr(err, errlen, "out of memory");
        return -1;
    }
    return 0;
}

/* ---- command line ----------------------------------------------------- */

/* -h/--help and -v/--version are options but not settings. */
enum { OPT_SETTING, OPT_HELP, OPT_VERSION };

static const char *const help_flags[] = {"-h", "--help", NULL};
static const char *const version_flags[] = {"-v", "--version", NULL};

struct match {
    int kind;                    /* OPT_* */
    const struct cu_setting *s;  /* OPT_SETTING */
    const char *flag;            /* the flag as declared */
    const char *explicit_arg;    /* after '=' or after "-x"; NULL: none */
    int sep;                     /* explicit_arg came after '=' */
};

enum { ARG_POSITIONAL, ARG_OPTION, ARG_UNKNOWN, ARG_AMBIGUOUS };

/* Calls fn for every option string; stops when it returns nonzero. */
static int each_flag(int (*fn)(void *, int, const struct cu_setting *,
                               const char *), void *ctx)
{
    for (size_t i = 0; help_flags[i] != NULL; i++) {
        if (fn(ctx, OPT_HELP, NULL, help_flags[i]))
            return 1;
    }
    for (size_t i = 0; version_flags[i] != NULL; i++) {
        if (fn(ctx, OPT_VERSION, NULL, version_flags[i]))
            return 1;
    }
    for (size_t i = 0; i < N_SETTINGS; i++) {
        for (size_t j = 0; j < 3 && cu_settings[i].flags[j] != NULL; j++) {
            if (fn(ctx, OPT_SETTING, &cu_settings[i], cu_settings[i].flags[j]))
                return 1;
        }
    }
    return 0;
}

struct lookup {
    const char *name;
    size_t len;
    int prefix;         /* match flags that start with name */
    size_t found;
    struct match *m;
    char *err;          /* for the "could match" list */
    size_t errlen;
};

static int lookup_one(void *ctx, int kind, const struct cu_setting *s,
                      const char *flag)
{
    struct lookup *l = ctx;

    if (strncmp(flag, l->name, l->len) != 0 ||
        (!l->prefix && flag[l->len] != '\0'))
        return 0;
    if (l->found++ == 0) {
        l->m->kind = kind;
        l->m->s = s;
        l->m->flag = flag;
    }
    if (l->err != NULL)
        errcat(l->err, l->errlen, "%s%s", l->found > 1 ? ", " : "", flag);
    return !l->prefix;
}

/* 1 when name[0..len) is exactly a flag (m filled). */
static int lookup_exact(const char *name, size_t len, struct match *m)
{
    struct lookup l = {.name = name, .len = len, .m = m};

    (void)each_flag(lookup_one, &l);
    return l.found == 1;
}

static int is_negative_number(const char *a)
{
    /* argparse: ^-\d+$|^-\d*\.\d+$ */
    const char *p = a + 1;
    const char *dot;

    if (a[0] != '-' || *p == '\0')
        return 0;
    dot = strchr(p, '.');
    for (const char *q = p; *q != '\0'; q++) {
        if (q != dot && (*q < '0' || *q > '9'))
            return 0;
    }
    return dot == NULL || dot[1] != '\0';
}

/*
 * What argparse's _parse_optional makes of arg: a positional (or value),
 * a known option (m filled), an unknown option, or an ambiguous prefix
 * (message in err).
 */
static int classify(const char *arg, struct match *m, char *err,
                    size_t errlen)
{
    const char *eq = strchr(arg, '=');
    size_t namelen = eq ? (size_t)(eq - arg) : strlen(arg);

    memset(m, 0, sizeof *m);
    if (arg[0] != '-' || arg[1] == '\0')
        return ARG_POSITIONAL;
    if (lookup_exact(arg, strlen(arg), m))
        return ARG_OPTION;
    if (eq != NULL && lookup_exact(arg, namelen, m)) {
        m->explicit_arg = eq + 1;
        m->sep = 1;
        return ARG_OPTION;
    }
    if (arg[1] == '-') {
        struct lookup l = {.name = arg, .len = namelen, .prefix = 1, .m = m};
        char list[512] = "";

        l.err = list;
        l.errlen = sizeof list;
        (void)each_flag(lookup_one, &l);
        if (l.found > 1) {
            cu_seterr(err, errlen, "ambiguous option: %.*s could match %s",
                   (int)namelen, arg, list);
            return ARG_AMBIGUOUS;
        }
        if (l.found == 1) {
            m->explicit_arg = eq ? eq + 1 : NULL;
            m->sep = eq != NULL;
            return ARG_OPTION;
        }
    } else if (lookup_exact(arg, 2, m)) {
        m->explicit_arg = arg + 2;
        return ARG_OPTION;
    }
    if (is_negative_number(arg) || strchr(arg, ' ') != NULL)
        return ARG_POSITIONAL;
    return ARG_UNKNOWN;
}

static int takes_value(const struct match *m)
{
    return m->kind == OPT_SETTING && m->s->type != CU_BOOL;
}

static const char *const *flags_of(const struct match *m)
{
    if (m->kind == OPT_HELP)
        return help_flags;
    if (m->kind == OPT_VERSION)
        return version_flags;
    return m->s->flags;
}

/* "argument -w/--workers: " as argparse names an option. */
static void arg_error(char *err, size_t errlen, const struct match *m)
{
    const char *const *f = flags_of(m);

    cu_seterr(err, errlen, "argument ");
    for (size_t i = 0; i < 3 && f[i] != NULL; i++)
        errcat(err, errlen, "%s%s", i ? "/" : "", f[i]);
    errcat(err, errlen, ": ");
}

static int push_arg(struct cu_args *out, const struct cu_setting *s,
                    const char *value)
{
    struct cu_arg *v;
    char *copy = NULL;

    if (value != NULL && (copy = strdup(value)) == NULL)
        return -1;
    v = realloc(out->v, (out->n + 1) * sizeof *v);
    if (v == NULL) {
        free(copy);
        return -1;
    }
    v[out->n].s = s;
    v[out->n].value = copy;
    out->v = v;
    out->n++;
    return 0;
}

struct parse {
    int argc;
    char *const *argv;
    int i;              /* index of the argument being read */
    int unrecognized;   /* how many went into the message in err */
    struct cu_args *out;
    char *err;
    size_t errlen;
};

static void unrecognized(struct parse *p, const char *a, size_t len)
{
    if (p->unrecognized++ == 0)
        cu_seterr(p->err, p->errlen, "unrecognized arguments:");
    errcat(p->err, p->errlen, " %.*s", (int)len, a);
}

/* The next argument as a value for the option, or NULL. */
static const char *next_value(struct parse *p)
{
    struct match scratch;
    char ignored[8];
    const char *a;

    if (p->i + 1 >= p->argc)
        return NULL;
    a = p->argv[p->i + 1];
    if (strcmp(a, "--") == 0 ||
        classify(a, &scratch, ignored, sizeof ignored) != ARG_POSITIONAL)
        return NULL;
    p->i++;
    return a;
}

enum { TAKE_OK = 0, TAKE_STOP = 1, TAKE_MORE = 2, TAKE_ERR = -1 };

/*
 * A flag without a value. "-Dw4" goes on with "-w4" (TAKE_MORE, m
 * updated) and "-Dx" leaves "-x" unrecognized, as argparse does.
 */
static int take_flag(struct parse *p, struct match *m)
{
    const char *rest = m->explicit_arg;
    char next[3];

    if (rest != NULL &&
        (m->sep || m->flag[1] == '-' || rest[0] == '-' || rest[0] == '\0')) {
        arg_error(p->err, p->errlen, m);
        errcat(p->err, p->errlen, "ignored explicit argument '%s'", rest);
        return TAKE_ERR;
    }
    if (m->kind == OPT_HELP || m->kind == OPT_VERSION) {
        p->out->help |= m->kind == OPT_HELP;
        p->out->version |= m->kind == OPT_VERSION;
        return TAKE_STOP;    /* argparse prints and exits right here */
    }
    if (push_arg(p->out, m->s, NULL) < 0) {
        cu_seterr(p->err, p->errlen, "out of memory");
        return TAKE_ERR;
    }
    if (rest == NULL)
        return TAKE_OK;
    next[0] = '-';
    next[1] = rest[0];
    next[2] = '\0';
    if (!lookup_exact(next, 2, m)) {
        unrecognized(p, "-", 1);
        errcat(p->err, p->errlen, "%s", rest);
        return TAKE_OK;
    }
    rest++;
    m->sep = rest[0] == '=';
    m->explicit_arg = rest[0] == '\0' ? NULL : rest + m->sep;
    return TAKE_MORE;
}

static int take_option(struct parse *p, struct match *m)
{
    const char *value;

    for (;;) {
        int rc;

        if (takes_value(m))
            break;
        rc = take_flag(p, m);
        if (rc != TAKE_MORE)
            return rc;
    }
    value = m->explicit_arg;
    if (value == NULL)
        value = next_value(p);
    if (value == NULL)
        value = m->s->bare;
    if (value == NULL) {
        arg_error(p->err, p->errlen, m);
        errcat(p->err, p->errlen, "expected one argument");
        return TAKE_ERR;
    }
    if (push_arg(p->out, m->s, value) < 0) {
        cu_seterr(p->err, p->errlen, "out of memory");
        return TAKE_ERR;
    }
    return TAKE_OK;
}

static int take_positional(struct parse *p, const char *a)
{
    if (p->out->app != NULL) {
        unrecognized(p, a, strlen(a));
        return TAKE_OK;
    }
    if ((p->out->app = strdup(a)) == NULL) {
        cu_seterr(p->err, p->errlen, "out of memory");
        return TAKE_ERR;
    }
    return TAKE_OK;
}

int cu_args_parse(int argc, char *const *argv, struct cu_args *out,
                  char *err, size_t errlen)
{
    struct parse p = {.argc = argc, .argv = argv, .out = out, .err = err,
                      .errlen = errlen};
    int opts_done = 0;

    memset(out, 0, sizeof *out);
    /* argparse classifies every argument before it acts on any, so an
     * ambiguous prefix is an error even after --help. */
    for (int i = 0; i < argc && strcmp(argv[i], "--") != 0; i++) {
        struct match m;

        if (classify(argv[i], &m, err, errlen) == ARG_AMBIGUOUS)
            return -1;
    }
    for (p.i = 0; p.i < argc; p.i++) {
        const char *a = argv[p.i];
        struct match m;
        int kind, rc;

        if (!opts_done && strcmp(a, "--") == 0) {
            opts_done = 1;
            continue;
        }
        kind = opts_done ? ARG_POSITIONAL : classify(a, &m, err, errlen);
        if (kind == ARG_AMBIGUOUS)
            goto fail;
        if (kind == ARG_UNKNOWN) {
            unrecognized(&p, a, strlen(a));
            continue;
        }
        rc = kind == ARG_POSITIONAL ? take_positional(&p, a)
                                    : take_option(&p, &m);
        if (rc == TAKE_STOP)
            return 0;
        if (rc == TAKE_ERR)
            goto fail;
    }
    if (p.unrecognized == 0)
        return 0;
fail:
    cu_args_free(out);
    return -1;
}

void cu_args_free(struct cu_args *a)
{
    for (size_t i = 0; i < a->n; i++)
        free(a->v[i].value);
    free(a->v);
    free(a->app);
    memset(a, 0, sizeof *a);
}

int cu_args_apply(struct cu_config *c, const struct cu_args *a, char *err,
                  size_t errlen)
{
    for (size_t i = 0; i < a->n; i++) {
        const struct cu_setting *s = a->v[i].s;
        const char *value = a->v[i].value;
        int append = 0;

        if (s->type == CU_BOOL && value == NULL)
            value = s->bare != NULL ? s->bare : "true";
        /* A list given again in the same layer grows; the first time it
         * replaces what earlier layers left. */
        for (size_t j = 0; j < i && !append; j++)
            append = a->v[j].s == s;
        if (cu_config_set(c, s, value, append, err, errlen) < 0)
            return -1;
    }
    if (a->app != NULL && replace_str(&c->app, a->app, strlen(a->app)) < 0) {
        cu_seterr(err, errlen, "out of memory");
        return -1;
    }
    return 0;
}

/* ---- GUNICORN_CMD_ARGS ------------------------------------------------ */

/*
 * Python's shlex.split(s) (posix, no comments): whitespace is space, tab,
 * CR and LF; a backslash outside quotes takes the next character as is;
 * single quotes keep everything; inside double quotes a backslash only
 * escapes '"' and '\' (shlex does not special-case $ or `, unlike sh).
 */
static int split_quoted(const char **pp, char *tok, size_t *tl, char *err,
                        size_t errlen)
{
    const char *p = *pp;
    char q = *p++;

    for (;;) {
        if (*p == '\0') {
            cu_seterr(err, errlen, "No closing quotation");
            return -1;
        }
        if (*p == q)
            break;
        if (q == '"' && *p == '\\') {
            if (p[1] == '\0') {
                cu_seterr(err, errlen, "No escaped character");
                return -1;
            }
            if (p[1] == '"' || p[1] == '\\')
                p++;
        }
        tok[(*tl)++] = *p++;
    }
    *pp = p + 1;
    return 0;
}

int cu_argv_split(const char *s, int *argc, char ***argv, char *err,
                  size_t errlen)
{
    struct cu_strv out = {0};
    char *tok = malloc(strlen(s) + 1);
    size_t tl = 0;
    int in_tok = 0;
    const char *p = s;

    *argc = 0;
    *argv = NULL;
    if (tok == NULL)
        goto nomem;
    while (*p != '\0') {
        if (*p == ' ' || *p == '\t' || *p == '\r' || *p == '\n') {
            if (in_tok && strv_push(&out, tok, tl) < 0)
                goto nomem;
            in_tok = 0;
            tl = 0;
            p++;
            continue;
        }
        in_tok = 1;
        if (*p == '\'' || *p == '"') {
            if (split_quoted(&p, tok, &tl, err, errlen) < 0)
                goto fail;
        } else if (*p == '\\') {
            if (p[1] == '\0') {
                cu_seterr(err, errlen, "No escaped character");
                goto fail;
            }
            tok[tl++] = p[1];
            p += 2;
        } else {
            tok[tl++] = *p++;
        }
    }
    if (in_tok && strv_push(&out, tok, tl) < 0)
        goto nomem;
    if (out.v == NULL && (out.v = calloc(1, sizeof *out.v)) == NULL)
        goto nomem;
    if (out.n > INT_MAX) {
        cu_seterr(err, errlen, "too many arguments");
        goto fail;
    }
    free(tok);
    *argc = (int)out.n;
    *argv = out.v;
    return 0;
nomem:
    cu_seterr(err, errlen, "out of memory");
fail:
    free(tok);
    strv_clear(&out);
    return -1;
}

void cu_argv_free(int argc, char **argv)
{
    if (argv == NULL)
        return;
    for (int i = 0; i < argc; i++)
        free(argv[i]);
    free(argv);
}

/* ---- --help ----------------------------------------------------------- */

/* The one place output is written: a short write shows up as a short
 * help or listing, and there is nobody to report it to. */
__attribute__((format(printf, 2, 3)))
static void emit(FILE *out, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    (void)vfprintf(out, fmt, ap);
    va_end(ap);
}

#define HELP_WIDTH 80
#define HELP_COL 24

/* Writes text from column col on, wrapping at HELP_WIDTH to HELP_COL. */
static void put_wrapped(FILE *out, size_t col, const char *text)
{
    const char *p = text;

    while (*p != '\0') {
        size_t w = strcspn(p, " ");

        if (col > HELP_COL && col + 1 + w > HELP_WIDTH) {
            emit(out, "\n%*s", HELP_COL, "");
            col = HELP_COL;
        }
        if (col > HELP_COL) {
            emit(out, " ");
            col++;
        }
        emit(out, "%.*s", (int)w, p);
        col += w;
        p += w;
        while (*p == ' ')
            p++;
    }
    emit(out, "\n");
}

/* "  -w INT, --workers INT", then the help from HELP_COL. */
static void put_option(FILE *out, const char *const *flags, const char *meta,
                       int optional, const char *help)
{
    char inv[160] = "";
    size_t col;

    for (size_t i = 0; i < 3 && flags[i] != NULL; i++) {
        errcat(inv, sizeof inv, "%s%s", i ? ", " : "", flags[i]);
        if (meta != NULL)
            errcat(inv, sizeof inv, optional ? " [%s]" : " %s", meta);
    }
    col = 2 + strlen(inv);
    if (col <= HELP_COL - 2)
        emit(out, "  %s%*s", inv, (int)(HELP_COL - col), "");
    else
        emit(out, "  %s\n%*s", inv, HELP_COL, "");
    put_wrapped(out, HELP_COL, help);
}

static void put_setting(FILE *out, const struct cu_setting *s)
{
    char help[1024];
    const char *meta = s->type == CU_BOOL ? NULL : s->meta;

    if (s->type == CU_BOOL || s->dflt == NULL)
        cu_seterr(help, sizeof help, "%s", s->help);
    else
        cu_seterr(help, sizeof help, "%s [%s]", s->help, s->dflt);
    put_option(out, s->flags, meta, s->bare != NULL, help);
}

/* Server Hooks, for one, has no command-line flags at all. */
static int section_has_flags(const char *section)
{
    for (size_t i = 0; i < N_SETTINGS; i++)
        if (strcmp(cu_settings[i].section, section) == 0 &&
            cu_settings[i].flags[0] != NULL)
            return 1;
    return 0;
}

void cu_config_help(FILE *out, const char *prog)
{
    static const char *const app_flag[] = {"APP_MODULE", NULL};
    int file_only = 0;
    size_t col;

    emit(out, "usage: %s [OPTIONS] [APP_MODULE]\n\npositional arguments:\n",
         prog);
    put_option(out, app_flag, NULL, 0, "The application to serve, as "
               "MODULE:NAME or MODULE:factory(...). NAME defaults to "
               "application.");
    emit(out, "\noptions:\n");
    put_option(out, help_flags, NULL, 0, "Show this help and exit.");
    put_option(out, version_flags, NULL, 0, "Show the version and exit.");
    for (size_t i = 0; i < N_SETTINGS; i++) {
        const char *section = cu_settings[i].section;
        size_t first = 0;

        while (strcmp(cu_settings[first].section, section) != 0)
            first++;
        if (first != i || !section_has_flags(section))
            continue;   /* printed with its section already, or file only */
        emit(out, "\n%s:\n", section);
        for (size_t j = i; j < N_SETTINGS; j++) {
            if (strcmp(cu_settings[j].section, section) == 0 &&
                cu_settings[j].flags[0] != NULL)
                put_setting(out, &cu_settings[j]);
        }
    }
    emit(out, "\nOnly in a config file:");
    col = sizeof("Only in a config file:") - 1;
    for (size_t i = 0; i < N_SETTINGS; i++) {
        size_t len = strlen(cu_settings[i].name) + 2;

        if (cu_settings[i].flags[0] != NULL)
            continue;
        if (file_only++)
            emit(out, ",");
        if (col + len > 78) {  /* wrapped, as the rest of the help is */
            emit(out, "\n ");
            col = 1;
        }
        emit(out, " %s", cu_settings[i].name);
        col += len;
    }
    emit(out, ".\n");
}

/* ---- --print-config --------------------------------------------------- */

/* s[0..len) as Python's repr() shows a str. */
static void put_repr(FILE *out, const char *s, size_t len)
{
    int q = memchr(s, '\'', len) && !memchr(s, '"', len) ? '"' : '\'';

    emit(out, "%c", q);
    for (size_t i = 0; i < len; i++) {
        unsigned char ch = (unsigned char)s[i];

        if (ch == q || ch == '\\')
            emit(out, "\\%c", ch);
        else if (ch == '\t')
            emit(out, "\\t");
        else if (ch == '\n')
            emit(out, "\\n");
        else if (ch == '\r')
            emit(out, "\\r");
        else if (ch < 0x20 || ch == 0x7f)
            emit(out, "\\x%02x", ch);
        else
            emit(out, "%c", ch);
    }
    emit(out, "%c", q);
}

/* A list as ['a', 'b'], a dict as {'NAME': 'value'}. */
static void put_strv(FILE *out, const struct cu_strv *l, int dict)
{
    emit(out, "%c", dict ? '{' : '[');
    for (size_t i = 0; i < l->n; i++) {
        size_t k = dict ? strcspn(l->v[i], "=") : strlen(l->v[i]);

        emit(out, "%s", i ? ", " : "");
        put_repr(out, l->v[i], k);
        if (dict) {
            emit(out, ": ");
            put_repr(out, l->v[i] + k + 1, strlen(l->v[i] + k + 1));
        }
    }
    emit(out, "%c", dict ? '}' : ']');
}

static void put_value(FILE *out, const struct cu_config *c,
                      const struct cu_setting *s)
{
    const char *const *str = cfield(c, s);
    const int *num = cfield(c, s);

    switch (s->type) {
    case CU_STR:
    case CU_STR_OPT:
    case CU_CALLABLE:
    case CU_CHOICE:
        emit(out, "%s", *str != NULL ? *str : "None");
        break;
    case CU_INT:
    case CU_OCTAL:
        emit(out, "%d", *num);
        break;
    case CU_BOOL:
        emit(out, "%s", *num ? "True" : "False");
        break;
    case CU_LIST:
    case CU_CSV:
    case CU_DICT:
        put_strv(out, cfield(c, s), s->type == CU_DICT);
        break;
    }
}

static int by_name(const void *a, const void *b)
{
    const size_t *x = a, *y = b;

    return strcmp(cu_settings[*x].name, cu_settings[*y].name);
}

void cu_config_print(const struct cu_config *c, FILE *out)
{
    size_t order[N_SETTINGS];
    int width = 0;

    for (size_t i = 0; i < N_SETTINGS; i++) {
        int len = (int)strlen(cu_settings[i].name);

        order[i] = i;
        if (len > width)
            width = len;
    }
    qsort(order, N_SETTINGS, sizeof order[0], by_name);
    for (size_t i = 0; i < N_SETTINGS; i++) {
        emit(out, "%-*s = ", width, cu_settings[order[i]].name);
        put_value(out, c, &cu_settings[order[i]]);
        emit(out, "\n");
    }
}
