"""edgeseal verifier for Python: checks the RFC 9421 signature edgeseal's edge function
puts on every CloudFront origin request, with the authorizer's key rules, over the Rust
core (a PyO3 extension). See README.md.

- :class:`Verifier` (``verify``, ``verify_async``) and :func:`verify` for plain code;
- :mod:`edgeseal_verifier.asgi` and :mod:`edgeseal_verifier.wsgi`: the middleware.
"""

from __future__ import annotations

from typing import Optional

from .keys import SecretsManagerSource, SourceError
from .verifier import VARIABLES, Outcome, Request, Verifier, resolve_settings

__all__ = [
    "VARIABLES", "Outcome", "Request", "SecretsManagerSource", "SourceError", "Verifier",
    "resolve_settings", "verify",
]

_shared: Optional[Verifier] = None


def verify(request: Request) -> Outcome:
    """Verify one request with a verifier configured from the environment (created on
    first use)."""
    global _shared
    if _shared is None:
        _shared = Verifier()
    return _shared.verify(request)
