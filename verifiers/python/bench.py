"""Cost per request of the Python verifier:
``.venv/bin/python verifiers/python/bench.py [requests]`` (after
``bash scripts/build-verifiers python --release``; a debug wheel measures the debug
build). Requests signed by the real edge function (node, target/edge-assets) are
verified by a warm verifier whose key source is in memory (no I/O is measured: a warm
verifier makes no Secrets Manager call). Prints microseconds per request for
``Verifier.verify`` (request → verdict, log and metric lines built; the metric line
handed to a discarding sink), for the WSGI middleware around a trivial app, for the
allowed and denied paths, and for a POST whose 1 KiB body the edge binds."""

from __future__ import annotations

import base64
import json
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).with_name("tests")))

from conftest import Edge  # noqa: E402  (the test helper: the real edge under node)
from edgeseal_verifier import Request, Verifier  # noqa: E402
from edgeseal_verifier.wsgi import EdgesealMiddleware  # noqa: E402

N = int(sys.argv[1]) if len(sys.argv) > 1 else 50_000
KEYID = "4f0c2b6e-0000-4000-8000-000000000001"
KEY = base64.b64encode(os.urandom(64)).decode()


class MemorySource:
    def list_versions(self):
        return [(KEYID, ["AWSCURRENT"], 0)]

    def get_value(self, _version_id):
        return json.dumps({"alg": "hmac-sha256", "key": KEY})


def main():
    edge = Edge()
    sign = edge.package(KEYID, KEY)
    good, bad = [], []
    for i in range(1000):
        fields = sign("/api/orders/12345", f"page={i}&sort=desc")
        headers = [("host", "app.example.com"), ("user-agent", "Amazon CloudFront"),
                   ("x-amz-cf-id", f"id-{i}"), ("accept-encoding", "gzip")] + list(fields.items())
        good.append(Request("GET", "app.example.com", "/api/orders/12345", f"page={i}&sort=desc", headers))
        bad.append(Request("GET", "app.example.com", "/api/orders/12345", f"page={i + 1}&sort=desc", headers))
    # A POST whose 1 KiB body the behavior includes, so the edge binds it (Content-Digest).
    payload = os.urandom(1024)
    bound = []
    for i in range(1000):
        fields = sign("/api/orders", f"n={i}", method="POST", body=payload)
        if "content-digest" not in fields:
            raise SystemExit("the edge did not bind the body")
        headers = [("host", "app.example.com"), ("user-agent", "Amazon CloudFront"),
                   ("x-amz-cf-id", f"id-{i}")] + list(fields.items())
        bound.append(Request("POST", "app.example.com", "/api/orders", f"n={i}", headers, body=payload))
    edge.close()
    verifier = Verifier(secret_id="bench", source=MemorySource(), log=lambda _l: None,
                        metric=lambda _l: None, env={})
    verifier.verify(good[0])

    def measure(label, call, items, expect):
        for i in range(2000):
            call(items[i % len(items)])
        start = time.perf_counter_ns()
        for i in range(N):
            if call(items[i % len(items)]) != expect:
                raise SystemExit(f"{label}: unexpected verdict")
        ns = (time.perf_counter_ns() - start) / N
        print(f"{label:<32} {ns / 1000:7.2f} µs/request  {1e9 / ns:11,.0f} requests/s")

    app = EdgesealMiddleware(lambda environ, start: [b"ok"], verifier=verifier)
    environs = []
    for r in good:
        environ = {"REQUEST_METHOD": "GET", "RAW_URI": f"{r.path}?{r.query}", "wsgi.input": None}
        for name, value in r.headers:
            environ["HTTP_" + name.upper().replace("-", "_")] = value
        environs.append(environ)

    print(f"python {sys.version.split()[0]}, {N} requests each")
    measure("Verifier.verify, allowed", lambda r: verifier.verify(r).allowed, good, True)
    measure("Verifier.verify, bad_signature", lambda r: verifier.verify(r).allowed, bad, False)
    measure("Verifier.verify, 1 KiB body bound", lambda r: verifier.verify(r).allowed, bound, True)
    measure("WSGI middleware, allowed", lambda e: app(dict(e), lambda s, h: None) == [b"ok"],
            environs, True)


if __name__ == "__main__":
    main()
