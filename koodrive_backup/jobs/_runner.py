"""The driver of a cleanup run: targets in parallel, the journal, the accounting.

For each open target (a bounded pool of ``concurrency`` at once, one user's targets next to
each other so its client is reused): discover what ``scopes: "all"`` and ``records_before``
mean (the IDs are committed to the journal before any is deleted), then delete the pending
IDs window by window (``window`` IDs read from the journal at a time, so a million IDs never
sit in memory), each chunk's outcome (each record's: records are deleted one request each)
queued to the journal as it settles. IDs left pending
by transient failures get up to ``passes`` passes; what is still pending then waits for the
next run. The API work itself is done by a worker (``LocalWorker`` here, Ray actors with
``engine="ray"``); the journal and the counts stay here.

Resuming is the same code: finished targets are not read, a discovery already committed is
not repeated, and only pending IDs are sent (one sent before a crash and deleted then is
answered "not found" and counted as gone). Locks the journal still lists are released first.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
from collections.abc import Callable, Iterator
from typing import Protocol

import attrs

from .. import AuthenticationError
from ._events import (
    CHUNK,
    RECORD,
    SCOPE,
    ErrorInfo,
    Event,
    Found,
    LockHeld,
    LockReleased,
    Settled,
    Stream,
)
from ._idstore import PendingChunk
from ._journal import DONE, TARGET_FAILED, Journal, TargetRow
from ._manifest import is_path_id
from ._status import JobStatus
from ._writer import JournalWriter

__all__ = ["JobAuthError", "RunOptions", "Runner", "Workers"]


ProgressCallback = Callable[[JobStatus], object]
#: Queues a settled outcome's journal write (it knows which journal chunk the outcome is of).
Write = Callable[[Settled], None]


class Workers(Protocol):
    """Where the API work runs: ``stream(operation, user_id, *args)`` (see ``_worker``);
    ``rate_limit_wait()``: seconds the requests waited for the rate limit so far, summed
    over the workers (``None``: no limit, or not measured), asked before ``close()``."""

    def stream(self, operation: str, user_id: str, *args: str | list[str]) -> Stream: ...

    async def rate_limit_wait(self) -> float | None: ...

    async def close(self) -> None: ...


class JobAuthError(AuthenticationError):
    """The server refused the credential: the run stopped (CLI exit status 3)."""

    def _describe(self) -> str:
        return f"the server refused the credential: {self.msg}"


@attrs.frozen
class RunOptions:
    """``concurrency``: targets at once; ``window``: scope IDs read from the journal per
    step; ``record_window``: records read from the journal per step (one record stream,
    under the user's lock for the module); ``passes``: tries of the
    pending IDs per run; ``retry_failed``: make failed IDs and targets pending first."""

    concurrency: int = 8
    window: int = 5_000
    record_window: int = 200
    passes: int = 3
    retry_failed: bool = False

    def __attrs_post_init__(self) -> None:
        for name in ("concurrency", "window", "record_window", "passes"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"{name} must be an int >= 1, not {value!r}")


class _TargetFailed(Exception):
    def __init__(self, info: ErrorInfo) -> None:
        self.info = info


class _Later(Exception):
    """A transient failure: the target stays open for the next run."""

    def __init__(self, info: ErrorInfo) -> None:
        self.info = info


class Runner:
    """One run over an open journal; ``await Runner(...).run()``."""

    def __init__(
        self,
        journal: Journal,
        workers: Workers,
        counts: JobStatus,
        options: RunOptions,
        on_progress: ProgressCallback | None = None,
    ) -> None:
        self.journal = journal
        self.workers = workers
        self.counts = counts
        self.options = options
        self.on_progress = on_progress
        self.writer = JournalWriter(journal)

    async def run(self) -> None:
        """Release stale locks, then work every open target; commit everything on the way out
        (also when cancelled or stopped by an authentication failure)."""
        try:
            for user_id, module_code, lock_id in await self.writer.call(self.journal.stale_locks):
                await self._events(
                    self.workers.stream("release_lock", user_id, module_code, lock_id)
                )
            targets = iter(await self.writer.call(self.journal.open_targets))
            self._report()
            try:
                async with asyncio.TaskGroup() as group:
                    for _ in range(self.options.concurrency):
                        group.create_task(self._pool(targets))
            except BaseExceptionGroup as failure:
                raise failure.exceptions[0]  # noqa: B904 -- the pool's own error, not a group
        finally:
            await self.writer.close()

    async def _pool(self, targets: Iterator[TargetRow]) -> None:
        for target in targets:
            await self._target(target)

    def _report(self) -> None:
        if self.on_progress is not None:
            self.on_progress(self.counts.copy())

    # -- one target ---------------------------------------------------------------------------

    async def _target(self, target: TargetRow) -> None:
        try:
            await self._discover(target)
            left = 0
            if target.scopes is not None:
                left += await self._drain(target, SCOPE)
            if target.records_before is not None:
                left += await self._drain(target, RECORD)
        except _TargetFailed as failed:
            info = failed.info
            moved = await self.writer.call(self.journal.fail_target, target.n, info.code, info.msg)
            self.counts.failed += moved
            self.counts.pending -= moved
            self.counts.targets_failed += 1
            self._report()
            return
        except _Later as later:
            self.writer.submit(self.journal.note_error, target.n, later.info.code, later.info.msg)
            return
        if not left:
            await self._finish(target)

    async def _finish(self, target: TargetRow) -> None:
        failed = await self.writer.call(self.journal.has_failed, target.n)
        state = TARGET_FAILED if failed else DONE
        self.writer.submit(self.journal.finish_target, target.n, state)
        if state == DONE:
            self.counts.targets_done += 1
        else:
            self.counts.targets_failed += 1
        self._report()

    async def _discover(self, target: TargetRow) -> None:
        if target.scopes == "all" and not target.scopes_found:
            where = (target.user_id, target.device_id, target.module_code)
            await self._found(target, SCOPE, self.workers.stream("list_scopes", *where))
        if target.records_before is not None and not target.records_found:
            where = (target.user_id, target.device_id, target.module_code)
            listing = self.workers.stream("list_records", *where, target.records_before)
            await self._found(target, RECORD, listing)

    async def _found(self, target: TargetRow, kind: int, events: Stream) -> None:
        """Journal a discovery page by page, in full chunks; mark it complete at the end.

        What an interrupted discovery wrote is dropped first (none of it was deleted: deleting
        starts once a discovery is complete). IDs the listing repeats are journaled once.
        """
        dropped, failed = await self.writer.call(self.journal.forget, target.n, kind)
        self.counts.failed -= failed
        self.counts.pending -= dropped - failed
        seen: set[str] = set()
        buffer: list[str] = []
        async with contextlib.aclosing(events):
            async for event in events:
                if isinstance(event, ErrorInfo):
                    self._raise(event)
                assert isinstance(event, Found)
                fresh = [i for i in event.ids if i not in seen]
                seen.update(fresh)
                buffer += await self._keep_valid(target, kind, fresh)
                full = len(buffer) - len(buffer) % CHUNK
                await self._journal_found(target, kind, buffer[:full])
                del buffer[:full]
        await self._journal_found(target, kind, buffer)
        await self.writer.call(self.journal.complete, target.n, kind)

    async def _journal_found(self, target: TargetRow, kind: int, ids: list[str]) -> None:
        if ids:
            added = await self.writer.call(self.journal.found, target.n, kind, ids)
            self.counts.pending += added
            self._report()

    async def _keep_valid(self, target: TargetRow, kind: int, ids: list[str]) -> list[str]:
        """IDs the API can address (API.md "Path IDs"); the others, which the SDK would
        refuse, are journaled as failed at once."""
        good = [i for i in ids if is_path_id(i)]
        if len(good) != len(ids):
            valid = set(good)
            bad = [i for i in ids if i not in valid]
            moved = await self.writer.call(self.journal.found_invalid, target.n, kind, bad)
            self.counts.failed += moved
        return good

    def _raise(self, info: ErrorInfo) -> None:
        if info.kind == "auth":
            raise JobAuthError(401, info.code, info.msg)
        if info.kind in ("target", "ids"):
            raise _TargetFailed(info)
        raise _Later(info)

    # -- deleting -----------------------------------------------------------------------------

    async def _drain(self, target: TargetRow, kind: int) -> int:
        """Up to ``passes`` passes over the pending IDs; returns how many are still pending."""
        size = (self.options.window if kind == SCOPE else self.options.record_window) // CHUNK
        left = 0
        for _ in range(self.options.passes):
            left, after = 0, 0
            while chunks := await self.writer.call(
                self.journal.pending, target.n, kind, after, max(1, size)
            ):
                after = chunks[-1].n
                if kind == SCOPE:
                    left += await self._delete_scopes(target, chunks)
                else:
                    left += await self._delete_records(target, chunks)
            if not left:
                break
        return left

    async def _delete_scopes(self, target: TargetRow, chunks: list[PendingChunk]) -> int:
        """One request per journal chunk: ``iter_delete_scopes`` cuts its input every 100
        IDs, so a batch of chunks is sent together while all but its last are full."""
        left = 0
        for batch in _aligned(chunks):
            ids = [i for chunk in batch for i in chunk.ids]
            events = self.workers.stream("delete_scopes", target.user_id, target.device_id, ids)
            write = functools.partial(self._write_chunk, batch)
            left += await self._settle_stream(target, events, write)
        return left

    async def _delete_records(self, target: TargetRow, chunks: list[PendingChunk]) -> int:
        """One record stream for the window; each record's outcome is journaled as it settles
        (a crash then re-sends only the records in flight, not the window's)."""
        ids = [i for chunk in chunks for i in chunk.ids]
        events = self.workers.stream("delete_records", target.user_id, target.module_code, ids)
        write = functools.partial(self._write_record, _RecordWindow(chunks))
        return await self._settle_stream(target, events, write)

    def _write_chunk(self, batch: list[PendingChunk], done: Settled) -> None:
        """A scope request's outcome: all the pending IDs of one journal chunk."""
        chunk = batch[done.index]
        self.writer.submit(self.journal.settle, chunk.n, chunk.whole, done)

    def _write_record(self, window: _RecordWindow, done: Settled) -> None:
        """One record's outcome: the records settling before the writer's next hand-over go
        in one statement (as durable as one job each: the hand-over is what commits)."""
        self.writer.submit_item(self.journal.settle_some, window.place(done))

    async def _settle_stream(self, target: TargetRow, events: Stream, write: Write) -> int:
        left = 0
        stop: ErrorInfo | None = None
        async with contextlib.aclosing(events):
            async for event in events:
                if isinstance(event, Settled):
                    left += self._settled(event, write)
                    error = self._chunk_error(target, event.error)
                    if error is not None and (stop is None or stop.kind != "auth"):
                        stop = error  # a refused credential stops the run: it wins
                else:
                    await self._lock_event(event)
        if stop is not None:
            self._raise(stop)
        return left

    def _chunk_error(self, target: TargetRow, error: ErrorInfo | None) -> ErrorInfo | None:
        """An error that ends the window's target (or the run); a transient one is noted."""
        if error is None:
            return None
        if error.kind in ("auth", "target"):
            return error
        if error.kind == "transient":
            self.writer.submit(self.journal.note_error, target.n, error.code, error.msg)
        return None

    def _settled(self, done: Settled, write: Write) -> int:
        settled = len(done.deleted) + len(done.gone) + len(done.failed)
        if not settled:
            return len(done.unprocessed)  # still pending: nothing to write or count
        write(done)
        counts = self.counts
        counts.deleted += len(done.deleted)
        counts.gone += len(done.gone)
        counts.failed += len(done.failed)
        counts.pending -= settled
        self._report()
        return len(done.unprocessed)

    async def _lock_event(self, event: Event | Found | ErrorInfo) -> None:
        """A lock ID is committed before the stream goes on (the worker waits for that to
        delete records under it: ``_worker``); a release is written without waiting (if it
        is lost, the next run releases the lock again and is told it is gone)."""
        if isinstance(event, LockHeld):
            where = (event.user_id, event.module_code, event.lock_id)
            await self.writer.call(self.journal.lock_held, *where)
        elif isinstance(event, LockReleased):
            where = (event.user_id, event.module_code, event.lock_id)
            self.writer.submit(self.journal.lock_released, *where)
        elif isinstance(event, ErrorInfo) and event.kind == "auth":
            self._raise(event)

    async def _events(self, events: Stream) -> None:
        """Apply the lock events of a stream (stale lock release)."""
        async with contextlib.aclosing(events):
            async for event in events:
                await self._lock_event(event)


def _aligned(chunks: list[PendingChunk]) -> Iterator[list[PendingChunk]]:
    """Runs of chunks whose IDs ``iter_delete_scopes`` cuts exactly at their boundaries."""
    batch: list[PendingChunk] = []
    for chunk in chunks:
        batch.append(chunk)
        if len(chunk.ids) != CHUNK:
            yield batch
            batch = []
    if batch:
        yield batch


class _RecordWindow:
    """Where each record of a window belongs: its journal chunk, and how many of that chunk's
    pending records are still to settle (the chunk is mixed until the last has)."""

    def __init__(self, chunks: list[PendingChunk]) -> None:
        self.chunks = [chunk.n for chunk in chunks for _ in chunk.ids]  # by position in window
        self.left = {chunk.n: len(chunk.ids) for chunk in chunks}

    def place(self, done: Settled) -> tuple[int, Settled, bool]:
        """``(chunk, done, more)`` for ``Journal.settle_some``, of a settled record."""
        n = self.chunks[done.index]
        self.left[n] -= 1
        return n, done, self.left[n] > 0
