"""A small Pyramid app for test_paste.py, loaded through PasteDeploy.

pyramidapp.ini beside this folder names its factory, main(), in its app
sections, the way a Pyramid project's development.ini does: `egg:pyramidapp`
(the entry point pyramidapp-1.0.dist-info declares, found on sys.path as an
installed project's is) or `call:pyramidapp:main`. The routes tell a test
what the factory was given:

  /        plain text: the section's greeting
  /conf    JSON: the settings of the section and the global_config
  /log     logs one line through the "pyramidapp" logger, which the
           file's [loggers] section configures
"""

import logging
import os

from pyramid.config import Configurator
from pyramid.response import Response

log = logging.getLogger(__name__)


def hello(request):
    return Response(request.registry["given"]["greeting"] + "\n",
                    content_type="text/plain")


def conf(request):
    given = request.registry["given"]
    return {"settings": given, "global": request.registry["global_config"],
            "pid": os.getpid()}


def say(request):
    log.info("pyramidapp was asked to log")
    return {"logged": True}


def main(global_config, **settings):
    """The factory PasteDeploy calls with the file's global and local
    settings; `fail = true` in a section makes it raise."""
    if settings.get("fail") == "true":
        raise RuntimeError("pyramidapp: the factory was told to fail")
    log.info("pyramidapp factory: section %s", settings.get("section"))
    with Configurator(settings=dict(settings)) as config:
        config.registry["given"] = dict(settings)
        config.registry["global_config"] = dict(global_config)
        config.add_route("hello", "/")
        config.add_view(hello, route_name="hello")
        config.add_route("conf", "/conf")
        config.add_view(conf, route_name="conf", renderer="json")
        config.add_route("log", "/log")
        config.add_view(say, route_name="log", renderer="json")
        return config.make_wsgi_app()


def nothing(global_config, **settings):
    """A factory that forgets to return its app."""
    return None
