/*
 * Tests for cu_log_signal() (src/core/log.c): the error-log line a signal
 * handler writes must read exactly as cu_log()'s, stamp and all, in any
 * time zone; and it is written from a real signal handler. Files go under
 * a mkdtemp() directory, removed at the end.
 */
#include "../lib/tap.h"
#include "logtest.h"

#include <limits.h>
#include <signal.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>

/* The wall clock cu_log_signal() reads, set by the test when not
 * LLONG_MIN: this definition stands in for the C library's. */
static long long fake_now = LLONG_MIN;

int clock_gettime(clockid_t id, struct timespec *ts)
{
    if (id == CLOCK_REALTIME && fake_now != LLONG_MIN) {
        ts->tv_sec = (time_t)fake_now;
        ts->tv_nsec = 0;
        return 0;
    }
    return (int)syscall(SYS_clock_gettime, id, ts);
}

/* The text of dir/name, and the file emptied (the log appends to it
 * again from its start). Caller frees. */
static char *take(const char *name)
{
    char *t = slurp(path_in(name), NULL);

    if (truncate(path_in(name), 0) < 0)
        t[0] = '\0';
    return t;
}

/* In a child with TZ=tz: a cu_log() line, then a cu_log_signal() line in
 * the same second; both stamps must be equal (the stamp is the first 27
 * bytes) and the rest of each line as expected. */
static int same_stamp_child(const char *tz)
{
    const char *parts[] = {"from ", NULL, "a handler"};
    char want[256];
    int good = 0;

    if (setenv("TZ", tz, 1) < 0)
        return 0;
    tzset();
    if (open_logs("s.log", NULL, CU_INFO) < 0)
        return 0;
    for (int tries = 0; tries < 5 && !good; tries++) {
        /* cu_log's stamp follows time() (the coarse clock), the
         * handler's clock_gettime(): both must stay in one second */
        struct timespec p0, p1;
        time_t t0 = time(NULL);
        char *t;

        if (clock_gettime(CLOCK_REALTIME, &p0) < 0)
            return 0;
        cu_log(CU_INFO, "from cu_log");
        cu_log_signal(CU_INFO, parts, 3);
        t = take("s.log");
        if (clock_gettime(CLOCK_REALTIME, &p1) < 0)
            return 0;
        if (time(NULL) == t0 && p0.tv_sec == t0 && p1.tv_sec == t0) {
            (void)snprintf(want, sizeof(want),
                           "%.27s [%ld] [INFO] from cu_log\n%.27s [%ld] [INFO] from a handler\n",
                           t, (long)getpid(), t, (long)getpid());
            good = strlen(t) > 27 && strcmp(t, want) == 0;
            if (!good)
                (void)fprintf(stderr, "TZ=%s:\n%s", tz, t);
        }
        free(t);
    }
    cu_log_close();
    (void)unlink(path_in("s.log"));
    return good;
}

/* Whether child(tz) held in a forked child (a TZ of its own). */
static int in_child(int (*child)(const char *tz), const char *tz)
{
    int st = 0;
    pid_t pid;

    (void)fflush(stdout);
    pid = fork();
    if (pid == 0)
        _exit(child(tz) ? 0 : 1);
    return pid > 0 && waitpid(pid, &st, 0) == pid && WIFEXITED(st) && WEXITSTATUS(st) == 0;
}

static void test_stamps(void)
{
    static const char *const zones[] = {"UTC0", "IST-5:30", "EST5", "NPT-5:45", "NST3:30"};

    for (size_t i = 0; i < sizeof(zones) / sizeof(zones[0]); i++)
        ok(in_child(same_stamp_child, zones[i]),
           "TZ=%s: a handler's line has cu_log()'s stamp, pid and level", zones[i]);
}

/* In a child with TZ=tz (a fixed offset): the stamp at a set of times
 * that cross days, months, leap days, years and the epoch, against
 * strftime's. */
static int calendar_child(const char *tz)
{
    static const long long times[] = {
        0, 59, 86399, 86400, 951782399, 951782400, 951868799, 951868800,
        978307199, 1709164800, 1709251199, 1735689599, 4107542399, 4107542400,
        4102444799, 253402300799LL - 86400,
    };
    const char *parts[] = {"x"};
    int good = 1;

    if (setenv("TZ", tz, 1) < 0)
        return 0;
    tzset();
    if (open_logs("c.log", NULL, CU_INFO) < 0)
        return 0;
    cu_log(CU_INFO, "the offset");  /* what cu_log_signal takes the offset from */
    free(take("c.log"));
    for (size_t i = 0; i < sizeof(times) / sizeof(times[0]); i++) {
        time_t t = (time_t)times[i];
        struct tm tm;
        char want[64], *got;

        fake_now = times[i];
        cu_log_signal(CU_INFO, parts, 1);
        fake_now = LLONG_MIN;
        got = take("c.log");
        if (localtime_r(&t, &tm) == NULL ||
            strftime(want, sizeof(want), "[%Y-%m-%d %H:%M:%S %z]", &tm) == 0 ||
            strncmp(got, want, 27) != 0) {
            (void)fprintf(stderr, "TZ=%s t=%lld: %.27s, strftime %s\n", tz, times[i],
                          got, want);
            good = 0;
        }
        free(got);
    }
    cu_log_close();
    (void)unlink(path_in("c.log"));
    return good;
}

static void test_calendar(void)
{
    static const char *const zones[] = {"UTC0", "EST5", "NST3:30", "IST-5:30", "LINT-14"};

    for (size_t i = 0; i < sizeof(zones) / sizeof(zones[0]); i++)
        ok(in_child(calendar_child, zones[i]),
           "TZ=%s: stamps across days, months, leap days, years, the epoch", zones[i]);
}

static void test_text(void)
{
    char big[3000];
    const char *hostile[] = {"bell\a esc\x1b[31m cr\r", " del\x7f tab\t end"};
    const char *cut[] = {big, "never"};
    char *t;
    size_t n;

    (void)open_logs("t.log", NULL, CU_WARNING);
    cu_log_signal(CU_INFO, hostile, 2);
    t = take("t.log");
    ok(t[0] == '\0', "below the level: nothing written");
    free(t);

    cu_log_signal(CU_ERROR, hostile, 2);
    t = take("t.log");
    ok(strstr(t, "] [ERROR] bell\\x07 esc\\x1B[31m cr\\x0D del\\x7F tab\t end\n") != NULL &&
       count_char(t, strlen(t), '\n') == 1,
       "control bytes as \\xNN, as cu_log() writes them; one line");
    free(t);

    memset(big, 'b', sizeof(big) - 1);
    big[sizeof(big) - 1] = '\0';
    cu_log_signal(CU_CRITICAL, cut, 2);
    t = take("t.log");
    n = strlen(t);
    ok(n > 900 && n <= 1024 && strncmp(t + n - 4, "...\n", 4) == 0 &&
       strstr(t, "never") == NULL && strstr(t, "] [CRITICAL] bbb") != NULL,
       "a long line is cut at about 1 KiB and ends with ... (%zu bytes)", n);
    free(t);
    cu_log_close();
    (void)unlink(path_in("t.log"));
}

/* From a real handler, interrupting the thread while it logs. */
static volatile sig_atomic_t handled;

static void on_usr1(int sig)
{
    const char *parts[] = {"in the handler"};

    (void)sig;
    cu_log_signal(CU_WARNING, parts, 1);
    handled++;
}

static void test_in_handler(void)
{
    struct sigaction sa;
    char *t;
    size_t lines;
    int i;

    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = on_usr1;
    sigemptyset(&sa.sa_mask);
    (void)sigaction(SIGUSR1, &sa, NULL);
    (void)open_logs("h.log", NULL, CU_INFO);
    for (i = 0; i < 200; i++) {
        cu_log(CU_INFO, "main %d", i);
        if (i % 10 == 0)
            (void)raise(SIGUSR1);
    }
    t = take("h.log");
    lines = count_char(t, strlen(t), '\n');
    ok(handled == 20 && lines == 220 && strstr(t, "] [WARNING] in the handler\n") != NULL,
       "from a signal handler: its lines whole among the others (%zu lines)", lines);
    free(t);
    cu_log_close();
    (void)unlink(path_in("h.log"));
}

int main(void)
{
    if (mkdtemp(strcpy(dir, "/tmp/cu_test_logsig.XXXXXX")) == NULL) {
        perror("mkdtemp");
        return 1;
    }
    test_stamps();
    test_calendar();
    if (setenv("TZ", "UTC0", 1) < 0)
        return 1;
    tzset();
    test_text();
    test_in_handler();
    ok(rmdir(dir) == 0, "temp dir empty and removed");
    return tap_done();
}
