/* Allow lists of peers. See allow.h. */
#include "net/allow.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>

#include "core/errbuf.h"

/* What strtol(3) skips in the C locale. */
static int is_space(int ch)
{
    return ch == ' ' || (ch >= '\t' && ch <= '\r');
}

/* BITS of ADDRESS/BITS, s[0..n): a number from 0 to max, or -1. */
static int parse_bits(const char *s, size_t n, int strict, int max)
{
    size_t i = 0;
    int neg = 0, v = 0;

    if (strict && n > 3)
        return -1;
    if (!strict) {
        while (i < n && is_space((unsigned char)s[i]))
            i++;
        if (i < n && (s[i] == '+' || s[i] == '-'))
            neg = s[i++] == '-';
    }
    if (i == n)
        return -1;
    for (; i < n; i++) {
        if (s[i] < '0' || s[i] > '9')
            return -1;
        if (v <= max)   /* past max it is refused anyway: no overflow */
            v = v * 10 + (s[i] - '0');
    }
    if (neg)
        v = -v;         /* "-0" is 0, as strtol has it */
    return v >= 0 && v <= max ? v : -1;
}

int cu_allow_parse(const char *entry, size_t len, int strict,
                   struct cu_allow_net *net, int *family)
{
    char text[64];
    const char *slash = memchr(entry, '/', len);
    size_t n = slash ? (size_t)(slash - entry) : len;
    int bits = 32, prefix;

    if (n == 0 || n >= sizeof(text))
        return -1;
    memcpy(text, entry, n);
    text[n] = '\0';
    memset(net, 0, sizeof(*net));
    *family = AF_INET;
    if (inet_pton(AF_INET, text, net->addr) != 1) {
        if (inet_pton(AF_INET6, text, net->addr) != 1)
            return -1;
        *family = AF_INET6;
        bits = 128;
    }
    prefix = slash ? parse_bits(slash + 1, len - n - 1, strict, bits) : bits;
    if (prefix < 0)
        return -1;
    for (int i = prefix; i < bits; i++) {
        uint8_t bit = (uint8_t)(0x80 >> (i % 8));

        if ((net->addr[i / 8] & bit) && strict)
            return -1;
        net->addr[i / 8] &= (uint8_t)~bit;
    }
    net->bits = (uint8_t)prefix;
    return 0;
}

static int push(struct cu_allow_net **v, size_t *n, const struct cu_allow_net *net)
{
    struct cu_allow_net *grown = realloc(*v, (*n + 1) * sizeof(**v));

    if (grown == NULL)
        return -1;
    grown[(*n)++] = *net;
    *v = grown;
    return 0;
}

int cu_allow_compile(struct cu_allow *a, const char *const *list, size_t n,
                     char *err, size_t errlen)
{
    memset(a, 0, sizeof(*a));
    for (size_t i = 0; i < n; i++) {
        const char *e = list[i];
        struct cu_allow_net net;
        int af, rc;

        while (*e == ' ')
            e++;
        if (strcmp(e, "*") == 0) {
            a->any = 1;
            continue;
        }
        if (cu_allow_parse(e, strlen(e), 0, &net, &af) < 0)
            continue;   /* never matches */
        rc = af == AF_INET ? push(&a->inet, &a->n_inet, &net)
                           : push(&a->inet6, &a->n_inet6, &net);
        if (rc < 0) {
            cu_allow_free(a);
            cu_seterr(err, errlen, "out of memory for an allow list");
            return -1;
        }
    }
    return 0;
}

/* Is addr in one of v[0..n)? */
static int in_nets(const uint8_t *addr, const struct cu_allow_net *v, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        unsigned full = v[i].bits / 8, rest = v[i].bits % 8;
        unsigned mask = (0xff00u >> rest) & 0xffu;   /* rest's leading bits */

        if (memcmp(addr, v[i].addr, full) == 0 &&
            (rest == 0 || ((addr[full] ^ v[i].addr[full]) & mask) == 0))
            return 1;
    }
    return 0;
}

int cu_allow_match(const struct cu_allow *a, const struct sockaddr *peer,
                   socklen_t len)
{
    if (peer->sa_family == AF_UNIX)
        return 1;
    if (peer->sa_family == AF_INET && len >= (socklen_t)sizeof(struct sockaddr_in)) {
        const struct sockaddr_in *in = (const void *)peer;

        return a->any || in_nets((const uint8_t *)&in->sin_addr, a->inet, a->n_inet);
    }
    if (peer->sa_family == AF_INET6 && len >= (socklen_t)sizeof(struct sockaddr_in6)) {
        const struct sockaddr_in6 *in6 = (const void *)peer;

        return a->any || in_nets(in6->sin6_addr.s6_addr, a->inet6, a->n_inet6);
    }
    return 0;
}

void cu_allow_free(struct cu_allow *a)
{
    free(a->inet);
    free(a->inet6);
    memset(a, 0, sizeof(*a));
}
