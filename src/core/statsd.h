/*
 * StatsD and DogStatsD metrics, the ones Gunicorn's statsd logger sends
 * (docs/compat.md, StatsD), written by C:
 *
 *   PREFIXgunicorn.request.duration:12.345|ms      each request (timer, ms)
 *   PREFIXgunicorn.requests:1|c|@1.0               each request
 *   PREFIXgunicorn.request.status.404:1|c|@1.0     each request with a status
 *   PREFIXgunicorn.workers:4|g                     master, when the count changes
 *   PREFIXgunicorn.backlog:0|h                     master, each tick, when enabled
 *   PREFIXgunicorn.log.warning:1|c|@1.0            each warning, error,
 *                                                  critical, exception line
 *
 * each one datagram, with "|#TAGS" after it when dogstatsd_tags is set.
 *
 * Each process has one non-blocking datagram socket (UDP, or AF_UNIX for
 * unix://PATH): the master's is opened at start (cu_statsd_open, which
 * resolves the name once), each worker opens its own after fork
 * (cu_statsd_reopen). Sends never wait (MSG_DONTWAIT) and their errors are
 * dropped: a request is never slowed by a statsd server that is slow, gone
 * or unreachable. With statsd off everything here returns at its first
 * test of one int.
 *
 * Threads and signals: cu_statsd_open, cu_statsd_reopen and
 * cu_statsd_close are set-up calls (no other thread sending). The senders
 * may be called from any thread; cu_statsd_log also from a signal handler
 * (one sendmsg of a line made at open). None of them changes errno.
 * Plain C.
 */
#ifndef CU_CORE_STATSD_H
#define CU_CORE_STATSD_H

#include <stddef.h>
#include <stdint.h>

/* ---- the settings, as Gunicorn reads them ---------------------------- */

enum cu_statsd_family { CU_STATSD_INET = 1, CU_STATSD_UNIX };

#define CU_STATSD_HOST_MAX 256      /* a host name, with its NUL */
#define CU_STATSD_PATH_MAX 108      /* sun_path, with its NUL */
#define CU_STATSD_PORT 8125         /* when statsd_host names none */

/* statsd_host, parsed (not resolved). */
struct cu_statsd_addr {
    enum cu_statsd_family family;
    char host[CU_STATSD_HOST_MAX];  /* INET: lower-cased, without [ ] */
    int port;                       /* INET */
    char path[CU_STATSD_PATH_MAX];  /* UNIX */
};

/*
 * statsd_host as Gunicorn 26.1 reads it: "unix://PATH" or "unix:PATH" a
 * UNIX datagram socket ("unix:DIGITS" is the host "unix" at that port),
 * else [tcp://]HOST[:PORT] or [IPV6][:PORT], the port 8125 by default and
 * parsed as Python's int() does; "" is 0.0.0.0:8125. 0, or -1 with the
 * reason in err: a port that is no number (Gunicorn refuses those too),
 * and, Ours, what Gunicorn takes but can never send to (a port out of
 * 0..65535, fd://N, an empty or too long path, a too long host name).
 */
int cu_statsd_parse_addr(const char *text, struct cu_statsd_addr *a,
                         char *err, size_t errlen);

/* What a process sends, derived once from the settings (config/derive.c). */
struct cu_statsd_config {
    int on;                     /* statsd_host is set */
    struct cu_statsd_addr addr;
    char *prefix;               /* statsd_prefix with Gunicorn's '.' rule */
    char *tags;                 /* dogstatsd_tags; "" for none */
};

/*
 * Fills c from the three settings; host NULL leaves statsd off (prefix and
 * tags are read only when it is set, as Gunicorn reads them). 0, or -1
 * with "Invalid value for NAME: ..." in err (and c empty): a bad host
 * (cu_statsd_parse_addr), and, Ours, a prefix or tags with a byte that is
 * not printable ASCII (Gunicorn fails on every send then, or splits the
 * line) or too long for a datagram.
 */
int cu_statsd_config_make(struct cu_statsd_config *c, const char *host,
                          const char *prefix, const char *tags, char *err,
                          size_t errlen);
/* Frees what c owns and leaves it off; may be called again. */
void cu_statsd_config_free(struct cu_statsd_config *c);

/*
 * Gunicorn's prefix rule: without its trailing dots, a prefix of two or
 * more characters gets one '.' ("app" and "app.." are "app."); one of
 * less is kept as it is ("a", "x.", ""). Writes it into out (n bytes)
 * and returns its length, or the length it needs when that is n or more.
 */
size_t cu_statsd_prefix(const char *prefix, char *out, size_t n);

/* ---- this process's socket ------------------------------------------- */

/*
 * Sends to c from now on (c off, or NULL: stops sending): resolves the host
 * (IPv4 first, as Gunicorn; IPv6 when the name has no IPv4 address, Ours),
 * makes the lines and opens the socket. The old socket is closed either
 * way. 0, or -1 with why in err, statsd off then (the caller logs it and
 * goes on: Gunicorn goes on without metrics, silently). Copies what it
 * needs from c.
 */
int cu_statsd_open(const struct cu_statsd_config *c, char *err, size_t errlen);
/* After fork: this process's own socket to the same address (no
 * resolving). Statsd goes off if no socket can be had. */
void cu_statsd_reopen(void);
/* Stops sending; frees everything. */
void cu_statsd_close(void);

/* Set while this process sends metrics; read it through cu_statsd_on(). */
extern int cu_statsd_sending;

static inline int cu_statsd_on(void)
{
    return cu_statsd_sending;
}

/* ---- the metrics ----------------------------------------------------- */

/* A request answered with status (<= 0: none was sent; its status counter
 * is left out) that took us microseconds: duration, count, status. */
void cu_statsd_request(int status, int64_t us);
/* A line of the error log at level (core/log.h: CU_WARNING, CU_ERROR,
 * CU_CRITICAL count; the others not), or one Gunicorn writes with
 * log.exception (exception 1, whatever the level). */
void cu_statsd_log(int level, int exception);
/* PREFIXname:value|g, and |h. */
void cu_statsd_gauge(const char *name, long long value);
void cu_statsd_histogram(const char *name, long long value);
/* PREFIX + body (e.g. "app.hits:1|c|@1.0") + tags: a metric a hook sends
 * through the log's `extra` (host/hooks.c). */
void cu_statsd_send(const char *body, size_t len);

/* ---- formatting, shared with the tests --------------------------------- */

#define CU_STATSD_MS_MAX 32

/*
 * A duration of us microseconds in milliseconds, as Gunicorn writes it:
 * Python's repr() of seconds * 1000 + microseconds / 1000.0, the seconds
 * taken as timedelta.seconds (days left out), so "7000.0", "1.5",
 * "1016.0360000000001". out has CU_STATSD_MS_MAX bytes; returns the
 * length (NUL-terminated). Negative us counts as 0.
 */
size_t cu_statsd_ms(char *out, int64_t us);

#endif
