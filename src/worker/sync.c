/*
 * The sync worker (-k sync): accepts one connection, reads and parses its
 * request head in C (no GIL), hands the request to the application, sends
 * "Connection: close" and closes. Beyond Gunicorn: reading the head is
 * bounded by --timeout and does not stop the heartbeat, so a slow client
 * costs its connection, never the worker.
 *
 * Signals (shared reference §3): TERM finishes the current request, then
 * exits; INT and QUIT exit at once; USR1 reopens the logs; ABRT (the
 * master's timeout) exits with status 1.
 */
#include "worker/worker.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include "core/log.h"
#include "net/allow.h"

static volatile sig_atomic_t stopping, reopen;

static void on_term(int sig)
{
    (void)sig;
    stopping = 1;
}

static void on_quit(int sig)
{
    (void)sig;
    _exit(0);
}

static void on_usr1(int sig)
{
    (void)sig;
    reopen = 1;
}

/* The worker's own slot, for the ABRT handler to say what was running. */
static struct cu_worker_slot *my_slot;

static void on_abrt(int sig)
{
    /* faulthandler (enabled after us, so it runs first and then re-raises
     * to us) has written the Python stack of every thread; this says which
     * request it was. Signal-safe calls only. */
    static const char pre[] = "Worker aborted by the master's timeout while serving: ";
    const char *req = my_slot && my_slot->request[0] ? my_slot->request : "(no request)";
    int fd = cu_log_error_fd();

    (void)sig;
    if (write(fd, pre, sizeof(pre) - 1) > 0 && write(fd, req, strlen(req)) > 0)
        (void)!write(fd, "\n", 1);
    _exit(1);
}

static int install(int sig, void (*fn)(int))
{
    struct sigaction sa;

    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = fn;
    sigemptyset(&sa.sa_mask);
    return sigaction(sig, &sa, NULL);
}

static long long now_us(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

static void tick(void *arg)
{
    cu_heartbeat((struct cu_worker_slot *)arg);
}

/* Reads the PROXY header (first request only) and the head. Returns the
 * head length, 0 for a clean EOF before any byte, or an HTTP_E_* code. */
static int64_t read_head(struct cu_worker_env *env, struct cu_conn *c,
                         struct http_parser *p, struct http_request *r)
{
    int proxy_done = env->proxy == HTTP_PROXY_OFF;

    for (;;) {
        int64_t rc;

        if (!proxy_done && c->end > c->start) {
            int kind = http_proxy_sniff(c->buf + c->start, c->end - c->start,
                                        env->proxy);
            /* a PROXY header from a peer not in proxy_allow_ips: 403 */
            if (kind > 0 && !cu_addr_allowed((struct sockaddr *)&c->peer, c->peerlen,
                                             env->proxy_allow, env->n_proxy_allow))
                return HTTP_E_PROXY_FORBIDDEN;
            rc = http_proxy_parse(c->buf + c->start, c->end - c->start,
                                  env->proxy, &c->proxy);
            if (rc >= 0) {
                c->has_proxy = rc > 0;
                c->start += (size_t)rc;
                proxy_done = 1;
            } else if (rc != HTTP_AGAIN) {
                return rc;
            }
        }
        if (proxy_done && c->end > c->start) {
            rc = http_parse_head(p, r, c->buf + c->start, c->end - c->start);
            if (rc != HTTP_AGAIN)
                return rc;
        }
        if (cu_conn_fill(c, env->http->max_head_buffer + 8192 +
                                env->http->limit_request_line) < 0)
            return HTTP_E_EOF;  /* timed out, reset, too big: just close */
        if (c->eof)
            return c->end > c->start ? HTTP_E_EOF : 0;
    }
}

/* ---- the access log ------------------------------------------------------ */

struct logged {
    const struct http_request *r;
    const char *head;
};

static struct cu_str request_header(void *ctx, const char *name, size_t len)
{
    const struct logged *l = ctx;
    struct cu_str none = {NULL, 0};

    for (uint32_t i = 0; i < l->r->n_headers; i++) {
        const struct http_header *h = &l->r->headers[i];
        if (h->name.len == len && strncasecmp(l->head + h->name.off, name, len) == 0) {
            struct cu_str v = {l->head + h->value.off, h->value.len};
            return v;
        }
    }
    return none;
}

static struct cu_str span_str(const char *head, struct http_span s)
{
    struct cu_str v = {head + s.off, s.len};
    return v;
}

static void access_log(const struct cu_conn *c, const struct http_request *r,
                       const char *head, const struct cu_served *served,
                       long long started_us)
{
    struct logged l = {r, head};
    struct cu_access a;
    char host[128];
    int port;
    static const char *const protos[] = {"HTTP/1.0", "HTTP/1.1"};
    char proto[16];

    memset(&a, 0, sizeof(a));
    if (cu_sockaddr_text((const struct sockaddr *)&c->peer, c->peerlen, host,
                         sizeof(host), &port) < 0)
        host[0] = '\0';
    a.remote_addr.p = host;
    a.remote_addr.len = strlen(host);
    a.method = span_str(head, r->method);
    a.target = span_str(head, r->path);
    a.query = span_str(head, r->query);
    if (r->major == 1 && r->minor <= 1) {
        a.protocol.p = protos[r->minor];
    } else {
        (void)snprintf(proto, sizeof(proto), "HTTP/%u.%u", r->major, r->minor);
        a.protocol.p = proto;
    }
    a.protocol.len = strlen(a.protocol.p);
    /* the request line as received: method SP target SP version */
    a.request_line.p = head + r->method.off;
    a.request_line.len = r->target.off + r->target.len + 9 - r->method.off;
    a.status = served->status;
    a.response_bytes = served->bytes;
    a.referer = request_header(&l, "referer", 7);
    a.user_agent = request_header(&l, "user-agent", 10);
    a.request_time_us = now_us() - started_us;
    a.req_header = request_header;
    a.ctx = &l;
    cu_access_log(&a);
}

static void handle(struct cu_worker_env *env, int fd, struct sockaddr_storage *peer,
                   socklen_t peerlen, const struct cu_listener *l,
                   struct http_header *headers)
{
    struct cu_conn c;
    struct http_parser p;
    struct http_request r;
    struct cu_body body;
    struct cu_served served;
    int64_t rc;

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
    http_parser_init(&p, env->http,
                     cu_addr_allowed((struct sockaddr *)peer, peerlen,
                                     env->allow, env->n_allow));
    http_request_init(&r, headers, env->http->limit_request_fields);
    rc = read_head(env, &c, &p, &r);
    if (rc < 0) {
        if (rc != HTTP_E_EOF)
            cu_log(CU_WARNING, "Invalid request: %s", http_error_info((int)rc)->name);
        cu_conn_send_error(&c, (int)rc);
    } else if (rc > 0) {
        size_t head_off = c.start;
        const char *head = c.buf + head_off;
        long long t0 = cu_access_enabled() ? now_us() : 0;
        /* the spans of r are offsets from head; the body follows it, and
         * reading it keeps the head in place (for the access log) */
        c.start += (size_t)rc;
        c.keep = c.start;
        cu_body_init(&body, &r, env->http);
        memset(&served, 0, sizeof(served));
        /* head is read only before the body: reading the body may move
         * the buffer */
        {
            /* the request line, for the ABRT handler: method SP target SP version */
            size_t n = r.target.off + r.target.len + 9 - r.method.off;
            if (n >= sizeof(env->slot->request))
                n = sizeof(env->slot->request) - 1;
            memcpy(env->slot->request, head + r.method.off, n);
            env->slot->request[n] = '\0';
        }
        env->serve(env->app, &c, &r, head, &body, 1, &served);
        env->slot->request[0] = '\0';
        /* the buffer may have moved, never the pinned head within it */
        if (cu_access_enabled())
            access_log(&c, &r, c.buf + head_off, &served, t0);
    }
    cu_conn_close(&c);
}

int cu_worker_signals(struct cu_worker_slot *slot)
{
    my_slot = slot;
    if (install(SIGTERM, on_term) || install(SIGINT, on_quit) ||
        install(SIGQUIT, on_quit) || install(SIGUSR1, on_usr1) ||
        install(SIGABRT, on_abrt) || install(SIGPIPE, SIG_IGN)) {
        cu_log(CU_ERROR, "worker: sigaction: %s", strerror(errno));
        return -1;
    }
    return 0;
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
    while (!stopping) {
        int rc;

        if (getppid() != env->ppid) {
            cu_log(CU_INFO, "Parent changed, shutting down: %d", (int)getpid());
            break;
        }
        cu_heartbeat(env->slot);
        if (reopen) {
            reopen = 0;
            cu_log_reopen();
        }
        rc = poll(pfd, (nfds_t)n, 1000);
        if (rc < 0 && errno != EINTR) {
            cu_log(CU_ERROR, "worker: poll: %s", strerror(errno));
            break;
        }
        for (size_t i = 0; rc > 0 && i < n && !stopping; i++) {
            struct sockaddr_storage peer;
            socklen_t plen = sizeof(peer);
            int fd;

            if (!(pfd[i].revents & POLLIN))
                continue;
            fd = accept4(pfd[i].fd, (struct sockaddr *)&peer, &plen,
                         SOCK_NONBLOCK | SOCK_CLOEXEC);
            if (fd < 0) {
                if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR &&
                    errno != ECONNABORTED)
                    cu_log(CU_ERROR, "worker: accept: %s", strerror(errno));
                continue;
            }
            handle(env, fd, &peer, plen, &env->listeners[i], headers);
            served++;
            if (env->max_requests > 0 && served >= env->max_requests) {
                cu_log(CU_INFO, "Autorestarting worker after current request.");
                stopping = 1;
            }
        }
    }
    free(headers);
    if (reopen)  /* a USR1 that came with the TERM */
        cu_log_reopen();
    cu_log(CU_INFO, "Worker exiting (pid: %d)", (int)getpid());
    return 0;
}
