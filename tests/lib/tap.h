/*
 * A few lines of TAP (Test Anything Protocol) for the C tests.
 *
 *   ok(cond, "what was checked %d", n);   one test point
 *   return tap_done();                    plan line and exit status
 *   bail("what failed");                  stop: the test cannot go on
 *   xsnprintf(buf, sizeof buf, ...);      snprintf, or bail if it is cut
 *
 * meson reads the output with protocol: 'tap'.
 */
#ifndef CU_TEST_TAP_H
#define CU_TEST_TAP_H

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

static int tap_n, tap_failed;

__attribute__((format(printf, 2, 3), unused))
static int ok(int cond, const char *fmt, ...)
{
    va_list ap;

    tap_n++;
    if (!cond)
        tap_failed++;
    printf("%sok %d - ", cond ? "" : "not ", tap_n);
    va_start(ap, fmt);
    vprintf(fmt, ap);
    va_end(ap);
    putchar('\n');
    /* A failed write leaves stdout's error flag set; tap_done() fails the
     * test then. Flushed here so a crash keeps the points before it. */
    (void)fflush(stdout);
    return cond;
}

__attribute__((format(printf, 1, 2), unused))
static void diag(const char *fmt, ...)
{
    va_list ap;

    (void)fputs("# ", stdout);  /* as in ok(): tap_done() checks stdout */
    va_start(ap, fmt);
    vprintf(fmt, ap);
    va_end(ap);
    putchar('\n');
}

/* TAP's "Bail out!": the rest of the test cannot run (a fixture failed). */
__attribute__((format(printf, 1, 2), noreturn, unused))
static void bail(const char *fmt, ...)
{
    va_list ap;

    printf("Bail out! ");
    va_start(ap, fmt);
    vprintf(fmt, ap);
    va_end(ap);
    putchar('\n');
    exit(1);
}

/* snprintf that bails out when the text does not fit in buf: a path or an
 * expected value cut short would have the test check the wrong thing. */
__attribute__((format(printf, 3, 4), unused))
static void xsnprintf(char *buf, size_t size, const char *fmt, ...)
{
    va_list ap;
    int n;

    va_start(ap, fmt);
    n = vsnprintf(buf, size, fmt, ap);
    va_end(ap);
    if (n < 0 || (size_t)n >= size)
        bail("xsnprintf: %d bytes do not fit in %zu: %s", n, size, fmt);
}

/* The plan line; 1 when a point failed or stdout could not be written
 * (some points may be missing from the output then). */
__attribute__((unused))
static int tap_done(void)
{
    printf("1..%d\n", tap_n);
    if (tap_failed)
        printf("# %d of %d failed\n", tap_failed, tap_n);
    if (fflush(stdout) != 0 || ferror(stdout)) {
        (void)fputs("tap: writing the results to stdout failed\n", stderr);
        return 1;
    }
    return tap_failed ? 1 : 0;
}

#endif
