"""Typed results of the KooDrive backup API: attrs classes only, frozen, no I/O.

Field names are snake_case; the camelCase wire names live in ``_codec``. Every ID is a ``str``.
Fields the server may omit default to ``None`` (reference §1.4: the seed example of
getBackupRecord omits ``endTime`` and ``deviceInfo``).
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from datetime import datetime
from typing import Any, Generic, TypeVar

import attrs

from .errors import KooDriveError

__all__ = [
    "AddScopesProgress",
    "AddScopesResult",
    "BackupFile",
    "BackupRecord",
    "BatchProgress",
    "ConfigInfo",
    "CreatedFile",
    "DeleteRecordsResult",
    "DeleteScopesResult",
    "DeviceEntity",
    "LockInfo",
    "ModuleCode",
    "NOT_FOUND_CODE",
    "Page",
    "RecordFailure",
    "RecordStatus",
    "REPEATED_ID_CODE",
    "ScopeAddFailure",
    "ScopeFailure",
    "ScopeInfo",
    "ScopeSpec",
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


class _Deletion:
    """What the two delete results share: ``ok`` and ``gone``, defined once.

    Subclasses name how a failure refers to its ID (``_failure_id``) and which failures mean
    the ID is absent now (``_absent``).
    """

    __slots__ = ()

    deleted: tuple[str, ...]
    failed: tuple[Any, ...]
    unprocessed: tuple[str, ...]
    gone_ids: tuple[str, ...] | None

    @property
    def ok(self) -> bool:
        """True when every input ID was deleted."""
        return not self.failed and not self.unprocessed

    @property
    def gone(self) -> tuple[str, ...]:
        """Unique IDs known to be absent now, in input order: deleted, or refused as not
        found. An ID deleted by an attempt whose answer was lost is reported as not found by
        the retry: either way it is gone, which is what a cleanup needs to know."""
        if self.gone_ids is not None:
            return self.gone_ids
        not_found = (self._failure_id(f) for f in self.failed if self._absent(f))
        return tuple(dict.fromkeys((*self.deleted, *not_found)))

    @staticmethod
    def _failure_id(failure: Any) -> str:
        raise NotImplementedError

    @staticmethod
    def _absent(failure: Any) -> bool:
        raise NotImplementedError


@attrs.frozen
class DeleteScopesResult(_Deletion):
    """What a (batched) scope deletion did with every input ID.

    Each input occurrence is in exactly one of ``deleted``, ``failed`` or ``unprocessed``, each
    in input order. ``errors`` holds one exception per request that failed after retries, in
    chunk order; its IDs are in ``unprocessed`` and can be fed into a new call. ``gone``: the
    IDs deleted or failed with ``15000418`` (not found).
    """

    deleted: tuple[str, ...] = ()
    failed: tuple[ScopeFailure, ...] = ()
    unprocessed: tuple[str, ...] = ()
    errors: tuple[KooDriveError, ...] = ()
    #: ``gone`` as the batch helper computed it in input order (derived when not given).
    gone_ids: tuple[str, ...] | None = attrs.field(default=None, kw_only=True, repr=False, eq=False)

    @staticmethod
    def _failure_id(failure: ScopeFailure) -> str:
        return failure.scope_id

    @staticmethod
    def _absent(failure: ScopeFailure) -> bool:
        return failure.error_code == NOT_FOUND_CODE


@attrs.frozen
class BatchProgress:
    """Running counts of a batch, in input occurrences (duplicates included)."""

    done: int
    total: int
    deleted: int
    failed: int
    unprocessed: int


@attrs.frozen
class AddScopesProgress:
    """Running counts of ``add_scopes``, in input occurrences (duplicates included)."""

    done: int
    total: int
    added: int
    failed: int
    unprocessed: int


# --- models of the rest of the backup API (locks, records, files, scopes) --------------------


@attrs.frozen
class CreatedFile:
    """The answer of createBackupFile, whose response schema the reference could not see.

    The documented ``BackupFile`` fields are decoded when present and well-formed (else
    ``None``); ``raw`` is the whole JSON answer as received, so fields the reference does not
    document (an upload ID, upload URLs, ...) stay available: ``created.raw["data"]``.
    """

    file_id: str | None = None
    file_name: str | None = None
    sha256: str | None = None
    size: int | None = None
    description: str | None = None
    create_time: datetime | None = None
    raw: Mapping[str, Any] = attrs.field(factory=dict, repr=False, eq=False)


@attrs.frozen
class RecordFailure:
    """A record ``delete_records`` did not delete, with the reason.

    ``error_code`` is the server's ``code`` as a string when the answer carried one, else the
    HTTP status as a string (``"15000424"`` for a repeat in the input, as for scopes);
    ``status`` is the HTTP status (``None`` for a repeat, which is never sent).
    """

    record_id: str
    error_code: str
    msg: str | None = None
    status: int | None = None


@attrs.frozen
class DeleteRecordsResult(_Deletion):
    """What ``delete_records`` did with every input ID (the accounting of ``delete_scopes``).

    Each input occurrence is in exactly one of ``deleted``, ``failed`` or ``unprocessed``, each
    in input order. ``failed`` holds definitive refusals (HTTP 4xx such as 404, 409) and
    repeats; ``unprocessed`` the IDs whose request failed after retries (their exceptions are in
    ``errors``) or was never sent (lock lost, batch stopped): they can be fed into a new call.
    ``gone``: the IDs deleted or refused with HTTP 404 (not found).
    """

    deleted: tuple[str, ...] = ()
    failed: tuple[RecordFailure, ...] = ()
    unprocessed: tuple[str, ...] = ()
    errors: tuple[KooDriveError, ...] = ()
    #: ``gone`` as ``delete_records`` computed it in input order (derived when not given).
    gone_ids: tuple[str, ...] | None = attrs.field(default=None, kw_only=True, repr=False, eq=False)

    @staticmethod
    def _failure_id(failure: RecordFailure) -> str:
        return failure.record_id

    @staticmethod
    def _absent(failure: RecordFailure) -> bool:
        return failure.status == 404


@attrs.frozen
class ScopeSpec:
    """A scope to add (``ScopeBaseInfo``, reference §6.1): ``""`` means "not given".

    Each path is empty or starts with ``/``, holds no backslash and is at most 10000
    characters; the two may not both be empty.
    """

    local_path: str = ""
    target_folder_path: str = ""


@attrs.frozen
class ScopeAddFailure:
    """A scope ``add_scopes`` did not create: the spec, the ``errorCode`` and the message.

    ``"15000424"`` marks a spec repeated in the input (sent once), as the server does for a
    repeat inside one request.
    """

    spec: ScopeSpec
    error_code: str
    msg: str | None = None


@attrs.frozen
class AddScopesResult:
    """What ``add_scopes`` did with every input spec, in input order.

    Each input occurrence lands in exactly one of ``added`` (the created ``ScopeInfo``),
    ``failed`` or ``unprocessed`` (its request failed after retries: exceptions in
    ``errors``, one per failed request in chunk order).
    """

    added: tuple[ScopeInfo, ...] = ()
    failed: tuple[ScopeAddFailure, ...] = ()
    unprocessed: tuple[ScopeSpec, ...] = ()
    errors: tuple[KooDriveError, ...] = ()

    @property
    def ok(self) -> bool:
        """True when every input spec was added."""
        return not self.failed and not self.unprocessed
