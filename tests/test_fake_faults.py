"""Fake server: fault injection, request log, counters."""

from __future__ import annotations

import asyncio
import email.utils
import json
import time
from collections.abc import Awaitable, Callable

import aiohttp
import pytest
from test_fake_support import Api, Reply, connect

from koodrive_backup.testing import FakeKooDrive, FakeRequest, Fault

Factory = Callable[..., Awaitable[FakeKooDrive]]
DELETE = "batchDeleteBackupScope"


async def _delete_one(api: Api, fake: FakeKooDrive) -> tuple[str, str, Reply]:
    """Seed one scope and ask to delete it: (device id, scope id, reply)."""
    device_id = fake.add_device()
    scope_id = fake.add_scopes(device_id, 1)[0]
    return device_id, scope_id, await api.delete_scopes(device_id, [scope_id])


async def test_status_fault_with_retry_after(koodrive_fake: FakeKooDrive) -> None:
    fake = koodrive_fake
    rule = fake.inject(Fault.status(503, retry_after="1"), route=DELETE, times=1)
    device_id = fake.add_device()
    scope_id = fake.add_scopes(device_id, 1)[0]
    async with connect(fake) as api:
        other = await api.call("GET", "/device")  # another route: not affected
        failed = await api.delete_scopes(device_id, [scope_id])
        assert fake.has_scope(device_id, scope_id)  # not processed
        ok = await api.delete_scopes(device_id, [scope_id])
    assert other.status == 200
    assert failed.status == 503
    assert failed.headers["Retry-After"] == "1"
    assert failed.body == {"code": 15000503, "msg": "Service Unavailable"}
    assert ok.status == 200 and ok.body["scopeIdList"] == [scope_id]
    assert rule.hits == 1 and rule.exhausted and fake.fault_rules == []
    assert [r.fault for r in fake.requests] == [None, rule.fault, None]


async def test_status_fault_http_date_and_custom_code(koodrive_fake: FakeKooDrive) -> None:
    when = Fault.http_date(time.time() + 5)
    koodrive_fake.inject(Fault.status(429, retry_after=when, code=7, msg="slow down"))
    async with connect(koodrive_fake) as api:
        reply = await api.call("GET", "/device")
    assert reply.status == 429 and reply.body == {"code": 7, "msg": "slow down"}
    assert email.utils.parsedate_to_datetime(reply.headers["Retry-After"]).timestamp() > 0
    assert reply.headers["Retry-After"] == when


async def test_status_fault_after_processing(koodrive_fake: FakeKooDrive) -> None:
    koodrive_fake.inject(Fault.status(500, process=True), route=DELETE)
    async with connect(koodrive_fake) as api:
        device_id, scope_id, reply = await _delete_one(api, koodrive_fake)
    assert reply.status == 500
    assert not koodrive_fake.has_scope(device_id, scope_id)


async def test_body_code_fault(koodrive_fake: FakeKooDrive) -> None:
    koodrive_fake.inject(Fault.body_code(15000500, msg="busy"), route=DELETE)
    async with connect(koodrive_fake) as api:
        device_id, scope_id, reply = await _delete_one(api, koodrive_fake)
    assert reply.status == 200
    assert reply.body == {"code": 15000500, "msg": "busy"}
    assert koodrive_fake.has_scope(device_id, scope_id)


@pytest.mark.parametrize("fault", [Fault.malformed_json(), Fault.truncated_json()])
async def test_broken_json_faults(koodrive_fake: FakeKooDrive, fault: Fault) -> None:
    koodrive_fake.inject(fault, route=DELETE)
    async with connect(koodrive_fake) as api:
        device_id, scope_id, reply = await _delete_one(api, koodrive_fake)
    assert reply.status == 200
    assert reply.headers["Content-Type"].startswith("application/json")
    assert reply.raw and reply.body is None
    with pytest.raises(ValueError):
        json.loads(reply.raw)
    assert koodrive_fake.has_scope(device_id, scope_id)


async def test_truncated_json_after_processing(koodrive_fake: FakeKooDrive) -> None:
    koodrive_fake.inject(Fault.truncated_json(process=True), route=DELETE)
    async with connect(koodrive_fake) as api:
        device_id, scope_id, reply = await _delete_one(api, koodrive_fake)
    assert reply.raw.startswith(b'{"scopeIdList":["')
    assert not koodrive_fake.has_scope(device_id, scope_id)


async def test_disconnect_leaves_store_unchanged(koodrive_fake: FakeKooDrive) -> None:
    fake = koodrive_fake
    device_id = fake.add_device()
    scope_id = fake.add_scopes(device_id, 1)[0]
    fake.inject(Fault.disconnect(), route="batchAddBackupScope")
    fake.inject(Fault.disconnect(), route=DELETE, times=None)  # aiohttp re-sends DELETE once
    body = {"moduleCode": "101", "scopeList": [{"localPath": "/new"}]}
    async with connect(fake) as api:
        with pytest.raises(aiohttp.ClientConnectionError):
            await api.call("POST", f"/device/{device_id}/scope", body=body)
        with pytest.raises(aiohttp.ClientConnectionError):
            await api.delete_scopes(device_id, [scope_id])
        fake.clear_faults()
        after = await api.call("GET", "/device")
    assert fake.scope_ids(device_id) == [scope_id]
    assert after.status == 200  # the server still serves new connections
    dropped = [r for r in fake.requests if r.fault is not None]
    assert dropped and all(r.status is None and r.fault == Fault.disconnect() for r in dropped)


async def test_lose_response_changes_store(koodrive_fake: FakeKooDrive) -> None:
    fake = koodrive_fake
    device_id = fake.add_device()
    scope_id = fake.add_scopes(device_id, 1)[0]
    fake.inject(Fault.lose_response(), route="createBackupLock")
    fake.inject(Fault.lose_response(), route=DELETE, times=2)  # covers aiohttp's one re-send
    async with connect(fake) as api:
        with pytest.raises(aiohttp.ClientConnectionError):
            await api.call("POST", "/lock", body={"moduleCode": "101"})
        again = await api.call("POST", "/lock", body={"moduleCode": "101"})
        with pytest.raises(aiohttp.ClientConnectionError):
            await api.delete_scopes(device_id, [scope_id])
    assert again.status == 409  # the lost create did take the lock
    assert not fake.has_scope(device_id, scope_id)
    assert fake.route_counts["createBackupLock"] == 2


async def test_predicate_fault(koodrive_fake: FakeKooDrive) -> None:
    fake = koodrive_fake
    device_id = fake.add_device()
    ids = fake.add_scopes(device_id, 3)

    def has_poison(request: FakeRequest) -> bool:
        return isinstance(request.json, dict) and ids[1] in request.json.get("scopeIdList", [])

    rule = fake.inject(Fault.status(500), when=has_poison, times=None)
    async with connect(fake) as api:
        first = await api.delete_scopes(device_id, [ids[0]])
        poisoned = await api.delete_scopes(device_id, [ids[1], ids[2]])
        listing = await api.call("GET", "/device")
    assert first.status == 200 and poisoned.status == 500 and listing.status == 200
    assert rule.hits == 1 and rule.remaining is None
    assert fake.scope_ids(device_id) == ids[1:]


async def test_latency_rules_and_knob(koodrive_fake: FakeKooDrive) -> None:
    fake = koodrive_fake
    rule = fake.inject(Fault.latency(0.05), times=2)
    status = fake.inject(Fault.status(502), times=1)
    async with connect(fake) as api:
        started = time.monotonic()
        combined = await api.call("GET", "/device")  # latency and the 502 together
        waited = time.monotonic() - started
        plain = [(await api.call("GET", "/device")).status for _ in range(2)]
        fake.latency = 0.05
        started = time.monotonic()
        knob = await api.call("GET", "/device")
        knob_wait = time.monotonic() - started
    assert combined.status == 502 and plain == [200, 200] and knob.status == 200
    assert rule.hits == 2 and status.hits == 1
    assert waited >= 0.04 and knob_wait >= 0.04  # lower bounds only


async def _outcomes(factory: Factory, seed: int) -> list[tuple[int, object]]:
    fake = await factory(seed=1)
    fake.set_random_faults(0.4, [Fault.status(503), Fault.body_code(1)], seed=seed)
    async with connect(fake) as api:
        replies = [await api.call("GET", "/device") for _ in range(30)]
    return [(r.status, r.code) for r in replies]


async def test_random_faults_are_seeded(koodrive_fake_factory: Factory) -> None:
    first = await _outcomes(koodrive_fake_factory, seed=11)
    again = await _outcomes(koodrive_fake_factory, seed=11)
    other = await _outcomes(koodrive_fake_factory, seed=12)
    assert first == again
    assert first != other
    assert {(200, 0), (200, 1), (503, 15000503)} == set(first)


async def test_random_faults_route_and_off(koodrive_fake: FakeKooDrive) -> None:
    koodrive_fake.set_random_faults(1.0, [Fault.status(503)], route=DELETE)
    async with connect(koodrive_fake) as api:
        device_id = koodrive_fake.add_device()
        hit = await api.delete_scopes(device_id, ["1"])
        other = await api.call("GET", "/device")
        koodrive_fake.set_random_faults(0)
        off = await api.delete_scopes(device_id, ["1"])
    assert (hit.status, other.status, off.status) == (503, 200, 200)


def test_fault_arguments_checked() -> None:
    fake = FakeKooDrive()
    with pytest.raises(ValueError):
        fake.inject(Fault.status(503), route="deleteScopes")
    with pytest.raises(ValueError):
        fake.inject(Fault.status(503), times=0)
    with pytest.raises(ValueError):
        Fault.status(99)
    with pytest.raises(ValueError):
        Fault.latency(-1)
    with pytest.raises(ValueError):
        fake.set_random_faults(1.5)
    assert Fault.status(503, retry_after=2.5).retry_after == "2.5"


async def test_request_log(koodrive_fake: FakeKooDrive) -> None:
    fake = koodrive_fake
    device_id = fake.add_device()
    async with connect(fake) as api:
        started = fake.now()
        await api.delete_scopes(device_id, ["123", 123])
        await api.call("GET", f"/device/{device_id}/scope", params={"moduleCode": "101"})
    first, second = fake.requests
    assert (first.method, first.route, first.path_id) == ("DELETE", DELETE, device_id)
    assert first.path == f"/koodrive/ose/v1/backup/device/{device_id}/scope"
    assert first.body == b'{"scopeIdList": ["123", 123]}'
    assert first.json == {"scopeIdList": ["123", 123]}
    assert first.headers["x-user-id"] == fake.user_id
    assert first.status == 200 and first.user_id == fake.user_id
    assert first.time >= started - 1
    assert second.route == "listBackupScope" and dict(second.query) == {"moduleCode": "101"}
    assert second.json is None
    assert fake.route_counts == {DELETE: 1, "listBackupScope": 1}
    assert fake.request_count == 2


async def test_record_requests_off_keeps_counters(koodrive_fake_factory: Factory) -> None:
    fake = await koodrive_fake_factory(record_requests=False)
    async with connect(fake) as api:
        for _ in range(3):
            await api.call("GET", "/device")
    assert fake.requests == []
    assert fake.route_counts["listBoundDevice"] == 3 and fake.request_count == 3
    fake.reset_stats()
    assert fake.route_counts["listBoundDevice"] == 0 and fake.max_in_flight == 0


async def test_max_in_flight(koodrive_fake: FakeKooDrive) -> None:
    fake = koodrive_fake
    fake.latency = 0.2
    async with connect(fake) as api:
        replies = await asyncio.gather(*(api.call("GET", "/device") for _ in range(4)))
        fake.latency = 0
        await api.call("GET", "/lock", headers={})  # 405: counted in request_count only
    assert all(r.status == 200 for r in replies)
    assert 2 <= fake.max_in_flight <= 4
    assert 2 <= fake.max_in_flight_by_route["listBoundDevice"] <= 4
    assert fake.in_flight == 0
    assert fake.route_counts["listBoundDevice"] == 4 and fake.request_count == 5
