/*
 * What the master tells systemd when NOTIFY_SOCKET is set (arbiter.h has
 * the messages and when they are sent), one datagram each through
 * core/sdnotify.c.
 */
#include "master/internal.h"

#include "core/clock.h"
#include "core/log.h"
#include "core/sdnotify.h"
#include "master/upgrade.h"

#include <stdarg.h>
#include <stdio.h>
#include <unistd.h>

#define READY_POLL_MS 100       /* looking for booted workers, READY owed */

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
void cu_notify_if_ready(struct master *m)
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
    if (booted < m->workers)
        return;
    m->ready_owed = 0;
    notify(m, "READY=1\nSTATUS=cunicorn arbiter booted\nMAINPID=%d",
           (int)getpid());
}

/* HUP: systemd's reload protocol; READY=1 follows once the workers of the
 * new configuration are up (or at once, if the reload fails). */
void cu_notify_reloading(struct master *m)
{
    notify(m, "RELOADING=1\nSTATUS=Reloading\nMONOTONIC_USEC=%lld",
           (long long)cu_now_us());
    m->ready_owed = 1;
}

/* On the way out: STOPPING=1, or, when a USR2 child runs on our
 * listeners, MAINPID=<child> so that systemd follows the new master. */
void cu_notify_stopping(struct master *m)
{
    if (m->up != NULL && m->up->child != 0)
        notify(m, "MAINPID=%d\nSTATUS=Handed over to the new master",
               (int)m->up->child);
    else
        notify(m, "STOPPING=1");
}

/* The loop's sleep, shorter while READY=1 waits for workers to boot. */
int cu_notify_wait_ms(const struct master *m, int ms)
{
    return m->ready_owed && ms > READY_POLL_MS && cu_sd_notify_enabled()
           ? READY_POLL_MS : ms;
}

