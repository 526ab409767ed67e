"""Running the real ``koodrive-backup`` console script in a child process, for the CLI tests.

The fake (``FakeKooDrive``) runs in the test's event loop on 127.0.0.1; the CLI runs as a
child process (``asyncio.create_subprocess_exec``, so the fake keeps serving meanwhile) and
gets its configuration from ``KOODRIVE_*`` environment variables. Every run also checks that
the token never appears in what the CLI printed.
"""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import sys
from collections.abc import AsyncIterator, Sequence
from typing import Any

import attrs
import pytest

from koodrive_backup.testing import FakeKooDrive

TOKEN = "cli-test-token-d41d8cd98f00b204"  # made up; must never be printed
RUN_TIMEOUT = 60.0


def command() -> list[str]:
    """The installed console script next to this interpreter, else ``python -m``."""
    bin_dir = os.path.dirname(sys.executable)
    script = shutil.which("koodrive-backup", path=bin_dir) or shutil.which("koodrive-backup")
    return [script] if script else [sys.executable, "-m", "koodrive_backup"]


@attrs.frozen
class Run:
    status: int
    out: str
    err: str

    def json(self) -> Any:
        return json.loads(self.out)


def env_for(fake: FakeKooDrive | None, **extra: str) -> dict[str, str]:
    """The test process's environment without any KOODRIVE_* (and no user config), plus the
    fake's URL, user and token."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("KOODRIVE_")}
    env["PYTHONUNBUFFERED"] = "1"
    env["XDG_CONFIG_HOME"] = (
        "/nonexistent/koodrive-test-config"  # no profile unless a test sets one
    )
    if fake is not None:
        env.update(
            KOODRIVE_BASE_URL=fake.url, KOODRIVE_USER_ID=fake.user_id, KOODRIVE_TOKEN=fake.token
        )
    env.update(extra)
    return env


async def cli(
    *args: str,
    fake: FakeKooDrive | None = None,
    stdin: str | None = None,
    env: dict[str, str] | None = None,
    cwd: str | None = None,
    prefix: Sequence[str] | None = None,
) -> Run:
    """Run the console script with ``args`` to its end."""
    proc = await asyncio.create_subprocess_exec(
        *(prefix or command()),
        *args,
        stdin=asyncio.subprocess.PIPE if stdin is not None else asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        env=env if env is not None else env_for(fake),
        cwd=cwd,
    )
    data = None if stdin is None else stdin.encode()
    out, err = await asyncio.wait_for(proc.communicate(data), RUN_TIMEOUT)
    assert proc.returncode is not None
    run = Run(proc.returncode, out.decode(), err.decode())
    assert TOKEN not in run.out and TOKEN not in run.err
    return run


@pytest.fixture
async def fake() -> AsyncIterator[FakeKooDrive]:
    async with FakeKooDrive(token=TOKEN) as server:
        yield server


def one_line_error(run: Run) -> str:
    """The one ``koodrive-backup: error:`` line of a failed run (and no traceback)."""
    lines = [line for line in run.err.splitlines() if line.startswith("koodrive-backup: error:")]
    assert len(lines) == 1, run.err
    assert "Traceback" not in run.err and " ERROR: " not in run.err  # said once
    return lines[0]


def remaining_scopes(fake: FakeKooDrive, device_id: str) -> set[str]:
    return set(fake.scope_ids(device_id))
