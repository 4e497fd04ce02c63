/*
 * Allow lists (src/net/allow.c): each rule -- "*", addresses, CIDR blocks
 * of IPv4 and IPv6 with prefixes 0, 7, 8, 32, 128 and between, leading
 * spaces, UNIX peers, entries that never match -- and the parse of one
 * entry, strict (the settings) and not (matching).
 */
#include "net/allow.h"
#include "../lib/tap.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <string.h>
#include <sys/un.h>

#define L(...) ((const char *const[]){__VA_ARGS__, NULL})

static size_t len_of(const char *const *list)
{
    size_t n = 0;

    while (list[n] != NULL)
        n++;
    return n;
}

/* text as an IPv4 or IPv6 peer (port 1234), or a UNIX one for "unix". */
static socklen_t make_peer(const char *text, struct sockaddr_storage *ss)
{
    struct sockaddr_in *in = (struct sockaddr_in *)ss;
    struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)ss;

    memset(ss, 0, sizeof(*ss));
    if (strcmp(text, "unix") == 0) {
        struct sockaddr_un *un = (struct sockaddr_un *)ss;

        un->sun_family = AF_UNIX;
        strcpy(un->sun_path, "/tmp/x.sock");
        return (socklen_t)sizeof(*un);
    }
    if (inet_pton(AF_INET, text, &in->sin_addr) == 1) {
        in->sin_family = AF_INET;
        in->sin_port = htons(1234);
        return (socklen_t)sizeof(*in);
    }
    if (inet_pton(AF_INET6, text, &in6->sin6_addr) == 1) {
        in6->sin6_family = AF_INET6;
        in6->sin6_port = htons(1234);
        return (socklen_t)sizeof(*in6);
    }
    diag("bad peer %s", text);
    return 0;
}

static int allowed(const char *const *list, const char *peer)
{
    struct cu_allow a;
    struct sockaddr_storage ss;
    socklen_t len = make_peer(peer, &ss);
    char err[64];
    int rc;

    if (cu_allow_compile(&a, list, len_of(list), err, sizeof(err)) < 0) {
        diag("compile: %s", err);
        return -1;
    }
    rc = cu_allow_match(&a, (struct sockaddr *)&ss, len);
    cu_allow_free(&a);
    return rc;
}

struct rule {
    const char *const *list;
    const char *peer;
    int want;
    const char *why;
};

static const struct rule rules[] = {
    /* "*" */
    {L("*"), "203.0.113.9", 1, "* allows any IPv4 peer"},
    {L("*"), "2001:db8::1", 1, "* allows any IPv6 peer"},
    {L("  *"), "203.0.113.9", 1, "leading spaces skipped"},
    {L("* "), "203.0.113.9", 0, "a trailing space is not skipped: never matches"},
    {L(NULL), "203.0.113.9", 0, "an empty list allows no IP peer"},
    /* addresses */
    {L("127.0.0.1"), "127.0.0.1", 1, "an IPv4 address"},
    {L("127.0.0.1"), "127.0.0.2", 0, "another IPv4 address"},
    {L(" 127.0.0.1"), "127.0.0.1", 1, "an address after spaces"},
    {L("::1"), "0:0:0:0:0:0:0:1", 1, "IPv6 compared as parsed (::1)"},
    {L("0::1"), "::1", 1, "IPv6 compared as parsed (0::1)"},
    {L("::1"), "::2", 0, "another IPv6 address"},
    {L("10.0.0.1", "::1"), "::1", 1, "the second entry"},
    {L("127.0.0.1"), "::ffff:127.0.0.1", 0, "an IPv4 entry: no IPv4-mapped peer"},
    {L("::ffff:127.0.0.1"), "127.0.0.1", 0, "an IPv6 entry: no IPv4 peer"},
    /* prefixes */
    {L("0.0.0.0/0"), "203.0.113.9", 1, "/0: every IPv4 peer"},
    {L("0.0.0.0/0"), "::1", 0, "/0 of IPv4: no IPv6 peer"},
    {L("::/0"), "2001:db8::1", 1, "::/0: every IPv6 peer"},
    {L("::/0"), "10.0.0.1", 0, "::/0: no IPv4 peer"},
    {L("10.0.0.0/7"), "11.255.255.255", 1, "/7: the last of the block"},
    {L("10.0.0.0/7"), "10.0.0.0", 1, "/7: the first of the block"},
    {L("10.0.0.0/7"), "12.0.0.0", 0, "/7: just after"},
    {L("10.0.0.0/7"), "9.255.255.255", 0, "/7: just before"},
    {L("10.0.0.0/8"), "10.200.1.1", 1, "/8: inside"},
    {L("10.0.0.0/8"), "11.0.0.1", 0, "/8: outside"},
    {L("192.0.2.7/32"), "192.0.2.7", 1, "/32: the address"},
    {L("192.0.2.7/32"), "192.0.2.6", 0, "/32: only the address"},
    {L("192.168.4.0/22"), "192.168.7.255", 1, "/22: inside"},
    {L("192.168.4.0/22"), "192.168.8.0", 0, "/22: outside"},
    {L("fc00::/7"), "fdff:ffff::1", 1, "IPv6 /7: inside"},
    {L("fc00::/7"), "fe00::1", 0, "IPv6 /7: outside"},
    {L("2001:db8::/32"), "2001:db8:ffff::1", 1, "IPv6 /32: inside"},
    {L("2001:db8::/32"), "2001:db9::1", 0, "IPv6 /32: outside"},
    {L("2001:db8:1:2::/64"), "2001:db8:1:2:ffff::1", 1, "IPv6 /64: inside"},
    {L("2001:db8:1:2::/64"), "2001:db8:1:3::", 0, "IPv6 /64: outside"},
    {L("2001:db8::7/128"), "2001:db8::7", 1, "/128: the address"},
    {L("2001:db8::7/128"), "2001:db8::6", 0, "/128: only the address"},
    {L("10.1.2.3/8"), "10.9.9.9", 1, "host bits in a block are ignored"},
    /* read as strtol(3) reads it, as matching always did */
    {L("10.0.0.0/ 8"), "10.1.1.1", 1, "prefix after a space"},
    {L("10.0.0.0/+8"), "10.1.1.1", 1, "prefix with a + sign"},
    {L("10.0.0.0/-0"), "203.0.113.9", 1, "prefix -0 is 0"},
    /* entries that do not parse never match */
    {L("localhost"), "127.0.0.1", 0, "a host name"},
    {L(""), "10.0.0.1", 0, "an empty entry"},
    {L("10.0.0.0/33"), "10.0.0.1", 0, "IPv4 prefix past 32"},
    {L("::/129"), "::1", 0, "IPv6 prefix past 128"},
    {L("10.0.0.0/-1"), "10.0.0.1", 0, "a negative prefix"},
    {L("10.0.0.0/"), "10.0.0.1", 0, "a slash without a prefix"},
    {L("/8"), "10.0.0.1", 0, "a prefix without an address"},
    {L("10.0.0.0/x"), "10.0.0.1", 0, "a prefix that is not a number"},
    {L("10.0.0.0/8x"), "10.0.0.1", 0, "a prefix with more after it"},
    {L("10.0.0.0/8/8"), "10.0.0.1", 0, "two slashes"},
    {L("1.2.3.4.5"), "1.2.3.4", 0, "five parts"},
    {L("10.0.0.1 "), "10.0.0.1", 0, "an address with a trailing space"},
    {L("fe80::1%eth0"), "fe80::1", 0, "a scope id"},
    {L("0000000000000000000000000000000000000000000000000000000000000000000010.0.0.1"),
     "10.0.0.1", 0, "an entry too long for an address"},
    {L("nope", "10.0.0.0/8"), "10.0.0.1", 1, "a bad entry spoils no other"},
    /* UNIX peers */
    {L(NULL), "unix", 1, "a UNIX peer, even with an empty list"},
    {L("nope"), "unix", 1, "a UNIX peer, whatever the list"},
};

static void test_rules(void)
{
    for (size_t i = 0; i < sizeof(rules) / sizeof(rules[0]); i++) {
        const struct rule *r = &rules[i];
        int got = allowed(r->list, r->peer);

        ok(got == r->want, "%s: [%s%s] %s %s", r->why,
           r->list[0] ? r->list[0] : "", r->list[0] && r->list[1] ? ", ..." : "",
           r->want ? "allows" : "refuses", r->peer);
    }
}

static void test_peers(void)
{
    struct cu_allow a, none = {0};
    struct sockaddr_storage ss;
    socklen_t len;

    ok(cu_allow_compile(&a, L("*"), 1, NULL, 0) == 0, "compile [*]");
    len = make_peer("10.0.0.1", &ss);
    ok(!cu_allow_match(&a, (struct sockaddr *)&ss, len - 1),
       "an IPv4 peer with a short length: no match, even with *");
    len = make_peer("::1", &ss);
    ok(!cu_allow_match(&a, (struct sockaddr *)&ss, len - 1),
       "an IPv6 peer with a short length: no match");
    ss.ss_family = AF_UNSPEC;
    ok(!cu_allow_match(&a, (struct sockaddr *)&ss, (socklen_t)sizeof(ss)),
       "a peer of another family: no match, even with *");
    cu_allow_free(&a);
    ok(a.any == 0 && a.inet == NULL && a.inet6 == NULL && a.n_inet == 0 &&
       a.n_inet6 == 0, "free leaves it empty");
    cu_allow_free(&a);
    ok(1, "and it may be freed again");
    len = make_peer("10.0.0.1", &ss);
    ok(!cu_allow_match(&none, (struct sockaddr *)&ss, len), "all zero: an empty list");
    len = make_peer("unix", &ss);
    ok(cu_allow_match(&none, (struct sockaddr *)&ss, len), "... which UNIX peers pass");
}

static void test_compile(void)
{
    struct cu_allow a;
    static const uint8_t ten[16] = {10};

    ok(cu_allow_compile(&a, L("*", "10.1.2.3/8", "::1", "bad", " 192.0.2.1"), 5,
                        NULL, 0) == 0 && a.any && a.n_inet == 2 && a.n_inet6 == 1,
       "compiled: *, two IPv4 networks, one IPv6, the bad entry left out");
    ok(a.n_inet == 2 && memcmp(a.inet[0].addr, ten, 16) == 0 && a.inet[0].bits == 8 &&
       a.inet[1].bits == 32 && a.inet6[0].bits == 128 && a.inet6[0].addr[15] == 1,
       "networks kept with their host bits cleared and their prefix");
    cu_allow_free(&a);
    ok(cu_allow_compile(&a, NULL, 0, NULL, 0) == 0 && !a.any && a.n_inet == 0 &&
       a.n_inet6 == 0, "no entries: an empty list");
    cu_allow_free(&a);
}

static int parses(const char *entry, int strict, int *family, struct cu_allow_net *net)
{
    return cu_allow_parse(entry, strlen(entry), strict, net, family) == 0;
}

static void test_parse(void)
{
    static const char *const strict_ok[] = {
        "10.0.0.0/8", "10.0.0.1", "0.0.0.0/0", "::1", "::/0", "2001:db8::/32",
        "192.0.2.7/32", "2001:db8::7/128", "10.0.0.0/008",
    };
    static const char *const strict_bad[] = {
        "10.0.0.1/8", "10.0.0.0/ 8", "10.0.0.0/+8", "10.0.0.0/0008", "10.0.0.0/33",
        "::1/129", "::1/64", "*", "", "/8", "10.0.0.0/", "x", "10.0.0.0/-0",
    };
    struct cu_allow_net net;
    int family = 0, all = 1;

    for (size_t i = 0; i < sizeof(strict_ok) / sizeof(strict_ok[0]); i++) {
        if (!parses(strict_ok[i], 1, &family, &net)) {
            diag("strict refuses %s", strict_ok[i]);
            all = 0;
        }
    }
    ok(all, "strict: addresses and networks without host bits");
    all = 1;
    for (size_t i = 0; i < sizeof(strict_bad) / sizeof(strict_bad[0]); i++) {
        if (parses(strict_bad[i], 1, &family, &net)) {
            diag("strict takes %s", strict_bad[i]);
            all = 0;
        }
    }
    ok(all, "strict: no host bits, spaces, signs, long prefixes or non-networks");
    ok(parses("10.1.2.3/8", 0, &family, &net) && family == AF_INET && net.bits == 8 &&
       net.addr[0] == 10 && net.addr[1] == 0 && net.addr[3] == 0,
       "not strict: host bits cleared");
    ok(parses("2001:db8::1", 0, &family, &net) && family == AF_INET6 && net.bits == 128,
       "an IPv6 address: AF_INET6, 128 bits");
    ok(cu_allow_parse("10.0.0.0/8 and more", 10, 1, &net, &family) == 0 && net.bits == 8,
       "only entry[0..len) is read");
}

int main(void)
{
    test_rules();
    test_peers();
    test_compile();
    test_parse();
    return tap_done();
}
