/*
 * The poller on poll(2), for systems without epoll. A table of registered
 * fds under a mutex; one thread at a time polls a snapshot of the armed
 * ones (the others queue on `waiting`), and a self-pipe wakes it when the
 * table changes. One-shot arming is done here: a reported fd is disarmed
 * before the event is handed out. See poller.h.
 */
#include "ev/poller.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

struct reg {
    int fd;
    unsigned events;  /* armed for these; 0: disarmed */
    void *data;
};

struct cu_poller {
    pthread_mutex_t lock;     /* guards regs, n, cap */
    pthread_mutex_t waiting;  /* held by the one thread inside poll() */
    struct reg *regs;
    size_t n, cap;
    int wake[2];              /* written when the table changes */
    struct pollfd *pfd;       /* the waiter's snapshot */
    size_t pcap;
};

struct cu_poller *cu_poller_new(void)
{
    struct cu_poller *p = calloc(1, sizeof(*p));

    if (!p)
        return NULL;
    if (pipe(p->wake) < 0) {
        free(p);
        return NULL;
    }
    for (int i = 0; i < 2; i++)
        if (fcntl(p->wake[i], F_SETFD, FD_CLOEXEC) < 0 ||
            fcntl(p->wake[i], F_SETFL, O_NONBLOCK) < 0) {
            int err = errno;
            close(p->wake[0]);
            close(p->wake[1]);
            free(p);
            errno = err;
            return NULL;
        }
    pthread_mutex_init(&p->lock, NULL);
    pthread_mutex_init(&p->waiting, NULL);
    return p;
}

void cu_poller_free(struct cu_poller *p)
{
    if (!p)
        return;
    close(p->wake[0]);
    close(p->wake[1]);
    pthread_mutex_destroy(&p->lock);
    pthread_mutex_destroy(&p->waiting);
    free(p->regs);
    free(p->pfd);
    free(p);
}

static struct reg *find(struct cu_poller *p, int fd)
{
    for (size_t i = 0; i < p->n; i++)
        if (p->regs[i].fd == fd)
            return &p->regs[i];
    return NULL;
}

static void wake(struct cu_poller *p)
{
    (void)!write(p->wake[1], "", 1);  /* full pipe: a wake-up is pending */
}

/* After a change made under the lock: the waiters are woken to see it, or,
 * when the fd was not registered, ENOENT. */
static int changed(struct cu_poller *p, int found)
{
    if (!found) {
        errno = ENOENT;
        return -1;
    }
    wake(p);
    return 0;
}

int cu_poller_add(struct cu_poller *p, int fd, unsigned events, void *data)
{
    int rc = 0;

    pthread_mutex_lock(&p->lock);
    if (find(p, fd)) {
        errno = EEXIST;
        rc = -1;
    } else if (p->n == p->cap) {
        size_t cap = p->cap ? p->cap * 2 : 64;
        struct reg *r = realloc(p->regs, cap * sizeof(*r));
        if (!r)
            rc = -1;
        else {
            p->regs = r;
            p->cap = cap;
        }
    }
    if (rc == 0) {
        p->regs[p->n].fd = fd;
        p->regs[p->n].events = events;
        p->regs[p->n].data = data;
        p->n++;
    }
    pthread_mutex_unlock(&p->lock);
    if (rc == 0)
        wake(p);
    return rc;
}

int cu_poller_arm(struct cu_poller *p, int fd, unsigned events, void *data)
{
    struct reg *r;

    pthread_mutex_lock(&p->lock);
    r = find(p, fd);
    if (r) {
        r->events = events;
        r->data = data;
    }
    pthread_mutex_unlock(&p->lock);
    return changed(p, r != NULL);
}

int cu_poller_del(struct cu_poller *p, int fd)
{
    struct reg *r;

    pthread_mutex_lock(&p->lock);
    r = find(p, fd);
    if (r)
        *r = p->regs[--p->n];
    pthread_mutex_unlock(&p->lock);
    return changed(p, r != NULL);
}

static short poll_events(unsigned ev)
{
    return (short)(((ev & CU_EV_IN) ? POLLIN : 0) | ((ev & CU_EV_OUT) ? POLLOUT : 0));
}

/* Copies the armed fds into the waiter's snapshot, the wake pipe first.
 * Called with lock held. -1 when out of memory. */
static int snapshot(struct cu_poller *p, size_t *n)
{
    size_t k = 1;

    if (p->pcap < p->n + 1) {
        struct pollfd *q = realloc(p->pfd, (p->n + 1) * sizeof(*q));
        if (!q)
            return -1;
        p->pfd = q;
        p->pcap = p->n + 1;
    }
    p->pfd[0].fd = p->wake[0];
    p->pfd[0].events = POLLIN;
    for (size_t i = 0; i < p->n; i++)
        if (p->regs[i].events) {
            p->pfd[k].fd = p->regs[i].fd;
            p->pfd[k++].events = poll_events(p->regs[i].events);
        }
    *n = k;
    return 0;
}

/* Takes up to max ready fds of the snapshot that are still armed, and
 * disarms them (but CU_EV_KEEP's). Called with lock held. How many. */
static int take(struct cu_poller *p, size_t n, struct cu_event *ev, int max)
{
    int k = 0;

    for (size_t i = 1; i < n && k < max; i++) {
        struct reg *r;
        short re = p->pfd[i].revents;

        if (!re || !(r = find(p, p->pfd[i].fd)) || !r->events)
            continue;
        ev[k].events = 0;
        if (re & (POLLIN | POLLHUP | POLLERR | POLLNVAL))
            ev[k].events |= CU_EV_IN;
        if (re & POLLOUT)
            ev[k].events |= CU_EV_OUT;
        ev[k].events &= r->events | CU_EV_IN;
        ev[k++].data = r->data;
        if (!(r->events & CU_EV_KEEP))
            r->events = 0;
    }
    return k;
}

int cu_poller_wait_many(struct cu_poller *p, struct cu_event *ev, int max, int timeout_ms)
{
    int rc;

    pthread_mutex_lock(&p->waiting);
    for (;;) {
        size_t n;
        char drain[64];

        pthread_mutex_lock(&p->lock);
        rc = snapshot(p, &n);
        pthread_mutex_unlock(&p->lock);
        if (rc < 0)
            break;
        rc = poll(p->pfd, (nfds_t)n, timeout_ms);
        if (rc <= 0)
            break;
        if (p->pfd[0].revents)
            while (read(p->wake[0], drain, sizeof(drain)) > 0)
                ;
        pthread_mutex_lock(&p->lock);
        rc = take(p, n, ev, max);
        pthread_mutex_unlock(&p->lock);
        if (rc)
            break;
        /* only the table changed: poll again (the timeout restarts; a
         * caller's deadline is its own to keep) */
    }
    pthread_mutex_unlock(&p->waiting);
    return rc;
}

int cu_poller_wait(struct cu_poller *p, void **data, unsigned *events,
                   int timeout_ms)
{
    struct cu_event ev;
    int rc = cu_poller_wait_many(p, &ev, 1, timeout_ms);

    if (rc == 1) {
        *data = ev.data;
        *events = ev.events;
    }
    return rc;
}

const char *cu_poller_backend(void)
{
    return "poll";
}
