"""The gevent and eventlet worker classes' Python side (src/host/green.c).

The worker's loop, the connections and the HTTP work are C
(src/worker/green.c); what is here is what only the hub can do: patching
the standard library (once, in the worker, before the app is imported, as
Gunicorn's workers do), and the operations the C code calls: wait for a
descriptor (or sleep), spawn a greenlet (in a pool of worker_connections,
or not), kill greenlets, all from C without anything per request but a
wait when a socket would block; and for HTTP/2 (src/worker/green_h2.c) a
descriptor watched from the hub, and a greenlet parked until woken.
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


def _parking(hub_switch, call_soon, timeout_new, getcurrent):
    """parker, park, unpark: a greenlet parks on a parker until it is
    unparked or timeout seconds passed. A parker is [the greenlet parked
    there or None, its park's number, the number last unparked]: unpark
    switches to the greenlet once the hub gets to it, once per park, and
    only while that park lasts (never into another wait)."""
    def parker():
        return [None, 0, 0]

    def park(slot, timeout):
        t = timeout_new(timeout)
        slot[0] = getcurrent()
        slot[1] += 1
        try:
            hub_switch()
            return True
        except BaseException as e:  # both Timeouts are BaseExceptions
            if e is not t:
                raise
            return False
        finally:
            slot[0] = None
            t.cancel()

    def resume(slot, g, n):
        if slot[0] is g and slot[1] == n:
            slot[0] = None
            g.switch()

    def unpark(slot):
        if slot[0] is not None and slot[2] != slot[1]:
            slot[2] = slot[1]
            call_soon(resume, slot, slot[0], slot[1])

    return parker, park, unpark


def _io(make, close):
    """io(fd, write, on, fire, arg): while on, fire(arg) is called from
    the hub each time fd is ready (level-triggered)."""
    watchers = {}

    def io(fd, write, on, fire, arg):
        w = watchers.pop((fd, write), None)
        if w is not None:
            close(w)
        if on:
            watchers[(fd, write)] = make(fd, write, fire, arg)

    return io


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

    def watch(fd, write, fire, arg):
        w = io(fd, 2 if write else 1)
        w.start(fire, arg)
        return w

    return (_ops(block, gevent.sleep, Pool(worker_connections).spawn, gevent.spawn, kill)
            + (_io(watch, lambda w: w.close()),)
            + _parking(hub.switch, hub.loop.run_callback, Timeout.start_new,
                       gevent.getcurrent))


def _eventlet(worker_connections):
    import eventlet
    import eventlet.hubs
    import greenlet
    from eventlet.greenpool import GreenPool
    from eventlet.hubs import trampoline

    def block(fd, write, timeout):
        trampoline(fd, read=not write, write=write, timeout=timeout,
                   timeout_exc=_TimedOut)

    def kill(greenlets):
        for g in greenlets:
            g.kill()

    hub = eventlet.hubs.get_hub()

    def watch(fd, write, fire, arg):
        # the hub calls back every listener of a poll's events, even one
        # removed by an earlier callback of the same poll: not ours then
        live = [arg]
        listener = hub.add(hub.WRITE if write else hub.READ, fd,
                           lambda _: live[0] is not None and fire(live[0]),
                           lambda _: None, None)
        return listener, live

    def unwatch(w):
        hub.remove(w[0])
        w[1][0] = None

    return (_ops(block, eventlet.sleep, GreenPool(worker_connections).spawn,
                 eventlet.spawn, kill)
            + (_io(watch, unwatch),)
            + _parking(hub.switch, lambda *a: hub.schedule_call_global(0, *a),
                       eventlet.Timeout, greenlet.getcurrent))


def hub(kind, worker_connections):
    """(wait, spawn, kill, io, parker, park, unpark) for the class's hub.
    wait(fd, write, timeout) is True when fd is ready (fd < 0: after a
    sleep), False when timeout seconds passed first; spawn(pooled, fn,
    arg) runs fn(arg) in a new greenlet and returns it; kill(greenlets)
    has each raise GreenletExit where it waits; io, parker, park and
    unpark: _io's and _parking's."""
    return (_gevent if kind == "gevent" else _eventlet)(worker_connections)

