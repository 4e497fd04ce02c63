/*
 * Chunked transfer coding (RFC 9112 §7.1), decoded in place and resumable.
 *
 * The caller keeps the not yet consumed input at the front of its buffer:
 * each call decodes buf[0..len), moves the body bytes it found to the front
 * of buf, and says how many input bytes it used. Bytes it did not use (a
 * size line or trailer section cut by the end of the input) must be passed
 * again at the start of the next call, followed by what arrived since; the
 * decoder remembers how far it looked, so they are not examined twice.
 */
#ifndef CU_HTTP_CHUNKED_H
#define CU_HTTP_CHUNKED_H

#include "parser.h"

#define HTTP_CHUNK_LINE_MAX 4096      /* one size line, extensions included */
#define HTTP_CHUNK_EXT_MAX 16384      /* extension bytes over a whole body */
/* Framing bytes a body may waste: leading zeros and spaces in size lines.
 * The least framing a chunk can have (its size in hex, CRLF, CRLF) is not
 * counted, so a long stream of 1-byte chunks is served (it costs the
 * sender as much as us); padding that carries nothing is what runs out. */
#define HTTP_CHUNK_SLACK 65536

struct http_chunked {
    uint64_t remaining;   /* data bytes left in the current chunk */
    uint64_t data;        /* body bytes decoded so far */
    uint64_t waste;       /* size-line bytes beyond the size's own digits */
    uint32_t scan;        /* bytes of the current size line already examined */
    uint32_t ext;         /* extension bytes so far */
    uint8_t state;
    struct http_parser trailer;   /* the trailer section, parsed as headers */
    struct http_header *trailers; /* caller's array, may be NULL with max 0 */
    uint32_t max_trailers;
    uint32_t n_trailers;
};

void http_chunked_init(struct http_chunked *c, const struct http_config *cfg,
                       struct http_header *trailers, uint32_t max_trailers);

/*
 * Decodes buf[0..len). On return buf[0..*out) is body data and *consumed
 * input bytes were used (*out <= *consumed <= len). Returns 0 when the last
 * chunk and the trailer section are complete (bytes from *consumed on belong
 * to the next request; trailer spans are offsets into this call's buf),
 * HTTP_AGAIN when the body goes on, or an HTTP_E_* error.
 */
int http_chunked_decode(struct http_chunked *c, char *buf, size_t len,
                        size_t *out, size_t *consumed);

/* The error to report when the peer closes before the body is complete. */
int http_chunked_eof_error(const struct http_chunked *c);

/* 1 when the body is complete. */
int http_chunked_done(const struct http_chunked *c);

#endif
