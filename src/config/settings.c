/*
 * The values of the settings: the validators that turn text into a field
 * of struct cu_config, the defaults, the copy, and the checks after all
 * layers (see settings.h). The table is table.c; the command line args.c;
 * --help and --print-config help.c.
 *
 * The rules are Gunicorn 26.1's (docs/compat.md, Settings): argparse for
 * the command line, shlex.split for GUNICORN_CMD_ARGS, and the validators
 * of gunicorn/config.py for values (strings stripped, int(x, 0) for
 * numbers, "true"/"false" in any case for booleans). Places where we are
 * deliberately different are marked OURS.
 *
 * Every cu_config_set leaves the config unchanged when it fails.
 */
#include "config/internal.h"
#include "core/errbuf.h"
#include "core/statsd.h"
#include "net/allow.h"

#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

/* ---- small helpers ---------------------------------------------------- */

void cu_cfg_errcat(char *err, size_t errlen, const char *fmt, ...)
{
    va_list ap;
    size_t used;

    if (err == NULL || errlen == 0)
        return;
    used = strnlen(err, errlen);
    if (used + 1 >= errlen)
        return;
    va_start(ap, fmt);
    (void)vsnprintf(err + used, errlen - used, fmt, ap);
    va_end(ap);
}

static int invalid(char *err, size_t errlen, const struct cu_setting *s,
                   const char *value, const char *why)
{
    cu_seterr(err, errlen, "Invalid value for %s: '%s' (%s)", s->name, value,
           why);
    errno = EINVAL;
    return -1;
}

static int nomem(char *err, size_t errlen, const struct cu_setting *s)
{
    cu_seterr(err, errlen, "out of memory while setting %s", s->name);
    errno = ENOMEM;
    return -1;
}

/* Python's str.isspace() for ASCII: what str.strip() and int() drop. */
static int is_pyspace(int ch)
{
    return ch == ' ' || (ch >= '\t' && ch <= '\r') || (ch >= 0x1c && ch <= 0x1f);
}

/* The span of s[0..*len) without leading and trailing whitespace. */
static const char *strip_span(const char *s, size_t *len)
{
    size_t n = *len;

    while (n > 0 && is_pyspace((unsigned char)*s)) {
        s++;
        n--;
    }
    while (n > 0 && is_pyspace((unsigned char)s[n - 1]))
        n--;
    *len = n;
    return s;
}

/* The same for all of s. */
static const char *strip(const char *s, size_t *len)
{
    *len = strlen(s);
    return strip_span(s, len);
}

void cu_cfg_strv_clear(struct cu_strv *l)
{
    for (size_t i = 0; i < l->n; i++)
        free(l->v[i]);
    free(l->v);
    l->v = NULL;
    l->n = 0;
}

int cu_cfg_strv_push(struct cu_strv *l, const char *s, size_t len)
{
    char **v;
    char *item = strndup(s, len);

    if (item == NULL)
        return -1;
    v = realloc(l->v, (l->n + 2) * sizeof *v);
    if (v == NULL) {
        free(item);
        return -1;
    }
    v[l->n++] = item;
    v[l->n] = NULL;     /* keeps v NULL-terminated for cu_argv_split */
    l->v = v;
    return 0;
}

static int strv_copy(struct cu_strv *dst, const struct cu_strv *src)
{
    dst->v = NULL;
    dst->n = 0;
    for (size_t i = 0; i < src->n; i++) {
        if (cu_cfg_strv_push(dst, src->v[i], strlen(src->v[i])) < 0) {
            cu_cfg_strv_clear(dst);
            return -1;
        }
    }
    return 0;
}

/* ---- numbers ---------------------------------------------------------- */

enum { PYINT_OK = 0, PYINT_BAD = -1, PYINT_RANGE = -2 };

static int digit_value(int ch)
{
    if (ch >= '0' && ch <= '9')
        return ch - '0';
    if (ch >= 'a' && ch <= 'z')
        return ch - 'a' + 10;
    if (ch >= 'A' && ch <= 'Z')
        return ch - 'A' + 10;
    return 99;
}

/*
 * Python's int(text, base) for base 0 (prefixes 0x/0o/0b, no leading
 * zeros in decimal), 8 (optional 0o) and 10: surrounding whitespace, a
 * sign and single underscores between digits are allowed. Values beyond
 * an int saturate and give PYINT_RANGE (unless negative: the caller
 * refuses those anyway).
 */
static int parse_pyint(const char *text, int base, long long *out)
{
    const char *p = text, *digits;
    unsigned long long acc = 0, cap = (unsigned long long)INT_MAX + 1;
    int neg = 0, prefixed = 0, big = 0, plain_decimal = 0;

    while (is_pyspace((unsigned char)*p))
        p++;
    if (*p == '+' || *p == '-')
        neg = *p++ == '-';
    if (p[0] == '0' && (base == 0 || base == 8)) {
        int kind = p[1] | 0x20;

        if (base == 0 && (kind == 'x' || kind == 'o' || kind == 'b')) {
            base = kind == 'x' ? 16 : kind == 'o' ? 8 : 2;
            prefixed = 1;
        } else if (base == 8 && kind == 'o') {
            prefixed = 1;
        }
        if (prefixed)
            p += 2;
    }
    if (base == 0) {
        base = 10;
        plain_decimal = 1;
    }
    if (prefixed && *p == '_')
        p++;
    digits = p;
    while (digit_value((unsigned char)*p) < base) {
        acc = acc * (unsigned)base + (unsigned)digit_value((unsigned char)*p);
        if (acc > cap) {
            acc = cap;
            big = 1;
        }
        p++;
        if (*p == '_' && digit_value((unsigned char)p[1]) < base)
            p++;
    }
    if (p == digits)
        return PYINT_BAD;
    if (plain_decimal && digits[0] == '0' && acc != 0)
        return PYINT_BAD;   /* "010": Python wants 0o10 */
    while (is_pyspace((unsigned char)*p))
        p++;
    if (*p != '\0')
        return PYINT_BAD;
    if (neg) {
        *out = -(long long)acc;
        return PYINT_OK;
    }
    if (big || acc > INT_MAX)
        return PYINT_RANGE;
    *out = (long long)acc;
    return PYINT_OK;
}

static int set_int(struct cu_config *c, const struct cu_setting *s,
                   const char *value, char *err, size_t errlen)
{
    long long v = 0;
    int rc;
    int *dst = cu_cfg_field(c, s);

    /* Gunicorn's auto_int: "022" is read as 0o22 on the command line. */
    if (s->type == CU_OCTAL && value[0] == '0' &&
        value[1] >= '0' && value[1] <= '9')
        rc = parse_pyint(value + 1, 8, &v);
    else
        rc = parse_pyint(value, 0, &v);
    if (rc == PYINT_BAD)
        return invalid(err, errlen, s, value, "not an integer");
    if (rc == PYINT_RANGE)
        return invalid(err, errlen, s, value, "too large");
    if (v < 0)
        return invalid(err, errlen, s, value, "must not be negative");
    /* RFC 9113's bounds, which Gunicorn's validator keeps */
    if (s->offset == OFF(http2_max_frame_size) && (v < 16384 || v > 16777215))
        return invalid(err, errlen, s, value,
                       "must be between 16384 and 16777215");
    *dst = (int)v;
    return 0;
}

/* Seconds as a float ("20", "0.25", "1e1"; "none": 0), to milliseconds:
 * a positive value under one is one. */
static int set_seconds(struct cu_config *c, const struct cu_setting *s,
                       const char *value, char *err, size_t errlen)
{
    size_t n;
    const char *p = strip(value, &n);
    char buf[64], *end;
    double v;

    if (n == 4 && strncasecmp(p, "none", 4) == 0) {
        *(int *)cu_cfg_field(c, s) = 0;
        return 0;
    }
    if (n == 0 || n >= sizeof buf)
        return invalid(err, errlen, s, value, "not a number");
    memcpy(buf, p, n);
    buf[n] = '\0';
    errno = 0;
    v = strtod(buf, &end);
    if (*end != '\0' || errno || !isfinite(v) || strpbrk(buf, "xXnN"))
        return invalid(err, errlen, s, value, "not a number");
    if (v < 0)
        return invalid(err, errlen, s, value, "must not be negative");
    if (v > 2000000)
        return invalid(err, errlen, s, value, "too large");
    *(int *)cu_cfg_field(c, s) = v > 0 && v < 0.001 ? 1 : (int)(v * 1000 + 0.5);
    return 0;
}

/* ---- strings, booleans, choices --------------------------------------- */

static int parse_bool(const char *value, int *out)
{
    size_t n;
    const char *p = strip(value, &n);

    if (n == 4 && strncasecmp(p, "true", 4) == 0)
        *out = 1;
    else if (n == 5 && strncasecmp(p, "false", 5) == 0)
        *out = 0;
    else
        return -1;
    return 0;
}

static int set_bool(struct cu_config *c, const struct cu_setting *s,
                    const char *value, char *err, size_t errlen)
{
    int v;
    int *dst = cu_cfg_field(c, s);

    if (parse_bool(value, &v) < 0)
        return invalid(err, errlen, s, value, "expected true or false");
    *dst = v;
    return 0;
}

int cu_cfg_replace_str(char **dst, const char *s, size_t len)
{
    char *copy = strndup(s, len);

    if (copy == NULL)
        return -1;
    free(*dst);
    *dst = copy;
    return 0;
}

/* Gunicorn's util.getcwd(): $PWD when it is the same directory. */
static char *current_dir(void)
{
    struct stat a, b;
    const char *pwd = getenv("PWD");
    char *cwd = getcwd(NULL, 0);

    if (cwd == NULL)
        return NULL;
    if (pwd != NULL && pwd[0] == '/' && stat(pwd, &a) == 0 &&
        stat(cwd, &b) == 0 && a.st_dev == b.st_dev && a.st_ino == b.st_ino) {
        char *copy = strdup(pwd);

        if (copy != NULL) {
            free(cwd);
            return copy;
        }
    }
    return cwd;
}

/* os.path.abspath(os.path.normpath(path)), relative to current_dir(). */
static char *absolute_path(const char *path, size_t len)
{
    char *cwd = NULL, *in, *out, *tok, *save = NULL;
    size_t cwdlen = 0, n = 0;

    if (len == 0 || path[0] != '/') {
        cwd = current_dir();
        if (cwd == NULL)
            return NULL;
        cwdlen = strlen(cwd);
    }
    in = malloc(cwdlen + len + 2);
    out = malloc(cwdlen + len + 2);
    if (in == NULL || out == NULL) {
        free(in);
        free(out);
        free(cwd);
        return NULL;
    }
    if (cwd != NULL)
        memcpy(in, cwd, cwdlen);
    in[cwdlen] = '/';
    memcpy(in + cwdlen + 1, path, len);
    in[cwdlen + 1 + len] = '\0';
    free(cwd);
    for (tok = strtok_r(in, "/", &save); tok != NULL;
         tok = strtok_r(NULL, "/", &save)) {
        if (strcmp(tok, ".") == 0)
            continue;
        if (strcmp(tok, "..") == 0) {
            while (n > 0 && out[--n] != '/')
                ;
            continue;
        }
        out[n++] = '/';
        memcpy(out + n, tok, strlen(tok));
        n += strlen(tok);
    }
    if (n == 0)
        out[n++] = '/';
    out[n] = '\0';
    free(in);
    return out;
}

static int set_chdir(struct cu_config *c, const struct cu_setting *s,
                     const char *value, char *err, size_t errlen)
{
    struct stat st;
    size_t n;
    const char *p = strip(value, &n);
    char *path = absolute_path(p, n);
    char **dst = cu_cfg_field(c, s);

    if (path == NULL)
        return errno == ENOMEM ? nomem(err, errlen, s)
                               : invalid(err, errlen, s, value,
                                         "the current directory is gone");
    if (stat(path, &st) != 0) {
        free(path);
        return invalid(err, errlen, s, value, "can't chdir there: it does "
                       "not exist");
    }
    free(*dst);
    *dst = path;
    return 0;
}

/* statsd_host: Gunicorn's validate_statsd_address (core/statsd.h). 0, or
 * -1 with the reason in err. */
static int statsd_host(const struct cu_setting *s, const char *p, size_t n,
                       char *err, size_t errlen)
{
    struct cu_statsd_addr a;
    char *text = strndup(p, n);
    int rc;

    if (text == NULL)
        return nomem(err, errlen, s);
    rc = cu_statsd_parse_addr(text, &a, err, errlen);
    free(text);
    if (rc < 0)
        errno = EINVAL;
    return rc;
}

static int set_str(struct cu_config *c, const struct cu_setting *s,
                   const char *value, char *err, size_t errlen)
{
    size_t n;
    const char *p;
    char **dst = cu_cfg_field(c, s);

    if (s->offset == OFF(chdir))
        return set_chdir(c, s, value, err, errlen);
    p = strip(value, &n);
    if (s->offset == OFF(statsd_host) && statsd_host(s, p, n, err, errlen) < 0)
        return -1;
    if (cu_cfg_replace_str(dst, p, n) < 0)
        return nomem(err, errlen, s);
    return 0;
}

/* The index of p[0..n) among s's choices (ASCII case aside), or -1. */
static int choice_index(const struct cu_setting *s, const char *p, size_t n)
{
    for (int i = 0; s->choices[i] != NULL; i++) {
        if (strlen(s->choices[i]) == n && strncasecmp(p, s->choices[i], n) == 0)
            return i;
    }
    return -1;
}

static int set_choice(struct cu_config *c, const struct cu_setting *s,
                      const char *value, char *err, size_t errlen)
{
    char why[160];
    size_t n;
    const char *p = strip(value, &n);
    int pick = choice_index(s, p, n), b;

    /* proxy_protocol: a boolean True/False means auto/off. */
    if (pick < 0 && s->if_true != NULL && parse_bool(value, &b) == 0) {
        const char *name = b ? s->if_true : s->dflt;

        pick = choice_index(s, name, strlen(name));
    }
    if (pick < 0) {
        cu_seterr(why, sizeof why, "choose from");
        for (size_t i = 0; s->choices[i] != NULL; i++)
            cu_cfg_errcat(why, sizeof why, "%s %s", i ? "," : "", s->choices[i]);
        return invalid(err, errlen, s, value, why);
    }
    *(int *)cu_cfg_field(c, s) = pick;
    return 0;
}

const char *cu_config_choice(const struct cu_config *c,
                             const struct cu_setting *s)
{
    return s->choices[*(const int *)cu_cfg_cfield(c, s)];
}

/* ---- lists ------------------------------------------------------------ */

/* Python's ipaddress.ip_network(a) (strict: no host bits), or "*". */
static int valid_network(const char *a, size_t len)
{
    struct cu_allow_net net;
    int family;

    return (len == 1 && a[0] == '*') ||
           cu_allow_parse(a, len, 1, &net, &family) == 0;
}

static int is_addr_list(const struct cu_setting *s)
{
    return s->offset == OFF(forwarded_allow_ips) ||
           s->offset == OFF(proxy_allow_ips) ||
           s->offset == OFF(uwsgi_allow_ips);
}

/* http_protocols: each item, lower-cased, is h1, h2 or h3, once; none at
 * all means h1 (Gunicorn's validate_http_protocols). 0, -1 with the
 * reason in why, or -2 (ENOMEM). */
static int http_protocols(struct cu_strv *l, char *why, size_t whylen)
{
    static const char *const known[] = {"h1", "h2", "h3"};

    for (size_t i = 0; i < l->n; i++) {
        int found = 0;

        for (char *p = l->v[i]; *p != '\0'; p++)
            *p = (char)tolower((unsigned char)*p);
        for (size_t k = 0; k < sizeof known / sizeof known[0]; k++)
            found |= strcmp(l->v[i], known[k]) == 0;
        if (!found) {
            cu_seterr(why, whylen, "'%s' is not a protocol: h1, h2 or h3",
                      l->v[i]);
            return -1;
        }
        for (size_t j = 0; j < i; j++)
            if (strcmp(l->v[i], l->v[j]) == 0) {
                cu_seterr(why, whylen, "%s is named twice", l->v[i]);
                return -1;
            }
    }
    return l->n == 0 && cu_cfg_strv_push(l, "h1", 2) < 0 ? -2 : 0;
}

/* Gunicorn's validate_string_to_list: split on commas, strip, drop empty
 * items (OURS: an item of only spaces is dropped too). */
static int set_csv(struct cu_config *c, const struct cu_setting *s,
                   const char *value, char *err, size_t errlen)
{
    struct cu_strv next = {0};
    struct cu_strv *dst = cu_cfg_field(c, s);
    const char *p = value;

    for (;;) {
        const char *comma = strchr(p, ',');
        size_t len = comma ? (size_t)(comma - p) : strlen(p);
        const char *item = strip_span(p, &len);

        if (len > 0 && is_addr_list(s) && !valid_network(item, len)) {
            cu_cfg_strv_clear(&next);
            return invalid(err, errlen, s, value,
                           "not an IP address, network or *");
        }
        if (len > 0 && cu_cfg_strv_push(&next, item, len) < 0) {
            cu_cfg_strv_clear(&next);
            return nomem(err, errlen, s);
        }
        if (comma == NULL)
            break;
        p = comma + 1;
    }
    if (s->offset == OFF(http_protocols)) {
        char why[96];

        int rc = http_protocols(&next, why, sizeof why);

        if (rc < 0) {
            cu_cfg_strv_clear(&next);
            return rc == -2 ? nomem(err, errlen, s)
                            : invalid(err, errlen, s, value, why);
        }
    }
    cu_cfg_strv_clear(dst);
    *dst = next;
    return 0;
}

/* raw_paste_global_conf: whether p[0..n) has an '=' that no backslash
 * comes right before, where Gunicorn splits KEY from VALUE. */
static int unescaped_eq(const char *p, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (p[i] == '=' && (i == 0 || p[i - 1] != '\\'))
            return 1;
    return 0;
}

/* reload_extra_files: a file that exists, or a glob pattern (*, ? or [),
 * which may match nothing yet (Gunicorn 26.1 warns about that in the
 * worker). OURS: both are made absolute here, against the directory the
 * server was started in; Gunicorn keeps them relative, so the worker reads
 * them against --chdir. Returns a new string, or NULL with err set. */
static char *extra_file(const struct cu_setting *s, const char *p, size_t n,
                        char *err, size_t errlen)
{
    struct stat st;
    char *path;

    if (n == 0) {
        invalid(err, errlen, s, p, "an empty file name");
        return NULL;
    }
    if ((path = absolute_path(p, n)) == NULL) {
        nomem(err, errlen, s);
        return NULL;
    }
    if (strpbrk(path, "*?[") == NULL && stat(path, &st) != 0) {
        free(path);
        invalid(err, errlen, s, p, "no such file");
        return NULL;
    }
    return path;
}

static int set_list(struct cu_config *c, const struct cu_setting *s,
                    const char *value, int append, char *err, size_t errlen)
{
    struct cu_strv one = {0};
    struct cu_strv *dst = cu_cfg_field(c, s);
    const char *p = value;
    size_t n = strlen(value);

    if (s->type == CU_DICT) {
        const char *eq = strchr(value, '=');

        if (eq == NULL || eq == value)
            return invalid(err, errlen, s, value, "expected NAME=value");
    } else {
        p = strip(value, &n);
    }
    /* Gunicorn splits each at its first '=' and puts it in os.environ,
     * which takes no empty name */
    if (s->offset == OFF(raw_env) && (n == 0 || p[0] == '=' || !memchr(p, '=', n)))
        return invalid(err, errlen, s, value, "expected KEY=VALUE");
    /* Gunicorn splits each at its first '=' without a backslash before
     * it, when it loads the paste app; Ours: refused here, at once */
    if (s->offset == OFF(raw_paste_global_conf) && !unescaped_eq(p, n))
        return invalid(err, errlen, s, value, "expected KEY=VALUE");
    if (s->offset == OFF(reload_extra_files)) {
        char *path = extra_file(s, p, n, err, errlen);
        int rc;

        if (path == NULL)
            return -1;
        rc = cu_cfg_strv_push(append ? dst : &one, path, strlen(path));
        free(path);
        if (rc < 0)
            return nomem(err, errlen, s);
    } else if (cu_cfg_strv_push(append ? dst : &one, p, n) < 0) {
        return nomem(err, errlen, s);
    }
    if (!append) {
        cu_cfg_strv_clear(dst);
        *dst = one;
    }
    return 0;
}

/* ---- setting, clearing ------------------------------------------------ */

/* How a type's field is held in struct cu_config. */
enum held { HELD_INT, HELD_STR, HELD_LIST };

static enum held held(enum cu_stype type)
{
    switch (type) {
    case CU_STR:
    case CU_STR_OPT:
    case CU_CALLABLE:
        return HELD_STR;
    case CU_LIST:
    case CU_CSV:
    case CU_DICT:
        return HELD_LIST;
    case CU_INT:
    case CU_BOOL:
    case CU_OCTAL:
    case CU_CHOICE:
    case CU_SECONDS:
        break;
    }
    return HELD_INT;
}

int cu_config_set(struct cu_config *c, const struct cu_setting *s,
                  const char *value, int append, char *err, size_t errlen)
{
    if (value == NULL && s->type == CU_SECONDS) {
        *(int *)cu_cfg_field(c, s) = 0;  /* None: off */
        return 0;
    }
    if (value == NULL) {
        if (s->type != CU_STR_OPT && s->type != CU_CALLABLE) {
            cu_seterr(err, errlen, "Invalid value for %s: None", s->name);
            errno = EINVAL;
            return -1;
        }
        free(*(char **)cu_cfg_field(c, s));
        *(char **)cu_cfg_field(c, s) = NULL;
        return 0;
    }
    switch (s->type) {
    case CU_STR:
    case CU_STR_OPT:
    case CU_CALLABLE:
        return set_str(c, s, value, err, errlen);
    case CU_INT:
    case CU_OCTAL:
        return set_int(c, s, value, err, errlen);
    case CU_BOOL:
        return set_bool(c, s, value, err, errlen);
    case CU_SECONDS:
        return set_seconds(c, s, value, err, errlen);
    case CU_CHOICE:
        return set_choice(c, s, value, err, errlen);
    case CU_CSV:
        return set_csv(c, s, value, err, errlen);
    case CU_LIST:
    case CU_DICT:
        return set_list(c, s, value, append, err, errlen);
    }
    return invalid(err, errlen, s, value, "unknown type");
}

void cu_config_clear(struct cu_config *c, const struct cu_setting *s)
{
    if (held(s->type) == HELD_LIST)
        cu_cfg_strv_clear(cu_cfg_field(c, s));
}

static int set_default(struct cu_config *c, const struct cu_setting *s)
{
    char err[256];
    const char *d = s->dflt;

    if (s->offset == OFF(chdir))
        d = ".";
    if (d == NULL)
        return 0;
    if (s->type != CU_DICT)
        return cu_config_set(c, s, d, 0, err, sizeof err);
    /* The dict's default is its pairs, comma-separated. */
    while (*d != '\0') {
        size_t len = strcspn(d, ",");
        char *pair = strndup(d, len);
        int rc;

        if (pair == NULL)
            return -1;
        rc = cu_config_set(c, s, pair, 1, err, sizeof err);
        free(pair);
        if (rc < 0)
            return -1;
        d += len + (d[len] == ',');
    }
    return 0;
}

/* The defaults Gunicorn reads from the environment at start-up. */
static int env_defaults(struct cu_config *c)
{
    char err[256];
    const char *v;

    if ((v = getenv("PORT")) != NULL) {
        size_t len = strlen(v) + sizeof "0.0.0.0:";
        char *addr = malloc(len);
        int rc;

        if (addr == NULL)
            return -1;
        (void)snprintf(addr, len, "0.0.0.0:%s", v);
        rc = cu_config_set(c, cu_setting_find("bind"), addr, 0, err,
                           sizeof err);
        free(addr);
        if (rc < 0)
            return -1;
    }
    if ((v = getenv("WEB_CONCURRENCY")) != NULL) {
        long long n;

        /* int(os.environ["WEB_CONCURRENCY"]): plain decimal. */
        if (parse_pyint(v, 10, &n) != PYINT_OK || n < 0) {
            errno = EINVAL;
            return -1;
        }
        c->workers = (int)n;
    }
    if ((v = getenv("FORWARDED_ALLOW_IPS")) != NULL &&
        cu_config_set(c, cu_setting_find("forwarded_allow_ips"), v, 0, err,
                      sizeof err) < 0)
        return -1;
    if ((v = getenv("SENDFILE")) != NULL)
        c->sendfile = strcasecmp(v, "y") == 0 || strcmp(v, "1") == 0 ||
                      strcasecmp(v, "yes") == 0 || strcasecmp(v, "true") == 0;
    return 0;
}

/* Returns -1 with errno ENOMEM, or EINVAL when $WEB_CONCURRENCY or
 * $FORWARDED_ALLOW_IPS is not valid (Gunicorn fails at start-up too). */
int cu_config_init(struct cu_config *c)
{
    int saved;

    memset(c, 0, sizeof *c);
    for (size_t i = 0; i < cu_n_settings; i++) {
        if (set_default(c, &cu_settings[i]) < 0)
            goto fail;
    }
    if (env_defaults(c) < 0)
        goto fail;
    return 0;
fail:
    saved = errno;
    cu_config_free(c);
    errno = saved;
    return -1;
}

void cu_config_free(struct cu_config *c)
{
    for (size_t i = 0; i < cu_n_settings; i++) {
        const struct cu_setting *s = &cu_settings[i];

        if (held(s->type) == HELD_STR)
            free(*(char **)cu_cfg_field(c, s));
        else if (held(s->type) == HELD_LIST)
            cu_cfg_strv_clear(cu_cfg_field(c, s));
    }
    free(c->app);
    memset(c, 0, sizeof *c);
}

static int copy_setting(struct cu_config *dst, const struct cu_config *src,
                        const struct cu_setting *s)
{
    const char *const *str = cu_cfg_cfield(src, s);
    const int *num = cu_cfg_cfield(src, s);

    switch (held(s->type)) {
    case HELD_STR:
        if (*str != NULL && (*(char **)cu_cfg_field(dst, s) = strdup(*str)) == NULL)
            return -1;
        return 0;
    case HELD_LIST:
        return strv_copy(cu_cfg_field(dst, s), cu_cfg_cfield(src, s));
    case HELD_INT:
        *(int *)cu_cfg_field(dst, s) = *num;
        return 0;
    }
    return 0;
}

int cu_config_copy(struct cu_config *dst, const struct cu_config *src)
{
    memset(dst, 0, sizeof *dst);
    for (size_t i = 0; i < cu_n_settings; i++) {
        if (copy_setting(dst, src, &cu_settings[i]) < 0)
            goto fail;
    }
    if (src->app != NULL && (dst->app = strdup(src->app)) == NULL)
        goto fail;
    return 0;
fail:
    cu_config_free(dst);
    errno = ENOMEM;
    return -1;
}

/* Frees what s's field in c holds, and zeroes it. */
static void free_field(struct cu_config *c, const struct cu_setting *s)
{
    switch (held(s->type)) {
    case HELD_STR:
        free(*(char **)cu_cfg_field(c, s));
        *(char **)cu_cfg_field(c, s) = NULL;
        break;
    case HELD_LIST:
        cu_cfg_strv_clear(cu_cfg_field(c, s));
        break;
    case HELD_INT:
        *(int *)cu_cfg_field(c, s) = 0;
        break;
    }
}

/* 1 when a and b hold the same value for s. */
static int same_field(const struct cu_config *a, const struct cu_config *b,
                      const struct cu_setting *s)
{
    const struct cu_strv *la = cu_cfg_cfield(a, s), *lb = cu_cfg_cfield(b, s);
    const char *const *sa = cu_cfg_cfield(a, s), *const *sb = cu_cfg_cfield(b, s);

    switch (held(s->type)) {
    case HELD_STR:
        return *sa == NULL || *sb == NULL ? *sa == *sb : strcmp(*sa, *sb) == 0;
    case HELD_LIST:
        if (la->n != lb->n)
            return 0;
        for (size_t i = 0; i < la->n; i++)
            if (strcmp(la->v[i], lb->v[i]) != 0)
                return 0;
        return 1;
    case HELD_INT:
        break;
    }
    return *(const int *)cu_cfg_cfield(a, s) == *(const int *)cu_cfg_cfield(b, s);
}

int cu_config_is_default(const struct cu_config *c, const struct cu_setting *s)
{
    struct cu_config ref;
    char err[256];
    int same;

    /* the default as a fresh config would have it, without the ones the
     * environment gives (no refused setting takes one) */
    memset(&ref, 0, sizeof ref);
    if (set_default(&ref, s) < 0) {
        free_field(&ref, s);
        return -1;
    }
    same = same_field(c, &ref, s);
    free_field(&ref, s);
    for (size_t i = 0; !same && s->allowed != NULL && s->allowed[i] != NULL; i++) {
        if (cu_config_set(&ref, s, s->allowed[i], 0, err, sizeof err) < 0)
            return -1;
        same = same_field(c, &ref, s);
        free_field(&ref, s);
    }
    return same;
}

int cu_config_finish(struct cu_config *c, char *err, size_t errlen)
{
    /* negative INTs are refused by the type's validator already */
    const struct { const char *name; int value, min; } floor[] = {
        {"workers", c->workers, 1},
        {"threads", c->threads, 1},
    };

    for (size_t i = 0; i < sizeof(floor) / sizeof(floor[0]); i++)
        if (floor[i].value < floor[i].min) {
            cu_seterr(err, errlen, "Invalid value for %s: %d (must be at least %d)",
                      floor[i].name, floor[i].value, floor[i].min);
            return -1;
        }
    /* The one place a setting not built yet is refused: any value but its
     * default (docs/settings.md lists them, with these reasons). */
    for (size_t i = 0; i < cu_n_settings; i++) {
        const struct cu_setting *s = &cu_settings[i];
        const struct cu_setting *with = s->only_with ? cu_setting_find(s->only_with) : NULL;
        int rc = s->refused == NULL ? 1 : with ? cu_config_is_default(c, with) : 0;

        if (rc == 0)  /* refused, and read: is it away from its default? */
            rc = cu_config_is_default(c, s);

        if (rc < 0) {
            cu_seterr(err, errlen, "out of memory while checking %s", s->name);
            return -1;
        }
        if (rc == 0) {
            cu_seterr(err, errlen, "%s: %s", s->name, s->refused);
            return -1;
        }
    }
    return 0;
}
