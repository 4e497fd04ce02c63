/*
 * Tests of the poller (src/ev/), built once per backend: one-shot arming,
 * re-arming, removal, timeouts, hang-ups, several threads waiting at
 * once with each event going to exactly one of them, level-triggered
 * fds (CU_EV_KEEP) and several events per wait.
 */
#include "ev/poller.h"
#include "../lib/tap.h"

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <string.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

static int pair(int sv[2])
{
    return socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, sv);
}

/* A connected TCP pair on 127.0.0.1 (sv[0] the accepted side, both
 * non-blocking): where a client's half-close is EPOLLRDHUP. 0 or -1. */
static int tcp_pair(int sv[2])
{
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof(a);
    int l = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0), rc = -1;

    sv[0] = sv[1] = -1;
    if (l >= 0 && bind(l, (struct sockaddr *)&a, sizeof(a)) == 0 && listen(l, 1) == 0 &&
        getsockname(l, (struct sockaddr *)&a, &len) == 0 &&
        (sv[1] = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0)) >= 0 &&
        connect(sv[1], (struct sockaddr *)&a, sizeof(a)) == 0 &&
        (sv[0] = accept4(l, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC)) >= 0)
        rc = 0;
    if (l >= 0)
        close(l);
    return rc;
}

static void test_one_shot(void)
{
    struct cu_poller *p = cu_poller_new();
    int sv[2], tag = 7;
    void *data = NULL;
    unsigned ev = 0;

    ok(p != NULL, "%s: a poller", cu_poller_backend());
    if (!p || pair(sv) < 0)
        return;
    ok(cu_poller_add(p, sv[0], CU_EV_IN, &tag) == 0, "add");
    ok(cu_poller_wait(p, &data, &ev, 50) == 0, "nothing to read: a timeout");
    ok(write(sv[1], "x", 1) == 1, "the peer writes");
    ok(cu_poller_wait(p, &data, &ev, 1000) == 1 && data == &tag && (ev & CU_EV_IN),
       "readable, with its data");
    ok(cu_poller_wait(p, &data, &ev, 50) == 0,
       "still readable, but disarmed: not reported again");
    ok(cu_poller_arm(p, sv[0], CU_EV_IN, &tag) == 0, "re-arm");
    ok(cu_poller_wait(p, &data, &ev, 1000) == 1 && data == &tag,
       "reported again once re-armed");
    ok(cu_poller_arm(p, sv[0], CU_EV_OUT, &tag) == 0 &&
       cu_poller_wait(p, &data, &ev, 1000) == 1 && (ev & CU_EV_OUT),
       "armed for writing: writable");
    ok(cu_poller_arm(p, sv[0], CU_EV_IN, &tag) == 0 && cu_poller_del(p, sv[0]) == 0,
       "del");
    ok(cu_poller_wait(p, &data, &ev, 50) == 0, "a removed fd is not reported");
    ok(cu_poller_del(p, sv[0]) < 0 && errno == ENOENT, "del twice: ENOENT");
    ok(cu_poller_arm(p, sv[0], CU_EV_IN, &tag) < 0 && errno == ENOENT,
       "arm after del: ENOENT");
    /* a hang-up is reported as readable */
    ok(cu_poller_add(p, sv[0], CU_EV_IN, &tag) == 0, "add again");
    {
        char c;
        ok(read(sv[0], &c, 1) == 1, "drain the byte");
    }
    ok(cu_poller_arm(p, sv[0], CU_EV_IN, &tag) == 0, "arm");
    ok(cu_poller_wait(p, &data, &ev, 50) == 0, "nothing to read now");
    close(sv[1]);
    ok(cu_poller_wait(p, &data, &ev, 1000) == 1 && (ev & CU_EV_IN),
       "the peer's close wakes a reader");
    /* shutdown of our own end wakes the poller: how timers expire */
    {
        int sv2[2], tag2 = 9;
        ok(pair(sv2) == 0 && cu_poller_add(p, sv2[0], CU_EV_IN, &tag2) == 0,
           "a second pair");
        ok(cu_poller_wait(p, &data, &ev, 50) == 0, "idle");
        shutdown(sv2[0], SHUT_RDWR);
        ok(cu_poller_wait(p, &data, &ev, 1000) == 1 && data == &tag2,
           "shutdown of our own end wakes the poller");
        close(sv2[0]);
        close(sv2[1]);
    }
    close(sv[0]);
    cu_poller_free(p);
}

/* ---- several waiters ------------------------------------------------------ */

#define N_FDS 64
#define N_THREADS 4
#define ROUNDS 50

struct shared {
    struct cu_poller *p;
    int fds[N_FDS][2];
    atomic_int seen[N_FDS];
    atomic_int total, dup;
    atomic_int in_hand[N_FDS];
};

static void *waiter(void *arg)
{
    struct shared *sh = arg;

    while (atomic_load(&sh->total) < N_FDS * ROUNDS) {
        void *data;
        unsigned ev;
        int i;
        char c;

        if (cu_poller_wait(sh->p, &data, &ev, 100) != 1)
            continue;
        i = *(int *)data;
        if (atomic_fetch_add(&sh->in_hand[i], 1) != 0)
            atomic_fetch_add(&sh->dup, 1);  /* two owners at once */
        while (read(sh->fds[i][0], &c, 1) == 1) {
            atomic_fetch_add(&sh->seen[i], 1);
            atomic_fetch_add(&sh->total, 1);
        }
        atomic_fetch_sub(&sh->in_hand[i], 1);
        cu_poller_arm(sh->p, sh->fds[i][0], CU_EV_IN, data);
    }
    return NULL;
}

static void test_threads(void)
{
    static struct shared sh;
    static int idx[N_FDS];
    pthread_t t[N_THREADS];
    int all = 1;

    memset(&sh, 0, sizeof(sh));
    sh.p = cu_poller_new();
    for (int i = 0; i < N_FDS; i++) {
        idx[i] = i;
        if (pair(sh.fds[i]) < 0 || cu_poller_add(sh.p, sh.fds[i][0], CU_EV_IN, &idx[i]) < 0)
            all = 0;
    }
    ok(all, "%d fds registered", N_FDS);
    for (int i = 0; i < N_THREADS; i++)
        pthread_create(&t[i], NULL, waiter, &sh);
    for (int r = 0; r < ROUNDS; r++)
        for (int i = 0; i < N_FDS; i++)
            if (write(sh.fds[i][1], "y", 1) != 1)
                all = 0;
    for (int i = 0; i < N_THREADS; i++)
        pthread_join(t[i], NULL);
    ok(all && atomic_load(&sh.total) == N_FDS * ROUNDS,
       "%d threads read all %d bytes", N_THREADS, N_FDS * ROUNDS);
    ok(atomic_load(&sh.dup) == 0, "no fd was owned by two threads at once");
    for (int i = 0; i < N_FDS; i++) {
        close(sh.fds[i][0]);
        close(sh.fds[i][1]);
    }
    cu_poller_free(sh.p);
}

/* ---- level-triggered (CU_EV_KEEP) and several events per wait ------------- */

static void test_keep_and_many(void)
{
    struct cu_poller *p = cu_poller_new();
    int a[2], b[2], ta = 1, tb = 2;
    struct cu_event ev[4];
    void *data = NULL;
    unsigned e = 0;
    char c;

    if (!p || pair(a) < 0 || pair(b) < 0) {
        ok(0, "a poller and two pairs");
        return;
    }
    ok(cu_poller_add(p, a[0], CU_EV_IN | CU_EV_KEEP, &ta) == 0, "add, kept armed");
    ok(cu_poller_wait(p, &data, &e, 50) == 0, "kept: nothing to read, a timeout");
    ok(write(a[1], "x", 1) == 1, "the peer writes");
    ok(cu_poller_wait(p, &data, &e, 1000) == 1 && data == &ta && (e & CU_EV_IN),
       "kept: readable");
    ok(cu_poller_wait(p, &data, &e, 1000) == 1 && data == &ta,
       "kept: reported again without re-arming while still readable");
    ok(read(a[0], &c, 1) == 1 && cu_poller_wait(p, &data, &e, 50) == 0,
       "kept: drained, not reported");
    ok(write(a[1], "y", 1) == 1 && cu_poller_wait(p, &data, &e, 1000) == 1 && data == &ta,
       "kept: the next byte is reported, still without re-arming");
    ok(read(a[0], &c, 1) == 1, "drain");
    ok(cu_poller_arm(p, a[0], CU_EV_OUT | CU_EV_KEEP, &ta) == 0 &&
       cu_poller_wait(p, &data, &e, 1000) == 1 && (e & CU_EV_OUT),
       "kept, re-armed for writing: writable");
    ok(cu_poller_arm(p, a[0], CU_EV_IN | CU_EV_KEEP, &ta) == 0, "back to reading");

    /* several at once: each ready fd once, one-shot ones disarmed */
    ok(cu_poller_add(p, b[0], CU_EV_IN, &tb) == 0, "a one-shot fd beside it");
    ok(write(a[1], "x", 1) == 1 && write(b[1], "x", 1) == 1, "both peers write");
    {
        int n = cu_poller_wait_many(p, ev, 4, 1000), seen_a = 0, seen_b = 0;
        for (int i = 0; i < n; i++) {
            seen_a += ev[i].data == &ta && (ev[i].events & CU_EV_IN);
            seen_b += ev[i].data == &tb && (ev[i].events & CU_EV_IN);
        }
        ok(n == 2 && seen_a == 1 && seen_b == 1, "wait_many: both, once each (%d)", n);
    }
    ok(cu_poller_wait_many(p, ev, 4, 1000) == 1 && ev[0].data == &ta,
       "wait_many: the kept one again, the one-shot one disarmed");
    ok(cu_poller_wait_many(p, ev, 1, 1000) == 1 && ev[0].data == &ta,
       "wait_many: at most max");
    ok(read(a[0], &c, 1) == 1 && cu_poller_wait_many(p, ev, 4, 50) == 0,
       "wait_many: nothing ready, a timeout");
    cu_poller_free(p);
    close(a[0]);
    close(a[1]);
    close(b[0]);
    close(b[1]);
}

/* A writer waiting for a peer that shut its side and reads nothing is not
 * woken (the half-close is a reader's news); the peer's reading is. */
static void test_half_closed_peer_and_a_writer(void)
{
    struct cu_poller *p = cu_poller_new();
    int sv[2] = {-1, -1}, tag = 0;
    void *data;
    unsigned ev;
    char buf[65536] = {0};

    ok(p != NULL && tcp_pair(sv) == 0, "a poller and a TCP pair");
    while (send(sv[0], buf, sizeof(buf), MSG_DONTWAIT) > 0)
        ;  /* full: the peer reads nothing */
    ok(shutdown(sv[1], SHUT_WR) == 0, "the peer shuts its side");
    ok(cu_poller_add(p, sv[0], CU_EV_OUT | CU_EV_KEEP, &tag) == 0, "armed for writing");
    ok(cu_poller_wait(p, &data, &ev, 50) == 0, "the half-close wakes no writer");
    while (recv(sv[1], buf, sizeof(buf), MSG_DONTWAIT) > 0)
        ;
    ok(cu_poller_wait(p, &data, &ev, 1000) == 1 && (ev & CU_EV_OUT),
       "the peer's reading does");
    ok(cu_poller_arm(p, sv[0], CU_EV_IN, &tag) == 0 &&
       cu_poller_wait(p, &data, &ev, 1000) == 1 && (ev & CU_EV_IN),
       "a reader hears the half-close");
    close(sv[0]);
    close(sv[1]);
    cu_poller_free(p);
}

int main(void)
{
    test_half_closed_peer_and_a_writer();
    test_one_shot();
    test_threads();
    test_keep_and_many();
    return tap_done();
}
