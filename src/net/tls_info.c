/*
 * A TLS connection's facts for the application: see tls_info.h.
 */
#include "net/tls_info.h"

#include <stdlib.h>
#include <string.h>

#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

/* What a memory BIO holds, as a malloc'd string; NULL when out of memory. */
static char *bio_text(BIO *b)
{
    char *p = NULL, *out;
    long n = BIO_get_mem_data(b, &p);

    if (n < 0 || !(out = malloc((size_t)n + 1)))
        return NULL;
    if (n)
        memcpy(out, p, (size_t)n);
    out[n] = '\0';
    return out;
}

/* x as PEM; NULL when out of memory. */
static char *pem(X509 *x)
{
    BIO *b = BIO_new(BIO_s_mem());
    char *out = b && PEM_write_bio_X509(b, x) ? bio_text(b) : NULL;

    BIO_free(b);
    return out;
}

/* x's subject as RFC 4514 says (RFC 2253's order: the most specific
 * first); NULL when out of memory. */
static char *subject(X509 *x)
{
    BIO *b = BIO_new(BIO_s_mem());
    char *out = b && X509_NAME_print_ex(b, X509_get_subject_name(x), 0, XN_FLAG_RFC2253) >= 0
                    ? bio_text(b) : NULL;

    BIO_free(b);
    return out;
}

/* The client's certificate, then the rest of the chain it sent (which a
 * server's SSL_get_peer_cert_chain() holds without it). */
static int chain(SSL *ssl, X509 *peer, struct cu_tls_info *o)
{
    STACK_OF(X509) *sk = SSL_get_peer_cert_chain(ssl);
    int n = sk ? sk_X509_num(sk) : 0;

    if (!(o->chain = calloc((size_t)n + 1, sizeof *o->chain)))
        return -1;
    if (!(o->chain[o->nchain++] = pem(peer)))
        return -1;
    for (int i = 0; i < n; i++) {
        X509 *x = sk_X509_value(sk, i);
        if (X509_cmp(x, peer) == 0)
            continue;  /* a client's stack may hold its own first */
        if (!(o->chain[o->nchain++] = pem(x)))
            return -1;
    }
    return 0;
}

static int client(SSL *ssl, struct cu_tls_info *o)
{
    X509 *peer = SSL_get1_peer_certificate(ssl);
    long v;
    int rc;

    if (!peer)
        return 0;
    rc = chain(ssl, peer, o) < 0 || !(o->client_name = subject(peer)) ? -1 : 0;
    X509_free(peer);
    v = SSL_get_verify_result(ssl);
    if (v != X509_V_OK)
        o->client_error = X509_verify_cert_error_string(v);
    return rc;
}

int cu_tls_info_get(const struct cu_tls_conn *s, struct cu_tls_info *o)
{
    SSL *ssl = cu_tls_ssl(s);
    X509 *own = SSL_get_certificate(ssl);  /* not counted: ssl's */
    const SSL_CIPHER *c = SSL_get_current_cipher(ssl);

    memset(o, 0, sizeof *o);
    o->version = SSL_version(ssl);
    o->cipher = c ? (int)SSL_CIPHER_get_protocol_id(c) : -1;
    if ((own && !(o->server_cert = pem(own))) || client(ssl, o) < 0) {
        cu_tls_info_free(o);
        ERR_clear_error();
        return -1;
    }
    ERR_clear_error();
    return 0;
}

void cu_tls_info_free(struct cu_tls_info *i)
{
    free(i->server_cert);
    for (size_t k = 0; k < i->nchain; k++)
        free(i->chain[k]);
    free(i->chain);
    free(i->client_name);
    memset(i, 0, sizeof *i);
}
