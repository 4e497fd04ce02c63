/*
 * A plain WSGI app under the tornado worker class. Gunicorn's tornado
 * worker wraps one in tornado's WSGIContainer, which runs it on the
 * IOLoop's thread, one request at a time. Here the request goes to the
 * WSGI bridge (src/wsgi/), as under sync, on the loop's thread: while it
 * runs, the loop waits, and the connection's reads and writes wait on the
 * socket (each bounded by --timeout, the heartbeat going on, as in sync).
 * Then the connection goes back to the loop: keep-alive and pipelining
 * as for a tornado app's requests (docs/compat.md, tornado).
 */
#include "asgi/internal.h"

#include "core/clock.h"

static void tick(void *arg)
{
    cu_heartbeat((struct cu_worker_slot *)arg);
}

void twsgi_serve(struct asrv *s, struct aconn *a, size_t head_off, int close)
{
    const struct cu_worker_env *env = s->env;
    struct cu_request q = {.conn = &a->c, .http = &a->r, .head_off = head_off,
                           .body = &a->body, .must_close = close};
    size_t queue_max = a->c.queue_max;

    q.started_us = cu_access_wanted() ? cu_now_us() : 0;
    /* the request line, for the master's timeout report */
    cu_request_line(&q, env->slot->request, sizeof(env->slot->request));
    /* blocking, as the bridge writes: every wait up to --timeout */
    a->c.timeout_ms = env->timeout > 0 ? env->timeout * 1000 : 3600 * 1000;
    a->c.tick = tick;
    a->c.tick_arg = env->slot;
    a->c.queue_max = 0;
    a->c.whole = 0;
    cu_worker_serving(&a->c);  /* a worker timeout's 500 goes to it */
    if (s->opts->wsgi(s->opts->hook_arg, &q) < 0)
        q.out.close = 1;
    cu_worker_serving(NULL);
    a->c.timeout_ms = 0;
    a->c.tick = NULL;
    a->c.queue_max = queue_max;
    if (cu_access_wanted())
        cu_access(&q);
    asrv_served(s);
    aconn_response_over(a, q.out.close || q.must_close);
}
