/*
 * StatsD and DogStatsD metrics: see statsd.h for the contract and
 * docs/compat.md, StatsD, for what Gunicorn sends and where cunicorn
 * differs.
 *
 * Process-wide state: one socket and the lines it sends, in g_sd, made by
 * cu_statsd_open (the master, at start and on HUP) and read-only
 * afterwards; a worker replaces only the socket after fork. The fixed
 * parts of every line (the prefix with the metric's name, the type and the
 * tags) are made once at open, so a request costs the formatting of two
 * numbers and one sendmmsg(2) of its three datagrams, each an iovec of
 * the fixed parts around the numbers. A log line's counter is one line
 * made at open, sent with one sendmsg(2): async-signal-safe.
 */
#include "core/statsd.h"
#include "core/errbuf.h"
#include "core/log.h"

#include <errno.h>
#include <locale.h>
#include <netdb.h>
#include <netinet/in.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <sys/un.h>
#include <unistd.h>

#ifndef MSG_NOSIGNAL
#define MSG_NOSIGNAL 0
#endif

/* A prefix and tags longer than this together would not fit a UDP
 * datagram with the longest name (Ours: refused at start). */
#define FIXED_MAX 65000

int cu_statsd_sending;

/* ---- statsd_host --------------------------------------------------------- */

/* Python's str.isspace() for ASCII: what int() strips. */
static int is_pyspace(int ch)
{
    return ch == ' ' || (ch >= '\t' && ch <= '\r') || (ch >= 0x1c && ch <= 0x1f);
}

/* Python's int(s[0..n)) in base 10, ASCII digits only: spaces around, a
 * sign, '_' between digits. 0 with *out (clamped to +-10^9), or -1. */
static int py_int(const char *s, size_t n, long long *out)
{
    size_t i = 0;
    long long v = 0;
    int neg = 0, digits = 0, under = 0;

    while (n > 0 && is_pyspace((unsigned char)s[n - 1]))
        n--;
    while (i < n && is_pyspace((unsigned char)s[i]))
        i++;
    if (i < n && (s[i] == '+' || s[i] == '-'))
        neg = s[i++] == '-';
    for (; i < n; i++) {
        if (s[i] == '_' && digits && !under) {
            under = 1;
            continue;
        }
        if (s[i] < '0' || s[i] > '9')
            return -1;
        under = 0;
        digits++;
        if (v < 1000000000LL)
            v = v * 10 + (s[i] - '0');
    }
    if (!digits || under)
        return -1;
    *out = neg ? -v : v;
    return 0;
}

/* The text after the first occurrence of pat in s[0..n), up to its next
 * occurrence (Python's s.split(pat)[1]); NULL when pat is not there. */
static const char *split1(const char *s, size_t n, const char *pat, size_t *len)
{
    size_t k = strlen(pat);
    const char *a = memmem(s, n, pat, k), *b;

    if (a == NULL)
        return NULL;
    a += k;
    b = memmem(a, (size_t)(s + n - a), pat, k);
    *len = (size_t)((b != NULL ? b : s + n) - a);
    return a;
}

static int bad_addr(char *err, size_t errlen, const char *text, const char *why)
{
    cu_seterr(err, errlen, "Invalid value for statsd_host: '%s' (%s)", text, why);
    return -1;
}

/* unix:PATH or unix://PATH: the text after the last "unix:", without a
 * "//" right after it (Gunicorn splits at every "unix:" and takes the
 * last piece). */
static int parse_unix(const char *text, struct cu_statsd_addr *a, char *err,
                      size_t errlen)
{
    const char *p = text, *q;
    size_t n;

    while ((q = strstr(p, "unix:")) != NULL)
        p = q + 5;
    if (p[0] == '/' && p[1] == '/')
        p += 2;
    n = strlen(p);
    if (n == 0)   /* Gunicorn: no socket, and no metric, ever */
        return bad_addr(err, errlen, text, "an empty path");
    if (n >= sizeof(a->path))
        return bad_addr(err, errlen, text, "a path longer than 107 bytes");
    a->family = CU_STATSD_UNIX;
    memcpy(a->path, p, n + 1);
    return 0;
}

int cu_statsd_parse_addr(const char *text, struct cu_statsd_addr *a,
                         char *err, size_t errlen)
{
    const char *s = text, *host, *port = NULL, *colon;
    size_t n = strlen(text), hlen, plen = 0, digits;
    long long v = CU_STATSD_PORT;

    memset(a, 0, sizeof(*a));
    /* "unix:8125" is the host unix at that port (Gunicorn keeps a form
     * older than unix:PATH) */
    digits = n > 5 ? strspn(text + 5, "0123456789") : 0;
    if (strncmp(text, "unix:", 5) == 0 && (digits == 0 || digits != n - 5))
        return parse_unix(text, a, err, errlen);
    if (strncmp(text, "fd://", 5) == 0)  /* Gunicorn: no socket */
        return bad_addr(err, errlen, text, "statsd sends to HOST:PORT or "
                        "unix://PATH, not to a file descriptor");
    if (strncmp(text, "tcp://", 6) == 0)
        s = split1(text, n, "tcp://", &n);
    host = s;
    hlen = n;
    if (memchr(s, '[', n) != NULL && memchr(s, ']', n) != NULL) {
        /* [HOST]:PORT: what stands between the first byte and the first ']' */
        hlen = (size_t)((const char *)memchr(s, ']', n) - s);
        host = hlen > 0 ? s + 1 : s;
        hlen = hlen > 0 ? hlen - 1 : 0;
        port = split1(s, n, "]:", &plen);
    } else if ((colon = memchr(s, ':', n)) != NULL) {
        /* HOST:PORT[:anything]: the first two fields */
        hlen = (size_t)(colon - s);
        port = colon + 1;
        colon = memchr(port, ':', (size_t)(s + n - port));
        plen = (size_t)((colon != NULL ? colon : s + n) - port);
    } else if (n == 0) {
        host = "0.0.0.0";
        hlen = 7;
    }
    if (port != NULL && py_int(port, plen, &v) < 0) {
        char why[160];

        cu_seterr(why, sizeof(why), "'%.*s' is not a valid port number; "
                  "expected HOST:PORT or unix://PATH", (int)(plen > 64 ? 64 : plen), port);
        return bad_addr(err, errlen, text, why);
    }
    if (v < 0 || v > 65535)  /* Gunicorn: connect() fails, no metric ever */
        return bad_addr(err, errlen, text, "a port out of 0..65535");
    if (hlen >= sizeof(a->host))
        return bad_addr(err, errlen, text, "a host name longer than 255 bytes");
    a->family = CU_STATSD_INET;
    for (size_t i = 0; i < hlen; i++) {
        char c = host[i];
        a->host[i] = (char)(c >= 'A' && c <= 'Z' ? c - 'A' + 'a' : c);
    }
    a->host[hlen] = '\0';
    a->port = (int)v;
    return 0;
}

/* ---- prefix and tags ---------------------------------------------------- */

size_t cu_statsd_prefix(const char *prefix, char *out, size_t n)
{
    size_t len = strlen(prefix), t = len, need;

    while (t > 0 && prefix[t - 1] == '.')
        t--;
    need = t >= 2 ? t + 1 : len;
    if (need >= n)
        return need;
    if (t >= 2) {
        memcpy(out, prefix, t);
        out[t] = '.';
    } else {
        memcpy(out, prefix, len);
    }
    out[need] = '\0';
    return need;
}

/* Printable ASCII only: Gunicorn encodes each line as ASCII (any other
 * character fails every send), and a control byte would cut the line. */
static int printable(const char *s)
{
    for (; *s != '\0'; s++)
        if ((unsigned char)*s < 0x20 || (unsigned char)*s > 0x7e)
            return 0;
    return 1;
}

void cu_statsd_config_free(struct cu_statsd_config *c)
{
    free(c->prefix);
    free(c->tags);
    memset(c, 0, sizeof(*c));
}

int cu_statsd_config_make(struct cu_statsd_config *c, const char *host,
                          const char *prefix, const char *tags, char *err,
                          size_t errlen)
{
    size_t n;

    memset(c, 0, sizeof(*c));
    if (host == NULL)
        return 0;
    if (prefix == NULL)
        prefix = "";
    if (tags == NULL)
        tags = "";
    if (cu_statsd_parse_addr(host, &c->addr, err, errlen) < 0)
        return -1;
    if (!printable(prefix)) {
        cu_seterr(err, errlen, "Invalid value for statsd_prefix: '%s' (printable "
                  "ASCII only: a metric's line is ASCII)", prefix);
        return -1;
    }
    if (!printable(tags)) {
        cu_seterr(err, errlen, "Invalid value for dogstatsd_tags: '%s' (printable "
                  "ASCII only: a metric's line is ASCII)", tags);
        return -1;
    }
    if (strlen(prefix) + strlen(tags) > FIXED_MAX) {
        cu_seterr(err, errlen, "Invalid value for statsd_prefix and dogstatsd_tags: "
                  "more than %d bytes together, longer than a datagram holds",
                  FIXED_MAX);
        return -1;
    }
    n = cu_statsd_prefix(prefix, NULL, 0) + 1;
    if ((c->prefix = malloc(n)) == NULL || (c->tags = strdup(tags)) == NULL) {
        cu_statsd_config_free(c);
        cu_seterr(err, errlen, "out of memory");
        return -1;
    }
    (void)cu_statsd_prefix(prefix, c->prefix, n);
    c->on = 1;
    return 0;
}

/* ---- the duration ------------------------------------------------------- */

/* Digits of v into the end of buf (n bytes); returns where they start. */
static char *put_u64(char *end, unsigned long long v)
{
    do
        *--end = (char)('0' + v % 10);
    while ((v /= 10) > 0);
    return end;
}

static size_t put_ll(char *out, long long v)
{
    char buf[24], *p;
    size_t n = 0;

    if (v < 0) {
        out[n++] = '-';
        p = put_u64(buf + sizeof(buf), 0ULL - (unsigned long long)v);
    } else {
        p = put_u64(buf + sizeof(buf), (unsigned long long)v);
    }
    memcpy(out + n, p, (size_t)(buf + sizeof(buf) - p));
    return n + (size_t)(buf + sizeof(buf) - p);
}

static locale_t g_c_locale;  /* LC_NUMERIC "C", for repr_slow; made at open */

/*
 * Python's repr(d) for 0 <= d < 1e16: the fewest significant digits that
 * read back as d (printf's %.*e is correctly rounded, so the first
 * precision whose text strtod gives back d is the one), written in fixed
 * notation with at least one digit after the point.
 */
static size_t repr_slow(char *out, double d)
{
    char e[40], digits[20];
    locale_t old = g_c_locale != (locale_t)0 ? uselocale(g_c_locale) : (locale_t)0;
    int nd = 0, exp10, decpt;
    size_t o = 0;
    const char *p;

    for (int prec = 0; prec < 17; prec++) {
        (void)snprintf(e, sizeof(e), "%.*e", prec, d);
        if (strtod(e, NULL) == d)
            break;
    }
    if (old != (locale_t)0)
        (void)uselocale(old);
    /* "D[.DDD]e[+-]XX", whatever the decimal point is */
    for (p = e; *p != '\0' && *p != 'e'; p++)
        if (*p >= '0' && *p <= '9' && nd < (int)sizeof(digits))
            digits[nd++] = *p;
    exp10 = *p == 'e' ? atoi(p + 1) : 0;
    while (nd > 1 && digits[nd - 1] == '0')
        nd--;
    decpt = exp10 + 1;      /* digits before the point */
    if (decpt <= 0) {
        out[o++] = '0';
        out[o++] = '.';
        for (int i = 0; i < -decpt; i++)
            out[o++] = '0';
        memcpy(out + o, digits, (size_t)nd);
        o += (size_t)nd;
    } else {
        for (int i = 0; i < decpt; i++)
            out[o++] = (char)(i < nd ? digits[i] : '0');
        out[o++] = '.';
        if (nd > decpt) {
            memcpy(out + o, digits + decpt, (size_t)(nd - decpt));
            o += (size_t)(nd - decpt);
        } else {
            out[o++] = '0';
        }
    }
    out[o] = '\0';
    return o;
}

size_t cu_statsd_ms(char *out, int64_t us)
{
    long long sec, usec, within;
    double d;
    size_t o;

    if (us < 0)
        us = 0;
    sec = (long long)(us / 1000000) % 86400;   /* timedelta.seconds */
    usec = (long long)(us % 1000000);
    within = sec * 1000000 + usec;
    d = (double)(sec * 1000) + (double)usec / 1000.0;  /* Gunicorn's sum */
    if (d != (double)within / 1000.0)
        return repr_slow(out, d);   /* the sum is not the nearest double */
    /* d is the double nearest to within/1000, which no shorter decimal
     * reads back as: the plain decimal is Python's repr */
    o = put_ll(out, within / 1000);
    out[o++] = '.';
    out[o++] = (char)('0' + within / 100 % 10);
    out[o++] = (char)('0' + within / 10 % 10);
    out[o++] = (char)('0' + within % 10);
    while (out[o - 1] == '0' && out[o - 2] != '.')
        o--;
    out[o] = '\0';
    return o;
}

/* ---- the socket and the lines ------------------------------------------- */

enum { LOG_WARNING, LOG_ERROR, LOG_CRITICAL, LOG_EXCEPTION, NLOG };

static struct {
    int fd;                         /* -1: off */
    int connected;                  /* 0: every datagram names addr */
    struct sockaddr_storage addr;
    socklen_t addrlen;
    char *mem;                      /* every fixed part below */
    struct iovec prefix, tags;      /* tags: "|#TAGS", or empty */
    struct iovec requests;          /* the whole line */
    struct iovec dur_head, dur_tail;        /* around the duration */
    struct iovec status_head, status_tail;  /* around the status */
    struct iovec log[NLOG];         /* whole lines */
} g_sd = {.fd = -1};

/* A socket to g_sd.addr, connected when it can be (else each datagram
 * names the address: a UNIX socket that is not there yet, Ours). */
static int open_socket(void)
{
    int fd = socket(g_sd.addr.ss_family, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);

    if (fd < 0)
        return -1;
    g_sd.connected = connect(fd, (struct sockaddr *)&g_sd.addr, g_sd.addrlen) == 0;
    return fd;
}

/* The first address of host, IPv4 first. 0, or -1 with why in err. */
static int resolve(const struct cu_statsd_addr *a, char *err, size_t errlen)
{
    struct addrinfo hints, *res = NULL;
    const char *host = a->host;
    int rc = EAI_NONAME;

    if (a->family == CU_STATSD_UNIX) {
        struct sockaddr_un *sun = (struct sockaddr_un *)&g_sd.addr;

        sun->sun_family = AF_UNIX;
        memcpy(sun->sun_path, a->path, strlen(a->path) + 1);
        g_sd.addrlen = (socklen_t)(offsetof(struct sockaddr_un, sun_path) +
                                   strlen(a->path) + 1);
        return 0;
    }
    if (host[0] == '\0')    /* Python connects to '' as INADDR_ANY */
        host = "0.0.0.0";
    memset(&hints, 0, sizeof(hints));
    hints.ai_socktype = SOCK_DGRAM;
    for (int i = 0; i < 2 && rc != 0; i++) {
        hints.ai_family = i == 0 ? AF_INET : AF_INET6;
        rc = getaddrinfo(host, NULL, &hints, &res);
        if (rc == EAI_SYSTEM || rc == EAI_AGAIN || rc == EAI_MEMORY)
            break;  /* no IPv6 try: the lookup itself failed */
    }
    if (rc != 0) {
        cu_seterr(err, errlen, "%s", rc == EAI_SYSTEM ? strerror(errno) : gai_strerror(rc));
        return -1;
    }
    memcpy(&g_sd.addr, res->ai_addr, res->ai_addrlen);
    g_sd.addrlen = res->ai_addrlen;
    if (res->ai_family == AF_INET)
        ((struct sockaddr_in *)&g_sd.addr)->sin_port = htons((uint16_t)a->port);
    else
        ((struct sockaddr_in6 *)&g_sd.addr)->sin6_port = htons((uint16_t)a->port);
    freeaddrinfo(res);
    return 0;
}

/* Appends a+b+c and a NUL to the buffer at *at and points v at them (the
 * NUL left out). */
static void part(char **at, struct iovec *v, const char *a, const char *b, const char *c)
{
    size_t la = strlen(a), lb = strlen(b), lc = strlen(c);

    memcpy(*at, a, la);
    memcpy(*at + la, b, lb);
    memcpy(*at + la + lb, c, lc);
    (*at)[la + lb + lc] = '\0';
    v->iov_base = *at;
    v->iov_len = la + lb + lc;
    *at += la + lb + lc + 1;
}

/* The fixed parts, from the configuration's prefix and tags. */
static int make_lines(const struct cu_statsd_config *c)
{
    static const char *const levels[NLOG] = {
        "gunicorn.log.warning:1|c|@1.0", "gunicorn.log.error:1|c|@1.0",
        "gunicorn.log.critical:1|c|@1.0", "gunicorn.log.exception:1|c|@1.0"
    };
    size_t lp = strlen(c->prefix), lt = strlen(c->tags) + 2;
    const char *tags;
    char *at;

    /* 11 parts, each at most the prefix, the tags and 40 bytes */
    if ((g_sd.mem = malloc(11 * (lp + lt + 40))) == NULL)
        return -1;
    at = g_sd.mem;
    part(&at, &g_sd.prefix, c->prefix, "", "");
    part(&at, &g_sd.tags, c->tags[0] ? "|#" : "", c->tags, "");
    tags = g_sd.tags.iov_base;
    part(&at, &g_sd.requests, c->prefix, "gunicorn.requests:1|c|@1.0", tags);
    part(&at, &g_sd.dur_head, c->prefix, "gunicorn.request.duration:", "");
    part(&at, &g_sd.dur_tail, "|ms", tags, "");
    part(&at, &g_sd.status_head, c->prefix, "gunicorn.request.status.", "");
    part(&at, &g_sd.status_tail, ":1|c|@1.0", tags, "");
    for (int i = 0; i < NLOG; i++)
        part(&at, &g_sd.log[i], c->prefix, levels[i], tags);
    return 0;
}

void cu_statsd_close(void)
{
    cu_statsd_sending = 0;
    if (g_sd.fd >= 0)
        (void)close(g_sd.fd);
    free(g_sd.mem);
    memset(&g_sd, 0, sizeof(g_sd));
    g_sd.fd = -1;
}

int cu_statsd_open(const struct cu_statsd_config *c, char *err, size_t errlen)
{
    cu_statsd_close();
    if (c == NULL || !c->on)
        return 0;
    if (g_c_locale == (locale_t)0)
        g_c_locale = newlocale(LC_NUMERIC_MASK, "C", (locale_t)0);
    if (resolve(&c->addr, err, errlen) < 0)
        return -1;
    if (make_lines(c) < 0) {
        cu_seterr(err, errlen, "out of memory");
        cu_statsd_close();
        return -1;
    }
    if ((g_sd.fd = open_socket()) < 0) {
        cu_seterr(err, errlen, "socket: %s", strerror(errno));
        cu_statsd_close();
        return -1;
    }
    cu_statsd_sending = 1;
    return 0;
}

void cu_statsd_reopen(void)
{
    int saved = errno;

    if (!cu_statsd_sending)
        return;
    (void)close(g_sd.fd);
    if ((g_sd.fd = open_socket()) < 0)
        cu_statsd_close();
    errno = saved;
}

/* ---- sending -------------------------------------------------------------- */

/* Sends n datagrams, msg i made of niov[i] iovecs of iov in turn; a
 * datagram that cannot go now is dropped. */
static void send_all(struct iovec *iov, const int *niov, int n)
{
    struct msghdr h[3];
    int saved = errno, off = 0;

    for (int i = 0; i < n; i++) {
        memset(&h[i], 0, sizeof(h[i]));
        if (!g_sd.connected) {
            h[i].msg_name = &g_sd.addr;
            h[i].msg_namelen = g_sd.addrlen;
        }
        h[i].msg_iov = iov + off;
        h[i].msg_iovlen = (size_t)niov[i];
        off += niov[i];
    }
#ifdef __linux__
    if (n > 1) {
        struct mmsghdr mm[3];
        int done = 0;

        for (int i = 0; i < n; i++) {
            mm[i].msg_hdr = h[i];
            mm[i].msg_len = 0;
        }
        while (done < n) {
            int r = sendmmsg(g_sd.fd, mm + done, (unsigned)(n - done),
                             MSG_DONTWAIT | MSG_NOSIGNAL);

            done += r > 0 ? r : 1;  /* an error drops the datagram it was at */
        }
        errno = saved;
        return;
    }
#endif
    for (int i = 0; i < n; i++)
        (void)sendmsg(g_sd.fd, &h[i], MSG_DONTWAIT | MSG_NOSIGNAL);
    errno = saved;
}

void cu_statsd_request(int status, int64_t us)
{
    char ms[CU_STATSD_MS_MAX], code[24];
    struct iovec iov[7];
    int niov[3] = {3, 1, 3};

    if (!cu_statsd_sending)
        return;
    iov[0] = g_sd.dur_head;
    iov[1].iov_base = ms;
    iov[1].iov_len = cu_statsd_ms(ms, us);
    iov[2] = g_sd.dur_tail;
    iov[3] = g_sd.requests;
    iov[4] = g_sd.status_head;
    iov[5].iov_base = code;
    iov[5].iov_len = put_ll(code, status);
    iov[6] = g_sd.status_tail;
    send_all(iov, niov, status > 0 ? 3 : 2);
}

void cu_statsd_log(int level, int exception)
{
    int which, one = 1;

    if (!cu_statsd_sending)
        return;
    if (exception)
        which = LOG_EXCEPTION;
    else if (level == CU_WARNING)
        which = LOG_WARNING;
    else if (level == CU_ERROR)
        which = LOG_ERROR;
    else if (level == CU_CRITICAL)
        which = LOG_CRITICAL;
    else
        return;
    send_all(&g_sd.log[which], &one, 1);
}

/* PREFIX name ":" value type TAGS */
static void number(const char *name, long long value, const char *type)
{
    char mid[48];
    size_t n = 0, k = strlen(type) + 1;  /* with its NUL */
    struct iovec iov[4];
    int four = 4;

    if (!cu_statsd_sending)
        return;
    mid[n++] = ':';
    n += put_ll(mid + n, value);
    memcpy(mid + n, type, k);
    iov[0] = g_sd.prefix;
    iov[1].iov_base = (void *)name;
    iov[1].iov_len = strlen(name);
    iov[2].iov_base = mid;
    iov[2].iov_len = n + k - 1;
    iov[3] = g_sd.tags;
    send_all(iov, &four, 1);
}

void cu_statsd_gauge(const char *name, long long value)
{
    number(name, value, "|g");
}

void cu_statsd_histogram(const char *name, long long value)
{
    number(name, value, "|h");
}

void cu_statsd_send(const char *body, size_t len)
{
    struct iovec iov[3];
    int three = 3;

    if (!cu_statsd_sending)
        return;
    iov[0] = g_sd.prefix;
    iov[1].iov_base = (void *)body;
    iov[1].iov_len = len;
    iov[2] = g_sd.tags;
    send_all(iov, &three, 1);
}
