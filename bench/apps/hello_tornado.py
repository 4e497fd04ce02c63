"""bench/apps/hello.py's three routes as a tornado.web.Application, for
the tornado rows of bench/http.py's keep-alive table; run as a module, a
plain tornado HTTPServer on the port given (tornado's own server, the
third row).

  GET  /       Hello, World! (14 bytes)
  GET  /big    64 KiB of 'x'
  POST /post   the body read whole; 200 if it got Content-Length bytes
"""

import asyncio
import sys

import tornado.httpserver
import tornado.web

HELLO = b"Hello, World!\n"
BIG = b"x" * (64 * 1024)


class Hello(tornado.web.RequestHandler):
    def get(self):
        self.set_header("Content-Type", "text/plain")
        self.write(HELLO)


class Big(tornado.web.RequestHandler):
    def get(self):
        self.set_header("Content-Type", "text/plain")
        self.write(BIG)


class Post(tornado.web.RequestHandler):
    def post(self):
        want = int(self.request.headers.get("Content-Length", "0"))
        got = len(self.request.body)
        if got != want:
            self.set_status(500)
        self.set_header("Content-Type", "text/plain")
        self.write(b"read %d bytes\n" % got)


app = tornado.web.Application([(r"/", Hello), (r"/big", Big), (r"/post", Post)])


async def main(port):
    server = tornado.httpserver.HTTPServer(app)
    server.listen(port, "127.0.0.1")
    await asyncio.Event().wait()


if __name__ == "__main__":
    asyncio.run(main(int(sys.argv[1])))
