"""The job journal: one SQLite file holding the targets and every discovered ID's outcome.

Why SQLite (stdlib ``sqlite3``): one file, no server, transactions that survive ``kill -9``
(WAL mode: a committed transaction is in the ``-wal`` file before ``COMMIT`` returns; with
``synchronous=NORMAL`` only a power loss can drop the last commits, and then those IDs are
simply sent again and counted as gone), readers (``status``) never blocked by the writer,
and indexes that let a run stream a million pending IDs in windows instead of loading them.

Tables: ``targets`` (one per manifest line, with its discovery flags and state), ``ids``
(one row per discovered ID: target, kind, ID, outcome, code, msg; unique per target and
kind, so discovering twice never counts an ID twice), ``locks`` (backup locks a run holds,
so the next run releases them after a crash) and ``meta``. This class is synchronous and
used from one thread at a time; the runner drives it through ``JournalWriter``.
"""

from __future__ import annotations

import contextlib
import os
import sqlite3
from collections.abc import Iterable, Iterator
from pathlib import Path

import attrs

from ._events import DELETED, FAILED, GONE, KIND_NAMES, SCOPE, Settled
from ._manifest import Target

__all__ = ["DONE", "OPEN", "TARGET_FAILED", "Journal", "JournalError", "PlanSummary", "TargetRow"]

SCHEMA_VERSION = "1"
OPEN, DONE, TARGET_FAILED = 0, 1, 2  # a target's state

_SCHEMA = """
CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE targets (
    n INTEGER PRIMARY KEY, line INTEGER NOT NULL, user_id TEXT NOT NULL,
    device_id TEXT NOT NULL, module_code TEXT NOT NULL,
    scopes TEXT, records_before TEXT,
    scopes_found INTEGER NOT NULL DEFAULT 0, records_found INTEGER NOT NULL DEFAULT 0,
    state INTEGER NOT NULL DEFAULT 0, code TEXT, msg TEXT,
    UNIQUE (device_id, module_code));
CREATE TABLE ids (
    n INTEGER PRIMARY KEY, target INTEGER NOT NULL, kind INTEGER NOT NULL, id TEXT NOT NULL,
    outcome INTEGER NOT NULL DEFAULT 0, code TEXT, msg TEXT,
    UNIQUE (target, kind, id));
CREATE INDEX ids_pending ON ids (target, kind, n) WHERE outcome = 0;
CREATE TABLE locks (
    user_id TEXT NOT NULL, module_code TEXT NOT NULL, lock_id TEXT NOT NULL,
    PRIMARY KEY (user_id, module_code));
"""
_SET_ONE = (
    "UPDATE ids SET outcome = ?, code = ?, msg = ? "
    "WHERE target = ? AND kind = ? AND id = ? AND outcome = 0"
)


class JournalError(Exception):
    """The file is missing, not a journal, or of another version (CLI exit status 2)."""


@attrs.frozen
class PlanSummary:
    """What ``plan`` recorded: targets, IDs listed in the manifest, repeats dropped."""

    targets: int
    ids: int
    to_discover: int


@attrs.frozen
class TargetRow:
    """A target as the runner needs it (``n``: its number in the journal)."""

    n: int
    user_id: str
    device_id: str
    module_code: str
    scopes: str | None  # "all", "list" or None
    records_before: str | None
    scopes_found: bool
    records_found: bool


class Journal:
    """A journal file opened for reading and writing (see the module docstring)."""

    def __init__(self, connection: sqlite3.Connection, path: Path) -> None:
        self.db = connection
        self.path = path

    # -- opening ------------------------------------------------------------------------------

    @classmethod
    def open(cls, path: str | os.PathLike[str], *, readonly: bool = False) -> Journal:
        """Open an existing journal; ``JournalError`` when it is missing or not a journal."""
        where = Path(path)
        if not where.is_file():
            raise JournalError(f"no journal at {str(where)!r} (run `cleanup plan` first)")
        uri = where.resolve().as_uri() + ("?mode=ro" if readonly else "")
        db = sqlite3.connect(uri, uri=True, isolation_level=None, check_same_thread=False)
        try:
            version = db.execute("SELECT value FROM meta WHERE key = 'schema'").fetchone()
        except sqlite3.DatabaseError:
            version = None
        if version is None or version[0] != SCHEMA_VERSION:
            db.close()
            raise JournalError(f"{str(where)!r} is not a cleanup journal of this version")
        if not readonly:
            _tune(db)
        return cls(db, where)

    @classmethod
    def create(cls, path: str | os.PathLike[str], targets: Iterable[Target]) -> PlanSummary:
        """Write a new journal at ``path`` from ``targets``, all or nothing.

        It is built in a temporary file next to ``path`` and renamed into place only when
        every target was read: an error (a bad manifest line) leaves no journal behind.
        ``FileExistsError`` if ``path`` exists (a journal is never overwritten).
        """
        where = Path(path)
        if where.exists():
            raise FileExistsError(f"{str(where)!r} exists: resume it with `cleanup run`")
        temporary = where.with_name(f".{where.name}.{os.getpid()}.planning")
        temporary.unlink(missing_ok=True)
        db = sqlite3.connect(temporary, isolation_level=None)
        try:
            db.executescript(_SCHEMA)
            db.execute("BEGIN")
            summary = _plan(db, targets)
            db.execute("COMMIT")
            db.close()
            os.replace(temporary, where)  # atomic: a complete journal or none
        except BaseException:
            db.close()
            temporary.unlink(missing_ok=True)
            raise
        return summary

    def close(self) -> None:
        self.db.close()

    @contextlib.contextmanager
    def transaction(self) -> Iterator[None]:
        """One transaction (a consistent snapshot for reads; all-or-nothing for writes)."""
        self.db.execute("BEGIN")
        try:
            yield
        except BaseException:
            self.db.execute("ROLLBACK")
            raise
        self.db.execute("COMMIT")

    # -- reading ------------------------------------------------------------------------------

    def id_counts(self) -> dict[int, int]:
        """IDs per outcome (``PENDING``, ``DELETED``, ``GONE``, ``FAILED``)."""
        rows = self.db.execute("SELECT outcome, count(*) FROM ids GROUP BY outcome")
        return dict(rows.fetchall())

    def target_counts(self) -> dict[int, int]:
        """Targets per state (``OPEN``, ``DONE``, ``TARGET_FAILED``)."""
        return dict(self.db.execute("SELECT state, count(*) FROM targets GROUP BY state"))

    def open_targets(self) -> list[TargetRow]:
        """Targets not finished yet, one user's together (their client is reused)."""
        rows = self.db.execute(
            "SELECT n, user_id, device_id, module_code, scopes, records_before, scopes_found,"
            " records_found FROM targets WHERE state = 0 ORDER BY user_id, n"
        )
        return [
            TargetRow(n, user, device, module, scopes, before, bool(found), bool(listed))
            for n, user, device, module, scopes, before, found, listed in rows
        ]

    def pending(self, target: int, kind: int, after: int, limit: int) -> list[tuple[int, str]]:
        """Up to ``limit`` pending ``(n, id)`` of a target's kind with ``n > after``, by ``n``."""
        return self.db.execute(
            "SELECT n, id FROM ids WHERE target = ? AND kind = ? AND outcome = 0 AND n > ?"
            " ORDER BY n LIMIT ?",
            (target, kind, after, limit),
        ).fetchall()

    def has_pending(self, target: int) -> bool:
        found = self.db.execute(
            "SELECT 1 FROM ids WHERE target = ? AND outcome = 0 LIMIT 1", (target,)
        )
        return found.fetchone() is not None

    def has_failed(self, target: int) -> bool:
        found = self.db.execute(
            "SELECT 1 FROM ids WHERE target = ? AND outcome = 3 LIMIT 1", (target,)
        )
        return found.fetchone() is not None

    def stale_locks(self) -> list[tuple[str, str, str]]:
        """``(user_id, module_code, lock_id)`` of locks an earlier run did not release."""
        return self.db.execute("SELECT user_id, module_code, lock_id FROM locks").fetchall()

    def failures(self) -> Iterator[tuple[str, str, str, str, str | None, str | None]]:
        """``(kind, id, user_id, device_id, code, msg)`` of every failed target, then ID.

        A failed target reports its device ID as ``id`` and ``"target"`` as its kind.
        """
        yield from self.db.execute(
            "SELECT 'target', device_id, user_id, device_id, code, msg FROM targets"
            " WHERE state = 2 AND code IS NOT NULL ORDER BY n"
        )
        rows = self.db.execute(
            "SELECT i.kind, i.id, t.user_id, t.device_id, i.code, i.msg FROM ids i"
            " JOIN targets t ON t.n = i.target WHERE i.outcome = 3 ORDER BY i.n"
        )
        for kind, *rest in rows:
            yield (KIND_NAMES[kind], *rest)

    def outcomes(self) -> Iterator[tuple[str, str, str, str, int]]:
        """``(kind, user_id, device_id, id, outcome)`` of every ID, in discovery order."""
        rows = self.db.execute(
            "SELECT i.kind, t.user_id, t.device_id, i.id, i.outcome FROM ids i"
            " JOIN targets t ON t.n = i.target ORDER BY i.n"
        )
        for kind, *rest in rows:
            yield (KIND_NAMES[kind], *rest)

    # -- writing (inside a transaction) -------------------------------------------------------

    def found(self, target: int, kind: int, ids: Iterable[str], complete: bool) -> int:
        """Record discovered IDs (already known ones are ignored); with ``complete``, mark
        the target's discovery of that kind done. Returns how many IDs were new."""
        before = self.db.total_changes
        self.db.executemany(
            "INSERT OR IGNORE INTO ids (target, kind, id) VALUES (?, ?, ?)",
            ((target, kind, scope_id) for scope_id in ids),
        )
        added = self.db.total_changes - before
        if complete:
            flag = "scopes_found" if kind == SCOPE else "records_found"
            self.db.execute(f"UPDATE targets SET {flag} = 1 WHERE n = ?", (target,))
        return added

    def found_failed(self, target: int, kind: int, ids: Iterable[str], code: str, msg: str) -> int:
        """Record discovered IDs that cannot be deleted as failed at once."""
        before = self.db.total_changes
        self.db.executemany(
            "INSERT OR IGNORE INTO ids (target, kind, id, outcome, code, msg)"
            " VALUES (?, ?, ?, 3, ?, ?)",
            ((target, kind, bad, code, msg) for bad in ids),
        )
        return self.db.total_changes - before

    def settle(
        self, target: int, kind: int, first: int, last: int, size: int, done: Settled
    ) -> None:
        """Write one chunk's outcomes. ``first``/``last``: the ``n`` of its first and last ID,
        ``size`` its ID count (when everything was deleted, one range update does it)."""
        if len(done.deleted) == size:
            self.db.execute(
                "UPDATE ids SET outcome = 1 WHERE n BETWEEN ? AND ? AND target = ? AND kind = ?"
                " AND outcome = 0",
                (first, last, target, kind),
            )
            return
        rows: list[tuple[object, ...]] = [
            (DELETED, None, None, target, kind, i) for i in done.deleted
        ]
        rows += [(GONE, None, None, target, kind, i) for i in done.gone]
        rows += [(FAILED, code, msg, target, kind, i) for i, code, msg in done.failed]
        self.db.executemany(_SET_ONE, rows)

    def fail_target(self, target: int, code: str, msg: str) -> int:
        """Mark a target failed and its pending IDs failed with the same reason."""
        failed = self.db.execute(
            "UPDATE ids SET outcome = 3, code = ?, msg = ? WHERE target = ? AND outcome = 0",
            (code, msg, target),
        ).rowcount
        self.db.execute(
            "UPDATE targets SET state = 2, code = ?, msg = ? WHERE n = ?", (code, msg, target)
        )
        return failed

    def finish_target(self, target: int, state: int, code: str | None = None) -> None:
        self.db.execute("UPDATE targets SET state = ?, code = ? WHERE n = ?", (state, code, target))

    def note_error(self, target: int, code: str, msg: str) -> None:
        """Keep the last transient error of an open target (shown by ``status``)."""
        self.db.execute("UPDATE targets SET code = ?, msg = ? WHERE n = ?", (code, msg, target))

    def lock_held(self, user_id: str, module_code: str, lock_id: str) -> None:
        self.db.execute(
            "INSERT OR REPLACE INTO locks VALUES (?, ?, ?)", (user_id, module_code, lock_id)
        )

    def lock_released(self, user_id: str, module_code: str, lock_id: str) -> None:
        self.db.execute(
            "DELETE FROM locks WHERE user_id = ? AND module_code = ? AND lock_id = ?",
            (user_id, module_code, lock_id),
        )

    def retry_failed(self) -> int:
        """Make failed IDs pending and failed targets open again; returns the IDs reopened."""
        reopened = self.db.execute(
            "UPDATE ids SET outcome = 0, code = NULL, msg = NULL WHERE outcome = 3"
        ).rowcount
        self.db.execute("UPDATE targets SET state = 0, code = NULL, msg = NULL WHERE state = 2")
        return reopened


def _tune(db: sqlite3.Connection) -> None:
    # WAL: readers never block the writer and a commit is one append; NORMAL: no fsync per
    # commit (kill -9 safe, see the module docstring). busy_timeout: wait out a reader's
    # checkpoint instead of failing.
    db.execute("PRAGMA journal_mode = WAL")
    db.execute("PRAGMA synchronous = NORMAL")
    db.execute("PRAGMA busy_timeout = 10000")
    db.execute("PRAGMA cache_size = -16000")


def _plan(db: sqlite3.Connection, targets: Iterable[Target]) -> PlanSummary:
    db.execute("INSERT INTO meta VALUES ('schema', ?)", (SCHEMA_VERSION,))
    count = ids = discover = 0
    for count, target in enumerate(targets, 1):
        listed = isinstance(target.scopes, tuple)
        scopes = "list" if listed else target.scopes
        before = None if target.records_before is None else target.records_before.isoformat()
        db.execute(
            "INSERT INTO targets (n, line, user_id, device_id, module_code, scopes,"
            " records_before, scopes_found) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            (count, target.line, target.user_id, target.device_id, target.module_code,
             scopes, before, int(scopes != "all")),
        )  # fmt: skip
        if isinstance(target.scopes, tuple):
            rows = ((count, SCOPE, scope_id) for scope_id in target.scopes)
            db.executemany("INSERT INTO ids (target, kind, id) VALUES (?, ?, ?)", rows)
            ids += len(target.scopes)
        discover += scopes == "all" or before is not None
    return PlanSummary(count, ids, discover)
