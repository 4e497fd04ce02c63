/* Allow lists of peers (forwarded_allow_ips, proxy_allow_ips). Plain C. */
#ifndef CU_NET_ALLOW_H
#define CU_NET_ALLOW_H

#include <stddef.h>
#include <sys/socket.h>

/*
 * 1 when the peer is in the list: "*", an address (textual match after
 * parsing, so "::1" and "0::1" agree), or a CIDR block "10.0.0.0/8". A UNIX
 * socket peer is always allowed (Gunicorn). Entries that do not parse
 * never match.
 */
int cu_addr_allowed(const struct sockaddr *peer, socklen_t len,
                    const char *const *list, size_t n);

#endif
