/* What the settings mean for the server. See derive.h. */
#include "config/derive.h"

#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "core/errbuf.h"

static int nomem(char *err, size_t errlen)
{
    cu_seterr(err, errlen, "out of memory");
    return -1;
}

/* Where ", " last stands in s, or NULL. */
static const char *last_comma(const char *s)
{
    const char *last = NULL;

    for (const char *p = strstr(s, ", "); p != NULL; p = strstr(p + 1, ", "))
        last = p;
    return last;
}

const struct cu_worker_class *cu_derive_worker_class(const struct cu_config *c,
                                                     char *err, size_t errlen)
{
    const struct cu_worker_class *k = cu_worker_class_pick(c->worker_class, c->threads);
    char built[128], later[128];
    const char *last;

    cu_worker_class_names(1, built, sizeof(built));
    if (k == NULL) {
        cu_worker_class_names(0, later, sizeof(later));
        cu_seterr(err, errlen, "class uri '%s' invalid or not found (worker "
                  "classes: %s%s%s)", c->worker_class, built, later[0] ? ", " : "",
                  later);
        return NULL;
    }
    if (k->run == NULL) {
        /* as given, and the class it names when that reads otherwise */
        char named[300];
        if (strcasecmp(c->worker_class, k->name) == 0)
            cu_seterr(named, sizeof(named), "%s", k->name);
        else
            cu_seterr(named, sizeof(named), "%s (%s)", c->worker_class, k->name);
        last = last_comma(built);   /* "sync, gthread": "sync or gthread" */
        if (last != NULL)
            cu_seterr(err, errlen, "worker class %s is not built yet; use %.*s or %s",
                      named, (int)(last - built), built, last + 2);
        else
            cu_seterr(err, errlen, "worker class %s is not built yet; use %s", named,
                      built);
        return NULL;
    }
    return k;
}

/* secure_scheme_headers: each "NAME=value" as one string "NAME\0value". */
static int scheme_headers(struct cu_derived *d, const struct cu_strv *l,
                          char *err, size_t errlen)
{
    struct http_config *h = &d->http;

    if ((d->scheme = calloc(l->n + 1, sizeof(*d->scheme))) == NULL)
        return nomem(err, errlen);
    h->scheme_headers = d->scheme;
    h->n_scheme_headers = 0;    /* the configured ones replace the defaults */
    for (size_t i = 0; i < l->n; i++) {
        const char *eq = strchr(l->v[i], '=');
        struct http_scheme_header *sh = &d->scheme[i];
        size_t len = eq != NULL ? (size_t)(eq - l->v[i]) : 0;
        char *copy;

        if (eq == NULL) {
            cu_seterr(err, errlen, "Invalid value for secure_scheme_headers: "
                      "'%s' (expected NAME=value)", l->v[i]);
            return -1;
        }
        if ((copy = strdup(l->v[i])) == NULL)
            return nomem(err, errlen);
        copy[len] = '\0';
        sh->name = copy;
        sh->name_len = (uint32_t)len;
        sh->value = copy + len + 1;
        sh->value_len = (uint32_t)strlen(sh->value);
        h->n_scheme_headers++;
    }
    return 0;
}

static int forwarder_headers(struct cu_derived *d, const struct cu_strv *l,
                             char *err, size_t errlen)
{
    struct http_config *h = &d->http;

    if ((d->forwarders = calloc(l->n + 1, sizeof(*d->forwarders))) == NULL)
        return nomem(err, errlen);
    h->forwarder_headers = (const char *const *)d->forwarders;
    h->n_forwarder_headers = 0;
    for (size_t i = 0; i < l->n; i++) {
        if ((d->forwarders[i] = strdup(l->v[i])) == NULL)
            return nomem(err, errlen);
        h->n_forwarder_headers++;
    }
    return 0;
}

/* The parser's settings. */
static int derive_http(struct cu_derived *d, const struct cu_config *c,
                       char *err, size_t errlen)
{
    struct http_config *h = &d->http;

    http_config_init(h);
    http_config_finish(h, c->limit_request_line, c->limit_request_fields,
                       c->limit_request_field_size);
    h->flags = (c->permit_unconventional_http_method ? HTTP_PERMIT_UNCONVENTIONAL_METHOD : 0) |
               (c->casefold_http_method ? HTTP_CASEFOLD_METHOD : 0) |
               (c->strip_header_spaces ? HTTP_STRIP_HEADER_SPACES : 0) |
               (c->permit_obsolete_folding ? HTTP_PERMIT_OBS_FOLD : 0) |
               (c->permit_unconventional_http_version ? HTTP_PERMIT_UNCONVENTIONAL_VERSION : 0) |
               HTTP_REQUIRE_HOST;  /* RFC 9112 §3.2 (docs/compat.md, Framing) */
    h->header_map = (enum http_header_map)c->header_map;
    h->limit_request_body = (uint64_t)c->limit_request_body;
    if (scheme_headers(d, &c->secure_scheme_headers, err, errlen) < 0)
        return -1;
    return forwarder_headers(d, &c->forwarder_headers, err, errlen);
}

static int allow_lists(struct cu_derived *d, const struct cu_config *c,
                       char *err, size_t errlen)
{
    const struct cu_strv *fw = &c->forwarded_allow_ips, *px = &c->proxy_allow_ips;

    if (cu_allow_compile(&d->allow, (const char *const *)fw->v, fw->n, err, errlen) < 0)
        return -1;
    return cu_allow_compile(&d->proxy_allow, (const char *const *)px->v, px->n,
                            err, errlen);
}

static int derive_master(struct cu_derived *d, const struct cu_config *c,
                         char *err, size_t errlen)
{
    struct cu_master_config *m = &d->master;

    /* the master refuses more (cu_master_run), but on HUP only after the
     * host has put the new configuration in place: refused here, a HUP
     * keeps the old one whole */
    if (c->workers > CU_MAX_WORKERS) {
        cu_seterr(err, errlen, "Invalid value for workers: %d (must be at most %d)",
                  c->workers, CU_MAX_WORKERS);
        return -1;
    }
    if (c->pidfile != NULL && (d->pidfile = strdup(c->pidfile)) == NULL)
        return nomem(err, errlen);
    memset(m, 0, sizeof(*m));
    m->workers = c->workers;
    m->timeout = c->timeout;
    m->graceful_timeout = c->graceful_timeout;
    m->daemon = c->daemon;
    m->pidfile = d->pidfile;
    m->max_worker_lifetime = c->max_worker_lifetime;
    m->max_worker_memory = c->max_worker_memory;
    m->backlog_metric = c->enable_backlog_metric;
    return 0;
}

/* gthread's spooled request bodies (src/worker/spool.h). */
static void derive_spool(struct cu_worker_env *w, const struct cu_config *c, unsigned uses)
{
    w->stream_body = !(uses & CU_WC_USES_BUFFER_BODY) || c->stream_request_body;
    w->spool_memory = (size_t)c->spool_memory;
    w->upload_dir = c->tmp_upload_dir;  /* NULL: $TMPDIR, else /tmp */
}

/* Seconds as milliseconds, capped where an int ends (about 24 days). */
static int ms_of(int secs)
{
    return secs > INT_MAX / 1000 ? INT_MAX / 1000 * 1000 : secs * 1000;
}

static void derive_worker(struct cu_derived *d, const struct cu_config *c)
{
    struct cu_worker_env *w = &d->worker;
    unsigned uses = d->worker_class->flags;

    memset(w, 0, sizeof(*w));
    w->http = &d->http;
    w->proxy = d->proxy;
    w->allow = &d->allow;
    w->proxy_allow = &d->proxy_allow;
    w->timeout = c->timeout;
    w->graceful_timeout = c->graceful_timeout;
    w->max_requests = c->max_requests;
    w->request_timeout = c->request_timeout;
    w->threads = uses & CU_WC_USES_THREADS ? c->threads : 1;
    w->workers = c->workers;
    w->worker_connections = uses & CU_WC_USES_CONNECTIONS ? c->worker_connections : 1;
    w->keepalive = uses & CU_WC_USES_KEEPALIVE ? c->keepalive : 0;
    w->buffer_body = uses & CU_WC_USES_BUFFER_BODY ? (size_t)c->buffer_body : 0;
    derive_spool(w, c, uses);
    w->new_conn_ms = ms_of(c->new_connection_timeout);
    w->header_ms = ms_of(c->header_timeout);
    w->body_ms = ms_of(c->body_timeout);
    w->body_min_rate = c->body_min_rate;
    w->send_ms = ms_of(c->send_timeout);
    w->head_memory = (size_t)c->max_head_memory << 20;
    d->max_requests_jitter = c->max_requests_jitter;
}

static void derive_wsgi(struct cu_derived *d, const struct cu_config *c)
{
    struct cu_wsgi_opts *o = &d->wsgi;

    memset(o, 0, sizeof(*o));
    /* Gunicorn's async workers say multithread too */
    o->multithread = (d->worker_class->flags & (CU_WC_THREADS | CU_WC_GREEN)) != 0;
    o->multiprocess = c->workers > 1;
    o->errors_fd = -1;
    o->sendfile = c->sendfile;
}

/* http_protocols in ALPN's wire form, in the order given (docs/compat.md,
 * HTTP/2), into alpn (36 bytes); its length, 0 without h2 (no ALPN). */
static size_t h2_alpn(const struct cu_config *c, unsigned char *alpn)
{
    static const unsigned char h2w[] = {2, 'h', '2'};
    static const unsigned char h1w[] = {8, 'h', 't', 't', 'p', '/', '1', '.', '1'};
    size_t n = 0;
    int h2 = 0;

    for (size_t i = 0; i < c->http_protocols.n; i++) {
        const char *p = c->http_protocols.v[i];
        if (strcmp(p, "h2") == 0) {
            h2 = 1;
            memcpy(alpn + n, h2w, sizeof(h2w));
            n += sizeof(h2w);
        } else if (strcmp(p, "h1") == 0) {
            memcpy(alpn + n, h1w, sizeof(h1w));
            n += sizeof(h1w);
        }  /* h3: reserved, as in Gunicorn: nothing offers it */
    }
    return h2 ? n : 0;
}

/* h2 in http_protocols and the http2_* settings: for a class that serves
 * it, and as h2c (by prior knowledge, by Upgrade, or both) when
 * http2_cleartext says. */
static int derive_h2(struct cu_derived *d, const struct cu_config *c, char *err,
                     size_t errlen)
{
    struct cu_h2_settings *h = &d->worker.h2;
    unsigned char alpn[36];

    memset(h, 0, sizeof(*h));
    if (h2_alpn(c, alpn) == 0)
        return 0;
    if (!(d->worker_class->flags & CU_WC_H2)) {
        cu_seterr(err, errlen, "http_protocols: HTTP/2 is not built for the %s worker "
                  "class; use gthread, gevent, eventlet or asgi", d->worker_class->name);
        return -1;
    }
    h->on = 1;
    /* off, prior-knowledge, upgrade, both: each mechanism on its own */
    h->prior_knowledge = c->http2_cleartext == 1 || c->http2_cleartext == 3;
    h->upgrade = c->http2_cleartext >= 2;
    h->max_streams = (uint32_t)c->http2_max_concurrent_streams;
    h->window = (uint32_t)c->http2_initial_window_size;
    h->max_frame = (uint32_t)c->http2_max_frame_size;
    h->max_header_list = (uint32_t)c->http2_max_header_list_size;
    return 0;
}

/* certfile or keyfile turn TLS on, as Gunicorn's is_ssl (docs/compat.md,
 * TLS): the context is built here, in the master, once per set. */
static int derive_tls(struct cu_derived *d, const struct cu_config *c, char *err,
                      size_t errlen)
{
    struct cu_tls_opts o = {.certfile = c->certfile, .keyfile = c->keyfile,
                            .ca_certs = c->ca_certs, .ciphers = c->ciphers,
                            .cert_reqs = c->cert_reqs,
                            .ocsp_response = c->ssl_ocsp_response,
                            .suppress_ragged_eofs = c->suppress_ragged_eofs,
                            .proxy = (int)d->proxy, .proxy_allow = &d->proxy_allow};
    unsigned char alpn[36];

    o.alpn = alpn;
    o.alpn_len = h2_alpn(c, alpn);

    if (!c->certfile && !c->keyfile) {
        if (!c->ssl_ocsp_response)
            return 0;
        cu_seterr(err, errlen, "ssl_ocsp_response: needs certfile (the certificate "
                  "it answers for)");
        return -1;
    }
    d->tls = cu_tls_new(&o, err, errlen);
    return d->tls ? 0 : -1;
}

/* Settings a class has no way to honour yet are refused for it by name. */
static int derive_class_limits(const struct cu_derived *d, const struct cu_config *c,
                               char *err, size_t errlen)
{
    if (c->request_timeout > 0 && (d->worker_class->flags & CU_WC_GREEN)) {
        cu_seterr(err, errlen, "request_timeout: not built yet for the %s worker class; "
                  "use sync, gthread or asgi", d->worker_class->name);
        return -1;
    }
    return 0;
}

int cu_derive(struct cu_derived *d, const struct cu_config *c, char *err,
              size_t errlen)
{
    memset(d, 0, sizeof(*d));
    d->worker_class = cu_derive_worker_class(c, err, errlen);
    d->proxy = (enum http_proxy_mode)c->proxy_protocol;
    if (d->worker_class == NULL || derive_http(d, c, err, errlen) < 0 ||
        allow_lists(d, c, err, errlen) < 0 || derive_master(d, c, err, errlen) < 0 ||
        cu_statsd_config_make(&d->statsd, c->statsd_host, c->statsd_prefix,
                              c->dogstatsd_tags, err, errlen) < 0 ||
        cu_syslog_config_make(&d->syslog, c->syslog, c->syslog_addr, c->syslog_facility,
                              c->syslog_prefix,
                              c->proc_name ? c->proc_name : c->default_proc_name,
                              c->disable_redirect_access_to_syslog, err, errlen) < 0 ||
        derive_tls(d, c, err, errlen) < 0 || derive_class_limits(d, c, err, errlen) < 0) {
        cu_derived_free(d);
        return -1;
    }
    derive_worker(d, c);
    if (derive_h2(d, c, err, errlen) < 0) {
        cu_derived_free(d);
        return -1;
    }
    derive_wsgi(d, c);
    d->worker.tls = d->tls;
    d->wsgi.is_ssl = d->tls != NULL;
    return 0;
}

void cu_derived_free(struct cu_derived *d)
{
    for (size_t i = 0; d->scheme != NULL && d->scheme[i].name != NULL; i++)
        free((char *)d->scheme[i].name);
    free(d->scheme);
    for (size_t i = 0; d->forwarders != NULL && d->forwarders[i] != NULL; i++)
        free(d->forwarders[i]);
    free(d->forwarders);
    cu_allow_free(&d->allow);
    cu_allow_free(&d->proxy_allow);
    free(d->pidfile);
    cu_statsd_config_free(&d->statsd);
    cu_syslog_config_free(&d->syslog);
    cu_tls_free(d->tls);
    memset(d, 0, sizeof(*d));
}
