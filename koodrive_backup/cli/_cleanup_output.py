"""What ``cleanup`` prints: the progress display over IDs and targets, the status table, and
the ``status --json`` object (streamed: a million failures never sit in memory at once)."""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Iterator
from typing import Any

from ..jobs import Failure, JobStatus
from ._output import PROGRESS_PREFIX, format_table
from ._report import wait_row

__all__ = ["JobProgress", "print_json", "print_open_errors", "print_status", "status_table"]

_PLAIN_INTERVAL = 1.0
_FAILURES_SHOWN = 20


class JobProgress:
    """Two bars (IDs settled of those planned so far; targets finished) on a terminal with
    rich, else a plain ``progress:`` line on standard error at most once a second."""

    def __init__(self, *, enabled: bool) -> None:
        self._enabled = enabled
        self._bar: Any = _rich_bars() if enabled and sys.stderr.isatty() else None
        self._tasks: tuple[Any, Any] | None = None
        self.last: JobStatus | None = None  # the last counts reported (also when disabled)
        self._printed_at: float | None = None
        self._started = time.monotonic()
        self._settled_at_start: int | None = None  # a resumed job: count this run's work

    def update(self, counts: JobStatus) -> None:
        self.last = counts
        if not self._enabled:
            return
        if self._bar is not None:
            self._draw(counts)
            return
        now = time.monotonic()
        if self._printed_at is None or now - self._printed_at >= _PLAIN_INTERVAL:
            self._print(counts, now)

    def close(self) -> None:
        if self._bar is not None:
            self._bar.stop()
        elif self._enabled and self.last is not None:
            self._print(self.last, time.monotonic())
        self._enabled = False

    def _draw(self, counts: JobStatus) -> None:
        bar = self._bar
        if self._tasks is None:
            bar.start()
            ids, targets = bar.add_task("IDs", counts=""), bar.add_task("targets", counts="")
            self._tasks = (ids, targets)
        ids, targets = self._tasks
        settled = counts.planned - counts.pending
        bar.update(ids, total=counts.planned, completed=settled, counts=_id_counts(counts))
        finished = counts.targets_done + counts.targets_failed
        bar.update(targets, total=counts.targets_total, completed=finished, counts="")

    def _print(self, counts: JobStatus, now: float) -> None:
        settled = counts.planned - counts.pending
        if self._settled_at_start is None:
            self._settled_at_start = settled
        rate = (settled - self._settled_at_start) / max(now - self._started, 1e-9)
        print(
            f"{PROGRESS_PREFIX} {settled}/{counts.planned} IDs settled ({_id_counts(counts)}),"
            f" {counts.targets_done + counts.targets_failed}/{counts.targets_total} targets"
            f" finished; {rate:.0f} IDs/s",
            file=sys.stderr,
            flush=True,
        )
        self._printed_at = now


def _id_counts(counts: JobStatus) -> str:
    return f"{counts.deleted} deleted, {counts.gone} already gone, {counts.failed} failed"


def _rich_bars() -> Any:
    try:  # optional dependency: pip install 'koodrive-backup[cli]'
        from rich.console import Console
        from rich.progress import (
            BarColumn,
            MofNCompleteColumn,
            Progress,
            TextColumn,
            TimeElapsedColumn,
        )
    except ImportError:
        return None
    return Progress(
        TextColumn("[bold]{task.description:<8}"),
        BarColumn(bar_width=30),
        MofNCompleteColumn(),
        TextColumn("{task.fields[counts]}"),
        TimeElapsedColumn(),
        console=Console(stderr=True),
    )


def status_table(counts: JobStatus, title: str, wait: float | None = None) -> str:
    """The accounting as a small table (and the run's rate-limit wait, when limited)."""
    rows = [
        (
            "targets",
            counts.targets_total,
            f"{counts.targets_done} done",
            f"{counts.targets_failed} failed",
        ),
        ("IDs planned", counts.planned, f"{counts.deleted} deleted", f"{counts.gone} already gone"),
        ("", "", f"{counts.failed} failed", f"{counts.pending} pending"),
    ]
    rows += [(label, value, "", note) for label, value, note in wait_row(wait)]
    return format_table(rows, title)


def print_status(counts: JobStatus, failures: Iterator[Failure], *, as_json: bool) -> None:
    """``status``: the API.md JSON object (failures streamed), or a table and a few failures."""
    if as_json:
        print_json(counts, failures)
        return
    print(status_table(counts, "Cleanup job"))
    for shown, failure in enumerate(failures):
        if shown == _FAILURES_SHOWN:
            print(f"  ... and more: `--json` lists them all ({counts.failed} failed IDs)")
            break
        print(
            f"  failed {failure.kind} {failure.id} (user {failure.user_id}, device"
            f" {failure.device_id}): {failure.code} {failure.msg or ''}".rstrip()
        )


def print_json(counts: JobStatus, failures: Iterator[Failure], **extra: object) -> None:
    """The API.md ``status --json`` object, with ``extra`` keys before ``"failures"``,
    written as the failures are read (a million failures never sit in memory at once)."""
    document = counts.as_json()
    del document["failures"]
    head = json.dumps({**document, **extra, "failures": []})
    sys.stdout.write(head[: -len("[]}")] + "[")
    for number, failure in enumerate(failures):
        sys.stdout.write(("" if number == 0 else ", ") + json.dumps(failure.as_json()))
    sys.stdout.write("]}\n")


def print_open_errors(errors: list[tuple[str, str, str, str]]) -> None:
    """Unfinished targets and why their last try failed (the next run tries again)."""
    for user_id, device_id, module_code, msg in errors:
        print(f"  open: user {user_id} device {device_id} module {module_code}: {msg}")
