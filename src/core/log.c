/*
 * Error log and access log. See log.h for the contract.
 *
 * Process-wide state: a process has one error log and one access log, so
 * they live here in one static struct (g_log), set up by cu_log_open() /
 * cu_access_format_set() before workers start and read-only afterwards.
 * The only other state is a per-thread cache of the formatted timestamps
 * (recomputed once a second), so logging threads never share a buffer.
 *
 * Every line is built in one buffer and written with one write(2)
 * (retried on EINTR and partial writes). Files are opened with O_APPEND,
 * so lines from the master and the workers sharing a file do not mix.
 * Logging never changes errno.
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
#include "core/errbuf.h"
#include "core/io.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define LOG_MSG_MAX 4096            /* formatted message, before escaping */
#define LOG_LINE_MAX (LOG_MSG_MAX + 256)
#define ACC_STACK 4096              /* access line: stack buffer first */
#define ACC_LINE_MAX 65536          /* then heap, up to this; cut beyond */
#define ACC_FMT_MAX 65536           /* longest access_log_format accepted */
#define DUP_TRIES 100

struct logfile {
    int fd;
    char *path;     /* absolute; NULL when fd is stdout/stderr or none */
};

enum { OP_LIT, OP_ATOM, OP_REQ, OP_RESP, OP_ENV };

struct acc_op {
    uint8_t kind;
    char atom;          /* OP_ATOM: the atom letter */
    uint32_t off, len;  /* OP_LIT: text; OP_REQ/RESP/ENV: lower-case name */
};

struct acc_fmt {
    struct acc_op *ops;
    char *text;         /* literals and NUL-terminated names */
    size_t nops, cap, tlen;
};

static struct {
    struct logfile err;     /* stderr until opened */
    struct logfile acc;     /* fd -1: no access log */
    int level;
    struct acc_fmt fmt;     /* empty until set or opened */
} g_log = { { STDERR_FILENO, NULL }, { -1, NULL }, CU_INFO,
            { NULL, NULL, 0, 0, 0 } };

/* ---- helpers ---------------------------------------------------------- */


static int ascii_lower(int c)
{
    return c >= 'A' && c <= 'Z' ? c + ('a' - 'A') : c;
}

static int ascii_ieq(const char *a, const char *b)
{
    for (; *a && *b; a++, b++)
        if (ascii_lower((unsigned char)*a) != ascii_lower((unsigned char)*b))
            return 0;
    return *a == *b;
}

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

/* ---- levels ----------------------------------------------------------- */

static const struct {
    const char *name;
    int level;
} levels[] = {
    { "DEBUG", CU_DEBUG }, { "INFO", CU_INFO }, { "WARNING", CU_WARNING },
    { "ERROR", CU_ERROR }, { "CRITICAL", CU_CRITICAL },
};

int cu_log_level_parse(const char *s)
{
    size_t i;

    if (s == NULL)
        return -1;
    for (i = 0; i < sizeof(levels) / sizeof(levels[0]); i++)
        if (ascii_ieq(s, levels[i].name))
            return levels[i].level;
    return -1;
}

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
    return (int)level >= g_log.level;
}

int cu_log_error_fd(void)
{
    return g_log.err.fd;
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

/* Like Python's FileHandler: remember the absolute path. */
static char *abs_path(const char *path)
{
    char cwd[PATH_MAX];
    size_t a, b;
    char *p;

    if (path[0] == '/')
        return strdup(path);
    if (getcwd(cwd, sizeof(cwd)) == NULL)
        return NULL;
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
    if (rc < 0)
        errno = saved;
    return rc;
}

int cu_log_open(const char *errorlog, const char *accesslog,
                const char *level, char *err, size_t errlen)
{
    struct logfile ne, na;
    int lv = CU_INFO;

    if (level != NULL && level[0] != '\0') {
        lv = cu_log_level_parse(level);
        if (lv < 0) {
            cu_seterr(err, errlen, "unknown loglevel '%s' (debug, info, "
                   "warning, error, critical)", level);
            return -1;
        }
    }
    if (logfile_open(&ne, errorlog, STDERR_FILENO, STDERR_FILENO,
                     "errorlog", err, errlen) < 0)
        return -1;
    if (logfile_open(&na, accesslog, STDOUT_FILENO, -1, "accesslog", err,
                     errlen) < 0)
        goto fail;
    if (na.fd >= 0 && g_log.fmt.ops == NULL &&
        cu_access_format_set(CU_ACCESS_LOG_FORMAT_DEFAULT, err, errlen) < 0)
        goto fail;
    logfile_release(&g_log.err, STDERR_FILENO);
    logfile_release(&g_log.acc, -1);
    g_log.err = ne;
    g_log.acc = na;
    g_log.level = lv;
    return 0;

fail:
    logfile_release(&na, -1);
    logfile_release(&ne, STDERR_FILENO);
    return -1;
}

static void fmt_free(struct acc_fmt *f)
{
    free(f->ops);
    free(f->text);
    memset(f, 0, sizeof(*f));
}

void cu_log_close(void)
{
    logfile_release(&g_log.err, STDERR_FILENO);
    logfile_release(&g_log.acc, -1);
    fmt_free(&g_log.fmt);
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

void cu_log(enum cu_level level, const char *fmt, ...)
{
    char msg[LOG_MSG_MAX], line[LOG_LINE_MAX];
    const char *name, *stamp;
    size_t len, mlen;
    int saved = errno, n, cut = 0, more;
    long pid = (long)getpid();
    va_list ap;

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
    stamp = stamps_now()->err;
    name = level_name((int)level);
    if (name != NULL)
        n = snprintf(line, sizeof(line), "%s [%ld] [%s] ", stamp, pid, name);
    else    /* what Python's logging prints for an unnamed level */
        n = snprintf(line, sizeof(line), "%s [%ld] [Level %d] ", stamp, pid,
                     (int)level);
    if (n < 0 || (size_t)n >= sizeof(line) - 4)
        n = 0;
    len = (size_t)n;
    /* 4 bytes stay free for "...\n" */
    len += copy_msg(line + len, sizeof(line) - 4 - len, msg, mlen, &cut);
    if (cut || more)
        len += end_cut(line + len);
    line[len++] = '\n';
    (void)cu_write_all(g_log.err.fd, line, len);  /* nowhere to report a failing log */
    errno = saved;
}

/* ---- access_log_format: compiled once into ops ------------------------ */

/*
 * Gunicorn applies access_log_format with Python's "%" operator over a
 * dict of atoms. Here: %(name)s for every atom, %(B)d %(T)d %(M)d %(D)d
 * for the integer ones, and %% for a '%'. {name}i/o/e names are matched
 * ignoring case, as Gunicorn lower-cases them. Unlike Gunicorn, which
 * prints "-" for an unknown atom, an unknown atom, another conversion or
 * a stray '%' is an error at start-up (a typo is better caught then).
 */
static const char acc_atoms[] = "hlutrsmUqHbBfaTMDLp";
static const char acc_int_atoms[] = "BTMD";

static int fmt_push(struct acc_fmt *f, uint8_t kind, char atom, size_t off,
                    size_t len)
{
    if (f->nops == f->cap)
        return -1;      /* cannot happen: cap is a bound, see format_set */
    f->ops[f->nops].kind = kind;
    f->ops[f->nops].atom = atom;
    f->ops[f->nops].off = (uint32_t)off;
    f->ops[f->nops].len = (uint32_t)len;
    f->nops++;
    return 0;
}

static int fmt_lit(struct acc_fmt *f, char c)
{
    struct acc_op *last = f->nops ? &f->ops[f->nops - 1] : NULL;

    if (last == NULL || last->kind != OP_LIT ||
        last->off + last->len != f->tlen) {
        if (fmt_push(f, OP_LIT, 0, f->tlen, 0) < 0)
            return -1;
        last = &f->ops[f->nops - 1];
    }
    f->text[f->tlen++] = c;
    last->len++;
    return 0;
}

/* name is what sits between "%(" and ")". */
static int fmt_atom(struct acc_fmt *f, const char *name, size_t nlen,
                    char conv, char *err, size_t errlen)
{
    uint8_t kind;
    size_t i, ilen;
    int shown = nlen > 64 ? 64 : (int)nlen;

    if (nlen == 1 && name[0] != '\0' && strchr(acc_atoms, name[0])) {
        if (conv != 's' && !(conv == 'd' && strchr(acc_int_atoms, name[0]))) {
            cu_seterr(err, errlen, "access_log_format: %%(%c)%c is not "
                   "supported (use %%(%c)s)", name[0], conv, name[0]);
            return -1;
        }
        return fmt_push(f, OP_ATOM, name[0], 0, 0);
    }
    kind = 0;
    if (nlen >= 3 && name[0] == '{' && name[nlen - 2] == '}') {
        switch (ascii_lower((unsigned char)name[nlen - 1])) {
        case 'i': kind = OP_REQ; break;
        case 'o': kind = OP_RESP; break;
        case 'e': kind = OP_ENV; break;
        default: break;
        }
    }
    if (kind == 0) {
        cu_seterr(err, errlen, "access_log_format: unknown atom %%(%.*s)",
               shown, name);
        return -1;
    }
    ilen = nlen - 3;
    if (ilen == 0 || conv != 's') {
        cu_seterr(err, errlen, "access_log_format: %%(%.*s)%c: %s", shown, name,
               conv, ilen == 0 ? "empty name" : "use s");
        return -1;
    }
    if (fmt_push(f, kind, 0, f->tlen, ilen) < 0)
        return -1;
    for (i = 0; i < ilen; i++)
        f->text[f->tlen++] = (char)ascii_lower((unsigned char)name[1 + i]);
    f->text[f->tlen++] = '\0';
    return 0;
}

/* fmt[*i] is '%'; consumes one directive. */
static int fmt_directive(struct acc_fmt *f, const char *fmt, size_t n,
                         size_t *i, char *err, size_t errlen)
{
    size_t at = *i;
    const char *close;

    if (at + 1 < n && fmt[at + 1] == '%') {
        *i = at + 2;
        return fmt_lit(f, '%');
    }
    if (at + 1 >= n || fmt[at + 1] != '(') {
        cu_seterr(err, errlen, "access_log_format: lone '%%' at offset %zu "
               "(use %%(atom)s, or %%%% for a '%%')", at);
        return -1;
    }
    close = memchr(fmt + at + 2, ')', n - at - 2);
    if (close == NULL) {
        cu_seterr(err, errlen, "access_log_format: '%%(' without ')' at "
               "offset %zu", at);
        return -1;
    }
    if ((size_t)(close - fmt) + 1 >= n) {
        cu_seterr(err, errlen, "access_log_format: no conversion after '%%(' "
               "at offset %zu", at);
        return -1;
    }
    *i = (size_t)(close - fmt) + 2;
    return fmt_atom(f, fmt + at + 2, (size_t)(close - fmt) - at - 2,
                    close[1], err, errlen);
}

int cu_access_format_set(const char *fmt, char *err, size_t errlen)
{
    struct acc_fmt nf = { NULL, NULL, 0, 0, 0 };
    size_t n, i = 0;

    if (fmt == NULL)
        fmt = CU_ACCESS_LOG_FORMAT_DEFAULT;
    n = strlen(fmt);
    if (n > ACC_FMT_MAX) {
        cu_seterr(err, errlen, "access_log_format: longer than %d bytes",
               ACC_FMT_MAX);
        return -1;
    }
    /* A directive takes >= 5 bytes ("%(h)s") and a literal run >= 1, and
     * literal runs are merged, so there are at most n / 3 + 1 ops. The
     * text never outgrows the format: "%%" gives 1 byte, and a name plus
     * its NUL is shorter than its "%({...}i)s". */
    nf.cap = n / 2 + 2;
    nf.ops = calloc(nf.cap, sizeof(*nf.ops));
    nf.text = malloc(n + 1);
    if (nf.ops == NULL || nf.text == NULL) {
        cu_seterr(err, errlen, "access_log_format: out of memory");
        goto fail;
    }
    while (i < n) {
        if (fmt[i] != '%') {
            if (fmt_lit(&nf, fmt[i++]) < 0)
                goto internal;
        } else if (fmt_directive(&nf, fmt, n, &i, err, errlen) < 0) {
            if (nf.nops == nf.cap)
                goto internal;
            goto fail;
        }
    }
    fmt_free(&g_log.fmt);
    g_log.fmt = nf;
    return 0;

internal:
    cu_seterr(err, errlen, "access_log_format: too many parts");
fail:
    fmt_free(&nf);
    return -1;
}

/* ---- the access log line ---------------------------------------------- */

/* A line in a stack buffer, moved to the heap if it grows, up to
 * ACC_LINE_MAX; 4 bytes always stay free for "...\n". */
struct line {
    char *p;
    char *heap;     /* owned, or NULL while p is the stack buffer */
    size_t len, cap;
    int cut;        /* something did not fit: the line ends with "..." */
};

static int line_grow(struct line *l, size_t need)
{
    size_t ncap = l->cap;
    char *np;

    if (l->cap >= ACC_LINE_MAX)
        return -1;
    while (ncap - 4 - l->len < need && ncap < ACC_LINE_MAX)
        ncap *= 2;
    if (ncap > ACC_LINE_MAX)
        ncap = ACC_LINE_MAX;
    np = realloc(l->heap, ncap);
    if (np == NULL)
        return -1;
    if (l->heap == NULL)
        memcpy(np, l->p, l->len);
    l->heap = np;
    l->p = np;
    l->cap = ncap;
    return 0;
}

/* whole: all of s or nothing (an escape sequence is never split). */
static void line_put(struct line *l, const char *s, size_t n, int whole)
{
    size_t room;

    if (l->cut)
        return;
    room = l->cap - 4 - l->len;
    if (n > room && line_grow(l, n) == 0)
        room = l->cap - 4 - l->len;
    if (n > room) {
        if (!whole) {
            memcpy(l->p + l->len, s, room);
            l->len += room;
        }
        l->cut = 1;
        return;
    }
    memcpy(l->p + l->len, s, n);
    l->len += n;
}

/*
 * Values that come from the client (or the app) are escaped like nginx's
 * access log: '"' and '\' get a backslash, bytes below 0x20 and from 0x7f
 * up become \xNN. So a quoted field always ends at the next unescaped '"'
 * and no value can start a new line or send terminal escapes. Gunicorn
 * does not do this: it only turns '"' into \" (leaving '\', CR, LF and
 * ESC as they are) and writes bytes >= 0x80 as UTF-8 of their latin-1
 * reading.
 */
static int acc_unsafe(unsigned char c)
{
    return c < 0x20 || c >= 0x7f || c == '"' || c == '\\';
}

static void put_escaped(struct line *l, const char *s, size_t n)
{
    static const char hex[] = "0123456789ABCDEF";
    size_t i = 0, run;
    char e[4];

    while (i < n && !l->cut) {
        unsigned char c;

        for (run = i; run < n && !acc_unsafe((unsigned char)s[run]); run++)
            ;
        if (run > i) {
            line_put(l, s + i, run - i, 0);
            i = run;
            continue;
        }
        c = (unsigned char)s[i++];
        e[0] = '\\';
        if (c == '"' || c == '\\') {
            e[1] = (char)c;
            line_put(l, e, 2, 1);
        } else {
            e[1] = 'x';
            e[2] = hex[c >> 4];
            e[3] = hex[c & 15];
            line_put(l, e, 4, 1);
        }
    }
}

static void put_str(struct line *l, struct cu_str s)
{
    if (s.p == NULL)
        line_put(l, "-", 1, 1);
    else
        put_escaped(l, s.p, s.len);
}

__attribute__((format(printf, 2, 3)))
static void put_fmt(struct line *l, const char *fmt, ...)
{
    char buf[64];
    va_list ap;
    int n;

    va_start(ap, fmt);
    n = vsnprintf(buf, sizeof(buf), fmt, ap);
    va_end(ap);
    if (n > 0)
        line_put(l, buf, (size_t)n < sizeof(buf) ? (size_t)n
                                                 : sizeof(buf) - 1, 1);
}

static void put_atom(struct line *l, char atom, const struct cu_access *a)
{
    int64_t us = a->request_time_us > 0 ? a->request_time_us : 0;

    switch (atom) {
    case 'h': put_str(l, a->remote_addr); break;
    case 'l': line_put(l, "-", 1, 1); break;
    case 'u':
        if (a->user.p == NULL || a->user.len == 0)
            line_put(l, "-", 1, 1);
        else
            put_escaped(l, a->user.p, a->user.len);
        break;
    case 't': {
        const char *t = stamps_now()->acc;

        line_put(l, t, strlen(t), 1);
        break;
    }
    case 'r': put_str(l, a->request_line); break;
    case 's':
        if (a->status > 0)
            put_fmt(l, "%d", a->status);
        else
            line_put(l, "-", 1, 1);
        break;
    case 'm': put_str(l, a->method); break;
    case 'U': put_str(l, a->target); break;
    case 'q': put_str(l, a->query); break;
    case 'H': put_str(l, a->protocol); break;
    case 'b':
    case 'B': put_fmt(l, "%" PRIu64, a->response_bytes); break;
    case 'f': put_str(l, a->referer); break;
    case 'a': put_str(l, a->user_agent); break;
    case 'T': put_fmt(l, "%" PRId64, us / 1000000); break;
    case 'M': put_fmt(l, "%" PRId64, us / 1000); break;
    case 'D': put_fmt(l, "%" PRId64, us); break;
    case 'L':
        put_fmt(l, "%" PRId64 ".%06" PRId64, us / 1000000, us % 1000000);
        break;
    case 'p':
        put_fmt(l, "<%ld>", a->pid > 0 ? (long)a->pid : (long)getpid());
        break;
    default: line_put(l, "-", 1, 1); break;
    }
}

static void put_lookup(struct line *l, const struct acc_op *op,
                       const struct cu_access *a)
{
    struct cu_str (*fn)(void *, const char *, size_t);
    struct cu_str v = { NULL, 0 };

    fn = op->kind == OP_REQ ? a->req_header
       : op->kind == OP_RESP ? a->resp_header : a->environ;
    if (fn != NULL)
        v = fn(a->ctx, g_log.fmt.text + op->off, op->len);
    put_str(l, v);
}

int cu_access_enabled(void)
{
    return g_log.acc.fd >= 0 && g_log.fmt.ops != NULL;
}

void cu_access_log(const struct cu_access *a)
{
    char buf[ACC_STACK];
    struct line l = { buf, NULL, 0, sizeof(buf), 0 };
    int saved = errno;
    size_t i;

    if (g_log.acc.fd < 0 || g_log.fmt.ops == NULL || a == NULL)
        return;
    for (i = 0; i < g_log.fmt.nops && !l.cut; i++) {
        const struct acc_op *op = &g_log.fmt.ops[i];

        if (op->kind == OP_LIT)
            line_put(&l, g_log.fmt.text + op->off, op->len, 0);
        else if (op->kind == OP_ATOM)
            put_atom(&l, op->atom, a);
        else
            put_lookup(&l, op, a);
    }
    if (l.cut)
        l.len += end_cut(l.p + l.len);
    l.p[l.len++] = '\n';
    (void)cu_write_all(g_log.acc.fd, l.p, l.len);
    free(l.heap);
    errno = saved;
}
