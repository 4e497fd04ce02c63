/*
 * Tests of the number of workers: the master's own, not the
 * configuration's. TTIN/TTOU change it, a successful HUP sets it to the
 * reloaded configuration's again, a failed or refused one leaves it; the
 * hooks see it; cu_master_run never writes to the configuration it is
 * given (every run exits 98 if it did: harness.c). harness.h has how a
 * case runs.
 */
#include "harness.h"
#include "../lib/tap.h"

#include <signal.h>
#include <stdint.h>
#include <string.h>
#include <sys/types.h>
#include <unistd.h>

/* Waits up to 5 s for a "K" event of hook which with these counts. */
static int wait_hook(struct run *r, int which, long workers, long old)
{
    int64_t deadline = mono_ms() + 5000;

    while (count_hooks(r, which, workers, old) == 0) {
        if (mono_ms() >= deadline)
            return 0;
        pump(r, 20);
    }
    return 1;
}

/* At least n reloads (ops->reload called). */
static int c_reloads(struct run *r, long n)
{
    return count_events(r, 'H', 0) >= n;
}

/* How many "K" events of hook which. */
static int count_which(struct run *r, int which)
{
    int n = 0;

    for (int i = 0; i < r->nev; i++)
        n += r->ev[i].type == 'K' && r->ev[i].a == which;
    return n;
}

/* The "K" event of hook which for the worker of this age, or NULL. */
static const struct ev *hook_of_age(struct run *r, int which, long age)
{
    for (int i = 0; i < r->nev; i++)
        if (r->ev[i].type == 'K' && r->ev[i].a == which && r->ev[i].d == age)
            return &r->ev[i];
    return NULL;
}

/* Start, TTIN, TTOU: what the hooks are told. */
static void check_hooks_scaling(struct run *r)
{
    const struct ev *f1, *f2, *exit1;

    ok(wait_until(r, 5000, c_alive_eq, 2), "hooks: 2 workers boot");
    ok(count_hooks(r, CU_MASTER_HOOK_WHEN_READY, 2, 0) == 1,
       "when_ready: workers 2");
    f1 = hook_of_age(r, CU_MASTER_HOOK_PRE_FORK, 1);
    f2 = hook_of_age(r, CU_MASTER_HOOK_PRE_FORK, 2);
    ok(f1 && f2 && f1->b == 2 && f2->b == 2, "pre_fork: ages 1 and 2, workers 2");

    kill(r->master, SIGTTIN);
    ok(wait_hook(r, CU_MASTER_HOOK_NWORKERS_CHANGED, 3, 2) &&
       wait_until(r, 5000, c_alive_eq, 3), "TTIN: nworkers_changed(3, 2); 3 workers");
    kill(r->master, SIGTTIN);
    ok(wait_hook(r, CU_MASTER_HOOK_NWORKERS_CHANGED, 4, 3) &&
       wait_until(r, 5000, c_alive_eq, 4), "TTIN: nworkers_changed(4, 3); 4 workers");
    kill(r->master, SIGTTOU);
    ok(wait_hook(r, CU_MASTER_HOOK_NWORKERS_CHANGED, 3, 4) &&
       wait_until(r, 5000, c_alive_eq, 3), "TTOU: nworkers_changed(3, 4); 3 workers");
    ok(wait_hook(r, CU_MASTER_HOOK_CHILD_EXIT, 3, -1) &&
       (exit1 = hook_of_age(r, CU_MASTER_HOOK_CHILD_EXIT, 1)) != NULL && exit1->b == 3,
       "child_exit: the oldest worker (age 1), workers 3");
}

/* HUP sets the count to the configuration's again; a failed one keeps it. */
static void check_hooks_hup(struct run *r)
{
    pid_t before[64], after[64];
    int n, changes, reloads;

    kill(r->master, SIGHUP);
    ok(wait_hook(r, CU_MASTER_HOOK_NWORKERS_CHANGED, 2, 3) &&
       wait_hook(r, CU_MASTER_HOOK_ON_RELOAD, 2, 0),
       "HUP after TTIN: nworkers_changed(2, 3), then on_reload with workers 2");
    ok(wait_until(r, 5000, c_alive_eq, 2) && stays(r, 300, c_alive_eq, 2),
       "HUP after TTIN: back to the configuration's 2 workers");

    kill(r->master, SIGTTIN);
    ok(wait_hook(r, CU_MASTER_HOOK_NWORKERS_CHANGED, 3, 2) &&
       wait_until(r, 5000, c_alive_eq, 3), "TTIN after HUP: 3 workers");
    changes = count_which(r, CU_MASTER_HOOK_NWORKERS_CHANGED);
    reloads = count_which(r, CU_MASTER_HOOK_ON_RELOAD);
    n = live_workers(r, before, 64);
    write_file(r->fail, "1\n");
    kill(r->master, SIGHUP);
    ok(wait_until(r, 5000, c_reloads, 2) && stays(r, 700, c_alive_eq, 3) && live_workers(r, after, 64) == n &&
       memcmp(before, after, (size_t)n * sizeof(pid_t)) == 0,
       "failed HUP: the same 3 workers");
    ok(count_which(r, CU_MASTER_HOOK_NWORKERS_CHANGED) == changes &&
       count_which(r, CU_MASTER_HOOK_ON_RELOAD) == reloads &&
       log_has(r, "Reload failed"),
       "failed HUP: neither nworkers_changed nor on_reload; Reload failed logged");

    kill(r->master, SIGTERM);
    ok(wait_until(r, 5000, c_done, 0) && exited_with(r, 0),
       "TERM: master exits 0, its configuration untouched");
    ok(count_hooks(r, CU_MASTER_HOOK_ON_EXIT, 3, 0) == 1, "on_exit: workers 3");
}

static void test_hooks_see_counts(void)
{
    struct run r;

    run_init(&r, W_NORMAL, 2);
    if (run_start(&r, &hook_ops) < 0) {
        ok(0, "hooks: fork the master");
        return;
    }
    check_hooks_scaling(&r);
    check_hooks_hup(&r);
    run_end(&r);
}

/* TTIN, then HUP: 'workers' workers after it. */
static void ttin_then_hup(struct run *r, int workers, const char *what)
{
    kill(r->master, SIGTTIN);
    ok(wait_until(r, 5000, c_alive_eq, 3), "%s: TTIN, 3 workers", what);
    kill(r->master, SIGHUP);
    ok(wait_until(r, 5000, c_booted, 5) && wait_until(r, 5000, c_alive_eq, workers) &&
       stays(r, 300, c_alive_eq, workers), "%s: HUP, %d workers", what, workers);
}

/* A reload without a new configuration keeps the old one, whose count it
 * restores; so does a HUP without a reload callback. */
static void test_reload_keeps(void)
{
    struct run r;

    run_init(&r, W_NORMAL, 2);
    r.c.reload_keeps = 1;
    if (run_start(&r, &all_ops) < 0) {
        ok(0, "keeps: fork the master");
        return;
    }
    ok(wait_until(&r, 5000, c_alive_eq, 2), "keeps: 2 workers boot");
    ttin_then_hup(&r, 2, "reload without a new configuration");
    ok(read_pidfile(r.pidfile) == r.master, "keeps: the same pidfile");
    kill(r.master, SIGTERM);
    ok(wait_until(&r, 5000, c_done, 0) && exited_with(&r, 0), "keeps: TERM exits 0");
    run_end(&r);

    run_init(&r, W_NORMAL, 2);
    if (run_start(&r, &min_ops) < 0) {
        ok(0, "no reload: fork the master");
        return;
    }
    ok(wait_until(&r, 5000, c_alive_eq, 2), "no reload: 2 workers boot");
    ttin_then_hup(&r, 2, "no reload callback");
    kill(r.master, SIGTERM);
    ok(wait_until(&r, 5000, c_done, 0) && exited_with(&r, 0), "no reload: TERM exits 0");
    run_end(&r);
}

/* A reload whose configuration the master refuses changes nothing. */
static void test_reload_refused(void)
{
    struct run r;
    pid_t before[64], after[64];
    int n;

    run_init(&r, W_NORMAL, 2);
    r.c.reload_bad = 1;
    r.c.reload_workers = 1;
    if (run_start(&r, &all_ops) < 0) {
        ok(0, "refused: fork the master");
        return;
    }
    ok(wait_until(&r, 5000, c_alive_eq, 2), "refused: 2 workers boot");
    kill(r.master, SIGTTIN);
    ok(wait_until(&r, 5000, c_alive_eq, 3), "refused: TTIN, 3 workers");
    n = live_workers(&r, before, 64);
    kill(r.master, SIGHUP);
    ok(wait_event(&r, 5000, 'H', 0) && stays(&r, 700, c_alive_eq, 3) &&
       live_workers(&r, after, 64) == n &&
       memcmp(before, after, (size_t)n * sizeof(pid_t)) == 0,
       "a reloaded configuration with timeout -1: the same 3 workers");
    ok(log_has(&r, "must not be negative") && log_has(&r, "Reload failed"),
       "log: why, and Reload failed");
    kill(r.master, SIGTERM);
    ok(wait_until(&r, 5000, c_done, 0) && exited_with(&r, 0), "refused: TERM exits 0");
    run_end(&r);
}

/* The workers before the broken reload: alive, and never sent TERM. */
static pid_t kept[2];

static int c_kept(struct run *r, long unused)
{
    (void)unused;
    return alive(kept[0]) && alive(kept[1]) && !find_event(r, 'T', kept[0]) &&
           !find_event(r, 'T', kept[1]);
}

/* A HUP from 2 to 'to' workers whose new workers cannot load the app:
 * the old generation goes on at the number it had, not the failed
 * reload's (neither grown with workers that cannot start either, nor
 * cut), and the hooks hear of it. The other new workers, which exit 4
 * too once the reload is off, are not boot failures of the workers that
 * serve: no back-off ("N times in a row") for their respawns. */
static void reload_fails_to_boot(int to)
{
    struct run r;

    run_init(&r, W_NORMAL, 2);
    r.c.reload_breaks = 1;
    r.c.reload_workers = to;
    if (run_start(&r, &hook_ops) < 0) {
        ok(0, "broken reload: fork the master");
        return;
    }
    ok(wait_until(&r, 5000, c_alive_eq, 2) && live_workers(&r, kept, 2) == 2,
       "broken reload to %d: 2 workers boot", to);
    kill(r.master, SIGHUP);
    ok(wait_hook(&r, CU_MASTER_HOOK_NWORKERS_CHANGED, to, 2) &&
       wait_hook(&r, CU_MASTER_HOOK_NWORKERS_CHANGED, 2, to),
       "HUP 2 -> %d, the app broken: nworkers_changed(%d, 2), then (2, %d)", to, to, to);
    ok(stays(&r, 1500, c_kept, 0), "HUP 2 -> %d, the app broken: the 2 workers stay", to);
    ok(log_has(&r, "Reload failed: a new worker could not start") &&
       !log_has(&r, "in a row"),
       "HUP 2 -> %d: Reload failed; no worker of the old generation started (to fail), "
       "no back-off", to);
    kill(r.master, SIGTERM);
    ok(wait_until(&r, 5000, c_done, 0) && exited_with(&r, 0),
       "broken reload to %d: TERM exits 0", to);
    run_end(&r);
}

/* A when_ready hook that fails stops the master before any fork. */
static void test_when_ready_fails(void)
{
    struct run r;

    run_init(&r, W_NORMAL, 2);
    r.c.hook_fails = CU_MASTER_HOOK_WHEN_READY + 1;
    if (run_start(&r, &hook_ops) < 0) {
        ok(0, "when_ready: fork the master");
        return;
    }
    ok(wait_until(&r, 5000, c_done, 0) && exited_with(&r, 1),
       "when_ready fails: status 1");
    ok(count_events(&r, 'B', 0) == 0 && count_events(&r, 'K', 0) == 1,
       "when_ready fails: no worker, no other hook");
    ok(access(r.pidfile, F_OK) < 0, "when_ready fails: pidfile removed");
    run_end(&r);
}

int main(void)
{
    harness_init();
    test_when_ready_fails();
    test_reload_refused();
    test_reload_keeps();
    test_hooks_see_counts();
    reload_fails_to_boot(3);
    reload_fails_to_boot(1);
    return tap_done();
}
