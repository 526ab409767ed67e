"""Typed results of the KooDrive backup API: attrs classes only, frozen, no I/O.

Field names are snake_case; the camelCase wire names live in ``_codec``. Every ID is a ``str``.
Fields the server may omit default to ``None`` (reference §1.4: the seed example of
getBackupRecord omits ``endTime`` and ``deviceInfo``).
"""

from __future__ import annotations

import enum
from datetime import datetime
from typing import Generic, TypeVar

import attrs

from .errors import KooDriveError

__all__ = [
    "BackupFile",
    "BackupRecord",
    "BatchProgress",
    "ConfigInfo",
    "DeleteScopesResult",
    "DeviceEntity",
    "LockInfo",
    "ModuleCode",
    "NOT_FOUND_CODE",
    "Page",
    "RecordStatus",
    "REPEATED_ID_CODE",
    "ScopeFailure",
    "ScopeInfo",
]

T = TypeVar("T")

#: ``errorCode`` of a scope that does not exist (seed page 001). After a lost answer and a
#: retry, a scope the first attempt deleted is reported with this code.
NOT_FOUND_CODE = "15000418"
#: ``errorCode`` of an ID repeated inside one request (seed page 001).
REPEATED_ID_CODE = "15000424"


class ModuleCode(enum.StrEnum):
    """The backup module (reference §1.3). A plain ``"100"``/``"101"``/``"102"`` works too."""

    FOLDER = "100"
    ALBUM = "101"
    CONTACTS = "102"


class RecordStatus(enum.IntEnum):
    """``BackupRecord.status`` (reference §1.4). Unknown integers decode as plain ``int``."""

    NEW = 0
    COMPLETED = 1
    TO_BE_DELETED = 2


@attrs.frozen
class DeviceEntity:
    """A bound device (``DeviceEntity`` / ``BoundDeviceEntity``, reference §1.4)."""

    device_id: str
    machine_code: str | None = None
    device_name: str | None = None
    device_os: str | None = None
    create_time: datetime | None = None


@attrs.frozen
class BackupRecord:
    """A backup record. ``properties`` is the caller's JSON text, kept as the server sent it."""

    record_id: str
    module_code: ModuleCode | str | None = None
    status: RecordStatus | int | None = None
    properties: str | None = None
    version: int | None = None
    create_time: datetime | None = None
    end_time: datetime | None = None
    device_info: DeviceEntity | None = None


@attrs.frozen
class LockInfo:
    """A backup lock as returned by createBackupLock: ``<uuid>@<moduleCode>``."""

    lock_id: str


@attrs.frozen
class BackupFile:
    """A file registered in a backup record (reference §1.4)."""

    file_id: str
    file_name: str | None = None
    sha256: str | None = None
    size: int | None = None
    description: str | None = None
    create_time: datetime | None = None


@attrs.frozen
class ScopeInfo:
    """A backup scope: a device-side path mapped to a cloud folder (reference §1.4)."""

    scope_id: str
    local_path: str | None = None
    target_folder_path: str | None = None
    module_code: ModuleCode | str | None = None
    create_time: datetime | None = None


@attrs.frozen
class ConfigInfo:
    """A module configuration item (``ConfigInfo``/``SimpleConfigInfo``, reference §1.4)."""

    device_id: str | None = None
    module_code: ModuleCode | str | None = None
    config_name: str | None = None
    config_value: str | None = None
    description: str | None = None


@attrs.frozen
class Page(Generic[T]):
    """One page of a list call. ``next_cursor`` is ``None`` on the last page."""

    items: tuple[T, ...]
    next_cursor: str | None = None


@attrs.frozen
class ScopeFailure:
    """An ID the server (or the SDK, for a repeat) reported as not deleted.

    ``error_code`` is a string as on the wire: ``"15000418"`` not found, ``"15000424"`` repeated
    ID. Failures of whole requests are not here: their IDs are in ``unprocessed``.
    """

    scope_id: str
    error_code: str
    msg: str | None = None


@attrs.frozen
class DeleteScopesResult:
    """What a (batched) scope deletion did with every input ID.

    Each input occurrence is in exactly one of ``deleted``, ``failed`` or ``unprocessed``, each
    in input order. ``errors`` holds one exception per request that failed after retries, in
    chunk order; its IDs are in ``unprocessed`` and can be fed into a new call.
    """

    deleted: tuple[str, ...] = ()
    failed: tuple[ScopeFailure, ...] = ()
    unprocessed: tuple[str, ...] = ()
    errors: tuple[KooDriveError, ...] = ()
    #: The unique IDs known to be absent now, in input order (set by the batch helper, which
    #: knows the input order; otherwise derived from ``deleted`` and ``failed``).
    gone_ids: tuple[str, ...] | None = attrs.field(default=None, kw_only=True, repr=False)

    @property
    def ok(self) -> bool:
        """True when every input ID was deleted."""
        return not self.failed and not self.unprocessed

    @property
    def gone(self) -> tuple[str, ...]:
        """Unique IDs in ``deleted`` or failed with ``15000418`` (not found), in input order.

        A scope that was deleted by an attempt whose answer was lost is reported as not found by
        the retry: either way it is gone now, which is what a cleanup needs to know.
        """
        if self.gone_ids is not None:
            return self.gone_ids
        not_found = (f.scope_id for f in self.failed if f.error_code == NOT_FOUND_CODE)
        return tuple(dict.fromkeys((*self.deleted, *not_found)))


@attrs.frozen
class BatchProgress:
    """Running counts of a batch, in input occurrences (duplicates included)."""

    done: int
    total: int
    deleted: int
    failed: int
    unprocessed: int
