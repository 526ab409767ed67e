"""Output: tables for people, JSON for scripts, one-line errors, and the progress display.

Results go to standard output; progress, warnings and errors to standard error, so
``koodrive-backup ... --json > result.json`` stays machine-readable. The progress display is
a rich bar when rich is installed and standard error is a terminal, else a plain line at
most once a second (also what CI logs and the tests see).
"""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Iterable, Sequence
from typing import Any, Protocol, TextIO

import attrs

__all__ = [
    "PROGRESS_PREFIX",
    "NoProgress",
    "Progress",
    "Tally",
    "format_table",
    "make_progress",
    "print_error",
    "print_json",
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


# --- progress ---------------------------------------------------------------------------------


@attrs.define
class Tally:
    """Running counts of a bulk run, in input occurrences (what the progress display shows).

    ``deleted`` counts IDs the server deleted (in a dry run: that exist and would be);
    ``already_gone`` those it did not find (gone all the same); ``repeated`` later repeats of
    an ID in the input (sent once); ``failed`` other refusals; ``unprocessed`` IDs whose
    request failed after retries or was never sent.
    """

    total: int
    deleted: int = 0
    already_gone: int = 0
    repeated: int = 0
    failed: int = 0
    unprocessed: int = 0

    @property
    def done(self) -> int:
        return self.deleted + self.already_gone + self.repeated + self.failed + self.unprocessed

    def counts(self, done_word: str = "deleted") -> str:
        text = f"{done_word} {self.deleted}, already gone {self.already_gone}"
        if self.repeated:
            text += f", repeated {self.repeated}"
        return text + f", failed {self.failed}, unprocessed {self.unprocessed}"


class Progress(Protocol):
    """What the bulk runner reports to, after each settled chunk."""

    def update(self, tally: Tally) -> None: ...

    def close(self) -> None: ...


class NoProgress:
    def update(self, tally: Tally) -> None:
        pass

    def close(self) -> None:
        pass


class PlainProgress:
    """``progress: deleting scopes 1200/20000 IDs settled (...)`` on standard error: the first
    update, then at most one a second, and the last."""

    def __init__(self, label: str, done_word: str) -> None:
        self._label = label
        self._done_word = done_word
        self._started = time.monotonic()
        self._last_print: float | None = None
        self._last: Tally | None = None
        self._printed: tuple[int, ...] | None = None

    def update(self, tally: Tally) -> None:
        self._last = tally
        now = time.monotonic()
        if self._last_print is None or now - self._last_print >= _PLAIN_INTERVAL:
            self._print(now)

    def close(self) -> None:
        if self._last is not None and attrs.astuple(self._last) != self._printed:
            self._print(time.monotonic())

    def _print(self, now: float) -> None:
        tally = self._last
        assert tally is not None
        rate = tally.done / max(now - self._started, 1e-9)
        print(
            f"{PROGRESS_PREFIX} {self._label} {tally.done}/{tally.total} IDs settled "
            f"({tally.counts(self._done_word)}; {rate:.0f} IDs/s)",
            file=sys.stderr,
            flush=True,
        )
        self._last_print = now
        self._printed = attrs.astuple(tally)


class RichProgress:
    """A live rich bar on standard error (only built when standard error is a terminal)."""

    def __init__(self, total: int, label: str, done_word: str, rich_progress: Any) -> None:
        self._bar = rich_progress
        self._done_word = done_word
        self._bar.start()
        self._task = self._bar.add_task(label, total=total, counts="")

    def update(self, tally: Tally) -> None:
        counts = tally.counts(self._done_word)
        self._bar.update(self._task, completed=tally.done, counts=counts)

    def close(self) -> None:
        self._bar.stop()


def make_progress(total: int, label: str, *, enabled: bool, done_word: str = "deleted") -> Progress:
    """The best display available: rich on a terminal, plain lines otherwise, or none."""
    if not enabled or total == 0:
        return NoProgress()
    if sys.stderr.isatty():
        bar = _rich_progress()
        if bar is not None:
            return RichProgress(total, label, done_word, bar)
    return PlainProgress(label, done_word)


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
