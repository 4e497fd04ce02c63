/*
 * libFuzzer target for the request head parser.
 *
 * Input: [options][cut] then the bytes of a request. The options byte picks
 * parser settings, the cut byte a place to split the bytes in two reads.
 * Checked: the parse never reads outside its buffer (each call gets an
 * exactly-sized copy), and the result is the same whole, split, and (for
 * short inputs) one byte per read: the same return value, the same spans.
 */
#include <stdlib.h>
#include <string.h>

#include "http/parser.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define MAXH 64

struct run {
    int64_t rc;
    struct http_request r;
    struct http_header h[MAXH];
    char *buf;  /* the bytes as the parser left them */
};

static void setup(struct http_config *cfg, uint8_t opt)
{
    http_config_init(cfg);
    cfg->flags = opt & 0x1f;
    cfg->header_map = (enum http_header_map)((opt >> 5) % 3);
    /* the fourth value of those two bits: the server's Host rule */
    if (((opt >> 5) & 3) == 3)
        cfg->flags |= HTTP_REQUIRE_HOST;
    /* small limits now and then, so the limit paths are reached */
    if (opt & 0x80)
        http_config_finish(cfg, 64, 4, 48);
}

/* Feeds data[0..n) ending reads at cuts[]; each call sees a fresh copy. */
static void parse(const struct http_config *cfg, int trusted,
                  const uint8_t *data, size_t n, const size_t *cuts,
                  size_t ncuts, struct run *out)
{
    struct http_parser p;
    char *prev = NULL;
    size_t had = 0;

    http_parser_init(&p, cfg, trusted);
    http_request_init(&out->r, out->h, MAXH);
    out->rc = HTTP_AGAIN;
    for (size_t i = 0; i <= ncuts && out->rc == HTTP_AGAIN; i++) {
        size_t to = i < ncuts ? cuts[i] : n;
        char *buf = malloc(to ? to : 1);
        if (!buf)
            abort();
        if (had)
            memcpy(buf, prev, had);  /* keeps what the parser wrote */
        memcpy(buf + had, data + had, to - had);
        free(prev);
        prev = buf;
        had = to;
        out->rc = http_parse_head(&p, &out->r, buf, to);
    }
    out->buf = prev;
    if (out->rc < 0 && out->rc != HTTP_AGAIN) {
        /* what the error noted lies in the buffer, and its text fits */
        char text[8192], small[40];

        if ((uint64_t)p.err.at.off + p.err.at.len > had)
            abort();
        if (http_error_text((int)out->rc, &p.err, prev, text, sizeof(text)) >= sizeof(text) ||
            http_error_text((int)out->rc, &p.err, prev, small, sizeof(small)) >= sizeof(small) ||
            strlen(text) == 0)
            abort();
    }
}

static void check_spans(const struct run *a, size_t n)
{
    const struct http_request *r = &a->r;
    const struct http_span *s[] = {&r->method, &r->target, &r->path,
                                   &r->query, &r->fragment};

    if (a->rc <= 0)
        return;
    if ((size_t)a->rc > n)
        abort();
    for (size_t i = 0; i < 5; i++)
        if ((uint64_t)s[i]->off + s[i]->len > (uint64_t)a->rc)
            abort();
    for (uint32_t i = 0; i < r->n_headers; i++)
        if ((uint64_t)r->headers[i].value.off + r->headers[i].value.len >
                (uint64_t)a->rc ||
            r->headers[i].name.len == 0)
            abort();
    if (r->body == HTTP_BODY_CHUNKED && r->major == 1 && r->minor == 0)
        abort();
    if (r->content_length > HTTP_MAX_CONTENT_LENGTH)
        abort();
}

static int same_span(struct http_span a, struct http_span b)
{
    return a.off == b.off && a.len == b.len;
}

/* Member by member: struct http_header has padding after id, whose bytes
 * the parser need not write alike in two runs. */
static int same_header(const struct http_header *a, const struct http_header *b)
{
    return same_span(a->name, b->name) && same_span(a->value, b->value) &&
           a->id == b->id;
}

static void same(const struct run *a, const struct run *b)
{
    if (a->rc != b->rc)
        abort();
    if (a->rc <= 0)
        return;
    if (!same_span(a->r.method, b->r.method) ||
        !same_span(a->r.target, b->r.target) ||
        !same_span(a->r.path, b->r.path) || !same_span(a->r.query, b->r.query) ||
        !same_span(a->r.fragment, b->r.fragment) ||
        a->r.major != b->r.major || a->r.minor != b->r.minor ||
        a->r.flags != b->r.flags || a->r.body != b->r.body ||
        a->r.content_length != b->r.content_length ||
        a->r.n_headers != b->r.n_headers ||
        memcmp(a->buf, b->buf, (size_t)a->rc) != 0)
        abort();
    for (uint32_t i = 0; i < a->r.n_headers; i++)
        if (!same_header(&a->h[i], &b->h[i]))
            abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct http_config cfg;
    struct run whole, split;
    size_t cut;
    int trusted;

    if (size < 2)
        return 0;
    setup(&cfg, data[0]);
    cut = (size_t)data[1] * (size - 2) / 256;
    trusted = (int)(cut & 1);
    data += 2;
    size -= 2;

    parse(&cfg, trusted, data, size, NULL, 0, &whole);
    check_spans(&whole, size);
    parse(&cfg, trusted, data, size, &cut, 1, &split);
    same(&whole, &split);
    free(split.buf);
    if (size <= 256) {
        size_t cuts[256];
        for (size_t i = 0; i < size; i++)
            cuts[i] = i + 1;
        parse(&cfg, trusted, data, size, cuts, size, &split);
        same(&whole, &split);
        free(split.buf);
    }
    free(whole.buf);
    return 0;
}
