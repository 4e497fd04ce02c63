/*
 * A TERM while the worker boots (the app's import, the hooks before the
 * class's loop): this process's copies of the listeners are released at
 * once, in the handler, instead of when the import is over and the loop
 * closes them (docs/compat.md, Worker signals). A worker that held them
 * through a long import was the last holder after the master and the
 * other workers had closed theirs: the kernel went on queuing clients
 * behind it and reset them all at its exit.
 *
 * The handler cannot close() a listener: the import, going on, could open
 * a file that gets the same number, which the boot's end would then
 * close. It dup2()s a spare socket over each one instead (the listening
 * socket is released; the number stays taken), and the boot's end closes
 * the numbers. The state is one atomic, for a handler that runs in
 * another thread than the boot (one the app's import started).
 */
#include "worker/worker.h"

#include <errno.h>
#include <sched.h>
#include <stdatomic.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "core/log.h"

enum { BOOT_OFF, BOOT_ARMED, BOOT_RELEASING, BOOT_RELEASED };

static atomic_int state;
static struct cu_listener *boot_ls;
static size_t boot_n;
static int spare = -1;  /* dup2()'d over each listener */

void cu_worker_boot_term(void)
{
    int armed = BOOT_ARMED;

    if (!atomic_compare_exchange_strong(&state, &armed, BOOT_RELEASING))
        return;
    for (size_t i = 0; i < boot_n; i++)
        if (boot_ls[i].fd >= 0)
            (void)dup2(spare, boot_ls[i].fd);
    atomic_store(&state, BOOT_RELEASED);
}

void cu_worker_boot_begin(struct cu_listener *ls, size_t n)
{
    spare = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (spare < 0) {  /* the listeners go at the loop's stop, as before */
        cu_log(CU_WARNING, "worker: socket: %s (a TERM during the boot keeps "
               "the listeners until it is over)", strerror(errno));
        return;
    }
    boot_ls = ls;
    boot_n = n;
    atomic_store(&state, BOOT_ARMED);
    if (cu_worker_stop)  /* a TERM before this */
        cu_worker_boot_term();
}

int cu_worker_boot_end(void)
{
    int armed = BOOT_ARMED, released;

    if (atomic_compare_exchange_strong(&state, &armed, BOOT_OFF)) {
        released = 0;
    } else {
        /* a handler in another thread may be at it still: a few dup2s */
        while (atomic_load(&state) == BOOT_RELEASING)
            (void)sched_yield();
        released = atomic_load(&state) == BOOT_RELEASED;
        for (size_t i = 0; released && i < boot_n; i++) {
            if (boot_ls[i].fd >= 0)
                (void)close(boot_ls[i].fd);  /* the spare's copy */
            boot_ls[i].fd = -1;
        }
        atomic_store(&state, BOOT_OFF);
    }
    if (spare >= 0)
        (void)close(spare);
    spare = -1;
    return released;
}
