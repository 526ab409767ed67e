"""A terminal session (a pseudo-terminal from the ``pty`` module): the confirmation asked
before a large deletion, and the live progress bar, as an operator sees them."""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import os
import pty
import re
import signal
import struct
import termios
import threading
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence

import pytest
from cli_support import RUN_TIMEOUT, command, env_for, fake

from koodrive_backup.testing import FakeKooDrive

__all__ = ["fake"]  # the fixture, imported for pytest

ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]|\x1b\][^\x07]*\x07|\r")


class Terminal:
    """The console script on a pseudo-terminal (stdin, stdout and stderr), read as text."""

    def __init__(self, proc: asyncio.subprocess.Process, master: int) -> None:
        self.proc, self.master = proc, master
        self.chunks: list[bytes] = []
        self.changed = asyncio.Event()
        self.loop = asyncio.get_running_loop()
        self.reader = threading.Thread(target=self._read, daemon=True)
        self.reader.start()

    def _read(self) -> None:
        while True:
            try:
                data = os.read(self.master, 4096)
            except OSError:  # EIO: the child closed the terminal
                return
            if not data:
                return
            self.chunks.append(data)
            with contextlib.suppress(RuntimeError):  # the loop is gone: the test is over
                self.loop.call_soon_threadsafe(self.changed.set)

    @property
    def text(self) -> str:
        """Everything shown so far, without colours and cursor moves."""
        return ANSI.sub("", b"".join(self.chunks).decode(errors="replace"))

    async def expect(self, needle: str) -> None:
        async def seen() -> None:
            while needle not in self.text:
                self.changed.clear()
                await self.changed.wait()

        await asyncio.wait_for(seen(), RUN_TIMEOUT)

    def type(self, line: str) -> None:
        os.write(self.master, line.encode() + b"\n")

    async def status(self) -> int:
        code = await asyncio.wait_for(self.proc.wait(), RUN_TIMEOUT)
        await asyncio.to_thread(self.reader.join, RUN_TIMEOUT)
        return code


Start = Callable[..., Awaitable[Terminal]]


@pytest.fixture
async def terminal(fake: FakeKooDrive) -> AsyncIterator[Start]:
    opened: list[tuple[asyncio.subprocess.Process, int]] = []

    async def start(*args: str) -> Terminal:
        master, slave = pty.openpty()
        fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 40, 120, 0, 0))
        env = env_for(fake, TERM="xterm-256color", COLUMNS="120")
        env.pop("NO_COLOR", None)
        proc = await asyncio.create_subprocess_exec(
            *command(), *args, stdin=slave, stdout=slave, stderr=slave, env=env
        )
        os.close(slave)
        opened.append((proc, master))
        return Terminal(proc, master)

    yield start
    for proc, master in opened:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()
        os.close(master)


def _scopes(fake: FakeKooDrive, count: int) -> tuple[str, list[str]]:
    device_id = fake.add_device()
    return device_id, fake.add_scopes(device_id, count)


async def test_a_large_deletion_asks_first_then_shows_a_progress_bar(
    fake: FakeKooDrive, terminal: Start
) -> None:
    device_id, ids = _scopes(fake, 1500)
    session = await terminal("scopes", "delete", device_id, *ids)

    await session.expect("Type yes to go on:")
    assert "Delete 1500 scopes of device" in session.text
    assert fake.route_counts["batchDeleteBackupScope"] == 0  # nothing sent before the answer
    session.type("yes")

    assert await session.status() == 0
    text = session.text
    assert "deleting scopes" in text and "1500/1500" in text  # rich's bar, drawn live
    assert "━" in text and "progress:" not in text  # a bar, not the plain lines
    assert "Done: all 1500 IDs are gone." in text
    assert fake.scope_ids(device_id) == []


async def test_no_deletes_nothing(fake: FakeKooDrive, terminal: Start) -> None:
    device_id, ids = _scopes(fake, 1001)
    session = await terminal("scopes", "delete", device_id, *ids)
    await session.expect("Type yes to go on:")
    session.type("no")

    assert await session.status() == 1
    assert "Not confirmed: nothing was deleted." in session.text
    assert (
        fake.route_counts["batchDeleteBackupScope"] == 0 and len(fake.scope_ids(device_id)) == 1001
    )


async def test_ctrl_c_at_the_question_stops_at_once(fake: FakeKooDrive, terminal: Start) -> None:
    device_id, ids = _scopes(fake, 1001)
    session = await terminal("scopes", "delete", device_id, *ids)
    await session.expect("Type yes to go on:")
    session.proc.send_signal(signal.SIGINT)

    assert await session.status() == 130
    assert "interrupted" in session.text
    assert fake.request_count == 0


@pytest.mark.parametrize(
    "extra",
    [("--yes",), ("--dry-run",)],
    ids=["yes", "dry-run"],
)
async def test_yes_and_dry_runs_do_not_ask(
    fake: FakeKooDrive, terminal: Start, extra: Sequence[str]
) -> None:
    device_id, ids = _scopes(fake, 1001)
    session = await terminal("scopes", "delete", device_id, *ids, *extra)
    assert await session.status() == 0
    assert "Type yes" not in session.text
    assert ("would be deleted" in session.text) == ("--dry-run" in extra)


async def test_few_ids_do_not_ask(fake: FakeKooDrive, terminal: Start) -> None:
    device_id, ids = _scopes(fake, 1000)  # the limit itself: no question
    session = await terminal("scopes", "delete", device_id, *ids)
    assert await session.status() == 0
    assert "Type yes" not in session.text and fake.scope_ids(device_id) == []


async def test_ids_piped_in_without_a_terminal_to_ask_on_need_yes(fake: FakeKooDrive) -> None:
    device_id, ids = _scopes(fake, 1001)
    master, slave = pty.openpty()
    try:  # a person watches stderr, but the IDs come down a pipe and there is no /dev/tty
        proc = await asyncio.create_subprocess_exec(
            *command(), "scopes", "delete", device_id, "--from-file", "-",
            stdin=asyncio.subprocess.PIPE, stdout=slave, stderr=slave, env=env_for(fake),
            start_new_session=True,
        )  # fmt: skip
        os.close(slave)
        session = Terminal(proc, master)
        await proc.communicate("\n".join(ids).encode())
        assert await session.status() == 2
    finally:
        os.close(master)
    assert "about to delete 1001 scopes of device" in session.text
    assert "confirm with --yes" in session.text and fake.request_count == 0
