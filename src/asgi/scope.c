/*
 * The http scope of one request (ASGI 3, HTTP spec 2.4): made from the
 * parsed head in C, with keys and constant values interned once per
 * worker. path is percent-decoded and then decoded from UTF-8 (an invalid
 * sequence becomes U+FFFD, as urllib's unquote() has it); raw_path and
 * query_string are the bytes as sent; header names are lower-cased, in
 * the order received; client is the PROXY header's source when one came,
 * else the peer (None on a UNIX socket, as server is). A WebSocket's scope
 * is made from it (ws.c).
 */
#include "asgi/internal.h"

#include <stdlib.h>
#include <string.h>

#include "http2/h2.h"
#include "net/listen.h"
#include "net/tls_info.h"

static const char *const names[K_COUNT] = {
    [K_TYPE] = "type", [K_ASGI] = "asgi", [K_HTTP_VERSION] = "http_version",
    [K_METHOD] = "method", [K_SCHEME] = "scheme", [K_PATH] = "path",
    [K_RAW_PATH] = "raw_path", [K_QUERY] = "query_string", [K_ROOT_PATH] = "root_path",
    [K_HEADERS] = "headers", [K_CLIENT] = "client", [K_SERVER] = "server",
    [K_STATE] = "state", [K_BODY] = "body", [K_MORE_BODY] = "more_body",
    [K_STATUS] = "status", [K_TRAILERS] = "trailers", [V_HTTP] = "http",
    [V_HTTPS] = "https", [V_1_0] = "1.0", [V_1_1] = "1.1", [V_REQUEST] = "http.request",
    [V_DISCONNECT] = "http.disconnect", [V_START] = "http.response.start",
    [V_RESP_BODY] = "http.response.body", [V_PATHSEND] = "http.response.pathsend",
    [V_TRAILERS] = "http.response.trailers", [K_MORE_TRAILERS] = "more_trailers",
    [M_ADD_DONE] = "add_done_callback",
    [M_CANCELLED] = "cancelled", [M_EXCEPTION] = "exception",
    [M_SET_RESULT] = "set_result", [M_SET_EXCEPTION] = "set_exception", [M_CANCEL] = "cancel",
    [M_CALL_SOON] = "call_soon",
    [K_SUBPROTOCOLS] = "subprotocols", [K_EXTENSIONS] = "extensions",
    [K_SUBPROTOCOL] = "subprotocol", [K_CODE] = "code", [K_REASON] = "reason",
    [K_TEXT] = "text", [K_BYTES] = "bytes", [V_WEBSOCKET] = "websocket", [V_WS] = "ws",
    [V_WSS] = "wss", [V_WS_CONNECT] = "websocket.connect", [V_WS_ACCEPT] = "websocket.accept",
    [V_WS_RECEIVE] = "websocket.receive", [V_WS_SEND] = "websocket.send",
    [V_WS_CLOSE] = "websocket.close", [V_WS_DISCONNECT] = "websocket.disconnect",
    [V_WS_RESP_START] = "websocket.http.response.start",
    [V_WS_RESP_BODY] = "websocket.http.response.body", [V_WS_RESP] = "websocket.http.response",
    [K_TLS] = "tls",
    [M_HEADERS_RECEIVED] = "headers_received", [M_DATA_RECEIVED] = "data_received",
    [M_FINISH] = "finish", [M_ON_CONNECTION_CLOSE] = "on_connection_close", [M_ADD] = "add",
    [M_GET_ALL] = "get_all",
};

/* The methods most requests have, made once. */
static const char *const methods[] = {"GET", "POST", "HEAD", "PUT", "DELETE", "PATCH",
                                      "OPTIONS"};
#define N_METHODS (sizeof(methods) / sizeof(methods[0]))
static PyObject *method_obj[N_METHODS];

int asgi_scope_init(struct asrv *s)
{
    for (int i = 0; i < K_COUNT; i++)
        if (names[i] && !(s->k[i] = PyUnicode_InternFromString(names[i])))
            return -1;
    for (size_t i = 0; i < N_METHODS; i++)
        if (!(method_obj[i] = PyUnicode_InternFromString(methods[i])))
            return -1;
    s->asgi_info = Py_BuildValue("{ssss}", "version", "3.0", "spec_version", "2.4");
    s->root_path = PyUnicode_FromString(s->opts->root_path ? s->opts->root_path : "");
    s->empty_bytes = PyBytes_FromStringAndSize("", 0);
    /* what the http scope offers (a copy per request: the app may change it) */
    s->k[K_HTTP_EXTS] = Py_BuildValue("{s{}s{}}", "http.response.pathsend",
                                   "http.response.trailers");
    return s->asgi_info && s->root_path && s->empty_bytes && s->k[K_HTTP_EXTS] ? 0 : -1;
}

PyObject *asgi_method(const char *m, size_t n)
{
    for (size_t i = 0; i < N_METHODS; i++)
        if (strlen(methods[i]) == n && memcmp(methods[i], m, n) == 0)
            return Py_NewRef(method_obj[i]);
    return PyUnicode_DecodeLatin1(m, (Py_ssize_t)n, NULL);
}

static int hexval(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    c = (char)(c | 0x20);
    return c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}

/* The path, percent-decoded, then decoded from UTF-8. */
static PyObject *path(const char *p, size_t n)
{
    char small[1024] = "", *buf = small;
    size_t k = 0;
    PyObject *v;

    if (n > sizeof(small) && !(buf = malloc(n)))
        return PyErr_NoMemory();
    for (size_t i = 0; i < n; i++) {
        int hi, lo;
        if (p[i] == '%' && i + 2 < n &&
            (hi = hexval(p[i + 1])) >= 0 && (lo = hexval(p[i + 2])) >= 0) {
            buf[k++] = (char)(hi << 4 | lo);
            i += 2;
        } else {
            buf[k++] = p[i];
        }
    }
    v = PyUnicode_DecodeUTF8(buf, (Py_ssize_t)k, "replace");
    if (buf != small)
        free(buf);
    return v;
}

/* [(name, value), ...]: names lower-cased, values as sent. */
static PyObject *headers(const struct http_request *r, const char *head)
{
    PyObject *l = PyList_New(r->n_headers);

    for (uint32_t i = 0; l && i < r->n_headers; i++) {
        const struct http_header *h = &r->headers[i];
        PyObject *name = PyBytes_FromStringAndSize(head + h->name.off, h->name.len);
        PyObject *value = PyBytes_FromStringAndSize(head + h->value.off, h->value.len);
        PyObject *t = name && value ? PyTuple_New(2) : NULL;

        if (!t) {
            Py_XDECREF(name);
            Py_XDECREF(value);
            Py_CLEAR(l);
            break;
        }
        /* new and not shared yet: lower-cased in place */
        for (char *c = PyBytes_AS_STRING(name), *e = c + h->name.len; c < e; c++)
            if (*c >= 'A' && *c <= 'Z')
                *c = (char)(*c | 0x20);
        PyTuple_SET_ITEM(t, 0, name);
        PyTuple_SET_ITEM(t, 1, value);
        PyList_SET_ITEM(l, i, t);
    }
    return l;
}

/* (host, port) of the client, or None. */
static PyObject *client(const struct cu_conn *c)
{
    char host[128];
    int port;

    if (c->has_proxy && c->proxy.has_addr)
        return Py_BuildValue("(si)", c->proxy.src_addr, (int)c->proxy.src_port);
    if (c->peer.ss_family == AF_UNIX ||
        cu_sockaddr_text((const struct sockaddr *)&c->peer, c->peerlen, host, sizeof(host),
                         &port) < 0)
        Py_RETURN_NONE;
    return Py_BuildValue("(si)", host, port);
}

/* d[k] = v, v a new reference or NULL (exception). 0 or -1. */
static int put(PyObject *d, PyObject *k, PyObject *v)
{
    int rc;

    if (!v)
        return -1;
    rc = PyDict_SetItem(d, k, v);
    Py_DECREF(v);
    return rc;
}

/* {"http.response.pathsend": {}, ...}: a copy of e, each value a new dict. */
static PyObject *extensions(PyObject *e)
{
    PyObject *d = PyDict_New(), *key, *v;
    Py_ssize_t pos = 0;

    while (d && PyDict_Next(e, &pos, &key, &v))
        if (put(d, key, PyDict_New()) < 0)
            Py_CLEAR(d);
    return d;
}

/* A request's own copy of the connection's tls extension (the dict and
 * its chain list), so that an app changing it leaves the next request's
 * alone: a new reference, or NULL with an exception. */
static PyObject *tls_ext_copy(PyObject *ext)
{
    PyObject *d = PyDict_Copy(ext), *chain;

    if (!d)
        return NULL;
    chain = PyDict_GetItemString(ext, "client_cert_chain");  /* borrowed */
    chain = chain ? PySequence_List(chain) : NULL;
    if (!chain || PyDict_SetItemString(d, "client_cert_chain", chain) < 0) {
        Py_XDECREF(chain);
        Py_DECREF(d);
        return NULL;
    }
    Py_DECREF(chain);
    return d;
}

/* The ASGI tls extension of a's TLS connection (read from OpenSSL once,
 * then copied for each request): a new reference, or NULL with an
 * exception. */
static PyObject *tls_ext(struct aconn *a)
{
    struct cu_tls_info i;
    PyObject *chain;

    if (a->tls_ext)
        return tls_ext_copy(a->tls_ext);
    if (cu_tls_info_get(a->c.tls, &i) < 0)
        return PyErr_NoMemory();
    chain = PyList_New((Py_ssize_t)i.nchain);
    for (size_t n = 0; chain && n < i.nchain; n++) {
        PyObject *p = PyUnicode_FromString(i.chain[n] ? i.chain[n] : "");
        if (!p)
            Py_CLEAR(chain);
        else
            PyList_SET_ITEM(chain, (Py_ssize_t)n, p);
    }
    a->tls_ext = !chain ? NULL
        : Py_BuildValue("{s:z,s:N,s:z,s:z,s:i,s:i}", "server_cert", i.server_cert,
                        "client_cert_chain", chain, "client_cert_name", i.client_name,
                        "client_cert_error", i.client_error, "tls_version", i.version,
                        "cipher_suite", i.cipher);
    cu_tls_info_free(&i);
    return a->tls_ext ? tls_ext_copy(a->tls_ext) : NULL;
}

/* scope["extensions"]["tls"] on a TLS connection. 0, or -1 (exception). */
static int put_tls(struct asrv *s, struct aconn *a, PyObject *d)
{
    PyObject *ext;

    if (!a->c.tls)
        return 0;
    ext = PyDict_GetItemWithError(d, s->k[K_EXTENSIONS]);
    if (!ext)
        return PyErr_Occurred() ? -1 : 0;
    return put(ext, s->k[K_TLS], tls_ext(a));
}

/* scope["extensions"]["http.response.priority"] on an HTTP/2 stream: the
 * priority its client gave, as Gunicorn 26.1 tells it. 0, or -1. */
static int put_priority(struct aconn *a, PyObject *d)
{
    PyObject *ext, *v;
    int weight, rc;
    int32_t dep;

    if (!a->h2 || a->req->ws.on)
        return 0;
    ext = PyDict_GetItemWithError(d, a->srv->k[K_EXTENSIONS]);
    if (!ext)
        return PyErr_Occurred() ? -1 : 0;
    cu_h2_stream_priority(a->h2, &weight, &dep);
    if (!(v = Py_BuildValue("{sisi}", "weight", weight, "depends_on", (int)dep)))
        return -1;
    rc = PyDict_SetItemString(ext, "http.response.priority", v);
    Py_DECREF(v);
    return rc;
}

int asgi_https(const struct aconn *a)
{
    /* a trusted peer's scheme header says so (the parser's), else TLS */
    if (a->r.flags & HTTP_REQ_SCHEME_SET)
        return (a->r.flags & HTTP_REQ_HTTPS) != 0;
    return a->c.tls != NULL;
}

PyObject *asgi_scope(struct asrv *s, struct aconn *a)
{
    const struct http_request *r = &a->r;
    const struct cu_request *q = &a->req->q;
    const char *head = cu_request_head(q);
    PyObject *d = PyDict_New(), **k = s->k, *version;
    size_t li = (size_t)(a->c.listener - s->env->listeners);

    if (!d)
        return NULL;
    if (r->major == 1 && r->minor <= 1)
        version = Py_NewRef(k[r->minor ? V_1_1 : V_1_0]);
    else if (r->major == 2)  /* HTTP/2's stream (h2.c): the spec's "2" */
        version = PyUnicode_FromString("2");
    else
        version = PyUnicode_FromFormat("%u.%u", (unsigned)r->major, (unsigned)r->minor);
    if (PyDict_SetItem(d, k[K_TYPE], k[V_HTTP]) < 0 ||
        PyDict_SetItem(d, k[K_ASGI], s->asgi_info) < 0 ||
        put(d, k[K_HTTP_VERSION], version) < 0 ||
        put(d, k[K_METHOD], asgi_method(head + r->method.off, r->method.len)) < 0 ||
        PyDict_SetItem(d, k[K_SCHEME], k[asgi_https(a) ? V_HTTPS : V_HTTP]) < 0 ||
        put(d, k[K_PATH], path(head + r->path.off, r->path.len)) < 0 ||
        put(d, k[K_RAW_PATH], PyBytes_FromStringAndSize(head + r->path.off, r->path.len)) < 0 ||
        put(d, k[K_QUERY], PyBytes_FromStringAndSize(head + r->query.off, r->query.len)) < 0 ||
        PyDict_SetItem(d, k[K_ROOT_PATH], s->root_path) < 0 ||
        put(d, k[K_HEADERS], headers(r, head)) < 0 ||
        put(d, k[K_CLIENT], client(&a->c)) < 0 ||
        PyDict_SetItem(d, k[K_SERVER],
                       li < s->env->n_listeners ? s->lserver[li] : Py_None) < 0 ||
        (s->state && put(d, k[K_STATE], PyDict_Copy(s->state)) < 0) ||
        (!a->req->ws.on && put(d, k[K_EXTENSIONS], extensions(k[K_HTTP_EXTS])) < 0) ||
        (a->req->ws.on && aws_scope(s, a, d) < 0) || put_tls(s, a, d) < 0 ||
        put_priority(a, d) < 0) {
        Py_DECREF(d);
        return NULL;
    }
    return d;
}
