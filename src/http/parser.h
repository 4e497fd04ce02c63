/*
 * HTTP/1.x request head parser: request line, header block, body framing.
 *
 * Incremental: call http_parse_head() each time more bytes have arrived,
 * with the whole buffer so far (from the first byte of the request). It
 * resumes where the previous call stopped and never examines a byte twice,
 * so a client that trickles its head costs O(n), not O(n^2).
 *
 * Zero-copy: the method, target, version parts and every header are spans
 * of the caller's buffer. The buffer is written to in two cases only: a
 * method upper-cased by casefold_http_method, and obs-folded header lines
 * joined in place when permit_obsolete_folding is on.
 *
 * The rules are Gunicorn 26.1's (docs/compat.md, Request parsing), which
 * follow RFC 9112. Where Gunicorn is laxer than a server on the open
 * internet should be, the difference is written next to the code.
 */
#ifndef CU_HTTP_PARSER_H
#define CU_HTTP_PARSER_H

#include "http.h"

#define HTTP_MAX_REQUEST_LINE 8190
#define HTTP_MAX_HEADERS 32768
#define HTTP_DEFAULT_FIELD_SIZE 8190
#define HTTP_MAX_CONTENT_LENGTH (((uint64_t)1 << 62) - 1)

enum http_header_map {
    HTTP_HEADER_MAP_DROP = 0,   /* names with '_' are discarded */
    HTTP_HEADER_MAP_DANGEROUS,  /* kept */
    HTTP_HEADER_MAP_REFUSE      /* the request is refused (400) */
};

/* Parser options, one per Gunicorn setting of the same name. */
enum {
    HTTP_PERMIT_UNCONVENTIONAL_METHOD = 1u << 0,
    HTTP_CASEFOLD_METHOD = 1u << 1,
    HTTP_STRIP_HEADER_SPACES = 1u << 2,
    HTTP_PERMIT_OBS_FOLD = 1u << 3,
    HTTP_PERMIT_UNCONVENTIONAL_VERSION = 1u << 4,
    /* Ours (RFC 9112 §3.2): an HTTP/1.1 request must carry Host; the
     * server always sets it (config/derive.c) */
    HTTP_REQUIRE_HOST = 1u << 5
};

/* One secure_scheme_headers entry: NAME (any case) and the value meaning
 * https, with their lengths. */
struct http_scheme_header {
    const char *name;
    const char *value;
    uint32_t name_len;
    uint32_t value_len;
};

/*
 * Everything the parser needs from the settings. Fill it with
 * http_config_init(), change fields, then call http_config_finish(), which
 * applies Gunicorn's normalisation of the limits. Immutable afterwards and
 * shared by every connection.
 */
struct http_config {
    uint32_t limit_request_line;        /* 0: unlimited; capped at 8190 */
    uint32_t limit_request_fields;      /* <= 0 or > 32768: 32768 */
    uint32_t limit_request_field_size;  /* 0: 8190 */
    uint64_t max_head_buffer;           /* derived: fields * (size + 2) + 4 */
    uint64_t limit_request_body;        /* ours; 0: unlimited (the worker
                                         * checks it, not the parser) */
    unsigned flags;                     /* HTTP_PERMIT_* ... */
    enum http_header_map header_map;
    const struct http_scheme_header *scheme_headers;
    size_t n_scheme_headers;
    const char *const *forwarder_headers;  /* names, '*' for all */
    size_t n_forwarder_headers;
};

void http_config_init(struct http_config *cfg);
void http_config_finish(struct http_config *cfg, int64_t limit_request_line,
                        int64_t limit_request_fields,
                        int64_t limit_request_field_size);

/* Header names the server itself acts on, recognised once while parsing. */
enum http_hdr_id {
    HTTP_HDR_OTHER = 0,
    HTTP_HDR_HOST,
    HTTP_HDR_CONTENT_LENGTH,
    HTTP_HDR_TRANSFER_ENCODING,
    HTTP_HDR_CONNECTION,
    HTTP_HDR_EXPECT,
    HTTP_HDR_CONTENT_TYPE,
    HTTP_HDR_TRAILER,
    HTTP_HDR_AUTHORIZATION,
    HTTP_HDR_TE,
    HTTP_HDR_UPGRADE
};

struct http_header {
    struct http_span name;   /* as received: compare without case */
    struct http_span value;  /* SP/HTAB trimmed; obs-folds joined with SP */
    uint8_t id;              /* enum http_hdr_id */
};

enum http_body {
    HTTP_BODY_NONE = 0,  /* no body: length 0 */
    HTTP_BODY_LENGTH,    /* content_length bytes */
    HTTP_BODY_CHUNKED    /* chunked: see chunked.h */
};

enum {
    HTTP_REQ_KEEP_ALIVE = 1u << 0,       /* the request allows the connection to persist */
    HTTP_REQ_EXPECT_CONTINUE = 1u << 1,  /* "Expect: 100-continue" on HTTP/1.1+ */
    HTTP_REQ_HTTPS = 1u << 2,            /* a trusted scheme header said https */
    HTTP_REQ_SCHEME_SET = 1u << 3,       /* a trusted scheme header was present */
    HTTP_REQ_MUST_CLOSE = 1u << 4        /* gzip/deflate/compress coding: close after */
};

struct http_request {
    struct http_span method;
    struct http_span target;    /* the request-target exactly as sent */
    struct http_span path;      /* split as Python's urlsplit() splits it */
    struct http_span query;
    struct http_span fragment;
    uint8_t major, minor;
    uint8_t body;               /* enum http_body */
    unsigned flags;             /* HTTP_REQ_* */
    uint64_t content_length;
    struct http_header *headers;  /* caller's array */
    uint32_t n_headers;
    uint32_t max_headers;         /* its size: limit_request_fields */
};

/* Resumable state: zero it (or http_parser_init) before each request. */
struct http_parser {
    const struct http_config *cfg;
    uint32_t pos;        /* start of the line being parsed */
    uint32_t scan;       /* bytes of that line already examined */
    uint32_t head_start; /* first byte after the request line */
    uint8_t state;
    uint8_t trusted;     /* peer may send secure scheme / forwarder headers */
    uint8_t line_ctl;    /* the examined part of the line has a control byte */
    uint8_t trailers;    /* parsing a chunked body's trailer section */
    uint8_t seen;        /* single-instance headers met so far */
    /* the last header line, kept until the next line shows it is not folded */
    uint8_t pending;
    uint8_t pending_ctl;
    uint32_t pending_len;
    struct http_header pend;
    /* what the last error was about, for http_error_text() (its spans are
     * offsets into the buffer of the call that failed) */
    struct http_error_at err;
};

void http_parser_init(struct http_parser *p, const struct http_config *cfg,
                      int trusted);
void http_request_init(struct http_request *r, struct http_header *headers,
                       uint32_t max_headers);

/*
 * Parses the request head in buf[0..len). Returns the length of the head
 * (request line, headers, the empty line) once it is complete, HTTP_AGAIN
 * when more bytes are needed, or an HTTP_E_* error. Call again with the
 * same buffer contents plus whatever arrived since.
 */
int64_t http_parse_head(struct http_parser *p, struct http_request *r,
                        char *buf, size_t len);

/*
 * Parses a trailer section (header lines up to and including the empty
 * line) with the header rules and the trailer restrictions, into out[]
 * (max entries, *n kept so far). Same contract as http_parse_head(); the
 * parser is initialised with http_parser_init() first.
 */
int64_t http_parse_trailers(struct http_parser *p, struct http_header *out,
                            uint32_t max, uint32_t *n, char *buf, size_t len);

/*
 * Splits a request-target the way Python's urllib.parse.urlsplit() does
 * (a target starting with "//" is a path). Returns 0, or HTTP_E_REQUEST_LINE
 * where urlsplit() raises (unbalanced or invalid brackets in the authority).
 */
int http_split_target(const char *buf, struct http_span target,
                      struct http_span *path, struct http_span *query,
                      struct http_span *fragment);

/* ASCII case-insensitive comparison of a span with a NUL-terminated string. */
int http_span_ieq(const char *buf, struct http_span s, const char *lit);

#endif
