"""Retry policy: pure decisions (table-tested) and the tenacity wiring that applies them.

Rules (API.md "Retry policy"):

- retried: connection errors, timeouts, HTTP 408, 429, 500, 502, 503, 504; never another
  status, a body-level API error, a ``DecodeError`` or ``asyncio.CancelledError``;
- requests that are not idempotent (POST, PATCH) are retried only when the failure proves the
  request was not processed: the connection could not be opened, a 429, or a 503 that carries
  ``Retry-After`` (unless the caller opts in with ``idempotent=True``);
- the wait is full-jitter exponential backoff, ``uniform(0, min(max_delay, initial·2^n))``, or
  exactly the ``Retry-After`` when present; a ``Retry-After`` above ``max_retry_after`` is not
  waited for: the error is raised at once;
- ``deadline``: before each sleep, if the elapsed time plus the coming sleep passes it, the
  last error is raised instead.

The success path never touches tenacity: the first attempt runs bare, and a fresh
``AsyncRetrying`` (its state is per call, never shared between tasks) is built only once an
attempt has failed with a retryable error. That keeps ~40-90 µs per request off the hot path.
"""

from __future__ import annotations

import asyncio
import logging
import random
import time
from collections.abc import Awaitable, Callable
from typing import TypeVar

import attrs
from tenacity import AsyncRetrying, RetryCallState

from .errors import APIConnectionError, APIError, KooDriveError

__all__ = [
    "RETRYABLE_STATUSES",
    "RetryPolicy",
    "backoff",
    "call_with_retries",
    "next_delay",
    "retry_after_failure",
    "worth_retrying",
]

T = TypeVar("T")
Sleep = Callable[[float], Awaitable[None]]
logger = logging.getLogger("koodrive_backup")

RETRYABLE_STATUSES = frozenset({408, 429, 500, 502, 503, 504})


def _non_negative(_: object, attribute: attrs.Attribute[float], value: float) -> None:
    if value < 0:
        raise ValueError(f"{attribute.name} must be >= 0, not {value}")


def _deadline(_: object, __: object, value: float | None) -> None:
    if value is not None and value <= 0:
        raise ValueError(f"deadline must be > 0 seconds or None, not {value}")


def _attempts(_: object, __: object, value: int) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValueError(f"max_attempts must be an int >= 1, not {value!r}")


@attrs.frozen
class RetryPolicy:
    """How failed attempts are retried. ``RetryPolicy(max_attempts=1)`` disables retries.

    ``max_attempts`` counts attempts, the first included. Delays are in seconds; ``deadline``
    is measured from the start of the call.
    """

    max_attempts: int = attrs.field(default=4, validator=_attempts)
    initial_delay: float = attrs.field(default=0.5, validator=_non_negative)
    max_delay: float = attrs.field(default=8.0, validator=_non_negative)
    max_retry_after: float = attrs.field(default=60.0, validator=_non_negative)
    deadline: float | None = attrs.field(default=None, validator=_deadline)


# --- pure decisions ---------------------------------------------------------------------------


def is_retryable(exc: BaseException, *, idempotent: bool) -> bool:
    """Whether a failed attempt may be tried again (ignoring attempt counts and delays)."""
    if isinstance(exc, APIConnectionError):
        return idempotent or not exc.request_sent
    if isinstance(exc, APIError):
        if exc.status not in RETRYABLE_STATUSES or exc.status < 400:
            return False  # a 2xx with a body error code is a decision, not a glitch
        if idempotent:
            return True
        return exc.status == 429 or (exc.status == 503 and exc.retry_after is not None)
    return False


def backoff(policy: RetryPolicy, retry_number: int, rand: Callable[[], float]) -> float:
    """Full jitter: uniform in ``[0, min(max_delay, initial_delay * 2**retry_number))``."""
    ceiling = min(policy.max_delay, policy.initial_delay * 2.0 ** min(retry_number, 62))
    return ceiling * rand()


def next_delay(
    policy: RetryPolicy, exc: KooDriveError, retry_number: int, rand: Callable[[], float]
) -> float | None:
    """Seconds to wait before the next attempt, or ``None`` when it must not be waited for.

    ``retry_number`` is 0 before the first retry. A ``Retry-After`` wins over backoff and is
    not capped by ``max_delay``; above ``max_retry_after`` it means "give up now".
    """
    retry_after = exc.retry_after if isinstance(exc, APIError) else None
    if retry_after is None:
        return backoff(policy, retry_number, rand)
    if retry_after > policy.max_retry_after:
        return None
    return retry_after


# --- tenacity wiring -------------------------------------------------------------------------


def worth_retrying(exc: KooDriveError, policy: RetryPolicy, *, idempotent: bool) -> bool:
    """After a failed first attempt: is there any retry to do at all?"""
    return policy.max_attempts > 1 and is_retryable(exc, idempotent=idempotent)


async def call_with_retries(
    attempt: Callable[[int], Awaitable[T]],
    policy: RetryPolicy,
    *,
    idempotent: bool,
    sleep: Sleep = asyncio.sleep,
    clock: Callable[[], float] = time.monotonic,
    rand: Callable[[], float] = random.random,
    describe: object = "",
) -> T:
    """Run ``attempt(n)`` (n = 1, 2, ...) under ``policy``; raise the last error at the end."""
    started = clock()
    try:
        return await attempt(1)
    except KooDriveError as exc:
        if not worth_retrying(exc, policy, idempotent=idempotent):
            raise
        first_failure = exc
    return await retry_after_failure(
        attempt,
        first_failure,
        policy,
        idempotent=idempotent,
        sleep=sleep,
        clock=clock,
        rand=rand,
        started=started,
        describe=describe,
    )


async def retry_after_failure(
    attempt: Callable[[int], Awaitable[T]],
    first_failure: KooDriveError,
    policy: RetryPolicy,
    *,
    idempotent: bool,
    sleep: Sleep = asyncio.sleep,
    clock: Callable[[], float] = time.monotonic,
    rand: Callable[[], float] = random.random,
    started: float,
    describe: object = "",
) -> T:
    """Attempts 2..n after attempt 1 failed with ``first_failure``, in a fresh tenacity loop."""

    def wait(state: RetryCallState) -> float:
        exc = _failure(state)
        delay = next_delay(policy, exc, state.attempt_number - 1, rand)
        return -1.0 if delay is None else delay  # -1: "do not wait", read by stop()

    def stop(state: RetryCallState) -> bool:
        if state.attempt_number >= policy.max_attempts or state.upcoming_sleep < 0:
            return True
        elapsed = clock() - started
        return policy.deadline is not None and elapsed + state.upcoming_sleep > policy.deadline

    def before_sleep(state: RetryCallState) -> None:
        logger.info(
            "retrying %s after attempt %d failed (%s); waiting %.3fs",
            describe,
            state.attempt_number,
            _failure(state),
            state.upcoming_sleep,
        )

    retrying = AsyncRetrying(
        stop=stop,
        wait=wait,
        retry=lambda state: _retryable_outcome(state, idempotent),
        sleep=sleep,
        before_sleep=before_sleep,
        reraise=True,
    )
    async for try_ in retrying:
        with try_:
            number = try_.retry_state.attempt_number
            if number == 1:  # replay the first attempt's failure into tenacity's state
                raise first_failure
            result = await attempt(number)
    return result


def _retryable_outcome(state: RetryCallState, idempotent: bool) -> bool:
    # CancelledError and programming errors are not KooDriveErrors: re-raised untouched.
    exc = state.outcome.exception() if state.outcome is not None else None
    return isinstance(exc, KooDriveError) and is_retryable(exc, idempotent=idempotent)


def _failure(state: RetryCallState) -> KooDriveError:
    assert state.outcome is not None
    exc = state.outcome.exception()
    if isinstance(exc, KooDriveError):
        return exc
    raise exc if exc is not None else RuntimeError("retry state without a failure")
