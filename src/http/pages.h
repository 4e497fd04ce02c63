/*
 * Gunicorn's error page: the one answer a refused or failed request gets,
 * whoever sends it (a parse error, the app's failure, --request-timeout):
 *
 *   HTTP/1.1 STATUS REASON\r\n
 *   Connection: close\r\n
 *   Content-Type: text/html\r\n
 *   Content-Length: N\r\n
 *   \r\n
 *   <html>\n
 *     <head>\n
 *       <title>REASON</title>\n
 *     </head>\n
 *     <body>\n
 *       <h1><p>REASON</p></h1>\n
 *       MESSAGE\n
 *     </body>\n
 *   </html>\n
 *
 * The message is bytes the caller has already HTML-escaped; they go out as
 * given. Plain C, no Python. Nothing here allocates.
 */
#ifndef CU_HTTP_PAGES_H
#define CU_HTTP_PAGES_H

#include <stddef.h>
#include <sys/uio.h>

/* The longest reason phrase a page takes (longer: no page). */
#define HTTP_PAGE_REASON_MAX 64
/* Room for a page's text before its message: the head and the HTML up to
 * the message, for any status and reason a page takes. */
#define HTTP_PAGE_HEAD 400
/* Room for a whole page whose message has at most HTTP_PAGE_MSG_SHORT
 * bytes (the fixed pages: the parse errors', the 500, the 504). */
#define HTTP_PAGE_MSG_SHORT 512
#define HTTP_PAGE_MAX (HTTP_PAGE_HEAD + HTTP_PAGE_MSG_SHORT + 32)

/* A page in pieces: the text before the message, the message, the rest. */
#define HTTP_PAGE_IOV 3

/*
 * The page for status (100-999) and reason, with msg[0..msg_len) as its
 * message (msg may be NULL when msg_len is 0), as iov[0..HTTP_PAGE_IOV):
 * iov[0] is built in head, iov[1] points at msg, iov[2] at a constant. The
 * iovecs are valid while head and msg are. Returns the page's length, or 0
 * when the status or the reason is not one a page takes.
 */
size_t http_page_iov(struct iovec iov[HTTP_PAGE_IOV], char head[HTTP_PAGE_HEAD],
                     unsigned status, const char *reason, const char *msg,
                     size_t msg_len);

/* The same page in one piece, in buf[0..cap) (not NUL-terminated). Returns
 * its length, or 0 when it does not fit or http_page_iov() refuses it. */
size_t http_page(char *buf, size_t cap, unsigned status, const char *reason,
                 const char *msg, size_t msg_len);

#endif
