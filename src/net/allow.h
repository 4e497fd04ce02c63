/*
 * Allow lists of peers (forwarded_allow_ips, proxy_allow_ips), compiled
 * once from their text, then matched against each connection's peer.
 * Plain C.
 */
#ifndef CU_NET_ALLOW_H
#define CU_NET_ALLOW_H

#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

/* A network: its address with the host bits cleared, and how many
 * leading bits a peer's address must share with it. */
struct cu_allow_net {
    uint8_t addr[16];   /* IPv4: the first 4 bytes */
    uint8_t bits;       /* 0..32 (IPv4), 0..128 (IPv6) */
};

/* A compiled list. All zero, it is empty: only UNIX peers match. */
struct cu_allow {
    int any;                     /* "*": every IPv4 and IPv6 peer */
    struct cu_allow_net *inet;   /* the IPv4 networks */
    size_t n_inet;
    struct cu_allow_net *inet6;  /* the IPv6 networks */
    size_t n_inet6;
};

/*
 * Compiles list[0..n) into *a (which it fills from scratch). An entry is
 * "*", an address ("10.0.0.1"; compared as parsed, so "::1" and "0::1"
 * agree) or a CIDR block ("10.0.0.0/8"); leading spaces are skipped. An
 * entry that does not parse is left out: it never matches. Returns 0, or
 * -1 with a message in err when out of memory (*a is then empty).
 */
int cu_allow_compile(struct cu_allow *a, const char *const *list, size_t n,
                     char *err, size_t errlen);

/* 1 when the peer is in the list, else 0. A UNIX socket peer always is
 * (Gunicorn); an IPv4 peer is matched against the IPv4 entries only, an
 * IPv6 one (an IPv4-mapped address too) against the IPv6 entries; a peer
 * of another family, or a len too short for its family, never matches. */
int cu_allow_match(const struct cu_allow *a, const struct sockaddr *peer,
                   socklen_t len);

/* Frees what cu_allow_compile allocated; *a is left empty. */
void cu_allow_free(struct cu_allow *a);

/*
 * Parses one entry entry[0..len) other than "*": ADDRESS or ADDRESS/BITS,
 * into *net and its family (AF_INET or AF_INET6) into *family. strict:
 * Python's ipaddress.ip_network() (what the settings accept): BITS is one
 * to three digits and no host bit may be set. Otherwise BITS is read as
 * strtol(3) reads it and host bits are cleared, as matching always has.
 * Returns 0, or -1 when the entry is not a network.
 */
int cu_allow_parse(const char *entry, size_t len, int strict,
                   struct cu_allow_net *net, int *family);

#endif
