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
 * Threads: cu_access_log() and cu_access_enabled() may be called from any
 * thread. cu_access_format_set() is a set-up call: make it while no other
 * thread logs.
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
struct cu_access {
    struct cu_str remote_addr;      /* h */
    struct cu_str method, target, query, protocol;  /* m, U (PATH_INFO), q, H */
    struct cu_str request_line;     /* r: "GET /x?y HTTP/1.1" (raw URI) */
    struct cu_str user;             /* u: from Basic auth; empty prints "-" */
    int status;                     /* s; <= 0 prints "-" */
    uint64_t response_bytes;        /* B and b: both print the number, 0 too */
    struct cu_str referer, user_agent;  /* f, a */
    int64_t request_time_us;        /* T, M, D, L (negative counts as 0) */
    int pid;                        /* p: "<pid>"; <= 0: getpid() */
    /* {name}i request headers / {name}o response headers / {name}e environ:
     * looked up through callbacks, NULL = always "-". name is lower-case
     * and NUL-terminated (len excludes the NUL): match it ignoring case.
     * Return {NULL, 0} when there is no such header/key. */
    struct cu_str (*req_header)(void *ctx, const char *name, size_t len);
    struct cu_str (*resp_header)(void *ctx, const char *name, size_t len);
    struct cu_str (*environ)(void *ctx, const char *name, size_t len);
    void *ctx;
};

/* Compiles an access_log_format once (at start-up); until then
 * CU_ACCESS_LOG_FORMAT_DEFAULT is used. Accepts %(atom)s, %(B|T|M|D)d and
 * %%. Returns 0, or -1 with a message in err (and the previous format
 * kept) for an unknown atom or a malformed format. */
int cu_access_format_set(const char *fmt, char *err, size_t errlen);
/* Writes one access-log line (no-op without an access log). Values taken
 * from the request are escaped: see access.c. */
void cu_access_log(const struct cu_access *a);
/* 1 when there is an access log: lets a caller skip building the line. */
int cu_access_enabled(void);

/* The format lives as long as the access log's file: cu_log_open() and
 * cu_log_close() call these two (set-up calls, like them); nothing else
 * needs to. */
/* Compiles CU_ACCESS_LOG_FORMAT_DEFAULT unless a format is set already.
 * Returns 0, or -1 with a message in err (out of memory). */
int cu_access_format_init(char *err, size_t errlen);
/* Frees the format: no access-log lines until one is set again. */
void cu_access_format_free(void);

#endif
