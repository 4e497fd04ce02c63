/*
 * Tests for src/core/log.c: the error log, the access log and reopen.
 * Everything is written under a mkdtemp() directory, removed at the end.
 */
#include "core/access.h"
#include "core/log.h"
#include "../lib/tap.h"

#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static char dir[64];

/* ---- helpers ---------------------------------------------------------- */

static const char *path_in(const char *name)
{
    static char buf[4][256];
    static int next;
    char *p = buf[next++ % 4];

    if (snprintf(p, sizeof(buf[0]), "%s/%s", dir, name) < 0)
        p[0] = '\0';
    return p;
}

/* Whole file, NUL-terminated; "" if missing. Caller frees. */
static char *slurp(const char *path, size_t *lenp)
{
    size_t cap = 4096, len = 0;
    char *b = malloc(cap);
    int fd = open(path, O_RDONLY | O_CLOEXEC);

    if (b == NULL)
        abort();
    while (fd >= 0) {
        ssize_t r;

        if (cap - len < 4096) {
            char *nb = realloc(b, cap * 2);

            if (nb == NULL)
                abort();
            b = nb;
            cap *= 2;
        }
        r = read(fd, b + len, cap - len - 1);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            break;
        len += (size_t)r;
    }
    if (fd >= 0)
        (void)close(fd);
    b[len] = '\0';
    if (lenp)
        *lenp = len;
    return b;
}

/* For messages: a line without its newline, controls shown, cut short. */
static const char *show(const char *s)
{
    static char buf[4][160];
    static int next;
    char *b = buf[next++ % 4];
    size_t o = 0;

    for (; *s && o < sizeof(buf[0]) - 5; s++) {
        unsigned char ch = (unsigned char)*s;

        if (ch == '\n' && s[1] == '\0')
            break;
        if (ch < 0x20 || ch == 0x7f) {
            b[o++] = '^';
            b[o++] = (char)(ch ^ 0x40);
        } else {
            b[o++] = (char)ch;
        }
    }
    b[o] = '\0';
    return b;
}

static size_t count_char(const char *s, size_t n, char c)
{
    size_t i, k = 0;

    for (i = 0; i < n; i++)
        k += s[i] == c;
    return k;
}

static int is_digits(const char *s, size_t n)
{
    size_t i;

    for (i = 0; i < n; i++)
        if (s[i] < '0' || s[i] > '9')
            return 0;
    return 1;
}

/* "[YYYY-MM-DD HH:MM:SS +ZZZZ] [pid] [LEVEL] msg\n", checked by hand. */
static int err_line_ok(const char *line, const char *level, const char *msg)
{
    char want[256];
    const char *p;
    int n;

    if (strlen(line) < 28 || line[0] != '[' || !is_digits(line + 1, 4) ||
        line[5] != '-' || !is_digits(line + 6, 2) || line[8] != '-' ||
        !is_digits(line + 9, 2) || line[11] != ' ' ||
        !is_digits(line + 12, 2) || line[14] != ':' ||
        !is_digits(line + 15, 2) || line[17] != ':' ||
        !is_digits(line + 18, 2) || line[20] != ' ' ||
        (line[21] != '+' && line[21] != '-') || !is_digits(line + 22, 4) ||
        line[26] != ']' || line[27] != ' ')
        return 0;
    n = snprintf(want, sizeof(want), "[%ld] [%s] %s\n", (long)getpid(),
                 level, msg);
    if (n < 0 || (size_t)n >= sizeof(want))
        return 0;
    p = line + 28;
    return strncmp(p, want, (size_t)n) == 0;
}

/* The error-log stamp for t, as Python's time.strftime would write it. */
static void err_stamp(time_t t, char *buf, size_t n)
{
    struct tm tm;

    if (localtime_r(&t, &tm) == NULL ||
        strftime(buf, n, "[%Y-%m-%d %H:%M:%S %z]", &tm) == 0)
        buf[0] = '\0';
}

static void acc_stamp(time_t t, char *buf, size_t n)
{
    struct tm tm;

    if (localtime_r(&t, &tm) == NULL ||
        strftime(buf, n, "[%d/%b/%Y:%H:%M:%S %z]", &tm) == 0)
        buf[0] = '\0';
}

static int open_logs(const char *errname, const char *accname,
                     const char *level)
{
    char err[256] = "";
    int rc = cu_log_open(errname ? path_in(errname) : NULL,
                         accname ? path_in(accname) : NULL, level, err,
                         sizeof(err));

    if (rc < 0)
        diag("cu_log_open: %s", err);
    return rc;
}

static int set_format(const char *fmt)
{
    char err[256] = "";
    int rc = cu_access_format_set(fmt, err, sizeof(err));

    if (rc < 0)
        diag("format '%s': %s", fmt, err);
    return rc;
}

static struct cu_str S(const char *s)
{
    struct cu_str r = { s, s ? strlen(s) : 0 };

    return r;
}

/* ---- lookups for {name}i/o/e ----------------------------------------- */

struct ctx {
    int calls;
    int bad_name;       /* a name that was not lower-case + NUL-terminated */
    const char *hostile;
};

static void check_name(struct ctx *c, const char *name, size_t len)
{
    size_t i;

    c->calls++;
    if (name[len] != '\0')
        c->bad_name = 1;
    for (i = 0; i < len; i++)
        if (name[i] >= 'A' && name[i] <= 'Z')
            c->bad_name = 1;
}

static struct cu_str req_hdr(void *ctx, const char *name, size_t len)
{
    struct ctx *c = ctx;
    struct cu_str none = { NULL, 0 };

    check_name(c, name, len);
    if (strcmp(name, "x-req") == 0)
        return S("reqval");
    if (strcmp(name, "x-empty") == 0)
        return S("");
    if (strcmp(name, "x-evil") == 0 && c->hostile)
        return S(c->hostile);
    return none;
}

static struct cu_str resp_hdr(void *ctx, const char *name, size_t len)
{
    struct cu_str none = { NULL, 0 };

    check_name(ctx, name, len);
    return strcmp(name, "x-resp") == 0 ? S("respval") : none;
}

static struct cu_str env_var(void *ctx, const char *name, size_t len)
{
    struct cu_str none = { NULL, 0 };

    check_name(ctx, name, len);
    return strcasecmp(name, "REMOTE_ADDR") == 0 ? S("10.0.0.1") : none;
}

static struct cu_access sample(struct ctx *c)
{
    struct cu_access a;

    memset(&a, 0, sizeof(a));
    a.remote_addr = S("127.0.0.1");
    a.method = S("GET");
    a.target = S("/x");
    a.query = S("y=1");
    a.protocol = S("HTTP/1.1");
    a.request_line = S("GET /x?y=1 HTTP/1.1");
    a.user = S("alice");
    a.status = 200;
    a.response_bytes = 1234;
    a.referer = S("http://ref/");
    a.user_agent = S("curl/8.0");
    a.request_time_us = 2345678;
    a.pid = 4321;
    a.req_header = req_hdr;
    a.resp_header = resp_hdr;
    a.environ = env_var;
    a.ctx = c;
    return a;
}

/* Logs a through the access log file "acc.log", returns the new bytes. */
static char *access_line(const struct cu_access *a, size_t *lenp)
{
    size_t before, after;
    char *all, *line;

    free(slurp(path_in("acc.log"), &before));
    cu_access_log(a);
    all = slurp(path_in("acc.log"), &after);
    line = strdup(all + before);
    if (line == NULL)
        abort();
    free(all);
    if (lenp)
        *lenp = after - before;
    return line;
}

/* ---- time zones: each in a fresh child (the stamp cache is per second) */

static int tz_child(const char *tz, const char *want)
{
    char *e, *a;
    int good;

    if (setenv("TZ", tz, 1) < 0)
        return 0;
    tzset();
    if (open_logs("tz_err.log", "tz_acc.log", NULL) < 0 ||
        set_format("%(t)s") < 0)
        return 0;
    cu_log(CU_INFO, "tz");
    {
        struct cu_access acc;

        memset(&acc, 0, sizeof(acc));
        cu_access_log(&acc);
    }
    e = slurp(path_in("tz_err.log"), NULL);
    a = slurp(path_in("tz_acc.log"), NULL);
    good = strlen(e) > 26 && strncmp(e + 21, want, 5) == 0 &&
           strlen(a) == 29 && strncmp(a + 22, want, 5) == 0 &&
           a[27] == ']' && a[28] == '\n';
    if (!good)
        (void)fprintf(stderr, "TZ=%s: %s%s", tz, e, a);
    free(e);
    free(a);
    cu_log_close();
    (void)unlink(path_in("tz_err.log"));
    (void)unlink(path_in("tz_acc.log"));
    return good;
}

static void test_time_zones(void)
{
    static const char *const cases[][2] = {
        { "UTC0", "+0000" }, { "IST-5:30", "+0530" }, { "EST5", "-0500" },
        { "NPT-5:45", "+0545" }, { "NST3:30", "-0330" },
    };
    size_t i;

    for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        int st = 0;
        pid_t pid;

        (void)fflush(stdout);
        pid = fork();
        if (pid == 0)
            _exit(tz_child(cases[i][0], cases[i][1]) ? 0 : 1);
        ok(pid > 0 && waitpid(pid, &st, 0) == pid && WIFEXITED(st) &&
           WEXITSTATUS(st) == 0, "TZ=%s gives %s in both logs",
           cases[i][0], cases[i][1]);
    }
}

/* ---- the error log ---------------------------------------------------- */

static void test_levels(void)
{
    ok(cu_log_level_parse("debug") == CU_DEBUG, "parse debug");
    ok(cu_log_level_parse("INFO") == CU_INFO, "parse INFO");
    ok(cu_log_level_parse("Warning") == CU_WARNING, "parse Warning");
    ok(cu_log_level_parse("error") == CU_ERROR, "parse error");
    ok(cu_log_level_parse("CRITICAL") == CU_CRITICAL, "parse CRITICAL");
    ok(cu_log_level_parse("warn") == -1, "warn is not a level");
    ok(cu_log_level_parse("") == -1 && cu_log_level_parse(NULL) == -1,
       "empty / NULL level rejected");
    ok(cu_log_level_parse("info ") == -1, "trailing space rejected");
}

static void test_error_log(void)
{
    char *text, *nl, stamp0[64], stamp1[64], err[256] = "";
    size_t len;
    time_t t0, t1;
    int fd, lines_ok;

    ok(open_logs("err.log", NULL, "warning") == 0, "open error log");
    fd = cu_log_error_fd();
    ok(fd > 2, "error log has its own fd (%d)", fd);
    ok((fcntl(fd, F_GETFD) & FD_CLOEXEC) != 0, "error log fd is CLOEXEC");
    ok(!cu_log_enabled(CU_INFO) && !cu_log_enabled(CU_DEBUG) &&
       cu_log_enabled(CU_WARNING) && cu_log_enabled(CU_CRITICAL),
       "cu_log_enabled follows the level");
    t0 = time(NULL);
    cu_log(CU_DEBUG, "debug %d", 1);
    cu_log(CU_INFO, "info %d", 2);
    cu_log(CU_WARNING, "warn %d", 3);
    errno = EPIPE;
    cu_log(CU_ERROR, "error %s", "four");
    ok(errno == EPIPE, "cu_log keeps errno");
    cu_log(CU_CRITICAL, "WORKER TIMEOUT (pid:%d)", 77);
    t1 = time(NULL);
    text = slurp(path_in("err.log"), &len);
    ok(count_char(text, len, '\n') == 3, "3 of 5 lines pass 'warning'");
    ok(strstr(text, "debug") == NULL && strstr(text, "info 2") == NULL,
       "debug and info filtered out");
    nl = text;
    lines_ok = err_line_ok(nl, "WARNING", "warn 3");
    nl = strchr(nl, '\n');
    lines_ok = lines_ok && nl && err_line_ok(nl + 1, "ERROR", "error four");
    nl = nl ? strchr(nl + 1, '\n') : NULL;
    lines_ok = lines_ok && nl &&
               err_line_ok(nl + 1, "CRITICAL", "WORKER TIMEOUT (pid:77)");
    ok(lines_ok, "lines are '[stamp] [pid] [LEVEL] message'");
    err_stamp(t0, stamp0, sizeof(stamp0));
    err_stamp(t1, stamp1, sizeof(stamp1));
    ok(strncmp(text, stamp0, 27) == 0 || strncmp(text, stamp1, 27) == 0,
       "stamp matches strftime [%%Y-%%m-%%d %%H:%%M:%%S %%z]: %.27s", text);
    free(text);

    /* a failing open leaves the current log in place */
    ok(cu_log_open(path_in("no/such/dir/x.log"), NULL, "info", err,
                   sizeof(err)) == -1 && strstr(err, "no/such/dir") != NULL,
       "unwritable errorlog rejected: %s", err);
    ok(cu_log_open(NULL, NULL, "verbose", err, sizeof(err)) == -1 &&
       strstr(err, "verbose") != NULL, "unknown level rejected: %s", err);
    ok(cu_log_error_fd() == fd && !cu_log_enabled(CU_INFO),
       "failed opens kept the old log and level");

    (void)unlink(path_in("err.log"));
    cu_log_close();
    ok(cu_log_error_fd() == 2 && cu_log_enabled(CU_INFO),
       "close: back to stderr at info");
}

static void test_error_log_hostile(void)
{
    char *text, *big;
    size_t len;

    ok(open_logs("err.log", NULL, "debug") == 0, "open at debug");
    cu_log(CU_DEBUG, "a\x1b[31mb\tc\rd\x7f" "e");
    text = slurp(path_in("err.log"), &len);
    ok(len > 28 && strstr(text, "[DEBUG] a\\x1B[31mb\tc\\x0Dd\\x7Fe\n"),
       "controls but TAB escaped in error log");
    free(text);
    (void)unlink(path_in("err.log"));
    ok(cu_log_reopen() == 0, "reopen creates the unlinked file again");

    big = malloc(100000);
    if (big == NULL)
        abort();
    memset(big, 'z', 99999);
    big[99999] = '\0';
    cu_log(CU_ERROR, "%s", big);
    memset(big, '\x01', 99999);     /* every byte escapes to 4 */
    cu_log(CU_ERROR, "%s", big);
    cu_log(CU_ERROR, "after");
    free(big);
    text = slurp(path_in("err.log"), &len);
    {
        char *l2 = strchr(text, '\n'), *l3 = l2 ? strchr(l2 + 1, '\n') : 0;

        ok(count_char(text, len, '\n') == 3, "long messages stay one line");
        ok(l2 && l2 - text < 4500 && strncmp(l2 - 3, "...", 3) == 0,
           "long message cut with ... (%ld bytes)", (long)(l2 - text + 1));
        ok(l3 && l3 - l2 < 4500 && strncmp(l3 - 7, "\\x01...", 7) == 0,
           "escaped long message cut between escapes");
        ok(l3 && err_line_ok(l3 + 1, "ERROR", "after"),
           "next line intact");
    }
    free(text);
    (void)unlink(path_in("err.log"));
    cu_log_close();
}

/* ---- reopen ----------------------------------------------------------- */

/* The fd a path is open on in this process (other than skip), or -1. */
static int fd_of(const char *path, int skip)
{
    struct stat want, got;
    int fd;

    if (stat(path, &want) < 0)
        return -1;
    for (fd = 3; fd < 64; fd++)
        if (fd != skip && fstat(fd, &got) == 0 &&
            got.st_ino == want.st_ino && got.st_dev == want.st_dev)
            return fd;
    return -1;
}

/* A worker forked before a reopen: waits for a byte on rfd, logs, then
 * reopens itself and logs again. */
static pid_t fork_worker(int pfd[2])
{
    pid_t pid;
    char byte;

    (void)fflush(stdout);
    pid = fork();
    if (pid == 0) {
        ssize_t r;

        (void)close(pfd[1]);
        do
            r = read(pfd[0], &byte, 1);
        while (r < 0 && errno == EINTR);
        cu_log(CU_INFO, "child before its reopen");
        if (cu_log_reopen() < 0)
            _exit(1);
        cu_log(CU_INFO, "child after its reopen");
        _exit(0);
    }
    return pid;
}

static int release_worker(pid_t pid, int pfd[2])
{
    int st = 0;
    ssize_t w;

    do
        w = write(pfd[1], "x", 1);
    while (w < 0 && errno == EINTR);
    (void)close(pfd[0]);
    (void)close(pfd[1]);
    return waitpid(pid, &st, 0) == pid && WIFEXITED(st) &&
           WEXITSTATUS(st) == 0;
}

static void check_rotated(void)
{
    char *olde = slurp(path_in("err.log.1"), NULL);
    char *newe = slurp(path_in("err.log"), NULL);
    char *olda = slurp(path_in("acc.log.1"), NULL);
    char *newa = slurp(path_in("acc.log"), NULL);

    ok(strstr(olde, "before rotate") && !strstr(olde, "after rotate"),
       "old error log: old lines only");
    ok(strstr(newe, "after rotate") && !strstr(newe, "before rotate"),
       "new error log: new lines only");
    ok(strcmp(olda, "OLD\n") == 0 && strcmp(newa, "NEW\n") == 0,
       "access log rotated too");
    ok(strstr(olde, "child before its reopen") != NULL &&
       strstr(newe, "child after its reopen") != NULL,
       "a worker forked earlier sees the new file only after its own "
       "reopen");
    free(olde);
    free(newe);
    free(olda);
    free(newa);
}

static void test_reopen(void)
{
    struct ctx c = { 0, 0, NULL };
    struct cu_access a = sample(&c);
    int efd, afd, pfd[2];
    pid_t pid = -1;
    struct stat st;

    ok(open_logs("err.log", "acc.log", "info") == 0 && set_format("%(m)s")
       == 0, "open both logs");
    efd = cu_log_error_fd();
    cu_log(CU_INFO, "before rotate");
    a.method = S("OLD");
    cu_access_log(&a);
    ok(pipe(pfd) == 0 && (pid = fork_worker(pfd)) > 0, "fork a worker");

    ok(rename(path_in("err.log"), path_in("err.log.1")) == 0 &&
       rename(path_in("acc.log"), path_in("acc.log.1")) == 0, "rotate");
    afd = fd_of(path_in("acc.log.1"), efd);  /* the access fd is private */
    ok(cu_log_reopen() == 0, "cu_log_reopen");
    ok(cu_log_error_fd() == efd, "error log fd number unchanged");
    ok((fcntl(efd, F_GETFD) & FD_CLOEXEC) != 0, "still CLOEXEC after reopen");
    ok(afd >= 0 && fd_of(path_in("acc.log"), efd) == afd &&
       stat(path_in("acc.log.1"), &st) == 0 &&
       (fcntl(afd, F_GETFD) & FD_CLOEXEC) != 0,
       "access fd %d now points at the new acc.log", afd);
    cu_log(CU_INFO, "after rotate");
    a.method = S("NEW");
    cu_access_log(&a);
    ok(pid > 0 && release_worker(pid, pfd), "worker exited 0");
    check_rotated();
    cu_log_close();
    (void)unlink(path_in("err.log"));
    (void)unlink(path_in("err.log.1"));
    (void)unlink(path_in("acc.log"));
    (void)unlink(path_in("acc.log.1"));
}

static void test_reopen_fails(void)
{
    char *text;

    /* the directory goes away: reopen fails, the old file keeps working */
    ok(mkdir(path_in("sub"), 0700) == 0 &&
       open_logs("sub/e.log", NULL, NULL) == 0, "open sub/e.log");
    ok(rename(path_in("sub"), path_in("sub2")) == 0, "move its directory");
    errno = 0;
    ok(cu_log_reopen() == -1 && errno == ENOENT, "reopen fails with ENOENT");
    cu_log(CU_INFO, "still here");
    text = slurp(path_in("sub2/e.log"), NULL);
    ok(strstr(text, "still here") != NULL, "old file still written");
    free(text);
    cu_log_close();
    (void)unlink(path_in("sub2/e.log"));
    (void)rmdir(path_in("sub2"));
}

/* ---- the access log ------------------------------------------------- */

static void test_access_default(void)
{
    struct ctx c = { 0, 0, NULL };
    struct cu_access a = sample(&c);
    char want0[256], want1[256], t0s[64], t1s[64], *line;
    time_t t0, t1;
    int afd;

    ok(open_logs(NULL, "acc.log", NULL) == 0, "open access log, default fmt");
    t0 = time(NULL);
    line = access_line(&a, NULL);
    t1 = time(NULL);
    acc_stamp(t0, t0s, sizeof(t0s));
    acc_stamp(t1, t1s, sizeof(t1s));
    if (snprintf(want0, sizeof(want0), "127.0.0.1 - alice %s \"GET /x?y=1 "
                 "HTTP/1.1\" 200 1234 \"http://ref/\" \"curl/8.0\"\n",
                 t0s) < 0 ||
        snprintf(want1, sizeof(want1), "127.0.0.1 - alice %s \"GET /x?y=1 "
                 "HTTP/1.1\" 200 1234 \"http://ref/\" \"curl/8.0\"\n",
                 t1s) < 0)
        want0[0] = want1[0] = '\0';
    ok(strcmp(line, want0) == 0 || strcmp(line, want1) == 0,
       "default format line: %s", show(line));
    free(line);

    a.response_bytes = 0;
    a.user = S("");
    a.referer = S(NULL);
    a.user_agent = S(NULL);
    line = access_line(&a, NULL);
    ok(strstr(line, "127.0.0.1 - - [") == line &&
       strstr(line, "\" 200 0 \"-\" \"-\"\n") != NULL,
       "b is 0 for an empty body; missing u/f/a are -: %s", show(line));
    free(line);

    /* NULL access log: no-op */
    afd = open_logs(NULL, NULL, NULL);
    cu_access_log(&a);
    line = slurp(path_in("acc.log"), NULL);
    ok(afd == 0 && count_char(line, strlen(line), '\n') == 2,
       "no access log: nothing written");
    free(line);
    cu_log_close();
    (void)unlink(path_in("acc.log"));
}

static void test_access_atoms(void)
{
    static const char fmt[] =
        "h=%(h)s|l=%(l)s|u=%(u)s|t=%(t)s|r=%(r)s|s=%(s)s|m=%(m)s|U=%(U)s|"
        "q=%(q)s|H=%(H)s|b=%(b)s|B=%(B)s|f=%(f)s|a=%(a)s|T=%(T)s|M=%(M)s|"
        "D=%(D)s|L=%(L)s|p=%(p)s|i=%({X-Req}i)s|o=%({x-resp}o)s|"
        "e=%({REMOTE_ADDR}e)s|I=%({x-req}I)s|ie=%({x-empty}i)s|"
        "in=%({nope}i)s|Bd=%(B)d|Td=%(T)d|%%|100%%";
    struct ctx c = { 0, 0, NULL };
    struct cu_access a = sample(&c);
    char *line, *t, mypid[32], want[1024];
    time_t now;

    ok(open_logs(NULL, "acc.log", NULL) == 0 && set_format(fmt) == 0,
       "every atom compiles");
    now = time(NULL);
    line = access_line(&a, NULL);
    t = strstr(line, "|t=[");
    ok(t && t[4 + 2] == '/' && t[4 + 6] == '/' && t[4 + 11] == ':' &&
       t[4 + 20] == ' ' && t[4 + 26] == ']', "t looks like [dd/Mon/YYYY:...]");
    if (t) {
        char ts[64];

        acc_stamp(now, ts, sizeof(ts));
        ok(strncmp(t + 3, ts, 28) == 0 || now + 1 == time(NULL),
           "t is the current local time: %.28s", t + 3);
        memmove(t + 3, t + 3 + 28, strlen(t + 3 + 28) + 1);
    }
    if (snprintf(want, sizeof(want), "h=127.0.0.1|l=-|u=alice|t=|"
                 "r=GET /x?y=1 HTTP/1.1|s=200|m=GET|U=/x|q=y=1|H=HTTP/1.1|"
                 "b=1234|B=1234|f=http://ref/|a=curl/8.0|T=2|M=2345|"
                 "D=2345678|L=2.345678|p=<4321>|i=reqval|o=respval|"
                 "e=10.0.0.1|I=reqval|ie=|in=-|Bd=1234|Td=2|%%|100%%\n") < 0)
        want[0] = '\0';
    ok(strcmp(line, want) == 0, "every atom: %s", show(line));
    ok(c.calls == 6 && !c.bad_name,
       "callbacks got lower-case, NUL-terminated names (%d calls)", c.calls);
    free(line);

    /* missing values */
    memset(&a, 0, sizeof(a));
    a.query = S("");
    a.user = S("");
    if (snprintf(mypid, sizeof(mypid), "p=<%ld>", (long)getpid()) < 0)
        mypid[0] = '\0';
    line = access_line(&a, NULL);
    t = strstr(line, "|t=[");
    if (t)
        memmove(t + 3, t + 3 + 28, strlen(t + 3 + 28) + 1);
    if (snprintf(want, sizeof(want), "h=-|l=-|u=-|t=|r=-|s=-|m=-|U=-|q=|"
                 "H=-|b=0|B=0|f=-|a=-|T=0|M=0|D=0|L=0.000000|%s|i=-|o=-|"
                 "e=-|I=-|ie=-|in=-|Bd=0|Td=0|%%|100%%\n", mypid) < 0)
        want[0] = '\0';
    ok(strcmp(line, want) == 0, "missing values print -: %s", show(line));
    free(line);

    ok(set_format("%(T)s %(M)s %(D)s %(L)s") == 0, "time format");
    a.request_time_us = -5;
    line = access_line(&a, NULL);
    ok(strcmp(line, "0 0 0 0.000000\n") == 0, "negative time counts as 0");
    free(line);
    a.request_time_us = INT64_C(90061000001);     /* > 1 day */
    line = access_line(&a, NULL);
    ok(strcmp(line, "90061 90061000 90061000001 90061.000001\n") == 0,
       "long request time: %s", show(line));
    free(line);

    ok(set_format("") == 0, "empty format allowed");
    line = access_line(&a, NULL);
    ok(strcmp(line, "\n") == 0, "empty format: empty line");
    free(line);
    cu_log_close();
    (void)unlink(path_in("acc.log"));
}

static void test_access_hostile(void)
{
    struct ctx c = { 0, 0, "v\"\r\nX" };
    struct cu_access a = sample(&c);
    char *line, *big;
    size_t len;
    int good;

    ok(open_logs(NULL, "acc.log", NULL) == 0 &&
       set_format("\"%(a)s\" \"%(r)s\" %({x-evil}i)s %(u)s") == 0,
       "open for hostile input");
    a.user_agent = S("evil\"\\\n[02/Dec/2026] \x1b[2J\x7f\xff\xc3\xa9");
    a.request_line = S("GET /\" 200 - HTTP/1.1");
    a.user = S("bob\nroot");
    line = access_line(&a, &len);
    ok(strcmp(line, "\"evil\\\"\\\\\\x0A[02/Dec/2026] \\x1B[2J\\x7F\\xFF"
                    "\\xC3\\xA9\" \"GET /\\\" 200 - HTTP/1.1\" "
                    "v\\\"\\x0D\\x0AX bob\\x0Aroot\n") == 0,
       "quotes, backslash, controls, DEL, high bytes escaped: %s", show(line));
    ok(count_char(line, len, '\n') == 1, "one line only");
    free(line);

    /* a huge value: heap buffer, cut at 64 KiB, still one line */
    big = malloc(200001);
    if (big == NULL)
        abort();
    memset(big, 'A', 200000);
    big[200000] = '\0';
    a.user_agent = S(big);
    line = access_line(&a, &len);
    ok(len == 65536 && strcmp(line + len - 4, "...\n") == 0 &&
       count_char(line, len, '\n') == 1, "huge value cut to 64 KiB (%zu)",
       len);
    free(line);

    ok(set_format("%(a)s|after") == 0, "format with a literal after");
    memset(big, '\n', 200000);      /* each byte escapes to \x0A */
    line = access_line(&a, &len);
    good = len == 65536 && strcmp(line + len - 8, "\\x0A...\n") == 0 &&
           count_char(line, len, '\n') == 1 && strstr(line, "after") == NULL;
    ok(good, "escapes are never split when cut (%zu)", len);
    free(line);

    memset(big, 'B', 5000);         /* just past the stack buffer */
    big[5000] = '\0';
    a.user_agent = S(big);
    line = access_line(&a, &len);
    ok(len == 5000 + 7 && strcmp(line + 5000, "|after\n") == 0,
       "a 5000-byte value moves to the heap whole");
    free(line);
    free(big);
    cu_log_close();
    (void)unlink(path_in("acc.log"));
}

static void test_access_bad_formats(void)
{
    static const char *const bad[] = {
        "%(x)s", "%(hh)s", "%(H )s", "%({foo}z)s", "%({}i)s",
        "%(h)", "%(h", "%q", "abc%", "%", "%(h)d", "%(h)r", "%(h)-10s",
        "%({a}i)d", "%(s)d", "%()s", "%(h)s %(zz)s", "%%%", "100% %%",
    };
    static const char *const good[] = {
        "%(B)d %(T)d %(M)d %(D)d", "%%", "%({A}I)s %({b}O)s %({c}E)s",
        "{a}i",     /* no '%': plain text */
    };
    char err[256];
    size_t i;
    char *line;
    struct ctx c = { 0, 0, NULL };
    struct cu_access a = sample(&c);

    ok(open_logs(NULL, "acc.log", NULL) == 0 && set_format("%(h)s") == 0,
       "open with %%(h)s");
    for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        int rc;

        err[0] = '\0';
        rc = cu_access_format_set(bad[i], err, sizeof(err));
        ok(rc == -1 && err[0] != '\0', "'%s' rejected: %s", bad[i], err);
    }
    line = access_line(&a, NULL);
    ok(strcmp(line, "127.0.0.1\n") == 0, "rejects kept the old format");
    free(line);
    ok(set_format("%(h)s") == 0 && cu_access_format_set("%(zz)s", NULL, 0)
       == -1, "NULL err buffer is fine");
    line = access_line(&a, NULL);
    ok(strcmp(line, "127.0.0.1\n") == 0, "rejected format keeps the old one");
    free(line);
    for (i = 0; i < sizeof(good) / sizeof(good[0]); i++)
        ok(set_format(good[i]) == 0, "'%s' accepted", good[i]);
    line = access_line(&a, NULL);
    ok(strcmp(line, "{a}i\n") == 0, "last good format in use: %s", show(line));
    free(line);
    ok(set_format(CU_ACCESS_LOG_FORMAT_DEFAULT) == 0,
       "CU_ACCESS_LOG_FORMAT_DEFAULT compiles");
    cu_log_close();
    (void)unlink(path_in("acc.log"));
}

/* ---- "-" ------------------------------------------------------------- */

static void test_dash(void)
{
    struct ctx c = { 0, 0, NULL };
    struct cu_access a = sample(&c);
    char err[256] = "", *text;
    int saved, fd;

    ok(cu_log_open("-", "-", "info", err, sizeof(err)) == 0 &&
       cu_log_error_fd() == 2, "errorlog '-' is stderr");
    ok(set_format("%(m)s to stdout") == 0, "format");
    (void)fflush(stdout);
    saved = dup(1);
    fd = open(path_in("stdout.txt"), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC,
              0600);
    if (saved < 0 || fd < 0 || dup2(fd, 1) < 0)
        abort();
    cu_access_log(&a);
    if (dup2(saved, 1) < 0)
        abort();
    (void)close(saved);
    (void)close(fd);
    text = slurp(path_in("stdout.txt"), NULL);
    ok(strcmp(text, "GET to stdout\n") == 0, "accesslog '-' is stdout");
    free(text);
    cu_log_close();
    ok(fcntl(1, F_GETFD) >= 0 && fcntl(2, F_GETFD) >= 0,
       "close leaves stdout and stderr open");
    (void)unlink(path_in("stdout.txt"));
}

int main(void)
{
    if (mkdtemp(strcpy(dir, "/tmp/cu_test_log.XXXXXX")) == NULL) {
        perror("mkdtemp");
        return 1;
    }
    test_time_zones();      /* first: before this process caches a stamp */
    if (setenv("TZ", "UTC0", 1) < 0)
        return 1;
    tzset();
    test_levels();
    test_error_log();
    test_error_log_hostile();
    test_reopen();
    test_reopen_fails();
    test_access_default();
    test_access_atoms();
    test_access_hostile();
    test_access_bad_formats();
    test_dash();
    ok(rmdir(dir) == 0, "temp dir empty and removed");
    return tap_done();
}
