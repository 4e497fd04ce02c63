/*
 * A request body read whole before the app runs (gthread; docs/compat.md,
 * Request bodies): what a buffering proxy would have buffered. Its first
 * mem_max bytes are kept in memory, the rest in a file in the upload
 * directory, unlinked as it is made (O_TMPFILE, else mkstemp and unlink),
 * so that nothing is left behind whatever happens to the worker. Plain C.
 *
 * A zeroed struct is an empty spool, and cu_spool_free() may be called on
 * it any number of times.
 */
#ifndef CU_WORKER_SPOOL_H
#define CU_WORKER_SPOOL_H

#include <stddef.h>
#include <stdint.h>

struct cu_spool {
    char *mem;             /* the body's first bytes */
    size_t mlen, mcap, mem_max;
    const char *dir;       /* NULL: $TMPDIR, else /tmp */
    int fd;                /* the rest of it, when has_file */
    int has_file;
    uint64_t size;         /* bytes spooled */
    uint64_t pos;          /* bytes handed out */
    char *rbuf;            /* the piece of the file being handed out */
    size_t rpos, rlen;
};

void cu_spool_init(struct cu_spool *s, size_t mem_max, const char *dir);
/* Appends p[0..n). 0, or -1 with errno (the file could not be made or
 * written; logged). */
int cu_spool_add(struct cu_spool *s, const char *p, size_t n);
/* Bytes available without I/O: n > 0 with *p set, 0 at the end, or
 * HTTP_AGAIN when cu_spool_load() must read the next piece of the file. */
int64_t cu_spool_peek(struct cu_spool *s, const char **p);
void cu_spool_consume(struct cu_spool *s, size_t n);
/* Reads the next piece of the file (may block on the disk: call it
 * without the GIL). 0, or -1 with errno. */
int cu_spool_load(struct cu_spool *s);
/* Frees the memory and closes the file. */
void cu_spool_free(struct cu_spool *s);

#endif
