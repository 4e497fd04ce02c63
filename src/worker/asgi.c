/*
 * The asgi worker class (-k asgi, and the names uvicorn's and Gunicorn's
 * users write for it): ASGI 3 apps as coroutines on an event loop
 * (asyncio's, or uvloop's) in the worker's main thread. The loop is
 * Python's, so the host runs it (env->event_loop, src/asgi/); what the
 * class shares with sync and gthread -- the connection, the parser, the
 * body reader, the refused requests' answers and lines, the access log --
 * is the plain C of this folder, which src/asgi/ calls from the loop's
 * callbacks. docs/architecture.md, "asgi: the C protocol in Python's
 * loop", says why it is built this way.
 */
#include "worker/worker.h"

#include <unistd.h>

#include "core/log.h"

int cu_asgi_run(struct cu_worker_env *env)
{
    int rc;

    if (!env->event_loop) {  /* not reached: the host sets it for this class */
        cu_log(CU_ERROR, "worker: the asgi class needs an event loop");
        return 1;
    }
    rc = env->event_loop(env->app, env);
    if (cu_worker_reopen)  /* a USR1 that came with the TERM */
        cu_log_reopen();
    cu_log(CU_INFO, "Worker exiting (pid: %d)", (int)getpid());
    return rc;
}
