"""Instructions per ``get_record`` under valgrind: exact figures where timings are noisy.

``python -m benchmarks.instructions [VARIANT ...] [--calls N]`` runs, for each variant, a
child process making ``N`` and ``2N`` calls under ``valgrind --tool=callgrind`` (with
``PYTHONHASHSEED=0``) and prints the difference divided by ``N``: the instructions of one
call, start-up excluded. The client talks to a stub transport returning the bare server's
canned answer (no sockets, no event-loop I/O), so the figure is the SDK's own work.

Variants: ``plain`` (the client as constructed by default: with ``opentelemetry-api``
importable and no provider configured, that is "installed, not configured"), ``off``
(``telemetry=False``), ``hooks`` (a ``Hooks`` subclass overriding ``on_call``), ``traced``
(an SDK ``TracerProvider`` with a no-op exporter and a ``MeterProvider`` with an in-memory
reader, given through ``TelemetryOptions``).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import re
import subprocess
import sys
from typing import Any

from ._bare_server import RECORD_BODY
from ._config import RECORD_ID, TOKEN, USER_ID

VARIANTS = ("plain", "off", "hooks", "traced")


class _Stub:
    """A transport answering every request with the canned record (a ``Transport``)."""

    async def send(self, request: object) -> Any:
        from koodrive_backup import RawResponse

        return RawResponse(200, {}, RECORD_BODY)

    async def aclose(self) -> None:
        return None


def _options(variant: str) -> dict[str, Any]:
    if variant == "plain":
        return {}
    if variant == "off":
        return {"telemetry": False}
    from koodrive_backup import Hooks, TelemetryOptions

    if variant == "hooks":

        class Calls(Hooks):  # one overridden hook: the others cost nothing
            def on_call(self, event: object) -> None:
                return None

        return {"hooks": Calls()}
    from opentelemetry.sdk.metrics import MeterProvider
    from opentelemetry.sdk.metrics.export import InMemoryMetricReader
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import SimpleSpanProcessor, SpanExporter, SpanExportResult

    class Discard(SpanExporter):
        def export(self, spans: object) -> SpanExportResult:
            return SpanExportResult.SUCCESS

    tracer_provider = TracerProvider()
    tracer_provider.add_span_processor(SimpleSpanProcessor(Discard()))
    meter_provider = MeterProvider(metric_readers=[InMemoryMetricReader()])
    return {"telemetry": TelemetryOptions(tracer_provider, meter_provider)}


async def _calls(variant: str, calls: int) -> None:
    from koodrive_backup import BackupClient

    options = _options(variant)
    client = BackupClient(
        "https://host.example", user_id=USER_ID, token=TOKEN, transport=_Stub(), **options
    )
    for _ in range(calls + 50):  # 50 warm-up calls in both runs: caches, first allocations
        await client.get_record(RECORD_ID)
    await client.close()


def _count(variant: str, calls: int) -> int:
    """Instructions of a child process making ``calls`` calls."""
    command = ["valgrind", "--tool=callgrind", "--callgrind-out-file=/dev/null"]
    command += [sys.executable, "-m", "benchmarks.instructions", "--child", variant, str(calls)]
    env = {**os.environ, "PYTHONHASHSEED": "0"}
    done = subprocess.run(command, capture_output=True, text=True, env=env, check=True)
    match = re.search(r"Collected : (\d+)", done.stderr)
    if match is None:
        raise RuntimeError(f"no callgrind total in:\n{done.stderr}")
    return int(match.group(1))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.instructions")
    parser.add_argument("variants", nargs="*", default=list(VARIANTS))
    parser.add_argument("--calls", type=int, default=2000)
    parser.add_argument("--child", nargs=2, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        asyncio.run(_calls(args.child[0], int(args.child[1])))
        return 0
    for variant in args.variants:
        per_call = (_count(variant, 2 * args.calls) - _count(variant, args.calls)) / args.calls
        print(f"{variant:<8} {per_call / 1000:8.1f}k instructions per get_record", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
