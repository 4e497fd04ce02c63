/*
 * The h2c upgrade (RFC 7540 3.2; docs/compat.md, HTTP/2): an HTTP/1.1
 * request without a body that asks for it (Upgrade: h2c, one
 * HTTP2-Settings, both named in Connection) is answered 101 Switching
 * Protocols, and its connection becomes a session whose stream 1 is that
 * request, answered over HTTP/2.
 */
#include "http2/internal.h"

#include <stdlib.h>
#include <string.h>

#include "core/log.h"
#include "http/ws.h"

/* ---- the request's side -------------------------------------------------- */

/* The value of a base64url character (RFC 4648 5), or -1. */
static int b64url(unsigned char ch)
{
    if (ch >= 'A' && ch <= 'Z')
        return ch - 'A';
    if (ch >= 'a' && ch <= 'z')
        return ch - 'a' + 26;
    if (ch >= '0' && ch <= '9')
        return ch - '0' + 52;
    return ch == '-' ? 62 : ch == '_' ? 63 : -1;
}

/* Decodes base64url s[0..n) (no padding, as RFC 7540 3.2.1 says, or its
 * '=' padding) into out (at most cap bytes). The length, or -1: not
 * base64url, or longer than cap. */
static long decode(const char *s, size_t n, uint8_t *out, size_t cap)
{
    uint32_t acc = 0;
    size_t len = 0, bits = 0;

    if (n % 4 == 0 && n >= 2 && s[n - 1] == '=')
        n -= s[n - 2] == '=' ? 2 : 1;
    if (n % 4 == 1)
        return -1;
    for (size_t i = 0; i < n; i++) {
        int v = b64url((unsigned char)s[i]);
        if (v < 0)
            return -1;
        acc = acc << 6 | (uint32_t)v;
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            if (len == cap)
                return -1;
            out[len++] = (uint8_t)(acc >> bits);
            acc &= (1u << bits) - 1;
        }
    }
    return acc == 0 ? (long)len : -1;  /* the unused low bits are zero */
}

/* Whether p[0..n) is a SETTINGS payload whose values a SETTINGS frame may
 * carry (RFC 9113 6.5.2; unknown ones are ignored, as there). */
static int settings_ok(const uint8_t *p, size_t n)
{
    if (n % 6 != 0)
        return 0;
    for (size_t i = 0; i < n; i += 6) {
        unsigned id = (unsigned)p[i] << 8 | p[i + 1];
        uint32_t v = (uint32_t)p[i + 2] << 24 | (uint32_t)p[i + 3] << 16 |
                     (uint32_t)p[i + 4] << 8 | p[i + 5];
        if ((id == NGHTTP2_SETTINGS_ENABLE_PUSH && v > 1) ||
            (id == NGHTTP2_SETTINGS_INITIAL_WINDOW_SIZE && v > 0x7fffffffu) ||
            (id == NGHTTP2_SETTINGS_MAX_FRAME_SIZE && (v < 16384 || v > 16777215)) ||
            (id == NGHTTP2_SETTINGS_ENABLE_CONNECT_PROTOCOL && v > 1) ||
            (id == NGHTTP2_SETTINGS_NO_RFC7540_PRIORITIES && v > 1))
            return 0;
    }
    return 1;
}

int cu_h2c_asked(const char *buf, const struct http_request *r, uint8_t *settings,
                 size_t *len)
{
    int upgrade = 0, conn_upgrade = 0, conn_settings = 0, n = 0;
    struct http_span value = {0, 0};
    long got;

    /* Upgrade means nothing in HTTP/1.0 (RFC 9110 7.8); a request with a
     * body (or a framing that closes the connection) is served as
     * HTTP/1.1 (docs/compat.md, HTTP/2) */
    if (r->major != 1 || r->minor != 1 || r->body == HTTP_BODY_CHUNKED ||
        (r->body == HTTP_BODY_LENGTH && r->content_length > 0) ||
        (r->flags & HTTP_REQ_MUST_CLOSE))
        return 0;
    for (uint32_t i = 0; i < r->n_headers; i++) {
        const struct http_header *x = &r->headers[i];
        if (x->id == HTTP_HDR_UPGRADE) {
            upgrade |= ws_has_token(buf, x->value, "h2c");
        } else if (x->id == HTTP_HDR_CONNECTION) {
            conn_upgrade |= ws_has_token(buf, x->value, "upgrade");
            conn_settings |= ws_has_token(buf, x->value, "http2-settings");
        } else if (http_span_ieq(buf, x->name, "http2-settings")) {
            n++;
            value = x->value;
        }
    }
    /* RFC 7540 3.2.1: not upgraded without exactly one HTTP2-Settings */
    if (!upgrade || !conn_upgrade || !conn_settings || n != 1)
        return 0;
    got = decode(buf + value.off, value.len, settings, CU_H2C_SETTINGS_MAX);
    if (got < 0 || !settings_ok(settings, (size_t)got))
        return -1;
    *len = (size_t)got;
    return 1;
}

/* ---- stream 1 --------------------------------------------------------------- */

/* Whether Connection names the field x (RFC 9110 7.6.1: then it is the
 * connection's, not the request's). */
static int named_by_connection(const char *buf, const struct http_request *r,
                               const struct http_header *x)
{
    char name[64];

    if (x->name.len >= sizeof(name))
        return 0;  /* longer than any option worth naming */
    memcpy(name, buf + x->name.off, x->name.len);
    name[x->name.len] = '\0';
    for (uint32_t i = 0; i < r->n_headers; i++)
        if (r->headers[i].id == HTTP_HDR_CONNECTION && ws_has_token(buf, r->headers[i].value, name))
            return 1;
    return 0;
}

/* Whether a field of the HTTP/1 request stays out of stream 1: the
 * connection-specific ones HTTP/2 forbids (RFC 9113 8.2.2), those that
 * Connection names, and Host, which is :authority there. */
static int hop_by_hop(const char *buf, const struct http_request *r,
                      const struct http_header *x)
{
    static const char *const names[] = {"http2-settings", "keep-alive", "proxy-connection"};

    if (x->id == HTTP_HDR_CONNECTION || x->id == HTTP_HDR_UPGRADE ||
        x->id == HTTP_HDR_TRANSFER_ENCODING || x->id == HTTP_HDR_TE ||
        x->id == HTTP_HDR_HOST)
        return 1;
    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
        if (http_span_ieq(buf, x->name, names[i]))
            return 1;
    return named_by_connection(buf, r, x);
}

/* Gives st the upgrading request's fields, as HEADERS would: the method,
 * the target, Host as :authority, the rest with names in lower case
 * (lowered in buf). 0, or -1: no memory. */
static int request_fields(struct h2_stream *st, char *buf, const struct http_request *r)
{
    int rc = h2_stream_header(st, (const uint8_t *)":method", 7,
                              (const uint8_t *)buf + r->method.off, r->method.len);

    if (rc == 0)
        rc = h2_stream_header(st, (const uint8_t *)":path", 5,
                              (const uint8_t *)buf + r->target.off, r->target.len);

    for (uint32_t i = 0; i < r->n_headers && rc == 0; i++) {
        const struct http_header *x = &r->headers[i];
        if (x->id == HTTP_HDR_HOST)
            rc = h2_stream_header(st, (const uint8_t *)":authority", 10,
                                  (const uint8_t *)buf + x->value.off, x->value.len);
        if (hop_by_hop(buf, r, x))
            continue;
        for (size_t k = 0; k < x->name.len; k++) {
            char *ch = buf + x->name.off + k;
            if (*ch >= 'A' && *ch <= 'Z')
                *ch = (char)(*ch - 'A' + 'a');
        }
        rc = h2_stream_header(st, (const uint8_t *)buf + x->name.off, x->name.len,
                              (const uint8_t *)buf + x->value.off, x->value.len);
    }
    return rc == 0 ? 0 : -1;
}

int h2_upgrade(struct h2_session *s, const struct cu_h2_upgrade *up)
{
    static const char switching[] = "HTTP/1.1 101 Switching Protocols\r\n"
                                    "Connection: Upgrade\r\nUpgrade: h2c\r\n\r\n";
    const struct http_request *r = up->r;
    struct h2_stream *st;
    int rc;

    /* the 101 goes out first, then our SETTINGS (RFC 7540 3.2) */
    if (h2_append(&s->out, &s->out_len, &s->out_cap, switching, sizeof(switching) - 1) < 0 ||
        !(st = h2_stream_new(s, 1))) {
        cu_log(CU_ERROR, "HTTP/2: out of memory for an upgrade");
        return -1;
    }
    /* the client's SETTINGS, and stream 1 half-closed (remote) */
    rc = nghttp2_session_upgrade2(s->ng, up->settings, up->settings_len,
                                  http_span_ieq(up->buf, r->method, "HEAD"), st);
    if (rc != 0) {
        cu_log(CU_ERROR, "HTTP/2: upgrade: %s", nghttp2_strerror(rc));
        h2_stream_unref(st);
        return -1;
    }
    if (request_fields(st, up->buf, r) < 0)
        st->bad = 500;
    (void)h2_stream_request(st, 1);  /* a refused one is answered */
    return 0;
}
