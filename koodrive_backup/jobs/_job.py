"""``plan_job`` and ``run_job``: what ``cleanup plan`` and ``cleanup run`` do, for Python."""

from __future__ import annotations

import asyncio
import contextlib
import os
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Literal

from ._clients import ClientFactory, ClientOptions, make_client
from ._journal import Journal, JournalError, PlanSummary
from ._manifest import read_manifest
from ._runner import ProgressCallback, Runner, RunOptions, Workers
from ._status import JobStatus, job_status, read_status
from ._worker import LocalWorker, LocalWorkers, WorkerSettings

__all__ = ["JobBusyError", "plan_job", "run_job"]

Engine = Literal["local", "ray"]


class JobBusyError(JournalError):
    """Another run is using this journal (two runs would send the same IDs twice)."""


def plan_job(
    manifest: str | os.PathLike[str] | Iterable[str], journal: str | os.PathLike[str]
) -> PlanSummary:
    """Check a manifest (a path, ``"-"`` for standard input, or an iterable of lines) and
    write a new journal from it. ``ManifestError`` (a ``ValueError`` naming the line) for a
    bad line: then no journal is written. ``FileExistsError`` if the journal exists."""
    if isinstance(manifest, str | os.PathLike):
        if str(manifest) == "-":
            import sys

            return Journal.create(journal, read_manifest(sys.stdin))
        with open(manifest, encoding="utf-8") as lines:
            return Journal.create(journal, read_manifest(lines))
    return Journal.create(journal, read_manifest(manifest))


async def run_job(
    journal: str | os.PathLike[str],
    client_options: ClientOptions,
    *,
    options: RunOptions | None = None,
    worker: WorkerSettings | None = None,
    engine: Engine = "local",
    ray_address: str | None = None,
    ray_actors: int | None = None,
    on_progress: ProgressCallback | None = None,
    client_factory: ClientFactory = make_client,
) -> JobStatus:
    """Run (or resume) the job of a journal until every open target was worked once.

    Returns the journal's counts afterwards (``status.complete``: every planned ID gone).
    Raises ``JournalError`` (no journal, or another run holds it), ``ValueError`` when the
    credentials cannot act for the journal's users (before any request), ``JobAuthError``
    when the server refuses the credential (the journal stays resumable), and
    ``CancelledError`` when cancelled (everything settled so far is committed first).
    ``on_progress`` gets a ``JobStatus`` copy after every chunk, discovery and target, and a
    last one when the run ends (also when it is cancelled or fails) with ``rate_limit_wait``
    set: the seconds this run's requests waited for ``client_options.rate``, summed over the
    requests in flight (``None`` without a rate); the status returned carries it too.
    ``client_factory`` builds each user's client (the test seam; defaults to ``make_client``;
    the local engine only: Ray actors build theirs with ``make_client``, and a factory given
    with ``engine="ray"`` is a ``ValueError``).
    """
    _check_engine(engine, client_factory)
    options = options or RunOptions()
    settings = worker or WorkerSettings()
    path = Path(journal)
    with _exclusive(path):
        book = await asyncio.to_thread(Journal.open, path)  # SQLite work stays off the loop
        try:
            counts = await asyncio.to_thread(_prepare, book, client_options, options)
            ray = (ray_address, ray_actors)
            workers = _workers(engine, client_options, settings, client_factory, *ray)
        except BaseException:
            book.close()
            raise
        try:
            await Runner(book, workers, counts, options, on_progress).run()
        finally:
            await _close(workers, counts, on_progress)
    status = await asyncio.to_thread(job_status, path)
    status.rate_limit_wait = counts.rate_limit_wait
    return status


async def _close(workers: Workers, counts: JobStatus, on_progress: ProgressCallback | None) -> None:
    """Take the run's rate-limit wait from the workers, close them, report the last counts."""
    try:
        counts.rate_limit_wait = await workers.rate_limit_wait()
    finally:
        await workers.close()
    if on_progress is not None:
        on_progress(counts.copy())


def _prepare(book: Journal, client_options: ClientOptions, options: RunOptions) -> JobStatus:
    if options.retry_failed:
        with book.transaction():
            book.retry_failed()
    users = {target.user_id for target in book.open_targets()}
    users |= {user_id for user_id, _, _ in book.stale_locks()}
    client_options.check_users(users)
    return read_status(book)


def _check_engine(engine: str, client_factory: ClientFactory) -> None:
    if engine not in ("local", "ray"):
        raise ValueError(f'engine must be "local" or "ray", not {engine!r}')
    if engine == "ray" and client_factory is not make_client:
        raise ValueError(
            'client_factory works with engine="local" only (Ray actors build their clients'
            " with make_client)"
        )


def _workers(
    engine: Engine,
    client_options: ClientOptions,
    settings: WorkerSettings,
    client_factory: ClientFactory,
    ray_address: str | None,
    ray_actors: int | None,
) -> Workers:
    if engine == "local":
        return LocalWorkers(LocalWorker(client_options, settings, client_factory))
    from ._ray import RayWorkers

    return RayWorkers(client_options, settings, address=ray_address, actors=ray_actors)


@contextlib.contextmanager
def _exclusive(path: Path) -> Iterator[None]:
    """Hold an exclusive advisory lock on the journal file for the run (POSIX ``flock``:
    the kernel drops it when the process dies, ``kill -9`` included). SQLite locks with
    ``fcntl`` byte ranges, which ``flock`` does not touch on Linux."""
    try:
        import fcntl
    except ImportError:  # not POSIX: no guard against two runs at once
        yield
        return
    if not path.is_file():
        raise JournalError(f"no journal at {str(path)!r} (run `cleanup plan` first)")
    with open(path, "rb") as handle:
        try:
            fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise JobBusyError(f"another run is using {str(path)!r}") from None
        yield
