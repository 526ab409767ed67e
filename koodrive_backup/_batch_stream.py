"""The public front of the batch engine: ``run_batch``, ``stream_batch`` and ``BatchStream``.

``run_batch`` / ``stream_batch`` take validated keys and a ``send_chunk`` coroutine, and
return a ``BatchResult`` (or a ``BatchStream`` of ``ChunkOutcome`` s); the work is done by
the engine of ``_batch``.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable, Iterable
from types import TracebackType
from typing import Generic, Required, TypedDict, Unpack

from ._batch import (
    Batch,
    BatchResult,
    ChunkOutcome,
    F,
    K,
    ProgressCallback,
    SendChunk,
    prepare,
)
from .errors import KooDriveError

__all__ = ["BatchOptions", "BatchStream", "run_batch", "stream_batch"]


class BatchOptions(TypedDict, Generic[K, F], total=False):
    """The options of ``run_batch`` and ``stream_batch`` (see ``run_batch``)."""

    chunk_size: Required[int]
    concurrency: Required[int]
    repeated_failure: Required[Callable[[K], F]]
    on_progress: ProgressCallback | None
    is_gone: Callable[[F], bool] | None
    stop_when: Callable[[KooDriveError], bool]


async def run_batch(
    keys: Iterable[K], send_chunk: SendChunk[K, F], **options: Unpack[BatchOptions[K, F]]
) -> BatchResult[K, F]:
    """Send ``keys`` in chunks with bounded concurrency and account for every occurrence.

    ``keys``: validated keys in input order, duplicates included (any iterable; it is consumed
    completely before the first request, so a validating generator that raises aborts the
    batch with no request made). The first occurrence of a key is sent; every later one is put
    in ``failed`` as ``repeated_failure(key)`` and never sent.

    ``send_chunk(chunk)``: sends one chunk (a fresh list of at most ``chunk_size`` unique keys,
    input order) and returns a ``ChunkAnswer``; retrying is its business (the session layer
    does it). If it raises, the chunk's keys go to ``unprocessed`` and the exception to
    ``errors``; the other chunks go on. A ``KooDriveError`` is kept as raised; any other
    ``Exception`` (a bug, ``RuntimeError`` for a client closed mid-batch) becomes a plain
    ``KooDriveError`` naming its type and text (and logged), so a batch always ends with a
    result, except when cancelled. Per-key outcomes (say a 404 for one record) belong in
    ``ChunkAnswer.failed``: catch them in ``send_chunk``. After an error for which
    ``stop_when`` is true (``stops_batch`` by default) no new chunk is started; the chunks
    never sent are settled as unprocessed (``sent=False``).

    ``chunk_size``, ``concurrency``: ints >= 1 (else ``ValueError``/``TypeError``, before
    anything is consumed); ``repeated_failure(key)``: the failure a repeat is reported as.
    At most ``concurrency`` ``send_chunk`` calls run at once, from a pool of that many
    workers (no task per chunk).

    ``on_progress``: plain or async callable, called once per chunk (in completion order,
    calls never overlap) with running ``BatchProgress`` counts of input occurrences. The
    repeats of a key are counted (as failed) with the chunk of its first occurrence, so
    ``done == total`` after the last call. An exception it raises is logged and ignored.

    ``is_gone(failure)``: whether a failed key is absent now anyway (``BatchResult.gone``).

    Cancelling the call cancels the in-flight ``send_chunk`` calls and raises
    ``CancelledError``; no task is left behind.
    """
    return await prepare(keys, send_chunk, **options).run()


def stream_batch(
    keys: Iterable[K], send_chunk: SendChunk[K, F], **options: Unpack[BatchOptions[K, F]]
) -> BatchStream[K, F]:
    """Like ``run_batch`` but returns a ``BatchStream`` of ``ChunkOutcome`` s.

    Arguments are validated and ``keys`` consumed here, at the call; the first request is sent
    when iteration starts.
    """
    return BatchStream(prepare(keys, send_chunk, **options))


class BatchStream(Generic[K, F], AsyncIterator[ChunkOutcome[K, F]]):
    """Async iterator of ``ChunkOutcome`` s, one per chunk, in the order chunks complete.

    Use ``async with stream: async for outcome in stream: ...`` (or ``contextlib.aclosing``):
    leaving the block early cancels the chunks in flight. Chunks go on being sent while the
    loop body runs (outcomes wait in a buffer). ``result`` is the merged ``BatchResult`` once
    the stream is exhausted or closed: after an early exit it holds every chunk that had
    settled (read or not) and the rest as unprocessed. Chunk failures are outcomes (their
    ``error``), never exceptions of the iteration.
    """

    def __init__(self, batch: Batch[K, F]) -> None:
        self._batch = batch
        self._queue: asyncio.Queue[ChunkOutcome[K, F] | None] = asyncio.Queue()  # None: the end
        batch.emit = self._queue.put_nowait
        self._driver: asyncio.Task[BatchResult[K, F]] | None = None
        self._closed = False

    @property
    def result(self) -> BatchResult[K, F]:
        """The merged result; ``RuntimeError`` while the stream is still running."""
        if not self._closed:
            raise RuntimeError("the batch result is known once the stream is exhausted or closed")
        return self._batch.result()

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
            await self._driver  # re-raises what stopped the batch, if anything
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
