/*
 * --request-timeout in a thread pool (gthread): RequestTimeout raised in
 * the thread that runs the app, asked for by the worker's main thread
 * (cu_worker_env.interrupt), which must never wait for the GIL. Each pool
 * thread registers where it is; the raising is done by a short-lived
 * thread of its own, since taking the GIL may wait for as long as the app
 * holds it. (sync's --request-timeout is a SIGALRM instead: see sync.c.)
 */
#include "host/host.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "core/log.h"

/* Where a pool thread is: n, in_app and interrupted change with the GIL
 * held only. Pool threads never exit, so their entries stay valid. */
struct in_app {
    unsigned long ident;     /* the thread's Python ident */
    atomic_ulong n;          /* requests begun */
    atomic_int in_app;
    int interrupted;         /* a RequestTimeout was set for it */
    struct in_app *next;
};

static _Thread_local struct in_app tls_app;
static struct in_app *apps;  /* every pool thread's, under apps_mu */
static pthread_mutex_t apps_mu = PTHREAD_MUTEX_INITIALIZER;

void host_thread_register(void)
{
    tls_app.ident = PyThread_get_thread_ident();
    pthread_mutex_lock(&apps_mu);
    tls_app.next = apps;
    apps = &tls_app;
    pthread_mutex_unlock(&apps_mu);
}

void host_in_app(int in)
{
    if (in) {
        tls_app.n++;
        tls_app.in_app = 1;
        return;
    }
    tls_app.in_app = 0;
    if (tls_app.interrupted) {  /* a RequestTimeout that never went off */
        tls_app.interrupted = 0;
        (void)PyThreadState_SetAsyncExc(tls_app.ident, NULL);
    }
}

struct interrupt {
    struct cu_host *h;
    struct in_app *who;
    unsigned long n;   /* the request it was in when the timeout was seen */
};

static void *interrupt_main(void *arg)
{
    struct interrupt *in = arg;
    PyGILState_STATE g = PyGILState_Ensure();

    /* with the GIL: still in the app, and in the same request? */
    if (in->who->in_app && in->who->n == in->n &&
        PyThreadState_SetAsyncExc(in->who->ident, in->h->types->request_timeout) == 1)
        in->who->interrupted = 1;
    else
        cu_log(CU_WARNING, "--request-timeout: thread %#lx had left that request",
               in->who->ident);
    PyGILState_Release(g);
    free(in);
    return NULL;
}

void host_interrupt(void *arg, unsigned long thread)
{
    struct interrupt *in = malloc(sizeof(*in));
    struct in_app *who;
    pthread_t t;
    int rc;

    if (!in) {
        cu_log(CU_ERROR, "--request-timeout: out of memory");
        return;
    }
    pthread_mutex_lock(&apps_mu);
    for (who = apps; who && who->ident != thread; who = who->next)
        ;
    pthread_mutex_unlock(&apps_mu);
    if (!who) {
        free(in);
        return;
    }
    in->h = arg;
    in->who = who;
    in->n = who->n;  /* a racy read, checked again with the GIL */
    rc = pthread_create(&t, NULL, interrupt_main, in);
    if (rc) {
        cu_log(CU_ERROR, "--request-timeout: a thread: %s", strerror(rc));
        free(in);
        return;
    }
    pthread_detach(t);
}
