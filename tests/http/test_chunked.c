/*
 * Unit tests of the chunked decoder's contract: in-place output, what is
 * consumed and what must be presented again, resumption, the limits and
 * their exact boundaries, and trailer spans across calls.
 */
#include <stdlib.h>
#include <string.h>

#include "http/chunked.h"
#include "../lib/tap.h"

static struct http_config cfg;
static struct http_header tr[8];

/* Decodes s arriving in pieces of `step` bytes, as a connection would:
 * unconsumed bytes stay at the front of the buffer. */
static int decode(const char *s, size_t n, size_t step, char *body,
                  size_t *body_len, size_t *rest, struct http_chunked *c)
{
    char *buf = malloc(n + 1);
    size_t have = 0, fed = 0, out, used;
    int rc = HTTP_AGAIN;

    if (!buf)
        abort();
    http_chunked_init(c, &cfg, tr, 8);
    *body_len = 0;
    while (rc == HTTP_AGAIN && fed < n) {
        size_t k = n - fed < step ? n - fed : step;
        memcpy(buf + have, s + fed, k);
        have += k;
        fed += k;
        rc = http_chunked_decode(c, buf, have, &out, &used);
        if (rc < 0 && rc != HTTP_AGAIN)
            break;
        memcpy(body + *body_len, buf, out);
        *body_len += out;
        memmove(buf, buf + used, have - used);
        have -= used;
    }
    *rest = have + (n - fed);
    free(buf);
    return rc;
}

static void test_contract(void)
{
    struct http_chunked c;
    char body[256], buf[256];
    size_t bl, rest, out, used;
    const char *s = "3\r\nabc\r\n5;x=y\r\ndefgh\r\n0\r\nT: v\r\n\r\nNEXT";
    int all = 1;

    http_config_init(&cfg);
    for (size_t step = 1; step <= strlen(s); step++) {
        int rc = decode(s, strlen(s), step, body, &bl, &rest, &c);
        if (rc != 0 || bl != 8 || memcmp(body, "abcdefgh", 8) != 0 ||
            rest != 4 || c.n_trailers != 1)
            all = 0;
    }
    ok(all, "the same body, trailers and leftover whatever the read size");

    strcpy(buf, s);
    http_chunked_init(&c, &cfg, tr, 8);
    ok(http_chunked_decode(&c, buf, strlen(s), &out, &used) == 0 && out == 8 &&
       used == strlen(s) - 4 && memcmp(buf, "abcdefgh", 8) == 0 &&
       memcmp(buf + used, "NEXT", 4) == 0,
       "decoded in place; the next request's bytes are left where they were");
    ok(tr[0].name.len == 1 && buf[tr[0].name.off] == 'T' &&
       buf[tr[0].value.off] == 'v', "trailer spans point into this call's buffer");
    ok(http_chunked_done(&c), "done");

    /* a size line cut short: nothing consumed, resumed without re-scanning */
    strcpy(buf, "1234");
    http_chunked_init(&c, &cfg, tr, 8);
    ok(http_chunked_decode(&c, buf, 4, &out, &used) == HTTP_AGAIN && used == 0 &&
       out == 0 && c.scan == 4, "a partial size line waits, and says how far it looked");
    strcpy(buf, "1234\r");
    ok(http_chunked_decode(&c, buf, 5, &out, &used) == HTTP_AGAIN && used == 0 &&
       c.scan == 4, "a trailing CR is left for its LF");
    ok(http_chunked_eof_error(&c) == HTTP_E_EOF, "EOF in a size line: NoMoreData");

    /* trailers arriving over several calls */
    http_chunked_init(&c, &cfg, tr, 8);
    strcpy(buf, "0\r\nA: 1\r\nB:");
    ok(http_chunked_decode(&c, buf, strlen(buf), &out, &used) == HTTP_AGAIN && used == 3,
       "the last chunk is consumed, the trailer section kept whole");
    ok(http_chunked_eof_error(&c) == HTTP_E_CHUNK_TERMINATOR,
       "EOF in the trailers: ChunkMissingTerminator");
    strcpy(buf, "A: 1\r\nB: 2\r\n\r\n");
    ok(http_chunked_decode(&c, buf, strlen(buf), &out, &used) == 0 &&
       used == strlen(buf) && c.n_trailers == 2 && buf[tr[0].value.off] == '1' &&
       buf[tr[1].value.off] == '2', "then completes, spans relative to the last buffer");
}

static int one(const char *s, size_t n)
{
    struct http_chunked c;
    char body[1 << 16];
    size_t bl, rest;

    return decode(s, n, n, body, &bl, &rest, &c);
}

static void test_limits(void)
{
    char *s = malloc(300000);
    size_t n;

    if (!s)
        abort();
    http_config_init(&cfg);
    ok(one("fffffffffffffff\r\n", 17) == HTTP_AGAIN,
       "15 significant hex digits are a size (2^60 - 1)");
    ok(one("1000000000000000\r\n", 18) == HTTP_E_CHUNK_SIZE, "16 are refused");
    memset(s, '0', 4000);
    memcpy(s + 4000, "1\r\nx\r\n0\r\n\r\n", 11);
    ok(one(s, 4011) == 0, "leading zeros are not digits that count");

    /* one size line of exactly HTTP_CHUNK_LINE_MAX bytes, then one more */
    memcpy(s, "1;", 2);
    memset(s + 2, 'e', HTTP_CHUNK_LINE_MAX - 2);
    memcpy(s + HTTP_CHUNK_LINE_MAX, "\r\nx\r\n0\r\n\r\n", 11);
    ok(one(s, HTTP_CHUNK_LINE_MAX + 11) == 0, "a size line of 4096 bytes");
    memcpy(s, "1;e", 3);
    memset(s + 3, 'e', HTTP_CHUNK_LINE_MAX - 2);
    memcpy(s + HTTP_CHUNK_LINE_MAX + 1, "\r\nx\r\n0\r\n\r\n", 11);
    ok(one(s, HTTP_CHUNK_LINE_MAX + 12) == HTTP_E_CHUNK_OVERHEAD, "4097 is too long");
    ok(one(s, HTTP_CHUNK_LINE_MAX + 1) == HTTP_E_CHUNK_OVERHEAD,
       "also while its CRLF has not arrived");

    /* a stream of 1-byte chunks is served however long: the least
     * framing a chunk can have is not abuse */
    n = 0;
    while (n < 300000 - 20) {
        memcpy(s + n, "1\r\nx\r\n", 6);
        n += 6;
    }
    memcpy(s + n, "0\r\n\r\n", 5);
    ok(one(s, n + 5) == 0, "%zu one-byte chunks are a body", n / 6);
    /* padding is: leading zeros and spaces past HTTP_CHUNK_SLACK bytes */
    n = 0;
    while (n < 300000 - 40) {
        memcpy(s + n, "000000001 \r\nx\r\n", 15);
        n += 15;
    }
    ok(one(s, n) == HTTP_E_CHUNK_SIZE, "(spaces without an extension are no size)");
    for (size_t k = 0; k < n; k += 15)
        memcpy(s + k, "0000000001\r\nx\r\n", 15);
    ok(one(s, n) == HTTP_E_CHUNK_OVERHEAD, "%zu zero-padded one-byte chunks are refused",
       n / 15);
    ok(one(s, (size_t)15 * 7000) == HTTP_AGAIN, "7000 of them are not (63000 wasted bytes)");
    free(s);

    ok(one("5 \t;a=b\r\nhello\r\n0\r\n\r\n", 21) == 0, "SP/HTAB before ';' is dropped");
    ok(one("5 \r\nhello\r\n0\r\n\r\n", 16) == HTTP_E_CHUNK_SIZE,
       "but not without an extension");
    ok(one("5;a=\"\tb\"\r\nhello\r\n0\r\n\r\n", 22) == 0, "HTAB in an extension");
    ok(one("5\r\nhello\n\r\n", 11) == HTTP_E_CHUNK_TERMINATOR,
       "data must end in CRLF exactly");
    ok(one("0\r\nHost: x\r\n\r\n", 15) == HTTP_E_HEADER_NAME, "Host in trailers");
    {
        struct http_chunked c;
        char b[] = "2\r\nab\r\n0\r\nX-A: 1\r\nX-B: 2\r\n\r\n";
        size_t out, used;
        http_chunked_init(&c, &cfg, NULL, 0);
        ok(http_chunked_decode(&c, b, strlen(b), &out, &used) == 0 && out == 2 &&
           c.n_trailers == 2, "without an array, trailers are checked and counted");
        strcpy(b, "2\r\nabZZ");
        http_chunked_init(&c, &cfg, NULL, 0);
        ok(http_chunked_decode(&c, b, strlen(b), &out, &used) == HTTP_E_CHUNK_TERMINATOR &&
           out == 2 && used == 5, "an error still says what was decoded before it");
        strcpy(b, "2\r\nab");
        http_chunked_init(&c, &cfg, NULL, 0);
        ok(http_chunked_decode(&c, b, strlen(b), &out, &used) == HTTP_AGAIN &&
           http_chunked_eof_error(&c) == HTTP_E_CHUNK_TERMINATOR,
           "EOF where a chunk's CRLF belongs: ChunkMissingTerminator");
    }
}

int main(void)
{
    test_contract();
    test_limits();
    return tap_done();
}
