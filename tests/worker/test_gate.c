/*
 * The gthread pool's gate (src/worker/gate.c), with real threads and a
 * stand-in poller (a queue of jobs): never more than one thread at the
 * poller; a job that blocks does not stop the others, however many
 * block, while a thread is left, nor the jobs the poller gave with it;
 * an event for what another thread serves is dropped and handed to
 * ops.held, and the holder is told; what is retired during a wait is
 * freed only once that wait's events are sifted; the pool shrinks back to one thread at
 * the poller when they are released; an idle gate sleeps instead of
 * looking every stall_ms.
 */
#include "worker/gate.h"
#include "../lib/tap.h"

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#define THREADS 4
#define STALL_MS 1
#define BATCH 4
#define RING 8192

enum { FAST = 1, BLOCK = 2 };

static struct {
    pthread_mutex_t m;
    pthread_cond_t more, released, moved;
    int jobs[RING];
    size_t head, tail;
    int release;          /* BLOCK jobs may return */
    int done_fast, blocked;
} q = {PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, PTHREAD_COND_INITIALIZER,
       PTHREAD_COND_INITIALIZER, {0}, 0, 0, 0, 0, 0};

static struct cu_gate *gate;
static atomic_int at_poller, most_at_poller;

static void push(int job, int n)
{
    pthread_mutex_lock(&q.m);
    while (n-- > 0)
        q.jobs[q.tail++ % RING] = job;
    pthread_cond_broadcast(&q.more);
    pthread_mutex_unlock(&q.m);
}

/* The stand-in poller: up to max jobs, waiting for one. */
static int take(struct cu_event *ev, int max)
{
    int n = 0;

    pthread_mutex_lock(&q.m);
    while (q.head == q.tail)
        pthread_cond_wait(&q.more, &q.m);
    while (n < max && q.head != q.tail)  /* each job's own slot: an fd */
        ev[n++].data = &q.jobs[q.head++ % RING];
    pthread_mutex_unlock(&q.m);
    return n;
}

static void run(int job)
{
    pthread_mutex_lock(&q.m);
    if (job == BLOCK) {
        q.blocked++;
        pthread_cond_broadcast(&q.moved);
        while (!q.release)
            pthread_cond_wait(&q.released, &q.m);
        q.blocked--;
    } else {
        q.done_fast++;
    }
    pthread_cond_broadcast(&q.moved);
    pthread_mutex_unlock(&q.m);
}

static void *pool(void *arg)
{
    int me = (int)(long)arg, served = 0;
    struct cu_event ev[BATCH];

    for (;;) {
        int n, now;

        if (cu_gate_next(gate, me, served, &ev[0])) {
            run(*(int *)ev[0].data);
            served = 1;
            continue;
        }
        now = atomic_fetch_add(&at_poller, 1) + 1;
        if (now > atomic_load(&most_at_poller))
            atomic_store(&most_at_poller, now);
        n = take(ev, BATCH);
        atomic_fetch_sub(&at_poller, 1);
        if (cu_gate_serve(gate, me, ev, n) > 0)
            run(*(int *)ev[0].data);
        served = 1;
    }
    return NULL;
}

/* Waits up to 10 s for the queue's state to pass check; 1 if it did. */
static int wait_until(int (*check)(void))
{
    struct timespec until;
    int ok_ = 1;

    clock_gettime(CLOCK_REALTIME, &until);
    until.tv_sec += 10;
    pthread_mutex_lock(&q.m);
    while (!check() && ok_)
        ok_ = pthread_cond_timedwait(&q.moved, &q.m, &until) == 0 || check();
    pthread_mutex_unlock(&q.m);
    return ok_;
}

static int want_fast;
static int fast_done(void) { return q.done_fast >= want_fast; }
static int want_blocked;
static int blocked_n(void) { return q.blocked == want_blocked; }

static void release(void)
{
    pthread_mutex_lock(&q.m);
    q.release = 1;
    pthread_cond_broadcast(&q.released);
    pthread_mutex_unlock(&q.m);
    want_blocked = 0;
}

static const void *was_held, *released[4];
static int nreleased;

static void on_held(void *data, void *arg)
{
    (void)arg;
    was_held = data;
}

static void on_release(void *data, void *arg)
{
    (void)arg;
    released[nreleased++ % 4] = data;
}

static const struct cu_gate_ops ops = {.held = on_held, .release = on_release};

/* The calls two threads would make, made in turn from this one: what is
 * held, retired, and sifted out of a wait's events. */
static void sifting(void)
{
    int a, b, c, d, e, f, x, y, z;
    struct cu_gate *g = cu_gate_new(2, STALL_MS, BATCH, &ops);
    struct cu_event ev[BATCH];

    if (!g)
        bail("cu_gate_new: %s", strerror(errno));
    ok(cu_gate_next(g, 0, 0, ev) == 0, "thread 0 goes to the poller");
    ev[0].data = &a;
    ev[1].data = &b;
    ok(cu_gate_serve(g, 0, ev, 2) == 1 && ev[0].data == &a, "it serves the first event");
    /* 2: thread 1 reads its clock, never read before (gthread.c) */
    ok(cu_gate_next(g, 1, 0, ev) == 2 && ev[0].data == &b, "thread 1 takes the second, "
       "at its first call as after a sleep");
    ok(cu_gate_done(g, &a) == 0, "thread 0 is done with its own");
    ok(cu_gate_next(g, 0, 1, ev) == 0, "and goes back to the poller");
    ev[0].data = &b;  /* still ready, and thread 1 still serves it */
    ev[1].data = &c;
    ok(cu_gate_serve(g, 0, ev, 2) == 1 && ev[0].data == &c && was_held == &b,
       "an event for what thread 1 serves is dropped and held off");
    ok(cu_gate_done(g, &b) == 1, "thread 1 is told, to put it back");
    ok(cu_gate_done(g, &b) == 0, "once");
    ok(cu_gate_next(g, 0, 1, ev) == 0, "thread 0 waits again");
    cu_gate_retire(g, &d);  /* thread 1 closes d during the wait */
    ok(nreleased == 0, "what is retired during a wait is not freed yet");
    ev[0].data = &d;
    ev[1].data = &e;
    ok(cu_gate_serve(g, 0, ev, 2) == 1 && ev[0].data == &e, "its event is dropped");
    ok(nreleased == 1 && released[0] == &d, "and then it is freed");
    cu_gate_retire(g, &f);
    ok(nreleased == 2 && released[1] == &f, "retired with no wait under way: freed at once");

    /* thread 1 closes what it holds while its event comes again: no
     * ops.held then, which would take a closed (maybe reused) fd out */
    ok(cu_gate_done(g, &e) == 0 && cu_gate_next(g, 0, 1, ev) == 0, "thread 0 waits");
    ev[0].data = &x;
    ev[1].data = &y;
    ok(cu_gate_serve(g, 0, ev, 2) == 1 && ev[0].data == &x, "it serves x");
    ok(cu_gate_next(g, 1, 1, ev) == 1 && ev[0].data == &y, "thread 1 takes y");
    cu_gate_closing(g, &y);
    was_held = NULL;
    ok(cu_gate_done(g, &x) == 0 && cu_gate_next(g, 0, 1, ev) == 0, "thread 0 waits again");
    ev[0].data = &y;
    ev[1].data = &z;
    ok(cu_gate_serve(g, 0, ev, 2) == 1 && ev[0].data == &z && was_held == NULL,
       "an event for what is being closed is dropped, and not held off");
    cu_gate_retire(g, &y);
    ok(nreleased == 3 && released[2] == &y, "then it is freed");
    cu_gate_free(g);
}

static long switches(void)
{
    struct rusage ru;

    (void)getrusage(RUSAGE_SELF, &ru);
    return ru.ru_nvcsw;
}

int main(void)
{
    pthread_t t;
    long before;

    sifting();
    nreleased = 0;
    gate = cu_gate_new(THREADS, STALL_MS, BATCH, &ops);
    if (!gate)
        bail("cu_gate_new: %s", strerror(errno));
    for (long i = 0; i < THREADS; i++)
        if (pthread_create(&t, NULL, pool, (void *)i) != 0 || pthread_detach(t) != 0)
            bail("pthread_create");

    want_fast = 3000;
    push(FAST, 3000);
    ok(wait_until(fast_done), "3000 quick jobs are all served");
    ok(atomic_load(&most_at_poller) == 1, "one thread at the poller at a time (most: %d)",
       atomic_load(&most_at_poller));

    /* one job blocks: a spare takes the poller and serves the rest */
    push(BLOCK, 1);
    want_blocked = 1;
    ok(wait_until(blocked_n), "a job blocks");
    want_fast += 10;
    push(FAST, 10);
    ok(wait_until(fast_done), "quick jobs are served while it blocks");
    /* as many blocked as there are threads but one: still served */
    push(BLOCK, THREADS - 2);
    want_blocked = THREADS - 1;
    ok(wait_until(blocked_n), "%d jobs block at once", THREADS - 1);
    want_fast += 10;
    push(FAST, 10);
    ok(wait_until(fast_done), "the last free thread serves the rest");
    ok(atomic_load(&most_at_poller) == 1, "still one at the poller at a time");

    release();
    ok(wait_until(blocked_n), "the blocked jobs return");

    /* the same, all at once: each thread that blocks hands the poller on */
    pthread_mutex_lock(&q.m);
    q.release = 0;
    pthread_mutex_unlock(&q.m);
    push(BLOCK, THREADS - 1);
    want_fast += 10;
    push(FAST, 10);
    ok(wait_until(fast_done), "%d jobs blocking in a row do not stop the quick ones behind",
       THREADS - 1);
    release();
    ok(wait_until(blocked_n), "the blocked jobs return");
    want_fast += 3000;
    push(FAST, 3000);
    ok(wait_until(fast_done), "and quick jobs go on being served");
    ok(atomic_load(&most_at_poller) == 1, "by one thread at the poller at a time");

    /* idle: the watcher sleeps, it does not look every STALL_MS */
    usleep(50 * 1000);
    before = switches();
    usleep(300 * 1000);
    ok(switches() - before < 30, "an idle gate sleeps (%ld wake-ups in 300 ms)",
       switches() - before);
    return tap_done();
}
