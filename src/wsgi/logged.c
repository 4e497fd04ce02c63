/*
 * What the access log takes from the application's side of a request
 * (docs/compat.md, Logging): Gunicorn fills its atoms from the environ as
 * the app left it and from the response headers the app gave, after the
 * response. Here, with the GIL, the values the compiled format asks for
 * (cu_access_needs(), cu_access_lookups()) are copied into one block
 * (struct cu_logvals, q->logged), which the worker's access line reads
 * once the GIL is dropped. A format without h, U, {name}o and {name}e
 * costs nothing here; with h alone (the default), a dict lookup before
 * the app and one after, and a copy only when the app replaced
 * REMOTE_ADDR (a ProxyFix).
 */
#include "wsgi/internal.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "core/access.h"

/* A value while the block is built: an offset into the bytes, or unset. */
struct val {
    size_t off, len;
    int set;
};

struct builder {
    char *buf;
    size_t len, cap;
    int failed;
};

static struct val add(struct builder *b, const char *s, size_t n)
{
    struct val v = {0, 0, 0};

    if (b->failed)
        return v;
    if (b->len + n > b->cap) {
        size_t cap = b->cap ? b->cap : 256;
        char *p;
        while (cap < b->len + n)
            cap *= 2;
        p = realloc(b->buf, cap);
        if (!p) {
            b->failed = 1;
            return v;
        }
        b->buf = p;
        b->cap = cap;
    }
    memcpy(b->buf + b->len, s, n);
    v.off = b->len;
    v.len = n;
    v.set = 1;
    b->len += n;
    return v;
}

/* str(o), as its bytes: a latin-1 str as they are (the WSGI way of
 * carrying bytes), any other text as UTF-8. Unset when it cannot be
 * had. */
static struct val add_obj(struct builder *b, PyObject *o)
{
    struct val v = {0, 0, 0};
    PyObject *s = PyUnicode_Check(o) ? (Py_INCREF(o), o) : PyObject_Str(o);
    const char *t;
    Py_ssize_t n;

    if (!s) {
        PyErr_Clear();
        return v;
    }
#if PY_VERSION_HEX < 0x030C0000
    if (PyUnicode_READY(s) < 0) {
        PyErr_Clear();
        Py_DECREF(s);
        return v;
    }
#endif
    if (PyUnicode_KIND(s) == PyUnicode_1BYTE_KIND) {
        t = (const char *)PyUnicode_1BYTE_DATA(s);
        n = PyUnicode_GET_LENGTH(s);
    } else if (!(t = PyUnicode_AsUTF8AndSize(s, &n))) {
        PyErr_Clear();
        Py_DECREF(s);
        return v;
    }
    v = add(b, t, (size_t)n);
    Py_DECREF(s);
    return v;
}

/* A str key equal to name (lower-case) ignoring ASCII case, as Gunicorn's
 * atoms lower-case the environ's keys. */
static int key_is(PyObject *k, const char *name, size_t len)
{
    Py_ssize_t n;
    const char *s;

    if (!PyUnicode_Check(k))
        return 0;
    if (!(s = PyUnicode_AsUTF8AndSize(k, &n))) {
        PyErr_Clear();
        return 0;
    }
    return (size_t)n == len && strncasecmp(s, name, len) == 0;
}

const char *cu_block_header(const char *block, size_t from, size_t len, const char *name,
                            size_t *vlen)
{
    size_t nlen = strlen(name), i = from;
    const char *found = NULL;

    while (i < len) {
        const char *line = block + i;
        const char *eol = memchr(line, '\r', len - i);
        const char *colon = memchr(line, ':', len - i);
        if (!eol || !colon || colon > eol)
            break;
        if ((size_t)(colon - line) == nlen && strncasecmp(line, name, nlen) == 0) {
            found = colon + 2;
            *vlen = (size_t)(eol - found);
        }
        i = (size_t)(eol - block) + 2;
    }
    return found;
}

/* {name}o: the app's header of that name (the last of several), as the
 * header block holds it: the status, then "Name: value\r\n" each. */
static struct val resp_header(struct builder *b, const struct resp *p, const char *name)
{
    struct val v = {0, 0, 0};
    size_t flen = 0;
    const char *found = cu_block_header(p->block, p->status_len, p->blen, name, &flen);

    if (found)
        v = add(b, found, flen);
    return v;
}

static struct cu_str str_of(const char *base, struct val v)
{
    struct cu_str s = {v.set ? base + v.off : NULL, v.len};
    return s;
}

/* A latin-1 str of s[0..n) (bytes as the WSGI way carries them), or
 * NULL with an exception. */
static PyObject *latin1(const char *s, size_t n)
{
    return PyUnicode_DecodeLatin1(s, (Py_ssize_t)n, NULL);
}

/* Appends (name, value) to list, steals both; 0, or -1 with an exception. */
static int append_pair(PyObject *list, PyObject *name, PyObject *value)
{
    PyObject *t = name && value ? PyTuple_Pack(2, name, value) : NULL;
    int rc = t ? PyList_Append(list, t) : -1;

    Py_XDECREF(t);
    Py_XDECREF(name);
    Py_XDECREF(value);
    return rc;
}

/* The request's headers as Gunicorn's req.headers: (NAME, value), names
 * upper-cased, in the order received. A new list, or NULL. */
static PyObject *request_headers(const struct cu_request *q)
{
    const struct http_request *r = q->http;
    const char *head = cu_request_head(q);
    PyObject *list = PyList_New(0);

    for (uint32_t i = 0; list && i < r->n_headers; i++) {
        const struct http_header *h = &r->headers[i];
        PyObject *name = latin1(head + h->name.off, h->name.len), *upper;

        upper = name ? PyObject_CallMethod(name, "upper", NULL) : NULL;
        Py_XDECREF(name);
        if (append_pair(list, upper, latin1(head + h->value.off, h->value.len)) < 0)
            Py_CLEAR(list);
    }
    return list;
}

/* The app's response headers as Gunicorn's resp.headers, (Name, value),
 * from the header block ("200 OK" then "Name: value\r\n" each). A new
 * list, or NULL. */
static PyObject *response_headers(const struct resp *p)
{
    PyObject *list = PyList_New(0);
    size_t i = p ? p->status_len : 0;

    while (list && p && i < p->blen) {
        const char *line = p->block + i;
        const char *eol = memchr(line, '\r', p->blen - i);
        const char *colon = memchr(line, ':', p->blen - i);
        if (!eol || !colon || colon > eol)
            break;
        if (append_pair(list, latin1(line, (size_t)(colon - line)),
                        latin1(colon + 2, (size_t)(eol - colon - 2))) < 0)
            Py_CLEAR(list);
        i = (size_t)(eol - p->block) + 2;
    }
    return list;
}

/* Python mode (CU_ACC_NEED_HOST): what Gunicorn's logger gets of a
 * request besides the atoms C renders: (environ, the status line or None,
 * the response headers, the request headers). A new tuple, or NULL (the
 * error cleared: the access line then has no {name}i/o/e atoms). */
static PyObject *host_request(const struct cu_request *q, const struct resp *p,
                              PyObject *env)
{
    PyObject *status = p && p->status_len ? latin1(p->block, p->status_len)
                                          : (Py_INCREF(Py_None), Py_None);
    PyObject *resp = response_headers(p), *req = request_headers(q), *t = NULL;

    if (status && resp && req)
        t = PyTuple_Pack(4, env, status, resp, req);
    Py_XDECREF(status);
    Py_XDECREF(resp);
    Py_XDECREF(req);
    if (!t)
        PyErr_Clear();
    return t;
}

PyObject *cu_wsgi_logged_remote(struct cu_wsgi *w, PyObject *env)
{
    PyObject *remote;

    remote = PyDict_GetItemWithError(env, w->keys[K_REMOTE_ADDR]);
    if (!remote) {
        PyErr_Clear();
        return NULL;
    }
    Py_INCREF(remote);
    return remote;
}

void cu_wsgi_logged(struct cu_wsgi *w, struct cu_request *q, const struct resp *p,
                    PyObject *env, PyObject *remote)
{
    unsigned needs = w->log_needs;
    const char *const *rnames, *const *enames;
    size_t nr, ne;
    struct val vremote = {0, 0, 0}, vpath = {0, 0, 0}, small[16], *vr, *ve;
    struct builder b = {NULL, 0, 0, 0};
    struct cu_logvals *lv;
    char *base;
    int changed = 0;
    PyObject *host = NULL;

    if (!(needs & (CU_ACC_NEED_REMOTE | CU_ACC_NEED_PATH | CU_ACC_NEED_RESP |
                   CU_ACC_NEED_ENV)) || !env)
        return;
    nr = cu_access_lookups('o', &rnames);
    ne = cu_access_lookups('e', &enames);
    vr = nr + ne <= 16 ? small : calloc(nr + ne, sizeof(*vr));
    if (!vr)
        return;
    memset(vr, 0, (nr + ne) * sizeof(*vr));
    ve = vr + nr;
    if (needs & CU_ACC_NEED_REMOTE) {
        PyObject *now = PyDict_GetItemWithError(env, w->keys[K_REMOTE_ADDR]);
        if (now != remote) {
            /* the app set its own (werkzeug's ProxyFix), or removed it */
            changed = 1;
            vremote = now ? add_obj(&b, now) : add(&b, "-", 1);
        }
        PyErr_Clear();
    }
    if (needs & CU_ACC_NEED_PATH) {
        PyObject *path = PyDict_GetItemWithError(env, w->keys[K_PATH]);
        if (path)
            vpath = add_obj(&b, path);
        PyErr_Clear();
    }
    if (needs & CU_ACC_NEED_HOST)
        host = host_request(q, p, env);
    if ((needs & CU_ACC_NEED_RESP) && p)
        for (size_t i = 0; i < nr; i++)
            vr[i] = resp_header(&b, p, rnames[i]);
    if (needs & CU_ACC_NEED_ENV) {
        PyObject *k, *v;
        Py_ssize_t pos = 0;
        while (PyDict_Next(env, &pos, &k, &v))
            for (size_t i = 0; i < ne; i++)
                if (key_is(k, enames[i], strlen(enames[i])))
                    ve[i] = add_obj(&b, v);  /* the last key of that name */
    }
    lv = NULL;
    if (!b.failed && (changed || (needs & (CU_ACC_NEED_PATH | CU_ACC_NEED_RESP |
                                           CU_ACC_NEED_ENV))))
        lv = malloc(sizeof(*lv) + (nr + ne) * sizeof(struct cu_str) + b.len);
    if (lv) {
        lv->resp = (struct cu_str *)(lv + 1);
        lv->env = lv->resp + nr;
        base = (char *)(lv->env + ne);
        if (b.len)
            memcpy(base, b.buf, b.len);
        lv->remote = str_of(base, vremote);
        lv->path = str_of(base, vpath);
        for (size_t i = 0; i < nr; i++)
            lv->resp[i] = str_of(base, vr[i]);
        for (size_t i = 0; i < ne; i++)
            lv->env[i] = str_of(base, ve[i]);
        lv->host = host;    /* the access divert's now */
        host = NULL;
        free(q->logged);
        q->logged = lv;
    }
    Py_XDECREF(host);
    /* else nothing to keep (the access line uses the request's own), or no
     * memory for it: the line shows "-" */
    free(b.buf);
    if (vr != small)
        free(vr);
}
