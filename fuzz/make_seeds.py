#!/usr/bin/env python3
"""Builds the fuzz targets' seed corpora from the conformance cases.

fuzz/corpus/head/     [options][cut] + each case's bytes
fuzz/corpus/chunked/  [step] + the body of each chunked case
(fuzz/corpus/proxy/ is written by hand.)

Run again when the corpora change: python3 fuzz/make_seeds.py
"""

import glob
import hashlib
import json
import os

HERE = os.path.dirname(os.path.abspath(__file__))
ROOTS = [os.path.join(HERE, "..", "tests", "corpus", "gunicorn"),
         os.path.join(HERE, "..", "tests", "corpus", "cunicorn")]
FLAGS = ["permit_unconventional_http_method", "casefold_http_method",
         "strip_header_spaces", "permit_obsolete_folding",
         "permit_unconventional_http_version"]
MAX_SEED = 16384


def options(cfg):
    opt = 0
    for bit, name in enumerate(FLAGS):
        if cfg.get(name):
            opt |= 1 << bit
    opt |= {"drop": 0, "dangerous": 1, "refuse": 2}.get(
        cfg.get("header_map", "drop"), 0) << 5
    return opt


def write(kind, data):
    name = hashlib.sha1(data).hexdigest()[:16]
    with open(os.path.join(HERE, "corpus", kind, name), "wb") as f:
        f.write(data)


def main():
    for kind in ("head", "chunked"):
        os.makedirs(os.path.join(HERE, "corpus", kind), exist_ok=True)
    for root in ROOTS:
        for path in sorted(glob.glob(os.path.join(root, "*", "*.http"))):
            data = open(path, "rb").read()
            if len(data) > MAX_SEED:
                continue
            base = path[:-5]
            cfg = {}
            if os.path.exists(base + ".config.json"):
                cfg = json.load(open(base + ".config.json"))
            elif "invalid" in path:
                cfg = json.load(open(base + ".json")).get("config", {})
            write("head", bytes([options(cfg), 128]) + data)
            head_end = data.find(b"\r\n\r\n")
            if b"chunked" in data.lower() and head_end > 0:
                write("chunked", bytes([3]) + data[head_end + 4:])


if __name__ == "__main__":
    main()
