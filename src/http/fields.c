/*
 * The fields an app gives for a response: whether one may go on the wire
 * at all, and which may not be a trailer. Shared by every bridge (WSGI's
 * HTTP/2 send_trailers, ASGI's headers and trailers).
 */
#include "http/http.h"

#include <string.h>
#include <strings.h>

int http_field_bad(const char *name, size_t nl, const char *value, size_t vl)
{
    for (size_t i = 0; i < vl; i++) {
        unsigned char ch = (unsigned char)value[i];
        if ((ch < 0x20 && ch != '\t') || ch == 0x7f)
            return 2;
    }
    for (size_t i = 0; i < nl; i++)
        if (!http_tchar[(unsigned char)name[i]])
            return 1;
    return nl == 0;
}

int http_trailer_forbidden(const char *name, size_t len)
{
    static const char *const names[] = {
        "content-length", "transfer-encoding", "host", "cache-control", "max-forwards",
        "te", "trailer", "connection", "keep-alive", "upgrade", "expect", "range",
        "if-match", "if-none-match", "if-modified-since", "if-unmodified-since", "if-range",
        "authorization", "proxy-authorization", "www-authenticate", "proxy-authenticate",
        "set-cookie", "cookie", "age", "expires", "date", "location", "retry-after", "vary",
        "warning", "content-encoding", "content-type", "content-range", "server",
        "proxy-connection"};

    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
        if (strlen(names[i]) == len && strncasecmp(name, names[i], len) == 0)
            return 1;
    return 0;
}
