/*
 * HTTP/2 in the gevent and eventlet classes (docs/compat.md, HTTP/2): a
 * connection that speaks it is handed from its greenlet to a session of
 * src/http2/ in the loop mode. The hub watches the session's socket and
 * runs its pump (never waiting); each stream's request runs in a greenlet
 * of its own through the WSGI bridge, concurrently with the others, and
 * parks on the hub where its stream's connection would wait (its body not
 * come yet, its response ahead of the client's window): the session
 * wakes it when what it waits for came. Plain C.
 */
#ifndef CU_WORKER_GREEN_H2_H
#define CU_WORKER_GREEN_H2_H

#include "http2/h2.h"
#include "worker/worker.h"

struct cu_green_h2;

/* The worker's HTTP/2 part over its hub. timeout_ms bounds every wait of
 * a stream (as a connection's); *nconns counts the sessions among the
 * worker's connections, *served the requests (max_requests). NULL
 * (logged). */
struct cu_green_h2 *cu_green_h2_new(struct cu_worker_env *env, const struct cu_hub *hub,
                                    int timeout_ms, size_t *nconns, unsigned long *served);

/* Takes c over as a session (trusted: the peer is in
 * forwarded_allow_ips; up: the request that asked for the h2c upgrade,
 * or NULL); c is left empty, counted among the connections while the
 * session lasts (the streams are not: http2_max_concurrent_streams
 * bounds them per session). */
void cu_green_h2_take(struct cu_green_h2 *g, struct cu_conn *c, int trusted,
                      const struct cu_h2_upgrade *up);

/* The sessions open. */
size_t cu_green_h2_sessions(const struct cu_green_h2 *g);

/* Idle sessions closed past their deadline; once the worker stops, each
 * says GOAWAY and closes when its streams are done. With evict (the
 * worker is at --worker-connections and a connection waits), the session
 * idle longest is closed too, if one is idle. */
void cu_green_h2_tick(struct cu_green_h2 *g, int evict);

/* The streams' greenlets (for the graceful stop's kill): how many, and
 * their handles into out (room for cu_green_h2_count()). */
size_t cu_green_h2_count(const struct cu_green_h2 *g);
size_t cu_green_h2_greenlets(const struct cu_green_h2 *g, void **out);

#endif
