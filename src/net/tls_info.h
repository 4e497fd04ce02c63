/*
 * What a TLS connection is, for the ASGI tls extension (and whoever asks):
 * our certificate and the client's chain as PEM, the client's name
 * (RFC 4514), the verification's error, the protocol and the cipher
 * suite as numbers. Plain C over OpenSSL; read once the handshake is
 * done.
 */
#ifndef CU_NET_TLS_INFO_H
#define CU_NET_TLS_INFO_H

#include <stddef.h>

#include "net/tls.h"

struct cu_tls_info {
    char *server_cert;        /* PEM, or NULL (none) */
    char **chain;             /* the client's chain as it sent it, PEM
                               * each, its own certificate first */
    size_t nchain;            /* 0: no client certificate */
    char *client_name;        /* its subject, RFC 4514; NULL: none */
    const char *client_error; /* why its verification failed (OpenSSL's
                               * words); NULL: none sent, or it passed */
    int version;              /* the protocol: 0x0304 for TLS 1.3 */
    int cipher;               /* the suite's IANA number; -1: unknown */
};

/* Fills *out (malloc'd strings). 0, or -1 when out of memory (*out then
 * holds nothing). */
int cu_tls_info_get(const struct cu_tls_conn *s, struct cu_tls_info *out);
void cu_tls_info_free(struct cu_tls_info *i);

#endif
