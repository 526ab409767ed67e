"""``BackupClient``: the public async API, one method per operation.

The client is its operation groups (``_locks``, ``_records``, ``_devices``, ``_bulk``) over one
``Requester``, which holds the ``Session`` (signing, retries, the transport) and the managed
locks. Each method checks its arguments and calls an endpoint description of
``_endpoints``; the bulk operations run on the engine of ``_batch``.

Retries (API.md "Retry policy"): GET and DELETE are retried on any transient failure. POST
and PATCH are retried only on failures that prove the request was not processed (the
connection could not be opened, 429, 503 with ``Retry-After``); each POST/PATCH method takes
``retry_unsafe=True`` to retry it like a GET when repeating it is harmless to the caller.
"""

from __future__ import annotations

from types import TracebackType
from typing import Self

from . import _validate as check
from ._bulk import BulkOps
from ._devices import DeviceOps
from ._hooks import Hooks, TelemetryOptions
from ._locks import LockOps
from ._ratelimit import RateLimit
from ._records import RecordOps
from ._requester import Requester
from ._retry import RetryPolicy
from ._session import Session
from ._signing import Auth, BearerAuth
from ._telemetry import Telemetry, otel_adapter
from ._transport import (
    DEFAULT_MAX_RESPONSE_BYTES,
    AiohttpTransport,
    ClientSession,
    Clock,
    SystemClock,
    Transport,
)

__all__ = ["BackupClient"]


class BackupClient(RecordOps, BulkOps, DeviceOps, LockOps):
    """Async client of the KooDrive backup API (``/koodrive/ose/v1/backup``).

    Use it as ``async with BackupClient(...) as client:`` or call ``await client.close()``.
    Every request carries ``X-User-Id``, a fresh ``X-Date`` and fresh auth headers on each
    attempt; transient failures are retried under ``retry`` (see ``RetryPolicy``).

    Arguments: ``base_url`` is ``scheme://host[:port]`` (the SDK adds the API path);
    ``user_id`` is sent as ``X-User-Id``; exactly one of ``token`` (shorthand for
    ``BearerAuth(token)``) or ``auth``; ``timeout`` is seconds per attempt; ``session`` borrows
    an ``aiohttp.ClientSession`` that is never closed by the client; ``http://`` is refused
    unless the host is loopback or ``allow_insecure_http=True``.

    Resilience (API.md "Resilience options", docs/resilience.md): ``rate_limit`` is a
    ``RateLimit`` shared by every client given it, or a number of attempts per second for
    this client alone (``None``, the default: unlimited); the retry quota is
    ``retry.retry_quota``; ``clock_offset`` is learned from the server's ``Date`` headers.

    ``max_response_bytes`` (default 8 MiB) bounds every answer body, counted after
    decompression: a larger one raises ``ResponseTooLargeError`` (not retried) and is not read
    past the limit, so memory stays bounded whatever the server sends.

    Extra keyword options: ``clock_skew_margin`` (seconds ``X-Date`` is backdated below the
    server's clock, as learned, so that it never sees a future time; finite, >= 0; default 5),
    ``connection_limit`` (size of the connection pool we create; default 100), and the I/O
    seam: ``transport`` (a ``Transport`` performing each HTTP exchange, instead of aiohttp;
    not with ``session``) and ``clock`` (a ``Clock``: wall time for ``X-Date``, monotonic
    time and ``sleep`` for retries and lock renewal).

    Observability (docs/observability.md): ``telemetry`` (default ``True``: traced and
    measured through OpenTelemetry's global providers when ``opentelemetry-api`` is
    importable; ``False``: not; a ``TelemetryOptions``: through the providers it names) and
    ``hooks`` (a ``Hooks`` instance told of every request, retry, call, chunk and batch).
    """

    def __init__(
        self,
        base_url: str,
        *,
        user_id: str,
        token: str | None = None,
        auth: Auth | None = None,
        retry: RetryPolicy | None = None,
        timeout: float = 30.0,
        session: ClientSession | None = None,
        allow_insecure_http: bool = False,
        clock_skew_margin: float = 5.0,
        connection_limit: int = 100,
        transport: Transport | None = None,
        clock: Clock | None = None,
        rate_limit: RateLimit | float | None = None,
        max_response_bytes: int = DEFAULT_MAX_RESPONSE_BYTES,
        telemetry: bool | TelemetryOptions = True,
        hooks: Hooks | None = None,
    ) -> None:
        if (token is None) == (auth is None):
            raise TypeError("pass exactly one of token= or auth=")
        if auth is not None and not isinstance(auth, Auth):
            raise TypeError("auth must be a BearerAuth, HmacAuth or another Auth subclass")
        if retry is not None and not isinstance(retry, RetryPolicy):
            raise TypeError("retry must be a RetryPolicy")
        if transport is not None and session is not None:
            raise TypeError("pass session= or transport=, not both")
        self.base_url = check.base_url(base_url, allow_insecure_http=allow_insecure_http)
        self.user_id = check.header_value(user_id, "user_id")
        limit = check.positive_int(connection_limit, "connection_limit")
        clock = clock or SystemClock()
        observed = Telemetry(  # telemetry: the one object the session, bulk and locks report to
            hooks, otel_adapter(telemetry), base_url=self.base_url, clock=clock.monotonic
        )
        session_ = Session(
            self.base_url,
            user_id=self.user_id,
            auth=auth if auth is not None else BearerAuth(token),
            retry=retry or RetryPolicy(),
            timeout=check.positive_seconds(timeout, "timeout"),
            transport=transport or AiohttpTransport(session, connection_limit=limit),
            clock=clock,
            clock_skew_margin=check.non_negative_seconds(clock_skew_margin, "clock_skew_margin"),
            rate_limit=_rate_limit(rate_limit),
            max_response_bytes=check.positive_int(max_response_bytes, "max_response_bytes"),
            telemetry=observed,
        )
        super().__init__(Requester(session_))

    def __repr__(self) -> str:
        auth = self._rq.session.auth
        return f"BackupClient({self.base_url!r}, user_id={self.user_id!r}, auth={auth!r})"

    @property
    def retry(self) -> RetryPolicy:
        """The retry policy every call of this client runs under."""
        return self._rq.session.retrier.policy

    @property
    def rate_limit(self) -> RateLimit | None:
        """The ``RateLimit`` every attempt of this client waits for (``None``: unlimited)."""
        return self._rq.session.rate_limit

    @property
    def rate_limit_wait(self) -> float:
        """Seconds this client's attempts have waited for rate-limit tokens, in total."""
        return self._rq.session.rate_limit_wait

    @property
    def clock_offset(self) -> float:
        """The server's clock minus ours, in seconds, learned from its answers' ``Date``
        headers (0.0 until one arrived). ``X-Date`` is ``now + clock_offset - margin``."""
        return self._rq.session.x_date.offset

    @property
    def closed(self) -> bool:
        """True once ``close()`` was called; calls then raise ``RuntimeError``."""
        return self._rq.closed

    async def close(self) -> None:
        """Close the client (and its session, unless borrowed). Idempotent."""
        await self._rq.session.close()

    async def __aenter__(self) -> Self:
        self._rq.ensure_open()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()


def _rate_limit(value: RateLimit | float | None) -> RateLimit | None:
    """A ``RateLimit`` as given (shared), a number as a limit of this client's own."""
    if value is None or isinstance(value, RateLimit):
        return value
    if isinstance(value, bool) or not isinstance(value, int | float):
        kind = type(value).__name__
        raise TypeError(f"rate_limit must be a RateLimit, a number or None, not {kind}")
    return RateLimit(value)
