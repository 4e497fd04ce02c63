/* The wake-up channel (wake.h). */
#include "ev/wake.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdint.h>
#include <unistd.h>
#ifdef __linux__
#include <sys/eventfd.h>
#endif

int cu_wake_open(struct cu_wake *w)
{
#ifdef __linux__
    w->fds[0] = w->fds[1] = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    return w->fds[0] < 0 ? -1 : 0;
#else
    if (pipe2(w->fds, O_NONBLOCK | O_CLOEXEC) == 0)
        return 0;
    w->fds[0] = w->fds[1] = -1;
    return -1;
#endif
}

void cu_wake_close(struct cu_wake *w)
{
    if (w->fds[0] >= 0)
        (void)close(w->fds[0]);
    if (w->fds[1] >= 0 && w->fds[1] != w->fds[0])
        (void)close(w->fds[1]);
    w->fds[0] = w->fds[1] = -1;
}

void cu_wake_signal(const struct cu_wake *w)
{
    uint64_t one = 1;  /* an eventfd takes 8 bytes; a pipe any */

    /* EAGAIN: full, a wake-up is pending anyway */
    while (write(w->fds[1], &one, sizeof(one)) < 0 && errno == EINTR)
        ;
}

int cu_wake_wait(const struct cu_wake *w, int ms)
{
    struct pollfd p = {.fd = w->fds[0], .events = POLLIN};
    char sink[64];

    if (poll(&p, 1, ms) <= 0)
        return 0;
    while (read(w->fds[0], sink, sizeof(sink)) > 0)
        ;
    return 1;
}
