"""The README's "delete everything of a device" cleanup, run as written against the fake.

The coroutine between the two ``# --- README`` markers is copied verbatim from the README
section "Example: delete everything of a device" (only its import line sits with the
others); tests below run it with injected faults and check the fake's state.
"""

from __future__ import annotations

import functools
from collections.abc import AsyncIterator

import pytest

from koodrive_backup import BackupClient, LockLostError, ModuleCode, RetryPolicy
from koodrive_backup.testing import FakeKooDrive, Fault

FAST = RetryPolicy(initial_delay=0.001, max_delay=0.01)

# --- README: begin ----------------------------------------------------------------------------


async def record_ids_of(client: BackupClient, module: ModuleCode, device_id: str) -> list[str]:
    return [record.record_id async for record in client.iter_records(module, device_id)]


async def scope_ids_of(client: BackupClient, module: ModuleCode, device_id: str) -> list[str]:
    return [scope.scope_id for scope in await client.list_scopes(device_id, module)]


async def delete_everything_of_device(
    client: BackupClient, device_id: str, *, rounds: int = 5
) -> dict[str, int]:
    """Delete every backup record and scope of a device, verify, then unbind the device."""
    gone = {"records": 0, "scopes": 0}
    for module in ModuleCode:
        async with client.lock(module) as lock:  # deleting records needs the module's lock
            ids = await record_ids_of(client, module, device_id)
            for _ in range(rounds):
                if not ids:
                    break
                result = await client.delete_records(ids, lock_id=lock.lock_id)
                lock.check()  # raises LockLostError if the lock could not be renewed
                gone["records"] += len(result.gone)
                ids = await record_ids_of(client, module, device_id)  # verify: what is left?
            if ids:
                raise RuntimeError(f"{len(ids)} {module.name} records left after {rounds} rounds")
        ids = await scope_ids_of(client, module, device_id)
        for _ in range(rounds):
            if not ids:
                break
            scopes = await client.delete_scopes(device_id, ids)
            gone["scopes"] += len(scopes.gone)
            ids = await scope_ids_of(client, module, device_id)
        if ids:
            raise RuntimeError(f"{len(ids)} {module.name} scopes left after {rounds} rounds")
    await client.unbind_device(device_id)  # its module configs go with it
    return gone


# --- README: end ------------------------------------------------------------------------------


@pytest.fixture
async def fake() -> AsyncIterator[FakeKooDrive]:
    async with FakeKooDrive() as server:
        yield server


@pytest.fixture
async def client(fake: FakeKooDrive) -> AsyncIterator[BackupClient]:
    async with BackupClient(fake.url, user_id=fake.user_id, token=fake.token, retry=FAST) as c:
        yield c


def seed(fake: FakeKooDrive) -> tuple[str, list[str], list[str]]:
    """A device with records and scopes in every module, and a bystander device."""
    device_id = fake.add_device()
    records = [fake.add_record(device_id, module_code=m, files=1) for m in ("100", "101", "102")]
    records += [fake.add_record(device_id, module_code="101") for _ in range(9)]
    scopes = fake.add_scopes(device_id, 5, module_code="100")
    scopes += fake.add_scopes(device_id, 120, module_code="101")
    fake.add_config(device_id, "101", "wifi_only", "on")
    return device_id, records, scopes


async def test_cleanup_removes_everything_of_the_device(
    fake: FakeKooDrive, client: BackupClient
) -> None:
    device_id, records, scopes = seed(fake)
    other = fake.add_device()
    kept_record = fake.add_record(other)
    kept_scope = fake.add_scopes(other, 1)[0]

    gone = await delete_everything_of_device(client, device_id)

    assert gone == {"records": len(records), "scopes": len(scopes)}
    assert not any(fake.has_record(r) for r in records)
    assert not fake.has_device(device_id)
    assert fake.has_record(kept_record) and fake.has_scope(other, kept_scope)
    assert fake.route_counts["createBackupLock"] == fake.route_counts["releaseBackupLock"] == 3


async def test_cleanup_survives_injected_faults(fake: FakeKooDrive, client: BackupClient) -> None:
    device_id, records, scopes = seed(fake)
    unlucky, lost_answer = records[4], records[6]
    # One record fails 4 times (every attempt of one call): unprocessed, deleted next round.
    fake.inject(Fault.status(503), when=lambda r: r.path.endswith(unlucky), times=4)
    # One record is deleted but its answer is lost: the retry meets 404, counted as gone.
    fake.inject(Fault.lose_response(), when=lambda r: r.path.endswith(lost_answer))
    fake.inject(Fault.status(502), route="listBackupRecord", times=2)  # retried GETs
    fake.inject(Fault.lose_response(), route="batchDeleteBackupScope")  # retry: 15000418
    fake.inject(Fault.status(500), route="listBackupScope")

    gone = await delete_everything_of_device(client, device_id)

    assert gone == {"records": len(records), "scopes": len(scopes)}
    assert not any(fake.has_record(r) for r in records)
    assert not fake.has_device(device_id)
    assert fake.fault_rules == []  # every injected fault was met
    deletes = [r for r in fake.requests if r.route == "deleteBackupRecord"]
    assert len(deletes) == len(records) + 4 + 1  # 4 failed attempts, 1 retry after lost answer


async def test_cleanup_gives_up_when_records_keep_failing(
    fake: FakeKooDrive, client: BackupClient
) -> None:
    device_id, records, _ = seed(fake)
    stuck = records[1]  # module 101
    fake.inject(Fault.status(503), when=lambda r: r.path.endswith(stuck), times=None)

    with pytest.raises(RuntimeError, match="1 ALBUM records left after 2 rounds"):
        await delete_everything_of_device(client, device_id, rounds=2)

    assert fake.has_record(stuck) and fake.has_device(device_id)
    assert fake.route_counts["createBackupLock"] == fake.route_counts["releaseBackupLock"]


async def test_cleanup_stops_on_a_lost_lock(
    fake: FakeKooDrive, client: BackupClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    device_id, _, _ = seed(fake)

    # Every renewal is refused: with a short interval the lock is lost during the first batch.
    fake.inject(Fault.status(409, code=15000415), route="renewalBackupLock", times=None)
    fake.inject(Fault.latency(0.05), route="deleteBackupRecord", times=None)
    quick = functools.partial(client.lock, renew_interval=0.01, lifetime=1.0)
    monkeypatch.setattr(client, "lock", quick)

    with pytest.raises(LockLostError):
        await delete_everything_of_device(client, device_id)
    assert fake.has_device(device_id)
    assert fake.route_counts["releaseBackupLock"] == 1  # released (refused: 409) on the way out
