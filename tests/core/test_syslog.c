/*
 * Tests for src/core/syslog.c: syslog_addr in every form Gunicorn reads
 * and every one refused, the facility names, the severities, the name,
 * and every message as it arrives, byte for byte, at real receivers on
 * 127.0.0.1 and in a temporary directory: UDP, TCP, a UNIX datagram and a
 * UNIX stream socket; the error log's lines through core/log.c (cu_log,
 * cu_log_text, cu_log_signal) and the access log's through core/access.c;
 * a TCP server that is not there (nothing waits, and it is connected to
 * once it is), one that never reads (nothing waits, and the stream stays
 * whole messages), a stream of its own after fork.
 */
#include "core/access.h"
#include "core/log.h"
#include "core/syslog.h"
#include "../lib/fds.h"
#include "../lib/tap.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#define BOUND_MS 5000   /* the longest any receive waits: a bound, no timing */

static char err[512];
static char dir[64];

/* ---- syslog_addr ---------------------------------------------------------- */

static void parses(const char *text, enum cu_syslog_transport t, const char *host,
                   int port)
{
    struct cu_syslog_addr a;
    int rc = cu_syslog_parse_addr(text, &a, err, sizeof(err));

    ok(rc == 0 && a.transport == t && strcmp(a.host, host) == 0 && a.port == port,
       "'%s' is %s port %d (%s)", text, host, port, rc == 0 ? a.host : err);
}

static void parses_unix(const char *text, const char *path, enum cu_syslog_socktype type)
{
    struct cu_syslog_addr a;
    int rc = cu_syslog_parse_addr(text, &a, err, sizeof(err));

    ok(rc == 0 && a.transport == CU_SYSLOG_UNIX && strcmp(a.path, path) == 0 &&
       a.socktype == type, "'%s' is the UNIX socket '%s', type %d (%s)", text, path,
       (int)type, rc == 0 ? a.path : err);
}

static void refused(const char *text, const char *why)
{
    struct cu_syslog_addr a;
    char want[600];
    int rc;

    err[0] = '\0';
    rc = cu_syslog_parse_addr(text, &a, err, sizeof(err));
    xsnprintf(want, sizeof(want), "Invalid value for syslog_addr: '%s' (", text);
    ok(rc == -1 && strncmp(err, want, strlen(want)) == 0 && strstr(err, why) != NULL,
       "'%.40s' refused: %s", text, err);
}

static void test_parse(void)
{
    char longer[400];

    parses("udp://localhost:514", CU_SYSLOG_UDP, "localhost", 514);
    parses("udp://LogHost.Example.COM", CU_SYSLOG_UDP, "loghost.example.com", 514);
    parses("udp://", CU_SYSLOG_UDP, "localhost", 514);
    parses("tcp://10.0.0.1:6514", CU_SYSLOG_TCP, "10.0.0.1", 6514);
    parses("tcp://h", CU_SYSLOG_TCP, "h", 514);
    parses("udp://[::1]:5140", CU_SYSLOG_UDP, "::1", 5140);
    parses("udp://[::1]", CU_SYSLOG_UDP, "::1", 514);
    parses("tcp://[FE80::1]:7", CU_SYSLOG_TCP, "fe80::1", 7);
    parses("udp://h:00080", CU_SYSLOG_UDP, "h", 80);
    parses("udp://h:65535", CU_SYSLOG_UDP, "h", 65535);
    parses("udp://a:1udp://b:2", CU_SYSLOG_UDP, "a", 1);  /* split("udp://")[1] */
    parses("udp://[::1]x", CU_SYSLOG_UDP, "::1", 514);    /* Gunicorn's split */
    parses_unix("unix:///dev/log", "/dev/log", CU_SYSLOG_ANY);
    parses_unix("unix:///dev/log#dgram", "/dev/log", CU_SYSLOG_DGRAM);
    parses_unix("unix:///dev/log#stream", "/dev/log", CU_SYSLOG_STREAM);
    parses_unix("unix:///dev/log#other", "/dev/log", CU_SYSLOG_ANY);
    parses_unix("unix://rel.sock", "rel.sock", CU_SYSLOG_ANY);
    refused("localhost:514", "an invalid syslog address");
    refused("unix:/dev/log", "an invalid syslog address");
    refused("UDP://h", "an invalid syslog address");
    refused("", "an invalid syslog address");
    refused("udp://h:x", "'x' is not a valid port number");
    refused("udp://h:", "'' is not a valid port number");
    refused("udp://h:+5", "'+5' is not a valid port number");
    refused("udp://h:1:2", "'1:2' is not a valid port number");
    refused("tcp://[::1]:x", "'x' is not a valid port number");
    refused("udp://h:0", "a port out of 1..65535");
    refused("udp://h:65536", "a port out of 1..65535");
    refused("udp://h:99999999999999999999", "a port out of 1..65535");
    refused("udp://:514", "no host name");
    refused("tcp://[]:514", "no host name");
    refused("unix://", "an empty path");
    refused("unix://#dgram", "an empty path");
    memset(longer, 'p', sizeof(longer));
    memcpy(longer, "unix:///", 8);
    longer[7 + 108] = '\0';
    refused(longer, "a path longer than 107 bytes");
    longer[7 + 107] = '\0';
    parses_unix(longer, longer + 7, CU_SYSLOG_ANY);
    memset(longer, 'h', sizeof(longer));
    memcpy(longer, "udp://", 6);
    memcpy(longer + 6 + 256, ":1", 3);
    refused(longer, "a host name longer than 255 bytes");
    memcpy(longer + 6 + 255, ":1", 3);
    {
        char host[256];
        memset(host, 'h', 255);
        host[255] = '\0';
        parses(longer, CU_SYSLOG_UDP, host, 1);
    }
}

/* ---- facility, severity, the configuration ---------------------------------- */

static void test_names(void)
{
    static const struct { const char *name; int code; } f[] = {
        {"auth", 4}, {"authpriv", 10}, {"cron", 9}, {"daemon", 3}, {"ftp", 11},
        {"kern", 0}, {"lpr", 6}, {"mail", 2}, {"news", 7}, {"security", 4},
        {"syslog", 5}, {"user", 1}, {"uucp", 8}, {"local0", 16}, {"local3", 19},
        {"local7", 23}, {"LOCAL3", 19}, {"User", 1},
    };
    int all = 1;

    for (size_t i = 0; i < sizeof(f) / sizeof(f[0]); i++)
        if (cu_syslog_facility(f[i].name) != f[i].code) {
            diag("%s: %d", f[i].name, cu_syslog_facility(f[i].name));
            all = 0;
        }
    ok(all, "Gunicorn's facility names, in any case, are their codes");
    ok(cu_syslog_facility("local8") == -1 && cu_syslog_facility("") == -1 &&
       cu_syslog_facility("users") == -1, "other names are none");
    ok(cu_syslog_severity(CU_DEBUG) == 7 && cu_syslog_severity(CU_INFO) == 6 &&
       cu_syslog_severity(CU_WARNING) == 4 && cu_syslog_severity(CU_ERROR) == 3 &&
       cu_syslog_severity(CU_CRITICAL) == 2 && cu_syslog_severity(25) == 4,
       "severities as Python's SysLogHandler maps the levels");
}

static void test_config(void)
{
    struct cu_syslog_config c;
    char *big = malloc(2000);

    if (big == NULL)
        bail("malloc");
    ok(cu_syslog_config_make(&c, 0, "bad", "bad", NULL, "x", 0, err, sizeof(err)) == 0 &&
       !c.on && c.tag == NULL, "syslog off: nothing else is read");
    ok(cu_syslog_config_make(&c, 1, "udp://h:1", "LOCAL3", NULL, "app:application", 0,
                             err, sizeof(err)) == 0 && c.on && c.access &&
       c.facility == 19 && strcmp(c.tag, "gunicorn.app.application") == 0 &&
       c.retry_ms == CU_SYSLOG_RETRY_MS, "the process name, ':' as '.' (%s)", c.tag);
    cu_syslog_config_free(&c);
    ok(c.tag == NULL && !c.on, "freed, off");
    cu_syslog_config_free(&c);
    ok(cu_syslog_config_make(&c, 1, "udp://h", "user", "my:app", "x", 1, err,
                             sizeof(err)) == 0 && !c.access &&
       strcmp(c.tag, "gunicorn.my:app") == 0, "syslog_prefix as it is (%s)", c.tag);
    cu_syslog_config_free(&c);
    ok(cu_syslog_config_make(&c, 1, "udp://h", "user", "", "a:b", 0, err,
                             sizeof(err)) == 0 && strcmp(c.tag, "gunicorn.a.b") == 0,
       "an empty syslog_prefix: the process name (%s)", c.tag);
    cu_syslog_config_free(&c);
    ok(cu_syslog_config_make(&c, 1, "udp://h", "user", "a\nb", "x", 0, err,
                             sizeof(err)) == 0 && strcmp(c.tag, "gunicorn.a\\x0Ab") == 0,
       "a control byte in the name is escaped (%s)", c.tag);
    cu_syslog_config_free(&c);
    ok(cu_syslog_config_make(&c, 1, "udp://h:x", "user", NULL, "x", 0, err,
                             sizeof(err)) == -1 && !c.on && c.tag == NULL &&
       strncmp(err, "Invalid value for syslog_addr: ", 31) == 0, "a bad address: %s", err);
    ok(cu_syslog_config_make(&c, 1, "udp://h", "local9", NULL, "x", 0, err,
                             sizeof(err)) == -1 && !c.on &&
       strncmp(err, "Invalid value for syslog_facility: 'local9' (unknown facility "
               "name; one of auth, authpriv,", 89) == 0 && strstr(err, "local7)") != NULL,
       "an unknown facility: %s", err);
    memset(big, 'n', 1025);
    big[1025] = '\0';
    ok(cu_syslog_config_make(&c, 1, "udp://h", "user", big, "x", 0, err,
                             sizeof(err)) == -1 &&
       strstr(err, "Invalid value for syslog_prefix: longer than 1024") == err,
       "a name too long: %s", err);
    ok(cu_syslog_config_make(&c, 1, "udp://h", "user", NULL, big, 0, err,
                             sizeof(err)) == -1 &&
       strstr(err, "Invalid value for proc_name: longer than 1024") == err,
       "a process name too long: %s", err);
    big[1024] = '\0';
    ok(cu_syslog_config_make(&c, 1, "udp://h", "user", big, "x", 0, err,
                             sizeof(err)) == 0 && c.on, "1024 bytes are taken");
    cu_syslog_config_free(&c);
    free(big);
}

/* ---- receivers -------------------------------------------------------------- */

static int bound(int type, int *port)
{
    struct sockaddr_in in;
    socklen_t len = sizeof(in);
    int fd = socket(AF_INET, type | SOCK_CLOEXEC, 0), one = 1;

    memset(&in, 0, sizeof(in));
    in.sin_family = AF_INET;
    in.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    in.sin_port = htons((uint16_t)*port);
    if (fd < 0 || setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) < 0 ||
        bind(fd, (struct sockaddr *)&in, sizeof(in)) < 0 ||
        getsockname(fd, (struct sockaddr *)&in, &len) < 0 ||
        (type == SOCK_STREAM && listen(fd, 16) < 0))
        bail("a receiver on 127.0.0.1: %s", strerror(errno));
    *port = ntohs(in.sin_port);
    return fd;
}

static int unix_bound(const char *path, int type)
{
    struct sockaddr_un sun;
    int fd = socket(AF_UNIX, type | SOCK_CLOEXEC, 0);

    memset(&sun, 0, sizeof(sun));
    sun.sun_family = AF_UNIX;
    xsnprintf(sun.sun_path, sizeof(sun.sun_path), "%s", path);
    (void)unlink(path);
    if (fd < 0 || bind(fd, (struct sockaddr *)&sun, sizeof(sun)) < 0 ||
        (type == SOCK_STREAM && listen(fd, 16) < 0))
        bail("a receiver at %s: %s", path, strerror(errno));
    return fd;
}

static int readable(int fd)
{
    struct pollfd p = {.fd = fd, .events = POLLIN};

    return poll(&p, 1, BOUND_MS) == 1;
}

/* The next datagram (its length in *n), or "" when none came. */
static const char *datagram(int fd, size_t *n)
{
    static char buf[70000];
    ssize_t r = readable(fd) ? recv(fd, buf, sizeof(buf) - 1, 0) : -1;

    *n = r > 0 ? (size_t)r : 0;
    buf[*n] = '\0';
    return buf;
}

/* Reads a stream until want bytes came or it stops; the bytes in buf. */
static size_t stream_read(int fd, char *buf, size_t want)
{
    size_t got = 0;

    while (got < want && readable(fd)) {
        ssize_t r = recv(fd, buf + got, want - got, 0);
        if (r <= 0)
            break;
        got += (size_t)r;
    }
    return got;
}

static int accepted(int lfd)
{
    return readable(lfd) ? accept4(lfd, NULL, NULL, SOCK_CLOEXEC) : -1;
}

/* "<PRI>gunicorn.NAME.KIND: [PID] TEXT\0" into want: its length (with NUL) */
static size_t expect(char *want, size_t size, int pri, const char *kind, long pid,
                     const char *text)
{
    xsnprintf(want, size, "<%d>gunicorn.app.%s: [%ld] %s", pri, kind, pid, text);
    return strlen(want) + 1;
}

static void open_config(const char *addr, int access, int retry_ms)
{
    struct cu_syslog_config c;

    if (cu_syslog_config_make(&c, 1, addr, "user", "app", "x", !access, err,
                              sizeof(err)) < 0)
        bail("config %s: %s", addr, err);
    c.retry_ms = retry_ms;
    if (cu_syslog_open(&c, err, sizeof(err)) < 0)
        bail("open %s: %s", addr, err);
    cu_syslog_config_free(&c);
}

static int is(const char *got, size_t n, const char *want, size_t wn, const char *what)
{
    /* the first line only: TAP takes one line per point */
    return ok(n == wn && memcmp(got, want, n) == 0, "%s: '%.*s'", what,
              (int)strcspn(got, "\n"), got);
}

/* ---- UDP, through the error log and the access log ------------------------- */

static struct cu_str req_none(void *ctx, const char *name, size_t len)
{
    (void)ctx;
    (void)name;
    (void)len;
    return (struct cu_str){NULL, 0};
}

static void access_line(void)
{
    struct cu_access a;

    memset(&a, 0, sizeof(a));
    a.method = (struct cu_str){"GET", 3};
    a.status = 200;
    a.req_header = req_none;
    cu_access_log(&a);
}

static void test_udp_options(int fd, int port, int fds);

static void test_udp(void)
{
    char want[256], *big = malloc(70000);
    int port = 0, fd = bound(SOCK_DGRAM, &port), fds;
    long pid = (long)getpid();
    const char *got;
    size_t n, wn;
    const char *parts[] = {"Worker exiting (pid: ", "7", ")"};

    if (big == NULL)
        bail("malloc");
    if (cu_log_open("/dev/null", NULL, CU_DEBUG, err, sizeof(err)) < 0 ||
        cu_access_format_set("%(s)s %(m)s", err, sizeof(err)) < 0)
        bail("logs: %s", err);
    ok(!cu_access_enabled(), "no access log, no syslog: no access line is built");
    xsnprintf(want, sizeof(want), "udp://127.0.0.1:%d", port);
    fds = count_fds();
    open_config(want, 1, CU_SYSLOG_RETRY_MS);
    ok(cu_access_enabled() && cu_syslog_access_on(),
       "syslog's access lines make an access line built, without a file");

    cu_log(CU_INFO, "Listening at: %s (%d)", "http://127.0.0.1:8000", 12);
    got = datagram(fd, &n);
    wn = expect(want, sizeof(want), 14, "error", pid, "Listening at: http://127.0.0.1:8000 (12)");
    is(got, n, want, wn, "cu_log at info: <14>, user * 8 + 6, NUL at the end");
    cu_log(CU_DEBUG, "d");
    got = datagram(fd, &n);
    is(got, n, want, expect(want, sizeof(want), 15, "error", pid, "d"), "debug: <15>");
    cu_log(CU_WARNING, "w");
    got = datagram(fd, &n);
    is(got, n, want, expect(want, sizeof(want), 12, "error", pid, "w"), "warning: <12>");
    cu_log_exception("e\nTraceback");
    got = datagram(fd, &n);
    is(got, n, want, expect(want, sizeof(want), 11, "error", pid, "e\nTraceback"),
       "error, a traceback's lines in one message: <11>");
    cu_log(CU_CRITICAL, "c\x1b");
    got = datagram(fd, &n);
    is(got, n, want, expect(want, sizeof(want), 10, "error", pid, "c\\x1B"),
       "critical: <10>, a control byte escaped as the error log writes it");
    cu_log_text(CU_DEBUG, "Current configuration:\n  x: 1", 29);
    got = datagram(fd, &n);
    is(got, n, want, expect(want, sizeof(want), 15, "error", pid,
                            "Current configuration:\n  x: 1"), "cu_log_text");
    cu_log_signal(CU_INFO, parts, 3);
    got = datagram(fd, &n);
    is(got, n, want, expect(want, sizeof(want), 14, "error", pid, "Worker exiting (pid: 7)"),
       "cu_log_signal, to a datagram socket");
    access_line();
    got = datagram(fd, &n);
    is(got, n, want, expect(want, sizeof(want), 14, "access", pid, "200 GET"),
       "an access line: gunicorn.app.access, at info");

    memset(big, 'x', 69999);
    big[69999] = '\0';
    cu_log_text(CU_INFO, big, 69999);
    got = datagram(fd, &n);
    ok(n == CU_SYSLOG_MSG_MAX && memcmp(got + n - 4, "...", 4) == 0 &&
       strncmp(got, "<14>gunicorn.app.error: [", 25) == 0,
       "a message too long for a datagram is cut to %d bytes, with '...' (%zu)",
       CU_SYSLOG_MSG_MAX, n);
    free(big);
    test_udp_options(fd, port, fds);
    close(fd);
}

/* The level, disable_redirect_access_to_syslog, a facility, a name that
 * does not resolve, the close; syslog open to port (fd) on entry. */
static void test_udp_options(int fd, int port, int fds)
{
    char want[256];
    long pid = (long)getpid();
    const char *got;
    size_t n;
    struct cu_syslog_config c;

    /* below the level: neither the error log nor syslog */
    if (cu_log_open("/dev/null", NULL, CU_WARNING, err, sizeof(err)) < 0)
        bail("logs: %s", err);
    cu_log(CU_INFO, "not this");
    cu_log(CU_ERROR, "this");
    got = datagram(fd, &n);
    is(got, n, want, expect(want, sizeof(want), 11, "error", pid, "this"),
       "a line below the level is not sent");

    /* disable_redirect_access_to_syslog; local3 */
    if (cu_syslog_config_make(&c, 1, "udp://127.0.0.1:1", "local3", "app", "x", 1, err,
                              sizeof(err)) < 0)
        bail("config: %s", err);
    c.addr.port = port;
    if (cu_syslog_open(&c, err, sizeof(err)) < 0)
        bail("open: %s", err);
    cu_syslog_config_free(&c);
    ok(!cu_access_enabled(), "access lines kept out: none is built");
    access_line();
    cu_log(CU_ERROR, "after");
    got = datagram(fd, &n);
    is(got, n, want, expect(want, sizeof(want), 19 * 8 + 3, "error", pid, "after"),
       "no access line; local3 error: <155>");

    /* a name that does not resolve: refused, the previous syslog stays */
    if (cu_syslog_config_make(&c, 1, "udp://nothing.invalid", "user", "app", "x", 0,
                              err, sizeof(err)) < 0)
        bail("config: %s", err);
    err[0] = '\0';
    ok(cu_syslog_open(&c, err, sizeof(err)) == -1 && err[0] != '\0',
       "a name that does not resolve: %s", err);
    cu_syslog_config_free(&c);
    cu_log(CU_ERROR, "still");
    got = datagram(fd, &n);
    is(got, n, want, expect(want, sizeof(want), 155, "error", pid, "still"),
       "the previous syslog goes on");

    cu_syslog_close();
    ok(cu_syslog_sending == 0 && count_fds() == fds, "closed: off, its socket closed");
    cu_log(CU_ERROR, "off");
    {   /* the next datagram is one of the test's own */
        struct sockaddr_in in = {.sin_family = AF_INET};
        int s = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);

        in.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        in.sin_port = htons((uint16_t)port);
        if (s < 0 || sendto(s, "mark", 4, 0, (struct sockaddr *)&in, sizeof(in)) != 4)
            bail("sendto: %s", strerror(errno));
        close(s);
    }
    got = datagram(fd, &n);
    ok(n == 4 && memcmp(got, "mark", 4) == 0, "nothing is sent once closed");
    cu_log_close();
}

/* ---- TCP ------------------------------------------------------------------ */

/* Every message in buf[0..n): "<14>gunicorn.app.error: [PID] TEXT\0". */
static int whole_messages(const char *buf, size_t n, size_t *count)
{
    size_t at = 0;

    *count = 0;
    while (at < n) {
        const char *nul = memchr(buf + at, '\0', n - at);
        if (nul == NULL || strncmp(buf + at, "<14>gunicorn.app.error: [", 25) != 0)
            return 0;
        at = (size_t)(nul - buf) + 1;
        (*count)++;
    }
    return 1;
}

static void test_tcp_fork(void)
{
    char addr[64], want[256], got[512];
    int port = 0, lfd = bound(SOCK_STREAM, &port), a, b, status = -1;
    size_t n, wn;
    pid_t child;

    xsnprintf(addr, sizeof(addr), "tcp://127.0.0.1:%d", port);
    open_config(addr, 1, CU_SYSLOG_RETRY_MS);
    a = accepted(lfd);
    ok(a >= 0, "open connects to the TCP server");
    cu_syslog_error(CU_INFO, "one", 3);
    cu_syslog_error(CU_INFO, "two", 3);
    wn = expect(want, sizeof(want), 14, "error", (long)getpid(), "one");
    wn += expect(want + wn, sizeof(want) - wn, 14, "error", (long)getpid(), "two");
    n = stream_read(a, got, wn);
    is(got, n, want, wn, "two messages on the stream, each ending with its NUL");

    child = fork();
    if (child == 0) {
        cu_syslog_error(CU_INFO, "child", 5);
        cu_syslog_error(CU_INFO, "child2", 6);
        _exit(0);
    }
    b = accepted(lfd);
    ok(b >= 0, "a forked process connects a stream of its own");
    wn = expect(want, sizeof(want), 14, "error", (long)child, "child");
    wn += expect(want + wn, sizeof(want) - wn, 14, "error", (long)child, "child2");
    n = stream_read(b, got, wn);
    is(got, n, want, wn, "its messages on its own stream, with its pid");
    ok(waitpid(child, &status, 0) == child && WIFEXITED(status), "the child exits");
    cu_syslog_error(CU_INFO, "parent", 6);
    wn = expect(want, sizeof(want), 14, "error", (long)getpid(), "parent");
    n = stream_read(a, got, wn);
    is(got, n, want, wn, "the parent's stream is still its own, and up");
    cu_syslog_close();
    close(a);
    if (b >= 0)
        close(b);
    close(lfd);
}

/* "back" sent until lfd has a connection (each a try, the retry_ms of 20
 * passing between some): the connection, or -1 after 500 tries. */
static int send_until_accepted(int lfd, int *tries)
{
    int a = -1;

    *tries = 0;
    while (a < 0 && (*tries)++ < 500) {
        struct pollfd p = {.fd = lfd, .events = POLLIN};

        cu_syslog_error(CU_INFO, "back", 4);
        if (poll(&p, 1, 10) == 1)
            a = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
    }
    return a;
}

static void test_tcp_dead(void)
{
    char addr[64], want[256], got[512];
    int port = 0, lfd = bound(SOCK_STREAM, &port), a, tries = 0;
    size_t n = 0, wn;

    close(lfd);     /* nobody listens there now */
    xsnprintf(addr, sizeof(addr), "tcp://127.0.0.1:%d", port);
    open_config(addr, 1, 20);
    for (int i = 0; i < 1000; i++)
        cu_syslog_error(CU_INFO, "lost", 4);
    ok(1, "a TCP server that is not there: 1000 messages dropped, none waited on");
    lfd = bound(SOCK_STREAM, &port);
    wn = expect(want, sizeof(want), 14, "error", (long)getpid(), "back");
    a = send_until_accepted(lfd, &tries);
    ok(a >= 0, "connected again once the server is there (%d tries)", tries);
    if (a >= 0)
        n = stream_read(a, got, wn);
    is(got, n, want, wn, "the message that connected it arrives whole");

    /* the server goes away: messages dropped, then a new connection */
    if (a >= 0)
        close(a);
    a = send_until_accepted(lfd, &tries);
    ok(a >= 0, "a connection the server closed is made again (%d tries)", tries);
    n = a >= 0 ? stream_read(a, got, wn) : 0;
    ok(n >= 5 && got[0] == '<' && memchr(got, '\0', n) != NULL,
       "and the messages go on it");
    cu_syslog_close();
    if (a >= 0)
        close(a);
    close(lfd);
}

static void test_tcp_full(void)
{
    char addr[64], text[3000];
    static char buf[16 << 20];
    int port = 0, lfd = bound(SOCK_STREAM, &port), a, found = 0, iter;
    size_t n = 0, count = 0;

    xsnprintf(addr, sizeof(addr), "tcp://127.0.0.1:%d", port);
    open_config(addr, 1, CU_SYSLOG_RETRY_MS);
    a = accepted(lfd);
    if (a < 0)
        bail("accept: %s", strerror(errno));
    memset(text, 'm', sizeof(text));
    /* far more than the socket buffers and the pending bytes hold */
    for (int i = 0; i < 4000; i++)
        cu_syslog_error(CU_INFO, text, sizeof(text));
    ok(1, "a server that does not read: 12 MB of messages, none waited on");
    /* read, a message "x" after each read, until an "x" comes */
    for (iter = 0; iter < 100000 && !found && n < sizeof(buf); iter++) {
        ssize_t r;

        cu_syslog_error(CU_INFO, "x", 1);
        if (!readable(a) || (r = recv(a, buf + n, sizeof(buf) - n, 0)) <= 0)
            break;
        n += (size_t)r;
        found = n >= 4 && memcmp(buf + n - 4, "] x", 4) == 0;
    }
    ok(found, "once the server reads, the messages go again (%d reads)", iter);
    found = whole_messages(buf, n, &count);
    ok(found, "the stream is whole messages only: %zu, %zu bytes", count, n);
    cu_syslog_close();
    close(a);
    close(lfd);
}

/* ---- UNIX sockets ------------------------------------------------------------ */

/* text, sent as an info line, is the next datagram at fd */
static void sends(int fd, const char *text, const char *what)
{
    char want[256];
    const char *got;
    size_t n, wn = expect(want, sizeof(want), 14, "error", (long)getpid(), text);

    cu_syslog_error(CU_INFO, text, strlen(text));
    got = datagram(fd, &n);
    is(got, n, want, wn, what);
}

/* No reader at path, a message; then a reader, and the next message is
 * its first datagram. Closes syslog. */
static void reader_later(const char *path, const char *what)
{
    int fd;

    cu_syslog_error(CU_INFO, "nobody", 6);
    fd = unix_bound(path, SOCK_DGRAM);
    sends(fd, "later", what);
    cu_syslog_close();
    close(fd);
}

static void test_unix(void)
{
    char path[128], addr[160], want[256], got[256];
    int fd, a;
    size_t n, wn;
    long pid = (long)getpid();

    xsnprintf(path, sizeof(path), "%s/dgram.sock", dir);
    fd = unix_bound(path, SOCK_DGRAM);
    xsnprintf(addr, sizeof(addr), "unix://%s", path);
    open_config(addr, 1, 0);
    sends(fd, "to a datagram socket", "unix://PATH: a datagram socket there is one");
    close(fd);
    unlink(path);
    reader_later(path, "a new reader at the path is connected to");

    xsnprintf(path, sizeof(path), "%s/later.sock", dir);
    (void)unlink(path);
    xsnprintf(addr, sizeof(addr), "unix://%s#dgram", path);
    open_config(addr, 1, 0);
    reader_later(path, "#dgram: a socket not there at open, later");

    xsnprintf(path, sizeof(path), "%s/stream.sock", dir);
    fd = unix_bound(path, SOCK_STREAM);
    xsnprintf(addr, sizeof(addr), "unix://%s", path);
    open_config(addr, 1, CU_SYSLOG_RETRY_MS);
    a = accepted(fd);
    cu_syslog_error(CU_ERROR, "to a stream", 11);
    cu_syslog_access("GET /", 5);
    wn = expect(want, sizeof(want), 11, "error", pid, "to a stream");
    wn += expect(want + wn, sizeof(want) - wn, 14, "access", pid, "GET /");
    n = a >= 0 ? stream_read(a, got, wn) : 0;
    is(got, n, want, wn, "unix://PATH: a stream socket there, when no datagram one is");
    cu_syslog_close();
    if (a >= 0)
        close(a);

    xsnprintf(addr, sizeof(addr), "unix://%s#stream", path);
    open_config(addr, 1, CU_SYSLOG_RETRY_MS);
    a = accepted(fd);
    cu_syslog_error(CU_INFO, "s", 1);
    wn = expect(want, sizeof(want), 14, "error", pid, "s");
    n = a >= 0 ? stream_read(a, got, wn) : 0;
    is(got, n, want, wn, "#stream");
    cu_syslog_close();
    if (a >= 0)
        close(a);
    close(fd);
    unlink(path);
}

static void cleanup(void)
{
    char path[128];
    static const char *const names[] = {"dgram.sock", "later.sock", "stream.sock"};

    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
        xsnprintf(path, sizeof(path), "%s/%s", dir, names[i]);
        (void)unlink(path);
    }
    (void)rmdir(dir);
}

int main(void)
{
    xsnprintf(dir, sizeof(dir), "/tmp/cu-syslog-XXXXXX");
    if (mkdtemp(dir) == NULL)
        bail("mkdtemp");
    test_parse();
    test_names();
    test_config();
    test_udp();
    test_tcp_fork();
    test_tcp_dead();
    test_tcp_full();
    test_unix();
    cleanup();
    return tap_done();
}
