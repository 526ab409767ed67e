"""Fault injection: what to do instead of (or on top of) answering normally.

Scripted rules are tried in the order they were injected. Every matching latency rule adds
its delay (and uses up one of its ``times``); the first matching rule of any other kind is
the request's fault. Random faults, when set, draw one number per request on their route
from their own seeded RNG, so a given seed and request sequence always gives the same faults.
"""

from __future__ import annotations

import email.utils
import http
import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Final, Literal

if TYPE_CHECKING:
    from ._requests import FakeRequest

FaultKind = Literal[
    "status",
    "latency",
    "body_code",
    "malformed_json",
    "truncated_json",
    "disconnect",
    "lose_response",
]
Predicate = Callable[["FakeRequest"], bool]

MALFORMED_BODY: Final = b'{"code": 0, "msg": "success", "data": {oops}}'
CANNED_SUCCESS: Final = b'{"code":0,"msg":"success","data":{"lockId":"00000000"}}'


def _retry_after_text(value: str | float | None) -> str | None:
    if value is None or isinstance(value, str):
        return value
    return format(value, "g")


def _phrase(status: int) -> str:
    try:
        return http.HTTPStatus(status).phrase
    except ValueError:
        return "injected error"


@dataclass(frozen=True, slots=True)
class Fault:
    """One injectable misbehaviour; build it with the class methods."""

    kind: FaultKind
    http_status: int = 200
    code: int = 0
    msg: str = "success"
    retry_after: str | None = None
    delay: float = 0.0
    process: bool = False

    @classmethod
    def status(
        cls,
        status: int,
        *,
        retry_after: str | float | None = None,
        code: int | None = None,
        msg: str | None = None,
        process: bool = False,
    ) -> Fault:
        """Answer ``status`` with ``{code, msg}`` (default code ``15000000 + status``).

        ``retry_after`` (seconds or an HTTP date) becomes a ``Retry-After`` header. With
        ``process=True`` the request is carried out first and only the answer is replaced.
        """
        if not 100 <= status <= 599:
            raise ValueError(f"not an HTTP status: {status}")
        return cls(
            "status",
            http_status=status,
            code=15000000 + status if code is None else code,
            msg=_phrase(status) if msg is None else msg,
            retry_after=_retry_after_text(retry_after),
            process=process,
        )

    @classmethod
    def latency(cls, seconds: float) -> Fault:
        """Wait ``seconds`` before handling the request normally."""
        if seconds < 0:
            raise ValueError("latency must be >= 0")
        return cls("latency", delay=seconds)

    @classmethod
    def body_code(cls, code: int, msg: str = "injected error", *, process: bool = False) -> Fault:
        """HTTP 200 whose body carries a non-zero ``code``."""
        return cls("body_code", code=code, msg=msg, process=process)

    @classmethod
    def malformed_json(cls, *, process: bool = False) -> Fault:
        """HTTP 200, ``Content-Type: application/json``, a body that is not JSON."""
        return cls("malformed_json", process=process)

    @classmethod
    def truncated_json(cls, *, process: bool = False) -> Fault:
        """HTTP 200 with the first half of a JSON body (the real one when ``process``)."""
        return cls("truncated_json", process=process)

    @classmethod
    def disconnect(cls) -> Fault:
        """Close the connection without processing or answering: nothing changes."""
        return cls("disconnect")

    @classmethod
    def lose_response(cls) -> Fault:
        """Process the request (the store changes), then close without answering."""
        return cls("lose_response", process=True)

    @staticmethod
    def http_date(stamp: float) -> str:
        """An HTTP date for ``Retry-After`` (e.g. ``Fault.http_date(time.time() + 2)``)."""
        return email.utils.formatdate(stamp, usegmt=True)


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
