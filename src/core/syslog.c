/*
 * Syslog: see syslog.h for the contract and docs/compat.md, Syslog, for
 * what Gunicorn sends and where cunicorn differs.
 *
 * Process-wide state: one socket and what every message starts with, in
 * g_sl, made by cu_syslog_open (the master, at start and on HUP). Two
 * ways to send:
 *
 * - A datagram socket (UDP; a UNIX path that took a datagram socket) is
 *   one fd for good once `dgram` is set: every message is one sendmsg(2)
 *   on it with MSG_DONTWAIT, no lock, from any thread or a signal handler
 *   and from every process forked since (each datagram is whole). A UNIX
 *   socket whose reader went away is connected again (connect(2) on the
 *   same socket, so the fd never changes), at most once per retry_ms.
 *
 * - Everything else (a stream; a UNIX path not connected yet, whose type
 *   is not known) goes under `lock`. A stream belongs to one process:
 *   `owner` says which, and the first message of another process (a
 *   fork) drops the inherited connection (its copy of the fd: the
 *   parent's connection stays up) and makes its own. A message that
 *   cannot go whole now waits in `pend` behind those before it, so the
 *   stream only ever carries whole messages.
 */
#include "core/syslog.h"
#include "core/clock.h"
#include "core/errbuf.h"
#include "core/log.h"

#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <sys/un.h>
#include <unistd.h>

#ifndef MSG_NOSIGNAL
#define MSG_NOSIGNAL 0
#endif

#define NADDR 8         /* a name's addresses tried, in order */

int cu_syslog_sending;

/* ---- syslog_addr ------------------------------------------------------- */

static int bad_addr(char *err, size_t errlen, const char *text, const char *why)
{
    cu_seterr(err, errlen, "Invalid value for syslog_addr: '%s' (%s)", text, why);
    return -1;
}

/* The text after the first pat in s, up to its next one (Python's
 * s.split(pat)[1]); s starts with pat. */
static size_t after(const char *s, const char *pat, const char **out)
{
    size_t k = strlen(pat);
    const char *next = strstr(s + k, pat);

    *out = s + k;
    return next != NULL ? (size_t)(next - *out) : strlen(*out);
}

/* unix://PATH[#TYPE]: the path before the first '#' */
static int parse_unix(const char *text, struct cu_syslog_addr *a, char *err,
                      size_t errlen)
{
    const char *hash = strchr(text, '#'), *path;
    char head[CU_SYSLOG_PATH_MAX + 16];
    size_t n = hash != NULL ? (size_t)(hash - text) : strlen(text);

    if (n >= sizeof(head))
        return bad_addr(err, errlen, text, "a path longer than 107 bytes");
    memcpy(head, text, n);
    head[n] = '\0';
    n = after(head, "unix://", &path);
    if (n == 0)     /* Gunicorn: a socket never connected */
        return bad_addr(err, errlen, text, "an empty path");
    if (n >= sizeof(a->path))
        return bad_addr(err, errlen, text, "a path longer than 107 bytes");
    a->transport = CU_SYSLOG_UNIX;
    memcpy(a->path, path, n);
    a->path[n] = '\0';
    /* Gunicorn reads #dgram only (anything else tries both); Ours: #stream
     * is taken at its word */
    if (hash != NULL && strcmp(hash + 1, "dgram") == 0)
        a->socktype = CU_SYSLOG_DGRAM;
    else if (hash != NULL && strcmp(hash + 1, "stream") == 0)
        a->socktype = CU_SYSLOG_STREAM;
    return 0;
}

/* HOST[:PORT] or [HOST][:PORT] as Gunicorn splits them: host, port text. */
static void split_host(const char *s, size_t n, const char **host, size_t *hlen,
                       const char **port, size_t *plen)
{
    const char *close = memchr(s, ']', n), *rest = s, *colon;

    *port = NULL;
    *plen = 0;
    if (memchr(s, '[', n) != NULL && close != NULL) {
        *host = close > s ? s + 1 : s;     /* split(']')[0][1:] */
        *hlen = close > s ? (size_t)(close - s) - 1 : 0;
    } else if ((colon = memchr(s, ':', n)) != NULL) {
        *host = s;
        *hlen = (size_t)(colon - s);
    } else if (n == 0) {
        *host = "localhost";
        *hlen = 9;
    } else {
        *host = s;
        *hlen = n;
    }
    for (const char *p = s; p < s + n; p++)     /* split(']')[-1] */
        if (*p == ']')
            rest = p + 1;
    colon = memchr(rest, ':', (size_t)(s + n - rest));
    if (colon != NULL) {
        *port = colon + 1;
        *plen = (size_t)(s + n - *port);
    }
}

static int parse_port(const char *text, const char *port, size_t plen, int *out,
                      char *err, size_t errlen)
{
    long v = 0;
    char why[160];

    for (size_t i = 0; i < plen || plen == 0; i++) {
        if (plen == 0 || port[i] < '0' || port[i] > '9') {
            cu_seterr(why, sizeof(why), "'%.*s' is not a valid port number",
                      (int)(plen > 64 ? 64 : plen), port);
            return bad_addr(err, errlen, text, why);
        }
        if (v <= 65535)
            v = v * 10 + (port[i] - '0');
    }
    if (v < 1 || v > 65535)     /* Gunicorn: no message ever goes */
        return bad_addr(err, errlen, text, "a port out of 1..65535");
    *out = (int)v;
    return 0;
}

int cu_syslog_parse_addr(const char *text, struct cu_syslog_addr *a,
                         char *err, size_t errlen)
{
    const char *s, *host, *port;
    size_t n, hlen, plen;

    memset(a, 0, sizeof(*a));
    if (strncmp(text, "unix://", 7) == 0)
        return parse_unix(text, a, err, errlen);
    if (strncmp(text, "udp://", 6) == 0) {
        n = after(text, "udp://", &s);
        a->transport = CU_SYSLOG_UDP;
    } else if (strncmp(text, "tcp://", 6) == 0) {
        n = after(text, "tcp://", &s);
        a->transport = CU_SYSLOG_TCP;
    } else {
        return bad_addr(err, errlen, text, "an invalid syslog address: expected "
                        "udp://HOST[:PORT], tcp://HOST[:PORT] or "
                        "unix://PATH[#dgram|#stream]");
    }
    split_host(s, n, &host, &hlen, &port, &plen);
    a->port = CU_SYSLOG_PORT;
    if (port != NULL && parse_port(text, port, plen, &a->port, err, errlen) < 0)
        return -1;
    if (hlen == 0)      /* Gunicorn: getaddrinfo fails at start */
        return bad_addr(err, errlen, text, "no host name");
    if (hlen >= sizeof(a->host))
        return bad_addr(err, errlen, text, "a host name longer than 255 bytes");
    for (size_t i = 0; i < hlen; i++) {
        char c = host[i];
        a->host[i] = (char)(c >= 'A' && c <= 'Z' ? c - 'A' + 'a' : c);
    }
    a->host[hlen] = '\0';
    return 0;
}

/* ---- facility, severity, the tag ---------------------------------------- */

static const struct {
    const char *name;
    int code;
} facilities[] = {
    {"auth", 4}, {"authpriv", 10}, {"cron", 9}, {"daemon", 3}, {"ftp", 11},
    {"kern", 0}, {"lpr", 6}, {"mail", 2}, {"news", 7}, {"security", 4},
    {"syslog", 5}, {"user", 1}, {"uucp", 8}, {"local0", 16}, {"local1", 17},
    {"local2", 18}, {"local3", 19}, {"local4", 20}, {"local5", 21},
    {"local6", 22}, {"local7", 23},
};

int cu_syslog_facility(const char *name)
{
    for (size_t i = 0; i < sizeof(facilities) / sizeof(facilities[0]); i++)
        if (strcasecmp(name, facilities[i].name) == 0)
            return facilities[i].code;
    return -1;
}

int cu_syslog_severity(int level)
{
    switch (level) {
    case CU_DEBUG: return 7;
    case CU_INFO: return 6;
    case CU_ERROR: return 3;
    case CU_CRITICAL: return 2;
    default: return 4;      /* warning, and what Python's map lacks */
    }
}

void cu_syslog_config_free(struct cu_syslog_config *c)
{
    free(c->tag);
    memset(c, 0, sizeof(*c));
}

/* "gunicorn." + name, ':' as '.' when colons, control bytes as \xNN. */
static char *make_tag(const char *name, int colons)
{
    static const char hex[] = "0123456789ABCDEF";
    size_t n = strlen(name), o = 9;
    char *t = malloc(9 + 4 * n + 1);

    if (t == NULL)
        return NULL;
    memcpy(t, "gunicorn.", 9);
    for (size_t i = 0; i < n; i++) {
        unsigned char ch = (unsigned char)name[i];

        if (ch < 0x20 || ch == 0x7f) {
            t[o++] = '\\';
            t[o++] = 'x';
            t[o++] = hex[ch >> 4];
            t[o++] = hex[ch & 15];
        } else {
            t[o++] = name[i];
            if (colons && ch == ':')
                t[o - 1] = '.';
        }
    }
    t[o] = '\0';
    return t;
}

static int bad_facility(const char *facility, char *err, size_t errlen)
{
    char names[300];
    size_t o = 0;

    for (size_t i = 0; i < sizeof(facilities) / sizeof(facilities[0]); i++) {
        size_t k = strlen(facilities[i].name);
        memcpy(names + o, facilities[i].name, k);
        o += k;
        names[o++] = ',';
        names[o++] = ' ';
    }
    names[o - 2] = '\0';
    cu_seterr(err, errlen, "Invalid value for syslog_facility: '%s' (unknown "
              "facility name; one of %s)", facility, names);
    return -1;
}

int cu_syslog_config_make(struct cu_syslog_config *c, int on, const char *addr,
                          const char *facility, const char *prefix,
                          const char *name, int no_access, char *err,
                          size_t errlen)
{
    int own = prefix != NULL && prefix[0] != '\0';

    memset(c, 0, sizeof(*c));
    if (!on)
        return 0;
    if (cu_syslog_parse_addr(addr != NULL ? addr : "", &c->addr, err, errlen) < 0)
        return -1;
    c->facility = cu_syslog_facility(facility != NULL ? facility : "user");
    if (c->facility < 0)
        return bad_facility(facility, err, errlen);
    if (!own && name == NULL)
        name = "gunicorn";
    if (strlen(own ? prefix : name) > CU_SYSLOG_NAME_MAX) {
        cu_seterr(err, errlen, "Invalid value for %s: longer than %d bytes, "
                  "too long for syslog's name", own ? "syslog_prefix" : "proc_name",
                  CU_SYSLOG_NAME_MAX);
        return -1;
    }
    if ((c->tag = make_tag(own ? prefix : name, !own)) == NULL) {
        cu_seterr(err, errlen, "out of memory");
        return -1;
    }
    c->on = 1;
    c->access = !no_access;
    c->retry_ms = CU_SYSLOG_RETRY_MS;
    return 0;
}

/* ---- the socket -------------------------------------------------------- */

enum { K_ERROR, K_ACCESS };

static struct {
    int fd;                         /* -1: none */
    int dgram;                      /* atomic: fd is a datagram socket for good */
    int to_name;                    /* UDP: each datagram names addr[0] */
    enum cu_syslog_transport transport;
    enum cu_syslog_socktype type;   /* UNIX: what to connect as */
    struct sockaddr_storage addr[NADDR];
    socklen_t addrlen[NADDR];
    int naddr;
    int facility, retry_ms;
    char *tag[2];                   /* "gunicorn.NAME.error: [" and access */
    size_t taglen[2];
    /* under lock, or for the lock itself */
    pthread_mutex_t lock;
    pid_t owner;                    /* atomic: -pid while taking over */
    int64_t next_try;               /* ms (core/clock.h): no connect before */
    char *pend;                     /* stream: bytes not sent yet */
    size_t plen, poff;              /* pend[poff..plen) are to go */
} g_sl = {.fd = -1, .lock = PTHREAD_MUTEX_INITIALIZER};

/* The addresses of a, into the arrays given. 0, or -1 with why in err. */
static int resolve(const struct cu_syslog_addr *a, struct sockaddr_storage *addr,
                   socklen_t *addrlen, int *naddr, char *err, size_t errlen)
{
    struct addrinfo hints, *res = NULL;
    int rc;

    *naddr = 0;
    if (a->transport == CU_SYSLOG_UNIX) {
        struct sockaddr_un *sun = (struct sockaddr_un *)&addr[0];

        memset(sun, 0, sizeof(*sun));
        sun->sun_family = AF_UNIX;
        memcpy(sun->sun_path, a->path, strlen(a->path) + 1);
        addrlen[0] = (socklen_t)(offsetof(struct sockaddr_un, sun_path) +
                                 strlen(a->path) + 1);
        *naddr = 1;
        return 0;
    }
    memset(&hints, 0, sizeof(hints));
    hints.ai_socktype = a->transport == CU_SYSLOG_UDP ? SOCK_DGRAM : SOCK_STREAM;
    rc = getaddrinfo(a->host, NULL, &hints, &res);
    if (rc != 0) {
        cu_seterr(err, errlen, "%s", rc == EAI_SYSTEM ? strerror(errno) : gai_strerror(rc));
        return -1;
    }
    for (struct addrinfo *ai = res; ai != NULL && *naddr < NADDR; ai = ai->ai_next) {
        if (ai->ai_family != AF_INET && ai->ai_family != AF_INET6)
            continue;
        memcpy(&addr[*naddr], ai->ai_addr, ai->ai_addrlen);
        addrlen[*naddr] = ai->ai_addrlen;
        if (ai->ai_family == AF_INET)
            ((struct sockaddr_in *)&addr[*naddr])->sin_port = htons((uint16_t)a->port);
        else
            ((struct sockaddr_in6 *)&addr[*naddr])->sin6_port = htons((uint16_t)a->port);
        (*naddr)++;
    }
    freeaddrinfo(res);
    if (*naddr == 0) {
        cu_seterr(err, errlen, "no IPv4 or IPv6 address");
        return -1;
    }
    return 0;
}

/* Whether fd's connect, under way, is done within ms. */
static int wait_connected(int fd, int ms)
{
    struct pollfd p = {.fd = fd, .events = POLLOUT};
    int64_t end = cu_now_ms() + ms;
    int r, soerr = 0;
    socklen_t len = sizeof(soerr);

    do
        r = poll(&p, 1, (int)(end - cu_now_ms() > 0 ? end - cu_now_ms() : 0));
    while (r < 0 && errno == EINTR);
    if (r <= 0 || getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &len) < 0)
        return 0;
    return soerr == 0;
}

/* A socket of type to address i, connected (or connecting, when not
 * waiting); -1 when it failed. */
static int connect_one(int i, int type, int wait_ms)
{
    int fd = socket(g_sl.addr[i].ss_family, type | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);

    if (fd < 0)
        return -1;
    if (connect(fd, (struct sockaddr *)&g_sl.addr[i], g_sl.addrlen[i]) == 0 ||
        (errno == EINPROGRESS && (wait_ms <= 0 || wait_connected(fd, wait_ms))))
        return fd;
    (void)close(fd);
    return -1;
}

/* Under lock: a stream (or, for a UNIX path of either type, a datagram)
 * socket connected, in place of fd. The next try is retry_ms away when
 * none could be had. */
static void connect_now(int wait_ms)
{
    int types[2] = {SOCK_STREAM, 0}, fd = -1, type = 0;

    if (g_sl.transport == CU_SYSLOG_UNIX && g_sl.type != CU_SYSLOG_STREAM) {
        types[0] = SOCK_DGRAM;      /* Python's order: datagram, then stream */
        types[1] = g_sl.type == CU_SYSLOG_ANY ? SOCK_STREAM : 0;
    }
    for (int t = 0; t < 2 && types[t] != 0 && fd < 0; t++)
        for (int i = 0; i < g_sl.naddr && fd < 0; i++)
            if ((fd = connect_one(i, types[t], wait_ms)) >= 0)
                type = types[t];
    if (g_sl.fd >= 0)
        (void)close(g_sl.fd);
    g_sl.fd = fd;
    g_sl.plen = g_sl.poff = 0;
    if (fd < 0) {
        g_sl.next_try = cu_now_ms() + g_sl.retry_ms;
        return;
    }
    if (type == SOCK_DGRAM) {
        g_sl.type = CU_SYSLOG_DGRAM;
        __atomic_store_n(&g_sl.dgram, 1, __ATOMIC_RELEASE);
    } else if (g_sl.transport == CU_SYSLOG_UNIX) {
        g_sl.type = CU_SYSLOG_STREAM;   /* kept, as Python keeps it */
    }
}

/* The lock, in this process: 1 with it held; 0 when another thread of a
 * newly forked process is taking the state over (the message is dropped). */
static int enter(void)
{
    pid_t me = getpid(), owner = __atomic_load_n(&g_sl.owner, __ATOMIC_ACQUIRE);

    if (owner == me) {
        (void)pthread_mutex_lock(&g_sl.lock);
        return 1;
    }
    if (owner == -me ||
        !__atomic_compare_exchange_n(&g_sl.owner, &owner, -me, 0, __ATOMIC_ACQ_REL,
                                     __ATOMIC_ACQUIRE))
        return 0;
    /* a fork: the lock may have been copied held, and a stream is the
     * parent's (closing this copy leaves the parent's connection up) */
    (void)pthread_mutex_init(&g_sl.lock, NULL);
    (void)pthread_mutex_lock(&g_sl.lock);
    if (!__atomic_load_n(&g_sl.dgram, __ATOMIC_ACQUIRE))
        connect_now(0);
    __atomic_store_n(&g_sl.owner, me, __ATOMIC_RELEASE);
    return 1;
}

static void leave(void)
{
    (void)pthread_mutex_unlock(&g_sl.lock);
}

void cu_syslog_close(void)
{
    cu_syslog_sending = 0;
    if (g_sl.fd >= 0)
        (void)close(g_sl.fd);
    free(g_sl.tag[0]);
    free(g_sl.tag[1]);
    free(g_sl.pend);
    (void)pthread_mutex_destroy(&g_sl.lock);
    memset(&g_sl, 0, sizeof(g_sl));
    g_sl.fd = -1;
    (void)pthread_mutex_init(&g_sl.lock, NULL);
}

/* tag + kind + ": [" */
static char *make_head(const char *tag, const char *kind, size_t *len)
{
    size_t a = strlen(tag), b = strlen(kind);
    char *h = malloc(a + b + 4);

    if (h == NULL)
        return NULL;
    *len = (size_t)snprintf(h, a + b + 4, "%s%s: [", tag, kind);
    return h;
}

/* The first socket: datagrams right away; a stream connected, waited for. */
static int first_socket(char *err, size_t errlen)
{
    int type = g_sl.transport == CU_SYSLOG_UDP ? SOCK_DGRAM : 0;

    if (g_sl.transport == CU_SYSLOG_UNIX && g_sl.type == CU_SYSLOG_DGRAM)
        type = SOCK_DGRAM;      /* #dgram: the socket, connected when it can be */
    if (type == 0) {
        connect_now(CU_SYSLOG_CONNECT_WAIT_MS);
        return 0;
    }
    g_sl.fd = socket(g_sl.addr[0].ss_family, type | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (g_sl.fd < 0) {
        cu_seterr(err, errlen, "socket: %s", strerror(errno));
        return -1;
    }
    if (g_sl.transport == CU_SYSLOG_UDP)
        g_sl.to_name = 1;   /* as Python's sendto */
    else if (connect(g_sl.fd, (struct sockaddr *)&g_sl.addr[0], g_sl.addrlen[0]) < 0)
        g_sl.next_try = 0;  /* not there yet: tried again on the first message */
    g_sl.dgram = 1;
    return 0;
}

int cu_syslog_open(const struct cu_syslog_config *c, char *err, size_t errlen)
{
    struct sockaddr_storage addr[NADDR];
    socklen_t addrlen[NADDR];
    int naddr;

    if (c == NULL || !c->on) {
        cu_syslog_close();
        return 0;
    }
    if (resolve(&c->addr, addr, addrlen, &naddr, err, errlen) < 0)
        return -1;      /* the previous one stays */
    cu_syslog_close();
    memcpy(g_sl.addr, addr, sizeof(addr));
    memcpy(g_sl.addrlen, addrlen, sizeof(addrlen));
    g_sl.naddr = naddr;
    g_sl.transport = c->addr.transport;
    g_sl.type = c->addr.socktype;
    g_sl.facility = c->facility;
    g_sl.retry_ms = c->retry_ms;
    g_sl.owner = getpid();
    g_sl.tag[K_ERROR] = make_head(c->tag, ".error", &g_sl.taglen[K_ERROR]);
    g_sl.tag[K_ACCESS] = make_head(c->tag, ".access", &g_sl.taglen[K_ACCESS]);
    if (g_sl.tag[K_ERROR] == NULL || g_sl.tag[K_ACCESS] == NULL) {
        cu_seterr(err, errlen, "out of memory");
        cu_syslog_close();
        return -1;
    }
    if (first_socket(err, errlen) < 0) {
        cu_syslog_close();
        return -1;
    }
    cu_syslog_sending = 1 | (c->access ? 2 : 0);
    return 0;
}

/* ---- a message ------------------------------------------------------------ */

struct msg {
    struct iovec iov[6];
    size_t len;
    char pri[8], pid[24];
};

/* digits of v at p; their number */
static size_t put_uint(char *p, unsigned long v)
{
    char d[24];
    size_t n = 0, k;

    do
        d[n++] = (char)('0' + v % 10);
    while ((v /= 10) > 0);
    for (k = 0; k < n; k++)
        p[k] = d[n - 1 - k];
    return n;
}

/* <PRI>TAG: [PID] TEXT[...]\0 as iovecs. Async-signal-safe. */
static void make_msg(struct msg *m, int kind, int severity, const char *text, size_t len)
{
    size_t n = 0, fixed;

    m->pri[n++] = '<';
    n += put_uint(m->pri + n, (unsigned long)g_sl.facility * 8 + (unsigned long)severity);
    m->pri[n++] = '>';
    m->iov[0] = (struct iovec){m->pri, n};
    m->iov[1] = (struct iovec){g_sl.tag[kind], g_sl.taglen[kind]};
    n = put_uint(m->pid, (unsigned long)getpid());
    m->pid[n++] = ']';
    m->pid[n++] = ' ';
    m->iov[2] = (struct iovec){m->pid, n};
    fixed = m->iov[0].iov_len + m->iov[1].iov_len + n + 1;
    m->iov[4] = (struct iovec){(void *)"...", 0};
    if (fixed + len > CU_SYSLOG_MSG_MAX) {
        len = CU_SYSLOG_MSG_MAX - fixed - 3;
        m->iov[4].iov_len = 3;
    }
    m->iov[3] = (struct iovec){(void *)text, len};
    m->iov[5] = (struct iovec){(void *)"", 1};
    m->len = fixed + len + m->iov[4].iov_len;
}

static ssize_t send_iov(struct iovec *iov, size_t n)
{
    struct msghdr h;

    memset(&h, 0, sizeof(h));
    if (g_sl.to_name) {
        h.msg_name = &g_sl.addr[0];
        h.msg_namelen = g_sl.addrlen[0];
    }
    h.msg_iov = iov;
    h.msg_iovlen = n;
    return sendmsg(g_sl.fd, &h, MSG_DONTWAIT | MSG_NOSIGNAL);
}

static int would_block(int e)
{
    return e == EAGAIN || e == EWOULDBLOCK || e == EINTR || e == ENOBUFS;
}

static int retry_due(void)
{
    return cu_now_ms() >= g_sl.next_try;
}

/* Under lock: the stream is gone; another after retry_ms. */
static void broken(void)
{
    (void)close(g_sl.fd);
    g_sl.fd = -1;
    g_sl.plen = g_sl.poff = 0;
    g_sl.next_try = cu_now_ms() + g_sl.retry_ms;
}

/* Under lock: what is pending, as far as it goes now. 0, or -1: broken. */
static int flush(void)
{
    while (g_sl.poff < g_sl.plen) {
        ssize_t r = send(g_sl.fd, g_sl.pend + g_sl.poff, g_sl.plen - g_sl.poff,
                         MSG_DONTWAIT | MSG_NOSIGNAL);

        if (r > 0) {
            g_sl.poff += (size_t)r;
        } else if (r < 0 && would_block(errno)) {
            return 0;
        } else {
            broken();
            return -1;
        }
    }
    g_sl.plen = g_sl.poff = 0;
    return 0;
}

/* Under lock: m's bytes from skip on, behind what is pending, if they fit. */
static void keep(const struct msg *m, size_t skip)
{
    size_t need = m->len - skip;

    if (g_sl.pend == NULL && (g_sl.pend = malloc(CU_SYSLOG_PENDING_MAX)) == NULL)
        return;
    if (g_sl.poff > 0) {
        memmove(g_sl.pend, g_sl.pend + g_sl.poff, g_sl.plen - g_sl.poff);
        g_sl.plen -= g_sl.poff;
        g_sl.poff = 0;
    }
    if (need > CU_SYSLOG_PENDING_MAX - g_sl.plen)
        return;     /* full: dropped */
    for (int i = 0; i < 6; i++) {
        size_t k = m->iov[i].iov_len;

        if (skip >= k) {
            skip -= k;
            continue;
        }
        memcpy(g_sl.pend + g_sl.plen, (const char *)m->iov[i].iov_base + skip, k - skip);
        g_sl.plen += k - skip;
        skip = 0;
    }
}

/* Under lock, to a stream. */
static void stream_send(struct msg *m)
{
    ssize_t r;

    if (flush() < 0)
        return;
    if (g_sl.plen > g_sl.poff) {
        keep(m, 0);
        return;
    }
    r = send_iov(m->iov, 6);
    if (r < 0 && !would_block(errno))
        broken();
    else if (r < 0)
        keep(m, 0);     /* connecting, or a full socket: later */
    else if ((size_t)r < m->len)
        keep(m, (size_t)r);
}

/* Under lock: a datagram socket's reader gone (a UNIX one: connected
 * again, once per retry_ms), or no socket yet (the stream path). */
static void locked_send(struct msg *m, int resend)
{
    int saved_dgram = __atomic_load_n(&g_sl.dgram, __ATOMIC_ACQUIRE);

    if (saved_dgram) {
        if (!resend || !retry_due())
            return;
        g_sl.next_try = cu_now_ms() + g_sl.retry_ms;
        if (connect(g_sl.fd, (struct sockaddr *)&g_sl.addr[0], g_sl.addrlen[0]) == 0)
            (void)send_iov(m->iov, 6);
        return;
    }
    if (g_sl.fd < 0 && retry_due())
        connect_now(0);
    if (g_sl.fd < 0)
        return;
    if (__atomic_load_n(&g_sl.dgram, __ATOMIC_ACQUIRE))
        (void)send_iov(m->iov, 6);  /* the UNIX path took a datagram socket */
    else
        stream_send(m);
}

static void send_msg(int kind, int severity, const char *text, size_t len)
{
    struct msg m;
    int saved = errno;

    make_msg(&m, kind, severity, text, len);
    if (__atomic_load_n(&g_sl.dgram, __ATOMIC_ACQUIRE)) {
        if (send_iov(m.iov, 6) >= 0 || would_block(errno) || g_sl.to_name ||
            errno == EMSGSIZE) {
            errno = saved;
            return;     /* sent, or dropped */
        }
    }
    if (enter()) {
        locked_send(&m, 1);
        leave();
    }
    errno = saved;
}

void cu_syslog_error(int level, const char *text, size_t len)
{
    if (cu_syslog_sending & 1)
        send_msg(K_ERROR, cu_syslog_severity(level), text, len);
}

void cu_syslog_access(const char *line, size_t len)
{
    if (cu_syslog_sending & 2)
        send_msg(K_ACCESS, 6, line, len);
}

void cu_syslog_signal(int level, const char *text, size_t len)
{
    struct msg m;
    int saved = errno;

    if (!(cu_syslog_sending & 1) || !__atomic_load_n(&g_sl.dgram, __ATOMIC_ACQUIRE))
        return;
    make_msg(&m, K_ERROR, cu_syslog_severity(level), text, len);
    (void)send_iov(m.iov, 6);
    errno = saved;
}
