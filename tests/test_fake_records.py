"""Fake server: records, files, pagination, devices and configs."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest
from test_fake_support import Api, assert_error, connect

from koodrive_backup.testing import (
    CONFIG_CONFLICT,
    NOT_FOUND,
    PARAM_INVALID,
    FakeKooDrive,
)

TIME_RE = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z")


async def test_record_lifecycle(koodrive_fake: FakeKooDrive) -> None:
    device_id = koodrive_fake.add_device(machine_code="m_1", device_name="Magic v3")
    async with connect(koodrive_fake) as api:
        lock_id = await api.lock("101")
        body = {"moduleCode": "101", "deviceId": device_id, "properties": '{"test":"123"}'}
        created = await api.call("POST", "/record", body=body, lock=lock_id)
        record = created.data
        record_id = record["recordId"]
        fetched = await api.call("GET", f"/record/{record_id}")
        file_body = {
            "fileName": "a.jpg",
            "sha256": "ab" * 32,
            "length": 10,
            "parentFolder": ["root"],
        }
        added = await api.call("POST", f"/record/{record_id}/file", body=file_body, lock=lock_id)
        done = await api.call(
            "PATCH", f"/record/{record_id}", body={"properties": "[1]"}, lock=lock_id
        )
        completed = await api.call("GET", f"/record/{record_id}")
        deleted = await api.call("DELETE", f"/record/{record_id}", lock=lock_id)
        gone = await api.call("GET", f"/record/{record_id}")
    assert created.status == 200
    assert len(record_id) == 19 and record_id.isdigit()
    assert record["moduleCode"] == "101" and record["status"] == 0 and record["version"] == 1
    assert record["properties"] == '{"test":"123"}' and "endTime" not in record
    assert TIME_RE.fullmatch(record["createTime"])
    assert record["deviceInfo"]["deviceId"] == device_id
    assert record["deviceInfo"]["deviceName"] == "Magic v3"
    assert fetched.data == record
    assert added.data["fileName"] == "a.jpg" and added.data["size"] == 10
    assert len(added.data["fileId"]) == 19
    assert done.body == {"code": 0, "msg": "success"}
    assert completed.data["status"] == 1 and completed.data["version"] == 2
    assert completed.data["properties"] == "[1]"
    assert TIME_RE.fullmatch(completed.data["endTime"])
    assert deleted.body == {"code": 0, "msg": "success"}
    assert_error(gone, 404, NOT_FOUND)
    assert not koodrive_fake.has_record(record_id)


@pytest.mark.parametrize(
    "body",
    [
        {"moduleCode": "101"},
        {"moduleCode": "101", "deviceId": "{device}", "properties": "not json"},
        {"moduleCode": "101", "deviceId": "{device}", "properties": {"a": 1}},
        {"moduleCode": "101", "deviceId": "{device}", "status": 1},
        {"moduleCode": "101", "deviceId": 5},
    ],
)
async def test_create_record_strict(koodrive_fake: FakeKooDrive, body: dict[str, Any]) -> None:
    device_id = koodrive_fake.add_device()
    body = {k: v.format(device=device_id) if isinstance(v, str) else v for k, v in body.items()}
    async with connect(koodrive_fake) as api:
        lock_id = await api.lock()
        reply = await api.call("POST", "/record", body=body, lock=lock_id)
    assert_error(reply, 400, PARAM_INVALID)


async def test_deeply_nested_json_from_a_client_is_a_400_not_a_crash(
    koodrive_fake: FakeKooDrive,
) -> None:
    """The fake is a server too: 1,100 nested arrays in a body or in ``properties`` (JSON
    text it parses) are bad parameters, not an internal error; ``FakeRequest.json`` (which
    ``when=`` predicates read) is ``None`` for such a body."""
    device_id = koodrive_fake.add_device()
    nest = "[" * 1100 + "]" * 1100
    async with connect(koodrive_fake) as api:
        lock_id = await api.lock()
        body = {"moduleCode": "101", "deviceId": device_id, "properties": nest}
        in_properties = await api.call("POST", "/record", body=body, lock=lock_id)
        raw = f'{{"moduleCode": "101", "deviceId": "{device_id}", "x": {nest}}}'.encode()
        in_body = await api.call("POST", "/record", raw=raw, lock=lock_id)
    assert_error(in_properties, 400, PARAM_INVALID)
    assert_error(in_body, 400, PARAM_INVALID)
    assert koodrive_fake.requests[-1].json is None


async def test_create_record_unknown_device_404(koodrive_fake: FakeKooDrive) -> None:
    async with connect(koodrive_fake) as api:
        lock_id = await api.lock()
        body = {"moduleCode": "101", "deviceId": "1775406005920779393"}
        reply = await api.call("POST", "/record", body=body, lock=lock_id)
    assert_error(reply, 404, NOT_FOUND)


async def _walk(api: Api, path: str, params: dict[str, str]) -> tuple[list[str], int]:
    """Follow nextCursor to the end; (IDs seen, pages)."""
    seen: list[str] = []
    pages = 0
    cursor: str | None = None
    while True:
        query = dict(params) if cursor is None else {**params, "cursor": cursor}
        reply = await api.call("GET", path, params=query)
        assert reply.status == 200, reply.body
        pages += 1
        seen += [item.get("recordId") or item["fileId"] for item in reply.data]
        cursor = reply.body.get("nextCursor")
        if cursor is None:
            return seen, pages
        assert cursor and len(cursor) <= 1000


async def test_record_pagination_walk(koodrive_fake: FakeKooDrive) -> None:
    dev_a = koodrive_fake.add_device()
    dev_b = koodrive_fake.add_device()
    mine = [koodrive_fake.add_record(dev_a if n % 2 else dev_b) for n in range(23)]
    koodrive_fake.add_record(dev_a, module_code="100")  # another module: not listed
    async with connect(koodrive_fake) as api:
        everything, pages = await _walk(api, "/record", {"moduleCode": "101", "pageSize": "5"})
        only_a, _ = await _walk(
            api, "/record", {"moduleCode": "101", "pageSize": "100", "deviceId": dev_a}
        )
        exact = await api.call("GET", "/record", params={"moduleCode": "101", "pageSize": "23"})
    assert everything == mine and pages == 5
    assert only_a == [r for n, r in enumerate(mine) if n % 2]
    assert "nextCursor" not in exact.body and len(exact.data) == 23


async def test_pagination_survives_deletes(koodrive_fake: FakeKooDrive) -> None:
    device_id = koodrive_fake.add_device()
    records = [koodrive_fake.add_record(device_id) for _ in range(6)]
    async with connect(koodrive_fake) as api:
        first = await api.call("GET", "/record", params={"moduleCode": "101", "pageSize": "3"})
        lock_id = await api.lock()
        for gone in (records[0], records[3]):
            assert (await api.call("DELETE", f"/record/{gone}", lock=lock_id)).status == 200
        cursor = first.body["nextCursor"]
        params = {"moduleCode": "101", "pageSize": "3", "cursor": cursor}
        second = await api.call("GET", "/record", params=params)
    assert [r["recordId"] for r in first.data] == records[:3]
    assert [r["recordId"] for r in second.data] == [records[4], records[5]]


async def test_file_pagination(koodrive_fake: FakeKooDrive) -> None:
    device_id = koodrive_fake.add_device()
    record_id = koodrive_fake.add_record(device_id, files=7)
    async with connect(koodrive_fake) as api:
        seen, pages = await _walk(api, f"/record/{record_id}/files", {"pageSize": "3"})
        empty = await api.call(
            "GET", f"/record/{koodrive_fake.add_record(device_id)}/files", params={"pageSize": "3"}
        )
    assert seen == koodrive_fake.file_ids(record_id) and len(seen) == 7 and pages == 3
    assert empty.body == {"code": 0, "msg": "success", "data": []}


@pytest.mark.parametrize(
    "params",
    [
        {"moduleCode": "101", "pageSize": "0"},
        {"moduleCode": "101", "pageSize": "101"},
        {"moduleCode": "101", "pageSize": "ten"},
        {"moduleCode": "101", "pageSize": "1.5"},
        {"moduleCode": "101"},
        {"pageSize": "10"},
        {"moduleCode": "101", "pageSize": "10", "cursor": "!!"},
        {"moduleCode": "101", "pageSize": "10", "cursor": "Zjox"},  # "f:1": a file cursor
        {"moduleCode": "101", "pageSize": "10", "cursor": "c" * 1001},
        {"moduleCode": "101", "pageSize": "10", "sort": "asc"},
    ],
)
async def test_list_records_query_checked(
    koodrive_fake: FakeKooDrive, params: dict[str, str]
) -> None:
    async with connect(koodrive_fake) as api:
        reply = await api.call("GET", "/record", params=params)
    assert_error(reply, 400, PARAM_INVALID)


@pytest.mark.parametrize(
    "body",
    [
        {"fileName": ""},
        {"fileName": "."},
        {"fileName": ".."},
        {"fileName": "a/b"},
        {"fileName": "a:b"},
        {"fileName": "x" * 251},
        {"fileName": "a", "length": "10"},
        {"fileName": "a", "length": True},
        {"fileName": "a", "parentFolder": "root"},
        {"fileName": "a", "unknown": 1},
        {"description": "no name"},
    ],
)
async def test_create_file_checked(koodrive_fake: FakeKooDrive, body: dict[str, Any]) -> None:
    record_id = koodrive_fake.add_record(koodrive_fake.add_device())
    async with connect(koodrive_fake) as api:
        lock_id = await api.lock()
        reply = await api.call("POST", f"/record/{record_id}/file", body=body, lock=lock_id)
    assert_error(reply, 400, PARAM_INVALID)
    assert koodrive_fake.file_ids(record_id) == []


async def test_no_body_endpoints_refuse_one(koodrive_fake: FakeKooDrive) -> None:
    record_id = koodrive_fake.add_record(koodrive_fake.add_device())
    async with connect(koodrive_fake) as api:
        lock_id = await api.lock()
        reply = await api.call("DELETE", f"/record/{record_id}", body={}, lock=lock_id)
    assert_error(reply, 400, PARAM_INVALID)
    assert koodrive_fake.has_record(record_id)


async def test_devices(koodrive_fake: FakeKooDrive) -> None:
    async with connect(koodrive_fake) as api:
        body = {"machineCode": "20250911", "deviceName": "Magic v3", "deviceOS": "android"}
        bound = await api.call("POST", "/device", body=body)
        again = await api.call("POST", "/device", body={"machineCode": "20250911"})
        listed = await api.call("GET", "/device")
        device_id = bound.data["deviceId"]
        koodrive_fake.add_scopes(device_id, 2)
        unbound = await api.call("DELETE", f"/device/{device_id}")
        twice = await api.call("DELETE", f"/device/{device_id}")
        bad = await api.call("POST", "/device", body={"machineCode": "has space"})
        trace = await api.call("POST", "/device", body=body, headers={"X-traceid": "short"})
    assert bound.data["machineCode"] == "20250911" and bound.data["deviceOS"] == "android"
    assert TIME_RE.fullmatch(bound.data["createTime"])
    assert again.data == bound.data
    assert listed.data == [bound.data]
    assert unbound.data == bound.data
    assert not koodrive_fake.has_device(device_id)
    assert_error(twice, 404, NOT_FOUND)
    assert_error(bad, 400, PARAM_INVALID)
    assert_error(trace, 400, PARAM_INVALID)


async def test_configs(koodrive_fake: FakeKooDrive) -> None:
    device_id = koodrive_fake.add_device()
    koodrive_fake.add_config(device_id, "102", "syncMode", "wifi_only", description="when")
    koodrive_fake.add_config(device_id, "102", "keep", "7")
    path = f"/device/{device_id}/config"
    async with connect(koodrive_fake) as api:
        got = await api.call("GET", path, params={"moduleCode": "102", "configName": "syncMode"})
        missing = await api.call(
            "GET", path, params={"moduleCode": "101", "configName": "syncMode"}
        )
        update = {"moduleCode": "102", "configName": "syncMode", "currentConfigValue": "wifi_only"}
        changed = await api.call("PATCH", path, body={**update, "newConfigValue": "always"})
        stale = await api.call("PATCH", path, body={**update, "newConfigValue": "never"})
        bad = await api.call("PATCH", path, body={**update, "newConfigValue": "no way"})
        listed = await api.call("GET", f"/device/{device_id}/configs", params={"moduleCode": "102"})
    assert got.data == {
        "deviceId": device_id,
        "moduleCode": "102",
        "configName": "syncMode",
        "configValue": "wifi_only",
        "description": "when",
    }
    assert_error(missing, 404, NOT_FOUND)
    assert changed.data == {
        "deviceId": device_id,
        "moduleCode": "102",
        "configName": "syncMode",
        "configValue": "always",
    }
    assert_error(stale, 409, CONFIG_CONFLICT)
    assert_error(bad, 400, PARAM_INVALID)
    assert [c["configName"] for c in listed.data] == ["syncMode", "keep"]
    assert koodrive_fake.config_value(device_id, "102", "syncMode") == "always"


def test_seeded_ids_reproducible() -> None:
    def ids(seed: int) -> list[str]:
        fake = FakeKooDrive(seed=seed)
        device_id = fake.add_device()
        return [fake.token, device_id, *fake.add_scopes(device_id, 3), fake.add_record(device_id)]

    assert ids(7) == ids(7)
    assert ids(7) != ids(8)
    assert all(len(i) == 19 for i in ids(7)[1:])


def test_record_json_helper() -> None:
    fake = FakeKooDrive(seed=1)
    record_id = fake.add_record(fake.add_device(), module_code="102", files=2, completed=True)
    record = fake.record_json(record_id)
    assert record["status"] == 1 and record["moduleCode"] == "102"
    assert json.loads(json.dumps(record)) == record
