/*
 * The wake-up channel (src/ev/wake.c): a signal before the wait is not
 * lost, several make one, one from another thread ends a wait with no
 * limit, and closing leaves no fd behind.
 */
#include "ev/wake.h"
#include "../lib/tap.h"

#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <time.h>
#include <unistd.h>

static void *signal_later(void *arg)
{
    (void)nanosleep(&(struct timespec){0, 50000000L}, NULL);  /* 50 ms */
    cu_wake_signal(arg);
    return NULL;
}

static int open_fds(void)
{
    int n = 0;

    for (int fd = 0; fd < 1024; fd++)
        if (fcntl(fd, F_GETFD) >= 0)
            n++;
    return n;
}

int main(void)
{
    struct cu_wake w;
    pthread_t th;
    int before = open_fds(), flags;

    (void)alarm(30);  /* a lost wake-up fails the test, not the suite */
    ok(cu_wake_open(&w) == 0 && w.fds[0] >= 0 && w.fds[1] >= 0, "open: 0, two ends");
    flags = fcntl(w.fds[0], F_GETFL);
    ok(flags >= 0 && (flags & O_NONBLOCK) && (fcntl(w.fds[0], F_GETFD) & FD_CLOEXEC),
       "non-blocking, close-on-exec");
    ok(cu_wake_wait(&w, 0) == 0, "a wait with nothing signalled: 0");
    cu_wake_signal(&w);
    ok(cu_wake_wait(&w, 0) == 1, "a signal before the wait: the wait sees it");
    ok(cu_wake_wait(&w, 0) == 0, "... and takes it: the next wait does not");
    for (int i = 0; i < 3; i++)
        cu_wake_signal(&w);
    ok(cu_wake_wait(&w, 0) == 1 && cu_wake_wait(&w, 0) == 0, "three signals make one");
    ok(pthread_create(&th, NULL, signal_later, &w) == 0 && cu_wake_wait(&w, -1) == 1,
       "a signal from another thread ends a wait with no limit");
    (void)pthread_join(th, NULL);
    cu_wake_close(&w);
    ok(w.fds[0] == -1 && w.fds[1] == -1 && open_fds() == before,
       "close: no fd left, the ends set to -1");
    cu_wake_close(&w);
    ok(open_fds() == before, "closing again does nothing");
    return tap_done();
}
