/*
 * Chunked body decoder. See chunked.h for the contract.
 *
 *   chunk      = chunk-size [ chunk-ext ] CRLF chunk-data CRLF
 *   last-chunk = 1*("0") [ chunk-ext ] CRLF
 *   trailer-section, then CRLF
 *
 * Sizes are hex digits only (no sign, no space, no "0x"), SP/HTAB allowed
 * only between the size and a ';'. Extensions are skipped but checked.
 * Errors here are framing errors, answered 400 if the response has not
 * begun (docs/compat.md, Framing).
 */
#include "chunked.h"

#include <string.h>

enum { CS_SIZE = 0, CS_DATA, CS_DATA_CR, CS_DATA_LF, CS_TRAILERS, CS_DONE };

void http_chunked_init(struct http_chunked *c, const struct http_config *cfg,
                       struct http_header *trailers, uint32_t max_trailers)
{
    memset(c, 0, sizeof(*c));
    http_parser_init(&c->trailer, cfg, 0);
    c->trailers = trailers;
    /* without an array, trailers are checked and counted, not kept */
    c->max_trailers = trailers ? max_trailers : cfg->limit_request_fields;
}

int http_chunked_done(const struct http_chunked *c)
{
    return c->state == CS_DONE;
}

int http_chunked_eof_error(const struct http_chunked *c)
{
    /* Gunicorn: EOF where a chunk's CRLF or the trailer section's end
     * should be is a missing terminator; elsewhere the client stopped. */
    switch (c->state) {
    case CS_DATA_CR:
    case CS_DATA_LF:
    case CS_TRAILERS:
        return HTTP_E_CHUNK_TERMINATOR;
    default:
        return HTTP_E_EOF;
    }
}

static int hexval(unsigned char ch)
{
    if (ch >= '0' && ch <= '9')
        return ch - '0';
    ch |= 0x20;
    if (ch >= 'a' && ch <= 'f')
        return ch - 'a' + 10;
    return -1;
}

/* chunk-size [ ";" ext ] without its CRLF */
static int size_line(struct http_chunked *c, const char *s, size_t n)
{
    const char *semi = memchr(s, ';', n);
    size_t digits = n, i = 0;
    uint64_t v = 0;

    if (semi) {
        const char *e = semi + 1, *end = s + n;
        /* Gunicorn refuses a bare CR here; ours: any control but HTAB,
         * since a proxy that ends lines at LF would frame differently. */
        for (; e < end; e++)
            if ((*(const unsigned char *)e < 0x20 && *e != '\t') || *e == 0x7f)
                return HTTP_E_CHUNK_EXTENSION;
        c->ext += (uint32_t)(end - semi);
        if (c->ext > HTTP_CHUNK_EXT_MAX)
            return HTTP_E_CHUNK_OVERHEAD;
        digits = (size_t)(semi - s);
        while (digits && (s[digits - 1] == ' ' || s[digits - 1] == '\t'))
            digits--;
    }
    if (digits == 0)
        return HTTP_E_CHUNK_SIZE;
    while (i < digits && s[i] == '0')
        i++;
    if (digits - i > 15)  /* past 2^60: nobody sends that in one chunk */
        return HTTP_E_CHUNK_SIZE;
    /* what the size line holds beyond the size's digits and its
     * extensions: leading zeros, spaces before the ';' */
    c->waste += (semi ? (size_t)(semi - s) : n) - (digits - i ? digits - i : 1);
    for (size_t k = 0; k < digits; k++) {
        int h = hexval((unsigned char)s[k]);
        if (h < 0)
            return HTTP_E_CHUNK_SIZE;
        v = v << 4 | (uint64_t)h;
    }
    c->remaining = v;
    return 0;
}

/* Finds CRLF in buf[from..len); -1 if it has not arrived. */
static int64_t find_crlf(const char *buf, size_t from, size_t len, size_t *stop)
{
    size_t j = from;

    *stop = from;

    while (j < len) {
        const char *cr = memchr(buf + j, '\r', len - j);
        if (!cr) {
            j = len;
            break;
        }
        j = (size_t)(cr - buf);
        if (j + 1 >= len)
            break;  /* the LF may be on its way */
        if (buf[j + 1] == '\n')
            return (int64_t)j;
        j++;
    }
    *stop = j;
    return -1;
}

int http_chunked_decode(struct http_chunked *c, char *buf, size_t len,
                        size_t *out, size_t *consumed)
{
    size_t i = 0, o = 0, stop, n;
    int64_t eol, rc = 0;

    while (i < len && c->state != CS_DONE) {
        switch (c->state) {
        case CS_SIZE:
            eol = find_crlf(buf, i + c->scan, len, &stop);
            if (eol < 0) {
                c->scan = (uint32_t)(stop - i);
                if (c->scan > HTTP_CHUNK_LINE_MAX)
                    goto fail_overhead;
                goto out;
            }
            n = (size_t)eol - i;
            if (n > HTTP_CHUNK_LINE_MAX)
                goto fail_overhead;
            rc = size_line(c, buf + i, n);
            if (rc)
                goto fail;
            /* padding, not small chunks, is what is limited */
            if (c->waste > HTTP_CHUNK_SLACK)
                goto fail_overhead;
            i = (size_t)eol + 2;
            c->scan = 0;
            c->state = c->remaining ? CS_DATA : CS_TRAILERS;
            break;
        case CS_DATA:
            n = len - i;
            if (n > c->remaining)
                n = (size_t)c->remaining;
            if (o != i)
                memmove(buf + o, buf + i, n);
            o += n;
            i += n;
            c->remaining -= n;
            c->data += n;
            if (!c->remaining)
                c->state = CS_DATA_CR;
            break;
        case CS_DATA_CR:
        case CS_DATA_LF:
            if (buf[i] != (c->state == CS_DATA_CR ? '\r' : '\n')) {
                rc = HTTP_E_CHUNK_TERMINATOR;
                goto fail;
            }
            i++;
            c->state = c->state == CS_DATA_CR ? CS_DATA_LF : CS_SIZE;
            break;
        case CS_TRAILERS:
            rc = http_parse_trailers(&c->trailer, c->trailers, c->max_trailers,
                                     &c->n_trailers, buf + i, len - i);
            if (rc == HTTP_AGAIN)
                goto out;  /* the section is presented again, whole */
            if (rc < 0)
                goto fail;
            for (uint32_t k = 0; c->trailers && k < c->n_trailers; k++) {
                c->trailers[k].name.off += (uint32_t)i;
                c->trailers[k].value.off += (uint32_t)i;
            }
            i += (size_t)rc;
            c->state = CS_DONE;
            break;
        default:
            break;
        }
    }
out:
    *out = o;
    *consumed = i;
    return c->state == CS_DONE ? 0 : HTTP_AGAIN;
fail_overhead:
    rc = HTTP_E_CHUNK_OVERHEAD;
fail:
    *out = o;  /* the body bytes decoded before the error */
    *consumed = i;
    return (int)rc;
}
