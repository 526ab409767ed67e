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
  last error is raised instead;
- the retry quota (botocore's "standard" mode, API.md "Resilience options"): each client
  holds ``RetryQuota(retry_quota)`` tokens; a retry after a timeout costs 10, any other 5; a
  call that succeeds refunds 1 (never above the quota). A retry the bucket cannot pay for
  is not made: the last error is raised at once. So a client facing a server that fails
  everything makes at most ``retry_quota / 5`` retries in all, however many calls it makes.

``Retrier`` applies a policy and holds the client's quota; one is built per client. The
success path never touches tenacity (only the quota's refund): the first attempt runs bare,
and a tenacity loop (its state is per call, never shared between tasks) is built only once
an attempt has failed with a retryable error; that failure is handed to the loop as its
first outcome.
"""

from __future__ import annotations

import asyncio
import logging
import random
import sys
import time
from collections.abc import Awaitable, Callable
from typing import TypeVar

import attrs
from tenacity import DoAttempt, RetryCallState, Retrying

from . import _validate as check
from .errors import (
    APIConnectionError,
    APIError,
    APITimeoutError,
    AuthenticationError,
    KooDriveError,
    LockLostError,
    PermissionDeniedError,
)

__all__ = [
    "RETRYABLE_STATUSES",
    "RETRY_COST",
    "STOP_ERRORS",
    "TIMEOUT_RETRY_COST",
    "Retrier",
    "RetryPolicy",
    "RetryQuota",
    "backoff",
    "is_retryable",
    "next_delay",
    "stops_batch",
]

T = TypeVar("T")
Sleep = Callable[[float], Awaitable[None]]
logger = logging.getLogger("koodrive_backup")

RETRYABLE_STATUSES = frozenset({408, 429, 500, 502, 503, 504})
RETRY_COST = 5  # quota tokens a retry takes (botocore's RETRY_COST)
TIMEOUT_RETRY_COST = 10  # ... when the failed attempt timed out (botocore's TIMEOUT_RETRY_COST)


def _non_negative(_: object, attribute: attrs.Attribute[float], value: float) -> None:
    check.non_negative_seconds(value, attribute.name)  # NaN, infinity and bools refused


def _deadline(_: object, __: object, value: float | None) -> None:
    if value is not None:  # None: no deadline (not infinity, which is refused)
        check.positive_seconds(value, "deadline")


def _attempts(_: object, __: object, value: int) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValueError(f"max_attempts must be an int >= 1, not {value!r}")


def _quota(_: object, __: object, value: int | None) -> None:
    if value is not None and (isinstance(value, bool) or not isinstance(value, int) or value < 0):
        raise ValueError(f"retry_quota must be an int >= 0 or None, not {value!r}")


@attrs.frozen
class RetryPolicy:
    """How failed attempts are retried. ``RetryPolicy(max_attempts=1)`` disables retries.

    ``max_attempts`` counts attempts, the first included. Delays are finite seconds >= 0;
    ``deadline`` (finite seconds > 0, or ``None`` for none) is measured from the start of the
    call. ``retry_quota`` is the size of each client's retry bucket (see ``RetryQuota``);
    ``None`` disables it. Anything else (NaN, infinity, a ``bool``, a negative value) raises
    ``ValueError``/``TypeError`` here, before any request.
    """

    max_attempts: int = attrs.field(default=4, validator=_attempts)
    initial_delay: float = attrs.field(default=0.5, validator=_non_negative)
    max_delay: float = attrs.field(default=8.0, validator=_non_negative)
    max_retry_after: float = attrs.field(default=60.0, validator=_non_negative)
    deadline: float | None = attrs.field(default=None, validator=_deadline)
    retry_quota: int | None = attrs.field(default=500, validator=_quota)


# --- pure decisions ---------------------------------------------------------------------------


def is_retryable(exc: BaseException, *, idempotent: bool) -> bool:
    """Whether a failed attempt may be tried again (ignoring attempt counts and delays)."""
    if isinstance(exc, APIConnectionError):
        return idempotent or not exc.request_sent
    if isinstance(exc, APIError):
        if exc.status not in RETRYABLE_STATUSES:
            return False  # nor a 2xx with a body error code: a decision, not a glitch
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


#: Errors that stop a batch whatever their status: the credential or permission was refused,
#: or the managed lock the batch runs under is lost.
STOP_ERRORS: tuple[type[KooDriveError], ...] = (
    AuthenticationError,
    PermissionDeniedError,
    LockLostError,
)


def stops_batch(error: KooDriveError) -> bool:
    """THE rule for giving up: would every later chunk fail the way this one did?

    Yes for a refused credential or permission, a lost managed lock, a refusal of the request
    as such (a 4xx other than 408/429: an unknown device, a refused lock, bad parameters) and
    a server that cannot be reached at all (the connection could not be opened, after
    retries). No for what may pass (timeouts, resets, 408, 429, 5xx, an unreadable answer) and
    for a 2xx whose body reports an error.
    """
    if isinstance(error, STOP_ERRORS):
        return True
    if isinstance(error, APIError):
        return 400 <= error.status < 500 and error.status not in (408, 429)
    if isinstance(error, APIConnectionError) and not isinstance(error, APITimeoutError):
        return not error.request_sent
    return False


class RetryQuota:
    """One client's retry bucket (botocore's "standard" retry quota), shared by its calls.

    ``take(failure)`` pays for the retry of a failed attempt (``TIMEOUT_RETRY_COST`` after a
    timeout, else ``RETRY_COST``) and says whether the bucket could; ``refund()`` gives 1
    back for a call that succeeded, never above ``capacity``. A refused retry is logged at
    WARNING once, and again only after the bucket has paid for a retry since: a storm of
    failing calls logs one line, not one per call.
    """

    __slots__ = ("_warned", "available", "capacity")

    def __init__(self, capacity: int) -> None:
        self.capacity = capacity
        self.available = capacity
        self._warned = False

    def take(self, failure: KooDriveError) -> bool:
        cost = TIMEOUT_RETRY_COST if isinstance(failure, APITimeoutError) else RETRY_COST
        if cost > self.available:
            if not self._warned:
                self._warned = True
                logger.warning(
                    "retry quota exhausted (%d of %d tokens left, a retry costs %d): failed "
                    "calls are not retried until successes refill it; last error: %s",
                    self.available,
                    self.capacity,
                    cost,
                    failure,
                )
            return False
        self.available -= cost
        self._warned = False
        return True

    def refund(self) -> None:
        if self.available < self.capacity:
            self.available += 1


# --- tenacity wiring -------------------------------------------------------------------------


class Retrier:
    """Runs a call's attempts under ``policy``: built once per client, safe to share.

    ``sleep`` waits between attempts, ``clock`` (monotonic seconds) measures the deadline,
    ``rand`` draws the jitter: all injectable, so retry tests run in microseconds. ``quota``
    is the client's ``RetryQuota`` (``None`` when the policy disables it).
    """

    def __init__(
        self,
        policy: RetryPolicy,
        *,
        sleep: Sleep = asyncio.sleep,
        clock: Callable[[], float] = time.monotonic,
        rand: Callable[[], float] = random.random,
    ) -> None:
        self.policy = policy
        self.sleep = sleep
        self.clock = clock
        self.rand = rand
        size = policy.retry_quota
        self.quota = None if size is None else RetryQuota(size)
        self._engine = Retrying(
            stop=self._stop,
            wait=self._wait,
            retry=self._retryable,
            before_sleep=self._log,
            reraise=True,
        )

    async def run(
        self, attempt: Callable[[int], Awaitable[T]], *, idempotent: bool, describe: object = ""
    ) -> T:
        """``await attempt(n)`` for n = 1, 2, ... until it succeeds or the policy says stop;
        then the last error is raised. ``describe`` names the call in the retry log."""
        started = self.clock()
        try:
            result = await attempt(1)
        except KooDriveError as exc:
            if self.policy.max_attempts == 1 or not is_retryable(exc, idempotent=idempotent):
                raise
            first_failure = exc
        else:
            if self.quota is not None:
                self.quota.refund()
            return result
        result = await self._retry(attempt, first_failure, _Call(idempotent, started, describe))
        if self.quota is not None:
            self.quota.refund()
        return result

    async def _retry(
        self, attempt: Callable[[int], Awaitable[T]], first_failure: KooDriveError, call: _Call
    ) -> T:
        """Attempts 2, 3, ... after the first failed: tenacity's engine decides (``iter``),
        this loop awaits. Like ``AsyncRetrying.__call__``, but over the synchronous engine:
        our callbacks are plain functions, and the async one wraps every callback anew (with
        ``inspect``) on every pass, which made a retried call cost many clean ones. A success
        is returned at once: the engine would only hand it back (we retry on no result)."""
        # An engine per retried call: tenacity keeps an engine's ``statistics`` (cleared by
        # ``begin``, counted by each pass) and its per-pass ``iter_state`` in a
        # ``threading.local``, per thread, not per task, and every call of a client runs on
        # one thread. ``iter`` is synchronous, so passes would not interleave today, but the
        # statistics of concurrent calls would mix; the copy costs only retried calls.
        retrying = self._engine.copy()
        retrying.begin()
        state = RetryCallState(retrying, fn=None, args=(), kwargs={_CALL: call})
        state.set_exception((type(first_failure), first_failure, first_failure.__traceback__))
        while True:
            do = retrying.iter(state)  # raises the last error when the policy says stop
            if isinstance(do, DoAttempt):
                try:
                    return await attempt(state.attempt_number)
                except BaseException:  # recorded; tenacity re-raises what is not retried
                    state.set_exception(sys.exc_info())  # type: ignore[arg-type]
            else:  # DoSleep: iter() gives nothing else, as no result is ever recorded
                state.prepare_for_next_attempt()
                await self.sleep(do)

    # tenacity's callbacks: one set per client; the call they judge is in the retry state.

    def _delay(self, state: RetryCallState) -> float | None:
        """The wait after attempt ``n`` (``None``: must not wait), drawn once per attempt."""
        delays = _call(state).delays
        number = state.attempt_number
        if number not in delays:
            delays[number] = next_delay(self.policy, _failure(state), number - 1, self.rand)
        return delays[number]

    def _wait(self, state: RetryCallState) -> float:
        return self._delay(state) or 0.0

    def _stop(self, state: RetryCallState) -> bool:
        delay = self._delay(state)
        if delay is None or state.attempt_number >= self.policy.max_attempts:
            return True
        deadline = self.policy.deadline
        if deadline is not None and self.clock() - _call(state).started + delay > deadline:
            return True
        quota = self.quota  # asked last: only a retry that will happen is paid for
        return quota is not None and not quota.take(_failure(state))

    def _retryable(self, state: RetryCallState) -> bool:
        # CancelledError and programming errors are not KooDriveErrors: re-raised untouched.
        call = _call(state)
        assert state.outcome is not None
        exc = call.failure = state.outcome.exception()  # read once: a Future takes a lock
        return isinstance(exc, KooDriveError) and is_retryable(exc, idempotent=call.idempotent)

    def _log(self, state: RetryCallState) -> None:
        if logger.isEnabledFor(logging.INFO):
            logger.info(
                "retrying %s after attempt %d failed (%s); waiting %.3fs",
                _call(state).describe,
                state.attempt_number,
                _failure(state),
                state.upcoming_sleep,
            )


_CALL = "koodrive_call"


@attrs.define(slots=True)
class _Call:
    """What the callbacks need of one call whose first attempt failed."""

    idempotent: bool
    started: float
    describe: object
    delays: dict[int, float | None] = attrs.field(factory=dict)
    failure: BaseException | None = None  # the last attempt's, as ``_retryable`` read it


def _call(state: RetryCallState) -> _Call:
    call: _Call = state.kwargs[_CALL]
    return call


def _failure(state: RetryCallState) -> KooDriveError:
    """The last attempt's error (tenacity asks ``retry`` first: ``_retryable`` read it)."""
    exc = _call(state).failure
    if isinstance(exc, KooDriveError):
        return exc
    raise exc if exc is not None else RuntimeError("retry state without a failure")
