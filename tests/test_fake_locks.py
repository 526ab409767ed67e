"""Fake server: backup lock lifecycle and lock checks on the endpoints that need one."""

from __future__ import annotations

import asyncio
import re
import time
from collections.abc import Awaitable, Callable

import pytest
from test_fake_support import assert_error, connect

from koodrive_backup.testing import (
    LOCK_EXPIRED,
    LOCK_FOREIGN,
    LOCK_HELD,
    LOCK_MODULE_MISMATCH,
    LOCK_NOT_FOUND,
    LOCK_REQUIRED,
    PARAM_INVALID,
    FakeKooDrive,
)

Factory = Callable[..., Awaitable[FakeKooDrive]]
LOCK_RE = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}@10[0-2]")


class Offset:
    """A clock running at real speed that tests can move forward."""

    def __init__(self) -> None:
        self.ahead = 0.0

    def __call__(self) -> float:
        return time.time() + self.ahead


async def test_lock_lifecycle(koodrive_fake: FakeKooDrive) -> None:
    async with connect(koodrive_fake) as api:
        created = await api.call("POST", "/lock", body={"moduleCode": "102"})
        lock_id = created.data["lockId"]
        second = await api.call("POST", "/lock", body={"moduleCode": "102"})
        other_module = await api.call("POST", "/lock", body={"moduleCode": "101"})
        renewed = await api.call("PATCH", "/lock", lock=lock_id)
        released = await api.call("DELETE", "/lock", lock=lock_id)
        again = await api.call("DELETE", "/lock", lock=lock_id)
        recreated = await api.call("POST", "/lock", body={"moduleCode": "102"})
    assert created.body == {"code": 0, "msg": "success", "data": {"lockId": lock_id}}
    assert LOCK_RE.fullmatch(lock_id) and lock_id.endswith("@102")
    assert_error(second, 409, LOCK_HELD)
    assert other_module.status == 200
    assert renewed.body == {"code": 0, "msg": "success"}
    assert released.body == {"code": 0, "msg": "success"}
    assert_error(again, 409, LOCK_NOT_FOUND)
    assert recreated.status == 200 and recreated.data["lockId"] != lock_id
    assert not koodrive_fake.has_lock(lock_id)


async def test_create_lock_body_checked(koodrive_fake: FakeKooDrive) -> None:
    async with connect(koodrive_fake) as api:
        empty = await api.call("POST", "/lock")
        bad = await api.call("POST", "/lock", body={"moduleCode": "099"})
        extra = await api.call("POST", "/lock", body={"moduleCode": "101", "ttl": 5})
    for reply in (empty, bad, extra):
        assert_error(reply, 400, PARAM_INVALID)


async def test_renew_extends_expiry(koodrive_fake_factory: Factory) -> None:
    clock = Offset()
    fake = await koodrive_fake_factory(clock=clock, lock_ttl=300.0)
    async with connect(fake) as api:
        lock_id = await api.lock()
        first = fake.lock_expires_at(lock_id)
        clock.ahead = 250.0
        assert (await api.call("PATCH", "/lock", lock=lock_id)).status == 200
        second = fake.lock_expires_at(lock_id)
        clock.ahead = 450.0  # past the first expiry, before the renewed one (X-Date still ok)
        still = await api.call("PATCH", "/lock", lock=lock_id)
    assert first is not None and second is not None
    assert second - first >= 249.0
    assert still.status == 200


async def test_expired_lock_refused(koodrive_fake_factory: Factory) -> None:
    fake = await koodrive_fake_factory(lock_ttl=0.05)
    device_id = fake.add_device()
    record_id = fake.add_record(device_id)
    async with connect(fake) as api:
        lock_id = await api.lock()
        await asyncio.sleep(0.1)
        renew = await api.call("PATCH", "/lock", lock=lock_id)
        delete = await api.call("DELETE", f"/record/{record_id}", lock=lock_id)
        fresh = await api.call("POST", "/lock", body={"moduleCode": "101"})
    assert_error(renew, 409, LOCK_EXPIRED)
    assert_error(delete, 409, LOCK_EXPIRED)
    assert fresh.status == 200  # an expired lock no longer blocks a new one
    assert fake.has_record(record_id)


async def test_expire_lock_helper(koodrive_fake: FakeKooDrive) -> None:
    lock_id = koodrive_fake.add_lock("101")
    assert koodrive_fake.has_lock(lock_id)
    koodrive_fake.expire_lock(lock_id)
    async with connect(koodrive_fake) as api:
        assert_error(await api.call("PATCH", "/lock", lock=lock_id), 409, LOCK_EXPIRED)


async def test_foreign_lock_refused(koodrive_fake: FakeKooDrive) -> None:
    other = koodrive_fake.add_user()
    foreign = koodrive_fake.add_lock("101", user_id=other.user_id)
    device_id = koodrive_fake.add_device()
    record_id = koodrive_fake.add_record(device_id)
    async with connect(koodrive_fake) as api:
        renew = await api.call("PATCH", "/lock", lock=foreign)
        release = await api.call("DELETE", "/lock", lock=foreign)
        delete = await api.call("DELETE", f"/record/{record_id}", lock=foreign)
    for reply in (renew, release, delete):
        assert_error(reply, 403, LOCK_FOREIGN)
    assert koodrive_fake.has_lock(foreign)
    assert koodrive_fake.has_record(record_id)


async def test_delete_record_without_lock_is_400(koodrive_fake: FakeKooDrive) -> None:
    device_id = koodrive_fake.add_device()
    record_id = koodrive_fake.add_record(device_id)
    async with connect(koodrive_fake) as api:
        reply = await api.call("DELETE", f"/record/{record_id}")
    assert_error(reply, 400, LOCK_REQUIRED)
    assert koodrive_fake.has_record(record_id)


@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        ("PATCH", "/lock", None),
        ("DELETE", "/lock", None),
        ("POST", "/record", {"moduleCode": "101", "deviceId": "{device}"}),
        ("PATCH", "/record/{record}", {}),
        ("DELETE", "/record/{record}", None),
        ("POST", "/record/{record}/file", {"fileName": "a.jpg"}),
    ],
)
async def test_lock_required(
    koodrive_fake: FakeKooDrive, method: str, path: str, body: dict[str, str] | None
) -> None:
    device_id = koodrive_fake.add_device()
    record_id = koodrive_fake.add_record(device_id)
    if body is not None:
        body = {k: v.format(device=device_id) for k, v in body.items()}
    async with connect(koodrive_fake) as api:
        path = path.format(record=record_id)
        missing = await api.call(method, path, body=body)
        unknown = await api.call(method, path, body=body, lock="nope@101")
    assert_error(missing, 400, LOCK_REQUIRED)
    assert_error(unknown, 409, LOCK_NOT_FOUND)


async def test_lock_module_must_match_on_record_writes(koodrive_fake: FakeKooDrive) -> None:
    device_id = koodrive_fake.add_device()
    record_id = koodrive_fake.add_record(device_id, module_code="101")
    async with connect(koodrive_fake) as api:
        lock_id = await api.lock("102")
        create = await api.call(
            "POST", "/record", body={"moduleCode": "101", "deviceId": device_id}, lock=lock_id
        )
        complete = await api.call("PATCH", f"/record/{record_id}", body={}, lock=lock_id)
        create_file = await api.call(
            "POST", f"/record/{record_id}/file", body={"fileName": "a.jpg"}, lock=lock_id
        )
    assert_error(create, 409, LOCK_MODULE_MISMATCH)
    assert_error(complete, 409, LOCK_MODULE_MISMATCH)
    assert_error(create_file, 409, LOCK_MODULE_MISMATCH)


async def test_seed_000_deletes_a_module_101_record_with_a_module_102_lock(
    koodrive_fake: FakeKooDrive,
) -> None:
    """Seed page 000's example, as printed: record 1842862763295184641 (module 101 on seed
    page 004), lock "...@102", answer 200 {"code": 0, "msg": "success"}."""
    device_id = koodrive_fake.add_device()
    record_id = koodrive_fake.add_record(device_id, module_code="101", files=2)
    async with connect(koodrive_fake) as api:
        lock_id = await api.lock("102")
        deleted = await api.call("DELETE", f"/record/{record_id}", lock=lock_id)
    assert (deleted.status, deleted.body) == (200, {"code": 0, "msg": "success"})
    assert not koodrive_fake.has_record(record_id)


async def test_optional_lock_on_reads(koodrive_fake: FakeKooDrive) -> None:
    device_id = koodrive_fake.add_device()
    record_id = koodrive_fake.add_record(device_id, files=1)
    async with connect(koodrive_fake) as api:
        lock_id = await api.lock("102")  # any module of the caller will do on reads
        plain = await api.call("GET", f"/record/{record_id}")
        locked = await api.call("GET", f"/record/{record_id}", lock=lock_id)
        files = await api.call(
            "GET", f"/record/{record_id}/files", params={"pageSize": "1"}, lock=lock_id
        )
        bad = await api.call("GET", f"/record/{record_id}", lock="nope@101")
    assert plain.status == locked.status == files.status == 200
    assert_error(bad, 409, LOCK_NOT_FOUND)
