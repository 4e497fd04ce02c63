/*
 * Tests of the workers that stop serving: the heartbeat, a silent worker's
 * SIGABRT and SIGKILL, and workers that cannot boot or load the app.
 * harness.h has how a case runs.
 */
#include "harness.h"
#include "../lib/tap.h"

#include <signal.h>
#include <stdint.h>
#include <string.h>
#include <sys/types.h>

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

int main(void)
{
    harness_init();
    test_heartbeat();
    test_boot_error(W_EXIT3, CU_EXIT_WORKER_BOOT, "Worker failed to boot.");
    test_boot_error(W_EXIT4, CU_EXIT_APP_LOAD, "App failed to load.");
    test_timeout();
    return tap_done();
}
