/* Allow lists of peers. See allow.h. */
#include "net/allow.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>

/* Does the address of family af at addr fall in entry (address or CIDR)? */
static int match(int af, const unsigned char *addr, const char *entry)
{
    unsigned char net[16];
    char text[64];
    const char *slash = strchr(entry, '/');
    size_t n = slash ? (size_t)(slash - entry) : strlen(entry);
    int bits = af == AF_INET ? 32 : 128, prefix = bits;

    if (n == 0 || n >= sizeof(text))
        return 0;
    memcpy(text, entry, n);
    text[n] = '\0';
    if (inet_pton(af, text, net) != 1)
        return 0;
    if (slash) {
        char *end;
        long v = strtol(slash + 1, &end, 10);
        if (end == slash + 1 || *end || v < 0 || v > bits)
            return 0;
        prefix = (int)v;
    }
    for (int i = 0; i < prefix / 8; i++)
        if (addr[i] != net[i])
            return 0;
    if (prefix % 8) {
        unsigned char mask = (unsigned char)(0xff << (8 - prefix % 8));
        if ((addr[prefix / 8] & mask) != (net[prefix / 8] & mask))
            return 0;
    }
    return 1;
}

int cu_addr_allowed(const struct sockaddr *peer, socklen_t len,
                    const char *const *list, size_t n)
{
    const unsigned char *addr;
    int af = peer->sa_family;

    if (af == AF_UNIX)
        return 1;
    if (af == AF_INET && len >= (socklen_t)sizeof(struct sockaddr_in))
        addr = (const unsigned char *)&((const struct sockaddr_in *)(const void *)peer)->sin_addr;
    else if (af == AF_INET6 && len >= (socklen_t)sizeof(struct sockaddr_in6))
        addr = ((const struct sockaddr_in6 *)(const void *)peer)->sin6_addr.s6_addr;
    else
        return 0;
    for (size_t i = 0; i < n; i++) {
        const char *e = list[i];
        while (*e == ' ')
            e++;
        if (strcmp(e, "*") == 0 || match(af, addr, e))
            return 1;
    }
    return 0;
}
