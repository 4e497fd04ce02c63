/*
 * The master (docs/compat.md, Master signals): forks the workers, reaps them, checks
 * their heartbeats and turns signals into actions. This file is the loop
 * and what the signals do; internal.h says where the rest is.
 *
 * Each tick the loop sleeps until a signal arrives (signals.c) or the next
 * deadline, reaps, handles the queued signals, checks what the workers'
 * slots say and their heartbeats (watch.c), then brings the number of
 * workers to the one it keeps (workers.c). That number is the master's own:
 * cfg.workers at start and after each successful HUP (the old number
 * again when its workers fail to come up), changed by TTIN, TTOU and
 * WINCH.
 */
#include "master/internal.h"

#include "core/clock.h"
#include "core/log.h"
#include "master/upgrade.h"

#include <errno.h>
#include <limits.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#define QUICK_SWITCH_MS 2000    /* INT/QUIT during a graceful stop */
#define FINAL_REAP_MS 1000      /* after the last SIGKILL */

/* The master's name in the log: "Master.2" in a master a USR2 started,
 * until it is promoted (Gunicorn's master_name). */
static const char *master_name(const struct master *m)
{
    return m->up != NULL && m->up->parent != 0 ? "Master.2" : "Master";
}

int cu_master_hook(struct master *m, int which, pid_t pid, int age, int old)
{
    struct cu_master_event ev = {pid, age, m->workers, old};

    return m->ops->hook != NULL ? m->ops->hook(m->ctx, which, &ev) : 0;
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

/* HUP: new configuration, its number of workers (whatever TTIN and TTOU
 * made of the old one), a new generation of workers; the old ones are
 * retired only once every new one is up (cu_check_booted), and stay when a
 * new one cannot start (boot_failed, workers.c). */
static void reload(struct master *m)
{
    const struct cu_master_config *next = NULL;
    int before = m->workers;

    cu_log(CU_INFO, "Hang up: %s", master_name(m));
    if (m->ops->reload != NULL &&
        (m->ops->reload(m->ctx, &next) != 0 ||
         (next != NULL && !config_valid(next)))) {
        cu_log(CU_ERROR, "Reload failed: keeping the old configuration "
               "and workers");
        return;
    }
    if (next != NULL)
        m->cfg = *next;
    m->workers = m->cfg.workers;
    if (m->ops->reopen_logs != NULL)
        m->ops->reopen_logs(m->ctx);
    (void)cu_master_hook(m, CU_MASTER_HOOK_NWORKERS_CHANGED, 0, 0, before);
    (void)cu_master_hook(m, CU_MASTER_HOOK_ON_RELOAD, 0, 0, 0);
    if (cu_pidfile_restart(m) < 0)
        cu_log(CU_ERROR, "Continuing without a pidfile");
    if (!m->next_gen)  /* the serving ones are kept at their number meanwhile */
        m->gen_workers = before;
    else  /* a reload still booting: this one replaces it */
        cu_retire_gen(m, m->next_gen, 0, CAUSE_RELOAD);
    m->next_gen = (m->next_gen > m->gen ? m->next_gen : m->gen) + 1;
    if (m->replacing) {  /* a recycle in progress: the reload covers it */
        m->replacing = 0;
        for (int i = 0; i < CU_MAX_WORKERS; i++)
            m->w[i].recycling = 0;
    }
    for (int i = 0; i < m->workers; i++)
        if (cu_spawn(m, m->next_gen) < 0)
            break;
    if (m->workers == 0) {  /* nothing to wait for */
        cu_retire_gen(m, m->gen, 1, CAUSE_RELOAD);
        m->gen = m->next_gen;
        m->next_gen = 0;
    }
}

static void handle_signal(struct master *m, int sig)
{
    char name[16];

    cu_log(CU_INFO, "Handling signal: %s", cu_signame_lower(sig, name, sizeof(name)));
    switch (sig) {
    case SIGHUP:
        cu_notify_reloading(m);
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
        if (m->workers < CU_MAX_WORKERS) {
            m->workers++;
            (void)cu_master_hook(m, CU_MASTER_HOOK_NWORKERS_CHANGED, 0, 0, m->workers - 1);
        } else
            cu_log(CU_WARNING, "Already at the maximum of %d workers",
                   CU_MAX_WORKERS);
        break;
    case SIGTTOU:
        if (m->workers > 1) {
            m->workers--;
            (void)cu_master_hook(m, CU_MASTER_HOOK_NWORKERS_CHANGED, 0, 0, m->workers + 1);
        }
        break;
    case SIGUSR1:
        if (m->ops->reopen_logs != NULL)
            m->ops->reopen_logs(m->ctx);
        cu_signal_all(m, SIGUSR1);
        break;
    case SIGUSR2:
        cu_reexec(m);
        break;
    case SIGWINCH: {
        int before = m->workers;

        /* Ours: also while a USR2 child runs, to retire these workers. */
        if (!m->cfg.daemon && (m->up == NULL || m->up->child == 0)) {
            cu_log(CU_DEBUG, "SIGWINCH ignored. Not daemonized");
            break;
        }
        cu_log(CU_INFO, "graceful stop of workers");
        m->workers = 0;
        m->gen_workers = 0;  /* a reload waiting: it stays at 0 if it fails */
        (void)cu_master_hook(m, CU_MASTER_HOOK_NWORKERS_CHANGED, 0, 0, before);
        for (int i = 0; i < CU_MAX_WORKERS; i++)
            if (m->w[i].pid > 0 && !m->w[i].retiring && !m->w[i].killed)
                cu_retire(m, &m->w[i], CAUSE_WINCH);
        m->next_gen = 0;  /* a reload booting goes with its workers: it did not fail */
        break;
    }
    default:
        break;
    }
}

/* ---- the stop, the loop ---- */

/*
 * TERM (or QUIT when quick) to every worker, wait up to graceful_timeout
 * while reaping, then SIGKILL what is left. An INT/QUIT during a graceful
 * wait makes it quick: QUIT to the workers, at most QUICK_SWITCH_MS more.
 */
static void stop_workers(struct master *m, int quick)
{
    int64_t deadline = cu_now_ms() + (int64_t)m->cfg.graceful_timeout * 1000;
    int64_t left;
    char name[16];

    for (int i = 0; i < CU_MAX_WORKERS; i++)
        if (m->w[i].pid > 0 && !m->w[i].cause)
            m->w[i].cause = CAUSE_STOP;
    /* ours go first: the workers drain the backlog and close their
     * copies, and the last to close must be one of them. Closed after the
     * signal, ours could outlive theirs (a worker quicker than this
     * process's next step), and the kernel would reset what queued in
     * between, unanswered */
    if (m->ops->close_listeners != NULL)
        m->ops->close_listeners(m->ctx);
    cu_signal_all(m, quick ? SIGQUIT : SIGTERM);
    cu_reap(m, 0);
    while (m->nlive > 0 && (left = deadline - cu_now_ms()) > 0) {
        cu_signals_wait(m, left > INT_MAX ? INT_MAX : (int)left);
        cu_reap(m, 0);
        while (m->nqueue > 0) {
            int sig = cu_signals_pop(m);

            if (quick || (sig != SIGINT && sig != SIGQUIT))
                continue;
            cu_log(CU_INFO, "Handling signal: %s",
                   cu_signame_lower(sig, name, sizeof(name)));
            quick = 1;
            cu_signal_all(m, SIGQUIT);
            if (deadline > cu_now_ms() + QUICK_SWITCH_MS)
                deadline = cu_now_ms() + QUICK_SWITCH_MS;
        }
    }
    if (m->nlive == 0)
        return;
    cu_kill_all(m);
    deadline = cu_now_ms() + FINAL_REAP_MS;
    cu_reap(m, 0);
    while (m->nlive > 0 && (left = deadline - cu_now_ms()) > 0) {
        cu_signals_wait(m, (int)left);
        cu_reap(m, 0);
    }
    m->nqueue = 0;
}

static void master_loop(struct master *m)
{
    cu_manage_workers(m);
    while (m->stop == RUNNING) {
        cu_signals_wait(m, cu_notify_wait_ms(m, cu_next_wait_ms(m)));
        cu_reap(m, 1);
        while (m->stop == RUNNING && m->nqueue > 0)
            handle_signal(m, cu_signals_pop(m));
        if (m->stop != RUNNING)
            break;
        cu_check_booted(m);
        cu_murder_workers(m);
        cu_manage_workers(m);
        cu_check_recycle(m);
        cu_reexec_promote(m);
        cu_notify_if_ready(m);
    }
    cu_notify_stopping(m);
    stop_workers(m, m->stop == STOP_QUICK);
    if (m->status == 0) {
        cu_log(CU_INFO, "Shutting down: %s", master_name(m));
    } else {
        cu_log(CU_ERROR, "Shutting down: %s", master_name(m));
        cu_log(CU_ERROR, "Reason: %s", m->reason);
    }
}

int cu_master_run(const struct cu_master_config *cfg,
                  const struct cu_master_ops *ops, void *ctx)
{
    struct master *m;
    int status = 1, ran = 0;

    if (cfg == NULL || ops == NULL || ops->worker_main == NULL) {
        cu_log(CU_ERROR, "cu_master_run: a config and ops->worker_main are required");
        return 1;
    }
    if (cu_signals_busy()) {
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
    m->cfg = *cfg;
    m->workers = cfg->workers;
    m->ops = ops;
    m->ctx = ctx;
    m->pipe_r = -1;
    m->last_logged = -1;
    m->gen = 1;
    m->oom_kills = cu_oom_kill_count();
    m->w = calloc(CU_MAX_WORKERS, sizeof(*m->w));
    m->slots = mmap(NULL, CU_MAX_WORKERS * sizeof(*m->slots),
                    PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    if (m->w == NULL || m->slots == MAP_FAILED) {
        cu_log(CU_ERROR, "cannot allocate the worker table: %s", strerror(errno));
        goto out;
    }
    cu_reexec_boot(m);
    m->ready_owed = m->up == NULL || m->up->parent == 0;
    if (cu_pidfile_start(m) < 0 || cu_signals_install(m) < 0 ||
        cu_master_hook(m, CU_MASTER_HOOK_WHEN_READY, 0, 0, 0) < 0)
        goto out;

    master_loop(m);
    status = m->status;
    ran = 1;
out:
    cu_signals_restore(m);
    cu_pidfile_remove(m);
    if (ran)
        (void)cu_master_hook(m, CU_MASTER_HOOK_ON_EXIT, 0, 0, 0);
    if (m->slots != MAP_FAILED && m->slots != NULL)
        munmap(m->slots, CU_MAX_WORKERS * sizeof(*m->slots));
    free(m->w);
    free(m);
    return status;
}
