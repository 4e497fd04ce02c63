/*
 * What tests/core/test_log.c and tests/core/test_access.c share: the logs
 * are opened on files of a mkdtemp() directory (dir, filled in by each
 * test's main()) and read back whole. Include after ../lib/tap.h.
 */
#ifndef CU_TEST_LOGTEST_H
#define CU_TEST_LOGTEST_H

#include "core/access.h"
#include "core/log.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static char dir[64];

/* dir/name, in one of four rotating buffers. */
__attribute__((unused))
static const char *path_in(const char *name)
{
    static char buf[4][256];
    static int next;
    char *p = buf[next++ % 4];

    if (snprintf(p, sizeof(buf[0]), "%s/%s", dir, name) < 0)
        p[0] = '\0';
    return p;
}

/* Whole file, NUL-terminated; "" if missing. Caller frees. */
__attribute__((unused))
static char *slurp(const char *path, size_t *lenp)
{
    size_t cap = 4096, len = 0;
    char *b = malloc(cap);
    int fd = open(path, O_RDONLY | O_CLOEXEC);

    if (b == NULL)
        abort();
    while (fd >= 0) {
        ssize_t r;

        if (cap - len < 4096) {
            char *nb = realloc(b, cap * 2);

            if (nb == NULL)
                abort();
            b = nb;
            cap *= 2;
        }
        r = read(fd, b + len, cap - len - 1);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            break;
        len += (size_t)r;
    }
    if (fd >= 0)
        (void)close(fd);
    b[len] = '\0';
    if (lenp)
        *lenp = len;
    return b;
}

__attribute__((unused))
static size_t count_char(const char *s, size_t n, char c)
{
    size_t i, k = 0;

    for (i = 0; i < n; i++)
        k += s[i] == c;
    return k;
}

/* cu_log_open() on dir/errname and dir/accname (NULL: none). */
__attribute__((unused))
static int open_logs(const char *errname, const char *accname, enum cu_level level)
{
    char err[256] = "";
    int rc = cu_log_open(errname ? path_in(errname) : NULL,
                         accname ? path_in(accname) : NULL, level, err,
                         sizeof(err));

    if (rc < 0)
        diag("cu_log_open: %s", err);
    return rc;
}

__attribute__((unused))
static int set_format(const char *fmt)
{
    char err[256] = "";
    int rc = cu_access_format_set(fmt, err, sizeof(err));

    if (rc < 0)
        diag("format '%s': %s", fmt, err);
    return rc;
}

__attribute__((unused))
static struct cu_str S(const char *s)
{
    struct cu_str r = { s, s ? strlen(s) : 0 };

    return r;
}

/* A request with every letter's value: GET /x?y=1 from 127.0.0.1 by
 * alice, a 200 of 1234 bytes in 2.345678 s, pid 4321. */
__attribute__((unused))
static struct cu_access sample_request(void)
{
    struct cu_access a;

    memset(&a, 0, sizeof(a));
    a.remote_addr = S("127.0.0.1");
    a.method = S("GET");
    a.path = S("/x");
    a.query = S("y=1");
    a.protocol = S("HTTP/1.1");
    a.request_line = S("GET /x?y=1 HTTP/1.1");
    a.authorization = S("Basic YWxpY2U6cHc=");    /* alice:pw */
    a.status = 200;
    a.response_bytes = 1234;
    a.referer = S("http://ref/");
    a.user_agent = S("curl/8.0");
    a.request_time_us = 2345678;
    a.pid = 4321;
    return a;
}

#endif
