/*
 * The WebSocket frame codec (RFC 6455 section 5): client frames in,
 * server frames out. See ws.h for the contract.
 */
#include <string.h>

#include "http/ws.h"

#define WS_CONTROL_MAX 125

static uint64_t get_be(const uint8_t *p, int n)
{
    uint64_t v = 0;

    for (int i = 0; i < n; i++)
        v = v << 8 | p[i];
    return v;
}

void ws_unmask(uint8_t *buf, size_t n, const uint8_t mask[4], size_t pos)
{
    uint8_t m8[8];
    uint64_t m, w;
    size_t i = 0;

    for (int k = 0; k < 8; k++)
        m8[k] = mask[(pos + (size_t)k) & 3];
    memcpy(&m, m8, 8);
    /* eight bytes at a time: the mask repeats every four, so the same
     * word fits every step */
    for (; i + 8 <= n; i += 8) {
        memcpy(&w, buf + i, 8);
        w ^= m;
        memcpy(buf + i, &w, 8);
    }
    for (; i < n; i++)
        buf[i] ^= m8[i & 7];
}

/* The state a lead byte sets: how many continuation bytes follow and the
 * range of the first (which is where overlongs, surrogates and code
 * points past U+10FFFF are refused). 0, or -1 for no lead byte. */
static int utf8_lead(struct ws_utf8 *u, uint8_t b)
{
    u->lo = 0x80;
    u->hi = 0xBF;
    if (b >= 0xC2 && b <= 0xDF)
        u->need = 1;
    else if (b == 0xE0) {
        u->need = 2;
        u->lo = 0xA0;       /* below: overlong */
    } else if ((b >= 0xE1 && b <= 0xEC) || b == 0xEE || b == 0xEF)
        u->need = 2;
    else if (b == 0xED) {
        u->need = 2;
        u->hi = 0x9F;       /* above: a surrogate */
    } else if (b == 0xF0) {
        u->need = 3;
        u->lo = 0x90;       /* below: overlong */
    } else if (b >= 0xF1 && b <= 0xF3)
        u->need = 3;
    else if (b == 0xF4) {
        u->need = 3;
        u->hi = 0x8F;       /* above: past U+10FFFF */
    } else
        return -1;
    return 0;
}

int ws_utf8_feed(struct ws_utf8 *u, const uint8_t *s, size_t n)
{
    size_t i = 0;

    while (i < n) {
        if (u->need == 0) {
            uint64_t w;
            /* ASCII runs, eight bytes at a time */
            while (i + 8 <= n) {
                memcpy(&w, s + i, 8);
                if (w & 0x8080808080808080ULL)
                    break;
                i += 8;
            }
            if (i == n)
                break;
            if (s[i] < 0x80) {
                i++;
                continue;
            }
            if (utf8_lead(u, s[i++]) < 0)
                return -1;
            continue;
        }
        if (s[i] < u->lo || s[i] > u->hi)
            return -1;
        u->need--;
        u->lo = 0x80;
        u->hi = 0xBF;
        i++;
    }
    return 0;
}

int ws_close_code_ok(unsigned code)
{
    return (code >= 1000 && code <= 1003) || (code >= 1007 && code <= 1014) ||
           (code >= 3000 && code <= 4999);
}

uint16_t ws_error_close_code(int err)
{
    switch (err) {
    case WS_E_TOO_BIG:
        return WS_CLOSE_TOO_BIG;
    case WS_E_UTF8:
        return WS_CLOSE_INVALID_DATA;
    case WS_E_NOMEM:
        return WS_CLOSE_INTERNAL;
    default:
        return WS_CLOSE_PROTOCOL;
    }
}

const char *ws_error_text(int err)
{
    switch (err) {
    case WS_E_RSV: return "reserved bits set";
    case WS_E_OPCODE: return "reserved opcode";
    case WS_E_UNMASKED: return "unmasked client frame";
    case WS_E_CONTROL_LEN: return "control frame over 125 bytes";
    case WS_E_CONTROL_FRAG: return "fragmented control frame";
    case WS_E_CONT: return "continuation without a message";
    case WS_E_FRAG: return "data frame inside a fragmented message";
    case WS_E_TOO_BIG: return "message too big";
    case WS_E_UTF8: return "invalid UTF-8";
    case WS_E_CLOSE_LEN: return "close frame of one byte";
    case WS_E_CLOSE_CODE: return "invalid close code";
    case WS_E_LENGTH: return "invalid frame length";
    case WS_E_RSV1: return "RSV1 on a control frame or a continuation";
    case WS_E_INFLATE: return "a compressed message does not inflate";
    case WS_E_NOMEM: return "no memory for a message";
    default: return "unknown error";
    }
}

/* A whole control frame's payload, unmasked, at buf[off..off+n). */
static int control(uint8_t op, const uint8_t *buf, size_t off, size_t n,
                   struct ws_chunk *out)
{
    struct ws_utf8 u = {0, 0, 0};

    out->op = op;
    out->done = 1;
    out->off = off;
    out->len = n;
    if (op != WS_OP_CLOSE)
        return 0;
    if (n == 0) {
        out->code = WS_CLOSE_NO_STATUS;
        return 0;
    }
    if (n == 1)
        return WS_E_CLOSE_LEN;
    out->code = (uint16_t)get_be(buf + off, 2);
    if (!ws_close_code_ok(out->code))
        return WS_E_CLOSE_CODE;
    out->reason_off = off + 2;
    out->reason_len = n - 2;
    if (ws_utf8_feed(&u, buf + off + 2, n - 2) < 0 || u.need)
        return WS_E_UTF8;
    return 0;
}

/* What of the data frame's payload is in buf[0..len), at offset base of
 * the caller's buffer: unmasked, checked, handed out. */
static int64_t payload(struct ws_parser *p, uint8_t *buf, size_t len, size_t base,
                       struct ws_chunk *out)
{
    size_t n = p->left < len ? (size_t)p->left : len;

    ws_unmask(buf, n, p->mask, p->mask_pos);
    p->mask_pos = (uint8_t)((p->mask_pos + n) & 3);
    p->left -= n;
    if (p->msg_op == WS_OP_TEXT && !p->msg_deflated && ws_utf8_feed(&p->utf8, buf, n) < 0)
        return WS_E_UTF8;
    out->op = p->msg_op;
    out->deflated = p->msg_deflated;
    out->off = base;
    out->len = n;
    if (p->left == 0) {
        p->in_frame = 0;
        if (p->fin) {
            if (p->msg_op == WS_OP_TEXT && !p->msg_deflated && p->utf8.need)
                return WS_E_UTF8;
            out->done = 1;
            p->msg_op = 0;
        }
    }
    return (int64_t)n;
}

/* The first two bytes' rules: 0, or a WS_E_* error. */
static int check_head(const struct ws_parser *p, uint8_t b0, uint8_t b1)
{
    uint8_t op = b0 & 0x0F;

    if (b0 & 0x30 || (b0 & WS_RSV1 && !p->deflate))
        return WS_E_RSV;
    /* RSV1 marks a compressed message's first frame only (RFC 7692 6) */
    if (b0 & WS_RSV1 && (op & 0x8 || op == WS_OP_CONT))
        return WS_E_RSV1;
    if ((op > WS_OP_BINARY && op < WS_OP_CLOSE) || op > WS_OP_PONG)
        return WS_E_OPCODE;
    if (!(b1 & 0x80))
        return WS_E_UNMASKED;
    if (op & 0x8) {
        if (!(b0 & 0x80))
            return WS_E_CONTROL_FRAG;
        if ((b1 & 0x7F) > WS_CONTROL_MAX)
            return WS_E_CONTROL_LEN;
    } else if (op == WS_OP_CONT) {
        if (!p->msg_op)
            return WS_E_CONT;
    } else if (p->msg_op)
        return WS_E_FRAG;
    return 0;
}

/* A data frame's head is in: the message it starts or continues. */
static int64_t data_frame(struct ws_parser *p, uint8_t b0, uint64_t plen)
{
    uint8_t op = b0 & 0x0F;

    if (op != WS_OP_CONT) {
        p->msg_op = op;
        p->msg_deflated = (b0 & WS_RSV1) != 0;
        p->msg_len = 0;
        memset(&p->utf8, 0, sizeof p->utf8);
    }
    if (p->max_message && plen > p->max_message - p->msg_len)
        return WS_E_TOO_BIG;
    p->msg_len += plen;
    p->left = plen;
    p->fin = (b0 & 0x80) != 0;
    p->mask_pos = 0;
    p->in_frame = 1;
    return 0;
}

int64_t ws_parse(struct ws_parser *p, uint8_t *buf, size_t len, struct ws_chunk *out)
{
    uint64_t plen;
    size_t hlen = 2;
    int64_t rc;
    uint8_t op;

    memset(out, 0, sizeof *out);
    if (p->in_frame)
        return len || !p->left ? payload(p, buf, len, 0, out) : WS_AGAIN;
    if (len < 2)
        return WS_AGAIN;
    rc = check_head(p, buf[0], buf[1]);
    if (rc < 0)
        return rc;
    op = buf[0] & 0x0F;
    plen = buf[1] & 0x7F;
    if (plen == 126) {
        hlen = 4;
        if (len < hlen)
            return WS_AGAIN;
        plen = get_be(buf + 2, 2);
    } else if (plen == 127) {
        hlen = 10;
        if (len < hlen)
            return WS_AGAIN;
        plen = get_be(buf + 2, 8);
        if (plen >> 63)
            return WS_E_LENGTH;
    }
    if (len < hlen + 4)
        return WS_AGAIN;
    memcpy(p->mask, buf + hlen, 4);
    hlen += 4;
    if (op & 0x8) {
        if (len - hlen < plen)
            return WS_AGAIN;
        ws_unmask(buf + hlen, (size_t)plen, p->mask, 0);
        rc = control(op, buf, hlen, (size_t)plen, out);
        return rc < 0 ? rc : (int64_t)(hlen + plen);
    }
    rc = data_frame(p, buf[0], plen);
    if (rc < 0)
        return rc;
    rc = payload(p, buf + hlen, len - hlen, hlen, out);
    return rc < 0 ? rc : (int64_t)hlen + rc;
}

size_t ws_frame_head(uint8_t out[10], int fin, int opcode, uint64_t len)
{
    out[0] = (uint8_t)((fin ? 0x80 : 0) | (opcode & (0x0F | WS_RSV1)));
    if (len < 126) {
        out[1] = (uint8_t)len;
        return 2;
    }
    if (len <= 0xFFFF) {
        out[1] = 126;
        out[2] = (uint8_t)(len >> 8);
        out[3] = (uint8_t)len;
        return 4;
    }
    out[1] = 127;
    for (int i = 0; i < 8; i++)
        out[2 + i] = (uint8_t)(len >> (56 - 8 * i));
    return 10;
}

size_t ws_close_payload(uint8_t out[125], unsigned code, const char *reason, size_t rlen)
{
    size_t max = WS_CONTROL_MAX - 2;

    out[0] = (uint8_t)(code >> 8);
    out[1] = (uint8_t)code;
    if (rlen > max) {
        rlen = max;
        /* back to the start of a character */
        while (rlen > 0 && ((uint8_t)reason[rlen] & 0xC0) == 0x80)
            rlen--;
    }
    if (rlen)
        memcpy(out + 2, reason, rlen);
    return 2 + rlen;
}
