/*
 * What the settings mean for the server (src/config/derive.c), without
 * Python: every field of struct cu_derived from the defaults and from
 * other values, the worker class each -k picks, every error, and that the
 * result owns what it points to.
 */
#include "config/derive.h"
#include "common.h"

#include <arpa/inet.h>
#include <netinet/in.h>

static struct cu_config cfg;

/* cfg from argv, finished; exits when that fails. */
static void configure(const char *const *argv)
{
    cu_config_free(&cfg);
    if (fresh(&cfg, argv) != 0 || cu_config_finish(&cfg, err, sizeof err) < 0) {
        diag("%s: %s", argv[0], err);
        exit(1);
    }
}

static int derive(struct cu_derived *d, const char *const *argv)
{
    configure(argv);
    err[0] = '\0';
    return cu_derive(d, &cfg, err, sizeof err);
}

/*
 * is_empty(d): every member of d zero or NULL, compared one by one: a
 * memcmp with a zeroed struct would compare the padding too, whose bytes C
 * leaves unspecified. A member added to struct cu_derived, or to a struct
 * in it, belongs here too.
 */
static int allow_is_empty(const struct cu_allow *a)
{
    return !a->any && !a->inet && !a->n_inet && !a->inet6 && !a->n_inet6;
}

static int http_is_empty(const struct http_config *h)
{
    return !h->limit_request_line && !h->limit_request_fields &&
           !h->limit_request_field_size && !h->max_head_buffer && !h->flags &&
           h->header_map == 0 && !h->scheme_headers && !h->n_scheme_headers &&
           !h->forwarder_headers && !h->n_forwarder_headers;
}

static int master_is_empty(const struct cu_master_config *m)
{
    return !m->workers && !m->timeout && !m->graceful_timeout && !m->daemon &&
           !m->pidfile && !m->max_worker_lifetime &&
           !m->max_worker_memory && !m->backlog_metric && !m->upgrade;
}

static int worker_is_empty(const struct cu_worker_env *w)
{
    return !w->listeners && !w->n_listeners && !w->http && w->proxy == 0 &&
           !w->timeout && !w->graceful_timeout && !w->max_requests &&
           !w->keepalive && !w->request_timeout && !w->worker_connections &&
           !w->threads && !w->buffer_body && !w->dump_signal && !w->allow &&
           !w->proxy_allow && !w->serve && !w->app && !w->thread_start &&
           !w->conn_free && !w->interrupt && !w->slot && !w->ppid && !w->tls &&
           !w->event_loop && !w->h2.on && !w->h2.prior_knowledge && !w->h2.upgrade && !w->h2.max_streams &&
           !w->h2.window && !w->h2.max_frame && !w->h2.max_header_list;
}

static int wsgi_is_empty(const struct cu_wsgi_opts *o)
{
    return !o->multithread && !o->multiprocess && !o->is_ssl && !o->errors_fd &&
           !o->sendfile && !o->server_software;
}

static int statsd_is_empty(const struct cu_statsd_config *c)
{
    return !c->on && !c->addr.family && !c->addr.host[0] && !c->addr.port &&
           !c->addr.path[0] && !c->prefix && !c->tags;
}

static int syslog_is_empty(const struct cu_syslog_config *c)
{
    return !c->on && !c->access && !c->facility && !c->retry_ms &&
           !c->addr.transport && !c->addr.socktype && !c->addr.host[0] &&
           !c->addr.port && !c->addr.path[0] && !c->tag;
}

static int is_empty(const struct cu_derived *d)
{
    return !d->worker_class && http_is_empty(&d->http) && d->proxy == 0 &&
           allow_is_empty(&d->allow) && allow_is_empty(&d->proxy_allow) &&
           master_is_empty(&d->master) && worker_is_empty(&d->worker) &&
           !d->max_requests_jitter && wsgi_is_empty(&d->wsgi) && !d->scheme &&
           !d->forwarders && !d->pidfile && statsd_is_empty(&d->statsd) &&
           syslog_is_empty(&d->syslog);
}

static int allows(const struct cu_allow *a, const char *ip)
{
    struct sockaddr_in in = {.sin_family = AF_INET};
    struct sockaddr_in6 in6 = {.sin6_family = AF_INET6};

    if (inet_pton(AF_INET, ip, &in.sin_addr) == 1)
        return cu_allow_match(a, (struct sockaddr *)&in, sizeof(in));
    if (inet_pton(AF_INET6, ip, &in6.sin6_addr) == 1)
        return cu_allow_match(a, (struct sockaddr *)&in6, sizeof(in6));
    return -1;
}

/* ---- the worker class ------------------------------------------------- */

static void picks(const char *const *argv, const char *want)
{
    struct cu_derived d;
    int rc = derive(&d, argv);

    ok(rc == 0 && strcmp(d.worker_class->name, want) == 0, "%s %s%s: %s (%s)",
       argv[0], argv[1], argv[2] ? " ..." : "", want,
       rc == 0 ? d.worker_class->name : err);
    cu_derived_free(&d);
}

static void refused(const char *const *argv, const char *want)
{
    struct cu_derived d;
    const struct cu_worker_class *k;
    int rc = derive(&d, argv);

    ok(rc == -1 && strcmp(err, want) == 0 && is_empty(&d),
       "%s %s refused, d left empty: %s", argv[0], argv[1], err);
    err[0] = '\0';
    k = cu_derive_worker_class(&cfg, err, sizeof err);
    ok(k == NULL && strcmp(err, want) == 0, "cu_derive_worker_class says the same");
    cu_derived_free(&d);
}

static void test_worker_class(void)
{
    picks(ARGV("-w", "1"), "sync");
    picks(ARGV("--threads", "4"), "gthread");
    picks(ARGV("-k", "gthread"), "gthread");
    picks(ARGV("-k", "GThread", "--threads", "1"), "gthread");
    picks(ARGV("-k", "egg:gunicorn#gthread"), "gthread");
    picks(ARGV("-k", "gunicorn.workers.sync.SyncWorker", "--threads", "2"), "gthread");
    picks(ARGV("-k", "egg:gunicorn"), "sync");
    refused(ARGV("-k", "fork"), "class uri 'fork' invalid or not found (worker "
            "classes: sync, gthread, gevent, eventlet, asgi, tornado)");
    refused(ARGV("-k", "egg:other#sync"), "class uri 'egg:other#sync' invalid or "
            "not found (worker classes: sync, gthread, gevent, eventlet, asgi, tornado)");
    picks(ARGV("-k", "tornado"), "tornado");
    picks(ARGV("-k", "gunicorn.workers.gtornado.TornadoWorker", "--threads", "3"), "tornado");
    picks(ARGV("-k", "TORNADO"), "tornado");
    picks(ARGV("-k", "gevent"), "gevent");
    picks(ARGV("-k", "gevent_pywsgi", "--threads", "3"), "gevent");
    picks(ARGV("-k", "gunicorn.workers.geventlet.EventletWorker"), "eventlet");
    for (int i = 0; i < 2; i++) {
        const char *kind = i ? "eventlet" : "gevent";
        struct cu_derived d;
        char want[128];
        (void)snprintf(want, sizeof want, "request_timeout: not built yet for the %s worker "
                       "class; use sync, gthread or asgi", kind);
        ok(derive(&d, ARGV("-k", kind, "--request-timeout", "5")) == -1 &&
           strcmp(err, want) == 0 && is_empty(&d), "%s: %s", kind, err);
        cu_derived_free(&d);
    }
    picks(ARGV("-k", "uvicorn.workers.UvicornWorker"), "asgi");
    picks(ARGV("-k", "uvicorn.workers.UvicornWorker", "--threads", "4"), "asgi");
    configure(ARGV("-k", "gthread"));
    ok(cu_derive_worker_class(&cfg, NULL, 0) == cu_worker_class_find("gthread"),
       "cu_derive_worker_class: the class, err may be NULL");
}

/* ---- the parser's settings -------------------------------------------- */

static int scheme_is(const struct http_scheme_header *h, const char *name,
                     const char *value)
{
    return strcmp(h->name, name) == 0 && h->name_len == strlen(name) &&
           strcmp(h->value, value) == 0 && h->value_len == strlen(value);
}

static void test_http(void)
{
    struct cu_derived d;
    const struct http_config *h = &d.http;

    ok(derive(&d, ARGV("-w", "1")) == 0, "defaults: %s", err);
    ok(h->limit_request_line == 4094 && h->limit_request_fields == 100 &&
       h->limit_request_field_size == 8190 &&
       h->max_head_buffer == 100 * (8190 + 2) + 4, "limits and the head's buffer");
    ok(h->flags == HTTP_REQUIRE_HOST && h->header_map == HTTP_HEADER_MAP_DROP,
       "no flags but Host required (RFC 9112 §3.2); header_map drop");
    ok(h->n_scheme_headers == 3 && h->scheme_headers == d.scheme &&
       scheme_is(&h->scheme_headers[0], "X-FORWARDED-PROTOCOL", "ssl") &&
       scheme_is(&h->scheme_headers[1], "X-FORWARDED-PROTO", "https") &&
       scheme_is(&h->scheme_headers[2], "X-FORWARDED-SSL", "on"),
       "the three scheme headers, names and values with their lengths");
    ok(h->n_forwarder_headers == 2 &&
       strcmp(h->forwarder_headers[0], "SCRIPT_NAME") == 0 &&
       strcmp(h->forwarder_headers[1], "PATH_INFO") == 0, "the forwarder headers");
    cu_derived_free(&d);

    ok(derive(&d, ARGV("--limit-request-line", "0", "--limit-request-fields", "0",
                       "--limit-request-field_size", "0")) == 0 &&
       h->limit_request_line == 0 && h->limit_request_fields == 32768 &&
       h->limit_request_field_size == 8190, "limits of 0: Gunicorn's meaning");
    cu_derived_free(&d);
    ok(derive(&d, ARGV("--limit-request-line", "100", "--limit-request-fields", "7",
                       "--limit-request-field_size", "50")) == 0 &&
       h->limit_request_line == 100 && h->limit_request_fields == 7 &&
       h->limit_request_field_size == 50 && h->max_head_buffer == 7 * 52 + 4,
       "limits as given");
    cu_derived_free(&d);

    ok(derive(&d, ARGV("--permit-unconventional-http-method")) == 0 &&
       h->flags == (HTTP_PERMIT_UNCONVENTIONAL_METHOD | HTTP_REQUIRE_HOST), "--permit-unconventional-http-method");
    cu_derived_free(&d);
    ok(derive(&d, ARGV("--casefold-http-method")) == 0 &&
       h->flags == (HTTP_CASEFOLD_METHOD | HTTP_REQUIRE_HOST), "--casefold-http-method");
    cu_derived_free(&d);
    ok(derive(&d, ARGV("--strip-header-spaces")) == 0 &&
       h->flags == (HTTP_STRIP_HEADER_SPACES | HTTP_REQUIRE_HOST), "--strip-header-spaces");
    cu_derived_free(&d);
    ok(derive(&d, ARGV("--permit-obsolete-folding")) == 0 &&
       h->flags == (HTTP_PERMIT_OBS_FOLD | HTTP_REQUIRE_HOST), "--permit-obsolete-folding");
    cu_derived_free(&d);
    ok(derive(&d, ARGV("--permit-unconventional-http-version")) == 0 &&
       h->flags == (HTTP_PERMIT_UNCONVENTIONAL_VERSION | HTTP_REQUIRE_HOST), "--permit-unconventional-http-version");
    cu_derived_free(&d);
    ok(derive(&d, ARGV("--header-map", "refuse")) == 0 &&
       h->header_map == HTTP_HEADER_MAP_REFUSE, "--header-map refuse");
    cu_derived_free(&d);
    ok(derive(&d, ARGV("--header-map", "dangerous", "--forwarder-headers",
                       "X_ONE,*")) == 0 &&
       h->header_map == HTTP_HEADER_MAP_DANGEROUS && h->n_forwarder_headers == 2 &&
       strcmp(h->forwarder_headers[0], "X_ONE") == 0 &&
       strcmp(h->forwarder_headers[1], "*") == 0, "--header-map dangerous, forwarders");
    cu_derived_free(&d);

    /* the config file's secure_scheme_headers replace the defaults */
    configure(ARGV("--forwarder-headers", ""));
    cu_config_set(&cfg, cu_setting_find("secure_scheme_headers"), "X-Https=yes=1", 0,
                  err, sizeof err);
    ok(cu_derive(&d, &cfg, err, sizeof err) == 0 && h->n_scheme_headers == 1 &&
       scheme_is(&h->scheme_headers[0], "X-Https", "yes=1") &&
       h->n_forwarder_headers == 0, "configured scheme headers; no forwarders");
    cu_config_free(&cfg);
    ok(scheme_is(&h->scheme_headers[0], "X-Https", "yes=1"),
       "the headers are d's own: the config is gone");
    cu_derived_free(&d);

    configure(ARGV("-w", "1"));
    free(cfg.secure_scheme_headers.v[1]);
    cfg.secure_scheme_headers.v[1] = strdup("NO-EQUALS");
    ok(cu_derive(&d, &cfg, err, sizeof err) == -1 && is_empty(&d) &&
       strcmp(err, "Invalid value for secure_scheme_headers: 'NO-EQUALS' "
              "(expected NAME=value)") == 0,
       "a scheme header without '=' is refused, d left empty: %s", err);
}

/* ---- PROXY protocol and allow lists ----------------------------------- */

static void test_proxy_allow(void)
{
    struct cu_derived d;
    static const struct { const char *arg; enum http_proxy_mode want; } modes[] = {
        {"off", HTTP_PROXY_OFF}, {"v1", HTTP_PROXY_V1}, {"v2", HTTP_PROXY_V2},
        {"auto", HTTP_PROXY_AUTO},
    };

    for (size_t i = 0; i < sizeof(modes) / sizeof(modes[0]); i++) {
        ok(derive(&d, ARGV("--proxy-protocol", modes[i].arg)) == 0 &&
           d.proxy == modes[i].want && d.worker.proxy == modes[i].want,
           "--proxy-protocol %s", modes[i].arg);
        cu_derived_free(&d);
    }
    ok(derive(&d, ARGV("-w", "1")) == 0 && !d.allow.any && d.allow.n_inet == 1 &&
       d.allow.n_inet6 == 1 && allows(&d.allow, "127.0.0.1") == 1 &&
       allows(&d.allow, "::1") == 1 && allows(&d.allow, "10.0.0.1") == 0,
       "forwarded_allow_ips: 127.0.0.1 and ::1");
    ok(allows(&d.proxy_allow, "127.0.0.1") == 1 && allows(&d.proxy_allow, "::2") == 0,
       "proxy_allow_ips: 127.0.0.1 and ::1");
    cu_derived_free(&d);
    ok(derive(&d, ARGV("--forwarded-allow-ips", "*", "--proxy-allow-from",
                       "10.0.0.0/8,2001:db8::/32")) == 0 &&
       d.allow.any && allows(&d.allow, "203.0.113.1") == 1 && !d.proxy_allow.any &&
       allows(&d.proxy_allow, "10.2.3.4") == 1 &&
       allows(&d.proxy_allow, "2001:db8::5") == 1 &&
       allows(&d.proxy_allow, "11.0.0.1") == 0, "both lists compiled as given");
    cu_derived_free(&d);
    ok(derive(&d, ARGV("--forwarded-allow-ips", "")) == 0 &&
       allows(&d.allow, "127.0.0.1") == 0, "an empty list trusts no IP peer");
    cu_derived_free(&d);
}

/* ---- the master ------------------------------------------------------- */

static void test_master(void)
{
    struct cu_derived d;
    const struct cu_master_config *m = &d.master;

    ok(derive(&d, ARGV("-w", "1")) == 0 && m->workers == 1 && m->timeout == 30 &&
       m->graceful_timeout == 30 && !m->daemon && m->pidfile == NULL &&
       m->max_worker_lifetime == 0 && m->max_worker_memory == 0 &&
       !m->backlog_metric && m->upgrade == NULL,
       "the defaults; upgrade NULL");
    cu_derived_free(&d);
    ok(derive(&d, ARGV("-w", "5", "-t", "7", "--graceful-timeout", "9", "-D", "-p",
                       "/run/x.pid", "-n", "shop", "--max-worker-lifetime", "60",
                       "--max-worker-memory", "512", "--enable-backlog-metric")) == 0 &&
       m->workers == 5 && m->timeout == 7 && m->graceful_timeout == 9 && m->daemon &&
       strcmp(m->pidfile, "/run/x.pid") == 0 &&
       m->max_worker_lifetime == 60 && m->max_worker_memory == 512 && m->backlog_metric,
       "every master setting (proc_name is the host's: process titles)");
    ok(m->pidfile == d.pidfile && m->pidfile != cfg.pidfile, "pidfile is d's own copy");
    cu_config_free(&cfg);
    ok(strcmp(m->pidfile, "/run/x.pid") == 0, "... which outlives the config");
    cu_derived_free(&d);
    ok(derive(&d, ARGV("-w", "1024")) == 0 && m->workers == CU_MAX_WORKERS,
       "as many workers as the master keeps");
    cu_derived_free(&d);
    ok(derive(&d, ARGV("-w", "1025")) == -1 && is_empty(&d) &&
       strcmp(err, "Invalid value for workers: 1025 (must be at most 1024)") == 0,
       "one more is refused here, not by the master after a HUP: %s", err);
    cu_derived_free(&d);
}

/* ---- statsd ------------------------------------------------------------- */

static void test_statsd(void)
{
    struct cu_derived d;
    const struct cu_statsd_config *sd = &d.statsd;

    ok(derive(&d, ARGV("--statsd-prefix", "app", "--dogstatsd-tags", "a:b")) == 0 &&
       statsd_is_empty(sd), "no statsd_host: off, prefix and tags unread");
    cu_derived_free(&d);
    ok(derive(&d, ARGV("--statsd-host", "Stats.Example:9125", "--statsd-prefix",
                       "web.app", "--dogstatsd-tags", "env:prod,team")) == 0 &&
       sd->on && sd->addr.family == CU_STATSD_INET &&
       strcmp(sd->addr.host, "stats.example") == 0 && sd->addr.port == 9125 &&
       strcmp(sd->prefix, "web.app.") == 0 && strcmp(sd->tags, "env:prod,team") == 0,
       "host (lower-cased), port, prefix with its '.', tags");
    ok(sd->prefix != cfg.statsd_prefix && sd->tags != cfg.dogstatsd_tags,
       "prefix and tags are d's own copies");
    cu_derived_free(&d);
    ok(derive(&d, ARGV("--statsd-host", "unix:///run/statsd.sock")) == 0 && sd->on &&
       sd->addr.family == CU_STATSD_UNIX && strcmp(sd->addr.path, "/run/statsd.sock") == 0 &&
       strcmp(sd->prefix, "") == 0 && strcmp(sd->tags, "") == 0,
       "a UNIX socket, no prefix, no tags");
    cu_derived_free(&d);
    ok(derive(&d, ARGV("--statsd-host", "h", "--statsd-prefix", "caf\xc3\xa9")) == -1 &&
       is_empty(&d) && strstr(err, "Invalid value for statsd_prefix: ") == err,
       "a prefix with a byte not printable ASCII is refused, d left empty: %s", err);
    cu_derived_free(&d);
    ok(derive(&d, ARGV("--statsd-host", "h", "--dogstatsd-tags", "a\tb")) == -1 &&
       is_empty(&d) && strstr(err, "Invalid value for dogstatsd_tags: ") == err,
       "tags with a control byte are refused: %s", err);
    cu_derived_free(&d);
}

/* ---- syslog ------------------------------------------------------------- */

static void test_syslog(void)
{
    struct cu_derived d;
    const struct cu_syslog_config *sl = &d.syslog;

    ok(derive(&d, ARGV("--log-syslog-to", "nowhere", "--log-syslog-facility", "x")) == 0 &&
       syslog_is_empty(sl), "syslog off: its other settings unread");
    cu_derived_free(&d);
    ok(derive(&d, ARGV("--log-syslog")) == 0 && sl->on && sl->access &&
       sl->addr.transport == CU_SYSLOG_UDP && strcmp(sl->addr.host, "localhost") == 0 &&
       sl->addr.port == 514 && sl->facility == 1 &&
       strcmp(sl->tag, "gunicorn.cunicorn") == 0,
       "--log-syslog: udp://localhost:514, user, the default process name (%s)",
       sl->tag);
    cu_derived_free(&d);
    ok(derive(&d, ARGV("--log-syslog", "-n", "web:main", "--log-syslog-to",
                       "tcp://[::1]:6514", "--log-syslog-facility", "Local3",
                       "--disable-redirect-access-to-syslog")) == 0 &&
       sl->on && !sl->access && sl->addr.transport == CU_SYSLOG_TCP &&
       strcmp(sl->addr.host, "::1") == 0 && sl->addr.port == 6514 &&
       sl->facility == 19 && strcmp(sl->tag, "gunicorn.web.main") == 0,
       "proc_name with ':' as '.', TCP, local3, access lines kept out");
    cu_derived_free(&d);
    ok(derive(&d, ARGV("--log-syslog", "-n", "web:main", "--log-syslog-prefix", "my:app",
                       "--log-syslog-to", "unix:///dev/log#stream")) == 0 &&
       strcmp(sl->tag, "gunicorn.my:app") == 0 && sl->addr.transport == CU_SYSLOG_UNIX &&
       sl->addr.socktype == CU_SYSLOG_STREAM && strcmp(sl->addr.path, "/dev/log") == 0,
       "syslog_prefix wins, as it is; a UNIX stream");
    cu_derived_free(&d);
    ok(derive(&d, ARGV("--log-syslog", "--log-syslog-to", "localhost:514")) == -1 &&
       is_empty(&d) && strncmp(err, "Invalid value for syslog_addr: 'localhost:514' "
                               "(an invalid syslog address", 73) == 0,
       "an address of no scheme is refused, d left empty: %s", err);
    cu_derived_free(&d);
    ok(derive(&d, ARGV("--log-syslog", "--log-syslog-to", "udp://h:x")) == -1 &&
       is_empty(&d) && strstr(err, "'x' is not a valid port number") != NULL,
       "a port not digits: %s", err);
    cu_derived_free(&d);
    ok(derive(&d, ARGV("--log-syslog", "--log-syslog-facility", "local8")) == -1 &&
       is_empty(&d) && strncmp(err, "Invalid value for syslog_facility: 'local8' "
                               "(unknown facility name", 65) == 0,
       "an unknown facility is refused: %s", err);
    cu_derived_free(&d);
}

/* ---- a worker --------------------------------------------------------- */

static int host_part_empty(const struct cu_worker_env *w)
{
    return w->listeners == NULL && w->n_listeners == 0 && w->dump_signal == 0 &&
           w->serve == NULL && w->app == NULL && w->thread_start == NULL &&
           w->conn_free == NULL && w->interrupt == NULL && w->slot == NULL &&
           w->ppid == 0 && w->resume == NULL;
}

static void test_worker(void)
{
    const char *const *const argv[] = {
        ARGV("-k", "gthread", "--threads", "8", "--worker-connections", "50",
             "--keep-alive", "5", "--buffer-body", "1024", "-t", "11",
             "--graceful-timeout", "12", "--max-requests", "100",
             "--max-requests-jitter", "10", "--request-timeout", "13",
             "--limit-request-body", "4096", "--spool-memory", "2048",
             "--header-timeout", "3", "--new-connection-timeout", "2",
             "--body-timeout", "4", "--body-min-rate", "100", "--send-timeout", "6",
             "--max-head-memory", "7"),
        ARGV("--worker-connections", "50", "--keep-alive", "5", "--buffer-body", "1024",
             "-t", "11", "--graceful-timeout", "12", "--max-requests", "100",
             "--max-requests-jitter", "10", "--request-timeout", "13"),
    };
    struct cu_derived d;
    const struct cu_worker_env *w = &d.worker;

    ok(derive(&d, argv[0]) == 0, "gthread: %s", err);
    ok(w->http == &d.http && w->allow == &d.allow && w->proxy_allow == &d.proxy_allow,
       "http, allow and proxy_allow point into d");
    ok(w->timeout == 11 && w->graceful_timeout == 12 && w->max_requests == 100 &&
       d.max_requests_jitter == 10 && w->request_timeout == 13,
       "timeouts and max_requests (the jitter kept for the worker)");
    ok(w->threads == 8 && w->worker_connections == 50 && w->keepalive == 5 &&
       w->buffer_body == 1024, "gthread uses threads, connections, keep-alive, "
       "buffer_body");
    ok(d.http.limit_request_body == 4096 && !w->stream_body && w->spool_memory == 2048 &&
       w->upload_dir == NULL, "gthread: the body limit in the parser's settings; bodies "
       "spooled, 2048 bytes in memory, in $TMPDIR or /tmp");
    ok(w->header_ms == 3000 && w->new_conn_ms == 2000 && w->body_ms == 4000 &&
       w->body_min_rate == 100 && w->send_ms == 6000 && w->head_memory == (7u << 20),
       "the deadlines in ms, the heads' budget in bytes");
    ok(host_part_empty(w), "the host's part left empty");
    cu_derived_free(&d);

    ok(derive(&d, argv[1]) == 0 && strcmp(d.worker_class->name, "sync") == 0,
       "sync: %s", err);
    ok(w->timeout == 11 && w->graceful_timeout == 12 && w->max_requests == 100 &&
       d.max_requests_jitter == 10 && w->request_timeout == 13,
       "sync: the settings every class honours");
    ok(w->threads == 1 && w->worker_connections == 1 && w->keepalive == 0 &&
       w->buffer_body == 0, "sync: one thread, one connection, no keep-alive, "
       "no buffered body");
    ok(w->stream_body && d.http.limit_request_body == 0,
       "sync: the app reads the body as it comes (never spooled); no body limit");
    ok(w->header_ms == 10000 && w->new_conn_ms == 5000 && w->body_ms == 20000 &&
       w->body_min_rate == 500 && w->send_ms == 30000,
       "sync: the default deadlines, which every class honours");
    ok(w->http == &d.http && host_part_empty(w), "sync: the same pointers, host part");
    cu_derived_free(&d);
}

/* ---- the WSGI bridge -------------------------------------------------- */

static void test_wsgi(void)
{
    struct cu_derived d;
    const struct cu_wsgi_opts *o = &d.wsgi;

    ok(derive(&d, ARGV("-w", "1")) == 0 && !o->multithread && !o->multiprocess &&
       o->sendfile && !o->is_ssl && o->errors_fd == -1 && o->server_software == NULL,
       "sync, one worker: neither multithread nor multiprocess; sendfile; the "
       "host's fields unset");
    cu_derived_free(&d);
    ok(derive(&d, ARGV("--threads", "2", "-w", "3", "--no-sendfile")) == 0 &&
       o->multithread && o->multiprocess && !o->sendfile,
       "gthread, three workers, --no-sendfile");
    cu_derived_free(&d);
    ok(derive(&d, ARGV("-k", "gthread", "--threads", "1", "-w", "2")) == 0 &&
       o->multithread && o->multiprocess, "gthread with one thread is multithread");
    cu_derived_free(&d);
    ok(derive(&d, ARGV("-k", "gevent", "-w", "1")) == 0 && o->multithread &&
       d.worker.worker_connections == 1000 && d.worker.keepalive == 2 &&
       d.worker.threads == 1 && d.worker.buffer_body == 0,
       "gevent is multithread (Gunicorn's async workers), with worker_connections "
       "and keep-alive");
    cu_derived_free(&d);
}

/* ---- lifetime --------------------------------------------------------- */

static void test_lifetime(void)
{
    struct cu_derived a, b;

    ok(derive(&a, ARGV("-w", "2")) == 0 && derive(&b, ARGV("-w", "4")) == 0 &&
       a.master.workers == 2 && b.master.workers == 4 && a.worker.http == &a.http &&
       b.worker.http == &b.http, "two at once (a HUP): each points into itself");
    cu_derived_free(&a);
    ok(is_empty(&a) && b.master.workers == 4, "freeing one leaves it empty, the "
       "other as it was");
    cu_derived_free(&a);
    ok(is_empty(&a), "an empty one may be freed again");
    cu_derived_free(&b);
}

/* ---- HTTP/2 (http_protocols, http2_*) --------------------------------- */

/* derive() on argv fails with want, d left empty */
static void h2_refused(const char *const *argv, const char *want)
{
    struct cu_derived d;
    int rc = derive(&d, argv);

    ok(rc == -1 && strcmp(err, want) == 0 && is_empty(&d), "%s %s ...: %s", argv[0],
       argv[1], err);
    cu_derived_free(&d);
}

static void test_h2(void)
{
    struct cu_derived d;
    const struct cu_h2_settings *h = &d.worker.h2;

    ok(derive(&d, ARGV("-k", "gthread")) == 0 && !h->on, "h1 alone: no HTTP/2");
    cu_derived_free(&d);
    ok(derive(&d, ARGV("-k", "gthread", "--http-protocols", "h2,h1",
                       "--http2-max-concurrent-streams", "7", "--http2-initial-window-size",
                       "1000", "--http2-max-frame-size", "20000",
                       "--http2-max-header-list-size", "0")) == 0 &&
       h->on && !h->prior_knowledge && h->max_streams == 7 && h->window == 1000 &&
       h->max_frame == 20000 && h->max_header_list == 0,
       "gthread with h2: the settings, no h2c (%s)", err);
    cu_derived_free(&d);
    ok(derive(&d, ARGV("--threads", "2", "--http-protocols", "h2",
                       "--http2-cleartext", "prior-knowledge")) == 0 &&
       h->on && h->prior_knowledge && !h->upgrade, "h2c by prior knowledge (%s)", err);
    cu_derived_free(&d);
    ok(derive(&d, ARGV("--threads", "2", "--http-protocols", "h2",
                       "--http2-cleartext", "upgrade")) == 0 &&
       h->on && !h->prior_knowledge && h->upgrade, "h2c by Upgrade (%s)", err);
    cu_derived_free(&d);
    ok(derive(&d, ARGV("--threads", "2", "--http-protocols", "h2",
                       "--http2-cleartext", "both")) == 0 &&
       h->on && h->prior_knowledge && h->upgrade, "h2c both ways (%s)", err);
    cu_derived_free(&d);
    h2_refused(ARGV("--http-protocols", "h1,h2"),
               "http_protocols: HTTP/2 is not built for the sync worker class; use gthread, "
               "gevent, eventlet or asgi");
    h2_refused(ARGV("-k", "tornado", "--http-protocols", "h2"),
               "http_protocols: HTTP/2 is not built for the tornado worker class; use "
               "gthread, gevent, eventlet or asgi");
    ok(derive(&d, ARGV("-k", "gevent", "--http-protocols", "h2")) == 0 && h->on,
       "gevent with h2 (%s)", err);
    cu_derived_free(&d);
    ok(derive(&d, ARGV("-k", "eventlet", "--http-protocols", "h2")) == 0 && h->on,
       "eventlet with h2 (%s)", err);
    cu_derived_free(&d);
    ok(derive(&d, ARGV("-k", "asgi", "--http-protocols", "h2")) == 0 && h->on,
       "asgi with h2 (%s)", err);
    cu_derived_free(&d);
}

int main(void)
{
    clear_env();
    test_worker_class();
    test_h2();
    test_http();
    test_proxy_allow();
    test_master();
    test_worker();
    test_wsgi();
    test_statsd();
    test_syslog();
    test_lifetime();
    cu_config_free(&cfg);
    return tap_done();
}
