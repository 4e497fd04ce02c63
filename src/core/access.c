/*
 * The access log: access_log_format compiled once into ops, and the line.
 * See access.h for the contract.
 *
 * Process-wide state: the compiled format (g_fmt), one per process, set
 * up by cu_access_format_set() or cu_log_open() (cu_access_format_init())
 * before workers start (in the master again on HUP, before the new ones
 * fork), read-only in the workers, and freed by cu_log_close()
 * (cu_access_format_free()), beside the host's divert to Python's
 * logging (g_divert), set up the same way. The file the lines go to is
 * log.c's, as is the per-thread, per-second cache of the formatted time:
 * this file reads them through cu_log_access_fd() and
 * cu_log_access_stamp().
 *
 * Every line is built in one buffer and written with one write(2)
 * (retried on EINTR and partial writes). Logging never changes errno.
 */
#include "access.h"
#include "core/errbuf.h"
#include "core/io.h"
#include "core/log.h"
#include "core/syslog.h"

#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#define ACC_STACK 4096              /* access line: stack buffer first */
#define ACC_LINE_MAX 65536          /* then heap, up to this; cut beyond */
#define ACC_FMT_MAX 65536           /* longest access_log_format accepted */
#define ACC_USER_STACK 512          /* a Basic user this long decodes on
                                     * the stack; longer ones on the heap */

enum { OP_LIT, OP_ATOM, OP_DASH, OP_REQ, OP_RESP, OP_ENV };

/* Python's conversion flags, as %-formatting reads them. */
enum { F_LEFT = 1, F_ZERO = 2, F_PLUS = 4, F_SPACE = 8 };

struct acc_op {
    uint8_t kind;
    char atom;          /* OP_ATOM: the atom letter */
    char conv;          /* 's', or 'd' for an integer atom */
    uint8_t flags;      /* F_*: with width and prec, the slow path */
    uint8_t plain;      /* an atom without flags, width or precision */
    int32_t width;      /* -1: none */
    int32_t prec;       /* -1: none */
    uint32_t off, len;  /* OP_LIT: text; OP_REQ/RESP/ENV: lower-case name */
    uint32_t slot;      /* OP_RESP/OP_ENV: its index among that kind's names */
};

struct acc_fmt {
    struct acc_op *ops;
    char *text;         /* literals and NUL-terminated names */
    size_t nops, cap, tlen;
    const char **names[2];  /* {name}o, {name}e: each once (into text) */
    size_t nnames[2];
    unsigned needs;     /* CU_ACC_NEED_* */
};

static struct acc_fmt g_fmt;    /* empty until set or opened */
/* Python mode: the host's, which takes each request (access.h) */
static void (*g_divert)(const struct cu_access *a);

static int ascii_lower(int c)
{
    return c >= 'A' && c <= 'Z' ? c + ('a' - 'A') : c;
}

/* ---- access_log_format: compiled once into ops ------------------------ */

/*
 * Gunicorn applies access_log_format with Python's "%" operator over a
 * dict of atoms (glogging's SafeAtoms): %(key)[flags][width][.prec]conv.
 * The key ends at the ')' that balances its '('. A key that is one of the
 * atom letters is that atom; a key starting with '{' is lower-cased and
 * looked up as {name}i, {name}o or {name}e; any other key is "-". Python
 * fails at every line (and Gunicorn logs a traceback instead of the line)
 * for a stray '%', an integer conversion of a text value, or '*' widths:
 * those are refused here, at start-up, as are the conversions r, a, c and
 * the numeric ones other than d, i, u (Ours: nobody logs a repr()).
 */
static const char acc_atoms[] = "hlutrsmUqHbBfaTMDLp";
static const char acc_int_atoms[] = "BTMD";

static int fmt_push(struct acc_fmt *f, const struct acc_op *op)
{
    if (f->nops == f->cap)
        return -1;      /* cannot happen: cap is a bound, see format_set */
    f->ops[f->nops++] = *op;
    return 0;
}

static int fmt_lit(struct acc_fmt *f, char c)
{
    struct acc_op *last = f->nops ? &f->ops[f->nops - 1] : NULL;

    if (last == NULL || last->kind != OP_LIT ||
        last->off + last->len != f->tlen) {
        struct acc_op op = { OP_LIT, 0, 0, 0, 0, -1, -1, (uint32_t)f->tlen, 0, 0 };

        if (fmt_push(f, &op) < 0)
            return -1;
        last = &f->ops[f->nops - 1];
    }
    f->text[f->tlen++] = c;
    last->len++;
    return 0;
}

/* The slot of name (in f->text) among the {name}o (w 0) or {name}e (w 1)
 * names, added if new. */
static uint32_t fmt_slot(struct acc_fmt *f, int w, const char *name)
{
    size_t i;

    for (i = 0; i < f->nnames[w]; i++)
        if (strcmp(f->names[w][i], name) == 0)
            return (uint32_t)i;
    f->names[w][f->nnames[w]] = name;
    return (uint32_t)f->nnames[w]++;
}

/* key[0..klen) is what sits between "%(" and its ')'. */
static int fmt_key(struct acc_fmt *f, struct acc_op *op, const char *key,
                   size_t klen)
{
    size_t i, ilen;
    char last;

    if (klen == 1 && key[0] != '\0' && strchr(acc_atoms, key[0])) {
        op->kind = OP_ATOM;
        op->atom = key[0];
        return 0;
    }
    op->kind = OP_DASH;
    if (klen < 3 || key[0] != '{' || key[klen - 2] != '}')
        return 0;
    last = (char)ascii_lower((unsigned char)key[klen - 1]);
    ilen = klen - 3;
    if ((last != 'i' && last != 'o' && last != 'e') || ilen == 0)
        return 0;   /* "{}i": no header has an empty name */
    op->kind = last == 'i' ? OP_REQ : last == 'o' ? OP_RESP : OP_ENV;
    op->off = (uint32_t)f->tlen;
    op->len = (uint32_t)ilen;
    for (i = 0; i < ilen; i++)
        f->text[f->tlen++] = (char)ascii_lower((unsigned char)key[1 + i]);
    f->text[f->tlen++] = '\0';
    if (op->kind != OP_REQ) {
        int w = op->kind == OP_ENV;

        op->slot = fmt_slot(f, w, f->text + op->off);
        if (f->names[w][op->slot] != f->text + op->off)
            f->tlen -= ilen + 1;    /* a name seen before: keep one copy */
        op->off = (uint32_t)(f->names[w][op->slot] - f->text);
    }
    return 0;
}

/* Reads digits at fmt[*i] into *v (-1: none). -1 when too large. */
static int fmt_number(const char *fmt, size_t n, size_t *i, int32_t *v)
{
    int32_t x = 0;

    *v = -1;
    if (*i >= n || fmt[*i] < '0' || fmt[*i] > '9')
        return 0;
    while (*i < n && fmt[*i] >= '0' && fmt[*i] <= '9') {
        x = x * 10 + (fmt[(*i)++] - '0');
        if (x > ACC_LINE_MAX)
            return -1;
    }
    *v = x;
    return 0;
}

/* What op's value can be converted with conv, as Python would do it. */
static int fmt_conv(const struct acc_op *op, char conv, int shown,
                    const char *key, char *err, size_t errlen)
{
    int is_int = op->kind == OP_ATOM && strchr(acc_int_atoms, op->atom);

    if (conv == 's' || (is_int && (conv == 'd' || conv == 'i' ||
                                   conv == 'u')))
        return 0;
    if (conv == 'd' || conv == 'i' || conv == 'u')
        cu_seterr(err, errlen, "access_log_format: %%(%.*s)%c: the value is "
                  "text, not a number (use %%(%.*s)s)", shown, key, conv,
                  shown, key);
    else
        cu_seterr(err, errlen, "access_log_format: %%(%.*s)%c is not "
                  "supported (use %%(%.*s)s)", shown, key, conv, shown, key);
    return -1;
}

/* fmt[*i] is '%'; consumes one directive, as Python's %-formatting reads
 * it. */
static int fmt_directive(struct acc_fmt *f, const char *fmt, size_t n,
                         size_t *i, char *err, size_t errlen)
{
    struct acc_op op = { OP_DASH, 0, 's', 0, 0, -1, -1, 0, 0, 0 };
    size_t at = *i, j, depth = 1, kstart, klen;
    int shown;
    char c;

    if (at + 1 < n && fmt[at + 1] == '%') {
        *i = at + 2;
        return fmt_lit(f, '%');
    }
    if (at + 1 >= n || fmt[at + 1] != '(') {
        cu_seterr(err, errlen, "access_log_format: lone '%%' at offset %zu "
               "(use %%(atom)s, or %%%% for a '%%')", at);
        return -1;
    }
    kstart = at + 2;
    for (j = kstart; j < n && depth > 0; j++) {
        if (fmt[j] == ')')
            depth--;
        else if (fmt[j] == '(')
            depth++;
    }
    if (depth > 0) {
        cu_seterr(err, errlen, "access_log_format: '%%(' without ')' at "
               "offset %zu", at);
        return -1;
    }
    klen = j - 1 - kstart;
    shown = klen > 64 ? 64 : (int)klen;
    for (; j < n && fmt[j] != '\0' && strchr("-+ #0", fmt[j]); j++)
        op.flags |= fmt[j] == '-' ? F_LEFT : fmt[j] == '0' ? F_ZERO
                  : fmt[j] == '+' ? F_PLUS : fmt[j] == ' ' ? F_SPACE : 0;
    if (j < n && fmt[j] == '*')
        goto star;
    if (fmt_number(fmt, n, &j, &op.width) < 0)
        goto too_wide;
    if (j < n && fmt[j] == '.') {
        j++;
        if (j < n && fmt[j] == '*')
            goto star;
        if (fmt_number(fmt, n, &j, &op.prec) < 0)
            goto too_wide;
        if (op.prec < 0)
            op.prec = 0;    /* Python: "." alone is a precision of 0 */
    }
    if (j < n && (fmt[j] == 'h' || fmt[j] == 'l' || fmt[j] == 'L'))
        j++;        /* a length modifier: Python skips it */
    if (j >= n) {
        cu_seterr(err, errlen, "access_log_format: no conversion after '%%(' "
               "at offset %zu", at);
        return -1;
    }
    c = fmt[j];
    *i = j + 1;
    if (c == '%')
        return fmt_lit(f, '%');     /* Python: "%(x)%" is a '%' */
    if (fmt_key(f, &op, fmt + kstart, klen) < 0 ||
        fmt_conv(&op, c, shown, fmt + kstart, err, errlen) < 0)
        return -1;
    op.conv = c == 's' ? 's' : 'd';
    op.plain = op.flags == 0 && op.width < 0 && op.prec < 0;
    return fmt_push(f, &op);

star:
    /* with a dict of atoms, '*' has no argument to take */
    cu_seterr(err, errlen, "access_log_format: %%(%.*s): '*' is not "
              "supported", shown, fmt + kstart);
    return -1;
too_wide:
    cu_seterr(err, errlen, "access_log_format: %%(%.*s): a width or "
              "precision above %d", shown, fmt + kstart, ACC_LINE_MAX);
    return -1;
}

static void fmt_free(struct acc_fmt *f)
{
    free(f->ops);
    free(f->text);
    free(f->names[0]);
    free(f->names[1]);
    memset(f, 0, sizeof(*f));
}

static unsigned op_needs(const struct acc_op *op)
{
    if (op->kind == OP_RESP)
        return CU_ACC_NEED_RESP;
    if (op->kind == OP_ENV)
        return CU_ACC_NEED_ENV;
    if (op->kind != OP_ATOM)
        return 0;
    switch (op->atom) {
    case 'h': return CU_ACC_NEED_REMOTE;
    case 'U': return CU_ACC_NEED_PATH;
    case 'u': return CU_ACC_NEED_USER;
    case 'f': return CU_ACC_NEED_REFERER;
    case 'a': return CU_ACC_NEED_AGENT;
    default: return 0;
    }
}

/* fmt compiled into nf: 0, or -1 with a message in err (nf left empty). */
static int fmt_compile(struct acc_fmt *out, const char *fmt, char *err, size_t errlen)
{
    struct acc_fmt nf;
    size_t n, i = 0;

    memset(&nf, 0, sizeof(nf));
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
    nf.names[0] = calloc(nf.cap, sizeof(*nf.names[0]));
    nf.names[1] = calloc(nf.cap, sizeof(*nf.names[1]));
    if (nf.ops == NULL || nf.text == NULL || nf.names[0] == NULL ||
        nf.names[1] == NULL) {
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
    for (i = 0; i < nf.nops; i++)
        nf.needs |= op_needs(&nf.ops[i]);
    *out = nf;
    return 0;

internal:
    cu_seterr(err, errlen, "access_log_format: too many parts");
fail:
    fmt_free(&nf);
    return -1;
}

int cu_access_format_set(const char *fmt, char *err, size_t errlen)
{
    struct acc_fmt nf;

    if (fmt_compile(&nf, fmt, err, errlen) < 0)
        return -1;
    fmt_free(&g_fmt);
    g_fmt = nf;
    return 0;
}

int cu_access_format_check(const char *fmt, char *err, size_t errlen)
{
    struct acc_fmt nf;

    if (fmt_compile(&nf, fmt, err, errlen) < 0)
        return -1;
    fmt_free(&nf);
    return 0;
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

unsigned cu_access_needs(void)
{
    if (g_divert)
        return CU_ACC_NEED_REMOTE | CU_ACC_NEED_PATH | CU_ACC_NEED_RESP |
               CU_ACC_NEED_ENV | CU_ACC_NEED_USER | CU_ACC_NEED_REFERER |
               CU_ACC_NEED_AGENT | CU_ACC_NEED_HOST;
    return cu_access_enabled() ? g_fmt.needs : 0;
}

size_t cu_access_lookups(char which, const char *const **names)
{
    int w = which == 'e';

    if ((which != 'o' && which != 'e') || g_fmt.nnames[w] == 0 || g_divert) {
        *names = NULL;
        return 0;
    }
    *names = g_fmt.names[w];
    return g_fmt.nnames[w];
}

/* ---- the Basic user ---------------------------------------------------- */

static int b64_value(unsigned char c)
{
    if (c >= 'A' && c <= 'Z')
        return c - 'A';
    if (c >= 'a' && c <= 'z')
        return c - 'a' + 26;
    if (c >= '0' && c <= '9')
        return c - '0' + 52;
    if (c == '+')
        return 62;
    return c == '/' ? 63 : -1;
}

/*
 * base64.b64decode(s) of Python 3.11 (binascii.a2b_base64, not strict):
 * bytes outside the alphabet are skipped; a '=' that completes a quad
 * ends the input; data that ends inside a quad is an error. Only the
 * bytes before the first ':' are kept, at most outlen of them (*more says
 * there were others). The number kept, or -1 for an error.
 */
static long b64_user(const unsigned char *s, size_t n, char *out,
                     size_t outlen, int *more)
{
    int quad = 0, pads = 0, colon = 0;
    unsigned left = 0;
    size_t i, o = 0;

    *more = 0;
    for (i = 0; i < n; i++) {
        int v, have = 0;
        unsigned byte = 0;

        if (s[i] == '=') {
            if (quad >= 2 && quad + ++pads >= 4)
                break;
            continue;
        }
        v = b64_value(s[i]);
        if (v < 0)
            continue;
        pads = 0;
        switch (quad) {
        case 0:
            left = (unsigned)v;
            break;
        case 1:
            byte = (left << 2 | (unsigned)v >> 4) & 0xff;
            left = (unsigned)v & 0x0f;
            have = 1;
            break;
        case 2:
            byte = (left << 4 | (unsigned)v >> 2) & 0xff;
            left = (unsigned)v & 0x03;
            have = 1;
            break;
        default:
            byte = (left << 6 | (unsigned)v) & 0xff;
            left = 0;
            have = 1;
            break;
        }
        quad = (quad + 1) & 3;
        if (!have || colon)
            continue;
        if (byte == ':')
            colon = 1;
        else if (o < outlen)
            out[o++] = (char)byte;
        else
            *more = 1;
    }
    if (i == n && quad != 0)
        return -1;  /* "Incorrect padding", or one character too many */
    return (long)o;
}

/* Whether s[0..n) is UTF-8 that Python's strict decoder takes. */
static int utf8_valid(const unsigned char *s, size_t n)
{
    size_t i = 0;

    while (i < n) {
        unsigned c = s[i];
        size_t k;
        unsigned lo = 0x80, hi = 0xBF;

        if (c < 0x80) {
            i++;
            continue;
        }
        if (c >= 0xC2 && c <= 0xDF)
            k = 1;
        else if (c >= 0xE0 && c <= 0xEF)
            k = 2;
        else if (c >= 0xF0 && c <= 0xF4)
            k = 3;
        else
            return 0;
        if (c == 0xE0)
            lo = 0xA0;
        else if (c == 0xED)
            hi = 0x9F;      /* no surrogates */
        else if (c == 0xF0)
            lo = 0x90;
        else if (c == 0xF4)
            hi = 0x8F;      /* nothing above U+10FFFF */
        if (n - i <= k || s[i + 1] < lo || s[i + 1] > hi)
            return 0;
        for (size_t j = 2; j <= k; j++)
            if (s[i + j] < 0x80 || s[i + j] > 0xBF)
                return 0;
        i += k + 1;
    }
    return 1;
}

long cu_access_basic_user(const char *value, size_t len, char *out,
                          size_t outlen)
{
    const char *sp;
    long n;
    int more;

    /* http_auth.lower().startswith("basic"), then split(" ", 1) */
    if (value == NULL || len < 5 || strncasecmp(value, "basic", 5) != 0)
        return -1;
    sp = memchr(value, ' ', len);
    if (sp == NULL)
        return -1;
    sp++;
    /* strip(): the whitespace it takes is outside the alphabet, which the
     * decoder skips anyway */
    n = b64_user((const unsigned char *)sp, len - (size_t)(sp - value), out,
                 outlen, &more);
    if (n < 0)
        return -1;
    if (more)
        return -2;
    if (n == 0 || !utf8_valid((const unsigned char *)out, (size_t)n))
        return -1;  /* an empty user prints "-" too */
    return n;
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

/* n copies of the 32 bytes of fill. */
static void line_fill(struct line *l, const char *fill, size_t n)
{
    while (n > 0 && !l->cut) {
        size_t k = n < 32 ? n : 32;

        line_put(l, fill, k, 1);
        n -= k;
    }
}

static void line_pad(struct line *l, size_t n)
{
    line_fill(l, "                                ", n);
}

static void line_zeros(struct line *l, size_t n)
{
    line_fill(l, "00000000000000000000000000000000", n);
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

/* How long s[0..n) is once escaped. */
static size_t escaped_len(const char *s, size_t n)
{
    size_t i, k = n;

    for (i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];

        if (c == '"' || c == '\\')
            k += 1;
        else if (acc_unsafe(c))
            k += 3;
    }
    return k;
}

/* One atom's value: text to escape, or text that needs none. */
struct val {
    struct cu_str s;
    int plain;          /* digits, the time: never escaped */
    char *heap;         /* a long Basic user: freed by the caller */
};

static struct cu_str cstr(const char *s, size_t n)
{
    struct cu_str v = { s, n };

    return v;
}

static const struct cu_str dash = { "-", 1 };

/* The atom's value; tmp (64 bytes at least) holds numbers, ubuf
 * (ACC_USER_STACK bytes) a Basic user. */
static struct val atom_value(char atom, const struct cu_access *a, char *tmp,
                             size_t tmplen, char *ubuf)
{
    int64_t us = a->request_time_us > 0 ? a->request_time_us : 0;
    struct val v = { { NULL, 0 }, 1, NULL };
    int n = -1;

    switch (atom) {
    case 'h': v.s = a->remote_addr; v.plain = 0; break;
    case 'l': v.s = dash; break;
    case 'u': {
        long k = -1;

        if (a->authorization.p != NULL) {
            k = cu_access_basic_user(a->authorization.p, a->authorization.len,
                                     ubuf, ACC_USER_STACK);
            if (k == -2 && (v.heap = malloc(a->authorization.len)) != NULL)
                k = cu_access_basic_user(a->authorization.p,
                                         a->authorization.len, v.heap,
                                         a->authorization.len);
        }
        v.s = k >= 0 ? cstr(v.heap ? v.heap : ubuf, (size_t)k) : dash;
        v.plain = k < 0;
        break;
    }
    case 't': {
        const char *t = cu_log_access_stamp();

        v.s = cstr(t, strlen(t));
        break;
    }
    case 'r': v.s = a->request_line; v.plain = 0; break;
    case 's':
        if (a->status > 0)
            n = snprintf(tmp, tmplen, "%d", a->status);
        else
            v.s = dash;
        break;
    case 'm': v.s = a->method; v.plain = 0; break;
    case 'U': v.s = a->path; v.plain = 0; break;
    case 'q': v.s = a->query; v.plain = 0; break;
    case 'H': v.s = a->protocol; v.plain = 0; break;
    case 'b':
    case 'B': n = snprintf(tmp, tmplen, "%" PRIu64, a->response_bytes); break;
    case 'f': v.s = a->referer; v.plain = 0; break;
    case 'a': v.s = a->user_agent; v.plain = 0; break;
    case 'T': n = snprintf(tmp, tmplen, "%" PRId64, us / 1000000); break;
    case 'M': n = snprintf(tmp, tmplen, "%" PRId64, us / 1000); break;
    case 'D': n = snprintf(tmp, tmplen, "%" PRId64, us); break;
    case 'L':
        n = snprintf(tmp, tmplen, "%" PRId64 ".%06" PRId64, us / 1000000,
                     us % 1000000);
        break;
    case 'p':
        n = snprintf(tmp, tmplen, "<%ld>",
                     a->pid > 0 ? (long)a->pid : (long)getpid());
        break;
    default: v.s = dash; break;
    }
    if (n >= 0)
        v.s = cstr(tmp, (size_t)n < tmplen ? (size_t)n : tmplen - 1);
    if (v.s.p == NULL) {
        v.s = dash;
        v.plain = 1;
    }
    return v;
}

/* An integer atom under %d with flags, width or precision, by Python's
 * rules: the sign, then at least precision digits; width pads with spaces
 * in front, or behind with '-', or with zeros after the sign with '0'. */
static void put_int(struct line *l, const struct acc_op *op,
                    const struct cu_access *a)
{
    int64_t us = a->request_time_us > 0 ? a->request_time_us : 0;
    uint64_t x = op->atom == 'B' ? a->response_bytes
               : op->atom == 'T' ? (uint64_t)(us / 1000000)
               : op->atom == 'M' ? (uint64_t)(us / 1000) : (uint64_t)us;
    const char *sign = op->flags & F_PLUS ? "+" : op->flags & F_SPACE ? " " : "";
    char digits[32];
    size_t nd, zeros, body, w = op->width > 0 ? (size_t)op->width : 0;
    int k = snprintf(digits, sizeof(digits), "%" PRIu64, x);

    if (k <= 0)
        return;
    nd = (size_t)k;
    zeros = op->prec > 0 && (size_t)op->prec > nd ? (size_t)op->prec - nd : 0;
    body = strlen(sign) + zeros + nd;
    if (!(op->flags & F_LEFT) && w > body) {
        if ((op->flags & F_ZERO) && op->prec < 0)
            zeros += w - body;      /* between the sign and the digits */
        else
            line_pad(l, w - body);
    }
    line_put(l, sign, strlen(sign), 1);
    line_zeros(l, zeros);
    line_put(l, digits, nd, 1);
    if ((op->flags & F_LEFT) && w > body)
        line_pad(l, w - body);
}

/* A value under %s, with the op's precision (in the value's bytes) and
 * width (in the escaped bytes). */
static void put_value(struct line *l, const struct acc_op *op, struct val v)
{
    size_t n = v.s.len, shown;

    if (op->prec >= 0 && n > (size_t)op->prec)
        n = (size_t)op->prec;
    if (op->width <= 0) {
        if (v.plain)
            line_put(l, v.s.p, n, 1);
        else
            put_escaped(l, v.s.p, n);
        return;
    }
    shown = v.plain ? n : escaped_len(v.s.p, n);
    if (!(op->flags & F_LEFT) && shown < (size_t)op->width)
        line_pad(l, (size_t)op->width - shown);
    if (v.plain)
        line_put(l, v.s.p, n, 1);
    else
        put_escaped(l, v.s.p, n);
    if ((op->flags & F_LEFT) && shown < (size_t)op->width)
        line_pad(l, (size_t)op->width - shown);
}

static struct val lookup_value(const struct acc_op *op,
                               const struct cu_access *a)
{
    struct val v = { { NULL, 0 }, 0, NULL };

    if (op->kind == OP_REQ && a->req_header != NULL)
        v.s = a->req_header(a->ctx, g_fmt.text + op->off, op->len);
    else if (op->kind == OP_RESP && a->resp != NULL)
        v.s = a->resp[op->slot];
    else if (op->kind == OP_ENV && a->env != NULL)
        v.s = a->env[op->slot];
    if (v.s.p == NULL) {
        v.s = dash;
        v.plain = 1;
    }
    return v;
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
        line_put(l, buf, (size_t)n < sizeof(buf) ? (size_t)n : sizeof(buf) - 1, 1);
}

/* v in decimal, at least min digits (zeros in front): what printf's
 * "%0*llu" writes, without printf's cost on every line. */
static void put_u64(struct line *l, uint64_t v, int min)
{
    char d[24];
    int i = (int)sizeof(d);

    do {
        d[--i] = (char)('0' + v % 10);
        v /= 10;
    } while (v != 0 || (int)sizeof(d) - i < min);
    line_put(l, d + i, sizeof(d) - (size_t)i, 1);
}

static void put_str(struct line *l, struct cu_str s)
{
    if (s.p == NULL)
        line_put(l, "-", 1, 1);
    else
        put_escaped(l, s.p, s.len);
}

/* An atom without flags, width or precision (every atom of the default
 * format): straight into the line. */
static void put_atom(struct line *l, char atom, const struct cu_access *a, char *ubuf)
{
    int64_t us = a->request_time_us > 0 ? a->request_time_us : 0;

    switch (atom) {
    case 'h': put_str(l, a->remote_addr); break;
    case 'u':
        if (a->authorization.p == NULL) {
            line_put(l, "-", 1, 1);
        } else {
            char tmp[64];
            struct val v = atom_value('u', a, tmp, sizeof(tmp), ubuf);
            if (v.plain)
                line_put(l, v.s.p, v.s.len, 1);
            else
                put_escaped(l, v.s.p, v.s.len);
            free(v.heap);
        }
        break;
    case 't': {
        const char *t = cu_log_access_stamp();
        line_put(l, t, strlen(t), 1);
        break;
    }
    case 'r': put_str(l, a->request_line); break;
    case 's':
        if (a->status > 0)
            put_u64(l, (uint64_t)a->status, 1);
        else
            line_put(l, "-", 1, 1);
        break;
    case 'm': put_str(l, a->method); break;
    case 'U': put_str(l, a->path); break;
    case 'q': put_str(l, a->query); break;
    case 'H': put_str(l, a->protocol); break;
    case 'b':
    case 'B': put_u64(l, a->response_bytes, 1); break;
    case 'f': put_str(l, a->referer); break;
    case 'a': put_str(l, a->user_agent); break;
    case 'T': put_u64(l, (uint64_t)us / 1000000, 1); break;
    case 'M': put_u64(l, (uint64_t)us / 1000, 1); break;
    case 'D': put_u64(l, (uint64_t)us, 1); break;
    case 'L':
        put_u64(l, (uint64_t)us / 1000000, 1);
        line_put(l, ".", 1, 1);
        put_u64(l, (uint64_t)us % 1000000, 6);
        break;
    case 'p': put_fmt(l, "<%ld>", a->pid > 0 ? (long)a->pid : (long)getpid()); break;
    default: line_put(l, "-", 1, 1); break;   /* 'l' */
    }
}

int cu_access_enabled(void)
{
    return g_divert != NULL ||
           ((cu_log_access_fd() >= 0 || cu_syslog_access_on()) && g_fmt.ops != NULL);
}

void cu_access_divert(void (*fn)(const struct cu_access *a))
{
    g_divert = fn;
}

struct cu_str cu_access_atom(char atom, const struct cu_access *a,
                             char buf[CU_ACCESS_ATOM_BUF], char **heap)
{
    /* numbers in the first 64 bytes, a Basic user in the rest */
    struct val v = atom_value(atom, a, buf, 64, buf + 64);

    *heap = v.heap;
    return v.s;
}

void cu_access_log(const struct cu_access *a)
{
    char buf[ACC_STACK], tmp[64], ubuf[ACC_USER_STACK];
    struct line l = { buf, NULL, 0, sizeof(buf), 0 };
    int saved = errno, fd = cu_log_access_fd();
    size_t i;

    if (g_divert != NULL && a != NULL) {
        g_divert(a);
        return;
    }
    if ((fd < 0 && !cu_syslog_access_on()) || g_fmt.ops == NULL || a == NULL)
        return;
    for (i = 0; i < g_fmt.nops && !l.cut; i++) {
        const struct acc_op *op = &g_fmt.ops[i];
        struct val v;

        if (op->kind == OP_LIT) {
            line_put(&l, g_fmt.text + op->off, op->len, 0);
            continue;
        }
        if (op->kind == OP_ATOM && op->plain) {
            put_atom(&l, op->atom, a, ubuf);
            continue;
        }
        if (op->conv == 'd') {
            put_int(&l, op, a);
            continue;
        }
        if (op->kind == OP_ATOM)
            v = atom_value(op->atom, a, tmp, sizeof(tmp), ubuf);
        else if (op->kind == OP_DASH)
            v = (struct val){ dash, 1, NULL };
        else
            v = lookup_value(op, a);
        put_value(&l, op, v);
        if (v.heap)
            free(v.heap);
    }
    if (l.cut) {
        memcpy(l.p + l.len, "...", 3);  /* the line was cut */
        l.len += 3;
    }
    cu_syslog_access(l.p, l.len);   /* Gunicorn's syslog handler */
    l.p[l.len++] = '\n';
    if (fd >= 0)
        (void)cu_write_all(fd, l.p, l.len);
    free(l.heap);
    errno = saved;
}
