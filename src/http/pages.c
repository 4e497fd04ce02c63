/*
 * Gunicorn's error page, built in one place. See pages.h.
 */
#include "pages.h"

#include <stdint.h>
#include <stdio.h>
#include <string.h>

/* The HTML around the reason (twice) and the message. */
#define PAGE_TITLE "<html>\n  <head>\n    <title>"
#define PAGE_HEADING "</title>\n  </head>\n  <body>\n    <h1><p>"
#define PAGE_MESSAGE "</p></h1>\n    "
#define PAGE_END "\n  </body>\n</html>\n"

#define LEN(s) (sizeof(s) - 1)

/* The head's format, from the status line to the message. */
#define PAGE_HEAD_FMT                                                          \
    "HTTP/1.1 %u %s\r\nConnection: close\r\nContent-Type: text/html\r\n"      \
    "Content-Length: %zu\r\n\r\n" PAGE_TITLE "%s" PAGE_HEADING "%s" PAGE_MESSAGE

/* The head at its longest: three status digits, the longest reason three
 * times, a Content-Length of 20 digits. */
_Static_assert(LEN(PAGE_HEAD_FMT) - 11 + 3 + 3 * (size_t)HTTP_PAGE_REASON_MAX + 20 <
                   HTTP_PAGE_HEAD,
               "HTTP_PAGE_HEAD holds any head");
_Static_assert(HTTP_PAGE_HEAD + HTTP_PAGE_MSG_SHORT + LEN(PAGE_END) <= HTTP_PAGE_MAX,
               "HTTP_PAGE_MAX holds a page with a short message");

size_t http_page_iov(struct iovec iov[HTTP_PAGE_IOV], char head[HTTP_PAGE_HEAD],
                     unsigned status, const char *reason, const char *msg,
                     size_t msg_len)
{
    size_t rlen = reason ? strnlen(reason, HTTP_PAGE_REASON_MAX + 1) : 0;
    size_t body;
    int n;

    if (status < 100 || status > 999 || !reason || rlen > HTTP_PAGE_REASON_MAX ||
        msg_len > SIZE_MAX / 2 || (!msg && msg_len))
        return 0;
    body = LEN(PAGE_TITLE) + rlen + LEN(PAGE_HEADING) + rlen + LEN(PAGE_MESSAGE) +
           msg_len + LEN(PAGE_END);
    n = snprintf(head, HTTP_PAGE_HEAD, PAGE_HEAD_FMT, status, reason, body, reason,
                 reason);
    if (n < 0 || n >= HTTP_PAGE_HEAD)
        return 0;  /* not reached: the assertion above */
    iov[0].iov_base = head;
    iov[0].iov_len = (size_t)n;
    iov[1].iov_base = (void *)(uintptr_t)(msg ? msg : "");
    iov[1].iov_len = msg_len;
    iov[2].iov_base = (void *)(uintptr_t)PAGE_END;
    iov[2].iov_len = LEN(PAGE_END);
    return (size_t)n + msg_len + LEN(PAGE_END);
}

size_t http_page(char *buf, size_t cap, unsigned status, const char *reason,
                 const char *msg, size_t msg_len)
{
    char head[HTTP_PAGE_HEAD];
    struct iovec iov[HTTP_PAGE_IOV];
    size_t len = http_page_iov(iov, head, status, reason, msg, msg_len), off = 0;

    if (len == 0 || len > cap)
        return 0;
    for (int i = 0; i < HTTP_PAGE_IOV; i++) {
        memcpy(buf + off, iov[i].iov_base, iov[i].iov_len);
        off += iov[i].iov_len;
    }
    return len;
}
