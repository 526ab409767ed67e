"""An interruptible bulk scope deletion that accounts for every ID, even after Ctrl-C.

Why not one ``await client.delete_scopes(all_ids)``: a cancelled call raises
``CancelledError`` and returns no result. The SDK's streaming form,
``client.iter_delete_scopes`` (same engine, bounded concurrency), keeps its merged result
when it is left early: on SIGINT/SIGTERM the consuming task is cancelled, which cancels the
requests in flight, and ``stream.result`` still holds every chunk that had settled; the
rest is ``unprocessed`` (some may have been deleted already: fed back, those come back as
``15000418`` not found, which counts as gone). Nothing is lost, nothing is counted here.

When to give up on the other chunks is the SDK's one rule (``batching.stops_batch``); the
error that stopped the run is ``result.stopped_by``.
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

from ..batching import BatchResult
from ..client import BackupClient
from ..errors import KooDriveError
from ..models import BatchProgress, ScopeFailure
from ._errors import EXIT_OK, EXIT_PARTIAL, exit_status_for
from ._output import NoProgress, Progress

__all__ = ["BulkOutcome", "delete_scopes_interruptibly"]

Handler = Callable[[int, FrameType | None], Any] | int | signal.Handlers | None
_STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM)


@attrs.frozen
class BulkOutcome:
    """The SDK's result for the whole input, plus how the run ended."""

    result: BatchResult[str, ScopeFailure]
    unique_ids: tuple[str, ...] = attrs.field(repr=False)  # input order, repeats removed
    total: int  # input occurrences
    chunks_settled: int  # chunk requests that were sent and settled (answered or failed)
    elapsed: float
    interrupted: int | None = None  # the signal that stopped the run
    rate_limit_wait: float | None = None  # seconds waited for --rate tokens (None: no limit)

    @property
    def stopped_by(self) -> KooDriveError | None:
        """The chunk error after which the SDK started no new chunk."""
        return self.result.stopped_by

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
    progress = make_progress(len(ids))

    def report(p: BatchProgress) -> None:
        progress.update(p.done, p.deleted, p.failed, p.unprocessed)

    stream = client.iter_delete_scopes(
        device_id, ids, chunk_size=chunk_size, concurrency=concurrency, on_progress=report
    )
    settled = 0

    async def consume() -> None:
        nonlocal settled
        async with stream:
            async for chunk in stream:
                settled += chunk.sent

    started, waited = time.monotonic(), client.rate_limit_wait
    try:
        interrupted = await _interruptible(consume())
    finally:
        await stream.aclose()  # also when the work was cancelled before it began
        progress.close()
    return BulkOutcome(
        result=stream.result,
        unique_ids=tuple(dict.fromkeys(ids)),
        total=len(ids),
        chunks_settled=settled,
        elapsed=time.monotonic() - started,
        interrupted=interrupted,
        rate_limit_wait=None if client.rate_limit is None else client.rate_limit_wait - waited,
    )


async def _interruptible(work: Coroutine[Any, Any, None]) -> int | None:
    """Run ``work`` as a task that SIGINT/SIGTERM cancel; return the signal that did."""
    task = asyncio.create_task(work)
    interrupted: list[int] = []

    def interrupt(signum: int) -> None:
        if task.done():
            return  # the work had finished: nothing was interrupted
        interrupted.append(signum)
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
    return interrupted[0] if interrupted else None


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
