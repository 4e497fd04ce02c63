/*
 * Process titles over the argv area (see proctitle.h).
 *
 * The kernel's /proc/PID/cmdline is the bytes from arg_start to arg_end
 * (fields 48 and 49 of /proc/PID/stat). If the last of them is not a NUL
 * any more, it reads on past arg_end up to the first NUL, as far as the
 * environment strings reach, for exactly this use. A title that fits is
 * written with NULs after it up to the end of what was written before; a
 * longer one runs into the environment strings, which cu_proctitle_init()
 * has copied to the heap (environ[] points at the copies; os.environ was
 * always a copy).
 */
#include "core/proctitle.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <unistd.h>

extern char **environ;

#define TITLE_MAX 256

static char *area;        /* the argv strings, then the environment's */
static size_t area_len;   /* bytes of it we may use, the last one a NUL */
static size_t dirty;      /* bytes from area on that may be non-NUL */
static char title[TITLE_MAX];
static size_t base_len;   /* the title without its state */

/* arg_start, arg_end, env_start, env_end: fields 48 to 51 of
 * /proc/self/stat (Linux 3.5 and later). 0 or -1. */
static int read_layout(unsigned long out[4])
{
    char buf[2048], *p;
    ssize_t n;
    int fd = open("/proc/self/stat", O_RDONLY | O_CLOEXEC);

    if (fd < 0)
        return -1;
    do
        n = read(fd, buf, sizeof(buf) - 1);
    while (n < 0 && errno == EINTR);
    close(fd);
    if (n <= 0)
        return -1;
    buf[n] = '\0';
    /* field 2, the command name, may hold spaces and parentheses: the
     * fields after it start after the last ')' */
    if (!(p = strrchr(buf, ')')))
        return -1;
    p++;
    for (int field = 3; field <= 51; field++) {
        char *end;

        p += strspn(p, " ");
        if (*p == '\0')
            return -1;
        if (field < 48) {
            p += strcspn(p, " ");
            continue;
        }
        errno = 0;
        out[field - 48] = strtoul(p, &end, 10);
        if (end == p || errno != 0)
            return -1;
        p = end;
    }
    return 0;
}

/* Points environ[] and glibc's program name at copies of the strings that
 * live in [start, end). 0, or -1 when memory ran out (what was moved stays
 * moved: the copies are as good). */
static int move_strings(char *start, char *end)
{
    for (char **e = environ; e && *e; e++) {
        if (*e >= start && *e < end) {
            char *copy = strdup(*e);
            if (!copy)
                return -1;
            *e = copy;
        }
    }
    if (program_invocation_name >= start && program_invocation_name < end) {
        char *copy = strdup(program_invocation_name), *slash;
        if (!copy)
            return -1;
        slash = strrchr(copy, '/');
        program_invocation_name = copy;
        program_invocation_short_name = slash ? slash + 1 : copy;
    }
    return 0;
}

int cu_proctitle_init(void)
{
    unsigned long v[4];
    char *arg_start, *arg_end;

    if (area)
        return 0;
    if (read_layout(v) < 0 || v[0] == 0 || v[1] <= v[0])
        return -1;
    arg_start = (char *)v[0];
    arg_end = (char *)v[1];
    if (move_strings(arg_start, arg_end) < 0)
        return -1;
    area_len = (size_t)(arg_end - arg_start);
    /* the environment strings right after argv can be used too, once no
     * one points into them */
    if (v[2] == v[1] && v[3] > v[2] && move_strings((char *)v[2], (char *)v[3]) == 0)
        area_len = (size_t)(v[3] - v[0]);
    area = arg_start;
    dirty = (size_t)(arg_end - arg_start) - 1;  /* the old argv, to clear */
    return 0;
}

/* Writes the first len bytes of title, NULs after it. */
static void put(size_t len)
{
    size_t n;

    if (!area || area_len == 0)
        return;
    n = len < area_len - 1 ? len : area_len - 1;
    memcpy(area, title, n);
    if (dirty > n)
        memset(area + n, 0, dirty - n);
    else
        area[n] = '\0';
    dirty = n;
}

/* Copies s into title at `at`, as far as it fits; the new length. */
static size_t append(size_t at, const char *s)
{
    size_t n = strlen(s);

    if (at >= sizeof(title) - 1)
        return sizeof(title) - 1;  /* full: title[at] is its NUL already */
    if (n > sizeof(title) - 1 - at)
        n = sizeof(title) - 1 - at;
    memcpy(title + at, s, n);
    title[at + n] = '\0';
    return at + n;
}

void cu_proctitle_set(const char *role, const char *name)
{
    char comm[16];
    size_t len = 0;

    len = append(len, "cunicorn: ");
    len = append(len, role);
    len = append(len, " [");
    len = append(len, name ? name : "");
    len = append(len, "]");
    base_len = len;
    put(len);
    len = strlen(role);
    if (len > sizeof(comm) - 10)
        len = sizeof(comm) - 10;
    memcpy(comm, "cunicorn ", 9);
    memcpy(comm + 9, role, len);
    comm[9 + len] = '\0';
    (void)prctl(PR_SET_NAME, comm, 0, 0, 0);
}

void cu_proctitle_state(const char *state)
{
    size_t len = base_len;

    if (state) {
        len = append(len, " (");
        len = append(len, state);
        len = append(len, ")");
    } else {
        title[len] = '\0';
    }
    put(len);
}
