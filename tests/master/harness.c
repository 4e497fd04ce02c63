/*
 * The harness of the master's tests: harness.h says how it works.
 */
#include "harness.h"

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

void harness_init(void)
{
    (void)setvbuf(stdout, NULL, _IOLBF, 0);
    (void)signal(SIGPIPE, SIG_IGN);
#ifdef __linux__
    if (prctl(PR_SET_CHILD_SUBREAPER, 1) < 0)
        diag("PR_SET_CHILD_SUBREAPER: %s", strerror(errno));
#endif
}

/* ---- the fake workers and callbacks ---- */

static void emit4(int fd, char type, long a, long b, long c, long d)
{
    char line[96];
    int n = snprintf(line, sizeof(line), "%c %d %ld %ld %ld %ld\n", type,
                     (int)getpid(), a, b, c, d);

    if (write(fd, line, (size_t)n) < 0) {
        /* the test is gone */
    }
}

static void emit(int fd, char type, long a, long b)
{
    emit4(fd, type, a, b, 0, 0);
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

int64_t mono_ms(void)
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
    for (int64_t until = mono_ms() + 2000; c->mode == W_SLOW_BOOT && !w_stop &&
         mono_ms() < until;) {
        struct timespec ts = {0, 20L * 1000000};

        nanosleep(&ts, NULL);
    }
    if (w_stop)
        return 0;
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
    struct tctx *c = vctx;

    c->after_child = 1;
    /* a broken reload's workers all exit 4, even those the master retires
     * (TERM) once the first one did, as an app's import would not stop */
    if (c->reload_breaks && c->mode == W_EXIT4)
        (void)signal(SIGTERM, SIG_IGN);
}

/* Hands over the start's configuration with what the case asks changed. */
static int reload(void *vctx, const struct cu_master_config **cfg)
{
    struct tctx *c = vctx;

    emit(c->ev_fd, 'H', 0, 0);
    c->next = *c->cfg;
    if (c->fail_flag != NULL && access(c->fail_flag, F_OK) == 0) {
        c->next.workers = 99;   /* handed over, but failed: ignored */
        *cfg = &c->next;
        return -1;
    }
    if (c->reload_keeps)
        return 0;
    if (c->reload_workers > 0)
        c->next.workers = c->reload_workers;
    if (c->new_pidfile != NULL)
        c->next.pidfile = c->new_pidfile;
    if (c->reload_bad)
        c->next.timeout = -1;
    if (c->reload_breaks)   /* an app that no longer loads */
        c->mode = W_EXIT4;
    if (c->reload_slow)     /* an app slow to import */
        c->mode = W_SLOW_BOOT;
    *cfg = &c->next;
    return 0;
}

static void reopen_logs(void *vctx)
{
    emit(((struct tctx *)vctx)->ev_fd, 'R', 0, 0);
}

/* Every hook, as "K which workers old_workers age". */
static int hook(void *vctx, int which, const struct cu_master_event *ev)
{
    struct tctx *c = vctx;

    emit4(c->ev_fd, 'K', which, ev->workers, ev->old_workers, ev->age);
    return c->hook_fails == which + 1 ? -1 : 0;
}

/* The master's copies of the listeners close: "L", written 50 ms after
 * the call, so that a TERM sent before it would be read first. */
static void close_listeners(void *vctx)
{
    struct timespec ts = {0, 50L * 1000000};

    nanosleep(&ts, NULL);
    emit(((struct tctx *)vctx)->ev_fd, 'L', 0, 0);
}

#define EVERY_OP .worker_main = worker_main, .before_fork = before_fork, \
    .after_fork_parent = after_fork_parent, \
    .after_fork_child = after_fork_child, .reload = reload, \
    .reopen_logs = reopen_logs

const struct cu_master_ops all_ops = {EVERY_OP};
const struct cu_master_ops hook_ops = {EVERY_OP, .hook = hook};
const struct cu_master_ops listen_ops = {EVERY_OP, .close_listeners = close_listeners};

/* Only worker_main: every other callback may be NULL. */
const struct cu_master_ops min_ops = {.worker_main = worker_main};

/* ---- the harness ---- */

static void parse_events(struct run *r)
{
    char *nl;

    while ((nl = memchr(r->buf, '\n', r->len)) != NULL) {
        struct ev e = {0};
        int pid;

        *nl = '\0';
        if (sscanf(r->buf, "%c %d %ld %ld %ld %ld", &e.type, &pid, &e.a, &e.b,
                   &e.c, &e.d) >= 4 && r->nev < MAXEV) {
            e.pid = pid;
            e.at = mono_ms();
            r->ev[r->nev++] = e;
        }
        r->len -= (size_t)(nl + 1 - r->buf);
        memmove(r->buf, nl + 1, r->len);
    }
}

void pump(struct run *r, int ms)
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

int alive(pid_t pid)
{
    char path[64], stat[256];
    ssize_t n;
    char *p;
    int fd;

    if (kill(pid, 0) < 0)
        return 0;
    (void)snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
    fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)             /* reaped since kill(), unless there is no /proc */
        return access("/proc/self/stat", F_OK) < 0;
    n = read(fd, stat, sizeof(stat) - 1);
    close(fd);
    if (n <= 0)
        return 0;
    stat[n] = '\0';
    p = strrchr(stat, ')');
    /* Z: a zombie; X: being reaped (for a moment after a Z, not before) */
    return p == NULL || p[1] == '\0' || (p[2] != 'Z' && p[2] != 'X');
}

int live_workers(struct run *r, pid_t *out, int max)
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

int count_alive(struct run *r)
{
    pid_t pids[64];

    return live_workers(r, pids, 64);
}

int count_events(struct run *r, char type, pid_t pid)
{
    int n = 0;

    for (int i = 0; i < r->nev; i++)
        if (r->ev[i].type == type && (pid == 0 || r->ev[i].pid == pid))
            n++;
    return n;
}

const struct ev *find_event(struct run *r, char type, pid_t pid)
{
    for (int i = 0; i < r->nev; i++)
        if (r->ev[i].type == type && (pid == 0 || r->ev[i].pid == pid))
            return &r->ev[i];
    return NULL;
}

int count_hooks(struct run *r, int which, long workers, long old)
{
    int n = 0;

    for (int i = 0; i < r->nev; i++)
        if (r->ev[i].type == 'K' && r->ev[i].a == which &&
            r->ev[i].b == workers && (old < 0 || r->ev[i].c == old))
            n++;
    return n;
}

int master_done(struct run *r)
{
    if (!r->reaped && waitpid(r->master, &r->status, WNOHANG) == r->master)
        r->reaped = 1;
    return r->reaped;
}

int wait_until(struct run *r, int ms, int (*cond)(struct run *, long), long arg)
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

int wait_event(struct run *r, int ms, char type, pid_t pid)
{
    int64_t deadline = mono_ms() + ms;

    while (find_event(r, type, pid) == NULL) {
        if (mono_ms() >= deadline)
            return 0;
        pump(r, 20);
    }
    return 1;
}

int stays(struct run *r, int ms, int (*cond)(struct run *, long), long arg)
{
    int64_t deadline = mono_ms() + ms;

    while (mono_ms() < deadline) {
        if (!cond(r, arg))
            return 0;
        pump(r, 20);
    }
    return cond(r, arg);
}

int c_alive_eq(struct run *r, long n) { return count_alive(r) == n; }
int c_done(struct run *r, long unused)
{
    (void)unused;
    return master_done(r) && r->ev_r < 0;
}
int c_dead(struct run *r, long pid) { (void)r; return !alive((pid_t)pid); }
int c_booted(struct run *r, long n) { return count_events(r, 'B', 0) >= n; }
int c_parent_calls(struct run *r, long n) { return count_events(r, 'P', 0) >= n; }

int c_pidfile_exists(struct run *r, long unused)
{
    (void)unused;
    return access(r->pidfile, F_OK) == 0;
}

long read_pidfile(const char *path)
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

int write_file(const char *path, const char *text)
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

int log_has(struct run *r, const char *needle)
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

int log_hasf(struct run *r, const char *fmt, ...)
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

void run_init(struct run *r, enum wmode mode, int workers)
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
}

/* Member by member: the struct has padding, which memcmp would compare. A
 * member added to struct cu_master_config belongs here too. */
static int same_config(const struct cu_master_config *a, const struct cu_master_config *b)
{
    return a->workers == b->workers && a->timeout == b->timeout &&
           a->graceful_timeout == b->graceful_timeout && a->daemon == b->daemon &&
           a->pidfile == b->pidfile && a->max_worker_lifetime == b->max_worker_lifetime &&
           a->max_worker_memory == b->max_worker_memory &&
           a->backlog_metric == b->backlog_metric && a->upgrade == b->upgrade;
}

int run_start(struct run *r, const struct cu_master_ops *ops)
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
        struct cu_master_config given = r->cfg;
        char err[256];
        int status;

        close(fds[0]);
        r->c.ev_fd = fds[1];
        r->c.master = getpid();
        if (cu_log_open(r->log, NULL, CU_DEBUG, err, sizeof(err)) < 0)
            (void)fprintf(stderr, "cu_log_open: %s\n", err);
        status = cu_master_run(&r->cfg, ops, &r->c);
        cu_log_close();
        if (!same_config(&given, &r->cfg))
            status = 98;    /* the master wrote to its configuration */
        exit(status);
    }
    close(fds[1]);
    fcntl(fds[0], F_SETFL, O_NONBLOCK);
    r->ev_r = fds[0];
    r->master = pid;
    return 0;
}

void run_end(struct run *r)
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

int exited_with(struct run *r, int code)
{
    return r->reaped && WIFEXITED(r->status) && WEXITSTATUS(r->status) == code;
}
