/*
 * permessage-deflate (RFC 7692): the offers' negotiation and the
 * compression contexts, with zlib. See ws_deflate.h for the contract.
 */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <zlib.h>

#include "http/ws.h"
#include "http/ws_deflate.h"

/* Our compressor: the websockets library's window and memory (a 4 KiB
 * window, memLevel 5: about 24 KiB a connection), at level 1 as
 * gorilla/websocket has it: about half the CPU of zlib's default level
 * for a few percent more bytes. */
#define OUR_WINDOW_BITS 12
#define OUR_MEM_LEVEL 5
#define OUR_LEVEL 1
#define BUF_KEEP 65536           /* a larger message buffer is not kept */
#define ZSTEP ((size_t)1 << 30)  /* zlib counts in uInt */

static const uint8_t TAIL[4] = {0x00, 0x00, 0xff, 0xff};
static const uint8_t EMPTY[1] = {0x00};  /* an empty message, compressed */

struct ws_pmd {
    struct ws_pmd_params pp;
    z_stream inf, def;
    uint8_t inf_on, def_on;      /* the streams are made */
    uint8_t def_broken;          /* our compressor failed: no more compression */
    uint8_t ended;               /* the message's deflate stream ended (BFINAL) */
    uint8_t fed;                 /* the message has brought compressed bytes */
    struct ws_utf8 utf8;         /* the inflated text so far */
    uint8_t *out;                /* the inflated message */
    size_t olen, ocap;
    uint8_t *zbuf;               /* a compressed message */
    size_t zcap;
};

/* ---- the offers --------------------------------------------------------- */

/* The next ';'-separated part of buf[*pos..end), blanks around it
 * dropped: 1 with it at buf[*s..*e), 0 at the end. */
static int next_part(const char *buf, size_t *pos, size_t end, size_t *s, size_t *e)
{
    size_t i = *pos;

    if (i >= end)
        return 0;
    while (i < end && (buf[i] == ' ' || buf[i] == '\t'))
        i++;
    *s = i;
    while (i < end && buf[i] != ';')
        i++;
    *e = i;
    while (*e > *s && (buf[*e - 1] == ' ' || buf[*e - 1] == '\t'))
        (*e)--;
    *pos = i < end ? i + 1 : end;
    return 1;
}

static int is_name(const char *p, size_t n, const char *name)
{
    return n == strlen(name) && strncasecmp(p, name, n) == 0;
}

/* A window size's value (1*DIGIT, no leading zero, quotes allowed):
 * 8..15, or -1. */
static int window_bits(const char *v, size_t n)
{
    if (n >= 2 && v[0] == '"' && v[n - 1] == '"') {
        v++;
        n -= 2;
    }
    if (n == 1 && v[0] >= '8' && v[0] <= '9')
        return v[0] - '0';
    if (n == 2 && v[0] == '1' && v[1] >= '0' && v[1] <= '5')
        return 10 + v[1] - '0';
    return -1;
}

/* One parameter name[=value] of an offer into pp: 0, or -1 (unknown,
 * repeated, malformed: the offer is declined). */
static int param(const char *buf, size_t s, size_t e, struct ws_pmd_params *pp, unsigned *seen)
{
    static const char *const names[4] = {"server_no_context_takeover",
                                         "client_no_context_takeover",
                                         "server_max_window_bits", "client_max_window_bits"};
    const char *eq = memchr(buf + s, '=', e - s);
    size_t ne = eq ? (size_t)(eq - buf) : e, vs = eq ? ne + 1 : e, ve = e;
    int which = -1, bits = 0;

    while (ne > s && (buf[ne - 1] == ' ' || buf[ne - 1] == '\t'))
        ne--;
    while (vs < ve && (buf[vs] == ' ' || buf[vs] == '\t'))
        vs++;
    for (int i = 0; i < 4; i++)
        if (is_name(buf + s, ne - s, names[i]))
            which = i;
    if (which < 0 || *seen & (1u << which))
        return -1;
    *seen |= 1u << which;
    if (which < 2) {  /* the no_context_takeover ones take no value */
        if (eq)
            return -1;
        if (which == 0)
            pp->server_no_context_takeover = 1;
        else
            pp->client_no_context_takeover = 1;
        return 0;
    }
    if (eq && (bits = window_bits(buf + vs, ve - vs)) < 0)
        return -1;
    if (which == 2) {
        /* a value is required; zlib's raw deflate has no 256-byte window */
        if (!eq || bits < 9)
            return -1;
        pp->server_max_window_bits = (uint8_t)bits;
    } else {
        pp->client_max_window_bits = (uint8_t)bits;  /* 0: no value */
    }
    return 0;
}

int ws_pmd_offer(const char *buf, size_t s, size_t e, struct ws_pmd_params *out)
{
    size_t pos = s, ps, pe;
    unsigned seen = 0;

    memset(out, 0, sizeof *out);
    if (!next_part(buf, &pos, e, &ps, &pe) || !is_name(buf + ps, pe - ps, "permessage-deflate"))
        return 0;
    while (next_part(buf, &pos, e, &ps, &pe))
        if (param(buf, ps, pe, out, &seen) < 0)
            return 0;
    return 1;
}

int ws_pmd_negotiate(const char *buf, const struct http_request *r, struct ws_pmd_params *out)
{
    for (uint32_t i = 0; i < r->n_headers; i++) {
        const struct http_header *h = &r->headers[i];
        size_t pos = h->value.off, end = pos + h->value.len, s, e;
        if (!http_span_ieq(buf, h->name, "sec-websocket-extensions"))
            continue;
        while (ws_list_next(buf, &pos, end, &s, &e))
            if (ws_pmd_offer(buf, s, e, out))
                return 1;
    }
    return 0;
}

size_t ws_pmd_response(const struct ws_pmd_params *pp, char out[WS_PMD_RESPONSE_MAX])
{
    char sbits[40] = "", cbits[40] = "";
    int n;

    if (pp->server_max_window_bits)
        (void)snprintf(sbits, sizeof sbits, "; server_max_window_bits=%u",
                       (unsigned)pp->server_max_window_bits);
    if (pp->client_max_window_bits)
        (void)snprintf(cbits, sizeof cbits, "; client_max_window_bits=%u",
                       (unsigned)pp->client_max_window_bits);
    n = snprintf(out, WS_PMD_RESPONSE_MAX, "Sec-WebSocket-Extensions: permessage-deflate%s%s%s%s\r\n",
                 pp->server_no_context_takeover ? "; server_no_context_takeover" : "",
                 pp->client_no_context_takeover ? "; client_no_context_takeover" : "", sbits,
                 cbits);
    return n > 0 && n < WS_PMD_RESPONSE_MAX ? (size_t)n : 0;
}

/* ---- the contexts -------------------------------------------------------- */

struct ws_pmd *ws_pmd_new(const struct ws_pmd_params *pp)
{
    struct ws_pmd *z = calloc(1, sizeof *z);

    if (z)
        z->pp = *pp;
    return z;
}

void ws_pmd_free(struct ws_pmd *z)
{
    if (!z)
        return;
    if (z->inf_on)
        (void)inflateEnd(&z->inf);
    if (z->def_on)
        (void)deflateEnd(&z->def);
    free(z->out);
    free(z->zbuf);
    free(z);
}

/* Room for more inflated bytes: the buffer grows, never past max + 1
 * (one byte over says the message is too big). 0, or a WS_E_* error. */
static int out_room(struct ws_pmd *z, uint64_t max)
{
    size_t cap = z->ocap ? z->ocap * 2 : 4096;
    uint8_t *p;

    if (max && z->olen > max)
        return WS_E_TOO_BIG;
    if (max && cap > max + 1)
        cap = (size_t)max + 1;
    if (cap <= z->ocap)
        return WS_E_TOO_BIG;
    p = realloc(z->out, cap);
    if (!p)
        return WS_E_NOMEM;
    z->out = p;
    z->ocap = cap;
    return 0;
}

/* One zlib call's worth: what it wrote is checked and kept. */
static int inflate_step(struct ws_pmd *z, int text, uint64_t max)
{
    size_t room = z->ocap - z->olen, before;
    int rc;

    if (room > ZSTEP)
        room = ZSTEP;
    z->inf.next_out = z->out + z->olen;
    z->inf.avail_out = (uInt)room;
    before = room;
    rc = inflate(&z->inf, Z_SYNC_FLUSH);
    /* what came out before a bad code is judged first, so the error does
     * not depend on how the bytes arrived */
    before -= z->inf.avail_out;
    if (text && ws_utf8_feed(&z->utf8, z->out + z->olen, before) < 0)
        return WS_E_UTF8;
    z->olen += before;
    if (max && z->olen > max)
        return WS_E_TOO_BIG;
    if (rc == Z_MEM_ERROR)
        return WS_E_NOMEM;
    if (rc != Z_OK && rc != Z_STREAM_END && rc != Z_BUF_ERROR)
        return WS_E_INFLATE;
    if (rc == Z_STREAM_END)
        z->ended = 1;  /* a final block: what follows is ignored */
    return 0;
}

/* Feeds in[0..n) (at most ZSTEP) until zlib has taken it all and has
 * nothing more to give. */
static int inflate_piece(struct ws_pmd *z, const uint8_t *in, size_t n, int text, uint64_t max)
{
    z->inf.next_in = (Bytef *)(uintptr_t)in;
    z->inf.avail_in = (uInt)n;
    for (;;) {
        int rc;
        if (z->olen == z->ocap && (rc = out_room(z, max)) < 0)
            return rc;
        if ((rc = inflate_step(z, text, max)) < 0)
            return rc;
        if (z->ended)
            return 0;
        if (z->inf.avail_out)  /* all given out; all taken */
            return z->inf.avail_in ? WS_E_INFLATE : 0;
    }
}

int ws_pmd_inflate(struct ws_pmd *z, const uint8_t *in, size_t n, int text, uint64_t max)
{
    if (!z->inf_on) {
        memset(&z->inf, 0, sizeof z->inf);
        if (inflateInit2(&z->inf, -15) != Z_OK)
            return WS_E_NOMEM;
        z->inf_on = 1;
    }
    if (n)
        z->fed = 1;
    while (n && !z->ended) {
        size_t k = n < ZSTEP ? n : ZSTEP;
        int rc = inflate_piece(z, in, k, text, max);
        if (rc < 0)
            return rc;
        in += k;
        n -= k;
    }
    return 0;
}

int ws_pmd_finish(struct ws_pmd *z, int text, uint64_t max, const uint8_t **msg, size_t *len)
{
    /* an empty payload (a client's empty message, where RFC 7692 7.2.3.6
     * sends 0x00): nothing to inflate; the tail alone would read as a
     * stored block's start and spoil the next message */
    int rc = z->fed ? ws_pmd_inflate(z, TAIL, sizeof TAIL, text, max) : 0;

    if (rc < 0)
        return rc;
    if (text && z->utf8.need)
        return WS_E_UTF8;
    *msg = z->out ? z->out : TAIL;  /* an empty message: any pointer */
    *len = z->olen;
    return 0;
}

void ws_pmd_done(struct ws_pmd *z)
{
    z->olen = 0;
    z->fed = 0;
    memset(&z->utf8, 0, sizeof z->utf8);
    if (z->ocap > BUF_KEEP) {
        free(z->out);
        z->out = NULL;
        z->ocap = 0;
    }
    /* a stream that ended starts afresh; so does every message of a
     * client that keeps no context */
    if (z->inf_on && (z->ended || z->pp.client_no_context_takeover))
        (void)inflateReset(&z->inf);
    z->ended = 0;
}

/* ---- compressing ------------------------------------------------------- */

static int def_init(struct ws_pmd *z)
{
    int bits = OUR_WINDOW_BITS;

    if (z->pp.server_max_window_bits && z->pp.server_max_window_bits < bits)
        bits = z->pp.server_max_window_bits;
    memset(&z->def, 0, sizeof z->def);
    if (deflateInit2(&z->def, OUR_LEVEL, Z_DEFLATED, -bits, OUR_MEM_LEVEL,
                     Z_DEFAULT_STRATEGY) != Z_OK)
        return -1;
    z->def_on = 1;
    return 0;
}

/* The compressed bytes' buffer holds at least need. 0, or -1. */
static int z_room(struct ws_pmd *z, size_t need)
{
    uint8_t *p;

    if (z->zcap >= need)
        return 0;
    p = realloc(z->zbuf, need);
    if (!p)
        return -1;
    z->zbuf = p;
    z->zcap = need;
    return 0;
}

/* Runs the compressor over in[0..n) with a sync flush into z->zbuf. */
static int def_run(struct ws_pmd *z, const uint8_t *in, size_t n, size_t *olen)
{
    size_t done = 0;

    z->def.next_in = (Bytef *)(uintptr_t)in;
    z->def.avail_in = (uInt)n;
    for (;;) {
        size_t room;
        if (z_room(z, done + 64) < 0)
            return -1;
        room = z->zcap - done;
        z->def.next_out = z->zbuf + done;
        z->def.avail_out = (uInt)(room < ZSTEP ? room : ZSTEP);
        room = z->def.avail_out;
        if (deflate(&z->def, Z_SYNC_FLUSH) != Z_OK)
            return -1;
        done += room - z->def.avail_out;
        if (z->def.avail_out && !z->def.avail_in)
            break;  /* all in, all out */
        if (z_room(z, z->zcap * 2) < 0)
            return -1;
    }
    *olen = done;
    return 0;
}

int ws_pmd_deflate(struct ws_pmd *z, const uint8_t *in, size_t n, const uint8_t **out,
                   size_t *olen)
{
    size_t len, need;

    if (n == 0) {
        /* an empty message: the one byte RFC 7692 7.2.3.6 sends (with the
         * tail, an empty stored block), zlib left alone: a second sync
         * flush with nothing in is its Z_BUF_ERROR, which would end
         * compression for good; and no byte at all would leave the
         * client's inflater reading the tail as a block's start */
        *out = EMPTY;
        *olen = sizeof EMPTY;
        return z->def_broken ? -1 : 0;
    }
    if (z->def_broken || n > ZSTEP || (!z->def_on && def_init(z) < 0))
        return -1;
    need = deflateBound(&z->def, (uLong)n) + 16;
    if (z->zcap > BUF_KEEP && need <= BUF_KEEP) {  /* a big message's buffer goes */
        free(z->zbuf);
        z->zbuf = NULL;
        z->zcap = 0;
    }
    if (z_room(z, need) < 0 || def_run(z, in, n, &len) < 0 ||
        len < sizeof TAIL || memcmp(z->zbuf + len - sizeof TAIL, TAIL, sizeof TAIL) != 0) {
        /* the context may hold what the client never got: no more */
        z->def_broken = 1;
        return -1;
    }
    if (z->pp.server_no_context_takeover && deflateReset(&z->def) != Z_OK)
        z->def_broken = 1;
    *out = z->zbuf;
    *olen = len - sizeof TAIL;
    return 0;
}
