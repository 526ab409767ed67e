"""Telemetry: one object per client that the session, the batch engine and the managed lock
report to, at defined points; it feeds the user's ``Hooks`` and the OpenTelemetry adapter.

The points: a call (``Telemetry.watch`` -> ``_call_watch.CallWatch``: the call, its attempts
and exchanges, retries, re-sends, rate-limit waits); a bulk operation starts and ends
(``BatchWatch``), a chunk is sent and settles (``ChunkWatch``); a lock renewal.

Zero cost when unused: with ``telemetry=False`` (or without ``opentelemetry-api``) and no
hooks the session holds no watcher at all and checks one attribute per call. With
OpenTelemetry importable and no provider configured, ``watch`` asks the adapter's cheap
probe (two variable reads) and returns ``None``; the call then runs the plain path.

``_otel`` (the only importer of ``opentelemetry``) is imported when a client is built with
telemetry on, never at package import.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sized
from functools import cache, partial
from importlib import metadata
from typing import TYPE_CHECKING, Any, Protocol, TypeVar
from urllib.parse import urlsplit

from ._call_watch import CHUNK, CallWatch, outcome_of
from ._hooks import BatchEvent, ChunkEvent, Hooks, LockRenewalEvent, TelemetryOptions
from ._protocol import Request
from .errors import KooDriveError

if TYPE_CHECKING:
    from ._otel import Otel, Scope

__all__ = [
    "NULL_BATCH",
    "BatchWatch",
    "ChunkWatch",
    "NullWatch",
    "ObserveBatch",
    "RenewalWatch",
    "Telemetry",
    "otel_adapter",
    "unobserved",
]

logger = logging.getLogger("koodrive_backup")
Monotonic = Callable[[], float]
E = TypeVar("E")


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
    try:
        if options.tracer_provider is None and options.meter_provider is None:
            return _global_adapter(options.include_paths)
        from ._otel import Otel

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
def _global_adapter(include_paths: bool) -> Otel:
    """The adapter on the global providers: one per process, shared by the clients (until a
    provider is set, the API's proxy meter keeps every instrument made on it for good)."""
    from ._otel import Otel

    return Otel(TelemetryOptions(include_paths=include_paths), _version())


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

    def batches(self, operation: str) -> ObserveBatch:
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
#: A settled chunk: (its size, keys deleted, keys failed, later repeats of its keys).
Counts = tuple[int, int, int, int]


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
        self, chunk: object, index: int, counts: Counts, error: KooDriveError | None
    ) -> None:
        return None

    def failed(self, error: BaseException) -> None:
        return None


NULL_BATCH = NULL_CHUNK = NullWatch()
#: How the batch engine gets the watch of a run: ``observe(total, result_of)``.
ObserveBatch = Callable[[int, ResultOf], "BatchWatch | NullWatch"]


def unobserved(total: int, result_of: ResultOf) -> NullWatch:
    """No telemetry (the engine's default: ``run_batch`` and ``stream_batch``)."""
    return NULL_BATCH


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
        outcome = outcome_of(error) if error is not None else "ok" if result.ok else "partial"
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
        counts: Counts,
        error: KooDriveError | None,
    ) -> None:
        """Chunk ``index`` is accounted: ``counts`` = (its size, the keys deleted, the keys
        failed, the later repeats of its keys); ``chunk`` is ``None`` if it was never sent."""
        size, deleted, failed, repeats = counts
        sent = chunk if isinstance(chunk, ChunkWatch) else None
        duration = 0.0 if sent is None else self.t.clock() - sent.started
        occurrences = (deleted, failed + repeats, size - deleted - failed)  # as BatchProgress
        fields = (index, size, *occurrences, sent is not None, error, duration)
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
        self._token = CHUNK.set(self)

    def adopt(self) -> Scope | None:
        self.adopted = True
        return self.scope

    def __enter__(self) -> ChunkWatch:
        return self

    def __exit__(self, kind: object, error: BaseException | None, tb: object) -> None:
        CHUNK.reset(self._token)
        if self.scope is not None:
            self.scope.leave()
            if error is not None:  # cancelled or a bug: the chunk is never accounted for
                self.scope.close({}, error, record=not self.adopted)


# --- managed locks ----------------------------------------------------------------------------


class RenewedLock(Protocol):
    """What a renewal watch reads of a ``ManagedLock``."""

    @property
    def lock_id(self) -> str: ...

    @property
    def module_code(self) -> str: ...

    @property
    def lost(self) -> bool: ...

    @property
    def renewals(self) -> int: ...

    @property
    def error(self) -> BaseException | None: ...


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
            outcome, cause = outcome_of(error), error
        elif lock.renewals > self.renewals:
            outcome, cause = "renewed", None
        else:
            outcome, cause = ("lost", lock.error) if lock.lost else ("retrying", self.error)
        fields = (lock.lock_id, lock.module_code, outcome, lock.renewals, cause)
        duration = self.t.clock() - self.started
        event = self.t.tell(self.otel, "on_lock_renewal", LockRenewalEvent, *fields, duration)
        if event is not None and self.otel is not None and self.scope is not None:
            self.otel.renewal_ended(self.scope, event)
