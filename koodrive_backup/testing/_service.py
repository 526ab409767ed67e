"""The 19 operations of the backup API over the in-memory ``Store``.

Each handler takes a decoded ``Call`` and returns the success body; failures raise
``ApiError``. Order of checks inside a handler: strict body/query decoding (400), lock
header (400/409/403), path resources (404), lock module vs resource module (409; the
module rule is the reference's inference, applied where no seed page contradicts it: not on
deleteBackupRecord).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Final

from multidict import MultiMapping

from . import _decode as d
from ._errors import (
    CONFIG_CONFLICT,
    LOCK_EXPIRED,
    LOCK_FOREIGN,
    LOCK_HELD,
    LOCK_MODULE_MISMATCH,
    LOCK_NOT_FOUND,
    LOCK_REQUIRED,
    SCOPE_ADD_REPEATED_MSG,
    SCOPE_NOT_FOUND,
    SCOPE_NOT_FOUND_MSG,
    SCOPE_REPEATED,
    SCOPE_REPEATED_MSG,
    ApiError,
    bad_request,
    not_found,
)
from ._store import Device, Lock, Record, Store, page_after

JsonObject = dict[str, Any]
MAX_BATCH: Final = d.MAX_BATCH
FILE_FIELDS: Final = ("description", "mimeType", "fileType", "parentFolder", "sha256", "length")
TRACE_ID_LEN: Final = 58


@dataclass(slots=True)
class Call:
    """One authenticated request, as the handlers see it."""

    user_id: str
    path_id: str | None
    query: MultiMapping[str]
    headers: Mapping[str, str]
    body: bytes

    def json(self) -> JsonObject:
        return d.json_object(self.body, self.headers.get("Content-Type", ""))

    def no_body(self) -> None:
        d.no_body(self.body)

    def no_query(self) -> None:
        d.query(self.query, ())


def ok(**fields: Any) -> JsonObject:
    return {"code": 0, "msg": "success", **fields}


def _json_text(value: str | None, name: str) -> str | None:
    if value is not None:
        try:
            json.loads(value)
        except (ValueError, RecursionError):  # nesting too deep for the parser: 400 too
            raise bad_request(f"{name} must hold JSON text") from None
    return value


class Service:
    """Route name -> handler; ``lock_ttl`` may be changed at any time."""

    def __init__(self, store: Store, lock_ttl: float) -> None:
        self.store = store
        self.lock_ttl = lock_ttl
        self.handlers: dict[str, Callable[[Call], JsonObject]] = {
            "createBackupLock": self.create_lock,
            "renewalBackupLock": self.renew_lock,
            "releaseBackupLock": self.release_lock,
            "createBackupRecord": self.create_record,
            "listBackupRecord": self.list_records,
            "getBackupRecord": self.get_record,
            "completeBackup": self.complete_record,
            "deleteBackupRecord": self.delete_record,
            "createBackupFile": self.create_file,
            "listBackupFile": self.list_files,
            "bindDevice": self.bind_device,
            "listBoundDevice": self.list_devices,
            "unbindDevice": self.unbind_device,
            "batchAddBackupScope": self.add_scopes,
            "listBackupScope": self.list_scopes,
            "batchDeleteBackupScope": self.delete_scopes,
            "getConfigInfo": self.get_config,
            "updateConfigInfo": self.update_config,
            "listConfigInfos": self.list_configs,
        }

    # -- lookups --------------------------------------------------------------------------

    def _device(self, call: Call, device_id: str | None) -> Device:
        device = self.store.devices.get(device_id or "")
        if device is None or device.owner != call.user_id:
            raise not_found("The device does not exist.")
        return device

    def _record(self, call: Call) -> Record:
        record = self.store.records.get(call.path_id or "")
        if record is None or record.owner != call.user_id:
            raise not_found("The backup record does not exist.")
        return record

    def _lock(self, call: Call) -> Lock:
        """The valid lock named by ``x-backup-lock-id`` (reference §10)."""
        lock_id = call.headers.get("x-backup-lock-id")
        if lock_id is None:
            raise ApiError(400, LOCK_REQUIRED, "x-backup-lock-id header is required")
        lock = self.store.locks.get(lock_id)
        if lock is None:
            raise ApiError(409, LOCK_NOT_FOUND, "The backup lock does not exist.")
        if lock.owner != call.user_id:
            raise ApiError(403, LOCK_FOREIGN, "The backup lock belongs to another user.")
        if lock.expires_at <= self.store.clock():
            raise ApiError(409, LOCK_EXPIRED, "The backup lock has expired.")
        return lock

    def _optional_lock(self, call: Call) -> None:
        # get/list-files examples send a lock the tables do not list: checked when present.
        if "x-backup-lock-id" in call.headers:
            self._lock(call)

    @staticmethod
    def _same_module(lock: Lock, module_code: str) -> None:
        if lock.module_code != module_code:
            raise ApiError(409, LOCK_MODULE_MISMATCH, "The lock is for another module.")

    # -- locks ----------------------------------------------------------------------------

    def create_lock(self, call: Call) -> JsonObject:
        body = call.json()
        d.check_fields(body, ("moduleCode",))
        module_code = d.module_code(body["moduleCode"])
        held = self.store.active_lock(call.user_id, module_code)
        if held is not None:
            raise ApiError(409, LOCK_HELD, held.held_message(self.store.clock()))
        lock = self.store.add_lock(call.user_id, module_code, self.lock_ttl)
        return ok(data={"lockId": lock.lock_id})

    def renew_lock(self, call: Call) -> JsonObject:
        call.no_body()
        lock = self._lock(call)
        lock.expires_at = self.store.clock() + self.lock_ttl
        return ok()

    def release_lock(self, call: Call) -> JsonObject:
        call.no_body()
        self.store.release_lock(self._lock(call))
        return ok()

    # -- records --------------------------------------------------------------------------

    def create_record(self, call: Call) -> JsonObject:
        body = call.json()
        d.check_fields(body, ("moduleCode", "deviceId"), ("properties",))
        module_code = d.module_code(body["moduleCode"])
        device_id = d.string(body, "deviceId")
        properties = _json_text(d.string(body, "properties"), "properties")
        lock = self._lock(call)
        device = self._device(call, device_id)
        self._same_module(lock, module_code)
        record = self.store.add_record(device, module_code, properties, None)
        return ok(data=record.to_json())

    def list_records(self, call: Call) -> JsonObject:
        q = d.query(call.query, ("moduleCode", "pageSize"), ("cursor", "deviceId"))
        module_code = d.module_code(q["moduleCode"])
        size = d.page_size(q["pageSize"])
        after = d.decode_cursor("r", q.get("cursor"))
        device_id = q.get("deviceId")
        records = self.store.records

        def pick(key: int) -> Record | None:
            r = records.get(str(key))
            if r is None or r.owner != call.user_id or r.module_code != module_code:
                return None
            return r if device_id is None or r.device.device_id == device_id else None

        items, last = page_after(self.store.record_keys, pick, after, size)
        return _page([r.to_json() for r in items], "r", last)

    def get_record(self, call: Call) -> JsonObject:
        call.no_body()
        self._optional_lock(call)
        return ok(data=self._record(call).to_json())

    def complete_record(self, call: Call) -> JsonObject:
        body = call.json()
        d.check_fields(body, (), ("properties",))
        properties = _json_text(d.string(body, "properties"), "properties")
        lock = self._lock(call)
        record = self._record(call)
        self._same_module(lock, record.module_code)
        record.status = 1
        record.end_time = self.store.now_text()
        record.version += 1
        if properties is not None:
            record.properties = properties
        return ok()

    def delete_record(self, call: Call) -> JsonObject:
        call.no_body()
        self._lock(call)  # any valid lock of the caller: seed page 000 deletes record
        # 1842862763295184641 (module 101 per seed page 004) under "...@102" and shows
        # success, so the module rule the reference only infers does not hold here.
        record = self._record(call)
        self.store.delete_record(record.record_id)  # files go with it (seed page 000)
        return ok()

    # -- files ----------------------------------------------------------------------------

    def create_file(self, call: Call) -> JsonObject:
        body = call.json()
        d.check_fields(body, ("fileName",), FILE_FIELDS)
        name = d.file_name(d.string(body, "fileName"))
        extra = d.file_extra(body)
        lock = self._lock(call)
        record = self._record(call)
        self._same_module(lock, record.module_code)
        return ok(data=self.store.add_file(record, name, extra).to_json())

    def list_files(self, call: Call) -> JsonObject:
        call.no_body()
        q = d.query(call.query, ("pageSize",), ("cursor",))
        size = d.page_size(q["pageSize"])
        after = d.decode_cursor("f", q.get("cursor"))
        self._optional_lock(call)
        record = self._record(call)
        items, last = page_after(record.file_keys, record.files.get, after, size)
        return _page([f.to_json() for f in items], "f", last)

    # -- devices --------------------------------------------------------------------------

    def bind_device(self, call: Call) -> JsonObject:
        trace_id = call.headers.get("X-Traceid")
        if trace_id is not None and len(trace_id) != TRACE_ID_LEN:
            raise bad_request(f"X-traceid must be {TRACE_ID_LEN} characters")
        body = call.json()
        d.check_fields(body, ("machineCode",), ("deviceName", "deviceOS"))
        machine_code = d.pattern(body, "machineCode", d.MACHINE_CODE_RE)
        name = d.pattern(body, "deviceName", d.DEVICE_NAME_RE)
        os_name = d.pattern(body, "deviceOS", d.DEVICE_OS_RE)
        assert machine_code is not None  # required field
        for device in self.store.user_devices(call.user_id):
            if device.machine_code == machine_code:  # re-binding returns the bound device
                return ok(data=device.to_json())
        device = self.store.add_device(call.user_id, machine_code, name, os_name)
        return ok(data=device.to_json())

    def list_devices(self, call: Call) -> JsonObject:
        call.no_body()
        call.no_query()
        return ok(data=[dev.to_json() for dev in self.store.user_devices(call.user_id)])

    def unbind_device(self, call: Call) -> JsonObject:
        call.no_body()
        device = self._device(call, call.path_id)
        del self.store.devices[device.device_id]  # its scopes and configs go with it
        return ok(data=device.to_json())

    # -- scopes ---------------------------------------------------------------------------

    def add_scopes(self, call: Call) -> JsonObject:
        body = call.json()
        d.check_fields(body, ("moduleCode", "scopeList"))
        module_code = d.module_code(body["moduleCode"])
        pairs = d.scope_pairs(body["scopeList"])
        device = self._device(call, call.path_id)
        created: list[JsonObject] = []
        failed: list[JsonObject] = []
        seen: set[tuple[str, str]] = set()
        for local, target in pairs:
            if (local, target) in seen:
                failed.append(_add_failure(local, target))
                continue
            seen.add((local, target))
            created.append(self.store.add_scope(device, module_code, local, target).to_json())
        return ok(scopeList=created, failedScopeList=failed)

    def list_scopes(self, call: Call) -> JsonObject:
        call.no_body()
        module_code = d.module_code(d.query(call.query, ("moduleCode",))["moduleCode"])
        device = self._device(call, call.path_id)
        scopes = [s.to_json() for s in device.scopes.values() if s.module_code == module_code]
        return ok(scopeList=scopes)

    def delete_scopes(self, call: Call) -> JsonObject:
        """Seed page 001: repeats first (15000424), then unknown IDs (15000418), in order."""
        body = call.json()
        d.check_fields(body, ("scopeIdList",))
        ids = d.id_list(body["scopeIdList"], "scopeIdList", limit=MAX_BATCH)
        scopes = self._device(call, call.path_id).scopes
        unique = dict.fromkeys(ids)
        failed = _repeats(ids) if len(unique) != len(ids) else []
        deleted = []
        for sid in unique:  # one dict operation per ID: the store may hold 100k+ scopes
            if scopes.pop(sid, None) is None:
                failed.append(_delete_failure(sid, SCOPE_NOT_FOUND, SCOPE_NOT_FOUND_MSG))
            else:
                deleted.append(sid)
        return {"scopeIdList": deleted, "failedScopeList": failed, "code": 0, "msg": "success"}

    # -- configs --------------------------------------------------------------------------

    def get_config(self, call: Call) -> JsonObject:
        call.no_body()
        q = d.query(call.query, ("moduleCode", "configName"))
        module_code = d.module_code(q["moduleCode"])
        name = d.pattern(q, "configName", d.CONFIG_RE) or ""
        device = self._device(call, call.path_id)
        if (module_code, name) not in device.configs:
            raise not_found("The config item does not exist.")
        return ok(data=device.config_json(module_code, name, full=True))

    def update_config(self, call: Call) -> JsonObject:
        body = call.json()
        names = ("configName", "currentConfigValue", "newConfigValue")
        d.check_fields(body, ("moduleCode", *names))
        module_code = d.module_code(body["moduleCode"])
        name, current, new = (d.pattern(body, n, d.CONFIG_RE) or "" for n in names)
        device = self._device(call, call.path_id)
        item = device.configs.get((module_code, name))
        if item is None:
            raise not_found("The config item does not exist.")
        if item.value != current:
            raise ApiError(409, CONFIG_CONFLICT, "currentConfigValue does not match.")
        item.value = new
        return ok(data=device.config_json(module_code, name, full=False))

    def list_configs(self, call: Call) -> JsonObject:
        call.no_body()
        module_code = d.module_code(d.query(call.query, ("moduleCode",))["moduleCode"])
        device = self._device(call, call.path_id)
        names = [name for (mc, name) in device.configs if mc == module_code]
        return ok(data=[device.config_json(module_code, n, full=True) for n in names])


# -- helpers ----------------------------------------------------------------------------


def _page(items: list[JsonObject], kind: str, last: int | None) -> JsonObject:
    """A list page; ``nextCursor`` only when another page follows (absent at the end)."""
    body = ok(data=items)
    if last is not None:
        body["nextCursor"] = d.encode_cursor(kind, last)
    return body


def _add_failure(local: str, target: str) -> JsonObject:
    return {
        "localPath": local,
        "targetFolderPath": target,
        "errorCode": SCOPE_REPEATED,
        "msg": SCOPE_ADD_REPEATED_MSG,
    }


def _repeats(ids: list[str]) -> list[JsonObject]:
    """A 15000424 failure for every occurrence of an ID after its first."""
    seen: set[str] = set()
    failed = []
    for sid in ids:
        if sid in seen:
            failed.append(_delete_failure(sid, SCOPE_REPEATED, SCOPE_REPEATED_MSG))
        seen.add(sid)
    return failed


def _delete_failure(scope_id: str, code: str, msg: str) -> JsonObject:
    return {"scopeId": scope_id, "errorCode": code, "msg": msg}
