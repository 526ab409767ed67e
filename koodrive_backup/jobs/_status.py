"""What a job has done so far: the counts of ``cleanup status`` and its failures.

``job_status(path)`` reads the journal (also while a run writes it: SQLite's WAL lets a
reader see the last commit without blocking the writer). ``JobStatus.as_json(failures)``
is the object API.md pins for ``status --json``.
"""

from __future__ import annotations

import os
from collections.abc import Iterator

import attrs

from ._events import DELETED, FAILED, GONE, PENDING
from ._journal import DONE, TARGET_FAILED, Journal

__all__ = [
    "Failure",
    "JobStatus",
    "job_failures",
    "job_open_errors",
    "job_outcomes",
    "job_status",
]


@attrs.define
class JobStatus:
    """Targets (``total``, ``done``: every ID gone, ``failed``: some ID or the target itself
    failed) and IDs (``planned``: ``deleted`` + ``gone`` + ``failed`` + ``pending``, derived).

    Mutable: the runner keeps its running counts in one (``on_progress`` gets a copy).
    ``rate_limit_wait``: set by ``run_job`` when a run ends (seconds its requests waited for
    the job's rate limit; ``None`` without one); not part of the accounting (nor of
    ``as_json`` or ``==``), and ``None`` in counts read from a journal.
    """

    targets_total: int = 0
    targets_done: int = 0
    targets_failed: int = 0
    deleted: int = 0
    gone: int = 0
    failed: int = 0
    pending: int = 0
    rate_limit_wait: float | None = attrs.field(default=None, eq=False)

    @property
    def planned(self) -> int:
        """Every ID the job knows of, each in exactly one of the four outcomes."""
        return self.deleted + self.gone + self.failed + self.pending

    @property
    def finished(self) -> bool:
        """Every target finished (done or failed) and no ID pending."""
        return self.pending == 0 and self.targets_done + self.targets_failed == self.targets_total

    @property
    def complete(self) -> bool:
        """Every target done: every planned ID is gone (``cleanup run`` exits 0)."""
        return self.targets_done == self.targets_total and self.pending == self.failed == 0

    def copy(self) -> JobStatus:
        return attrs.evolve(self)

    def as_json(self, failures: Iterator[Failure] | None = None) -> dict[str, object]:
        """``{"targets": {...}, "ids": {...}, "failures": [...]}`` (API.md)."""
        return {
            "targets": {
                "total": self.targets_total,
                "done": self.targets_done,
                "failed": self.targets_failed,
            },
            "ids": {
                "planned": self.planned,
                "deleted": self.deleted,
                "gone": self.gone,
                "failed": self.failed,
                "pending": self.pending,
            },
            "failures": [failure.as_json() for failure in failures or ()],
        }


@attrs.frozen
class Failure:
    """One failed ID (``kind`` ``"scope"``/``"record"``) or target (``"target"``; ``id`` is
    then its device ID), with the server's code and message."""

    kind: str
    id: str
    user_id: str
    device_id: str
    code: str | None
    msg: str | None

    def as_json(self) -> dict[str, object]:
        return attrs.asdict(self)


def read_status(journal: Journal) -> JobStatus:
    """The counts, from one consistent snapshot of the journal."""
    with journal.transaction():
        ids = journal.id_counts()
        targets = journal.target_counts()
    return JobStatus(
        targets_total=sum(targets.values()),
        targets_done=targets.get(DONE, 0),
        targets_failed=targets.get(TARGET_FAILED, 0),
        deleted=ids.get(DELETED, 0),
        gone=ids.get(GONE, 0),
        failed=ids.get(FAILED, 0),
        pending=ids.get(PENDING, 0),
    )


def job_status(path: str | os.PathLike[str]) -> JobStatus:
    """The counts of the journal at ``path`` (``JournalError`` when it is not one)."""
    journal = Journal.open(path, readonly=True)
    try:
        return read_status(journal)
    finally:
        journal.close()


def job_open_errors(
    path: str | os.PathLike[str], limit: int = 20
) -> list[tuple[str, str, str, str]]:
    """``(user_id, device_id, module_code, msg)`` of up to ``limit`` unfinished targets whose
    last try failed for a transient reason (the next run tries them again)."""
    journal = Journal.open(path, readonly=True)
    try:
        return journal.open_errors(limit)
    finally:
        journal.close()


def job_failures(path: str | os.PathLike[str]) -> Iterator[Failure]:
    """Every failure of the journal at ``path``, failed targets first (streamed)."""
    journal = Journal.open(path, readonly=True)
    try:
        for row in journal.failures():
            yield Failure(*row)
    finally:
        journal.close()


def job_outcomes(path: str | os.PathLike[str]) -> Iterator[tuple[str, str, str, str, str]]:
    """``(kind, user_id, device_id, id, outcome)`` of every planned ID, in discovery order;
    ``outcome`` is ``"pending"``, ``"deleted"``, ``"gone"`` or ``"failed"`` (streamed)."""
    journal = Journal.open(path, readonly=True)
    try:
        for kind, user_id, device_id, item, outcome in journal.outcomes():
            yield kind, user_id, device_id, item, _OUTCOME_NAMES[outcome]
    finally:
        journal.close()


_OUTCOME_NAMES = ("pending", "deleted", "gone", "failed")
