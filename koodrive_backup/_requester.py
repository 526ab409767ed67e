"""What the client's operation groups need, and nothing more: send a described request, check
a lock ID against the managed locks, read the clock.

``Operations`` is the base of the groups (``LockOps``, ``RecordOps``, ``DeviceOps``,
``BulkOps``): each is given a ``Requester`` when built and keeps it as ``self._rq``; no group
knows another's state. ``BackupClient`` is all of them over one requester.
"""

from __future__ import annotations

from typing import Protocol

from . import _validate as check
from ._retry import stops_batch
from ._session import Session
from ._transport import Clock
from .errors import KooDriveError

__all__ = ["Lease", "Operations", "Requester"]


class Lease(Protocol):
    """A lock held by a ``client.lock()`` context, as the requester sees it."""

    def check(self) -> None:
        """Raise ``LockLostError`` if the lock was lost."""


class Requester:
    """Sends described requests through the session; knows the managed locks by ID."""

    def __init__(self, session: Session) -> None:
        self.session = session
        #: Send a described request (``Session.call``): ``call(endpoint, retry_unsafe=False,
        #: **validated_values)`` -> the decoded answer.
        self.call = session.call
        #: Where bulk operations and managed locks report (``_telemetry``).
        self.telemetry = session.telemetry
        self._leases: dict[str, Lease] = {}

    @property
    def clock(self) -> Clock:
        return self.session.clock

    @property
    def closed(self) -> bool:
        return self.session.closed

    def ensure_open(self) -> None:
        """Raise ``RuntimeError`` when the client is closed (for work that starts later)."""
        self.session.ensure_open()

    def stops_batch(self, error: KooDriveError) -> bool:
        """The batch stop rule (``stops_batch``), and: the client was closed mid-batch (every
        later chunk would fail with ``RuntimeError`` without a request)."""
        return stops_batch(error) or self.session.closed

    def lock_id(self, value: object) -> str:
        """A lock ID argument: a header value (no CR/LF), refused if its managed lock is lost."""
        lock_id = check.header_value(value, "lock_id")
        lease = self._leases.get(lock_id)
        if lease is not None:
            lease.check()
        return lock_id

    def optional_lock_id(self, value: object) -> str | None:
        return None if value is None else self.lock_id(value)

    def hold(self, lock_id: str, lease: Lease) -> None:
        """Register a managed lock: operations given its ID consult it until ``release``."""
        self._leases[lock_id] = lease

    def release(self, lock_id: str) -> None:
        self._leases.pop(lock_id, None)

    @property
    def held(self) -> frozenset[str]:
        """The IDs of the managed locks currently held (for diagnostics and tests)."""
        return frozenset(self._leases)


class Operations:
    """Base of the operation groups: they get a ``Requester``, nothing else."""

    def __init__(self, requester: Requester) -> None:
        self._rq = requester
