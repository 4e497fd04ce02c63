/*
 * A worker's signals (docs/compat.md, Worker signals), the same for every worker
 * class: TERM asks for a graceful stop (cu_worker_stop), INT and QUIT exit
 * at once, USR1 asks for the logs to be reopened (cu_worker_reopen), ABRT
 * (the master's timeout) says which request was running and exits 1.
 * With worker_int/worker_abort/worker_exit hooks, INT/QUIT/ABRT go to the
 * hooks' thread through a pipe instead (cu_worker_signal_pipe).
 */
#include "worker/worker.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <string.h>
#include <unistd.h>

#include "core/log.h"
#include "core/proctitle.h"

volatile sig_atomic_t cu_worker_stop, cu_worker_reopen, cu_worker_signalled;

/* cu_worker_signal_pipe: the write end, and which signals go there. */
static int hook_fd = -1;
static volatile sig_atomic_t hook_ints, hook_abrt;

/* Hands sig to the hooks' thread; 0 if there is none for it. */
static int to_hooks(int sig, int wanted)
{
    unsigned char b = (unsigned char)sig;

    if (!wanted || hook_fd < 0)
        return 0;
    if (cu_worker_signalled)
        return 1;  /* once is enough; the thread is on it */
    cu_worker_signalled = 1;
    return write(hook_fd, &b, 1) == 1;
}

static void on_term(int sig)
{
    (void)sig;
    cu_worker_stop = 1;
    cu_proctitle_state("stopping");
}

static void on_quit(int sig)
{
    int saved = errno;

    if (to_hooks(sig, hook_ints)) {
        errno = saved;
        return;
    }
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
    int fd = cu_log_error_fd(), saved = errno;

    if (write(fd, pre, sizeof(pre) - 1) > 0 && write(fd, req, strlen(req)) > 0)
        (void)!write(fd, "\n", 1);
    if (to_hooks(sig, hook_abrt)) {
        errno = saved;
        return;
    }
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

int cu_worker_signal_pipe(int ints, int abrt)
{
    int fds[2];

    if (pipe2(fds, O_CLOEXEC) < 0) {
        cu_log(CU_ERROR, "worker: pipe: %s", strerror(errno));
        return -1;
    }
    hook_fd = fds[1];
    hook_ints = ints;
    hook_abrt = abrt;
    return fds[0];
}

void cu_worker_recycle(struct cu_worker_slot *slot, int reason)
{
    if (slot->recycle)
        return;
    if (reason == CU_RECYCLE_MAX_REQUESTS)
        cu_log(CU_INFO, "Autorestarting worker after current request.");
    slot->recycle = reason;
}
