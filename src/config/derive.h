/*
 * What the settings mean for the server. From a finished struct cu_config
 * (cu_config_finish), cu_derive fills once, before any fork, everything
 * the subsystems are given: the worker class that runs, the parser's
 * settings, the PROXY mode and the compiled allow lists, the master's
 * settings, a worker's settings, the WSGI bridge's options and where
 * statsd metrics and syslog messages go. On HUP the
 * host derives into a second struct cu_derived and keeps the old one until
 * the new one is in use. Plain C.
 *
 * What only the host knows it adds itself: the worker's listeners, slot,
 * ppid, dump_signal, callbacks and app (at fork time), the master's
 * upgrade, the bridge's errors_fd and server_software ("cunicorn/"
 * CU_VERSION comes from the build's cu_version.h, which this plain-C
 * library does not see).
 */
#ifndef CU_CONFIG_DERIVE_H
#define CU_CONFIG_DERIVE_H

#include <stddef.h>

#include "config/settings.h"
#include "core/statsd.h"
#include "core/syslog.h"
#include "http/parser.h"
#include "http/proxy.h"
#include "master/arbiter.h"
#include "net/allow.h"
#include "net/tls.h"
#include "worker/class.h"
#include "worker/worker.h"
#include "wsgi/opts.h"

/*
 * Filled in place by cu_derive and never copied: it points into itself
 * (worker.http is &http, worker.allow &allow, ...). What it points to
 * beyond itself it owns, so it does not depend on the struct cu_config it
 * came from, which may be freed.
 */
struct cu_derived {
    /* -k and --threads: sync with more than one thread is gthread */
    const struct cu_worker_class *worker_class;
    /* The parser's settings: limits, flags, header_map, and the scheme
     * and forwarder headers (kept in scheme and forwarders below). */
    struct http_config http;
    enum http_proxy_mode proxy;      /* --proxy-protocol */
    struct cu_allow allow;           /* forwarded_allow_ips */
    struct cu_allow proxy_allow;     /* proxy_allow_ips */
    /* The master's settings; upgrade is NULL, for the host to set. */
    struct cu_master_config master;
    /*
     * A worker's settings; the rest is the host's (above). A setting the
     * class does not use (CU_WC_USES_*) has the value that class assumes:
     * threads 1, worker_connections 1 (one request at a time), keepalive
     * 0 (the connection closes after each response), buffer_body 0 (the
     * app reads the body).
     */
    struct cu_worker_env worker;
    /* The worker adds a random 0..max_requests_jitter to worker.max_requests
     * (when that is not 0), so that workers do not all recycle at once. */
    int max_requests_jitter;
    /* The bridge's options; errors_fd is -1 and server_software NULL until
     * the host sets them. */
    struct cu_wsgi_opts wsgi;
    /* Where metrics go (off without statsd_host): the host opens it in the
     * master (cu_statsd_open), the workers reopen it after fork. */
    struct cu_statsd_config statsd;
    /* Where syslog messages go (off without syslog): the host opens it in
     * the master (cu_syslog_open); each process forked makes its own
     * stream connection. */
    struct cu_syslog_config syslog;
    /* certfile (or keyfile): the TLS context every worker of this set
     * uses (worker.tls points to it); NULL: plain HTTP. */
    struct cu_tls *tls;
    /* What the pointers above point to */
    struct http_scheme_header *scheme;  /* each name's string holds
                                         * "NAME\0value" */
    char **forwarders;
    char *pidfile;                      /* master.pidfile */
};

/*
 * Fills *d from c. Returns 0, or -1 with a message in err and *d left
 * empty (all zero): an unknown worker class ("class uri 'NAME' invalid or
 * not found", and the names there are), one not built yet ("worker class
 * NAME is not built yet; use sync or gthread"), more workers than the
 * master keeps (CU_MAX_WORKERS), a secure_scheme_headers item without '='
 * (the validator lets none through), a statsd_prefix or dogstatsd_tags
 * statsd cannot send (cu_statsd_config_make), a syslog_addr or
 * syslog_facility syslog cannot take (cu_syslog_config_make), a TLS
 * setting the context cannot be built from (cu_tls_new: it reads the
 * files), or out of
 * memory.
 */
int cu_derive(struct cu_derived *d, const struct cu_config *c, char *err,
              size_t errlen);

/* Frees what d owns and leaves it empty; an empty d may be freed again. */
void cu_derived_free(struct cu_derived *d);

/* The worker class c's -k and --threads pick, or NULL with the reason in
 * err (the first two errors of cu_derive). */
const struct cu_worker_class *cu_derive_worker_class(const struct cu_config *c,
                                                     char *err, size_t errlen);

#endif
