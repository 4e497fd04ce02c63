/*
 * What each parse error means to the client, and the character classes the
 * parsers share.
 *
 * Statuses and reason phrases are Gunicorn 26.1's (docs/compat.md, Error answers),
 * except where marked "Ours".
 */
#include "http.h"

#include <stdio.h>
#include <string.h>

static const struct http_error_info errors[] = {
    /* index: -code - 2 */
    {"InvalidRequestLine", "Bad Request", 400, 1},
    {"InvalidRequestMethod", "Bad Request", 400, 1},
    {"InvalidHTTPVersion", "Bad Request", 400, 1},
    {"LimitRequestLine", "Bad Request", 400, 1},
    {"InvalidHeader", "Bad Request", 400, 1},
    {"InvalidHeaderName", "Bad Request", 400, 1},
    {"ObsoleteFolding", "Bad Request", 400, 1},
    {"LimitRequestHeaders", "Request Header Fields Too Large", 431, 1},
    {"InvalidSchemeHeaders", "Bad Request", 400, 1},
    {"ExpectationFailed", "Expectation Failed", 417, 1},
    /* Gunicorn's phrase, kept: its users' tests see "501 Bad Request". */
    {"UnsupportedTransferCoding", "Bad Request", 501, 1},
    {"InvalidProxyLine", "Bad Request", 400, 1},
    /* Ours: Gunicorn answers 500; a malformed preamble is the client's fault. */
    {"InvalidProxyHeader", "Bad Request", 400, 1},
    {"ForbiddenProxyRequest", "Forbidden", 403, 1},
    /* Body framing errors. Ours: Gunicorn closes without a word; RFC 9112
     * §7.1 makes them a bad request like any other, answered 400 while
     * the response has not begun. */
    {"InvalidChunkSize", "Bad Request", 400, 1},
    {"ChunkMissingTerminator", "Bad Request", 400, 1},
    {"InvalidChunkExtension", "Bad Request", 400, 1},
    {"ChunkOverhead", "Bad Request", 400, 1},
    /* the peer is gone: nobody to answer */
    {"NoMoreData", "Bad Request", 400, 0},
    /* Ours: Gunicorn has no body limit (docs/compat.md, Request bodies) */
    {"LimitRequestBody", "Content Too Large", 413, 1},
};

static const struct http_error_info unknown = {
    "InternalError", "Internal Server Error", 500, 1};

const struct http_error_info *http_error_info(int code)
{
    int i = -code - 2;

    if (code > HTTP_E_REQUEST_LINE || code < HTTP_E_LAST)
        return &unknown;
    return &errors[i];
}

/* RFC 9110 §5.6.2: tchar = "!" / "#" / "$" / "%" / "&" / "'" / "*" / "+" /
 * "-" / "." / "^" / "_" / "`" / "|" / "~" / DIGIT / ALPHA */
#define T4(a, b, c, d) a, b, c, d
const uint8_t http_tchar[256] = {
    /* 0x00 - 0x1f: controls */
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    /*  SP !  "  #  $  %  &  '  (  )  *  +  ,  -  .  / */
    T4(0, 1, 0, 1), T4(1, 1, 1, 1), T4(0, 0, 1, 1), T4(0, 1, 1, 0),
    /*  0-9, : ; < = > ? */
    T4(1, 1, 1, 1), T4(1, 1, 1, 1), T4(1, 1, 0, 0), T4(0, 0, 0, 0),
    /*  @ A-O */
    T4(0, 1, 1, 1), T4(1, 1, 1, 1), T4(1, 1, 1, 1), T4(1, 1, 1, 1),
    /*  P-Z [ \ ] ^ _ */
    T4(1, 1, 1, 1), T4(1, 1, 1, 1), T4(1, 1, 1, 0), T4(0, 0, 1, 1),
    /*  ` a-o */
    T4(1, 1, 1, 1), T4(1, 1, 1, 1), T4(1, 1, 1, 1), T4(1, 1, 1, 1),
    /*  p-z { | } ~ DEL */
    T4(1, 1, 1, 1), T4(1, 1, 1, 1), T4(1, 1, 1, 0), T4(1, 0, 1, 0),
    /* 0x80 - 0xff: never in a token; zero-initialised */
};

/* ---- the exceptions' texts ------------------------------------------------ */

/* One character of a repr() into e (4 bytes): its length. */
static size_t repr_char(unsigned c, char q, int bytes, char *e)
{
    static const char hex[] = "0123456789abcdef";

    e[0] = '\\';
    if (c == (unsigned char)q || c == '\\') {
        e[1] = (char)c;
    } else if (c == '\t' || c == '\n' || c == '\r') {
        e[1] = (char)(c == '\t' ? 't' : c == '\n' ? 'n' : 'r');
    } else if (c >= 0x20 && c < 0x7f) {
        e[0] = (char)c;
        return 1;
    } else if (!bytes && c >= 0xa1 && c != 0xad) {
        /* printable latin-1: the character itself, in UTF-8 */
        e[0] = (char)(0xc0 | c >> 6);
        e[1] = (char)(0x80 | (c & 0x3f));
    } else {
        e[1] = 'x';
        e[2] = hex[c >> 4];
        e[3] = hex[c & 15];
        return 4;
    }
    return 2;
}

size_t http_repr(const char *s, size_t n, int bytes, char *out, size_t outlen)
{
    const unsigned char *u = (const unsigned char *)s;
    int has1 = 0, has2 = 0;
    size_t o = 0, need, i, k;
    char q, e[4];

    if (outlen == 0)
        return 0;
    for (i = 0; i < n; i++) {
        has1 |= s[i] == '\'';
        has2 |= s[i] == '"';
    }
    q = has1 && !has2 ? '"' : '\'';
    need = (bytes ? 3 : 2);
    for (i = 0; i < n; i++)
        need += repr_char(u[i], q, bytes, e);
    if (need < outlen) {
        if (bytes)
            out[o++] = 'b';
        out[o++] = q;
        for (i = 0; i < n; i++) {
            k = repr_char(u[i], q, bytes, out + o);
            o += k;
        }
        out[o++] = q;
    } else if (outlen > 3 + (bytes ? 2 : 1)) {
        /* cut where a character or an escape ends, and say so */
        if (bytes)
            out[o++] = 'b';
        out[o++] = q;
        for (i = 0; i < n; i++) {
            k = repr_char(u[i], q, bytes, e);
            if (o + k + 3 >= outlen)
                break;
            memcpy(out + o, e, k);
            o += k;
        }
        memcpy(out + o, "...", 3);
        o += 3;
    }
    out[o] = '\0';
    return o;
}

/* s[0..n) upper-cased into tmp (as Gunicorn's name.upper()). */
static const char *upper(const char *s, size_t n, char *tmp, size_t tmplen)
{
    if (n > tmplen)
        n = tmplen;
    for (size_t i = 0; i < n; i++)
        tmp[i] = (char)(s[i] >= 'a' && s[i] <= 'z' ? s[i] - 32 : s[i]);
    return tmp;
}

/*
 * Gunicorn's exceptions, by what the parser noted: a text before the
 * repr() of the noted bytes (upper-cased when up), or a whole text. Those
 * with numbers are numbers_text()'s.
 */
static const struct {
    const char *text;
    uint8_t whole;      /* the text is all of it */
    uint8_t up;
} texts[] = {
    [HTTP_W_LINE] = {"Invalid HTTP request line: ", 0, 0},
    [HTTP_W_METHOD] = {"Invalid HTTP method: ", 0, 0},
    [HTTP_W_VERSION] = {"Invalid HTTP Version: ", 0, 0},
    [HTTP_W_HEADER_LINE] = {"Invalid HTTP Header: ", 0, 0},
    [HTTP_W_HEADER_NAME] = {"Invalid HTTP Header: ", 0, 1},
    [HTTP_W_CONTENT_LENGTH] = {"Invalid HTTP Header: 'CONTENT-LENGTH'", 1, 0},
    [HTTP_W_TRANSFER_ENCODING] = {"Invalid HTTP Header: 'TRANSFER-ENCODING'", 1, 0},
    [HTTP_W_BAD_NAME] = {"Invalid HTTP header name: ", 0, 0},
    [HTTP_W_REFUSED_NAME] = {"Invalid HTTP header name: ", 0, 1},
    [HTTP_W_FOLD] = {"Obsolete line folding is unacceptable: ", 0, 1},
    [HTTP_W_FIELDS] = {"limit request headers fields", 1, 0},
    [HTTP_W_FIELD_SIZE] = {"limit request headers fields size", 1, 0},
    [HTTP_W_BUFFER] = {"max buffer headers", 1, 0},
    [HTTP_W_SCHEME] = {"Contradictory scheme headers", 1, 0},
    [HTTP_W_EXPECT] = {"Unable to comply with expectation: ", 0, 0},
    [HTTP_W_CODING] = {"Unsupported transfer coding: ", 0, 0},
    [HTTP_W_PROXY_LINE] = {"Invalid PROXY line: ", 0, 0},
    [HTTP_W_PROXY_TRANSPORT] = {"Invalid PROXY header: only TCP protocol is supported", 1, 0},
    [HTTP_W_PROXY_SHORT4] = {"Invalid PROXY header: insufficient address data for IPv4", 1, 0},
    [HTTP_W_PROXY_SHORT6] = {"Invalid PROXY header: insufficient address data for IPv6", 1, 0},
    /* ours: Gunicorn has no such check */
    [HTTP_W_HOST] = {"Missing required header: 'HOST'", 1, 0},
};

/* The texts with numbers in them; -1 for another. */
static int numbers_text(const struct http_error_at *e, char *out, size_t outlen)
{
    unsigned long long n = e->n, limit = e->limit;

    switch (e->what) {
    case HTTP_W_VERSION_NUM:    /* a Python tuple */
        return snprintf(out, outlen, "Invalid HTTP Version: (%llu, %llu)", n, limit);
    case HTTP_W_LINE_SIZE:
        return snprintf(out, outlen, "Request Line is too large (%llu > %llu)", n, limit);
    case HTTP_W_PROXY_VERSION:
        return snprintf(out, outlen, "Invalid PROXY header: unsupported version %llu", n);
    case HTTP_W_PROXY_COMMAND:
        return snprintf(out, outlen, "Invalid PROXY header: unsupported command %llu", n);
    case HTTP_W_PROXY_FAMILY:
        return snprintf(out, outlen, "Invalid PROXY header: unsupported address family %llu",
                        n);
    default:
        return -1;
    }
}

size_t http_error_text(int code, const struct http_error_at *e,
                       const char *buf, char *out, size_t outlen)
{
    const char *s = buf && e ? buf + e->at.off : "";
    size_t n = buf && e ? e->at.len : 0, o;
    unsigned what = e ? e->what : HTTP_W_NONE;
    char tmp[640];
    int k;

    if (outlen == 0)
        return 0;
    out[0] = '\0';
    if (what == HTTP_W_PROXY_PROTO || what == HTTP_W_PROXY_PORT) {
        /* the exception was given a sentence with the bytes in it, and
         * shows the repr() of that */
        k = what == HTTP_W_PROXY_PROTO
                ? snprintf(tmp, sizeof(tmp), "protocol '%.*s' not supported",
                           (int)(n > 512 ? 512 : n), s)
                : snprintf(tmp, sizeof(tmp), "invalid port %.*s", (int)(n > 512 ? 512 : n), s);
        o = (size_t)snprintf(out, outlen, "Invalid PROXY line: ");
        if (k < 0 || o >= outlen)
            return strlen(out);
        return o + http_repr(tmp, strlen(tmp), 0, out + o, outlen - o);
    }
    if (e && numbers_text(e, out, outlen) >= 0) {
        return strlen(out);
    } else if (what >= sizeof(texts) / sizeof(texts[0]) || !texts[what].text) {
        k = snprintf(out, outlen, "%s", http_error_info(code)->name);  /* nothing noted */
    } else if (texts[what].whole) {
        k = snprintf(out, outlen, "%s", texts[what].text);
    } else {
        o = (size_t)snprintf(out, outlen, "%s", texts[what].text);
        if (o >= outlen)
            return strlen(out);
        if (texts[what].up) {
            n = n > sizeof(tmp) ? sizeof(tmp) : n;
            s = upper(s, n, tmp, sizeof(tmp));
        }
        return o + http_repr(s, n, 0, out + o, outlen - o);
    }
    if (k < 0)
        out[0] = '\0';
    return strlen(out);
}
