/*
 * gunicorn.socket: the client socket as the app sees it. A ClientSocket
 * over a dup of the connection's fd, made per request, or kept on a
 * connection that keeps objects (gthread) for its next request; closed at
 * the end of the request otherwise, and by cu_wsgi_conn_free before the
 * connection closes.
 */
#include "wsgi/internal.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <unistd.h>

#include "core/log.h"
#include "net/tls.h"
#include "wsgi/report.h"

/* What gunicorn.socket is made with: the class, and the close() of
 * _socket.socket, which closes the fd whoever holds the object. */
int cu_socket_class(struct cu_wsgi *w)
{
    PyObject *m = PyImport_ImportModule("cunicorn._loader");

    if (!m)
        return -1;
    w->sock_class = PyObject_GetAttrString(m, w->is_ssl ? "TLSClientSocket" : "ClientSocket");
    Py_DECREF(m);
    if (!w->sock_class || !(m = PyImport_ImportModule("_socket")))
        return -1;
    w->sock_close = PyObject_GetAttrString(m, "socket");
    Py_DECREF(m);
    if (w->sock_close)
        Py_SETREF(w->sock_close, PyObject_GetAttrString(w->sock_close, "close"));
    return w->sock_close ? 0 : -1;
}

/* What a TLSClientSocket says of its connection: the client's certificate
 * (DER, or None), cipher() as ssl's (name, protocol, bits), version(). 0,
 * or -1 with an exception. */
static int set_tls(PyObject *sock, const struct cu_conn *c)
{
    unsigned char *der;
    int bits, n = cu_tls_peer_cert(c->tls, &der);
    const char *name = cu_tls_cipher(c->tls, &bits), *version = cu_tls_version(c->tls);
    PyObject *r;

    if (n < 0) {
        PyErr_NoMemory();
        return -1;
    }
    if (name)
        r = PyObject_CallMethod(sock, "_set_tls", "y#(ssi)s", (const char *)der,
                                (Py_ssize_t)n, name, version, bits, version);
    else
        r = PyObject_CallMethod(sock, "_set_tls", "y#Os", (const char *)der, (Py_ssize_t)n,
                                Py_None, version);
    free(der);
    Py_XDECREF(r);
    return r ? 0 : -1;
}

/*
 * The client socket the app gets: a ClientSocket (python/cunicorn/_loader.py)
 * over a dup of c->fd, so that the app's close() or its garbage never
 * closes the worker's fd. The dup shares the open file description, so
 * O_NONBLOCK too: ClientSocket stays in CPython's timeout mode, which leaves
 * the flag set (and if the app clears it, cu_keep_nonblocking). A new reference, or NULL with an exception.
 */
PyObject *cu_socket_get(struct cu_wsgi *w, struct cu_conn *c)
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
    else if (c->tls && set_tls(sock, c) < 0)
        Py_CLEAR(sock);
    return sock;
}

/* The app may have cleared O_NONBLOCK going round ClientSocket's methods
 * (os.set_blocking on its fileno()). A plain connection's reads and
 * writes pass MSG_DONTWAIT, and its sendfile looks for itself, so only
 * OpenSSL's and a vt's (HTTP/2) need the flag back: no fcntl per request
 * on a plain one. */
void cu_keep_nonblocking(const struct cu_conn *c)
{
    if (c->tls || c->vt)
        cu_conn_keep_nonblocking(c);
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
    cu_keep_nonblocking(c);
}

/* Whether the app left its socket object open (then it can be kept). */
static int socket_open(const struct cu_wsgi *w, PyObject *sock)
{
    PyObject *no = PyObject_CallMethodNoArgs(sock, w->keys[K_FILENO]);
    long fd = no ? PyLong_AsLong(no) : -1;

    Py_XDECREF(no);
    PyErr_Clear();
    return fd >= 0;
}

void cu_socket_done(struct cu_wsgi *w, struct cu_conn *c, PyObject *sock, int may_keep)
{
    if (!sock)
        return;
    if (may_keep && c->keeps_objects && socket_open(w, sock))
        c->pysock = sock;  /* the next request on c gets the same socket object */
    else
        release_socket(w, c, sock);
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
