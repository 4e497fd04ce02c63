/*
 * The master: forks the workers, supervises them, and turns signals into
 * actions. It never touches a client. Plain C: what a worker does after
 * fork, and how the configuration is (re)loaded, are callbacks.
 *
 * Signals (Gunicorn's: docs/compat.md, Master signals): TTIN/TTOU add/remove a worker
 * (never below 1), CHLD reaps and respawns, HUP reloads (ops->reload, then
 * fresh workers; the old ones get TERM), TERM stops gracefully (TERM to the
 * workers, wait graceful_timeout, then KILL), INT/QUIT stop fast (QUIT to the
 * workers, short wait, KILL), USR1 reopens logs and forwards USR1, WINCH
 * (daemon only, or while a USR2 child runs) stops all workers, USR2 starts
 * a new master on the same listeners (cfg->upgrade, master/upgrade.h).
 * Handlers only write a byte to a self-pipe; the loop does the work.
 *
 * systemd (when NOTIFY_SOCKET is set): READY=1 with MAINPID once the
 * workers have booted, RELOADING=1 on HUP and READY=1 again when the new
 * workers are up, STOPPING=1 on the way out, or MAINPID=<the new master>
 * when a USR2 child takes over. A USR2 child says nothing until it is
 * promoted (its parent gone): systemd knows only one main process.
 *
 * The number of workers is the master's: it starts at cfg->workers, TTIN,
 * TTOU and WINCH change it, and a successful HUP sets it to the new
 * configuration's workers again, as Gunicorn does. The configuration itself
 * is read-only to the master. What a worker shares with the master (its
 * heartbeat slot, the exit codes) is master/contract.h.
 */
#ifndef CU_MASTER_ARBITER_H
#define CU_MASTER_ARBITER_H

#include <sys/types.h>

#include "master/contract.h"

struct cu_upgrade;
struct cu_master_config;

/* What a server hook is told (cu_master_ops.hook). */
struct cu_master_event {
    pid_t pid;          /* CHILD_EXIT: the worker; 0 otherwise (PRE_FORK
                         * is called before the fork) */
    int age;            /* PRE_FORK, CHILD_EXIT: the worker's age; else 0 */
    int workers;        /* the number of workers the master keeps now (the
                         * new one, for NWORKERS_CHANGED) */
    int old_workers;    /* NWORKERS_CHANGED: the number before; else 0 */
};

struct cu_master_ops {
    /* In the child, after fork. Returns the worker's exit status:
     * 0 normal, 3 boot failure (CU_EXIT_WORKER_BOOT), 4 app load failure
     * (CU_EXIT_APP_LOAD). Must not return to the master's loop. */
    int (*worker_main)(void *ctx, int age, struct cu_worker_slot *slot);
    /* Around fork (the interpreter: PyOS_BeforeFork and friends). */
    void (*before_fork)(void *ctx);
    void (*after_fork_parent)(void *ctx);
    void (*after_fork_child)(void *ctx);
    /* HUP: re-read the configuration. 0 on success, with *cfg set to the
     * new configuration (left NULL: the current one stays), which the
     * master copies; what it points to (pidfile) must stay valid until the
     * next reload. On failure (-1, or a configuration the master refuses)
     * the master logs, keeps the old configuration and the old workers;
     * it cannot undo what the callee changed on its side, so the callee
     * refuses first what the master would (workers above CU_MAX_WORKERS,
     * negative timeouts: src/config/derive.c does). */
    int (*reload)(void *ctx, const struct cu_master_config **cfg);
    /* USR1: reopen log files in the master. */
    void (*reopen_logs)(void *ctx);
    /* TERM/INT/QUIT: the master closes its copies of the listening
     * sockets, so that once the workers have drained the backlog and
     * closed theirs, the kernel stops queueing connections nobody will
     * accept. May be NULL. */
    void (*close_listeners)(void *ctx);
    /* Gunicorn's master-side server hooks (CU_MASTER_HOOK_*); may be NULL.
     * ev: the worker, and the number of workers the master keeps (which
     * TTIN/TTOU/WINCH change: not the configuration's). Returns 0, or -1
     * if the hook failed: only WHEN_READY then stops the master (status
     * 1); the others are logged by the callee and ignored. */
    int (*hook)(void *ctx, int which, const struct cu_master_event *ev);
    /* A master a USR2 started is promoted (its old master is gone): the
     * names it had with ".2" lose it (the process title). May be NULL. */
    void (*promoted)(void *ctx);
    /* enable_backlog_metric: the connections waiting in the listen queues
     * now, or -1 when that cannot be known (no TCP listener, not Linux).
     * May be NULL. */
    int (*backlog)(void *ctx);
};

enum {
    CU_MASTER_HOOK_WHEN_READY,   /* pidfile written, before the first fork */
    CU_MASTER_HOOK_ON_RELOAD,    /* HUP: after ops->reload, before spawning */
    CU_MASTER_HOOK_PRE_FORK,     /* just before each fork */
    CU_MASTER_HOOK_CHILD_EXIT,   /* a worker reaped */
    CU_MASTER_HOOK_NWORKERS_CHANGED,  /* TTIN, TTOU, WINCH, HUP */
    CU_MASTER_HOOK_ON_EXIT,      /* workers stopped, pidfile removed */
    CU_MASTER_HOOK_PRE_EXEC      /* USR2: in the forked child, before exec */
};

/* Read-only to the master, which keeps a copy (cu_master_run, reload). */
struct cu_master_config {
    int workers;            /* at start and after each HUP */
    int timeout;            /* seconds, 0 disables the heartbeat check */
    int graceful_timeout;   /* seconds */
    int daemon;             /* WINCH is acted on only when daemonised */
    const char *pidfile;    /* NULL: none */
    int max_worker_lifetime;  /* seconds; 0: none. Ours, not Gunicorn's */
    int max_worker_memory;    /* MiB of RSS; 0: none. Ours */
    int backlog_metric;       /* enable_backlog_metric: each tick,
                               * ops->backlog as gunicorn.backlog */
    /* USR2: what a new master is started with, and the hand-over's state
     * (parent, child), kept there by the master. NULL: USR2 is ignored.
     * Read at start only. */
    struct cu_upgrade *upgrade;
};

/*
 * Runs the master until it stops. *cfg is copied at start, and replaced by
 * the one ops->reload hands over after every successful reload; its pidfile
 * must stay valid until then, its upgrade until the master returns.
 * Returns the process exit status: 0 after a requested stop, 3 when a
 * worker failed to boot ("Worker failed to boot."), 4 when the app failed
 * to load ("App failed to load."), 1 on a set-up error (message logged).
 */
int cu_master_run(const struct cu_master_config *cfg,
                  const struct cu_master_ops *ops, void *ctx);

#endif
