/* See listeners.h. */
#include "net/listeners.h"

#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>
#ifdef __linux__
#include <netinet/in.h>
#include <netinet/tcp.h>
#endif

#include "core/clock.h"
#include "core/log.h"

#define MAX_INHERITED 64
#define RETRY_MS 1000   /* between two tries of a bind, as Gunicorn */

/* Adopts the sockets systemd or an old master handed over. */
static int adopt_inherited(struct cu_listener *ls, size_t *n, int *inherited,
                           size_t *n_systemd)
{
    int fds[MAX_INHERITED], systemd;
    char err[512];

    *inherited = cu_listen_fds_from_env(fds, MAX_INHERITED, &systemd, err, sizeof(err));
    if (*inherited < 0) {
        cu_log(CU_ERROR, "Inherited sockets: %s", err);
        return -1;
    }
    for (int i = 0; i < *inherited; i++) {
        struct cu_addr a = {.kind = CU_ADDR_FD, .fd = fds[i]};
        if (cu_listen(&a, 0, 0, &ls[*n], err, sizeof(err)) < 0) {
            cu_log(CU_ERROR, "Inherited socket: %s", err);
            return -1;
        }
        (*n)++;
    }
    *n_systemd = systemd ? (size_t)*inherited : 0;
    return 0;
}

/* A bind the inherited sockets stand for: they replace binding; only an
 * fd:// bind not among them is adopted too. */
static int bind_inherited(const struct cu_listener *ls, size_t inherited, int systemd,
                          const struct cu_addr *a, const char *bind)
{
    for (size_t i = 0; i < inherited; i++)
        if (cu_listener_matches(a, &ls[i]))
            return 1;
    if (a->kind == CU_ADDR_FD)
        return 0;
    cu_log(systemd ? CU_DEBUG : CU_WARNING,
           "%s is not among the inherited sockets: not bound", bind);
    return 1;
}

/* A bound address as Gunicorn's log lines show it (str() of its parsed
 * bind): ('HOST', PORT) for TCP, the path for UNIX. */
static void gunicorn_name(const struct cu_addr *a, char *out, size_t len)
{
    if (a->kind == CU_ADDR_TCP)
        (void)snprintf(out, len, "('%s', %d)", a->host, a->port);
    else
        (void)snprintf(out, len, "%s", a->path);
}

/* Binds a, and gives a UNIX socket file to o->uid and o->gid: 0, or -1
 * with the reason in err and errno, nothing left open. */
static int bind_once(const struct cu_addr *a, const struct cu_bind_opts *o,
                     struct cu_listener *l, char *err, size_t errlen)
{
    int e;

    if (cu_listen(a, o->backlog, o->reuse_port, l, err, errlen) < 0)
        return -1;
    if (a->kind != CU_ADDR_UNIX || cu_listener_chown(l, o->uid, o->gid, err, errlen) == 0)
        return 0;
    e = errno;
    cu_listener_close(l, 1);
    errno = e;
    return -1;
}

/* Sleeps ms, or less when INT, QUIT or TERM comes: that signal, or 0.
 * The master's handlers are not there yet, so the signals it handles are
 * taken here rather than delivered, whose default would end (HUP, USR1,
 * USR2) or stop (TTIN, TTOU) the master; those others are dropped. */
static int wait_for_stop(int ms)
{
    static const int taken[] = {SIGINT, SIGQUIT, SIGTERM, SIGHUP, SIGUSR1,
                                SIGUSR2, SIGTTIN, SIGTTOU, SIGWINCH};
    int64_t deadline = cu_now_ms() + ms;
    sigset_t set, old;
    int sig;

    sigemptyset(&set);
    for (size_t i = 0; i < sizeof(taken) / sizeof(taken[0]); i++)
        sigaddset(&set, taken[i]);
    (void)pthread_sigmask(SIG_BLOCK, &set, &old);
    for (;;) {
        int64_t left = deadline - cu_now_ms();
        struct timespec ts = {0, 0};

        if (left > 0) {
            ts.tv_sec = (time_t)(left / 1000);
            ts.tv_nsec = (long)(left % 1000) * 1000000L;
        }
        sig = sigtimedwait(&set, NULL, &ts);
        if (sig == SIGINT || sig == SIGQUIT || sig == SIGTERM)
            break;
        if (sig < 0 && errno != EINTR) {
            sig = 0;  /* EAGAIN: the time is up */
            break;
        }
        if (sig > 0)
            cu_log(CU_DEBUG, "Ignoring signal SIG%s while the bind waits",
                   sigabbrev_np(sig));
    }
    (void)pthread_sigmask(SIG_SETMASK, &old, NULL);
    return sig;
}

/* Opens a into *l as Gunicorn's create_sockets does: o->tries times at
 * most, a second apart. 0, -1 (logged), or 1 when a stop signal ended a
 * wait. */
static int bind_retrying(const struct cu_addr *a, const struct cu_bind_opts *o,
                         struct cu_listener *l)
{
    char name[320], err[512];
    int e, sig;

    gunicorn_name(a, name, sizeof(name));
    for (int i = 1;; i++) {
        if (bind_once(a, o, l, err, sizeof(err)) == 0)
            return 0;
        e = errno;
        /* no second try, as in Gunicorn: it adopts an fd:// before its
         * tries, and a path that is no socket is a ValueError there */
        if (a->kind == CU_ADDR_FD || e == ENOTSOCK) {
            cu_log(CU_ERROR, "Bad bind address: %s", err);
            return -1;
        }
        if (e == EADDRINUSE)
            cu_log(CU_ERROR, "Connection in use: %s", name);
        else if (e == EADDRNOTAVAIL)
            cu_log(CU_ERROR, "Invalid address: %s", name);
        cu_log(CU_ERROR, "connection to %s failed: %s", name, err);
        if (i >= o->tries)
            break;
        cu_log(CU_DEBUG, "Retrying in 1 second.");
        sig = wait_for_stop(RETRY_MS);
        if (sig != 0) {
            cu_log(CU_INFO, "Handling signal: %s",
                   sig == SIGINT ? "int" : sig == SIGQUIT ? "quit" : "term");
            return 1;
        }
    }
    cu_log(CU_ERROR, "Can't connect to %s", name);
    return -1;
}

int cu_listeners_open(struct cu_listener **out, size_t *n, size_t *n_systemd,
                      const char *const *bind, size_t n_bind,
                      const struct cu_bind_opts *o)
{
    struct cu_listener *ls = calloc(MAX_INHERITED + n_bind, sizeof(*ls));
    char err[512];
    int inherited, rc;

    *out = ls;
    *n = 0;
    *n_systemd = 0;
    if (!ls) {
        cu_log(CU_ERROR, "Listening sockets: out of memory");
        return -1;
    }
    if (adopt_inherited(ls, n, &inherited, n_systemd) < 0)
        return -1;
    for (size_t i = 0; i < n_bind; i++) {
        struct cu_addr a;
        if (cu_addr_parse(bind[i], &a, err, sizeof(err)) < 0) {
            cu_log(CU_ERROR, "Bad bind address: %s", err);
            return -1;
        }
        if (inherited > 0 &&
            bind_inherited(ls, (size_t)inherited, *n_systemd > 0, &a, bind[i]))
            continue;
        rc = bind_retrying(&a, o, &ls[*n]);
        if (rc != 0)
            return rc;
        (*n)++;
    }
    return 0;
}

void cu_listeners_announce(const struct cu_listener *ls, size_t n, int tls)
{
    for (size_t i = 0; i < n; i++)
        cu_log(CU_INFO, "Listening at: %s%s (%d)",
               ls[i].family == AF_UNIX ? "" : tls ? "https://" : "http://", ls[i].name,
               (int)getpid());
}

int cu_listeners_backlog(const struct cu_listener *ls, size_t n)
{
    int sum = -1;

#ifdef __linux__
    for (size_t i = 0; i < n; i++) {
        struct tcp_info ti;
        socklen_t len = sizeof(ti);

        if (ls[i].fd < 0 || (ls[i].family != AF_INET && ls[i].family != AF_INET6))
            continue;
        if (sum < 0)
            sum = 0;
        if (getsockopt(ls[i].fd, IPPROTO_TCP, TCP_INFO, &ti, &len) == 0 &&
            len >= offsetof(struct tcp_info, tcpi_unacked) + sizeof(ti.tcpi_unacked))
            sum += (int)ti.tcpi_unacked;
    }
#else
    (void)ls;
    (void)n;
#endif
    return sum;
}

int cu_listeners_waiting(const struct cu_listener *ls, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        struct pollfd pfd = {ls[i].fd, POLLIN, 0};

        if (ls[i].fd >= 0 && poll(&pfd, 1, 0) > 0 && (pfd.revents & POLLIN))
            return 1;
    }
    return 0;
}
