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
from types import TracebackType

from . import _endpoints as ep
from . import _validate as check
from ._requester import Operations, Requester
from ._retry import is_retryable
from ._telemetry import NullWatch, RenewalWatch
from .errors import KooDriveError, LockLostError
from .models import LockInfo, ModuleCode

__all__ = ["DEFAULT_LOCK_LIFETIME", "LockContext", "LockOps", "ManagedLock"]

logger = logging.getLogger("koodrive_backup")

#: Seconds a lock stays valid after creation or renewal (reference §2.1, §2.2).
DEFAULT_LOCK_LIFETIME = 600.0


class ManagedLock:
    """A lock held by ``async with client.lock(module_code) as lock:``.

    ``lock_id`` is the value to pass as ``lock_id=``; ``module_code`` the module it locks.
    ``lost`` turns true when the background renewal failed for good (``error`` holds why);
    from then on every client operation given this ``lock_id`` raises ``LockLostError``.
    ``released`` turns true once the lock was released on exit. ``renewals`` counts the
    successful renewals.
    """

    __slots__ = ("_renewed_at", "error", "lock_id", "lost", "module_code", "released", "renewals")

    def __init__(self, lock_id: str, module_code: str, renewed_at: float) -> None:
        self.lock_id = lock_id
        self.module_code = module_code
        self.lost = False
        self.released = False
        self.error: BaseException | None = None
        self.renewals = 0
        self._renewed_at = renewed_at

    def check(self) -> None:
        """Raise ``LockLostError`` (chained to the renewal failure) if the lock was lost."""
        if self.lost:
            raise LockLostError(
                f"backup lock {self.lock_id} (module {self.module_code}) was lost: "
                f"renewal failed ({self.error})"
            ) from self.error

    def _mark_lost(self, cause: BaseException) -> None:
        self.lost = True
        self.error = cause
        logger.warning("backup lock %s lost: %s", self.lock_id, cause)

    def __repr__(self) -> str:
        state = "lost" if self.lost else "released" if self.released else "held"
        return f"ManagedLock({self.lock_id!r}, module_code={self.module_code!r}, {state})"


class LockContext:
    """The async context manager returned by ``BackupClient.lock()``; yields a ``ManagedLock``.

    On entry: createBackupLock. While inside: renewalBackupLock every ``renew_interval``
    seconds. On exit (normal, exception or cancellation): stop renewing, then
    releaseBackupLock. A failed release is logged, never raised: the lock expires by itself.
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
        started = self._rq.clock.monotonic()
        info = await self._rq.call(ep.CREATE_LOCK, module_code=self.module_code)
        lock = ManagedLock(info.lock_id, self.module_code, started)
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
        try:
            await self._rq.call(ep.RELEASE_LOCK, lock_id=lock.lock_id)
        except KooDriveError as exc:
            level = logging.DEBUG if lock.lost else logging.WARNING
            logger.log(level, "releasing backup lock %s failed: %s", lock.lock_id, exc)
        else:
            lock.released = True

    async def _keep_alive(self, lock: ManagedLock) -> None:
        """Renew every ``renew_interval``; retry transient failures while the lock lives.

        A refusal (4xx: expired, unknown, foreign) marks the lock lost at once. A transient
        failure (connection, timeout, 429, 5xx: after the transport's own retries) is tried
        again every ``renew_interval / 5`` until the lock's lifetime since the last good
        renewal would run out; then it is marked lost.
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
        try:  # renewing twice is harmless: retried like a GET
            await self._rq.call(ep.RENEW_LOCK, retry_unsafe=True, lock_id=lock.lock_id)
        except Exception as exc:
            expires = lock._renewed_at + self.lifetime
            transient = isinstance(exc, KooDriveError) and is_retryable(exc, idempotent=True)
            if not transient or clock.monotonic() + retry_delay >= expires:
                lock._mark_lost(exc)
                return None
            logger.info("renewing backup lock %s failed (%s); retrying", lock.lock_id, exc)
            renewal.failed(exc)
            return retry_delay
        lock._renewed_at = started
        lock.renewals += 1
        return self.renew_interval


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
