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
#define S_SSL "SSL"
#define S_HTTP2 "HTTP/2"
#define S_DIRTY "Dirty Arbiters"
#define S_DIRTY_HOOKS "Dirty Arbiter Hooks"
#define S_CONTROL "Control"

/* Why a setting is refused (its row's `refused`): the part of the server
 * it needs is not built yet. Deleting a row's reason makes it work. */
#define NOT_SSL_CONTEXT "the hook is not built yet: cunicorn's TLS is " \
                        "OpenSSL in C and cannot take a Python SSLContext; " \
                        "use certfile, keyfile, ca_certs, cert_reqs and ciphers"
#define NOT_UWSGI "the uWSGI protocol is not built yet"
#define NOT_DIRTY "the dirty arbiter is not built yet"
#define NOT_CONTROL "the control socket is not built yet"
#define NOT_H1C "the gunicorn_h1c parser is not built in (cunicorn's own " \
                "parser keeps the rules of Gunicorn's python one)"


/* Gunicorn's default syslog address, which depends on the platform. */
#if defined(__APPLE__)
#define SYSLOG_ADDR "unix:///var/run/syslog"
#elif defined(__FreeBSD__) || defined(__DragonFly__)
#define SYSLOG_ADDR "unix:///var/run/log"
#elif defined(__OpenBSD__)
#define SYSLOG_ADDR "unix:///dev/log"
#else
#define SYSLOG_ADDR "udp://localhost:514"
#endif

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
static const char *const asgi_loops[] = {"auto", "asyncio", "uvloop", NULL};
static const char *const asgi_lifespans[] = {"auto", "on", "off", NULL};
static const char *const booleans[] = {"false", "true", NULL};
static const char *const http_parsers[] = {"auto", "fast", "python", NULL};
static const char *const h2c_modes[] = {
    "off", "prior-knowledge", "upgrade", "both", NULL
};
/* taken although their rows are refused: they ask for what cunicorn does */
static const char *const python_parser[] = {"python", NULL};
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
     .help = "The kind of worker: sync, gthread, gevent, eventlet, asgi "
             "or tornado. sync with more than one thread becomes "
             "gthread."},
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
             "one is started first); 0: never. Not in Gunicorn.", .ours = 1},
    {.name = "max_worker_memory", .section = S_WORKER,
     .flags = {"--max-worker-memory"}, .meta = "INT", .type = CU_INT,
     .offset = OFF(max_worker_memory), .dflt = "0",
     .help = "Replace a worker whose resident memory passes this many MiB, "
             "checked by the master every second (a new one is started "
             "first, one at a time); 0: never. Not in Gunicorn.", .ours = 1},
    {.name = "request_timeout", .section = S_WORKER,
     .flags = {"--request-timeout"}, .meta = "INT", .type = CU_INT,
     .offset = OFF(request_timeout), .dflt = "0",
     .help = "Abort a request still running after this many seconds, in "
             "any worker class: its request line and Python stack are "
             "logged, the app gets RequestTimeout, the client a 504 (or a "
             "closed connection once the response has begun); 0: never. "
             "Not in Gunicorn.", .ours = 1},
    {.name = "timeout", .section = S_WORKER, .flags = {"-t", "--timeout"},
     .meta = "INT", .type = CU_INT, .offset = OFF(timeout), .dflt = "30",
     .help = "Kill a worker that shows no sign of life for this many "
             "seconds; 0 turns the check off."},
    {.name = "graceful_timeout", .section = S_WORKER,
     .flags = {"--graceful-timeout"}, .meta = "INT", .type = CU_INT,
     .offset = OFF(graceful_timeout), .dflt = "30",
     .help = "On a stop or restart, the seconds workers get to finish "
             "their requests before they are killed."},
    /* ours: the deadlines and the budget that let a worker face the
     * internet without a proxy (docs/operations.md) */
    {.name = "new_connection_timeout", .section = S_WORKER,
     .flags = {"--new-connection-timeout"}, .meta = "INT", .type = CU_INT,
     .offset = OFF(new_connection_timeout), .dflt = "5",
     .help = "Seconds a new connection may stay silent before the first "
             "byte of its request (a TLS handshake included); then it is "
             "closed. 0: only timeout bounds each wait. Not in Gunicorn "
             "(its gthread gives such a connection about 7 s).", .ours = 1},
    {.name = "header_timeout", .section = S_WORKER,
     .flags = {"--header-timeout"}, .meta = "INT", .type = CU_INT,
     .offset = OFF(header_timeout), .dflt = "10",
     .help = "Seconds a request head may take in all, from its first "
             "byte (not per read); then the connection is closed. 0: "
             "only timeout bounds each wait. Not in Gunicorn.", .ours = 1},
    {.name = "body_timeout", .section = S_WORKER,
     .flags = {"--body-timeout"}, .meta = "INT", .type = CU_INT,
     .offset = OFF(body_timeout), .dflt = "20",
     .help = "Seconds a request body may take, from the first wait for "
             "it, plus one second per body_min_rate bytes received (as "
             "Apache's mod_reqtimeout); then the connection is closed. 0: "
             "only timeout bounds each wait. Not in Gunicorn.", .ours = 1},
    {.name = "body_min_rate", .section = S_WORKER,
     .flags = {"--body-min-rate"}, .meta = "INT", .type = CU_INT,
     .offset = OFF(body_min_rate), .dflt = "500",
     .help = "Bytes per second a request body must keep up, on average, "
             "past body_timeout (see there); 0: the body_timeout is for "
             "the whole body. Not in Gunicorn.", .ours = 1},
    {.name = "send_timeout", .section = S_WORKER,
     .flags = {"--send-timeout"}, .meta = "INT", .type = CU_INT,
     .offset = OFF(send_timeout), .dflt = "30",
     .help = "Seconds a response may wait for a client that takes none of "
             "it (as nginx's send_timeout), at most timeout; then the "
             "connection is closed. 0: timeout bounds each wait. Not in "
             "Gunicorn.", .ours = 1},
    {.name = "max_head_memory", .section = S_WORKER,
     .flags = {"--max-head-memory"}, .meta = "INT", .type = CU_INT,
     .offset = OFF(max_head_memory), .dflt = "64",
     .help = "gthread and asgi: MiB one worker may hold in all for request "
             "heads still arriving; a head that would grow past it is "
             "dropped (a head's buffer grows with what arrived, 8 KiB "
             "first). 0: no cap. Not in Gunicorn.", .ours = 1},
    {.name = "keepalive", .section = S_WORKER, .flags = {"--keep-alive"},
     .meta = "INT", .type = CU_INT, .offset = OFF(keepalive), .dflt = "2",
     .help = "Seconds an idle keep-alive connection waits for its next "
             "request (not with sync workers); 0 turns keep-alive off."},
    {.name = "buffer_body", .section = S_WORKER, .flags = {"--buffer-body"},
     .meta = "INT", .type = CU_INT, .offset = OFF(buffer_body), .dflt = "65536",
     .help = "gthread: a request body of up to this many bytes (with a "
             "Content-Length) is read before a thread runs the app, so a "
             "slow upload holds no thread; 0 turns it off. Not in Gunicorn.",
     .ours = 1},
    {.name = "limit_request_body", .section = S_SECURITY,
     .flags = {"--limit-request-body"}, .meta = "INT", .type = CU_INT,
     .offset = OFF(limit_request_body), .dflt = "0",
     .help = "The largest request body accepted, in bytes: a larger "
             "Content-Length is answered 413 before the app runs (and "
             "before any 100 Continue), a chunked body when its running "
             "total passes it; 0: no limit. uWSGI's limit-post, nginx's "
             "client_max_body_size; not in Gunicorn.",
     .ours = 1},
    {.name = "stream_request_body", .section = S_WORKER,
     .flags = {"--stream-request-body"}, .type = CU_BOOL,
     .offset = OFF(stream_request_body), .dflt = "false",
     .help = "gthread: hand a request body larger than --buffer-body (or "
             "chunked) to the app as it arrives, instead of spooling it "
             "whole (memory, then a file in tmp_upload_dir) before the app "
             "runs; a slow upload then holds a thread. Not in Gunicorn.",
     .ours = 1},
    {.name = "spool_memory", .section = S_WORKER, .flags = {"--spool-memory"},
     .meta = "INT", .type = CU_INT, .offset = OFF(spool_memory), .dflt = "262144",
     .help = "gthread: a spooled request body is kept in memory up to this "
             "many bytes, and goes to a file in tmp_upload_dir beyond. Not "
             "in Gunicorn.",
     .ours = 1},
    {.name = "asgi_loop", .section = S_WORKER, .flags = {"--asgi-loop"},
     .meta = "STRING", .type = CU_CHOICE, .offset = OFF(asgi_loop),
     .dflt = "auto", .choices = asgi_loops,
     .help = "The event loop of the asgi worker class: auto (uvloop when "
             "installed), asyncio or uvloop."},
    {.name = "asgi_lifespan", .section = S_WORKER, .flags = {"--asgi-lifespan"},
     .meta = "STRING", .type = CU_CHOICE, .offset = OFF(asgi_lifespan),
     .dflt = "auto", .choices = asgi_lifespans,
     .help = "Whether the asgi worker class runs the app's lifespan "
             "events: on, off, or auto (when the app takes them)."},
    {.name = "asgi_disconnect_grace_period", .section = S_WORKER,
     .flags = {"--asgi-disconnect-grace-period"}, .meta = "INT",
     .type = CU_INT, .offset = OFF(asgi_disconnect_grace_period), .dflt = "3",
     .help = "Seconds an ASGI app may go on after its client left before "
             "its task is cancelled."},
    {.name = "ws_max_size", .section = S_WORKER, .flags = {"--ws-max-size"},
     .meta = "INT", .type = CU_INT, .offset = OFF(ws_max_size), .dflt = "16777216",
     .help = "asgi: the largest WebSocket message a client may send, in "
             "bytes (a larger one closes the connection with 1009); 0: no "
             "limit. uvicorn's --ws-max-size; not in Gunicorn.",
     .ours = 1},
    {.name = "ws_per_message_deflate", .section = S_WORKER,
     .flags = {"--ws-per-message-deflate"}, .meta = "BOOL", .type = CU_CHOICE,
     .offset = OFF(ws_per_message_deflate), .dflt = "true", .choices = booleans,
     .help = "asgi: whether a WebSocket may be compressed (permessage-deflate, "
             "RFC 7692) when the client offers it: true or false. uvicorn's "
             "--ws-per-message-deflate; not in Gunicorn.",
     .ours = 1},
    {.name = "ws_ping_interval", .section = S_WORKER, .flags = {"--ws-ping-interval"},
     .meta = "FLOAT", .type = CU_SECONDS, .offset = OFF(ws_ping_interval), .dflt = "20.0",
     .help = "asgi: seconds between the pings the server sends on each "
             "WebSocket; 0 or None: no pings. uvicorn's --ws-ping-interval; "
             "not in Gunicorn.",
     .ours = 1},
    {.name = "ws_ping_timeout", .section = S_WORKER, .flags = {"--ws-ping-timeout"},
     .meta = "FLOAT", .type = CU_SECONDS, .offset = OFF(ws_ping_timeout), .dflt = "20.0",
     .help = "asgi: seconds a client may take to answer the server's ping "
             "before the WebSocket is closed with 1011; 0 or None: no limit. "
             "uvicorn's --ws-ping-timeout; not in Gunicorn.",
     .ours = 1},
    {.name = "http_parser", .section = S_WORKER, .flags = {"--http-parser"},
     .meta = "STRING", .type = CU_CHOICE, .offset = OFF(http_parser),
     .dflt = "auto", .choices = http_parsers, .refused = NOT_H1C,
     .allowed = python_parser,
     .help = "Which HTTP/1 parser Gunicorn uses: python, fast (the "
             "gunicorn_h1c extension) or auto (fast when installed). "
             "cunicorn has one, in C, with the python parser's rules."},
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
    {.name = "spew", .section = S_DEBUG, .flags = {"--spew"}, .type = CU_BOOL,
     .offset = OFF(spew), .dflt = "false",
     .help = "Print every line of Python the master and the workers run, "
             "to stdout. Very slow; for debugging only."},
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
     .inert = "the heartbeat is a slot in shared memory, not a file",
     .help = "Where Gunicorn keeps each worker's heartbeat file. cunicorn "
             "takes it and needs no such file."},
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
    {.name = "tmp_upload_dir", .section = S_MECH, .meta = "DIR",
     .type = CU_STR_OPT, .offset = OFF(tmp_upload_dir),
     .help = "gthread: the directory of the files that spool request "
             "bodies (unlinked as they are made); None: $TMPDIR, else "
             "/tmp. Gunicorn declares it and never reads it."},
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
    {.name = "paste", .section = S_MECH, .flags = {"--paste", "--paster"},
     .meta = "STRING", .type = CU_STR_OPT, .offset = OFF(paste),
     .help = "Load the application from a PasteDeploy .ini file, "
             "FILE.ini or FILE.ini#section (the app section, main by "
             "default), in place of an APP_MODULE. A [loggers] section in "
             "it configures Python's logging; its [server:*] sections are "
             "not read."},
    {.name = "proxy_protocol", .section = S_MECH,
     .flags = {"--proxy-protocol"}, .meta = "MODE", .type = CU_CHOICE,
     .offset = OFF(proxy_protocol), .dflt = "off", .choices = proxy_modes,
     .bare = "auto", .if_true = "auto",
     .help = "Expect a PROXY protocol header on each new connection: off, "
             "v1, v2 or auto (either one). The option alone means auto."},
    {.name = "proxy_allow_ips", .section = S_MECH,
     .flags = {"--proxy-allow-from"}, .meta = "STRING", .type = CU_CSV,
     .offset = OFF(proxy_allow_ips), .dflt = "127.0.0.1,::1",
     .help = "Comma-separated addresses or networks allowed to send a "
             "PROXY header; * allows every peer."},
    {.name = "protocol", .section = S_MECH, .flags = {"--protocol"},
     .meta = "STRING", .type = CU_STR, .offset = OFF(protocol),
     .dflt = "http", .refused = NOT_UWSGI,
     .help = "What clients speak: http, or uwsgi (the binary protocol of "
             "nginx's uwsgi_pass)."},
    {.name = "uwsgi_allow_ips", .section = S_MECH,
     .flags = {"--uwsgi-allow-from"}, .meta = "STRING", .type = CU_CSV,
     .offset = OFF(uwsgi_allow_ips), .dflt = "127.0.0.1,::1",
     .refused = NOT_UWSGI, .only_with = "protocol",
     .help = "Comma-separated addresses or networks allowed to speak the "
             "uWSGI protocol; * allows every peer."},
    {.name = "raw_paste_global_conf", .section = S_MECH,
     .flags = {"--paste-global"}, .meta = "CONF", .type = CU_LIST,
     .offset = OFF(raw_paste_global_conf),
     .help = "A KEY=VALUE for the global_conf the paste file's app gets; "
             "an = after a backslash belongs to KEY or VALUE. Repeat it "
             "for more."},
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
    {.name = "root_path", .section = S_MECH, .flags = {"--root-path"},
     .meta = "STRING", .type = CU_STR, .offset = OFF(root_path), .dflt = "",
     .help = "The path an ASGI app is mounted under, for its scope's "
             "root_path."},
    /* Logging */
    {.name = "accesslog", .section = S_LOG, .flags = {"--access-logfile"},
     .meta = "FILE", .type = CU_STR_OPT, .offset = OFF(accesslog),
     .help = "Where to write the access log; - is stdout. Unset: no "
             "access log."},
    {.name = "disable_redirect_access_to_syslog", .section = S_LOG,
     .flags = {"--disable-redirect-access-to-syslog"}, .type = CU_BOOL,
     .offset = OFF(disable_redirect_access_to_syslog), .dflt = "false",
     .help = "With syslog on, keep the access log out of it."},
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
    {.name = "logger_class", .section = S_LOG, .flags = {"--logger-class"},
     .meta = "STRING", .type = CU_STR, .offset = OFF(logger_class),
     .dflt = "gunicorn.glogging.Logger",
     .help = "The class that writes the logs, as module.Class; simple is "
             "the built-in one."},
    {.name = "logconfig", .section = S_LOG, .flags = {"--log-config"},
     .meta = "FILE", .type = CU_STR_OPT, .offset = OFF(logconfig),
     .help = "An ini file for Python's logging.config.fileConfig."},
    {.name = "logconfig_dict", .section = S_LOG, .meta = "DICT",
     .type = CU_DICT, .offset = OFF(logconfig_dict),
     .help = "A dict for Python's logging.config.dictConfig, laid over "
             "the server's own logging set-up."},
    {.name = "logconfig_json", .section = S_LOG, .flags = {"--log-config-json"},
     .meta = "FILE", .type = CU_STR_OPT, .offset = OFF(logconfig_json),
     .help = "A JSON file with a dict for logging.config.dictConfig."},
    {.name = "syslog_addr", .section = S_LOG, .flags = {"--log-syslog-to"},
     .meta = "SYSLOG_ADDR", .type = CU_STR, .offset = OFF(syslog_addr),
     .dflt = SYSLOG_ADDR,
     .help = "Where syslog messages go: udp://HOST:PORT, tcp://HOST:PORT "
             "or unix://PATH (#dgram or #stream may follow)."},
    {.name = "syslog", .section = S_LOG, .flags = {"--log-syslog"},
     .type = CU_BOOL, .offset = OFF(syslog), .dflt = "false",
     .help = "Send the logs to syslog as well."},
    {.name = "syslog_prefix", .section = S_LOG, .flags = {"--log-syslog-prefix"},
     .meta = "SYSLOG_PREFIX", .type = CU_STR_OPT, .offset = OFF(syslog_prefix),
     .help = "The name syslog lines carry instead of the process name."},
    {.name = "syslog_facility", .section = S_LOG,
     .flags = {"--log-syslog-facility"}, .meta = "SYSLOG_FACILITY",
     .type = CU_STR, .offset = OFF(syslog_facility), .dflt = "user",
     .help = "The syslog facility messages are filed under."},
    {.name = "enable_stdio_inheritance", .section = S_LOG,
     .flags = {"-R", "--enable-stdio-inheritance"}, .type = CU_BOOL,
     .offset = OFF(enable_stdio_inheritance), .dflt = "false",
     .help = "With --daemon, keep stdout and stderr where they go unless "
             "that is a terminal (by default both go to /dev/null)."},
    {.name = "statsd_host", .section = S_LOG, .flags = {"--statsd-host"},
     .meta = "STATSD_ADDR", .type = CU_STR_OPT, .offset = OFF(statsd_host),
     .help = "Send metrics to this StatsD server: HOST[:PORT] (UDP, port "
             "8125 by default) or unix://PATH (a datagram socket)."},
    {.name = "dogstatsd_tags", .section = S_LOG, .flags = {"--dogstatsd-tags"},
     .meta = "DOGSTATSD_TAGS", .type = CU_STR, .offset = OFF(dogstatsd_tags),
     .dflt = "",
     .help = "Comma-separated DogStatsD tags added to every metric "
             "(tag1:value1,tag2)."},
    {.name = "statsd_prefix", .section = S_LOG, .flags = {"--statsd-prefix"},
     .meta = "STATSD_PREFIX", .type = CU_STR, .offset = OFF(statsd_prefix),
     .dflt = "",
     .help = "A prefix for every metric's name; a '.' is added after it "
             "unless it ends with one."},
    {.name = "enable_backlog_metric", .section = S_LOG,
     .flags = {"--enable-backlog-metric"}, .type = CU_BOOL,
     .offset = OFF(enable_backlog_metric), .dflt = "false",
     .help = "Linux: send how many connections wait in the TCP listen "
             "queues, as the gunicorn.backlog metric, on each tick of the "
             "master (and log it at debug level)."},
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
     .help = "In the worker, on SIGINT or SIGQUIT, before it exits, and on a --reload restart."},
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
     .type = CU_CALLABLE, .offset = OFF(ssl_context), .refused = NOT_SSL_CONTEXT,
     .help = "In the worker, whenever TLS needs a context: returns one, made with the default factory or not."},
    /* SSL */
    {.name = "keyfile", .section = S_SSL, .flags = {"--keyfile"},
     .meta = "FILE", .type = CU_STR_OPT, .offset = OFF(keyfile),
     .help = "The private key of the TLS certificate."},
    {.name = "certfile", .section = S_SSL, .flags = {"--certfile"},
     .meta = "FILE", .type = CU_STR_OPT, .offset = OFF(certfile),
     .help = "The TLS certificate; with it (or keyfile) the listeners "
             "speak HTTPS."},
    {.name = "ssl_version", .section = S_SSL, .flags = {"--ssl-version"},
     .meta = "INT", .type = CU_INT, .offset = OFF(ssl_version), .dflt = "2",
     .inert = "Gunicorn ignores it too, with the same warning when it is "
              "changed; TLS 1.2 is the minimum, 1.3 preferred",
     .help = "An ssl module protocol number (deprecated)."},
    {.name = "cert_reqs", .section = S_SSL, .flags = {"--cert-reqs"},
     .meta = "INT", .type = CU_INT, .offset = OFF(cert_reqs), .dflt = "0",
     .help = "Client certificates: 0 not asked for, 1 checked when sent, "
             "2 required."},
    {.name = "ca_certs", .section = S_SSL, .flags = {"--ca-certs"},
     .meta = "FILE", .type = CU_STR_OPT, .offset = OFF(ca_certs),
     .help = "The certificate authorities client certificates are "
             "checked against."},
    {.name = "suppress_ragged_eofs", .section = S_SSL,
     .flags = {"--suppress-ragged-eofs"}, .type = CU_BOOL,
     .offset = OFF(suppress_ragged_eofs), .dflt = "true",
     .help = "Read a TLS connection cut without close_notify as its end "
             "rather than an error."},
    {.name = "do_handshake_on_connect", .section = S_SSL,
     .flags = {"--do-handshake-on-connect"}, .type = CU_BOOL,
     .offset = OFF(do_handshake_on_connect), .dflt = "false",
     .inert = "the handshake is always the first thing done with a "
              "connection, before its request, whichever the value: in the "
              "poller (gthread) or event loop (asgi, tornado), on the hub "
              "(gevent, eventlet), never holding a thread while it waits; "
              "bounded by --timeout in sync's one thread",
     .help = "Accepted for compatibility with Gunicorn, where it does the TLS "
             "handshake at the accept rather than at the first read."},
    {.name = "ciphers", .section = S_SSL, .flags = {"--ciphers"},
     .meta = "STRING", .type = CU_STR_OPT, .offset = OFF(ciphers),
     .help = "The OpenSSL cipher list to offer (TLS 1.2); unset keeps "
             "Python's."},
    {.name = "ssl_ocsp_response", .section = S_SSL, .flags = {"--ssl-ocsp-response"},
     .meta = "FILE", .type = CU_STR_OPT, .offset = OFF(ssl_ocsp_response),
     .help = "A DER OCSP response for certfile, stapled in every handshake "
             "that asks (status_request); read at start and on HUP. Not in "
             "Gunicorn.",
     .ours = 1},
    /* HTTP/2 */
    {.name = "http_protocols", .section = S_HTTP2,
     .flags = {"--http-protocols"}, .meta = "STRING", .type = CU_CSV,
     .offset = OFF(http_protocols), .dflt = "h1",
     .help = "Comma-separated protocols to offer, preferred first: h1, h2 "
             "(h3 is reserved)."},
    {.name = "http2_cleartext", .section = S_HTTP2,
     .flags = {"--http2-cleartext"}, .meta = "STRING", .type = CU_CHOICE,
     .offset = OFF(http2_cleartext), .dflt = "off", .choices = h2c_modes,
     .if_true = "prior-knowledge",
     .help = "HTTP/2 without TLS for trusted peers: off, prior-knowledge, "
             "upgrade (an HTTP/1.1 Upgrade: h2c) or both."},
    {.name = "http2_max_concurrent_streams", .section = S_HTTP2,
     .flags = {"--http2-max-concurrent-streams"}, .meta = "INT",
     .type = CU_INT, .offset = OFF(http2_max_concurrent_streams),
     .dflt = "100", .help = "How many streams one HTTP/2 connection may have open."},
    {.name = "http2_initial_window_size", .section = S_HTTP2,
     .flags = {"--http2-initial-window-size"}, .meta = "INT", .type = CU_INT,
     .offset = OFF(http2_initial_window_size), .dflt = "65535",
     .help = "The HTTP/2 flow-control window a stream starts with, in "
             "bytes."},
    {.name = "http2_max_frame_size", .section = S_HTTP2,
     .flags = {"--http2-max-frame-size"}, .meta = "INT", .type = CU_INT,
     .offset = OFF(http2_max_frame_size), .dflt = "16384",
     .help = "The largest HTTP/2 frame accepted, 16384 to 16777215 bytes."},
    {.name = "http2_max_header_list_size", .section = S_HTTP2,
     .flags = {"--http2-max-header-list-size"}, .meta = "INT", .type = CU_INT,
     .offset = OFF(http2_max_header_list_size), .dflt = "65536",
     .help = "The most bytes of decoded headers per HTTP/2 request; 0: no "
             "limit."},
    /* Dirty Arbiters */
    {.name = "dirty_apps", .section = S_DIRTY, .flags = {"--dirty-app"},
     .meta = "STRING", .type = CU_LIST, .offset = OFF(dirty_apps),
     .refused = NOT_DIRTY,
     .help = "An app for the dirty workers, module:Class[:N]; repeat it "
             "for more."},
    {.name = "dirty_workers", .section = S_DIRTY, .flags = {"--dirty-workers"},
     .meta = "INT", .type = CU_INT, .offset = OFF(dirty_workers), .dflt = "0",
     .refused = NOT_DIRTY, .only_with = "dirty_apps",
     .help = "How many dirty workers run blocking jobs beside the HTTP "
             "workers; 0: none."},
    {.name = "dirty_timeout", .section = S_DIRTY, .flags = {"--dirty-timeout"},
     .meta = "INT", .type = CU_INT, .offset = OFF(dirty_timeout), .dflt = "300",
     .refused = NOT_DIRTY, .only_with = "dirty_apps",
     .help = "Seconds a dirty job may run; 0: no limit."},
    {.name = "dirty_threads", .section = S_DIRTY, .flags = {"--dirty-threads"},
     .meta = "INT", .type = CU_INT, .offset = OFF(dirty_threads), .dflt = "1",
     .refused = NOT_DIRTY, .only_with = "dirty_apps",
     .help = "Threads in each dirty worker."},
    {.name = "dirty_graceful_timeout", .section = S_DIRTY,
     .flags = {"--dirty-graceful-timeout"}, .meta = "INT", .type = CU_INT,
     .offset = OFF(dirty_graceful_timeout), .dflt = "30", .refused = NOT_DIRTY, .only_with = "dirty_apps",
     .help = "Seconds a stopping dirty worker gets to finish its jobs."},
    /* Dirty Arbiter Hooks */
    {.name = "on_dirty_starting", .section = S_DIRTY_HOOKS, .meta = "arbiter",
     .type = CU_CALLABLE, .offset = OFF(on_dirty_starting), .refused = NOT_DIRTY, .only_with = "dirty_apps",
     .help = "Before the dirty arbiter starts."},
    {.name = "dirty_post_fork", .section = S_DIRTY_HOOKS, .meta = "arbiter, worker",
     .type = CU_CALLABLE, .offset = OFF(dirty_post_fork), .refused = NOT_DIRTY, .only_with = "dirty_apps",
     .help = "In a dirty worker, right after the fork."},
    {.name = "dirty_worker_init", .section = S_DIRTY_HOOKS, .meta = "worker",
     .type = CU_CALLABLE, .offset = OFF(dirty_worker_init), .refused = NOT_DIRTY, .only_with = "dirty_apps",
     .help = "In a dirty worker, once its apps are loaded."},
    {.name = "dirty_worker_exit", .section = S_DIRTY_HOOKS, .meta = "arbiter, worker",
     .type = CU_CALLABLE, .offset = OFF(dirty_worker_exit), .refused = NOT_DIRTY, .only_with = "dirty_apps",
     .help = "When a dirty worker exits."},
    /* Control */
    {.name = "control_socket", .section = S_CONTROL,
     .flags = {"--control-socket"}, .meta = "PATH", .type = CU_STR_OPT,
     .offset = OFF(control_socket), .refused = NOT_CONTROL,
     .help = "The UNIX socket gunicornc talks to the master through "
             "(Gunicorn opens one by default)."},
    {.name = "control_socket_mode", .section = S_CONTROL,
     .flags = {"--control-socket-mode"}, .meta = "INT", .type = CU_OCTAL,
     .offset = OFF(control_socket_mode), .dflt = "0o600",
     .refused = NOT_CONTROL, .only_with = "control_socket",
     .help = "The permission bits of the control socket."},
    {.name = "control_socket_disable", .section = S_CONTROL,
     .flags = {"--no-control-socket"}, .type = CU_BOOL,
     .offset = OFF(control_socket_disable), .dflt = "false",
     .inert = "cunicorn opens no control socket",
     .help = "Open no control socket."},
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
