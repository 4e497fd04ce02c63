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

/* A gate for n threads (numbered 0..n-1) that calls a stall after
 * stall_ms with nothing served, for up to batch events a wait; NULL with
 * errno. */
struct cu_gate *cu_gate_new(int n, int stall_ms, int batch);
void cu_gate_free(struct cu_gate *g);

/* Thread i, for its next piece of work: 1 with *ev, an event the poller
 * gave that is this thread's to serve; or 0 when this thread is the one
 * to wait at the poller (for up to batch events). Called first with
 * served 0, then with 1 (it served an event). */
int cu_gate_next(struct cu_gate *g, int i, int served, struct cu_event *ev);

/* The poller's thread, back with n events: ev[0] is its own to serve,
 * the rest wait in the gate for it (or for a spare, should it stall),
 * in order; the poller is free meanwhile. */
void cu_gate_serve(struct cu_gate *g, const struct cu_event *ev, int n);

#endif
