"""docs/observability.md: every python block runs as printed, each in a fresh interpreter
(the first one sets OpenTelemetry's global providers, which a process can do only once)."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

DOC = Path(__file__).resolve().parent.parent / "docs" / "observability.md"
BLOCKS = re.findall(r"```python\n(.*?)```", DOC.read_text(), re.DOTALL)


def run(code: str) -> str:
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=False
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


def spans_in(console: str) -> list[dict[str, object]]:
    """The JSON objects the console span exporter printed (the metrics come after them)."""
    decoder, found, at = json.JSONDecoder(), [], 0
    while (start := console.find("{", at)) != -1:
        value, at = decoder.raw_decode(console, start)
        if "resource_metrics" not in value:
            found.append(value)
    return found


def test_there_are_three_examples() -> None:
    assert len(BLOCKS) == 3


def test_the_console_example_prints_the_spans_it_describes() -> None:
    console = run(BLOCKS[0])
    spans = {span["name"]: span for span in spans_in(console)}
    assert set(spans) == {
        "cleanup device",
        "koodrive.delete_scopes",
        "koodrive.delete_scopes.chunk",
    }
    chunks = [span for span in spans_in(console) if span["name"] == "koodrive.delete_scopes.chunk"]
    assert len(chunks) == 3
    attempts = [e for chunk in chunks for e in chunk["events"] if e["name"] == "koodrive.attempt"]
    assert len(attempts) == 4  # one retry
    batch = spans["koodrive.delete_scopes"]["attributes"]
    assert batch["koodrive.batch.total"] == batch["koodrive.batch.deleted"] == 250  # type: ignore[index]
    assert "deleted 250 scopes" in console
    assert '"name": "koodrive.client.operation.duration"' in console


def test_the_options_example_records_into_its_own_provider() -> None:
    assert run(BLOCKS[1]).splitlines() == ["['koodrive.list_devices']"]


def test_the_hooks_example_prints_what_the_doc_says() -> None:
    assert run(BLOCKS[2]).splitlines() == [
        "retrying get_record (http_503), attempt 2",
        "get_record: ok after 2 attempt(s)",
    ]
