/*
 * libFuzzer target for the PROXY protocol parser (src/http/proxy.c).
 *
 * Each input is sniffed and parsed in every mode from an exactly-sized heap
 * copy, so ASan reports any read past the end. The results are checked
 * against what the API promises; a broken promise calls abort().
 */
#include "http/proxy.h"

#include <arpa/inet.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char v1_prefix[] = "PROXY ";
static const char v2_signature[12] = {
    0x0D, 0x0A, 0x0D, 0x0A, 0x00, 0x0D, 0x0A, 0x51, 0x55, 0x49, 0x54, 0x0A
};

static void check(int cond)
{
    if (!cond)
        abort();
}

static char *copy_of(const uint8_t *data, size_t size)
{
    char *p = malloc(size > 0 ? size : 1);

    check(p != NULL);
    if (size > 0)
        memcpy(p, data, size);
    return p;
}

static int mode_has(enum http_proxy_mode m, int version)
{
    if (m == HTTP_PROXY_AUTO)
        return 1;
    return (version == 1 && m == HTTP_PROXY_V1) ||
           (version == 2 && m == HTTP_PROXY_V2);
}

/* What sniff must answer, written the slow and obvious way. */
static int expected_sniff(const uint8_t *d, size_t size, enum http_proxy_mode m)
{
    int again = 0;

    for (int v = 1; v <= 2; v++) {
        const char *sig = v == 1 ? v1_prefix : v2_signature;
        size_t n = v == 1 ? 6 : 12;
        size_t i;

        if (!mode_has(m, v))
            continue;
        for (i = 0; i < n && i < size; i++)
            if (d[i] != (uint8_t)sig[i])
                break;
        if (i == n)
            return v;
        if (i == size)
            again = 1;
    }
    return again ? HTTP_AGAIN : 0;
}

/* The same result: every member (the struct has padding now). */
static int same(const struct http_proxy *a, const struct http_proxy *b)
{
    return a->version == b->version && a->has_addr == b->has_addr &&
           memcmp(a->protocol, b->protocol, sizeof a->protocol) == 0 &&
           memcmp(a->src_addr, b->src_addr, sizeof a->src_addr) == 0 &&
           memcmp(a->dst_addr, b->dst_addr, sizeof a->dst_addr) == 0 &&
           a->src_port == b->src_port && a->dst_port == b->dst_port &&
           a->err.what == b->err.what && a->err.at.off == b->err.at.off &&
           a->err.at.len == b->err.at.len && a->err.n == b->err.n &&
           a->err.limit == b->err.limit;
}

/* Zero but for err, which says what an error was about. */
static int is_zero(const struct http_proxy *o)
{
    static const struct http_proxy zero;

    return memcmp(o, &zero, offsetof(struct http_proxy, err)) == 0;
}

static int64_t parse_copy(const uint8_t *data, size_t size,
                          enum http_proxy_mode m, struct http_proxy *out)
{
    char *buf = copy_of(data, size);
    int64_t rc;

    memset(out, 0xA5, sizeof *out);
    rc = http_proxy_parse(buf, size, m, out);
    free(buf);
    return rc;
}

/* An address the parser wrote must be valid; from v2 (binary) it is the
 * canonical text, from v1 the text as received. */
static void check_addr(const char *text, int af, int canonical)
{
    unsigned char bin[16];
    char again[HTTP_PROXY_ADDR_MAX];

    check(memchr(text, '\0', HTTP_PROXY_ADDR_MAX) != NULL);
    check(inet_pton(af, text, bin) == 1);
    check(inet_ntop(af, bin, again, sizeof again) != NULL);
    check(!canonical || strcmp(text, again) == 0);
}

/* A second reading of an accepted v1 line: exactly six fields split by
 * single spaces, each agreeing with what the parser reported. */
static void check_v1_line(const uint8_t *line, size_t len,
                          const struct http_proxy *o)
{
    const uint8_t *f[6];
    size_t flen[6];
    size_t count = 0, start = 0;
    int af = strcmp(o->protocol, "TCP4") == 0 ? AF_INET : AF_INET6;

    for (size_t i = 0; i <= len; i++) {
        if (i < len && line[i] != ' ')
            continue;
        check(count < 6);
        f[count] = line + start;
        flen[count] = i - start;
        count++;
        start = i + 1;
    }
    check(count == 6);
    check(flen[0] == 5 && memcmp(f[0], "PROXY", 5) == 0);
    check(flen[1] == 4 && memcmp(f[1], o->protocol, 4) == 0);
    for (int a = 2; a <= 3; a++) {
        char text[HTTP_PROXY_ADDR_MAX];
        unsigned char got[16], want[16];
        const char *out_text = a == 2 ? o->src_addr : o->dst_addr;

        check(flen[a] > 0 && flen[a] < sizeof text);
        memcpy(text, f[a], flen[a]);
        text[flen[a]] = '\0';
        check(strlen(text) == flen[a]);
        check(inet_pton(af, text, got) == 1);
        check(inet_pton(af, out_text, want) == 1);
        check(memcmp(got, want, af == AF_INET ? 4 : 16) == 0);
    }
    for (int p = 4; p <= 5; p++) {
        unsigned long v = 0;

        check(flen[p] >= 1 && flen[p] <= 5);
        for (size_t i = 0; i < flen[p]; i++) {
            check(f[p][i] >= '0' && f[p][i] <= '9');
            v = v * 10 + (unsigned long)(f[p][i] - '0');
        }
        check(v == (p == 4 ? o->src_port : o->dst_port));
    }
}

static void check_success(const uint8_t *data, size_t size, int64_t rc,
                          int sniffed, const struct http_proxy *o)
{
    size_t n = (size_t)rc;

    check(n <= size);
    check(o->version == sniffed);
    check(memchr(o->protocol, '\0', sizeof o->protocol) != NULL);
    check(memchr(o->src_addr, '\0', sizeof o->src_addr) != NULL);
    check(memchr(o->dst_addr, '\0', sizeof o->dst_addr) != NULL);

    if (o->has_addr) {
        check(o->has_addr == 1);
        if (strcmp(o->protocol, "TCP4") == 0) {
            check_addr(o->src_addr, AF_INET, o->version == 2);
            check_addr(o->dst_addr, AF_INET, o->version == 2);
        } else {
            check(strcmp(o->protocol, "TCP6") == 0);
            check_addr(o->src_addr, AF_INET6, o->version == 2);
            check_addr(o->dst_addr, AF_INET6, o->version == 2);
        }
    } else {
        check(o->version == 2);
        check(strcmp(o->protocol, "LOCAL") == 0 ||
              strcmp(o->protocol, "UNSPEC") == 0);
        check(o->src_addr[0] == '\0' && o->dst_addr[0] == '\0');
        check(o->src_port == 0 && o->dst_port == 0);
    }

    if (o->version == 1) {
        /* the line ends at the first CRLF and fits the limit */
        check(o->has_addr == 1);
        check(n >= 8 && n <= HTTP_PROXY_V1_MAX);
        check(data[n - 2] == '\r' && data[n - 1] == '\n');
        for (size_t i = 0; i + 2 < n; i++)
            check(!(data[i] == '\r' && data[i + 1] == '\n'));
        check_v1_line(data, n - 2, o);
    } else {
        check(n >= 16 && n == 16 + ((size_t)data[14] << 8 | data[15]));
    }
}

/* The header delimits itself: its own bytes parse alike, one fewer is
 * AGAIN. */
static void check_self_delimiting(const uint8_t *data, int64_t rc,
                                  enum http_proxy_mode m,
                                  const struct http_proxy *o)
{
    struct http_proxy o2;
    size_t n = (size_t)rc;

    check(parse_copy(data, n, m, &o2) == rc);
    check(same(o, &o2));
    check(parse_copy(data, n - 1, m, &o2) == HTTP_AGAIN);
    check(is_zero(&o2));
}

static void run_mode(const uint8_t *data, size_t size, enum http_proxy_mode m)
{
    struct http_proxy o, o2;
    char *buf = copy_of(data, size);
    int s = http_proxy_sniff(buf, size, m);
    int64_t rc;

    free(buf);
    check(s == expected_sniff(data, size, m));
    if (m == HTTP_PROXY_OFF)
        check(s == 0);

    rc = parse_copy(data, size, m, &o);
    check(parse_copy(data, size, m, &o2) == rc);       /* deterministic */
    check(same(&o, &o2));

    if (rc > 0) {
        check(s == 1 || s == 2);
        check_success(data, size, rc, s, &o);
        check_self_delimiting(data, rc, m, &o);
        return;
    }
    check(is_zero(&o));
    if (rc < 0 && rc != HTTP_AGAIN) {
        /* what the error noted lies in the input, and its text fits */
        char text[1024];

        check((uint64_t)o.err.at.off + o.err.at.len <= size);
        check(http_error_text((int)rc, &o.err, (const char *)data, text, sizeof(text)) <
                  sizeof(text) && text[0] != '\0');
    }
    switch (rc) {
    case 0:
        check(s == 0);
        break;
    case HTTP_AGAIN:
        check(s == HTTP_AGAIN || s == 1 || s == 2);
        break;
    case HTTP_E_PROXY_LINE:
        check(s == 1);
        break;
    case HTTP_E_PROXY_HEADER:
        check(s == 2);
        break;
    default:
        abort();
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const enum http_proxy_mode modes[] = {
        HTTP_PROXY_OFF, HTTP_PROXY_V1, HTTP_PROXY_V2, HTTP_PROXY_AUTO
    };

    for (size_t i = 0; i < sizeof modes / sizeof modes[0]; i++)
        run_mode(data, size, modes[i]);
    return 0;
}
