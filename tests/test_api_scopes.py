"""Backup scopes (reference §6.1, §6.2): add (chunked, with accounting) and list."""

from __future__ import annotations

from typing import Any

import pytest
from aioresponses import aioresponses

from koodrive_backup import (
    AddScopesProgress,
    APIConnectionError,
    BackupClient,
    BadRequestError,
    DecodeError,
    NotFoundError,
    RetryPolicy,
    ScopeInfo,
    ServerError,
)
from koodrive_backup import _endpoints as ep
from koodrive_backup.models import AddScopesResult, ScopeAddFailure, ScopeSpec
from koodrive_backup.testing import FakeKooDrive, Fault


async def test_add_and_list_scopes(fake: FakeKooDrive, client: BackupClient) -> None:
    device_id = fake.add_device()
    specs: list[ScopeSpec | tuple[str, str | None]] = [
        ScopeSpec("/DCIM", "/Backup/DCIM"),
        ("/Download", None),
        ScopeSpec("", "/only"),
    ]
    result = await client.add_scopes(device_id, "100", specs)
    assert isinstance(result, AddScopesResult) and result.ok
    assert [(s.local_path, s.target_folder_path) for s in result.added] == [
        ("/DCIM", "/Backup/DCIM"),
        ("/Download", ""),
        ("", "/only"),
    ]
    assert all(fake.has_scope(device_id, s.scope_id) for s in result.added)
    assert fake.requests[-1].json == {
        "moduleCode": "100",
        "scopeList": [
            {"localPath": "/DCIM", "targetFolderPath": "/Backup/DCIM"},
            {"localPath": "/Download"},
            {"targetFolderPath": "/only"},
        ],
    }
    listed = await client.list_scopes(device_id, "100")
    assert listed == result.added
    assert await client.list_scopes(device_id, "101") == ()
    assert dict(fake.requests[-1].query) == {"moduleCode": "101"}


async def test_add_scopes_chunks_by_100_and_keeps_input_order(
    fake: FakeKooDrive, client: BackupClient
) -> None:
    device_id = fake.add_device()
    specs = [(f"/l/{n}", f"/c/{n}") for n in range(250)]
    progress: list[AddScopesProgress] = []
    result = await client.add_scopes(device_id, "101", specs, on_progress=progress.append)
    assert result.ok and [s.local_path for s in result.added] == [f"/l/{n}" for n in range(250)]
    sizes = [len(r.json["scopeList"]) for r in fake.requests]
    assert sizes == [100, 100, 50]
    assert progress[-1] == AddScopesProgress(
        done=250, total=250, added=250, failed=0, unprocessed=0
    )
    assert len(fake.scope_ids(device_id)) == 250


async def test_repeats_are_sent_once_and_failed_with_15000424(
    fake: FakeKooDrive, client: BackupClient
) -> None:
    device_id = fake.add_device()
    specs: list[ScopeSpec | tuple[str, str | None]] = [
        ("/a", "/b"),
        ScopeSpec("/c"),
        ScopeSpec("/a", "/b"),
        ("/c", None),
    ]
    result = await client.add_scopes(device_id, "101", specs)
    assert [s.local_path for s in result.added] == ["/a", "/c"]
    assert result.failed == (
        ScopeAddFailure(ScopeSpec("/a", "/b"), "15000424", result.failed[0].msg),
        ScopeAddFailure(ScopeSpec("/c", ""), "15000424", result.failed[1].msg),
    )
    assert len(fake.requests[-1].json["scopeList"]) == 2
    assert not result.ok


async def test_a_failed_chunk_is_unprocessed_and_a_post_is_not_retried(
    fake: FakeKooDrive, client: BackupClient
) -> None:
    device_id = fake.add_device()
    specs = [(f"/l/{n}", None) for n in range(5)]
    fake.inject(
        Fault.status(500), route="batchAddBackupScope", when=lambda r: "/l/2" in str(r.json)
    )
    result = await client.add_scopes(device_id, "101", specs, chunk_size=2)
    assert [s.local_path for s in result.added] == ["/l/0", "/l/1", "/l/4"]
    assert result.unprocessed == (ScopeSpec("/l/2"), ScopeSpec("/l/3"))
    assert len(result.errors) == 1 and isinstance(result.errors[0], ServerError)
    assert fake.route_counts["batchAddBackupScope"] == 3  # the 500 was not retried


async def test_lost_answer_is_not_retried_by_default_but_429_is(
    fake: FakeKooDrive, client: BackupClient
) -> None:
    device_id = fake.add_device()
    fake.inject(Fault.lose_response(), route="batchAddBackupScope")
    result = await client.add_scopes(device_id, "101", [("/a", None)])
    assert result.unprocessed == (ScopeSpec("/a"),)
    assert isinstance(result.errors[0], APIConnectionError)
    assert len(fake.scope_ids(device_id)) == 1  # it was created: a blind retry would duplicate
    fake.inject(Fault.status(429, retry_after="0"), route="batchAddBackupScope")
    result = await client.add_scopes(device_id, "101", [("/b", None)])
    assert result.ok and fake.route_counts["batchAddBackupScope"] == 3


async def test_add_scopes_to_an_unknown_device(fake: FakeKooDrive, client: BackupClient) -> None:
    result = await client.add_scopes("1842812272691451648", "101", [("/a", None)])
    assert result.unprocessed == (ScopeSpec("/a"),)
    assert isinstance(result.errors[0], NotFoundError)


async def test_add_scopes_empty_input_sends_nothing(
    fake: FakeKooDrive, client: BackupClient
) -> None:
    assert await client.add_scopes(fake.add_device(), "101", []) == AddScopesResult()
    assert fake.request_count == 0


@pytest.mark.parametrize(
    ("scopes", "kwargs", "error"),
    [
        ([("", "")], {}, ValueError),
        ([(None, None)], {}, ValueError),
        ([("relative", None)], {}, ValueError),
        ([(None, "/a\\b")], {}, ValueError),
        ([("/" + "x" * 10000, None)], {}, ValueError),
        ([["/a", "/b"]], {}, TypeError),  # a list is not a pair
        ([("/a",)], {}, TypeError),
        ([(1, None)], {}, TypeError),
        (["/a"], {}, TypeError),
        ("/a", {}, TypeError),
        ([("/a", None)], {"chunk_size": 101}, ValueError),
        ([("/a", None)], {"chunk_size": 0}, ValueError),
        ([("/a", None)], {"concurrency": 0}, ValueError),
    ],
)
async def test_add_scopes_validation_before_any_request(
    fake: FakeKooDrive,
    client: BackupClient,
    scopes: Any,
    kwargs: dict[str, Any],
    error: type[Exception],
) -> None:
    with pytest.raises(error):
        await client.add_scopes("1", "101", scopes, **kwargs)
    assert fake.request_count == 0


async def test_longest_scope_path_is_accepted(fake: FakeKooDrive, client: BackupClient) -> None:
    path = "/" + "x" * 9999
    result = await client.add_scopes(fake.add_device(), "101", [(path, path)])
    assert result.ok and result.added[0].local_path == path


@pytest.mark.parametrize("bad", [("a/b", "101"), ("1", "103"), ("1", "folder")])
async def test_list_scopes_validation(
    fake: FakeKooDrive, client: BackupClient, bad: tuple[str, str]
) -> None:
    with pytest.raises(ValueError):
        await client.list_scopes(*bad)
    assert fake.request_count == 0


async def test_list_scopes_of_an_unknown_device(fake: FakeKooDrive, client: BackupClient) -> None:
    with pytest.raises(NotFoundError):
        await client.list_scopes("1842812272691451648", "101")


async def test_add_scopes_bad_request_is_unprocessed(
    fake: FakeKooDrive, client: BackupClient
) -> None:
    fake.inject(Fault.status(400), route="batchAddBackupScope")
    result = await client.add_scopes(fake.add_device(), "101", [("/a", None)])
    assert result.unprocessed == (ScopeSpec("/a"),)
    assert isinstance(result.errors[0], BadRequestError)


# --- answers the fake does not give: per-item failures, silence, strangers --------------------

API = "https://kd.example/koodrive/ose/v1/backup"


async def test_server_failures_unmentioned_and_foreign_items() -> None:
    answer = {
        "code": 0,
        "msg": "success",
        "scopeList": [
            {"scopeId": 11, "localPath": "/a", "targetFolderPath": "/A", "moduleCode": "101"},
            {"scopeId": 99, "localPath": "/stranger"},  # not sent: ignored
        ],
        "failedScopeList": {"localPath": "/b", "errorCode": "15000499", "msg": "quota"},
    }
    with aioresponses() as mocked:
        mocked.post(API + "/device/1/scope", payload=answer)
        async with BackupClient(
            "https://kd.example", user_id="1", token="tok", retry=RetryPolicy(max_attempts=1)
        ) as client:
            result = await client.add_scopes("1", "101", [("/a", "/A"), ("/b", ""), ("/c", "")])
    assert result.added == (ScopeInfo("11", "/a", "/A", "101"),)
    assert result.failed == (ScopeAddFailure(ScopeSpec("/b"), "15000499", "quota"),)
    assert result.unprocessed == (ScopeSpec("/c"),)
    assert result.errors == ()


def test_decode_the_reference_list_scopes_shape() -> None:
    # §6.2: top-level scopeList, no data wrapper (the example is truncated; completed here).
    payload = {
        "scopeList": [
            {
                "localPath": "/asdkhsdahjksd",
                "targetFolderPath": "/ashdjkha",
                "scopeId": "1842812272691451649",
                "moduleCode": "100",
                "createTime": "2025-09-15T06:14:48.630Z",
            }
        ],
        "code": 0,
        "msg": "success",
    }
    req = ep.LIST_SCOPES.request({"device_id": "1842812272691451648", "module_code": "101"})
    (scope,) = ep.LIST_SCOPES.answer(payload, req)
    assert scope.scope_id == "1842812272691451649" and scope.local_path == "/asdkhsdahjksd"
    assert ep.LIST_SCOPES.answer({"code": 0, "msg": "success"}, req) == ()
    with pytest.raises(DecodeError):
        ep.LIST_SCOPES.answer({"scopeList": {"scopeId": "1"}}, req)


def test_decode_add_scopes_shapes() -> None:
    req = ep.ADD_SCOPES.request({"device_id": "1", "module_code": "101", "scope_list": []})
    answer = ep.ADD_SCOPES.answer({"code": 0, "scopeList": None, "failedScopeList": []}, req)
    assert answer.scope_list == () and answer.failed_scope_list == ()
    with pytest.raises(DecodeError, match="neither scopeList nor failedScopeList"):
        ep.ADD_SCOPES.answer({"code": 0, "msg": "success"}, req)  # issue 11 item 12c
    with pytest.raises(DecodeError):
        ep.ADD_SCOPES.answer({"scopeList": [{"localPath": "/a"}]}, req)  # a scope without an ID
