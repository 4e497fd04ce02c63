/*
 * Replays HTTP request corpora through the C parsers, the way a connection
 * would see them: the PROXY preamble, the head, the body (Content-Length
 * or chunked), then the next pipelined request while the connection stays
 * open. Each case runs
 *   - whole (one read),
 *   - split in two at every byte boundary,
 *   - one byte per read,
 * and before every parse call the unconsumed bytes are moved so that their
 * last byte sits just before a PROT_NONE page: an over-read crashes, and
 * the parser is shown its buffer at a new address each time.
 *
 * Usage: test_corpus DIR...   (each DIR holds valid/ and invalid/: meson
 * passes tests/corpus/gunicorn, Gunicorn's cases, and tests/corpus/cunicorn,
 * ours)
 */
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "http/chunked.h"
#include "http/parser.h"
#include "http/proxy.h"
#include "../lib/guard.h"
#include "../lib/json.h"
#include "../lib/tap.h"

/* Inputs longer than this are split at their first and last 512 bytes
 * and at 512 evenly spaced places between. */
#define EVERY_SPLIT_MAX 65536

struct bytes {
    char *p;
    size_t n;
};

struct got {
    struct bytes method, uri, path, query, fragment, body;
    int major, minor;
    struct bytes *hname, *hvalue, *tname, *tvalue;
    size_t nh, nt;
};

struct outcome {
    struct got *req;
    size_t n, cap;
    int error;  /* 0 or HTTP_E_* */
};

struct setup {
    struct http_config cfg;
    enum http_proxy_mode proxy;
    int trusted;
};

static void *xmalloc(size_t n)
{
    void *p = malloc(n ? n : 1);
    if (!p) {
        perror("malloc");
        exit(2);
    }
    return p;
}

/* Writes why a check failed into why[0..whylen); returns 0, the check's
 * result. The reason is only shown, so a long one is cut to fit. */
__attribute__((format(printf, 3, 4)))
static int why_not(char *why, size_t whylen, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    (void)vsnprintf(why, whylen, fmt, ap);
    va_end(ap);
    return 0;
}

static struct bytes dup_bytes(const char *s, size_t n)
{
    struct bytes b = {xmalloc(n + 1), n};
    memcpy(b.p, s, n);
    b.p[n] = '\0';
    return b;
}

static struct bytes dup_span(const char *buf, struct http_span s)
{
    return dup_bytes(buf + s.off, s.len);
}

static struct bytes dup_upper(const char *buf, struct http_span s)
{
    struct bytes b = dup_span(buf, s);
    for (size_t i = 0; i < b.n; i++)
        b.p[i] = (char)toupper((unsigned char)b.p[i]);
    return b;
}

static void free_outcome(struct outcome *o)
{
    for (size_t i = 0; i < o->n; i++) {
        struct got *g = &o->req[i];
        free(g->method.p), free(g->uri.p), free(g->path.p);
        free(g->query.p), free(g->fragment.p), free(g->body.p);
        for (size_t k = 0; k < g->nh; k++)
            free(g->hname[k].p), free(g->hvalue[k].p);
        for (size_t k = 0; k < g->nt; k++)
            free(g->tname[k].p), free(g->tvalue[k].p);
        free(g->hname), free(g->hvalue), free(g->tname), free(g->tvalue);
    }
    free(o->req);
    memset(o, 0, sizeof(*o));
}

/* ---- the simulated connection ------------------------------------------ */

enum { PH_PROXY, PH_HEAD, PH_LENGTH, PH_CHUNKED, PH_CLOSED };

struct conn {
    const struct setup *su;
    char *end;          /* one past the last usable byte: the guard page */
    size_t have;        /* unconsumed bytes, ending at `end` */
    int phase;
    struct http_parser parser;
    struct http_request req;
    struct http_header *headers, *trailers;
    struct http_chunked chunked;
    uint64_t left;      /* Content-Length bytes still to come */
    struct outcome *out;
    struct got *cur;
};

static char *data(struct conn *c)
{
    return c->end - c->have;
}

static void consume(struct conn *c, size_t n)
{
    c->have -= n;  /* the bytes stay right-aligned against the guard */
}

static void append(struct conn *c, const char *src, size_t n)
{
    memmove(c->end - c->have - n, c->end - c->have, c->have);
    memcpy(c->end - n, src, n);
    c->have += n;
}

static void start_request(struct conn *c)
{
    http_parser_init(&c->parser, &c->su->cfg, c->su->trusted);
    http_request_init(&c->req, c->headers, c->su->cfg.limit_request_fields);
    c->phase = PH_HEAD;
}

static struct got *new_got(struct outcome *o)
{
    if (o->n == o->cap) {
        o->cap = o->cap ? o->cap * 2 : 4;
        o->req = realloc(o->req, o->cap * sizeof(*o->req));
        if (!o->req) {
            perror("realloc");
            exit(2);
        }
    }
    memset(&o->req[o->n], 0, sizeof(o->req[0]));
    return &o->req[o->n++];
}

static void record_head(struct conn *c)
{
    const char *b = data(c);
    const struct http_request *r = &c->req;
    struct got *g = new_got(c->out);

    g->method = dup_span(b, r->method);
    g->uri = dup_span(b, r->target);
    g->path = dup_span(b, r->path);
    g->query = dup_span(b, r->query);
    g->fragment = dup_span(b, r->fragment);
    g->major = r->major;
    g->minor = r->minor;
    g->nh = r->n_headers;
    g->hname = xmalloc(sizeof(struct bytes) * (g->nh + 1));
    g->hvalue = xmalloc(sizeof(struct bytes) * (g->nh + 1));
    for (size_t i = 0; i < g->nh; i++) {
        g->hname[i] = dup_upper(b, r->headers[i].name);
        g->hvalue[i] = dup_span(b, r->headers[i].value);
    }
    g->body = dup_bytes("", 0);
    c->cur = g;
}

static void add_body(struct conn *c, const char *s, size_t n)
{
    struct bytes *b = &c->cur->body;
    b->p = realloc(b->p, b->n + n + 1);
    if (!b->p) {
        perror("realloc");
        exit(2);
    }
    memcpy(b->p + b->n, s, n);
    b->n += n;
    b->p[b->n] = '\0';
}

static void end_request(struct conn *c)
{
    if (c->req.flags & HTTP_REQ_KEEP_ALIVE)
        start_request(c);
    else
        c->phase = PH_CLOSED;
}

static void fail(struct conn *c, int code)
{
    c->out->error = code;
    c->phase = PH_CLOSED;
}

/* Does everything the bytes buffered so far allow. */
static void pump(struct conn *c)
{
    for (;;) {
        int64_t rc;
        size_t n, o;

        switch (c->phase) {
        case PH_PROXY: {
            struct http_proxy px;
            rc = http_proxy_parse(data(c), c->have, c->su->proxy, &px);
            if (rc == HTTP_AGAIN)
                return;
            if (rc < 0)
                return fail(c, (int)rc);
            consume(c, (size_t)rc);
            start_request(c);
            break;
        }
        case PH_HEAD:
            if (c->have == 0)
                return;
            rc = http_parse_head(&c->parser, &c->req, data(c), c->have);
            if (rc == HTTP_AGAIN)
                return;
            if (rc < 0)
                return fail(c, (int)rc);
            record_head(c);
            consume(c, (size_t)rc);
            if (c->req.body == HTTP_BODY_CHUNKED) {
                http_chunked_init(&c->chunked, &c->su->cfg, c->trailers,
                                  c->su->cfg.limit_request_fields);
                c->phase = PH_CHUNKED;
            } else if (c->req.body == HTTP_BODY_LENGTH &&
                       c->req.content_length) {
                c->left = c->req.content_length;
                c->phase = PH_LENGTH;
            } else {
                end_request(c);
            }
            break;
        case PH_LENGTH:
            n = c->have < c->left ? c->have : (size_t)c->left;
            if (n == 0)
                return;
            add_body(c, data(c), n);
            consume(c, n);
            c->left -= n;
            if (c->left == 0)
                end_request(c);
            break;
        case PH_CHUNKED:
            if (c->have == 0)
                return;
            rc = http_chunked_decode(&c->chunked, data(c), c->have, &o, &n);
            if (rc < 0 && rc != HTTP_AGAIN)
                return fail(c, (int)rc);
            add_body(c, data(c), o);
            if (rc == 0) {
                struct got *g = c->cur;
                g->nt = c->chunked.n_trailers;
                g->tname = xmalloc(sizeof(struct bytes) * (g->nt + 1));
                g->tvalue = xmalloc(sizeof(struct bytes) * (g->nt + 1));
                for (size_t i = 0; i < g->nt; i++) {
                    g->tname[i] = dup_upper(data(c), c->trailers[i].name);
                    g->tvalue[i] = dup_span(data(c), c->trailers[i].value);
                }
            }
            consume(c, n);
            if (rc == 0)
                end_request(c);
            else if (n == 0 && o == 0)
                return;
            break;
        default:
            return;
        }
    }
}

static void eof(struct conn *c)
{
    switch (c->phase) {
    case PH_PROXY:
    case PH_HEAD:
        /* EOF before a request (or its PROXY header) is a clean end; inside
         * one it is not */
        if (c->have)
            fail(c, HTTP_E_EOF);
        break;
    case PH_LENGTH:
        break;  /* a short body is delivered short (Gunicorn) */
    case PH_CHUNKED:
        fail(c, http_chunked_eof_error(&c->chunked));
        break;
    default:
        break;
    }
    c->phase = PH_CLOSED;
}

/* Feeds input in pieces ending at the offsets cuts[0..ncuts), then EOF. */
static int replay(const struct setup *su, const char *in, size_t n,
                  const size_t *cuts, size_t ncuts, struct outcome *out)
{
    struct guard_buf g;
    struct conn c;
    size_t from = 0;
    char *region = guard_alloc(&g, NULL, n);

    if (!region) {
        perror("guard_alloc");
        exit(2);
    }
    memset(&c, 0, sizeof(c));
    memset(out, 0, sizeof(*out));
    c.su = su;
    c.end = region + n;
    c.out = out;
    c.headers = xmalloc(sizeof(struct http_header) * su->cfg.limit_request_fields);
    c.trailers = xmalloc(sizeof(struct http_header) * su->cfg.limit_request_fields);
    if (su->proxy != HTTP_PROXY_OFF)
        c.phase = PH_PROXY;
    else
        start_request(&c);
    for (size_t i = 0; i <= ncuts && c.phase != PH_CLOSED; i++) {
        size_t to = i < ncuts ? cuts[i] : n;
        if (to <= from)
            continue;
        append(&c, in + from, to - from);
        from = to;
        pump(&c);
    }
    if (c.phase != PH_CLOSED)
        eof(&c);
    free(c.headers);
    free(c.trailers);
    guard_free(&g);
    return 0;
}

/* ---- expectations ------------------------------------------------------- */

static int b64val(int ch)
{
    const char *a = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    const char *p = ch ? strchr(a, ch) : NULL;
    return p ? (int)(p - a) : -1;
}

static struct bytes b64decode(const char *s, size_t n)
{
    struct bytes b = {xmalloc(n), 0};
    unsigned acc = 0;
    int bits = 0;

    for (size_t i = 0; i < n; i++) {
        int v = b64val(s[i]);
        if (v < 0)
            continue;  /* '=' and line breaks */
        acc = acc << 6 | (unsigned)v;
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            b.p[b.n++] = (char)((acc >> bits) & 0xff);
        }
    }
    return b;
}

static int same(const struct json *j, const struct bytes *b)
{
    return j && j->type == JSON_STRING && j->len == b->n &&
           memcmp(j->str, b->p, b->n) == 0;
}

static int same_fields(const struct json *list, const struct bytes *names,
                       const struct bytes *values, size_t n, char *why,
                       size_t whylen, const char *what)
{
    if (!list || list->type != JSON_ARRAY || list->n != n)
        return why_not(why, whylen, "%s: %zu parsed, %zu expected", what, n,
                       list ? list->n : 0);
    for (size_t i = 0; i < n; i++) {
        const struct json *kv = json_at(list, i);
        if (!same(json_at(kv, 0), &names[i]) ||
            !same(json_at(kv, 1), &values[i]))
            return why_not(why, whylen, "%s %zu: got '%s: %s'", what, i,
                           names[i].p, values[i].p);
    }
    return 1;
}

static int check_valid(const struct json *exp, const struct outcome *o,
                       char *why, size_t whylen)
{
    if (o->error)
        return why_not(why, whylen, "error %s",
                       http_error_info(o->error)->name);
    if (o->n != exp->n)
        return why_not(why, whylen, "%zu requests, %zu expected", o->n, exp->n);
    for (size_t i = 0; i < o->n; i++) {
        const struct json *e = json_at(exp, i), *enc, *body, *ver;
        const struct got *g = &o->req[i];
        struct bytes want;
        int ok_body;
        static const char *const keys[] = {"method", "uri", "path", "query",
                                           "fragment"};
        const struct bytes *vals[] = {&g->method, &g->uri, &g->path,
                                      &g->query, &g->fragment};

        for (size_t k = 0; k < 5; k++)
            if (!same(json_get(e, keys[k]), vals[k]))
                return why_not(why, whylen, "request %zu: %s is '%s'", i,
                               keys[k], vals[k]->p);
        ver = json_get(e, "version");
        if (!ver || !json_at(ver, 1) ||
            (int)json_at(ver, 0)->number != g->major ||
            (int)json_at(ver, 1)->number != g->minor)
            return why_not(why, whylen, "request %zu: version %d.%d", i,
                           g->major, g->minor);
        if (!same_fields(json_get(e, "headers"), g->hname, g->hvalue, g->nh,
                         why, whylen, "header") ||
            !same_fields(json_get(e, "trailers"), g->tname, g->tvalue, g->nt,
                         why, whylen, "trailer"))
            return 0;
        enc = json_get(e, "body_encoding");
        body = json_get(e, "body");
        if (!body || body->type != JSON_STRING)
            return why_not(why, whylen, "request %zu: no body in expectation",
                           i);
        if (enc && enc->type == JSON_STRING && strcmp(enc->str, "base64") == 0)
            want = b64decode(body->str, body->len);
        else
            want = dup_bytes(body->str, body->len);
        ok_body = want.n == g->body.n && memcmp(want.p, g->body.p, want.n) == 0;
        free(want.p);
        if (!ok_body)
            return why_not(why, whylen, "request %zu: body of %zu bytes", i,
                           g->body.n);
    }
    return 1;
}

/* tests/corpus/deviations.json: where cunicorn answers differently from
 * Gunicorn, as rules over the expectations (docs/compat.md, Framing). */
static struct json *deviations;

/* The status cunicorn answers an error with that Gunicorn closes on
 * silently; 0 when it is not one. */
static int answered(const char *name)
{
    const struct json *v = json_get(json_get(deviations, "answered"), name);

    return v && v->type == JSON_NUMBER ? (int)v->number : 0;
}

/* The first request of a valid case that RFC 9112 §3.2 refuses: HTTP/1.1
 * or later without a Host header; exp->n when there is none. */
static size_t first_without_host(const struct json *exp)
{
    for (size_t i = 0; i < exp->n; i++) {
        const struct json *e = json_at(exp, i), *ver = json_get(e, "version");
        const struct json *hs = json_get(e, "headers");
        int host = 0;

        for (size_t k = 0; hs && k < hs->n; k++)
            host |= strcmp(json_at(json_at(hs, k), 0)->str, "HOST") == 0;
        if (!host && ver && json_at(ver, 1) &&
            (json_at(ver, 0)->number > 1 ||
             (json_at(ver, 0)->number == 1 && json_at(ver, 1)->number >= 1)))
            return i;
    }
    return exp->n;
}

/* A valid case parsed with HTTP_REQUIRE_HOST: the requests before the
 * first without Host as Gunicorn has them, then InvalidHeader. */
static int check_valid(const struct json *exp, const struct outcome *o,
                       char *why, size_t whylen);

static int check_host_rule(const struct json *exp, const struct outcome *o,
                           char *why, size_t whylen)
{
    size_t cut = first_without_host(exp);

    if (cut == exp->n)
        return check_valid(exp, o, why, whylen);
    if (o->error != HTTP_E_HEADER || o->n != cut)
        return why_not(why, whylen, "%zu requests then %s; %zu then InvalidHeader expected",
                       o->n, o->error ? http_error_info(o->error)->name : "none", cut);
    return 1;
}

static int check_invalid(const struct json *exp, const struct outcome *o,
                         char *why, size_t whylen)
{
    const struct json *name = json_get(exp, "error");
    const struct json *status = json_get(exp, "status");
    const struct json *sent = json_get(exp, "response_sent");
    const struct http_error_info *info;

    if (!o->error)
        return why_not(why, whylen, "no error (%zu requests)", o->n);
    info = http_error_info(o->error);
    if (!name || strcmp(name->str, info->name) != 0)
        return why_not(why, whylen, "error %s, expected %s", info->name,
                       name ? name->str : "?");
    if (answered(info->name)) {  /* the deviation, not Gunicorn's silence */
        if (!info->respond || info->status != answered(info->name))
            return why_not(why, whylen, "%s: respond=%d status %d", info->name,
                           info->respond, info->status);
        return 1;
    }
    if (sent && sent->boolean != info->respond)
        return why_not(why, whylen, "%s: respond=%d", info->name,
                       info->respond);
    /* 501's reason phrase is ours to fix; the status must match */
    if (info->respond && status && (int)status->number != info->status)
        return why_not(why, whylen, "%s: status %d, expected %d", info->name,
                       info->status, (int)status->number);
    return 1;
}

/* ---- settings overrides ------------------------------------------------- */

static int truthy(const struct json *v)
{
    return v && ((v->type == JSON_BOOL && v->boolean) ||
                 (v->type == JSON_STRING && strcmp(v->str, "off") != 0));
}

static void apply_config(struct setup *su, const struct json *cfg)
{
    int64_t line = 4094, fields = 100, size = 8190;
    const struct json *v;

    http_config_init(&su->cfg);
    su->proxy = HTTP_PROXY_OFF;
    su->trusted = 1;  /* the corpus is parsed as from a trusted peer */
    if (cfg && cfg->type == JSON_OBJECT) {
        if ((v = json_get(cfg, "limit_request_line")))
            line = (int64_t)v->number;
        if ((v = json_get(cfg, "limit_request_fields")))
            fields = (int64_t)v->number;
        if ((v = json_get(cfg, "limit_request_field_size")))
            size = (int64_t)v->number;
        if (truthy(json_get(cfg, "strip_header_spaces")))
            su->cfg.flags |= HTTP_STRIP_HEADER_SPACES;
        if (truthy(json_get(cfg, "permit_unconventional_http_method")))
            su->cfg.flags |= HTTP_PERMIT_UNCONVENTIONAL_METHOD;
        if (truthy(json_get(cfg, "casefold_http_method")))
            su->cfg.flags |= HTTP_CASEFOLD_METHOD;
        if (truthy(json_get(cfg, "permit_obsolete_folding")))
            su->cfg.flags |= HTTP_PERMIT_OBS_FOLD;
        /* the server's rule (config/derive.c), off in Gunicorn's cases */
        if (truthy(json_get(cfg, "require_host")))
            su->cfg.flags |= HTTP_REQUIRE_HOST;
        if (truthy(json_get(cfg, "permit_unconventional_http_version")))
            su->cfg.flags |= HTTP_PERMIT_UNCONVENTIONAL_VERSION;
        if ((v = json_get(cfg, "header_map")) && v->type == JSON_STRING)
            su->cfg.header_map = strcmp(v->str, "dangerous") == 0
                                     ? HTTP_HEADER_MAP_DANGEROUS
                                 : strcmp(v->str, "refuse") == 0
                                     ? HTTP_HEADER_MAP_REFUSE
                                     : HTTP_HEADER_MAP_DROP;
        if ((v = json_get(cfg, "proxy_protocol"))) {
            if (v->type == JSON_STRING && strcmp(v->str, "v1") == 0)
                su->proxy = HTTP_PROXY_V1;
            else if (v->type == JSON_STRING && strcmp(v->str, "v2") == 0)
                su->proxy = HTTP_PROXY_V2;
            else if (truthy(v))
                su->proxy = HTTP_PROXY_AUTO;
        }
    }
    http_config_finish(&su->cfg, line, fields, size);
}

/* ---- one case ----------------------------------------------------------- */

static char *read_file(const char *path, size_t *n)
{
    FILE *f = fopen(path, "rb");
    char *buf;
    long len;

    if (!f)
        return NULL;
    if (fseek(f, 0, SEEK_END) != 0 || (len = ftell(f)) < 0 ||
        fseek(f, 0, SEEK_SET) != 0) {
        (void)fclose(f);  /* only read: its close loses nothing */
        return NULL;
    }
    buf = xmalloc((size_t)len + 1);
    if (fread(buf, 1, (size_t)len, f) != (size_t)len) {
        free(buf);
        (void)fclose(f);
        return NULL;
    }
    (void)fclose(f);
    *n = (size_t)len;
    return buf;
}

typedef int (*checker)(const struct json *, const struct outcome *, char *,
                       size_t);

static void run_case(const char *dir, const char *kind, const char *name)
{
    char path[4096], why[512], err[256];
    size_t n, cut;
    char *in;
    struct json *exp, *cfg = NULL;
    const struct json *cfgv;
    struct setup su;
    struct outcome o;
    checker check = strcmp(kind, "valid") == 0 ? check_valid : check_invalid;
    int good;

    xsnprintf(path, sizeof(path), "%s/%s/%s.http", dir, kind, name);
    in = read_file(path, &n);
    xsnprintf(path, sizeof(path), "%s/%s/%s.json", dir, kind, name);
    exp = json_load(path, err, sizeof(err));
    if (!in || !exp) {
        ok(0, "%s/%s: cannot load (%s)", kind, name, exp ? "http" : err);
        free(in);
        json_free(exp);
        return;
    }
    if (check == check_invalid) {
        cfgv = json_get(exp, "config");
    } else {
        xsnprintf(path, sizeof(path), "%s/%s/%s.config.json", dir, kind, name);
        cfg = json_load(path, err, sizeof(err));
        cfgv = cfg;
    }
    apply_config(&su, cfgv);

    replay(&su, in, n, NULL, 0, &o);
    good = check(exp, &o, why, sizeof(why));
    ok(good, "%s/%s whole%s%s", kind, name, good ? "" : ": ", good ? "" : why);
    free_outcome(&o);
    if (check == check_valid) {  /* the server's Host rule (deviations.json) */
        su.cfg.flags |= HTTP_REQUIRE_HOST;
        replay(&su, in, n, NULL, 0, &o);
        good = check_host_rule(exp, &o, why, sizeof(why));
        ok(good, "%s/%s with Host required%s%s", kind, name, good ? "" : ": ",
           good ? "" : why);
        free_outcome(&o);
        su.cfg.flags &= ~(unsigned)HTTP_REQUIRE_HOST;
    }

    /* two reads, cut at every byte (or a sample for huge inputs) */
    good = 1;
    for (cut = 1; cut < n && good; cut++) {
        if (n > EVERY_SPLIT_MAX && cut > 512 && n - cut > 512 &&
            cut % (n / 512) != 0)
            continue;
        replay(&su, in, n, &cut, 1, &o);
        good = check(exp, &o, why, sizeof(why));
        free_outcome(&o);
    }
    if (good)
        ok(1, "%s/%s split at %s", kind, name,
           n > EVERY_SPLIT_MAX ? "1,536 sampled bytes" : "every byte");
    else
        ok(0, "%s/%s split at byte %zu: %s", kind, name, cut - 1, why);

    /* one byte per read */
    if (n <= EVERY_SPLIT_MAX) {
        size_t *cuts = xmalloc(sizeof(size_t) * n);
        for (size_t i = 0; i < n; i++)
            cuts[i] = i + 1;
        replay(&su, in, n, cuts, n, &o);
        good = check(exp, &o, why, sizeof(why));
        ok(good, "%s/%s byte by byte%s%s", kind, name, good ? "" : ": ",
           good ? "" : why);
        free_outcome(&o);
        free(cuts);
    }
    free(in);
    json_free(exp);
    json_free(cfg);
}

static int by_name(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static size_t run_dir(const char *dir, const char *kind)
{
    char path[4096], **names = NULL;
    size_t n = 0, cap = 0;
    struct dirent *e;
    DIR *d;

    xsnprintf(path, sizeof(path), "%s/%s", dir, kind);
    d = opendir(path);
    if (!d) {
        diag("%s: %s", path, strerror(errno));
        return 0;
    }
    while ((e = readdir(d))) {
        size_t len = strlen(e->d_name);
        if (len < 6 || strcmp(e->d_name + len - 5, ".http") != 0)
            continue;
        if (n == cap) {
            cap = cap ? cap * 2 : 64;
            names = realloc(names, cap * sizeof(*names));
            if (!names) {
                perror("realloc");
                exit(2);
            }
        }
        names[n] = xmalloc(len - 4);
        memcpy(names[n], e->d_name, len - 5);
        names[n][len - 5] = '\0';
        n++;
    }
    (void)closedir(d);  /* read to the end: nothing is lost if it fails */
    if (n)
        qsort(names, n, sizeof(*names), by_name);
    for (size_t i = 0; i < n; i++) {
        run_case(dir, kind, names[i]);
        free(names[i]);
    }
    free(names);
    return n;
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        (void)fprintf(stderr, "usage: %s CORPUS_DIR...\n", argv[0]);
        return 2;
    }
    {
        char path[4096], err[256];
        xsnprintf(path, sizeof(path), "%s/../deviations.json", argv[1]);
        deviations = json_load(path, err, sizeof(err));
        ok(deviations != NULL, "the deviations load%s%s", deviations ? "" : ": ",
           deviations ? "" : err);
    }
    for (int i = 1; i < argc; i++) {
        size_t v = run_dir(argv[i], "valid");
        size_t inv = run_dir(argv[i], "invalid");
        diag("%s: %zu valid and %zu invalid cases", argv[i], v, inv);
        ok(v + inv > 0, "%s has cases", argv[i]);
    }
    json_free(deviations);
    return tap_done();
}
