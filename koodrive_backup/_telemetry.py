"""Telemetry: one object per client that the session, the batch engine and the managed lock
report to, at defined points; it feeds the user's ``Hooks`` and the OpenTelemetry adapter.

The points: a call starts and ends (``Telemetry.watch`` -> ``CallWatch``), an attempt starts
and ends, an exchange is answered, the 401 re-send, a retry (seen when the next attempt
starts: its reason is the previous failure, its wait the time since), a rate-limit wait; a
bulk operation starts and ends (``BatchWatch``), a chunk is sent and settles; a lock renewal.

Zero cost when unused: with ``telemetry=False`` (or without ``opentelemetry-api``) and no
hooks the session holds no watcher at all and checks one attribute per call. With
OpenTelemetry importable and no provider configured, ``watch`` asks the adapter's cheap
probe (two variable reads) and returns ``None``; the call then runs the plain path.

``_otel`` (the only importer of ``opentelemetry``) is imported when a client is built with
telemetry on, never at package import.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Sized
from contextvars import ContextVar
from functools import cache, partial
from importlib import metadata
from typing import TYPE_CHECKING, Any, Protocol, TypeVar
from urllib.parse import urlsplit

from . import _endpoints as ep
from ._hooks import (
    BatchEvent,
    CallEvent,
    ChunkEvent,
    Hooks,
    LockRenewalEvent,
    RateLimitEvent,
    RequestEvent,
    RequestInfo,
    ResponseEvent,
    RetryEvent,
    TelemetryOptions,
)
from ._protocol import Endpoint, Request
from .errors import APIConnectionError, APIError, APITimeoutError, KooDriveError

if TYPE_CHECKING:
    from ._otel import Otel, Scope

__all__ = ["NULL_BATCH", "BatchWatch", "CallWatch", "Telemetry", "otel_adapter"]

logger = logging.getLogger("koodrive_backup")
Monotonic = Callable[[], float]
E = TypeVar("E")


def _operations() -> dict[Endpoint[Any], str]:
    """The client method of each endpoint: the constants are named after them (GET_RECORD)."""
    found = {name: getattr(ep, name) for name in ep.__all__}
    return {value: name.lower() for name, value in found.items() if isinstance(value, Endpoint)}


OPERATIONS = _operations()

#: The chunk being sent in this task, if any: its call reports into the chunk's span.
_CHUNK: ContextVar[ChunkWatch | None] = ContextVar("koodrive_chunk", default=None)


def otel_adapter(telemetry: bool | TelemetryOptions) -> Otel | None:
    """The OpenTelemetry adapter for ``BackupClient(telemetry=...)``, or ``None``.

    ``True``: the global providers, if ``opentelemetry-api`` is importable (else off).
    ``TelemetryOptions``: as told; without ``opentelemetry-api`` that is an error.
    """
    if telemetry is False:
        return None
    options = telemetry if isinstance(telemetry, TelemetryOptions) else TelemetryOptions()
    if not isinstance(telemetry, bool | TelemetryOptions):
        raise TypeError("telemetry must be True, False or a TelemetryOptions")
    from ._otel import Otel

    try:
        return Otel(options, _version())
    except ModuleNotFoundError as exc:
        if not (exc.name or "").startswith("opentelemetry"):
            raise
        if telemetry is True:
            return None  # API.md: traced "when opentelemetry-api is importable"
        raise ImportError(
            "TelemetryOptions needs opentelemetry-api: pip install 'koodrive-backup[otel]'"
        ) from None


@cache
def _version() -> str:
    """This package's version, for the instrumentation scope of spans and metrics."""
    try:
        return metadata.version("koodrive-backup")
    except metadata.PackageNotFoundError:  # pragma: no cover - run from a source tree
        return "0"


class Telemetry:
    """What one client reports to: the user's hooks and/or the OpenTelemetry adapter.

    ``enabled`` is false when neither exists (or the hooks override nothing): the session
    then skips telemetry entirely. ``watch(req)`` gives a call's ``CallWatch``, or ``None``
    while nothing listens; without hooks, the adapter's gate checks first, in a few
    instructions, whether any provider records.
    """

    def __init__(
        self, hooks: Hooks | None, otel: Otel | None, *, base_url: str, clock: Monotonic
    ) -> None:
        if hooks is not None and not isinstance(hooks, Hooks):
            raise TypeError("hooks must be an instance of a Hooks subclass")
        self.hooks = hooks
        #: The hooks the subclass overrides: events are built for these only.
        self.wanted = _overridden(hooks)
        self.otel = otel
        self.clock = clock
        self.enabled = bool(self.wanted) or otel is not None
        self.watch: Callable[[Request], CallWatch | None] = self._watch
        if otel is not None and not self.wanted:
            self.watch = otel.gate(self._watch)
        parts = urlsplit(base_url)
        self.server = (parts.hostname or "", parts.port or (443 if parts.scheme == "https" else 80))

    def _recorder(self) -> Otel | None:
        """The adapter if it records now (a provider is configured), else ``None``."""
        otel = self.otel
        return otel if otel is not None and otel.active() else None

    def _watch(self, req: Request) -> CallWatch | None:
        otel = self._recorder()
        return CallWatch(self, req, otel) if otel is not None or self.wanted else None

    def batches(self, operation: str) -> Callable[[int, ResultOf], BatchWatch | NullWatch]:
        """How the engine watches each run of bulk ``operation`` (``prepare(observe=...)``)."""
        return partial(self._batch, operation)

    def _batch(self, operation: str, total: int, result_of: ResultOf) -> BatchWatch | NullWatch:
        otel = self._recorder()
        if otel is None and not self.wanted:
            return NULL_BATCH
        return BatchWatch(self, otel, operation, total, result_of)

    def lock_renewal(self, lock: RenewedLock) -> RenewalWatch | NullWatch:
        """A context around one background renewal of ``lock``."""
        otel = self._recorder()
        if otel is None and not self.wanted:
            return NULL_CHUNK
        return RenewalWatch(self, otel, lock)

    def tell(self, otel: Otel | None, hook: str, kind: Callable[..., E], *fields: Any) -> E | None:
        """``kind(*fields)`` if the adapter (``otel``) or hook ``hook`` wants it, after calling
        the hook; what a hook raises is logged, never passed on to the call."""
        wanted = hook in self.wanted
        if otel is None and not wanted:
            return None
        event = kind(*fields)
        if wanted:
            try:
                getattr(self.hooks, hook)(event)
            except Exception:
                logger.warning("telemetry hook %s raised; ignored", hook, exc_info=True)
        return event


def _overridden(hooks: Hooks | None) -> frozenset[str]:
    if hooks is None:
        return frozenset()
    names = [name for name in vars(Hooks) if name.startswith("on_")]
    return frozenset(name for name in names if getattr(type(hooks), name) is not vars(Hooks)[name])


def _outcome(error: BaseException | None) -> str:
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

    def __init__(self, telemetry: Telemetry, req: Request, otel: Otel | None) -> None:
        self.t = telemetry
        self.otel = otel
        chunk = _CHUNK.get()
        if chunk is not None:
            _CHUNK.set(None)  # the chunk's first call is its request; later ones are its own
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
        self.resend = False
        self.scope: Scope | None = None
        if otel is not None:
            self.scope = otel.call_started(self.info, chunk.adopt() if chunk else None)

    def __enter__(self) -> CallWatch:
        return self

    def __exit__(self, kind: object, error: BaseException | None, tb: object) -> None:
        code = error.code if isinstance(error, APIError) else None
        outcome, duration = _outcome(error), self.t.clock() - self.started
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
        self.sent_at, self.resend, self.status = now, False, None
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

    def resending(self, error: KooDriveError) -> None:
        """The answer was a 401 and the request is re-sent with a fresh credential."""
        event = self._response(error)
        if event is not None and self.otel is not None and self.scope is not None:
            self.otel.resent(self.scope, event)
        self.sent_at, self.resend = self.t.clock(), True
        self.t.tell(None, "on_request", RequestEvent, self.info, self.attempts, True)

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


# --- bulk operations --------------------------------------------------------------------------


class Settled(Protocol):
    """What a batch watch reads of the engine's ``BatchResult``."""

    @property
    def deleted(self) -> Sized: ...
    @property
    def failed(self) -> Sized: ...
    @property
    def unprocessed(self) -> Sized: ...
    @property
    def gone(self) -> Sized: ...
    @property
    def errors(self) -> Sized: ...
    @property
    def ok(self) -> bool: ...


ResultOf = Callable[[], Settled]


class NullWatch:
    """Watches nothing: what the engine and the lock get when nobody listens."""

    __slots__ = ()

    def __enter__(self) -> NullWatch:
        return self

    def __exit__(self, kind: object, error: BaseException | None, tb: object) -> None:
        return None

    def chunk(self, index: int, size: int) -> NullWatch:
        return self

    def settled(
        self,
        chunk: object,
        index: int,
        size: int,
        counts: tuple[int, int, int],
        error: KooDriveError | None,
    ) -> None:
        return None

    def failed(self, error: BaseException) -> None:
        return None


NULL_BATCH = NULL_CHUNK = NullWatch()


class BatchWatch:
    """One run of a bulk operation: ``with watch:`` around the run (its span is current for
    the workers, which inherit it), ``with watch.chunk(i, n):`` around each chunk request,
    ``watch.settled(...)`` when a chunk is accounted for."""

    def __init__(
        self,
        telemetry: Telemetry,
        otel: Otel | None,
        operation: str,
        total: int,
        result_of: ResultOf,
    ) -> None:
        self.t = telemetry
        self.otel = otel
        self.operation = operation
        self.total = total
        self.result_of = result_of
        self.started = telemetry.clock()
        self.scope = None if otel is None else otel.batch_started(operation, total)

    def __enter__(self) -> BatchWatch:
        return self

    def __exit__(self, kind: object, error: BaseException | None, tb: object) -> None:
        result = self.result_of()
        outcome = _outcome(error) if error is not None else "ok" if result.ok else "partial"
        counts = (len(result.deleted), len(result.failed), len(result.unprocessed))
        fields = (*counts, len(result.gone), len(result.errors), self.t.clock() - self.started)
        event = self.t.tell(
            self.otel, "on_batch", BatchEvent, self.operation, outcome, self.total, *fields
        )
        if event is not None and self.otel is not None and self.scope is not None:
            self.otel.batch_ended(self.scope, event, error)

    def chunk(self, index: int, size: int) -> ChunkWatch:
        return ChunkWatch(self, index, size)

    def settled(
        self,
        chunk: ChunkWatch | NullWatch | None,
        index: int,
        size: int,
        counts: tuple[int, int, int],
        error: KooDriveError | None,
    ) -> None:
        """Chunk ``index`` is accounted: ``counts`` = (deleted, failed, unprocessed) input
        occurrences; ``chunk`` is ``None`` for a chunk never sent."""
        sent = chunk if isinstance(chunk, ChunkWatch) else None
        duration = 0.0 if sent is None else self.t.clock() - sent.started
        fields = (index, size, *counts, sent is not None, error, duration)
        event = self.t.tell(self.otel, "on_chunk", ChunkEvent, self.operation, *fields)
        if event is not None and self.otel is not None:
            scope, adopted = (None, False) if sent is None else (sent.scope, sent.adopted)
            self.otel.chunk_settled(scope, event, adopted=adopted)


class ChunkWatch:
    """One chunk request: while inside ``with``, its span is current and the first call made
    reports into it (``adopt``); the span ends when the batch accounts for the chunk."""

    def __init__(self, batch: BatchWatch, index: int, size: int) -> None:
        self.operation = f"{batch.operation}.chunk"
        self.started = batch.t.clock()
        self.adopted = False
        self.scope = (
            None if batch.otel is None else batch.otel.chunk_started(batch.operation, index, size)
        )
        self._token = _CHUNK.set(self)

    def adopt(self) -> Scope | None:
        self.adopted = True
        return self.scope

    def __enter__(self) -> ChunkWatch:
        return self

    def __exit__(self, kind: object, error: BaseException | None, tb: object) -> None:
        _CHUNK.reset(self._token)
        if self.scope is not None:
            self.scope.leave()
            if error is not None:  # cancelled or a bug: the chunk is never accounted for
                self.scope.close({}, error, record=not self.adopted)


# --- managed locks ----------------------------------------------------------------------------


class RenewedLock(Protocol):
    """What a renewal watch reads of a ``ManagedLock``."""

    lock_id: str
    module_code: str
    lost: bool
    renewals: int
    error: BaseException | None


class RenewalWatch:
    """``with telemetry.lock_renewal(lock) as renewal:`` around one renewal; the outcome is
    read from the lock afterwards (renewed, lost); else it is retrying (``renewal.error``)."""

    def __init__(self, telemetry: Telemetry, otel: Otel | None, lock: RenewedLock) -> None:
        self.t = telemetry
        self.otel = otel
        self.lock = lock
        self.error: BaseException | None = None
        self.renewals = lock.renewals
        self.started = telemetry.clock()
        self.scope = None if otel is None else otel.renewal_started(lock.module_code)

    def __enter__(self) -> RenewalWatch:
        return self

    def failed(self, error: BaseException) -> None:
        """The renewal failed with ``error`` and will be tried again (the lock still lives)."""
        self.error = error

    def __exit__(self, kind: object, error: BaseException | None, tb: object) -> None:
        lock = self.lock
        if error is not None:
            outcome, cause = _outcome(error), error
        elif lock.renewals > self.renewals:
            outcome, cause = "renewed", None
        else:
            outcome, cause = ("lost", lock.error) if lock.lost else ("retrying", self.error)
        fields = (lock.lock_id, lock.module_code, outcome, lock.renewals, cause)
        duration = self.t.clock() - self.started
        event = self.t.tell(self.otel, "on_lock_renewal", LockRenewalEvent, *fields, duration)
        if event is not None and self.otel is not None and self.scope is not None:
            self.otel.renewal_ended(self.scope, event)
