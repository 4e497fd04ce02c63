/*
 * start_response's status and headers, checked and encoded as Gunicorn
 * does into the response's header block (struct resp): the status text,
 * then "Name: value\r\n" for each header the app gave.
 */
#include "wsgi/internal.h"

#include <string.h>
#include <strings.h>

/* A first size that Python's small-object allocator serves (up to 512
 * bytes), not malloc: most responses' status and headers fit in it. */
#define APPEND_FIRST 512

int cu_pymem_append(char **buf, size_t *len, size_t *cap, const char *s, size_t n)
{
    if (*len + n > *cap) {
        size_t want = *cap ? *cap * 2 : APPEND_FIRST;
        char *q;
        while (want < *len + n)
            want *= 2;
        q = PyMem_Realloc(*buf, want);
        if (!q) {
            PyErr_NoMemory();
            return -1;
        }
        *buf = q;
        *cap = want;
    }
    memcpy(*buf + *len, s, n);
    *len += n;
    return 0;
}

int cu_resp_block_add(struct resp *p, const char *s, size_t n)
{
    return cu_pymem_append(&p->block, &p->blen, &p->bcap, s, n);
}

/*
 * The latin-1 bytes of a str, in place: a str whose characters are all
 * below 256 is stored one byte per character. NULL with a TypeError for a
 * non-str; NULL without an exception for text beyond latin-1.
 */
const char *cu_latin1_bytes(PyObject *s, Py_ssize_t *n)
{
    if (!PyUnicode_Check(s)) {
        PyErr_Format(PyExc_TypeError, "header names and values must be str, not %.50s",
                     Py_TYPE(s)->tp_name);
        return NULL;
    }
#if PY_VERSION_HEX < 0x030C0000
    if (PyUnicode_READY(s) < 0)
        return NULL;
#endif
    if (PyUnicode_KIND(s) != PyUnicode_1BYTE_KIND)
        return NULL;
    *n = PyUnicode_GET_LENGTH(s);
    return (const char *)PyUnicode_1BYTE_DATA(s);
}

static int hop_by_hop(const char *n, Py_ssize_t len)
{
    static const char *const names[] = {
        "connection", "keep-alive", "proxy-authenticate", "proxy-authorization",
        "te", "trailers", "transfer-encoding", "upgrade", "server", "date"};

    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
        if ((size_t)len == strlen(names[i]) && strncasecmp(n, names[i], (size_t)len) == 0)
            return 1;
    return 0;
}

static int ieq(const char *s, Py_ssize_t n, const char *lower)
{
    return (size_t)n == strlen(lower) && strncasecmp(s, lower, (size_t)n) == 0;
}

/* Raises exc with Gunicorn's text: its InvalidHeader and InvalidHeaderName
 * are given the repr of the header, and show the repr of what they got. */
static int header_error(PyObject *exc, const char *what, PyObject *o)
{
    PyObject *r = PyObject_Repr(o);

    if (r) {
        PyErr_Format(exc, "%s: %R", what, r);
        Py_DECREF(r);
    }
    return -1;
}

/*
 * Checks and encodes one (name, value) pair into the header block, as Gunicorn
 * does (docs/compat.md, Responses): the name a token (else InvalidHeaderName),
 * the value SP, HTAB, 0x21-0x7E and 0x80-0xFF only (else InvalidHeader: a CR
 * or LF from the app never reaches the wire), then trimmed of SP and HTAB.
 * Hop-by-hop names are dropped, except that "Connection: upgrade" makes the
 * server's own Connection header say upgrade, and "Upgrade: websocket" is
 * kept.
 */
int cu_resp_add_header(struct resp *p, PyObject *item)
{
    PyObject *pn, *pv;
    const char *name, *value;
    Py_ssize_t nl = 0, vl = 0;

    if (!PyTuple_Check(item) || PyTuple_GET_SIZE(item) != 2) {
        PyErr_SetString(PyExc_TypeError, "each header must be a (name, value) tuple");
        return -1;
    }
    pn = PyTuple_GET_ITEM(item, 0);  /* borrowed */
    pv = PyTuple_GET_ITEM(item, 1);
    if (!(name = cu_latin1_bytes(pn, &nl)) && PyErr_Occurred())
        return -1;
    for (Py_ssize_t i = 0; name && i < nl; i++)
        if (!http_tchar[(unsigned char)name[i]])
            name = NULL;
    if (!name || nl == 0)
        return header_error(p->types->invalid_header_name, "Invalid HTTP header name", pn);
    if (!(value = cu_latin1_bytes(pv, &vl)) && PyErr_Occurred())
        return -1;
    for (Py_ssize_t i = 0; value && i < vl; i++) {
        unsigned char ch = (unsigned char)value[i];
        if ((ch < 0x20 && ch != '\t') || ch == 0x7f)
            value = NULL;
    }
    if (!value)
        return header_error(p->types->invalid_header, "Invalid HTTP Header", pv);
    while (vl && (value[0] == ' ' || value[0] == '\t'))
        value++, vl--;
    while (vl && (value[vl - 1] == ' ' || value[vl - 1] == '\t'))
        vl--;
    if (hop_by_hop(name, nl)) {
        if (ieq(name, nl, "connection") && ieq(value, vl, "upgrade"))
            p->upgrade = 1;
        if (!ieq(name, nl, "upgrade") || !ieq(value, vl, "websocket"))
            return 0;
    } else if (ieq(name, nl, "content-length")) {
        int64_t v = 0;
        if (vl == 0 || vl > 18) {
            PyErr_Format(PyExc_ValueError, "invalid Content-Length %R", pv);
            return -1;
        }
        for (Py_ssize_t i = 0; i < vl; i++) {
            if (value[i] < '0' || value[i] > '9') {
                PyErr_Format(PyExc_ValueError, "invalid Content-Length %R", pv);
                return -1;
            }
            v = v * 10 + (value[i] - '0');
        }
        /* RFC 9110 §8.6: two lengths that differ make the response
         * ambiguous; a repeated equal one is sent once */
        if (p->length >= 0 && p->length != v) {
            PyErr_Format(PyExc_ValueError, "conflicting Content-Length %R", pv);
            return -1;
        }
        if (p->length >= 0)
            return 0;
        p->length = v;
        /* 1xx and 204 responses have no length (docs/compat.md, Responses) */
        if ((p->status >= 100 && p->status < 200) || p->status == 204)
            return 0;
    }
    return cu_resp_block_add(p, name, (size_t)nl) || cu_resp_block_add(p, ": ", 2) ||
           cu_resp_block_add(p, value, (size_t)vl) || cu_resp_block_add(p, "\r\n", 2) ? -1 : 0;
}

/*
 * RFC 9112 §4: status-code SP reason-phrase, the code three digits (100
 * to 999), the phrase HTAB, SP, VCHAR and obs-text: no NUL, CR, LF or
 * other control byte reaches the status line. "200" alone is taken as
 * "200 " with no phrase, as Gunicorn takes it.
 */
static int status_ok(const char *s, Py_ssize_t n)
{
    if (!s || n < 3 || s[0] < '1' || s[0] > '9' || s[1] < '0' || s[1] > '9' ||
        s[2] < '0' || s[2] > '9' || (n > 3 && s[3] != ' '))
        return 0;
    for (Py_ssize_t i = 4; i < n; i++) {
        unsigned char ch = (unsigned char)s[i];
        if ((ch < 0x20 && ch != '\t') || ch == 0x7f)
            return 0;
    }
    return 1;
}

/* start_response(status, headers): fills p's header block. */
static int fill_headers(struct resp *p, PyObject *status, PyObject *headers)
{
    PyObject *seq;
    const char *s;
    Py_ssize_t n = 0;

    if (!(s = cu_latin1_bytes(status, &n)) && PyErr_Occurred())
        return -1;
    if (!status_ok(s, n)) {
        PyErr_Format(PyExc_ValueError, "invalid status %R", status);
        return -1;
    }
    p->status = (s[0] - '0') * 100 + (s[1] - '0') * 10 + (s[2] - '0');
    p->length = -1;
    p->upgrade = 0;
    /* the block: the status text, then the app's headers (docs/compat.md,
     * Responses: the order is status line, Server, Date, Connection,
     * Transfer-Encoding, the app's) */
    p->blen = 0;
    if (cu_resp_block_add(p, s, (size_t)n) < 0)
        return -1;
    p->status_len = (size_t)n;
    seq = PySequence_Fast(headers, "headers must be a list of (name, value) tuples");
    if (!seq)
        return -1;
    for (Py_ssize_t i = 0; i < PySequence_Fast_GET_SIZE(seq); i++)
        if (cu_resp_add_header(p, PySequence_Fast_GET_ITEM(seq, i)) < 0) {
            Py_DECREF(seq);
            return -1;
        }
    Py_DECREF(seq);
    p->no_body = p->head || (p->status >= 100 && p->status < 200) ||
                 p->status == 204 || p->status == 304;
    p->chunked = p->length < 0 && !p->no_body &&
                 (p->r->major > 1 || (p->r->major == 1 && p->r->minor >= 1));
    /* a body that only the close can delimit (HTTP/1.0, no length) */
    if (p->length < 0 && !p->no_body && !p->chunked)
        p->must_close = 1;
    p->headers_set = 1;
    return 0;
}

/* A failed call leaves the headers of an earlier one as they were. */
int cu_resp_set_headers(struct resp *p, PyObject *status, PyObject *headers)
{
    struct resp saved = *p;
    char *copy = NULL;

    if (p->headers_set && p->blen) {
        copy = PyMem_Malloc(p->blen);
        if (!copy) {
            PyErr_NoMemory();
            return -1;
        }
        memcpy(copy, p->block, p->blen);
    }
    if (fill_headers(p, status, headers) == 0) {
        PyMem_Free(copy);
        return 0;
    }
    if (saved.headers_set) {
        char *block = p->block;
        size_t cap = p->bcap;
        *p = saved;
        p->block = block;  /* the buffer may have grown: keep the live one */
        p->bcap = cap;
        if (copy)
            memcpy(p->block, copy, saved.blen);
    }
    PyMem_Free(copy);
    return -1;
}
