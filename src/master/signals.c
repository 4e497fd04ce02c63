/*
 * How signals reach the master's loop: the handler writes the signal
 * number as one byte to a self-pipe and restores errno, nothing else. The
 * loop polls the pipe (at most TICK_MS, less when a deadline is near) and
 * moves what it reads into a queue of at most QUEUE_MAX signals; arbiter.c
 * acts on them. A worker and a USR2 child leave all of this behind before
 * they run anything of their own.
 */
#include "master/internal.h"

#include "core/log.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

/* The handled signals, in the order of old_act[]. */
static const int handled[] = {
    SIGHUP, SIGINT, SIGQUIT, SIGTERM, SIGTTIN, SIGTTOU,
    SIGUSR1, SIGUSR2, SIGWINCH, SIGCHLD,
};
_Static_assert(sizeof(handled) / sizeof(handled[0]) == NHANDLED,
               "old_act[] holds one entry per signal");

/* The write end of the self-pipe, for the handler: one master per process. */
static int sig_pipe_w = -1;

static const struct {
    int signo;
    const char *name;
} signames[] = {
    {SIGHUP, "HUP"}, {SIGINT, "INT"}, {SIGQUIT, "QUIT"}, {SIGILL, "ILL"},
    {SIGTRAP, "TRAP"}, {SIGABRT, "ABRT"}, {SIGBUS, "BUS"}, {SIGFPE, "FPE"},
    {SIGKILL, "KILL"}, {SIGUSR1, "USR1"}, {SIGSEGV, "SEGV"},
    {SIGUSR2, "USR2"}, {SIGPIPE, "PIPE"}, {SIGALRM, "ALRM"},
    {SIGTERM, "TERM"}, {SIGCHLD, "CHLD"}, {SIGCONT, "CONT"},
    {SIGSTOP, "STOP"}, {SIGTSTP, "TSTP"}, {SIGTTIN, "TTIN"},
    {SIGTTOU, "TTOU"}, {SIGURG, "URG"}, {SIGXCPU, "XCPU"},
    {SIGXFSZ, "XFSZ"}, {SIGVTALRM, "VTALRM"}, {SIGPROF, "PROF"},
    {SIGWINCH, "WINCH"}, {SIGSYS, "SYS"},
};

const char *cu_signame(int signo)
{
    for (size_t i = 0; i < sizeof(signames) / sizeof(signames[0]); i++)
        if (signames[i].signo == signo)
            return signames[i].name;
    return NULL;
}

/* "hup", "ttin": how Gunicorn names a signal in "Handling signal: ...". */
const char *cu_signame_lower(int signo, char *buf, size_t len)
{
    const char *n = cu_signame(signo);
    size_t i;

    if (n == NULL) {
        (void)snprintf(buf, len, "%d", signo);
        return buf;
    }
    for (i = 0; n[i] != '\0' && i + 1 < len; i++)
        buf[i] = (char)tolower((unsigned char)n[i]);
    buf[i] = '\0';
    return buf;
}

static void on_signal(int signo)
{
    int saved = errno;
    unsigned char b = (unsigned char)signo;

    if (write(sig_pipe_w, &b, 1) < 0) {
        /* Pipe full: the loop is far behind and will reap anyway. */
    }
    errno = saved;
}

int cu_signals_busy(void)
{
    return sig_pipe_w >= 0;
}

int cu_signals_install(struct master *m)
{
    struct sigaction sa;
    sigset_t ours;
    int fds[2];

    if (pipe2(fds, O_CLOEXEC | O_NONBLOCK) < 0) {
        cu_log(CU_ERROR, "pipe2: %s", strerror(errno));
        return -1;
    }
    m->pipe_r = fds[0];
    sig_pipe_w = fds[1];

    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    sigemptyset(&ours);
    for (int i = 0; i < NHANDLED; i++) {
        sigaddset(&sa.sa_mask, handled[i]);
        sigaddset(&ours, handled[i]);
    }
    for (int i = 0; i < NHANDLED; i++) {
        sa.sa_flags = SA_RESTART | (handled[i] == SIGCHLD ? SA_NOCLDSTOP : 0);
        if (sigaction(handled[i], &sa, &m->old_act[i]) < 0) {
            cu_log(CU_ERROR, "sigaction: %s", strerror(errno));
            return -1;
        }
        m->ninstalled = i + 1;
    }
    if (sigprocmask(SIG_UNBLOCK, &ours, &m->old_mask) < 0) {
        cu_log(CU_ERROR, "sigprocmask: %s", strerror(errno));
        return -1;
    }
    m->mask_saved = 1;
    return 0;
}

void cu_signals_restore(struct master *m)
{
    for (int i = 0; i < m->ninstalled; i++)
        sigaction(handled[i], &m->old_act[i], NULL);
    m->ninstalled = 0;
    if (m->mask_saved)
        sigprocmask(SIG_SETMASK, &m->old_mask, NULL);
    m->mask_saved = 0;
    if (sig_pipe_w >= 0)
        close(sig_pipe_w);
    sig_pipe_w = -1;
    if (m->pipe_r >= 0)
        close(m->pipe_r);
    m->pipe_r = -1;
}

/* A new worker (forked with every signal blocked): nothing of ours may
 * run there. mask: the one to run the worker with. */
void cu_signals_in_worker(struct master *m, const sigset_t *mask)
{
    struct sigaction dfl;

    memset(&dfl, 0, sizeof(dfl));
    dfl.sa_handler = SIG_DFL;
    sigemptyset(&dfl.sa_mask);
    for (int i = 0; i < NHANDLED; i++)
        sigaction(handled[i], &dfl, NULL);
    close(m->pipe_r);
    close(sig_pipe_w);
    m->pipe_r = -1;
    sig_pipe_w = -1;
    sigprocmask(SIG_SETMASK, mask, NULL);
}

/* A USR2 child: the dispositions and mask the server started with, so
 * that nothing of ours may run (or write to the self-pipe) before the
 * exec. */
void cu_signals_before_exec(const struct master *m)
{
    for (int i = 0; i < m->ninstalled; i++)
        sigaction(handled[i], &m->old_act[i], NULL);
    sigprocmask(SIG_SETMASK, &m->old_mask, NULL);
}

/*
 * Sleeps until a signal arrives or ms pass, then moves the pending signals
 * into the queue. SIGCHLD is not queued: the loop reaps on every tick.
 */
void cu_signals_wait(struct master *m, int ms)
{
    struct pollfd p = {.fd = m->pipe_r, .events = POLLIN};
    unsigned char buf[64];
    char name[16];
    ssize_t n;
    int chld = 0;

    if (poll(&p, 1, ms) <= 0)
        return;             /* timeout, EINTR: the caller loops */
    while ((n = read(m->pipe_r, buf, sizeof(buf))) > 0) {
        for (ssize_t i = 0; i < n; i++) {
            if (buf[i] == SIGCHLD)
                chld = 1;
            else if (m->nqueue < QUEUE_MAX)
                m->queue[m->nqueue++] = buf[i];
            else
                cu_log(CU_WARNING, "Ignoring rapid signaling: %s",
                       cu_signame_lower(buf[i], name, sizeof(name)));
        }
    }
    if (chld)
        cu_log(CU_DEBUG, "Handling signal: chld");
}

int cu_signals_pop(struct master *m)
{
    int sig = m->queue[0];

    m->nqueue--;
    memmove(m->queue, m->queue + 1, (size_t)m->nqueue);
    return sig;
}
