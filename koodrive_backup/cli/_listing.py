"""Streaming output of the list commands: a table, one JSON document, or one ID a line.

Items are written as they arrive from the SDK's lazy page iterators, so a list of a million
records needs the memory of one page: the table's column widths come from its first
``PREVIEW`` rows (a longer cell later just pushes its line out), the JSON array is written
an item a line, and the output is flushed after every ``PREVIEW`` items so that a reader
(``| head``, a script) sees the first page while the next ones are fetched.
"""

from __future__ import annotations

import json
import sys
from collections.abc import AsyncIterator, Callable, Sequence
from typing import Any, Generic, Literal, TextIO, TypeVar

import attrs

from ._errors import UsageError

__all__ = ["Mode", "View", "output_mode", "write_listing"]

T = TypeVar("T")
Mode = Literal["table", "json", "ids"]
PREVIEW = 100


@attrs.frozen
class View(Generic[T]):
    """How one kind of item is shown: table columns, its JSON object, its ID."""

    noun: str
    columns: Sequence[tuple[str, Callable[[T], object]]]
    to_json: Callable[[T], dict[str, Any]]
    id_of: Callable[[T], str]

    def row(self, item: T) -> list[str]:
        return [_cell(get(item)) for _, get in self.columns]

    def counted(self, count: int) -> str:
        return f"{count} {self.noun}{'' if count == 1 else 's'}"


def _cell(value: object) -> str:
    return "-" if value is None or value == "" else str(value)


def output_mode(args: Any) -> Mode:
    """``--json``, ``--ids`` (one ID a line, for ``--from-file``), else a table."""
    if args.json and args.ids:
        raise UsageError("give --json or --ids, not both")
    return "json" if args.json else "ids" if args.ids else "table"


async def write_listing(
    items: AsyncIterator[T],
    view: View[T],
    mode: Mode,
    *,
    limit: int | None = None,
    out: TextIO | None = None,
) -> int:
    """Write ``items`` (at most ``limit``) as they come; returns how many were written."""
    writer = {"table": _Table, "json": _Json, "ids": _Ids}[mode](view, out or sys.stdout)
    count = 0
    async for item in items:
        if limit is not None and count >= limit:
            break
        writer.add(item)
        count += 1
        if count % PREVIEW == 0:
            writer.flush()
    writer.close(count)
    return count


class _Ids(Generic[T]):
    def __init__(self, view: View[T], out: TextIO) -> None:
        self.view, self.out = view, out

    def add(self, item: T) -> None:
        self.out.write(self.view.id_of(item) + "\n")

    def flush(self) -> None:
        self.out.flush()

    def close(self, count: int) -> None:
        self.out.flush()


class _Json(_Ids[T]):
    """``[`` then one object a line, comma-separated, then ``]``: one JSON document."""

    def __init__(self, view: View[T], out: TextIO) -> None:
        super().__init__(view, out)
        self.separator = "[\n  "

    def add(self, item: T) -> None:
        self.out.write(self.separator + json.dumps(self.view.to_json(item), ensure_ascii=False))
        self.separator = ",\n  "

    def close(self, count: int) -> None:
        self.out.write("\n]\n" if count else "[]\n")
        self.out.flush()


class _Table(_Ids[T]):
    """Aligned columns: widths from the first ``PREVIEW`` rows, then rows as they come."""

    def __init__(self, view: View[T], out: TextIO) -> None:
        super().__init__(view, out)
        self.pending: list[list[str]] | None = []
        self.widths: list[int] = []

    def add(self, item: T) -> None:
        row = self.view.row(item)
        if self.pending is None:
            self._write(row)
            return
        self.pending.append(row)
        if len(self.pending) == PREVIEW:
            self._start()

    def _start(self) -> None:
        rows, self.pending = self.pending or [], None
        header = [name for name, _ in self.view.columns]
        self.widths = [max(len(r[i]) for r in [header, *rows]) for i in range(len(header))]
        self._write(header)
        self._write(["-" * width for width in self.widths])
        for row in rows:
            self._write(row)

    def _write(self, row: list[str]) -> None:
        cells = [cell.ljust(width) for cell, width in zip(row, self.widths, strict=True)]
        self.out.write("  " + "  ".join(cells).rstrip() + "\n")

    def close(self, count: int) -> None:
        if self.pending:
            self._start()
        self.out.write(self.view.counted(count) + "\n")
        self.out.flush()
