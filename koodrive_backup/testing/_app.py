"""The request pipeline: one aiohttp handler for every path.

route -> log and count -> pick faults -> wait (latency) -> auth + X-Date -> operation ->
JSON answer (or the fault's answer, or a dropped connection). No middleware: the per-request
cost is one dict lookup for the route plus the work itself.
"""

from __future__ import annotations

import asyncio
import email.utils
import json
import logging
import time
from collections.abc import Callable
from typing import Any, Final

from aiohttp import web

from ._auth import Credentials, Incoming, authenticate, check_x_date
from ._errors import INTERNAL_ERROR, PARAM_INVALID, ApiError
from ._fault import CANNED_SUCCESS, MALFORMED_BODY, Fault
from ._faults import FaultPlan
from ._requests import FakeRequest, Stats
from ._routes import match
from ._service import Call, Service

log = logging.getLogger("koodrive_backup.testing")

JSON: Final = "application/json"
_dumps = json.JSONEncoder(ensure_ascii=False, separators=(",", ":")).encode


class ServerClock:
    """Server time: ``base()`` (default ``time.time``) plus ``offset`` seconds."""

    def __init__(self, base: Callable[[], float] | None, offset: float) -> None:
        self.base: Callable[[], float] = base or time.time
        self.offset = offset
        self.custom = base is not None

    def __call__(self) -> float:
        return self.base() + self.offset

    @property
    def shifted(self) -> bool:
        return self.custom or self.offset != 0.0


def _error_body(exc: ApiError) -> bytes:
    return _dumps({"code": exc.code, "msg": exc.msg}).encode()


class Pipeline:
    """Holds the knobs read on every request; ``handle`` is the aiohttp handler."""

    def __init__(
        self,
        service: Service,
        creds: Credentials,
        faults: FaultPlan,
        stats: Stats,
        clock: ServerClock,
    ) -> None:
        self.service = service
        self.creds = creds
        self.faults = faults
        self.stats = stats
        self.clock = clock
        self.latency = 0.0
        self.path_prefix = ""  # a gateway's mount point before the API paths

    async def handle(self, request: web.Request) -> web.StreamResponse:
        now = self.clock()
        try:
            body = await request.read()
        except web.HTTPRequestEntityTooLarge:
            too_big = ApiError(413, PARAM_INVALID, "request body too large")
            return self._refuse(request, b"", now, too_big)
        try:
            route, path_id = match(request.method, self._api_path(request.path))
        except ApiError as exc:
            return self._refuse(request, body, now, exc)
        rec = self._record(request, body, now, route, path_id)
        self.stats.begin(rec, route)
        try:
            return await self._run(request, rec, now)
        finally:
            self.stats.end(route)

    def _api_path(self, path: str) -> str:
        """The path under the mount point (the signature covers the whole path received)."""
        prefix = self.path_prefix
        if not prefix:
            return path
        return path[len(prefix) :] if path.startswith(prefix + "/") else ""

    def _refuse(self, request: web.Request, body: bytes, now: float, exc: ApiError) -> web.Response:
        """Answer a request that matched no route (logged, not counted per route)."""
        rec = self._record(request, body, now, None, None)
        self.stats.seen(rec)
        return self._answer(rec, exc.status, _error_body(exc), now)

    @staticmethod
    def _record(
        request: web.Request,
        body: bytes,
        now: float,
        route: str | None,
        path_id: str | None,
    ) -> FakeRequest:
        peername = request.transport.get_extra_info("peername") if request.transport else None
        peer = f"{peername[0]}:{peername[1]}" if peername else ""
        return FakeRequest(
            request.method,
            request.path,
            request.query,
            request.headers,
            body,
            now,
            route,
            path_id,
            peer,
        )

    async def _run(self, request: web.Request, rec: FakeRequest, now: float) -> web.StreamResponse:
        extra, fault = self.faults.pick(rec)
        delay = self.latency + extra
        if delay > 0:
            await asyncio.sleep(delay)
        if fault is None:
            status, payload = self._process(request, rec, now)
            return self._answer(rec, status, payload, now)
        rec.fault = fault
        if fault.kind == "disconnect":
            return self._drop(request)
        processed = self._process(request, rec, now) if fault.process else None
        if fault.kind == "lose_response":
            return self._drop(request)
        status, payload, headers = _fault_answer(fault, processed)
        return self._answer(rec, status, payload, now, headers)

    def _process(self, request: web.Request, rec: FakeRequest, now: float) -> tuple[int, bytes]:
        """Authenticate and run the operation; (HTTP status, JSON body)."""
        assert rec.route is not None
        headers = request.headers
        try:
            incoming = Incoming(rec.method, rec.path, request.query.items(), headers, rec.body)
            user_id = authenticate(self.creds, incoming)
            rec.user_id = user_id
            check_x_date(headers.get("X-Date"), now)
            call = Call(user_id, rec.path_id, request.query, headers, rec.body)
            result = self.service.handlers[rec.route](call)
        except ApiError as exc:
            return exc.status, _error_body(exc)
        except Exception:  # a bug in the fake: answer 500 rather than let aiohttp log an HTML page
            log.exception("fake KooDrive failed on %s %s", rec.method, rec.path)
            return 500, _error_body(ApiError(500, INTERNAL_ERROR, "fake server error"))
        return 200, _dumps(result).encode()

    def _answer(
        self,
        rec: FakeRequest,
        status: int,
        payload: bytes,
        now: float,
        headers: dict[str, str] | None = None,
    ) -> web.Response:
        rec.status = status
        log.debug("%s %s -> %d", rec.method, rec.path, status)  # fake-server --debug
        # Date on the shifted clock; otherwise aiohttp sets it from time.time(), the same.
        if self.clock.shifted:
            headers = dict(headers or {})
            headers["Date"] = email.utils.formatdate(now, usegmt=True)
        return web.Response(body=payload, status=status, content_type=JSON, headers=headers)

    @staticmethod
    def _drop(request: web.Request) -> web.Response:
        """Close the connection; aiohttp then fails to write the returned response and treats
        it as a client disconnect (no log, no traceback). The client sees the connection end."""
        transport = request.transport
        if transport is not None:
            transport.close()
        return web.Response(status=204)


def _fault_answer(
    fault: Fault, processed: tuple[int, bytes] | None
) -> tuple[int, bytes, dict[str, str] | None]:
    """(status, body, extra headers) for a fault that answers."""
    if fault.kind in ("status", "body_code"):
        headers = None if fault.retry_after is None else {"Retry-After": fault.retry_after}
        body: dict[str, Any] = {"code": fault.code, "msg": fault.msg}
        return fault.http_status, _dumps(body).encode(), headers
    if fault.kind == "malformed_json":
        return 200, MALFORMED_BODY, None
    whole = processed[1] if processed is not None else CANNED_SUCCESS
    return 200, whole[: len(whole) // 2], None
