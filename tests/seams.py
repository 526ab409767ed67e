"""Test doubles for the client's I/O seam: a transport answering from a function, a clock
that only moves when told (or when something sleeps on it)."""

from __future__ import annotations

import asyncio
import heapq
import inspect
import itertools
import json
import time
from collections.abc import Awaitable, Callable
from typing import Any

from koodrive_backup import HttpRequest, RawResponse

Handler = Callable[[HttpRequest], RawResponse | Awaitable[RawResponse]]


def answer(
    status: int = 200, payload: Any = None, headers: dict[str, str] | None = None
) -> RawResponse:
    """A response whose body is ``payload`` as JSON (``None``: an empty body)."""
    body = b"" if payload is None else json.dumps(payload).encode()
    return RawResponse(status, headers or {}, body)


class MockTransport:
    """A ``Transport`` that answers from ``handler`` (like httpx's ``MockTransport``) and keeps
    every request it was given."""

    def __init__(self, handler: Handler) -> None:
        self.handler = handler
        self.requests: list[HttpRequest] = []
        self.closed = False

    async def send(self, request: HttpRequest) -> RawResponse:
        self.requests.append(request)
        response = self.handler(request)
        if inspect.isawaitable(response):
            response = await response
        return response

    async def aclose(self) -> None:
        self.closed = True


class VirtualClock:
    """A ``Clock`` whose time moves only when the test says so.

    ``sleep`` waits until ``advance`` (or ``run_until``) moves the time past its deadline;
    sleepers wake in deadline order, each at its own deadline. With ``autojump=True`` a
    sleep instead moves the time itself and returns at once (for one task's retry waits).
    ``time()`` and ``monotonic()`` read the same virtual seconds, starting at the real time
    (so ``X-Date`` values look current); give a fake server ``clock=clock.time`` to share it.
    """

    def __init__(self, start: float | None = None, *, autojump: bool = False) -> None:
        self.now = time.time() if start is None else start
        self.autojump = autojump
        self.sleeps: list[float] = []
        self._sleepers: list[tuple[float, int, asyncio.Future[None]]] = []
        self._order = itertools.count()

    def time(self) -> float:
        return self.now

    def monotonic(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        if self.autojump:
            self.now += max(0.0, seconds)
            seconds = 0.0
        if seconds <= 0:
            await asyncio.sleep(0)
            return
        wake = asyncio.get_running_loop().create_future()
        heapq.heappush(self._sleepers, (self.now + seconds, next(self._order), wake))
        await wake

    async def advance(self, seconds: float) -> None:
        """Move time forward by ``seconds``, waking every sleeper whose deadline it passes."""
        target = self.now + seconds
        while self._sleepers and self._sleepers[0][0] <= target:
            deadline, _, wake = heapq.heappop(self._sleepers)
            self.now = max(self.now, deadline)
            if not wake.done():
                wake.set_result(None)
                await asyncio.sleep(0)  # let the sleeper run up to its next await
        self.now = target

    async def run_until(
        self, condition: Callable[[], bool], *, step: float = 0.01, limit: float = 3600.0
    ) -> float:
        """Advance in ``step`` s, giving real I/O a moment after each, until ``condition()``;
        return the virtual seconds it took. ``limit`` virtual seconds (and 10 real ones)
        guard against a hang: they are not timing assertions."""
        started = self.now
        async with asyncio.timeout(10):
            while not condition():
                if self.now - started > limit:
                    raise AssertionError(f"not reached within {limit} virtual seconds")
                await self.advance(step)
                await asyncio.sleep(0.0005)  # a real moment for socket I/O
        return self.now - started
