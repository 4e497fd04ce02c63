/*
 * What the master and its workers agree on, and nothing else: the shared
 * heartbeat slot, the reasons a worker may ask to be replaced, the exit
 * codes that tell the master a worker could not start. Plain C; a worker
 * needs this header, not master/arbiter.h.
 *
 * Heartbeat: a shared anonymous mapping holds one slot per worker; a worker
 * calls cu_heartbeat() when it is alive. A worker silent for longer than
 * timeout seconds gets SIGABRT, and SIGKILL on a later tick if still there.
 */
#ifndef CU_MASTER_CONTRACT_H
#define CU_MASTER_CONTRACT_H

#include <stdint.h>

#include "core/clock.h"

#define CU_MAX_WORKERS 1024

struct cu_worker_slot {
    volatile int64_t beat_ms;   /* CLOCK_MONOTONIC ms of the last heartbeat */
    volatile int32_t booted;    /* set by the worker once its app is loaded */
    char request[256];          /* the request line in progress, or "" */
    volatile int32_t recycle;   /* set by the worker: replace me (a
                                 * CU_RECYCLE_* reason); it keeps serving
                                 * until the replacement is up */
};

enum {
    CU_RECYCLE_NONE = 0,
    CU_RECYCLE_MAX_REQUESTS,    /* --max-requests (+ jitter) served */
    CU_RECYCLE_LIFETIME,        /* --max-worker-lifetime passed */
    CU_RECYCLE_MEMORY,          /* --max-worker-memory exceeded */
    CU_RECYCLE_STUCK            /* a request thread that will not return */
};

/* A worker's exit status when it could not start. Before any worker ever
 * booted, either stops the master with that status; during a reload it
 * calls the reload off; later, respawns back off. */
#define CU_EXIT_WORKER_BOOT 3   /* the worker failed to boot */
#define CU_EXIT_APP_LOAD 4      /* the app failed to load */

/* For workers: record liveness (cheap: one clock read, one store). */
static inline void cu_heartbeat(struct cu_worker_slot *slot)
{
    __atomic_store_n(&slot->beat_ms, cu_now_ms(), __ATOMIC_RELAXED);
}

#endif
