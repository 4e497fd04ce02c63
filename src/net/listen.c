/*
 * Listening sockets: Gunicorn's `bind` strings parsed and opened. See
 * listen.h for the API.
 *
 * The parse rules are Gunicorn's util.parse_address, with stricter choices
 * of cunicorn marked OURS. Opening follows gunicorn/sock.py: SO_REUSEADDR,
 * SO_REUSEPORT when asked, IPV6_V6ONLY, TCP_NODELAY, non-blocking,
 * listen(backlog); the family is IPv6 only for an IPv6 literal.
 *
 * Every failure writes one line into the caller's buffer and closes (and,
 * for a fresh UNIX socket, unlinks) whatever it had opened.
 */
#include "listen.h"
#include "core/errbuf.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <net/if.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#define DEFAULT_PORT 8000
#define MAX_PORT 65535
#define SUN_PATH_MAX (sizeof(((struct sockaddr_un *)0)->sun_path))
#define SUN_PATH_OFF (offsetof(struct sockaddr_un, sun_path))

/* Room for any host text cu_sockaddr_text makes: a UNIX path with '@', or
 * an IPv6 address with "%scope". */
#define HOST_TEXT_MAX (SUN_PATH_MAX + 2)

_Static_assert(sizeof(((struct cu_addr *)0)->path) <= SUN_PATH_MAX,
               "cu_addr.path fits sun_path");


/* ---- parsing ---------------------------------------------------------- */

/* n decimal digits, nothing else, value in [0, max]. */
static int parse_uint(const char *s, size_t n, long max, long *out)
{
    long v = 0;
    size_t i;

    if (n == 0)
        return -1;
    for (i = 0; i < n; i++) {
        int d = s[i] - '0';

        if (d < 0 || d > 9 || v > (max - d) / 10)
            return -1;
        v = v * 10 + d;
    }
    *out = v;
    return 0;
}

static int parse_unix(const char *bind, const char *path, struct cu_addr *a,
                      char *err, size_t errlen)
{
    size_t n = strlen(path);

    if (n == 0) {
        cu_seterr(err, errlen, "'%s': empty UNIX socket path", bind);
        return -1;
    }
    if (n >= sizeof(a->path)) {
        cu_seterr(err, errlen, "'%s': UNIX socket path longer than %zu bytes",
               bind, sizeof(a->path) - 1);
        return -1;
    }
    a->kind = CU_ADDR_UNIX;
    memcpy(a->path, path, n + 1);
    return 0;
}

static int parse_fd(const char *bind, const char *num, struct cu_addr *a,
                    char *err, size_t errlen)
{
    long v;

    /* OURS: digits only; Gunicorn's int() also takes "-1" or " 3". */
    if (parse_uint(num, strlen(num), INT_MAX, &v) == -1) {
        cu_seterr(err, errlen, "'%s': '%s' is not a valid file descriptor",
               bind, num);
        return -1;
    }
    a->kind = CU_ADDR_FD;
    a->fd = (int)v;
    return 0;
}

/*
 * Splits s into host and port text. "[v6]" or "[v6]:P"; otherwise at the
 * one colon. OURS: Gunicorn takes "[::1]x" as port 8000 and "::1" as an
 * empty host with a bad port; both are refused here with a clearer word.
 */
static int split_host_port(const char *bind, const char *s, const char **host,
                           size_t *hostn, const char **port, char *err,
                           size_t errlen)
{
    const char *colon;

    *port = NULL;
    if (s[0] == '[') {
        const char *close = strchr(s, ']');

        if (close == NULL) {
            cu_seterr(err, errlen, "'%s': missing ']' after IPv6 address", bind);
            return -1;
        }
        *host = s + 1;
        *hostn = (size_t)(close - *host);
        if (*hostn == 0) {
            cu_seterr(err, errlen, "'%s': empty IPv6 address", bind);
            return -1;
        }
        if (close[1] == ':')
            *port = close + 2;
        else if (close[1] != '\0') {
            cu_seterr(err, errlen, "'%s': expected ':PORT' after ']'", bind);
            return -1;
        }
        return 0;
    }
    colon = strchr(s, ':');
    if (colon != NULL && strchr(colon + 1, ':') != NULL) {
        cu_seterr(err, errlen, "'%s': write an IPv6 address in brackets, "
               "as [::1]:8000", bind);
        return -1;
    }
    *host = s;
    *hostn = colon != NULL ? (size_t)(colon - s) : strlen(s);
    if (colon != NULL)
        *port = colon + 1;
    return 0;
}

static int parse_tcp(const char *bind, const char *s, struct cu_addr *a,
                     char *err, size_t errlen)
{
    const char *host, *port;
    size_t hostn;
    long v = DEFAULT_PORT;

    if (split_host_port(bind, s, &host, &hostn, &port, err, errlen) == -1)
        return -1;
    if (hostn >= sizeof(a->host)) {
        cu_seterr(err, errlen, "'%s': host name longer than %zu bytes", bind,
               sizeof(a->host) - 1);
        return -1;
    }
    if (memchr(host, '[', hostn) != NULL || memchr(host, ']', hostn) != NULL) {
        cu_seterr(err, errlen, "'%s': stray bracket in host", bind);
        return -1;
    }
    if (port != NULL && parse_uint(port, strlen(port), MAX_PORT, &v) == -1) {
        cu_seterr(err, errlen, "'%s': '%s' is not a valid port number (0-%d)",
               bind, port, MAX_PORT);
        return -1;
    }
    a->kind = CU_ADDR_TCP;
    memcpy(a->host, host, hostn);
    a->host[hostn] = '\0';
    a->port = (int)v;
    return 0;
}

int cu_addr_parse(const char *s, struct cu_addr *a, char *err, size_t errlen)
{
    memset(a, 0, sizeof(*a));
    a->fd = -1;
    if (s == NULL) {
        cu_seterr(err, errlen, "no bind address");
        return -1;
    }
    if (strncmp(s, "unix:", 5) == 0) {
        const char *path = s + 5;

        if (strncmp(path, "//", 2) == 0)
            path += 2;
        return parse_unix(s, path, a, err, errlen);
    }
    if (strncmp(s, "fd://", 5) == 0)
        return parse_fd(s, s + 5, a, err, errlen);
    if (strncmp(s, "tcp://", 6) == 0)
        return parse_tcp(s, s + 6, a, err, errlen);
    return parse_tcp(s, s, a, err, errlen);
}

/* ---- address text ----------------------------------------------------- */

static int inet6_text(const struct sockaddr_in6 *sin6, char *host,
                      size_t hostlen)
{
    char scope[IF_NAMESIZE + 1];
    size_t n;
    int w;

    if (inet_ntop(AF_INET6, &sin6->sin6_addr, host, (socklen_t)hostlen)
        == NULL)
        return -1;
    if (sin6->sin6_scope_id == 0)
        return 0;
    /* Link-local: "fe80::1%eth0", as Python's getsockname() reports it. */
    if (if_indextoname(sin6->sin6_scope_id, scope) == NULL) {
        w = snprintf(scope, sizeof(scope), "%u",
                     (unsigned)sin6->sin6_scope_id);
        if (w < 0 || (size_t)w >= sizeof(scope))
            return -1;
    }
    n = strlen(host);
    w = snprintf(host + n, hostlen - n, "%%%s", scope);
    return w < 0 || (size_t)w >= hostlen - n ? -1 : 0;
}

static int unix_text(const struct sockaddr *sa, socklen_t len, char *host,
                     size_t hostlen)
{
    struct sockaddr_un sun;
    size_t n, copy = (size_t)len < sizeof(sun) ? (size_t)len : sizeof(sun);

    memset(&sun, 0, sizeof(sun));
    memcpy(&sun, sa, copy);
    n = copy > SUN_PATH_OFF ? copy - SUN_PATH_OFF : 0;
    if (n == 0) {                       /* unnamed, e.g. a socketpair end */
        host[0] = '\0';
        return 0;
    }
    if (sun.sun_path[0] == '\0') {      /* Linux abstract name: "@name" */
        if (n + 1 > hostlen)
            return -1;
        host[0] = '@';
        memcpy(host + 1, sun.sun_path + 1, n - 1);
        host[n] = '\0';
        return 0;
    }
    n = strnlen(sun.sun_path, n);
    if (n + 1 > hostlen)
        return -1;
    memcpy(host, sun.sun_path, n);
    host[n] = '\0';
    return 0;
}

/* "a.b.c.d" of an IPv4 address, as inet_ntop writes it, without it:
 * glibc's inet_ntop formats with sprintf, whose code a worker would
 * otherwise page in for the peer's address of its first request
 * (docs/operations.md, Memory). -1 if out is too small. */
static int ipv4_text(const struct in_addr *a, char *out, size_t outlen)
{
    const unsigned char *b = (const unsigned char *)&a->s_addr;  /* network order */
    char t[sizeof("255.255.255.255")], *p = t;

    for (int i = 0; i < 4; i++) {
        unsigned v = b[i];

        if (i > 0)
            *p++ = '.';
        if (v >= 100)
            *p++ = (char)('0' + v / 100);
        if (v >= 10)
            *p++ = (char)('0' + v / 10 % 10);
        *p++ = (char)('0' + v % 10);
    }
    *p = '\0';
    if ((size_t)(p - t) >= outlen)
        return -1;
    memcpy(out, t, (size_t)(p - t) + 1);
    return 0;
}

int cu_sockaddr_text(const struct sockaddr *sa, socklen_t len, char *host,
                     size_t hostlen, int *port)
{
    if (sa == NULL || host == NULL || hostlen == 0 || port == NULL)
        return -1;
    host[0] = '\0';
    *port = -1;
    if ((size_t)len < sizeof(sa_family_t))
        return -1;
    switch (sa->sa_family) {
    case AF_INET: {
        struct sockaddr_in sin;

        if ((size_t)len < sizeof(sin))
            return -1;
        memcpy(&sin, sa, sizeof(sin));
        if (ipv4_text(&sin.sin_addr, host, hostlen) < 0)
            return -1;
        *port = ntohs(sin.sin_port);
        return 0;
    }
    case AF_INET6: {
        struct sockaddr_in6 sin6;

        if ((size_t)len < sizeof(sin6))
            return -1;
        memcpy(&sin6, sa, sizeof(sin6));
        if (inet6_text(&sin6, host, hostlen) == -1) {
            host[0] = '\0';
            return -1;
        }
        *port = ntohs(sin6.sin6_port);
        return 0;
    }
    case AF_UNIX:
        return unix_text(sa, len, host, hostlen);
    default:
        return -1;
    }
}

/* "127.0.0.1:8000", "[::1]:8000" or "unix:/p". */
static int sockaddr_name(const struct sockaddr *sa, socklen_t len, char *out,
                         size_t outlen)
{
    char host[HOST_TEXT_MAX];
    int port, w;

    if (cu_sockaddr_text(sa, len, host, sizeof(host), &port) == -1)
        return -1;
    if (sa->sa_family == AF_UNIX)
        w = snprintf(out, outlen, "unix:%s", host);
    else if (sa->sa_family == AF_INET6)
        w = snprintf(out, outlen, "[%s]:%d", host, port);
    else
        w = snprintf(out, outlen, "%s:%d", host, port);
    return w < 0 || (size_t)w >= outlen ? -1 : 0;
}

/* The bind string as the user meant it, for messages before an address
 * exists: "localhost:8000", "[::1]:8000", ":8000". */
static void tcp_addr_name(const struct cu_addr *a, char *out, size_t outlen)
{
    if (strchr(a->host, ':') != NULL)
        (void)snprintf(out, outlen, "[%s]:%d", a->host, a->port);
    else
        (void)snprintf(out, outlen, "%s:%d", a->host, a->port);
}

/* ---- opening ---------------------------------------------------------- */

/* Closes fd after a failure, leaving errno as the failure set it. */
static void close_keeping_errno(int fd)
{
    int e = errno;

    (void)close(fd);
    errno = e;
}

static int set_int_opt(int fd, int level, int name, int value)
{
    return setsockopt(fd, level, name, &value, sizeof(value));
}

static int set_listen_options(int fd, int family, int reuse_port,
                              const char *what, char *err, size_t errlen)
{
    const char *opt = NULL;

    if (family != AF_UNIX && set_int_opt(fd, SOL_SOCKET, SO_REUSEADDR, 1) == -1)
        opt = "SO_REUSEADDR";
    /* As Gunicorn: a family without SO_REUSEPORT is not an error. */
    else if (reuse_port && set_int_opt(fd, SOL_SOCKET, SO_REUSEPORT, 1) == -1
             && errno != ENOPROTOOPT && errno != EINVAL)
        opt = "SO_REUSEPORT";
    else if (family == AF_INET6
             && set_int_opt(fd, IPPROTO_IPV6, IPV6_V6ONLY, 1) == -1)
        opt = "IPV6_V6ONLY";
    else if (family != AF_UNIX
             && set_int_opt(fd, IPPROTO_TCP, TCP_NODELAY, 1) == -1)
        opt = "TCP_NODELAY";
    if (opt == NULL)
        return 0;
    cu_seterr(err, errlen, "setsockopt %s %s: %s", opt, what, strerror(errno));
    return -1;
}

/* getsockname into l, then l->family and l->name. l->fd is not touched. */
static int fill_listener(struct cu_listener *l, int fd, const char *what,
                         char *err, size_t errlen)
{
    l->salen = sizeof(l->sa);
    if (getsockname(fd, (struct sockaddr *)&l->sa, &l->salen) == -1) {
        cu_seterr(err, errlen, "getsockname %s: %s", what, strerror(errno));
        return -1;
    }
    l->family = l->sa.ss_family;
    if (l->family != AF_INET && l->family != AF_INET6 && l->family != AF_UNIX) {
        cu_seterr(err, errlen, "%s: address family %d is not TCP or UNIX", what,
               l->family);
        return -1;
    }
    if (sockaddr_name((const struct sockaddr *)&l->sa, l->salen, l->name,
                      sizeof(l->name)) == -1) {
        cu_seterr(err, errlen, "%s: cannot format the bound address", what);
        return -1;
    }
    return 0;
}

/* One getaddrinfo candidate: a listening fd, or -1 with err set. */
static int open_tcp_candidate(const struct addrinfo *ai, int backlog,
                              int reuse_port, char *err, size_t errlen)
{
    char what[sizeof(((struct cu_listener *)0)->name)];
    int fd;

    if (sockaddr_name(ai->ai_addr, ai->ai_addrlen, what, sizeof(what)) == -1)
        (void)snprintf(what, sizeof(what), "(family %d)", ai->ai_family);
    fd = socket(ai->ai_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd == -1) {
        cu_seterr(err, errlen, "socket %s: %s", what, strerror(errno));
        return -1;
    }
    if (set_listen_options(fd, ai->ai_family, reuse_port, what, err, errlen)
        == -1)
        goto fail;
    if (bind(fd, ai->ai_addr, ai->ai_addrlen) == -1) {
        cu_seterr(err, errlen, "bind %s: %s", what, strerror(errno));
        goto fail;
    }
    if (listen(fd, backlog) == -1) {
        cu_seterr(err, errlen, "listen %s: %s", what, strerror(errno));
        goto fail;
    }
    return fd;

fail:
    close_keeping_errno(fd);
    return -1;
}

/* The addresses a TCP bind means; what names it (for messages) in what. */
static int tcp_resolve(const struct cu_addr *a, struct addrinfo **res,
                       char *what, size_t whatlen, char *err, size_t errlen)
{
    struct addrinfo hints;
    char port[8];
    int rc;

    tcp_addr_name(a, what, whatlen);
    (void)snprintf(port, sizeof(port), "%d", a->port);
    memset(&hints, 0, sizeof(hints));
    /* As Gunicorn: IPv6 only for an IPv6 literal, so "localhost" is
     * 127.0.0.1 and "" is 0.0.0.0. */
    hints.ai_family = strchr(a->host, ':') != NULL ? AF_INET6 : AF_INET;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
    if (hints.ai_family == AF_INET6)
        hints.ai_flags |= AI_NUMERICHOST;
    *res = NULL;
    rc = getaddrinfo(a->host[0] != '\0' ? a->host : NULL, port, &hints, res);
    if (rc != 0) {
        cu_seterr(err, errlen, "resolve %s: %s", what,
               rc == EAI_SYSTEM ? strerror(errno) : gai_strerror(rc));
        if (rc != EAI_SYSTEM)
            errno = 0;  /* no system error */
        return -1;
    }
    return 0;
}

static int listen_tcp(const struct cu_addr *a, int backlog, int reuse_port,
                      struct cu_listener *l, char *err, size_t errlen)
{
    struct addrinfo *res, *ai;
    char what[sizeof(l->name)];
    int fd = -1, e;

    if (tcp_resolve(a, &res, what, sizeof(what), err, errlen) == -1)
        return -1;
    cu_seterr(err, errlen, "resolve %s: no address", what);
    errno = 0;
    for (ai = res; ai != NULL && fd == -1; ai = ai->ai_next)
        fd = open_tcp_candidate(ai, backlog, reuse_port, err, errlen);
    e = errno;
    freeaddrinfo(res);
    errno = e;
    if (fd == -1)
        return -1;
    if (fill_listener(l, fd, what, err, errlen) == -1) {
        close_keeping_errno(fd);
        return -1;
    }
    l->fd = fd;
    return 0;
}

/* Removes a stale socket file at path; anything else there is an error. */
static int clear_unix_path(const char *path, char *err, size_t errlen)
{
    struct stat st;

    if (lstat(path, &st) == -1) {
        if (errno == ENOENT)
            return 0;
        cu_seterr(err, errlen, "stat unix:%s: %s", path, strerror(errno));
        return -1;
    }
    if (!S_ISSOCK(st.st_mode)) {
        cu_seterr(err, errlen, "unix:%s: exists and is not a socket", path);
        errno = ENOTSOCK;
        return -1;
    }
    if (unlink(path) == -1 && errno != ENOENT) {
        cu_seterr(err, errlen, "unlink unix:%s: %s", path, strerror(errno));
        return -1;
    }
    return 0;
}

static int listen_unix(const struct cu_addr *a, int backlog, int reuse_port,
                       struct cu_listener *l, char *err, size_t errlen)
{
    struct sockaddr_un sun;
    char what[sizeof(l->name)];
    size_t n = strnlen(a->path, sizeof(a->path));
    int fd, e;

    if (n == 0 || n >= sizeof(a->path)) {
        cu_seterr(err, errlen, "unix: bad socket path length");
        return -1;
    }
    (void)snprintf(what, sizeof(what), "unix:%s", a->path);
    memset(&sun, 0, sizeof(sun));
    sun.sun_family = AF_UNIX;
    memcpy(sun.sun_path, a->path, n + 1);
    if (clear_unix_path(a->path, err, errlen) == -1)
        return -1;
    fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd == -1) {
        cu_seterr(err, errlen, "socket %s: %s", what, strerror(errno));
        return -1;
    }
    if (set_listen_options(fd, AF_UNIX, reuse_port, what, err, errlen) == -1) {
        close_keeping_errno(fd);
        return -1;
    }
    if (bind(fd, (const struct sockaddr *)&sun,
             (socklen_t)(SUN_PATH_OFF + n + 1)) == -1) {
        cu_seterr(err, errlen, "bind %s: %s", what, strerror(errno));
        close_keeping_errno(fd);
        return -1;
    }
    /* From here on the socket file is ours: remove it on failure. */
    if (listen(fd, backlog) == -1) {
        cu_seterr(err, errlen, "listen %s: %s", what, strerror(errno));
        goto fail;
    }
    if (fill_listener(l, fd, what, err, errlen) == -1)
        goto fail;
    l->fd = fd;
    return 0;

fail:
    e = errno;
    (void)close(fd);
    (void)unlink(a->path);
    errno = e;
    return -1;
}

static int get_int_opt(int fd, int name, int *value)
{
    socklen_t len = sizeof(*value);

    return getsockopt(fd, SOL_SOCKET, name, value, &len);
}

/* Checks an inherited fd and adopts it. The fd is the caller's until this
 * succeeds, so it is never closed here. */
static int adopt_fd(const struct cu_addr *a, struct cu_listener *l, char *err,
                    size_t errlen)
{
    struct stat st;
    char what[32];
    int fd = a->fd, type, accepting, flags;

    (void)snprintf(what, sizeof(what), "fd://%d", fd);
    if (fd < 0 || fstat(fd, &st) == -1) {
        cu_seterr(err, errlen, "%s: %s", what, strerror(fd < 0 ? EBADF : errno));
        return -1;
    }
    if (!S_ISSOCK(st.st_mode)) {
        cu_seterr(err, errlen, "%s: not a socket", what);
        return -1;
    }
    if (get_int_opt(fd, SO_TYPE, &type) == -1
        || get_int_opt(fd, SO_ACCEPTCONN, &accepting) == -1) {
        cu_seterr(err, errlen, "getsockopt %s: %s", what, strerror(errno));
        return -1;
    }
    if (type != SOCK_STREAM) {
        cu_seterr(err, errlen, "%s: not a stream socket", what);
        return -1;
    }
    if (!accepting) {
        cu_seterr(err, errlen, "%s: socket is not listening", what);
        return -1;
    }
    if (fill_listener(l, fd, what, err, errlen) == -1)
        return -1;
    flags = fcntl(fd, F_GETFD);
    if (flags == -1 || fcntl(fd, F_SETFD, flags | FD_CLOEXEC) == -1) {
        cu_seterr(err, errlen, "fcntl FD_CLOEXEC %s: %s", what, strerror(errno));
        return -1;
    }
    flags = fcntl(fd, F_GETFL);
    if (flags == -1 || fcntl(fd, F_SETFL, flags | O_NONBLOCK) == -1) {
        cu_seterr(err, errlen, "fcntl O_NONBLOCK %s: %s", what, strerror(errno));
        return -1;
    }
    l->fd = fd;
    return 0;
}

int cu_listen(const struct cu_addr *a, int backlog, int reuse_port,
              struct cu_listener *l, char *err, size_t errlen)
{
    memset(l, 0, sizeof(*l));
    l->fd = -1;
    switch (a->kind) {
    case CU_ADDR_TCP:
        return listen_tcp(a, backlog, reuse_port, l, err, errlen);
    case CU_ADDR_UNIX:
        return listen_unix(a, backlog, reuse_port, l, err, errlen);
    case CU_ADDR_FD:
        return adopt_fd(a, l, err, errlen);
    }
    cu_seterr(err, errlen, "unknown bind address kind %d", (int)a->kind);
    return -1;
}

int cu_accept(const struct cu_listener *l, struct sockaddr_storage *peer,
              socklen_t *peerlen)
{
    for (;;) {
        int fd;

        *peerlen = sizeof(*peer);
        fd = accept4(l->fd, (struct sockaddr *)peer, peerlen, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd >= 0)
            return fd;
        if (errno == EWOULDBLOCK)
            errno = EAGAIN;
        if (errno != EINTR && errno != ECONNABORTED)
            return -1;
    }
}

/* The path of a named UNIX listener into path (SUN_PATH_MAX + 1 bytes);
 * 0 when l is none (another family, an abstract or unnamed socket). */
static int listener_path(const struct cu_listener *l, char *path)
{
    struct sockaddr_un sun;
    size_t n;

    if (l->family != AF_UNIX || l->salen <= SUN_PATH_OFF || l->salen > sizeof(sun))
        return 0;
    memcpy(&sun, &l->sa, l->salen);
    n = l->salen - SUN_PATH_OFF;
    memcpy(path, sun.sun_path, n);
    path[n] = '\0';
    /* A named socket only: an abstract name starts with a NUL. */
    return path[0] != '\0';
}

int cu_listener_chown(const struct cu_listener *l, uid_t uid, gid_t gid, char *err,
                      size_t errlen)
{
    char path[SUN_PATH_MAX + 1];

    if ((uid == (uid_t)-1 && gid == (gid_t)-1) || !listener_path(l, path))
        return 0;
    if (lchown(path, uid, gid) == -1) {
        cu_seterr(err, errlen, "chown %s to user %ld, group %ld: %s", l->name,
                  uid == (uid_t)-1 ? -1L : (long)uid, gid == (gid_t)-1 ? -1L : (long)gid,
                  strerror(errno));
        return -1;
    }
    return 0;
}

void cu_listener_close(struct cu_listener *l, int unlink_path)
{
    char path[SUN_PATH_MAX + 1];

    if (l->fd >= 0)
        (void)close(l->fd);
    l->fd = -1;
    if (unlink_path && listener_path(l, path))
        (void)unlink(path);
    l->family = 0;      /* a second call unlinks nothing */
}

/* ---- inherited sockets (docs/compat.md, Binary upgrade ...) ---------- */

/* getenv(name) as a count in [0, max]: 0 and *v, or -1 (absent or bad). */
static int env_uint(const char *name, long max, long *v)
{
    const char *s = getenv(name);

    return s == NULL ? -1 : parse_uint(s, strlen(s), max, v);
}

/* systemd's: LISTEN_FDS sockets from fd 3 when LISTEN_PID is ours. */
static int systemd_fds(int *fds, size_t max, char *err, size_t errlen)
{
    const char *count = getenv("LISTEN_FDS");
    long pid, n;

    if (env_uint("LISTEN_PID", INT_MAX, &pid) == -1 || pid != (long)getpid())
        return 0;       /* not for us (or not set) */
    if (count == NULL)
        return 0;
    if (parse_uint(count, strlen(count), INT_MAX - CU_LISTEN_FDS_START, &n) == -1) {
        cu_seterr(err, errlen, "LISTEN_FDS=%s: not a number of sockets", count);
        return -1;
    }
    if ((size_t)n > max) {
        cu_seterr(err, errlen, "LISTEN_FDS=%s: more than %zu sockets", count, max);
        return -1;
    }
    for (long i = 0; i < n; i++)
        fds[i] = CU_LISTEN_FDS_START + (int)i;
    return (int)n;
}

/* An old master's: GUNICORN_FD, "3,4,7". */
static int gunicorn_fds(int *fds, size_t max, char *err, size_t errlen)
{
    const char *list = getenv("GUNICORN_FD"), *p;
    size_t n = 0;

    if (list == NULL || getenv("GUNICORN_PID") == NULL || list[0] == '\0')
        return 0;
    for (p = list;; p++) {
        const char *comma = strchr(p, ',');
        size_t len = comma != NULL ? (size_t)(comma - p) : strlen(p);
        long v;

        if (parse_uint(p, len, INT_MAX, &v) == -1) {
            cu_seterr(err, errlen, "GUNICORN_FD=%s: not a list of file "
                      "descriptors", list);
            return -1;
        }
        if (n == max) {
            cu_seterr(err, errlen, "GUNICORN_FD=%s: more than %zu sockets",
                      list, max);
            return -1;
        }
        fds[n++] = (int)v;
        if (comma == NULL)
            break;
        p = comma;
    }
    return (int)n;
}

int cu_listen_fds_from_env(int *fds, size_t max, int *from_systemd, char *err,
                           size_t errlen)
{
    int n = systemd_fds(fds, max, err, errlen);

    *from_systemd = n > 0;
    if (n == 0)
        n = gunicorn_fds(fds, max, err, errlen);
    /* Read once, by the master: not for the workers or the app. */
    if (unsetenv("LISTEN_PID") == -1 || unsetenv("LISTEN_FDS") == -1
        || unsetenv("LISTEN_FDNAMES") == -1 || unsetenv("GUNICORN_FD") == -1) {
        cu_seterr(err, errlen, "unsetenv: %s", strerror(errno));
        return -1;
    }
    return n;
}

/* Whether sa (AF_INET or AF_INET6) has the address of ai, and port (any
 * port when port is 0). */
static int same_inet(const struct sockaddr *sa, const struct addrinfo *ai,
                     int port)
{
    if (sa->sa_family != ai->ai_family)
        return 0;
    if (sa->sa_family == AF_INET) {
        struct sockaddr_in x, y;

        memcpy(&x, sa, sizeof(x));
        memcpy(&y, ai->ai_addr, sizeof(y));
        return x.sin_addr.s_addr == y.sin_addr.s_addr
               && (port == 0 || ntohs(x.sin_port) == port);
    }
    if (sa->sa_family == AF_INET6) {
        struct sockaddr_in6 x, y;

        memcpy(&x, sa, sizeof(x));
        memcpy(&y, ai->ai_addr, sizeof(y));
        return memcmp(&x.sin6_addr, &y.sin6_addr, sizeof(x.sin6_addr)) == 0
               && (port == 0 || ntohs(x.sin6_port) == port);
    }
    return 0;
}

int cu_listener_matches(const struct cu_addr *a, const struct cu_listener *l)
{
    struct addrinfo *res, *ai;
    char what[sizeof(l->name)], host[HOST_TEXT_MAX];
    int port, found = 0;

    switch (a->kind) {
    case CU_ADDR_FD:
        return a->fd == l->fd;
    case CU_ADDR_UNIX:
        return l->family == AF_UNIX
               && cu_sockaddr_text((const struct sockaddr *)&l->sa, l->salen,
                                   host, sizeof(host), &port) == 0
               && strcmp(host, a->path) == 0;
    case CU_ADDR_TCP:
        if (l->family != AF_INET && l->family != AF_INET6)
            return 0;
        if (tcp_resolve(a, &res, what, sizeof(what), NULL, 0) == -1)
            return 0;
        for (ai = res; ai != NULL && !found; ai = ai->ai_next)
            found = same_inet((const struct sockaddr *)&l->sa, ai, a->port);
        freeaddrinfo(res);
        return found;
    }
    return 0;
}
