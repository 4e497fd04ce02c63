/*
 * The error log, and the log files, written by C.
 *
 * Lines look like Gunicorn's:
 *   [2026-12-02 03:04:05 +0000] [1234] [INFO] Listening at: http://...
 * The access log's format and lines are core/access.h; its file is opened,
 * reopened and closed here, with the error log's.
 * "-" means stdout (access log) / stderr (error log). USR1 reopens files.
 * Plain C; each line is written with a single write(2) so lines from
 * several processes sharing a file do not interleave. With syslog on,
 * each line written also goes to core/syslog.h (cu_log_signal's to a
 * datagram socket only).
 *
 * Threads: cu_log() may be called from any thread. cu_log_open() and
 * cu_log_close() are set-up calls: make them while no other thread logs.
 * cu_log_reopen() may run while other threads log (fd numbers do not
 * change).
 */
#ifndef CU_CORE_LOG_H
#define CU_CORE_LOG_H

#include <stddef.h>

enum cu_level { CU_DEBUG = 10, CU_INFO = 20, CU_WARNING = 30, CU_ERROR = 40,
                CU_CRITICAL = 50 };

/* Opens the logs. errorlog NULL, "" or "-": stderr. accesslog NULL or "":
 * none; "-": stdout. Lines below level are dropped. Relative paths are
 * made absolute now, against the directory of the first call (reopen, and
 * a second call, use the same file after a chdir). With an
 * access log, the default access format is compiled unless one is set
 * (cu_access_format_init()). On success the previous logs are closed
 * (their fds go: call it while no other thread logs, as on HUP in the
 * master), and --capture-output stops following the error log until
 * cu_log_capture() is called again (fds 1 and 2 stay where they point);
 * on failure everything stays as it was. Returns 0, or -1 with a message
 * in err (unwritable file, a level not in enum cu_level). Call again
 * after fork is not needed: fds are inherited. */
int cu_log_open(const char *errorlog, const char *accesslog,
                enum cu_level level, char *err, size_t errlen);
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
/* Closes the files and frees the access format (cu_access_format_free()):
 * back to stderr at info, no access log. */
void cu_log_close(void);
int cu_log_enabled(enum cu_level level);
/* The fd the error log writes to (for wsgi.errors and capture_output). */
int cu_log_error_fd(void);

/* Messages longer than about 4 KiB are cut and end with "...". With
 * statsd on, a line at CU_WARNING, CU_ERROR or CU_CRITICAL is counted
 * (gunicorn.log.LEVEL, core/statsd.h) whatever the level lets through. */
__attribute__((format(printf, 2, 3)))
void cu_log(enum cu_level level, const char *fmt, ...);
/* An ERROR line where Gunicorn calls log.exception (an exception with its
 * traceback): statsd counts it as gunicorn.log.exception, not error. */
__attribute__((format(printf, 1, 2)))
void cu_log_exception(const char *fmt, ...);

/* For a signal handler: one error-log line of the strings parts[0..n)
 * (NULL ones skipped), as cu_log() writes it, with async-signal-safe
 * calls only. The stamp is the time now (clock_gettime) in the UTC offset
 * of this process's last logged line (or UTC before any). Lines below
 * the level are dropped; a line is at most about 1 KiB. Never diverted
 * (cu_log_divert): in Python mode too it writes to the error log's fd. */
void cu_log_signal(enum cu_level level, const char *const *parts, size_t n);
/* A message of any length, as it is (no format): for what may pass the
 * 4 KiB of cu_log(), like the configuration Gunicorn logs at debug level.
 * Control bytes are escaped as cu_log() escapes them; one write(2). */
void cu_log_text(enum cu_level level, const char *msg, size_t len);

/*
 * Python mode (docs/compat.md, Python logging): the host may divert the
 * error log's lines to Python's logging. While a divert is set, cu_log(),
 * cu_log_exception() and cu_log_text() format the message (no stamp, pid
 * or level prefix; control bytes as they are) and hand it to line(), which
 * returns 0 when it took it, or -1 for the line to be written here as
 * without a divert (the interpreter unusable from this thread now, say).
 * exception is 1 for cu_log_exception(). Lines below level (the divert's,
 * in place of the one cu_log_open() was given) are dropped before that.
 * cu_log_reopen() calls reopen() after reopening the files. cu_log_signal()
 * is never diverted: a signal handler may not take a lock, so it keeps
 * writing its line to the error log's fd. A set-up call: make it while no
 * other thread logs. NULL: back to writing every line here.
 */
struct cu_log_divert {
    int (*line)(void *arg, enum cu_level level, const char *msg, size_t len,
                int exception);
    void (*reopen)(void *arg);
    void *arg;
    int level;
};
void cu_log_divert(const struct cu_log_divert *d);
/* A whole message, newlines and all (a line and the traceback after it),
 * to the divert as one record: 0 when the divert took it (or its level
 * drops it; statsd counts it either way), -1 when there is no divert or
 * it failed (nothing counted: the caller logs it here). */
int cu_log_divert_text(enum cu_level level, const char *msg, size_t len, int exception);

/* What the access log (access.c) needs from here, where its file is kept.
 * The fd it writes to: -1 when there is none. The fd number does not
 * change until cu_log_open() or cu_log_close() (reopen keeps it). */
int cu_log_access_fd(void);
/* The current local time as the access log's %(t)s prints it,
 * "[02/Dec/2026:03:04:05 +0000]". Formatted together with the error log's
 * stamp, at most once a second per thread, into a buffer of the calling
 * thread's: valid until that thread's next cu_log() or
 * cu_log_access_stamp(). */
const char *cu_log_access_stamp(void);

#endif
