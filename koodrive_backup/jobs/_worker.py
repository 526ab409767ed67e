"""The worker: the part of a job that talks to the API (in-process, or inside a Ray actor).

It holds one ``BackupClient`` per user (kept while in use, plus a few idle ones), the one
``RateLimit`` they share (built from ``options.rate``), and the backup locks of its users,
and turns each operation into a stream of plain events
(``_events``): discovered IDs, settled chunks, locks taken and released, or the error that
stopped the operation. It never touches the journal: the driver does.

Operations (``LocalWorker.stream(name, *args)``):

- ``release_lock(user_id, module_code, lock_id)``: release a lock a crashed run held;
- ``list_scopes(user_id, device_id, module_code)``: one ``Found`` with every scope ID;
- ``list_records(user_id, device_id, module_code, before)``: one ``Found`` per page, the
  records created before ``before`` (ISO-8601; a record without a creation time is kept);
- ``delete_scopes(user_id, device_id, ids)``: one ``Settled`` per chunk of ``CHUNK``, as it
  completes (``iter_delete_scopes``);
- ``delete_records(user_id, module_code, ids)``: under the user's lock for the module
  (``client.lock()``, shared by the user's targets running at once): ``LockHeld`` when it
  is created, one ``Settled`` per record as it settles (``iter_delete_records``; ``index``:
  its position in ``ids``), ``LockReleased`` when the last user let go.

No record is deleted under a lock before the driver has journaled its ID: after
``LockHeld`` the lock's users wait for ``lock_journaled`` (a run after a crash then
releases the lock instead of waiting for it to expire). ``LocalWorkers``, the driver's
view of a worker, calls it once the driver asks for the event after a ``LockHeld``, which
the runner does only when the lock ID is committed; on Ray the driver calls it on the
actor (``_ray``), whose stream runs ahead of the driver.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections import OrderedDict
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import datetime

import attrs

from .. import (
    NOT_FOUND_CODE,
    BackupClient,
    ChunkOutcome,
    ConflictError,
    KooDriveError,
    ManagedLock,
    RecordFailure,
    ScopeFailure,
)
from ._clients import ClientFactory, ClientOptions, make_client
from ._events import (
    CHUNK,
    ErrorInfo,
    Found,
    LockHeld,
    LockReleased,
    Settled,
    Stream,
    classify,
)

__all__ = ["LocalWorker", "LocalWorkers", "WorkerSettings", "confirming"]


@attrs.frozen
class WorkerSettings:
    """``requests``: requests in flight per operation; ``lock_lifetime``: seconds the server
    keeps a lock (renewed at half); ``idle_clients``: unused clients kept open for reuse."""

    requests: int = 4
    lock_lifetime: float = 600.0
    idle_clients: int = 32


class _Holder:
    """One backup lock, held by a task of its own while any operation uses it."""

    def __init__(self, client: BackupClient, module_code: str, lifetime: float) -> None:
        self.users = 0
        self.stop = asyncio.Event()
        self.journaled = asyncio.Event()  # the driver committed the lock ID: records may go
        self.ready: asyncio.Future[ManagedLock] = asyncio.get_running_loop().create_future()
        self.task = asyncio.create_task(self._hold(client, module_code, lifetime))

    async def _hold(self, client: BackupClient, module_code: str, lifetime: float) -> None:
        try:
            async with client.lock(module_code, lifetime=lifetime) as lock:
                self.ready.set_result(lock)
                await self.stop.wait()
        except BaseException as exc:
            if not self.ready.done():
                self.ready.set_exception(exc)
                self.ready.exception()  # retrieved here; the acquirers re-raise it
            if not isinstance(exc, Exception):
                raise


class _User:
    """A user's client and locks (one lock per module, shared by concurrent operations)."""

    def __init__(self, client: BackupClient, lifetime: float) -> None:
        self.client = client
        self.busy = 0
        self.lifetime = lifetime
        self.locks: dict[str, _Holder] = {}
        self.releasing: dict[str, asyncio.Task[None]] = {}

    async def acquire(self, module_code: str) -> tuple[_Holder, bool]:
        """The module's lock and whether it was just created (``KooDriveError`` if refused)."""
        while (releasing := self.releasing.get(module_code)) is not None:
            await asyncio.wait([releasing])  # the server allows one lock per user and module
        holder = self.locks.get(module_code)
        created = holder is None or (holder.ready.done() and _lost(holder))
        if created:
            holder = _Holder(self.client, module_code, self.lifetime)
            self.locks[module_code] = holder
        assert holder is not None
        holder.users += 1
        try:
            await asyncio.shield(holder.ready)
        except BaseException:
            await self.release(module_code, holder)
            raise
        return holder, created

    async def release(self, module_code: str, holder: _Holder) -> ManagedLock | None:
        """Let go; the last user releases the lock. Returns it when it was released."""
        holder.users -= 1
        if holder.users:
            return None
        if self.locks.get(module_code) is holder:
            del self.locks[module_code]
        holder.stop.set()
        self.releasing[module_code] = holder.task
        try:
            await asyncio.wait([holder.task])
        finally:
            if self.releasing.get(module_code) is holder.task:
                del self.releasing[module_code]
        if holder.ready.cancelled() or holder.ready.exception() is not None:
            return None
        lock = holder.ready.result()
        return lock if lock.released else None


def _lost(holder: _Holder) -> bool:
    return holder.ready.exception() is not None or holder.ready.result().lost


class LocalWorker:
    """Runs operations in this process; see the module docstring."""

    def __init__(
        self,
        options: ClientOptions,
        settings: WorkerSettings | None = None,
        client_factory: ClientFactory = make_client,
    ) -> None:
        self.options = options
        self.settings = settings or WorkerSettings()
        self._factory = client_factory
        self._users: OrderedDict[str, _User] = OrderedDict()
        #: One limit for every client of this worker (``None``: unlimited).
        self.rate_limit = options.rate_limit()
        self._closed_wait = 0.0  # rate-limit wait of the clients already closed
        self._unjournaled: dict[str, _Holder] = {}  # by lock ID: LockHeld not confirmed yet

    @property
    def rate_limit_wait(self) -> float | None:
        """Seconds this worker's requests waited for its rate limit, summed over its clients
        (closed ones included); ``None`` without a limit."""
        if self.rate_limit is None:
            return None
        return self._closed_wait + sum(u.client.rate_limit_wait for u in self._users.values())

    def stream(self, operation: str, user_id: str, *args: str | list[str]) -> Stream:
        """The events of one operation for ``user_id`` (see the module docstring)."""
        if operation not in _OPERATIONS:
            raise ValueError(f"unknown worker operation {operation!r}")
        method: Callable[..., Stream] = getattr(self, "_" + operation)
        return method(user_id, *args)

    def lock_journaled(self, held: LockHeld) -> None:
        """The driver committed ``held``: its lock's users may delete records under it."""
        holder = self._unjournaled.pop(held.lock_id, None)
        if holder is not None:
            holder.journaled.set()

    async def close(self) -> None:
        """Close every client (their locks were released by the operations)."""
        users, self._users = self._users, OrderedDict()
        for user in users.values():
            await self._close(user.client)

    async def _close(self, client: BackupClient) -> None:
        self._closed_wait += client.rate_limit_wait
        await client.close()

    @contextlib.asynccontextmanager
    async def _user(self, user_id: str) -> AsyncIterator[_User]:
        user = self._users.get(user_id)
        if user is None:
            client = self._factory(self.options, user_id, self.rate_limit)
            user = _User(client, self.settings.lock_lifetime)
            self._users[user_id] = user
        user.busy += 1
        try:
            yield user
        finally:
            user.busy -= 1
            self._users.move_to_end(user_id)
            await self._trim()

    async def _trim(self) -> None:
        """Close the least recently used idle clients beyond ``idle_clients``."""
        idle = [uid for uid, user in self._users.items() if not user.busy and not user.locks]
        for user_id in idle[: max(0, len(idle) - self.settings.idle_clients)]:
            await self._close(self._users.pop(user_id).client)

    # -- operations ---------------------------------------------------------------------------

    async def _release_lock(self, user_id: str, module_code: str, lock_id: str) -> Stream:
        async with self._user(user_id) as user:
            try:
                await user.client.release_lock(lock_id)
            except ConflictError:
                pass  # already released, or expired: gone either way
            except KooDriveError as exc:
                yield classify(exc)
                return
            yield LockReleased(user_id, module_code, lock_id)

    async def _list_scopes(self, user_id: str, device_id: str, module_code: str) -> Stream:
        async with self._user(user_id) as user:
            try:
                scopes = await user.client.list_scopes(device_id, module_code)
            except KooDriveError as exc:
                yield classify(exc)
                return
            yield Found(tuple(scope.scope_id for scope in scopes))

    async def _list_records(
        self, user_id: str, device_id: str, module_code: str, before: str
    ) -> Stream:
        limit = datetime.fromisoformat(before)
        async with self._user(user_id) as user:
            cursor: str | None = None
            while True:
                try:
                    page = await user.client.list_records(module_code, 100, cursor, device_id)
                except KooDriveError as exc:
                    yield classify(exc)
                    return
                old = (r.record_id for r in page.items if r.create_time and r.create_time < limit)
                yield Found(tuple(old))
                cursor = page.next_cursor
                if not cursor:
                    return

    async def _delete_scopes(self, user_id: str, device_id: str, ids: list[str]) -> Stream:
        async with self._user(user_id) as user:
            stream = user.client.iter_delete_scopes(
                device_id, ids, chunk_size=CHUNK, concurrency=self.settings.requests
            )
            async with stream:
                async for outcome in stream:
                    yield scope_settled(outcome)

    async def _delete_records(self, user_id: str, module_code: str, ids: list[str]) -> Stream:
        async with self._user(user_id) as user:
            try:
                holder, created = await user.acquire(module_code)
            except KooDriveError as exc:
                yield Settled(0, unprocessed=tuple(ids), error=_lock_error(exc))
                return
            lock = holder.ready.result()
            try:
                if created:
                    self._unjournaled[lock.lock_id] = holder
                    yield LockHeld(user_id, module_code, lock.lock_id)
                await holder.journaled.wait()  # see the module docstring
                async for settled in self._records_under(user, lock, ids):
                    yield settled
            finally:
                if created:
                    self._unjournaled.pop(lock.lock_id, None)
                released = await user.release(module_code, holder)
            if released is not None:
                yield LockReleased(user_id, module_code, released.lock_id)

    async def _records_under(self, user: _User, lock: ManagedLock, ids: list[str]) -> Stream:
        """One ``Settled`` per record, as each settles (the journal writes it at once)."""
        try:  # a lock lost before the call raises LockLostError at once: try again later
            stream = user.client.iter_delete_records(
                ids, lock_id=lock.lock_id, concurrency=self.settings.requests
            )
        except KooDriveError as exc:
            yield Settled(0, unprocessed=tuple(ids), error=_lock_error(exc))
            return
        async with stream:
            async for outcome in stream:
                yield record_settled(outcome)


class LocalWorkers:
    """``Workers`` (see ``_runner``) in this process: one ``LocalWorker`` for every user.
    Also the body of a Ray actor (``_ray.WorkerActor``)."""

    def __init__(self, worker: LocalWorker) -> None:
        self.worker = worker

    def stream(self, operation: str, user_id: str, *args: str | list[str]) -> Stream:
        return confirming(self.worker.stream(operation, user_id, *args), self.lock_journaled)

    async def lock_journaled(self, held: LockHeld) -> None:
        self.worker.lock_journaled(held)

    async def rate_limit_wait(self) -> float | None:
        return self.worker.rate_limit_wait

    async def close(self) -> None:
        await self.worker.close()


async def confirming(events: Stream, confirm: Callable[[LockHeld], Awaitable[object]]) -> Stream:
    """``events``, confirming each ``LockHeld`` to its worker once the consumer asks for the
    next event (the runner asks only when it has committed the lock ID)."""
    async with contextlib.aclosing(events):
        async for event in events:
            yield event
            if isinstance(event, LockHeld):
                await confirm(event)


_OPERATIONS = frozenset(
    {"release_lock", "list_scopes", "list_records", "delete_scopes", "delete_records"}
)


def _lock_error(exc: KooDriveError) -> ErrorInfo:
    """A lock that cannot be had: the records wait (a 409 means another holder, whose lock
    expires), unless the credential or the user is refused."""
    info = classify(exc)
    return info if info.kind in ("auth", "target") else attrs.evolve(info, kind="transient")


def scope_settled(outcome: ChunkOutcome[str, ScopeFailure]) -> Settled:
    """A chunk of ``iter_delete_scopes`` as the journal records it."""
    gone = tuple(f.scope_id for f in outcome.failed if f.error_code == NOT_FOUND_CODE)
    failed = tuple(
        (f.scope_id, f.error_code, f.msg or "")
        for f in outcome.failed
        if f.error_code != NOT_FOUND_CODE
    )
    error = None if outcome.error is None else classify(outcome.error)
    settled = Settled(outcome.index, outcome.deleted, gone, failed, outcome.unprocessed)
    return _with_error(settled, error)


def record_settled(outcome: ChunkOutcome[str, RecordFailure]) -> Settled:
    """One record of ``iter_delete_records`` as the journal records it (404: gone)."""
    if not outcome.failed and outcome.error is None:  # the common case: deleted
        return Settled(outcome.index, outcome.deleted, unprocessed=outcome.unprocessed)
    gone = tuple(f.record_id for f in outcome.failed if f.status == 404)
    failed = tuple(
        (f.record_id, f.error_code, f.msg or "") for f in outcome.failed if f.status != 404
    )
    error = None if outcome.error is None else classify(outcome.error)
    settled = Settled(outcome.index, outcome.deleted, gone, failed, outcome.unprocessed)
    return _with_error(settled, error)


def _with_error(settled: Settled, error: ErrorInfo | None) -> Settled:
    """Attach ``error``; a definitive refusal of the request fails its unprocessed IDs."""
    if error is None:
        return settled
    if error.kind != "ids":
        return attrs.evolve(settled, error=error)
    failed = settled.failed + tuple((i, error.code, error.msg) for i in settled.unprocessed)
    return attrs.evolve(settled, failed=failed, unprocessed=(), error=error)
