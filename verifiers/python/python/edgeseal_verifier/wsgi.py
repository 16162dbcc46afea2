"""WSGI middleware: denied requests get 401/403 with API Gateway's bodies; allowed ones
carry the verdict as ``environ["edgeseal"]``. When the signature binds the body
(``Content-Digest``), the body is read (at most ``MAX_BODY_BYTES``) for the core to
compare, and the application reads the same bytes from ``environ["wsgi.input"]``."""

from __future__ import annotations

import io
from typing import Optional
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


def _read(stream, size: int) -> bytes:
    """Up to `size` bytes: a WSGI input may return fewer per read."""
    chunks, total = [], 0
    while total < size:
        chunk = stream.read(min(size - total, 65536))
        if not chunk:
            break
        chunks.append(chunk)
        total += len(chunk)
    return b"".join(chunks)


def read_body(environ, limit: int) -> Optional[bytes]:
    """The request body, at most `limit` bytes, or None past it (nothing more is read)
    or when it ends before its Content-Length. PEP 3333: read CONTENT_LENGTH bytes; a
    server that sets ``wsgi.input_terminated`` (chunked requests) ends the input at the
    body's end; without either there is no body. What was read is put back as
    ``wsgi.input`` (and CONTENT_LENGTH), so the application reads it intact."""
    stream = environ.get("wsgi.input")
    length = (environ.get("CONTENT_LENGTH") or "").strip()
    if stream is None:
        body = b""
    elif length:
        try:
            size = int(length)
        except ValueError:
            return None
        if size < 0 or size > limit:
            return None
        body = _read(stream, size)
        if len(body) != size:
            return None
    elif environ.get("wsgi.input_terminated"):
        body = _read(stream, limit + 1)
        if len(body) > limit:
            return None
    else:
        body = b""
    environ["wsgi.input"] = io.BytesIO(body)
    environ["CONTENT_LENGTH"] = str(len(body))
    return body


class EdgesealMiddleware:
    """``app = EdgesealMiddleware(app, secret_id=...)`` or ``verifier=Verifier(...)``."""

    def __init__(self, app, verifier: Verifier = None, **options):
        self.app = app
        self.verifier = verifier or Verifier(**options)

    def __call__(self, environ, start_response):
        outcome = self.verifier.verify(
            request_from_environ(environ), read_body=lambda limit: read_body(environ, limit)
        )
        if not outcome.allowed:
            status = outcome.status
            start_response(_REASON[status], [("Content-Type", "application/json")])
            return [_BODY[status]]
        environ["edgeseal"] = outcome
        return self.app(environ, start_response)
