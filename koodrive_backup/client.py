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
from ._records import RecordOps
from ._requester import Requester
from ._retry import RetryPolicy
from ._session import Session
from ._signing import Auth, BearerAuth
from ._telemetry import Telemetry, otel_adapter
from ._transport import AiohttpTransport, ClientSession, Clock, SystemClock, Transport

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

    Extra keyword options: ``clock_skew_margin`` (seconds ``X-Date`` is backdated so that a
    server clock slightly behind ours never sees a future time; default 5),
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
            clock_skew_margin=clock_skew_margin,
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
    def closed(self) -> bool:
        """True once ``close()`` was called; calls then raise ``RuntimeError``."""
        return self._rq.closed

    async def close(self) -> None:
        """Close the client (and its session, unless borrowed). Idempotent."""
        await self._rq.session.close()

    async def __aenter__(self) -> Self:
        if self.closed:
            raise RuntimeError("this BackupClient is closed")
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()
