"""``FakeKooDrive``: lifecycle, knobs, faults and request statistics of the embedded fake
server; seeding and inspecting its store is ``_seeding.Seeding``, its base."""

from __future__ import annotations

import random
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Self

from aiohttp import web

from ._app import Pipeline, ServerClock
from ._auth import Credentials
from ._fault import Fault
from ._faults import FaultPlan, FaultRule, Predicate, RandomFaults
from ._requests import FakeRequest, Stats
from ._routes import PREFIX, ROUTE_NAMES
from ._seeding import Seeding
from ._service import Service
from ._store import Store

# Bodies here are small; 4 MiB leaves room for oversized tests without unbounded reads.
_MAX_BODY = 4 * 1024 * 1024


class FakeKooDrive(Seeding):
    """An in-process KooDrive backup server on ``host:port`` (default ``127.0.0.1:0``).

    Use ``async with FakeKooDrive() as fake:`` or ``await fake.start()`` /
    ``await fake.close()``. ``fake.url``, ``fake.user_id`` and ``fake.token`` make a valid
    bearer credential; ``app_id``/``app_secret`` also enable HMAC signing for that user.

    The server's clock is ``clock()`` (default ``time.time``) plus ``clock_offset`` seconds;
    the ``Date`` header of every answer, the ``X-Date`` window and stored times follow it,
    so ``fake.clock_offset = -3600`` plays a server whose clock is an hour behind the
    client's.
    ``path_prefix="/gateway"`` serves the API under that path, as behind a gateway (``url``
    then ends with it; signatures cover the whole path received).
    """

    def __init__(
        self,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        user_id: str | None = None,
        token: str | None = None,
        app_id: str | None = None,
        app_secret: str | None = None,
        lock_ttl: float = 600.0,
        latency: float = 0.0,
        clock: Callable[[], float] | None = None,
        clock_offset: float = 0.0,
        seed: int | None = None,
        record_requests: bool = True,
        path_prefix: str = "",
    ) -> None:
        if (app_id is None) != (app_secret is None):
            raise TypeError("give both app_id and app_secret, or neither")
        if path_prefix and (not path_prefix.startswith("/") or path_prefix.endswith("/")):
            raise ValueError('path_prefix is "" or like "/gateway" (no trailing slash)')
        self.host = host
        self._port = port
        self._runner: web.AppRunner | None = None
        clock_ = ServerClock(clock, clock_offset)
        store, creds = Store(clock_, seed), Credentials()
        self._stats = Stats()
        self._stats.record = record_requests
        self._faults = FaultPlan()
        self._service = Service(store, lock_ttl)
        self._pipeline = Pipeline(self._service, creds, self._faults, self._stats, clock_)
        self._pipeline.latency = latency
        super().__init__(store, creds, clock_, self._service)
        self._pipeline.path_prefix = path_prefix
        self.user_id, self.token = self.add_user(token=token, user_id=user_id)
        self.app_id = app_id
        self.app_secret = app_secret
        if app_id is not None and app_secret is not None:
            self.add_app(app_id, app_secret)

    # -- lifecycle ------------------------------------------------------------------------

    async def start(self) -> Self:
        """Bind and serve; returns ``self``."""
        if self._runner is not None:
            raise RuntimeError("FakeKooDrive is already started")
        app = web.Application(client_max_size=_MAX_BODY)
        app.router.add_route("*", "/{tail:.*}", self._pipeline.handle)
        runner = web.AppRunner(app, access_log=None, shutdown_timeout=1.0)
        await runner.setup()
        try:
            await web.TCPSite(runner, self.host, self._port).start()
        except BaseException:
            await runner.cleanup()
            raise
        self._port = runner.addresses[0][1]
        self._runner = runner
        return self

    async def close(self) -> None:
        """Stop serving; safe to call more than once."""
        runner, self._runner = self._runner, None
        if runner is not None:
            await runner.cleanup()

    async def __aenter__(self) -> Self:
        return await self.start()

    async def __aexit__(self, *exc_info: object) -> None:
        await self.close()

    @property
    def port(self) -> int:
        return self._port

    @property
    def url(self) -> str:
        """``http://127.0.0.1:<port>`` plus any ``path_prefix`` (clients add
        ``/koodrive/ose/v1/backup``)."""
        if self._runner is None:
            raise RuntimeError("FakeKooDrive is not started")
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self._port}{self._pipeline.path_prefix}"

    @property
    def api_url(self) -> str:
        """``url`` plus the API prefix ``/koodrive/ose/v1/backup``."""
        return self.url + PREFIX

    # -- knobs ----------------------------------------------------------------------------

    @property
    def latency(self) -> float:
        """Seconds added to every request before it is handled."""
        return self._pipeline.latency

    @latency.setter
    def latency(self, seconds: float) -> None:
        if seconds < 0:
            raise ValueError("latency must be >= 0")
        self._pipeline.latency = seconds

    @property
    def clock_offset(self) -> float:
        """Seconds the server's clock is ahead of ``clock()`` (negative: behind). Settable at
        any time; answers' ``Date`` headers and the ``X-Date`` window follow it."""
        return self._clock.offset

    @clock_offset.setter
    def clock_offset(self, seconds: float) -> None:
        self._clock.offset = float(seconds)

    @property
    def clock(self) -> Callable[[], float]:
        """The base clock (``time.time`` unless injected); ``now()`` adds ``clock_offset``."""
        return self._clock.base

    @clock.setter
    def clock(self, base: Callable[[], float]) -> None:
        self._clock.base = base
        self._clock.custom = True

    def now(self) -> float:
        """The server's current time (POSIX seconds)."""
        return self._clock()

    @property
    def lock_ttl(self) -> float:
        return self._service.lock_ttl

    @lock_ttl.setter
    def lock_ttl(self, seconds: float) -> None:
        self._service.lock_ttl = seconds

    @property
    def record_requests(self) -> bool:
        return self._stats.record

    @record_requests.setter
    def record_requests(self, on: bool) -> None:
        self._stats.record = on

    # -- inspection -----------------------------------------------------------------------

    @property
    def requests(self) -> list[FakeRequest]:
        """Requests received, in arrival order (empty while ``record_requests`` is off)."""
        return self._stats.requests

    @property
    def request_count(self) -> int:
        """All requests received, unknown paths included."""
        return self._stats.total

    @property
    def route_counts(self) -> Mapping[str, int]:
        """Requests per route name (a ``Counter``: missing routes read as 0)."""
        return self._stats.route_counts

    @property
    def in_flight(self) -> int:
        return self._stats.in_flight

    @property
    def max_in_flight(self) -> int:
        return self._stats.max_in_flight

    @property
    def max_in_flight_by_route(self) -> Mapping[str, int]:
        return self._stats.max_in_flight_by_route

    def reset_stats(self) -> None:
        """Clear the request log, counters and high-water marks."""
        self._stats.reset()

    # -- faults ---------------------------------------------------------------------------

    def inject(
        self,
        fault: Fault,
        *,
        route: str | None = None,
        times: int | None = 1,
        when: Predicate | None = None,
    ) -> FaultRule:
        """Apply ``fault`` to the next ``times`` matching requests (``None``: forever)."""
        _check_route(route)
        rule = FaultRule(fault, route, times, when)
        self._faults.rules.append(rule)
        return rule

    def set_random_faults(
        self,
        rate: float,
        faults: Sequence[Fault] = (),
        *,
        seed: int | None = 0,
        route: str | Iterable[str] | None = None,
    ) -> None:
        """Each request (on ``route``, a route name or several) gets one of ``faults`` with
        probability ``rate``."""
        routes = None if route is None else frozenset([route] if isinstance(route, str) else route)
        for name in routes or ():
            _check_route(name)
        if not 0.0 <= rate <= 1.0:
            raise ValueError("rate must be within [0, 1]")
        if rate == 0.0:
            self._faults.random = None
            return
        if not faults:
            faults = (Fault.status(503),)
        self._faults.random = RandomFaults(rate, tuple(faults), random.Random(seed), routes)

    def clear_faults(self) -> None:
        """Drop scripted and random faults (``latency`` is kept)."""
        self._faults.rules.clear()
        self._faults.random = None

    @property
    def fault_rules(self) -> list[FaultRule]:
        """The scripted rules still active, in order."""
        return list(self._faults.rules)


def _check_route(route: str | None) -> None:
    if route is not None and route not in ROUTE_NAMES:
        raise ValueError(f"unknown route name: {route!r}")
