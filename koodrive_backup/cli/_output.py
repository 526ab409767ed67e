"""Output: tables for people, JSON for scripts, one-line errors, and the progress display.

Results go to standard output; progress, warnings and errors to standard error, so
``koodrive-backup ... --json > result.json`` stays machine-readable. The progress display is
a rich bar when rich is installed and standard error is a terminal, else a plain line at
most once a second (also what CI logs and the tests see).
"""

from __future__ import annotations

import json
import logging
import sys
import time
from collections.abc import Iterable, Sequence
from typing import Any, Protocol, TextIO

__all__ = [
    "PROGRESS_PREFIX",
    "Progress",
    "format_table",
    "make_progress",
    "print_error",
    "print_json",
    "setup_logging",
]

PROGRESS_PREFIX = "progress:"
_PLAIN_INTERVAL = 1.0


def print_json(data: object, out: TextIO | None = None) -> None:
    """One JSON document on standard output (IDs are strings already)."""
    print(json.dumps(data, indent=2, ensure_ascii=False), file=out or sys.stdout)


def print_error(message: str) -> None:
    """One clear line on standard error."""
    first_line = message.strip().splitlines()[0] if message.strip() else "failed"
    print(f"koodrive-backup: error: {first_line}", file=sys.stderr)


def format_table(
    rows: Iterable[Sequence[object]], title: str | None = None, header: Sequence[str] = ()
) -> str:
    """Plain aligned columns (works on any terminal, readable in logs, easy to grep)."""
    table = [[str(cell) for cell in row] for row in rows]
    if header:
        table.insert(0, [str(cell) for cell in header])
    widths = [max(len(row[i]) for row in table if i < len(row)) for i in range(_width(table))]
    lines = [title] if title else []
    for number, row in enumerate(table):
        cells = [cell.ljust(widths[i]) for i, cell in enumerate(row)]
        lines.append("  " + "  ".join(cells).rstrip())
        if header and number == 0:
            lines.append("  " + "  ".join("-" * w for w in widths))
    return "\n".join(lines)


def _width(table: list[list[str]]) -> int:
    return max((len(row) for row in table), default=0)


# --- logging ----------------------------------------------------------------------------------


class _StderrHandler(logging.StreamHandler):  # type: ignore[type-arg]
    """Writes to the *current* ``sys.stderr`` (rich redirects it above a live bar)."""

    def emit(self, record: logging.LogRecord) -> None:
        self.setStream(sys.stderr)
        super().emit(record)


class RetryCounter(logging.Handler):
    """Counts the SDK's "retrying ... after attempt N failed" records (INFO)."""

    def __init__(self) -> None:
        super().__init__(logging.INFO)
        self.retries = 0

    def emit(self, record: logging.LogRecord) -> None:
        if isinstance(record.msg, str) and record.msg.startswith("retrying"):
            self.retries += 1


def setup_logging(*, debug: bool, verbose: bool) -> RetryCounter:
    """SDK log records go to standard error (WARNING, or INFO/DEBUG); retries are counted."""
    logger = logging.getLogger("koodrive_backup")
    level = logging.DEBUG if debug else logging.INFO if verbose else logging.WARNING
    shown = _StderrHandler()
    shown.setLevel(level)
    shown.setFormatter(logging.Formatter("koodrive-backup: %(levelname)s: %(message)s"))
    counter = RetryCounter()
    for handler in list(logger.handlers):
        if isinstance(handler, _StderrHandler | RetryCounter):
            logger.removeHandler(handler)
    logger.addHandler(shown)
    logger.addHandler(counter)
    logger.setLevel(min(level, logging.INFO))
    logger.propagate = False
    return counter


# --- progress ---------------------------------------------------------------------------------


class Progress(Protocol):
    """What the bulk runner reports to: running counts of input occurrences."""

    def update(self, done: int, deleted: int, failed: int, unprocessed: int) -> None: ...

    def close(self) -> None: ...


class NoProgress:
    def update(self, done: int, deleted: int, failed: int, unprocessed: int) -> None:
        pass

    def close(self) -> None:
        pass


class PlainProgress:
    """``progress: 1200/20000 IDs settled (...)`` on standard error: first, then ≤ 1/s, last."""

    def __init__(self, total: int, label: str) -> None:
        self._total = total
        self._label = label
        self._started = time.monotonic()
        self._last_print: float | None = None
        self._last: tuple[int, int, int, int] | None = None
        self._printed: tuple[int, int, int, int] | None = None

    def update(self, done: int, deleted: int, failed: int, unprocessed: int) -> None:
        self._last = (done, deleted, failed, unprocessed)
        now = time.monotonic()
        if self._last_print is None or now - self._last_print >= _PLAIN_INTERVAL:
            self._print(now)

    def close(self) -> None:
        if self._last is not None and self._last != self._printed:
            self._print(time.monotonic())

    def _print(self, now: float) -> None:
        assert self._last is not None
        done, deleted, failed, unprocessed = self._last
        rate = done / max(now - self._started, 1e-9)
        print(
            f"{PROGRESS_PREFIX} {self._label} {done}/{self._total} IDs settled "
            f"(deleted {deleted}, failed {failed}, unprocessed {unprocessed}; {rate:.0f} IDs/s)",
            file=sys.stderr,
            flush=True,
        )
        self._last_print = now
        self._printed = self._last


class RichProgress:
    """A live rich bar on standard error (only built when standard error is a terminal)."""

    def __init__(self, total: int, label: str, rich_progress: Any) -> None:
        self._bar = rich_progress
        self._bar.start()
        self._task = self._bar.add_task(label, total=total, counts="")

    def update(self, done: int, deleted: int, failed: int, unprocessed: int) -> None:
        counts = f"{deleted} deleted, {failed} failed"
        if unprocessed:
            counts += f", {unprocessed} unprocessed"
        self._bar.update(self._task, completed=done, counts=counts)

    def close(self) -> None:
        self._bar.stop()


def make_progress(total: int, label: str, *, enabled: bool) -> Progress:
    """The best display available: rich on a terminal, plain lines otherwise, or none."""
    if not enabled or total == 0:
        return NoProgress()
    if sys.stderr.isatty():
        bar = _rich_progress()
        if bar is not None:
            return RichProgress(total, label, bar)
    return PlainProgress(total, label)


def _rich_progress() -> Any:
    try:  # optional dependency: pip install 'koodrive-backup[cli]'
        from rich.console import Console
        from rich.progress import (
            BarColumn,
            MofNCompleteColumn,
            TextColumn,
            TimeElapsedColumn,
            TimeRemainingColumn,
        )
        from rich.progress import Progress as RichBar
    except ImportError:
        return None
    return RichBar(
        TextColumn("[bold]{task.description}"),
        BarColumn(bar_width=30),
        MofNCompleteColumn(),
        TextColumn("{task.fields[counts]}"),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
        console=Console(stderr=True),
        transient=False,
    )
