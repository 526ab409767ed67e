"""The I/O seam: one HTTP exchange, and the clock. The only client-side user of aiohttp.

Everything above this module works on plain values: a ``Transport`` takes an ``HttpRequest``
(method, URL, headers, body, timeout) and returns a ``RawResponse`` (status, headers, body
bytes), or raises ``APIConnectionError``/``APITimeoutError``. A ``Clock`` gives the wall
clock (for ``X-Date``), a monotonic clock (for deadlines and lock lifetimes) and ``sleep``.
``BackupClient(transport=..., clock=...)`` replaces either, so signing, retries, the 401
re-send, error mapping and lock renewal are tested without sockets and without waiting, the
way httpx's ``MockTransport`` allows. The default transport is ``AiohttpTransport``.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Mapping
from typing import NamedTuple, Protocol

import aiohttp

from ._protocol import RawResponse
from .errors import APIConnectionError, APITimeoutError

__all__ = [
    "AiohttpTransport",
    "ClientSession",
    "Clock",
    "HttpRequest",
    "SystemClock",
    "Transport",
]

#: What ``BackupClient(session=...)`` borrows (named here: aiohttp stays in this module).
ClientSession = aiohttp.ClientSession


class HttpRequest(NamedTuple):
    """One exchange to perform: everything that goes on the wire, plus the attempt's timeout."""

    method: str
    url: str
    headers: Mapping[str, str]
    body: bytes
    timeout: float  # seconds for the whole exchange

    def __str__(self) -> str:  # for messages: never the headers (they carry credentials)
        return f"{self.method} {self.url}"


class Transport(Protocol):
    """Performs one HTTP exchange. Send the ``Host`` header an HTTP client derives from the URL
    (the host in lower case, the port only when not the scheme's default: a signature covers
    that value). Raise ``APIConnectionError`` (``request_sent=False`` only when the request
    surely never reached the server) or ``APITimeoutError``; never follow redirects; never
    retry (the session does, under the retry policy)."""

    async def send(self, request: HttpRequest) -> RawResponse: ...

    async def aclose(self) -> None: ...


class Clock(Protocol):
    """Time as the client sees it: ``time()`` epoch seconds, ``monotonic()`` seconds for
    intervals, ``sleep()`` to wait. Inject a virtual one to test without waiting."""

    def time(self) -> float: ...

    def monotonic(self) -> float: ...

    async def sleep(self, seconds: float) -> None: ...


class SystemClock:
    """The real clocks and ``asyncio.sleep``."""

    def __init__(self) -> None:
        self.time = time.time  # the C functions themselves: read on every attempt
        self.monotonic = time.monotonic

    async def sleep(self, seconds: float) -> None:
        await asyncio.sleep(seconds)


class AiohttpTransport:
    """Sends over an ``aiohttp.ClientSession``: its own (created lazily, closed by
    ``aclose``) or a borrowed one (never closed here)."""

    def __init__(
        self, session: ClientSession | None = None, *, connection_limit: int = 100
    ) -> None:
        self._session = session
        self._owns_session = session is None
        self._connection_limit = connection_limit
        self._timeouts: dict[float, aiohttp.ClientTimeout] = {}

    async def aclose(self) -> None:
        """Close the session we own (never a borrowed one). Safe to call more than once."""
        session, self._session = self._session, None
        if session is not None and self._owns_session:
            await session.close()

    def _http(self) -> aiohttp.ClientSession:
        if self._session is None:  # created lazily: aiohttp wants a running loop
            connector = aiohttp.TCPConnector(limit=self._connection_limit)
            self._session = aiohttp.ClientSession(connector=connector)
        return self._session

    def _timeout(self, seconds: float) -> aiohttp.ClientTimeout:
        timeout = self._timeouts.get(seconds)
        if timeout is None:  # one object per distinct value, not one per request
            timeout = self._timeouts[seconds] = aiohttp.ClientTimeout(total=seconds)
        return timeout

    async def send(self, request: HttpRequest) -> RawResponse:
        """One exchange; transport failures become the SDK's connection errors."""
        try:
            async with self._http().request(
                request.method,
                request.url,  # only validated ID characters and our own percent-encoding
                data=request.body or None,
                headers=request.headers,
                timeout=self._timeout(request.timeout),
                allow_redirects=False,
            ) as resp:
                return RawResponse(resp.status, resp.headers, await resp.read())
        except aiohttp.ConnectionTimeoutError as exc:
            raise APITimeoutError(_what(request, exc), request_sent=False) from exc
        except TimeoutError as exc:
            raise APITimeoutError(_what(request, exc)) from exc
        except aiohttp.ClientConnectorError as exc:
            raise APIConnectionError(_what(request, exc), request_sent=False) from exc
        except (aiohttp.ClientError, OSError) as exc:
            raise APIConnectionError(_what(request, exc)) from exc


def _what(request: HttpRequest, exc: BaseException) -> str:
    detail = str(exc) or type(exc).__name__
    return f"{request}: {type(exc).__name__}: {detail}"
