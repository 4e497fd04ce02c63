/*
 * A small JSON reader for the C test drivers: recursive descent over a
 * length-bounded buffer. See json.h for the string decoding rules.
 */
#include "json.h"

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct reader {
    const unsigned char *s;
    size_t len, pos;
    char *err;
    size_t errlen;
};

__attribute__((format(printf, 3, 4)))
static void *fail(struct reader *r, size_t at, const char *fmt, ...)
{
    va_list ap;
    int n;

    if (r->err == NULL || r->errlen == 0)
        return NULL;
    n = snprintf(r->err, r->errlen, "offset %zu: ", at);
    if (n >= 0 && (size_t)n < r->errlen) {
        va_start(ap, fmt);
        (void)vsnprintf(r->err + n, r->errlen - (size_t)n, fmt, ap);
        va_end(ap);
    }
    return NULL;
}

static int is_digit(unsigned char c) { return c >= '0' && c <= '9'; }

static void skip_ws(struct reader *r)
{
    while (r->pos < r->len && (r->s[r->pos] == ' ' || r->s[r->pos] == '\t' ||
                               r->s[r->pos] == '\n' || r->s[r->pos] == '\r'))
        r->pos++;
}

static struct json *new_node(struct reader *r, enum json_type type)
{
    struct json *j = calloc(1, sizeof *j);

    if (j == NULL)
        return fail(r, r->pos, "out of memory");
    j->type = type;
    return j;
}

/* Four hex digits at s[i..i+4), all before end; -1 if not. */
static long hex4(const unsigned char *s, size_t i, size_t end)
{
    long v = 0;

    if (end - i < 4)
        return -1;
    for (size_t k = i; k < i + 4; k++) {
        unsigned char c = s[k];
        int d = is_digit(c) ? c - '0'
              : (c | 0x20) >= 'a' && (c | 0x20) <= 'f' ? (c | 0x20) - 'a' + 10 : -1;
        if (d < 0)
            return -1;
        v = v * 16 + d;
    }
    return v;
}

/* Decodes one UTF-8 sequence from s[0..avail); its length, or 0 if invalid
 * (bad lead or continuation byte, overlong, surrogate, > U+10FFFF). */
static size_t utf8_decode(const unsigned char *s, size_t avail, unsigned long *cp)
{
    static const unsigned long min[4] = { 0, 0x80, 0x800, 0x10000 };
    size_t n = s[0] >= 0xC2 && s[0] <= 0xDF ? 2 : s[0] >= 0xE0 && s[0] <= 0xEF ? 3
             : s[0] >= 0xF0 && s[0] <= 0xF4 ? 4 : 0;
    unsigned long v;

    if (n == 0 || avail < n)
        return 0;
    v = s[0] & (0x7F >> n);
    for (size_t k = 1; k < n; k++) {
        if ((s[k] & 0xC0) != 0x80)
            return 0;
        v = v << 6 | (s[k] & 0x3F);
    }
    if (v < min[n - 1] || v > 0x10FFFF || (v >= 0xD800 && v <= 0xDFFF))
        return 0;
    *cp = v;
    return n;
}

/* Code points <= 0xFF become one byte, others UTF-8. */
static void put_cp(unsigned char *out, size_t *o, unsigned long cp)
{
    static const unsigned char lead[5] = { 0, 0, 0xC0, 0xE0, 0xF0 };
    size_t n = cp <= 0xFF ? 1 : cp < 0x800 ? 2 : cp < 0x10000 ? 3 : 4;

    for (size_t k = n - 1; k > 0; k--, cp >>= 6)
        out[*o + k] = (unsigned char)(0x80 | (cp & 0x3F));
    out[*o] = (unsigned char)(lead[n] | cp);
    *o += n;
}

/* Escape at s[i] == '\\' (i + 1 < end); its length, or 0 after fail(). */
static size_t parse_escape(struct reader *r, size_t i, size_t end,
                           unsigned char *out, size_t *o)
{
    static const char from[] = "\"\\/bfnrt", to[] = "\"\\/\b\f\n\r\t";
    const char *e = r->s[i + 1] != '\0' ? strchr(from, r->s[i + 1]) : NULL;
    long cp, lo;

    if (e != NULL) {
        out[(*o)++] = (unsigned char)to[e - from];
        return 2;
    }
    if (r->s[i + 1] != 'u') {
        fail(r, i, "invalid escape");
        return 0;
    }
    if ((cp = hex4(r->s, i + 2, end)) < 0) {
        fail(r, i, "\\u needs four hex digits");
        return 0;
    }
    if (cp < 0xD800 || cp > 0xDFFF) {
        put_cp(out, o, (unsigned long)cp);
        return 6;
    }
    if (cp >= 0xDC00 || end - i < 12 || r->s[i + 6] != '\\' || r->s[i + 7] != 'u' ||
        (lo = hex4(r->s, i + 8, end)) < 0xDC00 || lo > 0xDFFF) {
        fail(r, i, "unpaired surrogate");
        return 0;
    }
    put_cp(out, o, 0x10000 + ((unsigned long)(cp - 0xD800) << 10 | (unsigned long)(lo - 0xDC00)));
    return 12;
}

/* String at r->pos (the opening quote) into a new buffer; 0 or -1. */
static int parse_string(struct reader *r, char **str, size_t *len)
{
    size_t open = r->pos, i = open + 1, end, o = 0, step;
    unsigned char *out;
    unsigned long cp;

    for (end = i; end < r->len && r->s[end] != '"'; end++)
        if (r->s[end] == '\\')
            end++;
    if (end >= r->len) {
        fail(r, open, "unterminated string");
        return -1;
    }
    /* Decoding never grows: 6 -> <= 3, 12 -> 4, UTF-8 n -> <= n bytes. */
    if ((out = malloc(end - i + 1)) == NULL) {
        fail(r, open, "out of memory");
        return -1;
    }
    while (i < end) {
        unsigned char c = r->s[i];
        if (c < 0x20) {
            fail(r, i, "control character 0x%02x in string", c);
            step = 0;
        } else if (c == '\\') {
            step = parse_escape(r, i, end, out, &o);
        } else if (c < 0x80) {
            out[o++] = c;
            step = 1;
        } else if ((step = utf8_decode(r->s + i, end - i, &cp)) == 0) {
            fail(r, i, "invalid UTF-8");
        } else if (cp <= 0xFF) {
            out[o++] = (unsigned char)cp;
        } else {
            memcpy(out + o, r->s + i, step);
            o += step;
        }
        if (step == 0) {
            free(out);
            return -1;
        }
        i += step;
    }
    out[o] = '\0';
    *str = (char *)out;
    *len = o;
    r->pos = end + 1;
    return 0;
}

static struct json *parse_number(struct reader *r)
{
    const unsigned char *s = r->s;
    size_t start = r->pos, i = start, n = r->len;
    char small[64], *buf = small;
    struct json *j;
    double v;

    if (i < n && s[i] == '-')
        i++;
    if (i >= n || !is_digit(s[i])) {
        if (i > start)
            return fail(r, i, "digit expected after '-'");
        return fail(r, i, "unexpected character 0x%02x", s[i]);
    }
    if (s[i++] != '0')
        while (i < n && is_digit(s[i]))
            i++;
    if (i < n && s[i] == '.') {
        if (++i >= n || !is_digit(s[i]))
            return fail(r, i, "digit expected after '.'");
        while (i < n && is_digit(s[i]))
            i++;
    }
    if (i < n && (s[i] | 0x20) == 'e') {
        if (++i < n && (s[i] == '+' || s[i] == '-'))
            i++;
        if (i >= n || !is_digit(s[i]))
            return fail(r, i, "digit expected in exponent");
        while (i < n && is_digit(s[i]))
            i++;
    }
    if (i - start >= sizeof small && (buf = malloc(i - start + 1)) == NULL)
        return fail(r, start, "out of memory");
    memcpy(buf, s + start, i - start);
    buf[i - start] = '\0';
    v = strtod(buf, NULL);
    if (buf != small)
        free(buf);
    if (isinf(v))
        return fail(r, start, "number out of range");
    if ((j = new_node(r, JSON_NUMBER)) == NULL)
        return NULL;
    j->number = v;
    r->pos = i;
    return j;
}

static struct json *parse_literal(struct reader *r, const char *word, enum json_type type, int b)
{
    size_t wl = strlen(word);
    struct json *j;

    if (r->len - r->pos < wl || memcmp(r->s + r->pos, word, wl) != 0)
        return fail(r, r->pos, "invalid literal (expected '%s')", word);
    if ((j = new_node(r, type)) == NULL)
        return NULL;
    j->boolean = b;
    r->pos += wl;
    return j;
}

static int append(struct reader *r, struct json *j, size_t *cap, char *key, struct json *v)
{
    if (j->n == *cap) {
        size_t nc = *cap ? *cap * 2 : 4;
        void *p;
        /* items is an array of pointers: sizeof *j->items is a pointer's
         * size on purpose */
        if (nc > SIZE_MAX / sizeof(void *) ||
            /* NOLINTNEXTLINE(bugprone-sizeof-expression) */
            (p = realloc(j->items, nc * sizeof *j->items)) == NULL)
            goto oom;
        j->items = p;
        if (j->type == JSON_OBJECT) {
            if ((p = realloc(j->keys, nc * sizeof *j->keys)) == NULL)
                goto oom;
            j->keys = p;
        }
        *cap = nc;
    }
    if (j->type == JSON_OBJECT)
        j->keys[j->n] = key;
    j->items[j->n++] = v;
    return 0;
oom:
    fail(r, r->pos, "out of memory");
    return -1;
}

/* Skips whitespace, then c if it is next; whether it was. */
static int eat(struct reader *r, char c)
{
    skip_ws(r);
    if (r->pos < r->len && r->s[r->pos] == (unsigned char)c) {
        r->pos++;
        return 1;
    }
    return 0;
}

static struct json *parse_value(struct reader *r, int depth);

static struct json *parse_container(struct reader *r, int depth, enum json_type type)
{
    char close = type == JSON_OBJECT ? '}' : ']';
    size_t cap = 0, klen, at;
    struct json *j, *v;
    char *key = NULL;

    if (depth >= JSON_MAX_DEPTH)
        return fail(r, r->pos, "nested deeper than %d", JSON_MAX_DEPTH);
    if ((j = new_node(r, type)) == NULL)
        return NULL;
    r->pos++;
    if (eat(r, close))
        return j;
    do {
        if (type == JSON_OBJECT) {
            skip_ws(r);
            if ((at = r->pos) >= r->len || r->s[at] != '"') {
                fail(r, at, "string key expected");
                goto bad;
            }
            if (parse_string(r, &key, &klen) < 0)
                goto bad;
            if (memchr(key, '\0', klen) != NULL) {
                fail(r, at, "NUL in object key");
                goto bad;
            }
            if (!eat(r, ':')) {
                fail(r, r->pos, "':' expected");
                goto bad;
            }
        }
        if ((v = parse_value(r, depth + 1)) == NULL)
            goto bad;
        if (append(r, j, &cap, key, v) < 0) {
            json_free(v);
            goto bad;
        }
        key = NULL;
    } while (eat(r, ','));
    if (eat(r, close))
        return j;
    fail(r, r->pos, "',' or '%c' expected", close);
bad:
    free(key);
    json_free(j);
    return NULL;
}

static struct json *parse_value(struct reader *r, int depth)
{
    struct json *j;

    skip_ws(r);
    if (r->pos >= r->len)
        return fail(r, r->pos, "unexpected end of input");
    switch (r->s[r->pos]) {
    case '{': return parse_container(r, depth, JSON_OBJECT);
    case '[': return parse_container(r, depth, JSON_ARRAY);
    case 't': return parse_literal(r, "true", JSON_BOOL, 1);
    case 'f': return parse_literal(r, "false", JSON_BOOL, 0);
    case 'n': return parse_literal(r, "null", JSON_NULL, 0);
    case '"':
        if ((j = new_node(r, JSON_STRING)) != NULL && parse_string(r, &j->str, &j->len) < 0) {
            free(j);
            j = NULL;
        }
        return j;
    default: return parse_number(r);
    }
}

struct json *json_parse(const char *text, size_t len, char *err, size_t errlen)
{
    struct reader r = { (const unsigned char *)text, len, 0, err, errlen };
    struct json *j;

    if (err != NULL && errlen > 0)
        err[0] = '\0';
    if (text == NULL && len > 0)
        return fail(&r, 0, "no text");
    if ((j = parse_value(&r, 0)) == NULL)
        return NULL;
    skip_ws(&r);
    if (r.pos < r.len) {
        json_free(j);
        return fail(&r, r.pos, "unexpected data after the value");
    }
    return j;
}

struct json *json_load(const char *path, char *err, size_t errlen)
{
    FILE *f = fopen(path, "rb");
    char *buf = NULL, *p, msg[256] = "out of memory";
    size_t len = 0, cap = 0, got;
    struct json *j = NULL;

    if (f == NULL) {
        if (err != NULL && errlen > 0)
            (void)snprintf(err, errlen, "%s: %s", path, strerror(errno));
        return NULL;
    }
    do {
        if (len == cap) {
            if (cap > SIZE_MAX / 4 || (p = realloc(buf, cap ? cap * 2 : 4096)) == NULL)
                goto out;
            buf = p;
            cap = cap ? cap * 2 : 4096;
        }
        len += got = fread(buf + len, 1, cap - len, f);
    } while (got > 0);
    if (ferror(f))
        (void)snprintf(msg, sizeof msg, "read error");
    else
        j = json_parse(buf, len, msg, sizeof msg);
out:
    if (fclose(f) != 0 && j != NULL) {
        (void)snprintf(msg, sizeof msg, "close: %s", strerror(errno));
        json_free(j);
        j = NULL;
    }
    free(buf);
    if (j == NULL && err != NULL && errlen > 0)
        (void)snprintf(err, errlen, "%s: %s", path, msg);
    return j;
}

void json_free(struct json *j)
{
    if (j == NULL)
        return;
    for (size_t i = 0; i < j->n; i++) {
        json_free(j->items[i]);
        if (j->keys != NULL)
            free(j->keys[i]);
    }
    free(j->items);
    free(j->keys);
    free(j->str);
    free(j);
}

const struct json *json_get(const struct json *obj, const char *key)
{
    if (obj == NULL || key == NULL || obj->type != JSON_OBJECT)
        return NULL;
    for (size_t i = obj->n; i-- > 0;)
        if (strcmp(obj->keys[i], key) == 0)
            return obj->items[i];
    return NULL;
}

const struct json *json_at(const struct json *arr, size_t i)
{
    if (arr == NULL || arr->type != JSON_ARRAY || i >= arr->n)
        return NULL;
    return arr->items[i];
}
