/*
 * The vocabulary shared by the HTTP/1.x parsers: spans into the read buffer,
 * return codes, and the table that maps each error to what the client is told.
 *
 * Plain C, no Python. Nothing here allocates.
 */
#ifndef CU_HTTP_H
#define CU_HTTP_H

#include <stddef.h>
#include <stdint.h>

/*
 * A piece of the caller's buffer, as an offset from its start and a length.
 * Offsets, not pointers, so a parse survives the caller growing or moving
 * the buffer between two reads.
 */
struct http_span {
    uint32_t off;
    uint32_t len;
};

/*
 * Return codes. A parse call returns the number of bytes it consumed (>= 0),
 * HTTP_AGAIN when it needs more input, or one of the errors below.
 * Every error is negative and distinct, so a caller can log exactly what
 * was wrong; http_error_info() says what the client gets for it.
 */
enum {
    HTTP_AGAIN = -1,

    /* request line */
    HTTP_E_REQUEST_LINE = -2,       /* InvalidRequestLine */
    HTTP_E_METHOD = -3,             /* InvalidRequestMethod */
    HTTP_E_VERSION = -4,            /* InvalidHTTPVersion */
    HTTP_E_LINE_TOO_LONG = -5,      /* LimitRequestLine */

    /* header block */
    HTTP_E_HEADER = -6,             /* InvalidHeader: bad value or framing */
    HTTP_E_HEADER_NAME = -7,        /* InvalidHeaderName */
    HTTP_E_OBS_FOLD = -8,           /* ObsoleteFolding */
    HTTP_E_HEADERS_TOO_LARGE = -9,  /* LimitRequestHeaders */
    HTTP_E_SCHEME_HEADERS = -10,    /* InvalidSchemeHeaders */
    HTTP_E_EXPECT = -11,            /* ExpectationFailed */
    HTTP_E_TRANSFER_CODING = -12,   /* UnsupportedTransferCoding */

    /* PROXY protocol preamble */
    HTTP_E_PROXY_LINE = -13,        /* InvalidProxyLine (v1) */
    HTTP_E_PROXY_HEADER = -14,      /* InvalidProxyHeader (v2) */
    HTTP_E_PROXY_FORBIDDEN = -15,   /* ForbiddenProxyRequest: decided by the caller */

    /* chunked body */
    HTTP_E_CHUNK_SIZE = -16,        /* InvalidChunkSize */
    HTTP_E_CHUNK_TERMINATOR = -17,  /* ChunkMissingTerminator */
    HTTP_E_CHUNK_EXTENSION = -18,   /* InvalidChunkExtension */
    HTTP_E_CHUNK_OVERHEAD = -19,    /* too many bytes of chunk framing */

    /* the connection ended inside a request */
    HTTP_E_EOF = -20,               /* NoMoreData */

    HTTP_E_LAST = -20
};

/* What the client is told about an error. */
struct http_error_info {
    const char *name;    /* Gunicorn's exception name, for logs and tests */
    const char *reason;  /* reason phrase of the status line */
    uint16_t status;     /* HTTP status code */
    uint8_t respond;     /* 0: close the connection without answering */
};

/* Never NULL: an unknown code maps to 500 Internal Server Error. */
const struct http_error_info *http_error_info(int code);

/* Characters classes of RFC 9110, shared by the parsers. */
extern const uint8_t http_tchar[256];   /* 1 for token characters */

#endif
