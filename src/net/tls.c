/*
 * TLS with OpenSSL: the context from the settings, and one connection's
 * handshake, reads and writes. See tls.h.
 */
#include "net/tls.h"

#include <errno.h>
#include <limits.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/ocsp.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

#include "core/errbuf.h"

/* Python's default cipher list (Modules/_ssl.c, 3.10 and later), which a
 * Gunicorn context keeps unless `ciphers` is set: forward secrecy and
 * AEAD first, nothing without authentication, no SHA-1 MACs. */
#define PY_CIPHERS "@SECLEVEL=2:ECDH+AESGCM:ECDH+CHACHA20:ECDH+AES:DHE+AES:" \
                   "!aNULL:!eNULL:!aDSS:!SHA1:!AESCCM"
#define SESSION_CACHE 20480  /* sessions a worker remembers (nginx's 1m
                              * shared cache holds about 4000) */

struct cu_tls {
    SSL_CTX *ctx;
    int ragged_ok;
    unsigned char alpn[32];  /* the server's preference, wire form */
    unsigned alpn_len;
    unsigned char *ocsp;     /* the OCSP response stapled (DER), or NULL */
    int ocsp_len;
    int proxy;               /* struct cu_tls_opts's */
    const struct cu_allow *proxy_allow;
};

struct cu_tls_conn {
    SSL *ssl;
    int ragged_ok;
    const char *reason;  /* the last TLS error's, for the log */
};

/* OpenSSL's reason for the last error (the queue emptied), or errno's. */
static const char *why(void)
{
    unsigned long e = ERR_peek_last_error();
    const char *r = e ? ERR_reason_error_string(e) : NULL;

    ERR_clear_error();
    if (r)
        return r;
    return errno ? strerror(errno) : "not valid";
}

static int fail(char *err, size_t errlen, const char *setting, const char *path)
{
    int e = errno;

    /* a missing file reads as "system lib" from OpenSSL: say it plainly */
    if (path && access(path, R_OK) < 0)
        cu_seterr(err, errlen, "%s \"%s\": %s", setting, path, strerror(errno));
    else if (path)
        cu_seterr(err, errlen, "%s \"%s\": %s", setting, path, why());
    else
        cu_seterr(err, errlen, "%s: %s", setting, why());
    ERR_clear_error();
    errno = e;
    return -1;
}

/* The policy every context starts from: TLS 1.2 at least (Gunicorn has
 * Python's minimum), no compression, no renegotiation, the server's
 * cipher order, ECDHE and DHE groups chosen by OpenSSL. */
static int base_policy(SSL_CTX *ctx, const struct cu_tls_opts *o, char *err, size_t errlen)
{
    const char *list = o->ciphers && *o->ciphers ? o->ciphers : PY_CIPHERS;

    if (!SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION))
        return fail(err, errlen, "ssl_version", NULL);
    SSL_CTX_set_options(ctx, SSL_OP_NO_COMPRESSION | SSL_OP_NO_RENEGOTIATION |
                                 SSL_OP_CIPHER_SERVER_PREFERENCE | SSL_OP_SINGLE_DH_USE |
                                 SSL_OP_SINGLE_ECDH_USE);
    SSL_CTX_set_mode(ctx, SSL_MODE_ENABLE_PARTIAL_WRITE |
                              SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER | SSL_MODE_RELEASE_BUFFERS);
    if (!SSL_CTX_set_dh_auto(ctx, 1))
        return fail(err, errlen, "ciphers", NULL);
    if (!SSL_CTX_set_cipher_list(ctx, list)) {
        cu_seterr(err, errlen, "ciphers: no cipher matches \"%s\"", list);
        ERR_clear_error();
        return -1;
    }
    return 0;
}

/* Session resumption: a server cache in each worker, and tickets whose
 * keys the context makes once, in the master, so that every worker of a
 * generation takes the others' tickets. */
static int sessions(SSL_CTX *ctx, char *err, size_t errlen)
{
    static const unsigned char sid[] = "cunicorn";

    SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_SERVER);
    SSL_CTX_sess_set_cache_size(ctx, SESSION_CACHE);
    if (!SSL_CTX_set_session_id_context(ctx, sid, sizeof(sid) - 1))
        return fail(err, errlen, "certfile", NULL);
    return 0;
}

static int cert_and_key(SSL_CTX *ctx, const struct cu_tls_opts *o, char *err, size_t errlen)
{
    const char *key = o->keyfile ? o->keyfile : o->certfile;

    if (!o->certfile) {
        cu_seterr(err, errlen, "keyfile: needs certfile (the certificate it is the key of)");
        return -1;
    }
    if (SSL_CTX_use_certificate_chain_file(ctx, o->certfile) != 1)
        return fail(err, errlen, "certfile", o->certfile);
    /* a key that is not the certificate's fails here already, or below */
    if (SSL_CTX_use_PrivateKey_file(ctx, key, SSL_FILETYPE_PEM) != 1 &&
        ERR_GET_REASON(ERR_peek_last_error()) != X509_R_KEY_VALUES_MISMATCH)
        return fail(err, errlen, o->keyfile ? "keyfile" : "certfile (no keyfile: its key)", key);
    if (SSL_CTX_check_private_key(ctx) != 1) {
        cu_seterr(err, errlen, "keyfile \"%s\": the key does not match the certificate "
                  "in certfile \"%s\"", key, o->certfile);
        ERR_clear_error();
        return -1;
    }
    return 0;
}

/* cert_reqs (0, 1, 2: the ssl module's CERT_NONE, CERT_OPTIONAL and
 * CERT_REQUIRED) and ca_certs. */
static int client_certs(SSL_CTX *ctx, const struct cu_tls_opts *o, char *err, size_t errlen)
{
    static const int mode[] = {SSL_VERIFY_NONE, SSL_VERIFY_PEER,
                               SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT};

    if (o->cert_reqs < 0 || o->cert_reqs > 2) {
        cu_seterr(err, errlen, "cert_reqs: %d is not 0 (none), 1 (optional) or 2 (required)",
                  o->cert_reqs);
        return -1;
    }
    if (o->ca_certs) {
        STACK_OF(X509_NAME) *names;
        if (SSL_CTX_load_verify_locations(ctx, o->ca_certs, NULL) != 1)
            return fail(err, errlen, "ca_certs", o->ca_certs);
        /* the authorities' names go to the client, which picks its
         * certificate by them */
        names = SSL_load_client_CA_file(o->ca_certs);
        if (!names)
            return fail(err, errlen, "ca_certs", o->ca_certs);
        SSL_CTX_set_client_CA_list(ctx, names);
    } else if (o->cert_reqs > 0 && SSL_CTX_set_default_verify_paths(ctx) != 1) {
        return fail(err, errlen, "ca_certs", NULL);
    }
    SSL_CTX_set_verify(ctx, mode[o->cert_reqs], NULL);
    return 0;
}

/* ALPN: the first of the server's protocols the client offers (the
 * server's order of preference, as Gunicorn's http_protocols says); no
 * protocol in common: the handshake goes on without ALPN (HTTP/1.1). */
static int alpn_select(SSL *ssl, const unsigned char **out, unsigned char *outlen,
                       const unsigned char *in, unsigned int inlen, void *arg)
{
    const struct cu_tls *t = arg;
    unsigned char *sel = NULL;

    (void)ssl;
    if (SSL_select_next_proto(&sel, outlen, t->alpn, t->alpn_len, in, inlen) !=
        OPENSSL_NPN_NEGOTIATED)
        return SSL_TLSEXT_ERR_NOACK;
    *out = sel;
    return SSL_TLSEXT_ERR_OK;
}

static int alpn(struct cu_tls *t, const struct cu_tls_opts *o, char *err, size_t errlen)
{
    if (!o->alpn || o->alpn_len == 0)
        return 0;
    if (o->alpn_len > sizeof(t->alpn)) {
        cu_seterr(err, errlen, "http_protocols: too many protocols for ALPN");
        return -1;
    }
    memcpy(t->alpn, o->alpn, o->alpn_len);
    t->alpn_len = (unsigned)o->alpn_len;
    SSL_CTX_set_alpn_select_cb(t->ctx, alpn_select, t);
    return 0;
}

int cu_tls_alpn_h2(const struct cu_tls_conn *s)
{
    const unsigned char *p = NULL;
    unsigned n = 0;

    SSL_get0_alpn_selected(s->ssl, &p, &n);
    return n == 2 && memcmp(p, "h2", 2) == 0;
}

/* OCSP stapling (ours): a client that asks (status_request) gets the
 * response read at start. OpenSSL frees what it is given: a copy. */
static int ocsp_staple(SSL *ssl, void *arg)
{
    const struct cu_tls *t = arg;
    unsigned char *copy = OPENSSL_malloc((size_t)t->ocsp_len);

    if (!copy)
        return SSL_TLSEXT_ERR_NOACK;  /* no staple, the handshake goes on */
    memcpy(copy, t->ocsp, (size_t)t->ocsp_len);
    if (!SSL_set_tlsext_status_ocsp_resp(ssl, copy, t->ocsp_len)) {
        OPENSSL_free(copy);
        return SSL_TLSEXT_ERR_NOACK;
    }
    return SSL_TLSEXT_ERR_OK;
}

/* ssl_ocsp_response: a DER OCSPResponse whose status is successful (a
 * "tryLater" or an error stapled would tell clients nothing). */
static int ocsp(struct cu_tls *t, const struct cu_tls_opts *o, char *err, size_t errlen)
{
    static const char name[] = "ssl_ocsp_response";
    BIO *in;
    OCSP_RESPONSE *r;
    int status;

    if (!o->ocsp_response)
        return 0;
    if (!(in = BIO_new_file(o->ocsp_response, "rb")))
        return fail(err, errlen, name, o->ocsp_response);
    r = d2i_OCSP_RESPONSE_bio(in, NULL);
    BIO_free(in);
    if (!r) {
        cu_seterr(err, errlen, "%s \"%s\": not a DER-encoded OCSP response", name,
                  o->ocsp_response);
        ERR_clear_error();
        return -1;
    }
    status = OCSP_response_status(r);
    if (status != OCSP_RESPONSE_STATUS_SUCCESSFUL) {
        cu_seterr(err, errlen, "%s \"%s\": the response's status is %s, not successful",
                  name, o->ocsp_response, OCSP_response_status_str(status));
        OCSP_RESPONSE_free(r);
        return -1;
    }
    t->ocsp_len = i2d_OCSP_RESPONSE(r, &t->ocsp);
    OCSP_RESPONSE_free(r);
    if (t->ocsp_len <= 0 || !SSL_CTX_set_tlsext_status_cb(t->ctx, ocsp_staple) ||
        !SSL_CTX_set_tlsext_status_arg(t->ctx, t))
        return fail(err, errlen, name, NULL);
    return 0;
}

struct cu_tls *cu_tls_new(const struct cu_tls_opts *o, char *err, size_t errlen)
{
    struct cu_tls *t = calloc(1, sizeof(*t));

    ERR_clear_error();
    if (!t || !(t->ctx = SSL_CTX_new(TLS_server_method()))) {
        cu_seterr(err, errlen, "certfile: cannot make a TLS context: %s",
                  t ? why() : strerror(ENOMEM));
        free(t);
        return NULL;
    }
    t->ragged_ok = o->suppress_ragged_eofs;
    t->proxy = o->proxy;
    t->proxy_allow = o->proxy_allow;
    if (cert_and_key(t->ctx, o, err, errlen) < 0 || base_policy(t->ctx, o, err, errlen) < 0 ||
        client_certs(t->ctx, o, err, errlen) < 0 || sessions(t->ctx, err, errlen) < 0 ||
        alpn(t, o, err, errlen) < 0 || ocsp(t, o, err, errlen) < 0) {
        cu_tls_free(t);
        return NULL;
    }
    return t;
}

void cu_tls_free(struct cu_tls *t)
{
    if (t) {
        SSL_CTX_free(t->ctx);
        OPENSSL_free(t->ocsp);
        free(t);
    }
}

int cu_tls_proxy(const struct cu_tls *t, const struct cu_allow **allow)
{
    *allow = t->proxy_allow;
    return t->proxy;
}

/* ---- one connection ------------------------------------------------------- */

struct cu_tls_conn *cu_tls_conn_new(struct cu_tls *t, int fd)
{
    struct cu_tls_conn *s = malloc(sizeof(*s));

    if (!s)
        return NULL;
    s->ragged_ok = t->ragged_ok;
    s->reason = NULL;
    s->ssl = SSL_new(t->ctx);
    if (!s->ssl || !SSL_set_fd(s->ssl, fd)) {
        SSL_free(s->ssl);
        free(s);
        ERR_clear_error();
        errno = ENOMEM;
        return NULL;
    }
    SSL_set_accept_state(s->ssl);
    return s;
}

void cu_tls_notify(struct cu_tls_conn *s)
{
    /* best effort: the socket is non-blocking, and a peer that reset the
     * connection gets nothing (SIGPIPE is ignored) */
    if (SSL_is_init_finished(s->ssl) && !(SSL_get_shutdown(s->ssl) & SSL_SENT_SHUTDOWN))
        (void)SSL_shutdown(s->ssl);
    ERR_clear_error();
}

void cu_tls_conn_free(struct cu_tls_conn *s)
{
    if (!s)
        return;
    cu_tls_notify(s);
    SSL_free(s->ssl);
    free(s);
}

const char *cu_tls_error(const struct cu_tls_conn *s)
{
    return s->reason ? s->reason : "the peer left";
}

void cu_tls_refused(struct cu_tls_conn *s, const char *why)
{
    s->reason = why;
}

/* After an SSL_* call that returned rc <= 0: -1 with errno (and *want),
 * or 0 for the peer's end. The call must have had errno 0 before it
 * (io_begin): SSL_ERROR_SYSCALL with errno still 0 is OpenSSL 1.1's bare
 * EOF, and a stale EAGAIN (the last WANT_READ's) would read as "wait"
 * again, for ever. */
static int outcome(struct cu_tls_conn *s, int rc, short *want)
{
    int e = SSL_get_error(s->ssl, rc), saved = errno;
    unsigned long lib = ERR_peek_error();

    if (lib)
        s->reason = ERR_reason_error_string(lib);
    ERR_clear_error();
    switch (e) {
    case SSL_ERROR_WANT_READ:
        *want = POLLIN;
        errno = EAGAIN;
        return -1;
    case SSL_ERROR_WANT_WRITE:
        *want = POLLOUT;
        errno = EAGAIN;
        return -1;
    case SSL_ERROR_ZERO_RETURN:  /* close_notify */
        return 0;
    case SSL_ERROR_SYSCALL:
        errno = saved ? saved : ECONNRESET;  /* 0: an EOF, OpenSSL 1.1's way */
        if (!saved && s->ragged_ok)
            return 0;
        return -1;
    default:
        /* OpenSSL 3 reports a TCP end without close_notify as an error */
        if (ERR_GET_REASON(lib) == SSL_R_UNEXPECTED_EOF_WHILE_READING) {
            errno = ECONNRESET;
            return s->ragged_ok ? 0 : -1;
        }
        errno = EPROTO;
        return -1;
    }
}

/* Before an SSL_* call that outcome() may judge. */
static void io_begin(void)
{
    ERR_clear_error();
    errno = 0;
}

int cu_tls_handshake(struct cu_tls_conn *s, short *want)
{
    int rc;

    io_begin();
    rc = SSL_do_handshake(s->ssl);
    if (rc == 1)
        return 0;
    if (outcome(s, rc, want) == 0)
        errno = ECONNRESET;  /* an end before the handshake is a failure */
    return -1;
}

ssize_t cu_tls_read(struct cu_tls_conn *s, void *buf, size_t n, short *want)
{
    /* before: a failed read leaves OpenSSL's state "in init" */
    int rc, was_open = SSL_is_init_finished(s->ssl);

    io_begin();
    rc = SSL_read(s->ssl, buf, n > INT_MAX ? INT_MAX : (int)n);
    if (rc > 0)
        return rc;
    if (outcome(s, rc, want) == 0) {
        if (was_open)
            return 0;
        errno = ECONNRESET;  /* an end before the handshake is a failure */
    }
    return -1;
}

ssize_t cu_tls_write(struct cu_tls_conn *s, const void *buf, size_t n, short *want)
{
    int rc;

    io_begin();
    rc = SSL_write(s->ssl, buf, n > INT_MAX ? INT_MAX : (int)n);
    if (rc > 0)
        return rc;
    if (outcome(s, rc, want) == 0)
        errno = EPIPE;  /* the peer closed: nothing more can go */
    return -1;
}

int cu_tls_pending(const struct cu_tls_conn *s)
{
    return SSL_pending(s->ssl) > 0;
}

int cu_tls_peer_cert(const struct cu_tls_conn *s, unsigned char **der)
{
    X509 *x = SSL_get1_peer_certificate(s->ssl);
    unsigned char *p = NULL;
    int n;

    *der = NULL;
    if (!x)
        return 0;
    n = i2d_X509(x, &p);
    X509_free(x);
    /* the caller's free() takes it: a copy out of OpenSSL's allocator */
    if (n > 0 && (*der = malloc((size_t)n)) != NULL)
        memcpy(*der, p, (size_t)n);
    OPENSSL_free(p);
    ERR_clear_error();
    return *der ? n : -1;
}

const char *cu_tls_version(const struct cu_tls_conn *s)
{
    return SSL_get_version(s->ssl);
}

const char *cu_tls_cipher(const struct cu_tls_conn *s, int *bits)
{
    const SSL_CIPHER *c = SSL_get_current_cipher(s->ssl);

    *bits = c ? SSL_CIPHER_get_bits(c, NULL) : 0;
    return c ? SSL_CIPHER_get_name(c) : NULL;
}

void *cu_tls_ssl(const struct cu_tls_conn *s)
{
    return s->ssl;
}
