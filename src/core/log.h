/*
 * The error log and the access log, written by C.
 *
 * Lines look like Gunicorn's:
 *   [2026-12-02 03:04:05 +0000] [1234] [INFO] Listening at: http://...
 * The access log line is built from Gunicorn's access_log_format atoms.
 * "-" means stdout (access log) / stderr (error log). USR1 reopens files.
 * Plain C; each line is written with a single write(2) so lines from
 * several processes sharing a file do not interleave.
 *
 * Threads: cu_log() and cu_access_log() may be called from any thread.
 * cu_log_open(), cu_log_close() and cu_access_format_set() are set-up
 * calls: make them while no other thread logs. cu_log_reopen() may run
 * while other threads log (fd numbers do not change).
 */
#ifndef CU_CORE_LOG_H
#define CU_CORE_LOG_H

#include <stddef.h>
#include <stdint.h>

enum cu_level { CU_DEBUG = 10, CU_INFO = 20, CU_WARNING = 30, CU_ERROR = 40,
                CU_CRITICAL = 50 };

/* Gunicorn's access_log_format default (Apache combined-like). */
#define CU_ACCESS_LOG_FORMAT_DEFAULT \
    "%(h)s %(l)s %(u)s %(t)s \"%(r)s\" %(s)s %(b)s \"%(f)s\" \"%(a)s\""

/* Opens the logs. errorlog NULL, "" or "-": stderr. accesslog NULL or "":
 * none; "-": stdout. level NULL or "": info. Relative paths are made
 * absolute now (reopen uses the same file after a chdir). On success the
 * previous logs are closed; on failure they stay as they were. Returns 0,
 * or -1 with a message in err (unwritable file, unknown level). Call again
 * after fork is not needed: fds are inherited. */
int cu_log_open(const char *errorlog, const char *accesslog,
                const char *level, char *err, size_t errlen);
/* Reopens both files (USR1) by path and moves the new file onto the old
 * fd number, so the fd number stays the same. Only this process sees the
 * new file: each worker must call it too (forward USR1). stdout/stderr
 * ("-") are left alone. Returns 0, or -1 (errno set) if a file could not
 * be reopened; that log keeps writing to the old file. */
int cu_log_reopen(void);
/* --capture-output: the process's stdout and stderr become the error log
 * (now and after every cu_log_reopen(), so rotation takes them along).
 * 0, or -1 with errno. */
int cu_log_capture(void);
/* Closes the files and frees the access format: back to stderr at info,
 * no access log. */
void cu_log_close(void);
/* Parses "debug" .. "critical" (any case); -1 if unknown. */
int cu_log_level_parse(const char *s);
int cu_log_enabled(enum cu_level level);
/* The fd the error log writes to (for wsgi.errors and capture_output). */
int cu_log_error_fd(void);

/* Messages longer than about 4 KiB are cut and end with "...". */
__attribute__((format(printf, 2, 3)))
void cu_log(enum cu_level level, const char *fmt, ...);

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
 * from the request are escaped: see log.c. */
void cu_access_log(const struct cu_access *a);
/* 1 when there is an access log: lets a caller skip building the line. */
int cu_access_enabled(void);

#endif
