/*
 * Request bodies over a connection. See body.h.
 *
 * For chunked bodies the decoder runs over the unconsumed input
 * c->buf[start..end): decoded bytes move to the front of that region, at
 * [dpos, dend), and c->start advances past the input they came from. The
 * connection buffer is only compacted (cu_conn_fill) once every decoded
 * byte has been handed out, so dpos/dend stay valid until then.
 */
#include "worker/body.h"

#include <errno.h>
#include <string.h>

#include "core/clock.h"

void cu_body_init(struct cu_body *b, const struct http_request *r,
                  const struct http_config *cfg)
{
    memset(b, 0, sizeof(*b));
    b->kind = r->body;
    b->max_buffer = 1 << 20;
    if (b->kind == HTTP_BODY_LENGTH)
        b->left = r->content_length;
    else if (b->kind == HTTP_BODY_CHUNKED)
        http_chunked_init(&b->chunked, cfg, NULL, 0);
    b->done = b->kind == HTTP_BODY_NONE ||
              (b->kind == HTTP_BODY_LENGTH && b->left == 0);
    b->limit = cfg->limit_request_body;
}

int cu_body_over_limit(const struct http_request *r, const struct http_config *cfg)
{
    return r->body == HTTP_BODY_LENGTH && cfg->limit_request_body &&
           r->content_length > cfg->limit_request_body ? HTTP_E_BODY_TOO_LARGE : 0;
}

static int64_t peek_chunked(struct cu_body *b, struct cu_conn *c,
                            const char **p)
{
    size_t out, used;
    int rc;

    if (b->dpos < b->dend) {
        *p = c->buf + b->dpos;
        return (int64_t)(b->dend - b->dpos);
    }
    if (http_chunked_done(&b->chunked)) {
        b->done = 1;
        return 0;
    }
    if (c->start == c->end) {
        if (c->eof) {
            b->error = http_chunked_eof_error(&b->chunked);
            return b->error;
        }
        return HTTP_AGAIN;
    }
    rc = http_chunked_decode(&b->chunked, c->buf + c->start,
                             c->end - c->start, &out, &used);
    b->dpos = c->start;
    b->dend = c->start + out;
    c->start += used;
    b->total += out;
    if (rc < 0 && rc != HTTP_AGAIN) {
        b->error = rc;
        return rc;
    }
    if (b->limit && b->total > b->limit) {
        b->error = HTTP_E_BODY_TOO_LARGE;
        return b->error;
    }
    if (out) {
        *p = c->buf + b->dpos;
        return (int64_t)out;
    }
    if (rc == 0) {
        b->done = 1;
        return 0;
    }
    if (c->eof) {
        b->error = http_chunked_eof_error(&b->chunked);
        return b->error;
    }
    return HTTP_AGAIN;
}

int64_t cu_body_peek(struct cu_body *b, struct cu_conn *c, const char **p)
{
    size_t have;

    if (b->error)
        return b->error;
    if (b->spool)
        return cu_spool_peek(b->spool, p);
    if (b->done)
        return 0;
    if (b->kind == HTTP_BODY_CHUNKED)
        return peek_chunked(b, c, p);
    have = c->end - c->start;
    if (have == 0) {
        if (c->eof) {
            /* the peer closed before Content-Length bytes came: not an
             * end of the body but its failure (docs/compat.md, Framing),
             * sticky for every reader */
            b->error = HTTP_E_EOF;
            return HTTP_E_EOF;
        }
        return HTTP_AGAIN;
    }
    *p = c->buf + c->start;
    return (int64_t)(have < b->left ? have : b->left);
}

void cu_body_consume(struct cu_body *b, struct cu_conn *c, size_t n)
{
    if (b->spool) {
        cu_spool_consume(b->spool, n);
        return;
    }
    if (b->kind == HTTP_BODY_CHUNKED) {
        b->dpos += n;
        return;
    }
    c->start += n;
    b->left -= n;
    if (b->left == 0)
        b->done = 1;
}

long long cu_body_deadline(struct cu_body *b, const struct cu_conn *c)
{
    uint64_t rate = (uint64_t)c->body_min_rate;
    long long d;

    if (c->body_ms <= 0)
        return 0;
    if (b->t0 == 0)
        b->t0 = cu_now_ms();
    d = b->t0 + c->body_ms;
    if (rate > 0) {  /* got * 1000 / rate ms, capped where no overflow is */
        uint64_t secs = b->got / rate;
        d += secs > (1u << 30) ? (1LL << 30) * 1000
                               : (long long)(secs * 1000 + b->got % rate * 1000 / rate);
    }
    return d;
}

int cu_body_wait(struct cu_body *b, struct cu_conn *c)
{
    long long saved = c->deadline_ms;
    ssize_t n;

    if (b->spool)
        return cu_spool_load(b->spool);
    if (b->kind == HTTP_BODY_CHUNKED)
        b->dpos = b->dend = 0;  /* all handed out: the buffer may move */
    c->deadline_ms = cu_body_deadline(b, c);
    n = cu_conn_fill(c, b->max_buffer);
    c->deadline_ms = saved;
    if (n > 0)
        b->got += (uint64_t)n;
    return n < 0 ? -1 : 0;
}

int cu_body_drain(struct cu_body *b, struct cu_conn *c, uint64_t limit)
{
    uint64_t seen = 0;

    for (;;) {
        const char *p;
        int64_t n = cu_body_peek(b, c, &p);
        if (n == 0)
            return 0;
        if (n == HTTP_AGAIN) {
            if (cu_body_wait(b, c) < 0)
                return -1;
            continue;
        }
        if (n < 0)
            return -1;
        seen += (uint64_t)n;
        if (seen > limit)
            return -1;
        cu_body_consume(b, c, (size_t)n);
    }
}
