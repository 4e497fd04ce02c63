/*
 * USR2: what the new master is started with. See upgrade.h.
 *
 * Everything that allocates happens in the parent (capture at start,
 * prepare before the fork); the child's side only calls fcntl, chdir,
 * execvpe, write and _exit.
 */
#include "master/upgrade.h"

#include "core/errbuf.h"
#include "net/listen.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

extern char **environ;

#define LISTEN_PID_ROOM 24      /* digits of any pid_t, and the NUL */

/* Frees a NULL-terminated array of strings. */
static void strv_free(char **v)
{
    if (v == NULL)
        return;
    for (char **p = v; *p != NULL; p++)
        free(*p);
    free(v);
}

/* A NULL-terminated copy of a[0..n-1] then b[0..m-1]; NULL when out of
 * memory. */
static char **strv_copy(const char *const *a, size_t n, char *const *b,
                        size_t m)
{
    char **v = calloc(n + m + 1, sizeof(*v));

    if (v == NULL)
        return NULL;
    for (size_t i = 0; i < n + m; i++) {
        v[i] = strdup(i < n ? a[i] : b[i - n]);
        if (v[i] == NULL) {
            strv_free(v);
            return NULL;
        }
    }
    return v;
}

/* Gunicorn's util.getcwd(): $PWD when it is the same directory as ".". */
static char *start_cwd(void)
{
    const char *pwd = getenv("PWD");
    char *cwd = getcwd(NULL, 0);
    struct stat a, b;

    if (cwd != NULL && pwd != NULL && pwd[0] == '/' && stat(pwd, &a) == 0
        && stat(cwd, &b) == 0 && a.st_dev == b.st_dev && a.st_ino == b.st_ino) {
        char *p = strdup(pwd);

        if (p != NULL) {
            free(cwd);
            return p;
        }
    }
    return cwd;
}

/* GUNICORN_PID: the master that started this one by USR2, or 0. */
static pid_t parent_from_env(void)
{
    const char *s = getenv("GUNICORN_PID");
    char *end;
    long v;

    if (s == NULL || s[0] < '0' || s[0] > '9')
        return 0;
    errno = 0;
    v = strtol(s, &end, 10);
    if (errno != 0 || *end != '\0' || v <= 0 || v > INT_MAX)
        return 0;
    return (pid_t)v;
}

int cu_upgrade_capture(struct cu_upgrade *u, const char *const *head, int nhead,
                       int argc, char *const *argv, char *err, size_t errlen)
{
    size_t nenv = 0;

    while (environ != NULL && environ[nenv] != NULL)
        nenv++;
    u->envp = strv_copy(NULL, 0, environ, nenv);
    if (u->envp == NULL)
        goto nomem;
    u->cwd = start_cwd();
    if (u->cwd == NULL) {
        cu_seterr(err, errlen, "getcwd: %s", strerror(errno));
        cu_upgrade_release(u);
        return -1;
    }
    u->parent = parent_from_env();
    if (nhead < 1 || head[0] == NULL || head[0][0] == '\0')
        return 0;       /* no program to run again: USR2 refused */
    u->argv = strv_copy(head, (size_t)nhead, argv, (size_t)argc);
    if (u->argv == NULL)
        goto nomem;
    return 0;

nomem:
    cu_seterr(err, errlen, "out of memory");
    cu_upgrade_release(u);
    return -1;
}

void cu_upgrade_release(struct cu_upgrade *u)
{
    strv_free(u->argv);
    strv_free(u->envp);
    free(u->cwd);
    u->argv = NULL;
    u->envp = NULL;
    u->cwd = NULL;
}

/* Whether the entry "NAME=value" is one the child gets from us. */
static int replaced(const char *entry, int systemd)
{
    static const char *const names[] = {
        "GUNICORN_PID", "GUNICORN_FD", "LISTEN_PID", "LISTEN_FDS",
        "LISTEN_FDNAMES",
    };

    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
        size_t n = strlen(names[i]);

        /* systemd's names still describe the sockets handed over */
        if (systemd && strcmp(names[i], "LISTEN_FDNAMES") == 0)
            continue;
        if (strncmp(entry, names[i], n) == 0 && entry[n] == '=')
            return 1;
    }
    return 0;
}

/* "GUNICORN_FD=3,5,7" for the fds. NULL when out of memory. */
static char *fd_list(const int *fds, size_t n)
{
    size_t cap = sizeof("GUNICORN_FD=") + n * 12, len;
    char *s = malloc(cap);

    if (s == NULL)
        return NULL;
    len = (size_t)snprintf(s, cap, "GUNICORN_FD=");
    for (size_t i = 0; i < n; i++)
        len += (size_t)snprintf(s + len, cap - len, "%s%d", i ? "," : "", fds[i]);
    return s;
}

/* The variables the child gets from us, into x->own. 0 or -1. */
static int own_vars(struct cu_upgrade_exec *x, const struct cu_upgrade *u)
{
    char buf[64];

    (void)snprintf(buf, sizeof(buf), "GUNICORN_PID=%d", (int)getpid());
    x->own[0] = strdup(buf);
    if (u->n_systemd == 0) {
        x->own[1] = fd_list(x->fds, x->nfds);
        return x->own[0] != NULL && x->own[1] != NULL ? 0 : -1;
    }
    (void)snprintf(buf, sizeof(buf), "LISTEN_FDS=%zu", u->n_systemd);
    x->own[1] = strdup(buf);
    x->own[2] = calloc(1, sizeof("LISTEN_PID=") + LISTEN_PID_ROOM);
    if (x->own[0] == NULL || x->own[1] == NULL || x->own[2] == NULL)
        return -1;
    memcpy(x->own[2], "LISTEN_PID=", sizeof("LISTEN_PID="));
    x->listen_pid = x->own[2] + sizeof("LISTEN_PID=") - 1;
    return 0;
}

int cu_upgrade_prepare(struct cu_upgrade_exec *x, const struct cu_upgrade *u,
                       char *err, size_t errlen)
{
    size_t nenv = 0, k = 0, nl = *u->n_listeners;
    int systemd = u->n_systemd > 0;

    memset(x, 0, sizeof(*x));
    if (u->argv == NULL) {
        cu_seterr(err, errlen, "the program that started the server is not "
                  "known (sys.executable is empty)");
        return -1;
    }
    while (u->envp[nenv] != NULL)
        nenv++;
    x->fds = calloc(nl ? nl : 1, sizeof(*x->fds));
    x->envp = calloc(nenv + 4, sizeof(*x->envp));
    if (x->fds == NULL || x->envp == NULL)
        goto nomem;
    for (size_t i = 0; i < nl; i++)
        if ((*u->listeners)[i].fd >= 0)
            x->fds[x->nfds++] = (*u->listeners)[i].fd;
    if (own_vars(x, u) < 0)
        goto nomem;
    for (size_t i = 0; i < nenv; i++)
        if (!replaced(u->envp[i], systemd))
            x->envp[k++] = u->envp[i];      /* borrowed from u */
    for (size_t i = 0; i < 3 && x->own[i] != NULL; i++)
        x->envp[k++] = x->own[i];
    x->envp[k] = NULL;
    return 0;

nomem:
    cu_seterr(err, errlen, "out of memory");
    cu_upgrade_discard(x);
    return -1;
}

void cu_upgrade_discard(struct cu_upgrade_exec *x)
{
    for (size_t i = 0; i < 3; i++)
        free(x->own[i]);
    free(x->envp);
    free(x->fds);
    memset(x, 0, sizeof(*x));
}

/* Decimal digits of v into buf (room for any int), NUL-terminated.
 * Async-signal-safe. */
static void put_uint(char *buf, unsigned long v)
{
    char tmp[LISTEN_PID_ROOM];
    size_t n = 0, i;

    do {
        tmp[n++] = (char)('0' + v % 10);
        v /= 10;
    } while (v != 0 && n < sizeof(tmp) - 1);
    for (i = 0; i < n; i++)
        buf[i] = tmp[n - 1 - i];
    buf[n] = '\0';
}

__attribute__((noreturn))
static void child_fail(int report_fd, int step)
{
    struct cu_upgrade_report r = {step, errno};

    if (write(report_fd, &r, sizeof(r)) < 0) {
        /* the parent is gone: nobody to tell */
    }
    _exit(127);
}

void cu_upgrade_child(const struct cu_upgrade_exec *x,
                      const struct cu_upgrade *u, int report_fd)
{
    for (size_t i = 0; i < x->nfds; i++) {
        int flags = fcntl(x->fds[i], F_GETFD);

        if (flags == -1 || fcntl(x->fds[i], F_SETFD, flags & ~FD_CLOEXEC) == -1)
            child_fail(report_fd, CU_UPGRADE_FCNTL);
    }
    /* systemd's rule: the sockets are for the process LISTEN_PID names,
     * which exec keeps as ours. */
    if (x->listen_pid != NULL)
        put_uint(x->listen_pid, (unsigned long)getpid());
    if (chdir(u->cwd) == -1)
        child_fail(report_fd, CU_UPGRADE_CHDIR);
    execvpe(u->argv[0], u->argv, x->envp);
    child_fail(report_fd, CU_UPGRADE_EXEC);
}
