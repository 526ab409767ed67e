"""The OpenTelemetry adapter: spans and metrics from the client's events.

The only module that imports ``opentelemetry`` (``opentelemetry-api``; the extra ``[otel]``).
``_telemetry`` imports it lazily, so the package works without it. It receives the same
secret-free events as the public ``Hooks`` (``_hooks``), plus the span a call runs in, and
turns them into spans, span events and metric points; OpenTelemetry naming lives here only.

Spans: ``koodrive.<operation>`` per call (kind CLIENT, HTTP client attributes, current
while the call runs) with a ``koodrive.attempt`` event per attempt; ``koodrive.<bulk>`` per
bulk operation with a ``koodrive.<bulk>.chunk`` child per chunk request (the chunk's call
reports into that span); ``koodrive.lock.renewal`` per background renewal. Attempts are
events, not spans: an HTTP instrumentation (aiohttp's) already makes a CLIENT span per
exchange, nested under the call span, and a span costs the Python SDK about 20 us.
Exceptions are recorded as an ``exception`` event holding the SDK exception's type and
message only: never ``record_exception``, whose stack trace would format the chained
exceptions (aiohttp's, say) too.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from functools import partial
from typing import TYPE_CHECKING, Any, TypeVar

from ._hooks import (
    BatchEvent,
    CallEvent,
    ChunkEvent,
    LockRenewalEvent,
    RateLimitEvent,
    RequestInfo,
    ResponseEvent,
    RetryEvent,
    TelemetryOptions,
)
from .errors import KooDriveError

if TYPE_CHECKING:
    from opentelemetry.metrics import Meter
    from opentelemetry.trace import Span, SpanKind

__all__ = ["Otel", "Scope"]

Attributes = dict[str, Any]
A = TypeVar("A")
R = TypeVar("R")
SCOPE_NAME = "koodrive_backup"
#: Seconds: the HTTP semantic conventions' advice for request durations.
DURATION_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 0.75, 1, 2.5, 5, 7.5, 10)


class Api:
    """What the adapter uses of ``opentelemetry-api``, imported when the first client with
    telemetry is built: importing the package never imports the extra."""

    def __init__(self) -> None:
        from opentelemetry import context, metrics, trace
        from opentelemetry.trace import SpanKind, Status, StatusCode

        self.get_tracer, self.get_meter = trace.get_tracer, metrics.get_meter
        self.attach, self.detach = context.attach, context.detach
        self.in_context = trace.set_span_in_context
        self.internal, self.client = SpanKind.INTERNAL, SpanKind.CLIENT
        self.error = partial(Status, StatusCode.ERROR)
        #: ``active()`` for the global providers (see the probe at the end of the module).
        self.probe, self.unset = _probes(trace, metrics)
        self.state = _state(trace, metrics)
        trace.get_tracer_provider()  # loads a provider named by OTEL_PYTHON_TRACER_PROVIDER
        metrics.get_meter_provider()


class Scope:
    """A started span, current in the task that started it until ``leave()``.

    An adopted scope (``own=False``) is another scope's span, already current: it is
    annotated, never made current again nor ended here.
    """

    __slots__ = ("_api", "_token", "own", "span")

    def __init__(self, api: Api, span: Span, *, own: bool = True) -> None:
        self._api = api
        self.span = span
        self.own = own
        self._token: object | None = None
        if own:
            self._token = api.attach(api.in_context(span))

    def leave(self) -> None:
        """Stop being the current span (in the task that started it); idempotent."""
        token, self._token = self._token, None
        if token is not None:
            self._api.detach(token)  # type: ignore[arg-type]

    def close(self, attributes: Attributes, error: BaseException | None, *, record: bool) -> None:
        """Set ``attributes`` and the status; record ``error`` (if ``record``); end if own."""
        self.leave()
        span = self.span
        span.set_attributes(attributes)
        if error is not None and not _cancelled(error):
            span.set_status(self._api.error(type(error).__name__))
            if record:
                span.add_event("exception", _exception_attributes(error))
        if self.own:
            span.end()


class Otel:
    """Spans and metrics for one client, through the given or the global providers."""

    def __init__(self, options: TelemetryOptions, version: str) -> None:
        api = self.api = Api()
        self.include_paths = options.include_paths
        tracer_provider, meter_provider = options.tracer_provider, options.meter_provider
        self.tracer = api.get_tracer(SCOPE_NAME, version, tracer_provider=tracer_provider)
        self._instruments(api.get_meter(SCOPE_NAME, version, meter_provider=meter_provider))
        explicit = tracer_provider is not None or meter_provider is not None
        #: Whether anything records now: checked once per call, so it must be cheap.
        self.active: Callable[[], bool] = _always if explicit else api.probe

    def gate(self, make: Callable[[A], R]) -> Callable[[A], R | None]:
        """``make``, preceded by the check that a provider records (``None`` if not): the
        whole cost of telemetry per call while the application configured nothing."""
        if self.active is _always:
            return make
        if self.api.state is None:
            unset = self.api.unset
            return lambda arg: None if unset() else make(arg)
        tracing, metering = self.api.state

        def gated(arg: A) -> R | None:
            if tracing._TRACER_PROVIDER is None and metering._METER_PROVIDER is None:
                return None  # the usual case, nothing configured: two reads, no call
            return make(arg)  # which asks ``active``: a no-op provider records nothing

        return gated

    def _instruments(self, meter: Meter) -> None:
        self.duration = meter.create_histogram(
            "koodrive.client.operation.duration",
            unit="s",
            description="Duration of SDK calls, chunk requests and bulk operations",
            explicit_bucket_boundaries_advisory=DURATION_BUCKETS,
        )
        count = meter.create_counter
        self.attempts = count("koodrive.client.attempts", "{attempt}", "HTTP attempts sent")
        self.retries = count("koodrive.client.retries", "{retry}", "Retries, by reason")
        self.resends = count("koodrive.client.resends", "{request}", "Re-sends, by reason")
        self.waits = count("koodrive.client.rate_limit.waits", "{wait}", "Rate-limit waits")
        self.wait_time = count("koodrive.client.rate_limit.wait_time", "s", "Rate-limit waiting")
        self.ids = count("koodrive.client.batch.ids", "{id}", "Bulk IDs settled, by outcome")
        self.renewals = count("koodrive.client.lock.renewals", "{renewal}", "Lock renewals")

    # --- spans ---------------------------------------------------------------------------

    def start(self, name: str, attributes: Attributes, kind: SpanKind | None = None) -> Scope:
        """A new span (INTERNAL unless told), child of the current one, made current."""
        kind = self.api.internal if kind is None else kind
        return Scope(self.api, self.tracer.start_span(name, kind=kind, attributes=attributes))

    def call_started(self, info: RequestInfo, adopt: Scope | None) -> Scope:
        """The span of a call: its own, or the chunk span it adopts (already current)."""
        attributes = self.request_attributes(info)
        if adopt is not None:
            adopt.span.set_attributes(attributes)
            return Scope(self.api, adopt.span, own=False)
        return self.start(f"koodrive.{info.operation}", attributes, self.api.client)

    def request_attributes(self, info: RequestInfo) -> Attributes:
        """HTTP client conventions: the path template, never the path with IDs (unless asked)."""
        attributes: Attributes = {
            "koodrive.operation": info.operation,
            "http.request.method": info.method,
            "url.template": info.url_template,
            "server.address": info.server_address,
            "server.port": info.server_port,
        }
        if self.include_paths:
            attributes["url.path"] = info.path
        return attributes

    # --- events of a call ----------------------------------------------------------------

    def resent(self, call: Scope, event: ResponseEvent, reason: str) -> None:
        """The answer (``event``) after which the request is sent again, and why."""
        attributes = {"koodrive.attempt": event.attempt, **_status_of(event.status)}
        call.span.add_event("koodrive.resend", {**attributes, "koodrive.resend.reason": reason})
        labels = {"koodrive.operation": event.request.operation, "koodrive.resend.reason": reason}
        self.resends.add(1, labels)

    def attempt_ended(self, call: Scope, event: ResponseEvent) -> None:
        """An attempt settled: an event on the call's span, and the attempt counter."""
        outcome = "ok" if event.error is None else type(event.error).__name__
        attributes: Attributes = {
            "koodrive.attempt": event.attempt,
            "koodrive.attempt.duration_s": event.duration_s,
            **_status_of(event.status),
        }
        if event.error is not None:
            attributes["error.type"] = outcome
        call.span.add_event("koodrive.attempt", attributes)
        # Two labels only: each one costs every point (the status is in the retry reason).
        self.attempts.add(
            1, {"koodrive.operation": event.request.operation, "koodrive.outcome": outcome}
        )

    def retried(self, call: Scope, event: RetryEvent) -> None:
        attributes: Attributes = {
            "koodrive.attempt": event.attempt,
            "koodrive.retry.reason": event.reason,
            "koodrive.retry.wait_s": event.wait_s,
        }
        call.span.add_event("koodrive.retry", attributes)
        labels = {"koodrive.operation": event.request.operation}
        self.retries.add(1, {**labels, "koodrive.retry.reason": event.reason})

    def rate_limited(self, call: Scope, event: RateLimitEvent) -> None:
        call.span.add_event(
            "koodrive.rate_limit.wait", {"koodrive.rate_limit.wait_s": event.wait_s}
        )
        labels = {"koodrive.operation": event.request.operation}
        self.waits.add(1, labels)
        self.wait_time.add(event.wait_s, labels)

    def call_ended(self, call: Scope, event: CallEvent) -> None:
        attributes: Attributes = {
            "koodrive.outcome": event.outcome,
            "koodrive.attempts": event.attempts,
            "koodrive.retry.wait_s": event.retry_wait_s,
            **_status_of(event.status),
        }
        if event.code is not None:
            attributes["koodrive.code"] = event.code
        if event.error is not None and not _cancelled(event.error):
            attributes["error.type"] = event.outcome
        call.close(attributes, event.error, record=True)
        labels = {"koodrive.operation": event.request.operation, "koodrive.outcome": event.outcome}
        self.duration.record(event.duration_s, labels)

    # --- bulk operations and locks -------------------------------------------------------

    def batch_started(self, operation: str, total: int) -> Scope:
        attributes = {"koodrive.operation": operation, "koodrive.batch.total": total}
        return self.start(f"koodrive.{operation}", attributes)

    def chunk_started(self, operation: str, index: int, size: int) -> Scope:
        attributes = {
            "koodrive.operation": f"{operation}.chunk",
            "koodrive.chunk.index": index,
            "koodrive.chunk.size": size,
        }
        return self.start(f"koodrive.{operation}.chunk", attributes, self.api.client)

    def chunk_settled(self, chunk: Scope | None, event: ChunkEvent, *, adopted: bool) -> None:
        """A chunk's accounting: on its span (if it was sent) and in the ID counters."""
        counts = {
            "deleted": event.deleted,
            "failed": event.failed,
            "unprocessed": event.unprocessed,
        }
        if chunk is not None:
            attributes: Attributes = {f"koodrive.chunk.{k}": n for k, n in counts.items()}
            chunk.close(attributes, event.error, record=not adopted)  # a call recorded it
        for outcome, n in counts.items():
            if n:
                self.ids.add(
                    n, {"koodrive.operation": event.operation, "koodrive.outcome": outcome}
                )

    def batch_ended(self, batch: Scope, event: BatchEvent, error: BaseException | None) -> None:
        attributes: Attributes = {
            "koodrive.outcome": event.outcome,
            "koodrive.batch.total": event.total,
            "koodrive.batch.deleted": event.deleted,
            "koodrive.batch.failed": event.failed,
            "koodrive.batch.unprocessed": event.unprocessed,
            "koodrive.batch.gone": event.gone,
            "koodrive.batch.errors": event.errors,
        }
        batch.close(attributes, error, record=True)
        labels = {"koodrive.operation": event.operation, "koodrive.outcome": event.outcome}
        self.duration.record(event.duration_s, labels)

    def renewal_started(self, module_code: str) -> Scope:
        attributes = {
            "koodrive.operation": "lock.renewal",
            "koodrive.lock.module_code": module_code,
        }
        return self.start("koodrive.lock.renewal", attributes)

    def renewal_ended(self, renewal: Scope, event: LockRenewalEvent) -> None:
        attributes = {"koodrive.outcome": event.outcome, "koodrive.lock.renewals": event.renewals}
        renewal.close(attributes, event.error, record=True)
        self.renewals.add(1, {"koodrive.outcome": event.outcome})


def _status_of(status: int | None) -> Attributes:
    return {} if status is None else {"http.response.status_code": status}


def _cancelled(error: BaseException) -> bool:
    return not isinstance(error, Exception)  # CancelledError, KeyboardInterrupt: not failures


def _exception_attributes(error: BaseException) -> Mapping[str, str]:
    """The SDK exception's type and message (secret-free by contract); of anything else, the
    type alone. No stack trace and nothing of the chained exceptions."""
    kind = type(error)
    attributes = {"exception.type": f"{kind.__module__}.{kind.__qualname__}"}
    if isinstance(error, KooDriveError):
        attributes["exception.message"] = str(error)
    return attributes


def _always() -> bool:
    return True


# --- is a global provider configured? -----------------------------------------------------
#
# Until the application sets a provider, the global ones are proxies that make non-recording
# spans; a call would still pay for them (about 4 us: a span, a context attach). So each
# call first asks whether a provider was set. The public getters read ``os.environ`` on each
# call while none is set (0.6 us each); the variables they return from are read directly
# instead (40 ns for both), falling back to the getters if a release renames them. A
# provider can be set once only, so a set one stays set; one set after the client was
# created is seen by the next call.


def _state(trace: Any, metrics: Any) -> tuple[Any, Any] | None:
    """The modules holding the global providers (``_TRACER_PROVIDER``, ``_METER_PROVIDER``:
    ``None`` until set), or ``None`` if a release moved them (the getters are used then)."""
    state = getattr(metrics, "_internal", None)
    if hasattr(trace, "_TRACER_PROVIDER") and hasattr(state, "_METER_PROVIDER"):
        return trace, state
    return None


def _probes(trace: Any, metrics: Any) -> tuple[Callable[[], bool], Callable[[], bool]]:
    """``(recording, unset)``: whether a global provider that records is set (one that is
    not a no-op), and whether none is set at all."""
    found = _state(trace, metrics)
    if found is None:
        return _by_getters(trace, metrics)
    state = found[1]

    def unset() -> bool:
        return trace._TRACER_PROVIDER is None and state._METER_PROVIDER is None

    def recording() -> bool:
        return _records(trace._TRACER_PROVIDER) or _records(state._METER_PROVIDER)

    return recording, unset


def _by_getters(trace: Any, metrics: Any) -> tuple[Callable[[], bool], Callable[[], bool]]:
    def recording() -> bool:
        return _records(trace.get_tracer_provider()) or _records(metrics.get_meter_provider())

    return recording, lambda: not recording()


#: The providers that record nothing: the API's proxies (before one is set) and no-ops.
_IDLE = {"ProxyTracerProvider", "NoOpTracerProvider", "_ProxyMeterProvider", "NoOpMeterProvider"}


def _records(provider: object) -> bool:
    return provider is not None and type(provider).__name__ not in _IDLE
