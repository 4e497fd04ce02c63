/*
 * What every worker class shares: the listeners, the HTTP settings, the
 * signals a worker reacts to, and the hand-off of a parsed request to the
 * application layer. Plain C: the application layer is a callback, which
 * takes the GIL itself.
 */
#ifndef CU_WORKER_WORKER_H
#define CU_WORKER_WORKER_H

#include "http/parser.h"
#include "http/proxy.h"
#include "master/arbiter.h"
#include "net/listen.h"
#include "worker/body.h"
#include "worker/conn.h"

/* What the application layer reports about one response. */
struct cu_served {
    int status;        /* the status sent, 0 if none */
    uint64_t bytes;    /* body bytes sent */
    int close;         /* the connection must close now */
};

struct cu_worker_env {
    struct cu_listener *listeners;
    size_t n_listeners;
    const struct http_config *http;
    enum http_proxy_mode proxy;
    int timeout;            /* --timeout: also bounds a slow client's head */
    int graceful_timeout;
    int max_requests;       /* 0: never recycle */
    const char *const *allow;  /* forwarded_allow_ips: trusted peers */
    size_t n_allow;
    const char *const *proxy_allow;  /* proxy_allow_ips */
    size_t n_proxy_allow;
    /* Serves one request; called without the GIL. 0 or -1 (close). */
    int (*serve)(void *app, struct cu_conn *c, const struct http_request *r,
                 const char *head, struct cu_body *b, int must_close,
                 struct cu_served *out);
    void *app;
    struct cu_worker_slot *slot;
    pid_t ppid;             /* the master: a worker whose parent changes exits */
};

/* Installs the worker's signal handlers (TERM, INT, QUIT, USR1, ABRT);
 * before the app is loaded. 0 or -1 (logged). */
int cu_worker_signals(struct cu_worker_slot *slot);

/* The sync worker: one request at a time, Connection: close after each.
 * Returns the worker's exit status. */
int cu_sync_run(struct cu_worker_env *env);

#endif
