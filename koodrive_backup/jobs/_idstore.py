"""How the journal stores IDs: in chunks of 100, one row each, with per-ID rows only where a
chunk's IDs did not all end the same way.

Why not one row per ID: the runner settles 100 IDs per request, and at full speed a row per
ID cost as much CPU as the requests themselves (reading 100,000 pending rows and updating
them took 0.13 s of CPU against 0.13 s for the 1,000 requests, on a machine whose other
core serves the API). A chunk row is read and written once per request: the journal then
costs a few percent.

- ``chunks``: ``n`` (order of discovery), ``target``, ``kind`` (scope/record), ``ids`` (the
  chunk's IDs joined by spaces: path IDs never hold one; a listed ID that is no path ID, and
  may hold anything, has a row of its own, never split), ``size`` and ``state``: ``0`` every
  ID pending, ``1`` every ID deleted, ``2`` mixed (see ``outcomes``; some still pending),
  ``3`` mixed and settled (nothing pending).
- ``outcomes``: ``(chunk, id, outcome, code, msg)`` for the IDs of mixed chunks that are
  deleted, gone or failed; an ID of a mixed chunk without a row is pending. Rows are only
  inserted, never overwritten (``INSERT OR IGNORE``): an ID is never counted twice.

A chunk's outcome is one job of the journal writer (one transaction), so a crash leaves
each chunk either as it was or fully recorded. Records are deleted one request each and
journaled one by one as they settle (``settle_some``): a row per record, their chunk mixed
until its last pending record has settled; the records that settle before one hand-over of
the writer go in one statement.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator, Sequence
from typing import NamedTuple

from ._events import CHUNK, DELETED, FAILED, GONE, KIND_NAMES, PENDING, Settled

__all__ = [
    "ID_SCHEMA",
    "INSERT_CHUNK",
    "INVALID_ID",
    "IdStore",
    "PendingChunk",
    "chunk_rows",
]

OPEN, ALL_DELETED, MIXED, MIXED_SETTLED = 0, 1, 2, 3  # a chunk's state
#: The failure of a listed ID the API cannot address (API.md "Path IDs"): final, as no retry
#: could ever send it.
INVALID_ID = "invalid_id"
_INVALID_MSG = "the server listed an ID the API cannot address in a path"

ID_SCHEMA = """
CREATE TABLE chunks (
    n INTEGER PRIMARY KEY, target INTEGER NOT NULL, kind INTEGER NOT NULL,
    ids TEXT NOT NULL, size INTEGER NOT NULL, state INTEGER NOT NULL DEFAULT 0);
CREATE INDEX chunks_of_target ON chunks (target, kind, n);
CREATE TABLE outcomes (
    chunk INTEGER NOT NULL, id TEXT NOT NULL, outcome INTEGER NOT NULL, code TEXT, msg TEXT,
    PRIMARY KEY (chunk, id)) WITHOUT ROWID;
CREATE INDEX outcomes_failed ON outcomes (chunk) WHERE outcome = 3;
"""
INSERT_CHUNK = "INSERT INTO chunks (target, kind, ids, size, state) VALUES (?, ?, ?, ?, ?)"
_INSERT_OUTCOME = "INSERT OR IGNORE INTO outcomes VALUES (?, ?, ?, ?, ?)"


class PendingChunk(NamedTuple):
    """The pending IDs of one chunk; ``whole``: every ID of the chunk (its state is open)."""

    n: int
    ids: list[str]
    whole: bool


def chunk_rows(
    target: int, kind: int, ids: Sequence[str], state: int = OPEN
) -> Iterator[tuple[int, int, str, int, int]]:
    """``chunks`` rows for ``ids`` (100 a row, in order)."""
    for start in range(0, len(ids), CHUNK):
        part = ids[start : start + CHUNK]
        yield target, kind, " ".join(part), len(part), state


class IdStore:
    """The ID tables of ``Journal`` (a mixin: ``db`` is the journal's connection)."""

    db: sqlite3.Connection

    # -- reading ------------------------------------------------------------------------------

    def id_counts(self) -> dict[int, int]:
        """IDs per outcome (``PENDING``, ``DELETED``, ``GONE``, ``FAILED``)."""
        sizes = dict(self.db.execute("SELECT state, sum(size) FROM chunks GROUP BY state"))
        rows = dict(self.db.execute("SELECT outcome, count(*) FROM outcomes GROUP BY outcome"))
        mixed = sizes.get(MIXED, 0) + sizes.get(MIXED_SETTLED, 0)
        return {
            PENDING: sizes.get(OPEN, 0) + mixed - sum(rows.values()),
            DELETED: sizes.get(ALL_DELETED, 0) + rows.get(DELETED, 0),
            GONE: rows.get(GONE, 0),
            FAILED: rows.get(FAILED, 0),
        }

    def pending(self, target: int, kind: int, after: int, limit: int) -> list[PendingChunk]:
        """Up to ``limit`` chunks with pending IDs of a target's kind, ``n > after``, by ``n``.

        A mixed chunk found to have nothing pending left is marked settled on the way.
        """
        rows = self.db.execute(
            "SELECT n, ids, size, state FROM chunks WHERE target = ? AND kind = ? AND n > ?"
            " AND state IN (0, 2) ORDER BY n LIMIT ?",
            (target, kind, after, limit),
        ).fetchall()
        found = []
        for n, text, size, state in rows:
            ids = _split(text, size)
            if state == MIXED:
                ids = self._still_pending(n, ids)
            if ids:
                found.append(PendingChunk(n, ids, state == OPEN))
        return found

    def _still_pending(self, chunk: int, ids: list[str]) -> list[str]:
        done = {
            row[0] for row in self.db.execute("SELECT id FROM outcomes WHERE chunk = ?", (chunk,))
        }
        left = [i for i in ids if i not in done]
        if not left:
            self.db.execute("UPDATE chunks SET state = 3 WHERE n = ?", (chunk,))
        return left

    def has_failed(self, target: int) -> bool:
        found = self.db.execute(
            "SELECT 1 FROM chunks c JOIN outcomes o ON o.chunk = c.n"
            " WHERE c.target = ? AND c.state IN (2, 3) AND o.outcome = 3 LIMIT 1",
            (target,),
        )
        return found.fetchone() is not None

    def failures(self) -> Iterator[tuple[str, str, str, str, str | None, str | None]]:
        """``(kind, id, user_id, device_id, code, msg)`` of every failed target, then ID.

        A failed target reports its device ID as ``id`` and ``"target"`` as its kind.
        """
        yield from self.db.execute(
            "SELECT 'target', device_id, user_id, device_id, code, msg FROM targets"
            " WHERE state = 2 AND code IS NOT NULL ORDER BY n"
        )
        rows = self.db.execute(
            "SELECT c.kind, o.id, t.user_id, t.device_id, o.code, o.msg FROM outcomes o"
            " JOIN chunks c ON c.n = o.chunk JOIN targets t ON t.n = c.target"
            " WHERE o.outcome = 3 ORDER BY o.chunk"
        )
        for kind, *rest in rows:
            yield (KIND_NAMES[kind], *rest)

    def outcomes(self) -> Iterator[tuple[str, str, str, str, int]]:
        """``(kind, user_id, device_id, id, outcome)`` of every ID, in discovery order."""
        chunks = self.db.execute(
            "SELECT c.n, c.kind, t.user_id, t.device_id, c.ids, c.size, c.state FROM chunks c"
            " JOIN targets t ON t.n = c.target ORDER BY c.n"
        )
        for n, kind, user_id, device_id, text, size, state in chunks:  # streamed
            known: dict[str, int] = {}
            if state in (MIXED, MIXED_SETTLED):
                query = "SELECT id, outcome FROM outcomes WHERE chunk = ?"
                known = dict(self.db.execute(query, (n,)))
            fallback = DELETED if state == ALL_DELETED else PENDING
            for item in _split(text, size):
                yield KIND_NAMES[kind], user_id, device_id, item, known.get(item, fallback)

    # -- writing (inside a transaction) -------------------------------------------------------

    def found(self, target: int, kind: int, ids: Sequence[str]) -> int:
        """Record discovered IDs (unique, in order) as pending; returns how many."""
        self.db.executemany(INSERT_CHUNK, chunk_rows(target, kind, ids))
        return len(ids)

    def found_invalid(self, target: int, kind: int, ids: Sequence[str]) -> int:
        """Record discovered IDs the API cannot address (no path IDs: they may hold a space)
        as failed (``INVALID_ID``) at once, a row each."""
        for item in ids:
            chunk = self.db.execute(INSERT_CHUNK, (target, kind, item, 1, MIXED_SETTLED)).lastrowid
            self.db.execute(_INSERT_OUTCOME, (chunk, item, FAILED, INVALID_ID, _INVALID_MSG))
        return len(ids)

    def complete(self, target: int, kind: int) -> None:
        """The discovery of a target's kind is done (only then are its IDs deleted)."""
        flag = "scopes_found" if kind == 0 else "records_found"
        self.db.execute(f"UPDATE targets SET {flag} = 1 WHERE n = ?", (target,))

    def forget(self, target: int, kind: int) -> tuple[int, int]:
        """Drop what an unfinished discovery wrote (nothing of it was deleted yet); returns
        the IDs dropped and how many of them were failed (IDs the API cannot address)."""
        where = "SELECT n FROM chunks WHERE target = ? AND kind = ?"
        size = self.db.execute(
            "SELECT coalesce(sum(size), 0) FROM chunks WHERE target = ? AND kind = ?",
            (target, kind),
        ).fetchone()[0]
        failed = self.db.execute(f"DELETE FROM outcomes WHERE chunk IN ({where})", (target, kind))
        self.db.execute("DELETE FROM chunks WHERE target = ? AND kind = ?", (target, kind))
        return int(size), failed.rowcount

    def settle(self, chunk: int, whole: bool, done: Settled) -> None:
        """Write the outcome of the request that sent a chunk's pending IDs (``whole``: all of
        its IDs). Every ID deleted: one row update; otherwise a row per settled ID."""
        if whole and not (done.gone or done.failed or done.unprocessed):
            self.db.execute("UPDATE chunks SET state = 1 WHERE n = ?", (chunk,))
            return
        self.db.executemany(_INSERT_OUTCOME, _outcome_rows(chunk, done))
        state = MIXED if done.unprocessed else MIXED_SETTLED
        self.db.execute("UPDATE chunks SET state = ? WHERE n = ?", (state, chunk))

    def settle_some(self, settled: list[tuple[int, Settled, bool]]) -> None:
        """Write outcomes of some of their chunks' pending IDs (records, one request each):
        ``(chunk, outcome, more)``, ``more`` while other IDs of the chunk are still to settle.
        A row per ID; a chunk is mixed, and settled once its last pending ID is."""
        rows = [row for chunk, done, _ in settled for row in _outcome_rows(chunk, done)]
        self.db.executemany(_INSERT_OUTCOME, rows)
        states = {chunk: MIXED if more else MIXED_SETTLED for chunk, _, more in settled}
        self.db.executemany(
            "UPDATE chunks SET state = ? WHERE n = ?", [(s, n) for n, s in states.items()]
        )

    def fail_pending(self, target: int, code: str, msg: str) -> int:
        """Fail every pending ID of a target with one reason; returns how many."""
        failed = 0
        for kind in (0, 1):
            while chunks := self.pending(target, kind, 0, 1_000):  # failing them moves on
                for chunk in chunks:
                    rows = ((chunk.n, i, FAILED, code, msg) for i in chunk.ids)
                    self.db.executemany(_INSERT_OUTCOME, rows)
                    self.db.execute("UPDATE chunks SET state = 3 WHERE n = ?", (chunk.n,))
                    failed += len(chunk.ids)
        return failed

    def reopen_failed(self) -> int:
        """Make every failed ID pending again, but those no request can address
        (``INVALID_ID``); returns how many."""
        retried = "outcome = 3 AND code IS NOT ?"
        self.db.execute(
            f"UPDATE chunks SET state = 2 WHERE n IN (SELECT chunk FROM outcomes WHERE {retried})",
            (INVALID_ID,),
        )
        return self.db.execute(f"DELETE FROM outcomes WHERE {retried}", (INVALID_ID,)).rowcount


def _split(text: str, size: int) -> list[str]:
    """A chunk's IDs: a row of one ID is that ID whatever it holds (see ``found_failed``)."""
    return text.split(" ") if size > 1 else [text]


def _outcome_rows(chunk: int, done: Settled) -> list[tuple[object, ...]]:
    """``outcomes`` rows for the settled IDs of ``done`` (its unprocessed ones stay pending)."""
    rows: list[tuple[object, ...]] = [(chunk, i, DELETED, None, None) for i in done.deleted]
    rows += [(chunk, i, GONE, None, None) for i in done.gone]
    rows += [(chunk, i, FAILED, code, msg) for i, code, msg in done.failed]
    return rows
