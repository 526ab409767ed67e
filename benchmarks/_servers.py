"""Servers under test, each in its own process so that its CPU is not the client's.

``server(module, *args)`` starts ``python -m <module> <args>``, reads the JSON object the
server prints on its first stdout line (at least ``{"url": ...}``), and always stops and
reaps the process on the way out, even when the benchmark fails or is interrupted.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import sys
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

__all__ = ["BARE", "FAKE", "Server", "server"]

REPO_ROOT = Path(__file__).resolve().parent.parent
BARE = "benchmarks._bare_server"
FAKE = "koodrive_backup.testing"  # the fake's own standalone entry point
_STARTUP_TIMEOUT = 120.0  # seeding a few hundred thousand scopes in the fake takes seconds


class Server:
    """A running server process: its announced ``info`` and its CPU time so far."""

    def __init__(self, process: asyncio.subprocess.Process, info: dict[str, Any]) -> None:
        self.process = process
        self.info = info
        self.url: str = info["url"]

    def cpu_seconds(self) -> float | None:
        """User + system CPU seconds of the server process (Linux ``/proc``), else ``None``."""
        try:
            fields = Path(f"/proc/{self.process.pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            return None
        ticks = int(fields[11]) + int(fields[12])  # utime, stime (fields 14 and 15 of stat)
        return ticks / os.sysconf("SC_CLK_TCK")


@contextlib.asynccontextmanager
async def server(module: str, *args: str) -> AsyncIterator[Server]:
    """Run ``python -m module *args`` for the duration of the ``async with`` block."""
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        module,
        *args,
        stdout=asyncio.subprocess.PIPE,
        cwd=REPO_ROOT,
    )
    try:
        yield Server(process, await _announcement(process, module))
    finally:
        await _stop(process)


async def _stop(process: asyncio.subprocess.Process) -> None:
    """SIGTERM (the fake then removes its temp files), SIGKILL if it lingers; always reap."""
    if process.returncode is None:
        process.terminate()
        try:
            await asyncio.wait_for(process.wait(), 5.0)
        except TimeoutError:
            process.kill()
    await process.wait()


async def _announcement(process: asyncio.subprocess.Process, module: str) -> dict[str, Any]:
    assert process.stdout is not None
    line = await asyncio.wait_for(process.stdout.readline(), _STARTUP_TIMEOUT)
    if not line:
        code = await process.wait()
        raise RuntimeError(f"{module} exited with status {code} before announcing its URL")
    info = json.loads(line)
    if not isinstance(info, dict) or not str(info.get("url", "")).startswith("http://127.0.0.1:"):
        raise RuntimeError(f"{module} announced {line!r}, not a loopback URL")
    return info
