/*
 * The master (shared reference §2): forks the workers, reaps them, checks
 * their heartbeats and turns signals into actions.
 *
 * Signals reach the loop through a self-pipe: the handler writes the signal
 * number as one byte and restores errno, nothing else. The loop polls the
 * pipe (at most TICK_MS, less when a deadline is near), moves what it reads
 * into a queue of at most QUEUE_MAX signals, reaps, handles the queue,
 * checks heartbeats and deadlines, then brings the number of workers to
 * cfg->workers.
 *
 * Every worker we ask to stop (TERM on TTOU, HUP, WINCH) is SIGKILLed if it
 * is still there graceful_timeout seconds later; a timed-out worker gets
 * SIGABRT, then SIGKILL ABORT_GRACE_MS later. A SIGKILL we sent is logged as
 * ours; any other one gets Gunicorn's "Perhaps out of memory?".
 */
#include "master/arbiter.h"

#include "core/clock.h"
#include "core/log.h"
#include "core/sdnotify.h"
#include "master/upgrade.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define TICK_MS 1000            /* longest sleep of the loop */
#define QUEUE_MAX 5             /* pending signals kept, as Gunicorn */
#define ABORT_GRACE_MS 1000     /* SIGABRT .. SIGKILL for a silent worker */
#define QUICK_SWITCH_MS 2000    /* INT/QUIT during a graceful stop */
#define FINAL_REAP_MS 1000      /* after the last SIGKILL */
#define READY_POLL_MS 100       /* looking for booted workers, READY owed */
#define MASTER_NAME "Master"

enum stop_mode { RUNNING, STOP_GRACEFUL, STOP_QUICK };

/* Why the master ended a worker: said when it is reaped. */
enum cause {
    CAUSE_NONE = 0, CAUSE_RELOAD, CAUSE_RELOAD_FAILED, CAUSE_TTOU, CAUSE_WINCH,
    CAUSE_STOP, CAUSE_RECYCLE  /* + CU_RECYCLE_*: the reason */
};

struct worker {
    pid_t pid;              /* 0: this slot is free */
    int age;
    int gen;                /* the reload it was spawned for */
    int retiring;           /* sent TERM: no longer counted */
    int aborted;            /* sent SIGABRT on timeout */
    int killed;             /* sent SIGKILL by us */
    int booted;             /* its app is loaded (seen in its slot) */
    int recycling;          /* being replaced: no longer counted */
    int cause;              /* enum cause, + CU_RECYCLE_* for recycles */
    int64_t born_ms;
    int64_t abort_ms;       /* when SIGABRT was sent */
    int64_t kill_at_ms;     /* retiring: SIGKILL at this time */
};

struct master {
    struct cu_master_config *cfg;
    const struct cu_master_ops *ops;
    void *ctx;
    struct cu_worker_slot *slots;   /* shared, CU_MAX_WORKERS */
    struct worker *w;               /* private, same index as slots */
    int nlive;
    int age;
    int gen;                        /* the generation that serves */
    int next_gen;                   /* HUP: the one booting, or 0 */
    int ever_booted;                /* some worker booted since start */
    int boot_failures;              /* in a row, after ever_booted */
    int64_t spawn_after_ms;         /* back-off after boot failures */
    pid_t replacing;                /* a recycle's replacement, or 0 */
    long long oom_kills;            /* cgroup memory.events, last read */
    int last_logged;                /* worker count last logged */
    int pipe_r;
    unsigned char queue[QUEUE_MAX];
    int nqueue;
    enum stop_mode stop;
    int status;
    const char *reason;
    char *pidfile;                  /* the path we wrote, or NULL */
    struct cu_upgrade *up;          /* cfg->upgrade: USR2, or NULL */
    int ready_owed;                 /* READY=1 to systemd once booted */
    int ninstalled;
    struct sigaction old_act[10];
    sigset_t old_mask;
    int mask_saved;
};

/* The handled signals, in the order of old_act[]. */
static const int handled[] = {
    SIGHUP, SIGINT, SIGQUIT, SIGTERM, SIGTTIN, SIGTTOU,
    SIGUSR1, SIGUSR2, SIGWINCH, SIGCHLD,
};
#define NHANDLED ((int)(sizeof(handled) / sizeof(handled[0])))
_Static_assert(NHANDLED == 10, "old_act[] holds one entry per signal");

/* The write end of the self-pipe, for the handler: one master per process. */
static int sig_pipe_w = -1;

static const struct {
    int signo;
    const char *name;
} signames[] = {
    {SIGHUP, "HUP"}, {SIGINT, "INT"}, {SIGQUIT, "QUIT"}, {SIGILL, "ILL"},
    {SIGTRAP, "TRAP"}, {SIGABRT, "ABRT"}, {SIGBUS, "BUS"}, {SIGFPE, "FPE"},
    {SIGKILL, "KILL"}, {SIGUSR1, "USR1"}, {SIGSEGV, "SEGV"},
    {SIGUSR2, "USR2"}, {SIGPIPE, "PIPE"}, {SIGALRM, "ALRM"},
    {SIGTERM, "TERM"}, {SIGCHLD, "CHLD"}, {SIGCONT, "CONT"},
    {SIGSTOP, "STOP"}, {SIGTSTP, "TSTP"}, {SIGTTIN, "TTIN"},
    {SIGTTOU, "TTOU"}, {SIGURG, "URG"}, {SIGXCPU, "XCPU"},
    {SIGXFSZ, "XFSZ"}, {SIGVTALRM, "VTALRM"}, {SIGPROF, "PROF"},
    {SIGWINCH, "WINCH"}, {SIGSYS, "SYS"},
};

static const char *signame(int signo)
{
    for (size_t i = 0; i < sizeof(signames) / sizeof(signames[0]); i++)
        if (signames[i].signo == signo)
            return signames[i].name;
    return NULL;
}

/* "hup", "ttin": how Gunicorn names a signal in "Handling signal: ...". */
static const char *signame_lower(int signo, char *buf, size_t len)
{
    const char *n = signame(signo);
    size_t i;

    if (n == NULL) {
        (void)snprintf(buf, len, "%d", signo);
        return buf;
    }
    for (i = 0; n[i] != '\0' && i + 1 < len; i++)
        buf[i] = (char)tolower((unsigned char)n[i]);
    buf[i] = '\0';
    return buf;
}

void cu_heartbeat(struct cu_worker_slot *slot)
{
    __atomic_store_n(&slot->beat_ms, cu_now_ms(), __ATOMIC_RELAXED);
}

static void on_signal(int signo)
{
    int saved = errno;
    unsigned char b = (unsigned char)signo;

    if (write(sig_pipe_w, &b, 1) < 0) {
        /* Pipe full: the loop is far behind and will reap anyway. */
    }
    errno = saved;
}

/* ---- pidfile (§2.7) ---- */

/* The pid in path, 0 if none, unreadable or garbage. */
static pid_t pidfile_read(const char *path)
{
    char buf[32];
    ssize_t n;
    long v;
    char *end;
    int fd = open(path, O_RDONLY | O_CLOEXEC);

    if (fd < 0)
        return 0;
    n = read(fd, buf, sizeof(buf) - 1);
    close(fd);
    if (n <= 0)
        return 0;
    buf[n] = '\0';
    errno = 0;
    v = strtol(buf, &end, 10);
    if (errno != 0 || end == buf || v <= 0 || v > INT_MAX)
        return 0;
    return (pid_t)v;
}

/* Writes "<pid>\n" through a temporary file renamed over path (0644).
 * Refuses when path names another live process. 0 or -1 (logged). */
static int pidfile_create(const char *path)
{
    pid_t old = pidfile_read(path), me = getpid();
    char tmp[PATH_MAX], line[32];
    int fd, n;

    if (old > 0 && old != me && (kill(old, 0) == 0 || errno == EPERM)) {
        cu_log(CU_ERROR, "Already running on PID %d (or pid file '%s' is stale)",
               (int)old, path);
        return -1;
    }
    if (snprintf(tmp, sizeof(tmp), "%s.XXXXXX", path) >= (int)sizeof(tmp)) {
        cu_log(CU_ERROR, "pidfile path too long: %s", path);
        return -1;
    }
    fd = mkostemp(tmp, O_CLOEXEC);
    if (fd < 0) {
        cu_log(CU_ERROR, "Can't create pidfile %s: %s", path, strerror(errno));
        return -1;
    }
    n = snprintf(line, sizeof(line), "%d\n", (int)me);
    if (fchmod(fd, 0644) < 0 || write(fd, line, (size_t)n) != n) {
        cu_log(CU_ERROR, "Can't write pidfile %s: %s", path, strerror(errno));
        close(fd);
        unlink(tmp);
        return -1;
    }
    if (close(fd) < 0 || rename(tmp, path) < 0) {
        cu_log(CU_ERROR, "Can't write pidfile %s: %s", path, strerror(errno));
        unlink(tmp);
        return -1;
    }
    return 0;
}

/* Removes path if it still holds our pid. */
static void pidfile_unlink(const char *path)
{
    if (pidfile_read(path) == getpid() && unlink(path) < 0)
        cu_log(CU_WARNING, "Can't remove pidfile %s: %s", path, strerror(errno));
}

static void pidfile_remove(struct master *m)
{
    if (m->pidfile == NULL)
        return;
    pidfile_unlink(m->pidfile);
    free(m->pidfile);
    m->pidfile = NULL;
}

/* path, or "path.2" while this master is a USR2 child not yet promoted
 * (§2.6). NULL when out of memory. */
static char *pidfile_name(const struct master *m, const char *path)
{
    size_t n = strlen(path);
    char *p;

    if (m->up == NULL || m->up->parent == 0)
        return strdup(path);
    p = malloc(n + 3);
    if (p != NULL) {
        memcpy(p, path, n);
        memcpy(p + n, ".2", 3);
    }
    return p;
}

/* Writes cfg->pidfile (if any; ".2" added while a USR2 child) and
 * remembers its path. 0 or -1. */
static int pidfile_start(struct master *m)
{
    const char *path = m->cfg->pidfile;

    if (path == NULL || path[0] == '\0')
        return 0;
    m->pidfile = pidfile_name(m, path);
    if (m->pidfile == NULL) {
        cu_log(CU_ERROR, "out of memory");
        return -1;
    }
    if (pidfile_create(m->pidfile) < 0) {
        free(m->pidfile);
        m->pidfile = NULL;
        return -1;
    }
    return 0;
}

/* HUP: write cfg->pidfile again (renamed over the old one when the path is
 * the same), and remove the old one when the path changed. */
static int pidfile_restart(struct master *m)
{
    char *old = m->pidfile;
    int rc;

    m->pidfile = NULL;
    rc = pidfile_start(m);
    if (old != NULL && (m->pidfile == NULL || strcmp(old, m->pidfile) != 0))
        pidfile_unlink(old);
    free(old);
    return rc;
}

/* ---- signals ---- */

static int signals_install(struct master *m)
{
    struct sigaction sa;
    sigset_t ours;
    int fds[2];

    if (pipe2(fds, O_CLOEXEC | O_NONBLOCK) < 0) {
        cu_log(CU_ERROR, "pipe2: %s", strerror(errno));
        return -1;
    }
    m->pipe_r = fds[0];
    sig_pipe_w = fds[1];

    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    sigemptyset(&ours);
    for (int i = 0; i < NHANDLED; i++) {
        sigaddset(&sa.sa_mask, handled[i]);
        sigaddset(&ours, handled[i]);
    }
    for (int i = 0; i < NHANDLED; i++) {
        sa.sa_flags = SA_RESTART | (handled[i] == SIGCHLD ? SA_NOCLDSTOP : 0);
        if (sigaction(handled[i], &sa, &m->old_act[i]) < 0) {
            cu_log(CU_ERROR, "sigaction: %s", strerror(errno));
            return -1;
        }
        m->ninstalled = i + 1;
    }
    if (sigprocmask(SIG_UNBLOCK, &ours, &m->old_mask) < 0) {
        cu_log(CU_ERROR, "sigprocmask: %s", strerror(errno));
        return -1;
    }
    m->mask_saved = 1;
    return 0;
}

static void signals_restore(struct master *m)
{
    for (int i = 0; i < m->ninstalled; i++)
        sigaction(handled[i], &m->old_act[i], NULL);
    m->ninstalled = 0;
    if (m->mask_saved)
        sigprocmask(SIG_SETMASK, &m->old_mask, NULL);
    m->mask_saved = 0;
    if (sig_pipe_w >= 0)
        close(sig_pipe_w);
    sig_pipe_w = -1;
    if (m->pipe_r >= 0)
        close(m->pipe_r);
    m->pipe_r = -1;
}

/*
 * Sleeps until a signal arrives or ms pass, then moves the pending signals
 * into the queue. SIGCHLD is not queued: the loop reaps on every tick.
 */
static void wait_signals(struct master *m, int ms)
{
    struct pollfd p = {.fd = m->pipe_r, .events = POLLIN};
    unsigned char buf[64];
    char name[16];
    ssize_t n;
    int chld = 0;

    if (poll(&p, 1, ms) <= 0)
        return;             /* timeout, EINTR: the caller loops */
    while ((n = read(m->pipe_r, buf, sizeof(buf))) > 0) {
        for (ssize_t i = 0; i < n; i++) {
            if (buf[i] == SIGCHLD)
                chld = 1;
            else if (m->nqueue < QUEUE_MAX)
                m->queue[m->nqueue++] = buf[i];
            else
                cu_log(CU_WARNING, "Ignoring rapid signaling: %s",
                       signame_lower(buf[i], name, sizeof(name)));
        }
    }
    if (chld)
        cu_log(CU_DEBUG, "Handling signal: chld");
}

static int queue_pop(struct master *m)
{
    int sig = m->queue[0];

    m->nqueue--;
    memmove(m->queue, m->queue + 1, (size_t)m->nqueue);
    return sig;
}

/* ---- systemd notifications ---- */

/* sd_notify, unless this is a USR2 child not yet promoted: systemd knows
 * the old master as the service's main process until it hands over. */
__attribute__((format(printf, 2, 3)))
static void notify(const struct master *m, const char *fmt, ...)
{
    char msg[256], err[256];
    va_list ap;
    int n;

    if (!cu_sd_notify_enabled() || (m->up != NULL && m->up->parent != 0))
        return;
    va_start(ap, fmt);
    n = vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    if (n < 0 || (size_t)n >= sizeof(msg))
        cu_log(CU_WARNING, "sd_notify: message too long");
    else if (cu_sd_notify(msg, err, sizeof(err)) < 0)
        cu_log(CU_WARNING, "sd_notify: %s", err);
}

/* READY=1 once every worker the master keeps has booted (its app loaded). */
static void notify_if_ready(struct master *m)
{
    int booted = 0;

    if (!m->ready_owed)
        return;
    for (int i = 0; i < CU_MAX_WORKERS; i++) {
        const struct worker *w = &m->w[i];

        if (w->pid <= 0 || w->retiring || w->aborted || w->killed)
            continue;
        if (!__atomic_load_n(&m->slots[i].booted, __ATOMIC_RELAXED))
            return;
        booted++;
    }
    if (booted < m->cfg->workers)
        return;
    m->ready_owed = 0;
    notify(m, "READY=1\nSTATUS=cunicorn arbiter booted\nMAINPID=%d",
           (int)getpid());
}

/* HUP: systemd's reload protocol; READY=1 follows once the workers of the
 * new configuration are up (or at once, if the reload fails). */
static void notify_reloading(struct master *m)
{
    notify(m, "RELOADING=1\nSTATUS=Reloading\nMONOTONIC_USEC=%lld",
           (long long)cu_now_us());
    m->ready_owed = 1;
}

/* On the way out: STOPPING=1, or, when a USR2 child runs on our
 * listeners, MAINPID=<child> so that systemd follows the new master. */
static void notify_stopping(struct master *m)
{
    if (m->up != NULL && m->up->child != 0)
        notify(m, "MAINPID=%d\nSTATUS=Handed over to the new master",
               (int)m->up->child);
    else
        notify(m, "STOPPING=1");
}

/* The loop's sleep, shorter while READY=1 waits for workers to boot. */
static int notify_wait_ms(const struct master *m, int ms)
{
    return m->ready_owed && ms > READY_POLL_MS && cu_sd_notify_enabled()
           ? READY_POLL_MS : ms;
}

/* ---- USR2: the binary upgrade (§2.6, master/upgrade.h) ---- */

static void upgrade_boot(struct master *m)
{
    m->up = m->cfg->upgrade;
    if (m->up == NULL)
        return;
    m->up->child = 0;
    if (m->up->parent != 0)
        cu_log(CU_INFO, "Started by USR2 of the master (pid:%d)",
               (int)m->up->parent);
}

static void upgrade_report(const struct cu_upgrade *u,
                           const struct cu_upgrade_report *r)
{
    const char *what = r->step == CU_UPGRADE_FCNTL ? "make the listeners "
                       "inheritable" : r->step == CU_UPGRADE_CHDIR ? "chdir to"
                       : "exec";
    const char *arg = r->step == CU_UPGRADE_CHDIR ? u->cwd
                      : r->step == CU_UPGRADE_EXEC ? u->argv[0] : "";

    cu_log(CU_ERROR, "USR2: the new master could not %s %s: %s", what, arg,
           strerror(r->err));
}

static int hook(struct master *m, int which, pid_t pid, int age, int old);

/* The new master's side of the fork: never returns. */
__attribute__((noreturn))
static void reexec_child(struct master *m, const struct cu_upgrade_exec *x,
                         int report_fd)
{
    /* The dispositions and mask the server started with: nothing of ours
     * may run (or write to the self-pipe) before the exec. */
    for (int i = 0; i < m->ninstalled; i++)
        sigaction(handled[i], &m->old_act[i], NULL);
    sigprocmask(SIG_SETMASK, &m->old_mask, NULL);
    cu_upgrade_child(x, m->up, report_fd);
}

/* Waits (briefly: until the exec) for the child's report. 1 when it
 * failed (and is reaped), 0 when it exec'd. */
static int reexec_failed(struct master *m, pid_t pid, int report_fd)
{
    struct cu_upgrade_report r;
    ssize_t n;
    int status;

    do
        n = read(report_fd, &r, sizeof(r));
    while (n < 0 && errno == EINTR);
    if (n != (ssize_t)sizeof(r))
        return 0;
    upgrade_report(m->up, &r);
    while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
        ;
    return 1;
}

/* USR2: fork, and exec a new master that inherits the listeners. The
 * child runs no Python before its exec (as subprocess's fork_exec) but
 * the pre_exec hook, when there is a hook callback. */
static void reexec(struct master *m)
{
    struct cu_upgrade *u = m->up;
    struct cu_upgrade_exec x;
    char err[256];
    sigset_t all, prev;
    int fds[2], fork_errno;
    pid_t pid;

    if (u == NULL) {
        cu_log(CU_WARNING, "USR2 signal ignored: no re-exec configured");
        return;
    }
    if (u->child != 0) {
        cu_log(CU_WARNING, "USR2 signal ignored. Child exists.");
        return;
    }
    if (u->parent != 0) {
        cu_log(CU_WARNING, "USR2 signal ignored. Parent exists.");
        return;
    }
    if (cu_upgrade_prepare(&x, u, err, sizeof(err)) < 0) {
        cu_log(CU_ERROR, "USR2: cannot start a new master: %s", err);
        return;
    }
    if (pipe2(fds, O_CLOEXEC) < 0) {
        cu_log(CU_ERROR, "USR2: pipe2: %s", strerror(errno));
        cu_upgrade_discard(&x);
        return;
    }
    sigfillset(&all);
    sigprocmask(SIG_BLOCK, &all, &prev);
    /* the pre_exec hook runs Python in the child: the interpreter's fork
     * protocol then, as for a worker */
    if (m->ops->hook != NULL && m->ops->before_fork != NULL)
        m->ops->before_fork(m->ctx);
    pid = fork();
    if (pid == 0) {
        close(fds[0]);
        if (m->ops->hook != NULL) {
            if (m->ops->after_fork_child != NULL)
                m->ops->after_fork_child(m->ctx);
            (void)hook(m, CU_MASTER_HOOK_PRE_EXEC, 0, 0, 0);
        }
        reexec_child(m, &x, fds[1]);
    }
    fork_errno = errno;
    if (m->ops->hook != NULL && m->ops->after_fork_parent != NULL)
        m->ops->after_fork_parent(m->ctx);
    sigprocmask(SIG_SETMASK, &prev, NULL);
    close(fds[1]);
    if (pid < 0)
        cu_log(CU_ERROR, "USR2: fork: %s", strerror(fork_errno));
    else if (!reexec_failed(m, pid, fds[0])) {
        u->child = pid;
        cu_log(CU_INFO, "USR2: new master started (pid:%d)", (int)pid);
    }
    close(fds[0]);
    cu_upgrade_discard(&x);
}

/* reap(): the USR2 child exited; another USR2 may start a new one. */
static void reexec_reaped(struct master *m, int status)
{
    if (WIFEXITED(status) && WEXITSTATUS(status) == 0)
        cu_log(CU_INFO, "New master (pid:%d) exited", (int)m->up->child);
    else if (WIFEXITED(status))
        cu_log(CU_WARNING, "New master (pid:%d) exited with code %d",
               (int)m->up->child, WEXITSTATUS(status));
    else if (WIFSIGNALED(status))
        cu_log(CU_WARNING, "New master (pid:%d) was killed by signal %d",
               (int)m->up->child, WTERMSIG(status));
    m->up->child = 0;
}

/* Every tick of a USR2 child: once the old master is gone (we have a new
 * parent), take over its name: pidfile without ".2", and systemd's READY. */
static void maybe_promote(struct master *m)
{
    if (m->up == NULL || m->up->parent == 0 || getppid() == m->up->parent)
        return;
    cu_log(CU_INFO, "Master has been promoted.");
    m->up->parent = 0;
    if (unsetenv("GUNICORN_PID") < 0)
        cu_log(CU_WARNING, "unsetenv GUNICORN_PID: %s", strerror(errno));
    if (m->pidfile != NULL && pidfile_restart(m) < 0)
        cu_log(CU_ERROR, "Continuing without a pidfile");
    m->ready_owed = 1;
}

/* ---- workers ---- */

static int count_active(const struct master *m)
{
    int n = 0;

    for (int i = 0; i < CU_MAX_WORKERS; i++)
        if (m->w[i].pid > 0 && !m->w[i].retiring && !m->w[i].aborted &&
            !m->w[i].killed && !m->w[i].recycling && m->w[i].gen == m->gen)
            n++;
    return n;
}

static void forget(struct master *m, struct worker *w)
{
    memset(w, 0, sizeof(*w));
    m->nlive--;
}

/* kill(2); a worker that is already gone (reaped elsewhere) is forgotten. */
static void signal_worker(struct master *m, struct worker *w, int sig)
{
    if (kill(w->pid, sig) == 0)
        return;
    if (errno == ESRCH) {
        cu_log(CU_DEBUG, "Worker (pid:%d) is already gone", (int)w->pid);
        forget(m, w);
        return;
    }
    cu_log(CU_ERROR, "kill(%d, SIG%s): %s", (int)w->pid, signame(sig),
           strerror(errno));
}

static void kill_worker(struct master *m, struct worker *w)
{
    w->killed = 1;
    signal_worker(m, w, SIGKILL);
}

/* TERM, and a deadline after which it gets SIGKILL. */
static void retire(struct master *m, struct worker *w, int cause)
{
    if (!w->cause)
        w->cause = cause;
    w->retiring = 1;
    w->kill_at_ms = cu_now_ms() + (int64_t)m->cfg->graceful_timeout * 1000;
    signal_worker(m, w, SIGTERM);
}

/* sig to every worker we have not killed yet. */
static void signal_all(struct master *m, int sig)
{
    for (int i = 0; i < CU_MAX_WORKERS; i++)
        if (m->w[i].pid > 0 && !m->w[i].killed)
            signal_worker(m, &m->w[i], sig);
}

static void kill_all(struct master *m)
{
    for (int i = 0; i < CU_MAX_WORKERS; i++)
        if (m->w[i].pid > 0 && !m->w[i].killed)
            kill_worker(m, &m->w[i]);
}

static struct worker *find_worker(struct master *m, pid_t pid)
{
    for (int i = 0; i < CU_MAX_WORKERS; i++)
        if (m->w[i].pid == pid)
            return &m->w[i];
    return NULL;
}

/* A server hook, if the caller has them. */
static int hook(struct master *m, int which, pid_t pid, int age, int old)
{
    return m->ops->hook != NULL ? m->ops->hook(m->ctx, which, pid, age, old) : 0;
}

/* In the new process: never returns. */
static void worker_child(struct master *m, int age, struct cu_worker_slot *s,
                         const sigset_t *mask)
{
    struct sigaction dfl;

    memset(&dfl, 0, sizeof(dfl));
    dfl.sa_handler = SIG_DFL;
    sigemptyset(&dfl.sa_mask);
    for (int i = 0; i < NHANDLED; i++)
        sigaction(handled[i], &dfl, NULL);
    close(m->pipe_r);
    close(sig_pipe_w);
    m->pipe_r = -1;
    sig_pipe_w = -1;
    sigprocmask(SIG_SETMASK, mask, NULL);

    cu_log(CU_INFO, "Booting worker with pid: %d", (int)getpid());
    if (m->ops->after_fork_child != NULL)
        m->ops->after_fork_child(m->ctx);
    _exit(m->ops->worker_main(m->ctx, age, s));
}

/* Forks one worker of generation gen into a free slot. Its pid, or -1
 * (logged). */
static int spawn(struct master *m, int gen)
{
    const struct cu_master_ops *ops = m->ops;
    struct cu_worker_slot *s;
    sigset_t all, prev;
    pid_t pid;
    int i, err, age;

    for (i = 0; i < CU_MAX_WORKERS && m->w[i].pid != 0; i++)
        ;
    if (i == CU_MAX_WORKERS) {
        cu_log(CU_WARNING, "No free worker slot (%d in use)", CU_MAX_WORKERS);
        return -1;
    }
    s = &m->slots[i];
    memset(s, 0, sizeof(*s));
    cu_heartbeat(s);
    age = ++m->age;
    (void)hook(m, CU_MASTER_HOOK_PRE_FORK, 0, age, 0);

    /* Nothing may run our handler in the child before it resets them. */
    sigfillset(&all);
    sigprocmask(SIG_BLOCK, &all, &prev);
    if (ops->before_fork != NULL)
        ops->before_fork(m->ctx);
    pid = fork();
    if (pid == 0)
        worker_child(m, age, s, &prev);
    err = errno;
    if (ops->after_fork_parent != NULL)
        ops->after_fork_parent(m->ctx);
    sigprocmask(SIG_SETMASK, &prev, NULL);
    if (pid < 0) {
        cu_log(CU_ERROR, "fork: %s", strerror(err));
        return -1;
    }
    memset(&m->w[i], 0, sizeof(m->w[i]));
    m->w[i].pid = pid;
    m->w[i].age = age;
    m->w[i].gen = gen;
    m->w[i].born_ms = cu_now_ms();
    m->nlive++;
    return (int)pid;
}

/* Spawns up to cfg->workers, or retires the oldest extra workers. */
static void manage_workers(struct master *m)
{
    int active = count_active(m);

    if (cu_now_ms() >= m->spawn_after_ms)
        while (active < m->cfg->workers && spawn(m, m->gen) > 0)
            active++;
    while (active > m->cfg->workers) {
        struct worker *oldest = NULL;

        for (int i = 0; i < CU_MAX_WORKERS; i++) {
            struct worker *w = &m->w[i];

            if (w->pid > 0 && !w->retiring && !w->aborted && !w->killed &&
                !w->recycling && w->gen == m->gen &&
                (oldest == NULL || w->age < oldest->age))
                oldest = w;
        }
        retire(m, oldest, CAUSE_TTOU);
        active--;
    }
    if (active != m->last_logged) {
        m->last_logged = active;
        cu_log(CU_DEBUG, "%d workers", active);
    }
}

/* ---- deaths ---- */

static const char *cause_text(int cause)
{
    static const char *const recycle[] = {
        "recycled", "recycled after --max-requests",
        "recycled after --max-worker-lifetime", "recycled over --max-worker-memory",
        "recycled: a request thread would not return"};

    switch (cause) {
    case CAUSE_RELOAD: return "retired by a reload (HUP)";
    case CAUSE_RELOAD_FAILED: return "stopped: the reload it was started for failed";
    case CAUSE_TTOU: return "retired: fewer workers wanted (TTOU)";
    case CAUSE_WINCH: return "retired by WINCH";
    case CAUSE_STOP: return "stopped with the master";
    default:
        if (cause >= CAUSE_RECYCLE &&
            cause - CAUSE_RECYCLE < (int)(sizeof(recycle) / sizeof(recycle[0])))
            return recycle[cause - CAUSE_RECYCLE];
        return NULL;
    }
}

/* The cgroup's OOM kill count: "oom_kill N" in memory.events (cgroup v2)
 * or memory.oom_control (v1). -1 when neither can be read. */
static long long oom_kill_count(void)
{
    char line[512], v2[600] = "", v1[600] = "";
    long long n = -1;
    FILE *f = fopen("/proc/self/cgroup", "r");

    if (!f)
        return -1;
    while (fgets(line, sizeof(line), f)) {
        line[strcspn(line, "\n")] = '\0';
        if (strncmp(line, "0::", 3) == 0)
            (void)snprintf(v2, sizeof(v2), "/sys/fs/cgroup%s/memory.events", line + 3);
        else if (strstr(line, ":memory:"))
            (void)snprintf(v1, sizeof(v1), "/sys/fs/cgroup/memory%s/memory.oom_control",
                           strstr(line, ":memory:") + 8);
    }
    (void)fclose(f);
    if (!(f = fopen(v2, "r")) && !(f = fopen(v1, "r")))
        return -1;
    while (fgets(line, sizeof(line), f))
        if (sscanf(line, "oom_kill %lld", &n) == 1)
            break;
    (void)fclose(f);
    return n;
}

/* Says how a worker ended, whatever the cause (issue: honest deaths). */
static void log_exit(struct master *m, const struct worker *w, int status)
{
    const char *why = cause_text(w->cause);

    if (WIFEXITED(status)) {
        int code = WEXITSTATUS(status);
        if (w->aborted)
            cu_log(CU_ERROR, "Worker (pid:%d) exited with code %d after WORKER "
                   "TIMEOUT (SIGABRT from the master)", (int)w->pid, code);
        else if (code != 0)
            cu_log(CU_ERROR, "Worker (pid:%d) exited with code %d.", (int)w->pid, code);
        else if (why)
            cu_log(CU_INFO, "Worker (pid:%d) exited: %s", (int)w->pid, why);
        else
            cu_log(CU_INFO, "Worker (pid:%d) exited on its own (code 0)", (int)w->pid);
        return;
    }
    if (!WIFSIGNALED(status))
        return;

    int sig = WTERMSIG(status);
    const char *name = signame(sig);
    char buf[32];

    if (name != NULL)
        (void)snprintf(buf, sizeof(buf), "SIG%s", name);
    else
        (void)snprintf(buf, sizeof(buf), "signal %d", sig);
    if (sig == SIGKILL && w->killed) {
        cu_log(CU_WARNING, "Worker (pid:%d) was killed by the master (SIGKILL)%s",
               (int)w->pid, w->aborted ? " after WORKER TIMEOUT"
                            : w->retiring || w->cause == CAUSE_STOP
                                ? " after graceful_timeout" : "");
    } else if (sig == SIGKILL) {
        long long oom = oom_kill_count();
        if (oom > m->oom_kills && m->oom_kills >= 0)
            cu_log(CU_ERROR, "Worker (pid:%d) was killed by the kernel's OOM killer "
                   "(the cgroup's oom_kill count went from %lld to %lld)", (int)w->pid,
                   m->oom_kills, oom);
        else if (oom >= 0)
            cu_log(CU_ERROR, "Worker (pid:%d) was sent SIGKILL from outside the "
                   "master (the cgroup counts no new OOM kill)", (int)w->pid);
        else
            cu_log(CU_ERROR, "Worker (pid:%d) was sent SIGKILL! Perhaps out of memory?",
                   (int)w->pid);
        m->oom_kills = oom;
    } else if (sig == SIGTERM) {
        cu_log(CU_INFO, "Worker (pid:%d) was sent %s!", (int)w->pid, buf);
    } else {
        cu_log(CU_WARNING, "Worker (pid:%d) was sent %s!", (int)w->pid, buf);
    }
}

/* Retires every worker of generation gen (or older when older is set). */
static void retire_gen(struct master *m, int gen, int older, int cause)
{
    for (int i = 0; i < CU_MAX_WORKERS; i++) {
        struct worker *w = &m->w[i];

        if (w->pid > 0 && !w->retiring && !w->killed &&
            (older ? w->gen <= gen : w->gen == gen))
            retire(m, w, cause);
    }
}

/* A worker that exited 3 or 4 (it could not boot, or load the app). At
 * start that stops the master, as in Gunicorn; during a reload it aborts
 * the reload and the old workers go on; later, respawns back off. */
static void boot_failed(struct master *m, pid_t pid, int gen, int code)
{
    const char *what = code == CU_EXIT_APP_LOAD ? "the app failed to load"
                                                : "the worker failed to boot";
    int64_t wait;

    if (m->next_gen && gen == m->next_gen) {
        cu_log(CU_ERROR, "Reload failed: a new worker could not start (%s); "
               "keeping the old workers", what);
        retire_gen(m, m->next_gen, 0, CAUSE_RELOAD_FAILED);
        m->next_gen = 0;
        return;
    }
    if (!m->ever_booted) {
        if (m->status == 0) {
            m->status = code;
            m->reason = code == CU_EXIT_APP_LOAD ? "App failed to load."
                                                 : "Worker failed to boot.";
            m->stop = STOP_GRACEFUL;
        }
        return;
    }
    m->boot_failures++;
    wait = 1000LL << (m->boot_failures > 5 ? 5 : m->boot_failures - 1);
    m->spawn_after_ms = cu_now_ms() + wait;
    cu_log(CU_ERROR, "Worker (pid:%d) could not start (%s), %d time%s in a row; "
           "next try in %llds", (int)pid, what, m->boot_failures,
           m->boot_failures == 1 ? "" : "s", (long long)(wait / 1000));
}

/* Reaps every exited child. With halt set, a worker that failed to boot or
 * to load the app is acted on (boot_failed). */
static void reap(struct master *m, int halt)
{
    for (;;) {
        int status;
        pid_t pid = waitpid(-1, &status, WNOHANG);
        struct worker *w;

        if (pid < 0 && errno == EINTR)
            continue;
        if (pid <= 0)
            return;         /* none left to reap now, or ECHILD */
        if (m->up != NULL && m->up->child == pid) {
            reexec_reaped(m, status);
            continue;
        }
        w = find_worker(m, pid);
        if (w == NULL)
            continue;       /* not a worker: reaped silently */
        if (m->slots[w - m->w].booted && !w->booted) {  /* booted since the last tick */
            w->booted = 1;
            m->ever_booted = 1;
        }
        log_exit(m, w, status);
        (void)hook(m, CU_MASTER_HOOK_CHILD_EXIT, pid, w->age, 0);
        if (pid == m->replacing) {
            /* the replacement died before it was up: the recycle starts
             * over on a later tick */
            m->replacing = 0;
            for (int i = 0; i < CU_MAX_WORKERS; i++)
                m->w[i].recycling = 0;
        }
        {
            int failed = halt && WIFEXITED(status) && !w->booted &&
                         (WEXITSTATUS(status) == CU_EXIT_WORKER_BOOT ||
                          WEXITSTATUS(status) == CU_EXIT_APP_LOAD);
            int gen = w->gen;

            /* out of the table first: what boot_failed retires is alive */
            forget(m, w);
            if (failed)
                boot_failed(m, pid, gen, WEXITSTATUS(status));
        }
    }
}

/* ---- boots, reloads and recycles ---- */

static const char *recycle_text(int reason)
{
    return cause_text(CAUSE_RECYCLE + reason);
}

/* What the workers' slots say: booted (a reload or a recycle may go on),
 * and asked to be recycled. */
static void check_booted(struct master *m)
{
    int booted_next = 0, want_next = 0;

    for (int i = 0; i < CU_MAX_WORKERS; i++) {
        struct worker *w = &m->w[i];

        if (w->pid <= 0 || w->retiring || w->killed)
            continue;
        if (!w->booted && m->slots[i].booted) {
            w->booted = 1;
            m->ever_booted = 1;
            m->boot_failures = 0;
            m->spawn_after_ms = 0;
        }
        if (m->next_gen && w->gen == m->next_gen) {
            want_next++;
            booted_next += w->booted;
        }
        if (w->pid == m->replacing && w->booted) {
            /* the replacement is up: now the one it replaces goes */
            m->replacing = 0;
            for (int j = 0; j < CU_MAX_WORKERS; j++)
                if (m->w[j].recycling && m->w[j].pid > 0 && !m->w[j].retiring)
                    retire(m, &m->w[j], CAUSE_RECYCLE + m->w[j].recycling);
        }
    }
    if (m->next_gen && want_next == 0) {
        /* every new worker died (a signal, a crash, a timeout in its boot)
         * before it was up: the reload is off, as in boot_failed */
        cu_log(CU_ERROR, "Reload failed: the new workers died before they were up; "
               "keeping the old workers");
        m->next_gen = 0;
    }
    if (m->next_gen && want_next > 0 && booted_next == want_next) {
        cu_log(CU_INFO, "Reloaded: %d new worker%s up; retiring the old ones",
               want_next, want_next == 1 ? "" : "s");
        retire_gen(m, m->gen, 1, CAUSE_RELOAD);
        m->gen = m->next_gen;
        m->next_gen = 0;
    }
}

/* RSS of a process in MiB, or -1. */
static long rss_mib(pid_t pid)
{
    char path[64];
    long pages = -1, resident = -1;
    FILE *f;

    (void)snprintf(path, sizeof(path), "/proc/%d/statm", (int)pid);
    if (!(f = fopen(path, "r")))
        return -1;
    if (fscanf(f, "%ld %ld", &pages, &resident) != 2)
        resident = -1;
    (void)fclose(f);
    return resident < 0 ? -1 : resident * (sysconf(_SC_PAGESIZE) / 1024) / 1024;
}

/* One recycle at a time: the first serving worker that asks for one (or
 * is past its lifetime or memory cap) gets a replacement; it is retired
 * once the replacement is up (check_booted). */
static void check_recycle(struct master *m)
{
    int64_t now = cu_now_ms();

    if (m->replacing || m->next_gen || m->stop != RUNNING || now < m->spawn_after_ms)
        return;  /* one at a time; none while boots back off */
    for (int i = 0; i < CU_MAX_WORKERS; i++) {
        struct worker *w = &m->w[i];
        int reason = 0;
        long rss = -1;

        if (w->pid <= 0 || w->retiring || w->killed || w->aborted || !w->booted ||
            w->gen != m->gen)
            continue;
        if (m->slots[i].recycle)
            reason = m->slots[i].recycle;
        else if (m->cfg->max_worker_lifetime > 0 &&
                 now - w->born_ms >= (int64_t)m->cfg->max_worker_lifetime * 1000)
            reason = CU_RECYCLE_LIFETIME;
        else if (m->cfg->max_worker_memory > 0 &&
                 (rss = rss_mib(w->pid)) > m->cfg->max_worker_memory)
            reason = CU_RECYCLE_MEMORY;
        if (!reason)
            continue;
        if (reason == CU_RECYCLE_MEMORY)
            cu_log(CU_WARNING, "Worker (pid:%d) uses %ld MiB, over "
                   "--max-worker-memory %d: replacing it", (int)w->pid, rss,
                   m->cfg->max_worker_memory);
        else
            cu_log(CU_INFO, "Worker (pid:%d) to be %s: starting its replacement",
                   (int)w->pid, recycle_text(reason));
        w->recycling = reason;
        m->replacing = spawn(m, m->gen);
        if (m->replacing < 0) {
            m->replacing = 0;
            w->recycling = 0;
        }
        return;
    }
}

/* Heartbeat timeouts (§2.4) and the deadlines of retiring workers. */
static void murder_workers(struct master *m)
{
    int64_t now = cu_now_ms(), limit = (int64_t)m->cfg->timeout * 1000;

    for (int i = 0; i < CU_MAX_WORKERS; i++) {
        struct worker *w = &m->w[i];

        if (w->pid <= 0 || w->killed)
            continue;
        if (w->aborted) {
            if (now - w->abort_ms >= ABORT_GRACE_MS)
                kill_worker(m, w);
            continue;
        }
        if (w->retiring && now >= w->kill_at_ms) {
            cu_log(CU_WARNING, "Worker (pid:%d) still running after "
                   "graceful_timeout; sending SIGKILL", (int)w->pid);
            kill_worker(m, w);
            continue;
        }
        if (limit <= 0 ||
            now - __atomic_load_n(&m->slots[i].beat_ms, __ATOMIC_RELAXED) <= limit)
            continue;
        cu_log(CU_CRITICAL, "WORKER TIMEOUT (pid:%d)", (int)w->pid);
        w->aborted = 1;
        w->abort_ms = now;
        signal_worker(m, w, SIGABRT);
    }
}

/* How long the loop may sleep before murder_workers has work to do. */
static int next_wait_ms(const struct master *m)
{
    int64_t now = cu_now_ms(), next = now + TICK_MS;
    int64_t limit = (int64_t)m->cfg->timeout * 1000;

    for (int i = 0; i < CU_MAX_WORKERS; i++) {
        const struct worker *w = &m->w[i];
        int64_t t;

        if (w->pid <= 0 || w->killed)
            continue;
        if (w->aborted) {
            t = w->abort_ms + ABORT_GRACE_MS;
        } else {
            t = w->retiring ? w->kill_at_ms : next;
            if (limit > 0) {
                int64_t beat = __atomic_load_n(&m->slots[i].beat_ms,
                                               __ATOMIC_RELAXED);
                if (beat + limit + 1 < t)
                    t = beat + limit + 1;
            }
        }
        if (t < next)
            next = t;
    }
    return next <= now ? 0 : (int)(next - now);
}

/* ---- configuration and the signal actions ---- */

static int config_valid(const struct cu_master_config *cfg)
{
    if (cfg->workers < 0 || cfg->workers > CU_MAX_WORKERS) {
        cu_log(CU_ERROR, "workers must be between 0 and %d, not %d",
               CU_MAX_WORKERS, cfg->workers);
        return 0;
    }
    if (cfg->timeout < 0 || cfg->graceful_timeout < 0) {
        cu_log(CU_ERROR, "timeout and graceful_timeout must not be negative");
        return 0;
    }
    return 1;
}

/* HUP: new configuration, a new generation of workers; the old ones are
 * retired only once every new one is up (check_booted), and stay when a
 * new one cannot start (boot_failed). */
static void reload(struct master *m)
{
    struct cu_master_config saved = *m->cfg;

    cu_log(CU_INFO, "Hang up: %s", MASTER_NAME);
    if (m->ops->reload != NULL &&
        (m->ops->reload(m->ctx) != 0 || !config_valid(m->cfg))) {
        *m->cfg = saved;
        cu_log(CU_ERROR, "Reload failed: keeping the old configuration "
               "and workers");
        return;
    }
    if (m->ops->reopen_logs != NULL)
        m->ops->reopen_logs(m->ctx);
    (void)hook(m, CU_MASTER_HOOK_NWORKERS_CHANGED, 0, 0, saved.workers);
    (void)hook(m, CU_MASTER_HOOK_ON_RELOAD, 0, 0, 0);
    if (pidfile_restart(m) < 0)
        cu_log(CU_ERROR, "Continuing without a pidfile");
    if (m->next_gen)  /* a reload still booting: this one replaces it */
        retire_gen(m, m->next_gen, 0, CAUSE_RELOAD);
    m->next_gen = (m->next_gen > m->gen ? m->next_gen : m->gen) + 1;
    if (m->replacing) {  /* a recycle in progress: the reload covers it */
        m->replacing = 0;
        for (int i = 0; i < CU_MAX_WORKERS; i++)
            m->w[i].recycling = 0;
    }
    for (int i = 0; i < m->cfg->workers; i++)
        if (spawn(m, m->next_gen) < 0)
            break;
    if (m->cfg->workers == 0) {  /* nothing to wait for */
        retire_gen(m, m->gen, 1, CAUSE_RELOAD);
        m->gen = m->next_gen;
        m->next_gen = 0;
    }
}

static void handle_signal(struct master *m, int sig)
{
    char name[16];

    cu_log(CU_INFO, "Handling signal: %s", signame_lower(sig, name, sizeof(name)));
    switch (sig) {
    case SIGHUP:
        notify_reloading(m);
        reload(m);
        break;
    case SIGTERM:
        m->stop = STOP_GRACEFUL;
        break;
    case SIGINT:
    case SIGQUIT:
        m->stop = STOP_QUICK;
        break;
    case SIGTTIN:
        if (m->cfg->workers < CU_MAX_WORKERS) {
            m->cfg->workers++;
            (void)hook(m, CU_MASTER_HOOK_NWORKERS_CHANGED, 0, 0, m->cfg->workers - 1);
        } else
            cu_log(CU_WARNING, "Already at the maximum of %d workers",
                   CU_MAX_WORKERS);
        break;
    case SIGTTOU:
        if (m->cfg->workers > 1) {
            m->cfg->workers--;
            (void)hook(m, CU_MASTER_HOOK_NWORKERS_CHANGED, 0, 0, m->cfg->workers + 1);
        }
        break;
    case SIGUSR1:
        if (m->ops->reopen_logs != NULL)
            m->ops->reopen_logs(m->ctx);
        signal_all(m, SIGUSR1);
        break;
    case SIGUSR2:
        reexec(m);
        break;
    case SIGWINCH: {
        int before = m->cfg->workers;

        /* Ours: also while a USR2 child runs, to retire these workers. */
        if (!m->cfg->daemon && (m->up == NULL || m->up->child == 0)) {
            cu_log(CU_DEBUG, "SIGWINCH ignored. Not daemonized");
            break;
        }
        cu_log(CU_INFO, "graceful stop of workers");
        m->cfg->workers = 0;
        (void)hook(m, CU_MASTER_HOOK_NWORKERS_CHANGED, 0, 0, before);
        for (int i = 0; i < CU_MAX_WORKERS; i++)
            if (m->w[i].pid > 0 && !m->w[i].retiring && !m->w[i].killed)
                retire(m, &m->w[i], CAUSE_WINCH);
        break;
    }
    default:
        break;
    }
}

/*
 * TERM (or QUIT when quick) to every worker, wait up to graceful_timeout
 * while reaping, then SIGKILL what is left. An INT/QUIT during a graceful
 * wait makes it quick: QUIT to the workers, at most QUICK_SWITCH_MS more.
 */
static void stop_workers(struct master *m, int quick)
{
    int64_t deadline = cu_now_ms() + (int64_t)m->cfg->graceful_timeout * 1000;
    int64_t left;
    char name[16];

    for (int i = 0; i < CU_MAX_WORKERS; i++)
        if (m->w[i].pid > 0 && !m->w[i].cause)
            m->w[i].cause = CAUSE_STOP;
    signal_all(m, quick ? SIGQUIT : SIGTERM);
    /* the workers drain the backlog and close their copies; ours go now */
    if (m->ops->close_listeners != NULL)
        m->ops->close_listeners(m->ctx);
    reap(m, 0);
    while (m->nlive > 0 && (left = deadline - cu_now_ms()) > 0) {
        wait_signals(m, left > INT_MAX ? INT_MAX : (int)left);
        reap(m, 0);
        while (m->nqueue > 0) {
            int sig = queue_pop(m);

            if (quick || (sig != SIGINT && sig != SIGQUIT))
                continue;
            cu_log(CU_INFO, "Handling signal: %s",
                   signame_lower(sig, name, sizeof(name)));
            quick = 1;
            signal_all(m, SIGQUIT);
            if (deadline > cu_now_ms() + QUICK_SWITCH_MS)
                deadline = cu_now_ms() + QUICK_SWITCH_MS;
        }
    }
    if (m->nlive == 0)
        return;
    kill_all(m);
    deadline = cu_now_ms() + FINAL_REAP_MS;
    reap(m, 0);
    while (m->nlive > 0 && (left = deadline - cu_now_ms()) > 0) {
        wait_signals(m, (int)left);
        reap(m, 0);
    }
    m->nqueue = 0;
}

static void master_loop(struct master *m)
{
    manage_workers(m);
    while (m->stop == RUNNING) {
        wait_signals(m, notify_wait_ms(m, next_wait_ms(m)));
        reap(m, 1);
        while (m->stop == RUNNING && m->nqueue > 0)
            handle_signal(m, queue_pop(m));
        if (m->stop != RUNNING)
            break;
        check_booted(m);
        murder_workers(m);
        manage_workers(m);
        check_recycle(m);
        maybe_promote(m);
        notify_if_ready(m);
    }
    notify_stopping(m);
    stop_workers(m, m->stop == STOP_QUICK);
    if (m->status == 0) {
        cu_log(CU_INFO, "Shutting down: %s", MASTER_NAME);
    } else {
        cu_log(CU_ERROR, "Shutting down: %s", MASTER_NAME);
        cu_log(CU_ERROR, "Reason: %s", m->reason);
    }
}

int cu_master_run(struct cu_master_config *cfg, const struct cu_master_ops *ops,
                  void *ctx)
{
    struct master *m;
    int status = 1, ran = 0;

    if (cfg == NULL || ops == NULL || ops->worker_main == NULL) {
        cu_log(CU_ERROR, "cu_master_run: a config and ops->worker_main are required");
        return 1;
    }
    if (sig_pipe_w >= 0) {
        cu_log(CU_ERROR, "cu_master_run: a master is already running");
        return 1;
    }
    if (!config_valid(cfg))
        return 1;
    m = calloc(1, sizeof(*m));
    if (m == NULL) {
        cu_log(CU_ERROR, "out of memory");
        return 1;
    }
    m->cfg = cfg;
    m->ops = ops;
    m->ctx = ctx;
    m->pipe_r = -1;
    m->last_logged = -1;
    m->gen = 1;
    m->oom_kills = oom_kill_count();
    m->w = calloc(CU_MAX_WORKERS, sizeof(*m->w));
    m->slots = mmap(NULL, CU_MAX_WORKERS * sizeof(*m->slots),
                    PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    if (m->w == NULL || m->slots == MAP_FAILED) {
        cu_log(CU_ERROR, "cannot allocate the worker table: %s", strerror(errno));
        goto out;
    }
    upgrade_boot(m);
    m->ready_owed = m->up == NULL || m->up->parent == 0;
    if (pidfile_start(m) < 0 || signals_install(m) < 0 ||
        hook(m, CU_MASTER_HOOK_WHEN_READY, 0, 0, 0) < 0)
        goto out;

    master_loop(m);
    status = m->status;
    ran = 1;
out:
    signals_restore(m);
    pidfile_remove(m);
    if (ran)
        (void)hook(m, CU_MASTER_HOOK_ON_EXIT, 0, 0, 0);
    if (m->slots != MAP_FAILED && m->slots != NULL)
        munmap(m->slots, CU_MAX_WORKERS * sizeof(*m->slots));
    free(m->w);
    free(m);
    return status;
}
