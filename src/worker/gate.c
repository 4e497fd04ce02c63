/*
 * The gthread pool's gate (gate.h): one thread at the poller, spares
 * asleep until what is in flight stalls.
 *
 * A thread back from the poller with events serves them (cu_gate_serve),
 * and the poller stays free meanwhile: nobody else is sent there. When
 * it has served them it goes back to the poller itself (cu_gate_next),
 * unless another thread is there; then it becomes a spare. So while the
 * app keeps returning, one thread does everything, in arrival order,
 * with no hand-over of the GIL between requests.
 *
 * One spare is the watcher. With work in flight and nobody at the poller
 * it looks every stall_ms; when two looks in a row see no event served,
 * the thread serving is stuck (in the app's I/O, or a long request), and
 * the watcher goes to the poller itself, waking another spare to watch
 * in its place. With nothing in flight the watcher sleeps until a thread
 * comes back from the poller with events. When the stuck thread is done,
 * it finds the poller taken and becomes a spare again.
 *
 * Spares sleep in poll(2) on a wake-up channel of their own (ev/wake.h,
 * an eventfd): a signal wakes exactly that thread, and a thread asleep
 * here is told apart from one waiting for the GIL (a futex) or for
 * events (the poller).
 *
 * The fds stay armed between events (level-triggered: no epoll_ctl per
 * request), so once a spare has joined, the poller may report an fd that
 * another thread is still serving, or one it closed while the wait was
 * under way. The gate knows what each thread holds: an event for held
 * data is dropped and the fd taken out of the poller (ops.held) until
 * its holder is done (cu_gate_done says so, and the holder adds it
 * again); data retired during a wait stays in limbo until that wait's
 * events are sifted, then is freed (ops.release).
 */
#include "worker/gate.h"

#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <stdint.h>
#include <stdlib.h>
#include <unistd.h>

#include "ev/wake.h"

struct spare {
    struct cu_wake wake;    /* what it sleeps on (one fd per pool thread,
                             * beside --worker-connections' sockets) */
    int listed;             /* in the gate's list of sleepers */
    struct spare *next;
    void *holding;          /* the data of the event it serves, or NULL */
    int evicted;            /* ... which ops.held took out of the poller */
};

struct cu_gate {
    pthread_mutex_t m;      /* guards all below */
    int polling;            /* a thread is at the poller */
    int busy;               /* threads serving events */
    unsigned long served;   /* rounds of events served, ever */
    int stall_ms;
    struct spare *sleepers; /* spares asleep (not the watcher) */
    struct spare *watcher;  /* the spare that watches, or NULL */
    int summoned;           /* sleepers woken to watch, not yet up */
    int watcher_idle;       /* ... asleep until work is in flight */
    struct cu_event *pend;  /* the poller's events not yet taken */
    int npend, pend_at, batch;
    struct cu_gate_ops ops;
    void **limbo;           /* retired while a wait was under way */
    int nlimbo, limbo_cap;
    int n;
    struct spare t[];       /* one per thread */
};

struct cu_gate *cu_gate_new(int n, int stall_ms, int batch, const struct cu_gate_ops *ops)
{
    struct cu_gate *g = calloc(1, sizeof(*g) + (size_t)n * sizeof(g->t[0]));
    int i;

    if (!g)
        return NULL;
    g->ops = *ops;
    g->batch = batch;
    if (pthread_mutex_init(&g->m, NULL) != 0) {
        free(g);
        errno = ENOMEM;
        return NULL;
    }
    if (!(g->pend = calloc((size_t)batch, sizeof(*g->pend)))) {
        (void)pthread_mutex_destroy(&g->m);
        free(g);
        return NULL;
    }
    g->n = n;
    g->stall_ms = stall_ms;
    for (i = 0; i < n; i++) {
        if (cu_wake_open(&g->t[i].wake) < 0) {
            int e = errno;
            g->n = i;
            cu_gate_free(g);
            errno = e;
            return NULL;
        }
    }
    return g;
}

void cu_gate_free(struct cu_gate *g)
{
    if (!g)
        return;
    for (int i = 0; i < g->n; i++)
        cu_wake_close(&g->t[i].wake);
    (void)pthread_mutex_destroy(&g->m);
    for (int i = 0; i < g->nlimbo; i++)
        g->ops.release(g->limbo[i], g->ops.arg);
    free(g->limbo);
    free(g->pend);
    free(g);
}

/* With g->m held: lets it go, sleeps until woken or ms pass (-1: no
 * limit), and takes it again. */
static void doze(struct cu_gate *g, struct spare *s, int ms)
{
    (void)pthread_mutex_unlock(&g->m);
    (void)cu_wake_wait(&s->wake, ms);
    (void)pthread_mutex_lock(&g->m);
}

/* With g->m held: work a free thread could take now, an event the
 * poller gave or the poller itself. */
static int open_work(const struct cu_gate *g)
{
    return g->npend > 0 || !g->polling;
}

/*
 * The watcher looks softly: as SCHED_BATCH (Linux), the end of its timed
 * doze does not take the core from the thread serving (no wake-up
 * preemption), so on a core that thread keeps busy, a look waits for the
 * end of its time slice, or for it to block, which is what a stall is.
 * At SCHED_OTHER every look was a context switch each way, a millisecond
 * apart: about 0.2 µs a request of hello world on one core, 4 threads. Its weight is
 * SCHED_OTHER's, so it holds g->m at no lower priority than the others.
 * Only from SCHED_OTHER, and back to it to serve; a thread the user runs
 * at another policy keeps it. The policy is the kernel's, read each time
 * (sched_getscheduler(0): this thread's, on Linux), not glibc's copy in
 * pthread_getschedparam, which a change from outside (chrt -a -p on the
 * worker) or by the app's own os.sched_setscheduler does not update: with
 * it a thread put at SCHED_IDLE went BATCH, then OTHER, and served so.
 * 1 if this thread now looks softly.
 */
static int look_softly(void)
{
#ifdef SCHED_BATCH
    struct sched_param p = {0};

    return sched_getscheduler(0) == SCHED_OTHER && sched_setscheduler(0, SCHED_BATCH, &p) == 0;
#else
    return 0;
#endif
}

/* Back to SCHED_OTHER, unless the thread's policy was changed meanwhile
 * (the user's, kept). A failure leaves SCHED_BATCH: slower looks, no harm. */
static void look_sharply(int softly)
{
#ifdef SCHED_BATCH
    struct sched_param p = {0};

    if (softly && sched_getscheduler(0) == SCHED_BATCH)
        (void)sched_setscheduler(0, SCHED_OTHER, &p);
#else
    (void)softly;
#endif
}

/* The watcher's round, with g->m held: returns when this thread should
 * take work, open and stalled (or open with nobody serving). */
static void watch(struct cu_gate *g, struct spare *me)
{
    unsigned long seen = 0;
    int looked = 0, softly = look_softly();

    for (;;) {
        int open = open_work(g);

        if (open && (g->busy == 0 || (looked && g->served == seen))) {
            look_sharply(softly);
            return;
        }
        looked = open;
        seen = g->served;
        g->watcher_idle = !open;
        doze(g, me, open ? g->stall_ms : -1);
        g->watcher_idle = 0;
    }
}

/* With g->m held: wakes a sleeper to watch, unless there is a watcher,
 * one is on its way, or nobody sleeps. */
static void summon(struct cu_gate *g)
{
    struct spare *s = g->sleepers;

    if (g->watcher || g->summoned || !s)
        return;
    g->sleepers = s->next;
    s->listed = 0;
    g->summoned++;
    cu_wake_signal(&s->wake);
}

/* With g->m held: me sleeps as a spare until a watcher is wanted. */
static void sleep_spare(struct cu_gate *g, struct spare *me)
{
    me->listed = 1;
    me->next = g->sleepers;
    g->sleepers = me;
    while (me->listed)
        doze(g, me, -1);
    g->summoned--;
}

int cu_gate_next(struct cu_gate *g, int i, int served, struct cu_event *ev)
{
    struct spare *me = &g->t[i];
    /* a first call, as one that slept: the thread's clock, never read
     * yet, is not that of its last event (a thread that started late
     * takes an event pending since the poller's wait) */
    int got = 0, slept = !served;

    (void)pthread_mutex_lock(&g->m);
    if (served) {
        g->busy--;
        g->served++;
    }
    me->holding = NULL;  /* a listener's, or one handed on */
    me->evicted = 0;
    for (;;) {
        if (g->npend > 0) {
            *ev = g->pend[g->pend_at++];
            g->npend--;
            g->busy++;
            me->holding = ev->data;
            got = 1;
            break;
        }
        if (!g->polling) {
            g->polling = 1;
            break;
        }
        slept = 1;
        if (g->watcher) {
            sleep_spare(g, me);
            continue;
        }
        g->watcher = me;
        watch(g, me);
        g->watcher = NULL;
    }
    /* this thread may have been the watcher, or the one summoned to be:
     * another watches in its place, while there are sleepers */
    summon(g);
    (void)pthread_mutex_unlock(&g->m);
    return got ? got + slept : 0;
}

/* With g->m held: the thread other than me serving data, or NULL. */
static struct spare *holder(struct cu_gate *g, const struct spare *me, const void *data)
{
    for (int j = 0; j < g->n; j++)
        if (&g->t[j] != me && g->t[j].holding == data)
            return &g->t[j];
    return NULL;
}

static int in_limbo(const struct cu_gate *g, const void *data)
{
    for (int k = 0; k < g->nlimbo; k++)
        if (g->limbo[k] == data)
            return 1;
    return 0;
}

/* With g->m held: drops from ev what no thread may take -- data retired
 * during the wait, or served by another thread right now (level-triggered
 * fds are reported while ready: ops.held takes it out of the poller until
 * its holder is done) -- then frees what was retired. How many are left. */
static int sift(struct cu_gate *g, const struct spare *me, struct cu_event *ev, int n)
{
    int kept = 0;

    for (int k = 0; k < n; k++) {
        struct spare *h;

        if (in_limbo(g, ev[k].data))
            continue;
        if ((h = holder(g, me, ev[k].data))) {
            if (!h->evicted) {
                h->evicted = 1;
                g->ops.held(ev[k].data, g->ops.arg);
            }
            continue;
        }
        ev[kept++] = ev[k];
    }
    for (int k = 0; k < g->nlimbo; k++)
        g->ops.release(g->limbo[k], g->ops.arg);
    g->nlimbo = 0;
    return kept;
}

/* With g->m held: the poller is free, work open: someone must watch. */
static void free_poller(struct cu_gate *g)
{
    summon(g);
    if (g->watcher && g->watcher_idle) {
        g->watcher_idle = 0;
        cu_wake_signal(&g->watcher->wake);
    }
}

int cu_gate_serve(struct cu_gate *g, int i, struct cu_event *ev, int n)
{
    struct spare *me = &g->t[i];

    (void)pthread_mutex_lock(&g->m);
    n = sift(g, me, ev, n < 0 ? 0 : n);
    g->polling = 0;
    g->busy++;
    /* the first is the caller's; nothing else is pending while a thread
     * is at the poller, which it took with none left */
    me->holding = n > 0 ? ev[0].data : NULL;
    if (n > g->batch + 1)
        n = g->batch + 1;
    for (int k = 1; k < n; k++)
        g->pend[k - 1] = ev[k];
    g->npend = n > 1 ? n - 1 : 0;
    g->pend_at = 0;
    if (n > 0)  /* else the caller goes straight back to the poller */
        free_poller(g);
    (void)pthread_mutex_unlock(&g->m);
    return n > 0;
}

int cu_gate_spare(struct cu_gate *g)
{
    int spare;

    (void)pthread_mutex_lock(&g->m);
    spare = g->busy < g->n;
    (void)pthread_mutex_unlock(&g->m);
    return spare;
}

void cu_gate_leave(struct cu_gate *g)
{
    (void)pthread_mutex_lock(&g->m);
    g->polling = 0;
    free_poller(g);
    (void)pthread_mutex_unlock(&g->m);
}

/* With g->m held: whoever holds data holds it no longer; 1 if ops.held
 * took it out of the poller meanwhile. */
static int let_go(struct cu_gate *g, const void *data)
{
    for (int j = 0; j < g->n; j++) {
        if (g->t[j].holding == data) {
            int evicted = g->t[j].evicted;
            g->t[j].holding = NULL;
            g->t[j].evicted = 0;
            return evicted;
        }
    }
    return 0;
}

int cu_gate_done(struct cu_gate *g, const void *data)
{
    int evicted;

    (void)pthread_mutex_lock(&g->m);
    evicted = let_go(g, data);
    (void)pthread_mutex_unlock(&g->m);
    return evicted;
}

void cu_gate_closing(struct cu_gate *g, const void *data)
{
    (void)pthread_mutex_lock(&g->m);
    for (int j = 0; j < g->n; j++)
        if (g->t[j].holding == data)
            g->t[j].evicted = 1;  /* ops.held is not called again for it */
    (void)pthread_mutex_unlock(&g->m);
}

/* With g->m held: room for one more in limbo; 0, or -1 (no memory). */
static int limbo_room(struct cu_gate *g)
{
    void **p;
    int cap;

    if (g->nlimbo < g->limbo_cap)
        return 0;
    cap = g->limbo_cap ? 2 * g->limbo_cap : 16;
    p = realloc(g->limbo, (size_t)cap * sizeof(*p));
    if (!p)
        return -1;
    g->limbo = p;
    g->limbo_cap = cap;
    return 0;
}

void cu_gate_retire(struct cu_gate *g, void *data)
{
    (void)pthread_mutex_lock(&g->m);
    (void)let_go(g, data);
    if (!g->polling)
        /* no wait under way, and none of the gate's events names it:
         * its holder took the only one */
        g->ops.release(data, g->ops.arg);
    else if (limbo_room(g) == 0)
        g->limbo[g->nlimbo++] = data;
    /* else kept, never freed: a leak, not a use after free */
    (void)pthread_mutex_unlock(&g->m);
}
