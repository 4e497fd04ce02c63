/*
 * What the tests of src/config/ share: a config made from a command line,
 * its --print-config lines, list comparisons. Static, one copy per test.
 */
#ifndef CU_TEST_CONFIG_COMMON_H
#define CU_TEST_CONFIG_COMMON_H

#include "config/settings.h"
#include "../lib/tap.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define ARGV(...) ((const char *const[]){__VA_ARGS__, NULL})

__attribute__((unused))
static char err[512];  /* the last call's message */

__attribute__((unused))
static void clear_env(void)
{
    unsetenv("PORT");
    unsetenv("WEB_CONCURRENCY");
    unsetenv("FORWARDED_ALLOW_IPS");
    unsetenv("SENDFILE");
}

__attribute__((unused))
static int argv_len(const char *const *argv)
{
    int n = 0;

    while (argv[n] != NULL)
        n++;
    return n;
}

/* 0 ok, -1 cu_args_apply failed, -2 cu_args_parse failed (err set). */
__attribute__((unused))
static int parse_apply(struct cu_config *c, const char *const *argv)
{
    struct cu_args a;
    int rc;

    err[0] = '\0';
    if (cu_args_parse(argv_len(argv), (char *const *)argv, &a, err,
                      sizeof err) < 0)
        return -2;
    rc = cu_args_apply(c, &a, err, sizeof err);
    cu_args_free(&a);
    return rc;
}

/* A fresh config with argv applied; the caller frees it. */
__attribute__((unused))
static int fresh(struct cu_config *c, const char *const *argv)
{
    if (cu_config_init(c) < 0) {
        diag("cu_config_init failed");
        exit(1);
    }
    return parse_apply(c, argv);
}

__attribute__((unused))
/* fresh() with argv fails as rc says (fresh's codes), with want in err. */
__attribute__((unused))
static void fails(const char *const *argv, int rc, const char *want)
{
    struct cu_config c;
    int got = fresh(&c, argv);

    ok(got == rc && strstr(err, want) != NULL, "%s ...: '%s' (%s)", argv[0],
       want, err);
    cu_config_free(&c);
}

/* Output into memory: write to capture_start(&k), then capture_end(&k)
 * gives what was written (malloc'd). */
struct capture {
    char *buf;
    size_t n;
    FILE *f;
};

__attribute__((unused))
static FILE *capture_start(struct capture *k)
{
    k->buf = NULL;
    k->n = 0;
    if ((k->f = open_memstream(&k->buf, &k->n)) == NULL)
        bail("capture_start: open_memstream failed");
    return k->f;
}

__attribute__((unused))
static char *capture_end(struct capture *k)
{
    /* fclose writes the last bytes to k->buf: without it the text is cut */
    if (fclose(k->f) != 0)
        bail("capture_end: fclose of the memory stream failed");
    return k->buf;
}

/* --print-config of c. */
__attribute__((unused))
static char *capture_print(const struct cu_config *c)
{
    struct capture k;

    cu_config_print(c, capture_start(&k));
    return capture_end(&k);
}

/* The text after "name<spaces> = " on name's --print-config line. */
__attribute__((unused))
static int printed_is(const struct cu_config *c, const char *name,
                      const char *want)
{
    char *all = capture_print(c);
    size_t len = strlen(name);
    int same = 0;

    for (char *line = all; line != NULL && *line != '\0';) {
        char *nl = strchr(line, '\n');
        char *eq = strstr(line, " = ");

        if (nl != NULL)
            *nl = '\0';
        if (strncmp(line, name, len) == 0 && eq != NULL &&
            strspn(line + len, " ") == (size_t)(eq - line - len) + 1) {
            same = strcmp(eq + 3, want) == 0;
            if (!same)
                diag("%s is %s, want %s", name, eq + 3, want);
            break;
        }
        line = nl ? nl + 1 : NULL;
    }
    free(all);
    return same;
}

__attribute__((unused))
static int strv_is(const struct cu_strv *l, const char *const *want)
{
    size_t n = 0;

    while (want[n] != NULL)
        n++;
    if (l->n != n)
        return 0;
    for (size_t i = 0; i < n; i++) {
        if (strcmp(l->v[i], want[i]) != 0)
            return 0;
    }
    return 1;
}

#endif
