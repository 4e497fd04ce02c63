/*
 * The access log: access_log_format compiled once into ops, and the line.
 * See access.h for the contract.
 *
 * Process-wide state: the compiled format (g_fmt), one per process, set
 * up by cu_access_format_set() or cu_log_open() (cu_access_format_init())
 * before workers start, read-only afterwards, and freed by cu_log_close()
 * (cu_access_format_free()). The file the lines go to is log.c's, as is
 * the per-thread, per-second cache of the formatted time: this file reads
 * them through cu_log_access_fd() and cu_log_access_stamp().
 *
 * Every line is built in one buffer and written with one write(2)
 * (retried on EINTR and partial writes). Logging never changes errno.
 */
#include "access.h"
#include "core/errbuf.h"
#include "core/io.h"
#include "core/log.h"

#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define ACC_STACK 4096              /* access line: stack buffer first */
#define ACC_LINE_MAX 65536          /* then heap, up to this; cut beyond */
#define ACC_FMT_MAX 65536           /* longest access_log_format accepted */

enum { OP_LIT, OP_ATOM, OP_REQ, OP_RESP, OP_ENV };

struct acc_op {
    uint8_t kind;
    char atom;          /* OP_ATOM: the atom letter */
    uint32_t off, len;  /* OP_LIT: text; OP_REQ/RESP/ENV: lower-case name */
};

struct acc_fmt {
    struct acc_op *ops;
    char *text;         /* literals and NUL-terminated names */
    size_t nops, cap, tlen;
};

static struct acc_fmt g_fmt;    /* empty until set or opened */

static int ascii_lower(int c)
{
    return c >= 'A' && c <= 'Z' ? c + ('a' - 'A') : c;
}

/* ---- access_log_format: compiled once into ops ------------------------ */

/*
 * Gunicorn applies access_log_format with Python's "%" operator over a
 * dict of atoms. Here: %(name)s for every atom, %(B)d %(T)d %(M)d %(D)d
 * for the integer ones, and %% for a '%'. {name}i/o/e names are matched
 * ignoring case, as Gunicorn lower-cases them. Unlike Gunicorn, which
 * prints "-" for an unknown atom, an unknown atom, another conversion or
 * a stray '%' is an error at start-up (a typo is better caught then).
 */
static const char acc_atoms[] = "hlutrsmUqHbBfaTMDLp";
static const char acc_int_atoms[] = "BTMD";

static int fmt_push(struct acc_fmt *f, uint8_t kind, char atom, size_t off,
                    size_t len)
{
    if (f->nops == f->cap)
        return -1;      /* cannot happen: cap is a bound, see format_set */
    f->ops[f->nops].kind = kind;
    f->ops[f->nops].atom = atom;
    f->ops[f->nops].off = (uint32_t)off;
    f->ops[f->nops].len = (uint32_t)len;
    f->nops++;
    return 0;
}

static int fmt_lit(struct acc_fmt *f, char c)
{
    struct acc_op *last = f->nops ? &f->ops[f->nops - 1] : NULL;

    if (last == NULL || last->kind != OP_LIT ||
        last->off + last->len != f->tlen) {
        if (fmt_push(f, OP_LIT, 0, f->tlen, 0) < 0)
            return -1;
        last = &f->ops[f->nops - 1];
    }
    f->text[f->tlen++] = c;
    last->len++;
    return 0;
}

/* name is what sits between "%(" and ")". */
static int fmt_atom(struct acc_fmt *f, const char *name, size_t nlen,
                    char conv, char *err, size_t errlen)
{
    uint8_t kind;
    size_t i, ilen;
    int shown = nlen > 64 ? 64 : (int)nlen;

    if (nlen == 1 && name[0] != '\0' && strchr(acc_atoms, name[0])) {
        if (conv != 's' && !(conv == 'd' && strchr(acc_int_atoms, name[0]))) {
            cu_seterr(err, errlen, "access_log_format: %%(%c)%c is not "
                   "supported (use %%(%c)s)", name[0], conv, name[0]);
            return -1;
        }
        return fmt_push(f, OP_ATOM, name[0], 0, 0);
    }
    kind = 0;
    if (nlen >= 3 && name[0] == '{' && name[nlen - 2] == '}') {
        switch (ascii_lower((unsigned char)name[nlen - 1])) {
        case 'i': kind = OP_REQ; break;
        case 'o': kind = OP_RESP; break;
        case 'e': kind = OP_ENV; break;
        default: break;
        }
    }
    if (kind == 0) {
        cu_seterr(err, errlen, "access_log_format: unknown atom %%(%.*s)",
               shown, name);
        return -1;
    }
    ilen = nlen - 3;
    if (ilen == 0 || conv != 's') {
        cu_seterr(err, errlen, "access_log_format: %%(%.*s)%c: %s", shown, name,
               conv, ilen == 0 ? "empty name" : "use s");
        return -1;
    }
    if (fmt_push(f, kind, 0, f->tlen, ilen) < 0)
        return -1;
    for (i = 0; i < ilen; i++)
        f->text[f->tlen++] = (char)ascii_lower((unsigned char)name[1 + i]);
    f->text[f->tlen++] = '\0';
    return 0;
}

/* fmt[*i] is '%'; consumes one directive. */
static int fmt_directive(struct acc_fmt *f, const char *fmt, size_t n,
                         size_t *i, char *err, size_t errlen)
{
    size_t at = *i;
    const char *close;

    if (at + 1 < n && fmt[at + 1] == '%') {
        *i = at + 2;
        return fmt_lit(f, '%');
    }
    if (at + 1 >= n || fmt[at + 1] != '(') {
        cu_seterr(err, errlen, "access_log_format: lone '%%' at offset %zu "
               "(use %%(atom)s, or %%%% for a '%%')", at);
        return -1;
    }
    close = memchr(fmt + at + 2, ')', n - at - 2);
    if (close == NULL) {
        cu_seterr(err, errlen, "access_log_format: '%%(' without ')' at "
               "offset %zu", at);
        return -1;
    }
    if ((size_t)(close - fmt) + 1 >= n) {
        cu_seterr(err, errlen, "access_log_format: no conversion after '%%(' "
               "at offset %zu", at);
        return -1;
    }
    *i = (size_t)(close - fmt) + 2;
    return fmt_atom(f, fmt + at + 2, (size_t)(close - fmt) - at - 2,
                    close[1], err, errlen);
}

static void fmt_free(struct acc_fmt *f)
{
    free(f->ops);
    free(f->text);
    memset(f, 0, sizeof(*f));
}

int cu_access_format_set(const char *fmt, char *err, size_t errlen)
{
    struct acc_fmt nf = { NULL, NULL, 0, 0, 0 };
    size_t n, i = 0;

    if (fmt == NULL)
        fmt = CU_ACCESS_LOG_FORMAT_DEFAULT;
    n = strlen(fmt);
    if (n > ACC_FMT_MAX) {
        cu_seterr(err, errlen, "access_log_format: longer than %d bytes",
               ACC_FMT_MAX);
        return -1;
    }
    /* A directive takes >= 5 bytes ("%(h)s") and a literal run >= 1, and
     * literal runs are merged, so there are at most n / 3 + 1 ops. The
     * text never outgrows the format: "%%" gives 1 byte, and a name plus
     * its NUL is shorter than its "%({...}i)s". */
    nf.cap = n / 2 + 2;
    nf.ops = calloc(nf.cap, sizeof(*nf.ops));
    nf.text = malloc(n + 1);
    if (nf.ops == NULL || nf.text == NULL) {
        cu_seterr(err, errlen, "access_log_format: out of memory");
        goto fail;
    }
    while (i < n) {
        if (fmt[i] != '%') {
            if (fmt_lit(&nf, fmt[i++]) < 0)
                goto internal;
        } else if (fmt_directive(&nf, fmt, n, &i, err, errlen) < 0) {
            if (nf.nops == nf.cap)
                goto internal;
            goto fail;
        }
    }
    fmt_free(&g_fmt);
    g_fmt = nf;
    return 0;

internal:
    cu_seterr(err, errlen, "access_log_format: too many parts");
fail:
    fmt_free(&nf);
    return -1;
}

int cu_access_format_init(char *err, size_t errlen)
{
    if (g_fmt.ops != NULL)
        return 0;
    return cu_access_format_set(CU_ACCESS_LOG_FORMAT_DEFAULT, err, errlen);
}

void cu_access_format_free(void)
{
    fmt_free(&g_fmt);
}

/* ---- the access log line ---------------------------------------------- */

/* A line in a stack buffer, moved to the heap if it grows, up to
 * ACC_LINE_MAX; 4 bytes always stay free for "...\n". */
struct line {
    char *p;
    char *heap;     /* owned, or NULL while p is the stack buffer */
    size_t len, cap;
    int cut;        /* something did not fit: the line ends with "..." */
};

static int line_grow(struct line *l, size_t need)
{
    size_t ncap = l->cap;
    char *np;

    if (l->cap >= ACC_LINE_MAX)
        return -1;
    while (ncap - 4 - l->len < need && ncap < ACC_LINE_MAX)
        ncap *= 2;
    if (ncap > ACC_LINE_MAX)
        ncap = ACC_LINE_MAX;
    np = realloc(l->heap, ncap);
    if (np == NULL)
        return -1;
    if (l->heap == NULL)
        memcpy(np, l->p, l->len);
    l->heap = np;
    l->p = np;
    l->cap = ncap;
    return 0;
}

/* whole: all of s or nothing (an escape sequence is never split). */
static void line_put(struct line *l, const char *s, size_t n, int whole)
{
    size_t room;

    if (l->cut)
        return;
    room = l->cap - 4 - l->len;
    if (n > room && line_grow(l, n) == 0)
        room = l->cap - 4 - l->len;
    if (n > room) {
        if (!whole) {
            memcpy(l->p + l->len, s, room);
            l->len += room;
        }
        l->cut = 1;
        return;
    }
    memcpy(l->p + l->len, s, n);
    l->len += n;
}

/*
 * Values that come from the client (or the app) are escaped like nginx's
 * access log: '"' and '\' get a backslash, bytes below 0x20 and from 0x7f
 * up become \xNN. So a quoted field always ends at the next unescaped '"'
 * and no value can start a new line or send terminal escapes. Gunicorn
 * does not do this: it only turns '"' into \" (leaving '\', CR, LF and
 * ESC as they are) and writes bytes >= 0x80 as UTF-8 of their latin-1
 * reading.
 */
static int acc_unsafe(unsigned char c)
{
    return c < 0x20 || c >= 0x7f || c == '"' || c == '\\';
}

static void put_escaped(struct line *l, const char *s, size_t n)
{
    static const char hex[] = "0123456789ABCDEF";
    size_t i = 0, run;
    char e[4];

    while (i < n && !l->cut) {
        unsigned char c;

        for (run = i; run < n && !acc_unsafe((unsigned char)s[run]); run++)
            ;
        if (run > i) {
            line_put(l, s + i, run - i, 0);
            i = run;
            continue;
        }
        c = (unsigned char)s[i++];
        e[0] = '\\';
        if (c == '"' || c == '\\') {
            e[1] = (char)c;
            line_put(l, e, 2, 1);
        } else {
            e[1] = 'x';
            e[2] = hex[c >> 4];
            e[3] = hex[c & 15];
            line_put(l, e, 4, 1);
        }
    }
}

static void put_str(struct line *l, struct cu_str s)
{
    if (s.p == NULL)
        line_put(l, "-", 1, 1);
    else
        put_escaped(l, s.p, s.len);
}

__attribute__((format(printf, 2, 3)))
static void put_fmt(struct line *l, const char *fmt, ...)
{
    char buf[64];
    va_list ap;
    int n;

    va_start(ap, fmt);
    n = vsnprintf(buf, sizeof(buf), fmt, ap);
    va_end(ap);
    if (n > 0)
        line_put(l, buf, (size_t)n < sizeof(buf) ? (size_t)n
                                                 : sizeof(buf) - 1, 1);
}

static void put_atom(struct line *l, char atom, const struct cu_access *a)
{
    int64_t us = a->request_time_us > 0 ? a->request_time_us : 0;

    switch (atom) {
    case 'h': put_str(l, a->remote_addr); break;
    case 'l': line_put(l, "-", 1, 1); break;
    case 'u':
        if (a->user.p == NULL || a->user.len == 0)
            line_put(l, "-", 1, 1);
        else
            put_escaped(l, a->user.p, a->user.len);
        break;
    case 't': {
        const char *t = cu_log_access_stamp();

        line_put(l, t, strlen(t), 1);
        break;
    }
    case 'r': put_str(l, a->request_line); break;
    case 's':
        if (a->status > 0)
            put_fmt(l, "%d", a->status);
        else
            line_put(l, "-", 1, 1);
        break;
    case 'm': put_str(l, a->method); break;
    case 'U': put_str(l, a->target); break;
    case 'q': put_str(l, a->query); break;
    case 'H': put_str(l, a->protocol); break;
    case 'b':
    case 'B': put_fmt(l, "%" PRIu64, a->response_bytes); break;
    case 'f': put_str(l, a->referer); break;
    case 'a': put_str(l, a->user_agent); break;
    case 'T': put_fmt(l, "%" PRId64, us / 1000000); break;
    case 'M': put_fmt(l, "%" PRId64, us / 1000); break;
    case 'D': put_fmt(l, "%" PRId64, us); break;
    case 'L':
        put_fmt(l, "%" PRId64 ".%06" PRId64, us / 1000000, us % 1000000);
        break;
    case 'p':
        put_fmt(l, "<%ld>", a->pid > 0 ? (long)a->pid : (long)getpid());
        break;
    default: line_put(l, "-", 1, 1); break;
    }
}

static void put_lookup(struct line *l, const struct acc_op *op,
                       const struct cu_access *a)
{
    struct cu_str (*fn)(void *, const char *, size_t);
    struct cu_str v = { NULL, 0 };

    fn = op->kind == OP_REQ ? a->req_header
       : op->kind == OP_RESP ? a->resp_header : a->environ;
    if (fn != NULL)
        v = fn(a->ctx, g_fmt.text + op->off, op->len);
    put_str(l, v);
}

int cu_access_enabled(void)
{
    return cu_log_access_fd() >= 0 && g_fmt.ops != NULL;
}

void cu_access_log(const struct cu_access *a)
{
    char buf[ACC_STACK];
    struct line l = { buf, NULL, 0, sizeof(buf), 0 };
    int saved = errno, fd = cu_log_access_fd();
    size_t i;

    if (fd < 0 || g_fmt.ops == NULL || a == NULL)
        return;
    for (i = 0; i < g_fmt.nops && !l.cut; i++) {
        const struct acc_op *op = &g_fmt.ops[i];

        if (op->kind == OP_LIT)
            line_put(&l, g_fmt.text + op->off, op->len, 0);
        else if (op->kind == OP_ATOM)
            put_atom(&l, op->atom, a);
        else
            put_lookup(&l, op, a);
    }
    if (l.cut) {
        memcpy(l.p + l.len, "...", 3);  /* the line was cut */
        l.len += 3;
    }
    l.p[l.len++] = '\n';
    (void)cu_write_all(fd, l.p, l.len);
    free(l.heap);
    errno = saved;
}
