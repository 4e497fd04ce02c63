/*
 * Guarded test buffers: one anonymous mapping, the data pages readable and
 * writable, the page after them PROT_NONE, the bytes placed flush against it.
 */
#include "guard.h"

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

char *guard_alloc(struct guard_buf *g, const void *src, size_t len)
{
    long ps;
    size_t page, data;
    char *base, *p;
    int e;

    if (g == NULL) {
        errno = EINVAL;
        return NULL;
    }
    g->base = NULL;
    g->map_len = 0;
    errno = 0;
    if ((ps = sysconf(_SC_PAGESIZE)) <= 0) {
        if (errno == 0)
            errno = EINVAL;
        return NULL;
    }
    page = (size_t)ps;
    if (len > SIZE_MAX - 2 * page) {
        errno = ENOMEM;
        return NULL;
    }
    data = (len + page - 1) / page * page;
    base = mmap(NULL, data + page, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (base == MAP_FAILED)
        return NULL;
    if (mprotect(base + data, page, PROT_NONE) != 0) {
        e = errno;
        if (munmap(base, data + page) != 0)
            perror("guard_alloc: munmap");
        errno = e;
        return NULL;
    }
    g->base = base;
    g->map_len = data + page;
    p = base + data - len;
    if (src != NULL && len > 0)
        memcpy(p, src, len);
    return p;
}

void guard_free(struct guard_buf *g)
{
    if (g == NULL || g->base == NULL)
        return;
    if (munmap(g->base, g->map_len) != 0) {
        /* Only a corrupted guard_buf can get here: stop the test loudly. */
        perror("guard_free: munmap");
        abort();
    }
    g->base = NULL;
    g->map_len = 0;
}
