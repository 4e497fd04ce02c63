/*
 * PROXY protocol (v1 text and v2 binary) at the start of a connection,
 * as HAProxy's specification describes it and Gunicorn 26.1 accepts it.
 *
 * Pure parsing: whether the peer may send a PROXY header at all
 * (proxy_allow_ips, answered with 403) is the caller's decision, taken
 * after http_proxy_sniff() says one is there.
 */
#ifndef CU_HTTP_PROXY_H
#define CU_HTTP_PROXY_H

#include "http.h"

enum http_proxy_mode {
    HTTP_PROXY_OFF = 0,
    HTTP_PROXY_V1,
    HTTP_PROXY_V2,
    HTTP_PROXY_AUTO
};

#define HTTP_PROXY_V1_MAX 107     /* longest v1 line, CRLF included */
#define HTTP_PROXY_ADDR_MAX 46    /* INET6_ADDRSTRLEN */

struct http_proxy {
    uint8_t version;    /* 1 or 2 */
    uint8_t has_addr;   /* the addresses and ports below are set */
    char protocol[8];   /* "TCP4", "TCP6", "LOCAL" or "UNSPEC" */
    char src_addr[HTTP_PROXY_ADDR_MAX];
    char dst_addr[HTTP_PROXY_ADDR_MAX];
    uint16_t src_port;
    uint16_t dst_port;
    struct http_error_at err;   /* after an error: what it was about, for
                                 * http_error_text() */
};

/*
 * Looks at the first bytes of a connection. Returns 1 (a v1 header starts
 * here), 2 (a v2 header), 0 (no PROXY header: parse a request), or
 * HTTP_AGAIN when too few bytes have arrived to tell.
 */
int http_proxy_sniff(const char *buf, size_t len, enum http_proxy_mode mode);

/*
 * Parses the PROXY header at buf[0..len). Returns the number of bytes it
 * takes (> 0) with *out filled, 0 when there is none, HTTP_AGAIN, or
 * HTTP_E_PROXY_LINE (v1) / HTTP_E_PROXY_HEADER (v2). Unless it returns a
 * length, *out is zeroed, but for out->err after an error.
 */
int64_t http_proxy_parse(const char *buf, size_t len,
                         enum http_proxy_mode mode, struct http_proxy *out);

#endif
