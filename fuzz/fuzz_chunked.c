/*
 * libFuzzer target for the chunked body decoder.
 *
 * Input: [step] then a chunked body (and whatever follows it). The body is
 * decoded whole and again arriving `step` bytes at a time, each call on an
 * exactly-sized copy of the unconsumed bytes. Both must give the same
 * result, the same body and the same leftover; out <= consumed <= len.
 */
#include <stdlib.h>
#include <string.h>

#include "http/chunked.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

struct result {
    int rc;
    size_t body_len, rest;
    uint32_t trailers;
};

static void decode(const struct http_config *cfg, const uint8_t *data,
                   size_t n, size_t step, uint8_t *body, struct result *res)
{
    struct http_chunked c;
    struct http_header tr[8];
    char *keep = NULL;
    size_t have = 0, fed = 0;

    http_chunked_init(&c, cfg, tr, 8);
    res->rc = HTTP_AGAIN;
    res->body_len = 0;
    while (res->rc == HTTP_AGAIN && fed < n) {
        size_t k = n - fed < step ? n - fed : step, out, used;
        char *buf = malloc(have + k);
        if (!buf)
            abort();
        if (have)
            memcpy(buf, keep, have);
        memcpy(buf + have, data + fed, k);
        free(keep);
        have += k;
        fed += k;
        res->rc = http_chunked_decode(&c, buf, have, &out, &used);
        if (res->rc < 0 && res->rc != HTTP_AGAIN) {
            keep = buf;
            break;
        }
        if (out > used || used > have)
            abort();
        memcpy(body + res->body_len, buf, out);
        res->body_len += out;
        for (uint32_t i = 0; res->rc == 0 && i < c.n_trailers; i++)
            if ((size_t)tr[i].value.off + tr[i].value.len > used)
                abort();
        memmove(buf, buf + used, have - used);
        have -= used;
        keep = buf;
    }
    free(keep);
    res->rest = have + (n - fed);
    res->trailers = c.n_trailers;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct http_config cfg;
    struct result a, b;
    uint8_t *body1, *body2;
    size_t step;

    if (size < 1)
        return 0;
    step = (size_t)data[0] % 17 + 1;
    data++;
    size--;
    http_config_init(&cfg);
    body1 = malloc(size + 1);
    body2 = malloc(size + 1);
    if (!body1 || !body2)
        abort();
    decode(&cfg, data, size, size ? size : 1, body1, &a);
    decode(&cfg, data, size, step, body2, &b);
    if (a.rc != b.rc)
        abort();
    if ((a.rc == 0 || a.rc == HTTP_AGAIN) && (a.body_len != b.body_len || a.rest != b.rest ||
                      a.trailers != b.trailers ||
                      memcmp(body1, body2, a.body_len) != 0))
        abort();
    free(body1);
    free(body2);
    return 0;
}
