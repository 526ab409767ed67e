"""Authentication: pure signing steps, and the auth strategies that use them.

Every attempt is signed afresh (API.md): the session asks ``x_date()`` and the auth strategy
for new headers before each send, first try and retries alike.

HMAC-SHA256 app signature (reference §8.3, from the enterprise docs) in named steps:
``canonical_request`` -> ``string_to_sign`` -> ``signature`` -> ``authorization_header``.
Assumptions where the reference marks a gap [G], fixed by API.md:

- canonical headers are sorted by lower-case name; each line is ``name:value\\n`` with the
  value trimmed exactly as sent (the Host value includes a non-default port);
- the payload hash is the lower-case hex SHA-256 of the exact body bytes (of ``b""`` when
  there is no body);
- the signed headers are ``host;x-date;x-user-id``, as in the reference's example.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import time
from collections.abc import Awaitable, Callable, Mapping
from functools import partial
from typing import Literal, NamedTuple, TypeVar
from urllib.parse import quote

from ._answers import parse_http_date
from ._validate import header_value
from .errors import TokenProviderError, one_line

__all__ = [
    "Auth",
    "BearerAuth",
    "HmacAuth",
    "SignableRequest",
    "XDateClock",
    "authorization_header",
    "bounded",
    "canonical_query",
    "canonical_request",
    "canonical_uri",
    "format_x_date",
    "signature",
    "string_to_sign",
]

T = TypeVar("T")
TokenProvider = Callable[[], Awaitable[str]]
_UNRESERVED = "-_.~"  # with letters and digits: RFC 3986 unreserved, never percent-encoded
_EMPTY_SHA256 = hashlib.sha256(b"").hexdigest()


class SignableRequest(NamedTuple):
    """What a signer may look at: everything that goes on the wire except the auth header.

    A tuple: one is built per attempt, and a tuple is Python's cheapest immutable value."""

    method: str
    host: str  # the Host header value as sent: host[:port]
    path: str  # the full request path, e.g. /koodrive/ose/v1/backup/record/123
    query: tuple[tuple[str, str], ...]
    headers: Mapping[str, str]  # lower-case names: x-date, x-user-id, ...
    body: bytes


def format_x_date(epoch_seconds: float) -> str:
    """UTC ``YYYYMMDDTHHMMSSZ`` (reference §9), truncated to the second."""
    return time.strftime("%Y%m%dT%H%M%SZ", time.gmtime(epoch_seconds))


class XDateClock:
    """Per-attempt ``X-Date`` values on the server's clock, backdated by ``margin`` seconds.

    ``X-Date = now + offset - margin`` (API.md "Resilience options"). ``offset`` is the
    server's clock minus ours, learned by ``observe`` from each answer's ``Date`` header
    (0.0 until one arrives). A server clock a little behind ours would see an un-backdated
    time as "in the future" and refuse it (reference §9); a few seconds are far inside the
    15-minute staleness window. ``Date`` has whole seconds and is stamped before the answer
    travels, so the learned offset errs low by up to a second plus the trip: it moves
    ``X-Date`` earlier, the safe side. The string is cached per second: a cache hit is far
    cheaper than formatting.
    """

    __slots__ = ("_cached", "_now", "_second", "margin", "offset", "seen")

    def __init__(self, margin: float = 5.0, now: Callable[[], float] = time.time) -> None:
        if margin < 0:
            raise ValueError("clock_skew_margin must be >= 0")
        self.margin = margin
        self._now = now
        self._second = -1
        self._cached = ""
        self.offset = 0.0
        #: The last ``Date`` text given to ``observe``: the session calls ``observe`` only
        #: when an answer's differs (once a second at most), so parsing stays off the hot path.
        self.seen: str | None = None

    def __call__(self) -> str:
        second = int(self._now() + self.offset - self.margin)
        if second != self._second:
            self._cached = format_x_date(second)
            self._second = second
        return self._cached

    def observe(self, date: str | None) -> None:
        """Learn ``offset`` from an answer's ``Date`` header (ignored when unreadable or
        outside the years 2000-9998, which no live server sends)."""
        self.seen = date
        server = parse_http_date(date)
        if server is not None and _PLAUSIBLE_DATES[0] <= server <= _PLAUSIBLE_DATES[1]:
            self.offset = server - self._now()

    def was_off(self, offset_used: float) -> bool:
        """Whether an ``X-Date`` made with ``offset_used`` was off the server's clock (as now
        learned) by more than ``margin``, or a second when the margin is smaller: the
        ``Date`` header cannot tell less than that."""
        return abs(self.offset - offset_used) > max(self.margin, 1.0)


#: POSIX seconds of 2000-01-01 and 9998-12-31: a ``Date`` outside them is garbage, and a
#: far-off value would make unformattable ``X-Date``\ s.
_PLAUSIBLE_DATES = (946_684_800.0, 253_370_678_400.0)


# --- HMAC-SHA256 steps (reference §8.3) ----------------------------------------------------


def _encode(text: str) -> str:
    return quote(text, safe=_UNRESERVED)


def canonical_uri(path: str) -> str:
    """Each segment percent-encoded except unreserved characters, plus a trailing ``/``."""
    encoded = "/".join(_encode(segment) for segment in path.split("/"))
    return encoded if encoded.endswith("/") else encoded + "/"


def canonical_query(query: tuple[tuple[str, str], ...]) -> str:
    """``name=value`` pairs, percent-encoded, sorted by name (then value), joined by ``&``."""
    pairs = sorted((_encode(name), _encode(value)) for name, value in query)
    return "&".join(f"{name}={value}" for name, value in pairs)


def canonical_request(request: SignableRequest, signed_headers: tuple[str, ...]) -> str:
    headers = {"host": request.host, **request.headers}
    lines = "".join(f"{name}:{headers[name].strip()}\n" for name in signed_headers)
    payload_hash = hashlib.sha256(request.body).hexdigest() if request.body else _EMPTY_SHA256
    return "\n".join(
        (
            request.method.upper(),
            canonical_uri(request.path),
            canonical_query(request.query),
            lines,
            ";".join(signed_headers),
            payload_hash,
        )
    )


def string_to_sign(canonical: str) -> str:
    return "HMAC-SHA256\n" + hashlib.sha256(canonical.encode()).hexdigest()


def signature(app_secret: str, to_sign: str) -> str:
    return hmac.new(app_secret.encode(), to_sign.encode(), hashlib.sha256).hexdigest()


def authorization_header(app_id: str, signed_headers: tuple[str, ...], sig: str) -> str:
    return f"HMAC-SHA256 AppId={app_id},SignedHeaders={';'.join(signed_headers)},Signature={sig}"


# --- auth strategies --------------------------------------------------------------------------


class Auth:
    """Base class of auth strategies; subclass it to plug in your own.

    ``headers`` returns the headers that authenticate one attempt (at least
    ``Authorization``); the session awaits it for at most the call's ``timeout`` (then the
    call fails with ``TokenProviderError``). ``headers_now`` may return them without waiting
    (computed, or cached), which spares the hot path a coroutine: override either (the default
    ``headers`` uses ``headers_now``). ``refresh`` is called after a 401 with the headers that
    were refused; return True to have the request re-sent once with new headers (not counted
    as an attempt). ``aclose`` is called by ``client.close()``: stop any credential fetch in
    flight.
    """

    def __init_subclass__(cls, **kwargs: object) -> None:
        super().__init_subclass__(**kwargs)
        if "headers" in cls.__dict__ and "headers_now" not in cls.__dict__:
            cls.headers_now = Auth.headers_now  # type: ignore[method-assign]  # await headers()

    def headers_now(self, request: SignableRequest) -> Mapping[str, str] | None:
        """The headers when they can be had without waiting, else ``None``. A subclass that
        overrides ``headers`` alone gets this default: its ``headers`` is always awaited."""
        return None

    async def headers(self, request: SignableRequest) -> Mapping[str, str]:
        now = self.headers_now(request)
        if now is None:
            raise NotImplementedError("an Auth overrides headers() or headers_now()")
        return now

    async def refresh(self, refused: Mapping[str, str]) -> bool:
        return False

    def forget(self) -> None:
        """Drop any cached credential (called after a second 401)."""

    async def aclose(self) -> None:
        """Stop any credential fetch in flight (called by ``client.close()``)."""


async def bounded(awaitable: Awaitable[T], seconds: float, request: SignableRequest) -> T:
    """Await an auth strategy's ``headers``/``refresh`` for at most ``seconds`` (the call's
    per-attempt ``timeout``).

    A strategy that does not answer in time fails the attempt with ``TokenProviderError``
    (not retried, like any refused credential); its own exceptions pass through.
    """
    try:
        async with asyncio.timeout(seconds) as scope:
            return await awaitable
    except TimeoutError:
        if not scope.expired():
            raise  # the strategy's own TimeoutError
    raise TokenProviderError(
        401,
        msg=f"no credential within the call's timeout ({seconds:g} s)",
        method=request.method,
        path=request.path,
    )


_STYLES = {"bearer": "Bearer ", "bearer+": "Bearer+", "raw": ""}


class _ProviderCall:
    """One call of a ``token_provider``, shared by the attempts waiting for it."""

    __slots__ = ("task", "waiters")

    def __init__(self, task: asyncio.Future[dict[str, str]]) -> None:
        self.task = task
        self.waiters = 0


class BearerAuth(Auth):
    """A bearer token, static or from an async ``token_provider``.

    ``style``: ``"bearer"`` sends ``Bearer <token>`` (default); ``"bearer+"`` the literal
    ``Bearer+<token>`` printed in the carrier docs; ``"raw"`` the token alone (reference §8).

    A provider is asked when a token is first needed and its answer cached; after a 401 it is
    asked again once. Concurrent attempts share one provider call. Each attempt waits for it
    at most the call's ``timeout``; a provider that raises, returns a non-string or does not
    answer in time fails the attempt with ``TokenProviderError`` (naming the exception's type
    and text; the exception itself is not chained), and the next call asks the provider again:
    a finished call is never reused, so a failure is never replayed to a later caller. A
    provider call that nobody waits for any more (its callers timed out or were cancelled) is
    cancelled, and so is one in flight when a client using this auth is closed.
    """

    def __init__(
        self,
        token: str | None = None,
        *,
        token_provider: TokenProvider | None = None,
        style: Literal["bearer", "bearer+", "raw"] = "bearer",
    ) -> None:
        if (token is None) == (token_provider is None):
            raise TypeError("BearerAuth needs exactly one of token or token_provider")
        if style not in _STYLES:
            raise ValueError(f"style must be one of {sorted(_STYLES)}, not {style!r}")
        self._prefix = _STYLES[style]
        self._provider = token_provider
        self._static: dict[str, str] | None = None
        if token is not None:
            self._static = {"Authorization": self._value(token)}
        self._current: dict[str, str] | None = None
        self._pending: _ProviderCall | None = None
        self.style = style

    def __repr__(self) -> str:
        source = "token_provider" if self._provider is not None else "token"
        return f"BearerAuth(<{source} hidden>, style={self.style!r})"

    def _value(self, token: str) -> str:
        return self._prefix + header_value(token, "token")

    def headers_now(self, request: SignableRequest) -> Mapping[str, str] | None:
        return self._static or self._current

    async def headers(self, request: SignableRequest) -> Mapping[str, str]:
        cached = self._static or self._current
        return cached if cached is not None else await self._ask(request)

    async def _ask(self, request: SignableRequest | None) -> dict[str, str]:
        """Wait for the provider call in flight, starting one if there is none."""
        call = self._pending
        if call is None:
            call = self._pending = _ProviderCall(asyncio.ensure_future(self._call_provider()))
            call.task.add_done_callback(partial(self._settled, call))
        call.waiters += 1
        try:
            return await asyncio.shield(call.task)
        except asyncio.CancelledError:
            if not call.task.cancelled() or _cancelling():
                raise  # this caller was cancelled (or timed out): not a provider failure
            error = _provider_error("its call was cancelled (client closed)", request)
        except Exception as exc:  # the provider's failure: named, not chained
            error = _provider_error(f"raised {type(exc).__name__}: {one_line(str(exc))}", request)
        finally:
            call.waiters -= 1
            if call.waiters == 0 and not call.task.done():
                self._drop(call)  # nobody waits for it: leave no task behind
        raise error

    async def _call_provider(self) -> dict[str, str]:
        assert self._provider is not None
        token = await self._provider()
        if not isinstance(token, str):
            raise TypeError(f"token_provider returned {type(token).__name__}, not str")
        self._current = {"Authorization": self._value(token)}
        return self._current

    def _settled(self, call: _ProviderCall, task: asyncio.Future[dict[str, str]]) -> None:
        if self._pending is call:
            self._pending = None  # a finished call is never reused: the next caller asks again
        if not task.cancelled():
            task.exception()  # retrieved: no "exception was never retrieved" log

    def _drop(self, call: _ProviderCall) -> None:
        if self._pending is call:
            self._pending = None
        call.task.cancel()

    async def refresh(self, refused: Mapping[str, str]) -> bool:
        if self._provider is None:
            return False
        if self._current is refused or self._current is None:
            self._current = None
            await self._ask(None)
        return True

    def forget(self) -> None:
        self._current = None

    async def aclose(self) -> None:
        """Cancel the provider call in flight, if any; its waiters get ``TokenProviderError``."""
        call = self._pending
        if call is not None:
            self._drop(call)
            await asyncio.wait([call.task])


def _cancelling() -> bool:
    task = asyncio.current_task()
    return task is not None and task.cancelling() > 0


def _provider_error(what: str, request: SignableRequest | None) -> TokenProviderError:
    return TokenProviderError(
        401,
        msg=f"token_provider {what}",
        method="" if request is None else request.method,
        path="" if request is None else request.path,
    )


class HmacAuth(Auth):
    """KooDrive app signature (HMAC-SHA256, reference §8.3) from ``app_id`` and ``app_secret``."""

    SIGNED_HEADERS = ("host", "x-date", "x-user-id")

    def __init__(self, app_id: str, app_secret: str) -> None:
        self.app_id = header_value(app_id, "app_id")
        if not isinstance(app_secret, str) or not app_secret:
            raise ValueError("app_secret must be a non-empty str")
        self._secret = app_secret

    def __repr__(self) -> str:
        return f"HmacAuth(app_id={self.app_id!r}, app_secret=<hidden>)"

    def headers_now(self, request: SignableRequest) -> Mapping[str, str] | None:
        return self._signed(request)

    async def headers(self, request: SignableRequest) -> Mapping[str, str]:
        return self._signed(request)

    def _signed(self, request: SignableRequest) -> dict[str, str]:
        canonical = canonical_request(request, self.SIGNED_HEADERS)
        sig = signature(self._secret, string_to_sign(canonical))
        return {"Authorization": authorization_header(self.app_id, self.SIGNED_HEADERS, sig)}
