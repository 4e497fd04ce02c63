/*
 * Tests for src/core/log.c: the error log, and the log files (open,
 * reopen, "-", close) with what it keeps for the access log (its fd, the
 * stamp of its %(t)s). The access log's lines are tests/core/test_access.c.
 * Everything is written under a mkdtemp() directory, removed at the end.
 */
#include "../lib/tap.h"
#include "logtest.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

/* ---- helpers ---------------------------------------------------------- */

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

/* ---- time zones: each in a fresh child (the stamp cache is per second) */

static int tz_child(const char *tz, const char *want)
{
    char *e, *a;
    const char *t;
    int good;

    if (setenv("TZ", tz, 1) < 0)
        return 0;
    tzset();
    if (open_logs("tz_err.log", "tz_acc.log", CU_INFO) < 0 ||
        set_format("%(t)s") < 0)
        return 0;
    cu_log(CU_INFO, "tz");
    {
        struct cu_access acc;

        memset(&acc, 0, sizeof(acc));
        cu_access_log(&acc);
    }
    t = cu_log_access_stamp();
    e = slurp(path_in("tz_err.log"), NULL);
    a = slurp(path_in("tz_acc.log"), NULL);
    good = strlen(e) > 26 && strncmp(e + 21, want, 5) == 0 &&
           strlen(a) == 29 && strncmp(a + 22, want, 5) == 0 &&
           a[27] == ']' && a[28] == '\n' &&
           strlen(t) == 28 && strncmp(t + 22, want, 5) == 0;
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

static void test_error_log(void)
{
    char *text, *nl, stamp0[64], stamp1[64], err[256] = "";
    size_t len;
    time_t t0, t1;
    int fd, lines_ok;

    ok(open_logs("err.log", NULL, CU_WARNING) == 0, "open error log");
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
    ok(cu_log_open(path_in("no/such/dir/x.log"), NULL, CU_INFO, err,
                   sizeof(err)) == -1 && strstr(err, "no/such/dir") != NULL,
       "unwritable errorlog rejected: %s", err);
    ok(cu_log_open(NULL, NULL, (enum cu_level)15, err, sizeof(err)) == -1 &&
       strstr(err, "15") != NULL, "unknown level rejected: %s", err);
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

    ok(open_logs("err.log", NULL, CU_DEBUG) == 0, "open at debug");
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
    struct cu_access a;
    int efd, afd, pfd[2];
    pid_t pid = -1;
    struct stat st;

    memset(&a, 0, sizeof(a));   /* "%(m)s" needs the method only */
    ok(open_logs("err.log", "acc.log", CU_INFO) == 0 && set_format("%(m)s")
       == 0, "open both logs");
    efd = cu_log_error_fd();
    cu_log(CU_INFO, "before rotate");
    a.method = S("OLD");
    cu_access_log(&a);
    ok(pipe(pfd) == 0 && (pid = fork_worker(pfd)) > 0, "fork a worker");

    ok(rename(path_in("err.log"), path_in("err.log.1")) == 0 &&
       rename(path_in("acc.log"), path_in("acc.log.1")) == 0, "rotate");
    afd = cu_log_access_fd();
    ok(afd > 2 && afd != efd && fd_of(path_in("acc.log.1"), efd) == afd,
       "cu_log_access_fd() is the access log's file (%d)", afd);
    ok(cu_log_reopen() == 0, "cu_log_reopen");
    ok(cu_log_error_fd() == efd, "error log fd number unchanged");
    ok((fcntl(efd, F_GETFD) & FD_CLOEXEC) != 0, "still CLOEXEC after reopen");
    ok(afd >= 0 && cu_log_access_fd() == afd &&
       fd_of(path_in("acc.log"), efd) == afd &&
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
       open_logs("sub/e.log", NULL, CU_INFO) == 0, "open sub/e.log");
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

/* cu_log_open() again, as a HUP does: the new files (here one for both
 * logs), the old one closed, and --capture-output no longer following
 * the error log (fds 1 and 2 stay where they point, a reopen leaves
 * them) until cu_log_capture() is called again. */
static void test_open_again(void)
{
    int saved1, saved2, opened, old_fd, old_closed, again, cap1, cap2, reopened;
    int distinct, a_left, b_left;
    char *a, *b;

    (void)fflush(stdout);
    (void)fflush(stderr);
    saved1 = dup(1);
    saved2 = dup(2);
    if (saved1 < 0 || saved2 < 0)
        abort();
    opened = open_logs("a.log", NULL, CU_INFO) == 0;
    old_fd = cu_log_error_fd();
    cap1 = cu_log_capture() == 0 && write(1, "A1\n", 3) == 3;
    again = open_logs("b.log", "b.log", CU_INFO) == 0;
    old_closed = fcntl(old_fd, F_GETFD) < 0 && errno == EBADF;
    a_left = fd_of(path_in("a.log"), -1);
    distinct = cu_log_error_fd() != cu_log_access_fd() && cu_log_error_fd() > 2 &&
               cu_log_access_fd() > 2;
    reopened = write(2, "A2\n", 3) == 3 && cu_log_reopen() == 0 && write(1, "A3\n", 3) == 3;
    cap2 = cu_log_capture() == 0 && write(1, "B1\n", 3) == 3;
    cu_log_close();
    b_left = fd_of(path_in("b.log"), -1);
    if (dup2(saved1, 1) < 0 || dup2(saved2, 2) < 0)
        abort();
    (void)close(saved1);
    (void)close(saved2);
    a = slurp(path_in("a.log"), NULL);
    b = slurp(path_in("b.log"), NULL);
    ok(opened && cap1 && again && distinct, "open a.log, capture, open b.log for both logs");
    ok(old_closed && a_left == -1, "the old file's fd is closed, none left on it (%d)", a_left);
    ok(reopened && strcmp(a, "A1\nA2\nA3\n") == 0,
       "stdout and stderr stay on a.log, after a reopen too");
    ok(cap2 && strcmp(b, "B1\n") == 0, "captured again: on b.log");
    ok(b_left == -1, "close: no fd left on b.log");
    free(a);
    free(b);
    (void)unlink(path_in("a.log"));
    (void)unlink(path_in("b.log"));
}

/* A relative name is taken against the directory of the first open, as
 * at start, before --chdir: opened again (HUP) from another directory,
 * it names the same file. */
static void test_relative_after_chdir(void)
{
    char err[256], start[PATH_MAX];
    int first, second, back;
    char *text;

    if (getcwd(start, sizeof(start)) == NULL || mkdir(path_in("elsewhere"), 0700) < 0 ||
        chdir(dir) < 0)
        abort();
    first = cu_log_open("rel.log", NULL, CU_INFO, err, sizeof(err)) == 0;
    cu_log(CU_INFO, "one");
    second = chdir(path_in("elsewhere")) == 0 &&
             cu_log_open("rel.log", NULL, CU_INFO, err, sizeof(err)) == 0;
    cu_log(CU_INFO, "two");
    cu_log_close();
    back = chdir(start) == 0;
    text = slurp(path_in("rel.log"), NULL);
    ok(first && second && back, "open rel.log, chdir, open rel.log again");
    ok(text && strstr(text, "one") && strstr(text, "two"), "both lines in the first directory's file");
    ok(access(path_in("elsewhere/rel.log"), F_OK) < 0, "none in the second directory");
    free(text);
    (void)unlink(path_in("rel.log"));
    (void)rmdir(path_in("elsewhere"));
}

/* cu_log_text: a message of any length, one line prefix, one write. */
static void test_log_text(void)
{
    char *text, *big;
    size_t len, n = 20000;

    ok(open_logs("err.log", NULL, CU_INFO) == 0, "open at info");
    cu_log_text(CU_DEBUG, "hidden", 6);
    text = slurp(path_in("err.log"), &len);
    ok(len == 0, "below the level: nothing");
    free(text);
    big = malloc(n + 64);
    if (big == NULL)
        abort();
    memcpy(big, "Current configuration:", 22);
    for (size_t i = 22; i < n; i++)
        big[i] = i % 40 == 0 || i == 22 ? '\n' : 'v';
    big[n - 1] = '\x1b';
    cu_log_text(CU_WARNING, big, n);
    cu_log(CU_INFO, "after");
    text = slurp(path_in("err.log"), &len);
    ok(err_line_ok(text, "WARNING", "Current configuration:"),
       "the prefix, then the message");
    ok(len > n && memcmp(strstr(text, "Current"), big, n - 1) == 0 &&
       strncmp(strstr(text, "Current") + n - 1, "\\x1B\n", 5) == 0,
       "all %zu bytes, newlines kept, a control escaped: not cut at 4 KiB", n);
    ok(strstr(text, "] [INFO] after\n") != NULL &&
       count_char(text, len, '\n') == (n - 1) / 40 + 3, "one record, then the next");
    free(text);
    free(big);
    (void)unlink(path_in("err.log"));
    cu_log_close();
}

/* ---- "-" ------------------------------------------------------------- */

static void test_dash(void)
{
    struct cu_access a;
    char err[256] = "", *text;
    int saved, fd;

    memset(&a, 0, sizeof(a));
    a.method = S("GET");
    ok(cu_log_open("-", "-", CU_INFO, err, sizeof(err)) == 0 &&
       cu_log_error_fd() == 2, "errorlog '-' is stderr");
    ok(cu_log_access_fd() == 1, "accesslog '-': cu_log_access_fd() is 1");
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
    ok(cu_log_access_fd() == -1, "close: no access log fd");
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
    test_error_log();
    test_error_log_hostile();
    test_log_text();
    test_reopen();
    test_reopen_fails();
    test_open_again();
    test_relative_after_chdir();
    test_dash();
    ok(rmdir(dir) == 0, "temp dir empty and removed");
    return tap_done();
}
