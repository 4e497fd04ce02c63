/*
 * Unit tests of the WebSocket codec and handshake (src/http/ws.h): RFC
 * 6455's examples, every protocol error, UTF-8 (RFC 3629's edges), close
 * payloads, the writer, SHA-1 (RFC 3174's vectors) and the accept key.
 * Every stream is parsed whole and again arriving a few bytes at a time,
 * each read in a guarded buffer, so an over-read faults.
 */
#include <stdlib.h>
#include <string.h>

#include "http/ws.h"
#include "../lib/guard.h"
#include "../lib/tap.h"
#include "../lib/wsframe.h"

#define OUT_MAX 80000

/* What a stream gave: its events as text ("T:Hello|" a text message,
 * "B:...|" binary; "[P:...]" a ping, "[O:...]" a pong, "[C1000:bye]" a
 * close), and the error, if any. */
struct result {
    char log[OUT_MAX];
    size_t n;
    int err;
};

static void put(struct result *r, const void *s, size_t n)
{
    if (r->n + n >= OUT_MAX)
        bail("result log too long");
    memcpy(r->log + r->n, s, n);
    r->n += n;
    r->log[r->n] = '\0';
}

static void event(struct result *r, const uint8_t *buf, const struct ws_chunk *c, int *open)
{
    static const char tag[16] = {[WS_OP_TEXT] = 'T', [WS_OP_BINARY] = 'B',
                                 [WS_OP_PING] = 'P', [WS_OP_PONG] = 'O',
                                 [WS_OP_CLOSE] = 'C'};
    char head[16];

    if (c->op & 0x8) {
        /* a control frame is whole, and may come inside a data message */
        if (c->op == WS_OP_CLOSE)
            xsnprintf(head, sizeof head, "[C%u:", c->code);
        else
            xsnprintf(head, sizeof head, "[%c:", tag[c->op]);
        put(r, head, strlen(head));
        if (c->op == WS_OP_CLOSE)
            put(r, buf + c->reason_off, c->reason_len);
        else
            put(r, buf + c->off, c->len);
        put(r, "]", 1);
        return;
    }
    if (!*open) {
        xsnprintf(head, sizeof head, "%c:", tag[c->op]);
        put(r, head, strlen(head));
        *open = 1;
    }
    put(r, buf + c->off, c->len);
    if (c->done) {
        put(r, "|", 1);
        *open = 0;
    }
}

/* Parses s[0..n) arriving step bytes at a time; the unconsumed bytes stay
 * at the front, each call sees a guarded copy of exactly what is there. */
static void run(const uint8_t *s, size_t n, size_t step, uint64_t max, struct result *r)
{
    struct ws_parser p;
    uint8_t *keep = malloc(n + 1);
    size_t have = 0, fed = 0;
    int open = 0;

    if (!keep)
        bail("malloc");
    memset(&p, 0, sizeof p);
    memset(r, 0, sizeof *r);
    p.max_message = max;
    while (fed < n || have) {
        size_t k = n - fed < step ? n - fed : step;
        struct guard_buf g;
        uint8_t *b;
        int64_t rc = 0;
        memcpy(keep + have, s + fed, k);
        have += k;
        fed += k;
        b = (uint8_t *)guard_alloc(&g, keep, have);
        if (!b)
            bail("guard_alloc");
        size_t used = 0;
        while (used < have) {
            struct ws_chunk c;
            rc = ws_parse(&p, b + used, have - used, &c);
            if (rc < 0)
                break;
            /* spans are relative to what the call was given */
            event(r, b + used, &c, &open);
            used += (size_t)rc;
        }
        memcpy(keep, b + used, have - used);
        have -= used;
        guard_free(&g);
        if (rc < 0 && rc != WS_AGAIN) {
            r->err = (int)rc;
            break;
        }
        if (rc == WS_AGAIN && fed == n)
            break;
    }
    free(keep);
}

#define frame ws_test_frame

static const uint8_t M[4] = {0x37, 0xfa, 0x21, 0x3d};

/* Checks a stream gives the same log and error at every step (or, for
 * an error, at most the log up to it). */
static void expect(const char *what, const uint8_t *s, size_t n, uint64_t max,
                   const char *log, int err)
{
    struct result r;
    int all = 1;
    size_t steps[] = {n ? n : 1, 1, 2, 3, 5, 7, 13};

    for (size_t i = 0; i < sizeof steps / sizeof steps[0]; i++) {
        run(s, n, steps[i], max, &r);
        /* after an error, what came before it may have been cut anywhere:
         * the log is then a prefix of what is expected */
        int same = err ? strncmp(r.log, log, strlen(r.log)) == 0 : strcmp(r.log, log) == 0;
        if (r.err != err || !same) {
            diag("%s: step %zu: log '%s' err %d", what, steps[i], r.log, r.err);
            all = 0;
        }
    }
    ok(all, "%s", what);
}

static void test_rfc_examples(void)
{
    static const uint8_t hello_masked[] = {0x81, 0x85, 0x37, 0xfa, 0x21, 0x3d, 0x7f,
                                           0x9f, 0x4d, 0x51, 0x58};
    static const uint8_t hello_unmasked[] = {0x81, 0x05, 'H', 'e', 'l', 'l', 'o'};
    static const uint8_t pong_masked[] = {0x8a, 0x85, 0x37, 0xfa, 0x21, 0x3d, 0x7f,
                                          0x9f, 0x4d, 0x51, 0x58};
    uint8_t buf[256];
    size_t n;

    expect("RFC 6455 5.7: a masked text frame", hello_masked, sizeof hello_masked, 0,
           "T:Hello|", 0);
    expect("RFC 6455 5.7: the unmasked one is refused from a client", hello_unmasked,
           sizeof hello_unmasked, 0, "", WS_E_UNMASKED);
    expect("RFC 6455 5.7: a masked pong", pong_masked, sizeof pong_masked, 0, "[O:Hello]", 0);
    n = frame(buf, 0x01, "Hel", 3, M);
    n += frame(buf + n, 0x80, "lo", 2, M);
    expect("RFC 6455 5.7: a fragmented text message", buf, n, 0, "T:Hello|", 0);
    n = frame(buf, 0x01, "Hel", 3, M);
    n += frame(buf + n, 0x89, "ping", 4, M);
    n += frame(buf + n, 0x80, "lo", 2, M);
    expect("a ping between fragments", buf, n, 0, "T:Hel[P:ping]lo|", 0);
}

static void test_lengths(void)
{
    static uint8_t big[70000 + 14], pl[70000];
    static char want[70000 + 8];
    uint8_t h[10];
    size_t n;

    ok(ws_frame_head(h, 1, WS_OP_BINARY, 256) == 4 && h[0] == 0x82 && h[1] == 0x7E &&
       h[2] == 0x01 && h[3] == 0x00, "RFC 6455 5.7: a 256-byte binary head");
    ok(ws_frame_head(h, 1, WS_OP_BINARY, 65536) == 10 && h[1] == 0x7F && h[2] == 0 &&
       h[7] == 0x01 && h[8] == 0 && h[9] == 0, "RFC 6455 5.7: a 64 KiB binary head");
    ok(ws_frame_head(h, 0, WS_OP_TEXT, 125) == 2 && h[0] == 0x01 && h[1] == 125,
       "125 bytes: a 7-bit length, FIN clear");
    ok(ws_frame_head(h, 1, WS_OP_TEXT, 65535) == 4 && h[2] == 0xFF && h[3] == 0xFF,
       "65535 bytes: a 16-bit length");
    for (size_t i = 0; i < sizeof pl; i++)
        pl[i] = (uint8_t)('a' + i % 26);
    memcpy(want, "B:", 3);
    memcpy(want + 2, pl, 300);
    memcpy(want + 302, "|", 2);
    n = frame(big, 0x82, pl, 300, M);
    expect("a 16-bit length", big, n, 0, want, 0);
    memcpy(want + 2, pl, sizeof pl);
    memcpy(want + 2 + sizeof pl, "|", 2);
    n = frame(big, 0x82, pl, sizeof pl, M);
    ok(big[1] == 0xFF, "a 64-bit length on the wire");
    expect("a 64-bit length", big, n, 0, want, 0);
    expect("the limit: a message of exactly max_message", big, n, sizeof pl, want, 0);
    expect("the limit: one byte over", big, n, sizeof pl - 1, "", WS_E_TOO_BIG);
}

static void test_limit_fragments(void)
{
    uint8_t buf[256];
    size_t n = frame(buf, 0x01, "abcd", 4, M);

    n += frame(buf + n, 0x00, "efgh", 4, M);
    n += frame(buf + n, 0x80, "ij", 2, M);
    expect("the limit counts every fragment (10 of 10)", buf, n, 10, "T:abcdefghij|", 0);
    expect("the limit counts every fragment (10 of 9)", buf, n, 9, "T:abcdefgh", WS_E_TOO_BIG);
    n = frame(buf, 0x81, "abcd", 4, M);
    n += frame(buf + n, 0x81, "efgh", 4, M);
    expect("the limit is per message", buf, n, 4, "T:abcd|T:efgh|", 0);
}

static void test_errors(void)
{
    uint8_t buf[512], pl[200];
    size_t n;

    memset(pl, 'x', sizeof pl);
    for (int bit = 0x10; bit <= 0x40; bit <<= 1) {
        n = frame(buf, (uint8_t)(0x81 | bit), "a", 1, M);
        expect("an RSV bit without an extension", buf, n, 0, "", WS_E_RSV);
    }
    for (int op = 3; op <= 0xF; op++) {
        if (op >= WS_OP_CLOSE && op <= WS_OP_PONG)
            continue;
        n = frame(buf, (uint8_t)(0x80 | op), "a", 1, M);
        expect("a reserved opcode", buf, n, 0, "", WS_E_OPCODE);
    }
    n = frame(buf, 0x89, pl, 126, M);
    expect("a ping of 126 bytes", buf, n, 0, "", WS_E_CONTROL_LEN);
    n = frame(buf, 0x89, pl, 125, M);
    ok(buf[1] == (0x80 | 125), "a ping of 125 bytes has a 7-bit length");
    n = frame(buf, 0x09, "a", 1, M);
    expect("a fragmented ping", buf, n, 0, "", WS_E_CONTROL_FRAG);
    n = frame(buf, 0x08, "", 0, M);
    expect("a fragmented close", buf, n, 0, "", WS_E_CONTROL_FRAG);
    n = frame(buf, 0x80, "a", 1, M);
    expect("a continuation without a message", buf, n, 0, "", WS_E_CONT);
    n = frame(buf, 0x01, "a", 1, M);
    n += frame(buf + n, 0x81, "b", 1, M);
    expect("a text frame inside a fragmented message", buf, n, 0, "T:a", WS_E_FRAG);
    n = frame(buf, 0x02, "a", 1, M);
    n += frame(buf + n, 0x82, "b", 1, M);
    expect("a binary frame inside a fragmented message", buf, n, 0, "B:a", WS_E_FRAG);
    n = frame(buf, 0x81, "a", 1, M);
    n += frame(buf + n, 0x80, "b", 1, M);
    expect("a continuation after a whole message", buf, n, 0, "T:a|", WS_E_CONT);
    static const uint8_t huge[] = {0x82, 0xFF, 0x80, 0, 0, 0, 0, 0, 0, 0, 1, 2, 3, 4};
    expect("a 64-bit length with its top bit", huge, sizeof huge, 0, "", WS_E_LENGTH);
    ok(ws_error_close_code(WS_E_TOO_BIG) == 1009 && ws_error_close_code(WS_E_UTF8) == 1007 &&
       ws_error_close_code(WS_E_UNMASKED) == 1002 && ws_error_close_code(WS_E_RSV) == 1002,
       "errors map to 1009, 1007, 1002");
    ok(strcmp(ws_error_text(WS_E_UNMASKED), "unmasked client frame") == 0 &&
       strcmp(ws_error_text(42), "unknown error") == 0, "error texts");
}

static void test_incomplete(void)
{
    uint8_t buf[64];
    size_t n = frame(buf, 0x89, "ping", 4, M);
    struct result r;

    for (size_t k = 0; k < n; k++) {
        run(buf, k, k ? k : 1, 0, &r);
        if (r.err || r.n) {
            ok(0, "a ping cut at %zu gives nothing yet", k);
            return;
        }
    }
    ok(1, "a ping cut anywhere gives nothing until it is whole");
}

/* Whether s is UTF-8, fed whole and byte by byte. */
static int utf8_ok(const char *s, size_t n)
{
    struct ws_utf8 a = {0, 0, 0}, b = {0, 0, 0};
    int whole = ws_utf8_feed(&a, (const uint8_t *)s, n) == 0 && !a.need;
    int bytes = 1;

    for (size_t i = 0; i < n && bytes; i++)
        bytes = ws_utf8_feed(&b, (const uint8_t *)s + i, 1) == 0;
    bytes = bytes && !b.need;
    if (whole != bytes)
        bail("utf8: whole and byte by byte disagree");
    return whole;
}

static void test_utf8(void)
{
    static const struct { const char *s; size_t n; int good; const char *what; } cases[] = {
        {"", 0, 1, "empty"},
        {"hello, world and more ascii", 27, 1, "ASCII over eight bytes"},
        {"\xc2\x80", 2, 1, "U+0080"},
        {"\xdf\xbf", 2, 1, "U+07FF"},
        {"\xe0\xa0\x80", 3, 1, "U+0800"},
        {"\xed\x9f\xbf", 3, 1, "U+D7FF"},
        {"\xee\x80\x80", 3, 1, "U+E000"},
        {"\xef\xbf\xbf", 3, 1, "U+FFFF"},
        {"\xf0\x90\x80\x80", 4, 1, "U+10000"},
        {"\xf4\x8f\xbf\xbf", 4, 1, "U+10FFFF"},
        {"\xce\xba\xe1\xbd\xb9\xcf\x83\xce\xbc\xce\xb5", 11, 1, "kosme"},
        {"\xc0\x80", 2, 0, "overlong NUL (C0)"},
        {"\xc1\xbf", 2, 0, "overlong (C1)"},
        {"\xe0\x9f\xbf", 3, 0, "overlong three bytes"},
        {"\xf0\x8f\xbf\xbf", 4, 0, "overlong four bytes"},
        {"\xed\xa0\x80", 3, 0, "a high surrogate"},
        {"\xed\xbf\xbf", 3, 0, "a low surrogate"},
        {"\xf4\x90\x80\x80", 4, 0, "U+110000"},
        {"\xf5\x80\x80\x80", 4, 0, "lead F5"},
        {"\xff", 1, 0, "FF"},
        {"\x80", 1, 0, "a lone continuation"},
        {"\xc2", 1, 0, "cut after a lead"},
        {"\xe1\x80", 2, 0, "cut inside three bytes"},
        {"\xc2\x41", 2, 0, "a lead then ASCII"},
        {"abcdefgh\xce\xba\xe1\xbd\xb9" "abcdefghi\xff", 23, 0, "bad after ASCII runs"},
    };

    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
        ok(utf8_ok(cases[i].s, cases[i].n) == cases[i].good, "UTF-8: %s", cases[i].what);
}

static void test_text_utf8(void)
{
    uint8_t buf[256];
    size_t n = frame(buf, 0x01, "\xce\xba\xe1", 3, M);

    n += frame(buf + n, 0x80, "\xbd\xb9", 2, M);
    expect("a character split across fragments", buf, n, 0, "T:\xce\xba\xe1\xbd\xb9|", 0);
    n = frame(buf, 0x81, "ok\xed\xa0\x80", 5, M);
    expect("a surrogate in a text message", buf, n, 0, "T:ok\xed", WS_E_UTF8);
    n = frame(buf, 0x81, "ab\xce", 3, M);
    expect("a text message cut inside a character", buf, n, 0, "T:ab\xce", WS_E_UTF8);
    n = frame(buf, 0x82, "\xff\xfe", 2, M);
    expect("binary is not checked", buf, n, 0, "B:\xff\xfe|", 0);
}

static void test_close(void)
{
    uint8_t buf[256], pl[130];
    size_t n;

    n = frame(buf, 0x88, "", 0, M);
    expect("a close without a code: 1005", buf, n, 0, "[C1005:]", 0);
    n = frame(buf, 0x88, "\x03", 1, M);
    expect("a close of one byte", buf, n, 0, "", WS_E_CLOSE_LEN);
    n = frame(buf, 0x88, "\x03\xe8" "bye", 5, M);
    expect("a close 1000 with a reason", buf, n, 0, "[C1000:bye]", 0);
    n = frame(buf, 0x88, "\x03\xe8\xff", 3, M);
    expect("a close reason that is no UTF-8", buf, n, 0, "", WS_E_UTF8);
    static const unsigned good[] = {1000, 1001, 1002, 1003, 1007, 1008, 1009, 1010,
                                    1011, 1012, 1013, 1014, 3000, 3999, 4000, 4999};
    static const unsigned bad[] = {0, 999, 1004, 1005, 1006, 1015, 1016, 1100,
                                   2000, 2999, 5000, 65535};
    int all = 1;
    for (size_t i = 0; i < sizeof good / sizeof good[0]; i++)
        all &= ws_close_code_ok(good[i]);
    ok(all, "close codes an endpoint may send");
    all = 1;
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        uint8_t c[2] = {(uint8_t)(bad[i] >> 8), (uint8_t)bad[i]};
        struct result r;
        all &= !ws_close_code_ok(bad[i]);
        n = frame(buf, 0x88, c, 2, M);
        run(buf, n, n, 0, &r);
        all &= r.err == WS_E_CLOSE_CODE;
    }
    ok(all, "close codes no endpoint may send are protocol errors");
    /* the writer's payload: a reason cut to fit 125 bytes, whole characters */
    memset(pl, 'a', sizeof pl);
    pl[121] = 0xe2;  /* a euro sign across byte 123 */
    pl[122] = 0x82;
    pl[123] = 0xac;
    n = ws_close_payload(buf, 1001, (const char *)pl, sizeof pl);
    ok(n == 2 + 121 && buf[0] == 0x03 && buf[1] == 0xE9, "a long reason is cut before a character");
    n = ws_close_payload(buf, 4000, "done", 4);
    ok(n == 6 && buf[0] == 0x0F && buf[1] == 0xA0 && memcmp(buf + 2, "done", 4) == 0,
       "a close payload: code then reason");
}

static void test_unmask(void)
{
    uint8_t a[37], b[37] = {0};
    int all = 1;

    for (size_t pos = 0; pos < 4; pos++)
        for (size_t n = 0; n <= sizeof a; n++) {
            for (size_t i = 0; i < n; i++)
                a[i] = b[i] = (uint8_t)(i * 7 + 1);
            ws_unmask(a, n, M, pos);
            for (size_t i = 0; i < n; i++)
                b[i] ^= M[(pos + i) & 3];
            all &= memcmp(a, b, n) == 0;
        }
    ok(all, "unmasking a word at a time matches byte by byte, at every start");
}

static void test_sha1(void)
{
    static const struct { const char *in; const char *hex; } v[] = {
        {"", "da39a3ee5e6b4b0d3255bfef95601890afd80709"},
        {"abc", "a9993e364706816aba3e25717850c26c9cd0d89d"},
        {"abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq",
         "84983e441c3bd26ebaae4aa1f95129e5e54670f1"},
        {"0123456701234567012345670123456701234567012345670123456701234567",
         "e0c094e867ef46c350ef54a7f59dd60bed92ae83"},
    };
    uint8_t d[20];
    char hex[41];

    for (size_t i = 0; i < sizeof v / sizeof v[0]; i++) {
        ws_sha1((const uint8_t *)v[i].in, strlen(v[i].in), d);
        for (size_t k = 0; k < 20; k++)
            xsnprintf(hex + 2 * k, 3, "%02x", d[k]);
        ok(strcmp(hex, v[i].hex) == 0, "SHA-1 of %zu bytes: %s", strlen(v[i].in), hex);
    }
    /* RFC 6455 1.3's key and GUID: what the accept key is the base64 of
     * (checked here too, since the build may hash with libcrypto) */
    {
        const char *kg = "dGhlIHNhbXBsZSBub25jZQ==258EAFA5-E914-47DA-95CA-C5AB0DC85B11";
        ws_sha1((const uint8_t *)kg, strlen(kg), d);
        for (size_t k = 0; k < 20; k++)
            xsnprintf(hex + 2 * k, 3, "%02x", d[k]);
        ok(strcmp(hex, "b37a4f2cc0624f1690f64606cf385945b2bec4ea") == 0,
           "SHA-1 of RFC 6455 1.3's key and the GUID");
    }
    /* 55 bytes: the length still fits the last block; 1000: many blocks */
    static const struct { size_t n; const char *hex; } a[] = {
        {55, "c1c8bbdc22796e28c0e15163d20899b65621d65a"},
        {1000, "291e9a6c66994949b57ba5e650361e98fc36b1ba"},
    };
    static uint8_t as[1000];
    memset(as, 'a', sizeof as);
    for (size_t i = 0; i < 2; i++) {
        ws_sha1(as, a[i].n, d);
        for (size_t k = 0; k < 20; k++)
            xsnprintf(hex + 2 * k, 3, "%02x", d[k]);
        ok(strcmp(hex, a[i].hex) == 0, "SHA-1 of %zu 'a's", a[i].n);
    }
}

/* Parses a head and classifies it. */
static int upgrade(const char *head, char *key_out)
{
    static struct http_config cfg;
    static int init;
    struct http_parser p;
    struct http_request r;
    struct http_header h[32];
    struct http_span key = {0, 0};
    char buf[1024];
    int rc;

    if (!init) {
        http_config_init(&cfg);
        http_config_finish(&cfg, 8190, 100, 8190);
        init = 1;
    }
    xsnprintf(buf, sizeof buf, "%s", head);
    http_parser_init(&p, &cfg, 0);
    http_request_init(&r, h, 32);
    if (http_parse_head(&p, &r, buf, strlen(buf)) <= 0)
        bail("head does not parse: %s", head);
    rc = ws_check_upgrade(buf, &r, &key);
    if (rc == WS_HS_OK && key_out)
        xsnprintf(key_out, 64, "%.*s", (int)key.len, buf + key.off);
    return rc;
}

#define UP "Upgrade: websocket\r\nConnection: Upgrade\r\n"
#define KEY "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
#define V13 "Sec-WebSocket-Version: 13\r\n"

static void test_handshake(void)
{
    char key[64], acc[29];

    ok(upgrade("GET /chat HTTP/1.1\r\nHost: x\r\n" UP KEY V13 "\r\n", key) == WS_HS_OK &&
       strcmp(key, "dGhlIHNhbXBsZSBub25jZQ==") == 0, "RFC 6455 1.3's request");
    ok(ws_accept_key(key, strlen(key), acc) == 0 &&
       strcmp(acc, "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=") == 0, "RFC 6455 1.3's accept: %s", acc);
    ok(upgrade("GET / HTTP/1.1\r\nUpgrade: WebSocket\r\nConnection: keep-alive, UPGRADE\r\n"
               KEY V13 "\r\n", NULL) == WS_HS_OK, "tokens in lists, any case");
    ok(upgrade("GET / HTTP/1.1\r\nHost: x\r\n\r\n", NULL) == WS_HS_NONE, "a plain request");
    ok(upgrade("GET / HTTP/1.1\r\nUpgrade: websocket\r\n" KEY V13 "\r\n", NULL) ==
       WS_HS_NONE, "Upgrade without Connection: upgrade is plain HTTP");
    ok(upgrade("GET / HTTP/1.1\r\nUpgrade: h2c\r\nConnection: upgrade\r\n\r\n", NULL) ==
       WS_HS_NONE, "another protocol's upgrade is plain HTTP");
    ok(upgrade("POST / HTTP/1.1\r\n" UP KEY V13 "\r\n", NULL) == WS_HS_BAD, "POST: 400");
    ok(upgrade("GET / HTTP/1.0\r\n" UP KEY V13 "\r\n", NULL) == WS_HS_BAD, "HTTP/1.0: 400");
    ok(upgrade("GET / HTTP/1.1\r\n" UP V13 "\r\n", NULL) == WS_HS_BAD, "no key: 400");
    ok(upgrade("GET / HTTP/1.1\r\n" UP KEY KEY V13 "\r\n", NULL) == WS_HS_BAD,
       "two keys: 400");
    ok(upgrade("GET / HTTP/1.1\r\n" UP "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ\r\n" V13
               "\r\n", NULL) == WS_HS_BAD, "a key without its padding: 400");
    ok(upgrade("GET / HTTP/1.1\r\n" UP "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25j*Q==\r\n" V13
               "\r\n", NULL) == WS_HS_BAD, "a key outside base64's alphabet: 400");
    ok(upgrade("GET / HTTP/1.1\r\n" UP "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==AAAA\r\n"
               V13 "\r\n", NULL) == WS_HS_BAD, "a key of more than 16 bytes: 400");
    ok(upgrade("GET / HTTP/1.1\r\n" UP KEY "\r\n", NULL) == WS_HS_BAD, "no version: 400");
    ok(upgrade("GET / HTTP/1.1\r\n" UP KEY "Sec-WebSocket-Version: 8\r\n\r\n", NULL) ==
       WS_HS_VERSION, "version 8: 426");
    ok(upgrade("GET / HTTP/1.1\r\n" UP KEY V13 V13 "\r\n", NULL) == WS_HS_VERSION,
       "two versions: 426");
    ok(ws_accept_key("x", 40, acc) == -1, "a key too long to hash is refused");
}

static void test_lists(void)
{
    const char *l = " a ,\tbc,, d\t ,";
    size_t pos = 0, s, e, n = 0;
    char got[32] = "";

    while (ws_list_next(l, &pos, strlen(l), &s, &e) && n + (e - s) + 1 < sizeof got) {
        memcpy(got + n, l + s, e - s);
        n += e - s;
        got[n++] = '|';
        got[n] = '\0';
    }
    ok(strcmp(got, "a|bc|d|") == 0 && pos == strlen(l), "a list's elements: %s", got);
    pos = 0;
    ok(!ws_list_next(" , ,", &pos, 4, &s, &e), "a list of blanks and commas is empty");
    ok(!ws_has_token("upgrades, xupgrade", (struct http_span){0, 18}, "upgrade"),
       "a token is matched whole");
}

int main(void)
{
    test_rfc_examples();
    test_lengths();
    test_limit_fragments();
    test_errors();
    test_incomplete();
    test_utf8();
    test_text_utf8();
    test_close();
    test_unmask();
    test_sha1();
    test_handshake();
    test_lists();
    return tap_done();
}
