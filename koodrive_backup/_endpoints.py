"""The 19 endpoints of ``/koodrive/ose/v1/backup``, each described once, and their answers.

An endpoint is one ``Endpoint`` value (``_protocol``): method, path template, query and body
fields, headers and the answer's decoder. The client's public methods check their arguments
and call these descriptions; nothing else knows an endpoint's wire shape. Section numbers
refer to ``koodrive-backup-api.md``; the seed pages are the primary spec.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from typing import Any, TypeVar

import attrs

from ._codec import ShapeError, structure, wire_name
from ._protocol import LOCK_HEADER, Endpoint, Payload, Request
from .errors import DecodeError
from .models import (
    BackupFile,
    BackupRecord,
    ConfigInfo,
    CreatedFile,
    DeviceEntity,
    LockInfo,
    Page,
    ScopeFailure,
    ScopeInfo,
)

__all__ = [
    "ADD_SCOPES",
    "BIND_DEVICE",
    "COMPLETE_RECORD",
    "CREATE_FILE",
    "CREATE_LOCK",
    "CREATE_RECORD",
    "DELETE_RECORD",
    "DELETE_SCOPES",
    "ENDPOINTS",
    "GET_CONFIG",
    "GET_RECORD",
    "LIST_CONFIGS",
    "LIST_DEVICES",
    "LIST_FILES",
    "LIST_RECORDS",
    "LIST_SCOPES",
    "MAX_IDS_PER_REQUEST",
    "RELEASE_LOCK",
    "RENEW_LOCK",
    "UNBIND_DEVICE",
    "UPDATE_CONFIG",
    "FailedScopeListItem",
    "ScopeAddAnswer",
    "ScopeDeleteAnswer",
    "data",
    "items",
    "page",
    "top_level",
]

T = TypeVar("T")
logger = logging.getLogger("koodrive_backup")

#: The server takes at most 100 IDs (or scopes) per batch request (seed page 001, §6.1).
MAX_IDS_PER_REQUEST = 100

# --- answer shapes (reference §1.2: {code, msg, data}, lists with nextCursor) ---------------


def top_level(cls: type[T]) -> Callable[[Any, Request], T]:
    """The answer itself (or any JSON value) decoded into ``cls``, wire names in errors."""

    def decode(value: Any, req: Request) -> T:
        try:
            return structure(value, cls)
        except ShapeError as exc:
            raise DecodeError(f"{req}: {exc}", status=200) from None

    return decode


def data(cls: type[T]) -> Callable[[Payload, Request], T]:
    """``payload["data"]`` (the usual envelope) decoded into ``cls``; it must be there."""

    def decode(payload: Payload, req: Request) -> T:
        value = payload.get("data")
        if value is None:
            raise DecodeError(f"{req}: answer has no data", status=200)
        try:
            return structure(value, cls)
        except ShapeError as exc:
            raise DecodeError(f"{req}: {exc}", status=200) from None

    return decode


def optional_data(cls: type[T]) -> Callable[[Payload, Request], T | None]:
    """Like ``data``, but an answer without ``data`` gives ``None``."""
    decode_data = data(cls)

    def decode(payload: Payload, req: Request) -> T | None:
        return None if payload.get("data") is None else decode_data(payload, req)

    return decode


def items(cls: type[T], field: str = "data") -> Callable[[Payload, Request], tuple[T, ...]]:
    """An unpaged list in ``payload[field]``; absent or ``null`` is an empty list."""
    decode_item = top_level(cls)

    def decode(payload: Payload, req: Request) -> tuple[T, ...]:
        return tuple(decode_item(item, req) for item in _list(payload, field, req))

    return decode


def page(cls: type[T]) -> Callable[[Payload, Request], Page[T]]:
    """A cursor page: ``data`` is the array, ``nextCursor`` beside it (reference §1.2).

    An absent, ``null`` or empty ``nextCursor`` means the last page (§15 item 11 leaves the
    convention open, so all three are accepted).
    """
    decode_items = items(cls)

    def decode(payload: Payload, req: Request) -> Page[T]:
        cursor = payload.get("nextCursor")
        if cursor is not None and type(cursor) is not str:
            raise DecodeError(f"{req}: nextCursor is not a string", status=200)
        return Page(decode_items(payload, req), cursor or None)

    return decode


def _list(payload: Payload, field: str, req: Request) -> list[Any]:
    value = payload.get(field)
    if value is None:
        return []
    if not isinstance(value, list):
        raise DecodeError(f"{req}: {field} is not a list", status=200)
    return value


@attrs.frozen
class ScopeDeleteAnswer:
    """batchDeleteBackupScope's answer, top level (seed page 001): what was deleted, what not."""

    scope_id_list: tuple[str, ...] = ()
    failed_scope_list: tuple[ScopeFailure, ...] = ()


@attrs.frozen
class FailedScopeListItem:
    """One ``failedScopeList`` item of batchAddBackupScope (shape of our fake; [G] in §6.1)."""

    error_code: str
    local_path: str | None = None
    target_folder_path: str | None = None
    msg: str | None = None


@attrs.frozen
class ScopeAddAnswer:
    """batchAddBackupScope's answer, top level: created scopes and per-item failures."""

    scope_list: tuple[ScopeInfo, ...] = ()
    failed_scope_list: tuple[FailedScopeListItem, ...] = ()


_decode_scope_add = top_level(ScopeAddAnswer)


def scope_add_answer(payload: Payload, req: Request) -> ScopeAddAnswer:
    """batchAddBackupScope's answer, or ``DecodeError`` for a shape it does not recognise.

    Lenient decoding would read an unknown shape (the lists wrapped in ``data``, items that
    name no path) as "nothing created, nothing failed": every scope unprocessed, no error,
    and a re-send creating them twice. So the answer must carry ``scopeList`` or
    ``failedScopeList`` at top level (``null`` reads as empty), and every item must name
    the path pair it is about (the only way to match it to a scope sent).
    """
    if "scopeList" not in payload and "failedScopeList" not in payload:
        raise DecodeError(f"{req}: answer has neither scopeList nor failedScopeList", status=200)
    failed = payload.get("failedScopeList")
    if isinstance(failed, Mapping):  # typed as one object like the delete call's (§6.3)
        payload = {**payload, "failedScopeList": [failed]}
    answer = _decode_scope_add(payload, req)
    for field, entries in (
        ("scopeList", answer.scope_list),
        ("failedScopeList", answer.failed_scope_list),
    ):
        if any(not (item.local_path or item.target_folder_path) for item in entries):
            raise DecodeError(f"{req}: a {field} item names no path", status=200)
    return answer


def created_file(payload: Payload, req: Request) -> CreatedFile:
    """Decode what is documented; keep the whole answer in ``raw`` (reference §4.1, §15.4).

    The file was created whatever the answer looks like, so an undocumented shape never
    raises: a ``data`` that is not an object decodes to all-``None`` fields, and a documented
    field of an unexpected type is dropped (and logged) rather than failing the call.
    """
    value = payload.get("data")
    fields: dict[str, Any] = {}
    if isinstance(value, Mapping):
        for attribute in attrs.fields(CreatedFile):
            wire = wire_name(attribute.name)
            if attribute.name != "raw" and value.get(wire) is not None:
                fields.update(_file_field(attribute.name, wire, value[wire], req))
    elif value is not None:
        logger.warning("%s: data is not an object; kept in raw", req)
    return CreatedFile(**fields, raw=payload)


def _file_field(name: str, wire: str, value: object, req: Request) -> dict[str, Any]:
    """``{name: decoded}``, or ``{}`` (logged) when the value has the wrong type."""
    try:
        return {name: getattr(structure({wire: value}, CreatedFile), name)}
    except ShapeError as exc:
        logger.warning("%s: %s; field dropped, kept in raw", req, exc)
        return {}


# --- the endpoints ----------------------------------------------------------------------------

_LOCK = (("lock_id", LOCK_HEADER),)

# Locks (§2). createBackupLock has no body table, but its example sends {"moduleCode"} (§2.1).
CREATE_LOCK = Endpoint("createBackupLock", "POST", "/lock", data(LockInfo), body=("module_code",))
RENEW_LOCK: Endpoint[None] = Endpoint("renewalBackupLock", "PATCH", "/lock", headers=_LOCK)
RELEASE_LOCK: Endpoint[None] = Endpoint("releaseBackupLock", "DELETE", "/lock", headers=_LOCK)

# Records (§3; seed pages 004 and 000). completeBackup sends {} when nothing is set (§3.4).
_RECORD = "/record/{record_id}"
GET_RECORD = Endpoint("getBackupRecord", "GET", _RECORD, data(BackupRecord), headers=_LOCK)
# A retry that meets 404 after an attempt that may have deleted the record: done (API.md).
DELETE_RECORD: Endpoint[None] = Endpoint(
    "deleteBackupRecord", "DELETE", _RECORD, headers=_LOCK, gone_on_retry_404=True
)
CREATE_RECORD = Endpoint(
    "createBackupRecord",
    "POST",
    "/record",
    data(BackupRecord),
    body=("module_code", "device_id", "properties"),
    headers=_LOCK,
)
LIST_RECORDS = Endpoint(
    "listBackupRecord",
    "GET",
    "/record",
    page(BackupRecord),
    query=("module_code", "page_size", "cursor", "device_id"),
)
COMPLETE_RECORD: Endpoint[None] = Endpoint(
    "completeBackup", "PATCH", _RECORD, body=("properties",), headers=_LOCK
)

# Files (§4).
CREATE_FILE = Endpoint(
    "createBackupFile",
    "POST",
    _RECORD + "/file",
    created_file,
    body=(
        "file_name",
        "description",
        "mime_type",
        "file_type",
        "parent_folder",
        "sha256",
        "length",
    ),
    headers=_LOCK,
)
LIST_FILES = Endpoint(
    "listBackupFile",
    "GET",
    _RECORD + "/files",
    page(BackupFile),
    query=("page_size", "cursor"),
    headers=_LOCK,
)

# Devices (§5). The trace ID header is spelled X-traceid on the bindDevice page (§1.1).
BIND_DEVICE = Endpoint(
    "bindDevice",
    "POST",
    "/device",
    data(DeviceEntity),
    body=("machine_code", "device_name", "device_os"),
    headers=(("trace_id", "X-traceid"),),
)
LIST_DEVICES = Endpoint("listBoundDevice", "GET", "/device", items(DeviceEntity))
UNBIND_DEVICE = Endpoint(
    "unbindDevice", "DELETE", "/device/{device_id}", optional_data(DeviceEntity)
)

# Scopes (§6; seed page 001). Their answers are top level, without a data wrapper.
_SCOPE = "/device/{device_id}/scope"
ADD_SCOPES = Endpoint(
    "batchAddBackupScope", "POST", _SCOPE, scope_add_answer, body=("module_code", "scope_list")
)
LIST_SCOPES = Endpoint(
    "listBackupScope", "GET", _SCOPE, items(ScopeInfo, "scopeList"), query=("module_code",)
)
DELETE_SCOPES = Endpoint(
    "batchDeleteBackupScope",
    "DELETE",
    _SCOPE,
    top_level(ScopeDeleteAnswer),
    body=("scope_id_list",),
)

# Configs (§7).
_CONFIG = "/device/{device_id}/config"
GET_CONFIG = Endpoint(
    "getConfigInfo", "GET", _CONFIG, data(ConfigInfo), query=("module_code", "config_name")
)
UPDATE_CONFIG = Endpoint(
    "updateConfigInfo",
    "PATCH",
    _CONFIG,
    data(ConfigInfo),
    body=("module_code", "config_name", "current_config_value", "new_config_value"),
)
LIST_CONFIGS = Endpoint(
    "listConfigInfos", "GET", _CONFIG + "s", items(ConfigInfo), query=("module_code",)
)

#: Every endpoint by its route name (the reference's page names).
ENDPOINTS: dict[str, Endpoint[Any]] = {
    endpoint.route: endpoint
    for endpoint in (
        CREATE_LOCK,
        RENEW_LOCK,
        RELEASE_LOCK,
        GET_RECORD,
        DELETE_RECORD,
        CREATE_RECORD,
        LIST_RECORDS,
        COMPLETE_RECORD,
        CREATE_FILE,
        LIST_FILES,
        BIND_DEVICE,
        LIST_DEVICES,
        UNBIND_DEVICE,
        ADD_SCOPES,
        LIST_SCOPES,
        DELETE_SCOPES,
        GET_CONFIG,
        UPDATE_CONFIG,
        LIST_CONFIGS,
    )
}
