/* Set-up helpers report failures as one line in a caller's buffer. */
#ifndef CU_CORE_ERRBUF_H
#define CU_CORE_ERRBUF_H

#include <stddef.h>

/* snprintf into err (truncating); does nothing when err is NULL or empty. */
__attribute__((format(printf, 3, 4)))
void cu_seterr(char *err, size_t errlen, const char *fmt, ...);

#endif
