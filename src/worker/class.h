/*
 * Worker classes (-k): what a worker runs once its app is loaded. One row
 * per class in the table of classes.c, which -k resolves through with the
 * names Gunicorn users write (docs/compat.md, "Worker classes").
 *
 * Plain C. A class's loop is plain C too (sync.c, gthread.c); whatever it
 * needs from Python it gets through the application layer's callbacks in
 * struct cu_worker_env, and what the host must prepare for it (a thread
 * pool's thread states, a stuck thread's stack) it says in its flags.
 * Adding a class: its file, and its row.
 */
#ifndef CU_WORKER_CLASS_H
#define CU_WORKER_CLASS_H

#include <stddef.h>

struct cu_worker_env;

/* What a class needs from the host, and the settings it honours. */
enum {
    /* Requests run on a pool of threads: wsgi.multithread is true; a
     * request stuck past --timeout has its thread's Python stack logged
     * (env->dump_signal); --request-timeout raises in that thread
     * (env->interrupt); run() returns with the pool still running.
     * Without it, requests run on the worker's main thread, and
     * --request-timeout is a SIGALRM there. */
    CU_WC_THREADS = 1 << 0,
    /* Requests run as coroutines on an event loop in the worker's main
     * thread (asgi): the host runs the loop (env->event_loop) instead of
     * a WSGI bridge, and marks the worker booted only once the app's
     * lifespan startup is over. */
    CU_WC_ASYNC = 1 << 1,
    /* Requests run in greenlets on a hub in the worker's main thread
     * (gevent, eventlet): the host monkey-patches the standard library
     * before the app is imported and provides the hub (env->hub_open);
     * wsgi.multithread is true, as in Gunicorn's async workers. */
    CU_WC_GREEN = 1 << 3,
    /* With CU_WC_ASYNC: the loop serves a tornado Application (or a
     * plain WSGI app) rather than an ASGI app (env->event_loop is the
     * host's tornado loop). */
    CU_WC_TORNADO = 1 << 4,
    /* It serves TLS (env->tls: docs/compat.md, TLS). Every class does
     * (tests/worker/test_classes.c checks each), so certfile is taken
     * for all: a new class must serve it too. */
    CU_WC_TLS = 1 << 2,
    /* It serves HTTP/2 (env->h2: docs/compat.md, HTTP/2). Without it, h2
     * in http_protocols is refused for the class. */
    CU_WC_H2 = 1 << 5,
    /* The settings it honours beyond those every class does: */
    CU_WC_USES_THREADS = 1 << 8,            /* --threads */
    CU_WC_USES_CONNECTIONS = 1 << 9,        /* --worker-connections */
    CU_WC_USES_KEEPALIVE = 1 << 10,         /* --keep-alive */
    CU_WC_USES_BUFFER_BODY = 1 << 11,       /* --buffer-body */
};

struct cu_worker_class {
    const char *name;             /* as logged: "Using worker: NAME" */
    const char *const *aliases;   /* other names -k takes, NULL-terminated */
    /* Serves until the worker is told to stop (cu_worker_stop, checked at
     * least once a second); called without the GIL. Returns the worker's
     * exit status. NULL: the class is not built yet, and -k refuses it. */
    int (*run)(struct cu_worker_env *env);
    unsigned flags;               /* CU_WC_* */
    /* The class this one becomes with --threads above 1 (Gunicorn: sync
     * becomes gthread), or NULL. */
    const struct cu_worker_class *threaded;
};

/*
 * The class -k means: a name or alias from the table (ASCII case aside),
 * also written "#NAME", "egg:gunicorn#NAME" or "egg:gunicorn" (sync), as
 * Gunicorn's class loader takes them. NULL when nothing matches.
 */
const struct cu_worker_class *cu_worker_class_find(const char *name);

/* The class that runs for `name` with `threads` threads: the one found,
 * or its threaded form. NULL when nothing matches. */
const struct cu_worker_class *cu_worker_class_pick(const char *name, int threads);

/* "sync, gthread" (built) or "gevent, eventlet, ..." (not yet): the names
 * for a message, into out. */
void cu_worker_class_names(int built, char *out, size_t n);

#endif
