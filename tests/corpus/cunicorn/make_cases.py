#!/usr/bin/env python3
"""Writes cunicorn's own request cases, in the format of Gunicorn's corpus
(tests/corpus/gunicorn/, whose README describes it).

Gunicorn's corpus leaves out inputs an internet-facing server
meets: numbers that overflow, control bytes in every position, huge heads,
many headers, pipelining after a chunked body, and the places where
cunicorn is stricter than Gunicorn (marked OURS below). Each case is
written as NAME.http (the bytes), NAME.json (the expectation) and, when
settings differ from the defaults, NAME.config.json (valid cases) or a
"config" key (invalid cases).

The output is committed; run this again after changing a case:
    python3 tests/corpus/cunicorn/make_cases.py
"""

import base64
import json
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))

STATUS = {
    "InvalidRequestLine": 400, "InvalidRequestMethod": 400,
    "InvalidHTTPVersion": 400, "LimitRequestLine": 400,
    "InvalidHeader": 400, "InvalidHeaderName": 400, "ObsoleteFolding": 400,
    "LimitRequestHeaders": 431, "InvalidSchemeHeaders": 400,
    "ExpectationFailed": 417, "UnsupportedTransferCoding": 501,
    "InvalidProxyLine": 400, "InvalidProxyHeader": 400,
    "InvalidChunkSize": 400, "ChunkMissingTerminator": 400,
    "InvalidChunkExtension": 400, "ChunkOverhead": 400,
}
# OURS: Gunicorn closes on chunk framing errors without a word; cunicorn
# answers them 400 (tests/corpus/deviations.json). Only a peer gone is
# not answered.
SILENT = {"NoMoreData"}
REASON = {400: "Bad Request", 417: "Expectation Failed", 501: "Bad Request",
          431: "Request Header Fields Too Large"}

valid = {}
invalid = {}


def latin1(b):
    return b.decode("latin-1")


def req(method, target, headers=(), body=b"", version=(1, 1), path=None,
        query="", fragment="", chunks=None, trailers=()):
    """One request: returns (wire bytes, expectation)."""
    head = b"%s %s HTTP/%d.%d\r\n" % (method, target, version[0], version[1])
    for name, value in headers:
        head += name + b": " + value + b"\r\n"
    wire = head + b"\r\n"
    if chunks is not None:
        for c in chunks:
            wire += b"%x\r\n%s\r\n" % (len(c), c)
        wire += b"0\r\n"
        for name, value in trailers:
            wire += name + b": " + value + b"\r\n"
        wire += b"\r\n"
        body = b"".join(chunks)
    else:
        wire += body
    try:
        text, enc = body.decode("ascii"), "utf-8"
    except UnicodeDecodeError:
        text, enc = base64.b64encode(body).decode("ascii"), "base64"
    exp = {
        "method": latin1(method), "uri": latin1(target),
        "path": latin1(target) if path is None else path,
        "query": query, "fragment": fragment, "version": list(version),
        "headers": [[latin1(n).upper(), latin1(v).strip(" \t")]
                    for n, v in headers if b"_" not in n],
        "body": text, "body_encoding": enc,
        "trailers": [[latin1(n).upper(), latin1(v)] for n, v in trailers],
    }
    return wire, exp


def add_valid(name, requests, extra=b"", config=None):
    wire = b"".join(w for w, _ in requests) + extra
    valid[name] = (wire, [e for _, e in requests], config or {})


def add_invalid(name, wire, error, config=None):
    invalid[name] = (wire, error, config or {})


H = [(b"Host", b"example.com")]

# ---- numbers that do not fit ---------------------------------------------
add_invalid("cl_overflow_01", b"POST / HTTP/1.1\r\nContent-Length: "
            b"18446744073709551616\r\n\r\n", "InvalidHeader")
add_invalid("cl_overflow_02", b"POST / HTTP/1.1\r\nContent-Length: "
            + b"9" * 40 + b"\r\n\r\n", "InvalidHeader")
add_invalid("cl_empty_01", b"POST / HTTP/1.1\r\nContent-Length:\r\n\r\n",
            "InvalidHeader")
add_invalid("cl_hex_01", b"POST / HTTP/1.1\r\nContent-Length: 0x10\r\n\r\n",
            "InvalidHeader")
add_valid("cl_leading_zeros_01", [req(b"POST", b"/", H + [
    (b"Content-Length", b"000000000000000000000005")], body=b"hello")])
add_valid("cl_padded_01", [req(b"POST", b"/", H + [
    (b"Content-Length", b" \t5\t ")], body=b"hello")])
add_invalid("chunk_overflow_01", b"POST / HTTP/1.1\r\nTransfer-Encoding: "
            b"chunked\r\n\r\nffffffffffffffffff\r\nx\r\n0\r\n\r\n",
            "InvalidChunkSize")
add_invalid("chunk_overflow_02", b"POST / HTTP/1.1\r\nTransfer-Encoding: "
            b"chunked\r\n\r\n10000000000000000\r\nx\r\n0\r\n\r\n",
            "InvalidChunkSize")
add_valid("chunk_leading_zeros_01", [(
    b"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n"
    + b"0" * 40 + b"5\r\nhello\r\n0\r\n\r\n",
    req(b"POST", b"/", [(b"Transfer-Encoding", b"chunked")],
        chunks=[b"hello"])[1])])
add_invalid("chunk_0x_01", b"POST / HTTP/1.1\r\nTransfer-Encoding: chunked"
            b"\r\n\r\n0x5\r\nhello\r\n0\r\n\r\n", "InvalidChunkSize")

# ---- control bytes in every position -------------------------------------
CTL = {"nul": b"\x00", "cr": b"\r", "lf": b"\n", "del": b"\x7f",
       "bel": b"\x07"}
for tag, c in CTL.items():
    add_invalid("ctl_%s_method" % tag, b"GE" + c + b"T / HTTP/1.1\r\n\r\n",
                "InvalidRequestMethod")
    # OURS: Gunicorn passes control bytes in the target to urlsplit()
    add_invalid("ctl_%s_target" % tag, b"GET /a" + c + b"b HTTP/1.1\r\n\r\n",
                "InvalidRequestLine")
    add_invalid("ctl_%s_version" % tag, b"GET / HTTP/1" + c + b".1\r\n\r\n",
                "InvalidHTTPVersion")
    add_invalid("ctl_%s_name_start" % tag,
                b"GET / HTTP/1.1\r\n" + c + b"X-A: b\r\n\r\n",
                "InvalidHeaderName")
    add_invalid("ctl_%s_name" % tag,
                b"GET / HTTP/1.1\r\nX-" + c + b"A: b\r\n\r\n",
                "InvalidHeaderName")
    add_invalid("ctl_%s_value" % tag,
                b"GET / HTTP/1.1\r\nX-A: b" + c + b"c\r\n\r\n",
                "InvalidHeader")
    add_invalid("ctl_%s_value_end" % tag,
                b"GET / HTTP/1.1\r\nX-A: bc" + c + b"\r\n\r\n",
                "InvalidHeader")
    add_invalid("ctl_%s_chunk_size" % tag,
                b"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n5"
                + c + b"\r\nhello\r\n0\r\n\r\n", "InvalidChunkSize")
    # OURS for all but CR: a proxy that ends lines at LF would frame
    # this body differently
    add_invalid("ctl_%s_chunk_ext" % tag,
                b"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n5;a"
                + c + b"b\r\nhello\r\n0\r\n\r\n", "InvalidChunkExtension")
    add_invalid("ctl_%s_trailer" % tag,
                b"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n5\r\n"
                b"hello\r\n0\r\nX-T: a" + c + b"b\r\n\r\n", "InvalidHeader")
    add_valid("ctl_%s_body" % tag, [req(b"POST", b"/", H + [
        (b"Content-Length", b"5")], body=b"he" + c + b"lo")])
    add_valid("ctl_%s_chunk_data" % tag, [req(
        b"POST", b"/", H + [(b"Transfer-Encoding", b"chunked")],
        chunks=[b"he" + c + b"lo"])])
add_valid("ctl_htab_value", [req(b"GET", b"/", H + [(b"X-A", b"b\tc")])])

# ---- request line shapes ---------------------------------------------------
add_invalid("line_double_sp_01", b"GET  / HTTP/1.1\r\n\r\n",
            "InvalidRequestLine")
add_invalid("line_trailing_sp_01", b"GET / HTTP/1.1 \r\n\r\n",
            "InvalidHTTPVersion")
add_invalid("line_lower_version_01", b"GET / http/1.1\r\n\r\n",
            "InvalidHTTPVersion")
add_invalid("line_leading_crlf_01", b"\r\nGET / HTTP/1.1\r\n\r\n",
            "InvalidRequestLine")
add_invalid("line_bare_lf_01", b"GET / HTTP/1.1\nHost: a\n\n",
            "NoMoreData")
add_invalid("line_http09_01", b"GET /\r\n\r\n", "InvalidRequestLine")
add_invalid("line_too_long_01", b"GET /" + b"a" * 5000 + b" HTTP/1.1\r\n\r\n",
            "LimitRequestLine")
add_invalid("line_endless_01", b"GET /" + b"a" * 10000, "LimitRequestLine")
add_valid("line_version_15_01", [req(b"GET", b"/", version=(1, 5))])
add_invalid("target_ipv6_unclosed_01", b"GET http://[::1/ HTTP/1.1\r\n\r\n",
            "InvalidRequestLine")
add_invalid("target_ipv4_brackets_01",
            b"GET http://[1.2.3.4]/ HTTP/1.1\r\n\r\n", "InvalidRequestLine")
add_valid("target_query_fragment_01", [req(
    b"GET", b"/a/b?c=d?e#f#g", path="/a/b", query="c=d?e", fragment="f#g")])
add_valid("target_double_slash_01", [req(
    b"GET", b"//host/p?q#f", path="//host/p", query="q", fragment="f")])

# ---- header block ----------------------------------------------------------
add_invalid("header_empty_name_01", b"GET / HTTP/1.1\r\n: v\r\n\r\n",
            "InvalidHeader")
add_invalid("header_no_colon_01", b"GET / HTTP/1.1\r\nHost\r\n\r\n",
            "InvalidHeader")
add_invalid("header_space_name_01", b"GET / HTTP/1.1\r\nX A: v\r\n\r\n",
            "InvalidHeaderName")
add_invalid("header_eof_01", b"GET / HTTP/1.1\r\nHost: a\r\n", "NoMoreData")
add_invalid("header_eof_cr_01", b"GET / HTTP/1.1\r\nHost: a\r\n\r",
            "NoMoreData")
add_valid("header_empty_value_01", [req(b"GET", b"/", [(b"X-Empty", b"")])])
add_valid("header_colon_in_value_01", [req(b"GET", b"/", [
    (b"X-Url", b"http://a:b@c:1/d")])])
add_invalid("expect_other_01", b"PUT / HTTP/1.1\r\nExpect: 200-ok\r\n\r\n",
            "ExpectationFailed")
add_valid("expect_continue_01", [req(b"PUT", b"/", H + [
    (b"Expect", b"100-Continue"), (b"Content-Length", b"2")], body=b"ok")])
add_invalid("te_unknown_01", b"POST / HTTP/1.1\r\nTransfer-Encoding: br\r\n"
            b"\r\n", "UnsupportedTransferCoding")
# OURS: a malformed coding list is a bad request (400), an unknown coding
# 501 (RFC 9112 6.1); Gunicorn answers 501 to both
add_invalid("te_empty_element_01", b"POST / HTTP/1.1\r\nTransfer-Encoding: "
            b"gzip,,chunked\r\n\r\n", "InvalidHeader")
add_invalid("te_empty_value_01", b"POST / HTTP/1.1\r\nTransfer-Encoding: "
            b"\r\n\r\n", "InvalidHeader")
add_invalid("te_param_01", b"POST / HTTP/1.1\r\nTransfer-Encoding: "
            b"chunked;q=1\r\n\r\n0\r\n\r\n", "InvalidHeader")
add_invalid("te_quoted_01", b"POST / HTTP/1.1\r\nTransfer-Encoding: "
            b"\"chunked\"\r\n\r\n0\r\n\r\n", "InvalidHeader")
add_invalid("te_unknown_02", b"POST / HTTP/1.1\r\nTransfer-Encoding: "
            b"x-custom, chunked\r\n\r\n0\r\n\r\n", "UnsupportedTransferCoding")
add_invalid("te_chunked_gzip_01", b"POST / HTTP/1.1\r\nTransfer-Encoding: "
            b"chunked, gzip\r\n\r\n", "InvalidHeader")
# OURS: Python's strip() would remove the NBSP and see "chunked"
add_invalid("te_nbsp_01", b"POST / HTTP/1.1\r\nTransfer-Encoding: "
            b"chunked\xa0\r\n\r\n0\r\n\r\n", "InvalidHeader")

# ---- Host (RFC 9112 3.2) ---------------------------------------------------
# OURS: Gunicorn takes any Host value, and none on HTTP/1.1
for i, bad in enumerate([b"exa mple.com", b"a/b", b"[::1", b"[::1]x",
                         b"example.com:80x", b"a@b", b"%zz", b"host\xff"]):
    add_invalid("host_invalid_%02d" % (i + 1), b"GET / HTTP/1.1\r\nHost: " + bad +
                b"\r\n\r\n", "InvalidHeader")
add_invalid("host_missing_01", b"GET / HTTP/1.1\r\n\r\n", "InvalidHeader",
            config={"require_host": True})
add_invalid("host_twice_01", b"GET / HTTP/1.1\r\nHost: a\r\nHost: a\r\n\r\n",
            "InvalidHeader")
add_valid("host_empty_01", [req(b"GET", b"/", [(b"Host", b"")])])
add_valid("host_forms_01", [req(b"GET", b"/%d" % i, [(b"Host", h)]) for i, h in
                            enumerate([b"a.example:8080", b"127.0.0.1", b"[::1]:1",
                                       b"[v1.x]", b"x%41y", b"a-b_c~!$&'()*+,;=:"])])
add_valid("host_http10_01", [req(b"GET", b"/", [], version=(1, 0))],
          config={"require_host": True})

# ---- a TLS handshake on a plain port ----------------------------------------
# OURS: refused at its first byte (it has no CRLF to wait for)
add_invalid("tls_client_hello_01", bytes.fromhex("160301020001" + "0001fc0303") +
            bytes(range(32)), "InvalidRequestMethod")
add_invalid("sslv2_client_hello_01", bytes.fromhex("802b0103010012"), "InvalidRequestMethod")
add_invalid("scheme_conflict_01", b"GET / HTTP/1.1\r\nX-Forwarded-Proto: "
            b"https\r\nX-Forwarded-Ssl: on\r\nX-Forwarded-Protocol: tls\r\n"
            b"\r\n", "InvalidSchemeHeaders")

# 10,000 tiny headers: allowed when the limit says so, 431 by default
many = [(b"a%d" % i, b"b") for i in range(10000)]
add_valid("many_headers_01", [req(b"GET", b"/", many)],
          config={"limit_request_fields": 10000})
add_invalid("many_headers_02", req(b"GET", b"/", many)[0],
            "LimitRequestHeaders")
add_invalid("many_headers_03", req(b"GET", b"/", [(b"a", b"b")] * 101)[0],
            "LimitRequestHeaders")
add_valid("many_headers_04", [req(b"GET", b"/", [(b"a", b"b")] * 100)])

# a 1 MiB header line
big = [(b"X-Big", b"v" * (1 << 20))]
add_invalid("huge_header_01", req(b"GET", b"/", big)[0],
            "LimitRequestHeaders")
add_valid("huge_header_02", [req(b"GET", b"/", big)],
          config={"limit_request_field_size": (1 << 20) + 64})
add_invalid("huge_header_03", b"GET / HTTP/1.1\r\nX-Big: " + b"v" * (1 << 20),
            "LimitRequestHeaders")

# ---- bodies and pipelining -------------------------------------------------
chunked = [(b"Transfer-Encoding", b"chunked")]
add_valid("pipeline_chunked_01", [
    req(b"POST", b"/1", H + chunked, chunks=[b"abc", b"defgh"]),
    req(b"GET", b"/2", H),
    req(b"POST", b"/3", H + [(b"Content-Length", b"3")], body=b"xyz"),
    req(b"GET", b"/4", H + [(b"Connection", b"close")]),
], extra=b"GET /never HTTP/1.1\r\n\r\n")
add_valid("pipeline_chunked_trailers_01", [
    req(b"POST", b"/1", H + chunked, chunks=[b"a" * 100],
        trailers=[(b"X-Sum", b"abc"), (b"X-More", b"d")]),
    req(b"POST", b"/2", H + chunked, chunks=[b"b" * 70000]),
    req(b"GET", b"/3", H),
])
add_valid("pipeline_http10_keepalive_01", [
    req(b"GET", b"/1", [(b"Connection", b"keep-alive")], version=(1, 0)),
    req(b"GET", b"/2", [], version=(1, 0)),
], extra=b"GET /never HTTP/1.1\r\n\r\n")
add_valid("pipeline_100_01", [req(b"GET", b"/%d" % i, H) for i in range(100)])
# OURS: padding in size lines is limited, not small chunks
add_invalid("chunk_overhead_01", b"POST / HTTP/1.1\r\nTransfer-Encoding: "
            b"chunked\r\n\r\n" + b"0000000001\r\nx\r\n" * 8000 + b"0\r\n\r\n",
            "ChunkOverhead")
add_valid("chunk_small_01", [req(b"POST", b"/", H + chunked, chunks=[b"x"] * 20000),
                             req(b"GET", b"/2", H)])
add_invalid("chunk_ext_long_01", b"POST / HTTP/1.1\r\nTransfer-Encoding: "
            b"chunked\r\n\r\n5;" + b"e" * 5000 + b"\r\nhello\r\n0\r\n\r\n",
            "ChunkOverhead")
add_invalid("chunk_ext_total_01", b"POST / HTTP/1.1\r\nTransfer-Encoding: "
            b"chunked\r\n\r\n" + (b"5;" + b"e" * 1000 + b"\r\nhello\r\n") * 20
            + b"0\r\n\r\n", "ChunkOverhead")
add_invalid("chunk_data_eof_01", b"POST / HTTP/1.1\r\nTransfer-Encoding: "
            b"chunked\r\n\r\n5\r\nhel", "NoMoreData")
add_invalid("chunk_no_crlf_01", b"POST / HTTP/1.1\r\nTransfer-Encoding: "
            b"chunked\r\n\r\n5\r\nhelloX\r\n0\r\n\r\n",
            "ChunkMissingTerminator")
add_invalid("trailer_authorization_01", b"POST / HTTP/1.1\r\n"
            b"Transfer-Encoding: chunked\r\n\r\n0\r\nAuthorization: x\r\n\r\n",
            "InvalidHeaderName")

# ---- found in review ---------------------------------------------------------
# the head buffer bounds the headers, not a request line within its limit
add_valid("line_long_small_headers_01", [req(b"GET", b"/" + b"a" * 3000, H)],
          config={"limit_request_fields": 10, "limit_request_field_size": 256})
# with permit_unconventional_http_version, 0.9 is still below 1.1
add_invalid("version_09_chunked_01", b"POST / HTTP/0.9\r\nTransfer-Encoding: "
            b"chunked\r\n\r\n0\r\n\r\n", "InvalidHeader",
            {"permit_unconventional_http_version": True})
add_valid("version_05_close_01", [req(b"GET", b"/", version=(0, 5))],
          extra=b"GET /never HTTP/1.1\r\n\r\n",
          config={"permit_unconventional_http_version": True})
# OURS: a coding list that does not end in chunked frames by the length,
# as Gunicorn does, but the connection closes after it
add_valid("te_identity_close_01", [req(b"POST", b"/", H + [
    (b"Transfer-Encoding", b"identity"), (b"Content-Length", b"5")],
    body=b"hello")], extra=b"GET /never HTTP/1.1\r\n\r\n")
add_invalid("chunk_data_eof_02", b"POST / HTTP/1.1\r\nTransfer-Encoding: "
            b"chunked\r\n\r\n5\r\nhello", "ChunkMissingTerminator")
add_invalid("chunk_data_eof_03", b"POST / HTTP/1.1\r\nTransfer-Encoding: "
            b"chunked\r\n\r\n5\r\nhello\r", "ChunkMissingTerminator")

# ---- PROXY protocol --------------------------------------------------------
PP = {"proxy_protocol": True}
V2 = b"\r\n\r\n\x00\r\nQUIT\n"
add_valid("pp_v2_local_01", [(V2 + b"\x20\x00\x00\x00" + req(
    b"GET", b"/", H)[0], req(b"GET", b"/", H)[1])], config=PP)
add_valid("pp_v1_tcp6_01", [(b"PROXY TCP6 2001:db8::1 2001:db8::2 1 65535\r\n"
                             + req(b"GET", b"/", H)[0],
                             req(b"GET", b"/", H)[1])], config=PP)
add_invalid("pp_v1_unknown_01", b"PROXY UNKNOWN\r\nGET / HTTP/1.1\r\n\r\n",
            "InvalidProxyLine", PP)
add_invalid("pp_v1_long_01", b"PROXY TCP4 " + b"1" * 200 + b"\r\n",
            "InvalidProxyLine", PP)
# OURS: Gunicorn answers 500 for a malformed v2 header
add_invalid("pp_v2_version_01", V2 + b"\x11\x11\x00\x0c" + b"\x00" * 12,
            "InvalidProxyHeader", PP)
add_invalid("pp_v2_udp_01", V2 + b"\x21\x12\x00\x0c" + b"\x00" * 12,
            "InvalidProxyHeader", PP)
add_valid("pp_off_01", [req(b"GET", b"/", H)])


def with_host(wire, config):
    """An HTTP/1.1 request line without a Host header after it gets one,
    so the server's Host rule (RFC 9112 3.2) does not answer first, over a
    socket, the case's own error found later (in the body)."""
    line, sep, rest = wire.partition(b"\r\n")
    head = rest.partition(b"\r\n\r\n")[0]
    if (config.get("require_host") or not sep or not line.endswith(b" HTTP/1.1")
            or not line[:1].isalpha() or b"\r\nhost:" in b"\r\n" + head.lower()
            or rest.startswith((b" ", b"\t"))):
        return wire
    return line + sep + b"Host: example.com\r\n" + rest


def write():
    for kind in ("valid", "invalid"):
        os.makedirs(os.path.join(HERE, kind), exist_ok=True)
    for name, (wire, exp, config) in valid.items():
        base = os.path.join(HERE, "valid", name)
        with open(base + ".http", "wb") as f:
            f.write(wire)
        with open(base + ".json", "w") as f:
            json.dump(exp, f, indent=1)
            f.write("\n")
        if config:
            with open(base + ".config.json", "w") as f:
                json.dump(config, f, indent=1)
                f.write("\n")
    for name, (wire, error, config) in invalid.items():
        wire = with_host(wire, config)
        status = 500 if error in SILENT else STATUS[error]
        exp = {
            "error": error,
            "error_base": "IOError" if error in SILENT else "ParseException",
            "status": status,
            "reason": REASON.get(status, "Internal Server Error"),
            "response_sent": error not in SILENT,
            "config": config,
        }
        with open(os.path.join(HERE, "invalid", name + ".http"), "wb") as f:
            f.write(wire)
        with open(os.path.join(HERE, "invalid", name + ".json"), "w") as f:
            json.dump(exp, f, indent=1)
            f.write("\n")
    print("%d valid, %d invalid cases" % (len(valid), len(invalid)))


if __name__ == "__main__":
    sys.exit(write())
