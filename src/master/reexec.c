/*
 * USR2, the binary upgrade (docs/compat.md, Binary upgrade and inherited
 * sockets), the master's side: the fork, the new master's report, its end,
 * and, in a master that a USR2 started, the promotion once the old master is
 * gone. What the exec needs is prepared by master/upgrade.c.
 */
#include "master/internal.h"

#include "core/log.h"
#include "master/upgrade.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

/* At start: the hand-over's state, and a word when a USR2 started us. */
void cu_reexec_boot(struct master *m)
{
    m->up = m->cfg.upgrade;
    if (m->up == NULL)
        return;
    m->up->child = 0;
    if (m->up->parent != 0)
        cu_log(CU_INFO, "Started by USR2 of the master (pid:%d)",
               (int)m->up->parent);
}

static void upgrade_report(const struct cu_upgrade *u,
                           const struct cu_upgrade_report *r)
{
    const char *what = r->step == CU_UPGRADE_FCNTL ? "make the listeners "
                       "inheritable" : r->step == CU_UPGRADE_CHDIR ? "chdir to"
                       : "exec";
    const char *arg = r->step == CU_UPGRADE_CHDIR ? u->cwd
                      : r->step == CU_UPGRADE_EXEC ? u->argv[0] : "";

    cu_log(CU_ERROR, "USR2: the new master could not %s %s: %s", what, arg,
           strerror(r->err));
}

/* The new master's side of the fork: never returns. */
__attribute__((noreturn))
static void reexec_child(struct master *m, const struct cu_upgrade_exec *x,
                         int report_fd)
{
    cu_signals_before_exec(m);
    cu_upgrade_child(x, m->up, report_fd);
}

/* Waits (briefly: until the exec) for the child's report. 1 when it
 * failed (and is reaped), 0 when it exec'd. */
static int reexec_failed(struct master *m, pid_t pid, int report_fd)
{
    struct cu_upgrade_report r;
    ssize_t n;
    int status;

    do
        n = read(report_fd, &r, sizeof(r));
    while (n < 0 && errno == EINTR);
    if (n != (ssize_t)sizeof(r))
        return 0;
    upgrade_report(m->up, &r);
    while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
        ;
    return 1;
}

/* USR2: fork, and exec a new master that inherits the listeners. The
 * child runs no Python before its exec (as subprocess's fork_exec) but
 * the pre_exec hook, when there is a hook callback. */
void cu_reexec(struct master *m)
{
    struct cu_upgrade *u = m->up;
    struct cu_upgrade_exec x;
    char err[256];
    sigset_t all, prev;
    int fds[2], fork_errno;
    pid_t pid;

    if (u == NULL) {
        cu_log(CU_WARNING, "USR2 signal ignored: no re-exec configured");
        return;
    }
    if (u->child != 0) {
        cu_log(CU_WARNING, "USR2 signal ignored. Child exists.");
        return;
    }
    if (u->parent != 0) {
        cu_log(CU_WARNING, "USR2 signal ignored. Parent exists.");
        return;
    }
    if (cu_upgrade_prepare(&x, u, err, sizeof(err)) < 0) {
        cu_log(CU_ERROR, "USR2: cannot start a new master: %s", err);
        return;
    }
    if (pipe2(fds, O_CLOEXEC) < 0) {
        cu_log(CU_ERROR, "USR2: pipe2: %s", strerror(errno));
        cu_upgrade_discard(&x);
        return;
    }
    sigfillset(&all);
    sigprocmask(SIG_BLOCK, &all, &prev);
    /* the pre_exec hook runs Python in the child: the interpreter's fork
     * protocol then, as for a worker */
    if (m->ops->hook != NULL && m->ops->before_fork != NULL)
        m->ops->before_fork(m->ctx);
    pid = fork();
    if (pid == 0) {
        close(fds[0]);
        if (m->ops->hook != NULL) {
            if (m->ops->after_fork_child != NULL)
                m->ops->after_fork_child(m->ctx);
            (void)cu_master_hook(m, CU_MASTER_HOOK_PRE_EXEC, 0, 0, 0);
        }
        reexec_child(m, &x, fds[1]);
    }
    fork_errno = errno;
    if (m->ops->hook != NULL && m->ops->after_fork_parent != NULL)
        m->ops->after_fork_parent(m->ctx);
    sigprocmask(SIG_SETMASK, &prev, NULL);
    close(fds[1]);
    if (pid < 0)
        cu_log(CU_ERROR, "USR2: fork: %s", strerror(fork_errno));
    else if (!reexec_failed(m, pid, fds[0])) {
        u->child = pid;
        cu_log(CU_INFO, "USR2: new master started (pid:%d)", (int)pid);
    }
    close(fds[0]);
    cu_upgrade_discard(&x);
}

/* cu_reap(): the USR2 child exited; another USR2 may start a new one. */
void cu_reexec_reaped(struct master *m, int status)
{
    if (WIFEXITED(status) && WEXITSTATUS(status) == 0)
        cu_log(CU_INFO, "New master (pid:%d) exited", (int)m->up->child);
    else if (WIFEXITED(status))
        cu_log(CU_WARNING, "New master (pid:%d) exited with code %d",
               (int)m->up->child, WEXITSTATUS(status));
    else if (WIFSIGNALED(status))
        cu_log(CU_WARNING, "New master (pid:%d) was killed by signal %d",
               (int)m->up->child, WTERMSIG(status));
    m->up->child = 0;
}

/* Every tick of a USR2 child: once the old master is gone (we have a new
 * parent), take over its name: pidfile, log name and title without ".2",
 * and systemd's READY. */
void cu_reexec_promote(struct master *m)
{
    if (m->up == NULL || m->up->parent == 0 || getppid() == m->up->parent)
        return;
    cu_log(CU_INFO, "Master has been promoted.");
    m->up->parent = 0;  /* "Master" again, and no ".2" in its names */
    if (m->ops->promoted != NULL)
        m->ops->promoted(m->ctx);
    if (unsetenv("GUNICORN_PID") < 0)
        cu_log(CU_WARNING, "unsetenv GUNICORN_PID: %s", strerror(errno));
    if (m->pidfile != NULL && cu_pidfile_restart(m) < 0)
        cu_log(CU_ERROR, "Continuing without a pidfile");
    m->ready_owed = 1;
}
