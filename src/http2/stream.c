/*
 * One HTTP/2 stream (docs/compat.md, HTTP/2): its request made from its
 * HEADERS as an HTTP/1 head and parsed by the HTTP/1 parser (so the same
 * header rules, limits and environ hold), its body handed to the app as
 * it reads (chunked framing made up when no content-length came, so the
 * trailers reach the chunked body's trailer rules), and its response: the
 * bridge writes HTTP/1 bytes to the stream's connection (its vt), which
 * become HEADERS (the status, the fields without the connection-specific
 * ones) and DATA (the body, unchunked).
 */
#include "http2/internal.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/clock.h"
#include "core/log.h"
#include "http/http.h"

enum { R_HEAD, R_BODY };
enum { DC_SIZE, DC_DATA, DC_CRLF, DC_END, DC_DONE };

/* ---- buffers ---------------------------------------------------------------- */

/* Appends p[0..n) to *buf (len, cap). 0, or -1 (ENOMEM). */
int h2_append(char **buf, size_t *len, size_t *cap, const void *p, size_t n)
{
    if (n == 0)
        return 0;
    if (*len + n > *cap) {
        size_t c = *cap ? *cap : 256;
        char *q;
        while (c < *len + n)
            c *= 2;
        if (!(q = realloc(*buf, c)))
            return -1;
        *buf = q;
        *cap = c;
    }
    memcpy(*buf + *len, p, n);
    *len += n;
    return 0;
}

struct h2_stream *h2_stream_new(struct h2_session *s, int32_t id)
{
    struct h2_stream *st = calloc(1, sizeof(*st));

    if (!st)
        return NULL;
    st->s = s;
    st->id = id;
    st->refs = 1;  /* nghttp2's, until on_stream_close */
    st->resp_cl = -1;
    st->pri_weight = 16;  /* RFC 9113 5.3.5's default, Gunicorn's */
    st->snext = s->streams;
    if (s->streams)
        s->streams->sprev = st;
    s->streams = st;
    return st;
}

void h2_stream_unref(struct h2_stream *st)
{
    struct h2_session *s = st->s;

    if (--st->refs > 0)
        return;
    if (st->sprev)
        st->sprev->snext = st->snext;
    else
        s->streams = st->snext;
    if (st->snext)
        st->snext->sprev = st->sprev;
    for (int i = 0; i < 4; i++)
        free(st->pseudo[i]);
    free(st->cookie);
    free(st->trailers);
    free(st->head);
    free(st->hdrs);
    free(st->in);
    free(st->fr_owned);
    free(st->rhead);
    free(st->out);
    free(st->rtrailers);
    free(st->sc.buf);
    free(st);
}

/* Three digits of a status (100..999) and a NUL. */
static void status_text(char code[4], int status)
{
    unsigned v = (unsigned)status % 1000;

    code[0] = (char)('0' + v / 100);
    code[1] = (char)('0' + v / 10 % 10);
    code[2] = (char)('0' + v % 10);
    code[3] = '\0';
}

/* Resets st's stream with code (s->m held). When even that cannot be
 * queued (nghttp2 is out of memory), the connection goes instead: the
 * stream must not stay open with nobody to end it. */
static void reset(struct h2_stream *st, uint32_t code)
{
    if (nghttp2_submit_rst_stream(st->s->ng, NGHTTP2_FLAG_NONE, st->id, code) != 0)
        h2_kill(st->s);
}

/* ---- the request ---------------------------------------------------------------- */

/* Appends "name: value\r\n". -1: no memory. */
static int add_field(char **buf, size_t *len, size_t *cap, const uint8_t *name,
                     size_t nlen, const uint8_t *value, size_t vlen)
{
    return h2_append(buf, len, cap, name, nlen) < 0 ||
                   h2_append(buf, len, cap, ": ", 2) < 0 ||
                   h2_append(buf, len, cap, value, vlen) < 0 ||
                   h2_append(buf, len, cap, "\r\n", 2) < 0
               ? -1 : 0;
}

/* A pseudo-header of the request (nghttp2 checked which may come). */
static int pseudo_header(struct h2_stream *st, const uint8_t *name, size_t nlen,
                         const uint8_t *value, size_t vlen)
{
    static const char *const names[4] = {":method", ":path", ":authority", ":scheme"};

    for (int i = 0; i < 4; i++)
        if (!st->in_headers_done && strlen(names[i]) == nlen &&
            memcmp(names[i], name, nlen) == 0 && !st->pseudo[i]) {
            st->pseudo[i] = strndup((const char *)value, vlen);
            return st->pseudo[i] ? 0 : NGHTTP2_ERR_TEMPORAL_CALLBACK_FAILURE;
        }
    return 0;  /* :protocol, or a trailer's (nghttp2 refused those) */
}

int h2_stream_header(struct h2_stream *st, const uint8_t *name, size_t nlen,
                     const uint8_t *value, size_t vlen)
{
    uint32_t max = st->s->h->host.env->h2.max_header_list;
    int rc;

    /* RFC 9113 6.5.2's size: an HPACK bomb stops here, not in memory */
    st->hsize += nlen + vlen + 32;
    if ((max && st->hsize > max) || st->hsize > H2_HEAD_MAX)
        st->bad = 431;
    if (st->bad)
        return 0;
    if (nlen > 0 && name[0] == ':')
        return pseudo_header(st, name, nlen, value, vlen);
    if (st->in_headers_done)  /* trailers */
        rc = add_field(&st->trailers, &st->trailers_len, &st->trailers_cap, name, nlen,
                       value, vlen);
    else if (nlen == 6 && memcmp(name, "cookie", 6) == 0)  /* RFC 9113 8.2.3 */
        rc = (st->cookie_len && h2_append(&st->cookie, &st->cookie_len, &st->cookie_cap,
                                            "; ", 2) < 0) ||
                     h2_append(&st->cookie, &st->cookie_len, &st->cookie_cap, value, vlen) < 0
                 ? -1 : 0;
    else if (nlen == 4 && memcmp(name, "host", 4) == 0 && st->pseudo[2])
        rc = 0;  /* :authority wins over host (RFC 9113 8.3.1) */
    else if ((rc = add_field(&st->head, &st->head_len, &st->head_cap, name, nlen, value,
                             vlen)) == 0)
        st->nfields++;
    return rc < 0 ? NGHTTP2_ERR_TEMPORAL_CALLBACK_FAILURE : 0;
}

/* Copies the string t to w; the end of the copy (its NUL is written
 * over by what follows: the head's room ends with its CRLF). */
static char *put(char *w, const char *t)
{
    return stpcpy(w, t);
}

/* The head as HTTP/1 text: "METHOD TARGET HTTP/2.0", Host from
 * :authority, the fields, the cookie; into st->sc.buf. -1: no memory. */
static int make_head(struct h2_stream *st)
{
    const char *method = st->pseudo[0] ? st->pseudo[0] : "";
    /* CONNECT has no :path: its target is the authority */
    const char *target = st->pseudo[1] ? st->pseudo[1] : st->pseudo[2] ? st->pseudo[2] : "";
    size_t len = strlen(method) + strlen(target) + 16 +
                 (st->pseudo[2] ? strlen(st->pseudo[2]) + 8 : 0) + st->head_len +
                 (st->cookie ? st->cookie_len + 10 : 0) + 2;
    /* a body is read after the head, a frame's worth a read */
    size_t room = st->in_end ? 0 : H2_BODY_ROOM;
    char *p = malloc(len + room), *w;

    if (!p)
        return -1;
    w = p;
    w = put(put(put(put(w, method), " "), target), " HTTP/2.0\r\n");
    if (st->pseudo[2])
        w = put(put(put(w, "Host: "), st->pseudo[2]), "\r\n");
    if (st->head_len)
        memcpy(w, st->head, st->head_len);
    w += st->head_len;
    if (st->cookie) {
        memcpy(w, "Cookie: ", 8);
        memcpy(w + 8, st->cookie, st->cookie_len);
        w += 8 + st->cookie_len;
        *w++ = '\r';
        *w++ = '\n';
    }
    *w++ = '\r';
    *w++ = '\n';
    st->sc.buf = p;
    st->sc.cap = len + room;
    st->sc.start = st->sc.end = st->sc.keep = (size_t)(w - p);
    return 0;
}

/* The stream's connection for the bridge: the session's peer and socket
 * (for gunicorn.socket), reads and writes through the stream. */
static void stream_conn(struct h2_stream *st)
{
    const struct cu_conn *c = &st->s->c;
    struct cu_conn *sc = &st->sc;

    sc->fd = c->fd;
    sc->peer = c->peer;
    sc->peerlen = c->peerlen;
    sc->has_proxy = c->has_proxy;  /* sent before TLS, or before the h2c preface */
    sc->proxy = c->proxy;
    sc->listener = c->listener;
    sc->tls = c->tls;  /* for the app's peer certificate; no I/O */
    sc->vt = &h2_stream_vt;
    sc->vt_arg = st;
    sc->timeout_ms = st->s->h->host.timeout_ms;
    /* the deadlines against slow clients, as on HTTP/1 (stream_recv,
     * stream_writev: docs/operations.md) */
    sc->body_ms = c->body_ms;
    sc->body_min_rate = c->body_min_rate;
    sc->send_timeout_ms = c->send_timeout_ms;
    /* the app's gunicorn.socket and REMOTE_ADDR strings, kept on the
     * session between streams (one stream has them at a time) */
    sc->keeps_objects = 1;
    sc->pysock = c->pysock;
    sc->pyaddr = c->pyaddr;
    sc->pyport = c->pyport;
    st->s->c.pysock = st->s->c.pyaddr = st->s->c.pyport = NULL;
}

/* After the app (s->m held): the stream's Python objects back to the
 * session when it has none; 1 when they are left to free. */
static int objects_back(struct h2_stream *st)
{
    struct cu_conn *c = &st->s->c, *sc = &st->sc;

    if (!c->pysock && !c->pyaddr && !st->s->dead) {
        c->pysock = sc->pysock;
        c->pyaddr = sc->pyaddr;
        c->pyport = sc->pyport;
        sc->pysock = sc->pyaddr = sc->pyport = NULL;
    }
    return sc->pysock || sc->pyaddr;
}

void h2_stream_refuse(struct h2_stream *st, int status)
{
    char code[4];
    nghttp2_nv nv = {(uint8_t *)":status", (uint8_t *)code, 7, 3, NGHTTP2_NV_FLAG_NONE};

    status_text(code, status);
    st->out_end = 1;
    if (nghttp2_submit_response(st->s->ng, st->id, &nv, 1, NULL) != 0)
        reset(st, NGHTTP2_INTERNAL_ERROR);
}

/* Parses the head made of st's HEADERS with the HTTP/1 parser. 0, or an
 * HTTP_E_* code (the request is refused as HTTP/1 refuses it). */
static int parse_head(struct h2_stream *st)
{
    const struct cu_h2 *h = st->s->h;
    uint32_t max = h->http.limit_request_fields;
    struct http_parser p;
    int64_t rc;

    /* room for the fields that came, Host and Cookie: the limit holds
     * only when more came */
    if (st->nfields < max - 2 && max > 2)
        max = st->nfields + 2;
    if (!(st->hdrs = malloc(sizeof(*st->hdrs) * max)))
        return HTTP_E_EOF;
    http_parser_init(&p, &h->http, st->s->trusted);
    http_request_init(&st->r, st->hdrs, max);
    rc = http_parse_head(&p, &st->r, st->sc.buf, st->sc.end);
    if (rc < 0) {
        if (rc != HTTP_AGAIN) {
            st->sc.start = 0;
            cu_request_refused(&st->sc, &p, (int)rc);
        }
        return rc == HTTP_AGAIN ? HTTP_E_EOF : (int)rc;
    }
    return 0;
}

int h2_stream_request(struct h2_stream *st, int end_stream)
{
    int code;

    st->in_headers_done = 1;
    st->in_end = end_stream;
    if (!st->bad && make_head(st) < 0)
        st->bad = 500;
    free(st->head);
    st->head = NULL;
    st->head_len = 0;
    if (st->bad) {
        h2_stream_refuse(st, st->bad);
        return -1;
    }
    stream_conn(st);
    if ((code = parse_head(st)) != 0) {
        const struct http_error_info *e = http_error_info(code);
        if (e->respond)
            h2_stream_refuse(st, e->status);
        else
            reset(st, NGHTTP2_PROTOCOL_ERROR);
        st->out_end = 1;
        return -1;
    }
    if (end_stream)
        st->r.body = HTTP_BODY_NONE;
    else if (st->r.body != HTTP_BODY_LENGTH)
        st->r.body = HTTP_BODY_CHUNKED;  /* made up by the reads below */
    st->chunked = st->r.body == HTTP_BODY_CHUNKED;
    st->r.flags &= ~(unsigned)HTTP_REQ_MUST_CLOSE;
    st->is_head = http_span_ieq(st->sc.buf, st->r.method, "HEAD");
    cu_body_init(&st->body, &st->r, st->s->h->host.env->http);
    h2_dispatch(st);
    return 0;
}

void h2_stream_data(struct h2_stream *st, const uint8_t *data, size_t len)
{
    if (st->in_off == st->in_len)
        st->in_off = st->in_len = 0;
    if (h2_append(&st->in, &st->in_len, &st->in_cap, data, len) < 0) {
        (void)nghttp2_session_consume(st->s->ng, st->id, len);  /* its window back */
        reset(st, NGHTTP2_INTERNAL_ERROR);
    }
}

/* ---- the body, as the app reads it -------------------------------------------- */

static int readable(void *arg)
{
    const struct h2_stream *st = arg;

    return st->in_off < st->in_len || st->in_end || st->closed || st->aborted ||
           st->fr_off < st->fr_len;
}

/* Framing to give out next (a chunk's size line or end, the last chunk
 * with the trailers). -1: no memory. */
static int frame(struct h2_stream *st, const char *text, size_t n, int with_trailers)
{
    st->fr_off = 0;
    if (!with_trailers) {
        memcpy(st->frbuf, text, n);
        st->fr = st->frbuf;
        st->fr_len = n;
        return 0;
    }
    free(st->fr_owned);
    if (!(st->fr_owned = malloc(st->trailers_len + 5)))
        return -1;
    memcpy(st->fr_owned, "0\r\n", 3);
    memcpy(st->fr_owned + 3, st->trailers, st->trailers_len);
    memcpy(st->fr_owned + 3 + st->trailers_len, "\r\n", 2);
    st->fr = st->fr_owned;
    st->fr_len = st->trailers_len + 5;
    return 0;
}

/* What the body gives out next, into p[0..n) (s->m held): framing, or
 * data (its window given back). 0 at the end, or -1 when it must wait. */
static ssize_t give(struct h2_stream *st, char *p, size_t n)
{
    for (;;) {
        size_t avail = st->in_len - st->in_off, k;
        if (st->fr_off < st->fr_len) {
            k = st->fr_len - st->fr_off < n ? st->fr_len - st->fr_off : n;
            memcpy(p, st->fr + st->fr_off, k);
            st->fr_off += k;
            return (ssize_t)k;
        }
        if (avail && (!st->chunked || st->data_left)) {
            k = avail < n ? avail : n;
            if (st->chunked && st->data_left < k)
                k = st->data_left;
            memcpy(p, st->in + st->in_off, k);
            st->in_off += k;
            if (!st->closed)
                (void)nghttp2_session_consume(st->s->ng, st->id, k);
            if (st->chunked && (st->data_left -= k) == 0)
                (void)frame(st, "\r\n", 2, 0);
            return (ssize_t)k;
        }
        if (avail) {  /* chunked: a new chunk of what is here */
            char line[24];
            int len = snprintf(line, sizeof(line), "%zx\r\n", avail);
            st->data_left = avail;
            (void)frame(st, line, (size_t)len, 0);
            continue;
        }
        if (!st->in_end)
            return -1;
        if (!st->chunked || st->terminated)
            return 0;
        st->terminated = 1;
        if (frame(st, "0\r\n\r\n", 5, st->trailers_len > 0) < 0)
            return -1;
    }
}

/* Loop mode's read: what is there, else EAGAIN (the end too: the body's
 * framing says where it ends), ECONNRESET once the stream is gone. */
static ssize_t loop_recv(struct h2_stream *st, void *p, size_t n)
{
    struct h2_session *s = st->s;
    ssize_t k;

    pthread_mutex_lock(&s->m);
    k = st->aborted ? -1 : give(st, p, n);
    if (k > 0)
        h2_loop_flush(s);  /* the window updates go out */
    else {
        errno = st->aborted ? ECONNABORTED
                : st->closed || s->dead ? ECONNRESET : EAGAIN;
        k = -1;
    }
    pthread_mutex_unlock(&s->m);
    return k;
}

static ssize_t stream_recv(void *arg, void *p, size_t n)
{
    struct h2_stream *st = arg;
    struct h2_session *s = st->s;
    long long deadline = cu_now_ms() + s->h->host.timeout_ms;
    ssize_t k;

    if (H2_LOOP(s->h))
        return loop_recv(st, p, n);
    /* the body's deadline (cu_body_wait sets it around this read) */
    if (st->sc.deadline_ms > 0 && st->sc.deadline_ms < deadline)
        deadline = st->sc.deadline_ms;

    pthread_mutex_lock(&s->m);
    for (;;) {
        if (st->aborted) {
            errno = ECONNABORTED;
            k = -1;
            break;
        }
        k = give(st, p, n);
        if (k >= 0)
            break;
        if (st->closed) {  /* reset by the peer, mid-body */
            errno = ECONNRESET;
            break;
        }
        if (h2_wait(s, readable, st, deadline) < 0)
            break;
    }
    if (k > 0) {  /* the window updates go out */
        (void)h2_pump(s);
        h2_after_pump(s);
    }
    pthread_mutex_unlock(&s->m);
    return k;
}

/* ---- the response, from the bridge's HTTP/1 bytes --------------------------------- */

/* Connection-specific fields, which HTTP/2 forbids (RFC 9113 8.2.2). */
static int hop_by_hop(const char *n, size_t len)
{
    static const char *const names[] = {"connection", "keep-alive", "proxy-connection",
                                        "transfer-encoding", "upgrade"};

    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
        if (strlen(names[i]) == len && memcmp(names[i], n, len) == 0)
            return 1;
    return 0;
}

/* The fields of the response head p[0..end) (after its status line, before
 * the empty line) into nv[1..): names lowercased in place, the
 * connection-specific ones left out, the framing noted. The count with
 * :status, or -1 when a line is not a field. */
static int head_fields(struct h2_stream *st, char *p, const char *end, nghttp2_nv *nv)
{
    int n = 1;

    for (char *eol; p < end; p = eol + 2) {
        char *colon = memchr(p, ':', (size_t)(end - p)), *v;
        eol = memchr(p, '\r', (size_t)(end - p + 2));
        if (!colon || !eol || colon > eol)
            return -1;
        for (char *c = p; c < colon; c++)
            if (*c >= 'A' && *c <= 'Z')
                *c = (char)(*c + 32);
        v = colon + 1;
        while (v < eol && *v == ' ')
            v++;
        if ((size_t)(colon - p) == 17 && memcmp(p, "transfer-encoding", 17) == 0)
            st->resp_chunked = 1;  /* ours: the bridge chunks without a length */
        if ((size_t)(colon - p) == 14 && memcmp(p, "content-length", 14) == 0)
            st->resp_cl = strtoll(v, NULL, 10);
        if (hop_by_hop(p, (size_t)(colon - p)))
            continue;
        nv[n++] = (nghttp2_nv){(uint8_t *)p, (uint8_t *)v, (size_t)(colon - p),
                               (size_t)(eol - v), NGHTTP2_NV_FLAG_NONE};
    }
    return n;
}

/* The response head in st->rhead[0..len) ("HTTP/2.0 200 OK\r\n", fields,
 * an empty line) as HEADERS: interim (1xx) ones at once, the final one
 * with the stream's body as its data source. 0, or -1. */
static int submit_head(struct h2_stream *st, size_t len)
{
    char *p = st->rhead, *end = st->rhead + len - 2;
    nghttp2_nv few[64], *nv = few;
    size_t lines = 0;
    int n, status, rc;
    char code[4];
    nghttp2_data_provider dp = {.source = {.ptr = st}, .read_callback = h2_stream_read};

    /* "HTTP/2.0 200 ...": three digits at 9 (the bridge wrote them) */
    if (len < 14 || p[9] < '1' || p[9] > '9' || p[10] < '0' || p[10] > '9' ||
        p[11] < '0' || p[11] > '9')
        return -1;
    status = (p[9] - '0') * 100 + (p[10] - '0') * 10 + (p[11] - '0');
    status_text(code, status);
    for (const char *c = p; (c = memchr(c, '\n', (size_t)(end - c))); c++)
        lines++;  /* the status line and each field: room for :status too */
    if (lines > sizeof(few) / sizeof(few[0]) && !(nv = malloc(lines * sizeof(*nv))))
        return -1;
    nv[0] = (nghttp2_nv){(uint8_t *)":status", (uint8_t *)code, 7, 3, NGHTTP2_NV_FLAG_NONE};
    p = (char *)memchr(p, '\n', len) + 1;  /* the head ends in CRLF CRLF */
    if ((n = head_fields(st, p, end, nv)) < 0)
        rc = -1;
    else if (status < 200) {
        st->resp_chunked = 0;
        st->resp_cl = -1;
        rc = nghttp2_submit_headers(st->s->ng, NGHTTP2_FLAG_NONE, st->id, NULL, nv,
                                    (size_t)n, NULL);
    } else {
        st->status = status;
        st->resp_state = R_BODY;
        st->submitted = 1;
        rc = nghttp2_submit_response(st->s->ng, st->id, nv, (size_t)n, &dp);
    }
    if (nv != few)
        free(nv);
    return rc == 0 ? 0 : -1;
}

/* Body bytes for DATA (unchunked already). -1: no memory. */
static int body_bytes(struct h2_stream *st, const char *p, size_t n)
{
    if (n == 0)
        return 0;
    if (st->out_off == st->out_len)
        st->out_off = st->out_len = 0;
    st->resp_bytes += n;
    if (h2_append(&st->out, &st->out_len, &st->out_cap, p, n) < 0)
        return -1;
    if (st->deferred) {
        st->deferred = 0;
        (void)nghttp2_session_resume_data(st->s->ng, st->id);
    }
    return 0;
}

/* The bridge's chunked body, unchunked: sizes are hex, then CRLF, the
 * data, CRLF; "0\r\n\r\n" ends it (the bridge never sends trailers). */
static int unchunk(struct h2_stream *st, const char *p, size_t n)
{
    while (n > 0) {
        size_t k;
        switch (st->dc_state) {
        case DC_SIZE:
            if (*p == '\n')
                st->dc_state = st->dc_left ? DC_DATA : DC_END;
            else if (*p != '\r')
                st->dc_left = st->dc_left * 16 +
                              (size_t)(*p <= '9' ? *p - '0' : (*p | 32) - 'a' + 10);
            p++;
            n--;
            break;
        case DC_DATA:
            k = n < st->dc_left ? n : st->dc_left;
            if (body_bytes(st, p, k) < 0)
                return -1;
            p += k;
            n -= k;
            if ((st->dc_left -= k) == 0) {
                st->dc_state = DC_CRLF;
                st->dc_left = 2;
            }
            break;
        case DC_CRLF:
            p++;
            n--;
            if (--st->dc_left == 0)
                st->dc_state = DC_SIZE;
            break;
        case DC_END:
            if (*p == '\n')
                st->dc_state = DC_DONE;
            p++;
            n--;
            break;
        default:  /* DC_DONE: nothing more comes */
            return 0;
        }
    }
    return 0;
}

/* Takes n of the bridge's bytes (s->m held). 0, or -1. */
static int feed(struct h2_stream *st, const char *p, size_t n)
{
    while (n > 0 && st->resp_state == R_HEAD) {
        size_t from = st->rhead_len > 3 ? st->rhead_len - 3 : 0, end;
        char *t;
        if (st->rhead_len + n > H2_HEAD_MAX ||
            h2_append(&st->rhead, &st->rhead_len, &st->rhead_cap, p, n) < 0)
            return -1;
        t = memmem(st->rhead + from, st->rhead_len - from, "\r\n\r\n", 4);
        if (!t)
            return 0;
        end = (size_t)(t - st->rhead) + 4;
        if (submit_head(st, end) < 0)
            return -1;
        /* what came after the head: the body (or the next head) */
        p = p + n - (st->rhead_len - end);
        n = st->rhead_len - end;
        st->rhead_len = 0;
    }
    if (n == 0)
        return 0;
    return st->resp_chunked ? unchunk(st, p, n) : body_bytes(st, p, n);
}

static int drained(void *arg)
{
    const struct h2_stream *st = arg;

    return st->out_len - st->out_off < H2_OUT_HIGH || st->closed || st->aborted;
}

/* Loop mode's write: takes it all while the stream's buffer is under
 * H2_OUT_HIGH, else EAGAIN (the writer queues it and waits for the
 * stream's CU_H2_WRITABLE); ECONNRESET once the stream is gone. */
static ssize_t loop_writev(struct h2_stream *st, const struct iovec *iov, int n)
{
    struct h2_session *s = st->s;
    size_t total = 0;
    int rc = 0;

    pthread_mutex_lock(&s->m);
    if (st->closed || st->aborted || s->dead) {
        errno = ECONNRESET;
        rc = -1;
    } else if (st->out_len - st->out_off >= H2_OUT_HIGH) {
        errno = EAGAIN;
        rc = -1;
    }
    for (int i = 0; i < n && rc == 0; i++) {
        rc = feed(st, iov[i].iov_base, iov[i].iov_len);
        total += iov[i].iov_len;
        if (rc < 0)
            errno = ENOMEM;  /* or a response head past H2_HEAD_MAX */
    }
    if (rc == 0)
        h2_loop_flush(s);
    pthread_mutex_unlock(&s->m);
    return rc < 0 ? -1 : (ssize_t)total;
}

static ssize_t stream_writev(void *arg, const struct iovec *iov, int n)
{
    struct h2_stream *st = arg;
    struct h2_session *s = st->s;
    size_t total = 0;
    int rc = 0;

    if (H2_LOOP(s->h))
        return loop_writev(st, iov, n);
    pthread_mutex_lock(&s->m);
    for (int i = 0; i < n && rc == 0; i++) {
        rc = feed(st, iov[i].iov_base, iov[i].iov_len);
        total += iov[i].iov_len;
    }
    if (rc == 0 && !st->closed && !st->aborted && !s->dead) {
        /* a whole response goes out with its end (h2_stream_run) */
        if (!st->sc.whole || st->out_len - st->out_off >= H2_OUT_HIGH) {
            (void)h2_pump(s);
            h2_after_pump(s);
        }
        /* --send-timeout for a client that takes none of it, when
         * shorter than --timeout, as on HTTP/1 (conn.c's wait_for) */
        int ms = st->sc.send_timeout_ms > 0 && st->sc.send_timeout_ms < st->sc.timeout_ms
                     ? st->sc.send_timeout_ms
                     : st->sc.timeout_ms;
        rc = h2_wait(s, drained, st, cu_now_ms() + ms);
    } else if (rc == 0) {
        errno = ECONNRESET;
        rc = -1;
    }
    if (rc == 0 && (st->closed || st->aborted)) {
        errno = ECONNRESET;
        rc = -1;
    }
    pthread_mutex_unlock(&s->m);
    return rc < 0 ? -1 : (ssize_t)total;
}

static void stream_abort(void *arg)
{
    struct h2_stream *st = arg;
    struct h2_session *s = st->s;

    pthread_mutex_lock(&s->m);
    st->aborted = 1;
    if (!st->closed && !s->dead) {
        reset(st, NGHTTP2_CANCEL);
        if (H2_LOOP(s->h))
            h2_loop_flush(s);
        else {
            (void)h2_pump(s);
            h2_after_pump(s);
        }
    }
    pthread_cond_broadcast(&s->cv);
    pthread_mutex_unlock(&s->m);
}

const struct cu_conn_vt h2_stream_vt = {stream_recv, stream_writev, stream_abort};

/* ---- the response's trailers, the request's priority --------------------------- */

/* The app's trailers (st->rtrailers) as a HEADERS with END_STREAM, from
 * the data source's end (s->m held). 0, or -1. */
static int submit_trailers(struct h2_stream *st)
{
    nghttp2_nv few[32], *nv = few;
    size_t lines = 0;
    int n, rc;

    for (const char *c = st->rtrailers;
         (c = memchr(c, '\n', st->rtrailers_len - (size_t)(c - st->rtrailers))); c++)
        lines++;
    if (lines + 1 > sizeof(few) / sizeof(few[0]) && !(nv = malloc((lines + 1) * sizeof(*nv))))
        return -1;
    /* the lines were checked (cu_h2_stream_trailers); nv[0] unused */
    n = head_fields(st, st->rtrailers, st->rtrailers + st->rtrailers_len - 2, nv);
    rc = n > 1 ? nghttp2_submit_trailer(st->s->ng, st->id, nv + 1, (size_t)n - 1) : -1;
    if (nv != few)
        free(nv);
    return rc == 0 ? 0 : -1;
}

/* Whether f[0..len) is "name: value\r\n" lines, each a field that may
 * be a trailer. */
static int trailers_ok(const char *f, size_t len)
{
    const char *end = f + len;

    if (len == 0)
        return 1;
    if (len < 2 || memcmp(end - 2, "\r\n", 2) != 0)
        return 0;
    for (const char *p = f, *eol; p < end; p = eol + 2) {
        const char *colon = memchr(p, ':', (size_t)(end - p)), *v;
        eol = memchr(p, '\r', (size_t)(end - p));
        if (!colon || !eol || colon > eol || eol[1] != '\n')
            return 0;
        v = colon + 1;
        while (v < eol && *v == ' ')
            v++;
        if (http_field_bad(p, (size_t)(colon - p), v, (size_t)(eol - v)) ||
            http_trailer_forbidden(p, (size_t)(colon - p)))
            return 0;
    }
    return 1;
}

struct h2_stream *cu_h2_stream_of(const struct cu_conn *c)
{
    return c->vt == &h2_stream_vt ? c->vt_arg : NULL;
}

void cu_h2_stream_priority(struct h2_stream *st, int *weight, int32_t *depends_on)
{
    /* no lock: set from the request's HEADERS, before its job was queued
     * (the queue's lock orders it), never after */
    *weight = st->pri_weight;
    *depends_on = st->pri_depends_on;
}

void h2_stream_priority(struct h2_stream *st, const nghttp2_priority_spec *pri)
{
    /* nghttp2 gives the weight as RFC 9113 means it: 1 to 256 */
    st->pri_weight = pri->weight < 1 ? 1 : pri->weight > 256 ? 256 : pri->weight;
    st->pri_depends_on = pri->stream_id;
}

int cu_h2_stream_trailers(struct h2_stream *st, const char *f, size_t len)
{
    struct h2_session *s = st->s;
    int rc = 0;

    if (!trailers_ok(f, len)) {
        errno = EINVAL;
        return -1;
    }
    pthread_mutex_lock(&s->m);
    if (st->out_end) {
        errno = EPIPE;
        rc = -1;
    } else if (st->closed || st->aborted || s->dead) {
        rc = 0;  /* the stream is gone: nothing more goes out */
    } else if (st->rtrailers_len + len > H2_HEAD_MAX) {
        errno = E2BIG;
        rc = -1;
    } else if (h2_append(&st->rtrailers, &st->rtrailers_len, &st->rtrailers_cap, f, len) < 0) {
        errno = ENOMEM;
        rc = -1;
    }
    pthread_mutex_unlock(&s->m);
    return rc;
}

ssize_t h2_stream_read(nghttp2_session *ng, int32_t id, uint8_t *buf, size_t len,
                       uint32_t *flags, nghttp2_data_source *src, void *user)
{
    struct h2_stream *st = src->ptr;
    size_t k = st->out_len - st->out_off;

    (void)ng;
    (void)id;
    (void)user;
    if (k > len)
        k = len;
    if (k)  /* out may be NULL: nothing written yet */
        memcpy(buf, st->out + st->out_off, k);
    st->out_off += k;
    if (st->out_off == st->out_len && st->out_end) {
        *flags |= NGHTTP2_DATA_FLAG_EOF;
        if (st->rtrailers_len) {  /* the trailers' HEADERS end the stream */
            if (submit_trailers(st) < 0)
                return NGHTTP2_ERR_TEMPORAL_CALLBACK_FAILURE;  /* reset */
            *flags |= NGHTTP2_DATA_FLAG_NO_END_STREAM;
        }
    } else if (k == 0) {
        st->deferred = 1;
        return NGHTTP2_ERR_DEFERRED;
    }
    return (ssize_t)k;
}

void h2_stream_sent_end(struct h2_stream *st)
{
    if (!st->in_end && !st->closed)
        reset(st, NGHTTP2_NO_ERROR);
}

/* ---- the job ------------------------------------------------------------------- */

/* Whether the bridge gave the whole response: else it failed part-way
 * (the app raised after its head, the client left) and the stream is
 * reset rather than ended as if complete. */
static int complete(const struct h2_stream *st)
{
    int no_body = st->is_head || st->status == 204 || st->status == 304;

    if (!st->submitted)
        return 0;
    if (st->resp_chunked)
        return st->dc_state == DC_DONE;
    return no_body || st->resp_cl < 0 || st->resp_bytes >= (uint64_t)st->resp_cl;
}

void h2_stream_over(struct h2_stream *st, int ok)
{
    struct h2_session *s = st->s;
    int ka = s->h->host.env->keepalive;

    st->out_end = 1;
    st->up = NULL;
    if (!st->closed && !s->dead) {
        if (!ok || !complete(st))
            reset(st, NGHTTP2_INTERNAL_ERROR);
        else if (st->deferred) {
            st->deferred = 0;
            (void)nghttp2_session_resume_data(s->ng, st->id);
        }
        if (H2_LOOP(s->h))
            h2_loop_flush(s);
        else {
            if (s->running > 1)
                s->flush = 1;  /* with the others' frames, by the write watcher */
            else
                (void)h2_pump(s);
            h2_after_pump(s);
        }
    }
    s->running--;
    s->deadline = cu_now_ms() + (ka > 0 ? ka * 1000LL : 1000);
    h2_stream_unref(st);
}

void h2_stream_run(struct h2_stream *st, void *thread)
{
    struct h2_session *s = st->s;
    struct cu_request q = {.conn = &st->sc, .http = &st->r, .head_off = 0,
                           .body = &st->body};
    int rc = -1, skip;

    pthread_mutex_lock(&s->m);
    skip = st->closed || s->dead;
    pthread_mutex_unlock(&s->m);
    if (!skip)
        rc = s->h->host.serve(s->h->host.arg, thread, &q);
    pthread_mutex_lock(&s->m);
    if (objects_back(st)) {  /* freed with the GIL: not under the lock */
        struct cu_worker_env *env = s->h->host.env;
        pthread_mutex_unlock(&s->m);
        if (env->conn_free)
            env->conn_free(env->app, &st->sc);
        pthread_mutex_lock(&s->m);
    }
    h2_stream_over(st, rc == 0);
    h2_unref(s);
}

/* ---- the loop mode (the asgi worker) -------------------------------------------- */

void cu_h2_stream_take(struct h2_stream *st, void *up, struct cu_conn *c,
                       struct http_request *r, struct http_header **hdrs, int *trusted)
{
    pthread_mutex_lock(&st->s->m);
    memcpy(c, &st->sc, sizeof(*c));
    memset(&st->sc, 0, sizeof(st->sc));
    st->sc.fd = -1;
    c->timeout_ms = 0;  /* never wait: the loop does */
    c->keeps_objects = 0;
    *r = st->r;
    *hdrs = st->hdrs;
    st->hdrs = NULL;
    *trusted = st->s->trusted;
    st->up = up;
    pthread_mutex_unlock(&st->s->m);
}

void cu_h2_stream_want(struct h2_stream *st, int what, int on)
{
    if (what == 'r')
        st->want_r = on;
    else
        st->want_w = on;
}

void cu_h2_stream_end(struct h2_stream *st, struct cu_conn *c, int ok)
{
    struct h2_session *s = st->s;

    cu_conn_unqueue(c);
    free(c->buf);
    memset(c, 0, sizeof(*c));
    c->fd = -1;
    pthread_mutex_lock(&s->m);
    h2_stream_over(st, ok);
    h2_unref(s);
}

int h2_stream_due(struct h2_stream *st)
{
    int gone = st->closed || st->aborted || st->s->dead, what = 0;

    if (!st->up)
        return 0;
    if (st->want_r && (gone || st->in_off < st->in_len || st->fr_off < st->fr_len ||
                       (st->in_end && !st->terminated && st->chunked)))
        what |= CU_H2_READABLE;
    if (st->want_w && (gone || st->out_len - st->out_off < H2_OUT_HIGH))
        what |= CU_H2_WRITABLE;
    if (gone && !what && !st->told_reset)
        what = CU_H2_RESET;
    if (gone)
        st->told_reset = 1;
    return what;
}
