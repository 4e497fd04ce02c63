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

    /* Ours: a body over limit_request_body (Content-Length, or a chunked
     * body's running total) */
    HTTP_E_BODY_TOO_LARGE = -21,    /* LimitRequestBody */

    HTTP_E_LAST = -21
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

/*
 * What an error was about, for its message: what Gunicorn's exception
 * carries (the offending bytes, a size). A parser fills it on its way out
 * of an error, never on the way to a result, so the good path pays
 * nothing for it.
 */
enum http_what {
    HTTP_W_NONE = 0,
    HTTP_W_LINE,            /* the request line (span) */
    HTTP_W_METHOD,          /* the method (span) */
    HTTP_W_VERSION,         /* what follows the target (span) */
    HTTP_W_VERSION_NUM,     /* a version out of range: n.limit */
    HTTP_W_LINE_SIZE,       /* a request line of n bytes, over limit */
    HTTP_W_HEADER_LINE,     /* a header line without a name (span) */
    HTTP_W_HEADER_NAME,     /* a header, by its name (span, upper-cased) */
    HTTP_W_CONTENT_LENGTH,  /* Content-Length framing */
    HTTP_W_TRANSFER_ENCODING,   /* Transfer-Encoding framing */
    HTTP_W_BAD_NAME,        /* a name that is no token (span, as sent) */
    HTTP_W_REFUSED_NAME,    /* a name refused by a rule (span, upper-cased) */
    HTTP_W_FOLD,            /* the header a folded line continues (span) */
    HTTP_W_FIELDS,          /* more headers than limit_request_fields */
    HTTP_W_FIELD_SIZE,      /* a header over limit_request_field_size */
    HTTP_W_BUFFER,          /* a head over its buffer */
    HTTP_W_SCHEME,          /* secure scheme headers that disagree */
    HTTP_W_EXPECT,          /* the Expect value (span) */
    HTTP_W_CODING,          /* the Transfer-Encoding value (span) */
    HTTP_W_PROXY_LINE,      /* a PROXY v1 line (span) */
    HTTP_W_PROXY_PROTO,     /* its protocol field (span) */
    HTTP_W_PROXY_PORT,      /* its line, for a bad port (span) */
    HTTP_W_PROXY_VERSION,   /* a PROXY v2 version n */
    HTTP_W_PROXY_COMMAND,   /* ... command n */
    HTTP_W_PROXY_TRANSPORT, /* ... a transport other than a stream */
    HTTP_W_PROXY_SHORT4,    /* ... too few address bytes for IPv4 */
    HTTP_W_PROXY_SHORT6,    /* ... for IPv6 */
    HTTP_W_PROXY_FAMILY,    /* ... family n */
    HTTP_W_HOST             /* an HTTP/1.1 request without Host */
};

/* How much of the request an error leaves for its access-log line: the
 * errors Gunicorn raises with the request attached, which it logs and
 * counts as requests (docs/compat.md, Access log). */
enum http_with_req {
    HTTP_REQ_NONE = 0,      /* none: no line */
    HTTP_REQ_LINE,          /* the request line; no header yet (a second
                             * Host or Content-Type, found mid-head) */
    HTTP_REQ_HEAD           /* the whole head (its framing is bad) */
};

struct http_error_at {
    struct http_span at;    /* in the buffer the parser was given */
    uint32_t n, limit;      /* heads and their limits stay below 4 GiB */
    uint8_t what;           /* enum http_what */
    uint8_t with_req;       /* enum http_with_req */
};

/*
 * The text of Gunicorn's exception for an error (str(exc): "Invalid HTTP
 * request line: 'BAD'"), from what the parser noted (e) and the buffer
 * its spans point into. Bytes from the request are shown as Python's
 * repr() shows their latin-1 text. Writes at most outlen - 1 bytes and a
 * NUL (cut when longer); returns the length written.
 */
size_t http_error_text(int code, const struct http_error_at *e,
                       const char *buf, char *out, size_t outlen);

/*
 * repr() of s[0..n) read as latin-1 text (bytes as the server decodes
 * them), as UTF-8: quotes as Python picks them, \\, \t, \n, \r, \xNN for
 * what is not printable, the printable characters from 0xA1 up as
 * themselves. bytes: repr() of a bytes object instead (b'...', \xNN from
 * 0x7F up). Writes at most outlen - 1 bytes and a NUL, never cutting an
 * escape or a character; returns the length written.
 */
size_t http_repr(const char *s, size_t n, int bytes, char *out, size_t outlen);

/* Characters classes of RFC 9110, shared by the parsers. */
extern const uint8_t http_tchar[256];   /* 1 for token characters */

/* fields.c: the fields an app gives for a response. */
/* Whether name[0..nl): value[0..vl) may not go on the wire: 0 when it
 * may, 1 for its name (empty, or not a token: a pseudo-header's ':'
 * too), 2 for its value (a control byte but HTAB: no CR, LF or NUL). */
int http_field_bad(const char *name, size_t nl, const char *value, size_t vl);
/* Whether a field of that name (any case) must not be a trailer: RFC 9110
 * 6.5.1's framing, routing, request modifiers, authentication, response
 * control data and the content's processing, and the hop-by-hop ones. */
int http_trailer_forbidden(const char *name, size_t len);

#endif
