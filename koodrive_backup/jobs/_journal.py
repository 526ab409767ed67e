"""The job journal: one SQLite file holding the targets and every discovered ID's outcome.

Why SQLite (stdlib ``sqlite3``): one file, no server, transactions that survive ``kill -9``
(WAL mode: a committed transaction is in the ``-wal`` file before ``COMMIT`` returns; with
``synchronous=NORMAL`` only a power loss can drop the last commits, and then those IDs are
simply sent again and counted as gone), readers (``status``) never blocked by the writer,
and indexes that let a run stream a million pending IDs in windows instead of loading them.

Tables: ``targets`` (one per manifest line, with its discovery flags and state), ``chunks``
and ``outcomes`` (the IDs, see ``_idstore``), ``locks`` (backup locks a run holds, so the
next run releases them after a crash) and ``meta``. This class is synchronous and used from
one thread at a time; the runner drives it through ``JournalWriter``.
"""

from __future__ import annotations

import contextlib
import os
import sqlite3
from collections.abc import Iterable, Iterator
from pathlib import Path

import attrs

from ._events import SCOPE
from ._idstore import ID_SCHEMA, INSERT_CHUNK, IdStore, chunk_rows
from ._manifest import Target

__all__ = ["DONE", "OPEN", "TARGET_FAILED", "Journal", "JournalError", "PlanSummary", "TargetRow"]

SCHEMA_VERSION = "1"
OPEN, DONE, TARGET_FAILED = 0, 1, 2  # a target's state

_SCHEMA = (
    """
CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE targets (
    n INTEGER PRIMARY KEY, line INTEGER NOT NULL, user_id TEXT NOT NULL,
    device_id TEXT NOT NULL, module_code TEXT NOT NULL,
    scopes TEXT, records_before TEXT,
    scopes_found INTEGER NOT NULL DEFAULT 0, records_found INTEGER NOT NULL DEFAULT 0,
    state INTEGER NOT NULL DEFAULT 0, code TEXT, msg TEXT,
    UNIQUE (device_id, module_code));
CREATE TABLE locks (
    user_id TEXT NOT NULL, module_code TEXT NOT NULL, lock_id TEXT NOT NULL,
    PRIMARY KEY (user_id, module_code));
"""
    + ID_SCHEMA
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


class Journal(IdStore):
    """A journal file opened for reading and writing (see the module docstring)."""

    def __init__(self, connection: sqlite3.Connection) -> None:
        self.db = connection

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
        return cls(db)

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
            db.execute("PRAGMA journal_mode = WAL")  # persistent: runs need not convert it
            db.close()  # the last connection: the -wal file is folded in and removed
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

    def open_errors(self, limit: int) -> list[tuple[str, str, str, str]]:
        """``(user_id, device_id, module_code, msg)`` of open targets whose last try failed."""
        return self.db.execute(
            "SELECT user_id, device_id, module_code, msg FROM targets"
            " WHERE state = 0 AND msg IS NOT NULL ORDER BY n LIMIT ?",
            (limit,),
        ).fetchall()

    def stale_locks(self) -> list[tuple[str, str, str]]:
        """``(user_id, module_code, lock_id)`` of locks an earlier run did not release."""
        return self.db.execute("SELECT user_id, module_code, lock_id FROM locks").fetchall()

    # -- writing (inside a transaction) -------------------------------------------------------

    def fail_target(self, target: int, code: str, msg: str) -> int:
        """Mark a target failed and its pending IDs failed with the same reason."""
        failed = self.fail_pending(target, code, msg)
        self.db.execute(
            "UPDATE targets SET state = 2, code = ?, msg = ? WHERE n = ?", (code, msg, target)
        )
        return failed

    def finish_target(self, target: int, state: int) -> None:
        """Done, or failed through some ID (the last transient error's code is dropped: only
        a target failed as a whole keeps a code, see ``failures``)."""
        self.db.execute("UPDATE targets SET state = ?, code = NULL WHERE n = ?", (state, target))

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
        reopened = self.reopen_failed()
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
            db.executemany(INSERT_CHUNK, chunk_rows(count, SCOPE, target.scopes))
            ids += len(target.scopes)
        discover += scopes == "all" or before is not None
    return PlanSummary(count, ids, discover)
