"""In-memory OpenTelemetry for the tests: a tracer and a meter provider of the SDK, given to a
client through ``TelemetryOptions`` (no global state), and readers of what they recorded;
and a ``Hooks`` subclass that records every event."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from koodrive_backup import Hooks, TelemetryOptions


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
    return span.context.span_id


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
