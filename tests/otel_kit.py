"""In-memory OpenTelemetry for the tests: a tracer and a meter provider of the SDK, given to a
client through ``TelemetryOptions`` (no global state), and readers of what they recorded;
a ``Hooks`` subclass that records every event; a fake and a client on virtual time."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from typing import Any

from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader
from opentelemetry.sdk.trace import Event, ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from seams import VirtualClock

from koodrive_backup import BackupClient, Hooks, TelemetryOptions
from koodrive_backup.testing import FakeKooDrive


class Recorded:
    """Providers recording in memory; ``options`` goes to ``BackupClient(telemetry=...)``."""

    def __init__(self, *, include_paths: bool = False) -> None:
        self.exporter = InMemorySpanExporter()
        self.tracer_provider = TracerProvider()
        self.tracer_provider.add_span_processor(SimpleSpanProcessor(self.exporter))
        self.reader = InMemoryMetricReader()
        self.meter_provider = MeterProvider(metric_readers=[self.reader])
        self.options = TelemetryOptions(
            self.tracer_provider, self.meter_provider, include_paths=include_paths
        )
        self.tracer = self.tracer_provider.get_tracer("tests")

    def spans(self, name: str | None = None) -> list[ReadableSpan]:
        found = self.exporter.get_finished_spans()
        return [s for s in found if name is None or s.name == name]

    def points(self, metric: str) -> list[tuple[dict[str, Any], Any]]:
        """``(attributes, value)`` of each data point of ``metric`` (a histogram's count)."""
        return [(attrs, value) for name, attrs, value in self.metric_points() if name == metric]

    def metric_points(self) -> Iterator[tuple[str, dict[str, Any], Any]]:
        data = self.reader.get_metrics_data()
        if data is None:
            return
        for resource in data.resource_metrics:
            for scope in resource.scope_metrics:
                for metric in scope.metrics:
                    for point in metric.data.data_points:
                        value = getattr(point, "value", getattr(point, "count", None))
                        yield metric.name, dict(point.attributes or {}), value

    def total(self, metric: str, **attributes: Any) -> Any:
        """The sum over the points of ``metric`` whose attributes include ``attributes``."""
        return sum(v for a, v in self.points(metric) if attributes.items() <= a.items())

    def export_text(self) -> str:
        """Everything exported, as text: span names, attributes, events, statuses, links,
        metric names and labels (what a secret scan must cover)."""
        lines = []
        for span in self.spans():
            lines.append(f"{span.name} {dict(span.attributes or {})} {span.status.description}")
            lines += [f"  {e.name} {dict(e.attributes or {})}" for e in span.events]
            lines.append(span.to_json())
        for name, attributes, value in self.metric_points():
            lines.append(f"{name} {attributes} {value}")
        return "\n".join(lines)


def parent_of(span: ReadableSpan) -> int | None:
    return span.parent.span_id if span.parent is not None else None


def span_id(span: ReadableSpan) -> int:
    assert span.context is not None
    value: int = span.context.span_id
    return value


def attrs(item: ReadableSpan | Event) -> dict[str, Any]:
    """The attributes of a finished span or of a span event, as a plain dict."""
    return dict(item.attributes or {})


def _record(name: str) -> Any:
    def hook(self: EveryHook, event: object) -> None:
        self.events.append((name, event))

    hook.__name__ = name
    return hook


class EveryHook(Hooks):
    """Overrides every hook (so every event is built) and keeps ``(hook name, event)``."""

    on_request = _record("on_request")
    on_response = _record("on_response")
    on_retry = _record("on_retry")
    on_call = _record("on_call")
    on_chunk = _record("on_chunk")
    on_batch = _record("on_batch")
    on_lock_renewal = _record("on_lock_renewal")
    on_rate_limit = _record("on_rate_limit")

    def __init__(self) -> None:
        self.events: list[tuple[str, Any]] = []

    def of(self, hook: str) -> list[Any]:
        return [event for name, event in self.events if name == hook]

    def names(self) -> list[str]:
        return [name for name, _ in self.events]


@asynccontextmanager
async def on_virtual_time(
    clock: VirtualClock, **options: Any
) -> AsyncIterator[tuple[FakeKooDrive, BackupClient]]:
    """A fake and a client of it sharing ``clock`` (locks live and renew on virtual time)."""
    async with (
        FakeKooDrive(clock=clock.time) as fake,
        BackupClient(fake.url, user_id=fake.user_id, token=fake.token, clock=clock, **options) as c,
    ):
        yield fake, c
