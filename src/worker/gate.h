/*
 * The gthread pool's gate (src/worker/gate.c): with several pool
 * threads, one at a time waits at the poller and serves what it gets;
 * the others are spares, asleep away from the poller, and one of them
 * watches. A spare goes to the poller only when the work in flight
 * stalls: no thread at the poller, and no event served for a whole
 * period (an app waiting on I/O, or a long request). Plain C.
 *
 * Why: on one core, threads that each take an event and then queue for
 * the GIL hand it over once a request, a futex and a context switch
 * each time. While the app keeps returning, one thread serving event
 * after event is faster, and answers in arrival order; the spares are
 * there for the app that blocks.
 */
#ifndef CU_WORKER_GATE_H
#define CU_WORKER_GATE_H

#include "ev/poller.h"

struct cu_gate;

/* What the gate asks of its user, with the gate's lock held. */
struct cu_gate_ops {
    /* the poller reported data while another thread serves it (a
     * level-triggered fd is reported for as long as it is ready): take
     * it out of the poller; its holder puts it back (cu_gate_done) */
    void (*held)(void *data, void *arg);
    /* data, retired (cu_gate_retire), can be named by no event now */
    void (*release)(void *data, void *arg);
    void *arg;
};

/* A gate for n threads (numbered 0..n-1) whose watcher looks every
 * stall_ms and calls a stall when two looks in a row saw nothing served
 * (so after stall_ms to twice that), for up to batch events a wait; NULL
 * with errno. */
struct cu_gate *cu_gate_new(int n, int stall_ms, int batch, const struct cu_gate_ops *ops);
void cu_gate_free(struct cu_gate *g);

/* Thread i, for its next piece of work: 1 with *ev, an event the poller
 * gave that is this thread's to serve (2: the same, after the thread
 * slept in the gate, or at its first call, so its clock must be read
 * again); or 0 when this thread is the
 * one to wait at the poller (for up to batch events). Called first with
 * served 0, then with 1 (it served an event). */
int cu_gate_next(struct cu_gate *g, int i, int served, struct cu_event *ev);

/* Thread i back from the poller with n events (n < 0: none): drops those
 * no thread may take now (retired, or served by another thread), keeps
 * the first for the caller and the rest in the gate, in order, for it or
 * a spare should it stall; the poller is free meanwhile. How many are
 * left: 1 with ev[0] the caller's, or 0. */
int cu_gate_serve(struct cu_gate *g, int i, struct cu_event *ev, int n);

/* 1 when some thread besides the caller (which serves an event) serves
 * none: a spare, or one at the poller, that would take the poller's
 * events should the caller stall in the app; 0 when all are serving. */
int cu_gate_spare(struct cu_gate *g);

/* The thread at the poller leaves the pool for good (the poller
 * failed): the poller is free for another. */
void cu_gate_leave(struct cu_gate *g);

/* The thread serving data is done with it (it is back in the poller's
 * care): 1 when ops.held took it out of the poller meanwhile, so the
 * caller must add it again. */
int cu_gate_done(struct cu_gate *g, const void *data);

/* data's fd is about to be closed: ops.held is not called for it again. */
void cu_gate_closing(struct cu_gate *g, const void *data);

/* data is gone: ops.release frees it once no event of a wait under way
 * can name it (at once when no thread waits at the poller). */
void cu_gate_retire(struct cu_gate *g, void *data);

#endif
