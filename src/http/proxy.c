/*
 * PROXY protocol v1 (one text line) and v2 (a binary block) at the start
 * of a connection. See proxy.h for the API; the rules are Gunicorn 26.1's,
 * with the stricter choices of cunicorn marked OURS.
 *
 * Everything works on the caller's buffer and never reads at or past len.
 * The output struct is only written in full: it stays zeroed unless the
 * parse succeeds.
 */
#include "proxy.h"

#include <arpa/inet.h>
#include <string.h>

static const char v1_prefix[6] = {'P', 'R', 'O', 'X', 'Y', ' '};

static const char v2_signature[12] = {
    0x0D, 0x0A, 0x0D, 0x0A, 0x00, 0x0D, 0x0A, 0x51, 0x55, 0x49, 0x54, 0x0A
};

#define V2_HEAD_LEN 16      /* signature, ver/cmd, fam/transport, length */
#define V1_FIELDS 6         /* PROXY proto src dst sport dport */
#define V1_PORT_DIGITS 5

enum { V2_CMD_LOCAL = 0x0, V2_CMD_PROXY = 0x1 };
enum { V2_FAM_UNSPEC = 0x0, V2_FAM_INET = 0x1, V2_FAM_INET6 = 0x2 };
enum { V2_TRANSPORT_STREAM = 0x1 };

#define V2_INET_ADDR_LEN 12     /* 4 + 4 + 2 + 2 */
#define V2_INET6_ADDR_LEN 36    /* 16 + 16 + 2 + 2 */

/* 1: buf starts with all of sig; HTTP_AGAIN: buf is a shorter prefix of
 * sig; 0: buf differs from sig somewhere in its first bytes. */
static int match_prefix(const char *buf, size_t len, const char *sig,
                        size_t siglen)
{
    size_t n = len < siglen ? len : siglen;

    if (n > 0 && memcmp(buf, sig, n) != 0)
        return 0;
    return len >= siglen ? 1 : HTTP_AGAIN;
}

int http_proxy_sniff(const char *buf, size_t len, enum http_proxy_mode mode)
{
    int want_v1 = mode == HTTP_PROXY_V1 || mode == HTTP_PROXY_AUTO;
    int want_v2 = mode == HTTP_PROXY_V2 || mode == HTTP_PROXY_AUTO;
    int again = 0;
    int r;

    /* The two signatures differ in their first byte, so at most one of
     * them can match. */
    if (want_v1) {
        r = match_prefix(buf, len, v1_prefix, sizeof v1_prefix);
        if (r == 1)
            return 1;
        again |= r == HTTP_AGAIN;
    }
    if (want_v2) {
        r = match_prefix(buf, len, v2_signature, sizeof v2_signature);
        if (r == 1)
            return 2;
        again |= r == HTTP_AGAIN;
    }
    return again ? HTTP_AGAIN : 0;
}

/* name is one of the four literals, each shorter than the field. */
static void set_protocol(struct http_proxy *r, const char *name)
{
    size_t n = strlen(name);

    if (n < sizeof r->protocol)
        memcpy(r->protocol, name, n + 1);
}

/* ---- v1 ---------------------------------------------------------------- */

struct field {
    const char *p;
    size_t n;
};

/* Offset of the first CRLF's CR in buf[0..len), or len when there is none. */
static size_t find_crlf(const char *buf, size_t len)
{
    const char *p = buf;
    const char *end = buf + len;

    while (p < end) {
        const char *cr = memchr(p, '\r', (size_t)(end - p));

        if (cr == NULL || cr + 1 >= end)
            break;
        if (cr[1] == '\n')
            return (size_t)(cr - buf);
        p = cr + 1;
    }
    return len;
}

/* Splits line[0..n) on every single SP into exactly V1_FIELDS fields.
 * Returns 0, or -1 for another number of fields. Empty fields (two SPs in
 * a row, a leading or trailing SP) are kept and rejected by their checks. */
static int split_fields(const char *line, size_t n, struct field *f)
{
    size_t count = 0;
    size_t start = 0;

    for (size_t i = 0; i <= n; i++) {
        if (i < n && line[i] != ' ')
            continue;
        if (count == V1_FIELDS)
            return -1;
        f[count].p = line + start;
        f[count].n = i - start;
        count++;
        start = i + 1;
    }
    return count == V1_FIELDS ? 0 : -1;
}

static int field_is(struct field f, const char *s)
{
    size_t n = strlen(s);

    return f.n == n && memcmp(f.p, s, n) == 0;
}

/* Checks an address of family af and copies its text, as received (as
 * Gunicorn reports it), to out (HTTP_PROXY_ADDR_MAX bytes). 0 or -1. */
static int v1_addr(struct field f, int af, char *out)
{
    char text[HTTP_PROXY_ADDR_MAX];
    unsigned char bin[16];

    if (f.n == 0 || f.n >= sizeof text)
        return -1;
    /* inet_pton stops at a NUL: "1.2.3.4\0junk" must not pass. */
    if (memchr(f.p, '\0', f.n) != NULL)
        return -1;
    memcpy(text, f.p, f.n);
    text[f.n] = '\0';
    if (inet_pton(af, text, bin) != 1)
        return -1;
    memcpy(out, text, f.n + 1);
    return 0;
}

/* OURS: 1 to 5 ASCII digits with a value of at most 65535. */
static int v1_port(struct field f, uint16_t *out)
{
    uint32_t v = 0;

    if (f.n == 0 || f.n > V1_PORT_DIGITS)
        return -1;
    for (size_t i = 0; i < f.n; i++) {
        if (f.p[i] < '0' || f.p[i] > '9')
            return -1;
        v = v * 10 + (uint32_t)(f.p[i] - '0');
    }
    if (v > UINT16_MAX)
        return -1;
    *out = (uint16_t)v;
    return 0;
}

/* Notes what an error was about and returns its code. */
static int fail(struct http_proxy *out, int code, uint8_t what, size_t off,
                size_t len, uint32_t n)
{
    out->err.what = what;
    out->err.at.off = (uint32_t)off;
    out->err.at.len = (uint32_t)len;
    out->err.n = n;
    return code;
}

static int64_t parse_v1(const char *buf, size_t len, struct http_proxy *out)
{
    size_t scan = len < HTTP_PROXY_V1_MAX ? len : HTTP_PROXY_V1_MAX;
    size_t line_len = find_crlf(buf, scan);
    struct field f[V1_FIELDS];
    struct http_proxy r;
    int af;

    if (line_len == scan) {
        /* OURS: no CRLF within the longest allowed line: give up now
         * rather than buffer without end. */
        return len >= HTTP_PROXY_V1_MAX
                   ? fail(out, HTTP_E_PROXY_LINE, HTTP_W_PROXY_LINE, 0, scan, 0)
                   : HTTP_AGAIN;
    }
    if (split_fields(buf, line_len, f) != 0 || !field_is(f[0], "PROXY"))
        return fail(out, HTTP_E_PROXY_LINE, HTTP_W_PROXY_LINE, 0, line_len, 0);

    memset(&r, 0, sizeof r);
    if (field_is(f[1], "TCP4"))
        af = AF_INET;
    else if (field_is(f[1], "TCP6"))
        af = AF_INET6;
    else    /* UNKNOWN is refused, as Gunicorn does */
        return fail(out, HTTP_E_PROXY_LINE, HTTP_W_PROXY_PROTO,
                    (size_t)(f[1].p - buf), f[1].n, 0);
    set_protocol(&r, af == AF_INET ? "TCP4" : "TCP6");

    if (v1_addr(f[2], af, r.src_addr) != 0 ||
        v1_addr(f[3], af, r.dst_addr) != 0)
        return fail(out, HTTP_E_PROXY_LINE, HTTP_W_PROXY_LINE, 0, line_len, 0);
    if (v1_port(f[4], &r.src_port) != 0 ||
        v1_port(f[5], &r.dst_port) != 0)
        return fail(out, HTTP_E_PROXY_LINE, HTTP_W_PROXY_PORT, 0, line_len, 0);

    r.version = 1;
    r.has_addr = 1;
    *out = r;
    return (int64_t)line_len + 2;
}

/* ---- v2 ---------------------------------------------------------------- */

static uint16_t be16(const unsigned char *p)
{
    return (uint16_t)((unsigned)p[0] << 8 | p[1]);
}

/* Checks what the 16-byte head alone can tell. OURS: done before the
 * address block has arrived, so a bad head is refused at once instead of
 * after up to 64 KiB of it. Returns 0 or HTTP_E_PROXY_HEADER. */
static int v2_check_head(const unsigned char *b, struct http_proxy *out)
{
    unsigned version = b[12] >> 4;
    unsigned command = b[12] & 0x0F;
    unsigned family = b[13] >> 4;
    unsigned transport = b[13] & 0x0F;
    uint16_t addr_len = be16(b + 14);

    if (version != 2)
        return fail(out, HTTP_E_PROXY_HEADER, HTTP_W_PROXY_VERSION, 0, 0, version);
    if (command == V2_CMD_LOCAL)
        return 0;       /* family and transport are ignored */
    if (command != V2_CMD_PROXY)
        return fail(out, HTTP_E_PROXY_HEADER, HTTP_W_PROXY_COMMAND, 0, 0, command);
    if (transport != V2_TRANSPORT_STREAM)
        return fail(out, HTTP_E_PROXY_HEADER, HTTP_W_PROXY_TRANSPORT, 0, 0, 0);
    switch (family) {
    case V2_FAM_UNSPEC:
        return 0;
    case V2_FAM_INET:
        return addr_len >= V2_INET_ADDR_LEN
                   ? 0 : fail(out, HTTP_E_PROXY_HEADER, HTTP_W_PROXY_SHORT4, 0, 0, 0);
    case V2_FAM_INET6:
        return addr_len >= V2_INET6_ADDR_LEN
                   ? 0 : fail(out, HTTP_E_PROXY_HEADER, HTTP_W_PROXY_SHORT6, 0, 0, 0);
    default:            /* UNIX and undefined families */
        return fail(out, HTTP_E_PROXY_HEADER, HTTP_W_PROXY_FAMILY, 0, 0, family);
    }
}

/* Fills r from a v2 address block (its length already checked). */
static int v2_addrs(const unsigned char *a, int af, size_t alen,
                    struct http_proxy *r)
{
    if (inet_ntop(af, a, r->src_addr, sizeof r->src_addr) == NULL ||
        inet_ntop(af, a + alen, r->dst_addr, sizeof r->dst_addr) == NULL)
        return HTTP_E_PROXY_HEADER;
    r->src_port = be16(a + 2 * alen);
    r->dst_port = be16(a + 2 * alen + 2);
    r->has_addr = 1;
    set_protocol(r, af == AF_INET ? "TCP4" : "TCP6");
    return 0;
}

static int64_t parse_v2(const char *buf, size_t len, struct http_proxy *out)
{
    const unsigned char *b = (const unsigned char *)buf;
    struct http_proxy r;
    size_t total;
    int rc;

    if (len < V2_HEAD_LEN)
        return HTTP_AGAIN;
    rc = v2_check_head(b, out);
    if (rc != 0)
        return rc;
    total = V2_HEAD_LEN + (size_t)be16(b + 14);
    if (len < total)
        return HTTP_AGAIN;

    memset(&r, 0, sizeof r);
    r.version = 2;
    if ((b[12] & 0x0F) == V2_CMD_LOCAL) {
        set_protocol(&r, "LOCAL");
    } else {
        switch (b[13] >> 4) {
        case V2_FAM_INET:
            rc = v2_addrs(b + V2_HEAD_LEN, AF_INET, 4, &r);
            break;
        case V2_FAM_INET6:
            rc = v2_addrs(b + V2_HEAD_LEN, AF_INET6, 16, &r);
            break;
        default:
            set_protocol(&r, "UNSPEC");  /* the only family left */
            break;
        }
        if (rc != 0)
            return rc;
    }
    *out = r;
    return (int64_t)total;      /* TLVs past the addresses are skipped */
}

int64_t http_proxy_parse(const char *buf, size_t len,
                         enum http_proxy_mode mode, struct http_proxy *out)
{
    memset(out, 0, sizeof *out);
    switch (http_proxy_sniff(buf, len, mode)) {
    case 1:
        return parse_v1(buf, len, out);
    case 2:
        return parse_v2(buf, len, out);
    case HTTP_AGAIN:
        return HTTP_AGAIN;
    default:
        return 0;
    }
}
