"""Every request corpus case, replayed over a socket against the running
server (an app that reads the body to the end), with the sync worker,
with gthread, gevent, eventlet, with asgi (an ASGI app that tells its
scope in the environ's words), and with tornado (a tornado Application
that tells its HTTPServerRequest in the same words).

Valid cases: each request's method, target, query, headers and body as the
app saw them -- the first only with sync (one request per connection);
with the others every pipelined request in turn, up to the one that
closes. An ASGI scope has no raw target: the path and query it was split
into stand for it.
Invalid cases: the status Gunicorn answers, or a close without a byte.
One server runs per distinct set of settings and worker class.
"""

import base64
import json
import pathlib
import urllib.parse

import pytest

from conftest import ROOT

CORPORA = [ROOT / "tests" / "corpus" / "gunicorn", ROOT / "tests" / "corpus" / "cunicorn"]
# where cunicorn answers differently from Gunicorn, as rules over the
# expectations (docs/compat.md, Framing)
DEVIATIONS = json.loads((ROOT / "tests" / "corpus" / "deviations.json").read_text())

FLAGS = {
    "limit_request_line": "--limit-request-line",
    "limit_request_fields": "--limit-request-fields",
    "limit_request_field_size": "--limit-request-field_size",
    "header_map": "--header-map",
    "forwarded_allow_ips": "--forwarded-allow-ips",
}
BOOLS = {
    "strip_header_spaces": "--strip-header-spaces",
    "permit_unconventional_http_method": "--permit-unconventional-http-method",
    "casefold_http_method": "--casefold-http-method",
    "permit_obsolete_folding": "--permit-obsolete-folding",
    "permit_unconventional_http_version": "--permit-unconventional-http-version",
}


def args_for(config):
    args = []
    for k, v in sorted(config.items()):
        if k in FLAGS:
            args += [FLAGS[k], str(v)]
        elif k in BOOLS:
            if v:
                args.append(BOOLS[k])
        elif k == "require_host":
            pass  # the server's rule, always on (tests/corpus/deviations.json)
        elif k == "proxy_protocol":
            args.append("--proxy-protocol=%s" % ("auto" if v is True else v))
        else:
            raise AssertionError("setting %s has no flag here" % k)
    return tuple(args)


def cases():
    out = []
    for root in CORPORA:
        for kind in ("valid", "invalid"):
            for http in sorted((root / kind).glob("*.http")):
                base = http.with_suffix("")
                exp = json.loads(base.with_suffix(".json").read_text())
                if kind == "valid":
                    cfg_file = base.with_name(base.name + ".config.json")
                    cfg = json.loads(cfg_file.read_text()) if cfg_file.exists() else {}
                else:
                    cfg = exp["config"]
                out.append((root.name + "/" + kind + "/" + base.name, http, exp, cfg))
    return out


CASES = cases()
GROUPS = sorted({args_for(c[3]) for c in CASES})


def test_corpora_present():
    assert len([c for c in CASES if c[0].startswith("gunicorn/")]) == 137


def response(raw):
    if raw.startswith(b"HTTP/1.1 100 Continue\r\n\r\n"):
        raw = raw[25:]
    head, sep, body = raw.partition(b"\r\n\r\n")
    return head.split(b"\r\n"), body


def responses(raw):
    """Splits what a kept-alive connection sent into its responses (every
    one of the echo app's has a Content-Length)."""
    out = []
    while raw:
        lines, rest = response(raw)
        length = [int(x.split(b":")[1]) for x in lines if x.lower().startswith(b"content-length:")]
        assert length, lines
        out.append((lines, rest[:length[0]]))
        raw = rest[length[0]:]
    return out


def keeps_open(req):
    conn = [v.lower() for k, v in req["headers"] if k.upper() == "CONNECTION"]
    if tuple(req["version"]) == (1, 0):
        return conn[:1] == ["keep-alive"]
    return conn[:1] != ["close"]


def split_uri(uri):
    """The target as an ASGI scope has it: the path and the query (a
    target that starts with "/" is all path, "//" too, as the parser has
    it)."""
    if uri.startswith("/"):
        path, _, query = uri.partition("#")[0].partition("?")
    else:
        parts = urllib.parse.urlsplit(uri)
        path, query = parts.path, parts.query
    return path + ("?" + query if query else "")


def check_request(name, lines, body, first, asgi=False):
    assert lines[0].split(b" ")[1] == b"200", (name, lines, body[:300])
    got = json.loads(body)
    env = got["environ"]
    assert env["REQUEST_METHOD"] == first["method"], name
    assert env["RAW_URI"] == (split_uri(first["uri"]) if asgi else first["uri"]), name
    assert env["QUERY_STRING"] == first["query"], name
    assert env["SERVER_PROTOCOL"] == "HTTP/%d.%d" % tuple(first["version"]), name
    want = {}
    for hname, value in first["headers"]:
        key = hname.replace("-", "_")
        # only the real names lose the prefix; CONTENT_LENGTH (with "_",
        # kept by header_map=dangerous) is HTTP_CONTENT_LENGTH
        key = key if hname in ("CONTENT-TYPE", "CONTENT-LENGTH") else "HTTP_" + key
        want[key] = want[key] + "," + value if key in want else value
    for key, value in want.items():
        assert env.get(key) == value, (name, key, env.get(key), value)
    if first["body_encoding"] == "utf-8" and got["body"] is not None:
        assert got["body"] == first["body"], name


def without_host(req):
    """RFC 9112 3.2: an HTTP/1.1 request without Host, which the server
    refuses (tests/corpus/deviations.json, host_required)."""
    return (tuple(req["version"]) >= (1, 1)
            and not any(k.upper() == "HOST" for k, _ in req["headers"]))


def cut_short(req):
    """A body shorter than its Content-Length: the client closed first, and
    the request gets no answer (tests/corpus/deviations.json,
    body_cut_short)."""
    length = [int(v) for k, v in req["headers"] if k.upper() == "CONTENT-LENGTH"]
    body = req["body"].encode("latin-1", "replace") if req["body_encoding"] == "utf-8" \
        else base64.b64decode(req["body"])
    return bool(length) and len(body) < length[0]


def check_valid(name, raw, exp, kept, asgi=False):
    refused = DEVIATIONS["host_required"]["status"]
    if cut_short(exp[-1]):
        exp = exp[:-1]  # the last request's answer: none
        if not exp or not kept:
            assert raw == b"", (name, raw[:300])
            return
    if not kept:
        lines, body = response(raw)
        if without_host(exp[0]):
            assert lines[0].startswith(b"HTTP/1.1 %d " % refused), (name, lines)
            return
        check_request(name, lines, body, exp[0])
        return
    want = []
    for req in exp:
        want.append(req)
        if without_host(req) or not keeps_open(req):
            break
    got = responses(raw)
    assert len(got) == len(want), (name, len(got), len(want), raw[:300])
    for (lines, body), req in zip(got, want):
        if without_host(req):
            assert lines[0].startswith(b"HTTP/1.1 %d " % refused), (name, lines)
        else:
            check_request(name, lines, body, req, asgi)


def check_invalid(name, raw, exp):
    answered = DEVIATIONS["answered"].get(exp["error"])
    if answered:
        exp = dict(exp, response_sent=True, status=answered)
    if exp["response_sent"]:
        assert raw.startswith(b"HTTP/1.1 %d " % exp["status"]), (name, exp, raw[:200])
        assert b"Connection: close" in response(raw)[0], name
    else:
        assert raw == b"", (name, raw[:200])


WORKERS = {"sync": (), "gthread": ("-k", "gthread", "--threads", "2"), "asgi": ("-k", "asgi"),
           "gevent": ("-k", "gevent"), "eventlet": ("-k", "eventlet"),
           "tornado": ("-k", "tornado")}
APPS = {"asgi": "asgiecho:app", "tornado": "tornadoapp:echo"}


@pytest.mark.parametrize("worker", sorted(WORKERS))
@pytest.mark.parametrize("args", GROUPS, ids=lambda a: " ".join(a) or "defaults")
def test_replay(server, args, worker):
    srv = server(*(WORKERS[worker] + args), app=APPS.get(worker, "echo:app"))
    group = [c for c in CASES if args_for(c[3]) == args]
    assert group
    for name, http, exp, cfg in group:
        raw = srv.raw(http.read_bytes())
        if "/valid/" in name:
            check_valid(name, raw, exp, worker != "sync", worker == "asgi")
        else:
            check_invalid(name, raw, exp)
