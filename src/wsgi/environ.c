/*
 * The environ of one request (PEP 3333): a copy
 * of the bridge's template, then the request's own keys: the request line,
 * SCRIPT_NAME and PATH_INFO (percent-decoded as latin-1), HTTP_* keys
 * (repeats joined with ","), the peer (or the PROXY header's source), the
 * server's name and port, and the scheme.
 */
#include "wsgi/internal.h"

#include <stdio.h>
#include <string.h>

#include "net/listen.h"

static PyObject *latin1(const char *s, size_t n)
{
    return PyUnicode_DecodeLatin1(s, (Py_ssize_t)n, NULL);
}

static int set_str(PyObject *env, PyObject *key, const char *s, size_t n)
{
    PyObject *v = latin1(s, n);
    int rc;

    if (!v)
        return -1;
    rc = PyDict_SetItem(env, key, v);
    Py_DECREF(v);
    return rc;
}

static int hexval(int c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    c |= 0x20;
    return (c >= 'a' && c <= 'f') ? c - 'a' + 10 : -1;
}

/* PATH_INFO: the path percent-decoded to bytes, as latin-1 text. */
static int set_path_info(PyObject *env, PyObject *key, const char *s, size_t n)
{
    char small[1024], *buf = n <= sizeof(small) ? small : PyMem_Malloc(n);
    size_t o = 0;
    int rc;

    if (n == 0)
        return set_str(env, key, "", 0);
    if (!buf) {
        PyErr_NoMemory();
        return -1;
    }
    for (size_t i = 0; i < n; i++) {
        int hi, lo;
        if (s[i] == '%' && i + 2 < n &&
            (hi = hexval((unsigned char)s[i + 1])) >= 0 &&
            (lo = hexval((unsigned char)s[i + 2])) >= 0) {
            buf[o++] = (char)(hi << 4 | lo);
            i += 2;
        } else {
            buf[o++] = s[i];
        }
    }
    rc = set_str(env, key, buf, o);
    if (buf != small)
        PyMem_Free(buf);
    return rc;
}

/* The interned key of a header the parser knows by id, or NULL. */
static PyObject *known_key(PyObject *const *k, const struct http_header *h)
{
    switch (h->id) {
    case HTTP_HDR_CONTENT_TYPE: return k[K_CONTENT_TYPE];
    case HTTP_HDR_CONTENT_LENGTH: return k[K_CONTENT_LENGTH];
    case HTTP_HDR_HOST: return k[K_HOST];
    default: return NULL;
    }
}

/* HTTP_NAME for a header: upper case, '-' as '_'; repeats joined by ','. */
static int set_header(PyObject *env, const char *buf, const struct http_header *h,
                      PyObject *const *keys)
{
    char small[256], *k;
    size_t n = h->name.len + 5;
    PyObject *key = known_key(keys, h), *val, *old;
    int rc;

    if (key) {
        Py_INCREF(key);
    } else {
        k = n <= sizeof(small) ? small : PyMem_Malloc(n);
        if (!k) {
            PyErr_NoMemory();
            return -1;
        }
        memcpy(k, "HTTP_", 5);
        for (size_t i = 0; i < h->name.len; i++) {
            char ch = buf[h->name.off + i];
            k[5 + i] = (char)(ch == '-' ? '_' : (ch >= 'a' && ch <= 'z') ? ch - 32 : ch);
        }
        key = PyUnicode_FromStringAndSize(k, (Py_ssize_t)n);
        if (k != small)
            PyMem_Free(k);
        if (!key)
            return -1;
    }
    val = latin1(buf + h->value.off, h->value.len);
    if (!val) {
        Py_DECREF(key);
        return -1;
    }
    old = PyDict_GetItemWithError(env, key);  /* borrowed */
    if (old) {
        PyObject *joined = PyUnicode_FromFormat("%U,%U", old, val);
        Py_DECREF(val);
        if (!joined) {
            Py_DECREF(key);
            return -1;
        }
        val = joined;
    } else if (PyErr_Occurred()) {
        Py_DECREF(key);
        Py_DECREF(val);
        return -1;
    }
    rc = PyDict_SetItem(env, key, val);
    Py_DECREF(key);
    Py_DECREF(val);
    return rc;
}

/* The address strings of sa, new references: host and port ("" and NULL
 * for a UNIX peer). -1 with an exception. */
static int addr_strings(const struct sockaddr *sa, socklen_t len, PyObject **host,
                        PyObject **port)
{
    char h[128], pt[16];
    int p = -1;

    if (cu_sockaddr_text(sa, len, h, sizeof(h), &p) < 0)
        h[0] = '\0';
    *port = NULL;
    if (!(*host = PyUnicode_DecodeLatin1(h, (Py_ssize_t)strlen(h), NULL)))
        return -1;
    if (p >= 0) {
        int n = snprintf(pt, sizeof(pt), "%d", p);
        if (!(*port = PyUnicode_DecodeLatin1(pt, n, NULL))) {
            Py_CLEAR(*host);
            return -1;
        }
    }
    return 0;
}

static int set_pair(PyObject *env, PyObject *khost, PyObject *kport, PyObject *host,
                    PyObject *port)
{
    if (PyDict_SetItem(env, khost, host) < 0)
        return -1;
    return port ? PyDict_SetItem(env, kport, port) : 0;
}

/* khost and kport from sa, with strings made for this once. */
static int set_addr(PyObject *env, PyObject *khost, PyObject *kport,
                    const struct sockaddr *sa, socklen_t len)
{
    PyObject *host, *port;
    int rc;

    if (addr_strings(sa, len, &host, &port) < 0)
        return -1;
    rc = set_pair(env, khost, kport, host, port);
    Py_DECREF(host);
    Py_XDECREF(port);
    return rc;
}

/* REMOTE_ADDR/PORT; kept on a connection that keeps objects (gthread):
 * its later requests reuse them. */
static int set_remote(PyObject *env, PyObject *const *k, struct cu_conn *c)
{
    const struct sockaddr *peer = (const struct sockaddr *)&c->peer;
    PyObject *host, *port;

    if (c->pyaddr)
        return set_pair(env, k[K_REMOTE_ADDR], k[K_REMOTE_PORT], c->pyaddr, c->pyport);
    if (!c->keeps_objects)
        return set_addr(env, k[K_REMOTE_ADDR], k[K_REMOTE_PORT], peer, c->peerlen);
    if (addr_strings(peer, c->peerlen, &host, &port) < 0)
        return -1;
    c->pyaddr = host;  /* freed by cu_wsgi_conn_free */
    c->pyport = port;
    return set_pair(env, k[K_REMOTE_ADDR], k[K_REMOTE_PORT], host, port);
}

/* SERVER_NAME/PORT of a TCP listener, cached per listener. */
static int set_server(PyObject *env, struct cu_wsgi *w, const struct cu_listener *l)
{
    PyObject *const *k = w->keys;
    int i;

    for (i = 0; i < N_LISTENER_CACHE && w->lcache[i].l; i++)
        if (w->lcache[i].l == l)
            return set_pair(env, k[K_SERVER_NAME], k[K_SERVER_PORT], w->lcache[i].name,
                            w->lcache[i].port);
    if (i == N_LISTENER_CACHE)  /* full: no caching for this one */
        return set_addr(env, k[K_SERVER_NAME], k[K_SERVER_PORT],
                        (const struct sockaddr *)&l->sa, l->salen);
    if (addr_strings((const struct sockaddr *)&l->sa, l->salen, &w->lcache[i].name,
                     &w->lcache[i].port) < 0)
        return -1;
    w->lcache[i].l = l;
    return set_pair(env, k[K_SERVER_NAME], k[K_SERVER_PORT], w->lcache[i].name,
                    w->lcache[i].port);
}

static const struct http_header *find_header(const struct http_request *r,
                                             const char *b, const char *name)
{
    for (uint32_t i = 0; i < r->n_headers; i++)
        if (http_span_ieq(b, r->headers[i].name, name))
            return &r->headers[i];
    return NULL;
}

/*
 * SCRIPT_NAME (the process's, or a trusted peer's SCRIPT_NAME header) and
 * PATH_INFO: the path with that prefix removed, then percent-decoded. A
 * path outside SCRIPT_NAME is refused (Gunicorn: 500).
 */
static int set_script_path(PyObject *env, struct cu_wsgi *w,
                           const struct http_request *r, const char *b)
{
    const struct http_header *h = find_header(r, b, "SCRIPT_NAME");
    PyObject *script = PyDict_GetItemWithError(env, w->keys[K_SCRIPT]); /* borrowed */
    PyObject *bytes;
    const char *path = b + r->path.off;
    size_t n = r->path.len;
    Py_ssize_t sl;
    int rc;

    if (h && set_str(env, w->keys[K_SCRIPT], b + h->value.off, h->value.len) < 0)
        return -1;
    if (h)
        script = PyDict_GetItemWithError(env, w->keys[K_SCRIPT]);
    if (!script)
        return -1;
    if (PyUnicode_GET_LENGTH(script) == 0)
        return set_path_info(env, w->keys[K_PATH], path, n);
    bytes = PyUnicode_AsLatin1String(script);
    if (!bytes)
        return -1;
    sl = PyBytes_GET_SIZE(bytes);
    if ((size_t)sl > n || memcmp(path, PyBytes_AS_STRING(bytes), (size_t)sl) != 0) {
        PyErr_Format(PyExc_ValueError, "Request path %.*s does not start with SCRIPT_NAME %R",
                     (int)(n > 200 ? 200 : n), path, script);
        Py_DECREF(bytes);
        return -1;
    }
    Py_DECREF(bytes);
    rc = set_path_info(env, w->keys[K_PATH], path + sl, n - (size_t)sl);
    return rc;
}

/* A UNIX socket has no port: SERVER_NAME and SERVER_PORT come from Host (port
 * 80/443 by scheme when absent), or are the path and "" (docs/compat.md, WSGI
 * environ). */
static int set_server_from_host(PyObject *env, struct cu_wsgi *w,
                                const struct http_request *r, const char *b,
                                int https, const char *name)
{
    const struct http_header *h = find_header(r, b, "HOST");
    const char *s, *colon, *path = strncmp(name, "unix:", 5) == 0 ? name + 5 : name;
    size_t n;

    if (!h)
        return set_str(env, w->keys[K_SERVER_NAME], path, strlen(path)) ||
               set_str(env, w->keys[K_SERVER_PORT], "", 0) ? -1 : 0;
    s = b + h->value.off;
    n = h->value.len;
    colon = n && s[0] == '[' ? memchr(s, ']', n) : s;
    colon = colon ? memchr(colon, ':', n - (size_t)(colon - s)) : NULL;
    if (colon)
        return set_str(env, w->keys[K_SERVER_NAME], s, (size_t)(colon - s)) ||
               set_str(env, w->keys[K_SERVER_PORT], colon + 1, n - (size_t)(colon - s) - 1)
                   ? -1 : 0;
    return set_str(env, w->keys[K_SERVER_NAME], s, n) ||
           set_str(env, w->keys[K_SERVER_PORT], https ? "443" : "80", https ? 3 : 2)
               ? -1 : 0;
}

/* PROXY_PROTOCOL, PROXY_ADDR, PROXY_PORT (Gunicorn's keys). */
static int set_proxy(PyObject *env, const struct http_proxy *px)
{
    if (cu_dict_set_new(env, "PROXY_PROTOCOL", PyUnicode_FromString(px->protocol)) < 0)
        return -1;
    if (!px->has_addr)
        return 0;
    if (cu_dict_set_new(env, "PROXY_ADDR", PyUnicode_FromString(px->dst_addr)) < 0 ||
        cu_dict_set_new(env, "PROXY_PORT",
                        PyUnicode_FromFormat("%u", (unsigned)px->dst_port)) < 0)
        return -1;
    return 0;
}

/* SERVER_PROTOCOL: HTTP/1.0 and 1.1 made once (an HTTP/2 stream
 * formats its "HTTP/2.0"). */
/* REQUEST_METHOD: one of the strings made once when it is a common
 * method, else a new one. */
static int set_method(PyObject *env, const struct cu_wsgi *w, const char *s, size_t n)
{
    for (int i = 0; i < N_METHODS; i++)
        if (strlen(cu_method_names[i]) == n && memcmp(cu_method_names[i], s, n) == 0)
            return PyDict_SetItem(env, w->keys[K_METHOD], w->methods[i]);
    return set_str(env, w->keys[K_METHOD], s, n);
}

static int set_protocol(PyObject *env, const struct cu_wsgi *w, const struct http_request *r)
{
    char proto[16];
    int n;

    if (r->major == 1 && r->minor <= 1)
        return PyDict_SetItem(env, w->keys[K_PROTOCOL], w->protocols[r->minor]);
    n = snprintf(proto, sizeof(proto), "HTTP/%u.%u", r->major, r->minor);
    return n < 0 ? -1 : set_str(env, w->keys[K_PROTOCOL], proto, (size_t)n);
}

PyObject *cu_environ_new(struct cu_wsgi *w, struct cu_conn *c,
                         const struct http_request *r, const char *b,
                         PyObject *input, PyObject *sock)
{
    PyObject *env = PyDict_Copy(w->base), *const *k = w->keys;
    int https = w->is_ssl;

    if (!env)
        return NULL;
    if (set_method(env, w, b + r->method.off, r->method.len) < 0 ||
        set_script_path(env, w, r, b) < 0 ||
        set_str(env, k[K_QUERY], b + r->query.off, r->query.len) < 0 ||
        set_str(env, k[K_RAW_URI], b + r->target.off, r->target.len) < 0 ||
        set_protocol(env, w, r) < 0 ||
        PyDict_SetItem(env, k[K_INPUT], input) < 0 ||
        PyDict_SetItem(env, k[K_SOCKET], sock) < 0)
        goto fail;
    for (uint32_t i = 0; i < r->n_headers; i++)
        if (set_header(env, b, &r->headers[i], k) < 0)
            goto fail;
    if (c->has_proxy && c->proxy.has_addr) {
        /* the PROXY header names the client (docs/compat.md, PROXY protocol) */
        char port[16];
        int n = snprintf(port, sizeof(port), "%u", c->proxy.src_port);
        if (n < 0 ||
            set_str(env, k[K_REMOTE_ADDR], c->proxy.src_addr, strlen(c->proxy.src_addr)) < 0 ||
            set_str(env, k[K_REMOTE_PORT], port, (size_t)n) < 0)
            goto fail;
    } else if (set_remote(env, k, c) < 0) {
        goto fail;
    }
    if (c->has_proxy && set_proxy(env, &c->proxy) < 0)
        goto fail;
    if (r->flags & HTTP_REQ_SCHEME_SET)
        https = (r->flags & HTTP_REQ_HTTPS) != 0;
    if (c->listener && c->listener->family == AF_UNIX) {
        if (set_server_from_host(env, w, r, b, https, c->listener->name) < 0)
            goto fail;
    } else if (c->listener && set_server(env, w, c->listener) < 0) {
        goto fail;
    }
    if (PyDict_SetItem(env, k[K_SCHEME], https ? w->https : w->http) < 0)
        goto fail;
    return env;
fail:
    Py_DECREF(env);
    return NULL;
}
