/*
 * Tests for src/core/access.c: access_log_format (atoms, bad formats, its
 * lifetime with the access log's file) and the line (values, escaping,
 * cutting). The file itself is tests/core/test_log.c's.
 * Everything is written under a mkdtemp() directory, removed at the end.
 */
#include "../lib/tap.h"
#include "logtest.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

/* ---- helpers ---------------------------------------------------------- */

/* For messages: a line without its newline, controls shown, cut short. */
static const char *show(const char *s)
{
    static char buf[4][160];
    static int next;
    char *b = buf[next++ % 4];
    size_t o = 0;

    for (; *s && o < sizeof(buf[0]) - 5; s++) {
        unsigned char ch = (unsigned char)*s;

        if (ch == '\n' && s[1] == '\0')
            break;
        if (ch < 0x20 || ch == 0x7f) {
            b[o++] = '^';
            b[o++] = (char)(ch ^ 0x40);
        } else {
            b[o++] = (char)ch;
        }
    }
    b[o] = '\0';
    return b;
}

static struct cu_str cstr_of(const char *s, size_t n)
{
    struct cu_str r = { s, n };

    return r;
}

static void acc_stamp(time_t t, char *buf, size_t n)
{
    struct tm tm;

    if (localtime_r(&t, &tm) == NULL ||
        strftime(buf, n, "[%d/%b/%Y:%H:%M:%S %z]", &tm) == 0)
        buf[0] = '\0';
}

/* ---- lookups for {name}i, values for {name}o/e ------------------------- */

struct ctx {
    int calls;
    int bad_name;       /* a name that was not lower-case + NUL-terminated */
    const char *hostile;
    struct cu_str resp[8], env[8];  /* by the format's lookup slots */
};

static void check_name(struct ctx *c, const char *name, size_t len)
{
    size_t i;

    c->calls++;
    if (name[len] != '\0')
        c->bad_name = 1;
    for (i = 0; i < len; i++)
        if (name[i] >= 'A' && name[i] <= 'Z')
            c->bad_name = 1;
}

static struct cu_str req_hdr(void *ctx, const char *name, size_t len)
{
    struct ctx *c = ctx;
    struct cu_str none = { NULL, 0 };

    check_name(c, name, len);
    if (strcmp(name, "x-req") == 0)
        return S("reqval");
    if (strcmp(name, "x-empty") == 0)
        return S("");
    if (strcmp(name, "x-evil") == 0 && c->hostile)
        return S(c->hostile);
    return none;
}

/* What the application layer does: the value of each name the format
 * looks up, in the order cu_access_lookups() gives them. */
static void gather(struct ctx *c)
{
    const char *const *names;
    size_t i, n;

    memset(c->resp, 0, sizeof(c->resp));
    memset(c->env, 0, sizeof(c->env));
    n = cu_access_lookups('o', &names);
    for (i = 0; i < n && i < 8; i++) {
        check_name(c, names[i], strlen(names[i]));
        if (strcmp(names[i], "x-resp") == 0)
            c->resp[i] = S("respval");
    }
    n = cu_access_lookups('e', &names);
    for (i = 0; i < n && i < 8; i++) {
        check_name(c, names[i], strlen(names[i]));
        if (strcmp(names[i], "remote_addr") == 0)
            c->env[i] = S("10.0.0.1");
        if (strcmp(names[i], "wsgi.url_scheme") == 0)
            c->env[i] = S("https");
    }
}

static struct cu_access sample(struct ctx *c)
{
    struct cu_access a = sample_request();

    a.req_header = req_hdr;
    a.ctx = c;
    a.resp = c->resp;
    a.env = c->env;
    return a;
}

/* Logs a through the access log file "acc.log", returns the new bytes. */
static char *access_line(const struct cu_access *a, size_t *lenp)
{
    size_t before, after;
    char *all, *line;

    free(slurp(path_in("acc.log"), &before));
    cu_access_log(a);
    all = slurp(path_in("acc.log"), &after);
    line = strdup(all + before);
    if (line == NULL)
        abort();
    free(all);
    if (lenp)
        *lenp = after - before;
    return line;
}

/* ---- the access log ------------------------------------------------- */

static void test_access_default(void)
{
    struct ctx c = { 0, 0, NULL, {{0}}, {{0}} };
    struct cu_access a = sample(&c);
    char want0[256], want1[256], t0s[64], t1s[64], *line;
    time_t t0, t1;
    int afd;

    ok(open_logs(NULL, "acc.log", CU_INFO) == 0, "open access log, default fmt");
    ok(cu_access_needs() == (CU_ACC_NEED_REMOTE | CU_ACC_NEED_USER |
                             CU_ACC_NEED_REFERER | CU_ACC_NEED_AGENT),
       "the default format needs h, u, f, a (0x%x)", cu_access_needs());
    t0 = time(NULL);
    line = access_line(&a, NULL);
    t1 = time(NULL);
    acc_stamp(t0, t0s, sizeof(t0s));
    acc_stamp(t1, t1s, sizeof(t1s));
    if (snprintf(want0, sizeof(want0), "127.0.0.1 - alice %s \"GET /x?y=1 "
                 "HTTP/1.1\" 200 1234 \"http://ref/\" \"curl/8.0\"\n",
                 t0s) < 0 ||
        snprintf(want1, sizeof(want1), "127.0.0.1 - alice %s \"GET /x?y=1 "
                 "HTTP/1.1\" 200 1234 \"http://ref/\" \"curl/8.0\"\n",
                 t1s) < 0)
        want0[0] = want1[0] = '\0';
    ok(strcmp(line, want0) == 0 || strcmp(line, want1) == 0,
       "default format line, the Basic user as u: %s", show(line));
    free(line);

    a.response_bytes = 0;
    a.authorization = S("Bearer YWxpY2U6cHc=");
    a.referer = S(NULL);
    a.user_agent = S(NULL);
    line = access_line(&a, NULL);
    ok(strstr(line, "127.0.0.1 - - [") == line &&
       strstr(line, "\" 200 0 \"-\" \"-\"\n") != NULL,
       "b is 0 for an empty body; no Basic user, f, a: -: %s", show(line));
    free(line);

    /* NULL access log: no-op */
    afd = open_logs(NULL, NULL, CU_INFO);
    ok(cu_access_needs() == 0, "no access log: needs nothing");
    cu_access_log(&a);
    line = slurp(path_in("acc.log"), NULL);
    ok(afd == 0 && count_char(line, strlen(line), '\n') == 2,
       "no access log: nothing written");
    free(line);
    cu_log_close();
    (void)unlink(path_in("acc.log"));
}

/* The line without its %(t)s stamp (28 bytes after "t="). */
static void drop_stamp(char *line)
{
    char *t = strstr(line, "t=[");

    if (t && strlen(t + 2) >= 28)
        memmove(t + 2, t + 2 + 28, strlen(t + 2 + 28) + 1);
}

static void test_access_atoms(void)
{
    static const char fmt[] =
        "h=%(h)s|l=%(l)s|u=%(u)s|t=%(t)s|r=%(r)s|s=%(s)s|m=%(m)s|U=%(U)s|"
        "q=%(q)s|H=%(H)s|b=%(b)s|B=%(B)s|f=%(f)s|a=%(a)s|T=%(T)s|M=%(M)s|"
        "D=%(D)s|L=%(L)s|p=%(p)s|i=%({X-Req}i)s|o=%({x-resp}o)s|"
        "e=%({REMOTE_ADDR}e)s|I=%({x-req}I)s|ie=%({x-empty}i)s|"
        "in=%({nope}i)s|on=%({nope}o)s|en=%({nope}e)s|O=%({X-RESP}O)s|"
        "E=%({wsgi.url_scheme}E)s|Bd=%(B)d|Td=%(T)d|Mi=%(M)i|Du=%(D)u|%%|100%%";
    struct ctx c = { 0, 0, NULL, {{0}}, {{0}} };
    struct cu_access a;
    char *line, *t, mypid[32], want[1024];
    const char *const *names;
    time_t now;

    ok(open_logs(NULL, "acc.log", CU_INFO) == 0 && set_format(fmt) == 0,
       "every atom compiles");
    ok(cu_access_needs() == (CU_ACC_NEED_REMOTE | CU_ACC_NEED_USER |
                             CU_ACC_NEED_REFERER | CU_ACC_NEED_AGENT |
                             CU_ACC_NEED_PATH | CU_ACC_NEED_RESP |
                             CU_ACC_NEED_ENV),
       "needs: every kind (0x%x)", cu_access_needs());
    ok(cu_access_lookups('o', &names) == 2 && strcmp(names[0], "x-resp") == 0
       && strcmp(names[1], "nope") == 0,
       "{name}o lookups: lower-case, each once, in order");
    ok(cu_access_lookups('e', &names) == 3 &&
       strcmp(names[0], "remote_addr") == 0 && strcmp(names[1], "nope") == 0
       && strcmp(names[2], "wsgi.url_scheme") == 0,
       "{name}e lookups: lower-case, each once, in order");
    ok(cu_access_lookups('i', &names) == 0 && names == NULL,
       "{name}i: looked up by the callback, not listed");
    gather(&c);
    a = sample(&c);
    now = time(NULL);
    line = access_line(&a, NULL);
    t = strstr(line, "|t=[");
    ok(t && t[4 + 2] == '/' && t[4 + 6] == '/' && t[4 + 11] == ':' &&
       t[4 + 20] == ' ' && t[4 + 26] == ']', "t looks like [dd/Mon/YYYY:...]");
    if (t) {
        char ts[64];

        acc_stamp(now, ts, sizeof(ts));
        ok(strncmp(t + 3, ts, 28) == 0 || now + 1 == time(NULL),
           "t is the current local time: %.28s", t + 3);
    }
    drop_stamp(line);
    if (snprintf(want, sizeof(want), "h=127.0.0.1|l=-|u=alice|t=|"
                 "r=GET /x?y=1 HTTP/1.1|s=200|m=GET|U=/x|q=y=1|H=HTTP/1.1|"
                 "b=1234|B=1234|f=http://ref/|a=curl/8.0|T=2|M=2345|"
                 "D=2345678|L=2.345678|p=<4321>|i=reqval|o=respval|"
                 "e=10.0.0.1|I=reqval|ie=|in=-|on=-|en=-|O=respval|E=https|"
                 "Bd=1234|Td=2|Mi=2345|Du=2345678|%%|100%%\n") < 0)
        want[0] = '\0';
    ok(strcmp(line, want) == 0, "every atom: %s", show(line));
    ok(c.calls == 9 && !c.bad_name,
       "names are lower-case and NUL-terminated (%d seen)", c.calls);
    free(line);

    /* missing values */
    memset(&a, 0, sizeof(a));
    a.query = S("");
    if (snprintf(mypid, sizeof(mypid), "p=<%ld>", (long)getpid()) < 0)
        mypid[0] = '\0';
    line = access_line(&a, NULL);
    drop_stamp(line);
    if (snprintf(want, sizeof(want), "h=-|l=-|u=-|t=|r=-|s=-|m=-|U=-|q=|"
                 "H=-|b=0|B=0|f=-|a=-|T=0|M=0|D=0|L=0.000000|%s|i=-|o=-|"
                 "e=-|I=-|ie=-|in=-|on=-|en=-|O=-|E=-|Bd=0|Td=0|Mi=0|Du=0|"
                 "%%|100%%\n", mypid) < 0)
        want[0] = '\0';
    ok(strcmp(line, want) == 0, "missing values print -: %s", show(line));
    free(line);

    ok(set_format("%(T)s %(M)s %(D)s %(L)s") == 0, "time format");
    ok(cu_access_needs() == 0, "times need nothing more");
    a.request_time_us = -5;
    line = access_line(&a, NULL);
    ok(strcmp(line, "0 0 0 0.000000\n") == 0, "negative time counts as 0");
    free(line);
    a.request_time_us = INT64_C(90061000001);     /* > 1 day */
    line = access_line(&a, NULL);
    ok(strcmp(line, "90061 90061000 90061000001 90061.000001\n") == 0,
       "long request time: %s", show(line));
    free(line);

    ok(set_format("") == 0, "empty format allowed");
    line = access_line(&a, NULL);
    ok(strcmp(line, "\n") == 0, "empty format: empty line");
    free(line);
    cu_log_close();
    (void)unlink(path_in("acc.log"));
}

/* fmt, set, logs the sample request as want (one line): ok() of it. */
static void format_case(struct ctx *c, const char *fmt, const char *want)
{
    int set = set_format(fmt);
    struct cu_access a;
    char *line, w[256];

    gather(c);
    a = sample(c);
    line = access_line(&a, NULL);
    if (snprintf(w, sizeof(w), "%s\n", want) < 0)
        w[0] = '\0';
    ok(set == 0 && strcmp(line, w) == 0, "'%s' -> '%s': %s", fmt, want, show(line));
    free(line);
}

/* Gunicorn's SafeAtoms: a key that is no atom prints "-". */
static void test_access_unknown(void)
{
    static const struct {
        const char *fmt, *want;
    } cases[] = {
        { "%(x)s", "-" }, { "%(hh)s", "-" }, { "%(H )s", "-" },
        { "%()s", "-" }, { "%(Z)s|%(h)s", "-|127.0.0.1" },
        { "%({foo}z)s", "-" }, { "%({}i)s|%({}o)s|%({}e)s", "-|-|-" },
        { "%({x-req})s", "-" }, { "{x-req}i|%(x{x-req}i)s", "{x-req}i|-" },
        { "%(a(b)c)s|%((h))s", "-|-" },     /* keys nest, as in Python */
        { "%(zz)5s|%(zz)-3s|%(zz).0s|", "    -|-  ||" },
        { "%(h)%|%(zz)%", "%|%" },           /* "%(key)%" is a '%' */
    };
    struct ctx c = { 0, 0, NULL, {{0}}, {{0}} };

    ok(open_logs(NULL, "acc.log", CU_INFO) == 0, "open for unknown atoms");
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
        format_case(&c, cases[i].fmt, cases[i].want);
    ok(set_format("%(zz)s %({a}o)s") == 0 &&
       cu_access_needs() == CU_ACC_NEED_RESP, "unknown keys need nothing");
    cu_log_close();
    (void)unlink(path_in("acc.log"));
}

/* Flags, width, precision and length modifiers, as Python's % has them. */
static void test_access_widths(void)
{
    static const struct {
        const char *fmt, *want;
    } cases[] = {
        { "[%(h)12s]", "[   127.0.0.1]" },
        { "[%(h)-12s]", "[127.0.0.1   ]" },
        { "[%(h)3s]", "[127.0.0.1]" },          /* never cut by width */
        { "[%(s).1s]", "[2]" },
        { "[%(h)6.3s]", "[   127]" },
        { "[%(h).s]", "[]" },                   /* "." alone: 0 */
        { "[%(h)012s]", "[   127.0.0.1]" },     /* '0' pads numbers only */
        { "[%(B)8d]", "[    1234]" },
        { "[%(B)-8d]", "[1234    ]" },
        { "[%(B)08d]", "[00001234]" },
        { "[%(B)+d|%(B) d]", "[+1234| 1234]" },
        { "[%(B)+08d]", "[+0001234]" },
        { "[%(B).6d|%(B)8.6d]", "[001234|  001234]" },
        { "[%(B)08.6d]", "[  001234]" },        /* precision: '0' ignored */
        { "[%(T).0d]", "[2]" },                 /* a 0 precision keeps a digit */
        { "[%(B)#d|%(D)ld|%(M)hi|%(B)Lu]", "[1234|2345678|2345|1234]" },
        { "[%(B)6s|%(L)-10s]", "[  1234|2.345678  ]" },
        { "[%(a)10s]", "[  curl/8.0]" },
        { "[%({x-req}i)8s|%({x-resp}o)-9s|%({remote_addr}e).2s]",
          "[  reqval|respval  |10]" },
    };
    struct ctx c = { 0, 0, NULL, {{0}}, {{0}} };
    struct cu_access a;
    char *line;

    ok(open_logs(NULL, "acc.log", CU_INFO) == 0, "open for widths");
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
        format_case(&c, cases[i].fmt, cases[i].want);
    a = sample(&c);
    /* width counts the escaped bytes; precision the value's */
    ok(set_format("[%(a)8s|%(a).3s]") == 0, "format for escapes");
    a.user_agent = S("a\"b");
    line = access_line(&a, NULL);
    ok(strcmp(line, "[    a\\\"b|a\\\"b]\n") == 0,
       "an escape is never split by precision: %s", show(line));
    free(line);
    a.user_agent = S("ab\"");
    ok(set_format("\"%(a).2s\"") == 0, "precision before a quote");
    line = access_line(&a, NULL);
    ok(strcmp(line, "\"ab\"\n") == 0, "cut before the quote: %s", show(line));
    free(line);
    cu_log_close();
    (void)unlink(path_in("acc.log"));
}

/* u: the user of Basic credentials, taken as Gunicorn's _get_user() takes
 * it (each expectation from Python 3.11's base64.b64decode). */
static void test_access_user(void)
{
    static const struct {
        const char *auth, *user;    /* user NULL: "-" */
    } cases[] = {
        { "Basic YWxpY2U6cHc=", "alice" },
        { "basic YWxpY2U6cHc=", "alice" },
        { "BASIC YWxpY2U6cHc=", "alice" },
        { "Basic   YWxpY2U6cHc=", "alice" },
        { "Basicx YWxpY2U6cHc=", "alice" },     /* startswith("basic") */
        { "Basic YWxpY2U", NULL },              /* incorrect padding */
        { "Basic YWxpY2U=", "alice" },
        { "Basic YWxpY2U==", "alice" },
        { "Basic YWxp Y2U6 cHc=", "alice" },    /* non-alphabet skipped */
        { "Basic YW!!xpY2U6cHc=", "alice" },
        { "Basic YWxpY2U6cHc=garbage", "alice" },   /* padding ends it */
        { "Basic Y", NULL },
        { "Basic YQ", NULL },
        { "Basic YQ=", NULL },
        { "Basic YQ==", "a" },
        { "Basic =YQ==", "a" },
        { "Basic Y=Q==", "a" },
        { "Basic YW=Jj", "abc" },
        { "Basic Og==", NULL },                 /* an empty user */
        { "Basic OnB3", NULL },
        { "Basic ", NULL },
        { "Basic", NULL },
        { "Bearer YWxpY2U6cHc=", NULL },
        { "", NULL },
        { "Basic w6k6eA==", "\xc3\xa9" },       /* UTF-8 */
        { "Basic 4p2k", "\xe2\x9d\xa4" },
        { "Basic 8JCAgA==", "\xf0\x90\x80\x80" },
        { "Basic gA==", NULL },                 /* not UTF-8 */
        { "Basic 7aCA", NULL },                 /* a surrogate */
        { "Basic 9JCAgA==", NULL },             /* above U+10FFFF */
        { "Basic wMA=", NULL },                 /* overlong */
        { "Basic YWxpY2U6Ym9iOmM=", "alice" },  /* the first ':' */
    };
    char out[64];
    size_t i;

    for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        long n = cu_access_basic_user(cases[i].auth, strlen(cases[i].auth),
                                      out, sizeof(out));
        int good = cases[i].user == NULL
                       ? n == -1
                       : n == (long)strlen(cases[i].user) &&
                             memcmp(out, cases[i].user, (size_t)n) == 0;

        ok(good, "'%s': %s (%ld)", cases[i].auth,
           cases[i].user ? show(cases[i].user) : "-", n);
    }
    ok(cu_access_basic_user("Basic YWxpY2U6cHc=", 18, out, 4) == -2,
       "a user longer than the buffer: -2");
    ok(cu_access_basic_user("Basic YWxpY2U6cHc=", 18, out, 5) == 5,
       "a user that just fits");
}

static void test_access_hostile(void)
{
    struct ctx c = { 0, 0, "v\"\r\nX", {{0}}, {{0}} };
    struct cu_access a = sample(&c);
    char *line, *big, *auth;
    size_t len;
    int good;

    ok(open_logs(NULL, "acc.log", CU_INFO) == 0 &&
       set_format("\"%(a)s\" \"%(r)s\" %({x-evil}i)s %(u)s") == 0,
       "open for hostile input");
    a.user_agent = S("evil\"\\\n[02/Dec/2026] \x1b[2J\x7f\xff\xc3\xa9");
    a.request_line = S("GET /\" 200 - HTTP/1.1");
    a.authorization = S("Basic Ym9iCnJvb3Q6eA==");  /* "bob\nroot:x" */
    line = access_line(&a, &len);
    ok(strcmp(line, "\"evil\\\"\\\\\\x0A[02/Dec/2026] \\x1B[2J\\x7F\\xFF"
                    "\\xC3\\xA9\" \"GET /\\\" 200 - HTTP/1.1\" "
                    "v\\\"\\x0D\\x0AX bob\\x0Aroot\n") == 0,
       "quotes, backslash, controls, DEL, high bytes escaped: %s", show(line));
    ok(count_char(line, len, '\n') == 1, "one line only");
    free(line);
    a.authorization = S("Basic YiJvYjp4");      /* b"ob:x */
    ok(set_format("%(u)s") == 0, "u alone");
    line = access_line(&a, &len);
    ok(strcmp(line, "b\\\"ob\n") == 0, "a quote in the user: %s", show(line));
    free(line);

    /* a long user: decoded on the heap, whole */
    big = malloc(200001);
    auth = malloc(300000);
    if (big == NULL || auth == NULL)
        abort();
    memset(big, 'A', 6000);         /* base64 of 4500 0x00 bytes */
    memcpy(auth, "Basic ", 6);
    memcpy(auth + 6, big, 6000);
    a.authorization = cstr_of(auth, 6006);
    line = access_line(&a, &len);
    good = len == 4500 * 4 + 1;
    for (size_t i = 0; good && i < 4500; i++)
        good = memcmp(line + 4 * i, "\\x00", 4) == 0;
    ok(good, "a 4500-byte user, escaped whole (%zu)", len);
    free(line);
    free(auth);

    /* a huge value: heap buffer, cut at 64 KiB, still one line */
    ok(set_format("\"%(a)s\" \"%(r)s\" %({x-evil}i)s %(u)s") == 0,
       "hostile format again");
    memset(big, 'A', 200000);
    big[200000] = '\0';
    a.user_agent = S(big);
    line = access_line(&a, &len);
    ok(len == 65536 && strcmp(line + len - 4, "...\n") == 0 &&
       count_char(line, len, '\n') == 1, "huge value cut to 64 KiB (%zu)",
       len);
    free(line);

    ok(set_format("%(a)s|after") == 0, "format with a literal after");
    memset(big, '\n', 200000);      /* each byte escapes to \x0A */
    line = access_line(&a, &len);
    good = len == 65536 && strcmp(line + len - 8, "\\x0A...\n") == 0 &&
           count_char(line, len, '\n') == 1 && strstr(line, "after") == NULL;
    ok(good, "escapes are never split when cut (%zu)", len);
    free(line);

    ok(set_format("%(a)70000s|") == -1, "a width past the line's cap");
    ok(set_format("%(a)60000s|") == 0, "a big width");
    a.user_agent = S("x");
    line = access_line(&a, &len);
    ok(len == 60002 && line[59999] == 'x' && line[60000] == '|',
       "padded to 60000 (%zu)", len);
    free(line);

    memset(big, 'B', 5000);         /* just past the stack buffer */
    big[5000] = '\0';
    a.user_agent = S(big);
    ok(set_format("%(a)s|after") == 0, "format with a literal after");
    line = access_line(&a, &len);
    ok(len == 5000 + 7 && strcmp(line + 5000, "|after\n") == 0,
       "a 5000-byte value moves to the heap whole");
    free(line);
    free(big);
    cu_log_close();
    (void)unlink(path_in("acc.log"));
}

static void test_access_bad_formats(void)
{
    /* each fails in Python at every line (Gunicorn then logs a traceback
     * instead of the line), or is a conversion we do not take */
    static const char *const bad[] = {
        "%(h)", "%(h", "%q", "abc%", "%", "%%%", "100% %%", "%(h)-",
        "%(h)d", "%(s)d", "%(zz)d", "%({a}i)d", "%({a}o)i", "%({a}e)u",
        "%(h)r", "%(h)a", "%(B)r", "%(B)x", "%(B)f", "%(h)c",
        "%(h)*s", "%(h).*s", "%(h)10.*s", "%(h)99999999s", "%(h).70000s",
        "%s", "%-(h)s", "%(h)s %(zz)d", "%(a(b)s",
    };
    static const char *const good[] = {
        "%(B)d %(T)d %(M)d %(D)d", "%%", "%({A}I)s %({b}O)s %({c}E)s",
        "%(B)i %(T)u", "%(h)-+ #010.5s",
        "{a}i",     /* no '%': plain text */
    };
    char err[256];
    size_t i;
    char *line;
    struct ctx c = { 0, 0, NULL, {{0}}, {{0}} };
    struct cu_access a = sample(&c);

    ok(open_logs(NULL, "acc.log", CU_INFO) == 0 && set_format("%(h)s") == 0,
       "open with %%(h)s");
    for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        int rc;

        err[0] = '\0';
        rc = cu_access_format_set(bad[i], err, sizeof(err));
        ok(rc == -1 && err[0] != '\0', "'%s' rejected: %s", bad[i], err);
        err[0] = '\0';
        rc = cu_access_format_check(bad[i], err, sizeof(err));
        ok(rc == -1 && err[0] != '\0', "'%s' fails the check too", bad[i]);
    }
    for (i = 0; i < sizeof(good) / sizeof(good[0]); i++)
        ok(cu_access_format_check(good[i], err, sizeof(err)) == 0, "'%s' checks", good[i]);
    line = access_line(&a, NULL);
    ok(strcmp(line, "127.0.0.1\n") == 0, "rejects and checks kept the old format");
    free(line);
    ok(set_format("%(h)s") == 0 && cu_access_format_set("%(h)d", NULL, 0)
       == -1, "NULL err buffer is fine");
    line = access_line(&a, NULL);
    ok(strcmp(line, "127.0.0.1\n") == 0, "rejected format keeps the old one");
    free(line);
    for (i = 0; i < sizeof(good) / sizeof(good[0]); i++)
        ok(set_format(good[i]) == 0, "'%s' accepted", good[i]);
    line = access_line(&a, NULL);
    ok(strcmp(line, "{a}i\n") == 0, "last good format in use: %s", show(line));
    free(line);
    ok(set_format(CU_ACCESS_LOG_FORMAT_DEFAULT) == 0,
       "CU_ACCESS_LOG_FORMAT_DEFAULT compiles");
    cu_log_close();
    (void)unlink(path_in("acc.log"));
}

/* ---- the format's lifetime: the access log's file's --------------- */

static void test_access_format_lifetime(void)
{
    struct ctx c = { 0, 0, NULL, {{0}}, {{0}} };
    struct cu_access a = sample(&c);
    char *line;

    ok(set_format("%(m)s") == 0 && !cu_access_enabled(),
       "a format without an access log: not enabled");
    ok(open_logs(NULL, "acc.log", CU_INFO) == 0 && cu_access_enabled(),
       "open the access log: enabled");
    line = access_line(&a, NULL);
    ok(strcmp(line, "GET\n") == 0,
       "cu_log_open kept the format set before it: %s", show(line));
    free(line);
    cu_log_close();
    ok(!cu_access_enabled(), "close: not enabled");
    ok(open_logs(NULL, "acc.log", CU_INFO) == 0, "open again");
    line = access_line(&a, NULL);
    ok(strncmp(line, "127.0.0.1 - alice [", 19) == 0,
       "close freed the format: the default one again: %s", show(line));
    free(line);
    cu_log_close();
    (void)unlink(path_in("acc.log"));
}

int main(void)
{
    if (mkdtemp(strcpy(dir, "/tmp/cu_test_access.XXXXXX")) == NULL) {
        perror("mkdtemp");
        return 1;
    }
    if (setenv("TZ", "UTC0", 1) < 0)
        return 1;
    tzset();
    test_access_default();
    test_access_atoms();
    test_access_unknown();
    test_access_widths();
    test_access_user();
    test_access_hostile();
    test_access_bad_formats();
    test_access_format_lifetime();
    ok(rmdir(dir) == 0, "temp dir empty and removed");
    return tap_done();
}
