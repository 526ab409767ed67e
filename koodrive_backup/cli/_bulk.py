"""The one bulk runner of the CLI: ``scopes delete``, ``record delete``, their dry runs and
the demo all run a ``BatchStream`` through ``run_bulk``, with the same progress, accounting,
Ctrl-C handling and exit statuses.

Why a stream and not ``await client.delete_scopes(all_ids)``: a cancelled call raises
``CancelledError`` and returns no result. The SDK's streams (``client.iter_delete_scopes``,
``client.iter_delete_records``; ``batching.stream_batch`` for the dry runs) keep their merged
result when left early: on SIGINT/SIGTERM the consuming task is cancelled, which cancels the
requests in flight, and ``stream.result`` still holds every chunk that had settled; the rest
is ``unprocessed`` (some may have been deleted already: fed back, those come back "not
found", which counts as gone). Nothing is lost and nothing is counted twice.

"Not found" has one meaning everywhere: the ID is absent now, so it is done; it is counted
and shown apart as "already gone". When most IDs of a run are already gone (more than
``max_not_found``), the input probably does not match the device or module: exit status 5.
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
import time
from collections.abc import Awaitable, Callable, Iterator, Sequence
from contextlib import AbstractAsyncContextManager
from operator import attrgetter
from types import FrameType
from typing import TYPE_CHECKING, Any, Generic, TypeVar

import attrs

from ..batching import BatchResult, BatchStream, ChunkOutcome
from ..errors import KooDriveError
from ..models import NOT_FOUND_CODE, REPEATED_ID_CODE
from ._errors import EXIT_NOT_FOUND, EXIT_OK, EXIT_PARTIAL, exit_status_for
from ._output import NoProgress, Progress, Tally

if TYPE_CHECKING:
    from ..client import BackupClient

__all__ = [
    "RECORDS",
    "SCOPES",
    "BulkOutcome",
    "Kind",
    "interruptible",
    "run_bulk",
]

F = TypeVar("F")
T = TypeVar("T")
Handler = Callable[[int, FrameType | None], Any] | int | signal.Handlers | None
StreamOpener = Callable[[], AbstractAsyncContextManager[BatchStream[str, Any]]]
_STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM)
DEFAULT_MAX_NOT_FOUND = 0.5


@attrs.frozen
class Kind(Generic[F]):
    """How the runner reads the failures of one kind of ID (scope or record)."""

    noun: str
    failure_id: Callable[[F], str]
    is_gone: Callable[[F], bool]

    def code(self, failure: F) -> str:
        return str(failure.error_code)  # type: ignore[attr-defined]

    def msg(self, failure: F) -> str | None:
        return failure.msg  # type: ignore[attr-defined, no-any-return]

    def is_repeat(self, failure: F) -> bool:
        return self.code(failure) == REPEATED_ID_CODE


#: Scopes: the server's per-ID ``15000418`` means not found.
SCOPES: Kind[Any] = Kind("scope", attrgetter("scope_id"), lambda f: f.error_code == NOT_FOUND_CODE)
#: Records: one DELETE each; HTTP 404 means not found.
RECORDS: Kind[Any] = Kind("record", attrgetter("record_id"), lambda f: f.status == 404)


@attrs.frozen
class BulkOutcome:
    """The SDK's result for the whole input, plus how the run ended."""

    result: BatchResult[str, Any]
    kind: Kind[Any]
    unique_ids: tuple[str, ...] = attrs.field(repr=False)  # input order, repeats removed
    total: int  # input occurrences
    chunks_settled: int  # chunk requests that were sent and settled (answered or failed)
    elapsed: float
    interrupted: int | None = None  # the signal that stopped the run
    dry_run: bool = False
    max_not_found: float = DEFAULT_MAX_NOT_FOUND
    #: Seconds the run's requests waited for ``--rate`` tokens, summed over the requests in
    #: flight (so it can exceed ``elapsed``); ``None`` without a rate limit.
    rate_limit_wait: float | None = None

    @property
    def stopped_by(self) -> KooDriveError | None:
        """The chunk error after which the SDK started no new chunk."""
        return self.result.stopped_by

    @property
    def already_gone(self) -> tuple[str, ...]:
        """Unique IDs the server did not find (gone all the same), in input order."""
        ids = (self.kind.failure_id(f) for f in self.result.failed if self.kind.is_gone(f))
        return tuple(dict.fromkeys(ids))

    @property
    def repeated(self) -> tuple[Any, ...]:
        """The failures standing for later repeats of an ID in the input (sent once)."""
        return tuple(f for f in self.result.failed if self.kind.is_repeat(f))

    @property
    def refused(self) -> tuple[Any, ...]:
        """Real per-ID failures: neither "not found" nor a repeat."""
        kind = self.kind
        return tuple(f for f in self.result.failed if not (kind.is_gone(f) or kind.is_repeat(f)))

    @property
    def not_gone(self) -> tuple[str, ...]:
        """Unique IDs not known to be absent now, in input order: what a resume must send.
        (In a dry run: those that exist, or could not be checked.)"""
        gone = set(self.result.gone)
        return tuple(i for i in self.unique_ids if i not in gone)

    @property
    def mostly_not_found(self) -> bool:
        """More than ``max_not_found`` of the unique IDs were not found (a finished run)."""
        if self.interrupted is not None or self.stopped_by is not None or not self.unique_ids:
            return False
        return len(self.already_gone) / len(self.unique_ids) > self.max_not_found

    @property
    def exit_status(self) -> int:
        """130/143 interrupted, 3/4 stopped by an error, 5 mostly not found (not in a dry
        run), 1 some IDs not gone, else 0. A dry run that ran to its end exits 0."""
        if self.interrupted is not None:
            return 128 + self.interrupted
        if self.stopped_by is not None:
            return exit_status_for(self.stopped_by)
        if self.dry_run:
            return EXIT_PARTIAL if self.result.unprocessed else EXIT_OK
        if self.mostly_not_found:
            return EXIT_NOT_FOUND
        return EXIT_PARTIAL if self.not_gone else EXIT_OK


def tally_chunk(tally: Tally, chunk: ChunkOutcome[str, Any], kind: Kind[Any]) -> None:
    """Add one settled chunk to the running counts."""
    tally.deleted += len(chunk.deleted)
    tally.unprocessed += len(chunk.unprocessed)
    for failure in chunk.failed:
        if kind.is_repeat(failure):
            tally.repeated += 1
        elif kind.is_gone(failure):
            tally.already_gone += 1
        else:
            tally.failed += 1


async def run_bulk(
    ids: Sequence[str],
    open_stream: StreamOpener,
    kind: Kind[Any],
    *,
    progress: Progress | None = None,
    dry_run: bool = False,
    max_not_found: float = DEFAULT_MAX_NOT_FOUND,
    client: BackupClient | None = None,
) -> BulkOutcome:
    """Run the stream ``open_stream()`` yields (an async context manager: it may take a lock
    first) over ``ids`` (already validated); SIGINT/SIGTERM stop it cleanly. ``client``: the
    client whose rate-limit wait during the run the outcome reports.

    Never raises for failed chunks or an interruption: both are in the outcome. An error
    before the stream exists (a refused lock, an unknown device) and bugs propagate.
    """
    progress = progress or NoProgress()
    tally, streams = Tally(len(ids)), []
    settled = 0

    async def consume() -> None:
        nonlocal settled
        async with open_stream() as stream:
            streams.append(stream)
            async for chunk in stream:
                settled += chunk.sent
                tally_chunk(tally, chunk, kind)
                progress.update(tally)

    started, waited = time.monotonic(), _waited(client)
    try:
        _, interrupted = await interruptible(consume())
    finally:
        progress.close()
    # Interrupted before the stream existed (say, while taking the lock): nothing was sent.
    result = streams[0].result if streams else BatchResult(unprocessed=tuple(ids))
    wait = _waited(client)
    return BulkOutcome(
        result, kind, tuple(dict.fromkeys(ids)), len(ids), settled,
        elapsed=time.monotonic() - started, interrupted=interrupted, dry_run=dry_run,
        max_not_found=max_not_found,
        rate_limit_wait=None if wait is None or waited is None else wait - waited,
    )  # fmt: skip


def _waited(client: BackupClient | None) -> float | None:
    """The seconds ``client`` has waited for its rate limit so far (``None``: no limit)."""
    if client is None or client.rate_limit is None:
        return None
    return client.rate_limit_wait


async def interruptible(work: Awaitable[T]) -> tuple[T | None, int | None]:
    """Run ``work`` as a task that SIGINT/SIGTERM cancel: ``(its value, None)``, or
    ``(None, the signal)`` when a signal stopped it. Its exceptions propagate."""
    task = asyncio.ensure_future(work)
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
    if task.cancelled():
        return None, interrupted[0] if interrupted else None
    return task.result(), None


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
