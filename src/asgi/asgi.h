/*
 * The ASGI bridge (ASGI 3, the http and lifespan scopes): the asgi worker
 * class's event loop, which the host runs as the class's env->event_loop.
 *
 * Python's loop (asyncio's or uvloop's) runs in the worker's main thread;
 * the listeners and every connection are registered with it through C
 * callables (add_reader / add_writer), so that accepting, reading,
 * parsing, writing and keep-alive are C, and the only Python a request
 * runs is the app's own coroutine. Everything here holds the GIL.
 */
#ifndef CU_ASGI_H
#define CU_ASGI_H

#define PY_SSIZE_T_CLEAN
#include <Python.h>

#include "worker/worker.h"

/* --asgi-lifespan and --asgi-loop, as the settings' choices number them */
enum { CU_ASGI_LIFESPAN_AUTO, CU_ASGI_LIFESPAN_ON, CU_ASGI_LIFESPAN_OFF };
enum { CU_ASGI_LOOP_AUTO, CU_ASGI_LOOP_ASYNCIO, CU_ASGI_LOOP_UVLOOP };

struct cu_asgi_opts {
    int lifespan;              /* CU_ASGI_LIFESPAN_* */
    int loop;                  /* CU_ASGI_LOOP_* */
    const char *root_path;     /* the scope's root_path */
    int grace;                 /* --asgi-disconnect-grace-period: seconds
                                * before the task of a client gone is
                                * cancelled */
    int ws_max_size;           /* --ws-max-size: a WebSocket message's
                                * largest size (bytes); 0: no limit */
    int ws_deflate;            /* --ws-per-message-deflate: permessage-deflate
                                * accepted when offered */
    int ws_ping_ms;            /* --ws-ping-interval (ms); 0: no pings */
    int ws_pong_ms;            /* --ws-ping-timeout (ms); 0: no limit */
    /* pre_request (post 0) and post_request (post 1) around a request,
     * or NULL when neither hook is set. */
    void (*hook)(void *arg, int post, struct cu_request *q);
    void *hook_arg;
    /* The tornado class with a plain WSGI app: serves q with the WSGI
     * bridge (and the request hooks), with the GIL; hook_arg is its arg.
     * 0, or -1 when the connection failed. */
    int (*wsgi)(void *arg, struct cu_request *q);
};

/*
 * Runs the worker (the asgi class's, or the tornado class's: helper
 * cunicorn._tornado): the loop, the app's lifespan, then every connection
 * until the worker stops (env->slot is marked booted once the lifespan
 * startup is over). helper: the module cunicorn._asgi, which makes the
 * loop and runs the lifespan. With the GIL; returns the exit status (3
 * when the lifespan startup failed).
 */
int cu_asgi_serve(PyObject *app, PyObject *helper, const struct cu_asgi_opts *o,
                  struct cu_worker_env *env);

#endif
