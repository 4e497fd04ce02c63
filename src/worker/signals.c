/*
 * A worker's signals (docs/compat.md, Worker signals), the same for every worker
 * class: TERM asks for a graceful stop (cu_worker_stop), INT and QUIT exit
 * at once, USR1 asks for the logs to be reopened (cu_worker_reopen), ABRT
 * (the master's timeout) answers the request in the app with Gunicorn's
 * 500 when nothing of its response is out (sync: cu_worker_serving), says
 * which request it was and exits 1.
 * With worker_int/worker_abort/worker_exit hooks, INT/QUIT/ABRT go to the
 * hooks' thread through a pipe instead (cu_worker_signal_pipe).
 */
#include "worker/worker.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "core/log.h"
#include "core/proctitle.h"
#include "http/pages.h"

/* ABRT: how long the 500 waits for the client to close, so the exit
 * does not reset the connection under it; the master's SIGKILL comes a
 * second after its SIGABRT. */
#define ABRT_LINGER_MS 500

volatile sig_atomic_t cu_worker_stop, cu_worker_reopen, cu_worker_signalled;

/* cu_worker_signal_pipe: the write end, and which signals go there. */
static int hook_fd = -1;
static volatile sig_atomic_t hook_ints, hook_abrt;
/* cu_worker_wake_pipe: the write end, or -1. */
static int wake_fd = -1;

/* Wakes an event loop waiting for the pipe (signal-safe). */
static void wake(void)
{
    unsigned char b = 1;

    if (wake_fd >= 0)
        (void)!write(wake_fd, &b, 1);  /* full: a wake-up is pending anyway */
}

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
    int saved = errno;

    (void)sig;
    cu_worker_stop = 1;
    cu_proctitle_state("stopping");
    cu_worker_boot_term();  /* booting: the listeners go now */
    wake();
    errno = saved;
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
    int saved = errno;

    (void)sig;
    cu_worker_reopen = 1;
    wake();
    errno = saved;
}

/* The worker's own slot, for the ABRT handler to say what was running. */
static struct cu_worker_slot *my_slot;
/* sync: the connection whose request is in the app (cu_worker_serving),
 * and Gunicorn's 500 page for it, made before any request. */
static struct cu_conn *_Atomic serving;
static char page_500[HTTP_PAGE_MAX];
static size_t page_500_len;

void cu_worker_serving(struct cu_conn *c)
{
    atomic_store(&serving, c);
}

/* "Worker exiting (pid: N)", as every way out of a worker logs it. */
static void log_exiting(void)
{
    char pid[24];
    const char *parts[] = {"Worker exiting (pid: ", pid, ")"};
    size_t i = sizeof(pid) - 1;
    long p = (long)getpid();

    pid[i] = '\0';
    do
        pid[--i] = (char)('0' + p % 10);
    while ((p /= 10) > 0 && i > 0);
    parts[1] = pid + i;
    cu_log_signal(CU_INFO, parts, 3);
}

/*
 * The master's timeout (docs/compat.md, Heartbeat and timeouts). Gunicorn's
 * handler raises SystemExit in the app, and its request handler answers
 * that with a 500 page. Here the answer is sent by this handler itself,
 * so it goes out even when the app is stuck where no exception reaches it:
 * a lock-free claim of the connection (a write under way or bytes of the
 * response already out: no page, the response is cut), one send() of a
 * page made in advance, then the log lines. Signal-safe calls only.
 * faulthandler (enabled after us, so it runs first and then re-raises to
 * us) has written the Python stack of every thread by then.
 */
static void on_abrt(int sig)
{
    struct cu_conn *c = atomic_exchange(&serving, NULL);
    const char *req = my_slot && my_slot->request[0] ? my_slot->request : NULL;
    int saved = errno;

    if (c) {
        char line[sizeof(my_slot->request)] = "";
        const char *err[] = {"Error handling request ", line};
        const char *what[] = {"Worker aborted by the master's timeout: ", NULL};

        http_page_redate(page_500, page_500_len, (long long)time(NULL));
        what[1] = cu_conn_abort_now(c, page_500, page_500_len, ABRT_LINGER_MS)
                      ? "answered 500 Internal Server Error"
                      : "the response had begun; connection closed";
        if (req) {
            /* Gunicorn's line names the method and the target, no version */
            size_t n = strlen(req);
            memcpy(line, req, n + 1);
            if (n > 9 && memcmp(line + n - 9, " HTTP/", 6) == 0)
                line[n - 9] = '\0';
            cu_log_signal(CU_ERROR, err, 2);
        }
        cu_log_signal(CU_ERROR, what, 2);
    } else {
        const char *what[] = {"Worker aborted by the master's timeout while serving: ",
                              req ? req : "(no request)"};
        cu_log_signal(CU_ERROR, what, 2);
    }
    if (to_hooks(sig, hook_abrt)) {
        errno = saved;
        return;
    }
    log_exiting();
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
    page_500_len = http_page(page_500, sizeof(page_500), 500, "Internal Server Error",
                             NULL, 0);
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

int cu_worker_wake_pipe(void)
{
    int fds[2];

    if (pipe2(fds, O_CLOEXEC | O_NONBLOCK) < 0) {
        cu_log(CU_ERROR, "worker: pipe: %s", strerror(errno));
        return -1;
    }
    wake_fd = fds[1];
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
