"""Hostile answers over real sockets (issue 11): a raw peer sends what no fake would.

Items: 1 (deep nesting), 4 (``null`` lists), 11 (2xx codes that are not 0), 12d (epoch
millisecond timestamps) and IDs with control characters. API.md "Resilience options":
whatever the server sends, a call raises a ``KooDriveError`` subclass, never another
exception; in a batch such a chunk lands in ``unprocessed`` with its error in ``errors``.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from typing import Any

import pytest
from conftest import FAST
from hostile import Behaviour, HostileServer, SeenRequest, deep_nesting, respond_json

from koodrive_backup import APIError, BackupClient, DecodeError, ScopeSpec, ServerError
from koodrive_backup import _protocol as protocol

USER_ID = "1505084218764547200"
DEVICE_ID = "1842812272691451648"
SEED_RECORD = {  # seed page 004's example answer, data part
    "recordId": "1842862763295184641",
    "moduleCode": "101",
    "status": 0,
    "properties": '{"test":"123"}',
    "version": 1,
    "createTime": "2025-12-17T07:59:20.752Z",
}
SEED_TIME = datetime(2025, 12, 17, 7, 59, 20, 752000, tzinfo=UTC)


@asynccontextmanager
async def client_for(peer: HostileServer) -> AsyncIterator[BackupClient]:
    async with BackupClient(peer.url, user_id=USER_ID, token="hostile-token", retry=FAST) as c:
        yield c


@pytest.fixture(params=["orjson", "json"])
def parser(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    """Run a test with the optional accelerator and with the standard library alone."""
    if request.param == "json":
        # A private attribute on purpose: there is no public switch (the parser is chosen at
        # import, by whether orjson imports), and the standard library path, the reference
        # behaviour, must be exercised too when orjson is installed, as it is in CI.
        monkeypatch.setattr(protocol, "_orjson", None)
    else:
        pytest.importorskip("orjson")
    return str(request.param)


def per_chunk(answer: Callable[[list[str]], Behaviour]) -> Callable[[SeenRequest], Behaviour]:
    """A route for batchDeleteBackupScope: the behaviour chosen from the chunk's IDs."""
    return lambda request: answer(request.json()["scopeIdList"])


def echo(ids: list[str], **fields: Any) -> Behaviour:
    """The ordinary answer: every ID of the chunk deleted (seed page 001's shape)."""
    return respond_json(200, {"code": 0, "msg": "success", "scopeIdList": ids, **fields})


# --- item 1: deep nesting ---------------------------------------------------------------------


@pytest.mark.parametrize("where", ["unknown", "top", "msg", "code"])
async def test_deep_nesting_in_a_200_answer_is_a_decode_error(parser: str, where: str) -> None:
    peer = HostileServer(deep_nesting(200, 1100, where=where))
    async with peer, client_for(peer) as client:
        with pytest.raises(DecodeError, match="nested too deeply") as info:
            await client.get_record("1842862763295184641")
    assert info.value.status == 200
    assert len(peer.requests) == 1  # a DecodeError is not retried


@pytest.mark.parametrize("where", ["unknown", "top", "msg", "code"])
async def test_deep_nesting_in_a_500_answer_is_a_server_error_without_code(
    parser: str, where: str
) -> None:
    peer = HostileServer(deep_nesting(500, 1100, where=where))
    async with peer, client_for(peer) as client:
        with pytest.raises(ServerError) as info:
            await client.get_record("1842862763295184641")
    assert (info.value.status, info.value.code, info.value.msg) == (500, None, None)
    assert len(peer.requests) == FAST.max_attempts  # retried like any 500


@pytest.mark.parametrize("status", [200, 500])
async def test_nesting_the_parser_takes_does_not_break_the_error_message(status: int) -> None:
    """1,000 levels parse (orjson's limit is 1024): the error must still be built and shown
    without recursing through the structure (str() of it would raise RecursionError)."""
    pytest.importorskip("orjson")
    peer = HostileServer(deep_nesting(status, 1000, where="code"))
    async with peer, client_for(peer) as client:
        with pytest.raises(APIError) as info:
            await client.get_record("1842862763295184641")
    assert info.value.status == status and type(info.value.code) is list  # kept as given
    assert len(str(info.value)) < 400 and "[[[[" in str(info.value)


async def test_deep_nesting_in_one_chunk_leaves_it_unprocessed_and_the_batch_goes_on(
    parser: str,
) -> None:
    def answer(ids: list[str]) -> Behaviour:
        return deep_nesting(200, 1100) if "21" in ids else echo(ids)

    ids = ["11", "12", "21", "22", "31", "32"]
    async with HostileServer(route=per_chunk(answer)) as peer, client_for(peer) as client:
        result = await client.delete_scopes(DEVICE_ID, ids, chunk_size=2, concurrency=1)
    assert result.deleted == ("11", "12", "31", "32")  # chunks before and after it count
    assert result.unprocessed == ("21", "22") and result.failed == ()
    assert [type(error) for error in result.errors] == [DecodeError]
    assert len(peer.requests) == 3


# --- item 4: null lists -----------------------------------------------------------------------


async def test_null_failed_scope_list_means_nothing_failed() -> None:
    ids = [str(n) for n in range(1, 6)]
    peer = HostileServer(route=per_chunk(lambda chunk: echo(chunk, failedScopeList=None)))
    async with peer, client_for(peer) as client:
        result = await client.delete_scopes(DEVICE_ID, ids, chunk_size=2)
    assert result.deleted == tuple(ids) and result.ok and result.errors == ()


async def test_null_scope_id_list_means_nothing_deleted_and_a_rerun_converges() -> None:
    def answer(chunk: list[str]) -> Behaviour:
        failed = [{"scopeId": i, "errorCode": "15000418", "msg": "not found"} for i in chunk]
        return respond_json(200, {"code": 0, "scopeIdList": None, "failedScopeList": failed})

    ids = [str(n) for n in range(1, 6)]
    async with HostileServer(route=per_chunk(answer)) as peer, client_for(peer) as client:
        result = await client.delete_scopes(DEVICE_ID, ids, chunk_size=2)
    assert result.unprocessed == () and result.errors == ()
    assert [f.scope_id for f in result.failed] == ids and result.gone == tuple(ids)


async def test_null_items_of_a_list_endpoint_are_an_empty_page() -> None:
    peer = HostileServer(respond_json(200, {"code": 0, "data": None}))
    async with peer, client_for(peer) as client:
        assert await client.list_scopes(DEVICE_ID, "101") == ()


# --- item 11: a 2xx whose code is not 0 -------------------------------------------------------


@pytest.mark.parametrize("code", [False, True, 0.0, "0.0", [], {}, " 0", 1])
async def test_2xx_with_a_code_that_is_not_zero_raises(code: object) -> None:
    peer = HostileServer(respond_json(200, {"code": code, "msg": "odd", "data": SEED_RECORD}))
    async with peer, client_for(peer) as client:
        with pytest.raises(APIError) as info:
            await client.get_record("1842862763295184641")
    assert type(info.value) is APIError and info.value.status == 200
    assert info.value.code == code and type(info.value.code) is type(code)  # as given
    assert len(peer.requests) == 1  # a body-level error is not retried


@pytest.mark.parametrize("code", [0, "0", "-0", None])
async def test_2xx_with_code_zero_or_none_is_a_success(code: object) -> None:
    peer = HostileServer(respond_json(200, {"code": code, "msg": "success", "data": SEED_RECORD}))
    async with peer, client_for(peer) as client:
        record = await client.get_record("1842862763295184641")
    assert record.record_id == "1842862763295184641"


# --- item 12d: epoch milliseconds -------------------------------------------------------------

SEED_MS = (SEED_TIME - datetime(1970, 1, 1, tzinfo=UTC)) // (SEED_TIME.resolution * 1000)


async def test_epoch_millisecond_timestamps_decode_like_iso() -> None:
    assert SEED_MS == 1765958360752
    device = {"deviceId": DEVICE_ID, "createTime": float(SEED_MS)}  # 1.765958360752E12
    data = {**SEED_RECORD, "createTime": SEED_MS, "endTime": str(SEED_MS), "deviceInfo": device}
    peer = HostileServer(respond_json(200, {"code": 0, "msg": "success", "data": data}))
    async with peer, client_for(peer) as client:
        record = await client.get_record("1842862763295184641")
    assert record.create_time == record.end_time == SEED_TIME
    assert record.device_info is not None and record.device_info.create_time == SEED_TIME
    assert record.create_time is not None and record.create_time.tzinfo is UTC


# --- IDs with control characters -------------------------------------------------------------


@pytest.mark.parametrize("lock_id", ["abc\r\nX-Evil: 1@101", "abc\x1b[2J@101", "a b@101", "\u2028"])
async def test_an_id_with_control_characters_is_a_decode_error(lock_id: str) -> None:
    peer = HostileServer(respond_json(200, {"code": 0, "data": {"lockId": lock_id}}))
    async with peer, client_for(peer) as client:
        with pytest.raises(DecodeError, match="lockId") as info:
            await client.create_lock("101")
    assert str(info.value).isprintable()


async def test_a_batch_answer_naming_a_foreign_id_with_control_characters(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Not an ID that was sent: ignored, and logged on one line (API.md fine print)."""

    def answer(ids: list[str]) -> Behaviour:
        forged = "9\n2026-01-01 WARNING koodrive_backup: forged"
        return echo([*ids, forged], failedScopeList=[{"scopeId": forged, "errorCode": "1"}])

    peer = HostileServer(route=per_chunk(answer))
    async with peer, client_for(peer) as client:
        with caplog.at_level(logging.WARNING, logger="koodrive_backup"):
            result = await client.delete_scopes(DEVICE_ID, ["1", "2", "3"], chunk_size=2)
    assert result.deleted == ("1", "2", "3") and result.ok
    lines = [r.getMessage() for r in caplog.records]
    assert lines and all(line.isprintable() for line in lines), lines


# --- item 12c: an add_scopes answer of a shape not recognised -------------------------------


@pytest.mark.parametrize(
    "payload",
    [
        {"code": 0, "msg": "success", "data": {"scopeList": [{"scopeId": "1", "localPath": "/a"}]}},
        {"code": 0, "msg": "success"},
        {"code": 0, "failedScopeList": [{"errorCode": "15000409", "msg": "exists"}]},
        {"code": 0, "scopeList": [{"scopeId": "7"}]},
    ],
    ids=["wrapped-in-data", "no-lists", "failure-without-paths", "scope-without-paths"],
)
async def test_an_add_scopes_answer_not_recognised_is_a_decode_error_in_errors(
    payload: dict[str, Any],
) -> None:
    peer = HostileServer(respond_json(200, payload))
    async with peer, client_for(peer) as client:
        result = await client.add_scopes(DEVICE_ID, "101", [("/a", None), ("/b", "/cloud/b")])
    assert len(result.unprocessed) == 2 and result.added == () and result.failed == ()
    assert [type(error) for error in result.errors] == [DecodeError]  # not silently empty
    assert len(peer.requests) == 1  # a POST whose answer is unreadable is not sent again


async def test_an_add_scopes_answer_with_null_lists_is_recognised() -> None:
    peer = HostileServer(respond_json(200, {"code": 0, "scopeList": None, "failedScopeList": None}))
    async with peer, client_for(peer) as client:
        result = await client.add_scopes(DEVICE_ID, "101", [("/a", None)])
    assert result.unprocessed == (ScopeSpec("/a", ""),) and result.errors == ()  # lists: empty
