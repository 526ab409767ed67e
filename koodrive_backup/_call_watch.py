"""One call under telemetry: ``CallWatch``, made per call by ``Telemetry.watch`` when
something listens, and told by the session when the call and each attempt start and end,
when an exchange is answered, when it is re-sent (401, clock), when it waited for a rate limit.

A retry is seen when the next attempt starts: its reason is the previous attempt's failure,
its wait the time since that attempt ended (by the client's clock). Events are built only
for the adapter or for the hooks a subclass overrides (``Reporter.tell``).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from contextvars import ContextVar
from typing import TYPE_CHECKING, Any, Protocol, TypeVar

from . import _endpoints as ep
from ._hooks import (
    CallEvent,
    RateLimitEvent,
    RequestEvent,
    RequestInfo,
    ResponseEvent,
    RetryEvent,
)
from ._protocol import Endpoint, Request
from .errors import APIConnectionError, APIError, APITimeoutError, KooDriveError

if TYPE_CHECKING:
    from ._otel import Otel, Scope

__all__ = ["CHUNK", "OPERATIONS", "CallWatch", "PendingChunk", "Reporter", "outcome_of"]

E = TypeVar("E")


class Reporter(Protocol):
    """What a watch reports through (``Telemetry``): the clock, the server, the hooks."""

    clock: Callable[[], float]
    server: tuple[str, int]

    def tell(self, otel: Otel | None, hook: str, kind: Callable[..., E], *fields: Any) -> E | None:
        """``kind(*fields)`` if the adapter or hook ``hook`` wants it, after calling the hook."""


class PendingChunk(Protocol):
    """A chunk being sent (``_telemetry.ChunkWatch``): its first call reports into it."""

    operation: str

    def adopt(self) -> Scope | None: ...


#: The chunk being sent in this task, if any.
CHUNK: ContextVar[PendingChunk | None] = ContextVar("koodrive_chunk", default=None)


def _operations() -> dict[Endpoint[Any], str]:
    """The client method of each endpoint: the constants are named after them (GET_RECORD)."""
    found = {name: getattr(ep, name) for name in ep.__all__}
    return {value: name.lower() for name, value in found.items() if isinstance(value, Endpoint)}


OPERATIONS = _operations()


def outcome_of(error: BaseException | None) -> str:
    if error is None:
        return "ok"
    return "cancelled" if isinstance(error, asyncio.CancelledError) else type(error).__name__


def retry_reason(error: KooDriveError) -> str:
    """``"timeout"``, ``"connection"`` or ``"http_<status>"``: a bounded set of values."""
    if isinstance(error, APITimeoutError):
        return "timeout"
    if isinstance(error, APIConnectionError):
        return "connection"
    if isinstance(error, APIError):
        return f"http_{error.status}"
    return type(error).__name__


class CallWatch:
    """One call under telemetry: ``with watch:`` around it, ``with watch.attempt(n):`` around
    each attempt; ``answered``/``resending``/``rate_limited`` from inside an attempt."""

    def __init__(self, telemetry: Reporter, req: Request, otel: Otel | None) -> None:
        self.t = telemetry
        self.otel = otel
        chunk = CHUNK.get()
        if chunk is not None:
            CHUNK.set(None)  # the chunk's first call is its request; later ones are its own
        operation = chunk.operation if chunk else OPERATIONS.get(req.endpoint, req.route)
        host, port = telemetry.server
        endpoint = req.endpoint
        self.info = RequestInfo(
            operation, endpoint.method, endpoint.url_template, req.path, host, port
        )
        self.started = self.sent_at = self.ended_at = telemetry.clock()
        self.attempts = 0
        self.retry_wait = 0.0
        self.status: int | None = None
        self.failure: KooDriveError | None = None  # the last attempt's, for the retry reason
        self.resend: str | None = None
        self.scope: Scope | None = None
        if otel is not None:
            self.scope = otel.call_started(self.info, chunk.adopt() if chunk else None)

    def __enter__(self) -> CallWatch:
        return self

    def __exit__(self, kind: object, error: BaseException | None, tb: object) -> None:
        code = error.code if isinstance(error, APIError) else None
        outcome, duration = outcome_of(error), self.t.clock() - self.started
        fields = (outcome, error, self.attempts, self.retry_wait, self.status, code, duration)
        event = self.t.tell(self.otel, "on_call", CallEvent, self.info, *fields)
        if event is not None and self.otel is not None and self.scope is not None:
            self.otel.call_ended(self.scope, event)

    def attempt(self, number: int) -> _Attempt:
        """Mark attempt ``number`` as started (after a retry's wait); ``with`` it to end it."""
        now = self.t.clock()
        if number > 1 and self.failure is not None:
            self._retried(number, now - self.ended_at)
        self.attempts = number
        self.sent_at, self.resend, self.status = now, None, None
        self.t.tell(None, "on_request", RequestEvent, self.info, number)
        return _Attempt(self)

    def _retried(self, number: int, wait: float) -> None:
        assert self.failure is not None
        self.retry_wait += wait
        reason = retry_reason(self.failure)
        fields = (self.info, number, reason, self.failure, wait)
        event = self.t.tell(self.otel, "on_retry", RetryEvent, *fields)
        if event is not None and self.otel is not None and self.scope is not None:
            self.otel.retried(self.scope, event)

    def answered(self, status: int) -> None:
        """The transport returned an answer with ``status`` (not yet classified)."""
        self.status = status

    def resending(self, error: KooDriveError, reason: str) -> None:
        """The answer ended with ``error``, and the request is sent again within the attempt:
        ``"auth"``, after a 401, with a fresh credential; ``"clock"``, with a corrected
        ``X-Date`` (the answer's ``Date`` showed ours was off)."""
        event = self._response(error)
        if event is not None and self.otel is not None and self.scope is not None:
            self.otel.resent(self.scope, event, reason)
        self.sent_at, self.resend = self.t.clock(), reason
        self.t.tell(None, "on_request", RequestEvent, self.info, self.attempts, reason)

    def rate_limited(self, seconds: float) -> None:
        """The attempt waited ``seconds`` for a rate-limit token (``RateLimit``, API.md)."""
        fields = (self.info, self.attempts, seconds)
        event = self.t.tell(self.otel, "on_rate_limit", RateLimitEvent, *fields)
        if event is not None and self.otel is not None and self.scope is not None:
            self.otel.rate_limited(self.scope, event)

    def _response(self, error: KooDriveError | None) -> ResponseEvent | None:
        duration = self.t.clock() - self.sent_at
        fields = (self.info, self.attempts, self.status, error, duration, self.resend)
        return self.t.tell(self.otel, "on_response", ResponseEvent, *fields)

    def attempt_ended(self, error: BaseException | None) -> None:
        self.ended_at = self.t.clock()
        failure = error if isinstance(error, KooDriveError) else None
        self.failure = failure
        if error is not None and failure is None:
            return  # cancelled, or a bug: no answer to report (the call's end says which)
        event = self._response(failure)
        if event is not None and self.otel is not None and self.scope is not None:
            self.otel.attempt_ended(self.scope, event)


class _Attempt:
    """``with watch.attempt(n):`` ends the attempt with whatever the block raised."""

    __slots__ = ("watch",)

    def __init__(self, watch: CallWatch) -> None:
        self.watch = watch

    def __enter__(self) -> None:
        return None

    def __exit__(self, kind: object, error: BaseException | None, tb: object) -> None:
        self.watch.attempt_ended(error)
