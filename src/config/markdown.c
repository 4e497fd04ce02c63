/*
 * docs/settings.md, generated from the table (see settings.h): every
 * setting by section with its flags, default, status and help.
 * tools/settings_md.c writes the page; tests/config/test_markdown.c fails
 * when the committed page and the table disagree.
 */
#include "config/internal.h"

#include <stdarg.h>
#include <string.h>

__attribute__((format(printf, 2, 3)))
static void emit(FILE *out, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    (void)vfprintf(out, fmt, ap);
    va_end(ap);
}

/* Text in a table cell: a '|' would end the cell. */
static void cell(FILE *out, const char *s)
{
    for (; *s != '\0'; s++) {
        if (*s == '|')
            emit(out, "\\|");
        else
            emit(out, "%c", *s);
    }
}

/* The default as a user writes it in a config file. */
static void put_default(FILE *out, const struct cu_setting *s)
{
    const char *d = s->dflt;

    if (s->offset == OFF(chdir)) {
        emit(out, "the directory it starts in");
        return;
    }
    if (s->type == CU_BOOL) {
        emit(out, "`%s`", strcmp(d, "true") == 0 ? "True" : "False");
        return;
    }
    if (d == NULL) {
        emit(out, "`%s`", s->type == CU_LIST || s->type == CU_CSV ? "[]"
                          : s->type == CU_DICT ? "{}" : "None");
        return;
    }
    if (s->type == CU_DICT) {  /* "A=x,B=y" as {'A': 'x', 'B': 'y'} */
        emit(out, "`{");
        while (*d != '\0') {
            size_t len = strcspn(d, ","), k = strcspn(d, "=");

            emit(out, "'%.*s': '%.*s'%s", (int)k, d, (int)(len - k - 1), d + k + 1,
                 d[len] == ',' ? ", " : "");
            d += len + (d[len] == ',');
        }
        emit(out, "}`");
        return;
    }
    if (s->type == CU_LIST) {
        emit(out, "`['");
        cell(out, d);
        emit(out, "']`");
        return;
    }
    emit(out, "`");
    cell(out, d[0] == '\0' ? "''" : d);
    emit(out, "`");
}

static void put_status(FILE *out, const struct cu_setting *s)
{
    if (s->refused != NULL) {
        emit(out, "refused: ");
        cell(out, s->refused);
        for (size_t i = 0; s->allowed != NULL && s->allowed[i] != NULL; i++)
            emit(out, "%s`%s`", i ? ", " : "; takes ", s->allowed[i]);
        if (s->only_with != NULL)
            emit(out, " (only while `%s` is set: Gunicorn reads it only then)",
                 s->only_with);
    } else if (s->inert != NULL) {
        emit(out, "no effect: ");
        cell(out, s->inert);
    } else {
        emit(out, s->ours ? "yes (ours)" : "yes");
    }
}

static void put_row(FILE *out, const struct cu_setting *s)
{
    emit(out, "| `%s` | ", s->name);
    if (s->flags[0] == NULL)
        emit(out, "config file only");
    for (size_t i = 0; i < 3 && s->flags[i] != NULL; i++)
        emit(out, "%s`%s`", i ? ", " : "", s->flags[i]);
    emit(out, " | ");
    put_default(out, s);
    emit(out, " | ");
    put_status(out, s);
    emit(out, " | ");
    if (s->type == CU_CALLABLE)
        emit(out, "`(%s)` ", s->meta);
    cell(out, s->help);
    emit(out, " |\n");
}

void cu_config_markdown(FILE *out)
{
    size_t works = 0, inert = 0, refused = 0, ours = 0;

    for (size_t i = 0; i < cu_n_settings; i++) {
        refused += cu_settings[i].refused != NULL;
        inert += cu_settings[i].refused == NULL && cu_settings[i].inert != NULL;
        ours += cu_settings[i].ours != 0;
    }
    works = cu_n_settings - refused - inert;
    emit(out, "# Settings\n\n"
         "<!-- Generated from src/config/table.c by tools/settings_md.c\n"
         "     (`ninja -C build settings-md`); do not edit by hand.\n"
         "     tests/config/test_markdown.c fails when the two disagree. -->\n\n"
         "Every setting cunicorn knows: Gunicorn 26.1's %zu, with Gunicorn's\n"
         "names, flags and defaults, and %zu of cunicorn's own. How the layers\n"
         "combine (defaults, config file, `GUNICORN_CMD_ARGS`, command line)\n"
         "and how values are read: `docs/compat.md`, Settings. Coming from\n"
         "Gunicorn: `docs/migrating.md`.\n\n"
         "The status of each:\n\n"
         "- **yes**: it works (where it differs from Gunicorn, `docs/compat.md`\n"
         "  says so); **yes (ours)**: not in Gunicorn.\n"
         "- **no effect**: taken and checked as Gunicorn checks it, but nothing\n"
         "  in cunicorn reads it; the reason is given.\n"
         "- **refused**: it needs a part of the server that is not built yet.\n"
         "  At its default (and at the values listed as taken) it is accepted,\n"
         "  so a config file that spells the defaults out still works; any\n"
         "  other value stops the start with `Error: NAME: REASON` (status 1),\n"
         "  whether it came from the command line, `GUNICORN_CMD_ARGS` or a\n"
         "  config file, and so does `--check-config`.\n\n"
         "%zu settings work, %zu have no effect, %zu are refused.\n",
         cu_n_settings - ours, ours, works, inert, refused);
    for (size_t i = 0; i < cu_n_settings; i++) {
        const char *section = cu_settings[i].section;
        size_t first = 0;

        while (strcmp(cu_settings[first].section, section) != 0)
            first++;
        if (first != i)
            continue;  /* written with its section already */
        emit(out, "\n## %s\n\n| setting | flags | default | status | what it does |\n"
             "|---|---|---|---|---|\n", section);
        for (size_t j = i; j < cu_n_settings; j++)
            if (strcmp(cu_settings[j].section, section) == 0)
                put_row(out, &cu_settings[j]);
    }
}
