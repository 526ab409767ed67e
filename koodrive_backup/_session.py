"""The per-attempt loop: rate limit -> sign -> send (through the transport) -> classify ->
decode, under retries.

``Session.call`` runs one API call under the retry policy. Each attempt waits for a token
of the rate limit (when there is one), then gets a fresh ``X-Date`` on the server's clock
and fresh auth headers; each answer's ``Date`` header teaches the clock. The exchange itself
goes through the injectable ``Transport`` (``_transport``), so everything here is tested
without sockets.

Inside one attempt, two re-sends are not counted as attempts (API.md): after a 401 when
the auth strategy gets a new credential, and after a 400/401/403 whose ``Date`` shows that
the ``X-Date`` sent was off the server's clock by more than the margin (the clock re-send).
Each happens at most once per attempt, and each waits for a rate-limit token like any send.

One rule for paths: a ``base_url`` may carry a path prefix (``https://host/gateway``); the
path *sent* (``/gateway/koodrive/ose/v1/backup/...``) is the request's ``path`` everywhere:
in the URL, in the HMAC canonical request, in error messages and log lines.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Mapping
from functools import partial
from time import monotonic
from typing import Any, TypeVar
from urllib.parse import quote, urlsplit

from ._answers import read_payload
from ._call_watch import CallWatch
from ._protocol import Endpoint, Request, host_header
from ._ratelimit import RateLimit
from ._retry import Retrier, RetryPolicy
from ._signing import Auth, SignableRequest, XDateClock, bounded
from ._telemetry import Telemetry
from ._transport import DEFAULT_MAX_RESPONSE_BYTES, Clock, HttpRequest, Transport
from .errors import (
    APIConnectionError,
    APIError,
    AuthenticationError,
    BadRequestError,
    NotFoundError,
    PermissionDeniedError,
    ServerError,
)

__all__ = ["Session"]

logger = logging.getLogger("koodrive_backup")
T = TypeVar("T")

#: The errors a server may use to refuse an ``X-Date`` (the reference's 400 15000405, or an
#: auth failure: 400, 401, 403 as ``_answers.error_for`` maps them): only these can trigger
#: the clock re-send.
CLOCK_REFUSALS = (BadRequestError, AuthenticationError, PermissionDeniedError)

#: What any use of a closed client raises (as ``RuntimeError``).
_CLOSED = "this BackupClient is closed"


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
        rate_limit: RateLimit | None = None,
        max_response_bytes: int = DEFAULT_MAX_RESPONSE_BYTES,
        telemetry: Telemetry | None = None,
    ) -> None:
        self.base_url = base_url
        self.auth = auth
        self.transport = transport
        self.clock = clock
        self.retrier = Retrier(retry, sleep=clock.sleep, clock=clock.monotonic)
        self.rate_limit = rate_limit
        self.rate_limit_wait = 0.0  # seconds this session's sends waited for a token
        self.x_date = XDateClock(clock_skew_margin, now=clock.time)
        self._host = host_header(base_url)  # what the transport sends, and a signature covers
        parts = urlsplit(base_url)
        self._origin = f"{parts.scheme}://{parts.netloc}"
        self._prefix = parts.path.rstrip("/")  # the base_url's own path, part of every path
        self._max_response_bytes = max_response_bytes
        self._user_id = user_id
        self._timeout = timeout
        self.closed = False
        if telemetry is None:
            telemetry = Telemetry(None, None, base_url=base_url, clock=clock.monotonic)
        self.telemetry = telemetry
        # Telemetry: the one check on the hot path. ``None`` when no hook or adapter exists;
        # else ``watch(req)`` returns ``None`` while nothing records (the plain path below).
        self._watch = self.telemetry.watch if self.telemetry.enabled else None

    def ensure_open(self) -> None:
        """Raise ``RuntimeError`` when the client is closed: THE check of every use of a
        closed client (``call`` makes it inline, on its hot path)."""
        if self.closed:
            raise RuntimeError(_CLOSED)

    async def close(self) -> None:
        """Close the transport; later calls raise ``RuntimeError``. Safe to call twice."""
        self.closed = True
        await self.transport.aclose()
        await self.auth.aclose()  # no credential fetch outlives the client

    async def call(
        self, endpoint: Endpoint[T], /, *, retry_unsafe: bool = False, **values: Any
    ) -> T:
        """Build ``endpoint``'s request from validated ``values`` and send it under the retry
        policy; each attempt decodes its answer, so a call counts as a success (and refunds
        the retry quota) only once its answer is decoded.

        ``retry_unsafe`` retries a POST/PATCH like a GET (the caller says a repeat is harmless).
        """
        if self.closed:  # before any I/O, and never retried
            raise RuntimeError(_CLOSED)
        req = endpoint.request(values)
        if self._prefix:
            req = req._replace(path=self._prefix + req.path)
        idempotent = retry_unsafe or endpoint.idempotent
        if self._watch is not None and (watch := self._watch(req)) is not None:
            return await self._watched_call(watch, endpoint, req, idempotent)  # telemetry
        attempt: Callable[[int], Awaitable[T]] = partial(self._attempt, req)
        if endpoint.gone_on_retry_404:
            attempt = GoneOnRetry(attempt, req)
        return await self.retrier.run(attempt, idempotent=idempotent, describe=req)

    async def _watched_call(
        self, watch: CallWatch, endpoint: Endpoint[T], req: Request, idempotent: bool
    ) -> T:
        """``call`` reporting to ``watch``: the call, each attempt, each exchange."""
        attempt: Callable[[int], Awaitable[T]] = partial(self._watched_attempt, req, watch)
        if endpoint.gone_on_retry_404:
            attempt = GoneOnRetry(attempt, req)
        with watch:
            return await self.retrier.run(attempt, idempotent=idempotent, describe=req)

    async def _watched_attempt(self, req: Request, watch: CallWatch, number: int) -> Any:
        with watch.attempt(number):
            return await self._attempt(req, number, watch)

    async def _attempt(self, req: Request, number: int, watch: CallWatch | None = None) -> Any:
        """One attempt: wait for a rate-limit token, sign, send, learn the server's clock
        from the answer, classify and decode it (``req.endpoint.answer``: a ``DecodeError``
        fails the attempt, and is not retried); the clock and 401 re-sends (see above).

        The token comes before the ``X-Date``: a long wait must not age it. One function on
        purpose: this is the hot path, and each extra coroutine layer costs every call.
        """
        refreshed = resynced = False
        while True:
            if self.rate_limit is not None:  # the only cost of the limiter when there is none
                await self._wait_for_token(self.rate_limit, watch)
            x_date = self.x_date
            offset_used = x_date.offset
            stamp = x_date()
            signed = {"x-date": stamp, "x-user-id": self._user_id}
            signable = SignableRequest(
                req.endpoint.method, self._host, req.path, req.query, signed, req.body
            )
            used = self.auth.headers_now(signable)
            if used is None:  # a credential to fetch: bounded by the attempt's timeout
                used = await bounded(self.auth.headers(signable), self._timeout, signable)
            response = await self.transport.send(self._http_request(req, stamp, used))
            if watch is not None:
                watch.answered(response.status)  # telemetry
            date = response.headers.get("Date")
            if date != x_date.seen:  # a new second (or the first answer): worth parsing
                x_date.observe(date)
            if logger.isEnabledFor(logging.DEBUG):
                logger.debug("%s -> %d (attempt %d)", req, response.status, number)
            try:
                return req.endpoint.answer(read_payload(response, req), req)
            except APIError as exc:
                if not resynced and self._clock_was_off(exc, offset_used, req):
                    resynced = True
                    if watch is not None:
                        watch.resending(exc, "clock")  # telemetry
                elif not refreshed and await self._new_credential(exc, used, signable):
                    refreshed = True
                    if watch is not None:
                        watch.resending(exc, "auth")  # telemetry
                else:
                    if refreshed and isinstance(exc, AuthenticationError):
                        self.auth.forget()  # a second 401: the credential is no good
                    raise

    async def _wait_for_token(self, limit: RateLimit, watch: CallWatch | None) -> None:
        started = monotonic()  # the loop's clock, which the limiter runs on
        await limit.acquire()
        waited = monotonic() - started
        self.rate_limit_wait += waited
        if watch is not None and waited > 0:
            watch.rate_limited(waited)  # telemetry

    async def _new_credential(
        self, exc: APIError, refused: Mapping[str, str], signable: SignableRequest
    ) -> bool:
        """After a 401, whether the auth strategy got a new credential to re-send with (the
        fetch bounded by the attempt's timeout)."""
        if not isinstance(exc, AuthenticationError):
            return False
        return await bounded(self.auth.refresh(refused), self._timeout, signable)

    def _clock_was_off(self, exc: APIError, offset_used: float, req: Request) -> bool:
        """Whether ``exc``'s answer shows that the ``X-Date`` sent was off the server's
        clock: then the request is re-sent once with a corrected one (not an attempt)."""
        if not isinstance(exc, CLOCK_REFUSALS) or not self.x_date.was_off(offset_used):
            return False
        logger.info(
            "%s: X-Date was %+.0f s off the server's clock (by its Date header, answer %d); "
            "re-sending with a corrected X-Date",
            req,
            offset_used - self.x_date.offset,
            exc.status,
        )
        return True

    def _http_request(self, req: Request, x_date: str, auth: Mapping[str, str]) -> HttpRequest:
        headers = {"X-Date": x_date, "X-User-Id": self._user_id}
        if req.body:
            headers["Content-Type"] = "application/json"
        headers.update(req.headers)
        headers.update(auth)
        url = self._origin + req.path
        if req.query:
            url += "?" + "&".join(f"{quote(k, safe='')}={quote(v, safe='')}" for k, v in req.query)
        return HttpRequest(
            req.endpoint.method, url, headers, req.body, self._timeout, self._max_response_bytes
        )


class GoneOnRetry:
    """The attempts of a call whose target may already be gone when a retry meets 404.

    API.md "A delete whose answer was lost": once an attempt may have reached the server (the
    request was sent, then a timeout, a reset or a 5xx answer), a 404 on a later attempt of the
    same call means that attempt did the work: the call returns normally, logged at INFO. A
    404 before that (on the first attempt, or after failures that prove nothing was sent) is
    the caller's ``NotFoundError``. Used for endpoints marked ``gone_on_retry_404``.
    """

    def __init__(self, attempt: Callable[[int], Awaitable[Any]], req: Request) -> None:
        self._attempt = attempt
        self._req = req
        self._maybe_processed = False

    async def __call__(self, number: int) -> Any:
        try:
            return await self._attempt(number)
        except NotFoundError:
            if not self._maybe_processed:
                raise
            logger.info(
                "%s: 404 on attempt %d after an earlier attempt may have done it: taken as done",
                self._req,
                number,
            )
            return self._req.endpoint.answer({}, self._req)
        except (APIConnectionError, ServerError) as exc:
            if not isinstance(exc, APIConnectionError) or exc.request_sent:
                self._maybe_processed = True
            raise
