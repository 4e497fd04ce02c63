/*
 * What every worker class does around one request, whatever its I/O model:
 * parse what the connection holds (PROXY header, then the head), log a
 * refused one as Gunicorn does, note the request line for a report, and
 * write the access log line.
 */
#include "worker/worker.h"

#include <errno.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "core/access.h"
#include "core/log.h"
#include "core/statsd.h"
#include "http/pages.h"
#include "http2/h2.h"
#include "net/allow.h"
#include "net/tls.h"

volatile sig_atomic_t cu_request_armed;

size_t cu_page_504(char *buf, size_t n)
{
    static const char msg[] = "The request took longer than --request-timeout.";

    return http_page(buf, n, 504, "Gateway Timeout", msg, sizeof(msg) - 1);
}

size_t cu_head_max(const struct cu_worker_env *env)
{
    return env->http->max_head_buffer + 8192 + env->http->limit_request_line;
}

int cu_proxy_step(const struct cu_worker_env *env, struct cu_conn *c, int *proxy_done)
{
    int64_t rc;
    int kind;

    if (*proxy_done)
        return 0;
    if (c->has_proxy) {
        *proxy_done = 1;  /* it came before TLS (cu_conn_tls) */
        return 0;
    }
    if (c->end == c->start)
        return HTTP_AGAIN;
    kind = http_proxy_sniff(c->buf + c->start, c->end - c->start, env->proxy);
    /* a PROXY header from a peer not in proxy_allow_ips: 403 */
    if (kind > 0 &&
        !cu_allow_match(env->proxy_allow, (struct sockaddr *)&c->peer, c->peerlen))
        return HTTP_E_PROXY_FORBIDDEN;
    rc = http_proxy_parse(c->buf + c->start, c->end - c->start, env->proxy, &c->proxy);
    if (rc < 0)
        return (int)rc;  /* HTTP_AGAIN too */
    c->has_proxy = rc > 0;
    c->start += (size_t)rc;
    *proxy_done = 1;
    return 0;
}

int cu_h2c_opens(const struct cu_worker_env *env, struct cu_conn *c, int *proxy_done)
{
    int rc = cu_proxy_step(env, c, proxy_done);

    if (rc < 0)
        return rc;
    if (c->end == c->start)
        return HTTP_AGAIN;
    return cu_h2_preface(c->buf + c->start, c->end - c->start);
}

int64_t cu_head_step(const struct cu_worker_env *env, struct cu_conn *c,
                     struct http_parser *p, struct http_request *r,
                     int *proxy_done)
{
    int64_t rc = cu_proxy_step(env, c, proxy_done);

    if (rc < 0)
        return rc;
    if (c->end == c->start)
        return HTTP_AGAIN;
    rc = http_parse_head(p, r, c->buf + c->start, c->end - c->start);
    if (rc > 0 && cu_body_over_limit(r, env->http))
        return HTTP_E_BODY_TOO_LARGE;  /* before any 100 Continue */
    return rc;
}

/* The head's clock (--header-timeout) starts at its first byte. */
static void head_clock(const struct cu_worker_env *env, struct cu_conn *c)
{
    c->deadline_ms = env->header_ms > 0 ? cu_now_ms() + env->header_ms : 0;
}

static int64_t head_read(const struct cu_worker_env *env, struct cu_conn *c,
                         struct http_parser *p, struct http_request *r, int *proxy_done)
{
    int started = c->end > c->start;

    if (started)
        head_clock(env, c);
    for (;;) {
        int64_t rc = cu_head_step(env, c, p, r, proxy_done);

        if (rc != HTTP_AGAIN)
            return rc;
        if (cu_conn_fill(c, cu_head_max(env)) < 0)
            return HTTP_E_EOF;  /* timed out, reset, too big: just close */
        if (!started && c->end > c->start) {
            started = 1;
            head_clock(env, c);
        }
        if (c->eof)
            return c->end > c->start ? HTTP_E_EOF : 0;
    }
}

int64_t cu_head_read(const struct cu_worker_env *env, struct cu_conn *c,
                     struct http_parser *p, struct http_request *r, int *proxy_done)
{
    int64_t rc = head_read(env, c, p, r, proxy_done);

    c->deadline_ms = 0;  /* the head's: the answer's writes have their own */
    return rc;
}

/* ---- refused requests ---------------------------------------------------- */

/* The ip= of Gunicorn's warning: the connecting peer (not a PROXY header's
 * client), "" for a UNIX socket's. Its port, -1 for a UNIX socket's. */
static int peer_ip(const struct cu_conn *c, char *host, size_t n)
{
    int port = -1;

    if (c->peer.ss_family == AF_UNIX ||
        cu_sockaddr_text((const struct sockaddr *)&c->peer, c->peerlen, host, n, &port) < 0) {
        host[0] = '\0';
        port = -1;
    }
    return port;
}

void cu_request_refused(const struct cu_conn *c, const struct http_parser *p, int code)
{
    const char *buf = c->buf + c->start;
    char text[4096], ip[128];

    if (code == HTTP_E_EOF) {
        /* Gunicorn's NoMoreData: what it held of the part it was reading */
        static const char pre[] = "No more data after: ";
        size_t from = p && p->head_start <= c->end - c->start ? p->head_start : 0;

        if (!cu_log_enabled(CU_DEBUG))
            return;
        memcpy(text, pre, sizeof(pre));
        if (p)
            (void)http_repr(buf + from, c->end - c->start - from, 1, text + sizeof(pre) - 1,
                            sizeof(text) - sizeof(pre) + 1);
        else
            memcpy(text + sizeof(pre) - 1, "None", 5);
        cu_log(CU_DEBUG, "Ignored premature client disconnection. %s", text);
        return;
    }
    (void)peer_ip(c, ip, sizeof(ip));
    if (code == HTTP_E_PROXY_FORBIDDEN) {
        static const char pre[] = "Proxy request from ";
        size_t n;

        memcpy(text, pre, sizeof(pre));
        n = sizeof(pre) - 1 + http_repr(ip, strlen(ip), 0, text + sizeof(pre) - 1,
                                        sizeof(text) - sizeof(pre) - 16);
        memcpy(text + n, " not allowed", 13);
    } else if (code == HTTP_E_PROXY_LINE || code == HTTP_E_PROXY_HEADER) {
        (void)http_error_text(code, &c->proxy.err, buf, text, sizeof(text));
    } else {
        (void)http_error_text(code, p ? &p->err : NULL, buf, text, sizeof(text));
    }
    cu_log(CU_WARNING, "Invalid request from ip=%s: %s", ip, text);
}

void cu_tls_failed(const struct cu_conn *c, int err)
{
    char ip[128];

    if (err != EPROTO) {  /* the peer left, or stalled past the timeout */
        cu_log(CU_DEBUG, "ssl connection closed: %s", strerror(err));
        return;
    }
    (void)peer_ip(c, ip, sizeof(ip));
    cu_log(CU_WARNING, "Invalid request from ip=%s: [SSL] %s", ip, cu_tls_error(c->tls));
}

int cu_tls_accept(struct cu_conn *c, struct cu_tls *t)
{
    int err;

    if (cu_conn_tls(c, t) == 0 && cu_conn_handshake(c) == 0)
        return 0;
    err = errno;
    if (!c->tls) {
        cu_log(CU_ERROR, "out of memory for a TLS connection");
        return -1;
    }
    cu_tls_failed(c, err);
    if (err == EPROTO)  /* not TLS (plain HTTP?): what it sent, unread,
                         * would turn the close into a reset */
        cu_conn_linger(c, CU_LINGER_LIMIT, CU_LINGER_MS);
    return -1;
}

void cu_request_line(const struct cu_request *q, char *out, size_t n)
{
    const struct http_request *r = q->http;
    const char *head = cu_request_head(q);
    /* method SP target SP version, as received */
    size_t len = r->target.off + r->target.len + 9 - r->method.off;

    if (len >= n)
        len = n - 1;
    memcpy(out, head + r->method.off, len);
    out[len] = '\0';
}

/* ---- the access log ------------------------------------------------------ */

struct logged {
    const struct http_request *r;
    const char *head;
};

/* {name}i: the request's header of that name, ignoring case; the last of
 * several, as Gunicorn's atoms keep it. */
static struct cu_str request_header(void *ctx, const char *name, size_t len)
{
    const struct logged *l = ctx;
    struct cu_str v = {NULL, 0};

    for (uint32_t i = 0; i < l->r->n_headers; i++) {
        const struct http_header *h = &l->r->headers[i];
        if (h->name.len == len && strncasecmp(l->head + h->name.off, name, len) == 0) {
            v.p = l->head + h->value.off;
            v.len = h->value.len;
        }
    }
    return v;
}

static struct cu_str span_str(const char *head, struct http_span s)
{
    struct cu_str v = {head + s.off, s.len};
    return v;
}

/* Whether a header's name makes the environ key HTTP_<NAME> of name
 * (lower-case letters and '-'): case and '-' against '_' do not count.
 * A token byte ORed with 0x20 is one of these only if it is that letter
 * in either case, or '-'. */
static int environ_name(const char *s, size_t n, const char *name, size_t len)
{
    if (n != len)
        return 0;
    for (size_t i = 0; i < n; i++)
        if ((s[i] | 0x20) != name[i] && !(s[i] == '_' && name[i] == '-'))
            return 0;
    return 1;
}

/* A value the environ has under one key: the headers that map to it,
 * joined with ',' as the environ joins them. */
struct joined {
    struct cu_str v;
    char *heap;
};

static void join(struct joined *j, const char *s, size_t n)
{
    char *p;

    if (j->v.p == NULL) {
        j->v.p = s;
        j->v.len = n;
        return;
    }
    p = malloc(j->v.len + 1 + n);
    if (p == NULL)
        return;  /* the first value stands */
    memcpy(p, j->v.p, j->v.len);
    p[j->v.len] = ',';
    memcpy(p + j->v.len + 1, s, n);
    free(j->heap);
    j->heap = p;
    j->v.p = p;
    j->v.len += 1 + n;
}

/* REMOTE_ADDR as the environ has it: the PROXY header's source, else the
 * peer (docs/compat.md, PROXY protocol). */
static struct cu_str remote_addr(const struct cu_conn *c, char *host, size_t n)
{
    struct cu_str v = {host, 0};
    int port;

    if (c->has_proxy && c->proxy.has_addr) {
        v.p = c->proxy.src_addr;
    } else if (cu_sockaddr_text((const struct sockaddr *)&c->peer, c->peerlen, host, n,
                                &port) < 0) {
        host[0] = '\0';
    }
    v.len = strlen(v.p);
    return v;
}

/* H: the protocol as the environ's SERVER_PROTOCOL has it (buf: room for
 * an unusual version's). */
static struct cu_str protocol(const struct http_request *r, char buf[16])
{
    static const char *const protos[] = {"HTTP/1.0", "HTTP/1.1"};
    struct cu_str v;

    if (r->major == 1 && r->minor <= 1) {
        v.p = protos[r->minor];
    } else {
        (void)snprintf(buf, 16, "HTTP/%u.%u", r->major, r->minor);
        v.p = buf;
    }
    v.len = strlen(v.p);
    return v;
}

/* r: the request line as received: method SP target SP version. */
static struct cu_str request_line(const struct http_request *r, const char *head)
{
    struct cu_str v = {head + r->method.off,
                       r->target.off + r->target.len + 9 - r->method.off};
    return v;
}

/* The access log line: what the format uses, from the parsed head, the
 * connection and what the application layer gathered (q->logged). */
void cu_access(struct cu_request *q)
{
    const struct cu_conn *c = q->conn;
    const struct http_request *r = q->http;
    const char *head = cu_request_head(q);
    const struct cu_logvals *lv = q->logged;
    unsigned needs = cu_access_needs();
    struct logged l = {r, head};
    struct joined ref = {{NULL, 0}, NULL}, agent = {{NULL, 0}, NULL},
                  auth = {{NULL, 0}, NULL};
    struct cu_access a;
    char host[128];
    char proto[16];
    int64_t took = cu_now_us() - q->started_us;

    /* where Gunicorn's statsd logger counts a request: its access() */
    cu_statsd_request(q->out.status, took);
    if (!cu_access_enabled()) {
        free(q->logged);
        q->logged = NULL;
        return;
    }
    memset(&a, 0, sizeof(a));
    if (lv && lv->remote.p)
        a.remote_addr = lv->remote;  /* the app changed it (ProxyFix) */
    else if (needs & CU_ACC_NEED_REMOTE)
        a.remote_addr = remote_addr(c, host, sizeof(host));
    a.method = span_str(head, r->method);
    if (lv)
        a.path = lv->path;
    a.query = span_str(head, r->query);
    a.protocol = protocol(r, proto);
    a.request_line = request_line(r, head);
    a.status = q->out.status;
    a.response_bytes = q->out.bytes;
    /* f, a and u in one pass over the headers, by their first letter */
    if (needs & (CU_ACC_NEED_REFERER | CU_ACC_NEED_AGENT | CU_ACC_NEED_USER)) {
        for (uint32_t i = 0; i < r->n_headers; i++) {
            const struct http_header *h = &r->headers[i];
            const char *name = head + h->name.off;
            struct joined *j;

            switch (name[0] | 0x20) {
            case 'a':
                j = environ_name(name, h->name.len, "authorization", 13) ? &auth : NULL;
                break;
            case 'r':
                j = environ_name(name, h->name.len, "referer", 7) ? &ref : NULL;
                break;
            case 'u':
                j = environ_name(name, h->name.len, "user-agent", 10) ? &agent : NULL;
                break;
            default:
                j = NULL;
                break;
            }
            if (j)
                join(j, head + h->value.off, h->value.len);
        }
    }
    a.referer = ref.v;
    a.user_agent = agent.v;
    a.authorization = auth.v;
    a.request_time_us = took;
    a.req_header = request_header;
    a.ctx = &l;
    if (lv) {
        a.resp = lv->resp;
        a.env = lv->env;
        a.host = lv->host;  /* the divert's from here on */
    }
    cu_access_log(&a);
    if (ref.heap || agent.heap || auth.heap) {  /* repeated headers */
        free(ref.heap);
        free(agent.heap);
        free(auth.heap);
    }
    if (q->logged) {
        free(q->logged);
        q->logged = NULL;
    }
}

/* ---- the access log of a refused request --------------------------------- */

/* How much of its request an error leaves to log: Gunicorn's errors
 * raised with the request attached, as the parser marks them; and ours,
 * a body over limit_request_body, refused once the head is whole (Gunicorn
 * has no such limit: it serves, and logs, the request). */
static enum http_with_req with_request(const struct http_parser *p, int code)
{
    if (code == HTTP_E_BODY_TOO_LARGE)
        return HTTP_REQ_HEAD;
    if (code == HTTP_E_HEADER && p)
        return (enum http_with_req)p->err.with_req;
    return HTTP_REQ_NONE;
}

/* The keys of the environ Gunicorn's handle_error() makes for the log
 * that come from the request (the rest are its constants: wsgi.*,
 * SERVER_SOFTWARE), as {name}e looks them up. */
enum { RE_METHOD, RE_QUERY, RE_URI, RE_PROTO, RE_ADDR, RE_PORT, RE_N };
static const char *const refused_keys[RE_N] = {
    "REQUEST_METHOD", "QUERY_STRING", "RAW_URI", "SERVER_PROTOCOL", "REMOTE_ADDR",
    "REMOTE_PORT"};

static struct cu_str text_str(const char *s)
{
    struct cu_str v = {s, strlen(s)};
    return v;
}

/* The request's headers as the divert hands them to Python (name, value
 * pairs), or NULL (none, or no memory: Python gets none). */
static struct cu_str *header_pairs(const struct http_request *r, const char *head)
{
    struct cu_str *v = r->n_headers ? calloc(2 * (size_t)r->n_headers, sizeof(*v)) : NULL;

    for (size_t i = 0; v && i < r->n_headers; i++) {
        v[2 * i] = span_str(head, r->headers[i].name);
        v[2 * i + 1] = span_str(head, r->headers[i].value);
    }
    return v;
}

void cu_request_refused_access(const struct cu_conn *c, const struct http_parser *p,
                               const struct http_request *r, const char *head, int code)
{
    const struct http_error_info *e = http_error_info(code);
    enum http_with_req with = with_request(p, code);
    struct http_request shown;
    struct logged l = {&shown, head};
    struct cu_str env[2 * RE_N], *vals = NULL, *pairs = NULL;
    struct cu_access_refused ref;
    struct cu_access a;
    const char *const *names;
    size_t ne;
    char host[128], port[16], proto[16], status[24 + HTTP_PAGE_REASON_MAX];
    if (with == HTTP_REQ_NONE || !r || !cu_access_wanted())
        return;
    /* Gunicorn times it from its handle_error(): next to nothing */
    cu_statsd_request(e->status, 0);
    if (!cu_access_enabled())
        return;
    shown = *r;
    if (with == HTTP_REQ_LINE)
        shown.n_headers = 0;  /* its headers are not yet its request's */
    /* REMOTE_ADDR, REMOTE_PORT: the connecting peer, ("", -1) for a UNIX
     * socket's (a PROXY header's client is not taken, as in Gunicorn) */
    (void)snprintf(port, sizeof(port), "%d", peer_ip(c, host, sizeof(host)));
    memset(&a, 0, sizeof(a));
    a.remote_addr = text_str(host);
    a.method = span_str(head, r->method);
    a.query = span_str(head, r->query);
    a.protocol = protocol(r, proto);
    a.request_line = request_line(r, head);
    a.status = e->status;  /* b 0; u, f, a: "-" (its environ has no HTTP_*) */
    /* U: Gunicorn's environ.get("PATH_INFO"), which it has not set */
    a.path = text_str("None");
    a.req_header = request_header;
    a.ctx = &l;
    env[2 * RE_METHOD + 1] = a.method;
    env[2 * RE_QUERY + 1] = a.query;
    env[2 * RE_URI + 1] = span_str(head, r->target);
    env[2 * RE_PROTO + 1] = a.protocol;
    env[2 * RE_ADDR + 1] = a.remote_addr;
    env[2 * RE_PORT + 1] = text_str(port);
    for (size_t k = 0; k < RE_N; k++)
        env[2 * k] = text_str(refused_keys[k]);
    ne = cu_access_lookups('e', &names);
    if (ne && (vals = calloc(ne, sizeof(*vals))) != NULL) {
        for (size_t i = 0; i < ne; i++)
            for (size_t k = 0; k < RE_N; k++)
                if (strcasecmp(names[i], refused_keys[k]) == 0)
                    vals[i] = env[2 * k + 1];
        a.env = vals;
    }
    if (cu_access_needs() & CU_ACC_NEED_HOST) {  /* diverted: what Python gets */
        pairs = header_pairs(&shown, head);
        (void)snprintf(status, sizeof(status), "%u %s", e->status, e->reason);
        ref = (struct cu_access_refused){env, RE_N, pairs, pairs ? shown.n_headers : 0,
                                         status, span_str(head, r->path)};
        a.refused = &ref;
    }
    cu_access_log(&a);
    free(vals);
    free(pairs);
}
