/* Small I/O helpers shared by the logs and the bridge. Plain C. */
#ifndef CU_CORE_IO_H
#define CU_CORE_IO_H

#include <stddef.h>

/* Writes all n bytes to a blocking fd, retrying after EINTR and partial
 * writes. 0, or -1 with errno (a write that failed or wrote nothing). */
int cu_write_all(int fd, const void *p, size_t n);

#endif
