"""Devices (reference §5) and module configs (reference §7)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from koodrive_backup import (
    APIConnectionError,
    BackupClient,
    ConfigInfo,
    ConflictError,
    DeviceEntity,
    ModuleCode,
    NotFoundError,
)
from koodrive_backup import _endpoints as ep
from koodrive_backup.testing import FakeKooDrive, Fault

TRACE = "t" * 58


# --- devices ----------------------------------------------------------------------------------


async def test_bind_list_unbind(fake: FakeKooDrive, client: BackupClient) -> None:
    device = await client.bind_device("pixel_8_0042", "Pixel 8-a b", "android 14", trace_id=TRACE)
    assert isinstance(device, DeviceEntity) and fake.has_device(device.device_id)
    assert (device.machine_code, device.device_name, device.device_os) == (
        "pixel_8_0042",
        "Pixel 8-a b",
        "android 14",
    )
    sent = fake.requests[-1]
    assert sent.headers["X-traceid"] == TRACE
    assert sent.json == {
        "machineCode": "pixel_8_0042",
        "deviceName": "Pixel 8-a b",
        "deviceOS": "android 14",
    }
    bare = await client.bind_device("m2")
    assert fake.requests[-1].json == {"machineCode": "m2"}
    assert "X-traceid" not in fake.requests[-1].headers
    assert await client.list_devices() == (device, bare)
    assert await client.unbind_device(device.device_id) == device
    assert not fake.has_device(device.device_id)
    assert await client.list_devices() == (bare,)


async def test_unbind_unknown_device(fake: FakeKooDrive, client: BackupClient) -> None:
    with pytest.raises(NotFoundError):
        await client.unbind_device("1775406005920779393")


@pytest.mark.parametrize(
    ("args", "kwargs", "error"),
    [
        (("a-b",), {}, ValueError),  # machineCode: letters, digits, _ only
        (("",), {}, ValueError),
        (("m" * 65,), {}, ValueError),
        (("a b",), {}, ValueError),
        ((5,), {}, TypeError),
        (("m", "bad!name"), {}, ValueError),
        (("m", "n" * 33), {}, ValueError),
        (("m", ""), {}, ValueError),
        (("m", "caf\u00e9"), {}, ValueError),
        (("m", "non\u00a0breaking"), {}, ValueError),  # \s is ASCII whitespace (Java)
        (("m", None, "and-roid"), {}, ValueError),  # deviceOS: no dash
        (("m", None, "o" * 33), {}, ValueError),
        (("m",), {"trace_id": "t" * 57}, ValueError),
        (("m",), {"trace_id": "t" * 59}, ValueError),
        (("m",), {"trace_id": "t" * 56 + "\r\n"}, ValueError),
        (("m",), {"trace_id": "\u00e9" * 58}, ValueError),
    ],
)
async def test_bind_device_patterns_are_checked_before_sending(
    fake: FakeKooDrive,
    client: BackupClient,
    args: tuple[Any, ...],
    kwargs: dict[str, Any],
    error: type[Exception],
) -> None:
    with pytest.raises(error):
        await client.bind_device(*args, **kwargs)
    assert fake.request_count == 0


async def test_longest_device_fields_are_accepted(fake: FakeKooDrive, client: BackupClient) -> None:
    device = await client.bind_device("m" * 64, "n" * 32, "o" * 32)
    assert device.machine_code == "m" * 64


async def test_bind_device_is_not_retried_after_a_lost_answer(
    fake: FakeKooDrive, client: BackupClient
) -> None:
    fake.inject(Fault.lose_response(), route="bindDevice")
    with pytest.raises(APIConnectionError):
        await client.bind_device("m1")
    assert fake.route_counts["bindDevice"] == 1


def test_decode_the_reference_device_examples() -> None:
    # listBoundDevice (§5.2) and unbindDevice (§5.3) examples, the truncated time completed.
    listed = {
        "data": [
            {
                "deviceId": "1775406005920779393",
                "machineCode": "20250911",
                "deviceOS": "android",
                "deviceName": "Magic v3",
                "createTime": "2025-09-15T06:14:48.630Z",
            },
            {
                "deviceId": "1842812272691451648",
                "machineCode": "20251217",
                "deviceOS": "android",
                "deviceName": "Magic-v5",
            },
        ],
        "code": 0,
        "msg": "success",
    }
    devices = ep.LIST_DEVICES.answer(listed, ep.LIST_DEVICES.request({}))
    assert devices[0] == DeviceEntity(
        "1775406005920779393",
        "20250911",
        "Magic v3",
        "android",
        datetime(2025, 9, 15, 6, 14, 48, 630000, tzinfo=UTC),
    )
    assert devices[1].device_name == "Magic-v5" and devices[1].create_time is None
    unbound = {"data": listed["data"][0], "code": 0, "msg": "success"}  # type: ignore[index]
    req = ep.UNBIND_DEVICE.request({"device_id": "1775406005920779393"})
    assert ep.UNBIND_DEVICE.answer(unbound, req) == devices[0]
    assert ep.UNBIND_DEVICE.answer({"code": 0, "msg": "success"}, req) is None
    assert (
        ep.BIND_DEVICE.answer(unbound, ep.BIND_DEVICE.request({"machine_code": "m"})) == devices[0]
    )


# --- configs ----------------------------------------------------------------------------------


async def test_get_update_list_configs(fake: FakeKooDrive, client: BackupClient) -> None:
    device_id = fake.add_device()
    fake.add_config(device_id, "101", "wifi_only", "on", description="upload on wifi")
    fake.add_config(device_id, "101", "quality", "high")
    fake.add_config(device_id, "100", "other", "x")
    config = await client.get_config(device_id, ModuleCode.ALBUM, "wifi_only")
    assert config == ConfigInfo(device_id, "101", "wifi_only", "on", "upload on wifi")
    assert dict(fake.requests[-1].query) == {"moduleCode": "101", "configName": "wifi_only"}
    updated = await client.update_config(device_id, "101", "wifi_only", "on", "off")
    assert (
        updated.config_value == "off" and fake.config_value(device_id, "101", "wifi_only") == "off"
    )
    assert fake.requests[-1].json == {
        "moduleCode": "101",
        "configName": "wifi_only",
        "currentConfigValue": "on",
        "newConfigValue": "off",
    }
    listed = await client.list_configs(device_id, "101")
    assert [(c.config_name, c.config_value) for c in listed] == [
        ("wifi_only", "off"),
        ("quality", "high"),
    ]


async def test_update_config_is_compare_and_set(fake: FakeKooDrive, client: BackupClient) -> None:
    device_id = fake.add_device()
    fake.add_config(device_id, "102", "sync", "daily")
    with pytest.raises(ConflictError):
        await client.update_config(device_id, "102", "sync", "weekly", "never")
    assert fake.config_value(device_id, "102", "sync") == "daily"


async def test_unknown_config_or_device(fake: FakeKooDrive, client: BackupClient) -> None:
    device_id = fake.add_device()
    with pytest.raises(NotFoundError):
        await client.get_config(device_id, "101", "nope")
    with pytest.raises(NotFoundError):
        await client.list_configs("1842812272691451648", "101")


async def test_update_config_retry_is_opt_in(fake: FakeKooDrive, client: BackupClient) -> None:
    device_id = fake.add_device()
    fake.add_config(device_id, "101", "n", "a")
    fake.inject(Fault.lose_response(), route="updateConfigInfo")
    with pytest.raises(APIConnectionError):  # processed, answer lost: not repeated
        await client.update_config(device_id, "101", "n", "a", "b")
    assert (
        fake.route_counts["updateConfigInfo"] == 1
        and fake.config_value(device_id, "101", "n") == "b"
    )
    fake.inject(Fault.status(502), route="updateConfigInfo")
    result = await client.update_config(device_id, "101", "n", "b", "c", retry_unsafe=True)
    assert result.config_value == "c" and fake.route_counts["updateConfigInfo"] == 3


@pytest.mark.parametrize(
    ("args", "error"),
    [
        (("1", "101", "a-b"), ValueError),
        (("1", "101", ""), ValueError),
        (("1", "101", "n" * 33), ValueError),
        (("1", "101", None), TypeError),
        (("1", "104", "name"), ValueError),
        (("a/b", "101", "name"), ValueError),
    ],
)
async def test_get_config_validation(
    fake: FakeKooDrive, client: BackupClient, args: tuple[Any, ...], error: type[Exception]
) -> None:
    with pytest.raises(error):
        await client.get_config(*args)
    assert fake.request_count == 0


@pytest.mark.parametrize(
    ("current", "new"), [("a b", "x"), ("x", "a.b"), ("", "x"), ("x", "v" * 33), ("x", 1)]
)
async def test_update_config_values_are_checked(
    fake: FakeKooDrive, client: BackupClient, current: Any, new: Any
) -> None:
    with pytest.raises((ValueError, TypeError)):
        await client.update_config("1", "101", "name", current, new)
    assert fake.request_count == 0


def test_decode_the_reference_config_example() -> None:
    # listConfigInfos (§7.3): the example begins {"data": [{"deviceId": "18428...", "module...
    payload = {
        "data": [
            {
                "deviceId": "1842812272691451648",
                "moduleCode": "102",
                "configName": "autoBackup",
                "configValue": "on",
                "description": "d",
                "future": 1,
            }
        ],
        "code": 0,
        "msg": "success",
    }
    req = ep.LIST_CONFIGS.request({"device_id": "1842812272691451648", "module_code": "101"})
    (config,) = ep.LIST_CONFIGS.answer(payload, req)
    assert config == ConfigInfo("1842812272691451648", ModuleCode.CONTACTS, "autoBackup", "on", "d")
