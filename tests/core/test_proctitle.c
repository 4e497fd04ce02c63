/*
 * Process titles (src/core/proctitle.c), read back the way ps reads them:
 * /proc/self/cmdline and /proc/self/comm.
 */
#include "core/proctitle.h"
#include "../lib/tap.h"

#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* The whole of a /proc file; its length in *n. */
static char *slurp(const char *path, size_t *n)
{
    static char buf[8192];
    ssize_t r;
    int fd = open(path, O_RDONLY | O_CLOEXEC);

    *n = 0;
    if (fd < 0)
        return buf;
    while ((r = read(fd, buf + *n, sizeof(buf) - 1 - *n)) > 0)
        *n += (size_t)r;
    close(fd);
    buf[*n] = '\0';
    return buf;
}

/* The title as ps shows it: the first string of the command line, and
 * nothing but NULs after it. */
static int title_is(const char *want)
{
    size_t n, len;
    char *s = slurp("/proc/self/cmdline", &n);

    len = strlen(s);
    if (strcmp(s, want) != 0) {
        diag("cmdline is '%s', want '%s'", s, want);
        return 0;
    }
    for (size_t i = len; i < n; i++)
        if (s[i] != '\0') {
            diag("byte %zu after the title is %#x", i, (unsigned)s[i]);
            return 0;
        }
    return 1;
}

int main(int argc, char **argv)
{
    char want[512], name[200], big[300];
    size_t n;
    const char *home;

    (void)argc;
    (void)argv;
    setenv("CU_PROCTITLE_TEST", "kept as it was", 1);
    ok(cu_proctitle_init() == 0, "the argv area is found");
    ok(cu_proctitle_init() == 0, "a second init is harmless");

    cu_proctitle_set("master", "app:x");
    ok(title_is("cunicorn: master [app:x]"), "master title");
    ok(strcmp(slurp("/proc/self/comm", &n), "cunicorn master\n") == 0,
       "comm is 'cunicorn master'");

    cu_proctitle_state("reloading");
    ok(title_is("cunicorn: master [app:x] (reloading)"), "a state is appended");
    cu_proctitle_state(NULL);
    ok(title_is("cunicorn: master [app:x]"), "and removed");

    cu_proctitle_set("worker", "w");
    ok(title_is("cunicorn: worker [w]"), "a shorter title leaves no trace "
       "of the longer one");
    ok(strcmp(slurp("/proc/self/comm", &n), "cunicorn worker\n") == 0,
       "comm is 'cunicorn worker'");

    /* longer than this test's own command line: on into the environment */
    memset(name, 'n', sizeof(name) - 1);
    name[sizeof(name) - 1] = '\0';
    cu_proctitle_set("worker", name);
    xsnprintf(want, sizeof(want), "cunicorn: worker [%s]", name);
    ok(title_is(want), "a long title runs over the environment strings");
    ok(getenv("CU_PROCTITLE_TEST") &&
       strcmp(getenv("CU_PROCTITLE_TEST"), "kept as it was") == 0,
       "the environment is intact");
    home = getenv("PATH");
    ok(home && strchr(home, '/') != NULL, "variables from the start too");
    cu_proctitle_state("stopping");
    xsnprintf(want, sizeof(want), "cunicorn: worker [%s] (stopping)", name);
    ok(title_is(want), "a state after a long title");
    memset(big, 'b', sizeof(big) - 1);
    big[sizeof(big) - 1] = '\0';
    cu_proctitle_set("worker", big);
    ok(strlen(slurp("/proc/self/cmdline", &n)) == 255,
       "a title is cut at 255 bytes");

    cu_proctitle_set("master", "app:x");
    ok(title_is("cunicorn: master [app:x]"), "short again, no leftovers");
    cu_proctitle_set("a-role-longer-than-comm", "x");
    ok(strcmp(slurp("/proc/self/comm", &n), "cunicorn a-role\n") == 0,
       "comm is cut at 15 bytes");
    return tap_done();
}
