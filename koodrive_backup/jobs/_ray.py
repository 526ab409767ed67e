"""The Ray engine: the API work on Ray async actors, the journal and accounting on the driver.

``pip install 'koodrive-backup[ray]'``. Ray is imported only when this engine is built, so
the package works without it. Each actor is a ``WorkerActor``: a ``LocalWorker`` (its own
clients, one per user it serves, and those users' locks) behind an async generator method
that streams the worker's events back to the driver, chunk by chunk. A user's targets all go
to the same actor (by a stable hash of the user ID), so its lock for a module is shared
there as in the local engine.

Events travel in groups: what an actor's worker yields within ``GROUP_DELAY`` (20 ms) of a
group's first event is one Ray item (``grouped``). Records settle one by one, and a Ray item
costs about half a millisecond: one item per record halved a records job's throughput
(1,700 to 870 records/s, 2 actors, 4,000 records, local fake); groups of 5 ms gave 1,380,
of 20 ms 1,710 (as with one item per window of 200 records). An outcome then reaches the
journal up to 20 ms later than with the local engine: a killed run re-sends that much more.

An actor's worker runs ahead of the driver (it does not wait for the driver to read its
events), so a lock ID takes a round trip: after ``LockHeld`` the worker deletes no record
under that lock until the driver, once it committed the lock ID, calls the actor's
``lock_journaled`` (``confirming``; one Ray call per lock created). The group holding the
``LockHeld`` leaves the actor within ``GROUP_DELAY``, as the worker waits meanwhile.

The job's rate (``ClientOptions.rate``) is divided evenly: each of the ``n`` actors limits
its clients to ``rate / n`` (a ``RateLimit`` serves one event loop, so each actor builds its
own from that number). Users are spread over the actors by hash, so a job whose users are
fewer than the actors, or whose work is uneven, runs below the whole rate. The run's
rate-limit wait is the sum of the actors' waits, asked for before they are closed.

``address``: join a running cluster (``"auto"``, ``"ray://head:10001"``, ``"host:6379"``);
``None`` starts a local one (and stops it at the end). If this process already called
``ray.init()``, that cluster is used as is. Every node needs ``koodrive-backup`` installed
and must reach the API. The app secret travels to the actors inside Ray's own messages
(they sign the requests), never in a log: run on a cluster you trust with it.
"""

from __future__ import annotations

import asyncio
import importlib
import zlib
from collections.abc import AsyncGenerator
from typing import Any, TypeVar

import attrs

from ._clients import ClientOptions
from ._events import Stream
from ._worker import LocalWorker, LocalWorkers, WorkerSettings, confirming

__all__ = ["GROUP_DELAY", "RayWorkers", "WorkerActor", "grouped", "ray_available"]

T = TypeVar("T")
GROUP_DELAY = 0.02  # seconds an actor gathers events into one Ray item


def ray_available() -> bool:
    """True when Ray can be imported (the ``[ray]`` extra is installed)."""
    try:
        import ray  # noqa: F401
    except ImportError:
        return False
    return True


class WorkerActor(LocalWorkers):
    """The body of a Ray actor (made remote by ``RayWorkers``; plain class here): the
    ``LocalWorkers`` of its own ``LocalWorker``, whose events it streams in groups."""

    def __init__(self, options: ClientOptions, settings: WorkerSettings) -> None:
        super().__init__(LocalWorker(options, settings))

    async def groups(
        self, operation: str, user_id: str, *args: str | list[str]
    ) -> AsyncGenerator[list[Any], None]:
        """The worker's events, in groups (one Ray item each). The worker runs ahead of the
        driver here: after a ``LockHeld`` it waits for the driver's ``lock_journaled``."""
        async for group in grouped(self.worker.stream(operation, user_id, *args), GROUP_DELAY):
            yield group


class RayWorkers:
    """``Workers`` on Ray actors (see the module docstring)."""

    def __init__(
        self,
        options: ClientOptions,
        settings: WorkerSettings,
        *,
        address: str | None = None,
        actors: int | None = None,
    ) -> None:
        ray: Any = importlib.import_module("ray")  # lazily: the [ray] extra is optional
        self._ray = ray
        self._started = not ray.is_initialized()
        if self._started:
            ray.init(address=address, include_dashboard=False, logging_level="WARNING")
        count = actors or max(1, int(ray.cluster_resources().get("CPU", 1)))
        if options.rate is not None:
            options = attrs.evolve(options, rate=options.rate / count)  # each actor's share
        remote = ray.remote(WorkerActor).options(scheduling_strategy="SPREAD")
        self.actors: list[Any] = [remote.remote(options, settings) for _ in range(count)]
        self._limited = options.rate is not None

    def stream(self, operation: str, user_id: str, *args: str | list[str]) -> Stream:
        actor = self.actors[zlib.crc32(user_id.encode()) % len(self.actors)]
        events = _relay(actor.groups.remote(operation, user_id, *args))
        return confirming(events, actor.lock_journaled.remote)  # once the driver committed

    async def rate_limit_wait(self) -> float | None:
        """The actors' waits, summed (``None``: no rate, or an actor could not answer)."""
        if not self._limited:
            return None
        try:
            waits = [await actor.rate_limit_wait.remote() for actor in self.actors]
        except Exception:  # a dead actor (its node lost): the accounting matters, not this
            return None
        return float(sum(waits))

    async def close(self) -> None:
        """Close the actors' clients, end the actors, and stop Ray if we started it."""
        actors, self.actors = self.actors, []
        try:
            for actor in actors:
                await actor.close.remote()
        finally:
            for actor in actors:
                self._ray.kill(actor)
            if self._started:
                self._ray.shutdown()


async def _relay(refs: Any) -> Stream:
    async for ref in refs:
        for event in await ref:
            yield event


async def grouped(events: AsyncGenerator[T, None], delay: float) -> AsyncGenerator[list[T], None]:
    """``events`` in lists: each holds an event and those that follow within ``delay``.

    The next event is awaited in a task that a timeout leaves running (cancelling it would
    cancel the stream it reads); it opens the next group. Closing this closes ``events``.
    """
    loop = asyncio.get_running_loop()
    ahead: asyncio.Future[T] | None = None
    try:
        while True:
            ahead = ahead or asyncio.ensure_future(anext(events))
            try:
                group = [await ahead]
            except StopAsyncIteration:
                return
            ahead, deadline = None, loop.time() + delay
            while ahead is None and (left := deadline - loop.time()) > 0:
                ahead = asyncio.ensure_future(anext(events))
                await asyncio.wait([ahead], timeout=left)
                if ahead.done():
                    if ahead.exception() is not None:
                        break  # the end, or an error: after this group, ``await ahead``
                    group.append(ahead.result())
                    ahead = None
            yield group
    finally:
        if ahead is not None:
            if not ahead.done():
                ahead.cancel()
                await asyncio.wait([ahead])
            if not ahead.cancelled():
                ahead.exception()  # retrieved: no "exception was never retrieved" log
        await events.aclose()
