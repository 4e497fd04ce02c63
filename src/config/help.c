/*
 * --help and --print-config, generated from the table (see settings.h).
 */
#include "config/internal.h"
#include "core/errbuf.h"

#include <stdarg.h>
#include <string.h>

/* The one place output is written: a short write shows up as a short
 * help or listing, and there is nobody to report it to. */
__attribute__((format(printf, 2, 3)))
static void emit(FILE *out, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    (void)vfprintf(out, fmt, ap);
    va_end(ap);
}

#define HELP_WIDTH 80
#define HELP_COL 24

/* Writes text from column col on, wrapping at HELP_WIDTH to HELP_COL. */
static void put_wrapped(FILE *out, size_t col, const char *text)
{
    const char *p = text;

    while (*p != '\0') {
        size_t w = strcspn(p, " ");

        if (col > HELP_COL && col + 1 + w > HELP_WIDTH) {
            emit(out, "\n%*s", HELP_COL, "");
            col = HELP_COL;
        }
        if (col > HELP_COL) {
            emit(out, " ");
            col++;
        }
        emit(out, "%.*s", (int)w, p);
        col += w;
        p += w;
        while (*p == ' ')
            p++;
    }
    emit(out, "\n");
}

/* "  -w INT, --workers INT", then the help from HELP_COL. */
static void put_option(FILE *out, const char *const *flags, const char *meta,
                       int optional, const char *help)
{
    char inv[160] = "";
    size_t col;

    for (size_t i = 0; i < 3 && flags[i] != NULL; i++) {
        cu_cfg_errcat(inv, sizeof inv, "%s%s", i ? ", " : "", flags[i]);
        if (meta != NULL)
            cu_cfg_errcat(inv, sizeof inv, optional ? " [%s]" : " %s", meta);
    }
    col = 2 + strlen(inv);
    if (col <= HELP_COL - 2)
        emit(out, "  %s%*s", inv, (int)(HELP_COL - col), "");
    else
        emit(out, "  %s\n%*s", inv, HELP_COL, "");
    put_wrapped(out, HELP_COL, help);
}

static void put_setting(FILE *out, const struct cu_setting *s)
{
    char help[1024];
    const char *meta = s->type == CU_BOOL ? NULL : s->meta;

    if (s->type == CU_BOOL || s->dflt == NULL || s->dflt[0] == '\0')
        cu_seterr(help, sizeof help, "%s", s->help);
    else
        cu_seterr(help, sizeof help, "%s [%s]", s->help, s->dflt);
    if (s->refused != NULL)
        cu_cfg_errcat(help, sizeof help, " Refused: %s.", s->refused);
    else if (s->inert != NULL)
        cu_cfg_errcat(help, sizeof help, " No effect: %s.", s->inert);
    put_option(out, s->flags, meta, s->bare != NULL, help);
}

/* Server Hooks, for one, has no command-line flags at all. */
static int section_has_flags(const char *section)
{
    for (size_t i = 0; i < cu_n_settings; i++)
        if (strcmp(cu_settings[i].section, section) == 0 &&
            cu_settings[i].flags[0] != NULL)
            return 1;
    return 0;
}

void cu_config_help(FILE *out, const char *prog)
{
    static const char *const app_flag[] = {"APP_MODULE", NULL};
    int file_only = 0;
    size_t col;

    emit(out, "usage: %s [OPTIONS] [APP_MODULE]\n\npositional arguments:\n",
         prog);
    put_option(out, app_flag, NULL, 0, "The application to serve, as "
               "MODULE:NAME or MODULE:factory(...). NAME defaults to "
               "application.");
    emit(out, "\noptions:\n");
    put_option(out, cu_cfg_help_flags, NULL, 0, "Show this help and exit.");
    put_option(out, cu_cfg_version_flags, NULL, 0, "Show the version and exit.");
    for (size_t i = 0; i < cu_n_settings; i++) {
        const char *section = cu_settings[i].section;
        size_t first = 0;

        while (strcmp(cu_settings[first].section, section) != 0)
            first++;
        if (first != i || !section_has_flags(section))
            continue;   /* printed with its section already, or file only */
        emit(out, "\n%s:\n", section);
        for (size_t j = i; j < cu_n_settings; j++) {
            if (strcmp(cu_settings[j].section, section) == 0 &&
                cu_settings[j].flags[0] != NULL)
                put_setting(out, &cu_settings[j]);
        }
    }
    emit(out, "\nOnly in a config file:");
    col = sizeof("Only in a config file:") - 1;
    for (size_t i = 0; i < cu_n_settings; i++) {
        size_t len = strlen(cu_settings[i].name) + 2;

        if (cu_settings[i].flags[0] != NULL)
            continue;
        if (file_only++)
            emit(out, ",");
        if (col + len > 78) {  /* wrapped, as the rest of the help is */
            emit(out, "\n ");
            col = 1;
        }
        emit(out, " %s", cu_settings[i].name);
        col += len;
    }
    emit(out, ".\n");
}

/* ---- --print-config --------------------------------------------------- */

/* s[0..len) as Python's repr() shows a str. */
static void put_repr(FILE *out, const char *s, size_t len)
{
    int q = memchr(s, '\'', len) && !memchr(s, '"', len) ? '"' : '\'';

    emit(out, "%c", q);
    for (size_t i = 0; i < len; i++) {
        unsigned char ch = (unsigned char)s[i];

        if (ch == q || ch == '\\')
            emit(out, "\\%c", ch);
        else if (ch == '\t')
            emit(out, "\\t");
        else if (ch == '\n')
            emit(out, "\\n");
        else if (ch == '\r')
            emit(out, "\\r");
        else if (ch < 0x20 || ch == 0x7f)
            emit(out, "\\x%02x", ch);
        else
            emit(out, "%c", ch);
    }
    emit(out, "%c", q);
}

/* A list as ['a', 'b'], a dict as {'NAME': 'value'}. */
static void put_strv(FILE *out, const struct cu_strv *l, int dict)
{
    emit(out, "%c", dict ? '{' : '[');
    for (size_t i = 0; i < l->n; i++) {
        size_t k = dict ? strcspn(l->v[i], "=") : strlen(l->v[i]);

        emit(out, "%s", i ? ", " : "");
        put_repr(out, l->v[i], k);
        if (dict) {
            emit(out, ": ");
            put_repr(out, l->v[i] + k + 1, strlen(l->v[i] + k + 1));
        }
    }
    emit(out, "%c", dict ? '}' : ']');
}

/* Milliseconds as Python prints the float of seconds: 20.0, 0.25. */
static void put_seconds(FILE *out, int ms)
{
    char frac[8];
    size_t n = (size_t)snprintf(frac, sizeof frac, "%03d", ms % 1000);

    while (n > 1 && frac[n - 1] == '0')
        frac[--n] = '\0';
    emit(out, "%d.%s", ms / 1000, frac);
}

static void put_value(FILE *out, const struct cu_config *c,
                      const struct cu_setting *s)
{
    const char *const *str = cu_cfg_cfield(c, s);
    const int *num = cu_cfg_cfield(c, s);

    switch (s->type) {
    case CU_STR:
    case CU_STR_OPT:
    case CU_CALLABLE:
        emit(out, "%s", *str != NULL ? *str : "None");
        break;
    case CU_CHOICE:
        emit(out, "%s", cu_config_choice(c, s));
        break;
    case CU_INT:
    case CU_OCTAL:
        emit(out, "%d", *num);
        break;
    case CU_BOOL:
        emit(out, "%s", *num ? "True" : "False");
        break;
    case CU_SECONDS:
        put_seconds(out, *num);
        break;
    case CU_LIST:
    case CU_CSV:
    case CU_DICT:
        put_strv(out, cu_cfg_cfield(c, s), s->type == CU_DICT);
        break;
    }
}

/* The setting whose name comes next after prev's (the first: prev NULL),
 * or NULL after the last. Names are unique. */
static const struct cu_setting *next_by_name(const struct cu_setting *prev)
{
    const struct cu_setting *next = NULL;

    for (size_t i = 0; i < cu_n_settings; i++) {
        const char *name = cu_settings[i].name;

        if ((prev == NULL || strcmp(name, prev->name) > 0) &&
            (next == NULL || strcmp(name, next->name) < 0))
            next = &cu_settings[i];
    }
    return next;
}

void cu_config_print(const struct cu_config *c, FILE *out)
{
    int width = 0;

    for (size_t i = 0; i < cu_n_settings; i++) {
        int len = (int)strlen(cu_settings[i].name);

        if (len > width)
            width = len;
    }
    for (const struct cu_setting *s = next_by_name(NULL); s != NULL;
         s = next_by_name(s)) {
        emit(out, "%-*s = ", width, s->name);
        put_value(out, c, s);
        emit(out, "\n");
    }
}
