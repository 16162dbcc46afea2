"""A shortened run of the demo's scenario through each middleware: traffic signed by the
real edge function, a key rotation in the middle driven on Secrets Manager (moto) as the
rotator drives it (AWSPENDING, then AWSCURRENT, the old key AWSPREVIOUS), edges on the
old and the new key side by side while CloudFront propagates, and attacks (unsigned,
forged, tampered, replayed after expiry) sent straight to the origin. Passes with 0
legitimate requests rejected and 0 attacks through."""

from __future__ import annotations

import json
import socket
import threading
import time
from collections import Counter
from socketserver import ThreadingMixIn
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

import uvicorn

from conftest import Lines, create_secret, new_key, promote, put_pending, send
from edgeseal_verifier import Verifier
from edgeseal_verifier.asgi import EdgesealMiddleware as AsgiEdgeseal
from edgeseal_verifier.wsgi import EdgesealMiddleware as WsgiEdgeseal

PER_PHASE = 40


def wsgi_app(environ, start_response):
    start_response("200 OK", [("Content-Type", "application/json")])
    return [json.dumps({"ok": True, "keyid": environ["edgeseal"].keyid}).encode()]


async def asgi_app(scope, receive, send_):
    body = json.dumps({"ok": True, "keyid": scope["edgeseal"].keyid}).encode()
    await send_({"type": "http.response.start", "status": 200,
                 "headers": [(b"content-type", b"application/json")]})
    await send_({"type": "http.response.body", "body": body})


class RawUriHandler(WSGIRequestHandler):
    """wsgiref with the request target as sent in RAW_URI, as gunicorn provides it."""

    def get_environ(self):
        environ = super().get_environ()
        environ["RAW_URI"] = self.path
        return environ

    def log_message(self, *args):
        pass


class ThreadingWSGIServer(ThreadingMixIn, WSGIServer):
    daemon_threads = True


def serve_wsgi(verifier, app=wsgi_app):
    server = make_server("127.0.0.1", 0, WsgiEdgeseal(app, verifier=verifier),
                         server_class=ThreadingWSGIServer, handler_class=RawUriHandler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()

    def close():
        server.shutdown()
        server.server_close()

    return server.server_address[1], close


def serve_asgi(verifier, app=asgi_app):
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    config = uvicorn.Config(AsgiEdgeseal(app, verifier=verifier), log_level="warning",
                            lifespan="off")
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    while not server.started:
        time.sleep(0.01)

    def close():
        server.should_exit = True
        thread.join(timeout=10)

    return sock.getsockname()[1], close


def scenario(sm, edge, tag, serve):
    name, v1, key = create_secret(sm, tag)
    lines = Lines()
    verifier = Verifier(secret_id=name, client=sm, cache_ttl_secs=1,
                        unknown_key_min_interval_secs=1, log=lines.log, metric=lines.metric, env={})
    port, close = serve(verifier)
    legit, rejected, attacks, through = 0, [], 0, []
    counter = iter(range(1, 100_000))

    def send_legit(sign):
        nonlocal legit
        query = f"id={next(counter)}&b=two%20words&a=1"
        status, body = send(port, "/orders/caf%C3%A9", query, sign("/orders/caf%C3%A9", query))
        legit += 1
        if status != 200:
            rejected.append(f"{status} {body!r}")

    def send_attack(kind, path, query, headers):
        nonlocal attacks
        status, _ = send(port, path, query, headers)
        attacks += 1
        if status == 200 or status >= 500:
            through.append(f"{kind}: {status}")

    def phase(signs, keyid):
        for i in range(PER_PHASE):
            send_legit(signs[i % len(signs)])
        forged = edge.package(keyid, new_key()[0])
        sign = signs[0]
        send_attack("unsigned", "/orders", "a=1", {})
        send_attack("forged", "/orders", "a=1", forged("/orders", "a=1"))
        send_attack("tampered path", "/admin", "a=1", sign("/orders", "a=1"))
        send_attack("tampered query", "/orders", "a=2", sign("/orders", "a=1"))
        send_attack("replayed after expiry", "/orders", "a=1", sign("/orders", "a=1", int(time.time()) - 400))

    try:
        edge1 = edge.package(v1, key)
        phase([edge1], v1)                           # steady state
        version, new = put_pending(sm, name)         # createSecret
        edge2 = edge.package(version, new)           # setSecret: a new edge version
        phase([edge1, edge2], version)               # propagating, key pending
        promote(sm, name, version, v1)               # finishSecret
        phase([edge1, edge2], version)               # old edges still signing
        time.sleep(1.1)                              # a TTL refresh sees the demotion
        phase([edge2, edge1], version)               # AWSPREVIOUS within its grace
    finally:
        close()

    reasons = Counter(f"{m['Verdict']}:{m['Reason']}" for m in lines.metrics)
    print(f"{tag}: {legit} legitimate, {len(rejected)} rejected; {attacks} attacks, "
          f"{len(through)} through; {dict(reasons)}")
    assert rejected == [], "legitimate requests rejected"
    assert through == [], "attacks through"
    for reason in ("deny:missing", "deny:bad_signature", "deny:too_old", "allow:signature_current",
                   "allow:signature_pending", "allow:signature_previous"):
        assert reasons[reason] > 0, reason


def test_wsgi_rotation_under_traffic_attacks_denied(sm, edge):
    scenario(sm, edge, "wsgi", serve_wsgi)


def test_asgi_rotation_under_traffic_attacks_denied(sm, edge):
    scenario(sm, edge, "asgi", serve_asgi)
