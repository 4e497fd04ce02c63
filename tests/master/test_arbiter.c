/*
 * Tests of the master (src/master/arbiter.c).
 *
 * Each case runs cu_master_run() in a forked process with fake workers
 * that heartbeat in a loop and report what happens to them ("B pid age
 * flags" at boot, "T pid" on SIGTERM, ...) as one line each on a pipe.
 * The test sends the master signals and waits, always with a deadline, for
 * the workers it expects. This process is a child subreaper, so workers
 * left behind by a master come back to it and are killed by pid.
 *
 * Links src/core/log.c: the master's log goes to a file per case, which
 * the checks read.
 */
#include "master/arbiter.h"
#include "core/log.h"
#include "../lib/tap.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#ifdef __linux__
#include <sys/prctl.h>
#endif

/* ---- the fake workers and callbacks ---- */

enum wmode { W_NORMAL, W_IGNORE_TERM, W_STALL, W_EXIT3, W_EXIT4 };

struct tctx {
    enum wmode mode;
    int ev_fd;              /* write end of the event pipe */
    pid_t master;
    const char *fail_flag;  /* reload fails while this file exists */
    int reload_workers;     /* > 0: reload sets cfg->workers */
    const char *new_pidfile;    /* reload sets cfg->pidfile */
    struct cu_master_config *cfg;
    int after_child;        /* set by after_fork_child */
};

#define F_AFTER_CHILD 1     /* after_fork_child ran first */
#define F_SIG_DEFAULT 2     /* HUP, TERM, CHLD: default and unblocked */
#define F_SLOT_FRESH 4      /* slot given, beat_ms set by the master */

static void emit(int fd, char type, long a, long b)
{
    char line[64];
    int n = snprintf(line, sizeof(line), "%c %d %ld %ld\n", type,
                     (int)getpid(), a, b);

    if (write(fd, line, (size_t)n) < 0) {
        /* the test is gone */
    }
}

/* In a worker: one prebuilt line per signal, written by the handlers. */
static int w_ev_fd = -1;
static enum wmode w_mode;
static volatile sig_atomic_t w_stop;
static char w_line[5][32];
static size_t w_len[5];

static void w_write(int i)
{
    if (write(w_ev_fd, w_line[i], w_len[i]) < 0) {
        /* the test is gone */
    }
}

static void w_on_signal(int sig)
{
    int saved = errno;

    switch (sig) {
    case SIGTERM:
        w_write(0);
        if (w_mode != W_IGNORE_TERM)
            w_stop = 1;
        break;
    case SIGQUIT:
    case SIGINT:
        w_write(1);
        w_stop = 1;
        break;
    case SIGABRT:
        w_write(2);
        if (w_mode != W_STALL)
            _exit(1);
        break;
    case SIGUSR1:
        w_write(3);
        break;
    default:
        break;
    }
    errno = saved;
}

static int signals_are_default(void)
{
    static const int sigs[] = {SIGHUP, SIGTERM, SIGINT, SIGCHLD, SIGTTIN};
    struct sigaction sa;
    sigset_t mask;

    if (sigprocmask(SIG_SETMASK, NULL, &mask) < 0)
        return 0;
    for (size_t i = 0; i < sizeof(sigs) / sizeof(sigs[0]); i++) {
        if (sigaction(sigs[i], NULL, &sa) < 0 || sa.sa_handler != SIG_DFL ||
            sigismember(&mask, sigs[i]))
            return 0;
    }
    return 1;
}

static int64_t mono_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int worker_main(void *vctx, int age, struct cu_worker_slot *slot)
{
    static const char types[] = "TQAU";
    struct tctx *c = vctx;
    struct sigaction sa;
    int flags = 0;
    int64_t give_up = mono_ms() + 30000;

    if (c->after_child)
        flags |= F_AFTER_CHILD;
    if (signals_are_default())
        flags |= F_SIG_DEFAULT;
    if (slot != NULL && mono_ms() - slot->beat_ms < 5000)
        flags |= F_SLOT_FRESH;

    w_ev_fd = c->ev_fd;
    w_mode = c->mode;
    for (int i = 0; i < 4; i++)
        w_len[i] = (size_t)snprintf(w_line[i], sizeof(w_line[i]), "%c %d 0 0\n",
                                    types[i], (int)getpid());
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = w_on_signal;
    sa.sa_flags = SA_RESTART;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGQUIT, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGABRT, &sa, NULL);
    sigaction(SIGUSR1, &sa, NULL);

    emit(c->ev_fd, 'B', age, flags);
    if (c->mode == W_EXIT3)
        return CU_EXIT_WORKER_BOOT;
    if (c->mode == W_EXIT4)
        return CU_EXIT_APP_LOAD;
    if (slot != NULL)
        slot->booted = 1;  /* as a real worker, once its app is loaded */
    while (!w_stop && mono_ms() < give_up && getppid() == c->master) {
        struct timespec ts = {0, 20L * 1000000};

        /* only the first worker stalls: its replacement must stay up */
        if (c->mode != W_STALL || age > 1)
            cu_heartbeat(slot);
        nanosleep(&ts, NULL);
    }
    return 0;
}

static void before_fork(void *vctx)
{
    struct tctx *c = vctx;

    c->after_child = 0;
    emit(c->ev_fd, 'F', 0, 0);
}

static void after_fork_parent(void *vctx)
{
    emit(((struct tctx *)vctx)->ev_fd, 'P', 0, 0);
}

static void after_fork_child(void *vctx)
{
    ((struct tctx *)vctx)->after_child = 1;
}

static int reload(void *vctx)
{
    struct tctx *c = vctx;

    emit(c->ev_fd, 'H', 0, 0);
    if (c->fail_flag != NULL && access(c->fail_flag, F_OK) == 0) {
        c->cfg->workers = 99;   /* half-applied: must be undone */
        return -1;
    }
    if (c->reload_workers > 0)
        c->cfg->workers = c->reload_workers;
    if (c->new_pidfile != NULL)
        c->cfg->pidfile = c->new_pidfile;
    return 0;
}

static void reopen_logs(void *vctx)
{
    emit(((struct tctx *)vctx)->ev_fd, 'R', 0, 0);
}

static const struct cu_master_ops all_ops = {
    .worker_main = worker_main,
    .before_fork = before_fork,
    .after_fork_parent = after_fork_parent,
    .after_fork_child = after_fork_child,
    .reload = reload,
    .reopen_logs = reopen_logs,
};

/* Only worker_main: every other callback may be NULL. */
static const struct cu_master_ops min_ops = {.worker_main = worker_main};

/* ---- the harness ---- */

#define MAXEV 512

struct ev {
    char type;
    pid_t pid;
    long a, b;
    int64_t at;             /* when the test read it */
};

struct run {
    pid_t master;
    int reaped, status;
    int ev_r;
    struct ev ev[MAXEV];
    int nev;
    char buf[4096];
    size_t len;
    char dir[64], log[128], pidfile[128], pidfile2[128], fail[128];
    struct tctx c;
    struct cu_master_config cfg;
};

static void parse_events(struct run *r)
{
    char *nl;

    while ((nl = memchr(r->buf, '\n', r->len)) != NULL) {
        struct ev e = {0};
        int pid;

        *nl = '\0';
        if (sscanf(r->buf, "%c %d %ld %ld", &e.type, &pid, &e.a, &e.b) == 4 &&
            r->nev < MAXEV) {
            e.pid = pid;
            e.at = mono_ms();
            r->ev[r->nev++] = e;
        }
        r->len -= (size_t)(nl + 1 - r->buf);
        memmove(r->buf, nl + 1, r->len);
    }
}

/* Reads events for up to ms. */
static void pump(struct run *r, int ms)
{
    struct pollfd p = {.fd = r->ev_r, .events = POLLIN};
    ssize_t n;

    if (r->ev_r < 0 || poll(&p, 1, ms) <= 0) {
        if (r->ev_r < 0 && ms > 0)
            poll(NULL, 0, ms);
        return;
    }
    n = read(r->ev_r, r->buf + r->len, sizeof(r->buf) - r->len - 1);
    if (n == 0) {
        close(r->ev_r);
        r->ev_r = -1;
    } else if (n > 0) {
        r->len += (size_t)n;
        parse_events(r);
    }
}

static int alive(pid_t pid)
{
    char path[64], stat[256];
    ssize_t n;
    char *p;
    int fd;

    if (kill(pid, 0) < 0)
        return 0;
    (void)snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
    fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return 1;           /* no /proc: trust kill() */
    n = read(fd, stat, sizeof(stat) - 1);
    close(fd);
    if (n <= 0)
        return 0;
    stat[n] = '\0';
    p = strrchr(stat, ')');
    return p == NULL || p[1] == '\0' || p[2] != 'Z';
}

/* The pids of booted workers still alive, oldest (lowest age) first. */
static int live_workers(struct run *r, pid_t *out, int max)
{
    long age[64];
    int n = 0;

    for (int i = 0; i < r->nev && n < max && n < 64; i++) {
        int j;

        if (r->ev[i].type != 'B' || !alive(r->ev[i].pid))
            continue;
        for (j = n; j > 0 && age[j - 1] > r->ev[i].a; j--) {
            age[j] = age[j - 1];
            out[j] = out[j - 1];
        }
        age[j] = r->ev[i].a;
        out[j] = r->ev[i].pid;
        n++;
    }
    return n;
}

static int count_alive(struct run *r)
{
    pid_t pids[64];

    return live_workers(r, pids, 64);
}

static int count_events(struct run *r, char type, pid_t pid)
{
    int n = 0;

    for (int i = 0; i < r->nev; i++)
        if (r->ev[i].type == type && (pid == 0 || r->ev[i].pid == pid))
            n++;
    return n;
}

static const struct ev *find_event(struct run *r, char type, pid_t pid)
{
    for (int i = 0; i < r->nev; i++)
        if (r->ev[i].type == type && (pid == 0 || r->ev[i].pid == pid))
            return &r->ev[i];
    return NULL;
}

static int master_done(struct run *r)
{
    if (!r->reaped && waitpid(r->master, &r->status, WNOHANG) == r->master)
        r->reaped = 1;
    return r->reaped;
}

/* Waits up to ms for cond (re-evaluated after each pump); 1 if it held. */
static int wait_until(struct run *r, int ms, int (*cond)(struct run *, long), long arg)
{
    int64_t deadline = mono_ms() + ms;

    for (;;) {
        if (cond(r, arg))
            return 1;
        if (mono_ms() >= deadline)
            return 0;
        pump(r, 20);
    }
}

/* Waits up to ms for an event: a worker writes it before it exits, so it
 * may still be in the pipe when the worker is already gone. */
static int wait_event(struct run *r, int ms, char type, pid_t pid)
{
    int64_t deadline = mono_ms() + ms;

    while (find_event(r, type, pid) == NULL) {
        if (mono_ms() >= deadline)
            return 0;
        pump(r, 20);
    }
    return 1;
}

/* 1 if cond keeps holding for ms. */
static int stays(struct run *r, int ms, int (*cond)(struct run *, long), long arg)
{
    int64_t deadline = mono_ms() + ms;

    while (mono_ms() < deadline) {
        if (!cond(r, arg))
            return 0;
        pump(r, 20);
    }
    return cond(r, arg);
}

static int c_alive_eq(struct run *r, long n) { return count_alive(r) == n; }
/* The master has exited and every process holding the event pipe too (so
 * every event is read). */
static int c_done(struct run *r, long unused)
{
    (void)unused;
    return master_done(r) && r->ev_r < 0;
}
static int c_dead(struct run *r, long pid) { (void)r; return !alive((pid_t)pid); }
static int c_booted(struct run *r, long n) { return count_events(r, 'B', 0) >= n; }
static int c_parent_calls(struct run *r, long n) { return count_events(r, 'P', 0) >= n; }

static int c_pidfile_exists(struct run *r, long unused)
{
    (void)unused;
    return access(r->pidfile, F_OK) == 0;
}

static long read_pidfile(const char *path)
{
    char buf[32] = {0};
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    ssize_t n;

    if (fd < 0)
        return -1;
    n = read(fd, buf, sizeof(buf) - 1);
    close(fd);
    return n > 0 ? strtol(buf, NULL, 10) : -1;
}

static int write_file(const char *path, const char *text)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    size_t len = strlen(text);
    int rc;

    if (fd < 0)
        return -1;
    rc = write(fd, text, len) == (ssize_t)len ? 0 : -1;
    close(fd);
    return rc;
}

/* 1 if the master's log holds needle. */
static int log_has(struct run *r, const char *needle)
{
    static char text[1 << 20];
    int fd = open(r->log, O_RDONLY | O_CLOEXEC);
    ssize_t n;

    if (fd < 0)
        return 0;
    n = read(fd, text, sizeof(text) - 1);
    close(fd);
    if (n < 0)
        return 0;
    text[n] = '\0';
    return strstr(text, needle) != NULL;
}

/* Waits up to 3 s for the master's log to hold the formatted line: it
 * logs a worker's end when it reaps it, a little after the worker dies. */
static int log_hasf(struct run *r, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
static int log_hasf(struct run *r, const char *fmt, ...)
{
    char needle[256];
    va_list ap;
    int64_t deadline = mono_ms() + 3000;

    va_start(ap, fmt);
    (void)vsnprintf(needle, sizeof(needle), fmt, ap);
    va_end(ap);
    while (!log_has(r, needle)) {
        if (mono_ms() >= deadline)
            return 0;
        pump(r, 20);
    }
    return 1;
}

static void run_init(struct run *r, enum wmode mode, int workers)
{
    memset(r, 0, sizeof(*r));
    r->ev_r = -1;
    r->master = -1;
    (void)snprintf(r->dir, sizeof(r->dir), "/tmp/cu_arbiter_XXXXXX");
    if (mkdtemp(r->dir) == NULL) {
        perror("mkdtemp");
        exit(2);
    }
    (void)snprintf(r->log, sizeof(r->log), "%s/error.log", r->dir);
    (void)snprintf(r->pidfile, sizeof(r->pidfile), "%s/master.pid", r->dir);
    (void)snprintf(r->pidfile2, sizeof(r->pidfile2), "%s/reloaded.pid", r->dir);
    (void)snprintf(r->fail, sizeof(r->fail), "%s/reload-fails", r->dir);
    r->c.mode = mode;
    r->c.cfg = &r->cfg;
    r->c.fail_flag = r->fail;
    r->cfg.workers = workers;
    r->cfg.timeout = 0;
    r->cfg.graceful_timeout = 5;
    r->cfg.pidfile = r->pidfile;
    r->cfg.proc_name = "test";
}

/* Forks the master. */
static int run_start(struct run *r, const struct cu_master_ops *ops)
{
    int fds[2];
    pid_t pid;

    if (pipe2(fds, O_CLOEXEC) < 0)
        return -1;
    (void)fflush(stdout);
    (void)fflush(stderr);
    pid = fork();
    if (pid < 0)
        return -1;
    if (pid == 0) {
        char err[256];
        int status;

        close(fds[0]);
        r->c.ev_fd = fds[1];
        r->c.master = getpid();
        if (cu_log_open(r->log, NULL, "debug", err, sizeof(err)) < 0)
            (void)fprintf(stderr, "cu_log_open: %s\n", err);
        status = cu_master_run(&r->cfg, ops, &r->c);
        cu_log_close();
        exit(status);
    }
    close(fds[1]);
    fcntl(fds[0], F_SETFL, O_NONBLOCK);
    r->ev_r = fds[0];
    r->master = pid;
    return 0;
}

/* Stops whatever is left of this run, by pid, and removes its files. */
static void run_end(struct run *r)
{
    if (r->master > 0 && !master_done(r)) {
        kill(r->master, SIGKILL);
        if (waitpid(r->master, &r->status, 0) == r->master)
            r->reaped = 1;
    }
    for (int i = 0; i < r->nev; i++) {
        pid_t pid = r->ev[i].pid;
        int st;

        if (r->ev[i].type != 'B')
            continue;
        /* Orphans are ours now (subreaper): 0 means still running. */
        if (waitpid(pid, &st, WNOHANG) == 0) {
            kill(pid, SIGKILL);
            waitpid(pid, &st, 0);
        }
    }
    while (waitpid(-1, NULL, WNOHANG) > 0)
        ;
    if (r->ev_r >= 0)
        close(r->ev_r);
    r->ev_r = -1;
    unlink(r->log);
    unlink(r->pidfile);
    unlink(r->pidfile2);
    unlink(r->fail);
    rmdir(r->dir);
}

static int exited_with(struct run *r, int code)
{
    return r->reaped && WIFEXITED(r->status) && WEXITSTATUS(r->status) == code;
}

/* ---- the cases ---- */

static void test_heartbeat(void)
{
    struct cu_worker_slot slot;
    int64_t before, after;

    memset(&slot, 0, sizeof(slot));
    before = mono_ms();
    cu_heartbeat(&slot);
    after = mono_ms();
    ok(slot.beat_ms >= before && slot.beat_ms <= after,
       "cu_heartbeat stores CLOCK_MONOTONIC ms (%lld in [%lld, %lld])",
       (long long)slot.beat_ms, (long long)before, (long long)after);
}

static void test_setup_errors(void)
{
    struct cu_master_config cfg = {.workers = -1, .graceful_timeout = 1};
    struct cu_master_ops none = {0};
    char err[256];

    /* The errors are logged; keep them out of the test's output. */
    if (cu_log_open("/dev/null", NULL, "critical", err, sizeof(err)) < 0)
        diag("cu_log_open: %s", err);

    ok(cu_master_run(&cfg, &min_ops, NULL) == 1, "workers = -1: status 1");
    cfg.workers = CU_MAX_WORKERS + 1;
    ok(cu_master_run(&cfg, &min_ops, NULL) == 1, "workers > CU_MAX_WORKERS: status 1");
    cfg.workers = 1;
    cfg.timeout = -1;
    ok(cu_master_run(&cfg, &min_ops, NULL) == 1, "negative timeout: status 1");
    cfg.timeout = 0;
    ok(cu_master_run(&cfg, &none, NULL) == 1, "no worker_main: status 1");
    cu_log_close();
}

/* The first workers: ages, callbacks, the state each worker starts in. */
static void check_boot(struct run *r)
{
    int all_flags = 1, seen = 0;

    ok(wait_until(r, 5000, c_alive_eq, 3), "3 workers boot");
    for (int i = 0; i < r->nev; i++) {
        if (r->ev[i].type != 'B')
            continue;
        all_flags &= r->ev[i].b == (F_AFTER_CHILD | F_SIG_DEFAULT | F_SLOT_FRESH);
        if (r->ev[i].a >= 1 && r->ev[i].a <= 3)
            seen |= 1 << r->ev[i].a;
    }
    ok(all_flags, "each worker: after_fork_child ran, signals default and "
       "unblocked, slot beat set");
    ok(seen == (2 | 4 | 8), "ages 1, 2, 3");
    ok(wait_until(r, 2000, c_parent_calls, 3) && count_events(r, 'F', 0) == 3,
       "before_fork/after_fork_parent once per worker (%d, %d)",
       count_events(r, 'F', 0), count_events(r, 'P', 0));
    ok(read_pidfile(r->pidfile) == r->master, "stale pidfile replaced by the master's pid");
    ok(log_has(r, "Booting worker with pid: "), "log: Booting worker with pid");
}

/* TTIN, TTOU down to 1 and no further, a worker killed from outside. */
static void check_scaling(struct run *r)
{
    pid_t pids[64];
    int n;

    kill(r->master, SIGTTIN);
    ok(wait_until(r, 5000, c_alive_eq, 4), "TTIN: 4 workers");
    live_workers(r, pids, 64);
    kill(r->master, SIGTTOU);
    ok(wait_until(r, 5000, c_alive_eq, 3), "TTOU: 3 workers");
    ok(!alive(pids[0]) && wait_event(r, 2000, 'T', pids[0]),
       "TTOU: the oldest worker got TERM");
    kill(r->master, SIGTTOU);
    ok(wait_until(r, 5000, c_alive_eq, 2), "TTOU: 2 workers");
    kill(r->master, SIGTTOU);
    ok(wait_until(r, 5000, c_alive_eq, 1), "TTOU: 1 worker");
    kill(r->master, SIGTTOU);
    ok(stays(r, 500, c_alive_eq, 1), "TTOU at 1: still 1 worker");

    n = live_workers(r, pids, 64);
    kill(pids[0], SIGKILL);
    ok(n == 1 && wait_until(r, 5000, c_dead, pids[0]) &&
       wait_until(r, 5000, c_alive_eq, 1), "a worker killed from outside is replaced");
    /* which of the three depends on what the cgroup tells */
    ok(log_hasf(r, "Worker (pid:%d) was sent SIGKILL from outside the master",
                (int)pids[0]) ||
       log_hasf(r, "Worker (pid:%d) was sent SIGKILL! Perhaps out of memory?",
                (int)pids[0]) ||
       log_hasf(r, "Worker (pid:%d) was killed by the kernel's OOM killer", (int)pids[0]),
       "log: an outside SIGKILL is said to come from outside");

    kill(r->master, SIGTTIN);
    wait_until(r, 5000, c_alive_eq, 2);
    kill(r->master, SIGTTIN);
    ok(wait_until(r, 5000, c_alive_eq, 3), "TTIN twice: 3 workers");
}

static void check_usr1_winch(struct run *r)
{
    pid_t pids[64], now[64];
    int64_t deadline = mono_ms() + 5000;
    int n = live_workers(r, pids, 64), got = 0;

    kill(r->master, SIGUSR1);
    while (mono_ms() < deadline) {
        got = count_events(r, 'R', 0) == 1;
        for (int i = 0; i < n; i++)
            got &= find_event(r, 'U', pids[i]) != NULL;
        if (got)
            break;
        pump(r, 20);
    }
    ok(got, "USR1: reopen_logs in the master, USR1 to every worker");

    kill(r->master, SIGWINCH);
    ok(stays(r, 300, c_alive_eq, 3), "WINCH when not daemonized: ignored");
    ok(live_workers(r, now, 64) == 3 && memcmp(now, pids, 3 * sizeof(pid_t)) == 0,
       "WINCH: same workers");
}

/* HUP (reload sets workers = 2), then a HUP whose reload fails. */
static void check_hup(struct run *r)
{
    pid_t pids[64], old[64];
    int nold = live_workers(r, old, 64), n = count_events(r, 'B', 0);
    int replaced;

    kill(r->master, SIGHUP);
    ok(wait_until(r, 5000, c_booted, n + 2) &&
       wait_until(r, 5000, c_alive_eq, 2), "HUP: reload sets workers = 2; 2 workers");
    replaced = count_events(r, 'H', 0) == 1;
    n = live_workers(r, pids, 64);
    for (int i = 0; i < nold; i++) {
        replaced &= !alive(old[i]) && wait_event(r, 2000, 'T', old[i]);
        for (int j = 0; j < n; j++)
            replaced &= pids[j] != old[i];
    }
    ok(replaced, "HUP: every old worker got TERM; the new ones have new pids");
    ok(log_has(r, "Hang up: Master"), "log: Hang up: Master");
    ok(read_pidfile(r->pidfile2) == r->master && access(r->pidfile, F_OK) < 0,
       "HUP: pidfile moved to the reloaded path");

    write_file(r->fail, "1\n");
    nold = live_workers(r, old, 64);
    kill(r->master, SIGHUP);
    ok(stays(r, 700, c_alive_eq, 2) && live_workers(r, pids, 64) == nold &&
       memcmp(old, pids, (size_t)nold * sizeof(pid_t)) == 0 &&
       count_events(r, 'H', 0) == 2,
       "HUP with a failing reload: same workers, count not changed");
    ok(log_has(r, "Reload failed"), "log: Reload failed");
}

static void check_term(struct run *r)
{
    pid_t old[64];
    int nold = live_workers(r, old, 64), all = 1;

    kill(r->master, SIGTERM);
    ok(wait_until(r, 5000, c_done, 0) && exited_with(r, 0), "TERM: master exits 0");
    ok(wait_until(r, 2000, c_alive_eq, 0), "TERM: no worker left");
    for (int i = 0; i < nold; i++)
        all &= find_event(r, 'T', old[i]) != NULL;
    ok(nold == 2 && all, "TERM: each worker got TERM");
    ok(access(r->pidfile2, F_OK) < 0, "TERM: pidfile removed");
    ok(log_has(r, "Handling signal: term") && log_has(r, "Shutting down: Master"),
       "log: Handling signal: term, Shutting down: Master");
}

/* Boot, TTIN/TTOU, respawn, USR1, WINCH ignored, HUP, failed HUP, TERM. */
static void test_lifecycle(void)
{
    struct run r;

    run_init(&r, W_NORMAL, 3);
    r.cfg.timeout = 2;              /* beats every 20 ms: never hit */
    r.c.reload_workers = 2;
    r.c.new_pidfile = r.pidfile2;
    write_file(r.pidfile, "junk\n");    /* stale: overwritten */
    if (run_start(&r, &all_ops) < 0) {
        ok(0, "lifecycle: fork the master");
        return;
    }
    check_boot(&r);
    check_scaling(&r);
    check_usr1_winch(&r);
    check_hup(&r);
    check_term(&r);
    run_end(&r);
}

/* Workers that ignore TERM are killed after graceful_timeout. */
static void test_graceful_timeout(void)
{
    struct run r;
    pid_t pids[64];
    int64_t t0, dt;
    int n;

    run_init(&r, W_IGNORE_TERM, 2);
    r.cfg.graceful_timeout = 1;
    r.cfg.pidfile = NULL;
    if (run_start(&r, &min_ops) < 0) {
        ok(0, "graceful: fork the master");
        return;
    }
    ok(wait_until(&r, 5000, c_alive_eq, 2), "graceful: 2 workers boot (ops: only worker_main)");
    n = live_workers(&r, pids, 64);
    t0 = mono_ms();
    kill(r.master, SIGTERM);
    ok(wait_until(&r, 6000, c_done, 0) && exited_with(&r, 0), "graceful: master exits 0");
    dt = mono_ms() - t0;
    ok(dt >= 900 && dt < 4000, "graceful: after graceful_timeout = 1 s (%lld ms)",
       (long long)dt);
    ok(n == 2 && find_event(&r, 'T', pids[0]) && find_event(&r, 'T', pids[1]),
       "graceful: both workers got TERM first");
    ok(wait_until(&r, 2000, c_alive_eq, 0), "graceful: no worker left");
    ok(log_hasf(&r, "Worker (pid:%d) was killed by the master (SIGKILL) after "
                "graceful_timeout", (int)pids[0]) &&
       !log_has(&r, "Perhaps out of memory?") && !log_has(&r, "OOM"),
       "log: our SIGKILL is ours, not blamed on memory");
    run_end(&r);
}

/* INT: QUIT to the workers, fast; INT during a graceful stop turns quick. */
static void test_quick_stop(void)
{
    struct run r;
    pid_t pids[64];
    int64_t t0, dt;
    int n;

    run_init(&r, W_NORMAL, 2);
    r.cfg.graceful_timeout = 20;
    if (run_start(&r, &all_ops) < 0) {
        ok(0, "quick: fork the master");
        return;
    }
    ok(wait_until(&r, 5000, c_alive_eq, 2), "quick: 2 workers boot");
    n = live_workers(&r, pids, 64);
    t0 = mono_ms();
    kill(r.master, SIGINT);
    ok(wait_until(&r, 5000, c_done, 0) && exited_with(&r, 0), "INT: master exits 0");
    dt = mono_ms() - t0;
    ok(dt < 3000, "INT: well before graceful_timeout (%lld ms)", (long long)dt);
    ok(n == 2 && find_event(&r, 'Q', pids[0]) && find_event(&r, 'Q', pids[1]) &&
       !find_event(&r, 'T', 0), "INT: workers got QUIT, not TERM");
    ok(access(r.pidfile, F_OK) < 0, "INT: pidfile removed");
    run_end(&r);

    run_init(&r, W_IGNORE_TERM, 2);
    r.cfg.graceful_timeout = 20;
    if (run_start(&r, &all_ops) < 0) {
        ok(0, "term+int: fork the master");
        return;
    }
    ok(wait_until(&r, 5000, c_alive_eq, 2), "term+int: 2 workers boot");
    n = live_workers(&r, pids, 64);
    kill(r.master, SIGTERM);
    {
        int64_t deadline = mono_ms() + 5000;

        while (count_events(&r, 'T', 0) < 2 && mono_ms() < deadline)
            pump(&r, 20);
    }
    ok(count_events(&r, 'T', 0) == 2, "term+int: both workers got TERM (and ignore it)");
    t0 = mono_ms();
    kill(r.master, SIGINT);
    ok(wait_until(&r, 5000, c_done, 0) && exited_with(&r, 0), "term+int: master exits 0");
    dt = mono_ms() - t0;
    ok(dt < 3000, "term+int: INT made the stop quick (%lld ms, graceful_timeout 20 s)",
       (long long)dt);
    ok(n == 2 && find_event(&r, 'Q', pids[0]) && find_event(&r, 'Q', pids[1]),
       "term+int: workers got QUIT");
    run_end(&r);
}

/* A silent worker gets ABRT, then KILL a tick later, then a replacement. */
static void test_timeout(void)
{
    struct run r;
    pid_t pid;
    const struct ev *boot, *ab;
    int64_t died;

    run_init(&r, W_STALL, 1);
    r.cfg.timeout = 1;
    r.cfg.graceful_timeout = 1;
    if (run_start(&r, &all_ops) < 0) {
        ok(0, "timeout: fork the master");
        return;
    }
    ok(wait_until(&r, 5000, c_alive_eq, 1), "timeout: 1 worker boots");
    boot = find_event(&r, 'B', 0);
    pid = boot ? boot->pid : 0;
    {
        int64_t deadline = mono_ms() + 5000;

        while (find_event(&r, 'A', pid) == NULL && mono_ms() < deadline)
            pump(&r, 20);
    }
    ab = find_event(&r, 'A', pid);
    ok(ab != NULL && ab->at - boot->at >= 900,
       "timeout: silent for timeout = 1 s, the worker gets SIGABRT (after %lld ms)",
       ab ? (long long)(ab->at - boot->at) : -1LL);
    ok(wait_until(&r, 5000, c_dead, pid), "timeout: ignoring ABRT, it is killed");
    died = mono_ms();
    ok(ab != NULL && died - ab->at >= 800, "timeout: SIGKILL on a later tick (%lld ms after ABRT)",
       ab ? (long long)(died - ab->at) : -1LL);
    ok(wait_until(&r, 5000, c_booted, 2) && wait_until(&r, 5000, c_alive_eq, 1),
       "timeout: a new worker replaces it");
    ok(log_hasf(&r, "WORKER TIMEOUT (pid:%d)", (int)pid), "log: WORKER TIMEOUT (pid:N)");
    ok(log_hasf(&r, "Worker (pid:%d) was killed by the master (SIGKILL) after "
                "WORKER TIMEOUT", (int)pid) &&
       !log_has(&r, "Perhaps out of memory?") && !log_has(&r, "OOM"),
       "log: the timeout KILL is ours, not 'out of memory'");
    kill(r.master, SIGQUIT);
    ok(wait_until(&r, 5000, c_done, 0) && exited_with(&r, 0), "QUIT: master exits 0");
    run_end(&r);
}

static void test_boot_error(enum wmode mode, int code, const char *reason)
{
    struct run r;

    run_init(&r, mode, 2);
    r.cfg.graceful_timeout = 2;
    if (run_start(&r, &all_ops) < 0) {
        ok(0, "exit %d: fork the master", code);
        return;
    }
    wait_until(&r, 5000, c_done, 0);
    ok(exited_with(&r, code), "a worker exiting %d stops the master with status %d "
       "(wait status %#x)", code, code, r.status);
    ok(log_hasf(&r, "Reason: %s", reason) && log_has(&r, "Shutting down: Master"),
       "log: Shutting down: Master / Reason: %s", reason);
    ok(log_hasf(&r, "exited with code %d.", code), "log: Worker (pid:N) exited with code %d.",
       code);
    ok(access(r.pidfile, F_OK) < 0, "exit %d: pidfile removed", code);
    ok(count_events(&r, 'B', 0) <= 2, "exit %d: no respawn (%d boots)", code,
       count_events(&r, 'B', 0));
    run_end(&r);
}

static void test_pidfile_busy(void)
{
    struct run r;
    char mine[32];

    run_init(&r, W_NORMAL, 1);
    (void)snprintf(mine, sizeof(mine), "%d\n", (int)getpid());
    write_file(r.pidfile, mine);
    if (run_start(&r, &all_ops) < 0) {
        ok(0, "pidfile: fork the master");
        return;
    }
    ok(wait_until(&r, 5000, c_done, 0) && exited_with(&r, 1),
       "pidfile of another live process: status 1");
    ok(count_events(&r, 'B', 0) == 0, "pidfile busy: no worker started");
    ok(read_pidfile(r.pidfile) == getpid(), "pidfile busy: left alone");
    ok(log_has(&r, "Already running on PID"), "log: Already running on PID");
    run_end(&r);
}

/* WINCH when daemonized: every worker stops, the master stays. */
static void test_winch_daemon(void)
{
    struct run r;

    run_init(&r, W_NORMAL, 2);
    r.cfg.daemon = 1;
    if (run_start(&r, &all_ops) < 0) {
        ok(0, "winch: fork the master");
        return;
    }
    ok(wait_until(&r, 5000, c_alive_eq, 2), "winch: 2 workers boot");
    ok(wait_until(&r, 2000, c_pidfile_exists, 0), "winch: pidfile there");
    kill(r.master, SIGWINCH);
    ok(wait_until(&r, 5000, c_alive_eq, 0) && count_events(&r, 'T', 0) == 2,
       "WINCH when daemonized: TERM to every worker");
    ok(stays(&r, 300, c_alive_eq, 0) && !master_done(&r),
       "WINCH: no respawn, the master stays");
    kill(r.master, SIGTTIN);
    ok(wait_until(&r, 5000, c_alive_eq, 1), "TTIN after WINCH: 1 worker");
    kill(r.master, SIGTERM);
    ok(wait_until(&r, 5000, c_done, 0) && exited_with(&r, 0), "winch: TERM exits 0");
    run_end(&r);
}

int main(void)
{
    (void)setvbuf(stdout, NULL, _IOLBF, 0);
    (void)signal(SIGPIPE, SIG_IGN);
#ifdef __linux__
    if (prctl(PR_SET_CHILD_SUBREAPER, 1) < 0)
        diag("PR_SET_CHILD_SUBREAPER: %s", strerror(errno));
#endif
    test_heartbeat();
    test_setup_errors();
    test_pidfile_busy();
    test_boot_error(W_EXIT3, CU_EXIT_WORKER_BOOT, "Worker failed to boot.");
    test_boot_error(W_EXIT4, CU_EXIT_APP_LOAD, "App failed to load.");
    test_quick_stop();
    test_graceful_timeout();
    test_winch_daemon();
    test_timeout();
    test_lifecycle();
    return tap_done();
}
