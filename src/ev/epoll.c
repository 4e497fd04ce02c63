/*
 * The poller on Linux's epoll: EPOLLONESHOT gives the one-shot arming
 * for free (CU_EV_KEEP leaves it out: level-triggered), and epoll_wait()
 * from several threads hands each event to one of them. See poller.h.
 */
#include "ev/poller.h"

#include <errno.h>
#include <stdlib.h>
#include <stdint.h>
#include <sys/epoll.h>
#include <unistd.h>

struct cu_poller {
    int fd;
};

struct cu_poller *cu_poller_new(void)
{
    struct cu_poller *p = malloc(sizeof(*p));

    if (!p)
        return NULL;
    p->fd = epoll_create1(EPOLL_CLOEXEC);
    if (p->fd < 0) {
        int err = errno;
        free(p);
        errno = err;
        return NULL;
    }
    return p;
}

void cu_poller_free(struct cu_poller *p)
{
    if (!p)
        return;
    close(p->fd);
    free(p);
}

static int ctl(struct cu_poller *p, int op, int fd, unsigned events, void *data)
{
    struct epoll_event ev;

    ev.events = events & CU_EV_KEEP ? 0 : EPOLLONESHOT;
    /* the peer's half-close only matters to a reader: a writer waiting
     * for a client that shut its side and does not read would be woken
     * again and again (EPOLLERR and EPOLLHUP still come unasked) */
    if (events & CU_EV_IN)
        ev.events |= EPOLLIN | EPOLLRDHUP;
    if (events & CU_EV_OUT)
        ev.events |= EPOLLOUT;
    ev.data.ptr = data;
    return epoll_ctl(p->fd, op, fd, &ev);
}

int cu_poller_add(struct cu_poller *p, int fd, unsigned events, void *data)
{
    return ctl(p, EPOLL_CTL_ADD, fd, events, data);
}

int cu_poller_arm(struct cu_poller *p, int fd, unsigned events, void *data)
{
    return ctl(p, EPOLL_CTL_MOD, fd, events, data);
}

int cu_poller_del(struct cu_poller *p, int fd)
{
    struct epoll_event ev = {0, {0}};

    return epoll_ctl(p->fd, EPOLL_CTL_DEL, fd, &ev);
}

static unsigned events_of(uint32_t e)
{
    unsigned events = 0;

    /* a hang-up or an error is reported as readable: the read says which */
    if (e & (EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR))
        events |= CU_EV_IN;
    if (e & EPOLLOUT)
        events |= CU_EV_OUT;
    return events;
}

int cu_poller_wait(struct cu_poller *p, void **data, unsigned *events,
                   int timeout_ms)
{
    struct epoll_event ev;
    int n = epoll_wait(p->fd, &ev, 1, timeout_ms);

    if (n <= 0)
        return n;
    *data = ev.data.ptr;
    *events = events_of(ev.events);
    return 1;
}

int cu_poller_wait_many(struct cu_poller *p, struct cu_event *ev, int max, int timeout_ms)
{
    struct epoll_event got[64];
    int n = epoll_wait(p->fd, got, max < 64 ? max : 64, timeout_ms);

    for (int i = 0; i < n; i++) {
        ev[i].data = got[i].data.ptr;
        ev[i].events = events_of(got[i].events);
    }
    return n;
}

const char *cu_poller_backend(void)
{
    return "epoll";
}
