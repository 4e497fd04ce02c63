/*
 * guard_alloc(): the bytes are copied, the last one is readable, and the
 * byte after it faults (checked in a forked child, so the test survives).
 */
#include "guard.h"
#include "tap.h"

#include <errno.h>
#include <signal.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

/* Reads p[i] in a child; its wait status, or -1. */
static int read_in_child(const char *p, size_t i)
{
    struct rlimit no_core = { 0, 0 };
    int status;
    pid_t pid = fork();

    if (pid < 0)
        return -1;
    if (pid == 0) {
        volatile const char *vp = p;
        /* Default action, no core file: die by the signal itself, not by
         * a sanitizer's report-and-exit handler. */
        if (setrlimit(RLIMIT_CORE, &no_core) != 0 || signal(SIGSEGV, SIG_DFL) == SIG_ERR)
            _exit(2);
        (void)alarm(10);
        (void)vp[i];
        _exit(0);
    }
    while (waitpid(pid, &status, 0) < 0)
        if (errno != EINTR)
            return -1;
    return status;
}

static void check_len(size_t len, size_t page)
{
    struct guard_buf g;
    char *src = malloc(len + 1), *p;
    int st;

    /* ok() then the test, not if (!ok(...)): cppcheck cannot see through
     * ok() and took the return for a leak of src */
    ok(src != NULL, "len %zu: malloc", len);
    if (src == NULL)
        return;
    for (size_t i = 0; i < len; i++)
        src[i] = (char)('a' + i % 26);
    p = guard_alloc(&g, src, len);
    if (!ok(p != NULL, "len %zu: guard_alloc (%s)", len, p ? "ok" : strerror(errno))) {
        free(src);
        return;
    }
    ok(((uintptr_t)(p + len)) % page == 0, "len %zu: p + len is page aligned", len);
    ok(len == 0 || memcmp(p, src, len) == 0, "len %zu: bytes copied", len);
    if (len > 0) {
        p[len - 1] = 'Z';
        ok(p[len - 1] == 'Z', "len %zu: last byte writable and readable", len);
        st = read_in_child(p, len - 1);
        ok(st != -1 && WIFEXITED(st) && WEXITSTATUS(st) == 0,
           "len %zu: child reads p[len - 1] and exits 0 (status 0x%x)", len, (unsigned)st);
    }
    st = read_in_child(p, len);
    ok(st != -1 && WIFSIGNALED(st) && WTERMSIG(st) == SIGSEGV,
       "len %zu: child reading p[len] dies of SIGSEGV (status 0x%x)", len, (unsigned)st);
    guard_free(&g);
    ok(g.base == NULL && g.map_len == 0, "len %zu: guard_free clears the struct", len);
    free(src);
}

int main(void)
{
    long ps = sysconf(_SC_PAGESIZE);
    size_t page = ps > 0 ? (size_t)ps : 4096;
    const size_t lens[] = { 0, 1, 2, 100, page - 1, page, page + 1, 3 * page + 7 };
    struct guard_buf g, z = { NULL, 0 };
    char *p;

    ok(ps > 0, "page size %ld", ps);
    for (size_t i = 0; i < sizeof lens / sizeof lens[0]; i++)
        check_len(lens[i], page);

    p = guard_alloc(&g, NULL, 10);
    ok(p != NULL, "src NULL: allocated");
    if (p != NULL) {
        memset(p, 'x', 10);
        ok(p[9] == 'x', "src NULL: buffer writable");
        guard_free(&g);
    }
    errno = 0;
    ok(guard_alloc(&g, NULL, SIZE_MAX) == NULL && errno == ENOMEM, "huge len: NULL, ENOMEM");
    ok(guard_alloc(NULL, NULL, 1) == NULL && errno == EINVAL, "NULL guard_buf: NULL, EINVAL");
    guard_free(&z);
    guard_free(NULL);
    ok(1, "guard_free of an empty struct and of NULL is a no-op");
    return tap_done();
}
