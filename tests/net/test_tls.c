/*
 * src/net/tls.c, and TLS under src/worker/conn.c, over real TCP sockets on
 * 127.0.0.1: the server side is the code under test (non-blocking), the
 * client an OpenSSL client in a thread. The certificates are made here, at
 * run time, in a temporary directory.
 */
#include "net/tls.h"
#include "worker/conn.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/ocsp.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

#include "../lib/tap.h"

static char dir[] = "/tmp/cu-tls-XXXXXX";
static char cert[256], key[256], other_key[256], missing[256];

/* ---- fixtures ------------------------------------------------------------- */

static EVP_PKEY *new_key(void)
{
    EVP_PKEY *k = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");

    if (!k)
        bail("EVP_PKEY_Q_keygen");
    return k;
}

static void write_key(const char *path, EVP_PKEY *k)
{
    FILE *f = fopen(path, "w");

    if (!f || !PEM_write_PrivateKey(f, k, NULL, NULL, 0, NULL, NULL) || fclose(f) != 0)
        bail("writing %s", path);
}

/* A self-signed certificate for localhost, which is its own CA too. */
static void make_cert(void)
{
    EVP_PKEY *k = new_key(), *k2 = new_key();
    X509 *x = X509_new();
    X509_NAME *name;
    FILE *f;

    if (!x || !ASN1_INTEGER_set(X509_get_serialNumber(x), 1) ||
        !X509_gmtime_adj(X509_getm_notBefore(x), -60) ||
        !X509_gmtime_adj(X509_getm_notAfter(x), 3600) || !X509_set_pubkey(x, k))
        bail("X509");
    name = X509_get_subject_name(x);
    if (!X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC, (const unsigned char *)"localhost",
                                    -1, -1, 0) ||
        !X509_set_issuer_name(x, name) || !X509_sign(x, k, EVP_sha256()))
        bail("X509 sign");
    xsnprintf(cert, sizeof cert, "%s/cert.pem", dir);
    xsnprintf(key, sizeof key, "%s/key.pem", dir);
    xsnprintf(other_key, sizeof other_key, "%s/other.pem", dir);
    xsnprintf(missing, sizeof missing, "%s/missing.pem", dir);
    f = fopen(cert, "w");
    if (!f || !PEM_write_X509(f, x) || fclose(f) != 0)
        bail("writing the certificate");
    write_key(key, k);
    write_key(other_key, k2);
    X509_free(x);
    EVP_PKEY_free(k);
    EVP_PKEY_free(k2);
}

static struct cu_tls_opts opts(void)
{
    struct cu_tls_opts o = {.certfile = cert, .keyfile = key, .suppress_ragged_eofs = 1};
    return o;
}

/* A connected TCP pair over 127.0.0.1: *srv non-blocking, *cli blocking. */
static void tcp_pair(int *srv, int *cli)
{
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t alen = sizeof a;
    int l = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

    if (l < 0 || bind(l, (struct sockaddr *)&a, sizeof a) < 0 || listen(l, 1) < 0 ||
        getsockname(l, (struct sockaddr *)&a, &alen) < 0)
        bail("listen: %s", strerror(errno));
    *cli = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (*cli < 0 || connect(*cli, (struct sockaddr *)&a, sizeof a) < 0)
        bail("connect: %s", strerror(errno));
    *srv = accept4(l, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (*srv < 0)
        bail("accept: %s", strerror(errno));
    close(l);
}

/* ---- the client, in a thread ------------------------------------------------ */

struct client {
    int fd;
    int max_version;      /* 0: any */
    int with_cert;        /* present cert/key */
    const char *send;     /* sent after the handshake (NULL: nothing) */
    size_t expect;        /* bytes to read back (then close) */
    int close_notify;     /* end with close_notify (else a bare close) */
    int wait_close;       /* then read until the server's end, so that
                           * its close_notify never meets a shut socket */
    int plain;            /* send `send` without TLS */
    int ask_ocsp;         /* status_request: a stapled OCSP response */
    /* out */
    int handshake_ok;
    long ocsp_len;        /* the staple's length (-1: none came) */
    size_t got;
    char first[16];
    pthread_t tid;
};

static SSL *client_ssl(struct client *c)
{
    SSL_CTX *ctx = SSL_CTX_new(TLS_client_method());
    SSL *s;

    if (!ctx)
        bail("SSL_CTX_new");
    if (c->max_version) {
        SSL_CTX_set_security_level(ctx, 0);
        if (!SSL_CTX_set_cipher_list(ctx, "DEFAULT:@SECLEVEL=0") ||
            !SSL_CTX_set_min_proto_version(ctx, c->max_version) ||
            !SSL_CTX_set_max_proto_version(ctx, c->max_version))
            bail("client versions");
    }
    if (c->with_cert && (SSL_CTX_use_certificate_file(ctx, cert, SSL_FILETYPE_PEM) != 1 ||
                         SSL_CTX_use_PrivateKey_file(ctx, key, SSL_FILETYPE_PEM) != 1))
        bail("client certificate");
    s = SSL_new(ctx);
    SSL_CTX_free(ctx);  /* s holds it */
    if (!s || !SSL_set_fd(s, c->fd))
        bail("SSL_new");
    return s;
}

static void *client_main(void *arg)
{
    struct client *c = arg;
    SSL *s;
    char buf[65536];

    if (c->plain) {
        if (write(c->fd, c->send, strlen(c->send)) < 0)
            return NULL;
        while (read(c->fd, buf, sizeof buf) > 0) {
        }
        return NULL;
    }
    s = client_ssl(c);
    if (c->ask_ocsp && !SSL_set_tlsext_status_type(s, TLSEXT_STATUSTYPE_ocsp))
        bail("SSL_set_tlsext_status_type");
    c->handshake_ok = SSL_connect(s) == 1;
    if (c->handshake_ok) {
        const unsigned char *staple = NULL;
        c->ocsp_len = SSL_get_tlsext_status_ocsp_resp(s, &staple);
    }
    if (c->handshake_ok && c->send)
        (void)SSL_write(s, c->send, (int)strlen(c->send));
    while (c->handshake_ok && c->got < c->expect) {
        int n = SSL_read(s, buf, sizeof buf);
        if (n <= 0)
            break;
        if (c->got < sizeof c->first)
            memcpy(c->first + c->got, buf,
                   (size_t)n < sizeof c->first - c->got ? (size_t)n : sizeof c->first - c->got);
        c->got += (size_t)n;
    }
    if (c->handshake_ok && c->close_notify) {
        (void)SSL_shutdown(s);
        while (c->wait_close && SSL_read(s, buf, sizeof buf) > 0) {
        }
    } else if (c->handshake_ok) {
        /* a bare TCP end (a ragged EOF); then what the server still
         * sends (its tickets) is read off, so the close is no reset */
        shutdown(c->fd, SHUT_WR);
        while (read(c->fd, buf, sizeof buf) > 0) {
        }
    }
    SSL_free(s);
    ERR_clear_error();
    shutdown(c->fd, SHUT_RDWR);
    return NULL;
}

static void client_start(struct client *c)
{
    if (pthread_create(&c->tid, NULL, client_main, c) != 0)
        bail("pthread_create");
}

static void client_join(struct client *c)
{
    pthread_join(c->tid, NULL);
    close(c->fd);
}

/* ---- the server side, driven like a worker ----------------------------------- */

static int wait_want(int fd, short want)
{
    struct pollfd p = {fd, want, 0};
    return poll(&p, 1, 10000) == 1 ? 0 : -1;
}

static int handshake(struct cu_tls_conn *s, int fd)
{
    short want;

    while (cu_tls_handshake(s, &want) < 0) {
        if (errno != EAGAIN || wait_want(fd, want) < 0)
            return -1;
    }
    return 0;
}

static ssize_t read_some(struct cu_tls_conn *s, int fd, char *buf, size_t n)
{
    short want;
    ssize_t r;

    while ((r = cu_tls_read(s, buf, n, &want)) < 0 && errno == EAGAIN)
        if (wait_want(fd, want) < 0)
            return -1;
    return r;
}

/* ---- tests ----------------------------------------------------------------- */

static void test_context_errors(void)
{
    struct cu_tls_opts o = opts();
    char err[512], want[512];
    struct cu_tls *t;

    ok((t = cu_tls_new(&o, err, sizeof err)) != NULL, "a context from a certificate and its key");
    cu_tls_free(t);
    o.certfile = missing;
    xsnprintf(want, sizeof want, "certfile \"%s\": No such file or directory", missing);
    ok(!cu_tls_new(&o, err, sizeof err) && strcmp(err, want) == 0, "missing certfile: %s", err);
    o = opts();
    o.keyfile = missing;
    xsnprintf(want, sizeof want, "keyfile \"%s\": No such file or directory", missing);
    ok(!cu_tls_new(&o, err, sizeof err) && strcmp(err, want) == 0, "missing keyfile: %s", err);
    o = opts();
    o.keyfile = other_key;
    ok(!cu_tls_new(&o, err, sizeof err) &&
       strstr(err, "the key does not match the certificate in certfile"), "another key: %s", err);
    o = opts();
    o.certfile = key;
    ok(!cu_tls_new(&o, err, sizeof err) && strncmp(err, "certfile \"", 10) == 0,
       "a key as the certificate: %s", err);
    o = opts();
    o.keyfile = NULL;
    ok(!cu_tls_new(&o, err, sizeof err) && strncmp(err, "certfile (no keyfile: its key)", 30) == 0,
       "no key in certfile: %s", err);
    o = opts();
    o.certfile = NULL;
    ok(!cu_tls_new(&o, err, sizeof err) && strncmp(err, "keyfile: needs certfile", 23) == 0,
       "keyfile alone: %s", err);
    o = opts();
    o.ciphers = "NOPE";
    ok(!cu_tls_new(&o, err, sizeof err) && strcmp(err, "ciphers: no cipher matches \"NOPE\"") == 0,
       "bad ciphers: %s", err);
    o = opts();
    o.cert_reqs = 3;
    ok(!cu_tls_new(&o, err, sizeof err) && strncmp(err, "cert_reqs: 3 is not", 19) == 0,
       "cert_reqs 3: %s", err);
    o = opts();
    o.ca_certs = missing;
    ok(!cu_tls_new(&o, err, sizeof err) && strncmp(err, "ca_certs \"", 10) == 0,
       "missing ca_certs: %s", err);
    ok(ERR_peek_error() == 0, "OpenSSL's error queue left empty");
}

/* A request and a 1 MiB answer (the socket fills: writes wait), then the
 * client's close_notify reads as the end. */
static void test_round_trip(struct cu_tls *t)
{
    struct client c = {.send = "ping", .expect = 1 << 20, .close_notify = 1};
    int fd;
    struct cu_tls_conn *s;
    char buf[64];
    char *big = malloc(1 << 20);
    size_t sent = 0;
    ssize_t r;
    short want;

    tcp_pair(&fd, &c.fd);
    client_start(&c);
    s = cu_tls_conn_new(t, fd);
    ok(s && handshake(s, fd) == 0, "the handshake");
    ok(read_some(s, fd, buf, sizeof buf) == 4 && memcmp(buf, "ping", 4) == 0, "read");
    if (!big)
        bail("malloc");
    for (size_t i = 0; i < (1u << 20); i++)
        big[i] = "pong"[i % 4];
    while (sent < (1u << 20)) {
        r = cu_tls_write(s, big + sent, (1u << 20) - sent, &want);
        if (r > 0)
            sent += (size_t)r;
        else if (errno != EAGAIN || wait_want(fd, want) < 0)
            break;
    }
    ok(sent == 1u << 20, "1 MiB written through EAGAINs");
    ok(read_some(s, fd, buf, sizeof buf) == 0, "close_notify reads as the end");
    ok(strcmp(cu_tls_version(s), "TLSv1.3") == 0, "TLS 1.3 (%s)", cu_tls_version(s));
    {
        int bits;
        const char *name = cu_tls_cipher(s, &bits);
        ok(name && bits >= 128, "cipher %s, %d bits", name ? name : "?", bits);
    }
    {
        unsigned char *der;
        ok(cu_tls_peer_cert(s, &der) == 0 && der == NULL, "no client certificate");
    }
    cu_tls_conn_free(s);
    client_join(&c);
    ok(c.got == 1u << 20 && memcmp(c.first, "pong", 4) == 0, "the client got it all");
    close(fd);
    free(big);
}

/* A TCP end without close_notify: the end, or ECONNRESET without
 * suppress_ragged_eofs. */
static void test_ragged_eof(int suppress)
{
    struct cu_tls_opts o = opts();
    struct client c = {.send = "x", .expect = 0, .close_notify = 0};
    struct cu_tls *t;
    struct cu_tls_conn *s;
    char buf[16];
    int fd;
    ssize_t r;

    o.suppress_ragged_eofs = suppress;
    t = cu_tls_new(&o, NULL, 0);
    tcp_pair(&fd, &c.fd);
    client_start(&c);
    s = cu_tls_conn_new(t, fd);
    ok(s && handshake(s, fd) == 0 && read_some(s, fd, buf, sizeof buf) == 1, "a byte");
    r = read_some(s, fd, buf, sizeof buf);
    if (suppress)
        ok(r == 0, "suppress_ragged_eofs: a bare close is the end (%zd)", r);
    else
        ok(r == -1 && errno == ECONNRESET, "without: an error (%zd, %s)", r, strerror(errno));
    cu_tls_conn_free(s);
    close(fd);  /* the client reads to the end */
    client_join(&c);
    cu_tls_free(t);
}

/* A handshake the server fails, with OpenSSL's reason. */
static void expect_refused(struct cu_tls *t, struct client *c, const char *reason,
                           const char *what)
{
    struct cu_tls_conn *s;
    int fd, rc, e;

    tcp_pair(&fd, &c->fd);
    client_start(c);
    s = cu_tls_conn_new(t, fd);
    if (!s)
        bail("cu_tls_conn_new");
    rc = handshake(s, fd);
    e = errno;
    ok(rc == -1 && e == EPROTO && strcmp(cu_tls_error(s), reason) == 0, "%s: %s", what,
       cu_tls_error(s));
    cu_tls_conn_free(s);
    close(fd);
    client_join(c);
}

/* An OCSP response for the certificate, signed by its key (it is its own
 * CA): successful (with a "good" answer), or of another status (none). */
static void write_ocsp(const char *path, int status)
{
    FILE *f = fopen(cert, "r");
    X509 *x = f ? PEM_read_X509(f, NULL, NULL, NULL) : NULL;
    EVP_PKEY *k = NULL;
    OCSP_BASICRESP *bs = OCSP_BASICRESP_new();
    OCSP_CERTID *id;
    OCSP_RESPONSE *r;
    ASN1_TIME *now = X509_gmtime_adj(NULL, 0);
    unsigned char *der;
    int n;

    if (f)
        (void)fclose(f);  /* read only */
    if ((f = fopen(key, "r")) != NULL) {
        k = PEM_read_PrivateKey(f, NULL, NULL, NULL);
        (void)fclose(f);
    }
    if (!x || !k || !bs || !now || !(id = OCSP_cert_to_id(NULL, x, x)) ||
        !OCSP_basic_add1_status(bs, id, V_OCSP_CERTSTATUS_GOOD, 0, NULL, now, NULL) ||
        !OCSP_basic_sign(bs, x, k, EVP_sha256(), NULL, 0))
        bail("an OCSP response");
    OCSP_CERTID_free(id);
    r = OCSP_response_create(status, status == OCSP_RESPONSE_STATUS_SUCCESSFUL ? bs : NULL);
    f = fopen(path, "wb");
    der = NULL;
    n = r ? i2d_OCSP_RESPONSE(r, &der) : -1;
    if (n <= 0 || !f || fwrite(der, 1, (size_t)n, f) != (size_t)n || fclose(f) != 0)
        bail("writing %s", path);
    OPENSSL_free(der);
    OCSP_RESPONSE_free(r);
    OCSP_BASICRESP_free(bs);
    ASN1_TIME_free(now);
    EVP_PKEY_free(k);
    X509_free(x);
}

/* A handshake with t: the staple's length the client got (-1: none). */
static long staple_len(struct cu_tls *t, int ask)
{
    struct client c = {.ask_ocsp = ask};
    struct cu_tls_conn *s;
    int fd;

    tcp_pair(&fd, &c.fd);
    client_start(&c);
    s = cu_tls_conn_new(t, fd);
    if (!s || handshake(s, fd) < 0)
        bail("the handshake");
    cu_tls_conn_free(s);
    close(fd);
    client_join(&c);
    return c.handshake_ok ? c.ocsp_len : -2;
}

static void test_ocsp(struct cu_tls *plain)
{
    struct cu_tls_opts o = opts();
    char good[300], later[300], err[512], want[512];
    struct cu_tls *t;
    FILE *f;
    long size;

    xsnprintf(good, sizeof good, "%s/good.ocsp", dir);
    xsnprintf(later, sizeof later, "%s/later.ocsp", dir);
    write_ocsp(good, OCSP_RESPONSE_STATUS_SUCCESSFUL);
    write_ocsp(later, OCSP_RESPONSE_STATUS_TRYLATER);
    if (!(f = fopen(good, "rb")) || fseek(f, 0, SEEK_END) < 0 || (size = ftell(f)) <= 0)
        bail("%s", good);
    (void)fclose(f);
    o.ocsp_response = good;
    if (!(t = cu_tls_new(&o, err, sizeof err)))
        bail("cu_tls_new with an OCSP response: %s", err);
    ok(staple_len(t, 1) == size, "the response stapled whole (%ld bytes)", size);
    ok(staple_len(t, 0) == -1, "none for a client that does not ask");
    cu_tls_free(t);
    ok(staple_len(plain, 1) == -1, "none without ssl_ocsp_response");
    o.ocsp_response = later;
    xsnprintf(want, sizeof want, "ssl_ocsp_response \"%s\": the response's status is "
              "trylater, not successful", later);
    ok(!cu_tls_new(&o, err, sizeof err) && strcmp(err, want) == 0, "tryLater: %s", err);
    o.ocsp_response = cert;
    xsnprintf(want, sizeof want, "ssl_ocsp_response \"%s\": not a DER-encoded OCSP response",
              cert);
    ok(!cu_tls_new(&o, err, sizeof err) && strcmp(err, want) == 0, "a PEM certificate: %s",
       err);
    o.ocsp_response = missing;
    xsnprintf(want, sizeof want, "ssl_ocsp_response \"%s\": No such file or directory",
              missing);
    ok(!cu_tls_new(&o, err, sizeof err) && strcmp(err, want) == 0, "missing: %s", err);
    ok(ERR_peek_error() == 0, "OpenSSL's error queue left empty");
    if (unlink(good) < 0 || unlink(later) < 0)
        diag("could not remove the OCSP files: %s", strerror(errno));
}

static void test_not_tls(struct cu_tls *t)
{
    struct client c = {.plain = 1, .send = "GET / HTTP/1.1\r\nHost: x\r\n\r\n"};

    expect_refused(t, &c, "http request", "plain HTTP refused, in OpenSSL's words");
}

static void test_old_protocol(struct cu_tls *t, int version, const char *name)
{
    struct client c = {.max_version = version};

    expect_refused(t, &c, "unsupported protocol", name);
    ok(!c.handshake_ok, "the client saw it fail");
}

static void test_client_cert(void)
{
    struct cu_tls_opts o = opts();
    struct cu_tls *t;

    o.cert_reqs = 2;
    o.ca_certs = cert;  /* self-signed: its own authority */
    t = cu_tls_new(&o, NULL, 0);
    ok(t != NULL, "cert_reqs 2 with ca_certs");
    for (int with = 0; t && with < 2; with++) {
        struct client c = {.with_cert = with, .send = "x", .close_notify = 1};
        struct cu_tls_conn *s;
        unsigned char *der = NULL;
        int fd, rc;

        tcp_pair(&fd, &c.fd);
        client_start(&c);
        s = cu_tls_conn_new(t, fd);
        rc = handshake(s, fd);
        if (with) {
            char buf[4];
            ok(rc == 0 && read_some(s, fd, buf, sizeof buf) == 1, "a client certificate: in");
            ok(cu_tls_peer_cert(s, &der) > 100 && der && der[0] == 0x30, "its DER");
        } else {
            int e = errno;
            ok(rc == -1 && e == EPROTO, "no client certificate: refused (%s)",
               cu_tls_error(s));
        }
        free(der);
        cu_tls_conn_free(s);
        close(fd);
        client_join(&c);
    }
    cu_tls_free(t);
}

/* The connection layer over TLS: the handshake bounded by timeout_ms, and
 * sendfile's stand-in (read, then write through TLS). */
static void test_conn(struct cu_tls *t)
{
    struct client stalled = {.plain = 1, .send = "\x16\x03\x01"};
    struct client c = {.expect = 100000, .close_notify = 1, .wait_close = 1};
    struct cu_conn conn;
    char path[300];
    FILE *f;
    int fd, file;

    tcp_pair(&fd, &stalled.fd);
    client_start(&stalled);
    if (cu_conn_init(&conn, fd, 0) < 0 || cu_conn_tls(&conn, t) < 0)
        bail("cu_conn");
    conn.timeout_ms = 200;
    ok(cu_conn_handshake(&conn) == -1 && errno == ETIMEDOUT, "a stalled handshake times out");
    cu_conn_close(&conn);
    client_join(&stalled);

    xsnprintf(path, sizeof path, "%s/data", dir);
    f = fopen(path, "w");
    for (int i = 0; f && i < 100000; i++)
        (void)fputc('a' + i % 26, f);
    if (!f || fclose(f) != 0 || (file = open(path, O_RDONLY | O_CLOEXEC)) < 0)
        bail("the data file");
    tcp_pair(&fd, &c.fd);
    client_start(&c);
    if (cu_conn_init(&conn, fd, 0) < 0 || cu_conn_tls(&conn, t) < 0)
        bail("cu_conn");
    conn.timeout_ms = 10000;
    ok(cu_conn_handshake(&conn) == 0, "cu_conn_handshake");
    ok(cu_conn_sendfile(&conn, file, 0, 100000) == 0, "cu_conn_sendfile through TLS");
    ok(cu_conn_shut_wr(&conn) == 0, "close_notify, then SHUT_WR");
    client_join(&c);
    ok(c.got == 100000 && memcmp(c.first, "abcdefghijklmnop", 16) == 0,
       "the file arrived (%zu bytes)", c.got);
    cu_conn_close(&conn);
    close(file);
}

int main(void)
{
    struct cu_tls *t;
    struct cu_tls_opts o;

    if (signal(SIGPIPE, SIG_IGN) == SIG_ERR || !mkdtemp(dir))
        bail("mkdtemp");
    make_cert();
    test_context_errors();
    o = opts();
    t = cu_tls_new(&o, NULL, 0);
    if (!t)
        bail("cu_tls_new");
    test_round_trip(t);
    test_ragged_eof(1);
    test_ragged_eof(0);
    test_not_tls(t);
    test_old_protocol(t, TLS1_VERSION, "TLS 1.0");
    test_old_protocol(t, TLS1_1_VERSION, "TLS 1.1");
    test_client_cert();
    test_conn(t);
    test_ocsp(t);
    cu_tls_free(t);
    {
        char data[300];
        xsnprintf(data, sizeof data, "%s/data", dir);
        if (unlink(cert) < 0 || unlink(key) < 0 || unlink(other_key) < 0 ||
            unlink(data) < 0 || rmdir(dir) < 0)
            diag("could not remove %s: %s", dir, strerror(errno));
    }
    return tap_done();
}
