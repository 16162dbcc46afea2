"""Body binding through the WSGI and ASGI middleware and ``Verifier.verify``: requests
whose body the real edge bound with Content-Digest (a behavior that includes the body),
against Secrets Manager on moto through boto3. The middleware reads the body, the Rust
core compares it with the digest the signature covers, and the application still
receives the body whole."""

from __future__ import annotations

import hashlib
import io
import json

import pytest

from conftest import HOST, Lines, create_secret, send
from edgeseal_verifier import Request, Verifier
from edgeseal_verifier.wsgi import EdgesealMiddleware as WsgiEdgeseal
from test_scenario import serve_asgi, serve_wsgi


def answer(body: bytes, reason: str) -> bytes:
    return json.dumps({"length": len(body), "sha256": hashlib.sha256(body).hexdigest(),
                       "reason": reason}).encode()


def expected(body: bytes) -> dict:
    return {"length": len(body), "sha256": hashlib.sha256(body).hexdigest(),
            "reason": "signature_current"}


def wsgi_echo(environ, start_response):
    """Reads the body as PEP 3333 says: CONTENT_LENGTH bytes from wsgi.input."""
    length = int(environ.get("CONTENT_LENGTH") or 0)
    body = environ["wsgi.input"].read(length)
    start_response("200 OK", [("Content-Type", "application/json")])
    return [answer(body, environ["edgeseal"].reason)]


async def asgi_echo(scope, receive, send_):
    """Receives http.request messages until more_body is false."""
    chunks = []
    while True:
        message = await receive()
        chunks.append(message.get("body", b""))
        if not message.get("more_body"):
            break
    await send_({"type": "http.response.start", "status": 200,
                 "headers": [(b"content-type", b"application/json")]})
    await send_({"type": "http.response.body", "body": answer(b"".join(chunks), scope["edgeseal"].reason)})


def body_binding(sm, edge, tag, serve, echo, chunked):
    name, v1, key = create_secret(sm, f"body-{tag}")
    lines = Lines()
    settings = dict(secret_id=name, client=sm, log=lines.log, metric=lines.metric, env={},
                    max_body_bytes=1_100_000)
    port, close = serve(Verifier(**settings), echo)
    strict_port, strict_close = serve(Verifier(require_content_digest="true", **settings), echo)
    # A small limit, so that the body it refuses to read fits in the server's first read
    # of the socket (a server closing on unread bytes resets the connection).
    settings["max_body_bytes"] = 16
    small_port, small_close = serve(Verifier(**settings), echo)
    sign = edge.package(v1, key)

    def post(port_, signed, sent, **kw):
        headers = sign("/orders", "", None, method="POST", body=signed)
        return send(port_, "/orders", "", headers, method="POST", body=sent, **kw)

    def last_reason():
        return lines.metrics[-1]["Reason"]

    try:
        # The body the edge bound: allowed, and the application reads it whole, also
        # when larger than a socket read and sent in pieces.
        order = b'{"order":42,"items":["a","b"]}'
        large = b"edgeseal-" * 80_000
        for body in (order, large):
            for framing in (False, True) if chunked else (False,):
                status, out = post(port, body, body, chunked=framing)
                assert status == 200, out
                assert json.loads(out) == expected(body)

        # Replayed with another body of the same length: denied, the app never runs.
        before = len(lines.metrics)
        status, out = post(port, order, b'{"order":43,"items":["a","b"]}')
        assert (status, json.loads(out)) == (403, {"message": "Forbidden"})
        assert last_reason() == "body_digest_mismatch"
        assert len(lines.metrics) == before + 1, "one verdict, one metric line"
        deny = lines.logs[-1]
        assert (deny["level"], deny["message"], deny["reason"], deny["keyid"]) == (
            "WARN", "deny", "body_digest_mismatch", v1)

        # Longer than MAX_BODY_BYTES: denied, as it cannot be what the edge bound.
        assert post(small_port, order, order)[0] == 403
        assert last_reason() == "body_digest_mismatch"
        assert post(small_port, order[:16], order[:16])[0] == 200

        # REQUIRE_CONTENT_DIGEST: a signature that does not bind the body is denied
        # body_not_signed; without it, it passes.
        unbound = sign("/orders", "", None, method="POST")
        assert send(port, "/orders", "", unbound, method="POST", body=order)[0] == 200
        assert send(strict_port, "/orders", "", unbound, method="POST", body=order)[0] == 403
        assert last_reason() == "body_not_signed"
        assert post(strict_port, order, order)[0] == 200
    finally:
        close()
        strict_close()
        small_close()


def test_wsgi_compares_the_bound_body_then_hands_it_on(sm, edge):
    body_binding(sm, edge, "wsgi", serve_wsgi, wsgi_echo, chunked=False)


def test_asgi_compares_the_bound_body_then_hands_it_on(sm, edge):
    body_binding(sm, edge, "asgi", serve_asgi, asgi_echo, chunked=True)


def test_wsgi_reads_a_chunked_body_where_the_server_terminates_the_input(sm, edge):
    """PEP 3333's `wsgi.input_terminated` (gunicorn, uWSGI with chunked input): no
    CONTENT_LENGTH, the input ends at the body's end."""
    name, v1, key = create_secret(sm, "body-wsgi-chunked")
    app = WsgiEdgeseal(wsgi_echo, verifier=Verifier(secret_id=name, client=sm, env={},
                                                    log=Lines().log, metric=False))
    body = b"a chunked body"
    headers = edge.package(v1, key)("/orders", "", None, method="POST", body=body)

    def call(sent):
        environ = {
            "REQUEST_METHOD": "POST", "RAW_URI": "/orders", "HTTP_HOST": HOST,
            "wsgi.input": io.BytesIO(sent), "wsgi.input_terminated": True,
            **{"HTTP_" + n.upper().replace("-", "_"): v for n, v in headers.items()},
        }
        status = []
        out = b"".join(app(environ, lambda s, h: status.append(s)))
        return status[0], out

    status, out = call(body)
    assert status == "200 OK", out
    assert json.loads(out) == expected(body)
    assert call(b"another body")[0] == "403 Forbidden"


def test_verify_compares_the_body_given_or_read(sm, edge):
    name, v1, key = create_secret(sm, "body-verify")
    verifier = Verifier(secret_id=name, client=sm, env={}, log=Lines().log, metric=False,
                        max_body_bytes=8)
    assert verifier.max_body_bytes == 8
    fields = edge.package(v1, key)("/p", "", None, method="PUT", body=b"hello")

    def request(body=None):
        return Request("PUT", HOST, "/p", "", list(fields.items()), body=body)

    assert verifier.verify(request(b"hello")).reason == "signature_current"
    assert verifier.verify(request(), read_body=lambda limit: b"hello").allowed
    for body, read in ((b"hellO", None), (b"hello, world", None), (None, None),
                       (None, lambda limit: None)):
        assert verifier.verify(request(body), read_body=read).reason == "body_digest_mismatch"
    with pytest.raises(ValueError, match="MAX_BODY_BYTES is invalid"):
        Verifier(secret_id=name, client=sm, env={}, max_body_bytes="lots")
    with pytest.raises(ValueError, match="REQUIRE_CONTENT_DIGEST is invalid"):
        Verifier(secret_id=name, client=sm, env={}, require_content_digest="yes")
