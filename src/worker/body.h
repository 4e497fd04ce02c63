/*
 * A request body, read from the connection as the application asks for it
 * (never buffered whole): Content-Length or chunked. Plain C.
 *
 * cu_body_peek() gives the body bytes already in the connection's buffer,
 * cu_body_consume() takes some, cu_body_wait() blocks for more (call it
 * without the GIL). Chunked data is decoded in place, in the buffer.
 */
#ifndef CU_WORKER_BODY_H
#define CU_WORKER_BODY_H

#include "http/chunked.h"
#include "worker/conn.h"
#include "worker/spool.h"

struct cu_body {
    uint8_t kind;          /* enum http_body */
    uint8_t done;          /* every body byte has been handed out */
    int error;             /* the HTTP_E_* that ended the body, or 0 */
    uint64_t left;         /* Content-Length bytes not yet handed out */
    size_t dpos, dend;     /* chunked: decoded bytes waiting in c->buf */
    size_t max_buffer;     /* how far the connection buffer may grow */
    struct http_chunked chunked;
    uint64_t limit;        /* limit_request_body (0: none), for chunked */
    uint64_t total;        /* chunked: decoded bytes so far */
    /* Set once the whole body was read into a spool (gthread): then the
     * reads come from there, not from the connection. */
    struct cu_spool *spool;
    long long t0;          /* the first wait for it (cu_now_ms), or 0 */
    uint64_t got;          /* bytes read off the socket since */
};

void cu_body_init(struct cu_body *b, const struct http_request *r,
                  const struct http_config *cfg);
/* A head whose Content-Length is over limit_request_body:
 * HTTP_E_BODY_TOO_LARGE, else 0. (A chunked body's total is checked as
 * it is read: cu_body_peek reports it.) */
int cu_body_over_limit(const struct http_request *r, const struct http_config *cfg);

/* Body bytes available without I/O: n > 0 with *p set, 0 at the end of the
 * body, HTTP_AGAIN when cu_body_wait() must run, or an HTTP_E_* error
 * (sticky in b->error; HTTP_E_EOF when the peer closed before the end of a
 * Content-Length body, which is never delivered short). */
int64_t cu_body_peek(struct cu_body *b, struct cu_conn *c, const char **p);
void cu_body_consume(struct cu_body *b, struct cu_conn *c, size_t n);
/* Reads more from the peer (bounded by its timeout, and by
 * cu_body_deadline: ETIMEDOUT). 0, or -1 with errno;
 * EOF is not an error here: the next peek reports it. */
int cu_body_wait(struct cu_body *b, struct cu_conn *c);
/* The body's deadline (docs/operations.md, Facing the internet without
 * a proxy): c->body_ms from the first call, plus a second per
 * c->body_min_rate bytes counted in b->got since (cu_body_wait counts
 * them; a worker that reads the body itself adds what it read). 0: none. */
long long cu_body_deadline(struct cu_body *b, const struct cu_conn *c);
/* Reads and drops the rest of the body, up to limit bytes. 0 when the body
 * ended, -1 when it did not (error, EOF, or too long): then close. */
int cu_body_drain(struct cu_body *b, struct cu_conn *c, uint64_t limit);

#endif
