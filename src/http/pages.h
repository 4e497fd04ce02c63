/*
 * Gunicorn's error page: the one answer a refused or failed request gets,
 * whoever sends it (a parse error, the app's failure, --request-timeout):
 *
 *   HTTP/1.1 STATUS REASON\r\n
 *   Connection: close\r\n
 *   Content-Type: text/html\r\n
 *   Content-Length: N\r\n
 *   Date: Sun, 06 Dec 2026 18:30:00 GMT\r\n      (ours: RFC 9110 §6.6.1)
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
#define HTTP_PAGE_HEAD 448
/* Room for a whole page whose message has at most HTTP_PAGE_MSG_SHORT
 * bytes (the fixed pages: the parse errors', the 500, the 504). */
#define HTTP_PAGE_MSG_SHORT 512
#define HTTP_PAGE_MAX (HTTP_PAGE_HEAD + HTTP_PAGE_MSG_SHORT + 32)

/* A page in pieces: the head (status line to the empty line), the HTML
 * before the message, the message, the rest. An answer to HEAD sends the
 * first HTTP_PAGE_IOV_HEAD of them only (RFC 9110 §9.3.2). */
#define HTTP_PAGE_IOV 4
#define HTTP_PAGE_IOV_HEAD 1

/* An IMF-fixdate (RFC 9110 §5.6.7), "Sun, 06 Dec 2026 18:30:00 GMT". */
#define HTTP_DATE_LEN 29

/*
 * Writes the IMF-fixdate of t into out[0..HTTP_DATE_LEN) and a NUL. By
 * arithmetic only (no locale, no gmtime): safe in a signal handler.
 */
void http_date(long long t, char out[HTTP_DATE_LEN + 1]);

/*
 * Rewrites the Date line of a page built earlier (http_page) with the
 * time t, in place; nothing when it has none. Safe in a signal handler.
 */
void http_page_redate(char *page, size_t len, long long t);

/*
 * The page for status (100-999) and reason, with msg[0..msg_len) as its
 * message (msg may be NULL when msg_len is 0), as iov[0..HTTP_PAGE_IOV),
 * dated now: iov[0] and iov[1] are built in head, iov[2] points at msg,
 * iov[3] at a constant. The iovecs are valid while head and msg are.
 * Returns the page's length, or 0 when the status or the reason is not
 * one a page takes.
 */
size_t http_page_iov(struct iovec iov[HTTP_PAGE_IOV], char head[HTTP_PAGE_HEAD],
                     unsigned status, const char *reason, const char *msg,
                     size_t msg_len);

/* The same page in one piece, in buf[0..cap) (not NUL-terminated). Returns
 * its length, or 0 when it does not fit or http_page_iov() refuses it. */
size_t http_page(char *buf, size_t cap, unsigned status, const char *reason,
                 const char *msg, size_t msg_len);

#endif
