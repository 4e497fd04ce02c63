/*
 * Shared by the files of src/master/ only: the master's state, and what
 * each file offers the others.
 *
 *   arbiter.c   cu_master_run, the loop, the signal actions, the stop
 *   signals.c   the self-pipe: handlers, the queue, signal names
 *   workers.c   the worker table: forks, the count kept, retirements,
 *               reaping, the death messages, boot failures and back-off
 *   watch.c     each tick over the live workers: boots seen, reloads and
 *               recycles finished, recycles started, heartbeat timeouts
 *   pidfile.c   the pidfile, and its ".2" while a USR2 child
 *   notify.c    what systemd is told
 *   reexec.c    USR2, the master's side (upgrade.c prepares the exec)
 */
#ifndef CU_MASTER_INTERNAL_H
#define CU_MASTER_INTERNAL_H

#include <signal.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "master/arbiter.h"

#define TICK_MS 1000            /* longest sleep of the loop */
#define QUEUE_MAX 5             /* pending signals kept, as Gunicorn */
#define ABORT_GRACE_MS 1000     /* SIGABRT .. SIGKILL for a silent worker */
#define NHANDLED 10             /* the signals the master handles */

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
    struct cu_master_config cfg;    /* a copy: the start's, then each reload's */
    int workers;                    /* the number kept: cfg.workers at start
                                     * and after HUP; TTIN/TTOU/WINCH */
    const struct cu_master_ops *ops;
    void *ctx;
    struct cu_worker_slot *slots;   /* shared, CU_MAX_WORKERS */
    struct worker *w;               /* private, same index as slots */
    int nlive;
    int age;
    int gen;                        /* the generation that serves */
    int next_gen;                   /* HUP: the one booting, or 0 */
    int gen_workers;                /* while it boots: the number kept of
                                     * the one that serves (m->workers is
                                     * the new one's) */
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
    struct cu_upgrade *up;          /* cfg.upgrade: USR2, or NULL */
    int ready_owed;                 /* READY=1 to systemd once booted */
    int ninstalled;
    struct sigaction old_act[NHANDLED];
    sigset_t old_mask;
    int mask_saved;
};

/* ---- arbiter.c ---- */

/* A server hook, if the caller has them; the event carries m->workers.
 * pid, age: the worker's; old: for NWORKERS_CHANGED. */
int cu_master_hook(struct master *m, int which, pid_t pid, int age, int old);

/* ---- signals.c ---- */

/* The self-pipe and the handlers; restore puts back what was there. */
int cu_signals_install(struct master *m);
void cu_signals_restore(struct master *m);
/* Whether a master runs in this process already (one per process). */
int cu_signals_busy(void);
/* In a new worker: default dispositions, the self-pipe closed, mask set. */
void cu_signals_in_worker(struct master *m, const sigset_t *mask);
/* In a USR2 child: the dispositions and mask the server started with. */
void cu_signals_before_exec(const struct master *m);
/* Sleeps until a signal arrives or ms pass; queues what came. */
void cu_signals_wait(struct master *m, int ms);
/* The oldest queued signal; m->nqueue > 0. */
int cu_signals_pop(struct master *m);
/* "HUP", or NULL; "hup" (or the number) as Gunicorn logs it. */
const char *cu_signame(int signo);
const char *cu_signame_lower(int signo, char *buf, size_t len);

/* ---- workers.c ---- */

/* Forks one worker of generation gen into a free slot. Its pid, or -1
 * (logged). */
int cu_spawn(struct master *m, int gen);
/* Spawns up to m->workers, or retires the oldest extra workers. */
void cu_manage_workers(struct master *m);
/* A reload that failed to boot: off, the serving generation at its number. */
void cu_reload_off(struct master *m);
void cu_signal_worker(struct master *m, struct worker *w, int sig);
void cu_kill_worker(struct master *m, struct worker *w);
void cu_retire(struct master *m, struct worker *w, int cause);
void cu_retire_gen(struct master *m, int gen, int older, int cause);
void cu_signal_all(struct master *m, int sig);
void cu_kill_all(struct master *m);
/* Reaps every exited child; with halt set, acts on boot failures. */
void cu_reap(struct master *m, int halt);
/* What the death messages say of a cause (enum cause), or NULL. */
const char *cu_cause_text(int cause);
/* The cgroup's OOM kill count, or -1. */
long long cu_oom_kill_count(void);

/* ---- watch.c ---- */

void cu_check_booted(struct master *m);
void cu_check_recycle(struct master *m);
void cu_murder_workers(struct master *m);
/* How long the loop may sleep before cu_murder_workers has work to do. */
int cu_next_wait_ms(const struct master *m);

/* ---- pidfile.c ---- */

int cu_pidfile_start(struct master *m);
int cu_pidfile_restart(struct master *m);
void cu_pidfile_remove(struct master *m);

/* ---- notify.c ---- */

void cu_notify_if_ready(struct master *m);
void cu_notify_reloading(struct master *m);
void cu_notify_stopping(struct master *m);
int cu_notify_wait_ms(const struct master *m, int ms);

/* ---- reexec.c ---- */

/* At start: take cfg.upgrade; say when started by a USR2. */
void cu_reexec_boot(struct master *m);
/* USR2: start a new master on our listeners. */
void cu_reexec(struct master *m);
/* The new master exited (reaped by cu_reap). */
void cu_reexec_reaped(struct master *m, int status);
/* A USR2 child whose old master is gone takes over its name. */
void cu_reexec_promote(struct master *m);

#endif
