/*
 * Spooled request bodies. See spool.h.
 *
 * The body is bytes [0, mlen) in memory and [mlen, size) in the file, at
 * offset 0 there. Reading hands out the memory in place, then the file a
 * piece at a time through rbuf.
 */
#include "worker/spool.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/io.h"
#include "core/log.h"
#include "http/http.h"

#define PIECE 65536  /* what one load reads of the file */

void cu_spool_init(struct cu_spool *s, size_t mem_max, const char *dir)
{
    memset(s, 0, sizeof(*s));
    s->mem_max = mem_max;
    s->dir = dir;
}

static const char *spool_dir(const struct cu_spool *s)
{
    const char *tmp;

    if (s->dir)
        return s->dir;
    tmp = getenv("TMPDIR");
    return tmp && *tmp ? tmp : "/tmp";
}

/* The file, unlinked from the start: O_TMPFILE where the file system has
 * it, else a unique name removed at once. */
static int open_file(struct cu_spool *s)
{
    const char *dir = spool_dir(s);
    char path[4096];
    int fd = -1;

#ifdef O_TMPFILE
    fd = open(dir, O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
#endif
    if (fd < 0) {
        if (snprintf(path, sizeof(path), "%s/cunicorn-body-XXXXXX", dir) >= (int)sizeof(path)) {
            errno = ENAMETOOLONG;
        } else if ((fd = mkostemp(path, O_CLOEXEC)) >= 0 && unlink(path) < 0) {
            int err = errno;
            close(fd);
            fd = -1;
            errno = err;
        }
    }
    if (fd < 0) {
        cu_log(CU_ERROR, "tmp_upload_dir: cannot make a file in %s: %s", dir,
               strerror(errno));
        return -1;
    }
    s->fd = fd;
    s->has_file = 1;
    return 0;
}

int cu_spool_add(struct cu_spool *s, const char *p, size_t n)
{
    if (!s->has_file && s->mlen < s->mem_max) {
        size_t take = s->mem_max - s->mlen < n ? s->mem_max - s->mlen : n;
        if (s->mlen + take > s->mcap) {
            size_t cap = s->mcap ? s->mcap * 2 : 16384;
            char *m;
            while (cap < s->mlen + take)
                cap *= 2;
            if (cap > s->mem_max)
                cap = s->mem_max;
            if (!(m = realloc(s->mem, cap))) {
                cu_log(CU_ERROR, "out of memory for a request body");
                return -1;
            }
            s->mem = m;
            s->mcap = cap;
        }
        memcpy(s->mem + s->mlen, p, take);
        s->mlen += take;
        s->size += take;
        p += take;
        n -= take;
    }
    if (n == 0)
        return 0;
    if (!s->has_file && open_file(s) < 0)
        return -1;
    if (cu_write_all(s->fd, p, n) < 0) {
        cu_log(CU_ERROR, "tmp_upload_dir: writing a request body: %s", strerror(errno));
        return -1;
    }
    s->size += n;
    return 0;
}

int64_t cu_spool_peek(struct cu_spool *s, const char **p)
{
    if (s->pos < s->mlen) {
        *p = s->mem + s->pos;
        return (int64_t)(s->mlen - s->pos);
    }
    if (s->rpos < s->rlen) {
        *p = s->rbuf + s->rpos;
        return (int64_t)(s->rlen - s->rpos);
    }
    return s->pos < s->size ? HTTP_AGAIN : 0;
}

void cu_spool_consume(struct cu_spool *s, size_t n)
{
    if (s->pos >= s->mlen)
        s->rpos += n;
    s->pos += n;
}

int cu_spool_load(struct cu_spool *s)
{
    uint64_t left = s->size - s->pos;
    size_t want = left < PIECE ? (size_t)left : PIECE;
    ssize_t n;

    if (!s->rbuf && !(s->rbuf = malloc(PIECE)))
        return -1;
    do
        n = pread(s->fd, s->rbuf, want, (off_t)(s->pos - s->mlen));
    while (n < 0 && errno == EINTR);
    if (n <= 0) {
        if (n == 0)
            errno = EIO;  /* the file is shorter than what was written */
        return -1;
    }
    s->rpos = 0;
    s->rlen = (size_t)n;
    return 0;
}

void cu_spool_free(struct cu_spool *s)
{
    if (s->has_file)
        close(s->fd);
    free(s->mem);
    free(s->rbuf);
    cu_spool_init(s, s->mem_max, s->dir);
}
