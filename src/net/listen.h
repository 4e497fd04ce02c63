/*
 * Listening sockets: parsing bind addresses and opening them.
 *
 * Plain C. Set-up helpers write a one-line message into a caller-provided
 * buffer on failure and return -1; nothing here exits or logs.
 */
#ifndef CU_NET_LISTEN_H
#define CU_NET_LISTEN_H

#include <stddef.h>
#include <sys/socket.h>
#include <sys/types.h>

enum cu_addr_kind { CU_ADDR_TCP, CU_ADDR_UNIX, CU_ADDR_FD };

struct cu_addr {
    enum cu_addr_kind kind;
    char host[256];            /* TCP: as written, brackets removed; "" = all */
    int port;                  /* TCP */
    char path[108];            /* UNIX: the socket path */
    int fd;                    /* FD: an inherited descriptor */
};

struct cu_listener {
    int fd;
    int family;                /* AF_INET, AF_INET6, AF_UNIX */
    struct sockaddr_storage sa;  /* the bound address (getsockname) */
    socklen_t salen;
    char name[300];            /* "127.0.0.1:8000", "[::1]:8000", "unix:/p" */
};

/*
 * Parses one Gunicorn bind string: "HOST:PORT", "HOST" (port 8000),
 * ":PORT" (host "", all IPv4 interfaces as Gunicorn's "0.0.0.0"),
 * "[v6]:PORT", "[v6]", "tcp://" before any of those, "unix:PATH" or
 * "unix://PATH", "fd://N". PORT is 0-65535 in digits (0: ephemeral); PATH
 * is 1-107 bytes. Returns 0, or -1 with a message in err.
 */
int cu_addr_parse(const char *s, struct cu_addr *a, char *err, size_t errlen);

/*
 * Opens a listener for a: socket (CLOEXEC, non-blocking), SO_REUSEADDR
 * (TCP), SO_REUSEPORT when reuse_port, IPV6_V6ONLY for IPv6, TCP_NODELAY
 * (TCP), bind, listen(backlog). A UNIX path that exists and is a socket is
 * unlinked first; anything else there is an error. An FD is checked to be
 * a listening stream socket and adopted (made CLOEXEC and non-blocking).
 * Resolves HOST with getaddrinfo (numeric or name); as Gunicorn, HOST is
 * IPv6 only when it is an IPv6 literal, else IPv4 ("localhost" is
 * 127.0.0.1); the first address that binds wins.
 * Returns 0 with *l filled, or -1 with a message (naming the address and
 * the errno text) in err, l->fd == -1 and errno: the failed call's
 * (EADDRINUSE, EADDRNOTAVAIL, EACCES ...), ENOTSOCK for a UNIX path taken
 * by what is not a socket, 0 for a host name that does not resolve.
 * Everything opened is closed on failure; an inherited FD is the caller's
 * until adopted and is left open.
 */
int cu_listen(const struct cu_addr *a, int backlog, int reuse_port,
              struct cu_listener *l, char *err, size_t errlen);

/*
 * Accepts one connection waiting on l, non-blocking and close-on-exec,
 * with the peer's address in *peer. EINTR and ECONNABORTED (a client gone
 * before it was taken) are retried. Returns the new fd, or -1 with errno:
 * EAGAIN when none is waiting, else the failure (EMFILE, ENOBUFS ...) for
 * the caller to report.
 */
int cu_accept(const struct cu_listener *l, struct sockaddr_storage *peer,
              socklen_t *peerlen);

/* Gives a UNIX listener's socket file to uid and gid ((uid_t)-1,
 * (gid_t)-1: that one unchanged; both: nothing to do), as Gunicorn does
 * with the sockets it binds for --user and --group. The link itself
 * (lchown), never what a link put in its place would point to. Anything
 * but a named UNIX listener: nothing to do. 0, or -1 with a message in err. */
int cu_listener_chown(const struct cu_listener *l, uid_t uid, gid_t gid, char *err,
                      size_t errlen);

/* Closes the listener; unlinks a UNIX socket path when unlink_path. Safe
 * to call again, and on a listener cu_listen failed to fill. */
void cu_listener_close(struct cu_listener *l, int unlink_path);

/* Formats a peer or local address as Gunicorn's environ wants it:
 * host text into host (no brackets; "fe80::1%eth0" for a scoped IPv6
 * address), port into *port (-1 for UNIX). A UNIX host is the path, "" for
 * an unnamed peer, "@name" for an abstract one. Returns 0, or -1 for an
 * unknown family, a short len or a host buffer too small. */
int cu_sockaddr_text(const struct sockaddr *sa, socklen_t len, char *host,
                     size_t hostlen, int *port);

/* systemd passes its sockets from this fd on (sd_listen_fds(3)). */
#define CU_LISTEN_FDS_START 3

/*
 * The listening sockets handed to this process (docs/compat.md, Binary upgrade
 * and inherited sockets): systemd's when LISTEN_PID is our pid (LISTEN_FDS of
 * them, from fd 3; *from_systemd set), else, when GUNICORN_PID is set, an old
 * master's comma-separated GUNICORN_FD. LISTEN_PID, LISTEN_FDS, LISTEN_FDNAMES
 * and GUNICORN_FD are then removed from the environment (as libsystemd's
 * sd_listen_fds(1) does), so the workers and the app do not see them. Fills at
 * most max fds, unchecked (cu_listen with CU_ADDR_FD adopts them); returns how
 * many (0: none), or -1 with a message in err.
 */
int cu_listen_fds_from_env(int *fds, size_t max, int *from_systemd, char *err,
                           size_t errlen);

/* Whether the open listener l is what the bind address a asks for: the
 * same fd, the same UNIX path, or an address the TCP host resolves to
 * with its port (any port when a asks for port 0). */
int cu_listener_matches(const struct cu_addr *a, const struct cu_listener *l);

#endif
