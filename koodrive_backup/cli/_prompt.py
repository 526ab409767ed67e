"""The confirmation asked on a terminal before a large deletion.

Asked when standard error is a terminal (a person is watching) and more than
``CONFIRM_ABOVE`` unique IDs would be deleted; ``--yes`` skips it, a dry run never asks,
and scripts (no terminal) are not asked. The answer is read from standard input when it is
the terminal, else from ``/dev/tty`` (IDs piped in with ``--from-file -``); when there is no
terminal to read from, the run is refused with a hint to pass ``--yes``. Ctrl-C at the
prompt stops at once (nothing was sent).
"""

from __future__ import annotations

import contextlib
import signal
import sys
from collections.abc import Iterator
from typing import TextIO

from ._errors import UsageError

__all__ = ["CONFIRM_ABOVE", "confirm"]

#: A deletion of more unique IDs than this asks first on a terminal.
CONFIRM_ABOVE = 1000


def confirm(count: int, what: str) -> bool:
    """True to go on (no need to ask, or the person typed yes)."""
    if count <= CONFIRM_ABOVE or not sys.stderr.isatty():
        return True
    with _terminal_input() as source:
        if source is None:
            raise UsageError(f"about to delete {count} {what}: confirm with --yes")
        reply = _ask(f"Delete {count} {what}? This cannot be undone. Type yes to go on: ", source)
    if reply.strip().lower() in ("y", "yes"):
        return True
    print("Not confirmed: nothing was deleted.", file=sys.stderr)
    return False


@contextlib.contextmanager
def _terminal_input() -> Iterator[TextIO | None]:
    if sys.stdin.isatty():
        yield sys.stdin
        return
    try:
        tty = open("/dev/tty", encoding="utf-8")  # noqa: SIM115 -- closed below
    except OSError:
        yield None
        return
    with tty:
        yield tty


def _ask(prompt: str, source: TextIO) -> str:
    """Read one line; Ctrl-C raises ``KeyboardInterrupt`` at once (asyncio's own handler
    would only cancel the task, leaving this read blocked)."""
    print(prompt, end="", file=sys.stderr, flush=True)
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        return source.readline()
    finally:
        signal.signal(signal.SIGINT, previous)
