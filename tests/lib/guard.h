/*
 * Guarded test buffers: the bytes end exactly where a PROT_NONE page
 * begins, so reading one byte past them faults even without ASan.
 *
 *   struct guard_buf g;
 *   char *p = guard_alloc(&g, "GET / HTTP/1.1\r\n", 16);
 *   ... parse p[0..16) ...
 *   guard_free(&g);
 *
 * Only over-reads are caught; under-reads land in the same readable pages.
 */
#ifndef CU_TEST_GUARD_H
#define CU_TEST_GUARD_H

#include <stddef.h>

struct guard_buf { char *base; size_t map_len; };

/* Returns a pointer p such that p[0..len) is readable and writable and p[len] is the first byte of a PROT_NONE page; copies src (len bytes) there if src != NULL. NULL on failure (errno set). len may be 0. */
char *guard_alloc(struct guard_buf *g, const void *src, size_t len);
/* Unmaps; g is left zeroed. Does nothing if g->base is NULL. */
void guard_free(struct guard_buf *g);

#endif
