/*
 * Unit tests of the head parser: what the corpus replay cannot see from
 * outside (resumption without re-scanning, in-place edits, flags, limits'
 * normalisation, the error table) and the urlsplit() quirks.
 */
#include <stdlib.h>
#include <stdio.h>
#include <string.h>

#include "http/parser.h"
#include "../lib/tap.h"

static struct http_config cfg;
static struct http_header hdrs[HTTP_MAX_HEADERS];
static char buf[1 << 16];

/* Puts the bytes of s (not its NUL) at the start of buf, as a read would:
 * the parser is given their length and must find no terminator. Returns
 * that length. */
static size_t load(const char *s)
{
    size_t n = strlen(s);

    if (n > sizeof buf)
        bail("load: %zu bytes do not fit in buf", n);
    /* NOLINTNEXTLINE(bugprone-not-null-terminated-result): bytes, see above */
    memcpy(buf, s, n);
    return n;
}

/* Parses s whole with cfg; the request is left in *r, buf holds s. */
static int64_t parse(const char *s, struct http_request *r, int trusted)
{
    struct http_parser p;
    size_t n = load(s);

    http_parser_init(&p, &cfg, trusted);
    http_request_init(r, hdrs, HTTP_MAX_HEADERS);
    return http_parse_head(&p, r, buf, n);
}

static int span_is(struct http_span s, const char *want)
{
    return s.len == strlen(want) && memcmp(buf + s.off, want, s.len) == 0;
}

static void test_resume(void)
{
    struct http_parser p;
    struct http_request r;
    const char *line = "GET /abcdefghijklmnopqrstuvwxyz HTTP/1.1\r\nHost: x\r\n\r\n";
    size_t n = strlen(line), k;
    int64_t rc = HTTP_AGAIN;
    int scans_ok = 1;

    http_config_init(&cfg);
    http_parser_init(&p, &cfg, 1);
    http_request_init(&r, hdrs, 100);
    for (k = 1; k <= n && rc == HTTP_AGAIN; k++) {
        memcpy(buf, line, k);
        rc = http_parse_head(&p, &r, buf, k);
        /* what was looked at is remembered: never examined twice */
        if (rc == HTTP_AGAIN && p.pos + p.scan != k - (buf[k - 1] == '\r'))
            scans_ok = 0;
    }
    ok(rc == (int64_t)n && k == n + 1, "byte-by-byte head completes at its last byte");
    ok(scans_ok, "each call resumes where the previous one stopped looking");

    /* a cut between CR and LF */
    http_parser_init(&p, &cfg, 1);
    http_request_init(&r, hdrs, 100);
    memcpy(buf, "GET / HTTP/1.1\r", 15);
    ok(http_parse_head(&p, &r, buf, 15) == HTTP_AGAIN && p.scan == 14,
       "a CR at the end of the input waits for its LF, unexamined");
    memcpy(buf + 15, "\n\r", 2);
    ok(http_parse_head(&p, &r, buf, 17) == HTTP_AGAIN && p.pos == 16,
       "the request line is taken once the LF arrives");
    buf[17] = '\n';
    ok(http_parse_head(&p, &r, buf, 18) == 18, "the empty line ends the head");
    ok(http_parse_head(&p, &r, buf, 18) < 0 && http_parse_head(&p, &r, buf, 18) != HTTP_AGAIN,
       "a finished parser refuses to go on until it is reset");

    http_parser_init(&p, &cfg, 1);
    http_request_init(&r, hdrs, 100);
    ok(http_parse_head(&p, &r, buf, 0) == HTTP_AGAIN, "no bytes: AGAIN");
}

static void test_limits(void)
{
    struct http_request r;
    char *big;

    http_config_init(&cfg);
    ok(cfg.limit_request_line == 4094 && cfg.limit_request_fields == 100 &&
       cfg.limit_request_field_size == 8190 && cfg.max_head_buffer == 819204,
       "defaults are Gunicorn's (max head buffer 819204)");
    http_config_finish(&cfg, 0, 0, 0);
    ok(cfg.limit_request_line == 0 && cfg.limit_request_fields == 32768 &&
       cfg.limit_request_field_size == 8190,
       "0: unlimited line, 32768 fields, default field size");
    http_config_finish(&cfg, 9000, 40000, -5);
    ok(cfg.limit_request_line == 8190 && cfg.limit_request_fields == 32768 &&
       cfg.limit_request_field_size == 8190, "over the caps: capped");
    http_config_finish(&cfg, 1, (int64_t)1 << 40, (int64_t)1 << 40);
    ok(cfg.max_head_buffer == (uint64_t)1 << 30, "the head buffer stops at 1 GiB");

    /* an "unlimited" request line still ends at the head buffer's size */
    http_config_finish(&cfg, 0, 1, 100);
    big = malloc(300);
    if (!big)
        abort();
    memcpy(big, "GET /", 5);
    memset(big + 5, 'a', 295);
    {
        struct http_parser p;
        http_parser_init(&p, &cfg, 1);
        http_request_init(&r, hdrs, 1);
        ok(http_parse_head(&p, &r, big, 300) == HTTP_E_LINE_TOO_LONG,
           "limit_request_line 0 is bounded by the head buffer (106 bytes here)");
    }
    free(big);

    http_config_finish(&cfg, 4094, 2, 8190);
    ok(parse("GET / HTTP/1.1\r\na: 1\r\nb: 2\r\n\r\n", &r, 1) > 0,
       "exactly limit_request_fields headers pass");
    ok(parse("GET / HTTP/1.1\r\na: 1\r\nb: 2\r\nc: 3\r\n\r\n", &r, 1) ==
       HTTP_E_HEADERS_TOO_LARGE, "one more is 431");
    ok(parse("GET / HTTP/1.1\r\na_x: 1\r\nb_x: 2\r\nc: 3\r\nd: 4\r\n\r\n", &r, 1) > 0 &&
       r.n_headers == 2, "dropped headers do not count against the limit");
    http_config_finish(&cfg, 4094, 100, 12);
    ok(parse("GET / HTTP/1.1\r\nab: 123456\r\n\r\n", &r, 1) > 0,
       "a header line of exactly limit_request_field_size (CRLF counted) passes");
    ok(parse("GET / HTTP/1.1\r\nab: 1234567\r\n\r\n", &r, 1) ==
       HTTP_E_HEADERS_TOO_LARGE, "one byte more is 431");
}

static void test_flags(void)
{
    struct http_request r;

    http_config_init(&cfg);
    ok(parse("GET / HTTP/1.1\r\n\r\n", &r, 1) > 0 && (r.flags & HTTP_REQ_KEEP_ALIVE),
       "HTTP/1.1 keeps the connection by default");
    ok(parse("GET / HTTP/1.1\r\nConnection: Close\r\n\r\n", &r, 1) > 0 &&
       !(r.flags & HTTP_REQ_KEEP_ALIVE), "Connection: close");
    ok(parse("GET / HTTP/1.0\r\n\r\n", &r, 1) > 0 && !(r.flags & HTTP_REQ_KEEP_ALIVE),
       "HTTP/1.0 closes by default");
    ok(parse("GET / HTTP/1.0\r\nConnection:  keep-alive \r\n\r\n", &r, 1) > 0 &&
       (r.flags & HTTP_REQ_KEEP_ALIVE), "HTTP/1.0 with Connection: keep-alive");
    ok(parse("GET / HTTP/1.0\r\nConnection: keep-alive, Upgrade\r\n\r\n", &r, 1) > 0 &&
       !(r.flags & HTTP_REQ_KEEP_ALIVE), "a list is not keep-alive: 1.0 default");
    ok(parse("GET / HTTP/1.1\r\nConnection: close\r\nConnection: keep-alive\r\n\r\n",
             &r, 1) > 0 && !(r.flags & HTTP_REQ_KEEP_ALIVE),
       "only the first Connection header counts");
    ok(parse("POST / HTTP/1.1\r\nTransfer-Encoding: gzip, chunked\r\n\r\n", &r, 1) > 0 &&
       (r.flags & HTTP_REQ_MUST_CLOSE) && !(r.flags & HTTP_REQ_KEEP_ALIVE) &&
       r.body == HTTP_BODY_CHUNKED, "a gzip coding forces close after the response");
    ok(parse("POST / HTTP/1.1\r\nTransfer-Encoding: identity\r\nContent-Length: 1\r\n\r\n",
             &r, 1) > 0 && r.body == HTTP_BODY_LENGTH && (r.flags & HTTP_REQ_MUST_CLOSE) &&
       !(r.flags & HTTP_REQ_KEEP_ALIVE),
       "a coding list without chunked: framed by the length, then closed");
    cfg.flags = HTTP_PERMIT_UNCONVENTIONAL_VERSION;
    ok(parse("GET / HTTP/0.5\r\nExpect: 100-continue\r\n\r\n", &r, 1) > 0 &&
       !(r.flags & HTTP_REQ_KEEP_ALIVE) && !(r.flags & HTTP_REQ_EXPECT_CONTINUE),
       "HTTP/0.5 (permitted) is older than 1.1: no keep-alive, no 100");
    ok(parse("GET / HTTP/2.0\r\n\r\n", &r, 1) > 0 && (r.flags & HTTP_REQ_KEEP_ALIVE),
       "HTTP/2.0 (permitted) is newer");
    cfg.flags = 0;
    ok(parse("PUT / HTTP/1.1\r\nExpect: 100-continue\r\n\r\n", &r, 1) > 0 &&
       (r.flags & HTTP_REQ_EXPECT_CONTINUE), "Expect: 100-continue on 1.1");
    ok(parse("PUT / HTTP/1.0\r\nExpect: 100-continue\r\n\r\n", &r, 1) > 0 &&
       !(r.flags & HTTP_REQ_EXPECT_CONTINUE), "ignored on 1.0");
    ok(parse("POST / HTTP/1.1\r\nContent-Length: 0042\r\n\r\n", &r, 1) > 0 &&
       r.body == HTTP_BODY_LENGTH && r.content_length == 42, "Content-Length");
    ok(parse("POST / HTTP/1.1\r\nContent-Length: 4611686018427387903\r\n\r\n", &r, 1) > 0 &&
       r.content_length == 4611686018427387903ull, "the largest length: 2^62 - 1");
    ok(parse("POST / HTTP/1.1\r\nContent-Length: 4611686018427387904\r\n\r\n", &r, 1) ==
       HTTP_E_HEADER, "2^62 is refused");
    ok(parse("GET / HTTP/1.1\r\n\r\n", &r, 1) > 0 && r.body == HTTP_BODY_NONE,
       "no framing headers: no body");

    ok(parse("GET / HTTP/1.1\r\nX-Forwarded-Proto: https\r\n\r\n", &r, 1) > 0 &&
       (r.flags & HTTP_REQ_HTTPS) && (r.flags & HTTP_REQ_SCHEME_SET),
       "a trusted peer's X-Forwarded-Proto: https");
    ok(parse("GET / HTTP/1.1\r\nX-Forwarded-Proto: HTTPS\r\n\r\n", &r, 1) > 0 &&
       !(r.flags & HTTP_REQ_HTTPS) && (r.flags & HTTP_REQ_SCHEME_SET),
       "the value is case-sensitive");
    ok(parse("GET / HTTP/1.1\r\nX-Forwarded-Proto: https\r\nX-Forwarded-Ssl: off\r\n\r\n",
             &r, 0) > 0 && !(r.flags & HTTP_REQ_SCHEME_SET) && r.n_headers == 2,
       "an untrusted peer's scheme headers are plain headers");
    ok(parse("GET / HTTP/1.1\r\nScript_Name: /app\r\n\r\n", &r, 1) > 0 &&
       r.n_headers == 1, "a trusted peer's SCRIPT_NAME header is kept");
    ok(parse("GET / HTTP/1.1\r\nScript_Name: /app\r\n\r\n", &r, 0) > 0 &&
       r.n_headers == 0, "an untrusted peer's is dropped");
    cfg.header_map = HTTP_HEADER_MAP_REFUSE;
    ok(parse("GET / HTTP/1.1\r\nScript_Name: /app\r\n\r\n", &r, 0) ==
       HTTP_E_HEADER_NAME, "or refused with header_map=refuse");
    cfg.header_map = HTTP_HEADER_MAP_DROP;

    ok(parse("GET / HTTP/1.1\r\nhOsT: a\r\nContent-length: 1\r\n"
             "transfer-ENCODING: identity\r\nX: y\r\n\r\n", &r, 1) > 0 &&
       r.headers[0].id == HTTP_HDR_HOST && r.headers[1].id == HTTP_HDR_CONTENT_LENGTH &&
       r.headers[2].id == HTTP_HDR_TRANSFER_ENCODING && r.headers[3].id == HTTP_HDR_OTHER,
       "known names are recognised in any case");
    ok(span_is(r.headers[0].name, "hOsT"), "names are kept as received");
}

static void test_in_place(void)
{
    struct http_request r;

    http_config_init(&cfg);
    cfg.flags = HTTP_PERMIT_UNCONVENTIONAL_METHOD | HTTP_CASEFOLD_METHOD;
    ok(parse("patch /x HTTP/1.1\r\n\r\n", &r, 1) > 0 && span_is(r.method, "PATCH"),
       "casefold_http_method upper-cases the method in the buffer");
    cfg.flags = HTTP_PERMIT_OBS_FOLD;
    ok(parse("GET / HTTP/1.1\r\nX: a \r\n \t b\r\n\tc\t\r\nY: z\r\n\r\n", &r, 1) > 0 &&
       r.n_headers == 2 && span_is(r.headers[0].value, "a b c") &&
       span_is(r.headers[1].value, "z"),
       "obs-fold lines are joined with one SP, in place");
    ok(parse("GET / HTTP/1.1\r\nX:\r\n b\r\n\r\n", &r, 1) > 0 &&
       span_is(r.headers[0].value, " b"), "an empty first part keeps its SP (as Gunicorn)");
    ok(parse("GET / HTTP/1.1\r\n b: c\r\n\r\n", &r, 1) == HTTP_E_HEADER_NAME,
       "a continuation with nothing to continue is a bad name");
    cfg.flags = HTTP_PERMIT_UNCONVENTIONAL_VERSION;
    ok(parse("GET / HTTP/2.0\r\n\r\n", &r, 1) > 0 && r.major == 2,
       "permit_unconventional_http_version accepts 2.0");
    cfg.flags = 0;
    ok(parse("GET / HTTP/2.0\r\n\r\n", &r, 1) == HTTP_E_VERSION, "2.0 is refused by default");
}

static void split(const char *target, const char *path, const char *query,
                  const char *frag)
{
    struct http_span t = {0, (uint32_t)load(target)}, p, q, f;
    int rc = http_split_target(buf, t, &p, &q, &f);

    ok(rc == 0 && span_is(p, path) && span_is(q, query) && span_is(f, frag),
       "urlsplit %s -> %s ? %s # %s", target, path, query, frag);
}

static void split_fails(const char *target, int want)
{
    struct http_span t = {0, (uint32_t)load(target)}, p, q, f;

    ok(http_split_target(buf, t, &p, &q, &f) == want, "urlsplit refuses %s",
       target);
}

static void test_split(void)
{
    split("/a?b#c", "/a", "b", "c");
    split("example.com:443", "443", "", "");
    split("[::1]:443", "[::1]:443", "", "");
    split("http://u:p@[::1]:80/x?y#z", "/x", "y", "z");
    split("http://[v1.fe]/x", "/x", "", "");
    split("http://[fe80::1%25eth0]/x", "/x", "", "");
    split("http://h", "", "", "");
    split("HTTP+s.x-y://h/p", "/p", "", "");
    split("1http://h/p", "1http://h/p", "", "");
    split("*", "*", "", "");
    split("//x/y?z", "//x/y", "z", "");
    split("/?#", "/", "", "");
    split_fails("http://[::1/x", HTTP_E_REQUEST_LINE);
    split_fails("http://::1]/x", HTTP_E_REQUEST_LINE);
    split_fails("http://[1.2.3.4]/x", HTTP_E_REQUEST_LINE);
    split_fails("http://[vz.x]/x", HTTP_E_REQUEST_LINE);
    split_fails("http://[fe80::1%]/x", HTTP_E_REQUEST_LINE);
}

static void test_trailers(void)
{
    struct http_parser p;
    struct http_header t[4];
    uint32_t n = 0;
    size_t len;

    http_config_init(&cfg);
    http_parser_init(&p, &cfg, 1);
    len = load("A: 1\r\nB: 2\r\n\r\n");
    ok(http_parse_trailers(&p, t, 4, &n, buf, len) == (int64_t)len &&
       n == 2 && span_is(t[1].value, "2"), "a trailer section");
    http_parser_init(&p, &cfg, 1);
    n = 0;
    len = load("\r\n");
    ok(http_parse_trailers(&p, t, 4, &n, buf, len) == 2 && n == 0, "an empty one");
    http_parser_init(&p, &cfg, 1);
    n = 0;
    len = load("TE: x\r\n\r\n");
    ok(http_parse_trailers(&p, t, 4, &n, buf, len) == HTTP_E_HEADER_NAME,
       "TE is forbidden in trailers");
    http_parser_init(&p, &cfg, 1);
    n = 0;
    len = load("A: 1\r\nB: 2\r\n\r\n");
    ok(http_parse_trailers(&p, t, 1, &n, buf, len) == HTTP_E_HEADERS_TOO_LARGE,
       "more trailers than the caller has room for: 431");
}

static void test_errors(void)
{
    int codes_ok = 1;

    for (int c = HTTP_E_REQUEST_LINE; c >= HTTP_E_LAST; c--) {
        const struct http_error_info *e = http_error_info(c);
        if (!e->name || !e->reason || e->status < 400 || e->status > 599 ||
            strcmp(e->name, "InternalError") == 0)
            codes_ok = 0;
    }
    ok(codes_ok, "every error code has a name, a reason and a 4xx/5xx status");
    ok(http_error_info(HTTP_E_HEADERS_TOO_LARGE)->status == 431 &&
       http_error_info(HTTP_E_EXPECT)->status == 417 &&
       http_error_info(HTTP_E_TRANSFER_CODING)->status == 501 &&
       http_error_info(HTTP_E_PROXY_FORBIDDEN)->status == 403,
       "431, 417, 501, 403 where Gunicorn answers them");
    ok(http_error_info(HTTP_E_CHUNK_SIZE)->respond &&
       http_error_info(HTTP_E_CHUNK_TERMINATOR)->respond &&
       http_error_info(HTTP_E_CHUNK_EXTENSION)->respond &&
       http_error_info(HTTP_E_CHUNK_OVERHEAD)->respond &&
       http_error_info(HTTP_E_CHUNK_SIZE)->status == 400 &&
       !http_error_info(HTTP_E_EOF)->respond &&
       http_error_info(HTTP_E_HEADER)->respond,
       "chunk framing errors are answered 400; a peer gone is not answered");
    ok(http_error_info(0)->status == 500 && http_error_info(HTTP_AGAIN)->status == 500 &&
       http_error_info(-1000)->status == 500, "anything else maps to 500");
}

/* Which errors Gunicorn raises with the request attached (its access log
 * has a line for them): the parser marks them in p.err.with_req. */
static void test_with_req(void)
{
    static const struct {
        const char *in;
        int64_t code;
        int with;
    } cases[] = {
        {"GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n", HTTP_E_HEADER, HTTP_REQ_LINE},
        {"GET / HTTP/1.1\r\nContent-Type: a\r\nContent-Type: a\r\n\r\n", HTTP_E_HEADER,
         HTTP_REQ_LINE},
        {"GET / HTTP/1.1\r\nHost: a b\r\n\r\n", HTTP_E_HEADER, HTTP_REQ_LINE},
        {"POST / HTTP/1.1\r\nContent-Length: 1\r\nContent-Length: 1\r\n\r\n",
         HTTP_E_HEADER, HTTP_REQ_HEAD},
        {"POST / HTTP/1.1\r\nContent-Length: -1\r\n\r\n", HTTP_E_HEADER, HTTP_REQ_HEAD},
        {"POST / HTTP/1.1\r\nTransfer-Encoding: chunked, gzip\r\n\r\n", HTTP_E_HEADER,
         HTTP_REQ_HEAD},
        {"POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n", HTTP_E_HEADER,
         HTTP_REQ_HEAD},
        {"POST / HTTP/1.1\r\nTransfer-Encoding: br\r\n\r\n", HTTP_E_TRANSFER_CODING,
         HTTP_REQ_NONE},
        {"GET / HTTP/1.1\r\nX-A: a\x01\r\n\r\n", HTTP_E_HEADER, HTTP_REQ_NONE},
        {"GET / HTTP/1.1\r\nno colon\r\n\r\n", HTTP_E_HEADER, HTTP_REQ_NONE},
        {"get / HTTP/1.1\r\n\r\n", HTTP_E_METHOD, HTTP_REQ_NONE},
        {"GET / HTTP/1.1 x\r\n\r\n", HTTP_E_VERSION, HTTP_REQ_NONE},
    };
    struct http_request r;
    struct http_parser p;

    http_config_init(&cfg);
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        size_t n = load(cases[i].in);
        int64_t rc;

        http_parser_init(&p, &cfg, 0);
        http_request_init(&r, hdrs, HTTP_MAX_HEADERS);
        rc = http_parse_head(&p, &r, buf, n);
        ok(rc == cases[i].code && p.err.with_req == cases[i].with,
           "case %zu (%.*s): error %lld, with_req %d", i, (int)strcspn(cases[i].in, "\r"),
           cases[i].in, (long long)rc, p.err.with_req);
    }
}

/* docs/compat.md, Framing: one test per rule the parser decides. */
static void test_framing_rules(void)
{
    struct http_request r;
    static const char *const bad_hosts[] = {
        "exa mple.com", "a/b", "[::1", "[::1]x", "[zz]", "example.com:80x", "a@b",
        "%zz", "%4", "h\xffst", "a:b:c", "\"quoted\""};
    static const char *const good_hosts[] = {
        "", "example.com", "example.com:", "a.example:8080", "127.0.0.1", "[::1]:1",
        "[v1.x]", "x%41y", "0.0.0.0=5000", "a-b_c~!$&'()*+,;=:99"};
    static const char *const bad_te[] = {
        "gzip,,chunked", ",chunked", "chunked,", "", " ", "chunked;q=1", "\"chunked\"",
        "chunked\xa0", "chun ked"};
    char req[256];
    int all = 1;

    http_config_init(&cfg);
    for (size_t i = 0; i < sizeof(bad_hosts) / sizeof(bad_hosts[0]); i++) {
        (void)snprintf(req, sizeof(req), "GET / HTTP/1.1\r\nHost: %s\r\n\r\n", bad_hosts[i]);
        all &= parse(req, &r, 0) == HTTP_E_HEADER;
    }
    ok(all, "RFC 9112 §3.2: an invalid Host value is refused (InvalidHeader)");
    all = 1;
    for (size_t i = 0; i < sizeof(good_hosts) / sizeof(good_hosts[0]); i++) {
        (void)snprintf(req, sizeof(req), "GET / HTTP/1.1\r\nHost: %s\r\n\r\n", good_hosts[i]);
        all &= parse(req, &r, 0) == (int64_t)strlen(req);
    }
    ok(all, "uri-host [\":\" port]: names, addresses, IP literals, empty");
    ok(parse("GET / HTTP/1.1\r\nHost: a\r\nHost: a\r\n\r\n", &r, 0) == HTTP_E_HEADER,
       "two Host lines are refused");
    ok(parse("GET / HTTP/1.1\r\n\r\n", &r, 0) > 0,
       "without HTTP_REQUIRE_HOST, no Host is fine (Gunicorn's corpus)");
    cfg.flags |= HTTP_REQUIRE_HOST;
    ok(parse("GET / HTTP/1.1\r\n\r\n", &r, 0) == HTTP_E_HEADER,
       "with it, an HTTP/1.1 request without Host is refused");
    ok(parse("GET / HTTP/1.0\r\n\r\n", &r, 0) > 0, "an HTTP/1.0 one is not");
    ok(parse("POST / HTTP/1.1\r\nTransfer-Encoding: br\r\n\r\n", &r, 0) ==
           HTTP_E_TRANSFER_CODING,
       "an unknown coding is still 501 without Host");
    cfg.flags &= ~(unsigned)HTTP_REQUIRE_HOST;

    all = 1;
    for (size_t i = 0; i < sizeof(bad_te) / sizeof(bad_te[0]); i++) {
        (void)snprintf(req, sizeof(req),
                       "POST / HTTP/1.1\r\nTransfer-Encoding: %s\r\n\r\n", bad_te[i]);
        all &= parse(req, &r, 0) == HTTP_E_HEADER;
    }
    ok(all, "RFC 9112 §6.1: a malformed Transfer-Encoding is 400 (InvalidHeader)");
    ok(parse("POST / HTTP/1.1\r\nTransfer-Encoding: x-custom, chunked\r\n\r\n", &r, 0) ==
           HTTP_E_TRANSFER_CODING &&
       http_error_info(HTTP_E_TRANSFER_CODING)->status == 501,
       "a well-formed unknown coding is 501");
    ok(parse("POST / HTTP/1.1\r\nTransfer-Encoding: gzip , Chunked\r\n\r\n", &r, 0) > 0 &&
           r.body == HTTP_BODY_CHUNKED,
       "spaces around codings and their case do not matter");

    /* a TLS ClientHello: refused at its first byte, no CRLF awaited */
    {
        struct http_parser p;
        static const struct {
            const char *in;
            size_t n;
            int64_t want;
            const char *what;
        } firsts[] = {
            {"\x16\x03\x01\x02\x00\x01", 1, HTTP_E_METHOD,
             "a TLS handshake's first byte is InvalidRequestMethod at once"},
            {"\x80\x2b\x01", 3, HTTP_E_METHOD, "an SSLv2 hello's too"},
            {"\x00GET", 4, HTTP_E_METHOD, "a NUL first"},
            {"GE", 2, HTTP_AGAIN, "a method's start waits"},
        };
        for (size_t i = 0; i < sizeof(firsts) / sizeof(firsts[0]); i++) {
            http_parser_init(&p, &cfg, 0);
            http_request_init(&r, hdrs, HTTP_MAX_HEADERS);
            for (size_t k = 0; k < firsts[i].n; k++)
                buf[k] = firsts[i].in[k];
            ok(http_parse_head(&p, &r, buf, firsts[i].n) == firsts[i].want, "%s",
               firsts[i].what);
        }
    }
}

int main(void)
{
    test_framing_rules();
    test_resume();
    test_limits();
    test_flags();
    test_in_place();
    test_split();
    test_trailers();
    test_errors();
    test_with_req();
    return tap_done();
}
