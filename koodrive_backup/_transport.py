"""The I/O seam: one HTTP exchange, and the clock. The only client-side user of aiohttp.

Everything above this module works on plain values: a ``Transport`` takes an ``HttpRequest``
(method, URL, headers, body, timeout, body size limit) and returns a ``RawResponse`` (status,
headers, body bytes), or raises ``APIConnectionError``/``APITimeoutError`` (or
``ResponseTooLargeError``). A ``Clock`` gives the wall clock (for ``X-Date``), a monotonic
clock (for deadlines and lock lifetimes) and ``sleep``. ``BackupClient(transport=...,
clock=...)`` replaces either, so signing, retries, the 401 re-send, error mapping and lock
renewal are tested without sockets and without waiting, the way httpx's ``MockTransport``
allows. The default transport is ``AiohttpTransport``.

What ``AiohttpTransport`` guarantees, whatever the server sends and whatever a borrowed
session was configured with:

- **one request on the wire per ``send``**: aiohttp re-sends a GET/DELETE by itself after a
  reset or a disconnect (RFC 9112 §9.3.1.1 allows it); here that re-send is turned off, so the
  server sees at most ``max_attempts`` requests per call (API.md "Wire attempts"), and the
  retry policy alone decides what happens after a reset;
- **statuses are data**: ``raise_for_status=False`` and ``allow_redirects=False`` on every
  request, so a borrowed session created with ``raise_for_status=True`` still gives the SDK
  its 404 to map;
- **bounded bodies**: the body is read in pieces with a running count and decompressed here
  (``auto_decompress=False``: the one place where ``gzip``/``deflate`` are handled), never
  past ``max_response_bytes`` of decompressed output; a larger body raises
  ``ResponseTooLargeError``. Memory stays within a small multiple of the limit, a gzip bomb
  included;
- **no secret in the chain**: aiohttp's exceptions hold the request headers (``Authorization``)
  in ``request_info``; the SDK's error names the exception's type and text and is raised with
  neither ``__cause__`` nor ``__context__``.
"""

from __future__ import annotations

import asyncio
import time
import zlib
from collections.abc import Mapping
from typing import Any, NamedTuple, Protocol

import aiohttp
from aiohttp.hdrs import CONTENT_ENCODING

from ._protocol import RawResponse
from .errors import APIConnectionError, APITimeoutError, DecodeError, ResponseTooLargeError

__all__ = [
    "DEFAULT_MAX_RESPONSE_BYTES",
    "AiohttpTransport",
    "ClientSession",
    "Clock",
    "HttpRequest",
    "SystemClock",
    "Transport",
    "sdk_session",
]

#: What ``BackupClient(session=...)`` borrows (named here: aiohttp stays in this module).
ClientSession = aiohttp.ClientSession

#: The default ``max_response_bytes``: 8 MiB, far above any answer of this API (a page of 100
#: records is ~50 KB).
DEFAULT_MAX_RESPONSE_BYTES = 8 * 2**20


class HttpRequest(NamedTuple):
    """One exchange to perform: everything that goes on the wire, plus the attempt's timeout
    and the largest answer body accepted (bytes, after decompression). Neither its ``str``
    nor its ``repr`` shows a header value (``Authorization`` carries the credential)."""

    method: str
    url: str
    headers: Mapping[str, str]
    body: bytes
    timeout: float  # seconds for the whole exchange
    max_response_bytes: int = DEFAULT_MAX_RESPONSE_BYTES

    def __str__(self) -> str:  # for messages: never the headers (they carry credentials)
        return f"{self.method} {self.url}"

    def __repr__(self) -> str:  # the header names only: their values carry credentials
        names = ", ".join(self.headers)
        return (
            f"HttpRequest(method={self.method!r}, url={self.url!r}, headers=<{names}>, "
            f"body={self.body!r}, timeout={self.timeout!r}, "
            f"max_response_bytes={self.max_response_bytes!r})"
        )


class Transport(Protocol):
    """Performs one HTTP exchange. Send the ``Host`` header an HTTP client derives from the URL
    (the host in lower case, the port only when not the scheme's default: a signature covers
    that value). Raise ``APIConnectionError`` (``request_sent=False`` only when the request
    surely never reached the server) or ``APITimeoutError``; raise ``ResponseTooLargeError``
    for a body larger than ``request.max_response_bytes``; never follow redirects; never
    retry or re-send (the session does, under the retry policy); never chain an exception
    that holds the request's headers."""

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


class _NotResent(aiohttp.ClientConnectionError):
    """A reset or disconnect, re-labelled so that aiohttp does not re-send the request."""

    def __init__(self, original: BaseException) -> None:
        super().__init__(str(original))
        self.original = original


async def _send_once(
    request: aiohttp.ClientRequest, handler: aiohttp.ClientHandlerType
) -> aiohttp.ClientResponse:
    """The middleware on every request: aiohttp's ``ClientSession._request`` re-sends an
    idempotent request once when sending it or reading the answer's head raises
    ``ClientOSError``/``ServerDisconnectedError``, on a fresh connection as on a pooled one
    (aiohttp 3.9+; there is no public switch, see aio-libs/aiohttp#10790). Raised as another
    exception class here, the failure reaches ``send`` instead, once."""
    try:
        return await handler(request)
    except aiohttp.ClientConnectorError:
        raise  # could not connect: never re-sent by aiohttp anyway, and request_sent=False
    except (aiohttp.ClientOSError, aiohttp.ServerDisconnectedError) as exc:
        raise _NotResent(exc) from None


#: The encodings decoded here (``_inflater``): only what we ask for is accepted back.
_ACCEPT = {"Accept-Encoding": "gzip, deflate"}
#: What every SDK request runs with (see ``AiohttpTransport``).
_SESSION_OPTIONS: dict[str, Any] = {
    "raise_for_status": False,
    "auto_decompress": False,
    "middlewares": (_send_once,),
}


def sdk_session(connection_limit: int = 100) -> tuple[aiohttp.ClientSession, dict[str, Any]]:
    """A session built for this API, and what each request on it must add (``{}`` or the
    ``_send_once`` middleware): no cookie jar (the API sets no cookies), our own bounded
    decompression, and aiohttp's re-send turned off at the source where its switch exists,
    the session's ``_retry_connection`` (private, but exactly the re-send of ``_request``;
    the tests of one request per attempt hold it to that). Elsewhere, and on a borrowed
    session, the ``_send_once`` middleware does it, at ~2% of a call. (The benchmarks build
    their tuned raw-aiohttp baseline with it.)"""
    session = aiohttp.ClientSession(
        connector=aiohttp.TCPConnector(limit=connection_limit),
        headers=_ACCEPT,
        cookie_jar=aiohttp.DummyCookieJar(),
        **{**_SESSION_OPTIONS, "middlewares": ()},
    )
    if isinstance(getattr(session, "_retry_connection", None), bool):
        session._retry_connection = False
        return session, {}
    return session, {"middlewares": _SESSION_OPTIONS["middlewares"]}  # pragma: no cover


class AiohttpTransport:
    """Sends over an ``aiohttp.ClientSession``: its own (created lazily, closed by
    ``aclose``) or a borrowed one (never closed here).

    Every request is sent with ``raise_for_status=False``, ``allow_redirects=False``,
    ``auto_decompress=False``, ``Accept-Encoding: gzip, deflate`` and the SDK's middleware only
    (a borrowed session's own ``middlewares`` are not applied to the SDK's requests: they could
    re-send); the rest of a borrowed session's settings (connector, proxy, trace configs,
    default headers) apply. Our own session is created with these settings, so its requests
    pass nothing extra (each per-request option costs on the hot path); a borrowed one gets
    them per request.
    """

    def __init__(
        self, session: ClientSession | None = None, *, connection_limit: int = 100
    ) -> None:
        if session is not None and not isinstance(session, aiohttp.ClientSession):
            kind = type(session).__name__
            raise TypeError(f"session must be an aiohttp.ClientSession or None, not {kind}")
        self._session = session
        self._owns_session = session is None
        self._connection_limit = connection_limit
        self._timeouts: dict[float, aiohttp.ClientTimeout] = {}
        self._options: dict[str, Any] = {} if session is None else dict(_SESSION_OPTIONS)

    async def aclose(self) -> None:
        """Close the session we own (never a borrowed one). Safe to call more than once."""
        session, self._session = self._session, None
        if session is not None and self._owns_session:
            await session.close()

    def _http(self) -> aiohttp.ClientSession:
        if self._session is None:  # created lazily: aiohttp wants a running loop
            self._session = self._own_session()
        return self._session

    def _own_session(self) -> aiohttp.ClientSession:
        session, self._options = sdk_session(self._connection_limit)
        return session

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
                headers=request.headers if self._owns_session else {**request.headers, **_ACCEPT},
                timeout=self._timeout(request.timeout),
                allow_redirects=False,
                **self._options,  # a borrowed session: what ours was created with
            ) as resp:
                length = resp.content_length
                if (
                    length is not None
                    and length <= request.max_response_bytes
                    and CONTENT_ENCODING not in resp.headers
                ):  # the usual answer: aiohttp reads exactly the announced length
                    return RawResponse(resp.status, resp.headers, await resp.read())
                return RawResponse(resp.status, resp.headers, await _read_body(resp, request))
        except (aiohttp.ClientError, OSError) as exc:  # TimeoutError is an OSError
            error = _connection_error(request, exc)
        raise error  # outside the handler: no __context__ holding aiohttp's request_info


def _connection_error(request: HttpRequest, exc: BaseException) -> APIConnectionError:
    """The SDK error for a failed exchange (built from the exception's type and text only)."""
    if isinstance(exc, _NotResent):
        return APIConnectionError(_what(request, exc.original))
    if isinstance(exc, aiohttp.ConnectionTimeoutError):
        return APITimeoutError(_what(request, exc), request_sent=False)
    if isinstance(exc, TimeoutError):
        return APITimeoutError(_what(request, exc))
    if isinstance(exc, aiohttp.ClientConnectorError):
        return APIConnectionError(_what(request, exc), request_sent=False)
    return APIConnectionError(_what(request, exc))


def _what(request: HttpRequest, exc: BaseException) -> str:
    detail = str(exc) or type(exc).__name__
    return f"{request}: {type(exc).__name__}: {detail}"


# --- bounded reading --------------------------------------------------------------------------


async def _read_body(resp: aiohttp.ClientResponse, request: HttpRequest) -> bytes:
    """The whole body, decompressed, never more than ``request.max_response_bytes`` of it,
    for every answer but the usual one (``send`` reads a plain body of an announced length
    within the limit with one ``read()``: aiohttp stops at that length). A longer announced
    length is refused before any body byte is read; otherwise the body is read piece by piece
    with a running count.
    """
    encoding = resp.headers.get(CONTENT_ENCODING)
    if encoding is None or encoding.strip().lower() in ("", "identity"):
        length = resp.content_length
        if length is None:
            return await _read_counted(resp, request)
        if length > request.max_response_bytes:
            raise _too_large(request, resp.status)
        return await resp.read()
    return await _read_inflated(resp, request, encoding.strip().lower())


async def _read_counted(resp: aiohttp.ClientResponse, request: HttpRequest) -> bytes:
    """A body of unknown length (chunked, or until the connection closes)."""
    limit, size, parts = request.max_response_bytes, 0, []
    async for piece in resp.content.iter_any():
        size += len(piece)
        if size > limit:
            raise _too_large(request, resp.status)
        parts.append(piece)
    return b"".join(parts)


async def _read_inflated(
    resp: aiohttp.ClientResponse, request: HttpRequest, encoding: str
) -> bytes:
    """A compressed body, inflated at most ``limit + 1`` bytes at a time: however much a
    piece would inflate to (a gzip bomb: ~1,000x), no more than that is ever produced."""
    limit, size, parts = request.max_response_bytes, 0, []
    inflater: zlib._Decompress | None = None
    async for piece in resp.content.iter_any():
        if inflater is None:
            inflater = _inflater(encoding, piece, request, resp.status)
        pending = piece
        while pending and not inflater.eof:
            try:
                out = inflater.decompress(pending, limit - size + 1)
            except zlib.error as exc:
                raise _bad_encoding(request, resp.status, f"cannot be decoded ({exc})") from None
            size += len(out)
            if size > limit:
                raise _too_large(request, resp.status)
            parts.append(out)
            pending = inflater.unconsumed_tail
    if inflater is not None and not inflater.eof:
        raise _bad_encoding(request, resp.status, "ends before its end marker")
    return b"".join(parts)


def _inflater(encoding: str, first: bytes, request: HttpRequest, status: int) -> zlib._Decompress:
    """A decompressor for ``encoding`` (``gzip``/``x-gzip``, or ``deflate``: zlib-wrapped as
    RFC 9110 says, or raw as some servers send it, told apart by the first byte)."""
    if encoding in ("gzip", "x-gzip"):
        return zlib.decompressobj(16 + zlib.MAX_WBITS)
    if encoding == "deflate":
        zlib_wrapped = first[0] & 0x0F == 8  # RFC 1950: CM = 8 in the low nibble
        return zlib.decompressobj(zlib.MAX_WBITS if zlib_wrapped else -zlib.MAX_WBITS)
    raise _bad_encoding(request, status, f"uses an encoding not asked for: {encoding!r}")


def _too_large(request: HttpRequest, status: int) -> ResponseTooLargeError:
    limit = request.max_response_bytes
    return ResponseTooLargeError(
        f"{request}: answer body larger than max_response_bytes ({limit} bytes)",
        status=status,
        limit=limit,
    )


def _bad_encoding(request: HttpRequest, status: int, problem: str) -> DecodeError:
    return DecodeError(f"{request}: compressed body {problem}", status=status)
