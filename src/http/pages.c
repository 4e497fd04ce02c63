/*
 * Gunicorn's error page, built in one place. See pages.h.
 */
#include "pages.h"

#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

/* The HTML around the reason (twice) and the message. */
#define PAGE_TITLE "<html>\n  <head>\n    <title>"
#define PAGE_HEADING "</title>\n  </head>\n  <body>\n    <h1><p>"
#define PAGE_MESSAGE "</p></h1>\n    "
#define PAGE_END "\n  </body>\n</html>\n"

#define LEN(s) (sizeof(s) - 1)

/* The head's format, from the status line to the empty line, then the
 * HTML up to the message. */
#define PAGE_HEAD_FMT                                                          \
    "HTTP/1.1 %u %s\r\nConnection: close\r\nContent-Type: text/html\r\n"      \
    "Content-Length: %zu\r\nDate: %s\r\n\r\n"
#define PAGE_HTML_FMT PAGE_TITLE "%s" PAGE_HEADING "%s" PAGE_MESSAGE

/* The head at its longest: three status digits, the longest reason three
 * times, a Content-Length of 20 digits, the date. */
_Static_assert(LEN(PAGE_HEAD_FMT) + LEN(PAGE_HTML_FMT) - 14 + 3 +
                       3 * (size_t)HTTP_PAGE_REASON_MAX + 20 + HTTP_DATE_LEN + 2 <
                   HTTP_PAGE_HEAD,
               "HTTP_PAGE_HEAD holds any head");
_Static_assert(HTTP_PAGE_HEAD + HTTP_PAGE_MSG_SHORT + LEN(PAGE_END) <= HTTP_PAGE_MAX,
               "HTTP_PAGE_MAX holds a page with a short message");

/* s[0..n) at o: a few bytes, no terminator implied. */
static void put(char *o, const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++)
        o[i] = s[i];
}

/* n (0-99) as two digits at o. */
static void two(char *o, unsigned n)
{
    o[0] = (char)('0' + n / 10 % 10);
    o[1] = (char)('0' + n % 10);
}

void http_date(long long t, char out[HTTP_DATE_LEN + 1])
{
    static const char days[] = "ThuFriSatSunMonTueWed";  /* 1970-01-01: Thu */
    static const char months[] = "JanFebMarAprMayJunJulAugSepOctNovDec";
    long long d = t >= 0 ? t / 86400 : (t - 86399) / 86400;
    long long s = t - d * 86400, z = d + 719468, era, y;
    unsigned doe, yoe, doy, mp, day, mon, wd = (unsigned)(((d % 7) + 7) % 7);

    /* civil_from_days (H. Hinnant): days since 1970 to a Gregorian date */
    era = (z >= 0 ? z : z - 146096) / 146097;
    doe = (unsigned)(z - era * 146097);
    yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    y = (long long)yoe + era * 400;
    doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    mp = (5 * doy + 2) / 153;
    day = doy - (153 * mp + 2) / 5 + 1;
    mon = mp < 10 ? mp + 3 : mp - 9;
    y += mon <= 2;
    if (y < 0 || y > 9999)
        y = 0;
    put(out, days + (size_t)3 * wd, 3);
    put(out + 3, ", ", 2);
    two(out + 5, day);
    out[7] = ' ';
    put(out + 8, months + (size_t)3 * (mon - 1), 3);
    out[11] = ' ';
    two(out + 12, (unsigned)(y / 100));
    two(out + 14, (unsigned)(y % 100));
    out[16] = ' ';
    two(out + 17, (unsigned)(s / 3600));
    out[19] = ':';
    two(out + 20, (unsigned)(s / 60 % 60));
    out[22] = ':';
    two(out + 23, (unsigned)(s % 60));
    put(out + 25, " GMT", 5);  /* and the NUL */
}

void http_page_redate(char *page, size_t len, long long t)
{
    static const char key[] = "\r\nDate: ";
    char *at = memmem(page, len, key, LEN(key));
    char date[HTTP_DATE_LEN + 1];

    if (!at || (size_t)(at - page) + LEN(key) + HTTP_DATE_LEN > len)
        return;
    http_date(t, date);
    memcpy(at + LEN(key), date, HTTP_DATE_LEN);
}

size_t http_page_iov(struct iovec iov[HTTP_PAGE_IOV], char head[HTTP_PAGE_HEAD],
                     unsigned status, const char *reason, const char *msg,
                     size_t msg_len)
{
    size_t rlen = reason ? strnlen(reason, HTTP_PAGE_REASON_MAX + 1) : 0;
    size_t body;
    char date[HTTP_DATE_LEN + 1];
    int n, h;

    if (status < 100 || status > 999 || !reason || rlen > HTTP_PAGE_REASON_MAX ||
        msg_len > SIZE_MAX / 2 || (!msg && msg_len))
        return 0;
    body = LEN(PAGE_TITLE) + rlen + LEN(PAGE_HEADING) + rlen + LEN(PAGE_MESSAGE) +
           msg_len + LEN(PAGE_END);
    http_date((long long)time(NULL), date);
    h = snprintf(head, HTTP_PAGE_HEAD, PAGE_HEAD_FMT, status, reason, body, date);
    if (h < 0 || h >= HTTP_PAGE_HEAD)
        return 0;  /* not reached: the assertion above */
    n = snprintf(head + h, HTTP_PAGE_HEAD - (size_t)h, PAGE_HTML_FMT, reason, reason);
    if (n < 0 || n >= HTTP_PAGE_HEAD - h)
        return 0;  /* not reached either */
    iov[0].iov_base = head;
    iov[0].iov_len = (size_t)h;
    iov[1].iov_base = head + h;
    iov[1].iov_len = (size_t)n;
    iov[2].iov_base = (void *)(uintptr_t)(msg ? msg : "");
    iov[2].iov_len = msg_len;
    iov[3].iov_base = (void *)(uintptr_t)PAGE_END;
    iov[3].iov_len = LEN(PAGE_END);
    return (size_t)h + (size_t)n + msg_len + LEN(PAGE_END);
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
