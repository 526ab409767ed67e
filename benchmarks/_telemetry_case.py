"""``telemetry``: what observability costs on the hot path, ``get_record`` against the bare
server at the target concurrency.

Variants, interleaved run by run, in an order reversed every other run (A B C, C B A, ...)
so that a machine growing slower or faster during the case weighs on all of them alike:

- ``telemetry=False``: the baseline. It is the code path of an install without
  ``opentelemetry-api`` too: in both cases the client holds no telemetry at all.
- the default client with ``opentelemetry-api`` installed and no provider configured (the
  global providers are never set in the benchmark process);
- an SDK ``TracerProvider`` with a ``BatchSpanProcessor`` and an exporter that drops
  everything, and a ``MeterProvider`` (given through ``TelemetryOptions``): the cost of
  actually recording two spans and a few metric points per call.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from contextlib import AsyncExitStack
from typing import Any

from koodrive_backup import BackupClient, RetryPolicy, TelemetryOptions

from ._config import RECORD_ID, TOKEN, USER_ID, Sizes
from ._driver import Series, cpu_us, interleave, paired_ratio, rate, ratios_to
from ._report import CaseResult, Target, series_row, table_header
from ._servers import BARE, server

__all__ = ["recording_options", "telemetry_case"]

Call = Callable[[int], Awaitable[object]]
OFF = "telemetry=False (as without otel)"
IDLE = "otel-api, no provider configured"
TRACED = "SDK provider, no-op exporter"


def recording_options(*, batched: bool = True) -> TelemetryOptions:
    """An SDK ``TracerProvider`` whose exporter drops every span (through a
    ``BatchSpanProcessor``, else a ``SimpleSpanProcessor``) and a ``MeterProvider`` with an
    in-memory reader: the cost of actually recording, nothing exported. Needs
    ``opentelemetry-sdk``."""
    from opentelemetry.sdk.metrics import MeterProvider
    from opentelemetry.sdk.metrics.export import InMemoryMetricReader
    from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
    from opentelemetry.sdk.trace.export import (
        BatchSpanProcessor,
        SimpleSpanProcessor,
        SpanExporter,
        SpanExportResult,
    )

    class Discard(SpanExporter):
        def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
            return SpanExportResult.SUCCESS

    tracer_provider = TracerProvider()
    processor = BatchSpanProcessor if batched else SimpleSpanProcessor
    tracer_provider.add_span_processor(processor(Discard()))
    meter_provider = MeterProvider(metric_readers=[InMemoryMetricReader()])
    return TelemetryOptions(tracer_provider, meter_provider)


async def _variants(url: str, stack: AsyncExitStack) -> dict[str, Call]:
    settings: dict[str, Any] = {"user_id": USER_ID, "token": TOKEN, "retry": RetryPolicy()}
    options: dict[str, Any] = {OFF: False, IDLE: True, TRACED: recording_options()}
    calls: dict[str, Call] = {}
    for name, telemetry in options.items():
        client = BackupClient(url, telemetry=telemetry, **settings)
        await stack.enter_async_context(client)
        calls[name] = _caller(client)
    return calls


def _caller(client: BackupClient) -> Call:
    async def call(_: int) -> object:
        return await client.get_record(RECORD_ID)

    return call


async def telemetry_case(sizes: Sizes) -> CaseResult:
    """req/s and client CPU per request of each variant, as ratios to ``telemetry=False``."""
    concurrency = sizes.target_concurrency
    result = CaseResult("telemetry", f"telemetry: get_record c={concurrency}, bare server")
    try:
        import opentelemetry.sdk  # noqa: F401 -- the case needs the SDK for its third variant
    except ImportError:
        result.lines.append("    skipped: pip install -e '.[bench]' (opentelemetry-sdk)")
        return result
    async with server(BARE) as bare, AsyncExitStack() as stack:
        calls = await _variants(bare.url, stack)
        for call in calls.values():
            record = await call(0)
            if getattr(record, "record_id", None) != RECORD_ID:
                raise AssertionError(f"decoded {record!r}")
        series = await interleave(
            calls,
            sizes.requests,
            concurrency,
            runs=sizes.runs,
            warmup=sizes.warmup,
            meter=bare,
            alternate=True,
        )
    off = series[OFF]
    result.lines.append(table_header("req/s"))
    result.lines += [series_row(s, off) for s in series.values()]
    result.lines += [_cost_line(series[name], off) for name in (IDLE, TRACED)]
    result.data = {
        "series": {name: s.as_dict() for name, s in series.items()},
        "ratios_to_off": {name: ratios_to(s, off) for name, s in series.items() if s is not off},
    }
    idle = paired_ratio(series[IDLE], off, rate).median
    name = f"telemetry: get_record c={concurrency}, otel idle / off req/s"
    result.targets.append(Target(name, idle, 0.98, "x", at_least=True))
    return result


def _cost_line(series: Series, off: Series) -> str:
    extra = series.cpu_us.median - off.cpu_us.median
    ratio = paired_ratio(series, off, cpu_us).median
    return f"    {series.label}: {extra:+.1f} us client CPU per call ({ratio:.2f}x)"
