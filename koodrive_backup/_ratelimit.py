"""Client-side rate limiting: ``RateLimit``, a token bucket on ``aiolimiter``.

API.md "Resilience options": every attempt (first try, retry, the re-send after a 401 and
the clock re-send) waits for a token first; ``burst`` tokens may be spent at once, then
tokens come back at ``per_second``. N attempts therefore take at least
``(N - burst) / per_second`` seconds, summed over every client sharing one ``RateLimit``.

Why aiolimiter fits the contract: its ``AsyncLimiter(max_rate, time_period)`` is a leaky
bucket of capacity ``max_rate`` that drains at ``max_rate / time_period`` per second, so
``AsyncLimiter(burst, burst / per_second)`` is exactly our bucket; a waiter takes capacity
only after its wait succeeded, so a cancelled waiter consumes nothing; waiters are served
in arrival order (a newcomer may take capacity that is free at that moment).

Event loops: an ``AsyncLimiter`` belongs to the loop it was first used on (its timers and
futures live there). A ``RateLimit`` therefore serves one running event loop at a time: it
makes its bucket on first use, makes a fresh (full) bucket when used again after that loop
has stopped or closed (successive ``asyncio.run`` calls, one test loop after another), and
raises ``RuntimeError`` when used from a second loop while the first still runs (another
thread): tokens cannot be shared across threads or processes by this object, so each of
those needs its own ``RateLimit`` with its share of the rate.
"""

from __future__ import annotations

import asyncio
import math
from asyncio import get_running_loop
from collections.abc import Awaitable

from aiolimiter import AsyncLimiter

from ._validate import positive_int

__all__ = ["RateLimit"]


class RateLimit:
    """At most ``per_second`` request attempts per second on average, ``burst`` at once.

    ``burst`` defaults to ``max(1, int(per_second))``. Give the same object to several
    ``BackupClient``\\ s to limit them together; ``BackupClient(rate_limit=2.5)`` makes one
    of that client's own. Each client counts the seconds it waited in
    ``client.rate_limit_wait``.
    """

    __slots__ = ("_limiter", "_loop", "burst", "per_second")

    def __init__(self, per_second: float, burst: int | None = None) -> None:
        if isinstance(per_second, bool) or not isinstance(per_second, int | float):
            raise TypeError(f"per_second must be a number, not {type(per_second).__name__}")
        if not math.isfinite(per_second) or per_second <= 0:
            raise ValueError(f"per_second must be a positive, finite number, not {per_second}")
        self.per_second = float(per_second)
        self.burst = max(1, int(per_second)) if burst is None else positive_int(burst, "burst")
        self._limiter: AsyncLimiter | None = None
        self._loop: asyncio.AbstractEventLoop | None = None

    def __repr__(self) -> str:
        return f"RateLimit({self.per_second:g}, burst={self.burst})"

    def acquire(self) -> Awaitable[None]:
        """Wait for one token: ``await limit.acquire()``. (A plain method returning
        aiolimiter's awaitable: this runs before every send, one coroutine layer less.)"""
        limiter = self._limiter
        if self._loop is not get_running_loop() or limiter is None:
            limiter = self._bind(get_running_loop())
        return limiter.acquire()

    def _bind(self, loop: asyncio.AbstractEventLoop) -> AsyncLimiter:
        """A fresh bucket for ``loop``, unless the loop we serve is still running."""
        previous = self._loop
        if previous is not None and not previous.is_closed() and previous.is_running():
            raise RuntimeError(
                "this RateLimit is in use by another running event loop (another thread); "
                "give each event loop its own RateLimit with its share of the rate"
            )
        # aiolimiter's capacity is max_rate; it drains at max_rate / time_period per second.
        self._limiter = AsyncLimiter(self.burst, self.burst / self.per_second)
        self._loop = loop
        return self._limiter
