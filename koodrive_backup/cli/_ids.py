"""ID input and output of the bulk commands: arguments, ``--from-file PATH|-``, and the
``--unprocessed-out`` file.

Every ID is checked against the path-ID syntax of API.md (``^[A-Za-z0-9._@=+:-]{1,128}$``,
not ``.`` or ``..``) before anything is sent, so a file of comma-joined IDs, a CSV or a
stray header line is refused whole, naming its first bad line, before any request.
"""

from __future__ import annotations

import os
import sys
import tempfile
from collections.abc import Iterable, Sequence

from .. import _validate as check
from ._errors import UsageError

__all__ = ["check_writable", "path_id", "read_ids", "write_ids"]

_SHOWN = 40


def read_ids(arguments: Sequence[str], from_file: str | None, noun: str) -> list[str]:
    """IDs from the arguments, then the file (or standard input), in order, all checked."""
    if not arguments and from_file is None:
        raise UsageError(
            f"no {noun} IDs: give them as arguments or with --from-file PATH (- for stdin)"
        )
    ids = [path_id(value, f"argument {n}", noun) for n, value in enumerate(arguments, 1)]
    if from_file is not None:
        ids.extend(_read_id_lines(from_file, noun))
    return ids


def _read_id_lines(path: str, noun: str) -> list[str]:
    name = "standard input" if path == "-" else path
    try:
        if path == "-":
            lines: Iterable[str] = sys.stdin.read().splitlines()
        else:
            with open(path, encoding="utf-8") as handle:
                lines = handle.read().splitlines()
    except (OSError, UnicodeDecodeError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
        raise UsageError(f"cannot read {name}: {reason}") from None
    # One ID a line; surrounding spaces and blank lines are ignored (CRLF files work too).
    return [
        path_id(line.strip(), f"{name} line {number}", noun)
        for number, line in enumerate(lines, 1)
        if line.strip()
    ]


def path_id(value: str, where: str, noun: str) -> str:
    """``value`` if it is a path ID, else a ``UsageError`` naming where it was found."""
    try:
        return check.path_id(value, noun)
    except ValueError:
        shown = value if len(value) <= _SHOWN else value[:_SHOWN] + "..."
        raise UsageError(f"{where}: not a {noun} ID: {shown!r}{_hint(value)}") from None


def _hint(value: str) -> str:
    several = any(sep in value for sep in ",; \t")
    more = "; it looks like several IDs on one line: give one ID a line" if several else ""
    return f" (an ID is {check.ID_SYNTAX}{more})"


def check_writable(path: str | None) -> None:
    """Refuse an --unprocessed-out we could not write, before deleting anything."""
    if path is None:
        return
    folder = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(folder) or not os.access(folder, os.W_OK):
        raise UsageError(f"--unprocessed-out: cannot write into {folder!r}")
    if os.path.isdir(path):
        raise UsageError(f"--unprocessed-out: {path!r} is a directory")


def write_ids(path: str, ids: Iterable[str]) -> None:
    """Write one ID a line, atomically (a crash never leaves half a file); may be empty."""
    folder = os.path.dirname(os.path.abspath(path))
    fd, temp = tempfile.mkstemp(prefix=".koodrive-", suffix=".tmp", dir=folder)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.writelines(f"{item}\n" for item in ids)
        os.replace(temp, path)
    except BaseException:
        os.unlink(temp)
        raise
