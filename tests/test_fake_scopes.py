"""Fake server: backup scopes (seed page 001 semantics), routes, strict decoding."""

from __future__ import annotations

import io
from typing import Any

import pytest
from test_fake_support import assert_error, connect

from koodrive_backup.testing import (
    METHOD_NOT_ALLOWED,
    NOT_FOUND,
    PARAM_INVALID,
    FakeKooDrive,
)

NOT_EXIST = {"errorCode": "15000418", "msg": "The backup scope does not exist."}
REPEATED = {"errorCode": "15000424", "msg": "Request to repeatedly delete scopeId."}


async def test_delete_scopes_like_seed_page(koodrive_fake: FakeKooDrive) -> None:
    """The seed example: "123" and 123 are one ID; repeats listed first; unknown IDs 15000418."""
    device_id = koodrive_fake.add_device()
    known = koodrive_fake.add_scopes(device_id, 3)
    request: list[Any] = ["123", 123, 345, known[0], int(known[1]), known[0]]
    async with connect(koodrive_fake) as api:
        reply = await api.delete_scopes(device_id, request)
    assert reply.status == 200
    assert list(reply.body) == ["scopeIdList", "failedScopeList", "code", "msg"]
    assert reply.body["code"] == 0 and reply.body["msg"] == "success"
    assert reply.body["scopeIdList"] == [known[0], known[1]]
    assert reply.body["failedScopeList"] == [
        {"scopeId": "123", **REPEATED},
        {"scopeId": known[0], **REPEATED},
        {"scopeId": "123", **NOT_EXIST},
        {"scopeId": "345", **NOT_EXIST},
    ]
    assert not koodrive_fake.has_scope(device_id, known[0])
    assert not koodrive_fake.has_scope(device_id, known[1])
    assert koodrive_fake.has_scope(device_id, known[2])


async def test_scope_ids_are_exact_19_digit_strings(koodrive_fake: FakeKooDrive) -> None:
    device_id = koodrive_fake.add_device()
    ids = koodrive_fake.add_scopes(device_id, 50)
    assert all(len(i) == 19 and i.isdigit() and int(i) > 2**53 for i in ids)
    assert len(set(ids)) == 50
    near = str(int(ids[0]) + 1) if str(int(ids[0]) + 1) not in ids else str(int(ids[0]) - 1)
    async with connect(koodrive_fake) as api:
        listed = await api.call("GET", f"/device/{device_id}/scope", params={"moduleCode": "101"})
        reply = await api.delete_scopes(device_id, [near, "0" + ids[1], ids[2]])
    assert [s["scopeId"] for s in listed.body["scopeList"]] == ids
    assert reply.body["scopeIdList"] == [ids[2]]  # a neighbour or zero-padded ID is another ID
    assert [f["scopeId"] for f in reply.body["failedScopeList"]] == [near, "0" + ids[1]]


async def test_delete_100_ok_101_refused(koodrive_fake: FakeKooDrive) -> None:
    device_id = koodrive_fake.add_device()
    ids = koodrive_fake.add_scopes(device_id, 101)
    async with connect(koodrive_fake) as api:
        too_many = await api.delete_scopes(device_id, ids)
        assert_error(too_many, 400, PARAM_INVALID)
        assert koodrive_fake.has_scope(device_id, ids[0])
        hundred = await api.delete_scopes(device_id, ids[:100])
    assert hundred.body["scopeIdList"] == ids[:100]
    assert koodrive_fake.scope_ids(device_id) == ids[100:]


@pytest.mark.parametrize(
    "body",
    [
        {"scopeIdList": [True]},
        {"scopeIdList": [1.5]},
        {"scopeIdList": [None]},
        {"scopeIdList": [{"id": "1"}]},
        {"scopeIdList": "123"},
        {"scopeIdList": ["1"], "extra": 1},
        {},
        [],
    ],
)
async def test_delete_scopes_strict_body(koodrive_fake: FakeKooDrive, body: Any) -> None:
    device_id = koodrive_fake.add_device()
    async with connect(koodrive_fake) as api:
        reply = await api.call("DELETE", f"/device/{device_id}/scope", body=body)
    assert_error(reply, 400, PARAM_INVALID)


@pytest.mark.parametrize(
    ("raw", "content_type"),
    [
        (b'{"scopeIdList": ["1"]', "application/json"),
        (b'{"scopeIdList": ["1"], "scopeIdList": ["2"]}', "application/json"),
        (b'{"scopeIdList": [NaN]}', "application/json"),
        (b'{"scopeIdList": ["1"]}', "text/plain"),
        (b"\xff\xfe", "application/json"),
    ],
)
async def test_broken_bodies_refused(
    koodrive_fake: FakeKooDrive, raw: bytes, content_type: str
) -> None:
    device_id = koodrive_fake.add_device()
    async with connect(koodrive_fake) as api:
        reply = await api.call(
            "DELETE", f"/device/{device_id}/scope", raw=raw, headers={"Content-Type": content_type}
        )
    assert_error(reply, 400, PARAM_INVALID)


async def test_delete_scopes_unknown_device_404(koodrive_fake: FakeKooDrive) -> None:
    async with connect(koodrive_fake) as api:
        reply = await api.delete_scopes("1842812272691451648", ["1"])
    assert_error(reply, 404, NOT_FOUND)


async def test_add_and_list_scopes(koodrive_fake: FakeKooDrive) -> None:
    device_id = koodrive_fake.add_device()
    entries = [
        {"localPath": "/DCIM", "targetFolderPath": "/Backup/DCIM"},
        {"localPath": "/DCIM", "targetFolderPath": "/Backup/DCIM"},
        {"localPath": "", "targetFolderPath": "/only-target"},
        {"localPath": "/only-local"},
    ]
    async with connect(koodrive_fake) as api:
        added = await api.call(
            "POST", f"/device/{device_id}/scope", body={"moduleCode": "100", "scopeList": entries}
        )
        listed = await api.call("GET", f"/device/{device_id}/scope", params={"moduleCode": "100"})
        other = await api.call("GET", f"/device/{device_id}/scope", params={"moduleCode": "101"})
    assert added.status == 200
    assert set(added.body) == {"code", "msg", "scopeList", "failedScopeList"}
    created = added.body["scopeList"]
    assert [(s["localPath"], s["targetFolderPath"]) for s in created] == [
        ("/DCIM", "/Backup/DCIM"),
        ("", "/only-target"),
        ("/only-local", ""),
    ]
    assert {s["moduleCode"] for s in created} == {"100"}
    fields = {"scopeId", "localPath", "targetFolderPath", "moduleCode", "createTime"}
    assert all(set(s) == fields for s in created)
    assert added.body["failedScopeList"] == [
        {
            "localPath": "/DCIM",
            "targetFolderPath": "/Backup/DCIM",
            "errorCode": "15000424",
            "msg": "Request to repeatedly add scope.",
        }
    ]
    assert listed.body == {"code": 0, "msg": "success", "scopeList": created}
    assert other.body["scopeList"] == []


@pytest.mark.parametrize(
    "entry",
    [
        {"localPath": "relative", "targetFolderPath": "/x"},
        {"localPath": "/a\\b", "targetFolderPath": "/x"},
        {"localPath": "", "targetFolderPath": ""},
        {},
        {"localPath": "/" + "a" * 10000},
        {"localPath": "/a", "other": "/b"},
        {"localPath": None},
    ],
)
async def test_add_scopes_bad_entry(koodrive_fake: FakeKooDrive, entry: dict[str, Any]) -> None:
    device_id = koodrive_fake.add_device()
    async with connect(koodrive_fake) as api:
        body = {"moduleCode": "101", "scopeList": [entry]}
        reply = await api.call("POST", f"/device/{device_id}/scope", body=body)
    assert_error(reply, 400, PARAM_INVALID)
    assert koodrive_fake.scope_ids(device_id) == []


@pytest.mark.parametrize("module_code", ["103", 101, "", None])
async def test_module_code_checked(koodrive_fake: FakeKooDrive, module_code: Any) -> None:
    device_id = koodrive_fake.add_device()
    async with connect(koodrive_fake) as api:
        body = {"moduleCode": module_code, "scopeList": [{"localPath": "/a"}]}
        reply = await api.call("POST", f"/device/{device_id}/scope", body=body)
    assert_error(reply, 400, PARAM_INVALID)


async def test_add_scopes_limit(koodrive_fake: FakeKooDrive) -> None:
    device_id = koodrive_fake.add_device()
    entries = [{"localPath": f"/p{n}"} for n in range(101)]
    async with connect(koodrive_fake) as api:
        reply = await api.call(
            "POST", f"/device/{device_id}/scope", body={"moduleCode": "101", "scopeList": entries}
        )
    assert_error(reply, 400, PARAM_INVALID)


async def test_list_scopes_query_strict(koodrive_fake: FakeKooDrive) -> None:
    device_id = koodrive_fake.add_device()
    async with connect(koodrive_fake) as api:
        missing = await api.call("GET", f"/device/{device_id}/scope")
        extra = await api.call(
            "GET", f"/device/{device_id}/scope", params={"moduleCode": "101", "x": "1"}
        )
    assert_error(missing, 400, PARAM_INVALID)
    assert_error(extra, 400, PARAM_INVALID)


@pytest.mark.parametrize(
    ("method", "path", "status", "code"),
    [
        ("GET", "/nope", 404, NOT_FOUND),
        ("GET", "/lock/", 404, NOT_FOUND),
        ("GET", "/record//files", 404, NOT_FOUND),
        ("GET", "/lock", 405, METHOD_NOT_ALLOWED),
        ("PUT", "/device", 405, METHOD_NOT_ALLOWED),
    ],
)
async def test_unknown_routes(
    koodrive_fake: FakeKooDrive, method: str, path: str, status: int, code: int
) -> None:
    async with connect(koodrive_fake) as api:
        reply = await api.call(method, path)
    assert_error(reply, status, code)
    assert koodrive_fake.requests[-1].route is None
    assert sum(koodrive_fake.route_counts.values()) == 0


async def test_path_outside_prefix_is_404(koodrive_fake: FakeKooDrive) -> None:
    url = koodrive_fake.url + "/koodrive/ose/v2/backup/lock"
    async with connect(koodrive_fake) as api, api.session.get(url) as resp:
        assert resp.status == 404
        assert (await resp.json())["code"] == NOT_FOUND


async def test_oversized_body_is_413_json(koodrive_fake: FakeKooDrive) -> None:
    device_id = koodrive_fake.add_device()
    raw = b'{"scopeIdList": ["' + b"1" * (4 * 1024 * 1024) + b'"]}'
    url = f"{koodrive_fake.api_url}/device/{device_id}/scope"
    async with connect(koodrive_fake) as api:
        headers = api.headers(**{"Content-Type": "application/json"})
        async with api.session.delete(url, data=io.BytesIO(raw), headers=headers) as resp:
            status, body = resp.status, await resp.json()
    assert status == 413 and body["code"] == PARAM_INVALID
    assert koodrive_fake.requests[-1].route is None
