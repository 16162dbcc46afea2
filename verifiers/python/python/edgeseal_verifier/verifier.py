"""A verifier for one secret: the Rust engine decides; this module does the I/O
(Secrets Manager through boto3, the clock, log and metric output)."""

from __future__ import annotations

import asyncio
import itertools
import os
import sys
import threading
import time
from dataclasses import dataclass, field, replace
from typing import Awaitable, Callable, List, Mapping, Optional, Tuple

from . import _core
from .keys import SecretsManagerSource, SourceError, default_client

# The authorizer's variables (origin-verifier/README.md); options are their lowercase.
VARIABLES = (
    "SECRET_ID", "SECRET_NAME", "SIGNATURE_LABEL", "SIGNATURE_TAG", "MAX_AGE_SECS",
    "CLOCK_SKEW_SECS", "PREVIOUS_KEY_GRACE_SECS", "CACHE_TTL_SECS", "MAX_STALE_SECS",
    "REFRESH_RETRY_SECS", "UNKNOWN_KEY_MIN_INTERVAL_SECS", "SECRETS_MANAGER_TIMEOUT_MS",
    "SECRET_KEY_NAME", "METRICS_NAMESPACE", "SIGNING_PROFILE", "REQUIRE_CONTENT_DIGEST",
    "MAX_BODY_BYTES",
)
LEVELS = {"TRACE": 0, "DEBUG": 1, "INFO": 2, "WARN": 3, "WARNING": 3, "ERROR": 4, "OFF": 5}
SIGNATURE_HEADERS = ("signature-input", "signature", "content-digest")


def resolve_settings(options: Mapping[str, object], env: Mapping[str, str]) -> dict:
    """Settings by the authorizer's names: each option (lowercase) over its variable."""
    settings = {}
    for name in VARIABLES:
        value = options.get(name.lower())
        if value is None:
            value = env.get(name)
        if value is not None:
            settings[name] = str(value)
    unknown = set(options) - {n.lower() for n in VARIABLES}
    if unknown:
        raise TypeError(f"unknown option(s): {', '.join(sorted(unknown))}")
    return settings


@dataclass
class Request:
    """The parts of a request a signature covers. `path` and `query` as received (the
    query without `?`); `headers` as (lowercase name, value) pairs; `body`, when the
    caller holds it, for a signature that binds it (else ``verify``'s ``read_body``)."""

    method: str
    host: Optional[str]
    path: str
    query: str = ""
    headers: List[Tuple[str, str]] = field(default_factory=list)
    request_id: Optional[str] = None
    body: Optional[bytes] = None


# Reads the body, at most the limit given: the bytes, or None past the limit.
ReadBody = Callable[[int], Optional[bytes]]
ReadBodyAsync = Callable[[int], Awaitable[Optional[bytes]]]


@dataclass(frozen=True)
class Outcome:
    """A verdict: allowed or not, the reason code, and on allow the key that matched."""

    allowed: bool
    reason: str
    keyid: Optional[str] = None
    stage: Optional[str] = None
    age: Optional[int] = None

    @property
    def status(self) -> int:
        """401 when no signature was presented at all, else 403 (as API Gateway)."""
        return 401 if self.reason == "missing" else 403


def _stdout(line: str) -> None:
    sys.stdout.write(line + "\n")
    sys.stdout.flush()


class Verifier:
    """Checks requests against one secret's keys with the authorizer's rules.

    Options are the authorizer's variables in lowercase (``secret_id``,
    ``cache_ttl_secs``, ...) over the environment, and: ``client`` (a boto3 Secrets
    Manager client) or ``source`` (``list_versions()``, ``get_value(id)``); ``clock``
    (milliseconds; default the system clock); ``log`` and ``metric`` (line writers,
    default stdout; ``metric=False`` drops metrics); ``log_level`` (default
    ``LOG_LEVEL`` or ``AWS_LAMBDA_LOG_LEVEL``, else INFO); ``env``.
    """

    def __init__(self, *, client=None, source=None, clock: Optional[Callable[[], int]] = None,
                 log: Optional[Callable[[str], None]] = None, metric=None,
                 log_level: Optional[str] = None, env: Optional[Mapping[str, str]] = None,
                 **options):
        env = os.environ if env is None else env
        settings = resolve_settings(options, env)
        level = str(log_level or env.get("LOG_LEVEL") or env.get("AWS_LAMBDA_LOG_LEVEL") or "INFO")
        self._level = LEVELS.get(level.upper(), LEVELS["INFO"])
        self._engine = _core.Engine(settings, self._level <= LEVELS["DEBUG"])
        if source is None:
            timeout = int(settings.get("SECRETS_MANAGER_TIMEOUT_MS", "2000"))
            secret_id = settings.get("SECRET_ID") or settings.get("SECRET_NAME")
            source = SecretsManagerSource(client or default_client(timeout), secret_id)
        self._source = source
        self._clock = clock or (lambda: time.time_ns() // 1_000_000)
        self._log = log or _stdout
        self._metric = (lambda _line: None) if metric is False else (metric or _stdout)
        self._refreshing = threading.Lock()
        self._ids = itertools.count(1)

    def _emit(self, lines) -> None:
        for level, text in lines:
            if LEVELS.get(level, LEVELS["ERROR"]) >= self._level:
                self._log(text)

    def refresh(self) -> None:
        """Refresh the keys now. Single flight: a caller arriving during another
        thread's refresh waits for that one instead of starting its own."""
        if not self._refreshing.acquire(blocking=False):
            with self._refreshing:
                return
        try:
            self._load()
        finally:
            self._refreshing.release()

    def _refresh_in_background(self) -> None:
        if not self._refreshing.locked():
            threading.Thread(target=self.refresh, name="edgeseal-refresh", daemon=True).start()

    def _load(self) -> None:
        try:
            versions = self._source.list_versions()
            needed = self._engine.values_needed(versions)
            values = [(version_id, self._source.get_value(version_id)) for version_id in needed]
            self._emit(self._engine.apply(self._clock(), versions, None, values))
        except SourceError as err:
            self._emit(self._engine.failed(self._clock(), err.operation, err.detail))
        except Exception as err:  # a failed refresh never fails a request: it is logged
            self._emit(self._engine.failed(self._clock(), "SecretsManager", type(err).__name__))

    @property
    def max_body_bytes(self) -> int:
        """``MAX_BODY_BYTES``: the most body read for a signature that binds it."""
        return self._engine.max_body_bytes

    def _with_id(self, request: Request) -> Request:
        """`request` with a request id: its own, else one made up (for every line)."""
        if request.request_id is not None:
            return request
        return replace(request, request_id=f"edgeseal-{os.getpid()}-{next(self._ids)}")

    def _check(self, request: Request, headers, recheck: bool):
        return self._engine.check(self._clock(), request.method, request.host, request.path,
                                  request.query, request.request_id, headers, recheck)

    def _check_body(self, request: Request, headers, body: Optional[bytes]):
        if body is not None and not isinstance(body, bytes):
            body = bytes(body)  # bytearray, memoryview: the extension takes bytes
        return self._engine.check_body(self._clock(), request.method, request.host,
                                       request.path, request.query, request.request_id,
                                       headers, body)

    def _first(self, request: Request):
        only = [(n, v) for n, v in request.headers if n in SIGNATURE_HEADERS]
        return only, self._check(request, only, False)

    def _second(self, request: Request, only, result):
        """After any refresh: (the headers the verdict was reached over, the result)."""
        if result[2] == "component_unavailable":
            # The signature covers more headers than these fields: look again with all.
            return request.headers, self._check(request, request.headers, True)
        return only, result

    def _finish(self, result) -> Outcome:
        (_, allowed, reason, keyid, stage, age, logs, metric) = result
        self._emit(logs)
        self._metric(metric)
        return Outcome(allowed, reason, keyid, stage, age)

    def verify(self, request: Request, read_body: Optional[ReadBody] = None) -> Outcome:
        """The verdict on `request` (blocking: WSGI and plain code).

        When the signature covers ``Content-Digest``, the body is ``request.body`` or
        ``read_body(max_body_bytes)`` (None past the limit), and the core compares them
        (``body_digest_mismatch``; no body at all is denied the same way)."""
        request = self._with_id(request)
        due = self._engine.refresh_due(self._clock())
        if due == 2:
            self.refresh()
        elif due == 1:
            self._refresh_in_background()
        only, result = self._first(request)
        if result[0] == "refresh":
            self._emit(result[6])
            self.refresh()
            result = self._check(request, only, True)
        headers, result = self._second(request, only, result)
        if result[0] == "read_body":
            body = request.body
            if body is None and read_body is not None:
                try:
                    body = read_body(self.max_body_bytes)
                except Exception:  # an unreadable body cannot match: denied below
                    body = None
            result = self._check_body(request, headers, body)
        return self._finish(result)

    async def verify_async(self, request: Request,
                           read_body: Optional[ReadBodyAsync] = None) -> Outcome:
        """The verdict on `request`; waits for Secrets Manager in a thread (ASGI).
        ``read_body`` is awaited (see :meth:`verify`)."""
        request = self._with_id(request)
        due = self._engine.refresh_due(self._clock())
        if due == 2:
            await asyncio.to_thread(self.refresh)
        elif due == 1:
            self._refresh_in_background()
        only, result = self._first(request)
        if result[0] == "refresh":
            self._emit(result[6])
            await asyncio.to_thread(self.refresh)
            result = self._check(request, only, True)
        headers, result = self._second(request, only, result)
        if result[0] == "read_body":
            body = request.body
            if body is None and read_body is not None:
                try:
                    body = await read_body(self.max_body_bytes)
                except Exception:  # an unreadable body cannot match: denied below
                    body = None
            result = self._check_body(request, headers, body)
        return self._finish(result)
