/* See listeners.h. */
#include "net/listeners.h"

#include <poll.h>
#include <stddef.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <unistd.h>
#ifdef __linux__
#include <netinet/in.h>
#include <netinet/tcp.h>
#endif

#include "core/log.h"

#define MAX_INHERITED 64

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

int cu_listeners_open(struct cu_listener **out, size_t *n, size_t *n_systemd,
                      const char *const *bind, size_t n_bind, int backlog,
                      int reuse_port, uid_t uid, gid_t gid)
{
    struct cu_listener *ls = calloc(MAX_INHERITED + n_bind, sizeof(*ls));
    char err[512];
    int inherited;

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
            cu_log(CU_ERROR, "Connection in use or bad address: %s", err);
            return -1;
        }
        if (inherited > 0 &&
            bind_inherited(ls, (size_t)inherited, *n_systemd > 0, &a, bind[i]))
            continue;
        if (cu_listen(&a, backlog, reuse_port, &ls[*n], err, sizeof(err)) < 0) {
            cu_log(CU_ERROR, "Connection in use or bad address: %s", err);
            return -1;
        }
        (*n)++;
        /* the file of a socket bound here goes to --user/--group */
        if (a.kind == CU_ADDR_UNIX &&
            cu_listener_chown(&ls[*n - 1], uid, gid, err, sizeof(err)) < 0) {
            cu_log(CU_ERROR, "Can't give the socket to --user/--group: %s", err);
            return -1;
        }
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
