/*
 * The extension's side of the TLS and HTTP/2 plugin (plugin.h): loading
 * it, and a stub for each function of tls.h, tls_info.h and h2.h that
 * the extension calls (all but cu_tls_ssl, which only the plugin's own
 * code uses), each calling the plugin's. Only cu_tls_new, cu_h2_new and the functions that
 * may meet a server without either (freeing nothing, asking whether a
 * connection is an HTTP/2 stream's or starts with the h2c preface) look
 * whether it is loaded; the others take objects only the plugin makes.
 *
 * The plugin names the extension as a library it needs (by the
 * extension's soname, which matches the module already loaded), so its
 * calls into the server (the log, the connections, the poller) bind to
 * the extension's functions without those being made global.
 */
#include "http2/plugin.h"

#include <dlfcn.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "core/errbuf.h"
#include "core/log.h"
#include "http2/h2.h"
#include "net/tls.h"
#include "net/tls_info.h"

/* The plugin's file, beside the extension, is the extension's name with
 * this in place of EXT_NAME, so that it has the same ABI tag
 * ("_cunicorn.cpython-311-x86_64-linux-gnu.so" beside
 * "_cunicorn_h2tls.cpython-311-x86_64-linux-gnu.so": meson.build). */
#define EXT_NAME "_cunicorn"
#define PLUGIN_NAME "_cunicorn_h2tls"

#define PLUGIN_FUNCS(X)                                                                 \
    X(cu_tls_new) X(cu_tls_free) X(cu_tls_proxy) X(cu_tls_conn_new) X(cu_tls_notify)    \
    X(cu_tls_conn_free) X(cu_tls_error) X(cu_tls_refused) X(cu_tls_handshake)           \
    X(cu_tls_read) X(cu_tls_write) X(cu_tls_pending) X(cu_tls_peer_cert)                \
    X(cu_tls_version) X(cu_tls_cipher) X(cu_tls_alpn_h2) X(cu_tls_info_get)             \
    X(cu_tls_info_free) X(cu_h2_new) X(cu_h2_free) X(cu_h2c_asked) X(cu_h2_adopt)       \
    X(cu_h2_preface) X(cu_h2_event) X(cu_h2_stream_take) X(cu_h2_stream_want)           \
    X(cu_h2_stream_end) X(cu_h2_stream_of) X(cu_h2_stream_priority)                     \
    X(cu_h2_stream_trailers) X(cu_h2_tick)

/* The plugin's functions, once it is loaded (loaded != 0). */
static struct {
#define FIELD(f) __typeof__(f) *(f);
    PLUGIN_FUNCS(FIELD)
#undef FIELD
    int loaded;
} fn;

/* The plugin's path, made from the extension's (this file is part of
 * it). 0, or -1 with why in err. */
static int plugin_path(char *path, size_t size, char *err, size_t errlen)
{
    Dl_info info;
    const char *base;
    int n;

    if (!dladdr((void *)cu_h2tls_load, &info) || !info.dli_fname) {
        cu_seterr(err, errlen, "TLS and HTTP/2: cannot tell where the extension is");
        return -1;
    }
    base = strrchr(info.dli_fname, '/');
    base = base ? base + 1 : info.dli_fname;
    if (strncmp(base, EXT_NAME, strlen(EXT_NAME)) != 0) {
        cu_seterr(err, errlen, "TLS and HTTP/2: the extension's file %s is not %s*",
                  info.dli_fname, EXT_NAME);
        return -1;
    }
    n = snprintf(path, size, "%.*s%s%s", (int)(base - info.dli_fname), info.dli_fname,
                 PLUGIN_NAME, base + strlen(EXT_NAME));
    if (n < 0 || (size_t)n >= size) {
        cu_seterr(err, errlen, "TLS and HTTP/2: the extension's path is too long");
        return -1;
    }
    return 0;
}

int cu_h2tls_load(char *err, size_t errlen)
{
    char path[4096];
    void *h;

    if (fn.loaded)
        return 0;
    if (plugin_path(path, sizeof(path), err, errlen) < 0)
        return -1;
    if (!(h = dlopen(path, RTLD_NOW | RTLD_LOCAL))) {
        cu_seterr(err, errlen, "TLS and HTTP/2 did not load: %s", dlerror());
        return -1;
    }
#define LOOK_UP(f)                                                                  \
    if (!(*(void **)&fn.f = dlsym(h, #f))) {                                        \
        cu_seterr(err, errlen, "TLS and HTTP/2: %s has no %s", path, #f);           \
        (void)dlclose(h);                                                           \
        return -1;                                                                  \
    }
    PLUGIN_FUNCS(LOOK_UP)
#undef LOOK_UP
    fn.loaded = 1;  /* never unloaded: OpenSSL's exit handlers live there */
    return 0;
}

/* ---- the entry points: they load the plugin ------------------------------------ */

struct cu_tls *cu_tls_new(const struct cu_tls_opts *o, char *err, size_t errlen)
{
    return cu_h2tls_load(err, errlen) < 0 ? NULL : fn.cu_tls_new(o, err, errlen);
}

struct cu_h2 *cu_h2_new(const struct cu_h2_host *host)
{
    char err[512];

    if (cu_h2tls_load(err, sizeof(err)) < 0) {
        cu_log(CU_ERROR, "%s", err);
        errno = ENOSYS;
        return NULL;
    }
    return fn.cu_h2_new(host);
}

/* ---- those a server without TLS or HTTP/2 calls too ------------------------------ */

void cu_tls_free(struct cu_tls *t)
{
    if (t)
        fn.cu_tls_free(t);
}

void cu_tls_conn_free(struct cu_tls_conn *s)
{
    if (s)
        fn.cu_tls_conn_free(s);
}

void cu_tls_info_free(struct cu_tls_info *i)
{
    if (fn.loaded)
        fn.cu_tls_info_free(i);
}

void cu_h2_free(struct cu_h2 *h)
{
    if (h)
        fn.cu_h2_free(h);
}

struct h2_stream *cu_h2_stream_of(const struct cu_conn *c)
{
    return fn.loaded ? fn.cu_h2_stream_of(c) : NULL;
}

int cu_h2_preface(const char *buf, size_t n)
{
    return fn.loaded ? fn.cu_h2_preface(buf, n) : 0;
}

int cu_h2c_asked(const char *buf, const struct http_request *r, uint8_t *settings,
                 size_t *len)
{
    return fn.loaded ? fn.cu_h2c_asked(buf, r, settings, len) : 0;
}

/* ---- the rest: on objects the plugin made ---------------------------------------- */

int cu_tls_proxy(const struct cu_tls *t, const struct cu_allow **allow)
{
    return fn.cu_tls_proxy(t, allow);
}

struct cu_tls_conn *cu_tls_conn_new(struct cu_tls *t, int fd)
{
    return fn.cu_tls_conn_new(t, fd);
}

void cu_tls_notify(struct cu_tls_conn *s)
{
    fn.cu_tls_notify(s);
}

const char *cu_tls_error(const struct cu_tls_conn *s)
{
    return fn.cu_tls_error(s);
}

void cu_tls_refused(struct cu_tls_conn *s, const char *why)
{
    fn.cu_tls_refused(s, why);
}

int cu_tls_handshake(struct cu_tls_conn *s, short *want)
{
    return fn.cu_tls_handshake(s, want);
}

ssize_t cu_tls_read(struct cu_tls_conn *s, void *buf, size_t n, short *want)
{
    return fn.cu_tls_read(s, buf, n, want);
}

ssize_t cu_tls_write(struct cu_tls_conn *s, const void *buf, size_t n, short *want)
{
    return fn.cu_tls_write(s, buf, n, want);
}

int cu_tls_pending(const struct cu_tls_conn *s)
{
    return fn.cu_tls_pending(s);
}

int cu_tls_peer_cert(const struct cu_tls_conn *s, unsigned char **der)
{
    return fn.cu_tls_peer_cert(s, der);
}

const char *cu_tls_version(const struct cu_tls_conn *s)
{
    return fn.cu_tls_version(s);
}

const char *cu_tls_cipher(const struct cu_tls_conn *s, int *bits)
{
    return fn.cu_tls_cipher(s, bits);
}

int cu_tls_alpn_h2(const struct cu_tls_conn *s)
{
    return fn.cu_tls_alpn_h2(s);
}

int cu_tls_info_get(const struct cu_tls_conn *s, struct cu_tls_info *out)
{
    return fn.cu_tls_info_get(s, out);
}

int cu_h2_adopt(struct cu_h2 *h, struct cu_conn *c, int trusted,
                const struct cu_h2_upgrade *up)
{
    return fn.cu_h2_adopt(h, c, trusted, up);
}

void cu_h2_event(void *data, unsigned events, void *thread)
{
    fn.cu_h2_event(data, events, thread);
}

void cu_h2_stream_take(struct h2_stream *st, void *up, struct cu_conn *c,
                       struct http_request *r, struct http_header **hdrs, int *trusted)
{
    fn.cu_h2_stream_take(st, up, c, r, hdrs, trusted);
}

void cu_h2_stream_want(struct h2_stream *st, int what, int on)
{
    fn.cu_h2_stream_want(st, what, on);
}

void cu_h2_stream_end(struct h2_stream *st, struct cu_conn *c, int ok)
{
    fn.cu_h2_stream_end(st, c, ok);
}

void cu_h2_stream_priority(struct h2_stream *st, int *weight, int32_t *depends_on)
{
    fn.cu_h2_stream_priority(st, weight, depends_on);
}

int cu_h2_stream_trailers(struct h2_stream *st, const char *f, size_t len)
{
    return fn.cu_h2_stream_trailers(st, f, len);
}

void cu_h2_tick(struct cu_h2 *h, long long now_ms, int evict)
{
    fn.cu_h2_tick(h, now_ms, evict);
}
