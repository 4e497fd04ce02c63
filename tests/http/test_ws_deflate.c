/*
 * Unit tests of permessage-deflate (src/http/ws_deflate.h): the offers
 * taken and declined, the response line, RSV1 in the frame parser, a
 * round trip through both contexts (with and without context takeover),
 * and the inflate limit against a deflate bomb.
 */
#include <stdlib.h>
#include <string.h>

#include <zlib.h>

#include "http/ws.h"
#include "http/ws_deflate.h"
#include "../lib/tap.h"
#include "../lib/wsframe.h"

static int offer(const char *s, struct ws_pmd_params *pp)
{
    return ws_pmd_offer(s, 0, strlen(s), pp);
}

static void test_offers(void)
{
    static const char *const bad[] = {
        "permessage-deflate; foo", "permessage-deflate; server_max_window_bits",
        "permessage-deflate; server_max_window_bits=8",
        "permessage-deflate; server_max_window_bits=16",
        "permessage-deflate; client_max_window_bits=7",
        "permessage-deflate; client_max_window_bits=09",
        "permessage-deflate; client_max_window_bits=\"1", "permessage-deflate; x=1",
        "permessage-deflate; server_no_context_takeover=",
        "permessage-deflate; server_no_context_takeover; server_no_context_takeover",
        "deflate-frame", "", "permessage-deflate;;"};
    struct ws_pmd_params pp;
    char line[WS_PMD_RESPONSE_MAX];
    int declined = 1;

    ok(offer("permessage-deflate", &pp) && !pp.server_no_context_takeover &&
       !pp.client_no_context_takeover && !pp.server_max_window_bits &&
       !pp.client_max_window_bits, "a bare offer");
    ok(offer("permessage-deflate; client_max_window_bits", &pp) && !pp.client_max_window_bits,
       "client_max_window_bits without a value");
    ok(offer(" Permessage-Deflate ; server_no_context_takeover;client_no_context_takeover ;"
             " server_max_window_bits=9; client_max_window_bits=\"15\"", &pp) &&
       pp.server_no_context_takeover && pp.client_no_context_takeover &&
       pp.server_max_window_bits == 9 && pp.client_max_window_bits == 15,
       "every parameter, blanks, case and a quoted value");
    ok(ws_pmd_response(&pp, line) > 0 &&
       strcmp(line, "Sec-WebSocket-Extensions: permessage-deflate; server_no_context_takeover; "
                    "client_no_context_takeover; server_max_window_bits=9; "
                    "client_max_window_bits=15\r\n") == 0, "the response line");
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        if (offer(bad[i], &pp)) {
            diag("taken: %s", bad[i]);
            declined = 0;
        }
    ok(declined, "unknown, repeated and malformed parameters are declined");
}

/* A masked client frame. */
static size_t frame(uint8_t *out, uint8_t b0, const void *pl, size_t n)
{
    static const uint8_t mask[4] = {1, 2, 3, 4};

    return ws_test_frame(out, b0, pl, n, mask);
}

static int parse_one(int deflate, const uint8_t *buf, size_t n, struct ws_chunk *c)
{
    struct ws_parser p;
    uint8_t copy[256];

    memset(&p, 0, sizeof p);
    p.deflate = (uint8_t)deflate;
    memcpy(copy, buf, n);
    int64_t rc = ws_parse(&p, copy, n, c);
    if (rc > 0 && (size_t)rc < n)
        rc = ws_parse(&p, copy + rc, n - (size_t)rc, c);
    return rc < 0 ? (int)rc : 0;
}

static void test_rsv1(void)
{
    uint8_t buf[64];
    struct ws_chunk c;
    size_t n;

    n = frame(buf, 0xC1, "\xff", 1);
    ok(parse_one(0, buf, n, &c) == WS_E_RSV, "RSV1 without the extension: an RSV error");
    ok(parse_one(1, buf, n, &c) == 0 && c.deflated && c.op == WS_OP_TEXT && c.done,
       "RSV1 with it: a compressed message, its bytes not checked as UTF-8");
    n = frame(buf, 0xC9, "p", 1);
    ok(parse_one(1, buf, n, &c) == WS_E_RSV1, "RSV1 on a ping");
    n = frame(buf, 0x41, "x", 1);
    n += frame(buf + n, 0xC0, "y", 1);
    ok(parse_one(1, buf, n, &c) == WS_E_RSV1, "RSV1 on a continuation");
    n = frame(buf, 0xA1, "x", 1);
    ok(parse_one(1, buf, n, &c) == WS_E_RSV, "RSV2 is an error still");
    ok(ws_error_close_code(WS_E_RSV1) == 1002 && ws_error_close_code(WS_E_INFLATE) == 1002 &&
       ws_error_close_code(WS_E_NOMEM) == 1011, "close codes: 1002, 1002, 1011");
}

/* The server's message m, inflated by the client's side (zlib). */
static int client_inflate(z_stream *d, const uint8_t *m, size_t n, uint8_t *out, size_t cap)
{
    static const uint8_t tail[4] = {0x00, 0x00, 0xff, 0xff};
    uint8_t in[4096];

    memcpy(in, m, n);
    memcpy(in + n, tail, sizeof tail);
    d->next_in = in;
    d->avail_in = (uInt)n + 4;
    d->next_out = out;
    d->avail_out = (uInt)cap;
    if (inflate(d, Z_SYNC_FLUSH) != Z_OK)
        return -1;
    return (int)(cap - d->avail_out);
}

static void round_trip(int takeover)
{
    struct ws_pmd_params pp = {.server_no_context_takeover = (uint8_t)!takeover};
    struct ws_pmd *z = ws_pmd_new(&pp);
    const char *text = "a message a message a message a message a message a message!!";
    size_t tl = strlen(text), sizes[2] = {0, 0};
    z_stream d;
    uint8_t out[256];
    int good = 1;

    memset(&d, 0, sizeof d);
    if (!z || inflateInit2(&d, -15) != Z_OK)
        bail("no memory");
    for (int i = 0; i < 2; i++) {
        const uint8_t *m, *back;
        size_t mlen, blen;
        if (ws_pmd_deflate(z, (const uint8_t *)text, tl, &m, &mlen) < 0 ||
            client_inflate(&d, m, mlen, out, sizeof out) != (int)tl || memcmp(out, text, tl) != 0)
            good = 0;
        sizes[i] = mlen;
        if (!takeover)
            (void)inflateReset(&d);
        /* and our inflater takes what we made */
        if (ws_pmd_inflate(z, m, mlen, 1, 0) < 0 || ws_pmd_finish(z, 1, 0, &back, &blen) < 0 ||
            blen != tl || memcmp(back, text, tl) != 0)
            good = 0;
        ws_pmd_done(z);
    }
    ok(good, "deflated and inflated back, twice (context takeover %s)", takeover ? "on" : "off");
    ok(takeover ? sizes[1] < sizes[0] : sizes[1] == sizes[0],
       "the second message %s the first (%zu, %zu bytes)",
       takeover ? "refers to" : "stands without", sizes[0], sizes[1]);
    inflateEnd(&d);
    ws_pmd_free(z);
}

/* An empty message after a compressed one: zlib refuses a second sync
 * flush with nothing in (Z_BUF_ERROR), which must not end compression;
 * and its payload is the byte 0x00 (RFC 7692 7.2.3.6), as no byte at all
 * would have the client read the tail as a stored block's start. */
static void test_empty_message(void)
{
    struct ws_pmd_params pp = {0};
    struct ws_pmd *z = ws_pmd_new(&pp);
    const char *text = "one message, then an empty one, then this one again";
    size_t tl = strlen(text), mlen = 1;
    const uint8_t *m;
    z_stream d;
    uint8_t out[256];
    int good;

    memset(&d, 0, sizeof d);
    if (!z || inflateInit2(&d, -15) != Z_OK)
        bail("no memory");
    good = ws_pmd_deflate(z, (const uint8_t *)text, tl, &m, &mlen) == 0 &&
           client_inflate(&d, m, mlen, out, sizeof out) == (int)tl;
    ok(good && ws_pmd_deflate(z, (const uint8_t *)"", 0, &m, &mlen) == 0 &&
       client_inflate(&d, m, mlen, out, sizeof out) == 0,
       "an empty message compresses (to %zu byte) and inflates to nothing", mlen);
    ok(ws_pmd_deflate(z, (const uint8_t *)"", 0, &m, &mlen) == 0 &&
       client_inflate(&d, m, mlen, out, sizeof out) == 0, "and another");
    ok(ws_pmd_deflate(z, (const uint8_t *)text, tl, &m, &mlen) == 0 &&
       client_inflate(&d, m, mlen, out, sizeof out) == (int)tl && memcmp(out, text, tl) == 0,
       "compression goes on after them");
    inflateEnd(&d);
    ws_pmd_free(z);
}

/* The client's message m (its deflater d, context kept), compressed as
 * RFC 7692 7.2.1 says, the tail taken off: its length in out. */
static size_t client_deflate(z_stream *d, const char *m, uint8_t *out, size_t cap)
{
    d->next_in = (Bytef *)(uintptr_t)m;
    d->avail_in = (uInt)strlen(m);
    d->next_out = out;
    d->avail_out = (uInt)cap;
    if (deflate(d, Z_SYNC_FLUSH) != Z_OK || d->avail_in || cap - d->avail_out < 4)
        bail("deflate");
    return cap - d->avail_out - 4;
}

/* A client that sends an empty message as an empty payload with RSV1
 * (not the byte 0x00 RFC 7692 7.2.3.6 has): the message is empty, and
 * the tail is not fed to the inflater alone, where it would read as a
 * stored block's start and spoil the next message. */
static void test_client_empty_payload(void)
{
    struct ws_pmd_params pp = {0};
    struct ws_pmd *z = ws_pmd_new(&pp);
    const char *one = "the first message, the first message", *two = "the second message";
    uint8_t zb[256];
    const uint8_t *m;
    size_t n, len;
    z_stream d;
    int good;

    memset(&d, 0, sizeof d);
    if (!z || deflateInit2(&d, 6, Z_DEFLATED, -15, 8, Z_DEFAULT_STRATEGY) != Z_OK)
        bail("no memory");
    len = client_deflate(&d, one, zb, sizeof zb);
    good = ws_pmd_inflate(z, zb, len, 1, 0) == 0 && ws_pmd_finish(z, 1, 0, &m, &n) == 0 &&
           n == strlen(one);
    ws_pmd_done(z);
    ok(good && ws_pmd_inflate(z, zb, 0, 1, 0) == 0 && ws_pmd_finish(z, 1, 0, &m, &n) == 0 &&
       n == 0, "an empty payload: an empty message");
    ws_pmd_done(z);
    len = client_deflate(&d, two, zb, sizeof zb);
    ok(ws_pmd_inflate(z, zb, len, 1, 0) == 0 && ws_pmd_finish(z, 1, 0, &m, &n) == 0 &&
       n == strlen(two) && memcmp(m, two, n) == 0, "and the next message inflates");
    deflateEnd(&d);
    ws_pmd_free(z);
}

static void test_bomb(void)
{
    struct ws_pmd_params pp = {0};
    struct ws_pmd *z = ws_pmd_new(&pp);
    size_t big = 8 << 20, zcap = big / 100;
    uint8_t *zeros = calloc(1, big), *zb = malloc(zcap);
    const uint8_t *m;
    size_t n;
    z_stream c;

    memset(&c, 0, sizeof c);
    if (!z || !zeros || !zb || deflateInit2(&c, 9, Z_DEFLATED, -15, 8, Z_DEFAULT_STRATEGY))
        bail("no memory");
    c.next_in = zeros;
    c.avail_in = (uInt)big;
    c.next_out = zb;
    c.avail_out = (uInt)zcap;
    if (deflate(&c, Z_SYNC_FLUSH) != Z_OK || c.avail_in)
        bail("deflate");
    n = zcap - c.avail_out - 4;
    ok(ws_pmd_inflate(z, zb, n, 0, 1000) == WS_E_TOO_BIG,
       "8 MiB of zeros in %zu bytes, against a limit of 1000: too big", n);
    ws_pmd_free(z);
    z = ws_pmd_new(&pp);
    ok(z && ws_pmd_inflate(z, zb, n, 0, big) == 0 && ws_pmd_finish(z, 0, big, &m, &n) == 0 &&
       n == big && m[0] == 0 && m[big - 1] == 0, "within a limit of 8 MiB: inflated whole");
    deflateEnd(&c);
    ws_pmd_free(z);
    free(zeros);
    free(zb);
}

static void test_bad_data(void)
{
    struct ws_pmd_params pp = {0};
    struct ws_pmd *z = ws_pmd_new(&pp);
    const uint8_t *m;
    size_t n;

    ok(z && ws_pmd_inflate(z, (const uint8_t *)"\xff\xff", 2, 0, 0) == WS_E_INFLATE,
       "a reserved block type: no deflate data");
    ws_pmd_free(z);
    ws_pmd_free(NULL);
    z = ws_pmd_new(&pp);
    ok(z && ws_pmd_finish(z, 1, 0, &m, &n) == 0 && n == 0, "an empty message: nothing");
    ws_pmd_free(z);
}

int main(void)
{
    test_offers();
    test_rsv1();
    round_trip(1);
    round_trip(0);
    test_empty_message();
    test_client_empty_payload();
    test_bomb();
    test_bad_data();
    return tap_done();
}
