/*
 * The settings: one table (name, CLI flags, type, default, validator, help)
 * drives command-line parsing, GUNICORN_CMD_ARGS, config files (through the
 * Python layer, which hands values over by name), --help and --print-config.
 * The table is table.c; the values (validators, defaults, copies) are
 * settings.c; the command line args.c; --help and --print-config help.c.
 *
 * Plain C. The configuration is one struct, filled and validated before any
 * fork and read-only afterwards.
 *
 * Layers, later wins (docs/compat.md, Settings): defaults (some from the
 * environment: PORT, WEB_CONCURRENCY, FORWARDED_ALLOW_IPS), config file,
 * GUNICORN_CMD_ARGS, command line. A list setting given several times in
 * one layer accumulates; a later layer replaces it.
 *
 * Every one of Gunicorn 26.1's settings has a row. One that needs a part of
 * the server not built yet carries the reason (its `refused`): any value
 * but its default stops the start in cu_config_finish with "NAME: REASON".
 * Building that part means deleting the reason. docs/settings.md is
 * generated from the rows (tools/settings_md.c).
 */
#ifndef CU_CONFIG_SETTINGS_H
#define CU_CONFIG_SETTINGS_H

#include <stddef.h>
#include <stdio.h>

#include "core/log.h"

struct cu_strv {   /* a list of strings */
    char **v;
    size_t n;
};

enum cu_stype {
    CU_STR,      /* a string */
    CU_STR_OPT,  /* a string or unset (None) */
    CU_INT,      /* int(x, 0) semantics; negative refused */
    CU_BOOL,     /* CLI: a flag without value; file/env: true/false (any case) */
    CU_LIST,     /* repeatable string option */
    CU_CSV,      /* comma-separated string, kept as a list */
    CU_OCTAL,    /* umask: "022" is octal on the command line */
    CU_CHOICE,   /* one of s->choices, stored as its index (an int): the
                  * value of the enum the choices stand for */
    CU_DICT,     /* NAME=value pairs (secure_scheme_headers): file only */
    CU_SECONDS,  /* a float of seconds, held as milliseconds (an int); None
                  * (a config file's) is 0: off. Python sees a float */
    CU_CALLABLE  /* a server hook: file only. The Python layer keeps the
                  * callable; the config holds its name as shown by
                  * --print-config ("<qualname()>"), or NULL (none). The
                  * row's meta is the signature, e.g. "server, worker";
                  * "[, x]" marks optional parameters (post_request) */
};

struct cu_config {
    /* Config File */
    char *config;            /* -c: chosen by the Python layer */
    char *wsgi_app;          /* the app given in a config file */
    /* Server Socket */
    struct cu_strv bind;
    int backlog;
    /* Worker Processes */
    int workers;
    char *worker_class;      /* as given: src/config/derive.h resolves it */
    int threads;
    int worker_connections;
    int max_requests;
    int max_requests_jitter;
    int timeout;
    int graceful_timeout;
    int new_connection_timeout;  /* ours: deadlines, seconds (0: none) */
    int header_timeout;
    int body_timeout;
    int body_min_rate;       /* bytes/s */
    int send_timeout;
    int max_head_memory;     /* MiB */
    int keepalive;
    int max_worker_lifetime;
    int request_timeout;
    int max_worker_memory;
    int buffer_body;
    int limit_request_body;  /* ours: 413 past it; 0: no limit */
    int stream_request_body; /* ours: gthread hands big bodies over unspooled */
    int spool_memory;        /* ours: a spooled body's part kept in memory */
    int asgi_loop;           /* the choice's index: auto, asyncio, uvloop */
    int asgi_lifespan;       /* auto, on, off */
    int asgi_disconnect_grace_period;
    int ws_max_size;         /* ours: the asgi worker's WebSocket messages */
    int ws_per_message_deflate;  /* ours: 1 (true): permessage-deflate offered */
    int ws_ping_interval;    /* ours: ms between the server's pings; 0: none */
    int ws_ping_timeout;     /* ours: ms a pong may take; 0: no limit */
    int http_parser;         /* auto, fast, python */
    /* Security */
    int limit_request_line;
    int limit_request_fields;
    int limit_request_field_size;
    /* Debugging */
    int check_config;
    int print_config;
    int reload;
    int reload_engine;       /* enum cu_reload_engine */
    struct cu_strv reload_extra_files;  /* absolute paths or patterns */
    int spew;
    /* Server Mechanics */
    int preload_app;
    int reuse_port;
    char *chdir;
    int daemon;
    struct cu_strv raw_env;
    char *pidfile;
    char *worker_tmp_dir;
    char *user;
    char *group;
    int umask;
    int initgroups;
    char *tmp_upload_dir;
    int sendfile;            /* --no-sendfile turns it off */
    struct cu_strv secure_scheme_headers;  /* "NAME=value" */
    struct cu_strv forwarded_allow_ips;
    char *pythonpath;
    char *paste;
    int proxy_protocol;      /* enum http_proxy_mode */
    struct cu_strv proxy_allow_ips;
    char *protocol;
    struct cu_strv uwsgi_allow_ips;
    struct cu_strv raw_paste_global_conf;
    int permit_obsolete_folding;
    int strip_header_spaces;
    int permit_unconventional_http_method;
    int permit_unconventional_http_version;
    int casefold_http_method;
    struct cu_strv forwarder_headers;
    int header_map;          /* enum http_header_map */
    char *root_path;
    /* Logging */
    char *accesslog;
    int disable_redirect_access_to_syslog;
    char *access_log_format;
    char *errorlog;
    int loglevel;            /* the choice's index: cu_config_loglevel() */
    int capture_output;
    char *logger_class;
    char *logconfig;
    struct cu_strv logconfig_dict;  /* "NAME=value" as the file's dict has them */
    char *logconfig_json;
    char *syslog_addr;
    int syslog;
    char *syslog_prefix;
    char *syslog_facility;
    int enable_stdio_inheritance;
    char *statsd_host;
    char *dogstatsd_tags;
    char *statsd_prefix;
    int enable_backlog_metric;
    /* Process Naming */
    char *proc_name;
    char *default_proc_name; /* the APP_MODULE of the command line */
    /* Server Hooks (docs/compat.md, Server hooks): names only, see CU_CALLABLE */
    char *on_starting;
    char *on_reload;
    char *when_ready;
    char *pre_fork;
    char *post_fork;
    char *post_worker_init;
    char *worker_int;
    char *worker_abort;
    char *pre_exec;
    char *pre_request;
    char *post_request;
    char *child_exit;
    char *worker_exit;
    char *nworkers_changed;
    char *on_exit;
    char *ssl_context;
    /* SSL */
    char *keyfile;
    char *certfile;
    int ssl_version;
    int cert_reqs;
    char *ca_certs;
    int suppress_ragged_eofs;
    int do_handshake_on_connect;
    char *ciphers;
    char *ssl_ocsp_response; /* ours: a DER OCSP response to staple */
    /* HTTP/2 */
    struct cu_strv http_protocols;  /* lower case, no repeats: ["h1"] */
    int http2_cleartext;     /* off, prior-knowledge, upgrade, both */
    int http2_max_concurrent_streams;
    int http2_initial_window_size;
    int http2_max_frame_size;
    int http2_max_header_list_size;
    /* Dirty Arbiters, and their hooks (names only, as above) */
    struct cu_strv dirty_apps;
    int dirty_workers;
    int dirty_timeout;
    int dirty_threads;
    int dirty_graceful_timeout;
    char *on_dirty_starting;
    char *dirty_post_fork;
    char *dirty_worker_init;
    char *dirty_worker_exit;
    /* Control */
    char *control_socket;
    int control_socket_mode;
    int control_socket_disable;
    /* the positional APP_MODULE */
    char *app;
};

struct cu_setting {
    const char *name;         /* Gunicorn's setting name */
    const char *section;      /* "Server Socket", ... as Gunicorn groups them */
    const char *flags[3];     /* e.g. {"-w", "--workers"}; NULL-terminated; none: file only */
    const char *meta;         /* "INT", "ADDRESS", ... for --help */
    enum cu_stype type;
    size_t offset;            /* offsetof(struct cu_config, field) */
    const char *dflt;         /* default as text (NULL: unset) */
    const char *help;         /* one or two sentences, our own words */
    const char *const *choices;  /* CU_CHOICE: NULL-terminated, each name at
                                  * the index of the value it stands for */
    const char *bare;         /* a value-taking flag given without a value
                               * means this (proxy_protocol: "auto"); NULL: none */
    const char *if_true;      /* CU_CHOICE: the choice a boolean true stands
                               * for (false: the default); NULL: none */
    /*
     * Not built yet: why ("TLS is not built yet"). Any value but the
     * default, or one of `allowed`, stops the start (cu_config_finish:
     * "certfile: TLS is not built yet"). NULL: the setting works.
     */
    const char *refused;
    /* The setting `refused` applies only while this one is set: Gunicorn
     * reads the row only then (dirty_workers: only with dirty_apps), so
     * while that one is at its default any value is taken. NULL: always. */
    const char *only_with;
    const char *const *allowed;  /* NULL-terminated texts whose value is
                                  * taken all the same (logger_class:
                                  * "simple"); NULL: none */
    const char *inert;        /* taken, but nothing in cunicorn reads it:
                               * why (worker_tmp_dir: the heartbeat is
                               * shared memory); NULL: it acts */
    int ours;                 /* 1: cunicorn's own, not one of Gunicorn's */
};

extern const struct cu_setting cu_settings[];
extern const size_t cu_n_settings;

const struct cu_setting *cu_setting_find(const char *name);
const struct cu_setting *cu_setting_by_flag(const char *flag);

/* The name of a CU_CHOICE setting's value in c ("info"). */
const char *cu_config_choice(const struct cu_config *c,
                             const struct cu_setting *s);
/* loglevel as the error log's level. */
enum cu_level cu_config_loglevel(const struct cu_config *c);

/* Defaults, including those read from the environment. 0 or -1 (ENOMEM). */
int cu_config_init(struct cu_config *c);
void cu_config_free(struct cu_config *c);
/* Deep copy (for HUP: build the new one, swap on success). */
int cu_config_copy(struct cu_config *dst, const struct cu_config *src);

/*
 * Sets s from text through its validator. CU_LIST/CU_DICT: append=1 adds an
 * item, append=0 replaces the list with this one item. NULL value: unset
 * (CU_STR_OPT only). Returns 0, or -1 with "Invalid value for NAME: ..." in err.
 */
int cu_config_set(struct cu_config *c, const struct cu_setting *s,
                  const char *value, int append, char *err, size_t errlen);
/* Empties a list or dict setting (before a layer's first item). */
void cu_config_clear(struct cu_config *c, const struct cu_setting *s);

/* One option found on a command line, not yet applied. */
struct cu_arg {
    const struct cu_setting *s;
    char *value;   /* NULL for a boolean flag */
};

struct cu_args {
    struct cu_arg *v;
    size_t n;
    char *app;     /* the positional APP_MODULE, or NULL */
    int help;      /* -h/--help seen */
    int version;   /* -v/--version seen */
};

/*
 * Parses argv[0..argc) (without the program name): "--flag value",
 * "--flag=value", "-wN"/"-w N", bare booleans, "--" ends options. Unknown
 * flags and missing values are errors (usage text in err; the caller exits
 * 2 as argparse does). Returns 0 or -1.
 */
int cu_args_parse(int argc, char *const *argv, struct cu_args *out,
                  char *err, size_t errlen);
/* Splits GUNICORN_CMD_ARGS the way Python's shlex.split does (quotes,
 * backslashes). Returns 0 or -1 with a message; free with cu_argv_free. */
int cu_argv_split(const char *s, int *argc, char ***argv, char *err,
                  size_t errlen);
void cu_argv_free(int argc, char **argv);
/* Applies a layer in order (lists: first item replaces, later ones append). */
int cu_args_apply(struct cu_config *c, const struct cu_args *a, char *err,
                  size_t errlen);
void cu_args_free(struct cu_args *a);

/* Cross-setting checks, after all layers: at least one worker and one
 * thread, and no refused setting away from its default ("NAME: REASON",
 * the first in the table's order). 0 or -1 with a message. What the
 * settings mean for the server (the worker class among them) is
 * src/config/derive.h's. */
int cu_config_finish(struct cu_config *c, char *err, size_t errlen);
/* 1 when s's value in c is its default (or one of its `allowed`), else 0;
 * -1 when out of memory. */
int cu_config_is_default(const struct cu_config *c, const struct cu_setting *s);

/* --help, generated from the table. */
void cu_config_help(FILE *out, const char *prog);
/* --print-config: "name = value", sorted, names padded to the longest. */
void cu_config_print(const struct cu_config *c, FILE *out);
/* docs/settings.md: every setting by section, its flags, default and
 * whether it works (markdown.c; written by tools/settings_md.c). */
void cu_config_markdown(FILE *out);

#endif
