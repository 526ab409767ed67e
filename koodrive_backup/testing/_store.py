"""The in-memory state of the fake: users' devices, scopes, configs, records, files, locks.

Plain data and lookups only; request decoding and HTTP concerns live in ``_service``.
IDs are 19-digit decimal strings from a seeded, strictly increasing generator (snowflake
style), so they are unique, reproducible for a given seed, above 2**53 (reference §13), and
their numeric order is their creation order, which the list cursors rely on.
"""

from __future__ import annotations

import bisect
import math
import random
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any, TypeVar

JsonObject = dict[str, Any]
T = TypeVar("T")


def format_time(stamp: float) -> str:
    """``2025-09-15T06:14:48.630Z`` (reference §1.3)."""
    millis = int(stamp * 1000) % 1000
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(stamp)) + f".{millis:03d}Z"


class IdGenerator:
    """Strictly increasing 19-digit IDs below 2**63, reproducible for a seed."""

    def __init__(self, seed: int | None) -> None:
        self._rng = random.Random(seed)
        self._last = self._rng.randrange(1_100_000_000_000_000_000, 1_900_000_000_000_000_000)

    def next_int(self) -> int:
        self._last += self._rng.randrange(1, 1 << 20)
        return self._last

    def next(self) -> str:
        return str(self.next_int())

    def uuid(self) -> str:
        return str(uuid.UUID(int=self._rng.getrandbits(128), version=4))


@dataclass(slots=True)
class Scope:
    scope_id: str
    module_code: str
    local_path: str
    target_folder_path: str
    create_time: str

    def to_json(self) -> JsonObject:
        return {
            "scopeId": self.scope_id,
            "localPath": self.local_path,
            "targetFolderPath": self.target_folder_path,
            "moduleCode": self.module_code,
            "createTime": self.create_time,
        }


@dataclass(slots=True)
class Config:
    value: str
    description: str


@dataclass(slots=True)
class Device:
    device_id: str
    owner: str
    machine_code: str
    device_name: str | None
    device_os: str | None
    create_time: str
    scopes: dict[str, Scope] = field(default_factory=dict)
    configs: dict[tuple[str, str], Config] = field(default_factory=dict)

    def to_json(self) -> JsonObject:
        out: JsonObject = {"deviceId": self.device_id, "machineCode": self.machine_code}
        if self.device_name is not None:
            out["deviceName"] = self.device_name
        if self.device_os is not None:
            out["deviceOS"] = self.device_os
        out["createTime"] = self.create_time
        return out

    def config_json(self, module_code: str, name: str, *, full: bool) -> JsonObject:
        item = self.configs[(module_code, name)]
        out: JsonObject = {
            "deviceId": self.device_id,
            "moduleCode": module_code,
            "configName": name,
            "configValue": item.value,
        }
        if full:
            out["description"] = item.description
        return out


@dataclass(slots=True)
class BackupFile:
    file_id: str
    file_name: str
    create_time: str
    extra: JsonObject  # description, mimeType, fileType, parentFolder, sha256, size

    def to_json(self) -> JsonObject:
        out: JsonObject = {"fileId": self.file_id, "fileName": self.file_name}
        out.update(self.extra)
        out["createTime"] = self.create_time
        return out


@dataclass(slots=True)
class Record:
    record_id: str
    owner: str
    device: Device
    module_code: str
    properties: str | None
    create_time: str
    status: int = 0
    version: int = 1
    end_time: str | None = None
    files: dict[int, BackupFile] = field(default_factory=dict)
    file_keys: list[int] = field(default_factory=list)  # ascending; the list cursor's index

    def to_json(self) -> JsonObject:
        out: JsonObject = {
            "recordId": self.record_id,
            "moduleCode": self.module_code,
            "status": self.status,
        }
        if self.properties is not None:
            out["properties"] = self.properties
        out["version"] = self.version
        out["createTime"] = self.create_time
        if self.end_time is not None:
            out["endTime"] = self.end_time
        out["deviceInfo"] = self.device.to_json()
        return out


@dataclass(slots=True)
class Lock:
    lock_id: str
    owner: str
    module_code: str
    expires_at: float

    def held_message(self, now: float) -> str:
        """The 409 of createBackupLock says how long the lock can still last, so a client
        whose create answer was lost (the lock exists, its ID unknown) knows when to retry."""
        left = max(0, math.ceil(self.expires_at - now))
        return (
            f"A backup lock for this module is already held; it expires in {left} s "
            f"(at {format_time(self.expires_at)}) unless renewed."
        )


def page_after(
    keys: list[int], lookup: Callable[[int], T | None], after: int | None, size: int
) -> tuple[list[T], int | None]:
    """Up to ``size`` items whose key is above ``after``; plus the last key if more follow.

    ``keys`` is ascending; ``lookup`` returns ``None`` for deleted or filtered-out keys.
    """
    start = 0 if after is None else bisect.bisect_right(keys, after)
    items: list[T] = []
    last: int | None = None
    for index in range(start, len(keys)):
        item = lookup(keys[index])
        if item is None:
            continue
        if len(items) == size:
            return items, last
        items.append(item)
        last = keys[index]
    return items, None


class Store:
    """Everything the fake knows, keyed for O(1) lookups."""

    def __init__(self, clock: Callable[[], float], seed: int | None) -> None:
        self.clock = clock
        self.ids = IdGenerator(seed)
        self.devices: dict[str, Device] = {}
        self.records: dict[str, Record] = {}
        self.record_keys: list[int] = []  # ascending; deleted records stay until compaction
        self.locks: dict[str, Lock] = {}
        self.active_locks: dict[tuple[str, str], str] = {}  # (user, module) -> lock id

    def now_text(self) -> str:
        return format_time(self.clock())

    # -- devices and scopes ---------------------------------------------------------------

    def add_device(
        self, owner: str, machine_code: str, name: str | None, os_name: str | None
    ) -> Device:
        device_id = self.ids.next()
        device = Device(device_id, owner, machine_code, name, os_name, self.now_text())
        self.devices[device_id] = device
        return device

    def user_devices(self, owner: str) -> Iterator[Device]:
        return (d for d in self.devices.values() if d.owner == owner)

    def add_scope(
        self, device: Device, module_code: str, local: str, target: str, created: str | None = None
    ) -> Scope:
        """``created`` lets a batch share one time string (100k seeded scopes stay light)."""
        scope = Scope(self.ids.next(), module_code, local, target, created or self.now_text())
        device.scopes[scope.scope_id] = scope
        return scope

    # -- records and files ----------------------------------------------------------------

    def add_record(
        self, device: Device, module_code: str, properties: str | None, created: float | None
    ) -> Record:
        key = self.ids.next_int()
        when = self.now_text() if created is None else format_time(created)
        record = Record(str(key), device.owner, device, module_code, properties, when)
        self.records[record.record_id] = record
        self.record_keys.append(key)
        return record

    def delete_record(self, record_id: str) -> None:
        del self.records[record_id]
        if len(self.record_keys) > 2 * len(self.records) + 1024:
            self.record_keys = [int(k) for k in self.records]

    def add_file(self, record: Record, file_name: str, extra: JsonObject) -> BackupFile:
        key = self.ids.next_int()
        item = BackupFile(str(key), file_name, self.now_text(), extra)
        record.files[key] = item
        record.file_keys.append(key)
        return item

    # -- locks ----------------------------------------------------------------------------

    def active_lock(self, owner: str, module_code: str) -> Lock | None:
        lock_id = self.active_locks.get((owner, module_code))
        lock = None if lock_id is None else self.locks.get(lock_id)
        if lock is not None and lock.expires_at <= self.clock():
            return None
        return lock

    def add_lock(self, owner: str, module_code: str, ttl: float) -> Lock:
        old = self.active_locks.get((owner, module_code))
        if old is not None:
            self.locks.pop(old, None)  # an expired predecessor is forgotten
        lock_id = f"{self.ids.uuid()}@{module_code}"
        lock = Lock(lock_id, owner, module_code, self.clock() + ttl)
        self.locks[lock_id] = lock
        self.active_locks[(owner, module_code)] = lock_id
        return lock

    def release_lock(self, lock: Lock) -> None:
        del self.locks[lock.lock_id]
        self.active_locks.pop((lock.owner, lock.module_code), None)
