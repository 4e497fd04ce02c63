/*
 * What each parse error means to the client, and the character classes the
 * parsers share.
 *
 * Statuses and reason phrases are Gunicorn 26.1's (docs/compat.md, Error answers),
 * except where marked "Ours".
 */
#include "http.h"

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
    /* Body framing errors: the connection is closed without a word. */
    {"InvalidChunkSize", "Bad Request", 400, 0},
    {"ChunkMissingTerminator", "Bad Request", 400, 0},
    {"InvalidChunkExtension", "Bad Request", 400, 0},
    {"ChunkOverhead", "Bad Request", 400, 0},
    {"NoMoreData", "Bad Request", 400, 0},
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
