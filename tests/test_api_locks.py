"""Locks (reference §2, §10): the three operations and the managed ``client.lock()``.

Renewal runs on virtual time: the client and the fake share a ``VirtualClock`` that moves
only when a test advances it, so locks keep their real 10-minute lifetime and no test waits.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest
from seams import VirtualClock

from koodrive_backup import (
    APITimeoutError,
    BackupClient,
    ConflictError,
    LockInfo,
    LockLostError,
    ModuleCode,
    RetryPolicy,
    ServerError,
)
from koodrive_backup.testing import FakeKooDrive, Fault

#: Retries at once (the waits would be virtual too, but nothing else advances the clock).
NO_WAIT = RetryPolicy(initial_delay=0.0, max_delay=0.0)


@pytest.fixture
def clock() -> VirtualClock:
    return VirtualClock()


@pytest.fixture
async def fake(clock: VirtualClock) -> AsyncIterator[FakeKooDrive]:
    async with FakeKooDrive(clock=clock.time) as server:  # locks live 600 virtual seconds
        yield server


@pytest.fixture
async def client(fake: FakeKooDrive, clock: VirtualClock) -> AsyncIterator[BackupClient]:
    async with BackupClient(
        fake.url, user_id=fake.user_id, token=fake.token, retry=NO_WAIT, clock=clock
    ) as c:
        yield c


def renew_tasks() -> list[asyncio.Task[object]]:
    return [t for t in asyncio.all_tasks() if t.get_name().startswith("renew ")]


# --- the three operations ---------------------------------------------------------------------


async def test_create_renew_release(
    fake: FakeKooDrive, client: BackupClient, clock: VirtualClock
) -> None:
    lock = await client.create_lock("102")
    assert isinstance(lock, LockInfo) and lock.lock_id.endswith("@102")
    assert fake.has_lock(lock.lock_id)
    before = fake.lock_expires_at(lock.lock_id)
    await clock.advance(60)
    await client.renew_lock(lock.lock_id)
    after = fake.lock_expires_at(lock.lock_id)
    assert before is not None and after is not None and after > before
    await client.release_lock(lock.lock_id)
    assert not fake.has_lock(lock.lock_id)
    sent = fake.requests[0]
    assert sent.json == {"moduleCode": "102"}  # the reference example's body (§2.1)
    assert fake.requests[1].headers["x-backup-lock-id"] == lock.lock_id


async def test_create_lock_accepts_the_enum(fake: FakeKooDrive, client: BackupClient) -> None:
    lock = await client.create_lock(ModuleCode.CONTACTS)
    assert lock.lock_id.endswith("@102")


async def test_second_lock_for_a_module_is_a_conflict(
    fake: FakeKooDrive, client: BackupClient
) -> None:
    await client.create_lock("101")
    with pytest.raises(ConflictError):
        await client.create_lock("101")


@pytest.mark.parametrize("bad", ["103", "album", "ALBUM", 101, None, b"101", ""])
async def test_bad_module_code_is_refused_before_any_request(
    fake: FakeKooDrive, client: BackupClient, bad: object
) -> None:
    with pytest.raises((ValueError, TypeError)):
        await client.create_lock(bad)  # type: ignore[arg-type]
    with pytest.raises((ValueError, TypeError)):
        client.lock(bad)  # type: ignore[arg-type]
    assert fake.request_count == 0


@pytest.mark.parametrize("bad", ["a\r\nX-Evil: 1", "", "x\n"])
async def test_bad_lock_id_is_refused_before_any_request(
    fake: FakeKooDrive, client: BackupClient, bad: str
) -> None:
    with pytest.raises(ValueError):
        await client.renew_lock(bad)
    with pytest.raises(ValueError):
        await client.release_lock(bad)
    with pytest.raises(ValueError):
        await client.delete_record("1", lock_id=bad)
    assert fake.request_count == 0


async def test_renew_of_an_expired_lock_is_refused(
    fake: FakeKooDrive, client: BackupClient
) -> None:
    lock = await client.create_lock("101")
    fake.expire_lock(lock.lock_id)
    with pytest.raises(ConflictError):
        await client.renew_lock(lock.lock_id)


# --- the managed lock -------------------------------------------------------------------------


async def test_managed_lock_outlives_its_ttl_by_renewing(
    fake: FakeKooDrive, client: BackupClient, clock: VirtualClock
) -> None:
    record_id = fake.add_record(fake.add_device())
    async with client.lock("101") as lock:
        assert fake.has_lock(lock.lock_id)
        took = await clock.run_until(lambda: lock.renewals >= 12, step=10)
        assert took >= 12 * 300 > 600  # every 300 s, far past the lock's 600 s TTL
        await client.delete_record(record_id, lock_id=lock.lock_id)  # the lock is still valid
        assert not lock.lost
    assert lock.released and not fake.has_lock(lock.lock_id)
    assert not fake.has_record(record_id)
    assert fake.route_counts["renewalBackupLock"] >= 12
    assert renew_tasks() == []
    assert client.held_locks == frozenset()


async def test_default_renew_interval_is_half_the_lifetime(client: BackupClient) -> None:
    context = client.lock("101")
    assert context.renew_interval == 300.0 and context.lifetime == 600.0
    assert client.lock("101", lifetime=1.0).renew_interval == 0.5


@pytest.mark.parametrize(
    ("kwargs", "error"),
    [
        ({"renew_interval": 0}, ValueError),
        ({"renew_interval": -1.0}, ValueError),
        ({"renew_interval": 600.0}, ValueError),
        ({"renew_interval": float("nan")}, ValueError),
        ({"renew_interval": "5"}, TypeError),
        ({"renew_interval": True}, TypeError),
        ({"lifetime": 0}, ValueError),
    ],
)
async def test_bad_renew_settings_are_refused(
    fake: FakeKooDrive, client: BackupClient, kwargs: dict[str, object], error: type[Exception]
) -> None:
    with pytest.raises(error):
        client.lock("101", **kwargs)  # type: ignore[arg-type]
    assert fake.request_count == 0


async def test_refused_renewal_marks_the_lock_lost_and_later_calls_send_nothing(
    fake: FakeKooDrive, client: BackupClient, clock: VirtualClock
) -> None:
    record_id = fake.add_record(fake.add_device())
    async with client.lock("101") as lock:
        fake.inject(Fault.status(409, code=15000415), route="renewalBackupLock", times=None)
        await clock.run_until(lambda: lock.lost, step=10)
        assert fake.route_counts["renewalBackupLock"] == 1  # refused: given up at once
        assert isinstance(lock.error, ConflictError)
        fake.reset_stats()
        with pytest.raises(LockLostError) as caught:
            await client.delete_record(record_id, lock_id=lock.lock_id)
        assert caught.value.__cause__ is lock.error
        assert lock.lock_id in str(caught.value)
        with pytest.raises(LockLostError):
            await client.create_record("101", "1", lock_id=lock.lock_id)
        with pytest.raises(LockLostError):
            await client.complete_record(record_id, lock_id=lock.lock_id)
        with pytest.raises(LockLostError):
            await client.create_file(record_id, lock_id=lock.lock_id, file_name="a.bin")
        with pytest.raises(LockLostError):
            await client.get_record(record_id, lock_id=lock.lock_id)
        with pytest.raises(LockLostError):
            await client.list_files(record_id, lock_id=lock.lock_id)
        with pytest.raises(LockLostError):
            await client.delete_records([record_id], lock_id=lock.lock_id)
        with pytest.raises(LockLostError):
            lock.check()
        assert fake.request_count == 0
        assert "lost" in repr(lock)
    assert fake.has_record(record_id)
    assert renew_tasks() == []


async def test_renewal_failing_until_expiry_marks_the_lock_lost(
    fake: FakeKooDrive, client: BackupClient, clock: VirtualClock
) -> None:
    async with client.lock("101") as lock:
        fake.inject(Fault.status(503), route="renewalBackupLock", times=None)
        took = await clock.run_until(lambda: lock.lost, step=10)
        await clock.run_until(lambda: lock.error is not None, step=10)
        # The last 503, or the lifetime running out while a renewal was under way.
        assert isinstance(lock.error, ServerError | APITimeoutError)
        assert took <= 600  # not after the lock's lifetime
        # Each renewal call is retried by the session (4 attempts), and the renewer tries
        # again after a failed call while the lock can still be alive.
        assert fake.route_counts["renewalBackupLock"] > 2 * NO_WAIT.max_attempts


async def test_transient_renewal_failures_are_retried_before_giving_up(
    fake: FakeKooDrive, client: BackupClient, clock: VirtualClock
) -> None:
    async with client.lock("101") as lock:
        # More failures than one call's 4 attempts: the renewer's own retry must bridge them.
        rule = fake.inject(Fault.status(503), route="renewalBackupLock", times=6)
        await clock.run_until(lambda: rule.exhausted and lock.renewals >= 2, step=10)
        assert not lock.lost
        lock.check()  # does not raise


async def test_lock_is_released_when_the_block_raises(
    fake: FakeKooDrive, client: BackupClient
) -> None:
    with pytest.raises(ZeroDivisionError):
        async with client.lock("101") as lock:
            1 / 0  # noqa: B018
    assert lock.released and not fake.has_lock(lock.lock_id)
    assert fake.route_counts["releaseBackupLock"] == 1
    assert renew_tasks() == []
    assert client.held_locks == frozenset()
    await client.create_lock("101")  # the module is free again


async def test_lock_is_released_when_the_task_is_cancelled(
    fake: FakeKooDrive, client: BackupClient
) -> None:
    entered = asyncio.Event()
    held: list[str] = []

    async def hold() -> None:
        async with client.lock("101") as lock:
            held.append(lock.lock_id)
            entered.set()
            await asyncio.Event().wait()  # forever

    task = asyncio.create_task(hold())
    await entered.wait()
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert not fake.has_lock(held[0])
    assert renew_tasks() == []
    await client.create_lock("101")  # no active lock left behind


async def test_failed_release_on_exit_is_logged_not_raised(
    fake: FakeKooDrive, client: BackupClient, caplog: pytest.LogCaptureFixture
) -> None:
    fake.inject(Fault.status(400), route="releaseBackupLock")
    async with client.lock("101") as lock:
        pass
    assert not lock.released
    assert "releasing backup lock" in caplog.text


async def test_entering_while_the_module_is_locked_raises_conflict(
    fake: FakeKooDrive, client: BackupClient
) -> None:
    fake.add_lock("101")
    with pytest.raises(ConflictError):
        async with client.lock("101"):
            pytest.fail("entered")  # pragma: no cover
    assert renew_tasks() == []
    assert fake.route_counts["releaseBackupLock"] == 0


async def test_two_modules_hold_two_locks(fake: FakeKooDrive, client: BackupClient) -> None:
    async with client.lock("100") as folder, client.lock(ModuleCode.ALBUM) as album:
        assert folder.module_code == "100" and album.module_code == "101"
        assert client.held_locks == {folder.lock_id, album.lock_id}
    assert not fake.has_lock(folder.lock_id) and not fake.has_lock(album.lock_id)


async def test_renew_is_retried_only_when_opted_in(
    fake: FakeKooDrive, client: BackupClient
) -> None:
    lock = await client.create_lock("101")
    fake.inject(Fault.status(500), route="renewalBackupLock")
    with pytest.raises(ServerError):
        await client.renew_lock(lock.lock_id)
    assert fake.route_counts["renewalBackupLock"] == 1
    fake.inject(Fault.status(500), route="renewalBackupLock")
    await client.renew_lock(lock.lock_id, retry_unsafe=True)
    assert fake.route_counts["renewalBackupLock"] == 3
