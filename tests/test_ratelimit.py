"""``RateLimit`` (API.md "Resilience options"): every attempt waits for a token.

The limiter runs on the event loop's clock. The contract's own lower bound (N attempts take
at least ``(N - burst) / rate`` seconds) is checked in real time; the rest runs either on a
stub transport or with the loop's clock frozen (``loop_time``), so nothing waits for real.
"""

from __future__ import annotations

import asyncio
import math
import threading
import time
from collections.abc import AsyncIterator, Awaitable

import pytest
from conftest import FAST
from seams import MockTransport, answer

from koodrive_backup import (
    APITimeoutError,
    BackupClient,
    BearerAuth,
    HttpRequest,
    RateLimit,
    RawResponse,
    RetryPolicy,
    ServerError,
)
from koodrive_backup.testing import FakeKooDrive

URL = "https://api.example"
RECORD = {"code": 0, "data": {"recordId": "1", "moduleCode": "101", "status": 1}}


class CountingRateLimit(RateLimit):
    """A ``RateLimit`` that counts the tokens asked for (through its public method)."""

    def __init__(self, per_second: float, burst: int | None = None) -> None:
        super().__init__(per_second, burst)
        self.asked = 0

    def acquire(self) -> Awaitable[None]:
        self.asked += 1
        return super().acquire()


@pytest.fixture
async def loop_time(monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[list[float]]:
    """Freeze the test's event loop clock at 1000.0; the test moves it (``now[0] += s``)."""
    now = [1000.0]
    monkeypatch.setattr(asyncio.get_running_loop(), "time", lambda: now[0])
    yield now


async def settle() -> None:
    for _ in range(5):
        await asyncio.sleep(0)


# --- construction -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("per_second", "burst", "expected"), [(100, None, 100), (2.7, None, 2), (0.5, None, 1)]
)
def test_burst_defaults_to_the_whole_rate_at_least_one(
    per_second: float, burst: int | None, expected: int
) -> None:
    assert RateLimit(per_second, burst).burst == expected


@pytest.mark.parametrize(
    ("per_second", "burst", "error"),
    [
        (0, None, ValueError),
        (-1, None, ValueError),
        (math.nan, None, ValueError),
        (math.inf, None, ValueError),
        ("5", None, TypeError),
        (True, None, TypeError),
        (5, 0, ValueError),
        (5, 1.5, TypeError),
        (5, True, TypeError),
    ],
)
def test_bad_arguments_are_refused(per_second: object, burst: object, error: type) -> None:
    with pytest.raises(error):
        RateLimit(per_second, burst)  # type: ignore[arg-type]


def test_client_takes_a_shared_limit_a_number_of_its_own_or_none() -> None:
    shared = RateLimit(50)
    one = BackupClient(URL, user_id="1", token="t", rate_limit=shared)
    two = BackupClient(URL, user_id="1", token="t", rate_limit=shared)
    own = BackupClient(URL, user_id="1", token="t", rate_limit=2.5)
    assert one.rate_limit is shared and two.rate_limit is shared
    assert own.rate_limit is not None and own.rate_limit is not shared
    assert (own.rate_limit.per_second, own.rate_limit.burst) == (2.5, 2)
    assert BackupClient(URL, user_id="1", token="t").rate_limit is None
    with pytest.raises(TypeError):
        BackupClient(URL, user_id="1", token="t", rate_limit="10/s")  # type: ignore[arg-type]


# --- the contract's lower bound, in real time ---------------------------------------------------


async def test_200_calls_through_one_limit_shared_by_two_clients_take_at_least_a_second(
    fake: FakeKooDrive,
) -> None:
    record_id = fake.add_record(fake.add_device())
    shared = RateLimit(100)
    options = {"user_id": fake.user_id, "token": fake.token, "rate_limit": shared}
    async with BackupClient(fake.url, **options) as one, BackupClient(fake.url, **options) as two:  # type: ignore[arg-type]
        started = time.monotonic()
        records = await asyncio.gather(
            *(client.get_record(record_id) for client in (one, two) for _ in range(100))
        )
        elapsed = time.monotonic() - started
        waits = (one.rate_limit_wait, two.rate_limit_wait)

    assert len(records) == 200 and all(r.record_id == record_id for r in records)
    assert elapsed >= (200 - 100) / 100  # a lower bound, as the contract states it
    assert all(wait > 0 for wait in waits)  # both clients drew on the one bucket
    assert len(fake.requests) == 200


async def test_waiting_for_a_token_does_not_count_toward_the_attempt_timeout(
    fake: FakeKooDrive,
) -> None:
    record_id = fake.add_record(fake.add_device())
    async with BackupClient(
        fake.url,
        user_id=fake.user_id,
        token=fake.token,
        timeout=0.5,
        retry=RetryPolicy(max_attempts=1),
        rate_limit=RateLimit(1.25, burst=1),  # a token every 0.8 s
    ) as client:
        records = await asyncio.gather(*(client.get_record(record_id) for _ in range(2)))
        # The second call waited longer than its timeout for its token, and still succeeded.
        assert client.rate_limit_wait > 0.5
    assert [r.record_id for r in records] == [record_id] * 2


async def test_waiting_for_a_token_counts_toward_the_deadline() -> None:
    transport = MockTransport(lambda request: answer(503, {"code": 1}))
    policy = RetryPolicy(max_attempts=4, initial_delay=0.0, max_delay=0.0, deadline=0.25)
    async with BackupClient(
        URL, user_id="1", token="t", transport=transport, retry=policy,
        rate_limit=RateLimit(2, burst=1),  # a token every 0.5 s
    ) as client:  # fmt: skip
        with pytest.raises(ServerError):
            await client.get_record("1")
    # The first attempt had its token at once and the retry looked affordable (no backoff),
    # but it waited 0.5 s for its token: past the 0.25 s deadline, so no third attempt (with
    # the wait not counted, all 4 would be made).
    assert len(transport.requests) == 2


# --- every attempt waits, the waits are counted ---------------------------------------------


async def test_every_send_waits_for_a_token_retries_and_the_401_re_send_included() -> None:
    answers = iter([answer(503), answer(401), answer(200, RECORD), answer(200, RECORD)])
    transport = MockTransport(lambda request: next(answers))
    tokens = iter(["old", "new"])

    async def provider() -> str:
        return next(tokens)

    limit = CountingRateLimit(1000)
    async with BackupClient(
        URL, user_id="1", auth=BearerAuth(token_provider=provider), transport=transport,
        retry=RetryPolicy(initial_delay=0.0, max_delay=0.0), rate_limit=limit,
    ) as client:  # fmt: skip
        await client.get_record("1")  # 503, retry -> 401, re-send with a new token -> 200
        assert limit.asked == len(transport.requests) == 3
        await client.get_record("1")
    assert limit.asked == len(transport.requests) == 4


async def test_the_clock_re_send_waits_for_a_token_too() -> None:
    server_date = "Mon, 01 Jan 2035 00:00:00 GMT"  # years away from our clock
    answers = iter([answer(400, {"code": 15000405}, {"Date": server_date}), answer(200, RECORD)])
    transport = MockTransport(lambda request: next(answers))
    limit = CountingRateLimit(1000)
    async with BackupClient(
        URL, user_id="1", token="t", transport=transport, rate_limit=limit
    ) as client:
        await client.get_record("1")
    assert limit.asked == len(transport.requests) == 2


async def test_batch_helpers_and_iterators_go_through_the_limit(fake: FakeKooDrive) -> None:
    device_id = fake.add_device()
    scope_ids = fake.add_scopes(device_id, 250)
    for _ in range(5):
        fake.add_record(device_id)
    limit = CountingRateLimit(1000)
    async with BackupClient(
        fake.url, user_id=fake.user_id, token=fake.token, rate_limit=limit
    ) as client:
        result = await client.delete_scopes(device_id, scope_ids, chunk_size=50, concurrency=4)
        records = [r async for r in client.iter_records("101", page_size=2)]
    assert len(result.deleted) == 250 and len(records) == 5
    assert limit.asked == len(fake.requests) == 5 + 3  # 5 chunks, 3 pages


async def test_a_client_without_a_limit_never_waits(fake: FakeKooDrive) -> None:
    record_id = fake.add_record(fake.add_device())
    async with BackupClient(fake.url, user_id=fake.user_id, token=fake.token) as client:
        await asyncio.gather(*(client.get_record(record_id) for _ in range(20)))
        assert client.rate_limit is None and client.rate_limit_wait == 0.0


# --- the bucket on a frozen loop clock --------------------------------------------------------


async def test_burst_tokens_then_one_per_interval(loop_time: list[float]) -> None:
    limit = RateLimit(10, burst=3)
    for _ in range(3):
        await limit.acquire()  # the burst: no wait (the frozen clock would hang otherwise)
    fourth = asyncio.ensure_future(limit.acquire())
    await settle()
    assert not fourth.done()
    loop_time[0] += 0.099
    await settle()
    assert not fourth.done()  # a token comes back every 1/10 s
    loop_time[0] += 0.002
    await settle()
    assert fourth.done()


async def test_a_cancelled_waiter_consumes_nothing(loop_time: list[float]) -> None:
    limit = RateLimit(10, burst=1)
    await limit.acquire()
    cancelled = asyncio.ensure_future(limit.acquire())
    await settle()
    cancelled.cancel()
    await settle()
    after = asyncio.ensure_future(limit.acquire())
    await settle()
    loop_time[0] += 0.101  # one token's worth: enough for one waiter, not two
    await settle()
    assert cancelled.cancelled() and after.done()


async def test_a_cancelled_call_sends_nothing_and_consumes_no_token(
    loop_time: list[float],
) -> None:
    transport = MockTransport(lambda request: answer(200, RECORD))
    async with BackupClient(
        URL, user_id="1", token="t", transport=transport, rate_limit=RateLimit(10, burst=1)
    ) as client:
        await client.get_record("1")
        waiting = asyncio.ensure_future(client.get_record("1"))
        await settle()
        waiting.cancel()
        await settle()
        later = asyncio.ensure_future(client.get_record("1"))
        loop_time[0] += 0.101
        await settle()
        assert later.done() and later.result().record_id == "1"
    assert waiting.cancelled() and len(transport.requests) == 2


# --- one RateLimit, several event loops --------------------------------------------------------


def test_a_limit_serves_successive_event_loops_each_with_a_fresh_bucket() -> None:
    limit = RateLimit(0.001, burst=2)  # two tokens, then one every 1,000 s

    async def take_two() -> None:
        async with asyncio.timeout(10):  # a bucket carried over would wait 1,000 s
            await limit.acquire()
            await limit.acquire()

    asyncio.run(take_two())
    asyncio.run(take_two())  # the first loop is closed: a fresh bucket (and no warning)


def test_a_limit_refuses_a_second_loop_while_the_first_runs() -> None:
    limit = RateLimit(1000)
    running, release = threading.Event(), threading.Event()

    async def hold() -> None:
        await limit.acquire()
        running.set()
        await asyncio.get_running_loop().run_in_executor(None, release.wait)

    thread = threading.Thread(target=asyncio.run, args=(hold(),))
    thread.start()
    try:
        assert running.wait(10)

        async def other() -> None:
            await limit.acquire()

        with pytest.raises(RuntimeError, match="another running event loop"):
            asyncio.run(other())
    finally:
        release.set()
        thread.join(10)


# --- errors still flow through the limiter -----------------------------------------------------


async def test_a_timeout_after_waiting_is_an_ordinary_attempt_failure() -> None:
    def timeout(request: HttpRequest) -> RawResponse:
        raise APITimeoutError(f"{request}: timed out")

    transport = MockTransport(timeout)
    async with BackupClient(
        URL, user_id="1", token="t", transport=transport, retry=FAST, rate_limit=1000.0
    ) as client:
        with pytest.raises(APITimeoutError):
            await client.get_record("1")
    assert len(transport.requests) == FAST.max_attempts
