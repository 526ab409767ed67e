"""An interruptible bulk scope deletion that accounts for every ID, even after Ctrl-C.

Why not one ``await client.delete_scopes(all_ids)``: a cancelled call raises
``CancelledError`` and returns no result, so after Ctrl-C we could not tell which IDs were
settled. We use the SDK's streaming form, ``batching.iter_delete_scopes`` (same engine,
bounded concurrency, one ``ChunkOutcome`` per settled chunk) and record each outcome as it
arrives. On SIGINT/SIGTERM the consuming task is cancelled, which cancels the requests in
flight; their IDs are reported ``unprocessed`` (some may have been deleted already: fed back,
those come back as ``15000418`` not found, which counts as gone). Nothing is lost.

A chunk error that would recur on every chunk (401, 403, another 4xx except 408/429, or a
server that cannot be reached at all) stops the run: the chunks in flight are cancelled and
the rest is reported unprocessed. 5xx, 429, timeouts and unreadable answers only fail their
chunk (after the SDK's retries); the other chunks go on.
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
import time
from collections.abc import Callable, Coroutine, Iterator, Sequence
from types import FrameType
from typing import Any

import attrs

from ..batching import ChunkOutcome, iter_delete_scopes
from ..client import BackupClient
from ..errors import APIConnectionError, APIError, APITimeoutError, KooDriveError
from ..models import (
    NOT_FOUND_CODE,
    REPEATED_ID_CODE,
    BatchProgress,
    DeleteScopesResult,
    ScopeFailure,
)
from ._errors import EXIT_OK, EXIT_PARTIAL, exit_status_for
from ._output import NoProgress, Progress

__all__ = ["BulkOutcome", "delete_scopes_interruptibly", "stops_the_run"]

Handler = Callable[[int, FrameType | None], Any] | int | signal.Handlers | None
_DELETED = "deleted"
_STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM)


@attrs.frozen
class BulkOutcome:
    """The SDK's result for the whole input, plus how the run ended."""

    result: DeleteScopesResult
    unique_ids: tuple[str, ...] = attrs.field(repr=False)  # input order, repeats removed
    total: int  # input occurrences
    chunks_settled: int  # chunk requests that were sent and settled (answered or failed)
    elapsed: float
    interrupted: int | None = None  # the signal that stopped the run
    stopped_by: KooDriveError | None = None  # the error that stopped the run

    @property
    def not_gone(self) -> tuple[str, ...]:
        """Unique IDs not known to be absent now, in input order: what a resume must send."""
        gone = set(self.result.gone)
        return tuple(i for i in self.unique_ids if i not in gone)

    @property
    def exit_status(self) -> int:
        """130/143 interrupted, 3/4 stopped by an error, 1 some IDs not gone, else 0."""
        if self.interrupted is not None:
            return 128 + self.interrupted
        if self.stopped_by is not None:
            return exit_status_for(self.stopped_by)
        return EXIT_PARTIAL if self.not_gone else EXIT_OK


def stops_the_run(exc: KooDriveError) -> bool:
    """Whether a chunk's error would recur on every other chunk (so sending them is futile)."""
    if isinstance(exc, APIError):
        return 400 <= exc.status < 500 and exc.status not in (408, 429)
    if isinstance(exc, APIConnectionError) and not isinstance(exc, APITimeoutError):
        return not exc.request_sent  # could not even connect
    return False


class _Run:
    """What one run has settled so far: the outcome of each unique ID, the chunk errors."""

    def __init__(self) -> None:
        self.outcome: dict[str, str | ScopeFailure] = {}
        self.errors: dict[int, KooDriveError] = {}  # chunk index -> error
        self.chunks_settled = 0
        self.stopped_by: KooDriveError | None = None
        self.interrupted: int | None = None
        self.final: DeleteScopesResult | None = None  # the SDK's merge, when the run completed

    def settle(self, chunk: ChunkOutcome[str, ScopeFailure]) -> bool:
        """Record one chunk; return True when its error should stop the run."""
        keys: set[str] = set(chunk.unprocessed)  # left unsettled
        for scope_id in chunk.deleted:
            self.outcome[scope_id] = _DELETED
            keys.add(scope_id)
        for failure in chunk.failed:  # the chunk's own failures come before repeats of its IDs
            if failure.scope_id not in keys:
                self.outcome[failure.scope_id] = failure
                keys.add(failure.scope_id)
        self.chunks_settled += chunk.sent
        if chunk.error is None:
            return False
        self.errors[chunk.index] = chunk.error
        if self.stopped_by is None and stops_the_run(chunk.error):
            self.stopped_by = chunk.error
            return True
        return False

    def result(self, ids: Sequence[str], unique: Sequence[str]) -> DeleteScopesResult:
        """The SDK's merged result, or (stopped early) the same accounting done here."""
        if self.final is not None:
            return self.final
        deleted: list[str] = []
        failed: list[ScopeFailure] = []
        unprocessed: list[str] = []
        seen: set[str] = set()
        for scope_id in ids:
            outcome = self.outcome.get(scope_id)
            if scope_id in seen:
                failed.append(
                    ScopeFailure(
                        scope_id, REPEATED_ID_CODE, "repeated scope ID in the input; sent once"
                    )
                )
            elif outcome == _DELETED:
                deleted.append(scope_id)
            elif isinstance(outcome, ScopeFailure):
                failed.append(outcome)
            else:
                unprocessed.append(scope_id)
            seen.add(scope_id)
        gone = tuple(i for i in unique if _is_gone(self.outcome.get(i)))
        errors = tuple(self.errors[i] for i in sorted(self.errors))
        return DeleteScopesResult(
            tuple(deleted), tuple(failed), tuple(unprocessed), errors, gone_ids=gone
        )


def _is_gone(outcome: str | ScopeFailure | None) -> bool:
    if isinstance(outcome, ScopeFailure):
        return outcome.error_code == NOT_FOUND_CODE
    return outcome == _DELETED


async def delete_scopes_interruptibly(
    client: BackupClient,
    device_id: str,
    ids: Sequence[str],
    *,
    chunk_size: int,
    concurrency: int,
    make_progress: Callable[[int], Progress] = lambda total: NoProgress(),
) -> BulkOutcome:
    """Delete ``ids`` (already validated) in chunks; SIGINT/SIGTERM stop it cleanly.

    Never raises for failed chunks or an interruption: both are in the outcome. Invalid
    arguments raise ``ValueError``/``TypeError`` before any request; bugs propagate.
    """
    run = _Run()
    progress = make_progress(len(ids))

    def report(p: BatchProgress) -> None:
        progress.update(p.done, p.deleted, p.failed, p.unprocessed)

    stream = iter_delete_scopes(
        client, device_id, ids, chunk_size=chunk_size, concurrency=concurrency, on_progress=report
    )

    async def consume() -> None:
        async with stream:
            async for chunk in stream:
                if run.settle(chunk):
                    return  # leaving the block cancels the chunks in flight
        run.final = stream.result.to_result()

    started = time.monotonic()
    try:
        await _interruptible(consume(), run)
    finally:
        progress.close()
    unique = list(dict.fromkeys(ids))
    return BulkOutcome(
        result=run.result(ids, unique),
        unique_ids=tuple(unique),
        total=len(ids),
        chunks_settled=run.chunks_settled,
        elapsed=time.monotonic() - started,
        interrupted=run.interrupted,
        stopped_by=run.stopped_by,
    )


async def _interruptible(work: Coroutine[Any, Any, None], run: _Run) -> None:
    """Run ``work`` as a task that SIGINT/SIGTERM cancel (the signal is noted in ``run``)."""
    task = asyncio.create_task(work)

    def interrupt(signum: int) -> None:
        if task.done():
            return  # the work had finished: nothing was interrupted
        if run.interrupted is None:
            run.interrupted = signum
        task.cancel()

    with _signals_call(interrupt):
        try:
            await asyncio.wait([task])
        except asyncio.CancelledError:
            # Our own task was cancelled: asyncio.run's Ctrl-C handling, where ours could not
            # be installed (not the main thread). Stop the work, keep the accounting.
            interrupt(signal.SIGINT)
            await asyncio.wait([task])
            current = asyncio.current_task()
            if current is not None:
                current.uncancel()
    if not task.cancelled() and task.exception() is not None:
        raise task.exception()  # type: ignore[misc]  # a bug, not an API failure


@contextlib.contextmanager
def _signals_call(callback: Callable[[int], None]) -> Iterator[None]:
    """Route SIGINT/SIGTERM to ``callback`` (run on the loop) for the duration; then restore."""
    loop = asyncio.get_running_loop()

    def handler(signum: int, frame: FrameType | None) -> None:
        loop.call_soon_threadsafe(callback, signum)

    previous: dict[signal.Signals, Handler] = {}
    for signum in _STOP_SIGNALS:
        with contextlib.suppress(ValueError, OSError):  # not the main thread
            previous[signum] = signal.signal(signum, handler)
    try:
        yield
    finally:
        for signum, old in previous.items():
            signal.signal(signum, old if old is not None else signal.SIG_DFL)
