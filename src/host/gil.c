/*
 * The GIL for a pool's requests, in the order they asked for it
 * (docs/architecture.md, Threads and the GIL).
 *
 * CPython's GIL is not fair between threads on one core: a thread that
 * drops it and wakes a waiter keeps the CPU, so it usually takes the GIL
 * again for its next request before the waiter has run, and the waiter
 * waits out the switch interval (5 ms). Here a pool thread that wants the
 * GIL for a request first takes its turn in a FIFO queue: one thread at a
 * time goes on to PyEval_RestoreThread, and it passes the turn on once it
 * holds the GIL. The others wait on their own condition variable without
 * the GIL, so the thread that just dropped it, asking again, waits behind
 * them and gives up the CPU. Only the taking is ordered: a request that
 * drops the GIL inside the app (I/O) lets the next in line run, as before.
 * Nothing that waits here holds the GIL, and the thread whose turn it is
 * waits only for the GIL, so the queue adds no wait that was not there.
 */
#include "host/host.h"

#include <pthread.h>

struct gil_waiter {
    pthread_cond_t cv;
    int go;
    struct gil_waiter *next;
};

static struct {
    pthread_mutex_t m;
    struct gil_waiter *head, *tail;
    int turn_taken;  /* a thread is on its way to the GIL */
    int on;
} q = {.m = PTHREAD_MUTEX_INITIALIZER};

static _Thread_local struct gil_waiter self;
static _Thread_local int self_ready;

void host_gil_fifo(int on)
{
    q.on = on;
}

/* Waits for this thread's turn, with q.m held. 0, or -1 when the thread
 * has no condition variable (then it goes without a turn). */
static int wait_turn(void)
{
    if (!self_ready) {
        if (pthread_cond_init(&self.cv, NULL) != 0)
            return -1;
        self_ready = 1;
    }
    self.go = 0;
    self.next = NULL;
    if (q.tail)
        q.tail->next = &self;
    else
        q.head = &self;
    q.tail = &self;
    while (!self.go)
        (void)pthread_cond_wait(&self.cv, &q.m);
    return 0;
}

/* Holding the GIL: the turn goes to the first in line, or is free. */
static void pass_turn(void)
{
    struct gil_waiter *w;

    (void)pthread_mutex_lock(&q.m);
    w = q.head;
    if (w) {
        q.head = w->next;
        if (!q.head)
            q.tail = NULL;
        w->go = 1;
        (void)pthread_cond_signal(&w->cv);
    } else {
        q.turn_taken = 0;
    }
    (void)pthread_mutex_unlock(&q.m);
}

void host_gil_take(PyThreadState *ts)
{
    int queued = 0;

    if (!q.on) {
        PyEval_RestoreThread(ts);
        return;
    }
    (void)pthread_mutex_lock(&q.m);
    if (!q.turn_taken)
        q.turn_taken = queued = 1;
    else
        queued = wait_turn() == 0;  /* the turn passed to us, still taken */
    (void)pthread_mutex_unlock(&q.m);
    PyEval_RestoreThread(ts);
    if (queued)
        pass_turn();
}
