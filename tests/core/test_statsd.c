/*
 * Tests for src/core/statsd.c: statsd_host in every form Gunicorn reads
 * and every one refused, the prefix rule, the duration as Python's repr,
 * and every metric's line as it arrives at a real UDP socket on 127.0.0.1
 * and a UNIX datagram socket: with and without prefix and tags, the log
 * counters through core/log.c, an unresolvable and an unreachable host, a
 * receiver that never reads (nothing blocks), a socket of its own after
 * fork.
 */
#include "core/log.h"
#include "core/statsd.h"
#include "../lib/tap.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static char err[512];
static char dir[64];

/* ---- statsd_host ---------------------------------------------------------- */

static void parses_inet(const char *text, const char *host, int port)
{
    struct cu_statsd_addr a;
    int rc = cu_statsd_parse_addr(text, &a, err, sizeof(err));

    ok(rc == 0 && a.family == CU_STATSD_INET && strcmp(a.host, host) == 0 &&
       a.port == port, "'%s' is %s port %d (%s)", text, host, port,
       rc == 0 ? a.host : err);
}

static void parses_unix(const char *text, const char *path)
{
    struct cu_statsd_addr a;
    int rc = cu_statsd_parse_addr(text, &a, err, sizeof(err));

    ok(rc == 0 && a.family == CU_STATSD_UNIX && strcmp(a.path, path) == 0,
       "'%s' is the UNIX socket '%s' (%s)", text, path, rc == 0 ? a.path : err);
}

static void refused(const char *text, const char *why)
{
    struct cu_statsd_addr a;
    char want[600];
    int rc;

    err[0] = '\0';
    rc = cu_statsd_parse_addr(text, &a, err, sizeof(err));
    xsnprintf(want, sizeof(want), "Invalid value for statsd_host: '%s' (", text);
    ok(rc == -1 && strncmp(err, want, strlen(want)) == 0 && strstr(err, why) != NULL,
       "'%.40s' refused: %s", text, err);
}

static void test_parse(void)
{
    char longer[400];

    parses_inet("localhost:8125", "localhost", 8125);
    parses_inet("Stats.EXAMPLE.com", "stats.example.com", 8125);
    parses_inet("127.0.0.1:9", "127.0.0.1", 9);
    parses_inet("", "0.0.0.0", 8125);
    parses_inet(":9125", "", 9125);
    parses_inet("tcp://h:1", "h", 1);
    parses_inet("tcp://", "0.0.0.0", 8125);
    parses_inet("tcp://a:1tcp://b:2", "a", 1);
    parses_inet("[::1]:9125", "::1", 9125);
    parses_inet("[::1]", "::1", 8125);
    parses_inet("[FE80::1]:7", "fe80::1", 7);
    parses_inet("a[b]c:80", "[b", 8125);     /* Gunicorn's split, as it is */
    parses_inet("h:1:junk", "h", 1);         /* the first two fields */
    parses_inet("h: 8_125 ", "h", 8125);     /* Python's int() */
    parses_inet("h:+9", "h", 9);
    parses_inet("h:-0", "h", 0);
    parses_inet("h:0", "h", 0);
    parses_inet("h:65535", "h", 65535);
    parses_inet("h:00080", "h", 80);
    parses_inet("unix:8125", "unix", 8125);  /* the old form: host unix */
    parses_unix("unix:///run/statsd.sock", "/run/statsd.sock");
    parses_unix("unix:/run/statsd.sock", "/run/statsd.sock");
    parses_unix("unix://relative.sock", "relative.sock");
    parses_unix("unix:relative.sock", "relative.sock");
    parses_unix("unix:8125x", "8125x");
    parses_unix("unix:///a/unix:b", "b");    /* split at every "unix:" */
    parses_unix("unix:@name", "@name");      /* a path, as Python's */
    refused("h:x", "'x' is not a valid port number");
    refused("h:", "'' is not a valid port number");
    refused("h:1_", "is not a valid port number");
    refused("h:_1", "is not a valid port number");
    refused("h:1__2", "is not a valid port number");
    refused("h:+", "is not a valid port number");
    refused("h:0x10", "is not a valid port number");
    refused("[::1]:x", "'x' is not a valid port number");
    refused("udp://h:1", "'//h' is not a valid port number");
    refused("UNIX:/x", "is not a valid port number");
    refused("h:65536", "a port out of 0..65535");
    refused("h:-1", "a port out of 0..65535");
    refused("h:99999999999999999999", "a port out of 0..65535");
    refused("fd://3", "not to a file descriptor");
    refused("unix:", "an empty path");
    refused("unix://", "an empty path");
    memset(longer, 'p', sizeof(longer));
    memcpy(longer, "unix:///", 8);
    longer[8 + 107] = '\0';
    refused(longer, "a path longer than 107 bytes");
    longer[8 + 106] = '\0';
    parses_unix(longer, longer + 7);
    memset(longer, 'h', sizeof(longer));
    memcpy(longer + 256, ":1", 3);
    refused(longer, "a host name longer than 255 bytes");
    memcpy(longer + 255, ":1", 3);
    {
        struct cu_statsd_addr a;
        ok(cu_statsd_parse_addr(longer, &a, err, sizeof(err)) == 0 &&
           strlen(a.host) == 255, "a host name of 255 bytes is taken");
    }
}

/* ---- prefix, configuration ----------------------------------------------- */

static void prefix_is(const char *in, const char *want)
{
    char out[64];
    size_t n = cu_statsd_prefix(in, out, sizeof(out));

    ok(n == strlen(want) && strcmp(out, want) == 0, "prefix '%s' is '%s' ('%s')",
       in, want, out);
}

static void test_prefix(void)
{
    char small[4] = "xyz";

    prefix_is("", "");
    prefix_is("a", "a");
    prefix_is("x.", "x.");
    prefix_is(".", ".");
    prefix_is("..", "..");
    prefix_is("ab", "ab.");
    prefix_is("app", "app.");
    prefix_is("app.", "app.");
    prefix_is("app...", "app.");
    prefix_is(".a", ".a.");
    prefix_is("web.app", "web.app.");
    prefix_is("web.app.", "web.app.");
    ok(cu_statsd_prefix("app", small, 4) == 4 && strcmp(small, "xyz") == 0,
       "too small a buffer: the length it needs, the buffer untouched");
}

static void test_config(void)
{
    struct cu_statsd_config c;
    char *big = malloc(70000);

    ok(cu_statsd_config_make(&c, NULL, "app", "a:b", err, sizeof(err)) == 0 && !c.on &&
       c.prefix == NULL && c.tags == NULL, "no host: off, prefix and tags unread");
    cu_statsd_config_free(&c);
    ok(cu_statsd_config_make(&c, "h:1", "app..", "env:prod, x", err, sizeof(err)) == 0 &&
       c.on && strcmp(c.prefix, "app.") == 0 && strcmp(c.tags, "env:prod, x") == 0,
       "prefix by the rule, tags as they are");
    cu_statsd_config_free(&c);
    ok(c.prefix == NULL && !c.on, "freed, off");
    cu_statsd_config_free(&c);
    ok(cu_statsd_config_make(&c, "h:x", "", "", err, sizeof(err)) == -1 && !c.on &&
       strstr(err, "statsd_host") != NULL, "a bad host: %s", err);
    ok(cu_statsd_config_make(&c, "h", "caf\xc3\xa9", "", err, sizeof(err)) == -1 &&
       !c.prefix && strstr(err, "Invalid value for statsd_prefix: ") == err,
       "a prefix not ASCII: %s", err);
    ok(cu_statsd_config_make(&c, "h", "a\nb", "", err, sizeof(err)) == -1 &&
       strstr(err, "statsd_prefix") != NULL, "a prefix with a newline is refused");
    ok(cu_statsd_config_make(&c, "h", "", "x\x7f", err, sizeof(err)) == -1 &&
       strstr(err, "Invalid value for dogstatsd_tags: ") == err, "tags with DEL: %s", err);
    if (big == NULL)
        bail("malloc");
    memset(big, 't', 65001);
    big[65001] = '\0';
    ok(cu_statsd_config_make(&c, "h", "", big, err, sizeof(err)) == -1 &&
       strstr(err, "longer than a datagram holds") != NULL, "tags too long: %.80s", err);
    big[65000] = '\0';
    ok(cu_statsd_config_make(&c, "h", "", big, err, sizeof(err)) == 0 && c.on,
       "65000 bytes are taken");
    cu_statsd_config_free(&c);
    free(big);
}

/* ---- the duration ----------------------------------------------------------- */

static void ms_is(int64_t us, const char *want)
{
    char out[CU_STATSD_MS_MAX];
    size_t n = cu_statsd_ms(out, us);

    ok(n == strlen(want) && strcmp(out, want) == 0, "%lld us: '%s' ('%s')",
       (long long)us, want, out);
}

/* The fewest significant digits that read back as d. */
static int shortest(double d)
{
    char e[40];

    for (int p = 1; p <= 17; p++) {
        (void)snprintf(e, sizeof(e), "%.*e", p - 1, d);
        if (strtod(e, NULL) == d)
            return p;
    }
    return 17;
}

static void test_ms(void)
{
    static const long long secs[] = {0, 1, 2, 59, 100, 1000, 86399};
    int all = 1, checked = 0;

    /* from Python: repr(seconds * 1000 + float(microseconds) / 10 ** 3) */
    ms_is(0, "0.0");
    ms_is(1, "0.001");
    ms_is(10, "0.01");
    ms_is(1000, "1.0");
    ms_is(1500, "1.5");
    ms_is(123456, "123.456");
    ms_is(7000000, "7000.0");
    ms_is(2000500, "2000.5");
    ms_is(1016036, "1016.0360000000001");
    ms_is(1016089, "1016.0889999999999");
    ms_is(1016161, "1016.1610000000001");
    ms_is(12345678, "12345.678");
    ms_is(100000100, "100000.1");
    ms_is(59999999, "59999.999");
    ms_is(86399999999LL, "86399999.999");
    ms_is(86400000000LL + 5000, "5.0");   /* timedelta.seconds: days dropped */
    ms_is(-5, "0.0");
    /* every output reads back as Gunicorn's double, with no digit more than
     * needed, in fixed notation */
    for (size_t i = 0; i < sizeof(secs) / sizeof(secs[0]); i++)
        for (long long us = 0; us < 1000000; us += 7) {
            char out[CU_STATSD_MS_MAX], sig[CU_STATSD_MS_MAX] = "";
            double d = (double)(secs[i] * 1000) + (double)us / 1000.0;
            size_t n = 0, from = 0;
            const char *dot;

            (void)cu_statsd_ms(out, secs[i] * 1000000 + us);
            dot = strchr(out, '.');
            /* its significant digits: no point, no zeros at either end */
            for (const char *p = out; *p; p++)
                if (*p != '.')
                    sig[n++] = *p;
            while (n > 0 && sig[n - 1] == '0')
                n--;
            while (from < n && sig[from] == '0')
                from++;
            if (strtod(out, NULL) != d || dot == NULL || dot[1] == '\0' ||
                strchr(out, 'e') != NULL ||
                (int)(n - from > 0 ? n - from : 1) != shortest(d)) {
                if (all)
                    diag("%lld s %lld us: '%s' (shortest %d)", secs[i], us, out,
                         shortest(d));
                all = 0;
            }
            checked++;
        }
    ok(all, "%d durations: each reads back as Gunicorn's double, shortest, fixed",
       checked);
}

/* ---- over real sockets ---------------------------------------------------------- */

/* A UDP socket on 127.0.0.1 (or ::1), its port in *port; -1 on error. */
static int udp_receiver(int family, int *port)
{
    struct sockaddr_storage ss;
    socklen_t len = sizeof(ss);
    int fd = socket(family, SOCK_DGRAM | SOCK_CLOEXEC, 0);

    memset(&ss, 0, sizeof(ss));
    if (family == AF_INET) {
        struct sockaddr_in *in = (struct sockaddr_in *)&ss;
        in->sin_family = AF_INET;
        in->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        len = sizeof(*in);
    } else {
        struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)&ss;
        in6->sin6_family = AF_INET6;
        in6->sin6_addr = in6addr_loopback;
        len = sizeof(*in6);
    }
    if (fd < 0 || bind(fd, (struct sockaddr *)&ss, len) < 0 ||
        getsockname(fd, (struct sockaddr *)&ss, &len) < 0) {
        if (fd >= 0)
            close(fd);
        return -1;
    }
    *port = ntohs(family == AF_INET ? ((struct sockaddr_in *)&ss)->sin_port
                                    : ((struct sockaddr_in6 *)&ss)->sin6_port);
    return fd;
}

static int unix_receiver(const char *path)
{
    struct sockaddr_un sun;
    int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);

    memset(&sun, 0, sizeof(sun));
    sun.sun_family = AF_UNIX;
    xsnprintf(sun.sun_path, sizeof(sun.sun_path), "%s", path);
    if (fd < 0 || bind(fd, (struct sockaddr *)&sun, sizeof(sun)) < 0) {
        if (fd >= 0)
            close(fd);
        return -1;
    }
    return fd;
}

/* The next datagram within ms, NUL-terminated; "" if none. The sender's
 * port in *from when from is not NULL. */
static const char *next_from(int fd, int ms, int *from)
{
    static char buf[70000];
    struct pollfd p = {.fd = fd, .events = POLLIN};
    struct sockaddr_storage ss;
    socklen_t len = sizeof(ss);
    ssize_t n;

    buf[0] = '\0';
    if (poll(&p, 1, ms) != 1)
        return buf;
    n = recvfrom(fd, buf, sizeof(buf) - 1, 0, (struct sockaddr *)&ss, &len);
    buf[n > 0 ? n : 0] = '\0';
    if (from != NULL)
        *from = ss.ss_family == AF_INET ? ntohs(((struct sockaddr_in *)&ss)->sin_port) : -1;
    return buf;
}

static const char *next(int fd)
{
    return next_from(fd, 1000, NULL);
}

static int nothing_more(int fd)
{
    return next_from(fd, 100, NULL)[0] == '\0';
}

/* Opens statsd to host with prefix and tags; bails when it cannot. */
static void open_to(const char *host, const char *prefix, const char *tags)
{
    struct cu_statsd_config c;

    if (cu_statsd_config_make(&c, host, prefix, tags, err, sizeof(err)) < 0 ||
        cu_statsd_open(&c, err, sizeof(err)) < 0)
        bail("statsd to %s: %s", host, err);
    cu_statsd_config_free(&c);  /* open copied what it needs */
}

static void is_line(int fd, const char *want, const char *what)
{
    const char *got = next(fd);

    ok(strcmp(got, want) == 0, "%s: '%s' ('%s')", what, want, got);
}

/* A receiver on 127.0.0.1 and statsd to it with prefix "app" and tags
 * "env:test,x"; its fd, and the host in host. */
static int udp_open(char *host, size_t n)
{
    int port, fd = udp_receiver(AF_INET, &port);

    if (fd < 0)
        bail("a UDP receiver on 127.0.0.1");
    xsnprintf(host, n, "127.0.0.1:%d", port);
    open_to(host, "app", "env:test,x");
    return fd;
}

static void test_off(void)
{
    int port, fd = udp_receiver(AF_INET, &port);

    if (fd < 0)
        bail("a UDP receiver on 127.0.0.1");
    ok(!cu_statsd_on(), "off before open");
    cu_statsd_request(200, 5);
    cu_statsd_log(CU_ERROR, 0);
    cu_statsd_gauge("gunicorn.workers", 1);
    cu_statsd_send("x:1|c", 5);
    ok(nothing_more(fd), "off: nothing is sent");
    close(fd);
}

static void test_requests(void)
{
    char host[64];
    int fd = udp_open(host, sizeof(host)), e;

    ok(cu_statsd_on(), "on after open");
    errno = 4242;
    cu_statsd_request(404, 1234);
    e = errno;
    is_line(fd, "app.gunicorn.request.duration:1.234|ms|#env:test,x", "a request: duration");
    is_line(fd, "app.gunicorn.requests:1|c|@1.0|#env:test,x", "a request: count");
    is_line(fd, "app.gunicorn.request.status.404:1|c|@1.0|#env:test,x", "a request: status");
    ok(nothing_more(fd) && e == 4242, "three datagrams, errno untouched");
    cu_statsd_request(500, 7000000);
    is_line(fd, "app.gunicorn.request.duration:7000.0|ms|#env:test,x", "a 500: duration");
    is_line(fd, "app.gunicorn.requests:1|c|@1.0|#env:test,x", "a 500: count");
    is_line(fd, "app.gunicorn.request.status.500:1|c|@1.0|#env:test,x", "a 500: status");
    cu_statsd_request(0, 1016036);
    is_line(fd, "app.gunicorn.request.duration:1016.0360000000001|ms|#env:test,x",
            "no status: duration");
    is_line(fd, "app.gunicorn.requests:1|c|@1.0|#env:test,x", "no status: count");
    ok(nothing_more(fd), "no status: no status counter");
    cu_statsd_close();
    ok(!cu_statsd_on(), "closed: off");
    cu_statsd_request(200, 1);
    ok(nothing_more(fd), "closed: nothing is sent");
    close(fd);
}

static void test_counters_and_numbers(void)
{
    char host[64];
    int fd = udp_open(host, sizeof(host));

    cu_statsd_log(CU_WARNING, 0);
    is_line(fd, "app.gunicorn.log.warning:1|c|@1.0|#env:test,x", "a warning");
    cu_statsd_log(CU_ERROR, 0);
    is_line(fd, "app.gunicorn.log.error:1|c|@1.0|#env:test,x", "an error");
    cu_statsd_log(CU_CRITICAL, 0);
    is_line(fd, "app.gunicorn.log.critical:1|c|@1.0|#env:test,x", "a critical line");
    cu_statsd_log(CU_ERROR, 1);
    is_line(fd, "app.gunicorn.log.exception:1|c|@1.0|#env:test,x", "an exception");
    cu_statsd_log(CU_INFO, 0);
    cu_statsd_log(CU_DEBUG, 0);
    cu_statsd_log(35, 0);
    ok(nothing_more(fd), "info, debug, another level: not counted");
    cu_statsd_gauge("gunicorn.workers", 4);
    is_line(fd, "app.gunicorn.workers:4|g|#env:test,x", "the workers gauge");
    cu_statsd_histogram("gunicorn.backlog", 0);
    is_line(fd, "app.gunicorn.backlog:0|h|#env:test,x", "the backlog histogram, 0 too");
    cu_statsd_gauge("g", -3);
    is_line(fd, "app.g:-3|g|#env:test,x", "a negative gauge");
    cu_statsd_send("hook.hits:1|c|@1.0", 18);
    is_line(fd, "app.hook.hits:1|c|@1.0|#env:test,x", "a hook's metric");
    cu_statsd_close();
    close(fd);
}

/* cu_log_exception writes an ERROR line as cu_log does, a long one cut
 * and marked. */
static void exception_lines(const char *logpath)
{
    char *big = malloc(6000), text[9000] = "";
    FILE *f;
    size_t n;

    if (big == NULL)
        bail("malloc");
    memset(big, 'x', 5999);
    big[5999] = '\0';
    if (unlink(logpath) < 0 || cu_log_open(logpath, NULL, CU_DEBUG, err, sizeof(err)) < 0)
        bail("cu_log_open: %s", err);
    errno = 77;
    cu_log_exception("Error handling request %s", "GET /x");
    ok(errno == 77, "cu_log_exception leaves errno");
    cu_log_exception("%s", big);
    cu_log_close();
    f = fopen(logpath, "r");
    n = f != NULL ? fread(text, 1, sizeof(text) - 1, f) : 0;
    if (f != NULL)
        (void)fclose(f);
    text[n] = '\0';
    ok(strstr(text, "] [ERROR] Error handling request GET /x\n") != NULL,
       "an exception's line is an ERROR line");
    ok(n > 4095 && strstr(text, "xxx...\n") != NULL && strstr(text, "xxxxxxxx\n") == NULL,
       "a message over 4 KiB is cut and marked");
    free(big);
}

/* The error log counts its lines, whatever its level lets through. */
static void test_error_log(void)
{
    char host[64], logpath[128];
    int fd = udp_open(host, sizeof(host));
    const char *parts[] = {"from a ", "signal handler"};

    xsnprintf(logpath, sizeof(logpath), "%s/error.log", dir);
    if (cu_log_open(logpath, NULL, CU_CRITICAL, err, sizeof(err)) < 0)
        bail("cu_log_open: %s", err);
    cu_log(CU_WARNING, "below the level");
    is_line(fd, "app.gunicorn.log.warning:1|c|@1.0|#env:test,x", "cu_log, a warning "
            "the level drops");
    cu_log(CU_ERROR, "an error");
    is_line(fd, "app.gunicorn.log.error:1|c|@1.0|#env:test,x", "cu_log, an error");
    cu_log(CU_CRITICAL, "critical");
    is_line(fd, "app.gunicorn.log.critical:1|c|@1.0|#env:test,x", "cu_log, critical");
    cu_log_exception("Error handling request %s", "/x");
    is_line(fd, "app.gunicorn.log.exception:1|c|@1.0|#env:test,x",
            "cu_log_exception: exception, not error");
    cu_log(CU_ERROR, "after it");
    is_line(fd, "app.gunicorn.log.error:1|c|@1.0|#env:test,x", "the next error: error");
    cu_log_signal(CU_ERROR, parts, 2);
    is_line(fd, "app.gunicorn.log.error:1|c|@1.0|#env:test,x", "cu_log_signal");
    cu_log(CU_INFO, "info");
    cu_log(CU_DEBUG, "debug");
    ok(nothing_more(fd), "cu_log at info and debug: not counted");
    cu_log_close();
    cu_statsd_close();
    close(fd);
    exception_lines(logpath);
}

/* No prefix, no tags: Gunicorn's bare lines; a one-character prefix;
 * localhost, IPv4 first as Gunicorn's AF_INET socket. */
static void test_bare(void)
{
    char host[64], local[64];
    int fd = udp_open(host, sizeof(host));

    open_to(host, "", "");
    cu_statsd_request(200, 7000000);
    is_line(fd, "gunicorn.request.duration:7000.0|ms", "bare: duration");
    is_line(fd, "gunicorn.requests:1|c|@1.0", "bare: count");
    is_line(fd, "gunicorn.request.status.200:1|c|@1.0", "bare: status");
    cu_statsd_log(CU_CRITICAL, 0);
    is_line(fd, "gunicorn.log.critical:1|c|@1.0", "bare: critical");
    cu_statsd_gauge("gunicorn.workers", 2);
    is_line(fd, "gunicorn.workers:2|g", "bare: gauge");
    open_to(host, "a", "t");
    cu_statsd_log(CU_WARNING, 0);
    is_line(fd, "agunicorn.log.warning:1|c|@1.0|#t", "prefix 'a' (no '.'), tags 't'");
    xsnprintf(local, sizeof(local), "localhost%s", strchr(host, ':'));
    open_to(local, "", "");
    cu_statsd_request(201, 1);
    is_line(fd, "gunicorn.request.duration:0.001|ms", "localhost reaches 127.0.0.1");
    is_line(fd, "gunicorn.requests:1|c|@1.0", "localhost: count");
    is_line(fd, "gunicorn.request.status.201:1|c|@1.0", "localhost: status");
    cu_statsd_close();
    close(fd);
}

static void test_ipv6(void)
{
    char host[64];
    int port, fd = udp_receiver(AF_INET6, &port);

    if (fd < 0) {
        ok(1, "# SKIP no IPv6 loopback");
        return;
    }
    xsnprintf(host, sizeof(host), "[::1]:%d", port);
    open_to(host, "", "");
    cu_statsd_gauge("gunicorn.workers", 1);
    is_line(fd, "gunicorn.workers:1|g", "[::1]: IPv6 (Ours; Gunicorn sends nothing)");
    cu_statsd_close();
    close(fd);
}

/* Fork: the child sends from a socket of its own (another source port). */
static void test_fork(void)
{
    char host[64];
    int port, fd = udp_receiver(AF_INET, &port), parent = -1, child = -2, status;
    const char *got;
    pid_t pid;

    if (fd < 0)
        bail("a UDP receiver");
    xsnprintf(host, sizeof(host), "127.0.0.1:%d", port);
    open_to(host, "", "");
    cu_statsd_gauge("from", 1);
    got = next_from(fd, 1000, &parent);
    ok(strcmp(got, "from:1|g") == 0, "the parent's datagram (%s)", got);
    (void)fflush(stdout);
    pid = fork();
    if (pid == 0) {
        cu_statsd_reopen();
        cu_statsd_gauge("from", 2);
        _exit(cu_statsd_on() ? 0 : 1);
    }
    ok(pid > 0 && waitpid(pid, &status, 0) == pid && WIFEXITED(status) &&
       WEXITSTATUS(status) == 0, "the child reopened and sent");
    got = next_from(fd, 1000, &child);
    ok(strcmp(got, "from:2|g") == 0 && child != parent && child > 0,
       "the child's datagram, from another socket (ports %d, %d)", parent, child);
    cu_statsd_gauge("from", 3);
    got = next_from(fd, 1000, &child);
    ok(strcmp(got, "from:3|g") == 0 && child == parent,
       "the parent's socket is still its own (port %d)", child);
    cu_statsd_close();
    close(fd);
}

static double now_s(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* An unresolvable name: open fails, statsd stays off; a port nobody
 * listens on: sends go on, never failing, never waiting. */
static void test_unreachable(void)
{
    struct cu_statsd_config c;
    char host[64];
    int port, fd = udp_receiver(AF_INET, &port), rc;
    double t;

    ok(cu_statsd_config_make(&c, "no-such-host.invalid:8125", "", "", err,
                             sizeof(err)) == 0, "an unresolvable name is taken");
    err[0] = '\0';
    rc = cu_statsd_open(&c, err, sizeof(err));
    ok(rc == -1 && err[0] != '\0' && !cu_statsd_on(), "... open fails, off: %s", err);
    cu_statsd_config_free(&c);
    cu_statsd_request(200, 1);   /* a no-op */

    if (fd < 0)
        bail("a UDP receiver");
    close(fd);                  /* now nothing listens on port */
    xsnprintf(host, sizeof(host), "127.0.0.1:%d", port);
    open_to(host, "", "");
    t = now_s();
    for (int i = 0; i < 2000; i++)
        cu_statsd_request(200, i);   /* ICMP port unreachable: ECONNREFUSED */
    t = now_s() - t;
    ok(cu_statsd_on() && t < 2.0, "2000 requests to a closed port: on, %.3f s", t);
    cu_statsd_close();
}

/* A UNIX datagram socket: lines arrive; one that never reads fills up and
 * sends are dropped, not waited on; one not there yet at open is reached
 * once it is (Ours). */
static void test_unix(void)
{
    char path[128], host[160];
    int fd, n = 0, e;
    double t;

    xsnprintf(path, sizeof(path), "%s/statsd.sock", dir);
    fd = unix_receiver(path);
    if (fd < 0)
        bail("a UNIX receiver at %s", path);
    xsnprintf(host, sizeof(host), "unix://%s", path);
    open_to(host, "svc", "k:v");
    cu_statsd_request(302, 2500);
    is_line(fd, "svc.gunicorn.request.duration:2.5|ms|#k:v", "unix: duration");
    is_line(fd, "svc.gunicorn.requests:1|c|@1.0|#k:v", "unix: count");
    is_line(fd, "svc.gunicorn.request.status.302:1|c|@1.0|#k:v", "unix: status");
    cu_statsd_log(CU_WARNING, 0);
    is_line(fd, "svc.gunicorn.log.warning:1|c|@1.0|#k:v", "unix: a warning");

    /* nobody reads: the queue fills, and every send returns at once */
    t = now_s();
    errno = 0;
    for (int i = 0; i < 20000; i++)
        cu_statsd_request(200, i);
    e = errno;
    t = now_s() - t;
    while (next_from(fd, 0, NULL)[0] != '\0')
        n++;
    ok(t < 5.0 && n > 0 && n < 60000 && e == 0, "a receiver that never reads: 20000 "
       "requests in %.3f s, %d datagrams queued, the rest dropped", t, n);
    cu_statsd_close();
    close(fd);
    unlink(path);

    /* not there at open: sent to by name, so it is reached once it is */
    open_to(host, "", "");
    ok(cu_statsd_on(), "a socket not there yet: on");
    cu_statsd_gauge("early", 1);
    fd = unix_receiver(path);
    if (fd < 0)
        bail("a UNIX receiver at %s", path);
    cu_statsd_gauge("late", 1);
    is_line(fd, "late:1|g", "reached once it is there");
    cu_statsd_close();
    close(fd);
    unlink(path);
}

int main(void)
{
    char logpath[128];

    xsnprintf(dir, sizeof(dir), "/tmp/cu_statsd_XXXXXX");
    if (mkdtemp(dir) == NULL)
        bail("mkdtemp");
    test_parse();
    test_prefix();
    test_config();
    test_ms();
    test_off();
    test_requests();
    test_counters_and_numbers();
    test_error_log();
    test_bare();
    test_ipv6();
    test_fork();
    test_unreachable();
    test_unix();
    xsnprintf(logpath, sizeof(logpath), "%s/error.log", dir);
    unlink(logpath);
    rmdir(dir);
    return tap_done();
}
