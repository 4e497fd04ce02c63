/*
 * What the tests of src/worker/conn.c share (test_conn.c: the read side
 * and the connection's life; test_conn_write.c: writes, sendfile, the
 * queue, abort): socket pairs, a byte pattern that shows a byte lost,
 * doubled or moved, a reader thread, a tick counter. Helpers never report
 * a TAP point; they stop the test ("Bail out!") when the set-up fails.
 */
#ifndef CU_TESTS_WORKER_CONNTEST_H
#define CU_TESTS_WORKER_CONNTEST_H

#include <pthread.h>
#include <stddef.h>
#include <stdint.h>

#include "worker/conn.h"
#include "../lib/fds.h"

#define SLACK_MS 2000          /* how late a bounded wait may end (a busy machine) */
#define AT_ONCE_MS 250         /* "returns at once" */
#define PAT_LEN (8u << 20)
#define FSIZE (1u << 20)       /* the temp file: PAT[0..FSIZE) */
/* an error page for abort */
#define PAGE "HTTP/1.1 504 Gateway Timeout\r\nConnection: close\r\nContent-Length: 0\r\n\r\n"
#define PAGE_LEN (sizeof(PAGE) - 1)

extern char *PAT;              /* PAT[i] is a function of i, not periodic */

/* A thread that reads want bytes (or up to EOF), step bytes at a time. */
struct reader {
    pthread_t t;
    int fd;
    size_t want, step, got;
    char *buf;
    int end;        /* 0, or the errno that stopped it */
};

/* Counts its calls; the first one sends "late" to fd if fd >= 0. */
struct ticker {
    int n;
    int fd;
};

void die(const char *what);

void make_pattern(void);

/* The connection's end and the peer's, both non-blocking. */
void unix_pair(int *conn, int *peer);

void set_blocking(int fd, int on);

void tcp_pair(int *conn, int *peer);

/* The peer resets the connection (SO_LINGER 0), and the reset arrives. */
void tcp_reset(int conn, int peer);

/* What fd has to read right now (AF_UNIX: everything sent), up to max. */
size_t avail(int fd, char *buf, size_t max);

/* Reads fd until EOF, within ms. Returns the bytes read; *end is 0 at
 * EOF, else the errno that stopped it (ETIMEDOUT, ENOBUFS past max). */
size_t read_until(int fd, char *buf, size_t max, int ms, int *end);

/* Sends 'F' bytes until the socket takes no more; returns how many. */
size_t fill_socket(int fd);

int all_f(const char *p, size_t n);

/* The poller's part: flush whenever the socket is writable, while the
 * peer reads everything, until the queue is empty or flush fails. Returns
 * flush's last answer; what the peer read is appended to buf. */
int flush_out(struct cu_conn *c, int peer, char *buf, size_t max, size_t *got);

int temp_file(void);

void reader_start(struct reader *r, int fd, size_t want, size_t step);

void reader_join(struct reader *r);

void on_tick(void *arg);

/* cu_conn_init() with waits of at most 2 s: a wrong answer from the code
 * under test fails a check instead of stalling the run for 30 s. */
void conn_init(struct cu_conn *c, int fd, size_t cap);

/* A connection that queues (queue_max, whole), on a socket already full;
 * returns how many bytes filled it. */
size_t queueing(struct cu_conn *c, int *peer, size_t queue_max);

#endif
