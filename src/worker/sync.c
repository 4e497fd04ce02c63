/*
 * The sync worker (-k sync): accepts one connection, reads and parses its
 * request head in C (no GIL), hands the request to the application, sends
 * "Connection: close" and closes. Beyond Gunicorn: reading the head is
 * bounded by --timeout and does not stop the heartbeat, so a slow client
 * costs its connection, never the worker.
 *
 * Signals (docs/compat.md, Worker signals): TERM finishes the current request, then
 * exits; INT and QUIT exit at once; USR1 reopens the logs; ABRT (the
 * master's timeout) answers the request in the app with a 500 when nothing
 * of its response went out, and exits with status 1.
 */
#include "worker/worker.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <unistd.h>

#include "core/access.h"
#include "core/log.h"
#include "net/allow.h"

static void tick(void *arg)
{
    cu_heartbeat((struct cu_worker_slot *)arg);
}

/* --request-timeout: SIGALRM after secs (0: none). The app's Python
 * handler for it (cunicorn._loader) raises RequestTimeout while armed. */
static void alarm_for(int secs)
{
    struct itimerval it;

    memset(&it, 0, sizeof(it));
    it.it_value.tv_sec = secs;
    cu_request_armed = secs > 0;
    if (setitimer(ITIMER_REAL, &it, NULL) < 0)
        cu_log(CU_WARNING, "--request-timeout: setitimer: %s", strerror(errno));
}

static void handle(struct cu_worker_env *env, int fd, struct sockaddr_storage *peer,
                   socklen_t peerlen, const struct cu_listener *l,
                   struct http_header *headers)
{
    struct cu_conn c;
    struct http_parser p;
    struct http_request r;
    struct cu_body body;
    int64_t rc;
    int unread = 0, proxy_done;

    if (cu_conn_init(&c, fd, 8192) < 0) {
        close(fd);
        cu_log(CU_ERROR, "out of memory for a connection");
        return;
    }
    c.peer = *peer;
    c.peerlen = peerlen;
    c.listener = l;
    c.timeout_ms = env->timeout > 0 ? env->timeout * 1000 : 3600 * 1000;
    c.tick = tick;
    c.tick_arg = env->slot;
    c.send_timeout_ms = env->send_ms;
    c.body_ms = env->body_ms;
    c.body_min_rate = env->body_min_rate;
    /* a new connection's first byte (the handshake's too) is due soon */
    c.deadline_ms = env->new_conn_ms > 0 ? cu_now_ms() + env->new_conn_ms : 0;
    /* TLS: the handshake first, bounded by --timeout as a head is */
    if (env->tls && cu_tls_accept(&c, env->tls) < 0) {
        cu_conn_close(&c);
        return;
    }
    http_parser_init(&p, env->http,
                     cu_allow_match(env->allow, (struct sockaddr *)peer, peerlen));
    http_request_init(&r, headers, env->http->limit_request_fields);
    proxy_done = env->proxy == HTTP_PROXY_OFF;
    rc = cu_head_read(env, &c, &p, &r, &proxy_done);
    if (rc < 0) {
        if (rc != HTTP_E_EOF || c.eof)
            cu_request_refused(&c, &p, (int)rc);
        cu_request_refused_access(&c, &p, &r, c.buf + c.start, (int)rc);
        if (cu_conn_send_error(&c, (int)rc) == 0 && http_error_info((int)rc)->respond)
            unread = 1;  /* the rest of what it sent is still coming */
    } else if (rc > 0) {
        struct cu_request q = {.conn = &c, .http = &r, .head_off = c.start,
                               .body = &body, .must_close = 1};
        q.started_us = cu_access_wanted() ? cu_now_us() : 0;
        /* the body follows the head; reading it keeps the head in place */
        c.start += (size_t)rc;
        c.keep = c.start;
        cu_body_init(&body, &r, env->http);
        /* the request line, for the ABRT handler */
        cu_request_line(&q, env->slot->request, sizeof(env->slot->request));
        if (env->request_timeout > 0)
            alarm_for(env->request_timeout);
        cu_worker_serving(&c);  /* a timeout's 500 goes to it */
        env->serve(env->app, &q);
        cu_worker_serving(NULL);
        if (env->request_timeout > 0)
            alarm_for(0);
        env->slot->request[0] = '\0';
        if (cu_access_wanted())
            cu_access(&q);
        /* a body the app left, or pipelined requests sync never answers */
        unread = !body.done || c.end > c.start;
    }
    if (unread)
        cu_conn_linger(&c, CU_LINGER_LIMIT, CU_LINGER_MS);
    cu_conn_close(&c);
}

/* A graceful stop: answers the connections already waiting in the
 * listeners' backlogs (never a new wait), then closes this worker's copies
 * of the listeners. */
static void drain_backlog(struct cu_worker_env *env, struct http_header *headers)
{
    long long until = cu_now_us() + (long long)env->graceful_timeout * 500000;

    for (size_t i = 0; i < env->n_listeners; i++) {
        while (cu_now_us() < until) {
            struct sockaddr_storage peer;
            socklen_t plen;
            int fd = cu_accept(&env->listeners[i], &peer, &plen);

            if (fd < 0)
                break;  /* EAGAIN: the backlog is empty */
            cu_heartbeat(env->slot);
            handle(env, fd, &peer, plen, &env->listeners[i], headers);
        }
        close(env->listeners[i].fd);
    }
}

int cu_sync_run(struct cu_worker_env *env)
{
    struct pollfd pfd[64];
    struct http_header *headers;
    size_t n = env->n_listeners < 64 ? env->n_listeners : 64;
    int served = 0;

    headers = malloc(sizeof(*headers) * env->http->limit_request_fields);
    if (!headers) {
        cu_log(CU_ERROR, "worker: out of memory");
        return 1;
    }
    for (size_t i = 0; i < n; i++) {
        pfd[i].fd = env->listeners[i].fd;
        pfd[i].events = POLLIN;
    }
    while (!cu_worker_stop) {
        int rc;

        if (getppid() != env->ppid) {
            cu_log(CU_INFO, "Parent changed, shutting down: %d", (int)getpid());
            break;
        }
        cu_heartbeat(env->slot);
        if (cu_worker_reopen) {
            cu_worker_reopen = 0;
            cu_log_reopen();
        }
        /* the heartbeat twice per --timeout at least, as Gunicorn's */
        rc = poll(pfd, (nfds_t)n,
                  env->timeout > 0 && env->timeout < 2 ? env->timeout * 500 : 1000);
        if (rc < 0 && errno != EINTR) {
            cu_log(CU_ERROR, "worker: poll: %s", strerror(errno));
            break;
        }
        for (size_t i = 0; rc > 0 && i < n && !cu_worker_stop; i++) {
            struct sockaddr_storage peer;
            socklen_t plen;
            int fd;

            if (!(pfd[i].revents & POLLIN))
                continue;
            fd = cu_accept(&env->listeners[i], &peer, &plen);
            if (fd < 0) {
                if (errno != EAGAIN)
                    cu_log(CU_ERROR, "worker: accept: %s", strerror(errno));
                continue;
            }
            handle(env, fd, &peer, plen, &env->listeners[i], headers);
            served++;
            if (env->max_requests > 0 && served >= env->max_requests)
                cu_worker_recycle(env->slot, CU_RECYCLE_MAX_REQUESTS);
        }
    }
    if (cu_worker_stop)
        drain_backlog(env, headers);
    free(headers);
    if (cu_worker_reopen)  /* a USR1 that came with the TERM */
        cu_log_reopen();
    cu_log(CU_INFO, "Worker exiting (pid: %d)", (int)getpid());
    return 0;
}
