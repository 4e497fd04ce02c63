/*
 * The access log, written by C: one line per request, built from
 * Gunicorn's access_log_format atoms; with the default format
 *   127.0.0.1 - - [02/Dec/2026:03:04:05 +0000] "GET / HTTP/1.1" 200 2 "-" "-"
 * Plain C; each line is written with a single write(2) so lines from
 * several processes sharing a file do not interleave.
 *
 * The file the lines go to belongs to core/log.h: cu_log_open() opens it
 * ("-" is stdout; none when accesslog is unset), cu_log_reopen() reopens it
 * on USR1 and cu_log_close() closes it, together with the error log.
 *
 * The format is compiled once; a request then costs only the atoms the
 * format uses. What an atom needs from the application's side of a
 * request (the environ as the app left it, the response headers) the
 * caller learns from cu_access_needs() and cu_access_lookups(), and gathers
 * only then.
 *
 * Threads: cu_access_log(), cu_access_enabled(), cu_access_needs() and
 * cu_access_lookups() may be called from any thread.
 * cu_access_format_set() is a set-up call: make it while no other thread
 * logs.
 */
#ifndef CU_CORE_ACCESS_H
#define CU_CORE_ACCESS_H

#include <stddef.h>
#include <stdint.h>

/* Gunicorn's access_log_format default (Apache combined-like). */
#define CU_ACCESS_LOG_FORMAT_DEFAULT \
    "%(h)s %(l)s %(u)s %(t)s \"%(r)s\" %(s)s %(b)s \"%(f)s\" \"%(a)s\""

/* One request, as the access log atoms need it. Strings need not be
 * NUL-terminated: each is a pointer and a length. p == NULL means
 * "missing" and prints "-"; an empty string with p != NULL prints
 * nothing (like an empty QUERY_STRING in Gunicorn). */
struct cu_str {
    const char *p;
    size_t len;
};
struct cu_access_refused;
struct cu_access {
    struct cu_str remote_addr;      /* h: REMOTE_ADDR */
    struct cu_str method, path, query, protocol;  /* m, U (PATH_INFO), q, H */
    struct cu_str request_line;     /* r: "GET /x?y HTTP/1.1" (raw URI) */
    struct cu_str authorization;    /* u: the Authorization header; the
                                     * Basic user is taken from it */
    int status;                     /* s; <= 0 prints "-" */
    uint64_t response_bytes;        /* B and b: both print the number, 0 too */
    struct cu_str referer, user_agent;  /* f, a */
    int64_t request_time_us;        /* T, M, D, L (negative counts as 0) */
    int pid;                        /* p: "<pid>"; <= 0: getpid() */
    /* {name}i request headers, looked up through a callback (NULL: always
     * "-"). name is lower-case and NUL-terminated (len excludes the NUL):
     * match it ignoring case. Return {NULL, 0} when there is none. */
    struct cu_str (*req_header)(void *ctx, const char *name, size_t len);
    void *ctx;
    /* {name}o response headers and {name}e environ values, gathered by the
     * caller: resp[i] is the value of the i-th name cu_access_lookups('o')
     * lists, env[i] of the i-th of 'e' ({NULL, 0}: "-"). NULL: all "-". */
    const struct cu_str *resp;
    const struct cu_str *env;
    /* Python mode (cu_access_divert): what the application layer kept of
     * the request for the divert, which owns it; NULL otherwise. */
    void *host;
    /* A request refused before the application layer saw it (host is
     * NULL then): what Gunicorn's logger gets of it, for the divert;
     * NULL otherwise. */
    const struct cu_access_refused *refused;
};

/* A refused request, as Gunicorn's handle_error() gives it to its
 * logger: the small environ it makes (key, value pairs in env[0..2n),
 * the keys NUL-terminated), the request's headers (name as sent, value
 * pairs in headers[0..2n)), the status line's "CODE REASON", and the
 * request's path as sent (its req.path; the environ has no PATH_INFO). */
struct cu_access_refused {
    const struct cu_str *env;
    size_t n_env;
    const struct cu_str *headers;
    size_t n_headers;
    const char *status;
    struct cu_str path;
};

/* Compiles an access_log_format (at start-up, and again on HUP); until then
 * CU_ACCESS_LOG_FORMAT_DEFAULT is used. The format is filled as Python's
 * "%" operator fills it from Gunicorn's atoms (docs/compat.md, Logging):
 * %(name)s for every atom, with flags, width and precision; %(B|T|M|D)d
 * (or i, u) for the integer ones; %%. A name that is no atom prints "-",
 * as in Gunicorn. Returns 0, or -1 with a message in err (and the previous
 * format kept) for what Python would fail on at every request (a stray
 * '%', a conversion the value cannot take) and for the conversions r, a
 * and c (Ours). */
int cu_access_format_set(const char *fmt, char *err, size_t errlen);
/* What cu_access_format_set() would say of fmt, without setting it: for
 * a caller that must know before it changes anything (a HUP). */
int cu_access_format_check(const char *fmt, char *err, size_t errlen);
/* Writes one access-log line (no-op without an access log). Values taken
 * from the request are escaped: see access.c. */
void cu_access_log(const struct cu_access *a);
/* 1 when there is an access log (a file, or syslog's access lines, which
 * cu_access_log() also sends): lets a caller skip building the line. */
int cu_access_enabled(void);

/* What the compiled format takes from a request beyond its parsed head
 * (0 without an access log): */
enum {
    CU_ACC_NEED_REMOTE = 1u << 0,   /* h: REMOTE_ADDR */
    CU_ACC_NEED_PATH = 1u << 1,     /* U: PATH_INFO */
    CU_ACC_NEED_RESP = 1u << 2,     /* {name}o: the response's headers */
    CU_ACC_NEED_ENV = 1u << 3,      /* {name}e: the environ */
    CU_ACC_NEED_USER = 1u << 4,     /* u: Authorization */
    CU_ACC_NEED_REFERER = 1u << 5,  /* f */
    CU_ACC_NEED_AGENT = 1u << 6,    /* a */
    CU_ACC_NEED_HOST = 1u << 7      /* diverted: the whole request, kept
                                     * for the divert (struct cu_access's
                                     * host) */
};
unsigned cu_access_needs(void);
/* The names of the format's {name}o (which 'o') or {name}e ('e') atoms,
 * lower-case, NUL-terminated, each once, in the order struct cu_access's
 * resp and env arrays follow: their number, with *names set (NULL when
 * none). */
size_t cu_access_lookups(char which, const char *const **names);

/*
 * The user name of an Authorization header's Basic credentials, as
 * Gunicorn's access log takes it: a value starting with "basic" (any
 * case) and a space, the rest decoded as Python's base64.b64decode() does
 * without validation, the part before the first ':' as UTF-8. Writes it to
 * out (at most outlen bytes) and returns its length; -1 when there is no
 * user ("-"); -2 when it is longer than outlen.
 */
long cu_access_basic_user(const char *value, size_t len, char *out,
                          size_t outlen);

/*
 * Python mode (docs/compat.md, Python logging): while fn is set,
 * cu_access_log() hands each request to fn in place of writing a line,
 * cu_access_enabled() is 1 with or without an access log file,
 * cu_access_needs() asks for every atom and CU_ACC_NEED_HOST, and
 * cu_access_lookups() lists no names. A set-up call; NULL: lines again.
 */
void cu_access_divert(void (*fn)(const struct cu_access *a));
/* What an atom letter ("hlutrsmUqHbBfaTMDLp"; any other prints "-") is
 * for a, as the line prints it before escaping: the text of "%(X)s".
 * It may point into a, into buf, or into *heap, which the caller frees
 * (a long Basic user; else NULL). */
#define CU_ACCESS_ATOM_BUF 576
struct cu_str cu_access_atom(char atom, const struct cu_access *a,
                             char buf[CU_ACCESS_ATOM_BUF], char **heap);

/* The format lives as long as the access log's file: cu_log_open() and
 * cu_log_close() call these two (set-up calls, like them); nothing else
 * needs to. */
/* Compiles CU_ACCESS_LOG_FORMAT_DEFAULT unless a format is set already.
 * Returns 0, or -1 with a message in err (out of memory). */
int cu_access_format_init(char *err, size_t errlen);
/* Frees the format: no access-log lines until one is set again. */
void cu_access_format_free(void);

#endif
