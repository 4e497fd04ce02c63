/*
 * Requests that run too long, watched from a worker's main thread. Each
 * place a request runs on (a pool thread) has a struct cu_running: the
 * thread marks a request's start and end; the watcher, once a tick, logs a
 * request past --timeout once (its request line, then its Python stack
 * through env->dump_signal) and takes --request-timeout's stages: (1) log
 * it and have RequestTimeout raised in the app (env->interrupt); (2) a
 * second later, if it still runs, take its connection away (a 504 when
 * nothing was sent yet, else a close); (3) if the thread is still held
 * after another request_timeout, have the worker replaced. Plain C.
 */
#ifndef CU_WORKER_RUNNING_H
#define CU_WORKER_RUNNING_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>

#include "worker/worker.h"

struct cu_running {
    pthread_t tid;               /* the thread the request runs on */
    atomic_llong since_ms;       /* in the app since; 0: not */
    atomic_ulong seq;            /* requests begun */
    char request[256];           /* the request line being served */
    /* --request-timeout: the connection in the app, for the watcher to
     * take away; mu keeps it from being freed while that happens */
    pthread_mutex_t mu;
    struct cu_conn *conn;
    uint64_t wrote_before;       /* its bytes written when the request began */
    /* the watcher's own */
    unsigned long reported;      /* seq last reported past --timeout */
    unsigned long timed_out;     /* seq the stages below are for */
    int stage;
};

/* Before the thread runs (tid is set by the caller). */
void cu_running_init(struct cu_running *r);
/* In the thread, around the app's part of request q, which begins at
 * now_ms (cu_now_ms, maybe read a moment before). */
void cu_running_begin(struct cu_running *r, const struct cu_worker_env *env,
                      const struct cu_request *q, int64_t now_ms);
void cu_running_end(struct cu_running *r, const struct cu_worker_env *env);
/* In the watcher, once a tick, over the n places. */
void cu_running_watch(struct cu_running *r, int n, const struct cu_worker_env *env,
                      int timeout_ms, int64_t now_ms);

#endif
