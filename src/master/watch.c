/*
 * What the master does on each tick with the workers that are alive: it
 * reads their slots (booted: a reload or a recycle may finish; asked to be
 * recycled), starts a recycle (a worker's own request, or
 * --max-worker-lifetime, --max-worker-memory: the replacement first, one at
 * a time), and acts on heartbeats and deadlines: a timed-out worker gets
 * SIGABRT, then SIGKILL ABORT_GRACE_MS later; a retiring one still there
 * after graceful_timeout gets SIGKILL.
 */
#include "master/internal.h"

#include "core/clock.h"
#include "core/log.h"

#include <signal.h>
#include <stdio.h>
#include <unistd.h>

/* ---- boots, reloads and recycles ---- */

static const char *recycle_text(int reason)
{
    return cu_cause_text(CAUSE_RECYCLE + reason);
}

/* What the workers' slots say of their boot: a worker up ends the
 * back-off; once every worker of a reload is up the old ones are retired,
 * once a recycle's replacement is up the worker it replaces. */
void cu_check_booted(struct master *m)
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
                    cu_retire(m, &m->w[j], CAUSE_RECYCLE + m->w[j].recycling);
        }
    }
    if (m->next_gen && want_next == 0) {
        /* every new worker died (a signal, a crash, a timeout in its boot)
         * before it was up: the reload is off, as in boot_failed (workers.c) */
        cu_log(CU_ERROR, "Reload failed: the new workers died before they were up; "
               "keeping the old workers");
        cu_reload_off(m);
    }
    if (m->next_gen && want_next > 0 && booted_next == want_next) {
        cu_log(CU_INFO, "Reloaded: %d new worker%s up; retiring the old ones",
               want_next, want_next == 1 ? "" : "s");
        cu_retire_gen(m, m->gen, 1, CAUSE_RELOAD);
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
 * once the replacement is up (cu_check_booted). */
void cu_check_recycle(struct master *m)
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
        else if (m->cfg.max_worker_lifetime > 0 &&
                 now - w->born_ms >= (int64_t)m->cfg.max_worker_lifetime * 1000)
            reason = CU_RECYCLE_LIFETIME;
        else if (m->cfg.max_worker_memory > 0 &&
                 (rss = rss_mib(w->pid)) > m->cfg.max_worker_memory)
            reason = CU_RECYCLE_MEMORY;
        if (!reason)
            continue;
        if (reason == CU_RECYCLE_MEMORY)
            cu_log(CU_WARNING, "Worker (pid:%d) uses %ld MiB, over "
                   "--max-worker-memory %d: replacing it", (int)w->pid, rss,
                   m->cfg.max_worker_memory);
        else
            cu_log(CU_INFO, "Worker (pid:%d) to be %s: starting its replacement",
                   (int)w->pid, recycle_text(reason));
        w->recycling = reason;
        m->replacing = cu_spawn(m, m->gen);
        if (m->replacing < 0) {
            m->replacing = 0;
            w->recycling = 0;
        }
        return;
    }
}

/* ---- heartbeats and deadlines ---- */

/* Heartbeat timeouts (docs/compat.md, Heartbeat and timeouts) and the
 * deadlines of retiring workers. */
void cu_murder_workers(struct master *m)
{
    int64_t now = cu_now_ms(), limit = (int64_t)m->cfg.timeout * 1000;

    for (int i = 0; i < CU_MAX_WORKERS; i++) {
        struct worker *w = &m->w[i];

        if (w->pid <= 0 || w->killed)
            continue;
        if (w->aborted) {
            if (now - w->abort_ms >= ABORT_GRACE_MS)
                cu_kill_worker(m, w);
            continue;
        }
        if (w->retiring && now >= w->kill_at_ms) {
            cu_log(CU_WARNING, "Worker (pid:%d) still running after "
                   "graceful_timeout; sending SIGKILL", (int)w->pid);
            cu_kill_worker(m, w);
            continue;
        }
        if (limit <= 0 ||
            now - __atomic_load_n(&m->slots[i].beat_ms, __ATOMIC_RELAXED) <= limit)
            continue;
        cu_log(CU_CRITICAL, "WORKER TIMEOUT (pid:%d)", (int)w->pid);
        w->aborted = 1;
        w->abort_ms = now;
        cu_signal_worker(m, w, SIGABRT);
    }
}

/* How long the loop may sleep before cu_murder_workers has work to do. */
int cu_next_wait_ms(const struct master *m)
{
    int64_t now = cu_now_ms(), next = now + TICK_MS;
    int64_t limit = (int64_t)m->cfg.timeout * 1000;

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
