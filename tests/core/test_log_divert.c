/*
 * The diverts of core/log.h and core/access.h (Python mode's hooks, set by
 * the host): what goes to them, at which level, what falls back to the C
 * line, what is never diverted; and cu_access_atom().
 */
#include "../lib/tap.h"
#include "logtest.h"

struct seen {
    int n, level, exception, reopened, decline;
    char msg[8192];
    size_t len;
};

static struct seen got;

static int take_line(void *arg, enum cu_level level, const char *msg, size_t len,
                     int exception)
{
    struct seen *s = arg;

    s->n++;
    s->level = (int)level;
    s->exception = exception;
    s->len = len < sizeof(s->msg) ? len : sizeof(s->msg) - 1;
    memcpy(s->msg, msg, s->len);
    s->msg[s->len] = '\0';
    return s->decline ? -1 : 0;
}

static void take_reopen(void *arg)
{
    ((struct seen *)arg)->reopened++;
}

static void divert_on(int level)
{
    struct cu_log_divert d = {take_line, take_reopen, &got, level};

    cu_log_divert(&d);
}

static size_t file_len(const char *name)
{
    size_t len;

    free(slurp(path_in(name), &len));
    return len;
}

static void test_error_log(void)
{
    char big[6000];
    const char *parts[] = {"signal ", "line"};
    char *text;

    ok(open_logs("err.log", NULL, CU_WARNING) == 0, "open the error log at warning");
    divert_on(CU_DEBUG);
    ok(cu_log_enabled(CU_DEBUG), "the divert's level replaces the log's");
    cu_log(CU_INFO, "hello %d %s", 7, "\x1b[31mred");
    ok(got.n == 1 && got.level == CU_INFO && got.exception == 0 &&
       strcmp(got.msg, "hello 7 \x1b[31mred") == 0,
       "cu_log: the message alone, control bytes as they are");
    cu_log_exception("failed: %s", "x");
    ok(got.n == 2 && got.level == CU_ERROR && got.exception == 1 &&
       strcmp(got.msg, "failed: x") == 0, "cu_log_exception: an error, marked");
    memset(big, 'a', sizeof(big));
    cu_log_text(CU_WARNING, big, sizeof(big));
    ok(got.n == 3 && got.len == sizeof(big), "cu_log_text: the whole text (%zu)", got.len);
    ok(file_len("err.log") == 0, "nothing diverted reaches the file");

    cu_log_signal(CU_ERROR, parts, 2);
    text = slurp(path_in("err.log"), NULL);
    ok(got.n == 3 && strstr(text, "[ERROR] signal line\n") != NULL,
       "cu_log_signal is never diverted: its line is in the file");
    free(text);

    got.decline = 1;
    cu_log(CU_ERROR, "declined %d", 1);
    text = slurp(path_in("err.log"), NULL);
    ok(got.n == 4 && strstr(text, "[ERROR] declined 1\n") != NULL,
       "a declined line is written as without a divert");
    free(text);
    got.decline = 0;

    divert_on(CU_ERROR);
    cu_log(CU_WARNING, "below");
    ok(got.n == 4 && !cu_log_enabled(CU_WARNING), "lines below the divert's level are dropped");

    ok(cu_log_reopen() == 0 && got.reopened == 1, "cu_log_reopen calls reopen");

    cu_log_divert(NULL);
    cu_log(CU_WARNING, "back");
    text = slurp(path_in("err.log"), NULL);
    ok(got.n == 4 && strstr(text, "[WARNING] back\n") != NULL && !cu_log_enabled(CU_INFO),
       "NULL: the C lines again, at the log's own level");
    free(text);
    ok(cu_log_reopen() == 0 && got.reopened == 1, "and no more reopen calls");
    (void)unlink(path_in("err.log"));
    cu_log_close();
}

static const struct cu_access *taken;
static int n_taken;

static void take_access(const struct cu_access *a)
{
    taken = a;
    n_taken++;
}

/* The atom's text, NUL-terminated, in out. */
static const char *atom(char c, const struct cu_access *a, char *out, size_t n)
{
    char buf[CU_ACCESS_ATOM_BUF], *heap = NULL;
    struct cu_str s = cu_access_atom(c, a, buf, &heap);

    (void)snprintf(out, n, "%.*s", (int)s.len, s.p);
    free(heap);
    return out;
}

static void test_access(void)
{
    struct cu_access a;
    const char *const *names;
    char t[4096], want[64], auth[1400];
    size_t k;
    int letters_ok = 1;
    static const struct { char c; const char *v; } want_atoms[] = {
        {'h', "127.0.0.1"}, {'l', "-"}, {'u', "alice"}, {'r', "GET /x?y=1 HTTP/1.1"},
        {'s', "200"}, {'m', "GET"}, {'U', "/x"}, {'q', "y=1"}, {'H', "HTTP/1.1"},
        {'b', "1234"}, {'B', "1234"}, {'f', "-"}, {'a', "ua \"1\""}, {'T', "2"},
        {'M', "2345"}, {'D', "2345678"}, {'L', "2.345678"}, {'p', "<4321>"},
        {'z', "-"},
    };

    a = sample_request();
    a.referer.p = NULL;
    a.user_agent = S("ua \"1\"");
    for (k = 0; k < sizeof(want_atoms) / sizeof(want_atoms[0]); k++)
        if (strcmp(atom(want_atoms[k].c, &a, t, sizeof(t)), want_atoms[k].v) != 0) {
            diag("%c: '%s', not '%s'", want_atoms[k].c, t, want_atoms[k].v);
            letters_ok = 0;
        }
    ok(letters_ok, "cu_access_atom: each letter's text, not escaped; another letter is -");
    ok(atom('t', &a, t, sizeof(t))[0] == '[' && strlen(t) == 28, "t: the stamp (%s)", t);
    /* a Basic user longer than the buffer: on the heap */
    memset(t, 'u', 1000);
    memcpy(t + 1000, ":pw", 4);
    memcpy(auth, "Basic ", 6);
    {
        static const char b64[] =
            "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
        const unsigned char *in = (const unsigned char *)t;
        size_t n = 1003, o = 6;
        for (size_t i = 0; i + 3 <= n; i += 3) {
            unsigned v = (unsigned)in[i] << 16 | (unsigned)in[i + 1] << 8 | in[i + 2];
            auth[o++] = b64[v >> 18];
            auth[o++] = b64[(v >> 12) & 63];
            auth[o++] = b64[(v >> 6) & 63];
            auth[o++] = b64[v & 63];
        }
        auth[o] = '\0';
    }
    a.authorization = S(auth);
    ok(strlen(atom('u', &a, t, sizeof(t))) == 1000 && t[999] == 'u',
       "u: a long user comes whole");
    a.authorization.p = NULL;
    a.status = 0;
    ok(strcmp(atom('u', &a, t, sizeof(t)), "-") == 0 &&
       strcmp(atom('s', &a, want, sizeof(want)), "-") == 0, "no user, no status: -");

    ok(open_logs(NULL, NULL, CU_INFO) == 0 && !cu_access_enabled(),
       "no access log: not enabled");
    cu_access_divert(take_access);
    ok(cu_access_enabled(), "diverted: enabled without a file");
    ok(cu_access_needs() == (CU_ACC_NEED_REMOTE | CU_ACC_NEED_PATH | CU_ACC_NEED_RESP |
                             CU_ACC_NEED_ENV | CU_ACC_NEED_USER | CU_ACC_NEED_REFERER |
                             CU_ACC_NEED_AGENT | CU_ACC_NEED_HOST),
       "diverted: every need, and the host's");
    cu_access_log(&a);
    ok(n_taken == 1 && taken == &a, "cu_access_log hands the request over");
    cu_access_divert(NULL);
    ok(open_logs(NULL, "acc.log", CU_INFO) == 0 &&
       set_format("%({x-a}o)s %({e}e)s") == 0, "a format with lookups");
    cu_access_divert(take_access);
    ok(cu_access_lookups('o', &names) == 0 && cu_access_lookups('e', &names) == 0,
       "diverted: no lookups to gather");
    cu_access_log(&a);
    ok(n_taken == 2 && file_len("acc.log") == 0, "and no line in the file");
    cu_access_divert(NULL);
    cu_access_log(&a);
    ok(n_taken == 2 && file_len("acc.log") == 4 && cu_access_lookups('o', &names) == 1,
       "NULL: lines again (\"- -\\n\")");
    (void)unlink(path_in("acc.log"));
    cu_log_close();
}

int main(void)
{
    if (mkdtemp(strcpy(dir, "/tmp/cu_test_divert.XXXXXX")) == NULL) {
        perror("mkdtemp");
        return 1;
    }
    test_error_log();
    test_access();
    ok(rmdir(dir) == 0, "temp dir empty and removed");
    return tap_done();
}
