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

static void acc_stamp(time_t t, char *buf, size_t n)
{
    struct tm tm;

    if (localtime_r(&t, &tm) == NULL ||
        strftime(buf, n, "[%d/%b/%Y:%H:%M:%S %z]", &tm) == 0)
        buf[0] = '\0';
}

/* ---- lookups for {name}i/o/e ----------------------------------------- */

struct ctx {
    int calls;
    int bad_name;       /* a name that was not lower-case + NUL-terminated */
    const char *hostile;
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

static struct cu_str resp_hdr(void *ctx, const char *name, size_t len)
{
    struct cu_str none = { NULL, 0 };

    check_name(ctx, name, len);
    return strcmp(name, "x-resp") == 0 ? S("respval") : none;
}

static struct cu_str env_var(void *ctx, const char *name, size_t len)
{
    struct cu_str none = { NULL, 0 };

    check_name(ctx, name, len);
    return strcasecmp(name, "REMOTE_ADDR") == 0 ? S("10.0.0.1") : none;
}

static struct cu_access sample(struct ctx *c)
{
    struct cu_access a;

    memset(&a, 0, sizeof(a));
    a.remote_addr = S("127.0.0.1");
    a.method = S("GET");
    a.target = S("/x");
    a.query = S("y=1");
    a.protocol = S("HTTP/1.1");
    a.request_line = S("GET /x?y=1 HTTP/1.1");
    a.user = S("alice");
    a.status = 200;
    a.response_bytes = 1234;
    a.referer = S("http://ref/");
    a.user_agent = S("curl/8.0");
    a.request_time_us = 2345678;
    a.pid = 4321;
    a.req_header = req_hdr;
    a.resp_header = resp_hdr;
    a.environ = env_var;
    a.ctx = c;
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
    struct ctx c = { 0, 0, NULL };
    struct cu_access a = sample(&c);
    char want0[256], want1[256], t0s[64], t1s[64], *line;
    time_t t0, t1;
    int afd;

    ok(open_logs(NULL, "acc.log", CU_INFO) == 0, "open access log, default fmt");
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
       "default format line: %s", show(line));
    free(line);

    a.response_bytes = 0;
    a.user = S("");
    a.referer = S(NULL);
    a.user_agent = S(NULL);
    line = access_line(&a, NULL);
    ok(strstr(line, "127.0.0.1 - - [") == line &&
       strstr(line, "\" 200 0 \"-\" \"-\"\n") != NULL,
       "b is 0 for an empty body; missing u/f/a are -: %s", show(line));
    free(line);

    /* NULL access log: no-op */
    afd = open_logs(NULL, NULL, CU_INFO);
    cu_access_log(&a);
    line = slurp(path_in("acc.log"), NULL);
    ok(afd == 0 && count_char(line, strlen(line), '\n') == 2,
       "no access log: nothing written");
    free(line);
    cu_log_close();
    (void)unlink(path_in("acc.log"));
}

static void test_access_atoms(void)
{
    static const char fmt[] =
        "h=%(h)s|l=%(l)s|u=%(u)s|t=%(t)s|r=%(r)s|s=%(s)s|m=%(m)s|U=%(U)s|"
        "q=%(q)s|H=%(H)s|b=%(b)s|B=%(B)s|f=%(f)s|a=%(a)s|T=%(T)s|M=%(M)s|"
        "D=%(D)s|L=%(L)s|p=%(p)s|i=%({X-Req}i)s|o=%({x-resp}o)s|"
        "e=%({REMOTE_ADDR}e)s|I=%({x-req}I)s|ie=%({x-empty}i)s|"
        "in=%({nope}i)s|Bd=%(B)d|Td=%(T)d|%%|100%%";
    struct ctx c = { 0, 0, NULL };
    struct cu_access a = sample(&c);
    char *line, *t, mypid[32], want[1024];
    time_t now;

    ok(open_logs(NULL, "acc.log", CU_INFO) == 0 && set_format(fmt) == 0,
       "every atom compiles");
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
        memmove(t + 3, t + 3 + 28, strlen(t + 3 + 28) + 1);
    }
    if (snprintf(want, sizeof(want), "h=127.0.0.1|l=-|u=alice|t=|"
                 "r=GET /x?y=1 HTTP/1.1|s=200|m=GET|U=/x|q=y=1|H=HTTP/1.1|"
                 "b=1234|B=1234|f=http://ref/|a=curl/8.0|T=2|M=2345|"
                 "D=2345678|L=2.345678|p=<4321>|i=reqval|o=respval|"
                 "e=10.0.0.1|I=reqval|ie=|in=-|Bd=1234|Td=2|%%|100%%\n") < 0)
        want[0] = '\0';
    ok(strcmp(line, want) == 0, "every atom: %s", show(line));
    ok(c.calls == 6 && !c.bad_name,
       "callbacks got lower-case, NUL-terminated names (%d calls)", c.calls);
    free(line);

    /* missing values */
    memset(&a, 0, sizeof(a));
    a.query = S("");
    a.user = S("");
    if (snprintf(mypid, sizeof(mypid), "p=<%ld>", (long)getpid()) < 0)
        mypid[0] = '\0';
    line = access_line(&a, NULL);
    t = strstr(line, "|t=[");
    if (t)
        memmove(t + 3, t + 3 + 28, strlen(t + 3 + 28) + 1);
    if (snprintf(want, sizeof(want), "h=-|l=-|u=-|t=|r=-|s=-|m=-|U=-|q=|"
                 "H=-|b=0|B=0|f=-|a=-|T=0|M=0|D=0|L=0.000000|%s|i=-|o=-|"
                 "e=-|I=-|ie=-|in=-|Bd=0|Td=0|%%|100%%\n", mypid) < 0)
        want[0] = '\0';
    ok(strcmp(line, want) == 0, "missing values print -: %s", show(line));
    free(line);

    ok(set_format("%(T)s %(M)s %(D)s %(L)s") == 0, "time format");
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

static void test_access_hostile(void)
{
    struct ctx c = { 0, 0, "v\"\r\nX" };
    struct cu_access a = sample(&c);
    char *line, *big;
    size_t len;
    int good;

    ok(open_logs(NULL, "acc.log", CU_INFO) == 0 &&
       set_format("\"%(a)s\" \"%(r)s\" %({x-evil}i)s %(u)s") == 0,
       "open for hostile input");
    a.user_agent = S("evil\"\\\n[02/Dec/2026] \x1b[2J\x7f\xff\xc3\xa9");
    a.request_line = S("GET /\" 200 - HTTP/1.1");
    a.user = S("bob\nroot");
    line = access_line(&a, &len);
    ok(strcmp(line, "\"evil\\\"\\\\\\x0A[02/Dec/2026] \\x1B[2J\\x7F\\xFF"
                    "\\xC3\\xA9\" \"GET /\\\" 200 - HTTP/1.1\" "
                    "v\\\"\\x0D\\x0AX bob\\x0Aroot\n") == 0,
       "quotes, backslash, controls, DEL, high bytes escaped: %s", show(line));
    ok(count_char(line, len, '\n') == 1, "one line only");
    free(line);

    /* a huge value: heap buffer, cut at 64 KiB, still one line */
    big = malloc(200001);
    if (big == NULL)
        abort();
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

    memset(big, 'B', 5000);         /* just past the stack buffer */
    big[5000] = '\0';
    a.user_agent = S(big);
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
    static const char *const bad[] = {
        "%(x)s", "%(hh)s", "%(H )s", "%({foo}z)s", "%({}i)s",
        "%(h)", "%(h", "%q", "abc%", "%", "%(h)d", "%(h)r", "%(h)-10s",
        "%({a}i)d", "%(s)d", "%()s", "%(h)s %(zz)s", "%%%", "100% %%",
    };
    static const char *const good[] = {
        "%(B)d %(T)d %(M)d %(D)d", "%%", "%({A}I)s %({b}O)s %({c}E)s",
        "{a}i",     /* no '%': plain text */
    };
    char err[256];
    size_t i;
    char *line;
    struct ctx c = { 0, 0, NULL };
    struct cu_access a = sample(&c);

    ok(open_logs(NULL, "acc.log", CU_INFO) == 0 && set_format("%(h)s") == 0,
       "open with %%(h)s");
    for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        int rc;

        err[0] = '\0';
        rc = cu_access_format_set(bad[i], err, sizeof(err));
        ok(rc == -1 && err[0] != '\0', "'%s' rejected: %s", bad[i], err);
    }
    line = access_line(&a, NULL);
    ok(strcmp(line, "127.0.0.1\n") == 0, "rejects kept the old format");
    free(line);
    ok(set_format("%(h)s") == 0 && cu_access_format_set("%(zz)s", NULL, 0)
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
    struct ctx c = { 0, 0, NULL };
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
    test_access_hostile();
    test_access_bad_formats();
    test_access_format_lifetime();
    ok(rmdir(dir) == 0, "temp dir empty and removed");
    return tap_done();
}
