"""``lock create|release|wait``: locks from a shell, and recovery from a stuck one.

A lock whose create answer was lost (the server made it, we never learnt its ID) blocks the
module until it expires, up to 10 minutes after its last renewal. The server's 409 says how
long it can still last (the fake's does: "... expires in 540 s ..."); ``lock wait MODULE``
asks again every ``--interval`` seconds, showing that message, until the lock can be taken,
then releases it (or keeps it with ``--keep``, printing its ID).
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import time
from typing import Any

from ..client import BackupClient
from ..errors import ConflictError
from ._config import settings_from
from ._context import Context
from ._errors import EXIT_OK, EXIT_PARTIAL
from ._output import PROGRESS_PREFIX, print_error, print_json

__all__ = ["lock_create", "lock_release", "lock_wait"]


async def lock_create(args: argparse.Namespace, ctx: Context) -> int:
    """``lock create MODULE``: print a new lock ID (valid 10 minutes; not renewed)."""
    async with settings_from(args, ctx.environ, ctx.warn).client() as client:
        lock = await client.create_lock(args.module_code)
    if args.json:
        print_json({"lock_id": lock.lock_id, "module_code": args.module_code})
    else:
        print(lock.lock_id)
    return EXIT_OK


async def lock_release(args: argparse.Namespace, ctx: Context) -> int:
    """``lock release LOCK_ID``."""
    async with settings_from(args, ctx.environ, ctx.warn).client() as client:
        await client.release_lock(args.lock_id)
    if args.json:
        print_json({"lock_id": args.lock_id, "released": True})
    else:
        print(f"Released lock {args.lock_id}.")
    return EXIT_OK


async def lock_wait(args: argparse.Namespace, ctx: Context) -> int:
    """``lock wait MODULE``: 0 once the lock could be taken, 1 after ``--max-wait``."""
    module, started = args.module_code, time.monotonic()
    display = _WaitDisplay(enabled=not args.no_progress)
    async with settings_from(args, ctx.environ, ctx.warn).client() as client:
        try:
            lock_id = await _take(client, args, display, started)
        finally:
            display.close()
        waited = round(time.monotonic() - started, 1)
        if lock_id is None:
            print_error(f"the lock of module {module} is still held after {waited:.1f} s")
            return EXIT_PARTIAL
        if not args.keep:
            await client.release_lock(lock_id)
    _print_taken(args, lock_id, waited)
    return EXIT_OK


async def _take(
    client: BackupClient, args: argparse.Namespace, display: _WaitDisplay, started: float
) -> str | None:
    """Try to create the lock until it works (its ID) or ``--max-wait`` is over (``None``)."""
    while True:
        try:
            return str((await client.create_lock(args.module_code)).lock_id)
        except ConflictError as exc:
            waited = time.monotonic() - started
            if waited + args.interval > args.max_wait:
                return None
            display.show(
                f"waiting for the lock of module {args.module_code}: "
                f"{exc.msg or 'held'} (waited {waited:.0f} s)"
            )
        await asyncio.sleep(args.interval)


def _print_taken(args: argparse.Namespace, lock_id: str, waited: float) -> None:
    if args.json:
        data = {"module_code": args.module_code, "waited_seconds": waited}
        print_json({**data, "lock_id": lock_id} if args.keep else {**data, "free": True})
    elif args.keep:
        print(lock_id)
    else:
        print(f"The lock of module {args.module_code} is free (waited {waited:.0f} s).")


class _WaitDisplay:
    """A rich spinner on a terminal, else one ``progress:`` line per try on standard error."""

    def __init__(self, *, enabled: bool) -> None:
        self._enabled = enabled
        self._status: Any = None
        if enabled and sys.stderr.isatty():
            try:
                from rich.console import Console
            except ImportError:
                return
            self._status = Console(stderr=True).status("waiting for the lock")

    def show(self, text: str) -> None:
        if not self._enabled:
            return
        if self._status is None:
            print(f"{PROGRESS_PREFIX} {text}", file=sys.stderr, flush=True)
            return
        self._status.update(text)
        self._status.start()

    def close(self) -> None:
        if self._status is not None:
            self._status.stop()
