/*
 * One WSGI request: the environ, start_response, the response on the wire
 * (shared reference §5.12, §5.13; PEP 3333).
 *
 * The response head is written with the first body bytes in one writev;
 * body items are bytes objects written from their own buffers, with the
 * GIL dropped for the write.
 */
#include "wsgi/internal.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "core/io.h"
#include "core/log.h"
#include "host/report.h"
#include "net/listen.h"

enum { K_METHOD, K_SCRIPT, K_PATH, K_QUERY, K_RAW_URI, K_PROTOCOL,
       K_CONTENT_TYPE, K_CONTENT_LENGTH, K_REMOTE_ADDR, K_REMOTE_PORT,
       K_SERVER_NAME, K_SERVER_PORT, K_SCHEME, K_INPUT, K_ERRORS, K_SOCKET,
       K_COUNT };

static const char *const key_names[K_COUNT] = {
    "REQUEST_METHOD", "SCRIPT_NAME", "PATH_INFO", "QUERY_STRING", "RAW_URI",
    "SERVER_PROTOCOL", "CONTENT_TYPE", "CONTENT_LENGTH", "REMOTE_ADDR",
    "REMOTE_PORT", "SERVER_NAME", "SERVER_PORT", "wsgi.url_scheme",
    "wsgi.input", "wsgi.errors", "gunicorn.socket"};

#define N_LISTENER_CACHE 8

struct cu_wsgi {
    /* SERVER_NAME and SERVER_PORT of a TCP listener, made once */
    struct {
        const struct cu_listener *l;
        PyObject *name, *port;
    } lcache[N_LISTENER_CACHE];
    PyObject *app;
    PyObject *base;          /* the keys every environ has */
    PyObject *keys[K_COUNT]; /* interned */
    PyObject *http, *https;
    PyObject *errors;        /* the wsgi.errors stream */
    PyObject *sock_class;    /* cunicorn._loader.ClientSocket */
    PyObject *sock_close;    /* _socket.socket.close */
    const struct cu_wsgi_types *types;
    int is_ssl;
    int sendfile;
};

/* What gunicorn.socket is made with: the class, and the close() of
 * _socket.socket, which closes the fd whoever holds the object. */
static int socket_class(struct cu_wsgi *w)
{
    PyObject *m = PyImport_ImportModule("cunicorn._loader");

    if (!m)
        return -1;
    w->sock_class = PyObject_GetAttrString(m, "ClientSocket");
    Py_DECREF(m);
    if (!w->sock_class || !(m = PyImport_ImportModule("_socket")))
        return -1;
    w->sock_close = PyObject_GetAttrString(m, "socket");
    Py_DECREF(m);
    if (w->sock_close)
        Py_SETREF(w->sock_close, PyObject_GetAttrString(w->sock_close, "close"));
    return w->sock_close ? 0 : -1;
}

struct cu_wsgi *cu_wsgi_new(PyObject *app, const struct cu_wsgi_types *t,
                            const struct cu_wsgi_opts *o)
{
    struct cu_wsgi *w = PyMem_Calloc(1, sizeof(*w));
    const char *script = getenv("SCRIPT_NAME");
    PyObject *v;

    if (!w)
        return (struct cu_wsgi *)PyErr_NoMemory();
    w->types = t;
    w->is_ssl = o->is_ssl;
    w->sendfile = o->sendfile;
    Py_INCREF(app);
    w->app = app;
    for (int i = 0; i < K_COUNT; i++)
        if (!(w->keys[i] = PyUnicode_InternFromString(key_names[i])))
            goto fail;
    if (!(w->http = PyUnicode_InternFromString("http")) ||
        !(w->https = PyUnicode_InternFromString("https")) ||
        !(w->errors = cu_errors_new(t->errors, o->errors_fd)) ||
        socket_class(w) < 0 || !(w->base = PyDict_New()))
        goto fail;
    v = Py_BuildValue("(ii)", 1, 0);
    if (!v || PyDict_SetItemString(w->base, "wsgi.version", v) < 0) {
        Py_XDECREF(v);
        goto fail;
    }
    Py_DECREF(v);
    if (PyDict_SetItemString(w->base, "wsgi.multithread",
                             o->multithread ? Py_True : Py_False) < 0 ||
        PyDict_SetItemString(w->base, "wsgi.multiprocess",
                             o->multiprocess ? Py_True : Py_False) < 0 ||
        PyDict_SetItemString(w->base, "wsgi.run_once", Py_False) < 0 ||
        PyDict_SetItemString(w->base, "wsgi.input_terminated", Py_True) < 0 ||
        PyDict_SetItemString(w->base, "wsgi.file_wrapper",
                             (PyObject *)t->file_wrapper) < 0 ||
        PyDict_SetItem(w->base, w->keys[K_ERRORS], w->errors) < 0)
        goto fail;
    v = PyUnicode_FromString(o->server_software);
    if (!v || PyDict_SetItemString(w->base, "SERVER_SOFTWARE", v) < 0) {
        Py_XDECREF(v);
        goto fail;
    }
    Py_DECREF(v);
    v = PyUnicode_DecodeLatin1(script ? script : "", script ? (Py_ssize_t)strlen(script) : 0, NULL);
    if (!v || PyDict_SetItem(w->base, w->keys[K_SCRIPT], v) < 0) {
        Py_XDECREF(v);
        goto fail;
    }
    Py_DECREF(v);
    return w;
fail:
    cu_wsgi_free(w);
    return NULL;
}

void cu_wsgi_free(struct cu_wsgi *w)
{
    if (!w)
        return;
    for (int i = 0; i < N_LISTENER_CACHE; i++) {
        Py_XDECREF(w->lcache[i].name);
        Py_XDECREF(w->lcache[i].port);
    }
    Py_XDECREF(w->app);
    Py_XDECREF(w->base);
    for (int i = 0; i < K_COUNT; i++)
        Py_XDECREF(w->keys[i]);
    Py_XDECREF(w->http);
    Py_XDECREF(w->https);
    Py_XDECREF(w->errors);
    Py_XDECREF(w->sock_class);
    Py_XDECREF(w->sock_close);
    PyMem_Free(w);
}

/* ---- environ -------------------------------------------------------------- */

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

/* HTTP_NAME for a header: upper case, '-' as '_'; repeats joined by ','. */
static int set_header(PyObject *env, const char *buf, const struct http_header *h,
                      PyObject *key_ct, PyObject *key_cl)
{
    char small[256], *k;
    size_t n = h->name.len + 5;
    PyObject *key, *val, *old;
    int rc;

    if (h->id == HTTP_HDR_CONTENT_TYPE || h->id == HTTP_HDR_CONTENT_LENGTH) {
        key = h->id == HTTP_HDR_CONTENT_TYPE ? key_ct : key_cl;
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
            k[5 + i] = ch == '-' ? '_' : (ch >= 'a' && ch <= 'z') ? (char)(ch - 32) : ch;
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

static int set_addr(PyObject *env, PyObject *khost, PyObject *kport,
                    const struct sockaddr *sa, socklen_t len)
{
    char host[128], port[16];
    int p = -1;

    if (cu_sockaddr_text(sa, len, host, sizeof(host), &p) < 0)
        host[0] = '\0';
    if (set_str(env, khost, host, strlen(host)) < 0)
        return -1;
    if (p < 0)
        return 0;
    snprintf(port, sizeof(port), "%d", p);
    return set_str(env, kport, port, strlen(port));
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

/* REMOTE_ADDR/PORT; kept on a connection that keeps objects (gthread):
 * its later requests reuse them. */
static int set_remote(PyObject *env, PyObject *const *k, struct cu_conn *c)
{
    PyObject *host, *port;
    int rc;

    if (c->pyaddr)
        return set_pair(env, k[K_REMOTE_ADDR], k[K_REMOTE_PORT], c->pyaddr, c->pyport);
    if (addr_strings((const struct sockaddr *)&c->peer, c->peerlen, &host, &port) < 0)
        return -1;
    rc = set_pair(env, k[K_REMOTE_ADDR], k[K_REMOTE_PORT], host, port);
    if (c->keeps_objects) {
        c->pyaddr = host;  /* freed by cu_wsgi_conn_free */
        c->pyport = port;
    } else {
        Py_DECREF(host);
        Py_XDECREF(port);
    }
    return rc;
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

/* A UNIX socket has no port: SERVER_NAME and SERVER_PORT come from Host
 * (port 80/443 by scheme when absent), or are the path and "" (§5.12). */
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
    PyObject *v = PyUnicode_FromString(px->protocol);
    int rc;

    if (!v)
        return -1;
    rc = PyDict_SetItemString(env, "PROXY_PROTOCOL", v);
    Py_DECREF(v);
    if (rc < 0 || !px->has_addr)
        return rc;
    v = PyUnicode_FromString(px->dst_addr);
    if (!v || PyDict_SetItemString(env, "PROXY_ADDR", v) < 0) {
        Py_XDECREF(v);
        return -1;
    }
    Py_DECREF(v);
    v = PyUnicode_FromFormat("%u", (unsigned)px->dst_port);
    if (!v || PyDict_SetItemString(env, "PROXY_PORT", v) < 0) {
        Py_XDECREF(v);
        return -1;
    }
    Py_DECREF(v);
    return 0;
}

/* ---- gunicorn.socket ------------------------------------------------------ */

/*
 * The client socket the app gets: a ClientSocket (python/cunicorn/_loader.py)
 * over a dup of c->fd, so that the app's close() or its garbage never
 * closes the worker's fd. The dup shares the open file description, so
 * O_NONBLOCK too: ClientSocket stays in CPython's timeout mode, which leaves
 * the flag set. A new reference, or NULL with an exception.
 */
static PyObject *client_socket(struct cu_wsgi *w, struct cu_conn *c)
{
    int family = c->listener ? c->listener->family : c->peer.ss_family;
    PyObject *args[4] = {NULL, NULL, NULL, NULL}, *sock = NULL;
    int fd;

    if (c->pysock) {  /* kept from the connection's last request */
        sock = c->pysock;
        c->pysock = NULL;
        return sock;
    }
    fd = fcntl(c->fd, F_DUPFD_CLOEXEC, 0);
    if (fd < 0)
        return PyErr_SetFromErrno(PyExc_OSError);
    if ((args[0] = PyLong_FromLong(family)) && (args[1] = PyLong_FromLong(SOCK_STREAM)) &&
        (args[2] = PyLong_FromLong(0)) && (args[3] = PyLong_FromLong(fd)))
        sock = PyObject_Vectorcall(w->sock_class, args, 4, NULL);
    for (int i = 0; i < 4; i++)
        Py_XDECREF(args[i]);
    if (!sock)
        close(fd);  /* a ClientSocket that failed has let go of it */
    return sock;
}

/* The app may have cleared O_NONBLOCK going round ClientSocket's methods
 * (os.set_blocking on its fileno()): the worker's waits need it. */
static void keep_nonblocking(const struct cu_conn *c)
{
    int fl = fcntl(c->fd, F_GETFL);

    if (fl >= 0 && !(fl & O_NONBLOCK) && fcntl(c->fd, F_SETFL, fl | O_NONBLOCK) < 0)
        cu_log(CU_WARNING, "could not make the connection non-blocking again: %s",
               strerror(errno));
}

/* At the end of the request: closes the app's socket object (its dup, if
 * the app has not closed it), whoever still holds it. Steals sock. */
static void release_socket(struct cu_wsgi *w, const struct cu_conn *c, PyObject *sock)
{
    PyObject *r = PyObject_CallOneArg(w->sock_close, sock);

    if (!r)
        cu_report_exception("Error closing gunicorn.socket");
    Py_XDECREF(r);
    Py_DECREF(sock);
    keep_nonblocking(c);
}

/* Whether the app left its socket object open (then it can be kept). */
static int socket_open(PyObject *sock)
{
    PyObject *no = PyObject_CallMethod(sock, "fileno", NULL);
    long fd = no ? PyLong_AsLong(no) : -1;

    Py_XDECREF(no);
    PyErr_Clear();
    return fd >= 0;
}

void cu_wsgi_conn_free(struct cu_wsgi *w, struct cu_conn *c)
{
    PyObject *sock = c->pysock;

    Py_CLEAR(c->pyaddr);
    Py_CLEAR(c->pyport);
    c->pysock = NULL;
    if (sock)
        release_socket(w, c, sock);
}

/* "Error handling request TARGET", for the log, when there is an error. */
static const char *describe(char *what, size_t n, const struct cu_request *q)
{
    const struct http_span t = q->http->target;

    snprintf(what, n, "Error handling request %.*s", (int)(t.len > 200 ? 200 : t.len),
             cu_request_head(q) + t.off);
    return what;
}

static PyObject *build_environ(struct cu_wsgi *w, struct cu_conn *c,
                               const struct http_request *r, const char *b,
                               PyObject *input, PyObject *sock)
{
    PyObject *env = PyDict_Copy(w->base), *const *k = w->keys;
    char proto[16];
    int https = w->is_ssl;

    if (!env)
        return NULL;
    snprintf(proto, sizeof(proto), "HTTP/%u.%u", r->major, r->minor);
    if (set_str(env, k[K_METHOD], b + r->method.off, r->method.len) < 0 ||
        set_script_path(env, w, r, b) < 0 ||
        set_str(env, k[K_QUERY], b + r->query.off, r->query.len) < 0 ||
        set_str(env, k[K_RAW_URI], b + r->target.off, r->target.len) < 0 ||
        set_str(env, k[K_PROTOCOL], proto, strlen(proto)) < 0 ||
        PyDict_SetItem(env, k[K_INPUT], input) < 0 ||
        PyDict_SetItem(env, k[K_SOCKET], sock) < 0)
        goto fail;
    for (uint32_t i = 0; i < r->n_headers; i++)
        if (set_header(env, b, &r->headers[i], k[K_CONTENT_TYPE],
                       k[K_CONTENT_LENGTH]) < 0)
            goto fail;
    if (c->has_proxy && c->proxy.has_addr) {
        /* the PROXY header names the client (§5.10) */
        char port[16];
        snprintf(port, sizeof(port), "%u", c->proxy.src_port);
        if (set_str(env, k[K_REMOTE_ADDR], c->proxy.src_addr, strlen(c->proxy.src_addr)) < 0 ||
            set_str(env, k[K_REMOTE_PORT], port, strlen(port)) < 0)
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

/* ---- the response --------------------------------------------------------- */

struct resp {
    struct cu_conn *c;
    const struct http_request *r;
    const struct cu_wsgi_types *types;
    int must_close, head, no_body, chunked;
    int upgrade;              /* the app said "Connection: upgrade" */
    int timed_out;            /* the app raised RequestTimeout */
    const struct cu_request *q;
    int headers_set, headers_sent, failed;
    int status;
    int64_t length;           /* Content-Length the app set, -1 if none */
    uint64_t sent;            /* body bytes written */
    char *block;              /* "200 OK" then "Name: value\r\n"... */
    size_t blen, bcap, status_len;
};

static int block_add(struct resp *p, const char *s, size_t n)
{
    if (p->blen + n > p->bcap) {
        size_t cap = p->bcap ? p->bcap * 2 : 1024;
        char *q;
        while (cap < p->blen + n)
            cap *= 2;
        q = PyMem_Realloc(p->block, cap);
        if (!q) {
            PyErr_NoMemory();
            return -1;
        }
        p->block = q;
        p->bcap = cap;
    }
    memcpy(p->block + p->blen, s, n);
    p->blen += n;
    return 0;
}

/* "\r\nServer: cunicorn\r\nDate: ...\r\nConnection: X\r\n" for X =
 * keep-alive, close, upgrade; rebuilt when the second changes. Only used
 * with the GIL held. */
struct fixed {
    time_t at;
    char text[3][128];
    size_t len[3];
};

static const char *http_date(void);

static const struct fixed *fixed_head(void)
{
    static struct fixed f;
    static const char *const conn[3] = {"keep-alive", "close", "upgrade"};
    time_t now = time(NULL);

    if (now != f.at) {
        const char *date = http_date();
        for (int i = 0; i < 3; i++) {
            int n = snprintf(f.text[i], sizeof(f.text[i]),
                             "\r\nServer: cunicorn\r\nDate: %s\r\nConnection: %s\r\n",
                             date, conn[i]);
            f.len[i] = n > 0 ? (size_t)n : 0;
        }
        f.at = now;
    }
    return &f;
}

static const char *http_date(void)
{
    static char date[64];
    static time_t cached;
    time_t now = time(NULL);
    struct tm tm;

    if (now != cached && gmtime_r(&now, &tm)) {
        strftime(date, sizeof(date), "%a, %d %b %Y %H:%M:%S GMT", &tm);
        cached = now;
    }
    return date;
}

/*
 * The latin-1 bytes of a str, in place: a str whose characters are all
 * below 256 is stored one byte per character. NULL with a TypeError for a
 * non-str; NULL without an exception for text beyond latin-1.
 */
static const char *latin1_bytes(PyObject *s, Py_ssize_t *n)
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
 * Checks and encodes one (name, value) pair into the header block, as
 * Gunicorn does (§5.13): the name a token (else InvalidHeaderName), the
 * value SP, HTAB, 0x21-0x7E and 0x80-0xFF only (else InvalidHeader: a CR
 * or LF from the app never reaches the wire), then trimmed of SP and HTAB.
 * Hop-by-hop names are dropped, except that "Connection: upgrade" makes
 * the server's own Connection header say upgrade, and "Upgrade: websocket"
 * is kept.
 */
static int add_header(struct resp *p, PyObject *item)
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
    if (!(name = latin1_bytes(pn, &nl)) && PyErr_Occurred())
        return -1;
    for (Py_ssize_t i = 0; name && i < nl; i++)
        if (!http_tchar[(unsigned char)name[i]])
            name = NULL;
    if (!name || nl == 0)
        return header_error(p->types->invalid_header_name, "Invalid HTTP header name", pn);
    if (!(value = latin1_bytes(pv, &vl)) && PyErr_Occurred())
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
        p->length = v;
        /* 1xx and 204 responses have no length (§5.13) */
        if ((p->status >= 100 && p->status < 200) || p->status == 204)
            return 0;
    }
    return block_add(p, name, (size_t)nl) || block_add(p, ": ", 2) ||
           block_add(p, value, (size_t)vl) || block_add(p, "\r\n", 2) ? -1 : 0;
}

/* start_response(status, headers): fills p's header block. */
static int fill_headers(struct resp *p, PyObject *status, PyObject *headers);

/* A failed call leaves the headers of an earlier one as they were. */
static int set_headers(struct resp *p, PyObject *status, PyObject *headers)
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

static int fill_headers(struct resp *p, PyObject *status, PyObject *headers)
{
    PyObject *seq;
    const char *s;
    Py_ssize_t n = 0;

    if (!(s = latin1_bytes(status, &n)) && PyErr_Occurred())
        return -1;
    if (!s || n < 3 || s[0] < '1' || s[0] > '9' || s[1] < '0' || s[1] > '9' ||
        s[2] < '0' || s[2] > '9' || (n > 3 && s[3] != ' ') ||
        memchr(s, '\r', (size_t)n) || memchr(s, '\n', (size_t)n)) {
        PyErr_Format(PyExc_ValueError, "invalid status %R", status);
        return -1;
    }
    p->status = (s[0] - '0') * 100 + (s[1] - '0') * 10 + (s[2] - '0');
    p->length = -1;
    p->upgrade = 0;
    /* the block: the status text, then the app's headers (§5.13 order is
     * status line, Server, Date, Connection, Transfer-Encoding, the app's) */
    p->blen = 0;
    if (block_add(p, s, (size_t)n) < 0)
        return -1;
    p->status_len = (size_t)n;
    seq = PySequence_Fast(headers, "headers must be a list of (name, value) tuples");
    if (!seq)
        return -1;
    for (Py_ssize_t i = 0; i < PySequence_Fast_GET_SIZE(seq); i++)
        if (add_header(p, PySequence_Fast_GET_ITEM(seq, i)) < 0) {
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

/* After a write done without the GIL: a failure marks the response. */
static int io_done(struct resp *p, int rc, int err)
{
    if (rc < 0) {
        p->failed = 1;
        errno = err;
        PyErr_SetFromErrno(PyExc_OSError);
    }
    return rc;
}

/* Writes iov with the GIL dropped. */
static int send_iov(struct resp *p, struct iovec *iov, int n)
{
    int rc, err;

    Py_BEGIN_ALLOW_THREADS
    rc = cu_conn_writev(p->c, iov, n);
    err = errno;
    Py_END_ALLOW_THREADS
    return io_done(p, rc, err);
}

/* Sends data (maybe empty), with the head first if it has not gone yet. */
static int send_data(struct resp *p, const char *data, size_t n)
{
    struct iovec iov[10];
    char size[32], line[32], fixed[128];
    int k = 0, len;

    if (p->no_body)
        n = 0;
    if (p->length >= 0 && (uint64_t)p->length - p->sent < n)
        n = (size_t)((uint64_t)p->length - p->sent);  /* truncate (§5.13) */
    if (!p->headers_sent) {
        /* every response: the fixed part is built once a second (the
         * date), not formatted each time */
        const struct fixed *f = fixed_head();
        int conn = p->upgrade ? 2 : p->must_close ? 1 : 0;
        if (p->r->major == 1 && p->r->minor <= 1) {
            iov[k].iov_base = (void *)(uintptr_t)(p->r->minor ? "HTTP/1.1 " : "HTTP/1.0 ");
            iov[k++].iov_len = 9;
        } else {
            len = snprintf(line, sizeof(line), "HTTP/%u.%u ", p->r->major, p->r->minor);
            iov[k].iov_base = line;
            iov[k++].iov_len = (size_t)len;
        }
        iov[k].iov_base = p->block;
        iov[k++].iov_len = p->status_len;
        /* a copy: the write runs without the GIL, while another thread
         * may rebuild f */
        memcpy(fixed, f->text[conn], f->len[conn]);
        iov[k].iov_base = fixed;
        iov[k++].iov_len = f->len[conn];
        if (p->chunked) {
            iov[k].iov_base = (void *)"Transfer-Encoding: chunked\r\n";
            iov[k++].iov_len = 28;
        }
        iov[k].iov_base = p->block + p->status_len;
        iov[k++].iov_len = p->blen - p->status_len;
        iov[k].iov_base = (void *)"\r\n";
        iov[k++].iov_len = 2;
        p->headers_sent = 1;
    }
    if (n && p->chunked) {
        len = snprintf(size, sizeof(size), "%zx\r\n", n);
        iov[k].iov_base = size;
        iov[k++].iov_len = (size_t)len;
    }
    if (n) {
        iov[k].iov_base = (void *)(uintptr_t)data;
        iov[k++].iov_len = n;
        if (p->chunked) {
            iov[k].iov_base = (void *)"\r\n";
            iov[k++].iov_len = 2;
        }
    }
    p->sent += n;
    return k ? send_iov(p, iov, k) : 0;
}

static int finish(struct resp *p)
{
    struct iovec iov = {(void *)"0\r\n\r\n", 5};

    if (!p->headers_sent && send_data(p, NULL, 0) < 0)
        return -1;
    if (p->chunked)
        return send_iov(p, &iov, 1);
    return 0;
}

/* The 500 answer when the app fails before its headers went out. */
static int send_500(struct resp *p)
{
    static const char msg[] =
        "HTTP/1.1 500 Internal Server Error\r\nConnection: close\r\n"
        "Content-Type: text/html\r\nContent-Length: 141\r\n\r\n"
        "<html>\n  <head>\n    <title>Internal Server Error</title>\n  </head>\n"
        "  <body>\n    <h1><p>Internal Server Error</p></h1>\n    \n  </body>\n</html>\n";
    struct iovec iov = {(void *)msg, sizeof(msg) - 1};

    p->status = 500;
    p->headers_sent = 1;
    return send_iov(p, &iov, 1);
}

/* --request-timeout, when the app was stopped before its head went out. */
static int send_504(struct resp *p)
{
    struct iovec iov = {(void *)(uintptr_t)cu_page_504, cu_page_504_len};

    p->status = 504;
    p->headers_sent = 1;
    return send_iov(p, &iov, 1);
}

/*
 * Gunicorn's 400 for a bad response header (§5.9): its error page, with
 * the exception's text HTML-escaped as the message. Characters beyond
 * latin-1 go out as character references (Gunicorn's latin-1 encoding
 * would fail, and it would send nothing).
 */
static int send_400(struct resp *p, PyObject *mesg)
{
    static const char top[] =
        "<html>\n  <head>\n    <title>Bad Request</title>\n  </head>\n"
        "  <body>\n    <h1><p>Bad Request</p></h1>\n    ";
    static const char end[] = "\n  </body>\n</html>\n";
    PyObject *html = PyImport_ImportModule("html"), *esc = NULL, *bytes = NULL;
    struct iovec iov[4];
    char head[160];
    size_t n = 0;
    int rc;

    if (html && (esc = PyObject_CallMethod(html, "escape", "O", mesg)))
        bytes = PyUnicode_AsEncodedString(esc, "latin-1", "xmlcharrefreplace");
    Py_XDECREF(html);
    Py_XDECREF(esc);
    if (!bytes)
        PyErr_Clear();  /* the page without its message */
    else
        n = (size_t)PyBytes_GET_SIZE(bytes);
    iov[0].iov_base = head;
    iov[0].iov_len = (size_t)snprintf(head, sizeof(head),
                                      "HTTP/1.1 400 Bad Request\r\nConnection: close\r\n"
                                      "Content-Type: text/html\r\nContent-Length: %zu\r\n\r\n",
                                      sizeof(top) - 1 + n + sizeof(end) - 1);
    iov[1].iov_base = (void *)top;
    iov[1].iov_len = sizeof(top) - 1;
    iov[2].iov_base = bytes ? PyBytes_AS_STRING(bytes) : (char *)"";
    iov[2].iov_len = n;
    iov[3].iov_base = (void *)end;
    iov[3].iov_len = sizeof(end) - 1;
    p->status = 400;
    p->headers_sent = 1;
    rc = send_iov(p, iov, 4);
    Py_XDECREF(bytes);
    return rc;
}

/* ---- start_response ------------------------------------------------------- */

struct start_response {
    PyObject_HEAD
    struct resp *resp;   /* NULL once the request is over */
};

static PyObject *sr_call(PyObject *self, PyObject *args, PyObject *kw)
{
    struct resp *p = ((struct start_response *)self)->resp;
    static char *kwlist[] = {"status", "headers", "exc_info", NULL};
    PyObject *status, *headers, *exc_info = Py_None;

    if (!PyArg_ParseTupleAndKeywords(args, kw, "OO|O:start_response", kwlist,
                                     &status, &headers, &exc_info))
        return NULL;
    if (!p) {
        PyErr_SetString(PyExc_RuntimeError, "start_response after the request ended");
        return NULL;
    }
    if (exc_info != Py_None) {
        if (p->headers_sent) {
            /* too late to change the status: re-raise (PEP 3333) */
            PyObject *t, *v, *tb;
            if (!PyTuple_Check(exc_info) || PyTuple_GET_SIZE(exc_info) != 3) {
                PyErr_SetString(PyExc_TypeError, "exc_info must be a 3-tuple");
                return NULL;
            }
            v = PyTuple_GET_ITEM(exc_info, 1);
            tb = PyTuple_GET_ITEM(exc_info, 2);
            if (!PyExceptionInstance_Check(v)) {
                PyErr_SetString(PyExc_TypeError,
                                "exc_info must hold an exception (sys.exc_info())");
                return NULL;
            }
            t = (PyObject *)Py_TYPE(v);
            Py_INCREF(t);
            Py_INCREF(v);
            if (PyTraceBack_Check(tb))
                Py_INCREF(tb);
            else
                tb = NULL;
            PyErr_Restore(t, v, tb);
            return NULL;
        }
    } else if (p->headers_set) {
        PyErr_SetString(PyExc_AssertionError, "Response headers already set!");
        return NULL;
    }
    if (set_headers(p, status, headers) < 0)
        return NULL;
    return PyObject_GetAttrString(self, "write");
}

/* The write() callable start_response returns. */
static PyObject *sr_write(PyObject *self, PyObject *data)
{
    struct resp *p = ((struct start_response *)self)->resp;
    Py_buffer view;
    int rc;

    if (!p || !p->headers_set) {
        PyErr_SetString(PyExc_RuntimeError, "write() before start_response()");
        return NULL;
    }
    if (!PyBytes_Check(data)) {
        PyErr_Format(PyExc_TypeError, "write() argument must be bytes, not %.50s",
                     Py_TYPE(data)->tp_name);
        return NULL;
    }
    if (PyObject_GetBuffer(data, &view, PyBUF_SIMPLE) < 0)
        return NULL;
    rc = send_data(p, view.buf, (size_t)view.len);
    PyBuffer_Release(&view);
    if (rc < 0)
        return NULL;
    Py_RETURN_NONE;
}

/* wsgi.early_hints(headers): a 103 before the response (§5.12); a no-op
 * on HTTP/1.0 or once the response head has gone out. */
static PyObject *sr_early_hints(PyObject *self, PyObject *headers)
{
    struct resp *p = ((struct start_response *)self)->resp;
    struct resp hints;
    struct iovec iov[2];
    PyObject *seq;
    int rc = 0;

    if (!p || p->headers_sent || !(p->r->major > 1 || p->r->minor >= 1))
        Py_RETURN_NONE;
    memset(&hints, 0, sizeof(hints));
    hints.r = p->r;
    hints.types = p->types;
    hints.status = 103;
    seq = PySequence_Fast(headers, "early hints must be a list of (name, value) tuples");
    if (!seq)
        return NULL;
    for (Py_ssize_t i = 0; i < PySequence_Fast_GET_SIZE(seq) && rc == 0; i++)
        rc = add_header(&hints, PySequence_Fast_GET_ITEM(seq, i));
    Py_DECREF(seq);
    if (rc == 0) {
        iov[0].iov_base = (void *)"HTTP/1.1 103 Early Hints\r\n";
        iov[0].iov_len = 26;
        iov[1].iov_base = hints.block ? hints.block : (char *)"";
        iov[1].iov_len = hints.blen;
        if (block_add(&hints, "\r\n", 2) < 0) {
            rc = -1;
        } else {
            iov[1].iov_base = hints.block;
            iov[1].iov_len = hints.blen;
            rc = send_iov(p, iov, 2);
        }
    }
    PyMem_Free(hints.block);
    if (rc < 0)
        return NULL;
    Py_RETURN_NONE;
}

static PyMethodDef sr_methods[] = {
    {"write", sr_write, METH_O, "write(bytes): send body bytes now."},
    {"early_hints", sr_early_hints, METH_O,
     "early_hints(headers): send a 103 Early Hints response first."},
    {NULL, NULL, 0, NULL},
};

static PyType_Slot sr_slots[] = {
    {Py_tp_dealloc, (void *)cu_plain_dealloc},
    {Py_tp_call, (void *)sr_call},
    {Py_tp_methods, sr_methods},
    {Py_tp_doc, (void *)"start_response(status, headers, exc_info=None)"},
    {0, NULL},
};

PyType_Spec cu_start_response_spec = {
    "cunicorn._cunicorn.StartResponse", sizeof(struct start_response), 0,
    Py_TPFLAGS_DEFAULT, sr_slots,
};

/* ---- one request ---------------------------------------------------------- */

static int call_close(PyObject *result)
{
    PyObject *r;

    /* the usual results have no close(): no failed lookup (and no
     * AttributeError made and dropped) for them */
    if (PyList_CheckExact(result) || PyTuple_CheckExact(result) ||
        PyBytes_CheckExact(result) || !PyObject_HasAttrString(result, "close"))
        return 0;
    r = PyObject_CallMethod(result, "close", NULL);
    if (!r)
        return -1;
    Py_DECREF(r);
    return 0;
}

/*
 * A wsgi.file_wrapper over a real file goes out with sendfile(2) (§5.13):
 * from the file's offset, Content-Length bytes or to the end, as one chunk
 * when chunked; the offset is restored. Returns 1 when it does not apply
 * (iterate instead), 0 when sent, -1 on error.
 */
static int send_file(struct resp *p, PyObject *result)
{
    struct cu_file_wrapper *fw = (struct cu_file_wrapper *)result;
    PyObject *no = fw->filelike ? PyObject_CallMethod(fw->filelike, "fileno", NULL) : NULL;
    struct stat st;
    off_t off;
    size_t n;
    int fd, rc, err;

    if (!no) {
        PyErr_Clear();
        return 1;
    }
    fd = (int)PyLong_AsLong(no);
    Py_DECREF(no);
    if (fd < 0 || PyErr_Occurred() || fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) ||
        (off = lseek(fd, 0, SEEK_CUR)) < 0 || !p->headers_set) {
        PyErr_Clear();
        return 1;
    }
    /* data the file object has buffered ahead would be skipped */
    n = st.st_size > off ? (size_t)(st.st_size - off) : 0;
    if (p->length >= 0 && (uint64_t)p->length - p->sent < n)
        n = (size_t)((uint64_t)p->length - p->sent);
    if (p->no_body)
        n = 0;
    cu_conn_whole(p->c);  /* the file is the rest of the response */
    if (send_data(p, NULL, 0) < 0)  /* the head */
        return -1;
    if (n) {
        char size[32];
        struct iovec iov = {size, 0};
        if (p->chunked) {
            iov.iov_len = (size_t)snprintf(size, sizeof(size), "%zx\r\n", n);
            if (send_iov(p, &iov, 1) < 0)
                return -1;
        }
        Py_BEGIN_ALLOW_THREADS
        rc = cu_conn_sendfile(p->c, fd, off, n);
        err = errno;
        Py_END_ALLOW_THREADS
        if (io_done(p, rc, err) < 0)
            return -1;
        p->sent += n;
        if (p->chunked) {
            iov.iov_base = (void *)"\r\n";
            iov.iov_len = 2;
            if (send_iov(p, &iov, 1) < 0)
                return -1;
        }
    }
    return finish(p);
}

/* Iterates the app's result onto the wire. */
static int send_result(struct resp *p, PyObject *result, int sendfile_ok)
{
    PyObject *it, *item;

    /* the whole response is in hand: a worker with a poller may finish
     * sending it there, instead of in a thread that waits */
    if (PyList_CheckExact(result) || PyTuple_CheckExact(result))
        cu_conn_whole(p->c);
    if (sendfile_ok) {
        int rc = send_file(p, result);
        if (rc <= 0)
            return rc;
    }
    it = PyObject_GetIter(result);
    if (!it)
        return -1;
    while ((item = PyIter_Next(it))) {
        int rc;
        if (!PyBytes_Check(item)) {
            PyErr_Format(PyExc_TypeError, "the app must yield bytes, not %.50s",
                         Py_TYPE(item)->tp_name);
            Py_DECREF(item);
            Py_DECREF(it);
            return -1;
        }
        if (!p->headers_set) {
            PyErr_SetString(PyExc_RuntimeError, "the app yielded data before start_response()");
            Py_DECREF(item);
            Py_DECREF(it);
            return -1;
        }
        /* empty items are skipped: never a premature last chunk */
        rc = PyBytes_GET_SIZE(item) || !p->headers_sent
                 ? send_data(p, PyBytes_AS_STRING(item), (size_t)PyBytes_GET_SIZE(item))
                 : 0;
        Py_DECREF(item);
        if (rc < 0) {
            Py_DECREF(it);
            return -1;
        }
    }
    Py_DECREF(it);
    if (PyErr_Occurred())
        return -1;
    if (!p->headers_set) {
        PyErr_SetString(PyExc_RuntimeError, "the app returned without calling start_response()");
        return -1;
    }
    return finish(p);
}

/*
 * The app (or its iterable) raised: says so once. A bad response header
 * that stops the response before its head went out is answered 400, as
 * Gunicorn's handle_error does: one warning, no traceback, and the
 * exception's text kept for the page (*mesg). Anything else: the traceback.
 */
static void app_failed(struct resp *p, const char *what, PyObject **mesg)
{
    PyObject *t, *v, *tb;
    char host[128];
    int port;

    if (PyErr_ExceptionMatches(p->types->request_timeout)) {
        static const char pre[] = "Request timeout (--request-timeout): ";
        char line[sizeof(pre) + 256];
        memcpy(line, pre, sizeof(pre) - 1);
        cu_request_line(p->q, line + sizeof(pre) - 1, 256);
        p->timed_out = 1;
        cu_report_exception(line);
        return;
    }
    if (p->headers_sent || (!PyErr_ExceptionMatches(p->types->invalid_header) &&
                            !PyErr_ExceptionMatches(p->types->invalid_header_name))) {
        cu_report_exception(what);
        return;
    }
    PyErr_Fetch(&t, &v, &tb);
    PyErr_NormalizeException(&t, &v, &tb);
    *mesg = v ? PyObject_Str(v) : PyUnicode_FromString("");
    if (*mesg) {
        const char *m = PyUnicode_AsUTF8(*mesg);
        if (cu_sockaddr_text((const struct sockaddr *)&p->c->peer, p->c->peerlen, host,
                             sizeof(host), &port) < 0)
            host[0] = '\0';
        cu_log(CU_WARNING, "Invalid request from ip=%s: %s", host, m ? m : "");
    }
    PyErr_Clear();
    Py_XDECREF(t);
    Py_XDECREF(v);
    Py_XDECREF(tb);
}

/* The answer when the response failed before its head went out: none for
 * a body framing error, the error's page for a bad trailer, 400 for a bad
 * response header (mesg: its text), else 500. */
static void answer_error(struct resp *p, struct cu_body *b, PyObject *mesg)
{
    if (b->error && !p->headers_sent && !p->failed) {
        /* the body was bad: a framing error closes without a word, a bad
         * trailer gets its 400 (Gunicorn), never a 500 */
        const struct http_error_info *e = http_error_info(b->error);
        int rc;
        p->status = e->respond ? e->status : 0;
        p->headers_sent = 1;
        Py_BEGIN_ALLOW_THREADS
        rc = cu_conn_send_error(p->c, b->error);
        Py_END_ALLOW_THREADS
        if (rc < 0)
            p->failed = 1;
    }
    if (!p->headers_sent && !p->failed &&
        (p->timed_out ? send_504(p) : mesg ? send_400(p, mesg) : send_500(p)) < 0)
        PyErr_Clear();  /* the client is gone */
    p->must_close = 1;
}

int cu_wsgi_serve(struct cu_wsgi *w, struct cu_request *q, PyObject **environ)
{
    struct cu_conn *c = q->conn;
    const struct http_request *r = q->http;
    const char *head = cu_request_head(q);  /* until the body is read */
    struct cu_body *b = q->body;
    struct resp p;
    struct start_response *sr = NULL;
    PyObject *input, *sock = NULL, *env = NULL, *result = NULL, *mesg = NULL;
    char what[300];
    int ok = -1, kept;

    memset(&p, 0, sizeof(p));
    p.c = c;
    p.r = r;
    p.q = q;
    p.types = w->types;
    p.must_close = q->must_close;
    p.head = r->method.len == 4 && memcmp(head + r->method.off, "HEAD", 4) == 0;
    what[0] = '\0';
    input = cu_input_new(w->types->input, c, b);
    if (!input || !(sock = client_socket(w, c)) ||
        !(env = build_environ(w, c, r, head, input, sock)))
        goto fail;
    if (r->flags & HTTP_REQ_EXPECT_CONTINUE) {
        struct iovec iov = {(void *)"HTTP/1.1 100 Continue\r\n\r\n", 25};
        if (send_iov(&p, &iov, 1) < 0)
            goto fail;
    }
    sr = PyObject_New(struct start_response, w->types->start_response);
    if (!sr)
        goto fail;
    sr->resp = &p;
    {
        PyObject *hints = PyObject_GetAttrString((PyObject *)sr, "early_hints");
        if (!hints || PyDict_SetItemString(env, "wsgi.early_hints", hints) < 0) {
            Py_XDECREF(hints);
            goto fail;
        }
        Py_DECREF(hints);
    }
    result = PyObject_CallFunctionObjArgs(w->app, env, (PyObject *)sr, NULL);
    keep_nonblocking(c);
    if (!result)
        goto fail;
    ok = send_result(&p, result, w->sendfile &&
                     PyObject_TypeCheck(result, w->types->file_wrapper));
    if (ok < 0 && !p.failed && !b->error)
        app_failed(&p, describe(what, sizeof(what), q), &mesg);
    PyErr_Clear();
    /* close() on every path (PEP 3333) */
    if (call_close(result) < 0) {
        cu_report_exception(describe(what, sizeof(what), q));
        ok = -1;
    }
    if (ok == 0)
        goto done;
    goto answer;
fail:
    if (b->error)  /* the client's fault: one line, no traceback */
        cu_log(CU_WARNING, "Invalid request body: %s", http_error_info(b->error)->name);
    else if (PyErr_Occurred() && !p.failed)
        app_failed(&p, describe(what, sizeof(what), q), &mesg);
    PyErr_Clear();
answer:
    answer_error(&p, b, mesg);
    ok = p.failed ? -1 : 0;
done:
    if (sr)
        sr->resp = NULL;
    if (input)
        cu_input_detach(input);
    /* Ours: after a 101 the connection speaks another protocol, so no
     * keep-alive worker may read an HTTP request from it (Gunicorn's
     * should_close() does not look at the upgrade) */
    if (p.status == 101)
        p.must_close = 1;
    kept = sock && !p.must_close && c->keeps_objects && socket_open(sock);
    if (kept)  /* the next request on c gets the same socket object */
        c->pysock = sock;
    else if (sock)
        release_socket(w, c, sock);
    Py_XDECREF((PyObject *)sr);
    Py_XDECREF(input);
    if (environ)
        *environ = env;  /* the caller's now */
    else
        Py_XDECREF(env);
    Py_XDECREF(result);
    Py_XDECREF(mesg);
    PyMem_Free(p.block);
    q->out.status = p.status;
    q->out.bytes = p.sent;
    q->out.close = p.must_close;
    return ok;
}
