/* Requests that run too long. See running.h. */
#include "worker/running.h"

#include <signal.h>
#include <string.h>
#include <unistd.h>

#include "core/log.h"
#include "http/pages.h"

#define ABORT_AFTER_MS 1000      /* --request-timeout: RequestTimeout
                                  * raised, then this long to unwind */

void cu_running_init(struct cu_running *r)
{
    pthread_mutex_init(&r->mu, NULL);
}

void cu_running_begin(struct cu_running *r, const struct cu_worker_env *env,
                      const struct cu_request *q, int64_t now_ms)
{
    cu_request_line(q, r->request, sizeof(r->request));
    if (env->request_timeout > 0)
        pthread_mutex_lock(&r->mu);  /* the watcher sees all or none */
    r->conn = q->conn;
    r->wrote_before = q->conn->wrote;
    atomic_fetch_add(&r->seq, 1);
    atomic_store(&r->since_ms, now_ms);
    if (env->request_timeout > 0)
        pthread_mutex_unlock(&r->mu);
}

void cu_running_end(struct cu_running *r, const struct cu_worker_env *env)
{
    if (env->request_timeout > 0)
        pthread_mutex_lock(&r->mu);
    atomic_store(&r->since_ms, 0);
    r->conn = NULL;
    if (env->request_timeout > 0)
        pthread_mutex_unlock(&r->mu);
}

/* Logs a request running past --timeout once, then its Python stack. */
static void report_stuck(struct cu_running *r, const struct cu_worker_env *env,
                         int timeout_ms, int64_t now)
{
    long long since = atomic_load(&r->since_ms);
    unsigned long seq = atomic_load(&r->seq);

    if (!since || now - since < timeout_ms || r->reported == seq)
        return;
    r->reported = seq;
    cu_log(CU_WARNING, "Request running for %llds (past --timeout) on thread "
           "%#lx (pid: %d): %s", (long long)(now - since) / 1000, (unsigned long)r->tid,
           (int)getpid(), r->request);
    if (env->dump_signal > 0)
        pthread_kill(r->tid, env->dump_signal);
}

/* --request-timeout's next stage for r, under r->mu. */
static void request_timeout(struct cu_running *r, const struct cu_worker_env *env,
                            long long ran, unsigned long seq)
{
    long long limit = (long long)env->request_timeout * 1000;

    if (r->timed_out != seq) {
        r->timed_out = seq;
        r->stage = 0;
    }
    if (r->stage == 0) {
        r->stage = 1;
        cu_log(CU_ERROR, "Request timeout after %llds (--request-timeout %d) on "
               "thread %#lx (pid: %d): %s", ran / 1000, env->request_timeout,
               (unsigned long)r->tid, (int)getpid(), r->request);
        if (env->dump_signal > 0)
            pthread_kill(r->tid, env->dump_signal);
        if (env->interrupt)
            env->interrupt(env->app, (unsigned long)r->tid);
    } else if (r->stage == 1 && ran >= limit + ABORT_AFTER_MS) {
        char page[HTTP_PAGE_MAX];
        size_t len = cu_page_504(page, sizeof(page));
        int sent;
        r->stage = 2;
        sent = cu_conn_abort(r->conn, r->wrote_before, len ? page : NULL, len);
        cu_log(CU_ERROR, "Request timeout: %s, the app still running (%s)",
               sent ? "answered 504" : "connection closed", r->request);
    } else if (r->stage == 2 && ran >= 2 * limit + ABORT_AFTER_MS) {
        r->stage = 3;
        cu_log(CU_ERROR, "Thread %#lx is still held by a request past "
               "--request-timeout: replacing this worker", (unsigned long)r->tid);
        cu_worker_recycle(env->slot, CU_RECYCLE_STUCK);
    }
}

void cu_running_watch(struct cu_running *rs, int n, const struct cu_worker_env *env,
                      int timeout_ms, int64_t now)
{
    long long limit = (long long)env->request_timeout * 1000;

    for (int i = 0; i < n; i++) {
        struct cu_running *r = &rs[i];
        long long since, ran;
        unsigned long seq;

        if (timeout_ms > 0)
            report_stuck(r, env, timeout_ms, now);
        if (limit <= 0)
            continue;
        /* under mu: the request seen is the one being served, and it
         * cannot end (and its connection be freed) while we act on it */
        pthread_mutex_lock(&r->mu);
        since = atomic_load(&r->since_ms);
        seq = atomic_load(&r->seq);
        ran = now - since;
        if (since && r->conn && ran >= limit)
            request_timeout(r, env, ran, seq);
        pthread_mutex_unlock(&r->mu);
    }
}
