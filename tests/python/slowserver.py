"""A local HTTP server that answers every request after `delay` seconds,
any number of them at once (asyncio, in a thread of the caller): the far
end of an app's outbound call, for tests/python/test_green.py and
bench/green.py."""

import asyncio
import threading


class SlowServer:
    def __init__(self, delay=1.0, start_timeout=20):
        self.delay = delay
        self.served = 0
        self.loop = asyncio.new_event_loop()
        self.started = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()
        if not self.started.wait(start_timeout):
            raise RuntimeError("the slow server did not start")

    async def _handle(self, reader, writer):
        try:
            await reader.readuntil(b"\r\n\r\n")
            await asyncio.sleep(self.delay)
            writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 4\r\n"
                         b"Connection: close\r\n\r\nslow")
            await writer.drain()
            self.served += 1
        except (OSError, asyncio.IncompleteReadError):
            pass
        finally:
            writer.close()

    def _run(self):
        asyncio.set_event_loop(self.loop)
        srv = self.loop.run_until_complete(
            asyncio.start_server(self._handle, "127.0.0.1", 0, backlog=4096))
        self.port = srv.sockets[0].getsockname()[1]
        self.started.set()
        self.loop.run_forever()

    def close(self):
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(20)
