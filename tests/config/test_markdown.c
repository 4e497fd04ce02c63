/*
 * docs/settings.md (src/config/markdown.c): the committed page is what
 * the table generates today, and what it generates names every setting
 * with its flags and status. argv[1] is the committed page.
 */
#include "common.h"

static char *generate(void)
{
    struct capture k;

    cu_config_markdown(capture_start(&k));
    return capture_end(&k);
}

static char *slurp(const char *path)
{
    struct capture k;
    FILE *in = fopen(path, "r"), *out;
    char buf[4096];
    size_t n;

    if (in == NULL)
        return NULL;
    out = capture_start(&k);
    while ((n = fread(buf, 1, sizeof buf, in)) > 0)
        (void)fwrite(buf, 1, n, out);
    (void)fclose(in);
    return capture_end(&k);
}

/* The line of text that starts at or before p. */
static void show_line(const char *what, const char *text, const char *p)
{
    const char *start = p, *end = strchr(p, '\n');

    while (start > text && start[-1] != '\n')
        start--;
    diag("%s: %.*s", what, (int)((end ? end : p + strlen(p)) - start), start);
}

static void test_committed_page(const char *path)
{
    char *want = generate(), *have = slurp(path);
    size_t i = 0, line = 1;

    if (have == NULL)
        bail("cannot read %s", path);
    while (want[i] != '\0' && want[i] == have[i])
        line += want[i++] == '\n';
    if (want[i] != have[i]) {
        diag("%s differs from the table at line %zu; rewrite it with "
             "ninja -C BUILD settings-md", path, line);
        show_line("table", want, want + i);
        show_line("page ", have, have + i);
    }
    ok(strcmp(want, have) == 0, "%s is the page the table generates", path);
    free(want);
    free(have);
}

static void test_content(void)
{
    char *page = generate();
    char row[512];
    int rows = 1, status = 1;

    for (size_t i = 0; i < cu_n_settings; i++) {
        const struct cu_setting *s = &cu_settings[i];
        char *at;

        xsnprintf(row, sizeof row, "\n| `%s` | %s%s%s", s->name,
                  s->flags[0] ? "`" : "config file only",
                  s->flags[0] ? s->flags[0] : "", s->flags[0] ? "`" : "");
        if ((at = strstr(page, row)) == NULL) {
            diag("no row for %s", s->name);
            rows = 0;
            continue;
        }
        xsnprintf(row, sizeof row, "| %s%s", s->refused ? "refused: " :
                  s->inert ? "no effect: " : "yes",
                  s->refused ? s->refused : s->inert ? s->inert : "");
        if (strstr(at, row) == NULL || strstr(at, row) > strchr(at + 1, '\n')) {
            diag("%s: no status '%s' on its row", s->name, row);
            status = 0;
        }
    }
    ok(rows, "a row for every setting, with its first flag");
    ok(status, "each row says whether the setting works, or why not");
    ok(strstr(page, "Gunicorn 26.1's 119") != NULL &&
       strstr(page, "118 settings work, 4 have no effect, 15 are refused.") != NULL,
       "the counts");
    ok(strstr(page, "| `certfile` | `--certfile` | `None` | yes |") != NULL &&
       strstr(page, "| `http_protocols` | `--http-protocols` | `h1` | yes |") != NULL,
       "certfile's row, http_protocols'");
    ok(strstr(page, "| `secure_scheme_headers` | config file only | "
                    "`{'X-FORWARDED-PROTOCOL': 'ssl', 'X-FORWARDED-PROTO': "
                    "'https', 'X-FORWARDED-SSL': 'on'}` | yes |") != NULL,
       "a dict default as Python writes it");
    ok(strstr(page, "| `bind` | `-b`, `--bind` | `['127.0.0.1:8000']` | yes |") &&
       strstr(page, "| `root_path` | `--root-path` | `''` | yes |") &&
       strstr(page, "| `asgi_disconnect_grace_period` | `--asgi-disconnect-grace-period` "
                    "| `3` | yes |") &&
       strstr(page, "| `http_parser` | `--http-parser` | `auto` | refused: ") &&
       strstr(page, "; takes `python` |") &&
       strstr(page, "| `buffer_body` | `--buffer-body` | `65536` | yes (ours) |") &&
       strstr(page, "| `chdir` | `--chdir` | the directory it starts in | yes |") &&
       strstr(page, "| `post_fork` | config file only | `None` | yes | "
                    "`(server, worker)` "),
       "lists, empty strings, allowed values, ours, chdir, hooks");
    ok(strstr(page, "%(h)s %(l)s %(u)s %(t)s \"%(r)s\"") != NULL &&
       strstr(page, "\n## SSL\n") != NULL && strstr(page, "\n## Control\n") != NULL,
       "sections and defaults as they are");
    free(page);
}

int main(int argc, char **argv)
{
    if (argc < 2)
        bail("usage: test_markdown docs/settings.md");
    test_committed_page(argv[1]);
    test_content();
    return tap_done();
}
