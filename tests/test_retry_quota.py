"""The retry quota (API.md "Resilience options"): botocore's "standard" bucket, per client.

The done-when counts are taken on the fake server (requests it received); the bucket's
arithmetic is checked as a table on ``RetryQuota`` and through a ``MockTransport``.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Callable

import pytest
from seams import MockTransport, answer

from koodrive_backup import (
    APITimeoutError,
    BackupClient,
    BearerAuth,
    DecodeError,
    HttpRequest,
    RawResponse,
    RetryPolicy,
    ServerError,
)
from koodrive_backup._retry import RetryQuota
from koodrive_backup.testing import FakeKooDrive, Fault

URL = "https://api.example"
RECORD = {"code": 0, "data": {"recordId": "1", "moduleCode": "101", "status": 1}}
NO_WAIT = {"initial_delay": 0.0, "max_delay": 0.0}


def quota_warnings(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [
        r.getMessage()
        for r in caplog.records
        if r.levelno == logging.WARNING and "retry quota" in r.getMessage()
    ]


# --- the bucket's arithmetic ----------------------------------------------------------------


def test_costs_refunds_and_the_ceiling() -> None:
    quota = RetryQuota(20)
    assert quota.take(ServerError(503, None, None))  # 5
    assert quota.take(APITimeoutError("slow"))  # 10
    assert quota.available == 5
    assert not quota.take(APITimeoutError("slow"))  # lacks 10: refused, nothing taken
    assert quota.available == 5
    assert quota.take(ServerError(503, None, None))
    assert quota.available == 0
    for _ in range(30):
        quota.refund()
    assert quota.available == 20  # never above the quota


@pytest.mark.parametrize("bad", [-1, 1.5, True, "500"])
def test_retry_quota_must_be_a_non_negative_int_or_none(bad: object) -> None:
    with pytest.raises(ValueError):
        RetryPolicy(retry_quota=bad)  # type: ignore[arg-type]
    assert RetryPolicy().retry_quota == 500
    assert RetryPolicy(retry_quota=None).retry_quota is None


# --- the done-when, on the fake server ----------------------------------------------


@pytest.mark.parametrize(("retry_quota", "requests"), [(500, 300 + 500 // 5), (None, 300 * 4)])
async def test_300_calls_against_a_server_failing_everything(
    fake: FakeKooDrive,
    caplog: pytest.LogCaptureFixture,
    retry_quota: int | None,
    requests: int,
) -> None:
    fake.inject(Fault.status(503), times=None)
    fake.record_requests = False  # counted, not kept: 1,200 requests
    policy = RetryPolicy(max_attempts=4, retry_quota=retry_quota, **NO_WAIT)
    async with BackupClient(fake.url, user_id=fake.user_id, token=fake.token, retry=policy) as c:
        for _ in range(300):
            with pytest.raises(ServerError):
                await c.get_record("1842862763295184641")
    assert fake.request_count == requests
    # Emptying the bucket is logged once, not once per call that found it empty.
    assert len(quota_warnings(caplog)) == (1 if retry_quota is not None else 0)


# --- through a client ---------------------------------------------------------------------------


class Switch:
    """A transport handler that fails (503) or succeeds as the test says."""

    def __init__(self) -> None:
        self.failing = True

    def __call__(self, request: HttpRequest) -> RawResponse:
        return answer(503, {"code": 1}) if self.failing else answer(200, RECORD)


def client(transport: MockTransport, **policy: object) -> BackupClient:
    retry = RetryPolicy(**{**NO_WAIT, **policy})  # type: ignore[arg-type]
    return BackupClient(URL, user_id="1", token="t", transport=transport, retry=retry)


async def calls(c: BackupClient, n: int, transport: MockTransport) -> int:
    """Make ``n`` calls (failures swallowed); how many requests they sent."""
    before = len(transport.requests)
    for _ in range(n):
        with contextlib.suppress(ServerError):
            await c.get_record("1")
    return len(transport.requests) - before


async def test_successes_refill_the_bucket_one_token_each(
    caplog: pytest.LogCaptureFixture,
) -> None:
    switch = Switch()
    transport = MockTransport(switch)
    async with client(transport, max_attempts=2, retry_quota=10) as c:
        assert await calls(c, 2, transport) == 4  # two retries: the bucket is empty
        assert await calls(c, 3, transport) == 3  # no retry at all now
        switch.failing = False
        assert await calls(c, 4, transport) == 4  # 4 tokens back: not yet one retry's 5
        switch.failing = True
        assert await calls(c, 1, transport) == 1
        switch.failing = False
        assert await calls(c, 1, transport) == 1  # the 5th token
        switch.failing = True
        assert await calls(c, 2, transport) == 3  # one retry, then empty again
    # One warning per emptying, not per refused call: the bucket ran dry twice.
    assert len(quota_warnings(caplog)) == 2


class Script:
    """A transport handler answering from a list, then 503 for ever."""

    def __init__(self) -> None:
        self.answers: list[RawResponse] = []

    def __call__(self, request: HttpRequest) -> RawResponse:
        return self.answers.pop(0) if self.answers else answer(503, {"code": 1})


async def test_a_call_that_succeeds_after_a_retry_refunds_one() -> None:
    script = Script()
    transport = MockTransport(script)
    async with client(transport, max_attempts=2, retry_quota=9) as c:
        script.answers = [answer(503, {"code": 1}), answer(200, RECORD)]
        assert (await c.get_record("1")).record_id == "1"  # 9 - 5 + 1: 5 left
        assert await calls(c, 1, transport) == 2  # the refund pays for this retry (0 left)
        assert await calls(c, 1, transport) == 1


WRONG_SHAPE = {"code": 0, "data": {"recordId": ["not", "a", "string"]}}


async def test_a_call_ending_in_a_decode_error_refunds_nothing() -> None:
    """A 200 whose body has the wrong shape raises ``DecodeError``: not a success, so it
    must not refill the bucket (neither on its first attempt nor after a retry)."""
    script = Script()
    transport = MockTransport(script)
    async with client(transport, max_attempts=2, retry_quota=9) as c:
        script.answers = [answer(503, {"code": 1}), answer(200, WRONG_SHAPE)]
        with pytest.raises(DecodeError):
            await c.get_record("1")  # 9 - 5: 4 left, no refund
        assert await calls(c, 1, transport) == 1  # 4 cannot pay for a retry
        script.answers = [answer(200, WRONG_SHAPE)] * 5
        for _ in range(5):
            with pytest.raises(DecodeError):
                await c.get_record("1")
        assert await calls(c, 1, transport) == 1  # still 4: five failed calls refunded nothing


async def test_a_retry_after_a_timeout_costs_ten() -> None:
    failures: list[Callable[[], RawResponse]] = []

    def handler(request: HttpRequest) -> RawResponse:
        return failures.pop(0)() if failures else answer(503, {"code": 1})

    def timeout() -> RawResponse:
        raise APITimeoutError("timed out")

    transport = MockTransport(handler)
    async with client(transport, max_attempts=4, retry_quota=15) as c:
        failures.extend([timeout, timeout])
        with pytest.raises(APITimeoutError):
            await c.get_record("1")  # timeout, retry (10), timeout: 5 left, a retry costs 10
        assert len(transport.requests) == 2
        assert await calls(c, 1, transport) == 2  # 503: a retry for the last 5, then none


async def test_the_401_re_send_costs_no_quota() -> None:
    answers = iter([answer(401), answer(200, RECORD)])
    tokens = iter(["stale", "fresh"])

    async def provider() -> str:
        return next(tokens)

    transport = MockTransport(lambda request: next(answers))
    async with BackupClient(
        URL,
        user_id="1",
        auth=BearerAuth(token_provider=provider),
        transport=transport,
        retry=RetryPolicy(retry_quota=0),  # no retry can be paid for
    ) as c:
        assert (await c.get_record("1")).record_id == "1"
    assert len(transport.requests) == 2


async def test_quota_is_per_client() -> None:
    transport = MockTransport(Switch())
    async with client(transport, max_attempts=2, retry_quota=5) as one:
        assert await calls(one, 2, transport) == 3  # one retry, then the bucket is empty
        async with client(transport, max_attempts=2, retry_quota=5) as two:
            assert await calls(two, 1, transport) == 2  # its own full bucket
