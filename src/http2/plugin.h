/*
 * TLS and HTTP/2 as a plugin of the extension module. Plain C.
 *
 * src/net/tls.c, tls_info.c and src/http2/ are built into a shared object
 * of their own, _cunicorn_h2tls (with the extension's ABI tag) beside
 * the extension, the one part of
 * cunicorn that links libssl, libcrypto and libnghttp2: loading those
 * costs a process about 1.8 MiB (their relocations, 0.5 MiB of it, in
 * every worker too), which a server without TLS or HTTP/2 never pays
 * (docs/operations.md, Memory). The extension has stubs of the same names
 * for every function of tls.h and h2.h it calls (plugin.c); the first TLS
 * context (cu_tls_new) or HTTP/2 part (cu_h2_new) loads the plugin, and
 * the master loads it before it forks whenever the settings ask for
 * either, so the workers share it. The C tests link the real functions.
 */
#ifndef CU_HTTP2_PLUGIN_H
#define CU_HTTP2_PLUGIN_H

#include <stddef.h>

/* Loads the plugin if it is not yet: 0, or -1 with why in err (the file
 * missing, a library it needs missing). Not thread-safe: the master (or
 * a worker's main thread before its pool runs) calls it. */
int cu_h2tls_load(char *err, size_t errlen);

#endif
