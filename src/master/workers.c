/*
 * The worker table: the forks (with the interpreter's fork protocol around
 * them), the number of workers kept, the signals that retire or kill a
 * worker, and the deaths: reaping, the message that says why each worker
 * ended, and what a worker that could not start does to the master (stop
 * it at start, call a reload off, or back off).
 *
 * Every worker we ask to stop (TERM on TTOU, HUP, WINCH) is SIGKILLed if it
 * is still there graceful_timeout seconds later (watch.c). A SIGKILL we
 * sent is logged as ours; any other one gets Gunicorn's "Perhaps out of
 * memory?", or what the cgroup's OOM count says.
 *
 * With statsd, the count kept goes out as Gunicorn's gunicorn.workers
 * gauge when it changes, and with enable_backlog_metric the listen queues
 * as gunicorn.backlog on every pass (docs/compat.md, StatsD).
 */
#include "master/internal.h"

#include "core/clock.h"
#include "core/log.h"
#include "core/statsd.h"
#include "master/upgrade.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

/* ---- the table ---- */

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

static struct worker *find_worker(struct master *m, pid_t pid)
{
    for (int i = 0; i < CU_MAX_WORKERS; i++)
        if (m->w[i].pid == pid)
            return &m->w[i];
    return NULL;
}

/* ---- signals to workers ---- */

/* kill(2); a worker that is already gone (reaped elsewhere) is forgotten. */
void cu_signal_worker(struct master *m, struct worker *w, int sig)
{
    if (kill(w->pid, sig) == 0)
        return;
    if (errno == ESRCH) {
        cu_log(CU_DEBUG, "Worker (pid:%d) is already gone", (int)w->pid);
        forget(m, w);
        return;
    }
    cu_log(CU_ERROR, "kill(%d, SIG%s): %s", (int)w->pid, cu_signame(sig),
           strerror(errno));
}

void cu_kill_worker(struct master *m, struct worker *w)
{
    w->killed = 1;
    cu_signal_worker(m, w, SIGKILL);
}

/* TERM, and a deadline after which it gets SIGKILL. */
void cu_retire(struct master *m, struct worker *w, int cause)
{
    if (!w->cause)
        w->cause = cause;
    w->retiring = 1;
    w->kill_at_ms = cu_now_ms() + (int64_t)m->cfg.graceful_timeout * 1000;
    cu_signal_worker(m, w, SIGTERM);
}

/* Retires every worker of generation gen (or older when older is set). */
void cu_retire_gen(struct master *m, int gen, int older, int cause)
{
    for (int i = 0; i < CU_MAX_WORKERS; i++) {
        struct worker *w = &m->w[i];

        if (w->pid > 0 && !w->retiring && !w->killed &&
            (older ? w->gen <= gen : w->gen == gen))
            cu_retire(m, w, cause);
    }
}

/* sig to every worker we have not killed yet. */
void cu_signal_all(struct master *m, int sig)
{
    for (int i = 0; i < CU_MAX_WORKERS; i++)
        if (m->w[i].pid > 0 && !m->w[i].killed)
            cu_signal_worker(m, &m->w[i], sig);
}

void cu_kill_all(struct master *m)
{
    for (int i = 0; i < CU_MAX_WORKERS; i++)
        if (m->w[i].pid > 0 && !m->w[i].killed)
            cu_kill_worker(m, &m->w[i]);
}

/* ---- forks ---- */

/* In the new process: never returns. */
static void worker_child(struct master *m, int age, struct cu_worker_slot *s,
                         const sigset_t *mask)
{
    cu_signals_in_worker(m, mask);
    /* the host first: its logging may not be used before (Python mode) */
    if (m->ops->after_fork_child != NULL)
        m->ops->after_fork_child(m->ctx);
    cu_log(CU_INFO, "Booting worker with pid: %d", (int)getpid());
    _exit(m->ops->worker_main(m->ctx, age, s));
}

/* Forks one worker of generation gen into a free slot. Its pid, or -1
 * (logged). */
int cu_spawn(struct master *m, int gen)
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
    (void)cu_master_hook(m, CU_MASTER_HOOK_PRE_FORK, 0, age, 0);

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

/* A reload whose workers did not all come up is off: the generation that
 * serves keeps the number it had (the reload's would grow it with workers
 * that cannot start either, or cut what it keeps), as a HUP that fails
 * before any fork does; a TTIN or TTOU sent while it booted changed the
 * reload's number, and goes with it. */
void cu_reload_off(struct master *m)
{
    int was = m->workers;

    m->next_gen = 0;
    m->workers = m->gen_workers;
    if (m->workers != was)
        (void)cu_master_hook(m, CU_MASTER_HOOK_NWORKERS_CHANGED, 0, 0, was);
}

/* Spawns up to m->workers, or retires the oldest extra workers, of the
 * generation that serves; while a reload's boots, at the number it had
 * (a HUP to more workers spawned one for it, to retire at once). */
void cu_manage_workers(struct master *m)
{
    int active = count_active(m), want = m->next_gen ? m->gen_workers : m->workers;

    if (cu_now_ms() >= m->spawn_after_ms)
        while (active < want && cu_spawn(m, m->gen) > 0)
            active++;
    while (active > want) {
        struct worker *oldest = NULL;

        for (int i = 0; i < CU_MAX_WORKERS; i++) {
            struct worker *w = &m->w[i];

            if (w->pid > 0 && !w->retiring && !w->aborted && !w->killed &&
                !w->recycling && w->gen == m->gen &&
                (oldest == NULL || w->age < oldest->age))
                oldest = w;
        }
        cu_retire(m, oldest, CAUSE_TTOU);
        active--;
    }
    /* Gunicorn's statsd gauge goes with this line: when the count changes */
    if (active != m->last_logged) {
        m->last_logged = active;
        cu_log(CU_DEBUG, "%d workers", active);
        cu_statsd_gauge("gunicorn.workers", active);
    }
    /* and its backlog histogram on every pass, when enabled */
    if (m->cfg.backlog_metric && m->ops->backlog != NULL) {
        int backlog = m->ops->backlog(m->ctx);

        if (backlog >= 0) {
            cu_log(CU_DEBUG, "socket backlog: %d", backlog);
            cu_statsd_histogram("gunicorn.backlog", backlog);
        }
    }
}

/* ---- deaths ---- */

/* What the death message says of a cause (enum cause), or NULL. */
const char *cu_cause_text(int cause)
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
long long cu_oom_kill_count(void)
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
    const char *why = cu_cause_text(w->cause);

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
    const char *name = cu_signame(sig);
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
        long long oom = cu_oom_kill_count();
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

/* A worker that exited 3 or 4 (it could not boot, or load the app). At
 * start that stops the master, as in Gunicorn; during a reload it aborts
 * the reload and the old workers go on (the reload's other workers, which
 * fail the same way, are no concern of the serving ones then); later,
 * respawns back off. */
static void boot_failed(struct master *m, pid_t pid, int gen, int code)
{
    const char *what = code == CU_EXIT_APP_LOAD ? "the app failed to load"
                                                : "the worker failed to boot";
    int64_t wait;

    if (m->next_gen && gen == m->next_gen) {
        cu_log(CU_ERROR, "Reload failed: a new worker could not start (%s); "
               "keeping the old workers", what);
        cu_retire_gen(m, m->next_gen, 0, CAUSE_RELOAD_FAILED);
        cu_reload_off(m);
        return;
    }
    if (gen != m->gen)  /* a reload's called off (or replaced): not the serving ones' */
        return;
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
void cu_reap(struct master *m, int halt)
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
            cu_reexec_reaped(m, status);
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
        (void)cu_master_hook(m, CU_MASTER_HOOK_CHILD_EXIT, pid, w->age, 0);
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
