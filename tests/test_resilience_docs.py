"""Every ```python block of docs/resilience.md runs as printed (each is a complete program
against the embedded fake server), and says what its comments claim."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

DOC = Path(__file__).resolve().parent.parent / "docs" / "resilience.md"
BLOCKS = re.findall(r"```python\n(.*?)```", DOC.read_text(), re.DOTALL)


def run_block(marker: str, capsys: pytest.CaptureFixture[str]) -> str:
    (code,) = [block for block in BLOCKS if marker in block]
    exec(compile(code, str(DOC), "exec"), {"__name__": "__main__"})
    return capsys.readouterr().out


def test_every_block_is_run_below() -> None:
    markers = ("RateLimit(50", "retry_quota=50", "clock_offset = -3600")
    assert len(BLOCKS) == len(markers)
    assert all(any(m in block for block in BLOCKS) for m in markers)


def test_rate_limit_example(capsys: pytest.CaptureFixture[str]) -> None:
    out = run_block("RateLimit(50", capsys)
    seconds = float(re.search(r"40 calls in ([\d.]+) s", out).group(1))  # type: ignore[union-attr]
    assert seconds >= 0.6
    assert "waited for tokens" in out


def test_retry_quota_example(capsys: pytest.CaptureFixture[str]) -> None:
    out = run_block("retry_quota=50", capsys)
    assert "30 calls failed; the server saw 40 requests" in out


def test_clock_example(capsys: pytest.CaptureFixture[str]) -> None:
    out = run_block("clock_offset = -3600", capsys)
    offset = float(re.search(r"clock_offset: ([-+\d]+) s", out).group(1))  # type: ignore[union-attr]
    assert abs(offset + 3600) <= 2
    assert "first call: 2 requests" in out and "second call: 1 request" in out
