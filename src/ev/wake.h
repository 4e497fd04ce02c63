/*
 * A wake-up channel: a thread sleeps on it for up to a while
 * (cu_wake_wait), and any thread ends that sleep (cu_wake_signal), also
 * one signalled before the sleep began: no wake-up is lost, and several
 * make one. An eventfd where there is one (one fd), else a non-blocking
 * pipe. Plain C; the gthread pool's spares (worker/gate.c) and a
 * one-thread worker's main thread (worker/gthread.c) sleep on one.
 */
#ifndef CU_EV_WAKE_H
#define CU_EV_WAKE_H

struct cu_wake {
    int fds[2];  /* read and write ends: the same eventfd, or a pipe */
};

/* 0, or -1 with errno (fds are -1 then). */
int cu_wake_open(struct cu_wake *w);
/* Closes what cu_wake_open opened; fds of -1 are left alone. */
void cu_wake_close(struct cu_wake *w);
/* Ends the sleeper's wait, or its next one. Async-signal-safe. */
void cu_wake_signal(const struct cu_wake *w);
/* Sleeps until signalled or ms pass (-1: no limit): 1 when signalled
 * (the signals are taken), 0 otherwise (a timeout, a signal handler). */
int cu_wake_wait(const struct cu_wake *w, int ms);

#endif
