"""The generic bulk engine: dedupe, chunk, bounded concurrency, merge, account for every key.

``run_batch`` / ``stream_batch`` take validated keys and a ``send_chunk`` coroutine, and
return a ``BatchResult`` (or a ``BatchStream`` of ``ChunkOutcome`` s). ``batching`` builds the
scope deletion of seed page 001 on it; ``_bulk`` builds ``delete_records`` and ``add_scopes``.

Why the care (failures seen in other SDKs): a partly failed batch must not look like success;
one failed chunk must not silently drop the chunks after it; every chunk's error is kept, not
only the last one.
"""

from __future__ import annotations

import asyncio
import inspect
import logging
from array import array
from collections.abc import AsyncIterator, Awaitable, Callable, Hashable, Iterable, Iterator
from types import TracebackType
from typing import Generic, Protocol, TypeVar

import attrs

from . import _validate as check
from .errors import AuthenticationError, KooDriveError, PermissionDeniedError
from .models import NOT_FOUND_CODE, BatchProgress, DeleteScopesResult, ScopeFailure

__all__ = [
    "STOP_ERRORS",
    "BatchResult",
    "BatchStream",
    "ChunkAnswer",
    "ChunkOutcome",
    "Failure",
    "ProgressCallback",
    "prepare",
    "run_batch",
    "stream_batch",
]

logger = logging.getLogger("koodrive_backup")

K = TypeVar("K", bound=Hashable)


class Failure(Protocol):
    """What the engine needs of a per-key failure value: its code (``"15000418"``, ...)."""

    @property
    def error_code(self) -> str: ...


F = TypeVar("F", bound=Failure)

#: Chunk errors after which no new chunk is started: every later request would fail the same way.
STOP_ERRORS: tuple[type[KooDriveError], ...] = (AuthenticationError, PermissionDeniedError)
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
    ``gone``: the unique keys, in input order, that are deleted or failed with the "gone" code
    (``15000418`` by default). ``to_result()`` gives the public ``DeleteScopesResult``.
    """

    deleted: tuple[K, ...] = ()
    failed: tuple[F, ...] = ()
    unprocessed: tuple[K, ...] = ()
    errors: tuple[KooDriveError, ...] = ()
    gone: tuple[K, ...] = ()

    @property
    def ok(self) -> bool:
        """True when every input occurrence was done (nothing failed or unprocessed)."""
        return not self.failed and not self.unprocessed

    def to_result(self: BatchResult[str, ScopeFailure]) -> DeleteScopesResult:
        """This result as the public ``DeleteScopesResult`` (for ``str`` keys)."""
        # ``gone`` is only stored when it differs from ``deleted`` (some IDs were not found):
        # otherwise the model derives the same tuple, and compares equal to a plain one.
        gone = None if len(self.gone) == len(self.deleted) else self.gone
        return DeleteScopesResult(
            self.deleted, self.failed, self.unprocessed, self.errors, gone_ids=gone
        )


# --- the generic engine ---------------------------------------------------------------------


async def run_batch(
    keys: Iterable[K],
    send_chunk: Callable[[list[K]], Awaitable[ChunkAnswer[K, F]]],
    *,
    chunk_size: int,
    concurrency: int,
    repeated_failure: Callable[[K], F],
    on_progress: ProgressCallback | None = None,
    gone_code: str | None = NOT_FOUND_CODE,
    stop_on: tuple[type[KooDriveError], ...] = STOP_ERRORS,
) -> BatchResult[K, F]:
    """Send ``keys`` in chunks with bounded concurrency and account for every occurrence.

    ``keys``: validated keys in input order, duplicates included (any iterable; it is consumed
    completely before the first request, so a validating generator that raises aborts the
    batch with no request made). The first occurrence of a key is sent; every later one is put
    in ``failed`` as ``repeated_failure(key)`` and never sent.

    ``send_chunk(chunk)``: sends one chunk (a fresh list of at most ``chunk_size`` unique keys,
    input order) and returns a ``ChunkAnswer``; retrying is its business (the session layer
    does it). If it raises a ``KooDriveError`` the chunk's keys go to ``unprocessed`` and the
    exception to ``errors``; the other chunks go on. Per-key outcomes (say a 404 for one
    record) belong in ``ChunkAnswer.failed``: catch them in ``send_chunk``. After an error
    that is an instance of ``stop_on`` (authentication/permission by default) no new chunk is
    started; the chunks never sent are settled as unprocessed (``sent=False``). Any other
    exception (a bug, ``RuntimeError`` for a closed client) cancels the batch and propagates.

    ``chunk_size``, ``concurrency``: ints >= 1 (else ``ValueError``/``TypeError``, before
    anything is consumed). At most ``concurrency`` ``send_chunk`` calls run at once, from a
    pool of that many workers (no task per chunk).

    ``on_progress``: plain or async callable, called once per chunk (in completion order,
    calls never overlap) with running ``BatchProgress`` counts of input occurrences. The
    repeats of a key are counted (as failed) with the chunk of its first occurrence, so
    ``done == total`` after the last call. An exception it raises is logged and ignored.

    ``gone_code``: the failure code that means "absent now" for ``BatchResult.gone``.

    Cancelling the call cancels the in-flight ``send_chunk`` calls and raises
    ``CancelledError``; no task is left behind.
    """
    return await prepare(
        keys, send_chunk, chunk_size, concurrency, repeated_failure, on_progress, gone_code, stop_on
    ).run()


def stream_batch(
    keys: Iterable[K],
    send_chunk: Callable[[list[K]], Awaitable[ChunkAnswer[K, F]]],
    *,
    chunk_size: int,
    concurrency: int,
    repeated_failure: Callable[[K], F],
    on_progress: ProgressCallback | None = None,
    gone_code: str | None = NOT_FOUND_CODE,
    stop_on: tuple[type[KooDriveError], ...] = STOP_ERRORS,
) -> BatchStream[K, F]:
    """Like ``run_batch`` but returns a ``BatchStream`` of ``ChunkOutcome`` s.

    Arguments are validated and ``keys`` consumed here, at the call; the first request is sent
    when iteration starts.
    """
    return BatchStream(
        prepare(
            keys,
            send_chunk,
            chunk_size,
            concurrency,
            repeated_failure,
            on_progress,
            gone_code,
            stop_on,
        )
    )


class BatchStream(Generic[K, F], AsyncIterator[ChunkOutcome[K, F]]):
    """Async iterator of ``ChunkOutcome`` s, one per chunk, in the order chunks complete.

    Use ``async with stream: async for outcome in stream: ...`` (or ``contextlib.aclosing``):
    leaving the block early cancels the chunks in flight. Chunks go on being sent while the
    loop body runs (outcomes wait in a buffer). After the last outcome, ``result`` holds the
    merged ``BatchResult``. An unexpected exception of the batch is raised by the iteration.
    """

    def __init__(self, batch: _Batch[K, F]) -> None:
        self._batch = batch
        self._queue: asyncio.Queue[ChunkOutcome[K, F] | None] = asyncio.Queue()  # None: the end
        batch.emit = self._queue.put_nowait
        self._driver: asyncio.Task[BatchResult[K, F]] | None = None
        self._result: BatchResult[K, F] | None = None
        self._closed = False

    @property
    def result(self) -> BatchResult[K, F]:
        """The merged result; ``RuntimeError`` until the stream has been iterated to its end."""
        if self._result is None:
            raise RuntimeError("the batch result is known once the stream is exhausted")
        return self._result

    def __aiter__(self) -> BatchStream[K, F]:
        return self

    async def __anext__(self) -> ChunkOutcome[K, F]:
        if self._closed:
            raise StopAsyncIteration
        if self._driver is None:
            self._driver = asyncio.create_task(self._drive())
        try:
            item = await self._queue.get()
        except asyncio.CancelledError:
            await self.aclose()
            raise
        if item is None:
            self._closed = True
            self._result = await self._driver  # re-raises what stopped the batch, if anything
            raise StopAsyncIteration
        return item

    async def _drive(self) -> BatchResult[K, F]:
        try:
            return await self._batch.run()
        finally:
            self._queue.put_nowait(None)

    async def aclose(self) -> None:
        """Stop: cancel the chunks in flight and wait for them. Safe to call more than once."""
        self._closed = True
        driver = self._driver
        if driver is None:
            return
        driver.cancel()
        await asyncio.wait([driver])
        if not driver.cancelled():
            driver.exception()  # retrieved: no "exception was never retrieved" log

    async def __aenter__(self) -> BatchStream[K, F]:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()


def prepare(
    keys: Iterable[K],
    send_chunk: Callable[[list[K]], Awaitable[ChunkAnswer[K, F]]],
    chunk_size: int,
    concurrency: int,
    repeated_failure: Callable[[K], F],
    on_progress: ProgressCallback | None,
    gone_code: str | None,
    stop_on: tuple[type[KooDriveError], ...],
) -> _Batch[K, F]:
    check.positive_int(chunk_size, "chunk_size")
    check.positive_int(concurrency, "concurrency")
    if on_progress is not None and not callable(on_progress):
        raise TypeError("on_progress must be callable")
    plan = _Plan(keys, chunk_size)
    return _Batch(plan, send_chunk, concurrency, repeated_failure, on_progress, gone_code, stop_on)


class _Plan(Generic[K]):
    """The deduplicated input, kept compact (a million IDs must fit in well under 250 MB).

    ``unique``: first occurrences in input order; chunk ``i`` is ``unique[i*size:(i+1)*size]``.
    Repeats (usually few): their input positions and keys, and per chunk (of the first
    occurrence) their keys in input order. No object is made per occurrence.
    """

    def __init__(self, keys: Iterable[K], chunk_size: int) -> None:
        self.chunk_size = chunk_size
        self.unique: list[K] = []
        self.repeat_positions = array("q")
        self.repeat_keys: list[K] = []
        self.repeats: dict[int, list[K]] = {}  # chunk index -> repeats of its keys
        self.total = self._scan(keys)
        self.chunk_count = -(-len(self.unique) // chunk_size)

    def _scan(self, keys: Iterable[K]) -> int:
        if isinstance(keys, list) and len(set(keys)) == len(keys):
            self.unique = list(keys)  # no repeats (usual): a set test is ~2x cheaper than a dict
            return len(keys)
        first_chunk: dict[K, int] = {}  # key -> chunk of its first occurrence; freed on return
        chunk, fill, total = 0, 0, 0
        for position, key in enumerate(keys):
            total = position + 1
            known = len(first_chunk)
            seen_in = first_chunk.setdefault(key, chunk)
            if len(first_chunk) != known:
                self.unique.append(key)
                fill += 1
                if fill == self.chunk_size:
                    chunk, fill = chunk + 1, 0  # one int object shared by a whole chunk
            else:
                self.repeat_positions.append(position)
                self.repeat_keys.append(key)
                self.repeats.setdefault(seen_in, []).append(key)
        return total

    def chunk(self, index: int) -> list[K]:
        start = index * self.chunk_size
        return self.unique[start : start + self.chunk_size]

    def repeats_of(self, index: int) -> list[K]:
        """Later occurrences of the keys of chunk ``index``, in input order."""
        return self.repeats.get(index, [])


class _Batch(Generic[K, F]):
    """One run of a plan: a pool of workers, the per-key state, running counts, the merge."""

    def __init__(
        self,
        plan: _Plan[K],
        send_chunk: Callable[[list[K]], Awaitable[ChunkAnswer[K, F]]],
        concurrency: int,
        repeated_failure: Callable[[K], F],
        on_progress: ProgressCallback | None,
        gone_code: str | None,
        stop_on: tuple[type[KooDriveError], ...],
    ) -> None:
        self.plan = plan
        self.send_chunk = send_chunk
        self.concurrency = concurrency
        self.repeated_failure = repeated_failure
        self.on_progress = on_progress
        self.gone_code = gone_code
        self.stop_on = stop_on
        self.emit: Callable[[ChunkOutcome[K, F]], None] | None = None  # set by BatchStream
        self.state = bytearray(len(plan.unique))
        self.failures: dict[int, F] = {}  # unique index -> the server's failure
        self.errors: dict[int, KooDriveError] = {}  # chunk index -> its exception
        self.stopped = False
        self.counts = [0, 0, 0, 0]  # done, deleted, failed, unprocessed
        self._report_lock = asyncio.Lock()

    async def run(self) -> BatchResult[K, F]:
        chunks = iter(range(self.plan.chunk_count))  # shared by the workers: taken lazily
        workers = min(self.concurrency, self.plan.chunk_count)
        try:
            async with asyncio.TaskGroup() as group:
                for _ in range(workers):
                    group.create_task(self._worker(chunks))
        except BaseExceptionGroup as failure:
            raise failure.exceptions[0]  # noqa: B904 -- the worker's own exception, not a group
        return self._merge()

    async def _worker(self, chunks: Iterator[int]) -> None:
        for index in chunks:
            keys = self.plan.chunk(index)
            if self.stopped:
                await self._settle(index, keys, None, None, sent=False)
                continue
            try:
                answer = await self.send_chunk(keys)
            except KooDriveError as exc:
                if isinstance(exc, self.stop_on):
                    self.stopped = True  # every later request would be refused the same way
                await self._settle(index, keys, None, exc, sent=True)
                continue
            await self._settle(index, keys, answer, None, sent=True)

    async def _settle(
        self,
        index: int,
        keys: list[K],
        answer: ChunkAnswer[K, F] | None,
        error: KooDriveError | None,
        *,
        sent: bool,
    ) -> None:
        base = index * self.plan.chunk_size
        if answer is not None:
            self._apply(index, base, keys, answer)
        if error is not None:
            self.errors[index] = error
        progress = self._count(index, base, len(keys))
        if self.emit is not None:
            self.emit(self._outcome(index, base, keys, error, sent=sent))
        if self.on_progress is not None:
            async with self._report_lock:  # FIFO: reports arrive in order, never overlap
                await _report(self.on_progress, progress)

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

    def _count(self, index: int, base: int, size: int) -> BatchProgress:
        states = self.state[base : base + size]
        deleted, failed = states.count(_DELETED), states.count(_FAILED)
        repeats = len(self.plan.repeats_of(index))
        counts = self.counts
        counts[0] += size + repeats
        counts[1] += deleted
        counts[2] += failed + repeats
        counts[3] += size - deleted - failed
        return BatchProgress(counts[0], self.plan.total, counts[1], counts[2], counts[3])

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
        failed.extend(self.repeated_failure(key) for key in self.plan.repeats_of(index))
        return ChunkOutcome(
            tuple(deleted), tuple(failed), tuple(unprocessed), error, index=index, sent=sent
        )

    def _merge(self) -> BatchResult[K, F]:
        """Walk the input positions once: every occurrence lands in exactly one list."""
        errors = tuple(self.errors[index] for index in sorted(self.errors))
        unique = self.plan.unique
        if not self.plan.repeat_keys and self.state.count(_DELETED) == len(unique):
            everything = tuple(unique)  # the usual outcome: all deleted, no repeats
            return BatchResult(everything, (), (), errors, everything)
        deleted: list[K] = []
        failed: list[F] = []
        unprocessed: list[K] = []
        gone: list[K] = []
        repeats = zip(self.plan.repeat_positions, self.plan.repeat_keys, strict=True)
        next_repeat, repeat_key = next(repeats, (-1, None))
        slots = enumerate(self.plan.unique)
        for position in range(self.plan.total):
            if position == next_repeat:
                failed.append(self.repeated_failure(repeat_key))  # type: ignore[arg-type]
                next_repeat, repeat_key = next(repeats, (-1, None))
                continue
            slot, key = next(slots)
            state = self.state[slot]
            if state == _DELETED:
                deleted.append(key)
                gone.append(key)
            elif state == _FAILED:
                failure = self.failures[slot]
                failed.append(failure)
                if failure.error_code == self.gone_code:
                    gone.append(key)
            else:
                unprocessed.append(key)
        return BatchResult(tuple(deleted), tuple(failed), tuple(unprocessed), errors, tuple(gone))


async def _report(on_progress: ProgressCallback, progress: BatchProgress) -> None:
    """Call ``on_progress`` (plain or async); its exceptions are logged, never raised."""
    try:
        answer = on_progress(progress)
        if inspect.isawaitable(answer):
            await answer
    except Exception:
        logger.warning("on_progress raised; the batch goes on", exc_info=True)
