/*
 * WebSocket (RFC 6455): the frame codec and the opening handshake's checks.
 *
 * Plain C, no Python, nothing allocated. The parser reads client frames
 * from the caller's buffer, incrementally: each call parses what it can
 * and says how many bytes it consumed. Payload bytes are unmasked in
 * place (a word at a time) and handed out as spans of that buffer, so a
 * large message streams through the parser without a copy; control
 * frames (at most 125 bytes) are handed out whole. Text messages are
 * checked as UTF-8 across their fragments (RFC 3629: no overlongs, no
 * surrogates, nothing past U+10FFFF), close frames' codes and reasons as
 * RFC 6455 7.4 says.
 *
 * The writer frames what the server sends: unmasked, as a server must.
 */
#ifndef CU_HTTP_WS_H
#define CU_HTTP_WS_H

#include <stddef.h>
#include <stdint.h>

#include "http/parser.h"

enum ws_opcode {
    WS_OP_CONT = 0x0,
    WS_OP_TEXT = 0x1,
    WS_OP_BINARY = 0x2,
    WS_OP_CLOSE = 0x8,
    WS_OP_PING = 0x9,
    WS_OP_PONG = 0xA
};

/* Close codes (RFC 6455 7.4.1) the server uses itself. */
enum {
    WS_CLOSE_NORMAL = 1000,
    WS_CLOSE_GOING_AWAY = 1001,
    WS_CLOSE_PROTOCOL = 1002,
    WS_CLOSE_NO_STATUS = 1005,  /* never on the wire: a close without a code */
    WS_CLOSE_ABNORMAL = 1006,   /* never on the wire: no close frame at all */
    WS_CLOSE_INVALID_DATA = 1007,
    WS_CLOSE_TOO_BIG = 1009,
    WS_CLOSE_INTERNAL = 1011
};

/* What ws_parse() returns besides a count: each error is distinct and
 * negative; ws_error_close_code() says which close code answers it. */
enum {
    WS_AGAIN = -1,          /* more bytes needed: nothing consumed */
    WS_E_RSV = -2,          /* an RSV bit, and no extension negotiated */
    WS_E_OPCODE = -3,       /* a reserved opcode */
    WS_E_UNMASKED = -4,     /* a client frame without a mask */
    WS_E_CONTROL_LEN = -5,  /* a control frame over 125 bytes */
    WS_E_CONTROL_FRAG = -6, /* a control frame without FIN */
    WS_E_CONT = -7,         /* a continuation with no message under way */
    WS_E_FRAG = -8,         /* a new data frame inside a fragmented message */
    WS_E_TOO_BIG = -9,      /* a message over max_message */
    WS_E_UTF8 = -10,        /* a text message or a close reason is no UTF-8 */
    WS_E_CLOSE_LEN = -11,   /* a close payload of one byte */
    WS_E_CLOSE_CODE = -12,  /* a close code no endpoint may send */
    WS_E_LENGTH = -13,      /* a 64-bit length with its top bit set */
    WS_E_RSV1 = -14,        /* RSV1 on a control frame or a continuation */
    WS_E_INFLATE = -15,     /* a compressed message that does not inflate */
    WS_E_NOMEM = -16        /* no memory for an inflated message: 1011 */
};

/* RSV1, or'ed into ws_frame_head()'s opcode: a compressed message's first
 * frame (RFC 7692 6). */
#define WS_RSV1 0x40

/* Incremental UTF-8 check: zero it before a message. */
struct ws_utf8 {
    uint8_t need;   /* continuation bytes still expected */
    uint8_t lo, hi; /* the range of the next one */
};

/* Parser state: zero it, set max_message (and deflate when
 * permessage-deflate was negotiated), then call ws_parse(). */
struct ws_parser {
    uint64_t max_message;  /* the largest message (bytes); 0: no limit */
    uint8_t deflate;       /* RSV1 marks a compressed message */
    /* the frame whose payload is being read */
    uint64_t left;         /* its payload bytes still to come */
    uint8_t mask[4];
    uint8_t mask_pos;      /* payload bytes unmasked so far, mod 4 */
    uint8_t in_frame;      /* a data frame's payload is being read */
    uint8_t fin;           /* ... and it ends its message */
    /* the data message under way (over one frame or more) */
    uint8_t msg_op;        /* WS_OP_TEXT or WS_OP_BINARY; 0: none */
    uint8_t msg_deflated;  /* its first frame had RSV1: its bytes are
                            * compressed (UTF-8 is checked after inflating) */
    uint64_t msg_len;      /* its bytes so far, including the frame's */
    struct ws_utf8 utf8;
};

/* One piece of what the client sent. */
struct ws_chunk {
    uint8_t op;       /* WS_OP_TEXT / BINARY (a data message's bytes), or
                       * CLOSE / PING / PONG (a whole control frame) */
    uint8_t done;     /* the message (or control frame) ends here */
    uint8_t deflated; /* a data message's bytes, compressed (RFC 7692) */
    size_t off, len;  /* its payload bytes, unmasked, in the buffer */
    /* a close frame: its code (WS_CLOSE_NO_STATUS when none) and reason
     * (a span of the buffer, UTF-8) */
    uint16_t code;
    size_t reason_off, reason_len;
};

/*
 * Parses buf[0..len): a frame's head and as much of its payload as is
 * there, or a whole control frame. Returns the bytes consumed (> 0) with
 * *out filled -- out->len may be 0 when only a head was in --, WS_AGAIN
 * (nothing consumed: call again with more bytes at the same place), or a
 * WS_E_* error (the connection is then closed with
 * ws_error_close_code()). buf is written to: payloads are unmasked in
 * place.
 */
int64_t ws_parse(struct ws_parser *p, uint8_t *buf, size_t len, struct ws_chunk *out);

/* The close code that answers a ws_parse() (or ws_pmd_inflate()) error:
 * 1002, 1007, 1009 or 1011. */
uint16_t ws_error_close_code(int err);
/* A short text for an error, for the log. */
const char *ws_error_text(int err);

/* XORs buf[0..n) with mask, starting at mask byte pos (mod 4). */
void ws_unmask(uint8_t *buf, size_t n, const uint8_t mask[4], size_t pos);

/* Checks s[0..n) as the next bytes of a UTF-8 text: 0, or -1 at the
 * first byte that cannot be valid UTF-8. The text is whole when u->need
 * is 0 afterwards. */
int ws_utf8_feed(struct ws_utf8 *u, const uint8_t *s, size_t n);

/* May an endpoint send this close code (RFC 6455 7.4)? 1000-1003,
 * 1007-1014 (1012-1014 as IANA registered them), 3000-4999. */
int ws_close_code_ok(unsigned code);

/* Writes the head of a server frame (FIN set when fin, unmasked; opcode
 * may carry WS_RSV1) for a payload of len bytes into out (10 bytes at
 * most); returns its length. */
size_t ws_frame_head(uint8_t out[10], int fin, int opcode, uint64_t len);

/* Writes a close frame's payload: the code then as much of the reason as
 * fits 125 bytes, cut at a character's boundary. Returns its length. */
size_t ws_close_payload(uint8_t out[125], unsigned code, const char *reason, size_t rlen);

/* The opening handshake (RFC 6455 4.2.1). */
enum {
    WS_HS_NONE = 0,      /* no "Upgrade: websocket" with "Connection: upgrade" */
    WS_HS_OK = 1,        /* a valid upgrade: *key is its Sec-WebSocket-Key */
    WS_HS_BAD = -1,      /* an upgrade that is no valid handshake: 400 */
    WS_HS_VERSION = -2   /* a Sec-WebSocket-Version other than 13: 426 */
};

/* Classifies the request r parsed from buf. */
int ws_check_upgrade(const char *buf, const struct http_request *r, struct http_span *key);

/* Sec-WebSocket-Accept for a key: base64 of SHA-1(key + the GUID), 28
 * characters and a NUL. 0, or -1 when the hash failed. */
int ws_accept_key(const char *key, size_t klen, char out[29]);

/* SHA-1 (FIPS 180-4) of s[0..n), used when libcrypto is not there. */
void ws_sha1(const uint8_t *s, size_t n, uint8_t out[20]);

/* Does the comma-separated list in buf at span v hold token (any case)? */
int ws_has_token(const char *buf, struct http_span v, const char *token);

/* The next element of a comma-separated list buf[*pos..end), blanks
 * around it dropped: 1 with it at buf[*s..*e) (maybe empty), *pos moved
 * past it; 0 at the list's end. */
int ws_list_next(const char *buf, size_t *pos, size_t end, size_t *s, size_t *e);

#endif
