/*
 * The WebSocket opening handshake (RFC 6455 4.2): is a request a valid
 * upgrade, and the Sec-WebSocket-Accept that answers its key. SHA-1 is
 * ours (ws_sha1): the extension loads libcrypto only with TLS or HTTP/2
 * (src/http2/plugin.h), and a key's hash is 80 bytes' worth.
 */
#include <string.h>

#include "http/ws.h"

static const char WS_GUID[] = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";
static const char B64[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

static int lower(int c)
{
    return c >= 'A' && c <= 'Z' ? c + 32 : c;
}

int ws_list_next(const char *buf, size_t *pos, size_t end, size_t *s, size_t *e)
{
    size_t i = *pos;

    while (i < end && (buf[i] == ' ' || buf[i] == '\t' || buf[i] == ','))
        i++;
    if (i == end) {
        *pos = end;
        return 0;
    }
    *s = i;
    while (i < end && buf[i] != ',')
        i++;
    *e = i;
    while (*e > *s && (buf[*e - 1] == ' ' || buf[*e - 1] == '\t'))
        (*e)--;
    *pos = i;
    return 1;
}

int ws_has_token(const char *buf, struct http_span v, const char *token)
{
    size_t tl = strlen(token), i = v.off, end = (size_t)v.off + v.len, s, e;

    while (ws_list_next(buf, &i, end, &s, &e)) {
        if (e - s == tl) {
            size_t k = 0;
            while (k < tl && lower((unsigned char)buf[s + k]) == lower((unsigned char)token[k]))
                k++;
            if (k == tl)
                return 1;
        }
    }
    return 0;
}

static int is_b64(char c)
{
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
           c == '+' || c == '/';
}

/* base64 of 16 bytes: 22 characters of the alphabet then "==". */
static int key_ok(const char *s, size_t n)
{
    if (n != 24 || s[22] != '=' || s[23] != '=')
        return 0;
    for (size_t i = 0; i < 22; i++)
        if (!is_b64(s[i]))
            return 0;
    return 1;
}

struct hs_seen {
    int upgrade, connection, keys, versions, v13;
    struct http_span key;
};

static void hs_scan(const char *buf, const struct http_request *r, struct hs_seen *h)
{
    memset(h, 0, sizeof *h);
    for (uint32_t i = 0; i < r->n_headers; i++) {
        const struct http_header *x = &r->headers[i];
        if (x->id == HTTP_HDR_UPGRADE)
            h->upgrade |= ws_has_token(buf, x->value, "websocket");
        else if (x->id == HTTP_HDR_CONNECTION)
            h->connection |= ws_has_token(buf, x->value, "upgrade");
        else if (http_span_ieq(buf, x->name, "sec-websocket-key")) {
            h->keys++;
            h->key = x->value;
        } else if (http_span_ieq(buf, x->name, "sec-websocket-version")) {
            h->versions++;
            h->v13 = x->value.len == 2 && memcmp(buf + x->value.off, "13", 2) == 0;
        }
    }
}

int ws_check_upgrade(const char *buf, const struct http_request *r, struct http_span *key)
{
    struct hs_seen h;

    hs_scan(buf, r, &h);
    if (!h.upgrade || !h.connection)
        return WS_HS_NONE;
    if (r->method.len != 3 || memcmp(buf + r->method.off, "GET", 3) != 0)
        return WS_HS_BAD;
    if (r->major != 1 || r->minor < 1)
        return WS_HS_BAD;
    if (h.keys != 1 || !key_ok(buf + h.key.off, h.key.len))
        return WS_HS_BAD;
    if (h.versions != 1)
        return h.versions ? WS_HS_VERSION : WS_HS_BAD;
    if (!h.v13)
        return WS_HS_VERSION;
    *key = h.key;
    return WS_HS_OK;
}

static uint32_t rol(uint32_t x, int n)
{
    return x << n | x >> (32 - n);
}

static void sha1_block(uint32_t hs[5], const uint8_t *blk)
{
    uint32_t w[80], a = hs[0], b = hs[1], c = hs[2], d = hs[3], e = hs[4];

    for (size_t t = 0; t < 16; t++)
        w[t] = (uint32_t)blk[4 * t] << 24 | (uint32_t)blk[4 * t + 1] << 16 |
               (uint32_t)blk[4 * t + 2] << 8 | blk[4 * t + 3];
    for (int t = 16; t < 80; t++)
        w[t] = rol(w[t - 3] ^ w[t - 8] ^ w[t - 14] ^ w[t - 16], 1);
    for (int t = 0; t < 80; t++) {
        uint32_t f, k, tmp;
        if (t < 20) {
            f = (b & c) | (~b & d);
            k = 0x5A827999;
        } else if (t < 40) {
            f = b ^ c ^ d;
            k = 0x6ED9EBA1;
        } else if (t < 60) {
            f = (b & c) | (b & d) | (c & d);
            k = 0x8F1BBCDC;
        } else {
            f = b ^ c ^ d;
            k = 0xCA62C1D6;
        }
        tmp = rol(a, 5) + f + e + k + w[t];
        e = d;
        d = c;
        c = rol(b, 30);
        b = a;
        a = tmp;
    }
    hs[0] += a;
    hs[1] += b;
    hs[2] += c;
    hs[3] += d;
    hs[4] += e;
}

void ws_sha1(const uint8_t *s, size_t n, uint8_t out[20])
{
    uint32_t hs[5] = {0x67452301, 0xEFCDAB89, 0x98BADCFE, 0x10325476, 0xC3D2E1F0};
    uint8_t last[128];
    size_t full = n / 64 * 64, rest = n - full, tail;
    uint64_t bits = (uint64_t)n * 8;

    for (size_t i = 0; i < full; i += 64)
        sha1_block(hs, s + i);
    /* the padding: 0x80, zeros, the length in bits; one block or two */
    memset(last, 0, sizeof last);
    if (rest)
        memcpy(last, s + full, rest);
    last[rest] = 0x80;
    tail = rest < 56 ? 64 : 128;
    for (int i = 0; i < 8; i++)
        last[tail - 1 - (size_t)i] = (uint8_t)(bits >> (8 * i));
    for (size_t i = 0; i < tail; i += 64)
        sha1_block(hs, last + i);
    for (int i = 0; i < 20; i++)
        out[i] = (uint8_t)(hs[i / 4] >> (24 - 8 * (i % 4)));
}

int ws_accept_key(const char *key, size_t klen, char out[29])
{
    uint8_t in[64], d[21];
    size_t glen = sizeof WS_GUID - 1, o = 0;

    if (klen > sizeof in - glen)
        return -1;
    memcpy(in, key, klen);
    memcpy(in + klen, WS_GUID, glen);
    ws_sha1(in, klen + glen, d);
    d[20] = 0;  /* the last group's third byte */
    /* base64 of 20 bytes: six groups of three, then two bytes and '=' */
    for (size_t i = 0; i < 20; i += 3) {
        uint32_t v = (uint32_t)d[i] << 16 | (uint32_t)d[i + 1] << 8 | d[i + 2];
        out[o++] = B64[v >> 18 & 63];
        out[o++] = B64[v >> 12 & 63];
        out[o++] = B64[v >> 6 & 63];
        out[o++] = (char)(i + 2 < 20 ? B64[v & 63] : '=');
    }
    out[o] = '\0';
    return 0;
}
