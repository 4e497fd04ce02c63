/*
 * What every worker class does around one request, whatever its I/O model:
 * parse what the connection holds (PROXY header, then the head), note the
 * request line for a report, and write the access log line.
 */
#include "worker/worker.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "core/access.h"
#include "core/statsd.h"
#include "http/pages.h"
#include "net/allow.h"

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

int64_t cu_head_step(const struct cu_worker_env *env, struct cu_conn *c,
                     struct http_parser *p, struct http_request *r,
                     int *proxy_done)
{
    int64_t rc;

    if (c->end == c->start)
        return HTTP_AGAIN;
    if (!*proxy_done) {
        int kind = http_proxy_sniff(c->buf + c->start, c->end - c->start, env->proxy);
        /* a PROXY header from a peer not in proxy_allow_ips: 403 */
        if (kind > 0 && !cu_allow_match(env->proxy_allow, (struct sockaddr *)&c->peer,
                                        c->peerlen))
            return HTTP_E_PROXY_FORBIDDEN;
        rc = http_proxy_parse(c->buf + c->start, c->end - c->start, env->proxy,
                              &c->proxy);
        if (rc < 0)
            return rc;  /* HTTP_AGAIN too */
        c->has_proxy = rc > 0;
        c->start += (size_t)rc;
        *proxy_done = 1;
        if (c->end == c->start)
            return HTTP_AGAIN;
    }
    return http_parse_head(p, r, c->buf + c->start, c->end - c->start);
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

static struct cu_str request_header(void *ctx, const char *name, size_t len)
{
    const struct logged *l = ctx;
    struct cu_str none = {NULL, 0};

    for (uint32_t i = 0; i < l->r->n_headers; i++) {
        const struct http_header *h = &l->r->headers[i];
        if (h->name.len == len && strncasecmp(l->head + h->name.off, name, len) == 0) {
            struct cu_str v = {l->head + h->value.off, h->value.len};
            return v;
        }
    }
    return none;
}

static struct cu_str span_str(const char *head, struct http_span s)
{
    struct cu_str v = {head + s.off, s.len};
    return v;
}

void cu_access(const struct cu_request *q)
{
    const struct cu_conn *c = q->conn;
    const struct http_request *r = q->http;
    const char *head = cu_request_head(q);
    struct logged l = {r, head};
    struct cu_access a;
    char host[128];
    int port;
    static const char *const protos[] = {"HTTP/1.0", "HTTP/1.1"};
    char proto[16];
    int64_t took = cu_now_us() - q->started_us;

    /* where Gunicorn's statsd logger counts a request: its access() */
    cu_statsd_request(q->out.status, took);
    if (!cu_access_enabled())
        return;
    memset(&a, 0, sizeof(a));
    if (cu_sockaddr_text((const struct sockaddr *)&c->peer, c->peerlen, host,
                         sizeof(host), &port) < 0)
        host[0] = '\0';
    a.remote_addr.p = host;
    a.remote_addr.len = strlen(host);
    a.method = span_str(head, r->method);
    a.target = span_str(head, r->path);
    a.query = span_str(head, r->query);
    if (r->major == 1 && r->minor <= 1) {
        a.protocol.p = protos[r->minor];
    } else {
        (void)snprintf(proto, sizeof(proto), "HTTP/%u.%u", r->major, r->minor);
        a.protocol.p = proto;
    }
    a.protocol.len = strlen(a.protocol.p);
    /* the request line as received: method SP target SP version */
    a.request_line.p = head + r->method.off;
    a.request_line.len = r->target.off + r->target.len + 9 - r->method.off;
    a.status = q->out.status;
    a.response_bytes = q->out.bytes;
    a.referer = request_header(&l, "referer", 7);
    a.user_agent = request_header(&l, "user-agent", 10);
    a.request_time_us = took;
    a.req_header = request_header;
    a.ctx = &l;
    cu_access_log(&a);
}
