import hashlib
import json
import os
import time

from django.http import (FileResponse, Http404, HttpResponse, JsonResponse,
                         StreamingHttpResponse)
from django.middleware.csrf import get_token
from django.utils.html import escape
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import (require_http_methods, require_POST,
                                          require_safe)

from .settings import DATA_DIR


@require_safe
def post(request, uid, slug):
    return JsonResponse({"framework": "django", "uid": uid, "slug": slug,
                         "q": request.GET.get("q"),
                         "tags": request.GET.getlist("tag")})


FORM_PAGE = """<!doctype html>
<html><body>
<form method="post" action="/form">
%s<input name="name"> <input name="color"> <input name="color">
<button>Send</button>
</form>
</body></html>
"""


@require_http_methods(["GET", "HEAD", "POST"])
def form(request):
    if request.method != "POST":
        token = ('<input type="hidden" name="csrfmiddlewaretoken" value="%s">'
                 % escape(get_token(request)))
        return HttpResponse(FORM_PAGE % token)
    fields = {k: request.POST.getlist(k) for k in request.POST
              if k != "csrfmiddlewaretoken"}
    return JsonResponse({"content_type": request.content_type, "fields": fields})


@csrf_exempt
@require_POST
def upload(request):
    files = []
    for field, f in request.FILES.items():
        for uf in request.FILES.getlist(field):
            h = hashlib.sha256()
            size = 0
            for block in uf.chunks(1 << 16):
                size += len(block)
                h.update(block)
            files.append({"field": field, "filename": uf.name,
                          "content_type": uf.content_type, "size": size,
                          "sha256": h.hexdigest()})
    fields = {k: request.POST.getlist(k) for k in request.POST}
    return JsonResponse({"files": files, "fields": fields})


@csrf_exempt
@require_POST
def json_view(request):
    try:
        data = json.loads(request.body)
        if not isinstance(data, dict):
            raise ValueError
    except ValueError:
        return JsonResponse({"error": "invalid JSON"}, status=400)
    return JsonResponse({"echo": data, "count": len(data.get("items", [])),
                         "total": sum(data.get("items", []))})


def _gated_chunks(n, size, gate):
    # The first chunk, then (if asked) wait for the client to say it has it:
    # a server that buffered the whole body would never deliver it in time.
    yield b"first\n"
    if gate:
        deadline = time.monotonic() + 10
        while not os.path.exists(gate):
            if time.monotonic() > deadline:
                yield b"gate timed out\n"
                break
            time.sleep(0.01)
    for i in range(n):
        yield bytes([65 + i % 26]) * size
    yield b"last\n"


@require_safe
def stream(request):
    n = int(request.GET.get("n", "5"))
    size = int(request.GET.get("size", "10"))
    return StreamingHttpResponse(_gated_chunks(n, size, request.GET.get("gate")),
                                 content_type="application/octet-stream")


@require_safe
def file(request):
    return FileResponse(open(os.path.join(DATA_DIR, "data.bin"), "rb"),
                        content_type="application/octet-stream")


@csrf_exempt
@require_POST
def items(request):
    try:
        body = json.loads(request.body or b"{}")
    except ValueError:
        body = {}
    resp = JsonResponse({"id": 42, "name": body.get("name")}, status=201)
    resp["Location"] = "/items/42"
    return resp


@csrf_exempt
@require_http_methods(["DELETE"])
def item(request, item_id):
    if item_id != 42:
        raise Http404
    return HttpResponse(status=204)


def new(request):
    return HttpResponse("the new place\n", content_type="text/plain")


def cookies(request):
    resp = HttpResponse("cookies set\n", content_type="text/plain")
    resp.set_cookie("session", "abc123", httponly=True, path="/")
    resp.set_cookie("theme", "dark", max_age=3600)
    resp["X-Custom-Header"] = "hello"
    resp["Cache-Control"] = "no-store"
    return resp


def whoami(request):
    return JsonResponse({"x_test": request.headers.get("X-Test"),
                         "user_agent": request.headers.get("User-Agent"),
                         "accept_language": request.headers.get("Accept-Language"),
                         "host": request.get_host(),
                         "cookies": dict(request.COOKIES),
                         "method": request.method,
                         "remote_addr": request.META.get("REMOTE_ADDR")})


def boom(request):
    raise RuntimeError("boom from the django view")
