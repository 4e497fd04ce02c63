/*
 * The error log, and the files of both logs. See log.h for the contract.
 * The access log's format and line are access.c's; it reads what it needs
 * from here through cu_log_access_fd() and cu_log_access_stamp(), and
 * cu_log_open()/cu_log_close() set up and free its format through
 * cu_access_format_init()/cu_access_format_free().
 *
 * Process-wide state: a process has one error log and one access log, so
 * their files and the level live here in one static struct (g_log), set
 * up by cu_log_open() before workers start (in the master again on HUP,
 * before the new ones fork), read-only in the workers (a reopen keeps the
 * fd numbers), beside the --capture-output flag
 * (g_capture), and the host's divert to Python's logging (g_divert, set
 * like the files, before workers start). The only other state is a
 * per-thread cache of the formatted timestamps of both logs (recomputed
 * once a second), so logging threads never share a buffer.
 *
 * Every error-log line is built in one buffer and written with one
 * write(2) (retried on EINTR and partial writes). Files are opened with
 * O_APPEND, so lines from the master and the workers sharing a file do not
 * mix. Logging never changes errno.
 *
 * Reopen (USR1): the file is opened again by path and the new open file
 * is moved onto the old fd number with dup3 (dup2 + FD_CLOEXEC off
 * Linux), then the temporary fd is closed. The fd number never changes
 * between open and close, so anything holding it (wsgi.errors, another
 * thread in the middle of a write) stays valid and writes land in either
 * the old or the new file, never on a closed or reused fd. This does NOT
 * reach processes forked before the reopen: fork copies the fd table, so
 * a worker's fd N still points at the old open file until the worker
 * itself calls cu_log_reopen() (Gunicorn's master forwards USR1 to every
 * worker for this reason). capture_output's dup2 onto stdout/stderr must
 * likewise be redone by its owner after a reopen.
 */
#include "log.h"
#include "core/access.h"
#include "core/errbuf.h"
#include "core/io.h"
#include "core/statsd.h"
#include "core/syslog.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define LOG_MSG_MAX 4096            /* formatted message, before escaping */
#define LOG_LINE_MAX (LOG_MSG_MAX + 256)
#define DUP_TRIES 100

struct logfile {
    int fd;
    char *path;     /* absolute; NULL when fd is stdout/stderr or none */
};

static struct {
    struct logfile err;     /* stderr until opened */
    struct logfile acc;     /* fd -1: no access log */
    int level;
} g_log = { { STDERR_FILENO, NULL }, { -1, NULL }, CU_INFO };

/* Python mode: where the lines go instead (log.h); line NULL: here. */
static struct cu_log_divert g_divert;

/* Set while cu_log_exception's line goes through cu_log: statsd counts
 * it as an exception (core/statsd.h). */
static _Thread_local int tls_exception;

/* ---- helpers ---------------------------------------------------------- */


/* Marks a cut line: writes "..." (no NUL) and returns 3. */
static size_t end_cut(char *p)
{
    p[0] = '.';
    p[1] = '.';
    p[2] = '.';
    return 3;
}

/* ---- timestamps, cached per thread and per second ------------------- */

struct stamps {
    time_t sec;
    int valid;
    char err[48];   /* [2026-12-02 03:04:05 +0000]  (error log asctime) */
    char acc[48];   /* [02/Dec/2026:03:04:05 +0000] (access log t) */
};

static _Thread_local struct stamps tls_stamps;
/* The UTC offset of the local time the last stamp was made in (seconds
 * east), for cu_log_signal, which may not call localtime_r. */
static long g_gmtoff;

static const struct stamps *stamps_now(void)
{
    static const char months[12][4] = { "Jan", "Feb", "Mar", "Apr", "May",
        "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec" };
    struct stamps *st = &tls_stamps;
    time_t now = time(NULL);
    struct tm tm;
    long off;
    char sign = '+';

    if (st->valid && st->sec == now)
        return st;
    if (localtime_r(&now, &tm) == NULL) {
        memset(&tm, 0, sizeof(tm));
        tm.tm_year = 70;
        tm.tm_mday = 1;
    }
    __atomic_store_n(&g_gmtoff, (long)tm.tm_gmtoff, __ATOMIC_RELAXED);  /* cu_log_signal */
    off = tm.tm_gmtoff / 60;
    if (off < 0) {
        sign = '-';
        off = -off;
    }
    /* month names by hand: strftime's %b would follow LC_TIME */
    if (snprintf(st->err, sizeof(st->err),
                 "[%04d-%02d-%02d %02d:%02d:%02d %c%02ld%02ld]",
                 tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour,
                 tm.tm_min, tm.tm_sec, sign, off / 60, off % 60) < 0)
        st->err[0] = '\0';
    if (snprintf(st->acc, sizeof(st->acc),
                 "[%02d/%s/%04d:%02d:%02d:%02d %c%02ld%02ld]", tm.tm_mday,
                 months[(unsigned)tm.tm_mon % 12], tm.tm_year + 1900,
                 tm.tm_hour, tm.tm_min, tm.tm_sec, sign, off / 60,
                 off % 60) < 0)
        st->acc[0] = '\0';
    st->sec = now;
    st->valid = 1;
    return st;
}

const char *cu_log_access_stamp(void)
{
    return stamps_now()->acc;
}

/* ---- levels ----------------------------------------------------------- */

static const struct {
    const char *name;
    int level;
} levels[] = {
    { "DEBUG", CU_DEBUG }, { "INFO", CU_INFO }, { "WARNING", CU_WARNING },
    { "ERROR", CU_ERROR }, { "CRITICAL", CU_CRITICAL },
};

static const char *level_name(int level)
{
    size_t i;

    for (i = 0; i < sizeof(levels) / sizeof(levels[0]); i++)
        if (levels[i].level == level)
            return levels[i].name;
    return NULL;
}

int cu_log_enabled(enum cu_level level)
{
    return (int)level >= (g_divert.line ? g_divert.level : g_log.level);
}

void cu_log_divert(const struct cu_log_divert *d)
{
    if (d)
        g_divert = *d;
    else
        memset(&g_divert, 0, sizeof(g_divert));
}

int cu_log_divert_text(enum cu_level level, const char *msg, size_t len, int exception)
{
    int saved = errno, rc = 0;

    if (!g_divert.line)
        return -1;
    if (cu_log_enabled(level))
        rc = g_divert.line(g_divert.arg, level, msg, len, exception);
    if (rc == 0)
        cu_statsd_log((int)level, exception);
    errno = saved;
    return rc;
}

int cu_log_error_fd(void)
{
    return g_log.err.fd;
}

int cu_log_access_fd(void)
{
    return g_log.acc.fd;
}

/* ---- files: open, reopen, close --------------------------------------- */

static int open_log(const char *path)
{
    int fd;

    do
        fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
    while (fd < 0 && errno == EINTR);
    return fd;
}

/* Like Python's FileHandler: remember the absolute path. A relative one
 * is taken against the directory of the process's first call (where the
 * logs were first opened: the start's, before --chdir), also when a HUP
 * opens them again from another. */
static char *abs_path(const char *path)
{
    static char cwd[PATH_MAX];
    size_t a, b;
    char *p;

    if (path[0] == '/')
        return strdup(path);
    if (cwd[0] == '\0' && getcwd(cwd, sizeof(cwd)) == NULL) {
        cwd[0] = '\0';
        return NULL;
    }
    a = strlen(cwd);
    b = strlen(path);
    p = malloc(a + 1 + b + 1);
    if (p == NULL)
        return NULL;
    memcpy(p, cwd, a);
    p[a] = '/';
    memcpy(p + a + 1, path, b + 1);
    return p;
}

/* spec NULL/"": none_fd; "-": dash_fd; else a file. */
static int logfile_open(struct logfile *lf, const char *spec, int dash_fd,
                        int none_fd, const char *what, char *err,
                        size_t errlen)
{
    lf->path = NULL;
    lf->fd = none_fd;
    if (spec == NULL || spec[0] == '\0')
        return 0;
    if (strcmp(spec, "-") == 0) {
        lf->fd = dash_fd;
        return 0;
    }
    lf->path = abs_path(spec);
    if (lf->path == NULL) {
        cu_seterr(err, errlen, "%s '%s': %s", what, spec, strerror(errno));
        return -1;
    }
    lf->fd = open_log(lf->path);
    if (lf->fd < 0) {
        cu_seterr(err, errlen, "%s '%s': %s", what, spec, strerror(errno));
        free(lf->path);
        lf->path = NULL;
        return -1;
    }
    return 0;
}

static void logfile_release(struct logfile *lf, int none_fd)
{
    if (lf->path != NULL) {
        (void)close(lf->fd);    /* nothing useful to do if it fails */
        free(lf->path);
    }
    lf->path = NULL;
    lf->fd = none_fd;
}

/* Moves from onto to, close-on-exec. EBUSY: Linux, racing an open(). */
static int dup_onto(int from, int to)
{
    int r = -1, tries;

    for (tries = 0; tries < DUP_TRIES; tries++) {
#ifdef __linux__
        r = dup3(from, to, O_CLOEXEC);
#else
        r = dup2(from, to);
        if (r >= 0 && fcntl(to, F_SETFD, FD_CLOEXEC) < 0)
            r = -1;
#endif
        if (r >= 0 || (errno != EINTR && errno != EBUSY))
            break;
    }
    return r < 0 ? -1 : 0;
}

static int reopen_one(struct logfile *lf)
{
    int nfd, rc, saved;

    if (lf->path == NULL)
        return 0;
    nfd = open_log(lf->path);
    if (nfd < 0)
        return -1;
    rc = dup_onto(nfd, lf->fd);
    saved = errno;
    (void)close(nfd);   /* the file stays open through lf->fd */
    errno = saved;
    return rc;
}

static int g_capture;  /* --capture-output: fds 1 and 2 follow the error log */

int cu_log_capture(void)
{
    int fd = cu_log_error_fd();

    g_capture = 1;
    if (fd == 2)
        return 0;  /* the error log is stderr already */
    (void)fflush(NULL);
    return dup2(fd, 1) < 0 || dup2(fd, 2) < 0 ? -1 : 0;
}

int cu_log_reopen(void)
{
    int rc = 0, saved = 0;

    if (reopen_one(&g_log.err) < 0) {
        rc = -1;
        saved = errno;
    }
    if (rc == 0 && g_capture && cu_log_capture() < 0) {
        rc = -1;  /* stdout/stderr would still point at the old file */
        saved = errno;
    }
    if (reopen_one(&g_log.acc) < 0 && rc == 0) {
        rc = -1;
        saved = errno;
    }
    if (g_divert.reopen)
        g_divert.reopen(g_divert.arg);
    if (rc < 0)
        errno = saved;
    return rc;
}

int cu_log_open(const char *errorlog, const char *accesslog,
                enum cu_level level, char *err, size_t errlen)
{
    struct logfile ne, na;
    int lv = (int)level;

    if (level_name(lv) == NULL) {
        cu_seterr(err, errlen, "unknown log level %d", lv);
        return -1;
    }
    if (logfile_open(&ne, errorlog, STDERR_FILENO, STDERR_FILENO,
                     "errorlog", err, errlen) < 0)
        return -1;
    if (logfile_open(&na, accesslog, STDOUT_FILENO, -1, "accesslog", err,
                     errlen) < 0)
        goto fail;
    if (na.fd >= 0 && cu_access_format_init(err, errlen) < 0)
        goto fail;
    logfile_release(&g_log.err, STDERR_FILENO);
    logfile_release(&g_log.acc, -1);
    g_log.err = ne;
    g_log.acc = na;
    g_log.level = lv;
    g_capture = 0;  /* until cu_log_capture() again, for these files */
    return 0;

fail:
    logfile_release(&na, -1);
    logfile_release(&ne, STDERR_FILENO);
    return -1;
}

void cu_log_close(void)
{
    logfile_release(&g_log.err, STDERR_FILENO);
    logfile_release(&g_log.acc, -1);
    cu_access_format_free();
    g_log.level = CU_INFO;
}

/* ---- the error log ---------------------------------------------------- */

/* Copies a message, writing controls other than TAB and LF (and DEL) as
 * \xNN so a message cannot carry terminal escapes. Stops before dst is
 * full; *cut says so. */
static size_t copy_msg(char *dst, size_t room, const char *s, size_t n,
                       int *cut)
{
    static const char hex[] = "0123456789ABCDEF";
    size_t i, o = 0;

    for (i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];

        if ((c < 0x20 && c != '\t' && c != '\n') || c == 0x7f) {
            if (room - o < 4)
                break;
            dst[o++] = '\\';
            dst[o++] = 'x';
            dst[o++] = hex[c >> 4];
            dst[o++] = hex[c & 15];
        } else {
            if (room - o < 1)
                break;
            dst[o++] = (char)c;
        }
    }
    *cut = i < n;
    return o;
}

/* "[stamp] [pid] [LEVEL] " into line (at least 128 bytes): its length. */
static size_t line_prefix(char *line, size_t room, enum cu_level level)
{
    const char *name = level_name((int)level), *stamp = stamps_now()->err;
    long pid = (long)getpid();
    int n;

    if (name != NULL)
        n = snprintf(line, room, "%s [%ld] [%s] ", stamp, pid, name);
    else    /* what Python's logging prints for an unnamed level */
        n = snprintf(line, room, "%s [%ld] [Level %d] ", stamp, pid, (int)level);
    return n < 0 || (size_t)n >= room ? 0 : (size_t)n;
}

void cu_log_text(enum cu_level level, const char *msg, size_t len)
{
    size_t room, o, plen;
    char *line;
    int saved = errno, cut = 0;

    if (!cu_log_enabled(level))
        return;
    if (g_divert.line && g_divert.line(g_divert.arg, level, msg, len, 0) == 0) {
        errno = saved;
        return;
    }
    if (len > ((size_t)1 << 28))
        len = (size_t)1 << 28;
    room = 128 + 4 * len + 1;   /* each byte escapes to 4 at most */
    line = malloc(room);
    if (line == NULL) {
        cu_log(level, "%.*s", (int)(len > LOG_MSG_MAX ? LOG_MSG_MAX : len), msg);
        errno = saved;
        return;
    }
    o = plen = line_prefix(line, 128, level);
    o += copy_msg(line + o, room - 1 - o, msg, len, &cut);
    cu_syslog_error((int)level, line + plen, o - plen);  /* Gunicorn's syslog handler */
    line[o++] = '\n';
    (void)cu_write_all(g_log.err.fd, line, o);
    free(line);
    errno = saved;
}

void cu_log(enum cu_level level, const char *fmt, ...)
{
    char msg[LOG_MSG_MAX], line[LOG_LINE_MAX];
    size_t len, mlen, plen;
    int saved = errno, n, cut = 0, more;
    va_list ap;

    cu_statsd_log((int)level, tls_exception);  /* as Gunicorn's: whatever the level */
    if (!cu_log_enabled(level))
        return;
    va_start(ap, fmt);
    n = vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    if (n < 0) {
        n = snprintf(msg, sizeof(msg), "(bad log format: %s)", fmt);
        if (n < 0)
            n = 0;
    }
    more = (size_t)n >= sizeof(msg);    /* vsnprintf had more to say */
    mlen = more ? sizeof(msg) - 1 : (size_t)n;
    if (g_divert.line &&
        g_divert.line(g_divert.arg, level, msg, mlen, tls_exception) == 0) {
        errno = saved;
        return;
    }
    len = plen = line_prefix(line, 128, level);
    /* 4 bytes stay free for "...\n" */
    len += copy_msg(line + len, sizeof(line) - 4 - len, msg, mlen, &cut);
    if (cut || more)
        len += end_cut(line + len);
    cu_syslog_error((int)level, line + plen, len - plen);  /* Gunicorn's syslog handler */
    line[len++] = '\n';
    (void)cu_write_all(g_log.err.fd, line, len);  /* nowhere to report a failing log */
    errno = saved;
}

void cu_log_exception(const char *fmt, ...)
{
    char msg[LOG_MSG_MAX];
    va_list ap;
    int n, saved = errno;

    va_start(ap, fmt);
    n = vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    if (n < 0)
        n = snprintf(msg, sizeof(msg), "(bad log format: %s)", fmt);
    tls_exception = 1;
    /* a message cut here is cut there too, and marked */
    cu_log(CU_ERROR, "%s%s", msg, n >= (int)sizeof(msg) ? "..." : "");
    tls_exception = 0;
    errno = saved;
}

/* ---- from a signal handler ---------------------------------------------- */

/* buf[0..w) = v in decimal, zero-padded to w digits. */
static void put_num(char *buf, int w, long long v)
{
    for (int i = w - 1; i >= 0; i--) {
        buf[i] = (char)('0' + v % 10);
        v /= 10;
    }
}

/* The civil date of day z since 1970-01-01 (H. Hinnant's days_from_civil,
 * inverted): arithmetic only. */
static void civil_from_days(long long z, long long *y, int *m, int *d)
{
    long long era, doe, yoe, doy, mp;

    z += 719468;
    era = (z >= 0 ? z : z - 146096) / 146097;
    doe = z - era * 146097;                                      /* [0, 146096] */
    yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;  /* [0, 399] */
    doy = doe - (365 * yoe + yoe / 4 - yoe / 100);               /* [0, 365] */
    mp = (5 * doy + 2) / 153;                                    /* [0, 11] */
    *d = (int)(doy - (153 * mp + 2) / 5 + 1);
    *m = (int)(mp < 10 ? mp + 3 : mp - 9);
    *y = yoe + era * 400 + (*m <= 2);
}

/* "[YYYY-MM-DD HH:MM:SS +ZZZZ]" into buf (28 bytes), as stamps_now()
 * writes it, from clock_gettime() and the offset last seen. */
static size_t signal_stamp(char *buf)
{
    struct timespec ts;
    long off = __atomic_load_n(&g_gmtoff, __ATOMIC_RELAXED);
    long long t, day, sec, y;
    int m, d;
    static const char blank[27] = "[0000-00-00 00:00:00 +0000]";  /* no NUL */

    if (clock_gettime(CLOCK_REALTIME, &ts) < 0)
        ts.tv_sec = 0;
    t = (long long)ts.tv_sec + off;
    day = t >= 0 ? t / 86400 : (t - 86399) / 86400;
    sec = t - day * 86400;
    civil_from_days(day, &y, &m, &d);
    if (y < 0 || y > 9999)
        y = 0;
    memcpy(buf, blank, sizeof(blank));
    put_num(buf + 1, 4, y);
    put_num(buf + 6, 2, m);
    put_num(buf + 9, 2, d);
    put_num(buf + 12, 2, sec / 3600);
    put_num(buf + 15, 2, sec / 60 % 60);
    put_num(buf + 18, 2, sec % 60);
    if (off < 0) {
        buf[21] = '-';
        off = -off;
    }
    put_num(buf + 22, 2, off / 3600 % 100);
    put_num(buf + 24, 2, off / 60 % 60);
    return sizeof(blank);
}

void cu_log_signal(enum cu_level level, const char *const *parts, size_t n)
{
    char line[1024];
    const char *name = level_name((int)level);
    long long pid = (long long)getpid();
    size_t len, k, plen;
    int saved = errno, cut = 0, digits = 1;

    cu_statsd_log((int)level, 0);
    if (!cu_log_enabled(level) || name == NULL)
        return;
    len = signal_stamp(line);
    for (long long p = pid; p >= 10; p /= 10)
        digits++;
    line[len++] = ' ';
    line[len++] = '[';
    put_num(line + len, digits, pid);
    len += (size_t)digits;
    line[len++] = ']';
    line[len++] = ' ';
    line[len++] = '[';
    k = strlen(name);
    memcpy(line + len, name, k);
    len += k;
    line[len++] = ']';
    line[len++] = ' ';
    plen = len;
    for (size_t i = 0; i < n && !cut; i++)
        if (parts[i] != NULL)
            len += copy_msg(line + len, sizeof(line) - 4 - len, parts[i],
                            strlen(parts[i]), &cut);
    if (cut)
        len += end_cut(line + len);
    cu_syslog_signal((int)level, line + plen, len - plen);  /* datagrams only */
    line[len++] = '\n';
    (void)cu_write_all(g_log.err.fd, line, len);
    errno = saved;
}
