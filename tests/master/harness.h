/*
 * The harness of the master's tests (test_arbiter.c, test_deaths.c,
 * test_counts.c).
 *
 * Each case runs cu_master_run() in a forked process with fake workers
 * that heartbeat in a loop and report what happens to them ("B pid age
 * flags" at boot, "T pid" on SIGTERM, ...) as one line each on a pipe; the
 * master's callbacks report there too ("H" for a reload, "K" for a hook).
 * The test sends the master signals and waits, always with a deadline, for
 * the workers it expects. The test process is a child subreaper
 * (harness_init), so workers left behind by a master come back to it and
 * are killed by pid.
 *
 * Links src/core/log.c: the master's log goes to a file per case, which
 * the checks read.
 */
#ifndef CU_TEST_MASTER_HARNESS_H
#define CU_TEST_MASTER_HARNESS_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "master/arbiter.h"

/* ---- the fake workers and callbacks ---- */

enum wmode { W_NORMAL, W_IGNORE_TERM, W_STALL, W_EXIT3, W_EXIT4, W_SLOW_BOOT };

struct tctx {
    enum wmode mode;
    int ev_fd;              /* write end of the event pipe */
    pid_t master;
    const char *fail_flag;  /* reload fails while this file exists */
    int reload_workers;     /* > 0: the reloaded config has this many */
    const char *new_pidfile;    /* the reloaded config's pidfile */
    int reload_keeps;       /* reload succeeds without a new config */
    int reload_bad;         /* reload hands a config with timeout -1 */
    int reload_breaks;      /* the workers forked after a reload exit 4,
                             * TERM or not */
    int reload_slow;        /* the workers forked after a reload take 2 s
                             * to boot (a TERM ends the wait) */
    int hook_fails;         /* 1 + the CU_MASTER_HOOK_* that returns -1 */
    const struct cu_master_config *cfg;  /* what the master started with */
    struct cu_master_config next;        /* what reload hands over */
    int after_child;        /* set by after_fork_child */
};

#define F_AFTER_CHILD 1     /* after_fork_child ran first */
#define F_SIG_DEFAULT 2     /* HUP, TERM, CHLD: default and unblocked */
#define F_SLOT_FRESH 4      /* slot given, beat_ms set by the master */

/* Every callback; all_ops and a hook ("K" events); all_ops and
 * close_listeners ("L", 50 ms late); only worker_main. */
extern const struct cu_master_ops all_ops, hook_ops, listen_ops, min_ops;

/* ---- the harness ---- */

#define MAXEV 512

struct ev {
    char type;
    pid_t pid;
    long a, b, c, d;        /* "K": which, workers, old_workers, age */
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

/* setvbuf, SIGPIPE ignored, child subreaper: first thing in main(). */
void harness_init(void);

int64_t mono_ms(void);

/* A case: its directory and files, 'workers' workers of this mode, a
 * pidfile, timeout 0, graceful_timeout 5; change r->cfg and r->c before
 * run_start. */
void run_init(struct run *r, enum wmode mode, int workers);
/* Forks the master. The master exits 98 if cu_master_run wrote to *cfg. */
int run_start(struct run *r, const struct cu_master_ops *ops);
/* Stops whatever is left of this run, by pid, and removes its files. */
void run_end(struct run *r);
int exited_with(struct run *r, int code);

/* Reads events for up to ms. */
void pump(struct run *r, int ms);
int alive(pid_t pid);
/* The pids of booted workers still alive, oldest (lowest age) first. */
int live_workers(struct run *r, pid_t *out, int max);
int count_alive(struct run *r);
int count_events(struct run *r, char type, pid_t pid);
const struct ev *find_event(struct run *r, char type, pid_t pid);
/* "K" events of hook which with these counts (old < 0: any). */
int count_hooks(struct run *r, int which, long workers, long old);
int master_done(struct run *r);

/* Waits up to ms for cond (re-evaluated after each pump); 1 if it held. */
int wait_until(struct run *r, int ms, int (*cond)(struct run *, long), long arg);
/* Waits up to ms for an event: a worker writes it before it exits, so it
 * may still be in the pipe when the worker is already gone. */
int wait_event(struct run *r, int ms, char type, pid_t pid);
/* 1 if cond keeps holding for ms. */
int stays(struct run *r, int ms, int (*cond)(struct run *, long), long arg);

int c_alive_eq(struct run *r, long n);
/* The master has exited and every process holding the event pipe too (so
 * every event is read). */
int c_done(struct run *r, long unused);
int c_dead(struct run *r, long pid);
int c_booted(struct run *r, long n);
int c_parent_calls(struct run *r, long n);
int c_pidfile_exists(struct run *r, long unused);

long read_pidfile(const char *path);
int write_file(const char *path, const char *text);
/* 1 if the master's log holds needle. */
int log_has(struct run *r, const char *needle);
/* Waits up to 3 s for the master's log to hold the formatted line: it
 * logs a worker's end when it reaps it, a little after the worker dies. */
int log_hasf(struct run *r, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

#endif
