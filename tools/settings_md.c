/*
 * Writes docs/settings.md from the settings table (src/config/markdown.c):
 * `ninja -C build settings-md`, or settings_md [FILE] (stdout without one).
 * tests/config/test_markdown.c fails until the committed page is rewritten
 * after a change to the table.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "config/settings.h"

int main(int argc, char **argv)
{
    FILE *out = argc > 1 ? fopen(argv[1], "w") : stdout;

    if (out == NULL) {
        (void)fprintf(stderr, "settings_md: %s: %s\n", argv[1], strerror(errno));
        return 1;
    }
    cu_config_markdown(out);
    if (ferror(out) || (out != stdout && fclose(out) != 0) ||
        (out == stdout && fflush(stdout) != 0)) {
        (void)fprintf(stderr, "settings_md: write failed: %s\n", strerror(errno));
        return 1;
    }
    return 0;
}
