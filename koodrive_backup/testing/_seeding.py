"""Seeding and inspecting the fake's store: users and apps, devices, scopes, configs, records,
files and locks (the base of ``FakeKooDrive``, which gives it the store it serves)."""

from __future__ import annotations

import itertools
from collections.abc import Iterable
from typing import Any, NamedTuple

from ._app import ServerClock
from ._auth import App, Credentials
from ._decode import MODULE_CODES
from ._service import Service
from ._store import Config, Device, Record, Store

__all__ = ["FakeUser", "Seeding"]


class FakeUser(NamedTuple):
    user_id: str
    token: str


def _module(code: str) -> str:
    if code not in MODULE_CODES:
        raise ValueError(f'module_code must be "100", "101" or "102", not {code!r}')
    return code


class Seeding:
    """What a test puts into the fake's store, and reads back from it."""

    #: The default user (``add_device``, ``add_lock`` act for it unless told otherwise).
    user_id: str

    def __init__(
        self, store: Store, creds: Credentials, clock: ServerClock, service: Service
    ) -> None:
        self._store = store
        self._creds = creds
        self._clock = clock
        self._locks_of = service
        self._machine_seq = itertools.count(1)

    # -- seeding: users and apps ----------------------------------------------------------

    def add_user(self, *, token: str | None = None, user_id: str | None = None) -> FakeUser:
        """A new user with its own bearer token (both generated when omitted)."""
        user_id = user_id if user_id is not None else self._store.ids.next()
        token = token if token is not None else self._store.ids.uuid().replace("-", "")
        self._creds.tokens[token] = user_id
        self._creds.users.add(user_id)
        return FakeUser(user_id, token)

    def add_app(self, app_id: str, app_secret: str, *, user_id: str | None = None) -> None:
        """Accept HMAC signatures by ``app_id`` acting for ``user_id``, or, by default, for
        every user of the fake (the one ``X-User-Id`` names)."""
        self._creds.apps[app_id] = App(app_id, app_secret, user_id)

    def revoke_token(self, token: str) -> None:
        """Make ``token`` invalid from now on (token-refresh tests)."""
        self._creds.tokens.pop(token, None)

    # -- seeding: devices, scopes, configs ------------------------------------------------

    def add_device(
        self,
        *,
        user_id: str | None = None,
        machine_code: str | None = None,
        device_name: str | None = "fake device",
        device_os: str | None = "linux",
    ) -> str:
        """Bind a device for ``user_id`` (default user; an ID not made by ``add_user`` becomes
        a user the app credentials sign for); returns its 19-digit ID."""
        owner = self.user_id if user_id is None else user_id
        self._creds.users.add(owner)
        code = machine_code if machine_code is not None else f"fake_{next(self._machine_seq)}"
        return self._store.add_device(owner, code, device_name, device_os).device_id

    def _device(self, device_id: str) -> Device:
        try:
            return self._store.devices[device_id]
        except KeyError:
            raise KeyError(f"no such device: {device_id}") from None

    def add_scopes(
        self,
        device_id: str,
        count: int,
        *,
        module_code: str = "101",
        paths: Iterable[tuple[str, str]] | None = None,
    ) -> list[str]:
        """Create ``count`` scopes: ``/local/<n>`` -> ``/cloud/<n>``, or the first ``count``
        (localPath, targetFolderPath) pairs of ``paths``. Returns their IDs in order."""
        device = self._device(device_id)
        module = _module(module_code)
        if paths is None:
            paths = ((f"/local/{n}", f"/cloud/{n}") for n in range(count))
        created = self._store.now_text()
        add = self._store.add_scope
        return [
            add(device, module, local, target, created).scope_id
            for local, target in itertools.islice(paths, count)
        ]

    def has_scope(self, device_id: str, scope_id: str) -> bool:
        device = self._store.devices.get(device_id)
        return device is not None and scope_id in device.scopes

    def scope_ids(self, device_id: str, module_code: str | None = None) -> list[str]:
        """The device's scope IDs in creation order (optionally one module's)."""
        scopes = self._device(device_id).scopes.values()
        return [s.scope_id for s in scopes if module_code in (None, s.module_code)]

    def has_device(self, device_id: str) -> bool:
        return device_id in self._store.devices

    def add_config(
        self,
        device_id: str,
        module_code: str,
        name: str,
        value: str,
        *,
        description: str = "",
    ) -> None:
        """Create or overwrite one config item."""
        self._device(device_id).configs[(_module(module_code), name)] = Config(value, description)

    def config_value(self, device_id: str, module_code: str, name: str) -> str | None:
        item = self._device(device_id).configs.get((module_code, name))
        return None if item is None else item.value

    # -- seeding: records and files -------------------------------------------------------

    def add_record(
        self,
        device_id: str,
        *,
        module_code: str = "101",
        files: int = 0,
        properties: str | None = None,
        completed: bool = False,
        created_at: float | None = None,
    ) -> str:
        """Create a record (owned by the device's user) with ``files`` files; ``created_at``
        (POSIX seconds, default now) is its ``createTime``."""
        device = self._device(device_id)
        record = self._store.add_record(device, _module(module_code), properties, created_at)
        for n in range(files):
            extra = {"sha256": "0" * 64, "size": n}
            self._store.add_file(record, f"file{n}.bin", extra)
        if completed:
            record.status, record.version = 1, 2
            record.end_time = self._store.now_text()
        return record.record_id

    def add_file(self, record_id: str, file_name: str = "file.bin", *, size: int = 0) -> str:
        record = self._record(record_id)
        return self._store.add_file(record, file_name, {"size": size}).file_id

    def _record(self, record_id: str) -> Record:
        try:
            return self._store.records[record_id]
        except KeyError:
            raise KeyError(f"no such record: {record_id}") from None

    def has_record(self, record_id: str) -> bool:
        return record_id in self._store.records

    def record_json(self, record_id: str) -> dict[str, Any]:
        """The record as ``getBackupRecord`` would return it in ``data``."""
        return self._record(record_id).to_json()

    def file_ids(self, record_id: str) -> list[str]:
        return [f.file_id for f in self._record(record_id).files.values()]

    # -- seeding: locks -------------------------------------------------------------------

    def add_lock(
        self, module_code: str, *, user_id: str | None = None, ttl: float | None = None
    ) -> str:
        """Hold a lock as ``user_id`` (default user), replacing that user's lock."""
        owner = self.user_id if user_id is None else user_id
        ttl = self._locks_of.lock_ttl if ttl is None else ttl
        return self._store.add_lock(owner, _module(module_code), ttl).lock_id

    def has_lock(self, lock_id: str) -> bool:
        """True while the lock exists and has not expired."""
        lock = self._store.locks.get(lock_id)
        return lock is not None and lock.expires_at > self._clock()

    def lock_expires_at(self, lock_id: str) -> float | None:
        lock = self._store.locks.get(lock_id)
        return None if lock is None else lock.expires_at

    def expire_lock(self, lock_id: str) -> None:
        """Make a lock expire now (without waiting for ``lock_ttl``)."""
        self._store.locks[lock_id].expires_at = self._clock()
