"""Telemetry through OpenTelemetry's global providers, and without OpenTelemetry at all.

A global provider can be set once per process, so each case runs in a child process of its
own (a script printing JSON), against a fake on loopback started by that child.
"""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from typing import Any

SERVE = """
import asyncio, json, sys
from koodrive_backup import BackupClient, Hooks, NotFoundError
from koodrive_backup.testing import FakeKooDrive
"""


def run(script: str) -> Any:
    """Run ``script`` in a fresh interpreter; return the JSON its last line prints."""
    done = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(script)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout.splitlines()[-1])


def test_a_global_provider_configured_after_the_client_was_created_is_used() -> None:
    found = run(
        SERVE
        + """
from opentelemetry import metrics, trace
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

async def main():
    exporter, reader = InMemorySpanExporter(), InMemoryMetricReader()
    async with FakeKooDrive() as fake:
        record_id = fake.add_record(fake.add_device())
        credentials = dict(user_id=fake.user_id, token=fake.token)
        async with BackupClient(fake.url, **credentials) as client, BackupClient(
            fake.url, telemetry=False, **credentials
        ) as off:
            await client.get_record(record_id)  # nothing configured yet: nothing recorded
            provider = TracerProvider()
            provider.add_span_processor(SimpleSpanProcessor(exporter))
            trace.set_tracer_provider(provider)
            metrics.set_meter_provider(MeterProvider(metric_readers=[reader]))
            await client.get_record(record_id)
            await off.get_record(record_id)  # telemetry=False: never recorded
    points = [
        (m.name, dict(p.attributes), getattr(p, "value", getattr(p, "count", None)))
        for r in reader.get_metrics_data().resource_metrics
        for s in r.scope_metrics for m in s.metrics for p in m.data.data_points
    ]
    names = [s.name for s in exporter.get_finished_spans()]
    print(json.dumps({"spans": names, "points": points}))

asyncio.run(main())
"""
    )
    assert found["spans"] == ["koodrive.get_record"]
    durations = [p for p in found["points"] if p[0] == "koodrive.client.operation.duration"]
    labels = {"koodrive.operation": "get_record", "koodrive.outcome": "ok"}
    assert durations == [["koodrive.client.operation.duration", labels, 1]]


def test_the_package_works_without_opentelemetry() -> None:
    found = run(
        """
import sys

class Block:  # opentelemetry is not installed, as far as this process can tell
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] == "opentelemetry":
            raise ModuleNotFoundError(f"No module named {name!r}", name=name)
        return None

sys.meta_path.insert(0, Block())
"""
        + SERVE
        + """
from koodrive_backup import TelemetryOptions

class Calls(Hooks):
    def __init__(self):
        self.outcomes = []

    def on_call(self, event):
        self.outcomes.append(event.outcome)

async def main():
    hooks = Calls()
    async with FakeKooDrive() as fake:
        record_id = fake.add_record(fake.add_device())
        credentials = dict(user_id=fake.user_id, token=fake.token)
        async with BackupClient(fake.url, hooks=hooks, **credentials) as client:
            record = await client.get_record(record_id)
            try:
                await client.get_record("0")
            except NotFoundError:
                pass
        try:
            BackupClient(fake.url, telemetry=TelemetryOptions(), **credentials)
            refused = None
        except ImportError as exc:
            refused = str(exc)
    otel = sorted(m for m in sys.modules if m.startswith("opentelemetry"))
    print(json.dumps({"record": record.record_id == record_id, "outcomes": hooks.outcomes,
                      "refused": refused, "otel": otel}))

asyncio.run(main())
"""
    )
    assert found["record"] is True
    assert found["outcomes"] == ["ok", "NotFoundError"]
    assert "pip install 'koodrive-backup[otel]'" in found["refused"]
    assert found["otel"] == []


def test_importing_the_package_does_not_import_opentelemetry() -> None:
    found = run(
        """
import json, sys
import koodrive_backup, koodrive_backup.testing
print(json.dumps(sorted(m for m in sys.modules if m.startswith("opentelemetry"))))
"""
    )
    assert found == []


def test_clients_on_the_global_providers_leave_nothing_behind() -> None:
    # Until a provider is set, OpenTelemetry's proxy meter keeps every instrument made on it:
    # a service making a client per job must not grow by one set of instruments per client.
    found = run(
        """
import gc, json, tracemalloc
from koodrive_backup import BackupClient

def make(count):
    for _ in range(count):
        BackupClient("https://backup.example", user_id="1", token="t")
    gc.collect()

make(10)  # the first client imports and builds what is shared
tracemalloc.start()
before = tracemalloc.get_traced_memory()[0]
make(500)
print(json.dumps(tracemalloc.get_traced_memory()[0] - before))
"""
    )
    assert found < 50_000  # bytes kept by 500 clients (a set of instruments each: 680 kB)
