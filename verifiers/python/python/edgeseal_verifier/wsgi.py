"""WSGI middleware: denied requests get 401/403 with API Gateway's bodies; allowed ones
carry the verdict as ``environ["edgeseal"]``."""

from __future__ import annotations

from urllib.parse import quote

from .verifier import Request, Verifier

_BODY = {401: b'{"message":"Unauthorized"}', 403: b'{"message":"Forbidden"}'}
_REASON = {401: "401 Unauthorized", 403: "403 Forbidden"}


def request_from_environ(environ) -> Request:
    """The covered parts of a WSGI request. The path as received comes from `RAW_URI`
    (gunicorn) or `REQUEST_URI` (uWSGI, mod_wsgi); without either, SCRIPT_NAME +
    PATH_INFO (which WSGI delivers percent-decoded) are encoded again, which is exact for
    paths whose escapes are all needed and in uppercase hex."""
    raw = environ.get("RAW_URI") or environ.get("REQUEST_URI")
    if raw:
        path, _, query = raw.partition("?")
    else:
        decoded = (environ.get("SCRIPT_NAME", "") + environ.get("PATH_INFO", "")) or "/"
        path = quote(decoded.encode("latin-1"), safe="/!$&'()*+,;=:@~-._")
        query = environ.get("QUERY_STRING", "")
    headers = []
    for key, value in environ.items():
        if key.startswith("HTTP_"):
            headers.append((key[5:].replace("_", "-").lower(), value))
    host = environ.get("HTTP_HOST")
    return Request(
        method=environ.get("REQUEST_METHOD", "GET"),
        host=host,
        path=path,
        query=query,
        headers=headers,
        request_id=environ.get("HTTP_X_AMZ_CF_ID") or environ.get("HTTP_X_REQUEST_ID"),
    )


class EdgesealMiddleware:
    """``app = EdgesealMiddleware(app, secret_id=...)`` or ``verifier=Verifier(...)``."""

    def __init__(self, app, verifier: Verifier = None, **options):
        self.app = app
        self.verifier = verifier or Verifier(**options)

    def __call__(self, environ, start_response):
        outcome = self.verifier.verify(request_from_environ(environ))
        if not outcome.allowed:
            status = outcome.status
            start_response(_REASON[status], [("Content-Type", "application/json")])
            return [_BODY[status]]
        environ["edgeseal"] = outcome
        return self.app(environ, start_response)
