/*
 * Gunicorn's error page, byte for byte (src/http/pages.h): the page of
 * every parse error that gets an answer (http_error_info), the app's 500,
 * --request-timeout's 504, a 400 with a message, and a long message. Each
 * expected page is written out in full; each page's Content-Length is
 * checked against its body. The worker's users, cu_conn_send_error() and
 * cu_page_504(), are checked to send the same bytes.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "http/http.h"
#include "http/pages.h"
#include "worker/conn.h"
#include "worker/worker.h"
#include "../lib/tap.h"

/* What a client gets for each parse error that is answered. */
static const struct {
    int code;
    const char *page;
} parse_pages[] = {
    {HTTP_E_REQUEST_LINE,
     "HTTP/1.1 400 Bad Request\r\n"
     "Connection: close\r\nContent-Type: text/html\r\n"
     "Content-Length: 139\r\n\r\n"
     "<html>\n  <head>\n    <title>Bad Request</title>\n  </head>\n"
     "  <body>\n    <h1><p>Bad Request</p></h1>\n"
     "    InvalidRequestLine\n  </body>\n</html>\n"},
    {HTTP_E_METHOD,
     "HTTP/1.1 400 Bad Request\r\n"
     "Connection: close\r\nContent-Type: text/html\r\n"
     "Content-Length: 141\r\n\r\n"
     "<html>\n  <head>\n    <title>Bad Request</title>\n  </head>\n"
     "  <body>\n    <h1><p>Bad Request</p></h1>\n"
     "    InvalidRequestMethod\n  </body>\n</html>\n"},
    {HTTP_E_VERSION,
     "HTTP/1.1 400 Bad Request\r\n"
     "Connection: close\r\nContent-Type: text/html\r\n"
     "Content-Length: 139\r\n\r\n"
     "<html>\n  <head>\n    <title>Bad Request</title>\n  </head>\n"
     "  <body>\n    <h1><p>Bad Request</p></h1>\n"
     "    InvalidHTTPVersion\n  </body>\n</html>\n"},
    {HTTP_E_LINE_TOO_LONG,
     "HTTP/1.1 400 Bad Request\r\n"
     "Connection: close\r\nContent-Type: text/html\r\n"
     "Content-Length: 137\r\n\r\n"
     "<html>\n  <head>\n    <title>Bad Request</title>\n  </head>\n"
     "  <body>\n    <h1><p>Bad Request</p></h1>\n"
     "    LimitRequestLine\n  </body>\n</html>\n"},
    {HTTP_E_HEADER,
     "HTTP/1.1 400 Bad Request\r\n"
     "Connection: close\r\nContent-Type: text/html\r\n"
     "Content-Length: 134\r\n\r\n"
     "<html>\n  <head>\n    <title>Bad Request</title>\n  </head>\n"
     "  <body>\n    <h1><p>Bad Request</p></h1>\n"
     "    InvalidHeader\n  </body>\n</html>\n"},
    {HTTP_E_HEADER_NAME,
     "HTTP/1.1 400 Bad Request\r\n"
     "Connection: close\r\nContent-Type: text/html\r\n"
     "Content-Length: 138\r\n\r\n"
     "<html>\n  <head>\n    <title>Bad Request</title>\n  </head>\n"
     "  <body>\n    <h1><p>Bad Request</p></h1>\n"
     "    InvalidHeaderName\n  </body>\n</html>\n"},
    {HTTP_E_OBS_FOLD,
     "HTTP/1.1 400 Bad Request\r\n"
     "Connection: close\r\nContent-Type: text/html\r\n"
     "Content-Length: 136\r\n\r\n"
     "<html>\n  <head>\n    <title>Bad Request</title>\n  </head>\n"
     "  <body>\n    <h1><p>Bad Request</p></h1>\n"
     "    ObsoleteFolding\n  </body>\n</html>\n"},
    {HTTP_E_HEADERS_TOO_LARGE,
     "HTTP/1.1 431 Request Header Fields Too Large\r\n"
     "Connection: close\r\nContent-Type: text/html\r\n"
     "Content-Length: 180\r\n\r\n"
     "<html>\n  <head>\n    <title>Request Header Fields Too Large</title>\n  </head>\n"
     "  <body>\n    <h1><p>Request Header Fields Too Large</p></h1>\n"
     "    LimitRequestHeaders\n  </body>\n</html>\n"},
    {HTTP_E_SCHEME_HEADERS,
     "HTTP/1.1 400 Bad Request\r\n"
     "Connection: close\r\nContent-Type: text/html\r\n"
     "Content-Length: 141\r\n\r\n"
     "<html>\n  <head>\n    <title>Bad Request</title>\n  </head>\n"
     "  <body>\n    <h1><p>Bad Request</p></h1>\n"
     "    InvalidSchemeHeaders\n  </body>\n</html>\n"},
    {HTTP_E_EXPECT,
     "HTTP/1.1 417 Expectation Failed\r\n"
     "Connection: close\r\nContent-Type: text/html\r\n"
     "Content-Length: 152\r\n\r\n"
     "<html>\n  <head>\n    <title>Expectation Failed</title>\n  </head>\n"
     "  <body>\n    <h1><p>Expectation Failed</p></h1>\n"
     "    ExpectationFailed\n  </body>\n</html>\n"},
    {HTTP_E_TRANSFER_CODING,
     "HTTP/1.1 501 Bad Request\r\n"
     "Connection: close\r\nContent-Type: text/html\r\n"
     "Content-Length: 146\r\n\r\n"
     "<html>\n  <head>\n    <title>Bad Request</title>\n  </head>\n"
     "  <body>\n    <h1><p>Bad Request</p></h1>\n"
     "    UnsupportedTransferCoding\n  </body>\n</html>\n"},
    {HTTP_E_BODY_TOO_LARGE,  /* ours: limit_request_body */
     "HTTP/1.1 413 Content Too Large\r\n"
     "Connection: close\r\nContent-Type: text/html\r\n"
     "Content-Length: 149\r\n\r\n"
     "<html>\n  <head>\n    <title>Content Too Large</title>\n  </head>\n"
     "  <body>\n    <h1><p>Content Too Large</p></h1>\n"
     "    LimitRequestBody\n  </body>\n</html>\n"},
    {HTTP_E_PROXY_LINE,
     "HTTP/1.1 400 Bad Request\r\n"
     "Connection: close\r\nContent-Type: text/html\r\n"
     "Content-Length: 137\r\n\r\n"
     "<html>\n  <head>\n    <title>Bad Request</title>\n  </head>\n"
     "  <body>\n    <h1><p>Bad Request</p></h1>\n"
     "    InvalidProxyLine\n  </body>\n</html>\n"},
    {HTTP_E_PROXY_HEADER,
     "HTTP/1.1 400 Bad Request\r\n"
     "Connection: close\r\nContent-Type: text/html\r\n"
     "Content-Length: 139\r\n\r\n"
     "<html>\n  <head>\n    <title>Bad Request</title>\n  </head>\n"
     "  <body>\n    <h1><p>Bad Request</p></h1>\n"
     "    InvalidProxyHeader\n  </body>\n</html>\n"},
    {HTTP_E_PROXY_FORBIDDEN,
     "HTTP/1.1 403 Forbidden\r\n"
     "Connection: close\r\nContent-Type: text/html\r\n"
     "Content-Length: 138\r\n\r\n"
     "<html>\n  <head>\n    <title>Forbidden</title>\n  </head>\n"
     "  <body>\n    <h1><p>Forbidden</p></h1>\n"
     "    ForbiddenProxyRequest\n  </body>\n</html>\n"},
    {HTTP_E_CHUNK_SIZE,
     "HTTP/1.1 400 Bad Request\r\n"
     "Connection: close\r\nContent-Type: text/html\r\n"
     "Content-Length: 137\r\n\r\n"
     "<html>\n  <head>\n    <title>Bad Request</title>\n  </head>\n"
     "  <body>\n    <h1><p>Bad Request</p></h1>\n"
     "    InvalidChunkSize\n  </body>\n</html>\n"},
    {HTTP_E_CHUNK_TERMINATOR,
     "HTTP/1.1 400 Bad Request\r\n"
     "Connection: close\r\nContent-Type: text/html\r\n"
     "Content-Length: 143\r\n\r\n"
     "<html>\n  <head>\n    <title>Bad Request</title>\n  </head>\n"
     "  <body>\n    <h1><p>Bad Request</p></h1>\n"
     "    ChunkMissingTerminator\n  </body>\n</html>\n"},
    {HTTP_E_CHUNK_EXTENSION,
     "HTTP/1.1 400 Bad Request\r\n"
     "Connection: close\r\nContent-Type: text/html\r\n"
     "Content-Length: 142\r\n\r\n"
     "<html>\n  <head>\n    <title>Bad Request</title>\n  </head>\n"
     "  <body>\n    <h1><p>Bad Request</p></h1>\n"
     "    InvalidChunkExtension\n  </body>\n</html>\n"},
    {HTTP_E_CHUNK_OVERHEAD,
     "HTTP/1.1 400 Bad Request\r\n"
     "Connection: close\r\nContent-Type: text/html\r\n"
     "Content-Length: 134\r\n\r\n"
     "<html>\n  <head>\n    <title>Bad Request</title>\n  </head>\n"
     "  <body>\n    <h1><p>Bad Request</p></h1>\n"
     "    ChunkOverhead\n  </body>\n</html>\n"},
    {0 /* unknown */,
     "HTTP/1.1 500 Internal Server Error\r\n"
     "Connection: close\r\nContent-Type: text/html\r\n"
     "Content-Length: 154\r\n\r\n"
     "<html>\n  <head>\n    <title>Internal Server Error</title>\n  </head>\n"
     "  <body>\n    <h1><p>Internal Server Error</p></h1>\n"
     "    InternalError\n  </body>\n</html>\n"},
};

static const char page_500[] =
    "HTTP/1.1 500 Internal Server Error\r\n"
    "Connection: close\r\nContent-Type: text/html\r\n"
    "Content-Length: 141\r\n\r\n"
    "<html>\n  <head>\n    <title>Internal Server Error</title>\n  </head>\n"
    "  <body>\n    <h1><p>Internal Server Error</p></h1>\n"
    "    \n  </body>\n</html>\n";

static const char page_504[] =
    "HTTP/1.1 504 Gateway Timeout\r\n"
    "Connection: close\r\nContent-Type: text/html\r\n"
    "Content-Length: 176\r\n\r\n"
    "<html>\n  <head>\n    <title>Gateway Timeout</title>\n  </head>\n"
    "  <body>\n    <h1><p>Gateway Timeout</p></h1>\n"
    "    The request took longer than --request-timeout.\n  </body>\n</html>\n";

/* A bad response header's 400, with the message as the bridge escapes it:
 * the header name was X<&>"' (the text shows the repr of its repr). */
static const char msg_400[] =
    "Invalid HTTP header name: &#x27;\\&#x27;X&lt;&amp;&gt;&quot;\\\\\\&#x27;\\&#x27;&#x27;";
static const char page_400[] =
    "HTTP/1.1 400 Bad Request\r\n"
    "Connection: close\r\nContent-Type: text/html\r\n"
    "Content-Length: 202\r\n\r\n"
    "<html>\n  <head>\n    <title>Bad Request</title>\n  </head>\n"
    "  <body>\n    <h1><p>Bad Request</p></h1>\n"
    "    Invalid HTTP header name: &#x27;\\&#x27;X&lt;&amp;&gt;&quot;\\\\\\&#x27;\\&#x27;&#x27;\n"
    "  </body>\n</html>\n";

/* The message goes out as given: escaping it is the caller's part. */
static const char page_400_raw[] =
    "HTTP/1.1 400 Bad Request\r\n"
    "Connection: close\r\nContent-Type: text/html\r\n"
    "Content-Length: 126\r\n\r\n"
    "<html>\n  <head>\n    <title>Bad Request</title>\n  </head>\n"
    "  <body>\n    <h1><p>Bad Request</p></h1>\n"
    "    <&>\"'\n  </body>\n</html>\n";

/* A long message (4,000 bytes: "0123456789" 400 times) between these. */
static const char long_head[] =
    "HTTP/1.1 400 Bad Request\r\n"
    "Connection: close\r\nContent-Type: text/html\r\n"
    "Content-Length: 4121\r\n\r\n"
    "<html>\n  <head>\n    <title>Bad Request</title>\n  </head>\n"
    "  <body>\n    <h1><p>Bad Request</p></h1>\n"
    "    ";
static const char long_tail[] = "\n  </body>\n</html>\n";

/* Whether the page's Content-Length is the length of its body. */
static int length_right(const char *p, size_t n)
{
    static const char cl[] = "\r\nContent-Length: ";
    const char *end = memmem(p, n, "\r\n\r\n", 4), *v = memmem(p, n, cl, sizeof(cl) - 1);
    char *after;
    unsigned long len;

    if (!end || !v || v > end)
        return 0;
    errno = 0;
    len = strtoul(v + sizeof(cl) - 1, &after, 10);
    return errno == 0 && after[0] == '\r' && after[1] == '\n' && after <= end &&
           len == n - (size_t)(end + 4 - p);
}

/*
 * Every page has a Date (ours, RFC 9110 §6.6.1) as the last header line:
 * checks that it is there and is the time now (or a second ago, or the
 * second before that), and removes it, so the rest compares with
 * Gunicorn's bytes. The page's new length; 0 when the Date is wrong.
 */
static size_t undate(char *p, size_t n)
{
    static const char key[] = "\r\nDate: ";
    char *at = memmem(p, n, key, sizeof(key) - 1), *end = memmem(p, n, "\r\n\r\n", 4);
    size_t line = sizeof(key) - 1 + HTTP_DATE_LEN;
    char want[HTTP_DATE_LEN + 1];
    int fresh = 0;

    if (!at || !end || at + line != end)
        return 0;
    for (long long back = 0; back < 3 && !fresh; back++) {
        http_date((long long)time(NULL) - back, want);
        fresh = memcmp(at + sizeof(key) - 1, want, HTTP_DATE_LEN) == 0;
    }
    if (!fresh)
        return 0;
    memmove(at, at + line, n - (size_t)(at + line - p));
    return n - line;
}

/* Builds the page both ways and compares it with want. */
static void check(const char *what, unsigned status, const char *reason, const char *msg,
                  size_t msg_len, const char *want)
{
    char buf[HTTP_PAGE_MAX], head[HTTP_PAGE_HEAD], joined[HTTP_PAGE_MAX];
    struct iovec iov[HTTP_PAGE_IOV];
    size_t n = http_page(buf, sizeof(buf), status, reason, msg, msg_len), wl = strlen(want);
    size_t m = http_page_iov(iov, head, status, reason, msg, msg_len), off = 0, full = n;

    ok(length_right(buf, n), "%s: Content-Length is the body's length", what);
    n = undate(buf, n);
    ok(n == wl && memcmp(buf, want, wl) == 0, "%s: the page's bytes, and a Date", what);
    for (int i = 0; i < HTTP_PAGE_IOV && off + iov[i].iov_len <= sizeof(joined); i++) {
        memcpy(joined + off, iov[i].iov_base, iov[i].iov_len);
        off += iov[i].iov_len;
    }
    ok(m == full && off == full && undate(joined, off) == wl && memcmp(joined, want, wl) == 0 &&
           memmem(iov[0].iov_base, iov[0].iov_len, "\r\n\r\n", 4) ==
               (char *)iov[0].iov_base + iov[0].iov_len - 4 &&
           (msg_len == 0 || iov[2].iov_base == msg),
       "%s: the same bytes in pieces (the head first), the message not copied", what);
    ok(http_page(buf, full, status, reason, msg, msg_len) == full &&
           http_page(buf, full - 1, status, reason, msg, msg_len) == 0,
       "%s: fits in exactly its length, not one byte less", what);
}

/* What cu_conn_send_error(code) writes to a socket. */
static size_t sent_error(int code, char *out, size_t cap, int *rc)
{
    struct cu_conn c;
    int sv[2];
    ssize_t got;
    size_t n = 0;

    if (socketpair(AF_UNIX, SOCK_STREAM, 0, sv) < 0 || cu_conn_init(&c, sv[0], 0) < 0)
        abort();
    c.timeout_ms = 1000;
    *rc = cu_conn_send_error(&c, code);
    cu_conn_close(&c);
    while (n < cap && (got = read(sv[1], out + n, cap - n)) > 0)
        n += (size_t)got;
    close(sv[1]);
    return n;
}

static void test_parse_errors(void)
{
    size_t answered = 0;
    char out[HTTP_PAGE_MAX];
    int rc;

    for (size_t i = 0; i < sizeof(parse_pages) / sizeof(parse_pages[0]); i++) {
        const struct http_error_info *e = http_error_info(parse_pages[i].code);
        size_t n;
        check(e->name, e->status, e->reason, e->name, strlen(e->name), parse_pages[i].page);
        n = undate(out, sent_error(parse_pages[i].code, out, sizeof(out), &rc));
        ok(rc == 0 && n == strlen(parse_pages[i].page) &&
               memcmp(out, parse_pages[i].page, n) == 0,
           "%s: cu_conn_send_error sends the page", e->name);
    }
    /* every code that is answered has its page above; the others send nothing */
    for (int code = HTTP_E_REQUEST_LINE; code >= HTTP_E_LAST; code--) {
        const struct http_error_info *e = http_error_info(code);
        int listed = 0;
        for (size_t i = 0; i < sizeof(parse_pages) / sizeof(parse_pages[0]); i++)
            listed |= parse_pages[i].code == code;
        if (e->respond) {
            answered++;
            ok(listed, "%s: its page is checked", e->name);
        } else {
            ok(!listed && sent_error(code, out, sizeof(out), &rc) == 0 && rc == 0,
               "%s: no answer, nothing sent", e->name);
        }
    }
    ok(answered + 1 == sizeof(parse_pages) / sizeof(parse_pages[0]),
       "the answered codes and the unknown one: %zu pages", answered + 1);
}

static void test_app_pages(void)
{
    static const char timeout_msg[] = "The request took longer than --request-timeout.";
    char buf[HTTP_PAGE_MAX];

    check("500", 500, "Internal Server Error", NULL, 0, page_500);
    check("504", 504, "Gateway Timeout", timeout_msg, strlen(timeout_msg), page_504);
    ok(undate(buf, cu_page_504(buf, sizeof(buf))) == strlen(page_504) &&
           memcmp(buf, page_504, strlen(page_504)) == 0,
       "cu_page_504 builds the 504 page");
    ok(cu_page_504(buf, 100) == 0, "cu_page_504: 0 when it does not fit");
    check("400 escaped", 400, "Bad Request", msg_400, strlen(msg_400), page_400);
    check("400 raw", 400, "Bad Request", "<&>\"'", 5, page_400_raw);
}

static void test_long_message(void)
{
    size_t ml = 4000, hl = strlen(long_head), tl = strlen(long_tail), n, m;
    char *msg = malloc(ml), *buf = malloc(hl + ml + tl + 64), head[HTTP_PAGE_HEAD];
    struct iovec iov[HTTP_PAGE_IOV];

    if (!msg || !buf)
        abort();
    for (size_t i = 0; i < ml; i++)
        msg[i] = (char)('0' + i % 10);
    n = http_page(buf, hl + ml + tl + 64, 400, "Bad Request", msg, ml);
    ok(length_right(buf, n), "long message: Content-Length is the body's length");
    n = undate(buf, n);
    ok(n == hl + ml + tl && memcmp(buf, long_head, hl) == 0 &&
           memcmp(buf + hl, msg, ml) == 0 && memcmp(buf + hl + ml, long_tail, tl) == 0,
       "long message: the page's bytes");
    m = http_page_iov(iov, head, 400, "Bad Request", msg, ml);
    ok(m == n + 37 && iov[0].iov_len + iov[1].iov_len == hl + 37 &&
           iov[2].iov_base == msg && iov[2].iov_len == ml && iov[3].iov_len == tl &&
           memcmp(iov[3].iov_base, long_tail, tl) == 0,
       "long message: in pieces, the message not copied");
    ok(http_page(buf, HTTP_PAGE_MAX, 400, "Bad Request", msg, ml) == 0,
       "long message: no page in HTTP_PAGE_MAX bytes");
    free(msg);
    free(buf);
}

static void test_limits(void)
{
    char reason[HTTP_PAGE_REASON_MAX + 2], msg[HTTP_PAGE_MSG_SHORT], buf[HTTP_PAGE_MAX];
    char head[HTTP_PAGE_HEAD];
    struct iovec iov[HTTP_PAGE_IOV];
    size_t n;

    memset(reason, 'R', sizeof(reason) - 1);
    reason[HTTP_PAGE_REASON_MAX] = '\0';
    memset(msg, 'm', sizeof(msg));
    n = http_page(buf, sizeof(buf), 999, reason, msg, sizeof(msg));
    ok(n > 0 && length_right(buf, n),
       "the longest reason and a short message fit in HTTP_PAGE_MAX");
    reason[HTTP_PAGE_REASON_MAX] = 'R';
    reason[HTTP_PAGE_REASON_MAX + 1] = '\0';
    ok(http_page_iov(iov, head, 400, reason, NULL, 0) == 0, "a longer reason: no page");
    ok(http_page_iov(iov, head, 99, "X", NULL, 0) == 0 &&
           http_page_iov(iov, head, 1000, "X", NULL, 0) == 0 &&
           http_page_iov(iov, head, 400, NULL, NULL, 0) == 0,
       "a status outside 100-999, or no reason: no page");
    ok(http_page_iov(iov, head, 400, "X", NULL, 1) == 0, "no message with a length: no page");
}

/* The date by arithmetic against the C library's, over 400 years and
 * the leap days and turns of the century in them. */
static void test_date(void)
{
    static const char *const days[] = {"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"};
    static const char *const months[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                         "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
    char got[HTTP_DATE_LEN + 1], want[64];
    int same = 1;

    http_date(0, got);
    ok(strcmp(got, "Thu, 01 Jan 1970 00:00:00 GMT") == 0, "the epoch: %s", got);
    http_date(951825600, got);
    ok(strcmp(got, "Tue, 29 Feb 2000 12:00:00 GMT") == 0, "a leap day: %s", got);
    for (long long t = 0; t < 12622780800LL && same; t += 86400LL * 13 + 3607) {
        time_t tt = (time_t)t;
        struct tm tm;
        if (!gmtime_r(&tt, &tm))
            abort();
        (void)snprintf(want, sizeof(want), "%s, %02d %s %04d %02d:%02d:%02d GMT",
                       days[tm.tm_wday], tm.tm_mday, months[tm.tm_mon], tm.tm_year + 1900,
                       tm.tm_hour, tm.tm_min, tm.tm_sec);
        http_date(t, got);
        same = strcmp(got, want) == 0;
    }
    ok(same, "every 13 days and an hour to 2370: as gmtime_r says (%s)", got);
}

/* A page made before (the ABRT handler's 500) is dated again in place;
 * an answer to HEAD is its head alone. */
static void test_redate_and_head(void)
{
    char buf[HTTP_PAGE_MAX], out[HTTP_PAGE_MAX], date[HTTP_DATE_LEN + 1];
    size_t n = http_page(buf, sizeof(buf), 500, "Internal Server Error", NULL, 0);
    struct cu_conn c;
    int sv[2], rc;
    ssize_t got;

    http_page_redate(buf, n, 86400);
    http_date(86400, date);
    ok(memmem(buf, n, date, HTTP_DATE_LEN) != NULL && undate(buf, n) == 0,
       "a page dated again carries the new date");
    static const char req[] = "HEAD / HTTP/1.1\r\nBad\r\n\r\n";

    if (socketpair(AF_UNIX, SOCK_STREAM, 0, sv) < 0 || cu_conn_init(&c, sv[0], 4096) < 0)
        abort();
    c.timeout_ms = 1000;
    memcpy(c.buf, req, sizeof(req) - 1);
    c.end = sizeof(req) - 1;
    rc = cu_conn_send_error(&c, HTTP_E_HEADER);
    cu_conn_close(&c);
    got = read(sv[1], out, sizeof(out) - 1);
    close(sv[1]);
    out[got > 0 ? got : 0] = '\0';
    ok(rc == 0 && got > 0 && strncmp(out, "HTTP/1.1 400 Bad Request\r\n", 26) == 0 &&
           strstr(out, "\r\n\r\n") == out + got - 4 && strstr(out, "Content-Length: 134"),
       "a HEAD request refused: the head alone, its Content-Length kept");
}

int main(void)
{
    test_date();
    test_redate_and_head();
    test_parse_errors();
    test_app_pages();
    test_long_message();
    test_limits();
    return tap_done();
}
