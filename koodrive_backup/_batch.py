"""The generic bulk engine: dedupe, chunk, bounded concurrency, merge, account for every key.

``prepare`` takes validated keys and a ``send_chunk`` coroutine and returns a ``Batch``;
``Batch.run`` sends the chunks from a pool of workers. It knows no endpoint: ``_bulk``
builds ``delete_scopes``, ``delete_records`` and ``add_scopes`` on it; ``_batch_stream``
adds the public front (``run_batch``, ``stream_batch``, ``BatchStream``). The merged result
(``ok``, ``gone``, the counts) is computed here and only here (``Batch.result``), also for a
stream left early or a run cancelled; ``stops_batch`` is the one rule for giving up on the
other chunks.

Why the care (failures seen in other SDKs): a partly failed batch must not look like success;
one failed chunk must not silently drop the chunks after it; every chunk's error is kept, not
only the last one.
"""

from __future__ import annotations

import asyncio
import inspect
import logging
from collections.abc import Awaitable, Callable, Hashable, Iterable, Iterator
from typing import Generic, TypeVar

import attrs

from . import _validate as check
from ._batch_plan import Counts, Plan
from ._retry import stops_batch
from ._telemetry import BatchWatch, ChunkWatch, NullWatch, ObserveBatch, unobserved
from .errors import KooDriveError
from .models import BatchProgress

__all__ = [
    "Batch",
    "BatchResult",
    "ChunkAnswer",
    "ChunkOutcome",
    "ProgressCallback",
    "SendChunk",
    "prepare",
]

logger = logging.getLogger("koodrive_backup")

K = TypeVar("K", bound=Hashable)
F = TypeVar("F")  # a per-key failure value, e.g. ScopeFailure

#: ``on_progress``: a plain callable, or one returning an awaitable (an ``async def``).
ProgressCallback = Callable[[BatchProgress], object]

_DELETED, _FAILED = 1, 2  # per unique key, in a bytearray (1 byte per ID; 0: unprocessed)
_DELETED_BYTE = bytes([_DELETED])
_FOREIGN_SHOWN = 5  # how many ignored IDs a warning quotes


# --- public value types ---------------------------------------------------------------------


@attrs.frozen
class ChunkAnswer(Generic[K, F]):
    """What the server reported for one chunk request (returned by ``send_chunk``).

    ``deleted``: keys the server reports done. ``failed``: ``(key, failure)`` pairs for keys it
    refused. A key in both is failed; a key of the chunk in neither is unprocessed; a key that
    was not in the chunk is ignored and logged.
    """

    deleted: tuple[K, ...] = ()
    failed: tuple[tuple[K, F], ...] = ()


@attrs.frozen
class ChunkOutcome(Generic[K, F]):
    """One settled chunk, as yielded by ``BatchStream`` (and ``iter_delete_scopes``).

    ``deleted``/``failed``/``unprocessed`` hold the chunk's keys in input order; ``failed``
    ends with one ``15000424`` failure per later repeat (never sent) of a key of this chunk.
    ``error`` is the exception of a chunk request that failed after retries (its keys are then
    all ``unprocessed``). ``sent`` is False for a chunk skipped after an authentication or
    permission failure. ``index`` is the chunk's number (0-based, chunks in input order).
    """

    deleted: tuple[K, ...] = ()
    failed: tuple[F, ...] = ()
    unprocessed: tuple[K, ...] = ()
    error: KooDriveError | None = None
    index: int = attrs.field(default=0, kw_only=True)
    sent: bool = attrs.field(default=True, kw_only=True)


@attrs.frozen
class BatchResult(Generic[K, F]):
    """The merged result of a batch: every input occurrence in exactly one of ``deleted``,
    ``failed`` or ``unprocessed``, each in input order.

    ``errors``: one exception per chunk request that failed after retries, in chunk order.
    ``gone``: the unique keys, in input order, that are deleted or whose failure means "absent
    now" (the ``is_gone`` rule of the run). ``stopped_by``: the chunk error after which no
    new chunk was started (see ``stops_batch``), or ``None``.
    """

    deleted: tuple[K, ...] = ()
    failed: tuple[F, ...] = ()
    unprocessed: tuple[K, ...] = ()
    errors: tuple[KooDriveError, ...] = ()
    gone: tuple[K, ...] = ()
    stopped_by: KooDriveError | None = attrs.field(default=None, kw_only=True)

    @property
    def ok(self) -> bool:
        """True when every input occurrence was done (nothing failed or unprocessed)."""
        return not self.failed and not self.unprocessed


SendChunk = Callable[[list[K]], Awaitable[ChunkAnswer[K, F]]]


def prepare(
    keys: Iterable[K],
    send_chunk: SendChunk[K, F],
    *,
    chunk_size: int,
    concurrency: int,
    repeated_failure: Callable[[K], F],
    on_progress: ProgressCallback | None = None,
    is_gone: Callable[[F], bool] | None = None,
    stop_when: Callable[[KooDriveError], bool] = stops_batch,
    max_chunk_size: int | None = None,
    observe: ObserveBatch = unobserved,
) -> Batch[K, F]:
    """Check the options, consume ``keys`` into a plan, and return the batch, not started."""
    check.positive_int(chunk_size, "chunk_size", maximum=max_chunk_size)
    check.positive_int(concurrency, "concurrency")
    if on_progress is not None and not callable(on_progress):
        raise TypeError("on_progress must be callable")
    rules = _Rules(send_chunk, repeated_failure, on_progress, is_gone, stop_when, observe)
    return Batch(Plan(keys, chunk_size), rules, concurrency)


@attrs.frozen
class _Rules(Generic[K, F]):
    """What a batch does with chunks: send them, name a repeat, report, judge failures."""

    send_chunk: SendChunk[K, F]
    repeated_failure: Callable[[K], F]
    on_progress: ProgressCallback | None
    is_gone: Callable[[F], bool] | None
    stop_when: Callable[[KooDriveError], bool]
    observe: ObserveBatch = unobserved


class Batch(Generic[K, F]):
    """One run of a plan: a pool of workers, the per-key state, running counts, the merge."""

    def __init__(self, plan: Plan[K], rules: _Rules[K, F], concurrency: int) -> None:
        self.plan = plan
        self.rules = rules
        self.concurrency = concurrency
        self.emit: Callable[[ChunkOutcome[K, F]], None] | None = None  # set by BatchStream
        self.state = bytearray(len(plan.unique))
        self.failures: dict[int, F] = {}  # unique index -> the server's failure
        self.errors: dict[int, KooDriveError] = {}  # chunk index -> its exception
        self.stopped_by: KooDriveError | None = None
        self.counts = Counts()
        self._report_lock = asyncio.Lock()

    async def run(self) -> BatchResult[K, F]:
        self.watch: BatchWatch | NullWatch = self.rules.observe(self.plan.total, self.result)
        chunks = iter(range(self.plan.chunk_count))  # shared by the workers: taken lazily
        workers = min(self.concurrency, self.plan.chunk_count)
        with self.watch:  # telemetry: the batch's span is current for the workers it starts
            try:
                async with asyncio.TaskGroup() as group:
                    for _ in range(workers):
                        group.create_task(self._worker(chunks))
            except BaseExceptionGroup as failure:
                raise failure.exceptions[0]  # noqa: B904 -- the worker's own exception
        return self.result()

    async def _worker(self, chunks: Iterator[int]) -> None:
        for index in chunks:
            keys = self.plan.chunk(index)
            if self.stopped_by is not None:
                await self._settle(index, keys, None, None, chunk=None)  # never sent
                continue
            with self.watch.chunk(index, len(keys)) as chunk:  # telemetry: the request's span
                answer, error = await self._send(index, keys)
            await self._settle(index, keys, answer, error, chunk=chunk)

    async def _send(
        self, index: int, keys: list[K]
    ) -> tuple[ChunkAnswer[K, F] | None, KooDriveError | None]:
        try:
            return await self.rules.send_chunk(keys), None
        except Exception as exc:  # any failure inside a chunk, foreseen or not, is its error
            error = exc if isinstance(exc, KooDriveError) else _unexpected(index, exc)
            if self.stopped_by is None and self.rules.stop_when(error):
                self.stopped_by = error  # every later request would fail the same way
            return None, error

    async def _settle(
        self,
        index: int,
        keys: list[K],
        answer: ChunkAnswer[K, F] | None,
        error: KooDriveError | None,
        *,
        chunk: ChunkWatch | NullWatch | None,
    ) -> None:
        base = index * self.plan.chunk_size
        if answer is not None:
            self._apply(index, base, keys, answer)
        if error is not None:
            self.errors[index] = error
        states = self.state[base : base + len(keys)]
        repeats = len(self.plan.repeats_of(index))
        counts = (len(keys), states.count(_DELETED), states.count(_FAILED), repeats)
        self.counts.add(*counts)
        self.watch.settled(chunk, index, counts, error)  # telemetry
        progress = self.counts.progress(self.plan.total)
        if self.emit is not None:
            self.emit(self._outcome(index, base, keys, error, sent=chunk is not None))
        if self.rules.on_progress is not None:
            async with self._report_lock:  # FIFO: reports arrive in order, never overlap
                await _report(self.rules.on_progress, progress)

    def _apply(self, index: int, base: int, keys: list[K], answer: ChunkAnswer[K, F]) -> None:
        if not answer.failed and len(answer.deleted) == len(keys) and answer.deleted == tuple(keys):
            self.state[base : base + len(keys)] = _DELETED_BYTE * len(keys)  # the usual echo
            return
        where = {key: base + offset for offset, key in enumerate(keys)}
        foreign: list[K] = []
        for key in answer.deleted:
            slot = where.get(key)
            if slot is None:
                foreign.append(key)
            else:
                self.state[slot] = _DELETED
        for key, failure in answer.failed:  # after deleted: a key in both lists is failed
            slot = where.get(key)
            if slot is None:
                foreign.append(key)
            elif self.state[slot] != _FAILED:
                self.state[slot] = _FAILED
                self.failures[slot] = failure
        if foreign:
            logger.warning(
                "batch chunk %d: ignored %d ID(s) the server reported but were not sent in "
                "this request: %s",
                index,
                len(foreign),
                ", ".join(repr(key) for key in foreign[:_FOREIGN_SHOWN]),
            )

    def _outcome(
        self, index: int, base: int, keys: list[K], error: KooDriveError | None, *, sent: bool
    ) -> ChunkOutcome[K, F]:
        deleted: list[K] = []
        failed: list[F] = []
        unprocessed: list[K] = []
        for slot, key in enumerate(keys, base):
            state = self.state[slot]
            if state == _DELETED:
                deleted.append(key)
            elif state == _FAILED:
                failed.append(self.failures[slot])
            else:
                unprocessed.append(key)
        failed.extend(self.rules.repeated_failure(key) for key in self.plan.repeats_of(index))
        return ChunkOutcome(
            tuple(deleted), tuple(failed), tuple(unprocessed), error, index=index, sent=sent
        )

    def result(self) -> BatchResult[K, F]:
        """Walk the input positions once: every occurrence lands in exactly one list. Keys of
        chunks not settled (yet, or ever: cancelled) are unprocessed."""
        errors = tuple(self.errors[index] for index in sorted(self.errors))
        unique = self.plan.unique
        if not self.plan.repeat_keys and self.state.count(_DELETED) == len(unique):
            everything = tuple(unique)  # the usual outcome: all deleted, no repeats
            return BatchResult(everything, (), (), errors, everything, stopped_by=self.stopped_by)
        merged = _Merge(self.rules)
        repeats = zip(self.plan.repeat_positions, self.plan.repeat_keys, strict=True)
        next_repeat, repeat_key = next(repeats, (-1, None))
        slots = enumerate(unique)
        for position in range(self.plan.total):
            if position == next_repeat:
                merged.failed.append(self.rules.repeated_failure(repeat_key))  # type: ignore[arg-type]
                next_repeat, repeat_key = next(repeats, (-1, None))
                continue
            slot, key = next(slots)
            merged.add(key, self.state[slot], self.failures.get(slot))
        return merged.result(errors, self.stopped_by)


class _Merge(Generic[K, F]):
    """The four lists of a result, filled in input order."""

    def __init__(self, rules: _Rules[K, F]) -> None:
        self.is_gone = rules.is_gone
        self.deleted: list[K] = []
        self.failed: list[F] = []
        self.unprocessed: list[K] = []
        self.gone: list[K] = []

    def add(self, key: K, state: int, failure: F | None) -> None:
        if state == _DELETED:
            self.deleted.append(key)
            self.gone.append(key)
        elif state == _FAILED:
            assert failure is not None
            self.failed.append(failure)
            if self.is_gone is not None and self.is_gone(failure):
                self.gone.append(key)
        else:
            self.unprocessed.append(key)

    def result(
        self, errors: tuple[KooDriveError, ...], stopped_by: KooDriveError | None
    ) -> BatchResult[K, F]:
        return BatchResult(
            tuple(self.deleted),
            tuple(self.failed),
            tuple(self.unprocessed),
            errors,
            tuple(self.gone),
            stopped_by=stopped_by,
        )


def _unexpected(index: int, exc: Exception) -> KooDriveError:
    """A plain ``KooDriveError`` naming ``exc`` (a bug, a closed client's ``RuntimeError``):
    its traceback (where it happened), no ``__cause__``/``__context__`` (nothing it holds)."""
    error = KooDriveError(f"batch chunk {index}: unexpected {type(exc).__name__}: {exc}")
    logger.warning("%s", error)
    return error.with_traceback(exc.__traceback__)


async def _report(on_progress: ProgressCallback, progress: BatchProgress) -> None:
    """Call ``on_progress`` (plain or async); its exceptions are logged, never raised."""
    try:
        answer = on_progress(progress)
        if inspect.isawaitable(answer):
            await answer
    except Exception:
        logger.warning("on_progress raised; the batch goes on", exc_info=True)
