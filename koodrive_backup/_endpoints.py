"""Per-endpoint request builders and answer decoders (sans-I/O).

Each endpoint is a pair: ``build_*`` returns a ``Request`` from already-validated arguments,
``decode_*`` turns the answer's JSON object into models (raising ``DecodeError``). Section
numbers refer to ``koodrive-backup-api.md``; the seed pages are the primary spec.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from datetime import datetime
from typing import Any, TypeVar

import attrs

from ._codec import ShapeError, structure, wire_name
from ._protocol import Payload, Request, request
from .errors import DecodeError
from .models import (
    BackupRecord,
    ConfigInfo,
    CreatedFile,
    DeviceEntity,
    LockInfo,
    Page,
    ScopeFailure,
    ScopeInfo,
    ScopeSpec,
)

__all__ = [
    "FileFields",
    "ScopeAddAnswer",
    "ScopeAddFailed",
    "ScopeDeleteAnswer",
    "build_add_scopes",
    "build_bind_device",
    "build_complete_record",
    "build_create_file",
    "build_create_lock",
    "build_create_record",
    "build_delete_record",
    "build_delete_scopes",
    "build_get_config",
    "build_get_record",
    "build_list_configs",
    "build_list_devices",
    "build_list_files",
    "build_list_records",
    "build_list_scopes",
    "build_release_lock",
    "build_renew_lock",
    "build_unbind_device",
    "build_update_config",
    "decode_add_scopes",
    "decode_config",
    "decode_create_file",
    "decode_create_lock",
    "decode_data",
    "decode_delete_scopes",
    "decode_device",
    "decode_list",
    "decode_list_scopes",
    "decode_page",
    "decode_record",
    "decode_top_level",
    "decode_unbind_device",
]

T = TypeVar("T")
logger = logging.getLogger("koodrive_backup")


def decode_data(payload: Payload, cls: type[T], req: Request) -> T:
    """Decode ``payload["data"]`` (the usual envelope, reference §1.2) into ``cls``."""
    data = payload.get("data")
    if data is None:
        raise DecodeError(f"{req.method} {req.path}: answer has no data", status=200)
    return decode_top_level(data, cls, req)


def decode_top_level(data: Any, cls: type[T], req: Request) -> T:
    """Decode ``data`` into ``cls``; shape problems become ``DecodeError`` with wire names."""
    try:
        return structure(data, cls)
    except ShapeError as exc:
        raise DecodeError(f"{req.method} {req.path}: {exc}", status=200) from None


# --- getBackupRecord / deleteBackupRecord (seed pages 004 and 000, reference §3.3, §3.5) ---


def build_get_record(record_id: str, lock_id: str | None) -> Request:
    return request("GET", f"/record/{record_id}", "getBackupRecord", lock_id=lock_id)


def build_delete_record(record_id: str, lock_id: str) -> Request:
    return request(
        "DELETE", f"/record/{record_id}", "deleteBackupRecord", lock_id=lock_id, expects_data=False
    )


# --- batchDeleteBackupScope (seed page 001, reference §6.3) ----------------------------------


@attrs.frozen
class ScopeDeleteAnswer:
    """The top-level answer of a scope deletion (no ``data`` wrapper)."""

    scope_id_list: tuple[str, ...] = ()
    failed_scope_list: tuple[ScopeFailure, ...] = ()


def build_delete_scopes(device_id: str, scope_ids: list[str]) -> Request:
    """DELETE with a JSON body ``{"scopeIdList": [...]}``; IDs always sent as JSON strings."""
    return request(
        "DELETE",
        f"/device/{device_id}/scope",
        "batchDeleteBackupScope",
        body={"scopeIdList": scope_ids},
    )


def decode_delete_scopes(payload: Payload, req: Request) -> ScopeDeleteAnswer:
    return decode_top_level(payload, ScopeDeleteAnswer, req)


# --- locks (reference §2, §10) ----------------------------------------------------------------


def build_create_lock(module_code: str) -> Request:
    # No body table on the page, but its example sends {"moduleCode": ...} (§2.1).
    return request("POST", "/lock", "createBackupLock", body={"moduleCode": module_code})


def decode_create_lock(payload: Payload, req: Request) -> LockInfo:
    return decode_data(payload, LockInfo, req)


def build_renew_lock(lock_id: str) -> Request:
    return request("PATCH", "/lock", "renewalBackupLock", lock_id=lock_id, expects_data=False)


def build_release_lock(lock_id: str) -> Request:
    return request("DELETE", "/lock", "releaseBackupLock", lock_id=lock_id, expects_data=False)


# --- records (reference §3) -------------------------------------------------------------------


def build_create_record(
    module_code: str, device_id: str, lock_id: str, properties: str | None
) -> Request:
    body = {"moduleCode": module_code, "deviceId": device_id}
    if properties is not None:
        body["properties"] = properties
    return request("POST", "/record", "createBackupRecord", body=body, lock_id=lock_id)


def decode_record(payload: Payload, req: Request) -> BackupRecord:
    return decode_data(payload, BackupRecord, req)


def build_list_records(
    module_code: str, page_size: int, cursor: str | None, device_id: str | None
) -> Request:
    query: dict[str, str | int | None] = {
        "moduleCode": module_code,
        "pageSize": page_size,
        "cursor": cursor,
        "deviceId": device_id,
    }
    return request("GET", "/record", "listBackupRecord", query=query)


def build_complete_record(record_id: str, lock_id: str, properties: str | None) -> Request:
    # The reference's example sends the body {} when there is nothing to set (§3.4).
    body = {} if properties is None else {"properties": properties}
    return request(
        "PATCH",
        f"/record/{record_id}",
        "completeBackup",
        body=body,
        lock_id=lock_id,
        expects_data=False,
    )


def decode_page(payload: Payload, cls: type[T], req: Request) -> Page[T]:
    """A list answer: ``data`` is the array, ``nextCursor`` beside it (reference §1.2).

    An absent, ``null`` or empty ``nextCursor`` means the last page (§15 item 11 leaves the
    convention open, so all three are accepted).
    """
    data = payload.get("data")
    if data is None:
        data = []
    if not isinstance(data, list):
        raise DecodeError(f"{req.method} {req.path}: data is not a list", status=200)
    items = tuple(decode_top_level(item, cls, req) for item in data)
    cursor = payload.get("nextCursor")
    if cursor is not None and type(cursor) is not str:
        raise DecodeError(f"{req.method} {req.path}: nextCursor is not a string", status=200)
    return Page(items, cursor or None)


# --- files (reference §4) ---------------------------------------------------------------------


@attrs.frozen
class FileFields:
    """The documented BackupFile fields, all optional (createBackupFile's answer is unseen)."""

    file_id: str | None = None
    file_name: str | None = None
    sha256: str | None = None
    size: int | None = None
    description: str | None = None
    create_time: datetime | None = None


def build_create_file(record_id: str, lock_id: str, body: Mapping[str, Any]) -> Request:
    return request(
        "POST", f"/record/{record_id}/file", "createBackupFile", body=body, lock_id=lock_id
    )


def decode_create_file(payload: Payload, req: Request) -> CreatedFile:
    """Decode what is documented; keep the whole answer in ``raw`` (reference §4.1, §15.4).

    The file was created whatever the answer looks like, so an undocumented shape never
    raises: a ``data`` that is not an object decodes to all-``None`` fields, and a documented
    field of an unexpected type is dropped (and logged) rather than failing the call.
    """
    data = payload.get("data")
    fields: dict[str, Any] = {}
    if isinstance(data, Mapping):
        for attribute in attrs.fields(FileFields):
            name = wire_name(attribute.name)
            if data.get(name) is not None:
                value = _decode_file_field(data[name], name, req)
                if value is not _DROPPED:
                    fields[attribute.name] = value
    elif data is not None:
        logger.warning("%s %s: data is not an object; kept in raw", req.method, req.path)
    return CreatedFile(**fields, raw=payload)


_DROPPED = object()


def _decode_file_field(value: object, name: str, req: Request) -> Any:
    try:
        return getattr(structure({name: value}, FileFields), _snake(name))
    except ShapeError as exc:
        logger.warning("%s %s: %s; field dropped, kept in raw", req.method, req.path, exc)
        return _DROPPED


def _snake(wire: str) -> str:
    return "".join(f"_{ch.lower()}" if ch.isupper() else ch for ch in wire)


def build_list_files(
    record_id: str, page_size: int, cursor: str | None, lock_id: str | None
) -> Request:
    query: dict[str, str | int | None] = {"pageSize": page_size, "cursor": cursor}
    return request(
        "GET", f"/record/{record_id}/files", "listBackupFile", query=query, lock_id=lock_id
    )


# --- devices (reference §5) -------------------------------------------------------------------


def build_bind_device(
    machine_code: str, device_name: str | None, device_os: str | None, trace_id: str | None
) -> Request:
    body = {"machineCode": machine_code}
    if device_name is not None:
        body["deviceName"] = device_name
    if device_os is not None:
        body["deviceOS"] = device_os
    req = request("POST", "/device", "bindDevice", body=body)
    if trace_id is None:
        return req
    # Spelled X-traceid on the bindDevice page (reference §1.1); header names are
    # case-insensitive anyway.
    return req._replace(headers=(*req.headers, ("X-traceid", trace_id)))


def decode_device(payload: Payload, req: Request) -> DeviceEntity:
    return decode_data(payload, DeviceEntity, req)


def build_list_devices() -> Request:
    return request("GET", "/device", "listBoundDevice")


def decode_list(payload: Payload, cls: type[T], req: Request, field: str = "data") -> tuple[T, ...]:
    """An unpaged list in ``payload[field]``; absent or ``null`` is an empty list."""
    data = payload.get(field)
    if data is None:
        return ()
    if not isinstance(data, list):
        raise DecodeError(f"{req.method} {req.path}: {field} is not a list", status=200)
    return tuple(decode_top_level(item, cls, req) for item in data)


def build_unbind_device(device_id: str) -> Request:
    return request("DELETE", f"/device/{device_id}", "unbindDevice")


def decode_unbind_device(payload: Payload, req: Request) -> DeviceEntity | None:
    """The device just unbound (reference §5.3), or ``None`` when the answer has no data."""
    if payload.get("data") is None:
        return None
    return decode_data(payload, DeviceEntity, req)


# --- scopes (reference §6.1, §6.2) ------------------------------------------------------------


@attrs.frozen
class ScopeAddFailed:
    """One ``failedScopeList`` item of batchAddBackupScope (shape of our fake; [G] in §6.1)."""

    error_code: str
    local_path: str | None = None
    target_folder_path: str | None = None
    msg: str | None = None


@attrs.frozen
class ScopeAddAnswer:
    """The top-level answer of batchAddBackupScope: created scopes and per-item failures."""

    scope_list: tuple[ScopeInfo, ...] = ()
    failed_scope_list: tuple[ScopeAddFailed, ...] = ()


def build_add_scopes(device_id: str, module_code: str, scopes: list[ScopeSpec]) -> Request:
    """POST ``{"moduleCode", "scopeList": [ScopeBaseInfo]}``; an empty path is left out."""
    items = []
    for spec in scopes:
        item = {}
        if spec.local_path:
            item["localPath"] = spec.local_path
        if spec.target_folder_path:
            item["targetFolderPath"] = spec.target_folder_path
        items.append(item)
    body = {"moduleCode": module_code, "scopeList": items}
    return request("POST", f"/device/{device_id}/scope", "batchAddBackupScope", body=body)


def decode_add_scopes(payload: Payload, req: Request) -> ScopeAddAnswer:
    failed = payload.get("failedScopeList")
    if isinstance(failed, Mapping):  # typed as one object like the delete call's (§6.3)
        payload = {**payload, "failedScopeList": [failed]}
    return decode_top_level(payload, ScopeAddAnswer, req)


def build_list_scopes(device_id: str, module_code: str) -> Request:
    query = {"moduleCode": module_code}
    return request("GET", f"/device/{device_id}/scope", "listBackupScope", query=query)


def decode_list_scopes(payload: Payload, req: Request) -> tuple[ScopeInfo, ...]:
    # Top level, no data wrapper (reference §6.2).
    return decode_list(payload, ScopeInfo, req, field="scopeList")


# --- configs (reference §7) -------------------------------------------------------------------


def build_get_config(device_id: str, module_code: str, config_name: str) -> Request:
    query = {"moduleCode": module_code, "configName": config_name}
    return request("GET", f"/device/{device_id}/config", "getConfigInfo", query=query)


def decode_config(payload: Payload, req: Request) -> ConfigInfo:
    return decode_data(payload, ConfigInfo, req)


def build_update_config(
    device_id: str, module_code: str, config_name: str, current: str, new: str
) -> Request:
    body = {
        "moduleCode": module_code,
        "configName": config_name,
        "currentConfigValue": current,
        "newConfigValue": new,
    }
    return request("PATCH", f"/device/{device_id}/config", "updateConfigInfo", body=body)


def build_list_configs(device_id: str, module_code: str) -> Request:
    query = {"moduleCode": module_code}
    return request("GET", f"/device/{device_id}/configs", "listConfigInfos", query=query)
