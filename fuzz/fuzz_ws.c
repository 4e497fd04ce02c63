/*
 * libFuzzer target for the WebSocket frame parser (src/http/ws.h).
 *
 * Input: [step][limit] then client frames. The frames are parsed whole
 * and again arriving `step` bytes at a time, each call on an exactly-sized
 * copy of the unconsumed bytes (so ASan sees any over-read), with
 * max_message = limit * 64 (0: none). Both must give the same result and
 * the same message bytes; every span lies inside what the call was given;
 * a finished text message is UTF-8 by a byte-by-byte check.
 *
 * step's top bit: permessage-deflate negotiated (src/http/ws_deflate.h),
 * so RSV1 marks compressed messages, inflated chunk by chunk within the
 * limit (64 KiB when there is none) as the asgi worker does; both runs
 * must inflate to the same bytes, none past the limit, text as UTF-8.
 */
#include <stdlib.h>
#include <string.h>

#include "http/ws.h"
#include "http/ws_deflate.h"

#define INFLATE_CAP 65536  /* the inflate limit when the input sets none */

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

struct result {
    int rc;
    size_t out_len;   /* bytes of the data messages */
    size_t events;    /* messages and control frames finished */
    uint64_t control; /* a sum over the control frames' bytes and codes */
    uint64_t inflated;/* a sum over the inflated messages' bytes */
};

static void check_chunk(const struct ws_chunk *c, size_t len, size_t used)
{
    if (c->off > len || c->len > len - c->off || used > len)
        abort();
    if (c->op == WS_OP_CLOSE && c->reason_len &&
        (c->reason_off < c->off || c->reason_off + c->reason_len != c->off + c->len))
        abort();
}

/* One finished text message must be UTF-8 (checked again byte by byte). */
static void check_text(const uint8_t *msg, size_t n)
{
    struct ws_utf8 u = {0, 0, 0};

    for (size_t i = 0; i < n; i++)
        if (ws_utf8_feed(&u, msg + i, 1) < 0)
            abort();
    if (u.need)
        abort();
}

static void collect(const struct ws_chunk *c, const uint8_t *buf, uint8_t *out,
                    struct result *res, size_t *msg_start)
{
    if (c->op & 0x8) {
        for (size_t i = 0; i < c->len; i++)
            res->control = res->control * 31 + buf[c->off + i];
        res->control = res->control * 31 + (uint64_t)c->op * 65536u + c->code;
        res->events++;
        return;
    }
    memcpy(out + res->out_len, buf + c->off, c->len);
    res->out_len += c->len;
    if (c->done) {
        if (c->op == WS_OP_TEXT)
            check_text(out + *msg_start, res->out_len - *msg_start);
        res->events++;
        *msg_start = res->out_len;
    }
}

/* A compressed message's chunk: inflated; at its end, checked (its size
 * within the limit, text as UTF-8) and summed. 0, or a WS_E_* error. */
static int inflated(struct ws_pmd *z, const struct ws_chunk *c, const uint8_t *buf,
                    uint64_t max, struct result *res)
{
    int text = c->op == WS_OP_TEXT;
    uint64_t lim = max ? max : INFLATE_CAP;
    const uint8_t *msg;
    size_t n;
    int rc = ws_pmd_inflate(z, buf + c->off, c->len, text, lim);

    if (rc < 0 || !c->done)
        return rc;
    if ((rc = ws_pmd_finish(z, text, lim, &msg, &n)) < 0)
        return rc;
    if (n > lim)
        abort();
    if (text)
        check_text(msg, n);
    for (size_t i = 0; i < n; i++)
        res->inflated = res->inflated * 31 + msg[i];
    res->inflated = res->inflated * 31 + n;
    res->events++;
    ws_pmd_done(z);
    return 0;
}

static void parse(const uint8_t *data, size_t n, size_t step, uint64_t max, int deflate,
                  uint8_t *out, struct result *res)
{
    static const struct ws_pmd_params pp = {0, 0, 0, 0};
    struct ws_parser p;
    struct ws_pmd *z = deflate ? ws_pmd_new(&pp) : NULL;
    uint8_t *keep = NULL;
    size_t have = 0, fed = 0, msg_start = 0;

    if (deflate && !z)
        abort();
    memset(&p, 0, sizeof p);
    memset(res, 0, sizeof *res);
    p.max_message = max;
    p.deflate = (uint8_t)deflate;
    res->rc = WS_AGAIN;
    while (fed < n) {
        size_t k = n - fed < step ? n - fed : step, used = 0;
        uint8_t *buf = malloc(have + k + 1);
        if (!buf)
            abort();
        if (have)
            memcpy(buf, keep, have);
        memcpy(buf + have, data + fed, k);
        free(keep);
        have += k;
        fed += k;
        int64_t rc = 0;
        while (used < have) {
            struct ws_chunk c;
            rc = ws_parse(&p, buf + used, have - used, &c);
            if (rc < 0)
                break;
            if (rc == 0)
                abort();   /* a count is never 0 */
            check_chunk(&c, have - used, (size_t)rc);
            if (c.deflated && (c.op == WS_OP_TEXT || c.op == WS_OP_BINARY)) {
                int e = inflated(z, &c, buf + used, max, res);
                if (e < 0) {
                    rc = e;
                    break;
                }
            } else {
                collect(&c, buf + used, out, res, &msg_start);
            }
            used += (size_t)rc;
        }
        memmove(buf, buf + used, have - used);
        have -= used;
        keep = buf;
        if (rc < WS_AGAIN) {
            res->rc = (int)rc;
            break;
        }
        res->rc = (int)rc;
    }
    free(keep);
    ws_pmd_free(z);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct result a, b;
    uint8_t *out1, *out2;
    size_t step;
    uint64_t max;
    int deflate;

    if (size < 2)
        return 0;
    deflate = data[0] >> 7;
    step = (size_t)(data[0] & 0x7F) % 17 + 1;
    max = (uint64_t)data[1] * 64;
    data += 2;
    size -= 2;
    out1 = malloc(size + 1);
    out2 = malloc(size + 1);
    if (!out1 || !out2)
        abort();
    parse(data, size, size ? size : 1, max, deflate, out1, &a);
    parse(data, size, step, max, deflate, out2, &b);
    /* an error may come before a chunk in one run and after it in the
     * other (a bad byte is seen when it arrives): compare errors, and the
     * bytes only when neither failed */
    if ((a.rc < WS_AGAIN) != (b.rc < WS_AGAIN) || (a.rc < WS_AGAIN && a.rc != b.rc))
        abort();
    if (a.rc >= WS_AGAIN && (a.events != b.events || a.out_len != b.out_len ||
                             a.control != b.control || a.inflated != b.inflated ||
                             memcmp(out1, out2, a.out_len) != 0))
        abort();
    free(out1);
    free(out2);
    return 0;
}
