/*
 * A worker's signals (shared reference §3), the same for every worker
 * class: TERM asks for a graceful stop (cu_worker_stop), INT and QUIT exit
 * at once, USR1 asks for the logs to be reopened (cu_worker_reopen), ABRT
 * (the master's timeout) says which request was running and exits 1.
 */
#include "worker/worker.h"

#include <errno.h>
#include <signal.h>
#include <string.h>
#include <unistd.h>

#include "core/log.h"
#include "core/proctitle.h"

volatile sig_atomic_t cu_worker_stop, cu_worker_reopen;

static void on_term(int sig)
{
    (void)sig;
    cu_worker_stop = 1;
    cu_proctitle_state("stopping");
}

static void on_quit(int sig)
{
    (void)sig;
    _exit(0);
}

static void on_usr1(int sig)
{
    (void)sig;
    cu_worker_reopen = 1;
}

/* The worker's own slot, for the ABRT handler to say what was running. */
static struct cu_worker_slot *my_slot;

static void on_abrt(int sig)
{
    /* faulthandler (enabled after us, so it runs first and then re-raises
     * to us) has written the Python stack of every thread; this says which
     * request it was. Signal-safe calls only. */
    static const char pre[] = "Worker aborted by the master's timeout while serving: ";
    const char *req = my_slot && my_slot->request[0] ? my_slot->request : "(no request)";
    int fd = cu_log_error_fd();

    (void)sig;
    if (write(fd, pre, sizeof(pre) - 1) > 0 && write(fd, req, strlen(req)) > 0)
        (void)!write(fd, "\n", 1);
    _exit(1);
}

static int install(int sig, void (*fn)(int))
{
    struct sigaction sa;

    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = fn;
    sigemptyset(&sa.sa_mask);
    return sigaction(sig, &sa, NULL);
}

int cu_worker_signals(struct cu_worker_slot *slot)
{
    my_slot = slot;
    if (install(SIGTERM, on_term) || install(SIGINT, on_quit) ||
        install(SIGQUIT, on_quit) || install(SIGUSR1, on_usr1) ||
        install(SIGABRT, on_abrt) || install(SIGPIPE, SIG_IGN)) {
        cu_log(CU_ERROR, "worker: sigaction: %s", strerror(errno));
        return -1;
    }
    return 0;
}


void cu_worker_recycle(struct cu_worker_slot *slot, int reason)
{
    if (slot->recycle)
        return;
    if (reason == CU_RECYCLE_MAX_REQUESTS)
        cu_log(CU_INFO, "Autorestarting worker after current request.");
    slot->recycle = reason;
}
