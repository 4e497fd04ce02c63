/*
 * Tests of the master's life and its signals (src/master/arbiter.c and the
 * files around it): set-up errors, the pidfile, boot, TTIN/TTOU, USR1,
 * WINCH, HUP, and the stops. harness.h has how a case runs.
 */
#include "harness.h"
#include "core/log.h"
#include "../lib/tap.h"

#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/types.h>
#include <unistd.h>

static void test_setup_errors(void)
{
    struct cu_master_config cfg = {.workers = -1, .graceful_timeout = 1};
    struct cu_master_ops none = {0};
    char err[256];

    /* The errors are logged; keep them out of the test's output. */
    if (cu_log_open("/dev/null", NULL, CU_CRITICAL, err, sizeof(err)) < 0)
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

/* A HUP to more workers boots the new number, no more: the serving
 * generation stays at its own number while they boot. */
static void test_hup_to_more_workers(void)
{
    struct run r;
    pid_t old[64], now[64];
    int nold, n, fresh = 1;

    run_init(&r, W_NORMAL, 1);
    r.c.reload_workers = 3;
    if (run_start(&r, &all_ops) < 0) {
        ok(0, "HUP to more: fork the master");
        return;
    }
    ok(wait_until(&r, 5000, c_booted, 1) && wait_until(&r, 5000, c_alive_eq, 1),
       "HUP to more: 1 worker boots");
    nold = live_workers(&r, old, 64);
    kill(r.master, SIGHUP);
    ok(wait_until(&r, 5000, c_booted, 4) && wait_until(&r, 5000, c_alive_eq, 3),
       "HUP to more: 3 new workers boot, the old one goes");
    ok(stays(&r, 300, c_alive_eq, 3) && count_events(&r, 'B', 0) == 4,
       "HUP to more: no worker booted for the old generation (%d boots)",
       count_events(&r, 'B', 0));
    n = live_workers(&r, now, 64);
    for (int i = 0; i < n; i++)
        fresh &= nold == 1 && now[i] != old[0];
    ok(n == 3 && fresh, "HUP to more: the 3 are the new ones");
    kill(r.master, SIGTERM);
    ok(wait_until(&r, 5000, c_done, 0), "HUP to more: TERM ends it");
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
    if (run_start(&r, &hook_ops) < 0) {
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
    ok(count_hooks(&r, CU_MASTER_HOOK_NWORKERS_CHANGED, 0, 2) == 1,
       "WINCH: nworkers_changed(0, 2)");
    kill(r.master, SIGTTIN);
    ok(wait_until(&r, 5000, c_alive_eq, 1), "TTIN after WINCH: 1 worker");
    ok(count_hooks(&r, CU_MASTER_HOOK_NWORKERS_CHANGED, 1, 0) == 1,
       "TTIN after WINCH: nworkers_changed(1, 0)");
    kill(r.master, SIGTERM);
    ok(wait_until(&r, 5000, c_done, 0) && exited_with(&r, 0), "winch: TERM exits 0");
    run_end(&r);
}

/* WINCH while a HUP's workers boot: every worker goes, the reload with
 * them, quietly (it did not fail); TTIN brings one back. */
static void test_winch_during_a_reload(void)
{
    struct run r;

    run_init(&r, W_NORMAL, 1);
    r.cfg.daemon = 1;
    r.c.reload_slow = 1;
    if (run_start(&r, &hook_ops) < 0) {
        ok(0, "winch in a reload: fork the master");
        return;
    }
    ok(wait_until(&r, 5000, c_alive_eq, 1), "winch in a reload: 1 worker boots");
    kill(r.master, SIGHUP);
    ok(wait_until(&r, 5000, c_booted, 2), "winch in a reload: the new worker starts");
    kill(r.master, SIGWINCH);
    ok(wait_until(&r, 5000, c_alive_eq, 0) && stays(&r, 300, c_alive_eq, 0),
       "winch in a reload: no worker left, none respawned");
    ok(!log_has(&r, "Reload failed"), "winch in a reload: not logged as a failed reload");
    kill(r.master, SIGTTIN);
    ok(wait_until(&r, 5000, c_alive_eq, 1), "TTIN after it: 1 worker");
    kill(r.master, SIGTERM);
    ok(wait_until(&r, 5000, c_done, 0) && exited_with(&r, 0), "winch in a reload: TERM exits 0");
    run_end(&r);
}

/*
 * TERM: the master closes its copies of the listeners before it tells a
 * worker to stop. A worker drains the backlog before it closes its own,
 * so the last holder of a listening socket is a worker; a master closing
 * after them would have the kernel reset what queued in between.
 */
static void test_term_closes_ours_first(void)
{
    struct run r;
    const struct ev *l, *t;

    run_init(&r, W_NORMAL, 2);
    if (run_start(&r, &listen_ops) < 0) {
        ok(0, "listeners: fork the master");
        return;
    }
    ok(wait_until(&r, 5000, c_alive_eq, 2), "listeners: 2 workers boot");
    kill(r.master, SIGTERM);
    ok(wait_until(&r, 5000, c_done, 0) && exited_with(&r, 0) &&
       wait_event(&r, 2000, 'T', 0) && wait_event(&r, 2000, 'L', 0),
       "listeners: TERM stops the workers and closes the master's copies");
    l = find_event(&r, 'L', 0);
    t = find_event(&r, 'T', 0);
    ok(l && t && l < t, "TERM: the master's listeners close before a worker is signalled");
    run_end(&r);
}

int main(void)
{
    harness_init();
    test_setup_errors();
    test_pidfile_busy();
    test_quick_stop();
    test_graceful_timeout();
    test_winch_daemon();
    test_winch_during_a_reload();
    test_term_closes_ours_first();
    test_lifecycle();
    test_hup_to_more_workers();
    return tap_done();
}
