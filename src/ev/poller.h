/*
 * A tiny poller: fds armed for one readiness event each, reported to
 * whichever thread waits. Plain C, no HTTP. One backend per file, chosen
 * at build time: epoll.c (Linux) or poll.c (anything POSIX).
 *
 * Arming is one-shot: once an fd's event has been reported to a waiter,
 * the fd is disarmed until cu_poller_arm() is called again, so exactly one
 * thread owns an fd between its event and its next arming (CU_EV_KEEP
 * asks for level-triggered instead, when one thread waits). Every call is
 * safe from several threads at once.
 */
#ifndef CU_EV_POLLER_H
#define CU_EV_POLLER_H

enum {
    CU_EV_IN = 1u << 0,   /* readable, or the peer hung up */
    CU_EV_OUT = 1u << 1,  /* writable */
    /* with IN or OUT: the fd stays armed after its event (level-triggered),
     * so no re-arming is needed while its events stay the same. Safe as
     * is only for a poller that one thread waits on: with several, one
     * could get an event for an fd another is working on, or has just
     * unregistered (gthread's gate, src/worker/gate.h, sorts those out) */
    CU_EV_KEEP = 1u << 2
};

struct cu_poller;

/* A new poller, or NULL with errno. */
struct cu_poller *cu_poller_new(void);
void cu_poller_free(struct cu_poller *p);

/* Registers fd and arms it for events; data comes back with its event.
 * 0, or -1 with errno. */
int cu_poller_add(struct cu_poller *p, int fd, unsigned events, void *data);
/* Re-arms a registered fd after its event was reported. 0, or -1 (errno). */
int cu_poller_arm(struct cu_poller *p, int fd, unsigned events, void *data);
/* Unregisters fd (before closing it). 0, or -1 (errno). */
int cu_poller_del(struct cu_poller *p, int fd);

/* Waits up to timeout_ms (-1: no limit) for one armed fd to be ready.
 * 1 with *data and *events set, 0 on timeout, -1 with errno (EINTR). */
int cu_poller_wait(struct cu_poller *p, void **data, unsigned *events,
                   int timeout_ms);

/* One ready fd, as cu_poller_wait_many reports it. */
struct cu_event {
    void *data;
    unsigned events;
};

/* As cu_poller_wait, for up to max ready fds at once (one system call
 * for several events): how many are in ev, 0 on timeout, -1 with errno.
 * Each is one-shot as ever; so a waiter that takes several holds them
 * all until it has seen to each, which suits one waiting thread. */
int cu_poller_wait_many(struct cu_poller *p, struct cu_event *ev, int max, int timeout_ms);

/* "epoll" or "poll". */
const char *cu_poller_backend(void);

#endif
