"""Retry decisions as tables, and the wiring with an injected sleep (no real waiting)."""

from __future__ import annotations

import asyncio
import itertools
from functools import partial

import pytest

from koodrive_backup import (
    APIConnectionError,
    APIError,
    APITimeoutError,
    BadRequestError,
    DecodeError,
    RateLimitError,
    RetryPolicy,
    ServerError,
)
from koodrive_backup._retry import Retrier, backoff, is_retryable, next_delay


def api(status: int, retry_after: float | None = None) -> APIError:
    from koodrive_backup import _endpoints as ep
    from koodrive_backup._answers import error_for

    req = ep.GET_RECORD.request({"record_id": "1"})
    headers = {} if retry_after is None else {"Retry-After": str(retry_after)}
    return error_for(status, {"code": 1, "msg": "x"}, req, headers)


@pytest.mark.parametrize(
    ("exc", "idempotent", "expected"),
    [
        (APIConnectionError("reset"), True, True),
        (APIConnectionError("reset"), False, False),
        (APIConnectionError("refused", request_sent=False), False, True),
        (APITimeoutError("slow"), True, True),
        (APITimeoutError("slow"), False, False),
        (APITimeoutError("connect", request_sent=False), False, True),
        (api(408), True, True),
        (api(429), True, True),
        (api(500), True, True),
        (api(502), True, True),
        (api(503), True, True),
        (api(504), True, True),
        (api(501), True, False),
        (api(505), True, False),
        (api(400), True, False),
        (api(401), True, False),
        (api(403), True, False),
        (api(404), True, False),
        (api(409), True, False),
        (api(200), True, False),  # a body-level error inside a 2xx
        (DecodeError("bad", status=200), True, False),
        (api(429), False, True),
        (api(503, retry_after=1), False, True),
        (api(503), False, False),
        (api(500), False, False),
        (api(408), False, False),
    ],
)
def test_is_retryable(exc: Exception, idempotent: bool, expected: bool) -> None:
    assert is_retryable(exc, idempotent=idempotent) is expected


def test_cancellation_and_programming_errors_are_never_retryable() -> None:
    assert not is_retryable(asyncio.CancelledError(), idempotent=True)
    assert not is_retryable(ValueError("bug"), idempotent=True)


POLICY = RetryPolicy(initial_delay=0.5, max_delay=8.0, max_retry_after=60.0)
SECONDS = ("initial_delay", "max_delay", "max_retry_after", "deadline")


@pytest.mark.parametrize(
    ("retry_number", "ceiling"),
    [(0, 0.5), (1, 1.0), (2, 2.0), (3, 4.0), (4, 8.0), (9, 8.0), (500, 8.0)],
)
def test_full_jitter_backoff_is_bounded(retry_number: int, ceiling: float) -> None:
    assert backoff(POLICY, retry_number, lambda: 0.0) == 0.0
    assert backoff(POLICY, retry_number, lambda: 0.5) == ceiling / 2
    assert backoff(POLICY, retry_number, lambda: 0.999999) < ceiling


@pytest.mark.parametrize(
    ("exc", "expected"),
    [
        (api(503), 0.25),  # backoff: 0.5 * 0.5
        (api(503, retry_after=0), 0.0),
        (api(503, retry_after=30), 30.0),  # not capped by max_delay
        (api(429, retry_after=60), 60.0),
        (api(429, retry_after=61), None),  # above max_retry_after: give up now
        (APIConnectionError("x"), 0.25),
    ],
)
def test_next_delay(exc: APIError, expected: float | None) -> None:
    assert next_delay(POLICY, exc, 0, lambda: 0.5) == expected


@pytest.mark.parametrize(
    "kwargs",
    [
        {"max_attempts": 0},
        {"max_attempts": True},
        {"max_attempts": 1.5},
        {"initial_delay": -1},
        {"max_delay": -1},
        {"max_retry_after": -0.1},
        {"deadline": 0},
        {"deadline": -5},
        # NaN compares false with everything: max_delay=nan would sleep(nan) forever,
        # deadline=nan would disable the deadline, max_retry_after=nan wait any Retry-After.
        *({name: float("nan")} for name in SECONDS),
        *({name: float("inf")} for name in SECONDS),  # deadline=None means none
        {"max_delay": float("-inf")},
        {"deadline": 10**400},  # beyond any float
    ],
)
def test_policy_validation(kwargs: dict[str, object]) -> None:
    with pytest.raises(ValueError):
        RetryPolicy(**kwargs)  # type: ignore[arg-type]


@pytest.mark.parametrize("name", SECONDS)
@pytest.mark.parametrize("value", [True, False, "1", None])
def test_policy_seconds_must_be_numbers(name: str, value: object) -> None:
    if name == "deadline" and value is None:
        assert RetryPolicy(deadline=None).deadline is None  # no deadline
        return
    with pytest.raises(TypeError, match=name):
        RetryPolicy(**{name: value})  # type: ignore[arg-type]


def test_policy_accepts_ints_and_zero_delays() -> None:
    policy = RetryPolicy(initial_delay=0, max_delay=0, max_retry_after=0, deadline=3)
    assert (policy.initial_delay, policy.max_delay, policy.max_retry_after) == (0, 0, 0)
    assert policy.deadline == 3


class Script:
    """An attempt function that fails with the scripted errors, then succeeds."""

    def __init__(self, *failures: BaseException) -> None:
        self.failures = list(failures)
        self.calls = 0

    async def __call__(self, number: int) -> str:
        self.calls += 1
        assert number == self.calls
        if self.failures:
            raise self.failures.pop(0)
        return "ok"


class Sleeps:
    def __init__(self) -> None:
        self.delays: list[float] = []

    async def __call__(self, delay: float) -> None:
        self.delays.append(delay)


async def run(script: Script, policy: RetryPolicy, *, idempotent: bool = True, clock=None):  # type: ignore[no-untyped-def]
    sleeps = Sleeps()
    kwargs = {} if clock is None else {"clock": clock}
    retrier = Retrier(policy, sleep=sleeps, rand=lambda: 0.5, **kwargs)
    result = await retrier.run(script, idempotent=idempotent)
    return result, sleeps.delays


async def test_success_first_try_never_sleeps() -> None:
    script = Script()
    assert await run(script, POLICY) == ("ok", [])
    assert script.calls == 1


async def test_transient_failures_then_success() -> None:
    script = Script(api(503), APIConnectionError("reset"), api(429, retry_after=3))
    assert await run(script, POLICY) == ("ok", [0.25, 0.5, 3.0])
    assert script.calls == 4


async def test_max_attempts_raises_the_last_error() -> None:
    last = api(500)
    script = Script(api(503), api(502), api(504), last, api(500))
    with pytest.raises(ServerError) as info:
        await run(script, POLICY)
    assert info.value is last
    assert script.calls == 4


async def test_max_attempts_one_disables_retries() -> None:
    script = Script(api(503))
    with pytest.raises(ServerError):
        await run(script, RetryPolicy(max_attempts=1))
    assert script.calls == 1


async def test_non_retryable_error_is_raised_at_once() -> None:
    script = Script(api(503), api(400))
    with pytest.raises(BadRequestError):
        await run(script, POLICY)
    assert script.calls == 2


async def test_retry_after_above_cap_raises_at_once() -> None:
    script = Script(api(429, retry_after=120))
    with pytest.raises(RateLimitError):
        await run(script, POLICY)
    assert script.calls == 1


async def test_retry_after_above_cap_on_a_later_attempt_stops_there() -> None:
    script = Script(api(503), api(503, retry_after=61))
    with pytest.raises(ServerError) as info:
        await run(script, POLICY)
    assert info.value.retry_after == 61
    assert script.calls == 2


async def test_deadline_checked_before_each_sleep() -> None:
    ticks = itertools.count()
    clock = lambda: float(next(ticks))  # noqa: E731 -- each reading advances one second
    script = Script(api(503, retry_after=1), api(503, retry_after=5), api(503))
    with pytest.raises(ServerError) as info:
        await run(script, RetryPolicy(deadline=4.0), clock=clock)
    # started at 0; first check at 1 (+1 sleep = 2 <= 4: waits); second at 2 (+5 > 4: stops)
    assert info.value.retry_after == 5
    assert script.calls == 2


async def test_post_is_not_retried_after_a_possibly_processed_failure() -> None:
    script = Script(api(500))
    with pytest.raises(ServerError):
        await run(script, POLICY, idempotent=False)
    assert script.calls == 1
    script = Script(APIConnectionError("refused", request_sent=False), api(429), api(503, 0))
    assert await run(script, POLICY, idempotent=False) == ("ok", [0.25, 0.5, 0.0])


async def test_cancellation_is_never_retried() -> None:
    script = Script(api(503), asyncio.CancelledError())
    with pytest.raises(asyncio.CancelledError):
        await run(script, POLICY)
    assert script.calls == 2


class TaskSleeps:
    """A sleep shared by every call, recording each task's waits apart; it yields, so that
    the calls' retries interleave."""

    def __init__(self) -> None:
        self.delays: dict[asyncio.Task[object] | None, list[float]] = {}

    async def __call__(self, delay: float) -> None:
        self.delays.setdefault(asyncio.current_task(), []).append(delay)
        await asyncio.sleep(0)


async def test_concurrent_calls_do_not_share_retry_state() -> None:
    """One ``Retrier`` (as a client has) under 30 concurrent calls, each with its own
    Retry-After values, failures and attempt counts: every call waits its own delays."""
    sleeps = TaskSleeps()
    retrier = Retrier(POLICY, sleep=sleeps, rand=lambda: 0.5)
    scripts = [
        Script(api(503, retry_after=n / 4), api(429, retry_after=20 + n))
        if n % 3
        else Script(*[api(503)] * (n % 4))  # backoff: 0.25, 0.5, 1.0
        for n in range(30)
    ]

    async def attempt(script: Script, number: int) -> str:
        await asyncio.sleep(0)  # every attempt lets the others run
        return await script(number)

    async def call(script: Script) -> str:
        return await retrier.run(partial(attempt, script), idempotent=True)

    tasks = [asyncio.create_task(call(script)) for script in scripts]
    assert await asyncio.gather(*tasks) == ["ok"] * 30
    for n, task in enumerate(tasks):
        expected = [n / 4, 20.0 + n] if n % 3 else [0.25, 0.5, 1.0][: n % 4]
        assert sleeps.delays.get(task, []) == expected, n
        assert scripts[n].calls == len(expected) + 1
