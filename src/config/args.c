/*
 * The command line and GUNICORN_CMD_ARGS (see settings.h): argparse's
 * rules for options and their values, and shlex.split's for splitting the
 * variable (the rules settings.c names). Parsing only collects (setting,
 * value) pairs; cu_args_apply hands them to the validators.
 */
#include "config/internal.h"
#include "core/errbuf.h"

#include <limits.h>
#include <stdlib.h>
#include <string.h>

/* ---- command line ----------------------------------------------------- */

/* -h/--help and -v/--version are options but not settings. */
enum { OPT_SETTING, OPT_HELP, OPT_VERSION };

const char *const cu_cfg_help_flags[] = {"-h", "--help", NULL};
const char *const cu_cfg_version_flags[] = {"-v", "--version", NULL};

struct match {
    int kind;                    /* OPT_* */
    const struct cu_setting *s;  /* OPT_SETTING */
    const char *flag;            /* the flag as declared */
    const char *explicit_arg;    /* after '=' or after "-x"; NULL: none */
    int sep;                     /* explicit_arg came after '=' */
};

enum { ARG_POSITIONAL, ARG_OPTION, ARG_UNKNOWN, ARG_AMBIGUOUS };

/* Calls fn for every option string; stops when it returns nonzero. */
static int each_flag(int (*fn)(void *, int, const struct cu_setting *,
                               const char *), void *ctx)
{
    for (size_t i = 0; cu_cfg_help_flags[i] != NULL; i++) {
        if (fn(ctx, OPT_HELP, NULL, cu_cfg_help_flags[i]))
            return 1;
    }
    for (size_t i = 0; cu_cfg_version_flags[i] != NULL; i++) {
        if (fn(ctx, OPT_VERSION, NULL, cu_cfg_version_flags[i]))
            return 1;
    }
    for (size_t i = 0; i < cu_n_settings; i++) {
        for (size_t j = 0; j < 3 && cu_settings[i].flags[j] != NULL; j++) {
            if (fn(ctx, OPT_SETTING, &cu_settings[i], cu_settings[i].flags[j]))
                return 1;
        }
    }
    return 0;
}

struct lookup {
    const char *name;
    size_t len;
    int prefix;         /* match flags that start with name */
    size_t found;
    struct match *m;
    char *err;          /* for the "could match" list */
    size_t errlen;
};

static int lookup_one(void *ctx, int kind, const struct cu_setting *s,
                      const char *flag)
{
    struct lookup *l = ctx;

    if (strncmp(flag, l->name, l->len) != 0 ||
        (!l->prefix && flag[l->len] != '\0'))
        return 0;
    if (l->found++ == 0) {
        l->m->kind = kind;
        l->m->s = s;
        l->m->flag = flag;
    }
    if (l->err != NULL)
        cu_cfg_errcat(l->err, l->errlen, "%s%s", l->found > 1 ? ", " : "", flag);
    return !l->prefix;
}

/* 1 when name[0..len) is exactly a flag (m filled). */
static int lookup_exact(const char *name, size_t len, struct match *m)
{
    struct lookup l = {.name = name, .len = len, .m = m};

    (void)each_flag(lookup_one, &l);
    return l.found == 1;
}

static int is_negative_number(const char *a)
{
    /* argparse: ^-\d+$|^-\d*\.\d+$ */
    const char *p = a + 1;
    const char *dot;

    if (a[0] != '-' || *p == '\0')
        return 0;
    dot = strchr(p, '.');
    for (const char *q = p; *q != '\0'; q++) {
        if (q != dot && (*q < '0' || *q > '9'))
            return 0;
    }
    return dot == NULL || dot[1] != '\0';
}

/*
 * What argparse's _parse_optional makes of arg: a positional (or value),
 * a known option (m filled), an unknown option, or an ambiguous prefix
 * (message in err).
 */
static int classify(const char *arg, struct match *m, char *err,
                    size_t errlen)
{
    const char *eq = strchr(arg, '=');
    size_t namelen = eq ? (size_t)(eq - arg) : strlen(arg);

    memset(m, 0, sizeof *m);
    if (arg[0] != '-' || arg[1] == '\0')
        return ARG_POSITIONAL;
    if (lookup_exact(arg, strlen(arg), m))
        return ARG_OPTION;
    if (eq != NULL && lookup_exact(arg, namelen, m)) {
        m->explicit_arg = eq + 1;
        m->sep = 1;
        return ARG_OPTION;
    }
    if (arg[1] == '-') {
        struct lookup l = {.name = arg, .len = namelen, .prefix = 1, .m = m};
        char list[512] = "";

        l.err = list;
        l.errlen = sizeof list;
        (void)each_flag(lookup_one, &l);
        if (l.found > 1) {
            cu_seterr(err, errlen, "ambiguous option: %.*s could match %s",
                   (int)namelen, arg, list);
            return ARG_AMBIGUOUS;
        }
        if (l.found == 1) {
            m->explicit_arg = eq ? eq + 1 : NULL;
            m->sep = eq != NULL;
            return ARG_OPTION;
        }
    } else if (lookup_exact(arg, 2, m)) {
        m->explicit_arg = arg + 2;
        return ARG_OPTION;
    }
    if (is_negative_number(arg) || strchr(arg, ' ') != NULL)
        return ARG_POSITIONAL;
    return ARG_UNKNOWN;
}

static int takes_value(const struct match *m)
{
    return m->kind == OPT_SETTING && m->s->type != CU_BOOL;
}

static const char *const *flags_of(const struct match *m)
{
    if (m->kind == OPT_HELP)
        return cu_cfg_help_flags;
    if (m->kind == OPT_VERSION)
        return cu_cfg_version_flags;
    return m->s->flags;
}

/* "argument -w/--workers: " as argparse names an option. */
static void arg_error(char *err, size_t errlen, const struct match *m)
{
    const char *const *f = flags_of(m);

    cu_seterr(err, errlen, "argument ");
    for (size_t i = 0; i < 3 && f[i] != NULL; i++)
        cu_cfg_errcat(err, errlen, "%s%s", i ? "/" : "", f[i]);
    cu_cfg_errcat(err, errlen, ": ");
}

static int push_arg(struct cu_args *out, const struct cu_setting *s,
                    const char *value)
{
    struct cu_arg *v;
    char *copy = NULL;

    if (value != NULL && (copy = strdup(value)) == NULL)
        return -1;
    v = realloc(out->v, (out->n + 1) * sizeof *v);
    if (v == NULL) {
        free(copy);
        return -1;
    }
    v[out->n].s = s;
    v[out->n].value = copy;
    out->v = v;
    out->n++;
    return 0;
}

struct parse {
    int argc;
    char *const *argv;
    int i;              /* index of the argument being read */
    int unrecognized;   /* how many went into the message in err */
    struct cu_args *out;
    char *err;
    size_t errlen;
};

static void unrecognized(struct parse *p, const char *a, size_t len)
{
    if (p->unrecognized++ == 0)
        cu_seterr(p->err, p->errlen, "unrecognized arguments:");
    cu_cfg_errcat(p->err, p->errlen, " %.*s", (int)len, a);
}

/* The next argument as a value for the option, or NULL. */
static const char *next_value(struct parse *p)
{
    struct match scratch;
    char ignored[8];
    const char *a;

    if (p->i + 1 >= p->argc)
        return NULL;
    a = p->argv[p->i + 1];
    if (strcmp(a, "--") == 0 ||
        classify(a, &scratch, ignored, sizeof ignored) != ARG_POSITIONAL)
        return NULL;
    p->i++;
    return a;
}

enum { TAKE_OK = 0, TAKE_STOP = 1, TAKE_MORE = 2, TAKE_ERR = -1 };

/*
 * A flag without a value. "-Dw4" goes on with "-w4" (TAKE_MORE, m
 * updated) and "-Dx" leaves "-x" unrecognized, as argparse does.
 */
static int take_flag(struct parse *p, struct match *m)
{
    const char *rest = m->explicit_arg;
    char next[3];

    if (rest != NULL &&
        (m->sep || m->flag[1] == '-' || rest[0] == '-' || rest[0] == '\0')) {
        arg_error(p->err, p->errlen, m);
        cu_cfg_errcat(p->err, p->errlen, "ignored explicit argument '%s'", rest);
        return TAKE_ERR;
    }
    if (m->kind == OPT_HELP || m->kind == OPT_VERSION) {
        p->out->help |= m->kind == OPT_HELP;
        p->out->version |= m->kind == OPT_VERSION;
        return TAKE_STOP;    /* argparse prints and exits right here */
    }
    if (push_arg(p->out, m->s, NULL) < 0) {
        cu_seterr(p->err, p->errlen, "out of memory");
        return TAKE_ERR;
    }
    if (rest == NULL)
        return TAKE_OK;
    next[0] = '-';
    next[1] = rest[0];
    next[2] = '\0';
    if (!lookup_exact(next, 2, m)) {
        unrecognized(p, "-", 1);
        cu_cfg_errcat(p->err, p->errlen, "%s", rest);
        return TAKE_OK;
    }
    rest++;
    m->sep = rest[0] == '=';
    m->explicit_arg = rest[0] == '\0' ? NULL : rest + m->sep;
    return TAKE_MORE;
}

static int take_option(struct parse *p, struct match *m)
{
    const char *value;

    for (;;) {
        int rc;

        if (takes_value(m))
            break;
        rc = take_flag(p, m);
        if (rc != TAKE_MORE)
            return rc;
    }
    value = m->explicit_arg;
    if (value == NULL)
        value = next_value(p);
    if (value == NULL)
        value = m->s->bare;
    if (value == NULL) {
        arg_error(p->err, p->errlen, m);
        cu_cfg_errcat(p->err, p->errlen, "expected one argument");
        return TAKE_ERR;
    }
    if (push_arg(p->out, m->s, value) < 0) {
        cu_seterr(p->err, p->errlen, "out of memory");
        return TAKE_ERR;
    }
    return TAKE_OK;
}

static int take_positional(struct parse *p, const char *a)
{
    if (p->out->app != NULL) {
        unrecognized(p, a, strlen(a));
        return TAKE_OK;
    }
    if ((p->out->app = strdup(a)) == NULL) {
        cu_seterr(p->err, p->errlen, "out of memory");
        return TAKE_ERR;
    }
    return TAKE_OK;
}

int cu_args_parse(int argc, char *const *argv, struct cu_args *out,
                  char *err, size_t errlen)
{
    struct parse p = {.argc = argc, .argv = argv, .out = out, .err = err,
                      .errlen = errlen};
    int opts_done = 0;

    memset(out, 0, sizeof *out);
    /* argparse classifies every argument before it acts on any, so an
     * ambiguous prefix is an error even after --help. */
    for (int i = 0; i < argc && strcmp(argv[i], "--") != 0; i++) {
        struct match m;

        if (classify(argv[i], &m, err, errlen) == ARG_AMBIGUOUS)
            return -1;
    }
    for (p.i = 0; p.i < argc; p.i++) {
        const char *a = argv[p.i];
        struct match m;
        int kind, rc;

        if (!opts_done && strcmp(a, "--") == 0) {
            opts_done = 1;
            continue;
        }
        kind = opts_done ? ARG_POSITIONAL : classify(a, &m, err, errlen);
        if (kind == ARG_AMBIGUOUS)
            goto fail;
        if (kind == ARG_UNKNOWN) {
            unrecognized(&p, a, strlen(a));
            continue;
        }
        rc = kind == ARG_POSITIONAL ? take_positional(&p, a)
                                    : take_option(&p, &m);
        if (rc == TAKE_STOP)
            return 0;
        if (rc == TAKE_ERR)
            goto fail;
    }
    if (p.unrecognized == 0)
        return 0;
fail:
    cu_args_free(out);
    return -1;
}

void cu_args_free(struct cu_args *a)
{
    for (size_t i = 0; i < a->n; i++)
        free(a->v[i].value);
    free(a->v);
    free(a->app);
    memset(a, 0, sizeof *a);
}

int cu_args_apply(struct cu_config *c, const struct cu_args *a, char *err,
                  size_t errlen)
{
    for (size_t i = 0; i < a->n; i++) {
        const struct cu_setting *s = a->v[i].s;
        const char *value = a->v[i].value;
        int append = 0;

        if (s->type == CU_BOOL && value == NULL)
            value = s->bare != NULL ? s->bare : "true";
        /* A list given again in the same layer grows; the first time it
         * replaces what earlier layers left. */
        for (size_t j = 0; j < i && !append; j++)
            append = a->v[j].s == s;
        if (cu_config_set(c, s, value, append, err, errlen) < 0)
            return -1;
    }
    if (a->app != NULL && cu_cfg_replace_str(&c->app, a->app, strlen(a->app)) < 0) {
        cu_seterr(err, errlen, "out of memory");
        return -1;
    }
    return 0;
}

/* ---- GUNICORN_CMD_ARGS ------------------------------------------------ */

/*
 * Python's shlex.split(s) (posix, no comments): whitespace is space, tab,
 * CR and LF; a backslash outside quotes takes the next character as is;
 * single quotes keep everything; inside double quotes a backslash only
 * escapes '"' and '\' (shlex does not special-case $ or `, unlike sh).
 */
static int split_quoted(const char **pp, char *tok, size_t *tl, char *err,
                        size_t errlen)
{
    const char *p = *pp;
    char q = *p++;

    for (;;) {
        if (*p == '\0') {
            cu_seterr(err, errlen, "No closing quotation");
            return -1;
        }
        if (*p == q)
            break;
        if (q == '"' && *p == '\\') {
            if (p[1] == '\0') {
                cu_seterr(err, errlen, "No escaped character");
                return -1;
            }
            if (p[1] == '"' || p[1] == '\\')
                p++;
        }
        tok[(*tl)++] = *p++;
    }
    *pp = p + 1;
    return 0;
}

int cu_argv_split(const char *s, int *argc, char ***argv, char *err,
                  size_t errlen)
{
    struct cu_strv out = {0};
    char *tok = malloc(strlen(s) + 1);
    size_t tl = 0;
    int in_tok = 0;
    const char *p = s;

    *argc = 0;
    *argv = NULL;
    if (tok == NULL)
        goto nomem;
    while (*p != '\0') {
        if (*p == ' ' || *p == '\t' || *p == '\r' || *p == '\n') {
            if (in_tok && cu_cfg_strv_push(&out, tok, tl) < 0)
                goto nomem;
            in_tok = 0;
            tl = 0;
            p++;
            continue;
        }
        in_tok = 1;
        if (*p == '\'' || *p == '"') {
            if (split_quoted(&p, tok, &tl, err, errlen) < 0)
                goto fail;
        } else if (*p == '\\') {
            if (p[1] == '\0') {
                cu_seterr(err, errlen, "No escaped character");
                goto fail;
            }
            tok[tl++] = p[1];
            p += 2;
        } else {
            tok[tl++] = *p++;
        }
    }
    if (in_tok && cu_cfg_strv_push(&out, tok, tl) < 0)
        goto nomem;
    if (out.v == NULL && (out.v = calloc(1, sizeof *out.v)) == NULL)
        goto nomem;
    if (out.n > INT_MAX) {
        cu_seterr(err, errlen, "too many arguments");
        goto fail;
    }
    free(tok);
    *argc = (int)out.n;
    *argv = out.v;
    return 0;
nomem:
    cu_seterr(err, errlen, "out of memory");
fail:
    free(tok);
    cu_cfg_strv_clear(&out);
    return -1;
}

void cu_argv_free(int argc, char **argv)
{
    if (argv == NULL)
        return;
    for (int i = 0; i < argc; i++)
        free(argv[i]);
    free(argv);
}
