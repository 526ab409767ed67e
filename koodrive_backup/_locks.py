"""Backup locks (reference §2, §10): the three lock operations and the managed lock.

A lock lives 10 minutes (§2.1) unless renewed (§2.2). ``BackupClient.lock()`` creates one,
renews it in the background well before it expires, and releases it on exit, also on error
and cancellation. A renewal that keeps failing marks the lock *lost*: the client keeps a
registry of its managed locks by ID, so the next operation that passes the lost lock's ID
raises ``LockLostError`` before sending anything, instead of a confusing server error.

The context talks to the client's ``Requester`` only: it creates, renews and releases
through the endpoint descriptions, registers the lock there, and waits on its clock.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from types import TracebackType

from . import _endpoints as ep
from . import _validate as check
from ._requester import Operations, Requester
from ._retry import is_retryable
from ._telemetry import NullWatch, RenewalWatch
from ._transport import Clock
from .errors import APITimeoutError, KooDriveError, LockLostError, one_line
from .models import LockInfo, ModuleCode

__all__ = ["DEFAULT_LOCK_LIFETIME", "LockContext", "LockOps", "ManagedLock"]

logger = logging.getLogger("koodrive_backup")

#: Seconds a lock stays valid after creation or renewal (reference §2.1, §2.2).
DEFAULT_LOCK_LIFETIME = 600.0


class ManagedLock:
    """A lock held by ``async with client.lock(module_code) as lock:``.

    ``lock_id`` is the value to pass as ``lock_id=``; ``module_code`` the module it locks.
    ``lost`` turns true when the background renewal failed for good (``error`` holds why), and
    at the latest when the lock's lifetime since its last successful renewal has run out on
    the client's clock (``expires_at``, monotonic seconds): a renewal is started before the
    renewal it replaces would lapse, so a lock renewed in time is never "expired" here, and
    one whose renewals fail or hang is never believed alive past its server-side expiry. From
    then on ``check()`` raises and every client operation given this ``lock_id`` raises
    ``LockLostError``. ``released`` turns true once the lock was released on exit; a lock
    released before it was lost is never lost afterwards (its lifetime no longer matters).
    ``renewals`` counts the successful renewals.
    """

    __slots__ = (
        "_lost",
        "_now",
        "error",
        "expires_at",
        "lock_id",
        "module_code",
        "released",
        "renewals",
    )

    def __init__(
        self, lock_id: str, module_code: str, expires_at: float, now: Callable[[], float]
    ) -> None:
        self.lock_id = lock_id
        self.module_code = module_code
        self.expires_at = expires_at
        self._now = now
        self._lost = False
        self.released = False
        self.error: BaseException | None = None
        self.renewals = 0

    @property
    def lost(self) -> bool:
        """True once the renewal failed for good or the lock's lifetime ran out while held."""
        return self._lost or (not self.released and self._now() >= self.expires_at)

    def check(self) -> None:
        """Raise ``LockLostError`` (chained to the renewal failure) if the lock was lost."""
        if self.lost:
            cause = self.error or _expired(self)
            raise LockLostError(
                f"backup lock {self.lock_id} (module {self.module_code}) was lost: "
                f"renewal failed ({_described(cause)})"
            ) from cause

    def _renewed(self, started: float, lifetime: float) -> None:
        self.expires_at = started + lifetime  # counted from before the request: conservative
        self.renewals += 1

    def _mark_released(self, lost_before: bool) -> None:
        """Released on exit; ``lost_before``: it was lost when the release began (stays so)."""
        self._lost = self._lost or lost_before
        self.released = True

    def _mark_lost(self, cause: BaseException) -> None:
        self._lost = True
        self.error = cause
        logger.warning("backup lock %s lost: %s", self.lock_id, _described(cause))

    def __repr__(self) -> str:
        state = "lost" if self.lost else "released" if self.released else "held"
        return f"ManagedLock({self.lock_id!r}, module_code={self.module_code!r}, {state})"


def _expired(lock: ManagedLock) -> APITimeoutError:
    return APITimeoutError(f"backup lock {lock.lock_id}: no successful renewal before it expired")


def _described(exc: BaseException) -> str:
    """One log-safe line for an exception (SDK messages already are one line)."""
    if isinstance(exc, KooDriveError):
        return str(exc)
    return f"{type(exc).__name__}: {one_line(str(exc))}"


class LockContext:
    """The async context manager returned by ``BackupClient.lock()``; yields a ``ManagedLock``.

    On entry: createBackupLock. While inside: renewalBackupLock every ``renew_interval``
    seconds. On exit (normal, exception or cancellation): stop renewing, then
    releaseBackupLock. A failed release (any exception but cancellation) is logged, never
    raised: the lock expires by itself.
    """

    def __init__(
        self, requester: Requester, module_code: str, renew_interval: float, lifetime: float
    ) -> None:
        self._rq = requester
        self.module_code = module_code
        #: Seconds between renewals, and the lock's validity after each (creation included).
        self.renew_interval = renew_interval
        self.lifetime = lifetime
        self._lock: ManagedLock | None = None
        self._task: asyncio.Task[None] | None = None

    async def __aenter__(self) -> ManagedLock:
        if self._lock is not None:
            raise RuntimeError("this client.lock() context is already in use")
        clock = self._rq.clock
        started = clock.monotonic()
        info = await self._rq.call(ep.CREATE_LOCK, module_code=self.module_code)
        lock = ManagedLock(info.lock_id, self.module_code, started + self.lifetime, clock.monotonic)
        self._lock = lock
        self._rq.hold(lock.lock_id, lock)
        self._task = asyncio.create_task(self._keep_alive(lock), name=f"renew {lock.lock_id}")
        return lock

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        lock = self._lock
        if lock is None:
            return
        try:
            await self._stop_renewal()
        finally:  # also when cancelled while stopping: the release is still attempted
            self._rq.release(lock.lock_id)
            await self._release(lock)

    async def _stop_renewal(self) -> None:
        task, self._task = self._task, None
        if task is not None and not task.done():
            task.cancel()
            await asyncio.wait([task])  # our cancel is not re-raised; an outer one is

    async def _release(self, lock: ManagedLock) -> None:
        if self._rq.closed:
            logger.warning("client closed: backup lock %s not released", lock.lock_id)
            return
        lost = lock.lost
        try:
            await self._rq.call(ep.RELEASE_LOCK, lock_id=lock.lock_id)
        except Exception as exc:  # documented as logged, never raised: it expires anyway
            level = logging.DEBUG if lock.lost else logging.WARNING
            logger.log(level, "releasing backup lock %s failed: %s", lock.lock_id, _described(exc))
        else:
            lock._mark_released(lost)

    async def _keep_alive(self, lock: ManagedLock) -> None:
        """Renew every ``renew_interval``; retry transient failures while the lock lives.

        Each renewal call (with the session's own retries) is cut short when the lock's
        lifetime runs out on the client's clock: a renewal that fails slowly or hangs cannot
        keep the lock looking alive past its expiry. A refusal (4xx: expired, unknown,
        foreign) marks the lock lost at once. A transient failure (connection, timeout, 429,
        5xx) is tried again every ``renew_interval / 5`` while a new try can start before the
        expiry; otherwise the lock is marked lost.
        """
        delay: float | None = self.renew_interval
        while delay is not None:
            await self._rq.clock.sleep(delay)
            with self._rq.telemetry.lock_renewal(lock) as renewal:  # telemetry: a span each
                delay = await self._renew(lock, renewal)

    async def _renew(self, lock: ManagedLock, renewal: RenewalWatch | NullWatch) -> float | None:
        """One renewal: the delay before the next, or ``None`` once the lock is lost."""
        clock = self._rq.clock
        started = clock.monotonic()
        retry_delay = self.renew_interval / 5
        try:
            await self._renew_before_expiry(lock, started)
        except Exception as exc:
            transient = isinstance(exc, KooDriveError) and is_retryable(exc, idempotent=True)
            if not transient or clock.monotonic() + retry_delay >= lock.expires_at:
                lock._mark_lost(exc)
                return None
            logger.info(
                "renewing backup lock %s failed (%s); retrying", lock.lock_id, _described(exc)
            )
            renewal.failed(exc)
            return retry_delay
        lock._renewed(started, self.lifetime)
        return self.renew_interval

    async def _renew_before_expiry(self, lock: ManagedLock, now: float) -> None:
        """One renewal call, given at most the lock's remaining lifetime (on its clock)."""
        remaining = lock.expires_at - now
        if remaining <= 0:
            raise _expired(lock)
        # Renewing twice is harmless: retried like a GET.
        renewal = self._rq.call(ep.RENEW_LOCK, retry_unsafe=True, lock_id=lock.lock_id)
        if not await _within(self._rq.clock, remaining, renewal):
            raise _expired(lock)


async def _within(clock: Clock, seconds: float, work: Awaitable[object]) -> bool:
    """Await ``work`` for at most ``seconds`` of ``clock`` (virtual time included): True when
    it finished (its exception is raised), False when the time ran out and it was cancelled.

    ``asyncio.timeout`` on ``clock.sleep``: ``work`` runs in this task (no task per renewal);
    a timer task cancels this task when the time is up, and the cancellation is then taken
    back (``uncancel``), unless someone else cancelled this task too.
    """
    task = asyncio.current_task()
    assert task is not None
    expired = False

    def expire(timer: asyncio.Future[None]) -> None:
        nonlocal expired
        if not timer.cancelled():
            expired = True
            task.cancel()

    timer = asyncio.ensure_future(clock.sleep(seconds))
    timer.add_done_callback(expire)
    try:
        await work
    except asyncio.CancelledError:
        if expired and task.uncancel() == 0:
            return False
        raise
    else:
        if expired:  # finished although cancelled (it swallowed our cancel): take it back
            task.uncancel()
        return True
    finally:
        timer.cancel()


class LockOps(Operations):
    """The lock operations (reference §2) and the managed lock."""

    async def create_lock(
        self, module_code: ModuleCode | str, *, retry_unsafe: bool = False
    ) -> LockInfo:
        """Create a backup lock for a module (``POST /lock``); it is valid for 10 minutes.

        Prefer ``async with client.lock(module_code)``, which also renews and releases it.
        Not retried after a failure that may have been processed (a retry would meet the lock
        the first attempt created) unless ``retry_unsafe=True``. Raises ``ValueError`` /
        ``TypeError`` for a bad module code before any request, ``ConflictError`` when the
        user already holds a lock for the module, and the other ``KooDriveError`` subclasses.
        """
        code = check.module_code(module_code)
        return await self._rq.call(ep.CREATE_LOCK, retry_unsafe=retry_unsafe, module_code=code)

    async def renew_lock(self, lock_id: str, *, retry_unsafe: bool = False) -> None:
        """Reset a lock's validity to 10 minutes (``PATCH /lock``).

        A PATCH: retried only on failures that prove it was not processed unless
        ``retry_unsafe=True`` (renewing twice is harmless, so opting in is safe here; the
        managed lock does). Raises ``ValueError``/``TypeError`` for a bad lock ID before any
        request, ``ConflictError`` for an expired or unknown lock, and the other
        ``KooDriveError`` subclasses. It does not consult the managed-lock registry.
        """
        lock = check.header_value(lock_id, "lock_id")
        await self._rq.call(ep.RENEW_LOCK, retry_unsafe=retry_unsafe, lock_id=lock)

    async def release_lock(self, lock_id: str) -> None:
        """Release a lock (``DELETE /lock``); retried on transient failures like any DELETE.

        Raises ``ValueError``/``TypeError`` for a bad lock ID before any request,
        ``ConflictError`` for an unknown or already released lock (also after a retry whose
        first attempt released it but lost the answer), and the other ``KooDriveError``
        subclasses.
        """
        await self._rq.call(ep.RELEASE_LOCK, lock_id=check.header_value(lock_id, "lock_id"))

    def lock(
        self,
        module_code: ModuleCode | str,
        *,
        renew_interval: float | None = None,
        lifetime: float = DEFAULT_LOCK_LIFETIME,
    ) -> LockContext:
        """A managed lock: ``async with client.lock("101") as lock: ... lock.lock_id``.

        Creates the lock on entry, renews it in the background every ``renew_interval``
        seconds (default: half of ``lifetime``, the server's 10-minute validity), and releases
        it on exit, also on an exception or cancellation. Transient renewal failures are
        retried while the lock can still be alive; a renewal that fails for good marks it
        ``lost`` and every later operation given its ``lock_id`` raises ``LockLostError``
        without sending. Raises ``ValueError``/``TypeError`` at once for a bad module code or
        interval (``0 < renew_interval < lifetime``); entering raises what ``create_lock``
        raises (``ConflictError`` while the user already holds a lock for the module).
        """
        code = check.module_code(module_code)
        lifetime = check.positive_seconds(lifetime, "lifetime")
        interval = (
            lifetime / 2
            if renew_interval is None
            else check.positive_seconds(renew_interval, "renew_interval")
        )
        if interval >= lifetime:
            raise ValueError("renew_interval must be shorter than the lock lifetime")
        return LockContext(self._rq, code, interval, lifetime)

    @property
    def held_locks(self) -> frozenset[str]:
        """The IDs of the locks currently held by ``lock()`` contexts of this client."""
        return self._rq.held
