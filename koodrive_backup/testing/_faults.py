"""Fault injection: which requests get a ``Fault``.

Scripted rules are tried in the order they were injected. Every matching latency rule adds
its delay (and uses up one of its ``times``); the first matching rule of any other kind is
the request's fault. Random faults, when set, draw one number per request on their route
from their own seeded RNG, so a given seed and request sequence always gives the same faults.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from ._fault import Fault
from ._requests import FakeRequest

__all__ = ["FaultPlan", "FaultRule", "Predicate", "RandomFaults"]

Predicate = Callable[[FakeRequest], bool]


class FaultRule:
    """An injected fault with its filters; ``remaining`` is ``None`` for "forever"."""

    __slots__ = ("fault", "hits", "remaining", "route", "when")

    def __init__(
        self, fault: Fault, route: str | None, times: int | None, when: Predicate | None
    ) -> None:
        if times is not None and times < 1:
            raise ValueError("times must be >= 1 or None")
        self.fault = fault
        self.route = route
        self.remaining = times
        self.when = when
        self.hits = 0

    def matches(self, request: FakeRequest) -> bool:
        if self.route is not None and self.route != request.route:
            return False
        return self.when is None or bool(self.when(request))

    def use(self) -> None:
        self.hits += 1
        if self.remaining is not None:
            self.remaining -= 1

    @property
    def exhausted(self) -> bool:
        return self.remaining == 0

    def __repr__(self) -> str:
        return f"FaultRule({self.fault!r}, route={self.route!r}, remaining={self.remaining})"


@dataclass(slots=True)
class RandomFaults:
    rate: float
    faults: Sequence[Fault]
    rng: random.Random
    routes: frozenset[str] | None  # None: every route

    def draw(self, request: FakeRequest) -> Fault | None:
        if self.routes is not None and request.route not in self.routes:
            return None
        roll = self.rng.random()
        pick = self.rng.randrange(len(self.faults))
        return self.faults[pick] if roll < self.rate else None


class FaultPlan:
    """The scripted rules plus the optional random source."""

    def __init__(self) -> None:
        self.rules: list[FaultRule] = []
        self.random: RandomFaults | None = None

    def pick(self, request: FakeRequest) -> tuple[float, Fault | None]:
        """(extra delay, terminal fault or ``None``) for one request."""
        delay = 0.0
        chosen: Fault | None = None
        if self.rules:
            for rule in self.rules:
                latency = rule.fault.kind == "latency"
                if (chosen is None or latency) and rule.matches(request):
                    rule.use()
                    if latency:
                        delay += rule.fault.delay
                    else:
                        chosen = rule.fault
            self.rules = [rule for rule in self.rules if not rule.exhausted]
        if self.random is not None:
            drawn = self.random.draw(request)
            if drawn is not None and drawn.kind == "latency":
                delay += drawn.delay
            elif chosen is None:
                chosen = drawn
        return delay, chosen
