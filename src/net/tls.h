/*
 * TLS under a connection, with OpenSSL (docs/compat.md, TLS). Plain C.
 *
 * The master builds one context from the settings (cu_tls_new) before it
 * forks, so every file error stops the start and the workers share the
 * session ticket keys; a HUP builds a new one for the new workers. Each
 * worker makes one cu_tls_conn per accepted connection and reads and
 * writes through it. Nothing here blocks: a call that cannot go on
 * returns -1 with errno EAGAIN and says in *want which readiness of the
 * socket (POLLIN or POLLOUT) it waits for.
 */
#ifndef CU_NET_TLS_H
#define CU_NET_TLS_H

#include <stddef.h>
#include <sys/types.h>

/* The settings a context is built from (Gunicorn's SSL section). */
struct cu_tls_opts {
    const char *certfile;   /* PEM: the certificate (its chain after it),
                             * and the key too when keyfile is NULL */
    const char *keyfile;    /* PEM: the private key; NULL: in certfile */
    const char *ca_certs;   /* PEM: the authorities client certificates are
                             * checked against; NULL: the system's */
    const char *ciphers;    /* an OpenSSL cipher list (TLS 1.2); NULL:
                             * Python's default list, as Gunicorn has */
    int cert_reqs;          /* 0 none, 1 optional, 2 required */
    const char *ocsp_response;  /* ours: a DER OCSP response for the
                                 * certificate, stapled; NULL: none */
    int suppress_ragged_eofs;  /* an EOF without close_notify is an end */
    /* ALPN (http_protocols): the protocols offered, in the server's
     * order of preference, in ALPN's wire form ("\x02h2\x08http/1.1");
     * NULL or empty: no ALPN, HTTP/1.1 is spoken */
    const unsigned char *alpn;
    size_t alpn_len;
    /* proxy_protocol (docs/compat.md, PROXY protocol): a PROXY header may
     * come in the clear ahead of the handshake, from a peer in
     * proxy_allow. 0: none is looked for. Kept for the connections
     * (cu_tls_proxy); proxy_allow must outlive the context. */
    int proxy;
    const struct cu_allow *proxy_allow;
};

struct cu_allow;
struct cu_tls;       /* a context: the certificate, the policy, the caches */
struct cu_tls_conn;  /* one connection's TLS state */

/*
 * Builds a context. NULL, with one line naming the setting in err: a
 * file missing or unreadable or not PEM, a key that does not match the
 * certificate, a cipher list that selects nothing, cert_reqs out of
 * 0..2, keyfile without certfile, an OCSP response file that is not
 * one, or not a successful one.
 */
struct cu_tls *cu_tls_new(const struct cu_tls_opts *o, char *err, size_t errlen);
void cu_tls_free(struct cu_tls *t);

/* The context's proxy and proxy_allow (struct cu_tls_opts). */
int cu_tls_proxy(const struct cu_tls *t, const struct cu_allow **allow);

/* A server-side TLS state over the connected socket fd (not owned).
 * NULL: out of memory. */
struct cu_tls_conn *cu_tls_conn_new(struct cu_tls *t, int fd);
/* Sends close_notify when the handshake was done (once, never waiting). */
void cu_tls_notify(struct cu_tls_conn *s);
/* cu_tls_notify, and frees s. NULL is fine. */
void cu_tls_conn_free(struct cu_tls_conn *s);
/* What the last TLS error of s was, in OpenSSL's words ("wrong version
 * number", "no shared cipher"), for the log. */
const char *cu_tls_error(const struct cu_tls_conn *s);
/* Sets what cu_tls_error says (a static string): a connection refused
 * before OpenSSL saw a byte of it. */
void cu_tls_refused(struct cu_tls_conn *s, const char *why);

/* One step of the handshake: 0 when done, -1 with errno EAGAIN (*want
 * set), or -1 with errno EPROTO (a TLS error: not TLS, no protocol or
 * cipher in common, a refused client certificate), ECONNRESET (the peer
 * left) or another socket error. */
int cu_tls_handshake(struct cu_tls_conn *s, short *want);

/* Like recv(2): bytes read (the handshake first, if it is not done), 0
 * at the peer's end (close_notify; or a TCP end without it, when
 * suppress_ragged_eofs), or -1 with errno (EAGAIN with *want; EPROTO;
 * ECONNRESET, which a ragged end is without suppress_ragged_eofs). */
ssize_t cu_tls_read(struct cu_tls_conn *s, void *buf, size_t n, short *want);
/* Like send(2): bytes written (> 0), or -1 with errno as cu_tls_read. A
 * call after EAGAIN must offer the same bytes again (from anywhere), at
 * least as many. */
ssize_t cu_tls_write(struct cu_tls_conn *s, const void *buf, size_t n, short *want);
/* Decrypted bytes waiting inside s: the socket may not be readable while
 * cu_tls_read would still return some. */
int cu_tls_pending(const struct cu_tls_conn *s);

/* What the application may ask about the connection once the handshake
 * is done: the client's certificate (DER, in *der, which the caller
 * frees; 0 when none was sent; -1 out of memory), the protocol ("TLSv1.3")
 * and the cipher (name, secret bits). */
int cu_tls_peer_cert(const struct cu_tls_conn *s, unsigned char **der);
const char *cu_tls_version(const struct cu_tls_conn *s);
const char *cu_tls_cipher(const struct cu_tls_conn *s, int *bits);
/* Whether ALPN chose h2 in the handshake (0 before it is done). */
int cu_tls_alpn_h2(const struct cu_tls_conn *s);
/* s's OpenSSL SSL object, for tls_info.c. */
void *cu_tls_ssl(const struct cu_tls_conn *s);

#endif
