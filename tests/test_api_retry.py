"""Idempotency per operation, and module-code refusal before any request, for every operation.

GET and DELETE are retried on any transient failure. POST and PATCH only when the failure
proves the request was not processed (connection refused, 429, 503 with Retry-After),
unless the caller passes ``retry_unsafe=True``.
"""

from __future__ import annotations

import socket
from collections.abc import Awaitable, Callable
from typing import Any

import pytest
from conftest import FAST
from seams import VirtualClock

from koodrive_backup import (
    APIConnectionError,
    BackupClient,
    ModuleCode,
    ServerError,
)
from koodrive_backup.testing import FakeKooDrive, Fault


def world(fake: FakeKooDrive) -> dict[str, str]:
    """Seed what every operation below needs; returns the IDs by name."""
    device = fake.add_device()
    fake.add_config(device, "101", "name", "a")
    return {
        "device": device,
        "record": fake.add_record(device, files=1),
        "lock": fake.add_lock("101"),
    }


# (route, call): one per POST/PATCH operation; the call passes extra kwargs through.
UNSAFE: list[tuple[str, Callable[..., Awaitable[object]]]] = [
    ("createBackupLock", lambda c, w, **k: c.create_lock("102", **k)),
    ("renewalBackupLock", lambda c, w, **k: c.renew_lock(w["lock"], **k)),
    (
        "createBackupRecord",
        lambda c, w, **k: c.create_record("101", w["device"], lock_id=w["lock"], **k),
    ),
    ("completeBackup", lambda c, w, **k: c.complete_record(w["record"], lock_id=w["lock"], **k)),
    (
        "createBackupFile",
        lambda c, w, **k: c.create_file(w["record"], lock_id=w["lock"], file_name="f", **k),
    ),
    ("bindDevice", lambda c, w, **k: c.bind_device("machine_1", **k)),
    (
        "updateConfigInfo",
        lambda c, w, **k: c.update_config(w["device"], "101", "name", "a", "b", **k),
    ),
]

SAFE: list[tuple[str, Callable[..., Awaitable[object]]]] = [
    ("getBackupRecord", lambda c, w: c.get_record(w["record"])),
    ("listBackupRecord", lambda c, w: c.list_records("101")),
    ("listBackupFile", lambda c, w: c.list_files(w["record"])),
    ("listBoundDevice", lambda c, w: c.list_devices()),
    ("listBackupScope", lambda c, w: c.list_scopes(w["device"], "101")),
    ("getConfigInfo", lambda c, w: c.get_config(w["device"], "101", "name")),
    ("listConfigInfos", lambda c, w: c.list_configs(w["device"], "101")),
    ("deleteBackupRecord", lambda c, w: c.delete_record(w["record"], lock_id=w["lock"])),
    ("unbindDevice", lambda c, w: c.unbind_device(w["device"])),
    ("releaseBackupLock", lambda c, w: c.release_lock(w["lock"])),
]


def ids(table: list[tuple[str, Any]]) -> list[str]:
    return [route for route, _ in table]


@pytest.mark.parametrize(("route", "call"), UNSAFE, ids=ids(UNSAFE))
async def test_post_and_patch_are_not_retried_after_a_500(
    fake: FakeKooDrive, client: BackupClient, route: str, call: Any
) -> None:
    w = world(fake)
    fake.inject(Fault.status(500), route=route)
    with pytest.raises(ServerError):
        await call(client, w)
    assert fake.route_counts[route] == 1


@pytest.mark.parametrize(("route", "call"), UNSAFE, ids=ids(UNSAFE))
async def test_post_and_patch_are_not_retried_after_a_lost_answer(
    fake: FakeKooDrive, client: BackupClient, route: str, call: Any
) -> None:
    w = world(fake)
    fake.inject(Fault.lose_response(), route=route)
    with pytest.raises(APIConnectionError):
        await call(client, w)
    assert fake.route_counts[route] == 1


@pytest.mark.parametrize(
    "fault",
    [Fault.status(429), Fault.status(503, retry_after="0")],
    ids=["429", "503+Retry-After"],
)
@pytest.mark.parametrize(("route", "call"), UNSAFE, ids=ids(UNSAFE))
async def test_post_and_patch_are_retried_when_not_processed(
    fake: FakeKooDrive, client: BackupClient, route: str, call: Any, fault: Fault
) -> None:
    w = world(fake)
    fake.inject(fault, route=route)
    await call(client, w)
    assert fake.route_counts[route] == 2


@pytest.mark.parametrize(("route", "call"), UNSAFE, ids=ids(UNSAFE))
async def test_retry_unsafe_opts_in(
    fake: FakeKooDrive, client: BackupClient, route: str, call: Any
) -> None:
    w = world(fake)
    fake.inject(Fault.status(500), route=route)
    await call(client, w, retry_unsafe=True)
    assert fake.route_counts[route] == 2


async def test_503_without_retry_after_is_not_retried_for_a_post(
    fake: FakeKooDrive, client: BackupClient
) -> None:
    fake.inject(Fault.status(503), route="createBackupLock")
    with pytest.raises(ServerError):
        await client.create_lock("101")
    assert fake.route_counts["createBackupLock"] == 1


@pytest.mark.parametrize(("route", "call"), SAFE, ids=ids(SAFE))
async def test_get_and_delete_are_retried(
    fake: FakeKooDrive, client: BackupClient, route: str, call: Any
) -> None:
    w = world(fake)
    fake.inject(Fault.status(500), route=route)
    await call(client, w)
    assert fake.route_counts[route] == 2


async def test_a_refused_connection_is_retried_for_a_post() -> None:
    with socket.socket() as probe:  # a loopback port nobody listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    clock = VirtualClock(autojump=True)
    async with BackupClient(
        f"http://127.0.0.1:{port}", user_id="1", token="tok", retry=FAST, clock=clock
    ) as client:
        with pytest.raises(APIConnectionError):
            await client.create_lock("101")
    assert len(clock.sleeps) == FAST.max_attempts - 1  # never reached the server: safe to repeat


# --- module codes -----------------------------------------------------------------------------

MODULE_CALLS: list[tuple[str, Callable[[BackupClient, Any], Any]]] = [
    ("create_lock", lambda c, m: c.create_lock(m)),
    ("lock", lambda c, m: c.lock(m)),
    ("create_record", lambda c, m: c.create_record(m, "1", lock_id="l@101")),
    ("list_records", lambda c, m: c.list_records(m)),
    ("iter_records", lambda c, m: c.iter_records(m)),
    ("add_scopes", lambda c, m: c.add_scopes("1", m, [("/a", None)])),
    ("list_scopes", lambda c, m: c.list_scopes("1", m)),
    ("get_config", lambda c, m: c.get_config("1", m, "name")),
    ("update_config", lambda c, m: c.update_config("1", m, "name", "a", "b")),
    ("list_configs", lambda c, m: c.list_configs("1", m)),
]


@pytest.mark.parametrize("bad", ["103", "099", "folder", "ALBUM", " 101", 101, 101.0, None, b"101"])
@pytest.mark.parametrize(("name", "call"), MODULE_CALLS, ids=ids(MODULE_CALLS))
async def test_bad_module_codes_are_refused_before_any_request(
    fake: FakeKooDrive, client: BackupClient, name: str, call: Any, bad: object
) -> None:
    with pytest.raises((ValueError, TypeError)):
        result = call(client, bad)
        if hasattr(result, "__await__"):
            await result
    assert fake.request_count == 0


@pytest.mark.parametrize("module", ["100", "101", "102", *ModuleCode])
async def test_module_codes_as_strings_or_enum(
    fake: FakeKooDrive, client: BackupClient, module: str
) -> None:
    device_id = fake.add_device()
    await client.add_scopes(device_id, module, [("/a", None)])
    assert fake.requests[-1].json["moduleCode"] == str(ModuleCode(module).value)
    assert len(await client.list_scopes(device_id, module)) == 1
