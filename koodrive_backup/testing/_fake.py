"""``FakeKooDrive``: lifecycle, knobs, seeding and inspection of the embedded fake server."""

from __future__ import annotations

import itertools
import random
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any, NamedTuple, Self

from aiohttp import web

from ._app import Pipeline, ServerClock
from ._auth import App, Credentials
from ._decode import MODULE_CODES
from ._faults import Fault, FaultPlan, FaultRule, Predicate, RandomFaults
from ._requests import FakeRequest, Stats
from ._routes import PREFIX, ROUTE_NAMES
from ._service import Service
from ._store import Config, Device, Record, Store

# Bodies here are small; 4 MiB leaves room for oversized tests without unbounded reads.
_MAX_BODY = 4 * 1024 * 1024


class FakeUser(NamedTuple):
    user_id: str
    token: str


def _module(code: str) -> str:
    if code not in MODULE_CODES:
        raise ValueError(f'module_code must be "100", "101" or "102", not {code!r}')
    return code


class FakeKooDrive:
    """An in-process KooDrive backup server on ``host:port`` (default ``127.0.0.1:0``).

    Use ``async with FakeKooDrive() as fake:`` or ``await fake.start()`` /
    ``await fake.close()``. ``fake.url``, ``fake.user_id`` and ``fake.token`` make a valid
    bearer credential; ``app_id``/``app_secret`` also enable HMAC signing for that user.
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
        clock_skew: float = 0.0,
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
        self._machine_seq = itertools.count(1)
        self._clock = ServerClock(clock, clock_skew)
        self._store = Store(self._clock, seed)
        self._creds = Credentials()
        self._stats = Stats()
        self._stats.record = record_requests
        self._faults = FaultPlan()
        self._service = Service(self._store, lock_ttl)
        self._pipeline = Pipeline(
            self._service, self._creds, self._faults, self._stats, self._clock
        )
        self._pipeline.latency = latency
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
    def clock_skew(self) -> float:
        """Server clock minus real (or injected) time, in seconds."""
        return self._clock.skew

    @clock_skew.setter
    def clock_skew(self, seconds: float) -> None:
        self._clock.skew = seconds

    @property
    def clock(self) -> Callable[[], float]:
        """The base clock (``time.time`` unless injected); ``now()`` adds the skew."""
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

    # -- seeding: users and apps ----------------------------------------------------------

    def add_user(self, *, token: str | None = None, user_id: str | None = None) -> FakeUser:
        """A new user with its own bearer token (both generated when omitted)."""
        user_id = user_id if user_id is not None else self._store.ids.next()
        token = token if token is not None else self._store.ids.uuid().replace("-", "")
        self._creds.tokens[token] = user_id
        self._creds.users.add(user_id)
        return FakeUser(user_id, token)

    def add_app(self, app_id: str, app_secret: str, *, user_id: str | None = None) -> None:
        """Accept HMAC signatures by ``app_id`` acting for ``user_id``, or, by default, for
        every user of the fake (the one ``X-User-Id`` names)."""
        self._creds.apps[app_id] = App(app_id, app_secret, user_id)

    def revoke_token(self, token: str) -> None:
        """Make ``token`` invalid from now on (token-refresh tests)."""
        self._creds.tokens.pop(token, None)

    # -- seeding: devices, scopes, configs ------------------------------------------------

    def add_device(
        self,
        *,
        user_id: str | None = None,
        machine_code: str | None = None,
        device_name: str | None = "fake device",
        device_os: str | None = "linux",
    ) -> str:
        """Bind a device for ``user_id`` (default user; an ID not made by ``add_user`` becomes
        a user the app credentials sign for); returns its 19-digit ID."""
        owner = self.user_id if user_id is None else user_id
        self._creds.users.add(owner)
        code = machine_code if machine_code is not None else f"fake_{next(self._machine_seq)}"
        return self._store.add_device(owner, code, device_name, device_os).device_id

    def _device(self, device_id: str) -> Device:
        try:
            return self._store.devices[device_id]
        except KeyError:
            raise KeyError(f"no such device: {device_id}") from None

    def add_scopes(
        self,
        device_id: str,
        count: int,
        *,
        module_code: str = "101",
        paths: Iterable[tuple[str, str]] | None = None,
    ) -> list[str]:
        """Create ``count`` scopes: ``/local/<n>`` -> ``/cloud/<n>``, or the first ``count``
        (localPath, targetFolderPath) pairs of ``paths``. Returns their IDs in order."""
        device = self._device(device_id)
        module = _module(module_code)
        if paths is None:
            paths = ((f"/local/{n}", f"/cloud/{n}") for n in range(count))
        created = self._store.now_text()
        add = self._store.add_scope
        return [
            add(device, module, local, target, created).scope_id
            for local, target in itertools.islice(paths, count)
        ]

    def has_scope(self, device_id: str, scope_id: str) -> bool:
        device = self._store.devices.get(device_id)
        return device is not None and scope_id in device.scopes

    def scope_ids(self, device_id: str, module_code: str | None = None) -> list[str]:
        """The device's scope IDs in creation order (optionally one module's)."""
        scopes = self._device(device_id).scopes.values()
        return [s.scope_id for s in scopes if module_code in (None, s.module_code)]

    def has_device(self, device_id: str) -> bool:
        return device_id in self._store.devices

    def add_config(
        self,
        device_id: str,
        module_code: str,
        name: str,
        value: str,
        *,
        description: str = "",
    ) -> None:
        """Create or overwrite one config item."""
        self._device(device_id).configs[(_module(module_code), name)] = Config(value, description)

    def config_value(self, device_id: str, module_code: str, name: str) -> str | None:
        item = self._device(device_id).configs.get((module_code, name))
        return None if item is None else item.value

    # -- seeding: records and files -------------------------------------------------------

    def add_record(
        self,
        device_id: str,
        *,
        module_code: str = "101",
        files: int = 0,
        properties: str | None = None,
        completed: bool = False,
    ) -> str:
        """Create a record (owned by the device's user) with ``files`` files."""
        record = self._store.add_record(self._device(device_id), _module(module_code), properties)
        for n in range(files):
            extra = {"sha256": "0" * 64, "size": n}
            self._store.add_file(record, f"file{n}.bin", extra)
        if completed:
            record.status, record.version = 1, 2
            record.end_time = self._store.now_text()
        return record.record_id

    def add_file(self, record_id: str, file_name: str = "file.bin", *, size: int = 0) -> str:
        record = self._record(record_id)
        return self._store.add_file(record, file_name, {"size": size}).file_id

    def _record(self, record_id: str) -> Record:
        try:
            return self._store.records[record_id]
        except KeyError:
            raise KeyError(f"no such record: {record_id}") from None

    def has_record(self, record_id: str) -> bool:
        return record_id in self._store.records

    def record_json(self, record_id: str) -> dict[str, Any]:
        """The record as ``getBackupRecord`` would return it in ``data``."""
        return self._record(record_id).to_json()

    def file_ids(self, record_id: str) -> list[str]:
        return [f.file_id for f in self._record(record_id).files.values()]

    # -- seeding: locks -------------------------------------------------------------------

    def add_lock(
        self, module_code: str, *, user_id: str | None = None, ttl: float | None = None
    ) -> str:
        """Hold a lock as ``user_id`` (default user), replacing that user's lock."""
        owner = self.user_id if user_id is None else user_id
        ttl = self.lock_ttl if ttl is None else ttl
        return self._store.add_lock(owner, _module(module_code), ttl).lock_id

    def has_lock(self, lock_id: str) -> bool:
        """True while the lock exists and has not expired."""
        lock = self._store.locks.get(lock_id)
        return lock is not None and lock.expires_at > self._clock()

    def lock_expires_at(self, lock_id: str) -> float | None:
        lock = self._store.locks.get(lock_id)
        return None if lock is None else lock.expires_at

    def expire_lock(self, lock_id: str) -> None:
        """Make a lock expire now (without waiting for ``lock_ttl``)."""
        self._store.locks[lock_id].expires_at = self._clock()


def _check_route(route: str | None) -> None:
    if route is not None and route not in ROUTE_NAMES:
        raise ValueError(f"unknown route name: {route!r}")
