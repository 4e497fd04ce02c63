/*
 * The settings table: one row per setting, in Gunicorn's order and
 * sections, with the names each CU_CHOICE takes. Data: what a row's fields
 * mean is in settings.h; settings.c, args.c and help.c read the rows.
 */
#include "config/internal.h"

#include <string.h>

#include "http/parser.h"
#include "http/proxy.h"
#include "worker/reloader.h"

#define S_CONFIG "Config File"
#define S_SOCKET "Server Socket"
#define S_WORKER "Worker Processes"
#define S_SECURITY "Security"
#define S_DEBUG "Debugging"
#define S_MECH "Server Mechanics"
#define S_LOG "Logging"
#define S_NAMING "Process Naming"
#define S_HOOKS "Server Hooks"

/* A CU_CHOICE stores the index of its name here, which is the value of
 * the enum it stands for (tests/config/test_table.c checks each). */
static const char *const proxy_modes[] = {
    [HTTP_PROXY_OFF] = "off", [HTTP_PROXY_V1] = "v1", [HTTP_PROXY_V2] = "v2",
    [HTTP_PROXY_AUTO] = "auto", [HTTP_PROXY_AUTO + 1] = NULL
};
static const char *const header_maps[] = {
    [HTTP_HEADER_MAP_DROP] = "drop", [HTTP_HEADER_MAP_DANGEROUS] = "dangerous",
    [HTTP_HEADER_MAP_REFUSE] = "refuse", [HTTP_HEADER_MAP_REFUSE + 1] = NULL
};
static const char *const reload_engines[] = {
    [CU_RELOAD_AUTO] = "auto", [CU_RELOAD_INOTIFY] = "inotify",
    [CU_RELOAD_POLL] = "poll", [CU_RELOAD_POLL + 1] = NULL
};
/* loglevel: the names, and the level each stands for */
static const char *const log_levels[] = {
    "debug", "info", "warning", "error", "critical", NULL
};
static const enum cu_level log_level_values[] = {
    CU_DEBUG, CU_INFO, CU_WARNING, CU_ERROR, CU_CRITICAL
};
_Static_assert(sizeof(log_levels) / sizeof(log_levels[0]) ==
               sizeof(log_level_values) / sizeof(log_level_values[0]) + 1,
               "a level for each loglevel name");

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
     .flags = {"-k", "--worker-class"}, .meta = "STRING", .type = CU_STR,
     .offset = OFF(worker_class), .dflt = "sync",
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

enum cu_level cu_config_loglevel(const struct cu_config *c)
{
    return log_level_values[c->loglevel];
}
