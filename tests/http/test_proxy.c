/*
 * Tests of the PROXY protocol parser (src/http/proxy.c).
 *
 * Cases are data: raw input plus the expected result. Each input is
 * copied to the very end of a readable area followed by a PROT_NONE page,
 * so a read past len crashes even without ASan. Every input is also
 * replayed cut at every byte boundary, and with more bytes after it.
 */
#include "http/proxy.h"
#include "../lib/tap.h"

#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#define S(lit) lit, sizeof(lit) - 1

/* v2 pieces. Literals are split so a hex escape never runs into the next
 * byte. */
#define SIG "\r\n\r\n\0\r\nQUIT\n"
#define V4ADDR "\xc0\xa8\x01\x0a" "\xc0\xa8\x01\x01" "\x30\x39" "\x01\xbb"
#define V6_1 "\x20\x01\x0d\xb8" "\0\0\0\0\0\0\0\0\0\0\0" "\x01"
#define V6_2 "\x20\x01\x0d\xb8" "\0\0\0\0\0\0\0\0\0\0\0" "\x02"
#define V6ADDR V6_1 V6_2 "\xd4\x31" "\x00\x50"
#define ZERO16 "\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0"

#define REQUEST "GET / HTTP/1.1\r\nHost: x\r\n\r\n"
#define GUARD_AREA ((size_t)128 * 1024)  /* readable bytes before the guard */
#define BIG_TOTAL (16 + 65535)

/* The longest v1 line we take, and one byte more. */
#define V1_LINE_107 \
    "PROXY TCP6 0000:0000:0000:0000:0000:ffff:255.255.255.255 " \
    "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff 12345 12\r\n"
#define V1_LINE_108 \
    "PROXY TCP6 0000:0000:0000:0000:0000:ffff:255.255.255.255 " \
    "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff 12345 012\r\n"
_Static_assert(sizeof(V1_LINE_107) - 1 == HTTP_PROXY_V1_MAX, "107 bytes");
_Static_assert(sizeof(V1_LINE_108) - 1 == HTTP_PROXY_V1_MAX + 1, "108 bytes");

static char *guard_end;     /* first byte of the PROT_NONE page */

static const enum http_proxy_mode all_modes[] = {
    HTTP_PROXY_OFF, HTTP_PROXY_V1, HTTP_PROXY_V2, HTTP_PROXY_AUTO
};

static const char *mode_name(enum http_proxy_mode m)
{
    switch (m) {
    case HTTP_PROXY_OFF: return "off";
    case HTTP_PROXY_V1: return "v1";
    case HTTP_PROXY_V2: return "v2";
    case HTTP_PROXY_AUTO: return "auto";
    }
    return "?";
}

static int mode_has(enum http_proxy_mode m, int version)
{
    if (m == HTTP_PROXY_AUTO)
        return version == 1 || version == 2;
    return (version == 1 && m == HTTP_PROXY_V1) ||
           (version == 2 && m == HTTP_PROXY_V2);
}

static size_t sig_len(int version)
{
    return version == 1 ? 6 : 12;
}

static int guard_init(void)
{
    long page = sysconf(_SC_PAGESIZE);
    size_t area;
    char *map;

    if (page <= 0)
        return -1;
    area = ((size_t)GUARD_AREA + (size_t)page - 1) / (size_t)page * (size_t)page;
    map = mmap(NULL, area + (size_t)page, PROT_READ | PROT_WRITE,
               MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (map == MAP_FAILED)
        return -1;
    if (mprotect(map + area, (size_t)page, PROT_NONE) != 0)
        return -1;
    guard_end = map + area;
    return 0;
}

/* Copies in[0..n) so that it ends right before the guard page. */
static const char *place(const void *in, size_t n)
{
    char *dst;

    if (n > GUARD_AREA)
        abort();
    dst = guard_end - n;
    if (n > 0)
        memcpy(dst, in, n);
    return dst;
}

static int64_t parse_at_end(const void *in, size_t n, enum http_proxy_mode m,
                            struct http_proxy *out)
{
    const char *p = place(in, n);

    memset(out, 0xA5, sizeof *out);     /* parse must zero it */
    return http_proxy_parse(p, n, m, out);
}

static int sniff_at_end(const void *in, size_t n, enum http_proxy_mode m)
{
    return http_proxy_sniff(place(in, n), n, m);
}

/* Zero but for err, which says what an error was about (test_texts.c). */
static int is_zero(const struct http_proxy *o)
{
    static const struct http_proxy zero;

    return memcmp(o, &zero, offsetof(struct http_proxy, err)) == 0;
}

static int terminated(const struct http_proxy *o)
{
    return memchr(o->protocol, '\0', sizeof o->protocol) != NULL &&
           memchr(o->src_addr, '\0', sizeof o->src_addr) != NULL &&
           memchr(o->dst_addr, '\0', sizeof o->dst_addr) != NULL;
}

/* ---- valid headers ------------------------------------------------------ */

struct valid_case {
    const char *name;
    const char *in;
    size_t len;         /* the whole input is the header */
    int version;
    int has_addr;
    const char *protocol;
    const char *src;
    const char *dst;
    uint16_t sport;
    uint16_t dport;
};

static const struct valid_case valid_cases[] = {
    {"v1 TCP4 (HAProxy example)",
     S("PROXY TCP4 192.168.0.1 192.168.0.11 56324 443\r\n"),
     1, 1, "TCP4", "192.168.0.1", "192.168.0.11", 56324, 443},
    {"v1 TCP6",
     S("PROXY TCP6 2001:db8::1 2001:db8::2 1234 80\r\n"),
     1, 1, "TCP6", "2001:db8::1", "2001:db8::2", 1234, 80},
    {"v1 TCP4 extremes",
     S("PROXY TCP4 0.0.0.0 255.255.255.255 0 65535\r\n"),
     1, 1, "TCP4", "0.0.0.0", "255.255.255.255", 0, 65535},
    {"v1 TCP4 longest fields",
     S("PROXY TCP4 255.255.255.255 255.255.255.255 65535 65535\r\n"),
     1, 1, "TCP4", "255.255.255.255", "255.255.255.255", 65535, 65535},
    {"v1 TCP6 addresses kept as received",
     S("PROXY TCP6 2001:0DB8:0000:0000:0000:0000:0000:0001 ::1 1 2\r\n"),
     1, 1, "TCP6", "2001:0DB8:0000:0000:0000:0000:0000:0001", "::1", 1, 2},
    {"v1 TCP6 mapped, ports with leading zeros",
     S("PROXY TCP6 ::ffff:192.0.2.1 :: 00080 08080\r\n"),
     1, 1, "TCP6", "::ffff:192.0.2.1", "::", 80, 8080},
    {"v1 line of exactly 107 bytes",
     S(V1_LINE_107),
     1, 1, "TCP6", "0000:0000:0000:0000:0000:ffff:255.255.255.255",
     "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", 12345, 12},
    {"v2 IPv4 (Gunicorn sample)",
     S(SIG "\x21\x11\x00\x0c" V4ADDR),
     2, 1, "TCP4", "192.168.1.10", "192.168.1.1", 12345, 443},
    {"v2 IPv6 (Gunicorn sample)",
     S(SIG "\x21\x21\x00\x24" V6ADDR),
     2, 1, "TCP6", "2001:db8::1", "2001:db8::2", 54321, 80},
    {"v2 IPv4 extremes",
     S(SIG "\x21\x11\x00\x0c" "\0\0\0\0" "\xff\xff\xff\xff" "\0\0" "\xff\xff"),
     2, 1, "TCP4", "0.0.0.0", "255.255.255.255", 0, 65535},
    {"v2 IPv6 unspecified and mapped",
     S(SIG "\x21\x21\x00\x24" ZERO16
       "\0\0\0\0\0\0\0\0\0\0" "\xff\xff" "\x01\x02\x03\x04" "\x00\x01" "\xff\xfe"),
     2, 1, "TCP6", "::", "::ffff:1.2.3.4", 1, 65534},
    {"v2 IPv4 with a TLV",
     S(SIG "\x21\x11\x00\x13" V4ADDR "\x03\x00\x04" "\xde\xad\xbe\xef"),
     2, 1, "TCP4", "192.168.1.10", "192.168.1.1", 12345, 443},
    {"v2 IPv6 with a TLV",
     S(SIG "\x21\x21\x00\x2b" V6ADDR "\x04\x00\x04" "\0\0\0\0"),
     2, 1, "TCP6", "2001:db8::1", "2001:db8::2", 54321, 80},
    {"v2 LOCAL, empty",
     S(SIG "\x20\x00\x00\x00"),
     2, 0, "LOCAL", "", "", 0, 0},
    {"v2 LOCAL ignores family and transport",
     S(SIG "\x20\xff\x00\x03" "abc"),
     2, 0, "LOCAL", "", "", 0, 0},
    {"v2 LOCAL with an address block (health check)",
     S(SIG "\x20\x11\x00\x0c" V4ADDR),
     2, 0, "LOCAL", "", "", 0, 0},
    {"v2 LOCAL with a short INET block",
     S(SIG "\x20\x11\x00\x02" "\x01\x02"),
     2, 0, "LOCAL", "", "", 0, 0},
    {"v2 UNSPEC",
     S(SIG "\x21\x01\x00\x00"),
     2, 0, "UNSPEC", "", "", 0, 0},
    {"v2 UNSPEC with bytes after",
     S(SIG "\x21\x01\x00\x04" "\x01\x02\x03\x04"),
     2, 0, "UNSPEC", "", "", 0, 0},
};

static int result_is(const struct http_proxy *o, const struct valid_case *c)
{
    return terminated(o) && o->version == c->version &&
           o->has_addr == c->has_addr &&
           strcmp(o->protocol, c->protocol) == 0 &&
           strcmp(o->src_addr, c->src) == 0 &&
           strcmp(o->dst_addr, c->dst) == 0 &&
           o->src_port == c->sport && o->dst_port == c->dport;
}

static void show(const struct http_proxy *o)
{
    diag("got v%u has_addr=%u proto=%.8s src=%.46s:%u dst=%.46s:%u",
         o->version, o->has_addr, o->protocol, o->src_addr, o->src_port,
         o->dst_addr, o->dst_port);
}

/* Every prefix: parse says AGAIN and leaves out zeroed; sniff says AGAIN
 * until the signature is complete, then the version. */
static void check_prefixes(const struct valid_case *c, enum http_proxy_mode m)
{
    struct http_proxy o;
    size_t bad_parse = c->len, bad_sniff = c->len;

    for (size_t k = 0; k < c->len; k++) {
        int64_t rc = parse_at_end(c->in, k, m, &o);
        int want = k < sig_len(c->version) ? HTTP_AGAIN : c->version;

        if (bad_parse == c->len && (rc != HTTP_AGAIN || !is_zero(&o)))
            bad_parse = k;
        if (bad_sniff == c->len && sniff_at_end(c->in, k, m) != want)
            bad_sniff = k;
    }
    ok(bad_parse == c->len, "%s [%s]: every prefix is AGAIN", c->name,
       mode_name(m));
    if (bad_parse != c->len)
        diag("first failing prefix: %zu bytes", bad_parse);
    ok(bad_sniff == c->len, "%s [%s]: sniff of every prefix", c->name,
       mode_name(m));
    if (bad_sniff != c->len)
        diag("first failing prefix: %zu bytes", bad_sniff);
}

static void check_valid(const struct valid_case *c)
{
    static char with_req[512];
    struct http_proxy o;
    int64_t rc;

    for (size_t i = 0; i < sizeof all_modes / sizeof all_modes[0]; i++) {
        enum http_proxy_mode m = all_modes[i];

        if (!mode_has(m, c->version)) {
            rc = parse_at_end(c->in, c->len, m, &o);
            ok(rc == 0 && is_zero(&o) && sniff_at_end(c->in, c->len, m) == 0,
               "%s [%s]: not a header in this mode", c->name, mode_name(m));
            continue;
        }
        rc = parse_at_end(c->in, c->len, m, &o);
        if (!ok(rc == (int64_t)c->len && result_is(&o, c), "%s [%s]: parsed",
                c->name, mode_name(m))) {
            diag("rc=%lld want %zu", (long long)rc, c->len);
            show(&o);
        }
        ok(sniff_at_end(c->in, c->len, m) == c->version, "%s [%s]: sniff",
           c->name, mode_name(m));

        if (c->len + sizeof REQUEST > sizeof with_req)
            abort();
        memcpy(with_req, c->in, c->len);
        memcpy(with_req + c->len, REQUEST, sizeof REQUEST - 1);
        rc = parse_at_end(with_req, c->len + sizeof REQUEST - 1, m, &o);
        ok(rc == (int64_t)c->len && result_is(&o, c),
           "%s [%s]: request after it is left alone", c->name, mode_name(m));
        check_prefixes(c, m);
    }
}

/* ---- inputs that are refused or are no header --------------------------- */

struct bad_case {
    const char *name;
    const char *in;
    size_t len;
    int version;    /* the signature it carries: 1, 2, or 0 for none */
    int want;       /* result when that version is enabled */
};

#define V1BAD(name, lit) {name, S(lit), 1, HTTP_E_PROXY_LINE}
#define V2BAD(name, lit) {name, S(lit), 2, HTTP_E_PROXY_HEADER}

static const struct bad_case bad_cases[] = {
    /* v1: the protocol field */
    V1BAD("v1 UNKNOWN alone", "PROXY UNKNOWN\r\n"),
    V1BAD("v1 UNKNOWN with addresses",
          "PROXY UNKNOWN ffff:f...f:ffff ffff:f...f:ffff 65535 65535\r\n"),
    V1BAD("v1 UNKNOWN with TCP4 fields",
          "PROXY UNKNOWN 1.2.3.4 5.6.7.8 80 443\r\n"),
    V1BAD("v1 TCP5", "PROXY TCP5 1.2.3.4 5.6.7.8 80 443\r\n"),
    V1BAD("v1 lower-case tcp4", "PROXY tcp4 1.2.3.4 5.6.7.8 80 443\r\n"),
    V1BAD("v1 TCP", "PROXY TCP 1.2.3.4 5.6.7.8 80 443\r\n"),
    V1BAD("v1 TCP44", "PROXY TCP44 1.2.3.4 5.6.7.8 80 443\r\n"),
    V1BAD("v1 UDP4", "PROXY UDP4 1.2.3.4 5.6.7.8 80 443\r\n"),
    V1BAD("v1 empty protocol", "PROXY  1.2.3.4 5.6.7.8 80 443\r\n"),
    /* v1: the number of fields and the separators */
    V1BAD("v1 nothing after PROXY", "PROXY \r\n"),
    V1BAD("v1 protocol only", "PROXY TCP4\r\n"),
    V1BAD("v1 five fields", "PROXY TCP4 1.2.3.4 5.6.7.8 80\r\n"),
    V1BAD("v1 seven fields", "PROXY TCP4 1.2.3.4 5.6.7.8 80 443 x\r\n"),
    V1BAD("v1 two spaces", "PROXY TCP4  1.2.3.4 5.6.7.8 80 443\r\n"),
    V1BAD("v1 two spaces after PROXY", "PROXY  TCP4 1.2.3.4 5.6.7.8 80 443\r\n"),
    V1BAD("v1 trailing space", "PROXY TCP4 1.2.3.4 5.6.7.8 80 443 \r\n"),
    V1BAD("v1 tab separator", "PROXY TCP4\t1.2.3.4 5.6.7.8 80 443\r\n"),
    V1BAD("v1 tab before CRLF", "PROXY TCP4 1.2.3.4 5.6.7.8 80 443\t\r\n"),
    V1BAD("v1 CR inside the line", "PROXY TCP4 1.2.3.4 5.6.7.8 80 443\r\r\n"),
    V1BAD("v1 LF then a request line",
          "PROXY TCP4 1.2.3.4 5.6.7.8 80 443\nGET / HTTP/1.1\r\n"),
    V1BAD("v1 NUL after an address",
          "PROXY TCP4 1.2.3.4\0 5.6.7.8 80 443\r\n"),
    V1BAD("v1 NUL in a port", "PROXY TCP4 1.2.3.4 5.6.7.8 8\0 443\r\n"),
    /* v1: the source address */
    V1BAD("v1 TCP4 with an IPv6 source", "PROXY TCP4 ::1 5.6.7.8 80 443\r\n"),
    V1BAD("v1 TCP4 source octet 256", "PROXY TCP4 256.2.3.4 5.6.7.8 80 443\r\n"),
    V1BAD("v1 TCP4 source of 3 parts", "PROXY TCP4 1.2.3 5.6.7.8 80 443\r\n"),
    V1BAD("v1 TCP4 source of 5 parts", "PROXY TCP4 1.2.3.4.5 5.6.7.8 80 443\r\n"),
    V1BAD("v1 TCP4 source leading zero", "PROXY TCP4 01.2.3.4 5.6.7.8 80 443\r\n"),
    V1BAD("v1 TCP4 source with a letter", "PROXY TCP4 1.2.3.4a 5.6.7.8 80 443\r\n"),
    V1BAD("v1 TCP4 source hostname", "PROXY TCP4 localhost 5.6.7.8 80 443\r\n"),
    V1BAD("v1 TCP4 source with a port", "PROXY TCP4 1.2.3.4:1 5.6.7.8 80 443\r\n"),
    V1BAD("v1 TCP4 source of 46 chars",
          "PROXY TCP4 1.2.3.4......................................0 "
          "5.6.7.8 80 443\r\n"),
    V1BAD("v1 TCP6 with an IPv4 source", "PROXY TCP6 1.2.3.4 ::2 80 443\r\n"),
    V1BAD("v1 TCP6 source with two ::", "PROXY TCP6 1::2::3 ::2 80 443\r\n"),
    V1BAD("v1 TCP6 source group of 5 digits",
          "PROXY TCP6 00000::1 ::2 80 443\r\n"),
    V1BAD("v1 TCP6 source with a zone", "PROXY TCP6 fe80::1%eth0 ::2 80 443\r\n"),
    V1BAD("v1 TCP6 source in brackets", "PROXY TCP6 [::1] ::2 80 443\r\n"),
    V1BAD("v1 TCP6 source of 9 groups",
          "PROXY TCP6 1:2:3:4:5:6:7:8:9 ::2 80 443\r\n"),
    V1BAD("v1 TCP6 source of 46 chars",
          "PROXY TCP6 0000:0000:0000:0000:0000:ffff:255.255.255.2550 "
          "::2 80 443\r\n"),
    /* v1: the destination address */
    V1BAD("v1 TCP4 with an IPv6 destination", "PROXY TCP4 1.2.3.4 ::1 80 443\r\n"),
    V1BAD("v1 TCP4 destination octet 256",
          "PROXY TCP4 1.2.3.4 5.6.7.256 80 443\r\n"),
    V1BAD("v1 TCP4 destination empty octet",
          "PROXY TCP4 1.2.3.4 5..7.8 80 443\r\n"),
    V1BAD("v1 TCP6 with an IPv4 destination", "PROXY TCP6 ::1 5.6.7.8 80 443\r\n"),
    V1BAD("v1 TCP6 destination :::", "PROXY TCP6 ::1 ::: 80 443\r\n"),
    V1BAD("v1 TCP6 destination of 9 groups",
          "PROXY TCP6 ::1 ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff "
          "80 443\r\n"),
    V1BAD("v1 TCP6 destination of 60 chars",
          "PROXY TCP6 ::1 0000:0000:0000:0000:0000:0000:0000:0000:0000:0000:"
          "0000:0000 80 443\r\n"),
    /* v1: the source port */
    V1BAD("v1 source port 65536", "PROXY TCP4 1.2.3.4 5.6.7.8 65536 443\r\n"),
    V1BAD("v1 source port 99999", "PROXY TCP4 1.2.3.4 5.6.7.8 99999 443\r\n"),
    V1BAD("v1 source port of 6 digits",
          "PROXY TCP4 1.2.3.4 5.6.7.8 000080 443\r\n"),
    V1BAD("v1 source port -1", "PROXY TCP4 1.2.3.4 5.6.7.8 -1 443\r\n"),
    V1BAD("v1 source port +80", "PROXY TCP4 1.2.3.4 5.6.7.8 +80 443\r\n"),
    V1BAD("v1 source port 8a", "PROXY TCP4 1.2.3.4 5.6.7.8 8a 443\r\n"),
    V1BAD("v1 source port 0x50", "PROXY TCP4 1.2.3.4 5.6.7.8 0x50 443\r\n"),
    V1BAD("v1 source port with a dot", "PROXY TCP4 1.2.3.4 5.6.7.8 8.0 443\r\n"),
    V1BAD("v1 source port non-ASCII digit",
          "PROXY TCP4 1.2.3.4 5.6.7.8 \xd9\xa8 443\r\n"),
    /* v1: the destination port */
    V1BAD("v1 destination port 65536", "PROXY TCP4 1.2.3.4 5.6.7.8 80 65536\r\n"),
    V1BAD("v1 destination port of 6 digits",
          "PROXY TCP4 1.2.3.4 5.6.7.8 80 100000\r\n"),
    V1BAD("v1 destination port empty", "PROXY TCP4 1.2.3.4 5.6.7.8 80 \r\n"),
    V1BAD("v1 destination port -0", "PROXY TCP4 1.2.3.4 5.6.7.8 80 -0\r\n"),
    V1BAD("v1 destination port x", "PROXY TCP4 1.2.3.4 5.6.7.8 80 x\r\n"),
    V1BAD("v1 destination port with a CR",
          "PROXY TCP4 1.2.3.4 5.6.7.8 80 44\r3\r\n"),
    /* v1: length */
    V1BAD("v1 line of 108 bytes", V1_LINE_108),
    V1BAD("v1 107 bytes without CRLF",
          "PROXY AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"
          "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"),
    V1BAD("v1 107 bytes ending in CR",
          "PROXY AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"
          "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA\r"),
    V1BAD("v1 line of 202 bytes",
          "PROXY TCP4 1.2.3.4 5.6.7.8 80 443 xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"
          "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"
          "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"
          "\r\n"),

    /* v2: version and command */
    V2BAD("v2 version 1", SIG "\x11\x11\x00\x0c" V4ADDR),
    V2BAD("v2 version 0", SIG "\x01\x11\x00\x0c" V4ADDR),
    V2BAD("v2 version 3", SIG "\x31\x11\x00\x0c" V4ADDR),
    V2BAD("v2 version 15", SIG "\xf1\x11\x00\x0c" V4ADDR),
    V2BAD("v2 version 1 LOCAL", SIG "\x10\x00\x00\x00"),
    V2BAD("v2 command 2", SIG "\x22\x11\x00\x0c" V4ADDR),
    V2BAD("v2 command 15", SIG "\x2f\x11\x00\x0c" V4ADDR),
    V2BAD("v2 command 2, empty", SIG "\x22\x00\x00\x00"),
    /* v2: transport */
    V2BAD("v2 INET transport UNSPEC", SIG "\x21\x10\x00\x0c" V4ADDR),
    V2BAD("v2 INET transport DGRAM", SIG "\x21\x12\x00\x0c" V4ADDR),
    V2BAD("v2 INET transport 15", SIG "\x21\x1f\x00\x0c" V4ADDR),
    V2BAD("v2 INET6 transport DGRAM", SIG "\x21\x22\x00\x24" V6ADDR),
    V2BAD("v2 UNSPEC transport UNSPEC", SIG "\x21\x00\x00\x00"),
    V2BAD("v2 UNSPEC transport DGRAM", SIG "\x21\x02\x00\x00"),
    /* v2: family */
    V2BAD("v2 UNIX stream", SIG "\x21\x31\x00\x0c" V4ADDR),
    V2BAD("v2 UNIX stream, empty", SIG "\x21\x31\x00\x00"),
    V2BAD("v2 family 4", SIG "\x21\x41\x00\x0c" V4ADDR),
    V2BAD("v2 family 15", SIG "\x21\xf1\x00\x0c" V4ADDR),
    /* v2: address block too short for the family */
    V2BAD("v2 INET with L=0", SIG "\x21\x11\x00\x00"),
    V2BAD("v2 INET with L=11", SIG "\x21\x11\x00\x0b" "\1\2\3\4\5\6\7\x08\x09\x0a\x0b"),
    V2BAD("v2 INET6 with L=0", SIG "\x21\x21\x00\x00"),
    V2BAD("v2 INET6 with L=12", SIG "\x21\x21\x00\x0c" V4ADDR),
    V2BAD("v2 INET6 with L=35", SIG "\x21\x21\x00\x23" V6_1 V6_2 "\xd4\x31\x00"),
    /* v2: OURS, refused from the 16-byte head alone */
    V2BAD("v2 bad version, block not sent", SIG "\x11\x11\x00\x0c"),
    V2BAD("v2 bad command, 64 KiB announced", SIG "\x23\x11\xff\xff"),
    V2BAD("v2 DGRAM, block not sent", SIG "\x21\x12\x00\x0c"),
    V2BAD("v2 UNIX, 216 bytes announced", SIG "\x21\x31\x00\xd8"),
    V2BAD("v2 INET L=11, block not sent", SIG "\x21\x11\x00\x0b"),

    /* no header at all */
    {"a request", S(REQUEST), 0, 0},
    {"lower-case proxy", S("proxy TCP4 1.2.3.4 5.6.7.8 80 443\r\n"), 0, 0},
    {"PROXY without its space", S("PROXYTCP4 1.2.3.4 5.6.7.8 80 443\r\n"), 0, 0},
    {"PROXY with a tab", S("PROXY\tTCP4 1.2.3.4 5.6.7.8 80 443\r\n"), 0, 0},
    {"a space first", S(" PROXY TCP4 1.2.3.4 5.6.7.8 80 443\r\n"), 0, 0},
    {"CRLF first", S("\r\nPROXY TCP4 1.2.3.4 5.6.7.8 80 443\r\n"), 0, 0},
    {"v2 signature, last byte wrong", S("\r\n\r\n\0\r\nQUIT\r\x21\x01\x00\x00"),
     0, 0},
    {"v2 signature, NUL missing", S("\r\n\r\nX\r\nQUIT\n\x21\x01\x00\x00"), 0, 0},
    {"v2 signature, lower-case quit", S("\r\n\r\n\0\r\nquit\n\x21\x01\x00\x00"),
     0, 0},
    {"blank lines", S("\r\n\r\n\r\n"), 0, 0},
};

/* Every prefix gives AGAIN or the final answer; more bytes after the input
 * do not change a final answer. */
static void check_bad(const struct bad_case *c)
{
    static char more[512];

    for (size_t i = 0; i < sizeof all_modes / sizeof all_modes[0]; i++) {
        enum http_proxy_mode m = all_modes[i];
        int want = mode_has(m, c->version) ? c->want : 0;
        int want_sniff = mode_has(m, c->version) ? c->version : 0;
        struct http_proxy o;
        int64_t rc = parse_at_end(c->in, c->len, m, &o);
        size_t bad = c->len;

        if (!ok(rc == want && is_zero(&o) &&
                sniff_at_end(c->in, c->len, m) == want_sniff,
                "%s [%s]: %d", c->name, mode_name(m), want))
            diag("rc=%lld", (long long)rc);

        for (size_t k = 0; k < c->len && bad == c->len; k++) {
            rc = parse_at_end(c->in, k, m, &o);
            if ((rc != HTTP_AGAIN && rc != want) || !is_zero(&o))
                bad = k;
        }
        if (c->len + sizeof REQUEST > sizeof more)
            abort();
        memcpy(more, c->in, c->len);
        memcpy(more + c->len, REQUEST, sizeof REQUEST - 1);
        rc = parse_at_end(more, c->len + sizeof REQUEST - 1, m, &o);
        if (!ok(bad == c->len && rc == want && is_zero(&o),
                "%s [%s]: prefixes and a longer input agree", c->name,
                mode_name(m)))
            diag("first failing prefix %zu, longer input rc=%lld", bad,
                 (long long)rc);
    }
}

/* ---- sniff -------------------------------------------------------------- */

struct sniff_case {
    const char *in;
    size_t len;
    enum http_proxy_mode mode;
    int want;
};

static const struct sniff_case sniff_cases[] = {
    {S(""), HTTP_PROXY_OFF, 0},
    {S(""), HTTP_PROXY_V1, HTTP_AGAIN},
    {S(""), HTTP_PROXY_V2, HTTP_AGAIN},
    {S(""), HTTP_PROXY_AUTO, HTTP_AGAIN},
    {S("PROXY "), HTTP_PROXY_OFF, 0},
    {S(SIG), HTTP_PROXY_OFF, 0},
    {S("P"), HTTP_PROXY_V1, HTTP_AGAIN},
    {S("P"), HTTP_PROXY_V2, 0},
    {S("P"), HTTP_PROXY_AUTO, HTTP_AGAIN},
    {S("PROXY"), HTTP_PROXY_V1, HTTP_AGAIN},
    {S("PROXY"), HTTP_PROXY_AUTO, HTTP_AGAIN},
    {S("PROXY "), HTTP_PROXY_V1, 1},
    {S("PROXY "), HTTP_PROXY_V2, 0},
    {S("PROXY "), HTTP_PROXY_AUTO, 1},
    {S("PROXY garbage"), HTTP_PROXY_AUTO, 1},
    {S("PROXYX"), HTTP_PROXY_V1, 0},
    {S("PROX "), HTTP_PROXY_V1, 0},
    {S("PRO"), HTTP_PROXY_AUTO, HTTP_AGAIN},
    {S("PRx"), HTTP_PROXY_AUTO, 0},
    {S("G"), HTTP_PROXY_V1, 0},
    {S("G"), HTTP_PROXY_V2, 0},
    {S("G"), HTTP_PROXY_AUTO, 0},
    {S("GET / HTTP/1.1\r\n"), HTTP_PROXY_AUTO, 0},
    {S("\r"), HTTP_PROXY_V1, 0},
    {S("\r"), HTTP_PROXY_V2, HTTP_AGAIN},
    {S("\r"), HTTP_PROXY_AUTO, HTTP_AGAIN},
    {S("\r\n\r\n"), HTTP_PROXY_AUTO, HTTP_AGAIN},
    {S("\r\n\r\n\0\r\nQUIT"), HTTP_PROXY_V2, HTTP_AGAIN},
    {S(SIG), HTTP_PROXY_V1, 0},
    {S(SIG), HTTP_PROXY_V2, 2},
    {S(SIG), HTTP_PROXY_AUTO, 2},
    {S(SIG "\x21"), HTTP_PROXY_AUTO, 2},
    {S("\r\n\r\n\0\r\nQUIT\r"), HTTP_PROXY_V2, 0},
    {S("\r\n\r\n\x01"), HTTP_PROXY_AUTO, 0},   /* OURS: 5 bytes suffice */
    {S("\r\nG"), HTTP_PROXY_V2, 0},
    {S("\n"), HTTP_PROXY_AUTO, 0},
    {S("\0"), HTTP_PROXY_AUTO, 0},
};

static void test_sniff_table(void)
{
    for (size_t i = 0; i < sizeof sniff_cases / sizeof sniff_cases[0]; i++) {
        const struct sniff_case *c = &sniff_cases[i];
        int got = sniff_at_end(c->in, c->len, c->mode);

        if (!ok(got == c->want, "sniff case %zu (%zu bytes) [%s] = %d", i,
                c->len, mode_name(c->mode), c->want))
            diag("got %d", got);
    }
}

/* Each first byte: AGAIN exactly when it starts an enabled signature. */
static void test_sniff_first_byte(void)
{
    for (size_t i = 0; i < sizeof all_modes / sizeof all_modes[0]; i++) {
        enum http_proxy_mode m = all_modes[i];
        int bad = -1;

        for (int b = 0; b < 256 && bad < 0; b++) {
            char c = (char)b;
            int want = (b == 'P' && mode_has(m, 1)) ||
                       (b == '\r' && mode_has(m, 2)) ? HTTP_AGAIN : 0;

            if (sniff_at_end(&c, 1, m) != want)
                bad = b;
        }
        ok(bad < 0, "sniff of every single byte [%s]", mode_name(m));
        if (bad >= 0)
            diag("byte 0x%02x", bad);
    }
}

/* A signature with any one byte changed is no header, decided at that byte. */
static void test_sniff_changed_byte(void)
{
    static const struct { const char *sig; size_t len; int version; } sigs[] = {
        {S("PROXY "), 1}, {S(SIG), 2}
    };

    for (size_t s = 0; s < 2; s++) {
        int bad = 0;

        for (size_t at = 0; at < sigs[s].len; at++) {
            char copy[12];

            memcpy(copy, sigs[s].sig, sigs[s].len);
            copy[at] ^= 0x20;
            if (sniff_at_end(copy, at + 1, HTTP_PROXY_AUTO) != 0 ||
                sniff_at_end(copy, sigs[s].len, HTTP_PROXY_AUTO) != 0)
                bad = 1;
            /* the bytes before it are still a prefix */
            if (sniff_at_end(copy, at, HTTP_PROXY_AUTO) != HTTP_AGAIN)
                bad = 1;
        }
        ok(!bad, "v%d signature with one byte changed is refused at that byte",
           sigs[s].version);
    }
}

/* ---- single rules not covered by the tables ----------------------------- */

static void test_v1_no_crlf(void)
{
    char line[4096];
    struct http_proxy o;
    int64_t rc;

    memset(line, 'A', sizeof line);
    /* NOLINTNEXTLINE(bugprone-not-null-terminated-result): line is bytes, no NUL */
    memcpy(line, "PROXY ", 6);

    rc = parse_at_end(line, HTTP_PROXY_V1_MAX - 1, HTTP_PROXY_V1, &o);
    ok(rc == HTTP_AGAIN, "v1: 106 bytes without CRLF is AGAIN");
    rc = parse_at_end(line, HTTP_PROXY_V1_MAX, HTTP_PROXY_V1, &o);
    ok(rc == HTTP_E_PROXY_LINE, "v1: 107 bytes without CRLF is refused");
    rc = parse_at_end(line, HTTP_PROXY_V1_MAX + 1, HTTP_PROXY_AUTO, &o);
    ok(rc == HTTP_E_PROXY_LINE, "v1: 108 bytes without CRLF is refused");
    rc = parse_at_end(line, sizeof line, HTTP_PROXY_V1, &o);
    ok(rc == HTTP_E_PROXY_LINE && is_zero(&o),
       "v1: 4096 bytes without CRLF is refused");

    /* a CRLF beyond the limit does not help */
    /* NOLINTNEXTLINE(bugprone-not-null-terminated-result): as above */
    memcpy(line + 200, "\r\n", 2);
    rc = parse_at_end(line, 202, HTTP_PROXY_V1, &o);
    ok(rc == HTTP_E_PROXY_LINE, "v1: CRLF at byte 200 is too late");

    /* the 108-byte line: AGAIN at 106 bytes, refused at 107 */
    rc = parse_at_end(V1_LINE_108, 106, HTTP_PROXY_V1, &o);
    ok(rc == HTTP_AGAIN, "v1: 106 bytes of a 108-byte line is AGAIN");
    rc = parse_at_end(V1_LINE_108, 107, HTTP_PROXY_V1, &o);
    ok(rc == HTTP_E_PROXY_LINE, "v1: 107 bytes of a 108-byte line is refused");

    /* a bare LF does not end the line */
    rc = parse_at_end(S("PROXY TCP4 1.2.3.4 5.6.7.8 80 443\n"), HTTP_PROXY_V1, &o);
    ok(rc == HTTP_AGAIN, "v1: a line ended by LF alone is AGAIN");
    rc = parse_at_end(S("PROXY TCP4 1.2.3.4 5.6.7.8 80 443\r"), HTTP_PROXY_V1, &o);
    ok(rc == HTTP_AGAIN, "v1: a line ended by CR alone is AGAIN");
}

static void test_v1_first_crlf(void)
{
    static const char two[] = "PROXY TCP4 1.2.3.4 5.6.7.8 80 443\r\n"
                              "PROXY TCP4 9.9.9.9 9.9.9.9 9 9\r\n";
    struct http_proxy o;
    int64_t rc = parse_at_end(two, sizeof two - 1, HTTP_PROXY_V1, &o);

    ok(rc == 35 && strcmp(o.src_addr, "1.2.3.4") == 0,
       "v1: only the first line is taken");
}

static void test_v2_big_tlv(void)
{
    static char big[BIG_TOTAL + sizeof REQUEST];
    struct http_proxy o;
    int64_t rc;
    int bad = 0;

    /* the binary head (SIG holds a NUL): bytes, not a string */
    /* NOLINTNEXTLINE(bugprone-not-null-terminated-result) */
    memcpy(big, SIG "\x21\x11\xff\xff" V4ADDR, 28);
    memset(big + 28, 0xEE, BIG_TOTAL - 28);
    memcpy(big + BIG_TOTAL, REQUEST, sizeof REQUEST - 1);

    rc = parse_at_end(big, BIG_TOTAL, HTTP_PROXY_V2, &o);
    ok(rc == BIG_TOTAL && o.has_addr && strcmp(o.protocol, "TCP4") == 0 &&
       strcmp(o.src_addr, "192.168.1.10") == 0 && o.dst_port == 443,
       "v2: 65535 bytes after the head are skipped");
    rc = parse_at_end(big, BIG_TOTAL + sizeof REQUEST - 1, HTTP_PROXY_AUTO, &o);
    ok(rc == BIG_TOTAL, "v2: the request after 64 KiB of TLVs is left alone");

    /* every prefix near both ends, a sample in between */
    for (size_t k = 0; k < BIG_TOTAL && !bad;
         k += (k < 64 || k > BIG_TOTAL - 64) ? 1 : 997) {
        rc = parse_at_end(big, k, HTTP_PROXY_V2, &o);
        if (rc != HTTP_AGAIN || !is_zero(&o))
            bad = 1;
    }
    ok(!bad, "v2: prefixes of the 64 KiB header are AGAIN");
}

static void test_v2_head_only(void)
{
    struct http_proxy o;
    int64_t rc;

    rc = parse_at_end(S(SIG "\x21\x11\x00"), HTTP_PROXY_V2, &o);
    ok(rc == HTTP_AGAIN, "v2: 15 bytes is AGAIN");
    rc = parse_at_end(S(SIG "\x21\x11\x00\x0c"), HTTP_PROXY_V2, &o);
    ok(rc == HTTP_AGAIN, "v2: a good head without its block is AGAIN");
    rc = parse_at_end(S(SIG "\x21\x11\x00\x0c" "\xc0\xa8\x01\x0a" "\xc0\xa8\x01\x01"
                        "\x30\x39" "\x01"), HTTP_PROXY_V2, &o);
    ok(rc == HTTP_AGAIN && is_zero(&o), "v2: one byte short is AGAIN");
    rc = parse_at_end(S(SIG "\x20\x00\xff\xff"), HTTP_PROXY_AUTO, &o);
    ok(rc == HTTP_AGAIN, "v2: LOCAL with 64 KiB announced waits for it");
}

static void test_out_zeroed(void)
{
    struct http_proxy o;
    int64_t rc;

    rc = parse_at_end(S("PROXY TCP4 1.2.3.4 5.6.7.8 80 443\r\n"), HTTP_PROXY_OFF, &o);
    ok(rc == 0 && is_zero(&o), "off: a v1 line is not a header, out zeroed");
    rc = parse_at_end(S(SIG "\x21\x11\x00\x0c" V4ADDR), HTTP_PROXY_OFF, &o);
    ok(rc == 0 && is_zero(&o), "off: a v2 header is not a header, out zeroed");
    rc = parse_at_end("", 0, HTTP_PROXY_OFF, &o);
    ok(rc == 0 && is_zero(&o), "off: empty input is 0");
    rc = parse_at_end("", 0, HTTP_PROXY_AUTO, &o);
    ok(rc == HTTP_AGAIN && is_zero(&o), "auto: empty input is AGAIN");

    rc = parse_at_end(S("PROXY TCP4 1.2.3.4 5.6.7.8 80 0443\r\n"), HTTP_PROXY_V1,
                      &o);
    ok(rc == 36 && o.dst_port == 443, "v1: a 4-digit port with a leading zero");
}

/* A success, then a failure into the same struct: nothing of the first
 * remains. */
static void test_out_reused(void)
{
    static const char good[] = "PROXY TCP4 1.2.3.4 5.6.7.8 80 443\r\n";
    static const char bad[] = "PROXY TCP4 1.2.3.4 5.6.7.8 80 70000\r\n";
    struct http_proxy o;
    int64_t rc;

    rc = http_proxy_parse(place(good, sizeof good - 1), sizeof good - 1,
                          HTTP_PROXY_V1, &o);
    ok(rc == 35 && o.has_addr, "v1: a valid line");
    rc = http_proxy_parse(place(bad, sizeof bad - 1), sizeof bad - 1,
                          HTTP_PROXY_V1, &o);
    ok(rc == HTTP_E_PROXY_LINE && is_zero(&o),
       "v1: a failure after a success leaves out zeroed");
    rc = http_proxy_parse(place(good, sizeof good - 1), sizeof good - 1,
                          HTTP_PROXY_V1, &o);
    if (rc == 35)
        rc = http_proxy_parse(place(good, 20), 20, HTTP_PROXY_V1, &o);
    ok(rc == HTTP_AGAIN && is_zero(&o),
       "v1: AGAIN after a success leaves out zeroed");
}

int main(void)
{
    if (guard_init() != 0) {
        printf("Bail out! cannot map a guard page\n");
        return 1;
    }
    test_sniff_table();
    test_sniff_first_byte();
    test_sniff_changed_byte();
    for (size_t i = 0; i < sizeof valid_cases / sizeof valid_cases[0]; i++)
        check_valid(&valid_cases[i]);
    for (size_t i = 0; i < sizeof bad_cases / sizeof bad_cases[0]; i++)
        check_bad(&bad_cases[i]);
    test_v1_no_crlf();
    test_v1_first_crlf();
    test_v2_big_tlv();
    test_v2_head_only();
    test_out_zeroed();
    test_out_reused();
    return tap_done();
}
