"""ASGI middleware: denied HTTP requests get 401/403 with API Gateway's bodies; allowed
ones carry the verdict as ``scope["edgeseal"]``. Lifespan and WebSocket scopes pass
through unchecked (a WebSocket handshake is an HTTP request, but CloudFront's origin
request for it is not signed by this profile)."""

from __future__ import annotations

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


class EdgesealMiddleware:
    """``app = EdgesealMiddleware(app, secret_id=...)`` or ``verifier=Verifier(...)``."""

    def __init__(self, app, verifier: Verifier = None, **options):
        self.app = app
        self.verifier = verifier or Verifier(**options)

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        outcome = await self.verifier.verify_async(request_from_scope(scope))
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
        await self.app(scope, receive, send)
