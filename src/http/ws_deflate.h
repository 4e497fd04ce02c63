/*
 * WebSocket permessage-deflate (RFC 7692), with zlib: the negotiation
 * from the client's Sec-WebSocket-Extensions offers, and one
 * connection's compression contexts.
 *
 * Plain C, no Python. The contexts are opaque (zlib's z_stream stays in
 * ws_deflate.c): ws_pmd_new() makes them, ws_pmd_free() frees them and
 * the buffers they hold. A compressed message is inflated as its frames
 * come (the frames' payloads are not kept), into a buffer that never
 * grows past the message-size limit plus one byte, so a deflate bomb is
 * refused (WS_E_TOO_BIG) before it costs more than the limit. A text
 * message's UTF-8 is checked on the inflated bytes, as they come.
 */
#ifndef CU_HTTP_WS_DEFLATE_H
#define CU_HTTP_WS_DEFLATE_H

#include <stddef.h>
#include <stdint.h>

#include "http/parser.h"

/* What the accepted offer asked for (RFC 7692 7.1). */
struct ws_pmd_params {
    uint8_t server_no_context_takeover; /* we reset our compressor per message */
    uint8_t client_no_context_takeover; /* the client resets its own */
    uint8_t server_max_window_bits;     /* 9..15: our window's most; 0: not asked */
    uint8_t client_max_window_bits;     /* 8..15: the client's window (offered
                                         * with a value); 0: not given */
};

/* The longest Sec-WebSocket-Extensions line ws_pmd_response() writes. */
#define WS_PMD_RESPONSE_MAX 160

/* The smallest message we compress: below, a message goes out as it is. */
#define WS_PMD_MIN_SIZE 64

/*
 * The first permessage-deflate offer of the request r (head buf) we can
 * accept, over every Sec-WebSocket-Extensions header in order: 1 with
 * *out filled, or 0 when there is none. An offer with an unknown,
 * repeated or malformed parameter is declined (the next one is tried);
 * so is server_max_window_bits=8, which zlib's raw deflate cannot keep.
 */
int ws_pmd_negotiate(const char *buf, const struct http_request *r, struct ws_pmd_params *out);

/* The response header line for pp ("Sec-WebSocket-Extensions:
 * permessage-deflate; ...\r\n") into out; returns its length. */
size_t ws_pmd_response(const struct ws_pmd_params *pp, char out[WS_PMD_RESPONSE_MAX]);

/* Parses one offer (the list element buf[s..e), "permessage-deflate;
 * p; p=v"): 1 with *out when it is one we accept, else 0. */
int ws_pmd_offer(const char *buf, size_t s, size_t e, struct ws_pmd_params *out);

struct ws_pmd;

/* A connection's contexts for the negotiated pp; NULL: no memory. zlib's
 * streams are made when first used. */
struct ws_pmd *ws_pmd_new(const struct ws_pmd_params *pp);
/* Frees z and everything it holds (NULL: nothing). */
void ws_pmd_free(struct ws_pmd *z);

/*
 * Inflates in[0..n), the next compressed bytes of a message (text: a text
 * message), into z's message buffer. 0, or WS_E_TOO_BIG (the inflated
 * bytes pass max; 0: no limit), WS_E_UTF8, WS_E_INFLATE (no valid
 * deflate data) or WS_E_NOMEM; the connection is then failed.
 */
int ws_pmd_inflate(struct ws_pmd *z, const uint8_t *in, size_t n, int text, uint64_t max);
/* The message's last frame is in: the inflated message at *msg, *len
 * bytes (valid until ws_pmd_done()). 0, or an error as ws_pmd_inflate(). */
int ws_pmd_finish(struct ws_pmd *z, int text, uint64_t max, const uint8_t **msg, size_t *len);
/* The message was taken: the next one starts (the client's context reset
 * when it said client_no_context_takeover; a big buffer dropped). */
void ws_pmd_done(struct ws_pmd *z);

/* Compresses a whole message in[0..n): *out (valid until the next call),
 * *olen bytes, to send with RSV1 set (an empty message: the one byte
 * 0x00). 0, or -1 (no memory, or zlib failed: the message may go out
 * uncompressed instead). */
int ws_pmd_deflate(struct ws_pmd *z, const uint8_t *in, size_t n, const uint8_t **out,
                   size_t *olen);

#endif
