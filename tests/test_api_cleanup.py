"""The "delete everything of a device" cleanup of docs/api.md, run as written against the fake.

The coroutine is read from docs/api.md (its imports and definitions, executed as printed
there); the tests below run it with injected faults and check the fake's state.
"""

from __future__ import annotations

import functools

import pytest
from doc_blocks import ROOT, block_with, definitions

from koodrive_backup import BackupClient, LockLostError
from koodrive_backup.testing import FakeKooDrive, Fault

# The coroutine exactly as docs/api.md prints it (section "Example: delete everything of a
# device"): if the docs change, these tests run the new text.
delete_everything_of_device = definitions(
    block_with(ROOT / "docs" / "api.md", "async def delete_everything_of_device")
)["delete_everything_of_device"]


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
