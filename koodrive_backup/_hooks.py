"""Event hooks: what the client reports about its calls, for any telemetry stack.

``BackupClient(hooks=MyHooks())`` calls the methods of a ``Hooks`` subclass at defined
points: before and after every HTTP exchange, when a call is retried or ends, when a chunk of
a bulk operation settles, when a batch ends, when a managed lock is renewed, when a rate
limit made an attempt wait. Every method is a no-op by default: override what you need.

The events are frozen values that never hold a credential: a request is described by its
operation, method, path template and path (IDs are not secrets), never by its headers or
body, so no token, app secret, signature or ``Authorization`` value can reach a hook. Errors
are the SDK's own exceptions, whose text and chain are secret-free (API.md "Credentials").

Hooks run inline on the event loop, in the task that makes the call: keep them short and
never block. An exception a hook raises is logged on the ``koodrive_backup`` logger and
ignored; it never changes the outcome of a call.
"""

from __future__ import annotations

from typing import Any

import attrs

from .errors import KooDriveError

__all__ = [
    "BatchEvent",
    "CallEvent",
    "ChunkEvent",
    "Hooks",
    "LockRenewalEvent",
    "RateLimitEvent",
    "RequestEvent",
    "RequestInfo",
    "ResponseEvent",
    "RetryEvent",
    "TelemetryOptions",
]


@attrs.frozen
class RequestInfo:
    """One API call as telemetry sees it: never a header, a body or a credential.

    ``operation``: the client method (``"get_record"``), or ``"<bulk method>.chunk"`` for a
    chunk request of a bulk operation (``"delete_scopes.chunk"``). ``url_template``: the path
    template (``/koodrive/ose/v1/backup/record/{record_id}``); ``path``: the path sent, IDs
    included. ``server_address`` / ``server_port``: where it goes.
    """

    operation: str
    method: str
    url_template: str
    path: str
    server_address: str
    server_port: int


@attrs.frozen
class RequestEvent:
    """An HTTP exchange is about to be sent (``on_request``).

    ``attempt``: 1 for the first try, 2 for the first retry, ... ``resend``: ``None``, or why
    the attempt's request is sent again (not counted as an attempt): ``"auth"`` after a 401,
    with a fresh credential; ``"clock"`` with an ``X-Date`` corrected by the server's clock.
    """

    request: RequestInfo
    attempt: int
    resend: str | None = None


@attrs.frozen
class ResponseEvent:
    """An HTTP exchange settled (``on_response``): answered, or failed without an answer.

    ``status``: the HTTP status, ``None`` when no answer came (connection error, timeout).
    ``error``: the exception the exchange ends the attempt with (an ``APIError`` for an
    error status or body code, an ``APIConnectionError``, a ``DecodeError``), ``None`` on
    success. ``duration_s``: seconds from ``on_request`` to now, by the client's clock.
    """

    request: RequestInfo
    attempt: int
    status: int | None
    error: KooDriveError | None
    duration_s: float
    resend: str | None = None


@attrs.frozen
class RetryEvent:
    """A retry starts (``on_retry``), after the policy's wait.

    ``attempt``: the number of the attempt starting now (2 for the first retry).
    ``reason``: why: ``"timeout"``, ``"connection"`` or ``"http_<status>"`` (``"http_503"``).
    ``error``: the failure of the previous attempt. ``wait_s``: seconds since that attempt
    ended (the backoff or ``Retry-After`` wait), by the client's clock.
    """

    request: RequestInfo
    attempt: int
    reason: str
    error: KooDriveError
    wait_s: float


@attrs.frozen
class CallEvent:
    """A call ended (``on_call``), once per call whatever its outcome.

    ``outcome``: ``"ok"``, ``"cancelled"``, or the name of the exception's class
    (``"NotFoundError"``). ``error``: that exception (``None`` when ``"ok"``). ``attempts``:
    attempts made (re-sends within one not counted); ``retry_wait_s``: seconds spent waiting
    between them; ``status``: the last HTTP status seen (``None`` if none); ``code``: the
    ``code`` of an ``APIError``; ``duration_s``: the whole call, by the client's clock.
    """

    request: RequestInfo
    outcome: str
    error: BaseException | None
    attempts: int
    retry_wait_s: float
    status: int | None
    code: int | str | None
    duration_s: float


@attrs.frozen
class ChunkEvent:
    """A chunk of a bulk operation settled (``on_chunk``).

    ``operation``: the bulk method (``"delete_scopes"``); ``index``: the chunk's number in
    input order (0-based); ``size``: the unique keys it holds. ``deleted``, ``failed``,
    ``unprocessed``: input occurrences, as ``BatchProgress`` counts them (later repeats of its
    keys are counted as failed with it). ``sent``: false for a chunk never sent because the
    batch stopped. ``error``: the chunk request's exception after retries, if it failed.
    """

    operation: str
    index: int
    size: int
    deleted: int
    failed: int
    unprocessed: int
    sent: bool
    error: KooDriveError | None
    duration_s: float


@attrs.frozen
class BatchEvent:
    """A bulk operation ended (``on_batch``); the counts equal those of its result.

    ``total``, ``deleted``, ``failed``, ``unprocessed``: input occurrences (``deleted`` is
    "done": added scopes for ``add_scopes``); ``gone``: unique IDs known absent now;
    ``errors``: chunk requests that failed after retries. ``outcome``: ``"ok"`` (everything
    done), ``"partial"``, ``"cancelled"`` or the name of the exception that ended it.
    """

    operation: str
    outcome: str
    total: int
    deleted: int
    failed: int
    unprocessed: int
    gone: int
    errors: int
    duration_s: float


@attrs.frozen
class LockRenewalEvent:
    """A managed lock's background renewal settled (``on_lock_renewal``).

    ``outcome``: ``"renewed"``, ``"retrying"`` (a transient failure; tried again soon) or
    ``"lost"``. ``renewals``: successful renewals of this lock so far. ``error``: why it
    failed, if it did.
    """

    lock_id: str
    module_code: str
    outcome: str
    renewals: int
    error: BaseException | None
    duration_s: float


@attrs.frozen
class RateLimitEvent:
    """An attempt waited ``wait_s`` seconds for the client's rate limit (``on_rate_limit``)."""

    request: RequestInfo
    attempt: int
    wait_s: float


class Hooks:
    """Receives the client's events; subclass it and override the methods you need.

    Pass an instance as ``BackupClient(hooks=...)``. The order for one call is
    ``on_request``, ``on_response`` (per exchange: a retry or a re-send adds a pair, a retry
    preceded by ``on_retry``), then ``on_call``. Hooks run whether OpenTelemetry is
    installed or not, and also with ``telemetry=False``.
    """

    def on_request(self, event: RequestEvent) -> None:
        """Before each HTTP exchange (each attempt, and each re-send within one)."""

    def on_response(self, event: ResponseEvent) -> None:
        """After each HTTP exchange: its status, or the error it ended with."""

    def on_retry(self, event: RetryEvent) -> None:
        """When a retry attempt starts, with the reason and the time waited."""

    def on_call(self, event: CallEvent) -> None:
        """When a call ends: its outcome, attempts, duration."""

    def on_chunk(self, event: ChunkEvent) -> None:
        """When a chunk of ``delete_scopes``/``delete_records``/``add_scopes`` settles."""

    def on_batch(self, event: BatchEvent) -> None:
        """When a bulk operation ends, with the accounting of its result."""

    def on_lock_renewal(self, event: LockRenewalEvent) -> None:
        """When a background renewal of a ``client.lock()`` settles."""

    def on_rate_limit(self, event: RateLimitEvent) -> None:
        """When an attempt had to wait for the client's rate limit."""


@attrs.frozen
class TelemetryOptions:
    """OpenTelemetry settings for one client: ``BackupClient(telemetry=TelemetryOptions(...))``.

    ``tracer_provider`` / ``meter_provider``: an OpenTelemetry ``TracerProvider`` /
    ``MeterProvider`` to use instead of the global ones (``None``: the global one, which may
    be configured later). ``include_paths``: also put the path sent, IDs included, on spans
    as ``url.path`` (off by default: ``url.template`` names the endpoint without IDs; metrics
    never carry paths). Needs ``opentelemetry-api`` (``pip install 'koodrive-backup[otel]'``).
    """

    tracer_provider: Any = None
    meter_provider: Any = None
    include_paths: bool = False
