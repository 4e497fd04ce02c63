"""The gevent and eventlet worker classes' Python side (src/host/green.c).

The worker's loop, the connections and the HTTP work are C
(src/worker/green.c); what is here is what only the hub can do: patching
the standard library (once, in the worker, before the app is imported, as
Gunicorn's workers do), and four operations the C code calls: wait for a
descriptor (or sleep), spawn a greenlet (in a pool of worker_connections,
or not), kill greenlets, all from C without anything per request but a
wait when a socket would block.
"""

class _TimedOut(Exception):
    """A wait's deadline passed (never seen outside this module)."""


def patch(kind):
    """Gunicorn's patch() for the class: gevent's monkey.patch_all() and a
    fresh hub for this process; eventlet's hub chosen again (the master's,
    if it made one, is not this process's) and monkey_patch()."""
    if kind == "gevent":
        from gevent import hub, monkey
        monkey.patch_all()
        hub.reinit()
    else:
        import eventlet
        import eventlet.hubs
        eventlet.hubs.use_hub()
        eventlet.monkey_patch()


def _ops(block, sleep, pool_spawn, spawn, kill):
    """The three operations over a hub's own: block(fd, write, timeout)
    returns once fd is ready or raises _TimedOut."""
    def wait(fd, write, timeout):
        if fd < 0:
            sleep(timeout)
            return True
        try:
            block(fd, write, timeout)
        except _TimedOut:
            return False
        return True

    def spawn_one(pooled, fn, arg):
        return pool_spawn(fn, arg) if pooled else spawn(fn, arg)

    return wait, spawn_one, kill


def _gevent(worker_connections):
    import gevent
    from gevent.pool import Pool
    from gevent.timeout import Timeout

    hub = gevent.get_hub()
    io = hub.loop.io
    hub_wait = hub.wait

    def block(fd, write, timeout):
        watcher = io(fd, 2 if write else 1)
        try:
            with Timeout(timeout, _TimedOut):
                hub_wait(watcher)
        finally:
            watcher.close()

    def kill(greenlets):
        for g in greenlets:
            g.kill(block=False)

    return _ops(block, gevent.sleep, Pool(worker_connections).spawn, gevent.spawn, kill)


def _eventlet(worker_connections):
    import eventlet
    from eventlet.greenpool import GreenPool
    from eventlet.hubs import trampoline

    def block(fd, write, timeout):
        trampoline(fd, read=not write, write=write, timeout=timeout,
                   timeout_exc=_TimedOut)

    def kill(greenlets):
        for g in greenlets:
            g.kill()

    return _ops(block, eventlet.sleep, GreenPool(worker_connections).spawn,
                eventlet.spawn, kill)


def hub(kind, worker_connections):
    """(wait, spawn, kill) for the class's hub. wait(fd, write, timeout)
    is True when fd is ready (fd < 0: after a sleep), False when timeout
    seconds passed first; spawn(pooled, fn, arg) runs fn(arg) in a new
    greenlet and returns it; kill(greenlets) has each raise GreenletExit
    where it waits."""
    return (_gevent if kind == "gevent" else _eventlet)(worker_connections)

