"""``JournalWriter``: the journal driven from one thread, off the event loop, with group commit.

Why one thread of our own rather than ``aiosqlite`` or ``asyncio.to_thread``: SQLite wants one
writer, and the runner settles a chunk every few hundred microseconds at full speed. Waiting
for a commit per chunk (what an awaited ``aiosqlite`` call per statement amounts to) would
cost a thread round trip each time. Here the event loop only *collects* a chunk's writes
(``submit``: no await, no wake-up) and hands what it collected to the thread every
``FLUSH_DELAY`` seconds (or sooner when ``FLUSH_JOBS`` are waiting); the thread writes each
hand-over, and whatever else is queued, in one transaction, never splitting one job. Waking
the thread once per chunk instead cost the event loop a GIL hand-over per chunk (measured:
25 us per wake-up, about as much as the chunk's own request). The loop awaits only what
must be durable or read before it goes on (``call``: discovered IDs before their deletion,
a lock ID, a window of pending IDs), and jobs run in the order they were queued, so a read
sees every write queued before it.

If a write fails (disk full, a damaged file), the transaction is rolled back (those
outcomes stay pending and are sent again next run), and every later ``call`` raises the
error: the runner stops.
"""

from __future__ import annotations

import asyncio
import contextlib
import queue
import threading
from collections.abc import Callable
from typing import Any, TypeVar, cast

from ._journal import Journal

__all__ = ["JournalWriter"]

T = TypeVar("T")
_MAX_GROUP = 200  # hand-overs per transaction at most (keeps a commit short)
#: A crash loses at most this much of settled outcomes (those IDs are sent again, then
#: counted as gone): short enough to be "as they settle", long enough to batch.
FLUSH_DELAY = 0.005
FLUSH_JOBS = 256
_STOP = object()
Job = tuple[Callable[..., Any], tuple[object, ...], Any]


class JournalWriter:
    """Runs ``Journal`` methods in one thread; see the module docstring."""

    def __init__(self, journal: Journal) -> None:
        self.journal = journal
        self._queue: queue.SimpleQueue[Any] = queue.SimpleQueue()
        self._loop = asyncio.get_running_loop()
        self._failure: BaseException | None = None
        self._collected: list[Job] = []
        self._timer: asyncio.TimerHandle | None = None
        self._thread = threading.Thread(target=self._serve, name="koodrive-journal", daemon=True)
        self._thread.start()

    def submit(self, method: Callable[..., object], *args: object) -> None:
        """Queue a write; it is committed within milliseconds, in order. Never blocks."""
        if self._failure is not None:
            raise RuntimeError("the journal cannot be written") from self._failure
        self._collected.append((method, args, None))
        if len(self._collected) >= FLUSH_JOBS:
            self._flush()
        elif self._timer is None:
            self._timer = self._loop.call_later(FLUSH_DELAY, self._flush)

    def submit_item(self, method: Callable[[list[Any]], object], item: object) -> None:
        """Queue ``method([item])``; items queued back to back before the next hand-over
        join one call (records settle one by one: their rows go in one statement)."""
        collected = self._collected
        if collected and collected[-1][0] == method and collected[-1][2] is None:
            cast(list[object], collected[-1][1][0]).append(item)  # the thread has not got it
        else:
            self.submit(method, [item])

    def _flush(self) -> None:
        """Hand the collected writes to the thread (in order, as one group)."""
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        if self._collected:
            self._queue.put(self._collected)
            self._collected = []

    async def call(self, method: Callable[..., T], *args: object) -> T:
        """Run ``method(*args)`` after everything queued before it; wait for its commit."""
        if self._failure is not None:
            raise RuntimeError("the journal cannot be written") from self._failure
        future: asyncio.Future[T] = self._loop.create_future()
        self._collected.append((method, args, future))
        self._flush()
        return await future

    async def close(self) -> None:
        """Commit what is queued, stop the thread and close the journal (idempotent)."""
        if not self._thread.is_alive():
            return
        self._flush()
        self._queue.put(_STOP)
        await asyncio.to_thread(self._thread.join)
        self.journal.close()
        if self._failure is not None:
            raise RuntimeError("the journal could not be written") from self._failure

    # -- the thread ---------------------------------------------------------------------------

    def _serve(self) -> None:
        while True:
            group = [self._queue.get()]
            while len(group) < _MAX_GROUP and group[-1] is not _STOP:
                try:
                    group.append(self._queue.get_nowait())
                except queue.Empty:
                    break
            stop = group[-1] is _STOP
            jobs = [job for handed in group if handed is not _STOP for job in handed]
            if jobs:
                self._run(jobs)
            if stop:
                return

    def _run(self, jobs: list[Job]) -> None:
        results: list[tuple[Any, object, BaseException | None]] = []
        try:
            if self._failure is not None:
                raise self._failure
            with self.journal.transaction():
                for method, args, future in jobs:
                    answer = method(*args)
                    if future is not None:
                        results.append((future, answer, None))
        except BaseException as exc:
            self._failure = self._failure or exc
            results = [(future, None, exc) for _, _, future in jobs if future is not None]
        for future, answer, error in results:
            with contextlib.suppress(RuntimeError):  # the loop is closed: nobody waits
                self._loop.call_soon_threadsafe(_resolve, future, answer, error)


def _resolve(future: asyncio.Future[Any], answer: object, error: BaseException | None) -> None:
    if future.done():  # its awaiter was cancelled
        return
    if error is not None:
        future.set_exception(error)
    else:
        future.set_result(answer)
