"""A managed lock is known lost no later than its server-side expiry (issue 11 item 9).

On virtual time shared with the fake (``clock=clock.time``): renewals that fail slowly (503
with ``Retry-After``, retried by the session) or hang must not keep ``lock.lost`` false, nor
``lock.check()`` passing, after the moment the server drops the lock. Renewal calls are cut
short at the lock's expiry on the client's clock. A failed release is logged, never raised.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Callable

import pytest
from seams import MockTransport, VirtualClock, answer

from koodrive_backup import (
    APITimeoutError,
    BackupClient,
    HttpRequest,
    LockLostError,
    ManagedLock,
    RawResponse,
    RetryPolicy,
)
from koodrive_backup.testing import FakeKooDrive, Fault


@pytest.fixture
async def world() -> AsyncIterator[tuple[FakeKooDrive, VirtualClock]]:
    """The fake and a client clock on one virtual time: locks live 600 virtual seconds."""
    clock = VirtualClock()
    async with FakeKooDrive(clock=clock.time) as fake:
        yield fake, clock


def client_for(fake: FakeKooDrive, clock: VirtualClock, **options: object) -> BackupClient:
    return BackupClient(fake.url, user_id=fake.user_id, token=fake.token, clock=clock, **options)  # type: ignore[arg-type]


async def watch_until_past_expiry(
    fake: FakeKooDrive, clock: VirtualClock, lock: ManagedLock, step: float = 0.5
) -> float:
    """Step virtual time past the server-side expiry, checking at every step that the lock
    is never believed alive once the server has dropped it; return when it was found lost."""
    server_expiry = fake.lock_expires_at(lock.lock_id)
    assert server_expiry is not None
    found_lost: float | None = None
    async with asyncio.timeout(30):  # a guard against a hang, not a timing assertion
        while clock.now < server_expiry + 60:
            if clock.now >= server_expiry:
                assert lock.lost, f"alive {clock.now - server_expiry:.1f} s after expiry"
                with pytest.raises(LockLostError):
                    lock.check()
            if lock.lost and found_lost is None:
                found_lost = clock.now
            await clock.advance(step)
            await asyncio.sleep(0.0005)  # a real moment for socket I/O
    assert found_lost is not None and found_lost <= server_expiry
    return found_lost


async def test_slowly_failing_renewals_lose_the_lock_by_its_expiry(
    world: tuple[FakeKooDrive, VirtualClock],
) -> None:
    """Each renewal call takes 35 virtual s (503, Retry-After 35, one retry): a renewal
    started at 585 s would end at 620 s, 20 s after the lock expired on the server."""
    fake, clock = world
    fake.inject(Fault.status(503, retry_after=35), route="renewalBackupLock", times=None)
    async with (
        client_for(fake, clock, retry=RetryPolicy(max_attempts=2)) as client,
        client.lock("101") as lock,
    ):
        await watch_until_past_expiry(fake, clock, lock)
        assert isinstance(lock.error, APITimeoutError) and "expired" in str(lock.error)
        with pytest.raises(LockLostError):
            await client.delete_record("1842862763295184641", lock_id=lock.lock_id)


async def test_hanging_renewals_lose_the_lock_by_its_expiry(
    world: tuple[FakeKooDrive, VirtualClock],
) -> None:
    """The renewal hangs (for real, longer than the test): only the lock's own lifetime on
    the client's clock can end it."""
    fake, clock = world
    fake.inject(Fault.latency(3600), route="renewalBackupLock", times=None)
    async with client_for(fake, clock, timeout=3600) as client, client.lock("101") as lock:
        await watch_until_past_expiry(fake, clock, lock)
        assert isinstance(lock.error, APITimeoutError)
    assert fake.route_counts["renewalBackupLock"] == 1  # one call, cut short


async def test_renewals_that_succeed_keep_the_lock_alive_past_many_lifetimes(
    world: tuple[FakeKooDrive, VirtualClock],
) -> None:
    fake, clock = world
    async with client_for(fake, clock) as client, client.lock("101") as lock:
        took = await clock.run_until(lambda: lock.renewals >= 5, step=5)
        assert took >= 5 * 300 > 600 and not lock.lost
        lock.check()  # does not raise
        assert clock.monotonic() < lock.expires_at <= clock.monotonic() + 600


async def test_a_released_lock_is_not_lost_when_its_lifetime_passes(
    world: tuple[FakeKooDrive, VirtualClock],
) -> None:
    fake, clock = world
    async with client_for(fake, clock) as client:
        async with client.lock("101") as lock:
            pass
        assert lock.released and not lock.lost
        await clock.advance(601)  # past the lock's lifetime (600 s)
        assert not lock.lost  # released cleanly: nothing was lost
        lock.check()  # does not raise
        assert repr(lock).endswith("released)")


async def test_a_lock_lost_before_its_release_stays_lost(
    world: tuple[FakeKooDrive, VirtualClock],
) -> None:
    fake, clock = world
    fake.inject(Fault.status(409), route="renewalBackupLock")  # the renewal is refused
    async with client_for(fake, clock) as client:
        async with client.lock("101") as lock:
            await clock.run_until(lambda: lock.lost, step=5)
        assert lock.released and lock.lost  # the release worked; the lock was lost before
        with pytest.raises(LockLostError):
            lock.check()
        assert repr(lock).endswith("lost)")


def lock_server(release: Callable[[], RawResponse]) -> MockTransport:
    def handle(request: HttpRequest) -> RawResponse:
        if request.method == "POST":
            return answer(200, {"code": 0, "data": {"lockId": "L-1@101"}})
        return release()

    return MockTransport(handle)


async def test_a_release_failing_in_an_unforeseen_way_is_logged_not_raised(
    caplog: pytest.LogCaptureFixture,
) -> None:
    def release() -> RawResponse:
        raise ValueError("unforeseen\nforged line")

    transport = lock_server(release)
    async with BackupClient(
        "https://kd.example", user_id="1", token="t", transport=transport
    ) as client:
        with caplog.at_level(logging.WARNING, logger="koodrive_backup"):
            async with client.lock("101") as lock:
                pass
    assert not lock.released
    (line,) = [r.getMessage() for r in caplog.records if "releasing" in r.getMessage()]
    assert "ValueError: unforeseen\\nforged line" in line and line.isprintable()
