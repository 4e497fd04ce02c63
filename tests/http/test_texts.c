/*
 * The texts of the parse errors (src/http/errors.c: http_error_text(),
 * http_repr()): for each error, what Gunicorn's exception says, str(exc),
 * which the worker logs as "Invalid request from ip=ADDR: TEXT". The
 * expected texts are Gunicorn 26.1's exception messages, with the bytes
 * shown as Python 3's repr() shows them (the tables below were made with
 * Python 3.11).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "http/chunked.h"
#include "http/parser.h"
#include "http/proxy.h"
#include "../lib/tap.h"

static struct http_config cfg;
static struct http_header hdrs[64];
static char buf[1 << 16];

/* ---- repr() ------------------------------------------------------------ */

/* repr(bytes(range(256)).decode("latin-1")), as UTF-8 */
static const char repr_all_str[] =
    "'\\x00\\x01\\x02\\x03\\x04\\x05\\x06\\x07\\x08\\t\\n\\x0b\\x0c\\r\\x"
    "0e\\x0f\\x10\\x11\\x12\\x13\\x14\\x15\\x16\\x17\\x18\\x19\\x1a\\x1b"
    "\\x1c\\x1d\\x1e\\x1f !\"#$%&\\'()*+,-./0123456789:;<=>?@ABCDEFGHIJKL"
    "MNOPQRSTUVWXYZ[\\\\]^_`abcdefghijklmnopqrstuvwxyz{|}~\\x7f\\x80\\x81"
    "\\x82\\x83\\x84\\x85\\x86\\x87\\x88\\x89\\x8a\\x8b\\x8c\\x8d\\x8e\\x"
    "8f\\x90\\x91\\x92\\x93\\x94\\x95\\x96\\x97\\x98\\x99\\x9a\\x9b\\x9c"
    "\\x9d\\x9e\\x9f\\xa0\xc2\xa1\xc2\xa2\xc2\xa3\xc2\xa4\xc2\xa5\xc2\xa6"
    "\xc2\xa7\xc2\xa8\xc2\xa9\xc2\xaa\xc2\xab\xc2\xac\\xad\xc2\xae\xc2"
    "\xaf\xc2\xb0\xc2\xb1\xc2\xb2\xc2\xb3\xc2\xb4\xc2\xb5\xc2\xb6\xc2\xb7"
    "\xc2\xb8\xc2\xb9\xc2\xba\xc2\xbb\xc2\xbc\xc2\xbd\xc2\xbe\xc2\xbf\xc3"
    "\x80\xc3\x81\xc3\x82\xc3\x83\xc3\x84\xc3\x85\xc3\x86\xc3\x87\xc3\x88"
    "\xc3\x89\xc3\x8a\xc3\x8b\xc3\x8c\xc3\x8d\xc3\x8e\xc3\x8f\xc3\x90\xc3"
    "\x91\xc3\x92\xc3\x93\xc3\x94\xc3\x95\xc3\x96\xc3\x97\xc3\x98\xc3\x99"
    "\xc3\x9a\xc3\x9b\xc3\x9c\xc3\x9d\xc3\x9e\xc3\x9f\xc3\xa0\xc3\xa1\xc3"
    "\xa2\xc3\xa3\xc3\xa4\xc3\xa5\xc3\xa6\xc3\xa7\xc3\xa8\xc3\xa9\xc3\xaa"
    "\xc3\xab\xc3\xac\xc3\xad\xc3\xae\xc3\xaf\xc3\xb0\xc3\xb1\xc3\xb2\xc3"
    "\xb3\xc3\xb4\xc3\xb5\xc3\xb6\xc3\xb7\xc3\xb8\xc3\xb9\xc3\xba\xc3\xbb"
    "\xc3\xbc\xc3\xbd\xc3\xbe\xc3\xbf'";
/* repr(bytes(range(256))) */
static const char repr_all_bytes[] =
    "b'\\x00\\x01\\x02\\x03\\x04\\x05\\x06\\x07\\x08\\t\\n\\x0b\\x0c\\r\\"
    "x0e\\x0f\\x10\\x11\\x12\\x13\\x14\\x15\\x16\\x17\\x18\\x19\\x1a\\x1b"
    "\\x1c\\x1d\\x1e\\x1f !\"#$%&\\'()*+,-./0123456789:;<=>?@ABCDEFGHIJKL"
    "MNOPQRSTUVWXYZ[\\\\]^_`abcdefghijklmnopqrstuvwxyz{|}~\\x7f\\x80\\x81"
    "\\x82\\x83\\x84\\x85\\x86\\x87\\x88\\x89\\x8a\\x8b\\x8c\\x8d\\x8e\\x"
    "8f\\x90\\x91\\x92\\x93\\x94\\x95\\x96\\x97\\x98\\x99\\x9a\\x9b\\x9c"
    "\\x9d\\x9e\\x9f\\xa0\\xa1\\xa2\\xa3\\xa4\\xa5\\xa6\\xa7\\xa8\\xa9\\x"
    "aa\\xab\\xac\\xad\\xae\\xaf\\xb0\\xb1\\xb2\\xb3\\xb4\\xb5\\xb6\\xb7"
    "\\xb8\\xb9\\xba\\xbb\\xbc\\xbd\\xbe\\xbf\\xc0\\xc1\\xc2\\xc3\\xc4\\x"
    "c5\\xc6\\xc7\\xc8\\xc9\\xca\\xcb\\xcc\\xcd\\xce\\xcf\\xd0\\xd1\\xd2"
    "\\xd3\\xd4\\xd5\\xd6\\xd7\\xd8\\xd9\\xda\\xdb\\xdc\\xdd\\xde\\xdf\\x"
    "e0\\xe1\\xe2\\xe3\\xe4\\xe5\\xe6\\xe7\\xe8\\xe9\\xea\\xeb\\xec\\xed"
    "\\xee\\xef\\xf0\\xf1\\xf2\\xf3\\xf4\\xf5\\xf6\\xf7\\xf8\\xf9\\xfa\\x"
    "fb\\xfc\\xfd\\xfe\\xff'";

static void test_repr(void)
{
    static const struct {
        const char *in, *want;
        int bytes;
    } cases[] = {
        { "BAD", "'BAD'", 0 },
        { "", "''", 0 },
        { "it's", "\"it's\"", 0 },          /* ' inside: "..." */
        { "a\"b", "'a\"b'", 0 },
        { "a'b\"c", "'a\\'b\"c'", 0 },       /* both: '...' with \' */
        { "a\\b", "'a\\\\b'", 0 },
        { "it's", "b\"it's\"", 1 },
        { "\xe9\xad\xa0\xa1", "'\xc3\xa9\\xad\\xa0\xc2\xa1'", 0 },
        { "\xe9", "b'\\xe9'", 1 },
    };
    char out[1024];
    char all[256];
    size_t i, n;

    for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        n = http_repr(cases[i].in, strlen(cases[i].in), cases[i].bytes, out,
                      sizeof(out));
        ok(n == strlen(cases[i].want) && strcmp(out, cases[i].want) == 0,
           "repr %s -> %s", cases[i].want, out);
    }
    for (i = 0; i < 256; i++)
        all[i] = (char)i;
    n = http_repr(all, 256, 0, out, sizeof(out));
    ok(n == sizeof(repr_all_str) - 1 && strcmp(out, repr_all_str) == 0,
       "every latin-1 character as Python's repr() of a str shows it");
    n = http_repr(all, 256, 1, out, sizeof(out));
    ok(n == sizeof(repr_all_bytes) - 1 && strcmp(out, repr_all_bytes) == 0,
       "every byte as Python's repr() of bytes shows it");
    /* cut: never inside an escape, marked */
    n = http_repr("ab\x01", 3, 0, out, 9);
    ok(n == 8 && strcmp(out, "'ab\\x01'") == 0, "exactly fits: %s", out);
    n = http_repr("ab\x01", 3, 0, out, 8);
    ok(n == 6 && strcmp(out, "'ab...") == 0, "cut before an escape, never in it: %s", out);
    n = http_repr("ab\xe9\xe9", 4, 0, out, 8);
    ok(n == 6 && strcmp(out, "'ab...") == 0, "never inside a character: %s", out);
    n = http_repr("abc", 3, 1, out, 7);
    ok(n == 6 && strcmp(out, "b'abc'") == 0, "bytes, exactly fits: %s", out);
    n = http_repr("x", 1, 0, out, 1);
    ok(n == 0 && out[0] == '\0', "no room at all");
    n = http_repr("xyz", 3, 0, out, 4);
    ok(n == 0 && out[0] == '\0', "no room for a mark: nothing");
}

/* ---- the head ----------------------------------------------------------- */

/* Parses s with cfg (as a trusted peer when trusted); the text of the error,
 * or "(none)" when it parsed, or "(again)". */
static const char *head_text(const char *s, int trusted)
{
    static char out[8192];
    struct http_parser p;
    struct http_request r;
    size_t n = strlen(s);
    int64_t rc;

    /* NOLINTNEXTLINE(bugprone-not-null-terminated-result): bytes */
    memcpy(buf, s, n);
    http_parser_init(&p, &cfg, trusted);
    http_request_init(&r, hdrs, 64);
    rc = http_parse_head(&p, &r, buf, n);
    if (rc == HTTP_AGAIN)
        return "(again)";
    if (rc >= 0)
        return "(none)";
    (void)http_error_text((int)rc, &p.err, buf, out, sizeof(out));
    return out;
}

static void check_heads(const char *const (*cases)[2], size_t n, int trusted)
{
    for (size_t i = 0; i < n; i++) {
        const char *got = head_text(cases[i][0], trusted);
        ok(strcmp(got, cases[i][1]) == 0, "%s", got);
        if (strcmp(got, cases[i][1]) != 0)
            diag("want %s", cases[i][1]);
    }
}

#define N(a) (sizeof(a) / sizeof((a)[0]))

static void test_request_line(void)
{
    static const char *const cases[][2] = {
        { "BAD\r\n\r\n", "Invalid HTTP request line: 'BAD'" },
        { "GET /\r\n\r\n", "Invalid HTTP request line: 'GET /'" },
        { "GET  HTTP/1.1\r\n\r\n", "Invalid HTTP request line: 'GET  HTTP/1.1'" },
        { "GET * HTTP/1.1\r\n\r\n", "Invalid HTTP request line: 'GET * HTTP/1.1'" },
        { "GET example.com:80 HTTP/1.1\r\n\r\n",
          "Invalid HTTP request line: 'GET example.com:80 HTTP/1.1'" },
        { "GET http://[::1/ HTTP/1.1\r\n\r\n",
          "Invalid HTTP request line: 'GET http://[::1/ HTTP/1.1'" },
        /* Ours: a control byte in the target; the same text */
        { "GET /\x01 HTTP/1.1\r\n\r\n", "Invalid HTTP request line: 'GET /\\x01 HTTP/1.1'" },
        { "get / HTTP/1.1\r\n\r\n", "Invalid HTTP method: 'get'" },
        { "GE / HTTP/1.1\r\n\r\n", "Invalid HTTP method: 'GE'" },
        { "G(T / HTTP/1.1\r\n\r\n", "Invalid HTTP method: 'G(T'" },
        { "G\xe9T / HTTP/1.1\r\n\r\n", "Invalid HTTP method: 'G\xc3\xa9T'" },
        { "G\x80T / HTTP/1.1\r\n\r\n", "Invalid HTTP method: 'G\\x80T'" },
        { "GET / HTTP/1.1 x\r\n\r\n", "Invalid HTTP Version: 'HTTP/1.1 x'" },
        { "GET / http/1.1\r\n\r\n", "Invalid HTTP Version: 'http/1.1'" },
        { "GET / HTTP/1.1\n\r\n", "Invalid HTTP Version: 'HTTP/1.1\\n'" },
        { "GET / HTTP/2.0\r\n\r\n", "Invalid HTTP Version: (2, 0)" },
        { "GET / HTTP/0.9\r\n\r\n", "Invalid HTTP Version: (0, 9)" },
    };

    http_config_init(&cfg);
    check_heads(cases, N(cases), 0);
    http_config_finish(&cfg, 10, 100, 8190);
    ok(strcmp(head_text("GET /0123456789 HTTP/1.1\r\n\r\n", 0),
              "Request Line is too large (24 > 10)") == 0,
       "a whole line too long: its length");
    ok(strcmp(head_text("GET /0123456789012", 0),
              "Request Line is too large (18 > 10)") == 0,
       "a line without its end yet: the bytes held, as Gunicorn counts them");
    http_config_finish(&cfg, 0, 1, 10);     /* Ours: the head buffer bounds it */
    ok(strcmp(head_text("GET /0123456789 HTTP/1.1\r\n\r\n", 0),
              "Request Line is too large (24 > 16)") == 0,
       "limit_request_line 0: bounded by the head buffer (%s)",
       head_text("GET /0123456789 HTTP/1.1\r\n\r\n", 0));
}

static void test_headers(void)
{
    static const char *const cases[][2] = {
        { "GET / HTTP/1.1\r\nFoo\r\n\r\n", "Invalid HTTP Header: 'Foo'" },
        { "GET / HTTP/1.1\r\n: x\r\n\r\n", "Invalid HTTP Header: ': x'" },
        { "GET / HTTP/1.1\r\nit's\r\n\r\n", "Invalid HTTP Header: \"it's\"" },
        { "GET / HTTP/1.1\r\nX Y: 1\r\n\r\n", "Invalid HTTP header name: 'X Y'" },
        { "GET / HTTP/1.1\r\n X: 1\r\n\r\n", "Invalid HTTP header name: ' X'" },
        { "GET / HTTP/1.1\r\nX\xe9: 1\r\n\r\n", "Invalid HTTP header name: 'X\xc3\xa9'" },
        { "GET / HTTP/1.1\r\nx-a: 1\r\n folded\r\n\r\n",
          "Obsolete line folding is unacceptable: 'X-A'" },
        { "GET / HTTP/1.1\r\nx-b: a\x01" "b\r\n\r\n", "Invalid HTTP Header: 'X-B'" },
        { "GET / HTTP/1.1\r\nx-b: a\nb\r\n\r\n", "Invalid HTTP Header: 'X-B'" },
        { "GET / HTTP/1.1\r\nHost: a\r\nhost: b\r\n\r\n", "Invalid HTTP Header: 'HOST'" },
        { "GET / HTTP/1.1\r\ncontent-type: a\r\nContent-Type: b\r\n\r\n",
          "Invalid HTTP Header: 'CONTENT-TYPE'" },
        { "GET / HTTP/1.1\r\nExpect: 200-ok\r\n\r\n",
          "Unable to comply with expectation: '200-ok'" },
        { "POST / HTTP/1.1\r\nTransfer-Encoding: gzip, foo\r\n\r\n",
          "Unsupported transfer coding: 'gzip, foo'" },
        { "POST / HTTP/1.1\r\nTransfer-Encoding: chunked, chunked\r\n\r\n",
          "Invalid HTTP Header: 'TRANSFER-ENCODING'" },
        { "POST / HTTP/1.1\r\nTransfer-Encoding: chunked, gzip\r\n\r\n",
          "Invalid HTTP Header: 'TRANSFER-ENCODING'" },
        { "POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n",
          "Invalid HTTP Header: 'TRANSFER-ENCODING'" },
        { "POST / HTTP/1.1\r\nContent-Length: 1\r\nContent-Length: 1\r\n\r\n",
          "Invalid HTTP Header: 'CONTENT-LENGTH'" },
        { "POST / HTTP/1.1\r\nContent-Length: x\r\n\r\n",
          "Invalid HTTP Header: 'CONTENT-LENGTH'" },
        { "POST / HTTP/1.1\r\nContent-Length: 1\r\nTransfer-Encoding: chunked\r\n\r\n",
          "Invalid HTTP Header: 'CONTENT-LENGTH'" },
        { "GET / HTTP/1.1\r\nHost: x\r\n\r\n", "(none)" },
    };
    static const char *const refuse[][2] = {
        { "GET / HTTP/1.1\r\nx_y: 1\r\n\r\n", "Invalid HTTP header name: 'X_Y'" },
    };
    static const char *const scheme[][2] = {
        { "GET / HTTP/1.1\r\nX-Forwarded-Proto: https\r\nX-Forwarded-Ssl: off\r\n\r\n",
          "Contradictory scheme headers" },
    };

    http_config_init(&cfg);
    check_heads(cases, N(cases), 0);
    cfg.header_map = HTTP_HEADER_MAP_REFUSE;
    check_heads(refuse, N(refuse), 0);
    http_config_init(&cfg);
    check_heads(scheme, N(scheme), 1);
    http_config_finish(&cfg, 4094, 2, 8190);
    ok(strcmp(head_text("GET / HTTP/1.1\r\na: 1\r\nb: 2\r\nc: 3\r\n\r\n", 0),
              "limit request headers fields") == 0, "too many headers");
    http_config_finish(&cfg, 4094, 100, 10);
    ok(strcmp(head_text("GET / HTTP/1.1\r\nabc: 12345\r\n\r\n", 0),
              "limit request headers fields size") == 0, "a header too big");
    cfg.flags |= HTTP_PERMIT_OBS_FOLD;
    ok(strcmp(head_text("GET / HTTP/1.1\r\nab: 1\r\n 234\r\n\r\n", 0),
              "limit request headers fields size") == 0,
       "a folded header too big");
    http_config_finish(&cfg, 4094, 2, 10);  /* a head buffer of 28 bytes */
    ok(strcmp(head_text("GET / HTTP/1.1\r\nab: 1\r\nabcdefghijklmnopqrstuvwxyz", 0),
              "max buffer headers") == 0, "a head past its buffer");
}

static void test_trailers(void)
{
    static char out[512];
    struct http_parser p;
    uint32_t n = 0;
    const char *s = "Host: x\r\n\r\n";
    int64_t rc;

    http_config_init(&cfg);
    http_parser_init(&p, &cfg, 0);
    /* NOLINTNEXTLINE(bugprone-not-null-terminated-result): bytes */
    memcpy(buf, s, strlen(s));
    rc = http_parse_trailers(&p, hdrs, 64, &n, buf, strlen(s));
    (void)http_error_text((int)rc, &p.err, buf, out, sizeof(out));
    ok(rc == HTTP_E_HEADER_NAME && strcmp(out, "Invalid HTTP header name: 'HOST'") == 0,
       "a forbidden trailer: %s", out);
}

static void test_no_detail(void)
{
    char out[64];

    ok(http_error_text(HTTP_E_CHUNK_SIZE, NULL, NULL, out, sizeof(out)) > 0 &&
       strcmp(out, "InvalidChunkSize") == 0, "nothing noted: the name (%s)", out);
    ok(http_error_text(HTTP_E_HEADER, NULL, buf, out, 1) == 0 && out[0] == '\0',
       "a one-byte buffer: empty");
}

/* ---- PROXY -------------------------------------------------------------- */

#define SIG "\r\n\r\n\0\r\nQUIT\n"

static void test_proxy(void)
{
    static const struct {
        const char *in;
        size_t len;
        const char *want;
    } cases[] = {
#define V(s, w) { s, sizeof(s) - 1, w }
        V("PROXY TCP4 1.2.3.4 5.6.7.8 1 2 3\r\n",
          "Invalid PROXY line: 'PROXY TCP4 1.2.3.4 5.6.7.8 1 2 3'"),
        V("PROXY UNKNOWN\r\n", "Invalid PROXY line: 'PROXY UNKNOWN'"),
        V("PROXY UDP4 1.2.3.4 5.6.7.8 1 2\r\n",
          "Invalid PROXY line: \"protocol 'UDP4' not supported\""),
        V("PROXY UNKNOWN 1.2.3.4 5.6.7.8 1 2\r\n",
          "Invalid PROXY line: \"protocol 'UNKNOWN' not supported\""),
        V("PROXY TCP4 1.2.3 5.6.7.8 1 2\r\n",
          "Invalid PROXY line: 'PROXY TCP4 1.2.3 5.6.7.8 1 2'"),
        V("PROXY TCP6 1.2.3.4 5.6.7.8 1 2\r\n",
          "Invalid PROXY line: 'PROXY TCP6 1.2.3.4 5.6.7.8 1 2'"),
        V("PROXY TCP4 1.2.3.4 5.6.7.8 1 x\r\n",
          "Invalid PROXY line: 'invalid port PROXY TCP4 1.2.3.4 5.6.7.8 1 x'"),
        V("PROXY TCP4 1.2.3.4 5.6.7.8 70000 2\r\n",
          "Invalid PROXY line: 'invalid port PROXY TCP4 1.2.3.4 5.6.7.8 70000 2'"),
        V(SIG "\x11\x11\x00\x0c" "\1\2\3\4\5\6\7\x08\0\1\0\2",
          "Invalid PROXY header: unsupported version 1"),
        V(SIG "\x23\x11\x00\x0c" "\1\2\3\4\5\6\7\x08\0\1\0\2",
          "Invalid PROXY header: unsupported command 3"),
        V(SIG "\x21\x12\x00\x0c" "\1\2\3\4\5\6\7\x08\0\1\0\2",
          "Invalid PROXY header: only TCP protocol is supported"),
        V(SIG "\x21\x11\x00\x08" "\1\2\3\4\5\6\7\x08",
          "Invalid PROXY header: insufficient address data for IPv4"),
        V(SIG "\x21\x21\x00\x0c" "\1\2\3\4\5\6\7\x08\0\1\0\2",
          "Invalid PROXY header: insufficient address data for IPv6"),
        V(SIG "\x21\x31\x00\x0c" "\1\2\3\4\5\6\7\x08\0\1\0\2",
          "Invalid PROXY header: unsupported address family 3"),
#undef V
    };
    char out[512];

    for (size_t i = 0; i < N(cases); i++) {
        struct http_proxy px;
        int64_t rc;

        /* NOLINTNEXTLINE(bugprone-not-null-terminated-result): bytes */
        memcpy(buf, cases[i].in, cases[i].len);
        rc = http_proxy_parse(buf, cases[i].len, HTTP_PROXY_AUTO, &px);
        (void)http_error_text((int)rc, &px.err, buf, out, sizeof(out));
        ok(rc < 0 && strcmp(out, cases[i].want) == 0, "%s", out);
    }
    /* Ours: no CRLF within 107 bytes */
    memset(buf, 'a', 200);
    /* NOLINTNEXTLINE(bugprone-not-null-terminated-result): bytes */
    memcpy(buf, "PROXY TCP4 ", 11);
    {
        struct http_proxy px;
        int64_t rc = http_proxy_parse(buf, 200, HTTP_PROXY_AUTO, &px);

        (void)http_error_text((int)rc, &px.err, buf, out, sizeof(out));
        ok(rc == HTTP_E_PROXY_LINE && strncmp(out, "Invalid PROXY line: 'PROXY TCP4 aaa", 35) == 0
           && strlen(out) == 20 + 107 + 2, "a line past 107 bytes: its first 107 (%zu)",
           strlen(out));
    }
}

int main(void)
{
    test_repr();
    test_request_line();
    test_headers();
    test_trailers();
    test_no_detail();
    test_proxy();
    return tap_done();
}
