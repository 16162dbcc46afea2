"""ASGI middleware: denied HTTP requests get 401/403 with API Gateway's bodies; allowed
ones carry the verdict as ``scope["edgeseal"]``. When the signature binds the body
(``Content-Digest``), the body is received (at most ``MAX_BODY_BYTES``) for the core to
compare, and the application receives the same bytes as one ``http.request`` message.
Lifespan and WebSocket scopes pass through unchecked (a WebSocket handshake is an HTTP
request, but CloudFront's origin request for it is not signed by this profile)."""

from __future__ import annotations

from typing import Optional

from .verifier import Request, Verifier

_BODY = {401: b'{"message":"Unauthorized"}', 403: b'{"message":"Forbidden"}'}


def request_from_scope(scope) -> Request:
    """The covered parts of an ASGI HTTP scope: `raw_path` as received (servers that
    omit it: `path`, re-encoded), `query_string` as received, headers as sent."""
    headers = [(n.decode("latin-1").lower(), v.decode("latin-1")) for n, v in scope.get("headers", [])]
    raw_path = scope.get("raw_path")
    if raw_path:
        path = raw_path.decode("latin-1")
    else:
        from urllib.parse import quote

        path = quote(scope.get("path", "/"), safe="/!$&'()*+,;=:@~-._")
    host = next((v for n, v in headers if n == "host"), None)
    request_id = next((v for n, v in headers if n in ("x-amz-cf-id", "x-request-id")), None)
    return Request(
        method=scope.get("method", "GET"),
        host=host,
        path=path,
        query=scope.get("query_string", b"").decode("latin-1"),
        headers=headers,
        request_id=request_id,
    )


class _Body:
    """Receives the body for the digest check, then replays it to the application."""

    def __init__(self, receive):
        self._receive = receive
        self._body: Optional[bytes] = None

    async def read(self, limit: int) -> Optional[bytes]:
        """The body, at most `limit` bytes; None past it (nothing more is received) or
        when the client disconnects first."""
        chunks, total = [], 0
        while True:
            message = await self._receive()
            if message["type"] != "http.request":
                return None
            chunk = message.get("body", b"")
            total += len(chunk)
            if total > limit:
                return None
            chunks.append(chunk)
            if not message.get("more_body", False):
                break
        self._body = b"".join(chunks)
        return self._body

    async def receive(self):
        """The application's `receive`: the body read, whole, then the server's."""
        if self._body is not None:
            body, self._body = self._body, None
            return {"type": "http.request", "body": body, "more_body": False}
        return await self._receive()


class EdgesealMiddleware:
    """``app = EdgesealMiddleware(app, secret_id=...)`` or ``verifier=Verifier(...)``."""

    def __init__(self, app, verifier: Verifier = None, **options):
        self.app = app
        self.verifier = verifier or Verifier(**options)

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        body = _Body(receive)
        outcome = await self.verifier.verify_async(request_from_scope(scope), read_body=body.read)
        if not outcome.allowed:
            status = outcome.status
            await send({
                "type": "http.response.start",
                "status": status,
                "headers": [(b"content-type", b"application/json")],
            })
            await send({"type": "http.response.body", "body": _BODY[status]})
            return
        scope["edgeseal"] = outcome
        await self.app(scope, body.receive, send)
