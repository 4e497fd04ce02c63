/*
 * Tests of bind-address parsing and listening sockets (src/net/listen.c).
 *
 * Parse cases are data. Sockets use only 127.0.0.1, ::1 and UNIX paths in
 * a mkdtemp directory, which is removed at the end; a count of open fds at
 * the start and the end catches a descriptor leaked on any path.
 */
#include "net/listen.h"
#include "../lib/fds.h"
#include "../lib/tap.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <net/if.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#define ERRLEN 256
#define WAIT_MS 2000

struct good {
    const char *in;
    enum cu_addr_kind kind;
    const char *host;   /* TCP */
    int port;           /* TCP */
    const char *path;   /* UNIX */
    int fd;             /* FD */
};

#define TCP(in, host, port) { in, CU_ADDR_TCP, host, port, "", -1 }
#define UNIX(in, path) { in, CU_ADDR_UNIX, "", 0, path, -1 }
#define FD(in, fd) { in, CU_ADDR_FD, "", 0, "", fd }

static const struct good goods[] = {
    TCP("127.0.0.1:8080", "127.0.0.1", 8080),
    TCP("127.0.0.1", "127.0.0.1", 8000),
    TCP("localhost:0", "localhost", 0),
    TCP("example.com:65535", "example.com", 65535),
    TCP("0.0.0.0:00080", "0.0.0.0", 80),
    TCP(":8000", "", 8000),
    TCP("", "", 8000),
    TCP("[::1]:9000", "::1", 9000),
    TCP("[::1]", "::1", 8000),
    TCP("[::]:0", "::", 0),
    TCP("[fe80::1%lo]:80", "fe80::1%lo", 80),
    TCP("tcp://127.0.0.1:81", "127.0.0.1", 81),
    TCP("tcp://[::1]:82", "::1", 82),
    TCP("tcp://localhost", "localhost", 8000),
    UNIX("unix:/tmp/x.sock", "/tmp/x.sock"),
    UNIX("unix:///tmp/x.sock", "/tmp/x.sock"),
    UNIX("unix:rel.sock", "rel.sock"),
    UNIX("unix://rel.sock", "rel.sock"),
    FD("fd://3", 3),
    FD("fd://0", 0),
    FD("fd://2147483647", INT_MAX),
};

static const char *const bads[] = {
    ":", "host:", "host:99999", "host:65536", "host:-1", "host:+80",
    "host: 80", "host:80x", "host:8o", "host:80:90", "host:123456789012",
    "[::1", "[::1]x", "[::1]:", "[::1]:x", "[]", "[]:80", "::1", "::1:80",
    "a]:80", "a[b", "tcp://:", "fd://", "fd://abc", "fd://-1", "fd://3x",
    "fd:// 3", "fd://2147483648", "unix:", "unix://",
};

static void test_parse_good(void)
{
    char err[ERRLEN];
    struct cu_addr a;
    size_t i;

    for (i = 0; i < sizeof(goods) / sizeof(goods[0]); i++) {
        const struct good *g = &goods[i];
        int rc;

        err[0] = '\0';
        rc = cu_addr_parse(g->in, &a, err, sizeof(err));
        if (!ok(rc == 0 && a.kind == g->kind, "parse '%s'", g->in)) {
            diag("rc %d kind %d: %s", rc, (int)a.kind, err);
            continue;
        }
        if (g->kind == CU_ADDR_TCP)
            ok(strcmp(a.host, g->host) == 0 && a.port == g->port,
               "'%s' is host '%s' port %d (got '%s' %d)", g->in, g->host,
               g->port, a.host, a.port);
        else if (g->kind == CU_ADDR_UNIX)
            ok(strcmp(a.path, g->path) == 0, "'%s' is path '%s' (got '%s')",
               g->in, g->path, a.path);
        else
            ok(a.fd == g->fd, "'%s' is fd %d (got %d)", g->in, g->fd, a.fd);
    }
}

static void test_parse_bad(void)
{
    char err[ERRLEN], in[400];
    struct cu_addr a;
    size_t i;

    for (i = 0; i < sizeof(bads) / sizeof(bads[0]); i++) {
        err[0] = '\0';
        ok(cu_addr_parse(bads[i], &a, err, sizeof(err)) == -1
           && err[0] != '\0', "refuse '%s': %s", bads[i], err);
    }
    ok(cu_addr_parse(NULL, &a, err, sizeof(err)) == -1, "refuse NULL: %s",
       err);
    ok(cu_addr_parse("host:", &a, NULL, 0) == -1, "no err buffer is fine");
    err[0] = 'x';
    ok(cu_addr_parse("host:", &a, err, 1) == -1 && err[0] == '\0',
       "a one-byte err buffer gets an empty string");

    /* sun_path holds 107 bytes and a NUL. */
    memcpy(in, "unix:/", 6);
    memset(in + 6, 'p', 106);
    in[112] = '\0';
    ok(cu_addr_parse(in, &a, err, sizeof(err)) == 0 && strlen(a.path) == 107,
       "a 107-byte UNIX path is taken");
    in[112] = 'p';
    in[113] = '\0';
    ok(cu_addr_parse(in, &a, err, sizeof(err)) == -1, "refuse a 108-byte "
       "UNIX path: %s", err);
    memset(in + 6, 'p', 300);
    in[306] = '\0';
    ok(cu_addr_parse(in, &a, err, sizeof(err)) == -1, "refuse a 300-byte "
       "UNIX path: %s", err);

    memset(in, 'h', 255);
    memcpy(in + 255, ":80", 4);
    ok(cu_addr_parse(in, &a, err, sizeof(err)) == 0 && strlen(a.host) == 255,
       "a 255-byte host is taken");
    memset(in, 'h', 256);
    memcpy(in + 256, ":80", 4);
    ok(cu_addr_parse(in, &a, err, sizeof(err)) == -1, "refuse a 256-byte "
       "host: %s", err);
}

/* ---- helpers ---------------------------------------------------------- */

static int listen_str(const char *s, int reuse_port, struct cu_listener *l,
                      char *err)
{
    struct cu_addr a;

    err[0] = '\0';
    memset(l, 0, sizeof(*l));
    l->fd = -1;
    if (cu_addr_parse(s, &a, err, ERRLEN) == -1)
        return -1;
    return cu_listen(&a, 16, reuse_port, l, err, ERRLEN);
}

static int connect_to(const void *sa, socklen_t len)
{
    int fd = socket(((const struct sockaddr *)sa)->sa_family,
                    SOCK_STREAM | SOCK_CLOEXEC, 0);

    if (fd == -1)
        return -1;
    if (connect(fd, sa, len) == -1) {
        (void)close(fd);
        return -1;
    }
    return fd;
}

/* Waits for one connection on a non-blocking listener. */
static int accept_one(int lfd)
{
    struct pollfd p = { .fd = lfd, .events = POLLIN, .revents = 0 };

    if (poll(&p, 1, WAIT_MS) != 1)
        return -1;
    return accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
}

/* A byte each way proves c and s are the two ends of one connection. */
static int talk(int c, int s)
{
    char b = 0;

    if (c < 0 || s < 0 || write(c, "x", 1) != 1 || read(s, &b, 1) != 1
        || b != 'x' || write(s, "y", 1) != 1 || read(c, &b, 1) != 1)
        return 0;
    return b == 'y';
}

static void close_fd(int fd)
{
    if (fd >= 0)
        (void)close(fd);
}

/* Connects to l with the given address, accepts and exchanges a byte. */
static int serves(const struct cu_listener *l, const void *sa, socklen_t len)
{
    int c = connect_to(sa, len), s = c >= 0 ? accept_one(l->fd) : -1;
    int r = talk(c, s);

    close_fd(c);
    close_fd(s);
    return r;
}

static int flags_ok(int fd)
{
    int fdf = fcntl(fd, F_GETFD), fl = fcntl(fd, F_GETFL);

    return fdf != -1 && fl != -1 && (fdf & FD_CLOEXEC) && (fl & O_NONBLOCK);
}

static int sockopt(int fd, int level, int name)
{
    int v = -1;
    socklen_t len = sizeof(v);

    if (getsockopt(fd, level, name, &v, &len) == -1)
        return -1;
    return v;
}

static int port_of(const struct cu_listener *l)
{
    char host[128];
    int port;

    if (cu_sockaddr_text((const struct sockaddr *)&l->sa, l->salen, host,
                         sizeof(host), &port) == -1)
        return -1;
    return port;
}

static struct sockaddr_in loop4(int port)
{
    struct sockaddr_in sin;

    memset(&sin, 0, sizeof(sin));
    sin.sin_family = AF_INET;
    sin.sin_port = htons((unsigned short)port);
    sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    return sin;
}

static struct sockaddr_in6 loop6(int port)
{
    struct sockaddr_in6 sin6;

    memset(&sin6, 0, sizeof(sin6));
    sin6.sin6_family = AF_INET6;
    sin6.sin6_port = htons((unsigned short)port);
    sin6.sin6_addr = in6addr_loopback;
    return sin6;
}

static struct sockaddr_un unix_sa(const char *path, socklen_t *len)
{
    struct sockaddr_un sun;

    memset(&sun, 0, sizeof(sun));
    sun.sun_family = AF_UNIX;
    (void)snprintf(sun.sun_path, sizeof(sun.sun_path), "%s", path);
    *len = (socklen_t)(offsetof(struct sockaddr_un, sun_path)
                       + strlen(sun.sun_path) + 1);
    return sun;
}

static int have_ipv6(void)
{
    struct sockaddr_in6 sin6 = loop6(0);
    int fd = socket(AF_INET6, SOCK_STREAM | SOCK_CLOEXEC, 0), r;

    if (fd == -1)
        return 0;
    r = bind(fd, (const struct sockaddr *)&sin6, sizeof(sin6)) == 0;
    (void)close(fd);
    return r;
}

/* ---- TCP -------------------------------------------------------------- */

static void test_tcp4(void)
{
    struct cu_listener l;
    struct sockaddr_in sin;
    char err[ERRLEN], want[64];
    int port;

    if (!ok(listen_str("127.0.0.1:0", 0, &l, err) == 0, "listen 127.0.0.1:0"))
        diag("%s", err);
    port = port_of(&l);
    ok(port > 0 && port <= 65535, "an ephemeral port was bound: %d", port);
    (void)snprintf(want, sizeof(want), "127.0.0.1:%d", port);
    ok(strcmp(l.name, want) == 0, "name is %s (got %s)", want, l.name);
    ok(l.family == AF_INET, "family AF_INET");
    ok(flags_ok(l.fd), "listener is CLOEXEC and non-blocking");
    ok(sockopt(l.fd, SOL_SOCKET, SO_ACCEPTCONN) == 1, "listening");
    ok(sockopt(l.fd, SOL_SOCKET, SO_REUSEADDR) == 1, "SO_REUSEADDR on");
    ok(sockopt(l.fd, SOL_SOCKET, SO_REUSEPORT) == 0, "SO_REUSEPORT off");
    ok(sockopt(l.fd, IPPROTO_TCP, TCP_NODELAY) == 1, "TCP_NODELAY on");
    sin = loop4(port);
    ok(serves(&l, &sin, sizeof(sin)), "connect to 127.0.0.1:%d is served",
       port);
    cu_listener_close(&l, 0);
    ok(l.fd == -1, "closed listener has fd -1");
    cu_listener_close(&l, 1);
    ok(connect_to(&sin, sizeof(sin)) == -1 && errno == ECONNREFUSED,
       "after close the port refuses");
}

static void test_localhost(void)
{
    struct addrinfo hints, *res;
    struct cu_listener l;
    struct sockaddr_in sin;
    char err[ERRLEN];

    memset(&hints, 0, sizeof(hints));
    hints.ai_family = AF_INET;
    hints.ai_socktype = SOCK_STREAM;
    if (getaddrinfo("localhost", NULL, &hints, &res) != 0) {
        diag("skip: 'localhost' does not resolve to IPv4 here");
        return;
    }
    freeaddrinfo(res);
    if (!ok(listen_str("localhost:0", 0, &l, err) == 0, "listen localhost:0"))
        diag("%s", err);
    ok(l.family == AF_INET && strncmp(l.name, "127.", 4) == 0,
       "localhost is IPv4 loopback, as Gunicorn: %s", l.name);
    sin = loop4(port_of(&l));
    ok(serves(&l, &sin, sizeof(sin)), "localhost listener is served");
    cu_listener_close(&l, 0);
}

static void test_tcp6(void)
{
    struct cu_listener l;
    struct sockaddr_in6 sin6;
    char err[ERRLEN], want[64];
    int port;

    if (!have_ipv6()) {
        diag("skip: IPv6 loopback unavailable");
        return;
    }
    if (!ok(listen_str("[::1]:0", 0, &l, err) == 0, "listen [::1]:0"))
        diag("%s", err);
    port = port_of(&l);
    ok(port > 0, "an ephemeral IPv6 port was bound: %d", port);
    (void)snprintf(want, sizeof(want), "[::1]:%d", port);
    ok(strcmp(l.name, want) == 0, "name is %s (got %s)", want, l.name);
    ok(l.family == AF_INET6, "family AF_INET6");
    ok(flags_ok(l.fd), "IPv6 listener is CLOEXEC and non-blocking");
    ok(sockopt(l.fd, IPPROTO_IPV6, IPV6_V6ONLY) == 1, "IPV6_V6ONLY on");
    sin6 = loop6(port);
    ok(serves(&l, &sin6, sizeof(sin6)), "connect to [::1]:%d is served",
       port);
    cu_listener_close(&l, 0);
}

static void test_resolve_error(void)
{
    struct cu_listener l;
    char err[ERRLEN];

    ok(listen_str("[::1::2]:0", 0, &l, err) == -1
       && strncmp(err, "resolve [::1::2]:0: ", 20) == 0 && l.fd == -1,
       "a bad IPv6 literal fails to resolve: %s", err);
}

static void test_same_port(void)
{
    struct cu_listener a, b, c;
    struct sockaddr_in sin;
    char err[ERRLEN], s[64], want[128];
    int port;

    if (listen_str("127.0.0.1:0", 0, &a, err) == -1) {
        ok(0, "listen 127.0.0.1:0: %s", err);
        return;
    }
    port = port_of(&a);
    (void)snprintf(s, sizeof(s), "127.0.0.1:%d", port);
    (void)snprintf(want, sizeof(want), "bind 127.0.0.1:%d: %s", port,
                   strerror(EADDRINUSE));
    ok(listen_str(s, 0, &b, err) == -1 && b.fd == -1,
       "a second bind of %s fails", s);
    ok(strcmp(err, want) == 0, "with '%s' (got '%s')", want, err);
    ok(listen_str(s, 1, &b, err) == -1,
       "reuse_port alone does not share a port bound without it");
    cu_listener_close(&a, 0);

    if (listen_str("127.0.0.1:0", 1, &a, err) == -1) {
        ok(0, "listen 127.0.0.1:0 with reuse_port: %s", err);
        return;
    }
    port = port_of(&a);
    (void)snprintf(s, sizeof(s), "127.0.0.1:%d", port);
    ok(sockopt(a.fd, SOL_SOCKET, SO_REUSEPORT) == 1, "SO_REUSEPORT on");
    if (!ok(listen_str(s, 1, &b, err) == 0, "with reuse_port on both, %s "
            "binds twice", s))
        diag("%s", err);
    ok(port_of(&b) == port && strcmp(a.name, b.name) == 0,
       "both listeners are %s", b.name);
    ok(listen_str(s, 0, &c, err) == -1 && c.fd == -1,
       "a third bind without reuse_port fails: %s", err);
    cu_listener_close(&a, 0);
    sin = loop4(port);
    ok(serves(&b, &sin, sizeof(sin)), "the second listener serves alone");
    cu_listener_close(&b, 0);
}

/* ---- UNIX ------------------------------------------------------------- */

static int is_socket(const char *path)
{
    struct stat st;

    return lstat(path, &st) == 0 && S_ISSOCK(st.st_mode);
}

static int write_file(const char *path, const char *text)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    ssize_t n = (ssize_t)strlen(text);
    int r;

    if (fd == -1)
        return -1;
    r = write(fd, text, (size_t)n) == n ? 0 : -1;
    if (close(fd) == -1)
        r = -1;
    return r;
}

static int file_is(const char *path, const char *text)
{
    char buf[64];
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    ssize_t n;

    if (fd == -1)
        return 0;
    n = read(fd, buf, sizeof(buf));
    (void)close(fd);
    return n == (ssize_t)strlen(text) && memcmp(buf, text, (size_t)n) == 0;
}

static void test_unix(const char *dir)
{
    struct cu_listener l;
    struct sockaddr_un sun;
    socklen_t sunlen;
    char err[ERRLEN], path[128], bind_s[160], want[256], host[128];
    int port, rc;

    (void)snprintf(path, sizeof(path), "%s/s.sock", dir);
    (void)snprintf(bind_s, sizeof(bind_s), "unix:%s", path);
    sun = unix_sa(path, &sunlen);
    if (!ok(listen_str(bind_s, 0, &l, err) == 0, "listen %s", bind_s))
        diag("%s", err);
    ok(strcmp(l.name, bind_s) == 0, "name is %s (got %s)", bind_s, l.name);
    ok(l.family == AF_UNIX && is_socket(path), "a socket file was made");
    ok(flags_ok(l.fd), "UNIX listener is CLOEXEC and non-blocking");
    rc = cu_sockaddr_text((const struct sockaddr *)&l.sa, l.salen, host,
                          sizeof(host), &port);
    ok(rc == 0 && strcmp(host, path) == 0 && port == -1,
       "its text is the path and port -1 (got '%s' %d)", host, port);
    ok(serves(&l, &sun, sunlen), "connect to %s is served", bind_s);
    cu_listener_close(&l, 0);
    ok(is_socket(path), "closed without unlink, the file stays");

    (void)snprintf(bind_s, sizeof(bind_s), "unix://%s", path);
    if (!ok(listen_str(bind_s, 0, &l, err) == 0, "listen %s over the stale "
            "socket", bind_s))
        diag("%s", err);
    ok(serves(&l, &sun, sunlen), "the replaced socket is served");
    cu_listener_close(&l, 1);
    ok(!is_socket(path) && errno == ENOENT, "close with unlink removes it");
    cu_listener_close(&l, 1);
    ok(l.fd == -1, "closing twice is harmless");

    (void)snprintf(path, sizeof(path), "%s/file", dir);
    (void)snprintf(bind_s, sizeof(bind_s), "unix:%s", path);
    (void)snprintf(want, sizeof(want), "%s: exists and is not a socket",
                   bind_s);
    ok(write_file(path, "keep") == 0, "made a regular file");
    ok(listen_str(bind_s, 0, &l, err) == -1 && l.fd == -1
       && strcmp(err, want) == 0, "refuse a regular file: %s", err);
    ok(file_is(path, "keep"), "the regular file is untouched");
    ok(unlink(path) == 0, "removed the regular file");

    (void)snprintf(path, sizeof(path), "%s/sub", dir);
    (void)snprintf(bind_s, sizeof(bind_s), "unix:%s", path);
    ok(mkdir(path, 0700) == 0, "made a directory");
    ok(listen_str(bind_s, 0, &l, err) == -1, "refuse a directory: %s", err);
    ok(rmdir(path) == 0, "removed the directory");

    (void)snprintf(bind_s, sizeof(bind_s), "unix:%s/none/s.sock", dir);
    (void)snprintf(want, sizeof(want), "bind %s: %s", bind_s,
                   strerror(ENOENT));
    ok(listen_str(bind_s, 0, &l, err) == -1 && strcmp(err, want) == 0,
       "a missing directory fails in bind: %s", err);
}

/* ---- fd:// ------------------------------------------------------------ */

static int adopt(int fd, struct cu_listener *l, char *err)
{
    char s[32];

    (void)snprintf(s, sizeof(s), "fd://%d", fd);
    return listen_str(s, 0, l, err);
}

/* A listening socket as a parent would pass it: no CLOEXEC, blocking. */
static int raw_listener4(int *port)
{
    struct sockaddr_in sin = loop4(0);
    socklen_t len = sizeof(sin);
    int fd = socket(AF_INET, SOCK_STREAM, 0);

    if (fd == -1)
        return -1;
    if (bind(fd, (const struct sockaddr *)&sin, sizeof(sin)) == -1
        || listen(fd, 4) == -1
        || getsockname(fd, (struct sockaddr *)&sin, &len) == -1) {
        (void)close(fd);
        return -1;
    }
    *port = ntohs(sin.sin_port);
    return fd;
}

static void test_fd_tcp(void)
{
    struct cu_listener l;
    struct sockaddr_in sin;
    char err[ERRLEN], want[64];
    int fd, port = 0;

    fd = raw_listener4(&port);
    if (!ok(fd >= 0, "made a plain listening socket"))
        return;
    ok(!flags_ok(fd), "it starts blocking and inheritable");
    if (!ok(adopt(fd, &l, err) == 0 && l.fd == fd, "adopt fd://%d", fd))
        diag("%s", err);
    (void)snprintf(want, sizeof(want), "127.0.0.1:%d", port);
    ok(strcmp(l.name, want) == 0 && l.family == AF_INET,
       "name is %s (got %s)", want, l.name);
    ok(flags_ok(fd), "adoption made it CLOEXEC and non-blocking");
    sin = loop4(port);
    ok(serves(&l, &sin, sizeof(sin)), "the adopted socket is served");
    cu_listener_close(&l, 1);
    ok(fcntl(fd, F_GETFD) == -1 && errno == EBADF,
       "closing the listener closes the adopted fd");
}

static void test_fd_unix(const char *dir)
{
    struct cu_listener l;
    struct sockaddr_un sun;
    socklen_t sunlen;
    char err[ERRLEN], path[128], want[160];
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);

    (void)snprintf(path, sizeof(path), "%s/fd.sock", dir);
    sun = unix_sa(path, &sunlen);
    if (!ok(fd >= 0 && bind(fd, (const struct sockaddr *)&sun, sunlen) == 0
            && listen(fd, 4) == 0, "made a listening UNIX socket")) {
        close_fd(fd);
        (void)unlink(path);
        return;
    }
    if (!ok(adopt(fd, &l, err) == 0, "adopt a UNIX fd://%d", fd))
        diag("%s", err);
    (void)snprintf(want, sizeof(want), "unix:%s", path);
    ok(strcmp(l.name, want) == 0 && l.family == AF_UNIX,
       "name is %s (got %s)", want, l.name);
    ok(serves(&l, &sun, sunlen), "the adopted UNIX socket is served");
    cu_listener_close(&l, 1);
    ok(!is_socket(path), "close with unlink removes its file");
}

/* fd is refused with a message ending in why, and left open. */
static void refused(int fd, const char *what, const char *why)
{
    struct cu_listener l;
    char err[ERRLEN];
    size_t n = strlen(why), m;

    ok(adopt(fd, &l, err) == -1 && l.fd == -1, "refuse %s: %s", what, err);
    m = strlen(err);
    ok(m >= n && strcmp(err + m - n, why) == 0, "the message ends '%s'", why);
    ok(fcntl(fd, F_GETFD) != -1, "the refused fd is still open");
}

static void test_fd_refused(const char *dir)
{
    char path[128];
    int fd;

    fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (ok(fd >= 0, "made an unbound TCP socket"))
        refused(fd, "a non-listening socket", "socket is not listening");
    close_fd(fd);

    fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (ok(fd >= 0, "made a UDP socket"))
        refused(fd, "a datagram socket", "not a stream socket");
    close_fd(fd);

    (void)snprintf(path, sizeof(path), "%s/plain", dir);
    fd = open(path, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (ok(fd >= 0, "made a regular file"))
        refused(fd, "a regular file", "not a socket");
    close_fd(fd);
    ok(unlink(path) == 0, "removed the regular file");

    fd = dup(STDIN_FILENO);
    if (fd >= 0 && close(fd) == 0) {
        struct cu_listener l;
        char err[ERRLEN];

        ok(adopt(fd, &l, err) == -1 && strstr(err, strerror(EBADF)) != NULL,
           "refuse a closed fd: %s", err);
    }
}

/* ---- cu_sockaddr_text ------------------------------------------------- */

static void text_is(const void *sa, socklen_t len, const char *host, int port,
                    const char *what)
{
    char got[128];
    int p = 0, rc = cu_sockaddr_text(sa, len, got, sizeof(got), &p);

    ok(rc == 0 && strcmp(got, host) == 0 && p == port,
       "%s is '%s' %d (got '%s' %d)", what, host, port, got, p);
}

static void test_sockaddr_text(void)
{
    struct sockaddr_in sin = loop4(80);
    struct sockaddr_in6 sin6 = loop6(443);
    struct sockaddr_un sun;
    struct sockaddr_storage ss;
    socklen_t len = sizeof(ss);
    char host[128];
    int port, sv[2];
    unsigned lo = if_nametoindex("lo");
    static const char *const dotted[] = {"0.0.0.0", "255.255.255.255", "10.200.9.100",
                                         "1.20.199.250", "192.0.2.99"};

    text_is(&sin, sizeof(sin), "127.0.0.1", 80, "AF_INET");
    for (size_t i = 0; i < sizeof(dotted) / sizeof(dotted[0]); i++) {
        struct sockaddr_in a = loop4(65535);

        ok(inet_pton(AF_INET, dotted[i], &a.sin_addr) == 1, "pton %s", dotted[i]);
        text_is(&a, sizeof(a), dotted[i], 65535, dotted[i]);
    }
    text_is(&sin6, sizeof(sin6), "::1", 443, "AF_INET6");
    ok(inet_pton(AF_INET6, "2001:db8::a", &sin6.sin6_addr) == 1, "pton");
    text_is(&sin6, sizeof(sin6), "2001:db8::a", 443, "a global IPv6");
    if (lo != 0) {
        ok(inet_pton(AF_INET6, "fe80::1", &sin6.sin6_addr) == 1, "pton");
        sin6.sin6_scope_id = lo;
        text_is(&sin6, sizeof(sin6), "fe80::1%lo", 443, "a scoped IPv6");
    }

    memset(&sun, 0, sizeof(sun));
    sun.sun_family = AF_UNIX;
    memcpy(sun.sun_path, "\0abc", 4);
    text_is(&sun, (socklen_t)(offsetof(struct sockaddr_un, sun_path) + 4),
            "@abc", -1, "an abstract UNIX name");
    if (ok(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) == 0,
           "socketpair")) {
        ok(getsockname(sv[0], (struct sockaddr *)&ss, &len) == 0, "name");
        text_is(&ss, len, "", -1, "an unnamed UNIX peer");
        close_fd(sv[0]);
        close_fd(sv[1]);
    }

    ok(cu_sockaddr_text((const struct sockaddr *)&sin, sizeof(sin) - 1, host,
                        sizeof(host), &port) == -1, "a short AF_INET fails");
    ok(cu_sockaddr_text((const struct sockaddr *)&sin, sizeof(sin), host, 9,
                        &port) == -1, "a host buffer too small fails");
    ok(cu_sockaddr_text((const struct sockaddr *)&sin, sizeof(sin), host, 10,
                        &port) == 0 && strcmp(host, "127.0.0.1") == 0,
       "a host buffer just large enough holds it");
    sin.sin_family = AF_UNSPEC;
    ok(cu_sockaddr_text((const struct sockaddr *)&sin, sizeof(sin), host,
                        sizeof(host), &port) == -1 && port == -1,
       "an unknown family fails");
}

/* ---- inherited sockets ------------------------------------------------ */

static int env_gone(void)
{
    return !getenv("LISTEN_PID") && !getenv("LISTEN_FDS") && !getenv("LISTEN_FDNAMES")
           && !getenv("GUNICORN_FD");
}

/* cu_listen_fds_from_env with the variables set as given (NULL: unset). */
static int from_env(const char *lpid, const char *lfds, const char *gpid,
                    const char *gfd, int *fds, size_t max, int *sd, char *err)
{
    const char *names[] = {"LISTEN_PID", "LISTEN_FDS", "GUNICORN_PID", "GUNICORN_FD"};
    const char *values[] = {lpid, lfds, gpid, gfd};

    for (int i = 0; i < 4; i++)
        if (values[i] ? setenv(names[i], values[i], 1) : unsetenv(names[i]))
            return -2;
    (void)setenv("LISTEN_FDNAMES", "http", 1);
    err[0] = '\0';
    return cu_listen_fds_from_env(fds, max, sd, err, ERRLEN);
}

static void test_from_env(void)
{
    char me[16], other[16], err[ERRLEN];
    int fds[4], sd = -1, n;

    (void)snprintf(me, sizeof(me), "%d", (int)getpid());
    (void)snprintf(other, sizeof(other), "%d", (int)getpid() + 1);
    n = from_env(NULL, NULL, NULL, NULL, fds, 4, &sd, err);
    ok(n == 0 && sd == 0 && env_gone(), "env: nothing handed over");
    n = from_env(me, "2", NULL, NULL, fds, 4, &sd, err);
    ok(n == 2 && sd == 1 && fds[0] == 3 && fds[1] == 4, "env: systemd's 2 sockets are fds 3, 4");
    ok(env_gone(), "env: LISTEN_* removed after use");
    n = from_env(other, "2", "1", "8", fds, 4, &sd, err);
    ok(n == 1 && sd == 0 && fds[0] == 8, "env: LISTEN_PID of another process: GUNICORN_FD used");
    ok(env_gone(), "env: LISTEN_* of another process removed too");
    n = from_env(me, "1", "1", "8", fds, 4, &sd, err);
    ok(n == 1 && sd == 1 && fds[0] == 3, "env: systemd's sockets win over GUNICORN_FD");
    n = from_env(NULL, NULL, "1", "5,7,12", fds, 4, &sd, err);
    ok(n == 3 && sd == 0 && fds[0] == 5 && fds[1] == 7 && fds[2] == 12 && env_gone(),
       "env: GUNICORN_FD=5,7,12");
    n = from_env(NULL, NULL, NULL, "5", fds, 4, &sd, err);
    ok(n == 0 && env_gone(), "env: GUNICORN_FD without GUNICORN_PID ignored, removed");
    n = from_env(me, "0", NULL, NULL, fds, 4, &sd, err);
    ok(n == 0 && sd == 0, "env: LISTEN_FDS=0: none");
    ok(from_env(me, "5", NULL, NULL, fds, 4, &sd, err) == -1 && strstr(err, "more than 4"),
       "env: LISTEN_FDS past the room refused: %s", err);
    ok(from_env(me, "x", NULL, NULL, fds, 4, &sd, err) == -1 && strstr(err, "LISTEN_FDS=x"),
       "env: LISTEN_FDS=x refused: %s", err);
    ok(from_env(NULL, NULL, "1", "1,2,3,4,5", fds, 4, &sd, err) == -1,
       "env: GUNICORN_FD past the room refused: %s", err);
    for (size_t i = 0; i < 4; i++) {
        const char *bad[] = {"5,,7", "5,", "a", " 5"};
        ok(from_env(NULL, NULL, "1", bad[i], fds, 4, &sd, err) == -1 && env_gone(),
           "env: GUNICORN_FD='%s' refused: %s", bad[i], err);
    }
    (void)unsetenv("GUNICORN_PID");
}

static int matches(const char *bind, const struct cu_listener *l)
{
    struct cu_addr a;
    char err[ERRLEN];

    return cu_addr_parse(bind, &a, err, sizeof(err)) == 0 && cu_listener_matches(&a, l);
}

static void test_matches(const char *dir)
{
    struct cu_listener l, u;
    char err[ERRLEN], bind[160];
    int port;

    if (!ok(listen_str("127.0.0.1:0", 0, &l, err) == 0, "matches: listen 127.0.0.1:0"))
        return;
    port = port_of(&l);
    ok(matches("127.0.0.1:0", &l) && matches("localhost:0", &l) && matches("tcp://127.0.0.1", &l) == 0,
       "matches: port 0 is any port; 8000 is 8000");
    (void)snprintf(bind, sizeof(bind), "127.0.0.1:%d", port);
    ok(matches(bind, &l), "matches: %s", bind);
    (void)snprintf(bind, sizeof(bind), "127.0.0.1:%d", port == 65535 ? 1 : port + 1);
    ok(!matches(bind, &l), "matches: not %s", bind);
    ok(!matches("0.0.0.0:0", &l) && !matches("[::1]:0", &l) && !matches("unix:/x", &l),
       "matches: not another address, family or kind");
    (void)snprintf(bind, sizeof(bind), "fd://%d", l.fd);
    ok(matches(bind, &l) && !matches("fd://0", &l), "matches: fd://N by number");
    (void)snprintf(bind, sizeof(bind), "unix:%s/m.sock", dir);
    if (ok(listen_str(bind, 0, &u, err) == 0, "matches: listen %s", bind)) {
        ok(matches(bind, &u) && !matches("unix:/other.sock", &u) && !matches("127.0.0.1:0", &u),
           "matches: a UNIX path by its name");
        cu_listener_close(&u, 1);
    }
    cu_listener_close(&l, 1);
}

/* ---- main ------------------------------------------------------------- */

int main(void)
{
    char dir[] = "/tmp/cu-listen-XXXXXX";
    int fds = count_fds();

    test_parse_good();
    test_parse_bad();
    test_tcp4();
    test_localhost();
    test_tcp6();
    test_resolve_error();
    test_same_port();
    if (mkdtemp(dir) == NULL) {
        ok(0, "mkdtemp: %s", strerror(errno));
    } else {
        test_unix(dir);
        test_fd_unix(dir);
        test_fd_refused(dir);
        test_matches(dir);
        ok(rmdir(dir) == 0, "temp dir left empty and removed");
    }
    test_fd_tcp();
    test_sockaddr_text();
    test_from_env();
    ok(count_fds() == fds, "no fd leaked (%d open at start)", fds);
    return tap_done();
}
