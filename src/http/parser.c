/*
 * HTTP/1.x request head parser. See parser.h for the contract.
 *
 * The head is taken one CRLF-terminated line at a time. A line is only
 * acted on once its CRLF has arrived; until then the parser remembers how
 * far it looked (p->scan) and whether it saw a control byte on the way.
 * A header line is kept pending until the first byte of the next line shows
 * whether that line continues it (obs-fold), then checked and stored.
 */
#include "parser.h"

#include <arpa/inet.h>
#include <string.h>
#ifdef __SSE2__
#include <emmintrin.h>
#endif

enum { ST_REQUEST_LINE = 0, ST_HEADERS, ST_DONE };

enum { SEEN_HOST = 1, SEEN_CONTENT_TYPE = 2 };

/* Where header lines go: the request's headers or a trailer section's. */
struct fields {
    struct http_header *v;
    uint32_t *n;
    uint32_t max;
};

void http_config_init(struct http_config *cfg)
{
    static const struct http_scheme_header scheme[] = {
        {"X-FORWARDED-PROTOCOL", "ssl", 20, 3},
        {"X-FORWARDED-PROTO", "https", 17, 5},
        {"X-FORWARDED-SSL", "on", 15, 2},
    };
    static const char *const forwarders[] = {"SCRIPT_NAME", "PATH_INFO"};

    memset(cfg, 0, sizeof(*cfg));
    cfg->scheme_headers = scheme;
    cfg->n_scheme_headers = sizeof(scheme) / sizeof(scheme[0]);
    cfg->forwarder_headers = forwarders;
    cfg->n_forwarder_headers = sizeof(forwarders) / sizeof(forwarders[0]);
    http_config_finish(cfg, 4094, 100, 8190);
}

void http_config_finish(struct http_config *cfg, int64_t line, int64_t fields,
                        int64_t field_size)
{
    if (line < 0 || line >= HTTP_MAX_REQUEST_LINE)
        line = HTTP_MAX_REQUEST_LINE;
    if (fields <= 0 || fields > HTTP_MAX_HEADERS)
        fields = HTTP_MAX_HEADERS;
    /* Since Gunicorn 26.0, 0 means the default, not "unlimited". */
    if (field_size <= 0)
        field_size = HTTP_DEFAULT_FIELD_SIZE;
    /* Our cap: a field never reaches the 32-bit span limit. */
    if (field_size > (int64_t)1 << 30)
        field_size = (int64_t)1 << 30;
    cfg->limit_request_line = (uint32_t)line;
    cfg->limit_request_fields = (uint32_t)fields;
    cfg->limit_request_field_size = (uint32_t)field_size;
    cfg->max_head_buffer = (uint64_t)fields * ((uint64_t)field_size + 2) + 4;
    /* Ours: a head never needs more than 1 GiB (spans are 32-bit). */
    if (cfg->max_head_buffer > (uint64_t)1 << 30)
        cfg->max_head_buffer = (uint64_t)1 << 30;
}

void http_parser_init(struct http_parser *p, const struct http_config *cfg,
                      int trusted)
{
    memset(p, 0, sizeof(*p));
    p->cfg = cfg;
    p->trusted = trusted != 0;
}

void http_request_init(struct http_request *r, struct http_header *headers,
                       uint32_t max_headers)
{
    memset(r, 0, sizeof(*r));
    r->headers = headers;
    r->max_headers = max_headers;
}

/* RFC 9110 field values: any control byte but HTAB is refused. */
static inline int is_ctl(unsigned char c)
{
    return (c < 0x20 && c != '\t') || c == 0x7f;
}

static inline unsigned char lower(unsigned char c)
{
    return (c >= 'A' && c <= 'Z') ? (unsigned char)(c | 0x20) : c;
}

static int mem_ieq(const char *a, const char *b, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (lower((unsigned char)a[i]) != lower((unsigned char)b[i]))
            return 0;
    return 1;
}

int http_span_ieq(const char *buf, struct http_span s, const char *lit)
{
    return strlen(lit) == s.len && mem_ieq(buf + s.off, lit, s.len);
}

static struct http_span span(size_t off, size_t len)
{
    struct http_span s = {(uint32_t)off, (uint32_t)len};
    return s;
}

/* Notes what an error was about (http.h, http_error_text) and returns its
 * code: only ever on the way out of an error. */
static int fail(struct http_parser *p, int code, uint8_t what, size_t off,
                size_t len)
{
    p->err.what = what;
    p->err.at = span(off, len);
    p->err.n = p->err.limit = 0;
    p->err.with_req = HTTP_REQ_NONE;
    return code;
}

static int fail_n(struct http_parser *p, int code, uint8_t what, uint64_t n,
                  uint64_t limit)
{
    p->err.what = what;
    p->err.at = span(0, 0);
    p->err.n = (uint32_t)(n > UINT32_MAX ? UINT32_MAX : n);
    p->err.limit = (uint32_t)(limit > UINT32_MAX ? UINT32_MAX : limit);
    p->err.with_req = HTTP_REQ_NONE;
    return code;
}

/* Strips SP and HTAB from both ends of buf[off..off+len). */
static struct http_span trim(const char *buf, size_t off, size_t len)
{
    while (len && (buf[off] == ' ' || buf[off] == '\t'))
        off++, len--;
    while (len && (buf[off + len - 1] == ' ' || buf[off + len - 1] == '\t'))
        len--;
    return span(off, len);
}

static int is_token(const char *s, size_t n)
{
    if (n == 0)
        return 0;
    for (size_t i = 0; i < n; i++)
        if (!http_tchar[(unsigned char)s[i]])
            return 0;
    return 1;
}

/*
 * Skips bytes that can be neither part of a line end nor refused: stops at
 * the first byte below 0x20 (HTAB, CR, LF and the controls) or DEL. Sixteen
 * bytes at a time where SSE2 is there; it never loads past len.
 */
static size_t skip_plain(const char *buf, size_t i, size_t len)
{
#ifdef __SSE2__
    const __m128i low = _mm_set1_epi8(0x1f), del = _mm_set1_epi8(0x7f);

    while (i + 16 <= len) {
        __m128i v = _mm_loadu_si128((const __m128i *)(const void *)(buf + i));
        __m128i ctl = _mm_or_si128(_mm_cmpeq_epi8(_mm_max_epu8(v, low), low),
                                   _mm_cmpeq_epi8(v, del));
        unsigned mask = (unsigned)_mm_movemask_epi8(ctl);
        if (mask)
            return i + (size_t)__builtin_ctz(mask);
        i += 16;
    }
#endif
    while (i < len && (unsigned char)buf[i] >= 0x20 && buf[i] != 0x7f)
        i++;
    return i;
}

/*
 * Looks for the CRLF that ends the line starting at p->pos, from where the
 * previous call stopped. Returns its offset, or -1 with p->scan saved. A
 * CR at the very end of the input is left unexamined: its LF may follow.
 */
static int64_t find_eol(struct http_parser *p, const char *buf, size_t len)
{
    size_t i = (size_t)p->pos + p->scan;

    for (;;) {
        i = skip_plain(buf, i, len);
        if (i >= len)
            break;
        if (buf[i] == '\t') {
            i++;
            continue;
        }
        if (buf[i] == '\r') {
            if (i + 1 >= len)
                break;
            if (buf[i + 1] == '\n')
                return (int64_t)i;
        }
        p->line_ctl = 1;  /* a bare CR, a bare LF, NUL, DEL ... */
        i++;
    }
    p->scan = (uint32_t)(i - p->pos);
    return -1;
}

static enum http_hdr_id classify(const char *s, size_t n)
{
    switch (n) {
    case 2:
        return mem_ieq(s, "TE", 2) ? HTTP_HDR_TE : HTTP_HDR_OTHER;
    case 4:
        return mem_ieq(s, "HOST", 4) ? HTTP_HDR_HOST : HTTP_HDR_OTHER;
    case 6:
        return mem_ieq(s, "EXPECT", 6) ? HTTP_HDR_EXPECT : HTTP_HDR_OTHER;
    case 7:
        if (mem_ieq(s, "TRAILER", 7))
            return HTTP_HDR_TRAILER;
        return mem_ieq(s, "UPGRADE", 7) ? HTTP_HDR_UPGRADE : HTTP_HDR_OTHER;
    case 10:
        return mem_ieq(s, "CONNECTION", 10) ? HTTP_HDR_CONNECTION
                                             : HTTP_HDR_OTHER;
    case 12:
        return mem_ieq(s, "CONTENT-TYPE", 12) ? HTTP_HDR_CONTENT_TYPE
                                               : HTTP_HDR_OTHER;
    case 13:
        return mem_ieq(s, "AUTHORIZATION", 13) ? HTTP_HDR_AUTHORIZATION
                                                : HTTP_HDR_OTHER;
    case 14:
        return mem_ieq(s, "CONTENT-LENGTH", 14) ? HTTP_HDR_CONTENT_LENGTH
                                                 : HTTP_HDR_OTHER;
    case 17:
        return mem_ieq(s, "TRANSFER-ENCODING", 17) ? HTTP_HDR_TRANSFER_ENCODING
                                                    : HTTP_HDR_OTHER;
    default:
        return HTTP_HDR_OTHER;
    }
}

/* Fields RFC 9110 §6.5.1 says must not be sent in a trailer section. */
static int forbidden_in_trailer(uint8_t id)
{
    switch (id) {
    case HTTP_HDR_HOST:
    case HTTP_HDR_CONTENT_LENGTH:
    case HTTP_HDR_TRANSFER_ENCODING:
    case HTTP_HDR_TRAILER:
    case HTTP_HDR_AUTHORIZATION:
    case HTTP_HDR_TE:
        return 1;
    default:
        return 0;
    }
}

/* ---- request-target ----------------------------------------------------- */

static int is_scheme_char(unsigned char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
           (c >= '0' && c <= '9') || c == '+' || c == '-' || c == '.';
}

static int is_hex(unsigned char c)
{
    return (c >= '0' && c <= '9') || (lower(c) >= 'a' && lower(c) <= 'f');
}

/* urlsplit() checks a bracketed host: an IPv6 address or "vX.future". */
static int bracketed_host_ok(const char *s, size_t n)
{
    char tmp[64];
    const char *pct;

    if (n && s[0] == 'v') {
        size_t i = 1;
        while (i < n && is_hex((unsigned char)s[i]))
            i++;
        return i > 1 && i + 1 < n && s[i] == '.';
    }
    pct = memchr(s, '%', n);  /* a zone id: fe80::1%eth0 */
    if (pct) {
        size_t zone = n - (size_t)(pct - s) - 1;
        if (zone == 0 || memchr(pct + 1, '%', zone))
            return 0;
        n = (size_t)(pct - s);
    }
    if (n >= sizeof(tmp))
        return 0;
    memcpy(tmp, s, n);
    tmp[n] = '\0';
    {
        struct in6_addr a6;
        return inet_pton(AF_INET6, tmp, &a6) == 1;
    }
}

int http_split_target(const char *buf, struct http_span target,
                      struct http_span *path, struct http_span *query,
                      struct http_span *fragment)
{
    const char *s = buf + target.off;
    size_t n = target.len, i = 0, end;
    const char *colon, *hash, *q;

    if (!(n >= 2 && s[0] == '/' && s[1] == '/')) {
        /* scheme ":" when the target starts with ALPHA *(scheme chars) ":" */
        colon = memchr(s, ':', n);
        if (colon && colon > s && lower((unsigned char)s[0]) >= 'a' &&
            lower((unsigned char)s[0]) <= 'z') {
            size_t c = (size_t)(colon - s), k;
            for (k = 0; k < c && is_scheme_char((unsigned char)s[k]); k++)
                ;
            if (k == c)
                i = c + 1;
        }
        /* "//" authority up to the first of / ? # */
        if (n - i >= 2 && s[i] == '/' && s[i + 1] == '/') {
            size_t a = i + 2, b = a;
            const char *lb, *rb;
            while (b < n && s[b] != '/' && s[b] != '?' && s[b] != '#')
                b++;
            lb = memchr(s + a, '[', b - a);
            rb = memchr(s + a, ']', b - a);
            if ((lb == NULL) != (rb == NULL))
                return HTTP_E_REQUEST_LINE;
            if (lb) {
                const char *close = memchr(lb + 1, ']', (size_t)(s + b - lb - 1));
                size_t hl = close ? (size_t)(close - lb - 1)
                                  : (size_t)(s + b - lb - 1);
                if (!bracketed_host_ok(lb + 1, hl))
                    return HTTP_E_REQUEST_LINE;
            }
            i = b;
        }
    }
    end = n;
    hash = memchr(s + i, '#', n - i);
    if (hash) {
        end = (size_t)(hash - s);
        *fragment = span(target.off + end + 1, n - end - 1);
    } else {
        *fragment = span(target.off + n, 0);
    }
    q = memchr(s + i, '?', end - i);
    if (q) {
        size_t qo = (size_t)(q - s);
        *query = span(target.off + qo + 1, end - qo - 1);
        end = qo;
    } else {
        *query = span(target.off + end, 0);
    }
    *path = span(target.off + i, end - i);
    return 0;
}

/* ---- Host ---------------------------------------------------------------- */

/* RFC 3986 reg-name: unreserved, pct-encoded, sub-delims. */
static int reg_name_ok(const char *s, size_t n)
{
    static const char other[] = "-._~!$&'()*+,;=";

    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c == '%') {
            if (i + 2 >= n || !is_hex((unsigned char)s[i + 1]) ||
                !is_hex((unsigned char)s[i + 2]))
                return 0;
            i += 2;
        } else if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
                     (c >= '0' && c <= '9') || (c && strchr(other, c)))) {
            return 0;
        }
    }
    return 1;
}

/*
 * RFC 9112 §3.2 and RFC 3986 §3.2.2: Host = uri-host [ ":" port ], where
 * uri-host is an IP literal in brackets, or a reg-name (an IPv4 address is
 * one); port = *DIGIT. An empty value is allowed (a target without an
 * authority).
 */
static int host_ok(const char *s, size_t n)
{
    size_t h = n;

    if (n && s[0] == '[') {
        const char *rb = memchr(s, ']', n);
        if (!rb || !bracketed_host_ok(s + 1, (size_t)(rb - s) - 1))
            return 0;
        h = (size_t)(rb - s) + 1;
        if (h < n && s[h] != ':')
            return 0;
    } else {
        const char *colon = memchr(s, ':', n);
        h = colon ? (size_t)(colon - s) : n;
        if (!reg_name_ok(s, h))
            return 0;
    }
    for (size_t i = h + 1; i < n; i++)
        if (s[i] < '0' || s[i] > '9')
            return 0;
    return 1;
}

/* ---- request line ------------------------------------------------------- */

static int parse_method(const struct http_config *cfg, char *m, size_t n)
{
    if (!(cfg->flags & HTTP_PERMIT_UNCONVENTIONAL_METHOD)) {
        for (size_t i = 0; i < n; i++)
            if ((m[i] >= 'a' && m[i] <= 'z') || m[i] == '#')
                return HTTP_E_METHOD;
        if (n < 3 || n > 20)
            return HTTP_E_METHOD;
    }
    if (!is_token(m, n))
        return HTTP_E_METHOD;
    if (cfg->flags & HTTP_CASEFOLD_METHOD)
        for (size_t i = 0; i < n; i++)
            if (m[i] >= 'a' && m[i] <= 'z')
                m[i] = (char)(m[i] - 'a' + 'A');
    return 0;
}

static int parse_target(struct http_request *r, const char *buf)
{
    const char *t = buf + r->target.off, *m = buf + r->method.off;
    size_t n = r->target.len;

    if (n == 0)
        return HTTP_E_REQUEST_LINE;
    /* Ours: Gunicorn lets controls through to urlsplit(), which deletes
     * some of them; a target with a control byte in it is refused. */
    for (size_t i = 0; i < n; i++)
        if (is_ctl((unsigned char)t[i]) || t[i] == '\t')
            return HTTP_E_REQUEST_LINE;
    if (n == 1 && t[0] == '*') {
        if (!(r->method.len == 7 && memcmp(m, "OPTIONS", 7) == 0))
            return HTTP_E_REQUEST_LINE;
    } else if (!(r->method.len == 7 && memcmp(m, "CONNECT", 7) == 0)) {
        /* origin-form or absolute-form; authority-form is CONNECT's */
        if (t[0] != '/' && !memmem(t, n, "://", 3))
            return HTTP_E_REQUEST_LINE;
    }
    return http_split_target(buf, r->target, &r->path, &r->query,
                             &r->fragment);
}

static int parse_request_line(struct http_parser *p, struct http_request *r,
                              char *buf, size_t off, size_t n)
{
    const struct http_config *cfg = p->cfg;
    char *s = buf + off, *sp1, *sp2;
    const char *v;
    size_t vn;
    int rc;

    if (cfg->limit_request_line && n > cfg->limit_request_line)
        return fail_n(p, HTTP_E_LINE_TOO_LONG, HTTP_W_LINE_SIZE, n,
                      cfg->limit_request_line);
    /* exactly: method SP target SP version */
    sp1 = memchr(s, ' ', n);
    if (!sp1)
        return fail(p, HTTP_E_REQUEST_LINE, HTTP_W_LINE, off, n);
    sp2 = memchr(sp1 + 1, ' ', (size_t)(s + n - sp1 - 1));
    if (!sp2)
        return fail(p, HTTP_E_REQUEST_LINE, HTTP_W_LINE, off, n);
    r->method = span(off, (size_t)(sp1 - s));
    r->target = span(off + (size_t)(sp1 - s) + 1, (size_t)(sp2 - sp1 - 1));
    v = sp2 + 1;
    vn = (size_t)(s + n - v);

    rc = parse_method(cfg, s, r->method.len);
    if (rc)
        return fail(p, rc, HTTP_W_METHOD, r->method.off, r->method.len);
    rc = parse_target(r, buf);
    if (rc)
        return fail(p, rc, HTTP_W_LINE, off, n);
    if (vn != 8 || memcmp(v, "HTTP/", 5) != 0 || v[5] < '0' || v[5] > '9' ||
        v[6] != '.' || v[7] < '0' || v[7] > '9')
        return fail(p, HTTP_E_VERSION, HTTP_W_VERSION, (size_t)(v - buf), vn);
    r->major = (uint8_t)(v[5] - '0');
    r->minor = (uint8_t)(v[7] - '0');
    if (r->major != 1 && !(cfg->flags & HTTP_PERMIT_UNCONVENTIONAL_VERSION))
        return fail_n(p, HTTP_E_VERSION, HTTP_W_VERSION_NUM, r->major, r->minor);
    return 0;
}

/* ---- header lines ------------------------------------------------------- */

/* HTTP/1.1 or later (0.x only reaches here with the unconventional flag) */
static int at_least_11(const struct http_request *r)
{
    return r->major > 1 || (r->major == 1 && r->minor >= 1);
}

static int name_in(const char *buf, struct http_span name,
                   const char *const *list, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (strcmp(list[i], "*") == 0 || http_span_ieq(buf, name, list[i]))
            return 1;
    return 0;
}

/* A second Host or Content-Type: Gunicorn raises it with the request
 * attached, its headers not yet its request's. */
static int singleton(struct http_parser *p, const struct http_header *h)
{
    int rc = fail(p, HTTP_E_HEADER, HTTP_W_HEADER_NAME, h->name.off, h->name.len);

    p->err.with_req = HTTP_REQ_LINE;
    return rc;
}

/* The request-level rules for one complete header (never for trailers). */
static int header_policy(struct http_parser *p, struct http_request *r,
                         const char *buf, const struct http_header *h)
{
    const struct http_config *cfg = p->cfg;

    switch (h->id) {
    case HTTP_HDR_HOST:
        /* RFC 9112 §3.2: one Host, and a valid one (ours: Gunicorn takes
         * any value, and logs the request, so a bad one is logged too) */
        if ((p->seen & SEEN_HOST) || !host_ok(buf + h->value.off, h->value.len))
            return singleton(p, h);
        p->seen |= SEEN_HOST;
        break;
    case HTTP_HDR_CONTENT_TYPE:
        if (p->seen & SEEN_CONTENT_TYPE)
            return singleton(p, h);
        p->seen |= SEEN_CONTENT_TYPE;
        break;
    case HTTP_HDR_EXPECT:
        if (!http_span_ieq(buf, h->value, "100-continue"))
            return fail(p, HTTP_E_EXPECT, HTTP_W_EXPECT, h->value.off, h->value.len);
        /* RFC 9110 §10.1.1: an HTTP/1.0 client cannot expect it */
        if (at_least_11(r))
            r->flags |= HTTP_REQ_EXPECT_CONTINUE;
        break;
    default:
        break;
    }
    if (p->trusted) {
        for (size_t i = 0; i < cfg->n_scheme_headers; i++) {
            const struct http_scheme_header *sh = &cfg->scheme_headers[i];
            unsigned https;
            if (sh->name_len != h->name.len ||
                !mem_ieq(buf + h->name.off, sh->name, sh->name_len))
                continue;
            https = sh->value_len == h->value.len &&
                    memcmp(buf + h->value.off, sh->value, h->value.len) == 0;
            if ((r->flags & HTTP_REQ_SCHEME_SET) &&
                !!(r->flags & HTTP_REQ_HTTPS) != https)
                return fail(p, HTTP_E_SCHEME_HEADERS, HTTP_W_SCHEME, 0, 0);
            r->flags |= HTTP_REQ_SCHEME_SET | (https ? HTTP_REQ_HTTPS : 0);
        }
    }
    return 0;
}

/* Checks the pending header now that it is complete, and stores it. */
static int finish_header(struct http_parser *p, struct http_request *r,
                         const char *buf, struct fields *f)
{
    const struct http_config *cfg = p->cfg;
    struct http_header *h = &p->pend;
    int rc;

    if (!p->pending)
        return 0;
    p->pending = 0;
    if (p->pending_ctl)
        return fail(p, HTTP_E_HEADER, HTTP_W_HEADER_NAME, h->name.off, h->name.len);
    if (p->pending_len > cfg->limit_request_field_size)
        return fail(p, HTTP_E_HEADERS_TOO_LARGE, HTTP_W_FIELD_SIZE, 0, 0);
    if (r) {
        rc = header_policy(p, r, buf, h);
        if (rc)
            return rc;
    }
    /* '-' and '_' both become '_' in environ keys (CVE-2015-0219) */
    if (memchr(buf + h->name.off, '_', h->name.len) &&
        !(p->trusted && name_in(buf, h->name, cfg->forwarder_headers,
                                cfg->n_forwarder_headers))) {
        switch (cfg->header_map) {
        case HTTP_HEADER_MAP_DANGEROUS:
            break;
        case HTTP_HEADER_MAP_DROP:
            return 0;
        default:
            return fail(p, HTTP_E_HEADER_NAME, HTTP_W_REFUSED_NAME, h->name.off,
                        h->name.len);
        }
    }
    if (f->v)  /* trailers may be checked without being kept */
        f->v[*f->n] = *h;
    (*f->n)++;
    return 0;
}

/* Starts a header from a line that is not a continuation. */
static int begin_header(struct http_parser *p, const char *buf,
                        struct fields *f, size_t off, size_t n)
{
    const struct http_config *cfg = p->cfg;
    const char *s = buf + off, *colon;
    size_t nl;

    if (*f->n >= f->max)
        return fail(p, HTTP_E_HEADERS_TOO_LARGE, HTTP_W_FIELDS, 0, 0);
    colon = memchr(s, ':', n);
    if (!colon || colon == s)
        return fail(p, HTTP_E_HEADER, HTTP_W_HEADER_LINE, off, n);
    nl = (size_t)(colon - s);
    if (cfg->flags & HTTP_STRIP_HEADER_SPACES)
        while (nl && (s[nl - 1] == ' ' || s[nl - 1] == '\t'))
            nl--;
    if (!is_token(s, nl))
        return fail(p, HTTP_E_HEADER_NAME, HTTP_W_BAD_NAME, off, nl);
    p->pend.name = span(off, nl);
    p->pend.id = (uint8_t)classify(s, nl);
    if (p->trailers && forbidden_in_trailer(p->pend.id))
        return fail(p, HTTP_E_HEADER_NAME, HTTP_W_REFUSED_NAME, off, nl);
    p->pend.value = trim(buf, off + (size_t)(colon - s) + 1,
                         n - (size_t)(colon - s) - 1);
    p->pending = 1;
    p->pending_ctl = p->line_ctl;
    p->pending_len = (uint32_t)(n + 2);
    return 0;
}

/* An obs-fold continuation: joined to the pending value with one SP. */
static int fold_header(struct http_parser *p, char *buf, size_t off, size_t n)
{
    struct http_span part;
    size_t dst;

    if (!(p->cfg->flags & HTTP_PERMIT_OBS_FOLD))
        return fail(p, HTTP_E_OBS_FOLD, HTTP_W_FOLD, p->pend.name.off, p->pend.name.len);
    if ((uint64_t)p->pending_len + n + 2 > p->cfg->limit_request_field_size)
        return fail(p, HTTP_E_HEADERS_TOO_LARGE, HTTP_W_FIELD_SIZE, 0, 0);
    p->pending_len += (uint32_t)(n + 2);
    part = trim(buf, off, n);
    dst = (size_t)p->pend.value.off + p->pend.value.len;
    buf[dst] = ' ';
    memmove(buf + dst + 1, buf + part.off, part.len);
    p->pend.value.len += 1 + part.len;
    p->pending_ctl |= p->line_ctl;
    return 0;
}

/* One complete header line: 1 at the empty line that ends the block. */
static int header_line(struct http_parser *p, struct http_request *r,
                       char *buf, struct fields *f, size_t off, size_t n)
{
    int rc;

    if (n == 0) {
        rc = finish_header(p, r, buf, f);
        return rc ? rc : 1;
    }
    if (p->pending && (buf[off] == ' ' || buf[off] == '\t'))
        return fold_header(p, buf, off, n);
    rc = finish_header(p, r, buf, f);
    if (rc)
        return rc;
    return begin_header(p, buf, f, off, n);
}

/* ---- body framing ------------------------------------------------------- */

/*
 * One Transfer-Encoding header: a comma list of codings (RFC 9112 §6.1).
 * Each element, without the spaces and tabs around it, must be a token:
 * an empty element or anything else is malformed (InvalidHeader, 400);
 * a token that names no coding this server decodes is
 * UnsupportedTransferCoding (501). Ours: RFC 9110 §5.6.1 lets a recipient
 * skip empty list elements; here they are refused, since a proxy that
 * reads the list differently frames the body differently.
 */
static int transfer_codings(struct http_request *r, const char *buf,
                            struct http_span v, int *chunked)
{
    size_t i = v.off, end = (size_t)v.off + v.len;

    for (;;) {
        const char *comma = memchr(buf + i, ',', end - i);
        size_t stop = comma ? (size_t)(comma - buf) : end;
        struct http_span c = trim(buf, i, stop - i);

        if (!is_token(buf + c.off, c.len))
            return HTTP_E_HEADER;
        if (http_span_ieq(buf, c, "chunked")) {
            if (*chunked)
                return HTTP_E_HEADER;  /* stacked chunking */
            *chunked = 1;
        } else if (http_span_ieq(buf, c, "identity")) {
            if (*chunked)
                return HTTP_E_HEADER;
        } else if (http_span_ieq(buf, c, "gzip") ||
                   http_span_ieq(buf, c, "deflate") ||
                   http_span_ieq(buf, c, "compress")) {
            if (*chunked)
                return HTTP_E_HEADER;  /* chunked must be last */
            r->flags |= HTTP_REQ_MUST_CLOSE;
        } else {
            return HTTP_E_TRANSFER_CODING;
        }
        if (!comma)
            return 0;
        i = stop + 1;
    }
}

static int parse_length(const char *s, size_t n, uint64_t *out)
{
    uint64_t v = 0;

    if (n == 0)
        return HTTP_E_HEADER;
    for (size_t i = 0; i < n; i++) {
        uint64_t d = (uint64_t)(s[i] - '0');
        if (s[i] < '0' || s[i] > '9')
            return HTTP_E_HEADER;
        /* Ours: a length of 2^62 or more is refused rather than wrapped. */
        if (v > (HTTP_MAX_CONTENT_LENGTH - d) / 10)
            return HTTP_E_HEADER;
        v = v * 10 + d;
    }
    *out = v;
    return 0;
}

static int body_framing(struct http_parser *p, struct http_request *r,
                        const char *buf)
{
    const struct http_header *cl = NULL, *conn = NULL;
    int chunked = 0, te = 0, keep, rc;

    for (uint32_t i = 0; i < r->n_headers; i++) {
        const struct http_header *h = &r->headers[i];
        if (h->id == HTTP_HDR_CONNECTION && !conn) {
            conn = h;  /* only the first Connection header decides */
        } else if (h->id == HTTP_HDR_CONTENT_LENGTH) {
            if (cl)
                return fail(p, HTTP_E_HEADER, HTTP_W_CONTENT_LENGTH, 0, 0);
            cl = h;
        } else if (h->id == HTTP_HDR_TRANSFER_ENCODING) {
            te = 1;
            rc = transfer_codings(r, buf, h->value, &chunked);
            if (rc == HTTP_E_TRANSFER_CODING)  /* the whole value, as Gunicorn */
                return fail(p, rc, HTTP_W_CODING, h->value.off, h->value.len);
            if (rc)
                return fail(p, rc, HTTP_W_TRANSFER_ENCODING, 0, 0);
        }
    }
    if (chunked) {
        /* RFC 9112 §6.1: chunked on 1.0 or beside a length cannot be trusted */
        if (!at_least_11(r))
            return fail(p, HTTP_E_HEADER, HTTP_W_TRANSFER_ENCODING, 0, 0);
        if (cl)
            return fail(p, HTTP_E_HEADER, HTTP_W_CONTENT_LENGTH, 0, 0);
        r->body = HTTP_BODY_CHUNKED;
    } else if (cl) {
        rc = parse_length(buf + cl->value.off, cl->value.len,
                          &r->content_length);
        if (rc)
            return fail(p, rc, HTTP_W_CONTENT_LENGTH, 0, 0);
        r->body = HTTP_BODY_LENGTH;
        /* Ours: RFC 9112 §6.3 wants a 400 when chunked is not the final
         * coding; Gunicorn frames by the length. A proxy that honours the
         * coding would see a different body, so the connection ends here. */
        if (te)
            r->flags |= HTTP_REQ_MUST_CLOSE;
    } else {
        r->body = HTTP_BODY_NONE;
    }
    /* RFC 9112 §3.2: an HTTP/1.1 request without Host is refused (after
     * the framing's own errors, so a 501 stays a 501) */
    if ((p->cfg->flags & HTTP_REQUIRE_HOST) && at_least_11(r) && !(p->seen & SEEN_HOST))
        return fail(p, HTTP_E_HEADER, HTTP_W_HOST, 0, 0);
    keep = at_least_11(r);
    if (conn && http_span_ieq(buf, conn->value, "close"))
        keep = 0;
    else if (conn && http_span_ieq(buf, conn->value, "keep-alive"))
        keep = 1;
    if (keep && !(r->flags & HTTP_REQ_MUST_CLOSE))
        r->flags |= HTTP_REQ_KEEP_ALIVE;
    return 0;
}

/* ---- the loop ----------------------------------------------------------- */

static int r_first_ok(char ch)
{
    unsigned char c = (unsigned char)ch;

    return c == '\r' || (c >= 0x20 && c < 0x7f);
}

/* No CRLF yet: is what is buffered already too much? */
static int64_t partial(struct http_parser *p, size_t len)
{
    const struct http_config *cfg = p->cfg;

    if (p->state == ST_REQUEST_LINE) {
        /* Gunicorn reports the bytes it holds: len, not the line */
        if (cfg->limit_request_line && len > (size_t)cfg->limit_request_line + 2)
            return fail_n(p, HTTP_E_LINE_TOO_LONG, HTTP_W_LINE_SIZE, len,
                          cfg->limit_request_line);
        /* Ours: "unlimited" still stops at the head buffer's size. */
        if (!cfg->limit_request_line && len > cfg->max_head_buffer)
            return fail_n(p, HTTP_E_LINE_TOO_LONG, HTTP_W_LINE_SIZE, len,
                          cfg->max_head_buffer);
    } else if (len - p->head_start > cfg->max_head_buffer) {
        return fail(p, HTTP_E_HEADERS_TOO_LARGE, HTTP_W_BUFFER, 0, 0);
    }
    return HTTP_AGAIN;
}

static int64_t run(struct http_parser *p, struct http_request *r, char *buf,
                   size_t len, struct fields *f)
{
    if (len > UINT32_MAX)
        len = UINT32_MAX;
    if (p->state == ST_DONE)
        return HTTP_E_HEADER;  /* misuse: parser not reset */
    /* Ours: a request line that starts with a control byte (but CR) or a
     * byte from 0x80 up (a TLS ClientHello starts 0x16 0x03, an SSLv2 one
     * 0x80) cannot become a method: refused at its first byte, not when
     * a CRLF that may never come arrives */
    if (p->state == ST_REQUEST_LINE && p->pos < len && !r_first_ok(buf[p->pos]))
        return fail(p, HTTP_E_METHOD, HTTP_W_METHOD, p->pos, 1);
    for (;;) {
        int64_t eol = find_eol(p, buf, len);
        size_t off = p->pos, n;
        int rc;

        if (eol < 0)
            return partial(p, len);
        n = (size_t)eol - off;
        /* the same limits as partial(), so a head is judged alike
         * however its bytes were cut into reads */
        if (p->state == ST_REQUEST_LINE && !p->cfg->limit_request_line &&
            n + 2 > p->cfg->max_head_buffer)
            return fail_n(p, HTTP_E_LINE_TOO_LONG, HTTP_W_LINE_SIZE, n,
                          p->cfg->max_head_buffer);
        if (p->state == ST_HEADERS &&
            (uint64_t)eol + 2 - p->head_start > p->cfg->max_head_buffer)
            return fail(p, HTTP_E_HEADERS_TOO_LARGE, HTTP_W_BUFFER, 0, 0);
        if (p->state == ST_REQUEST_LINE) {
            rc = parse_request_line(p, r, buf, off, n);
            if (rc)
                return rc;
            p->state = ST_HEADERS;
            p->head_start = (uint32_t)eol + 2;
        } else {
            rc = header_line(p, r, buf, f, off, n);
            if (rc < 0)
                return rc;
            if (rc == 1) {
                p->state = ST_DONE;
                return eol + 2;
            }
        }
        p->pos = (uint32_t)eol + 2;
        p->scan = 0;
        p->line_ctl = 0;
    }
}

int64_t http_parse_head(struct http_parser *p, struct http_request *r,
                        char *buf, size_t len)
{
    struct fields f = {r->headers, &r->n_headers, r->max_headers};
    int64_t rc;

    if (f.max > p->cfg->limit_request_fields)
        f.max = p->cfg->limit_request_fields;
    p->trailers = 0;
    rc = run(p, r, buf, len, &f);
    if (rc > 0) {
        int e = body_framing(p, r, buf);

        if (e) {
            /* Gunicorn raises its framing errors with the request
             * attached (not UnsupportedTransferCoding) */
            if (e == HTTP_E_HEADER)
                p->err.with_req = HTTP_REQ_HEAD;
            return e;
        }
    }
    return rc;
}

int64_t http_parse_trailers(struct http_parser *p, struct http_header *out,
                            uint32_t max, uint32_t *n, char *buf, size_t len)
{
    struct fields f = {out, n, max};

    if (f.max > p->cfg->limit_request_fields)
        f.max = p->cfg->limit_request_fields;
    p->trailers = 1;
    p->state = p->state == ST_REQUEST_LINE ? ST_HEADERS : p->state;
    return run(p, NULL, buf, len, &f);
}
