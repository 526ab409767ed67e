"""The per-attempt loop: sign -> send (through the transport) -> classify, under retries.

``Session.call`` runs one API call under the retry policy. Each attempt gets a fresh
``X-Date`` and fresh auth headers; the exchange itself goes through the injectable
``Transport`` (``_transport``), so everything here is tested without sockets.

One rule for paths: a ``base_url`` may carry a path prefix (``https://host/gateway``); the
path *sent* (``/gateway/koodrive/ose/v1/backup/...``) is the request's ``path`` everywhere:
in the URL, in the HMAC canonical request, in error messages and log lines.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Mapping
from functools import partial
from typing import Any, TypeVar
from urllib.parse import quote, urlsplit

from ._protocol import Endpoint, Payload, Request, host_header, read_payload
from ._retry import Retrier, RetryPolicy
from ._signing import Auth, SignableRequest, XDateClock, bounded
from ._transport import DEFAULT_MAX_RESPONSE_BYTES, Clock, HttpRequest, Transport
from .errors import APIConnectionError, AuthenticationError, NotFoundError, ServerError

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
        max_response_bytes: int = DEFAULT_MAX_RESPONSE_BYTES,
    ) -> None:
        self.base_url = base_url
        self.auth = auth
        self.transport = transport
        self.clock = clock
        self.retrier = Retrier(retry, sleep=clock.sleep, clock=clock.monotonic)
        self._host = host_header(base_url)  # what the transport sends, and a signature covers
        parts = urlsplit(base_url)
        self._origin = f"{parts.scheme}://{parts.netloc}"
        self._prefix = parts.path.rstrip("/")  # the base_url's own path, part of every path
        self._max_response_bytes = max_response_bytes
        self._user_id = user_id
        self._timeout = timeout
        self._x_date = XDateClock(clock_skew_margin, now=clock.time)
        self.closed = False

    async def close(self) -> None:
        """Close the transport; later calls raise ``RuntimeError``. Safe to call twice."""
        self.closed = True
        await self.transport.aclose()
        await self.auth.aclose()  # no credential fetch outlives the client

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
        if self._prefix:
            req = req._replace(path=self._prefix + req.path)
        idempotent = retry_unsafe or endpoint.idempotent
        attempt: Callable[[int], Awaitable[Payload]] = partial(self._attempt, req)
        if endpoint.gone_on_retry_404:
            attempt = GoneOnRetry(attempt, req)
        return endpoint.answer(
            await self.retrier.run(attempt, idempotent=idempotent, describe=req), req
        )

    async def _attempt(self, req: Request, number: int) -> Payload:
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
            used = self.auth.headers_now(signable)
            if used is None:  # a credential to fetch: bounded by the attempt's timeout
                used = await bounded(self.auth.headers(signable), self._timeout, signable)
            response = await self.transport.send(self._http_request(req, x_date, used))
            if logger.isEnabledFor(logging.DEBUG):
                logger.debug("%s -> %d (attempt %d)", req, response.status, number)
            try:
                return read_payload(response, req)
            except AuthenticationError:
                if refreshed:
                    self.auth.forget()
                    raise
                if not await bounded(self.auth.refresh(used), self._timeout, signable):
                    raise
                refreshed = True

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

    def __init__(self, attempt: Callable[[int], Awaitable[Payload]], req: Request) -> None:
        self._attempt = attempt
        self._req = req
        self._maybe_processed = False

    async def __call__(self, number: int) -> Payload:
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
            return {}
        except (APIConnectionError, ServerError) as exc:
            if not isinstance(exc, APIConnectionError) or exc.request_sent:
                self._maybe_processed = True
            raise
