/*
 * The worker-class table (src/worker/classes.c): every name -k takes
 * resolves to its class, the spellings Gunicorn's loader takes too, the
 * threaded form of sync, and what resolves to nothing.
 */
#include "worker/class.h"
#include "worker/worker.h"
#include "../lib/tap.h"

#include <string.h>

static const char *name_of(const char *k)
{
    const struct cu_worker_class *c = cu_worker_class_find(k);

    return c ? c->name : "(none)";
}

static void resolves(const char *k, const char *want)
{
    const char *got = name_of(k);

    ok(strcmp(got, want) == 0, "-k %s is %s (got %s)", k, want, got);
}

/* The flags: each its own bit, and each class only its own. */
static void test_flags(const struct cu_worker_class *gthread)
{
    static const unsigned bits[] = {CU_WC_THREADS, CU_WC_ASYNC, CU_WC_TLS, CU_WC_GREEN,
                                    CU_WC_TORNADO, CU_WC_H2, CU_WC_USES_THREADS,
                                    CU_WC_USES_CONNECTIONS, CU_WC_USES_KEEPALIVE,
                                    CU_WC_USES_BUFFER_BODY};
    unsigned seen = 0;
    int distinct = 1;

    for (size_t i = 0; i < sizeof(bits) / sizeof(bits[0]); i++) {
        if ((bits[i] & (bits[i] - 1)) || (seen & bits[i]))
            distinct = 0;
        seen |= bits[i];
    }
    ok(distinct, "every CU_WC_* flag is its own bit");
    ok(gthread && !(gthread->flags & (CU_WC_TORNADO | CU_WC_GREEN | CU_WC_ASYNC)) &&
       (gthread->flags & CU_WC_H2) && !(cu_worker_class_find("tornado")->flags & CU_WC_H2),
       "gthread alone serves HTTP/2, and is neither tornado, green nor async");
}

int main(void)
{
    static const struct { const char *k, *want; } names[] = {
        {"sync", "sync"},
        {"SYNC", "sync"},
        {"#sync", "sync"},
        {"egg:gunicorn#sync", "sync"},
        {"egg:gunicorn", "sync"},
        {"gunicorn.workers.sync.SyncWorker", "sync"},
        {"gthread", "gthread"},
        {"egg:gunicorn#gthread", "gthread"},
        {"gunicorn.workers.gthread.ThreadWorker", "gthread"},
        {"gevent", "gevent"},
        {"gevent_wsgi", "gevent"},
        {"gevent_pywsgi", "gevent"},
        {"egg:gunicorn#gevent", "gevent"},
        {"egg:gunicorn#gevent_pywsgi", "gevent"},
        {"gunicorn.workers.ggevent.GeventWorker", "gevent"},
        {"gunicorn.workers.ggevent.GeventPyWSGIWorker", "gevent"},
        {"eventlet", "eventlet"},
        {"egg:gunicorn#eventlet", "eventlet"},
        {"gunicorn.workers.geventlet.EventletWorker", "eventlet"},
        {"tornado", "tornado"},
        {"egg:gunicorn#tornado", "tornado"},
        {"gunicorn.workers.gtornado.TornadoWorker", "tornado"},
        {"asgi", "asgi"},
        {"egg:gunicorn#asgi", "asgi"},
        {"gunicorn.workers.gasgi.ASGIWorker", "asgi"},
        {"uvicorn.workers.UvicornWorker", "asgi"},
        {"uvicorn.workers.UvicornH11Worker", "asgi"},
        /* nothing */
        {"", "(none)"},
        {"fork", "(none)"},
        {"egg:gunicorn#", "(none)"},
        {"egg:gunicornx#sync", "(none)"},
        {"egg:other#sync", "(none)"},
        {"gunicorn.workers.sync", "(none)"},
        {"sync ", "(none)"},
        {"gunicorn.workers.sync.SyncWorkerX", "(none)"},
    };
    const struct cu_worker_class *sync = cu_worker_class_find("sync");
    const struct cu_worker_class *gthread = cu_worker_class_find("gthread");
    char list[128];

    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
        resolves(names[i].k, names[i].want);

    /* what runs */
    ok(sync && sync->run == cu_sync_run && !(sync->flags & CU_WC_THREADS),
       "sync runs the sync loop on the main thread");
    ok(gthread && gthread->run == cu_gthread_run && (gthread->flags & CU_WC_THREADS) &&
       (gthread->flags & CU_WC_USES_KEEPALIVE), "gthread runs the pool, with keep-alive");
    ok(cu_worker_class_find("asgi")->run == cu_asgi_run &&
       (cu_worker_class_find("asgi")->flags & CU_WC_ASYNC) &&
       !(cu_worker_class_find("asgi")->flags & (CU_WC_THREADS | CU_WC_USES_THREADS)),
       "asgi runs the event loop, on the main thread");
    ok(cu_worker_class_find("egg:gunicorn#tornado")->run == cu_asgi_run &&
       (cu_worker_class_find("tornado")->flags & (CU_WC_ASYNC | CU_WC_TORNADO)) ==
       (CU_WC_ASYNC | CU_WC_TORNADO) && (cu_worker_class_find("tornado")->flags & CU_WC_TLS),
       "tornado runs on the asgi loop, with its TLS");
    ok(cu_worker_class_find("gevent")->run == cu_gevent_run &&
       cu_worker_class_find("eventlet")->run == cu_eventlet_run &&
       (cu_worker_class_find("gevent")->flags & CU_WC_GREEN) &&
       (cu_worker_class_find("eventlet")->flags & CU_WC_GREEN) &&
       !(cu_worker_class_find("gevent")->flags & CU_WC_THREADS),
       "gevent and eventlet run greenlets on their hub");
    ok(sync && gthread && (sync->flags & CU_WC_TLS) && (gthread->flags & CU_WC_TLS) &&
       (cu_worker_class_find("asgi")->flags & CU_WC_TLS) &&
       (cu_worker_class_find("gevent")->flags & CU_WC_TLS) &&
       (cu_worker_class_find("eventlet")->flags & CU_WC_TLS),
       "sync, gthread, asgi, gevent and eventlet serve TLS (certfile)");
    test_flags(gthread);

    /* sync with threads becomes gthread; nothing else changes */
    ok(cu_worker_class_pick("sync", 1) == sync, "sync, 1 thread: sync");
    ok(cu_worker_class_pick("sync", 4) == gthread, "sync, 4 threads: gthread");
    ok(cu_worker_class_pick("gunicorn.workers.sync.SyncWorker", 2) == gthread,
       "SyncWorker, 2 threads: gthread");
    ok(cu_worker_class_pick("gthread", 1) == gthread, "gthread, 1 thread: gthread");
    ok(cu_worker_class_pick("gevent", 4) == cu_worker_class_find("gevent"),
       "gevent, 4 threads: gevent");
    ok(cu_worker_class_pick("fork", 4) == NULL, "an unknown name picks nothing");

    /* the names a message lists */
    cu_worker_class_names(1, list, sizeof(list));
    ok(strcmp(list, "sync, gthread, gevent, eventlet, asgi, tornado") == 0, "built: %s", list);
    cu_worker_class_names(0, list, sizeof(list));
    ok(strcmp(list, "") == 0, "not built: %s", list);
    cu_worker_class_names(1, list, 8);
    ok(strlen(list) < 8, "a short buffer is not overrun: '%s'", list);
    return tap_done();
}
