"""The only client-side user of aiohttp: per attempt sign -> send -> read -> classify.

``Transport.call`` runs one API call under the retry policy. Each attempt gets a fresh
``X-Date`` and fresh auth headers; ``_send`` is the single I/O seam (it awaits aiohttp and
returns plain values); everything around it is synchronous and tested without sockets.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Mapping
from functools import partial
from urllib.parse import quote, urlsplit

import aiohttp

from ._protocol import Payload, RawResponse, Request, read_payload
from ._retry import RetryPolicy, call_with_retries
from ._signing import Auth, SignableRequest, XDateClock
from .errors import APIConnectionError, APITimeoutError, AuthenticationError

__all__ = ["Transport"]

logger = logging.getLogger("koodrive_backup")
Sleep = Callable[[float], Awaitable[None]]


class Transport:
    """Owns (or borrows) one ``aiohttp.ClientSession`` and sends signed, retried requests."""

    def __init__(
        self,
        base_url: str,
        *,
        user_id: str,
        auth: Auth,
        retry: RetryPolicy,
        timeout: float,
        session: aiohttp.ClientSession | None,
        clock_skew_margin: float,
        connection_limit: int,
        sleep: Sleep | None,
    ) -> None:
        self._base = base_url
        self._host = urlsplit(base_url).netloc
        self._user_id = user_id
        self.auth = auth
        self.retry = retry
        self._timeout = aiohttp.ClientTimeout(total=timeout)
        self._session = session
        self._owns_session = session is None
        self._connection_limit = connection_limit
        self._x_date = XDateClock(clock_skew_margin)
        self._sleep: Sleep = sleep or asyncio.sleep
        self._closed = False

    @property
    def closed(self) -> bool:
        return self._closed

    async def close(self) -> None:
        """Close the session we own (never a borrowed one). Safe to call more than once."""
        self._closed = True
        session, self._session = self._session, None
        if session is not None and self._owns_session:
            await session.close()

    def _http(self) -> aiohttp.ClientSession:
        if self._closed:
            raise RuntimeError("this BackupClient is closed")
        if self._session is None:  # created lazily: aiohttp wants a running loop
            connector = aiohttp.TCPConnector(limit=self._connection_limit)
            self._session = aiohttp.ClientSession(connector=connector)
        return self._session

    async def call(self, req: Request, *, idempotent: bool | None = None) -> Payload:
        """Send ``req`` under the retry policy and return the answer's JSON object.

        The first attempt runs bare; the retry machinery is built only after it failed.
        """
        # A closed client raises RuntimeError in _send, before any I/O; it is never retried.
        return await call_with_retries(
            partial(self._attempt, req),
            self.retry,
            idempotent=req.idempotent if idempotent is None else idempotent,
            sleep=self._sleep,
            describe=req,  # formatted by the logger, only if a retry is logged
        )

    async def _attempt(self, req: Request, number: int) -> Payload:
        """One attempt: fresh X-Date and auth headers, send, classify the answer."""
        x_date = self._x_date()
        used = self.auth.cached_headers()  # a static bearer token: no call, no await
        if used is None:
            used = await self.auth.headers(self._signable(req, x_date))
            headers = self._headers(req, x_date, used, host=True)  # signed: send it as signed
        else:
            headers = self._headers(req, x_date, used, host=False)  # aiohttp derives Host
        response = await self._send(req, headers, number)
        try:
            return read_payload(response, req)
        except AuthenticationError:
            if not await self.auth.refresh(used):
                raise
        return await self._resend_with_new_credential(req, number)

    async def _resend_with_new_credential(self, req: Request, number: int) -> Payload:
        """After a 401 the credential was asked for again: re-sent once, and this is not
        counted as an attempt (API.md); a second 401 drops the cached credential."""
        x_date = self._x_date()
        used = await self.auth.headers(self._signable(req, x_date))
        response = await self._send(req, self._headers(req, x_date, used, host=True), number)
        try:
            return read_payload(response, req)
        except AuthenticationError:
            self.auth.forget()
            raise

    def _signable(self, req: Request, x_date: str) -> SignableRequest:
        signed = {"x-date": x_date, "x-user-id": self._user_id}
        return SignableRequest(req.method, self._host, req.path, req.query, signed, req.body)

    def _headers(
        self, req: Request, x_date: str, auth: Mapping[str, str], *, host: bool
    ) -> dict[str, str]:
        headers = {"X-Date": x_date, "X-User-Id": self._user_id}
        if host:  # a signature covers the Host value: send exactly the one that was signed
            headers["Host"] = self._host
        if req.body:
            headers["Content-Type"] = "application/json"
        headers.update(req.headers)
        headers.update(auth)
        return headers

    async def _send(self, req: Request, headers: dict[str, str], number: int) -> RawResponse:
        """The I/O seam: one HTTP exchange, transport failures mapped to SDK errors."""
        url = self._base + req.path
        if req.query:
            url += "?" + "&".join(f"{quote(k, safe='')}={quote(v, safe='')}" for k, v in req.query)
        started = time.monotonic()
        try:
            async with self._http().request(
                req.method,
                url,  # only validated ID characters and our own percent-encoding: no requoting
                data=req.body or None,
                headers=headers,
                timeout=self._timeout,
                allow_redirects=False,
            ) as resp:
                response = RawResponse(resp.status, resp.headers, await resp.read())
        except aiohttp.ConnectionTimeoutError as exc:
            raise APITimeoutError(_what(req, exc), request_sent=False) from exc
        except TimeoutError as exc:
            raise APITimeoutError(_what(req, exc)) from exc
        except aiohttp.ClientConnectorError as exc:
            raise APIConnectionError(_what(req, exc), request_sent=False) from exc
        except (aiohttp.ClientError, OSError) as exc:
            raise APIConnectionError(_what(req, exc)) from exc
        if logger.isEnabledFor(logging.DEBUG):
            elapsed = (time.monotonic() - started) * 1000
            logger.debug(
                "%s %s -> %d (attempt %d, %.1f ms)",
                req.method,
                req.path,
                response.status,
                number,
                elapsed,
            )
        return response


def _what(req: Request, exc: BaseException) -> str:
    detail = str(exc) or type(exc).__name__
    return f"{req.method} {req.path}: {type(exc).__name__}: {detail}"
