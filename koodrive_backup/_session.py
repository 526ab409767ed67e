"""The per-attempt loop: sign -> send (through the transport) -> classify, under retries.

``Session.call`` runs one API call under the retry policy. Each attempt gets a fresh
``X-Date`` and fresh auth headers; the exchange itself goes through the injectable
``Transport`` (``_transport``), so everything here is tested without sockets.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from functools import partial
from typing import Any, TypeVar
from urllib.parse import quote

from ._call_watch import CallWatch
from ._protocol import Endpoint, Payload, Request, host_header, read_payload
from ._retry import Retrier, RetryPolicy
from ._signing import Auth, SignableRequest, XDateClock
from ._telemetry import Telemetry
from ._transport import Clock, HttpRequest, Transport
from .errors import AuthenticationError

__all__ = ["Session"]

logger = logging.getLogger("koodrive_backup")
T = TypeVar("T")


class Session:
    """Signs, sends and classifies the requests of one client, retrying under its policy."""

    def __init__(
        self,
        base_url: str,
        *,
        user_id: str,
        auth: Auth,
        retry: RetryPolicy,
        timeout: float,
        transport: Transport,
        clock: Clock,
        clock_skew_margin: float,
        telemetry: Telemetry | None = None,
    ) -> None:
        self.base_url = base_url
        self.auth = auth
        self.transport = transport
        self.clock = clock
        self.retrier = Retrier(retry, sleep=clock.sleep, clock=clock.monotonic)
        self._host = host_header(base_url)  # what the transport sends, and a signature covers
        self._user_id = user_id
        self._timeout = timeout
        self._x_date = XDateClock(clock_skew_margin, now=clock.time)
        self.closed = False
        if telemetry is None:
            telemetry = Telemetry(None, None, base_url=base_url, clock=clock.monotonic)
        self.telemetry = telemetry
        # Telemetry: the one check on the hot path. ``None`` when no hook or adapter exists;
        # else ``watch(req)`` returns ``None`` while nothing records (the plain path below).
        self._watch = self.telemetry.watch if self.telemetry.enabled else None

    async def close(self) -> None:
        """Close the transport; later calls raise ``RuntimeError``. Safe to call twice."""
        self.closed = True
        await self.transport.aclose()

    async def call(
        self, endpoint: Endpoint[T], /, *, retry_unsafe: bool = False, **values: Any
    ) -> T:
        """Build ``endpoint``'s request from validated ``values``, send it under the retry
        policy, and decode the answer.

        ``retry_unsafe`` retries a POST/PATCH like a GET (the caller says a repeat is harmless).
        """
        if self.closed:  # before any I/O, and never retried
            raise RuntimeError("this BackupClient is closed")
        req = endpoint.request(values)
        idempotent = retry_unsafe or endpoint.idempotent
        if self._watch is not None and (watch := self._watch(req)) is not None:
            return await self._watched_call(watch, endpoint, req, idempotent)  # telemetry
        attempt = partial(self._attempt, req)
        return endpoint.answer(
            await self.retrier.run(attempt, idempotent=idempotent, describe=req), req
        )

    async def _watched_call(
        self, watch: CallWatch, endpoint: Endpoint[T], req: Request, idempotent: bool
    ) -> T:
        """``call`` reporting to ``watch``: the call, each attempt, each exchange."""
        attempt = partial(self._watched_attempt, req, watch)
        with watch:
            payload = await self.retrier.run(attempt, idempotent=idempotent, describe=req)
            return endpoint.answer(payload, req)

    async def _watched_attempt(self, req: Request, watch: CallWatch, number: int) -> Payload:
        with watch.attempt(number):
            return await self._attempt(req, number, watch)

    async def _attempt(self, req: Request, number: int, watch: CallWatch | None = None) -> Payload:
        """One attempt: fresh X-Date and auth headers, send, classify the answer.

        After a 401 the auth strategy may ask for a new credential: then the request is
        re-sent once, and that is not counted as an attempt (API.md); a second 401 drops the
        cached credential.
        """
        refreshed = False
        while True:
            x_date = self._x_date()
            signed = {"x-date": x_date, "x-user-id": self._user_id}
            signable = SignableRequest(
                req.endpoint.method, self._host, req.path, req.query, signed, req.body
            )
            used = await self.auth.headers(signable)
            response = await self.transport.send(self._http_request(req, x_date, used))
            if watch is not None:
                watch.answered(response.status)  # telemetry
            if logger.isEnabledFor(logging.DEBUG):
                logger.debug("%s -> %d (attempt %d)", req, response.status, number)
            try:
                return read_payload(response, req)
            except AuthenticationError as exc:
                if refreshed:
                    self.auth.forget()
                    raise
                if not await self.auth.refresh(used):
                    raise
                refreshed = True
                if watch is not None:
                    watch.resending(exc, "auth")  # telemetry

    def _http_request(self, req: Request, x_date: str, auth: Mapping[str, str]) -> HttpRequest:
        headers = {"X-Date": x_date, "X-User-Id": self._user_id}
        if req.body:
            headers["Content-Type"] = "application/json"
        headers.update(req.headers)
        headers.update(auth)
        url = self.base_url + req.path
        if req.query:
            url += "?" + "&".join(f"{quote(k, safe='')}={quote(v, safe='')}" for k, v in req.query)
        return HttpRequest(req.endpoint.method, url, headers, req.body, self._timeout)
