/*
 * The table of worker classes (see class.h): every name -k accepts. A
 * class not built yet has its names here, so that -k refuses it by name
 * rather than as unknown.
 */
#include "worker/class.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "worker/worker.h"

#define ALIASES(...) ((const char *const[]){__VA_ARGS__, NULL})
#define USES_ALL (CU_WC_USES_THREADS | CU_WC_USES_CONNECTIONS | \
                  CU_WC_USES_KEEPALIVE | CU_WC_USES_BUFFER_BODY)
#define GREEN_USES (CU_WC_USES_CONNECTIONS | CU_WC_USES_KEEPALIVE)

static const struct cu_worker_class classes[] = {
    {"sync", ALIASES("gunicorn.workers.sync.SyncWorker"), cu_sync_run, CU_WC_TLS,
     &classes[1]},
    {"gthread", ALIASES("gunicorn.workers.gthread.ThreadWorker"), cu_gthread_run,
     CU_WC_THREADS | CU_WC_TLS | CU_WC_H2 | USES_ALL, NULL},
    {"gevent", ALIASES("gevent_wsgi", "gevent_pywsgi",
                       "gunicorn.workers.ggevent.GeventWorker",
                       "gunicorn.workers.ggevent.GeventPyWSGIWorker"), cu_gevent_run,
     CU_WC_GREEN | CU_WC_TLS | CU_WC_H2 | GREEN_USES, NULL},
    {"eventlet", ALIASES("gunicorn.workers.geventlet.EventletWorker"), cu_eventlet_run,
     CU_WC_GREEN | CU_WC_TLS | CU_WC_H2 | GREEN_USES, NULL},
    {"asgi", ALIASES("gunicorn.workers.gasgi.ASGIWorker", "uvicorn.workers.UvicornWorker",
                     "uvicorn.workers.UvicornH11Worker"), cu_asgi_run,
     CU_WC_ASYNC | CU_WC_TLS | CU_WC_H2 | CU_WC_USES_CONNECTIONS | CU_WC_USES_KEEPALIVE,
     NULL},
    /* tornado runs on the asgi class's loop and C protocol */
    {"tornado", ALIASES("gunicorn.workers.gtornado.TornadoWorker"), cu_asgi_run,
     CU_WC_ASYNC | CU_WC_TORNADO | CU_WC_TLS | CU_WC_USES_CONNECTIONS |
         CU_WC_USES_KEEPALIVE, NULL},
};

#define N_CLASSES (sizeof(classes) / sizeof(classes[0]))

static int named(const struct cu_worker_class *k, const char *name)
{
    if (strcasecmp(k->name, name) == 0)
        return 1;
    for (const char *const *a = k->aliases; *a; a++)
        if (strcasecmp(*a, name) == 0)
            return 1;
    return 0;
}

const struct cu_worker_class *cu_worker_class_find(const char *name)
{
    static const char egg[] = "egg:gunicorn";

    /* Gunicorn's loader: an entry point of its own distribution, with
     * the default (sync) when none is named; a short name may start
     * with '#' */
    if (strncasecmp(name, egg, sizeof(egg) - 1) == 0) {
        name += sizeof(egg) - 1;
        if (*name == '\0')
            name = "sync";
        else if (*name != '#')
            return NULL;
    }
    while (*name == '#')
        name++;
    for (size_t i = 0; i < N_CLASSES; i++)
        if (named(&classes[i], name))
            return &classes[i];
    return NULL;
}

const struct cu_worker_class *cu_worker_class_pick(const char *name, int threads)
{
    const struct cu_worker_class *k = cu_worker_class_find(name);

    return k && threads > 1 && k->threaded ? k->threaded : k;
}

void cu_worker_class_names(int built, char *out, size_t n)
{
    size_t len = 0;

    if (n)
        out[0] = '\0';
    for (size_t i = 0; i < N_CLASSES; i++) {
        const struct cu_worker_class *k = &classes[i];
        int w;

        if ((k->run != NULL) != (built != 0) || len >= n)
            continue;
        w = snprintf(out + len, n - len, "%s%s", len ? ", " : "", k->name);
        if (w < 0)
            break;
        len += (size_t)w;
    }
}
