"""What the fake received: one ``FakeRequest`` per request, plus counters.

The log keeps the raw body bytes and parses JSON only when asked, so recording is cheap;
``Stats.record`` turns the log off (benchmarks) while the counters keep counting.
"""

from __future__ import annotations

import json
from collections import Counter
from typing import TYPE_CHECKING, Any

from multidict import CIMultiDictProxy, MultiMapping

if TYPE_CHECKING:
    from ._fault import Fault


class FakeRequest:
    """One received request.

    ``time`` is the server clock (real time + clock_offset) at arrival; ``peer`` the client's
    ``host:port`` (one value per connection, so connection reuse shows); ``route`` the doc id
    (``None`` for an unknown path or method); ``status`` the HTTP status answered (``None``
    while in progress or when the connection was dropped); ``fault`` the injected fault
    that replaced the normal answer, if any; ``user_id`` the authenticated user, if any.
    """

    __slots__ = (
        "_parsed",
        "body",
        "fault",
        "headers",
        "method",
        "path",
        "path_id",
        "peer",
        "query",
        "route",
        "status",
        "time",
        "user_id",
    )

    def __init__(
        self,
        method: str,
        path: str,
        query: MultiMapping[str],
        headers: CIMultiDictProxy[str],
        body: bytes,
        time: float,
        route: str | None,
        path_id: str | None,
        peer: str = "",
    ) -> None:
        self.method = method
        self.peer = peer
        self.path = path
        self.query = query
        self.headers = headers
        self.body = body
        self.time = time
        self.route = route
        self.path_id = path_id
        self.status: int | None = None
        self.fault: Fault | None = None
        self.user_id: str | None = None
        self._parsed: Any = self

    @property
    def json(self) -> Any:
        """The body parsed as JSON; ``None`` when it is empty or not JSON."""
        if self._parsed is self:
            try:
                self._parsed = json.loads(self.body) if self.body else None
            except (ValueError, RecursionError):
                self._parsed = None
        return self._parsed

    def __repr__(self) -> str:
        return f"<FakeRequest {self.method} {self.path} route={self.route} status={self.status}>"


class Stats:
    """Request log and counters; ``max_in_flight*`` are high-water marks."""

    def __init__(self) -> None:
        self.record = True
        self.requests: list[FakeRequest] = []
        self.total = 0
        self.route_counts: Counter[str] = Counter()
        self.in_flight = 0
        self.max_in_flight = 0
        self.in_flight_by_route: Counter[str] = Counter()
        self.max_in_flight_by_route: dict[str, int] = {}

    def seen(self, request: FakeRequest) -> None:
        """Log a request that is answered at once (unknown path or method)."""
        self.total += 1
        if self.record:
            self.requests.append(request)

    def begin(self, request: FakeRequest, route: str) -> None:
        self.seen(request)
        self.route_counts[route] += 1
        self.in_flight += 1
        self.max_in_flight = max(self.max_in_flight, self.in_flight)
        now = self.in_flight_by_route[route] = self.in_flight_by_route[route] + 1
        if now > self.max_in_flight_by_route.get(route, 0):
            self.max_in_flight_by_route[route] = now

    def end(self, route: str) -> None:
        self.in_flight -= 1
        self.in_flight_by_route[route] -= 1

    def reset(self) -> None:
        """Forget the log and counters (in-flight requests still finish cleanly)."""
        self.requests = []
        self.total = 0
        self.route_counts.clear()
        self.max_in_flight = self.in_flight
        self.max_in_flight_by_route = {r: n for r, n in self.in_flight_by_route.items() if n}
