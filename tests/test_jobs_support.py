"""Shared helpers of the fleet cleanup job tests (no tests here).

A fleet fake (app credentials that sign for every user), the client options of a job that
talks to it with millisecond retries, seeded random faults on the list and delete routes,
the store check every job test ends with, and the CLI run as a real child process.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import random
import sqlite3
import sys
from collections.abc import Callable
from pathlib import Path

import attrs

from koodrive_backup import (
    AiohttpTransport,
    BackupClient,
    HmacAuth,
    HttpRequest,
    RateLimit,
    RawResponse,
    RetryPolicy,
)
from koodrive_backup.jobs import (
    ClientOptions,
    JobStatus,
    job_open_errors,
    job_outcomes,
    job_status,
    plan_job,
)
from koodrive_backup.testing import FakeKooDrive, FakeRequest, Fault, Fleet, seed_fleet

APP_ID = "jobs-app"
APP_SECRET = "jobs-app-secret-3f9a1c7e"  # made up; must never be printed
FAST = RetryPolicy(max_attempts=8, initial_delay=0.001, max_delay=0.01)
FAULT_ROUTES = frozenset(
    {"listBackupScope", "listBackupRecord", "batchDeleteBackupScope", "deleteBackupRecord"}
)
RUN_TIMEOUT = 120.0


def job_options(fake: FakeKooDrive, **extra: object) -> ClientOptions:
    return ClientOptions(fake.url, app_id=APP_ID, app_secret=APP_SECRET, retry=FAST, **extra)  # type: ignore[arg-type]


class RenamingTransport:
    """A real transport whose answers have some IDs replaced (``{old: new}``, as JSON
    strings): the fake then lists IDs it could never store, such as ``"a b"``."""

    def __init__(self, renames: dict[str, str]) -> None:
        self.inner = AiohttpTransport()
        self.renames = [
            (json.dumps(a).encode(), json.dumps(b).encode()) for a, b in renames.items()
        ]

    async def send(self, request: HttpRequest) -> RawResponse:
        response = await self.inner.send(request)
        body = response.body
        for old, new in self.renames:
            body = body.replace(old, new)
        return response._replace(body=body)

    async def aclose(self) -> None:
        await self.inner.aclose()


def renaming_factory(
    renames: dict[str, str],
) -> Callable[[ClientOptions, str, RateLimit | None], BackupClient]:
    """A ``client_factory`` for ``run_job`` whose clients see ``renames`` in every answer."""

    def factory(options: ClientOptions, user_id: str, limit: RateLimit | None) -> BackupClient:
        assert options.app_id is not None and options.app_secret is not None
        return BackupClient(
            options.base_url,
            user_id=user_id,
            auth=HmacAuth(options.app_id, options.app_secret),
            retry=options.retry,
            transport=RenamingTransport(renames),
        )

    return factory


def inject_random_faults(fake: FakeKooDrive, rate: float, seed: int) -> None:
    """Each list/delete request fails with probability ``rate``: 503, a dropped connection,
    or an answer lost after the work was done (the retry then meets "not found")."""
    faults = (Fault.status(503, retry_after="0"), Fault.disconnect(), Fault.lose_response())
    fake.set_random_faults(rate, faults, seed=seed, route=FAULT_ROUTES)


def watch_record_locks(fake: FakeKooDrive, journal: Path) -> list[tuple[str, bool]]:
    """For each record delete the fake gets: its lock ID, and whether the journal (read by a
    connection of its own, as a run after a crash would) had that lock ID committed."""
    seen: list[tuple[str, bool]] = []

    def look(request: FakeRequest) -> bool:
        with contextlib.closing(sqlite3.connect(f"file:{journal}?mode=ro", uri=True)) as db:
            committed = {row[0] for row in db.execute("SELECT lock_id FROM locks")}
        lock_id = request.headers["x-backup-lock-id"]
        seen.append((lock_id, lock_id in committed))
        return False  # a probe, not a fault

    fake.inject(Fault.latency(0.0), route="deleteBackupRecord", when=look, times=None)
    return seen


@attrs.frozen
class Accounting:
    """The journal's per-ID outcomes checked against the fake's store."""

    outcomes: dict[tuple[str, str], str]
    repeated: int


def read_accounting(journal: Path) -> Accounting:
    outcomes: dict[tuple[str, str], str] = {}
    repeated = 0
    for kind, _, _, item, outcome in job_outcomes(journal):
        repeated += (kind, item) in outcomes
        outcomes[(kind, item)] = outcome
    return Accounting(outcomes, repeated)


def assert_store_agrees(fake: FakeKooDrive, fleet: Fleet, journal: Path, status: JobStatus) -> None:
    """The "done when" of issue 13: nothing pending, every ID once, the store agrees."""
    assert status.pending == 0
    assert status.planned == status.deleted + status.gone + status.failed
    book = read_accounting(journal)
    assert book.repeated == 0  # no ID in two outcomes
    assert len(book.outcomes) == status.planned == fleet.id_count
    for device_id, scope_ids in fleet.scope_ids.items():
        for scope_id in scope_ids:
            outcome = book.outcomes[("scope", scope_id)]
            assert fake.has_scope(device_id, scope_id) == (outcome == "failed"), scope_id
    for record_ids in fleet.record_ids.values():
        for record_id in record_ids:
            outcome = book.outcomes[("record", record_id)]
            assert fake.has_record(record_id) == (outcome == "failed"), record_id


#: The first request reaches the fake a little after it took its token (signing, connection
#: set-up): a span measured between arrivals may fall short of the tokens' by that much.
ARRIVAL_SLACK = 0.1


def rate_bound(sent: int, rate: float, burst: int) -> float:
    """The contract's lower bound: ``sent`` attempts through ``RateLimit(rate)`` (``burst``
    tokens at once; summed over limits that share ``rate``) take this many seconds at least."""
    return (sent - burst) / rate


def served_span(fake: FakeKooDrive) -> float:
    """Seconds from the first request the fake received to the last (its own clock): the
    work of a job without the process's start-up."""
    times = [request.time for request in fake.requests]
    return max(times) - min(times)


def cli_env(fake: FakeKooDrive | None, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("KOODRIVE_")}
    env["PYTHONUNBUFFERED"] = "1"
    if fake is not None:
        env.update(
            KOODRIVE_BASE_URL=fake.url, KOODRIVE_APP_ID=APP_ID, KOODRIVE_APP_SECRET=APP_SECRET
        )
    env.update(extra)
    return env


async def start_cli(*args: str, env: dict[str, str]) -> asyncio.subprocess.Process:
    return await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "koodrive_backup",
        *args,
        stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        env=env,
    )


@attrs.frozen
class Run:
    status: int
    out: str
    err: str


async def cli(*args: str, env: dict[str, str]) -> Run:
    """Run ``python -m koodrive_backup ARGS`` to its end (the fake keeps serving meanwhile)."""
    proc = await start_cli(*args, env=env)
    out, err = await asyncio.wait_for(proc.communicate(), RUN_TIMEOUT)
    assert proc.returncode is not None
    run = Run(proc.returncode, out.decode(), err.decode())
    assert APP_SECRET not in run.out and APP_SECRET not in run.err
    return run


# --- the crash test (kill -9 of `cleanup run` at random points, then resume) ------------------

LOCK_TTL = 4.0  # a lock stranded by a kill (created, not yet journaled) expires quickly
CRASH_USERS, CRASH_DEVICES, CRASH_SCOPES, CRASH_RECORDS = 10, 4, 480, 20  # 20,000 IDs


async def kill_at(journal: Path, env: dict[str, str], settled: int, run_args: list[str]) -> bool:
    """Start `cleanup run`, SIGKILL it once ``settled`` IDs are settled in the journal;
    returns whether it was killed (False: it finished first)."""
    proc = await start_cli("cleanup", "run", "--journal", str(journal), *run_args, env=env)
    try:
        ended = asyncio.ensure_future(proc.wait())
        await wait_until(lambda: ended.done() or journal_settled(journal) >= settled)
        if ended.done():
            return False
        proc.kill()  # SIGKILL: no cleanup of any kind
        await ended
        return True
    finally:
        if proc.returncode is None:
            proc.kill()
        await proc.communicate()


async def wait_until(
    condition: Callable[[], bool], every: float = 0.005, deadline: float = RUN_TIMEOUT
) -> None:
    """Poll ``condition`` (a journal read by another process: no event to wait for); fail
    loudly after ``deadline`` seconds (a run that died early would otherwise hang)."""
    try:
        async with asyncio.timeout(deadline):
            while not condition():  # noqa: ASYNC110
                await asyncio.sleep(every)
    except TimeoutError:
        raise AssertionError(f"still not so after {deadline} s: {condition}") from None


def journal_settled(journal: Path) -> int:
    counts = job_status(journal)
    return counts.deleted + counts.gone + counts.failed


async def crash_and_resume(
    fake: FakeKooDrive, fleet: Fleet, journal: Path, run_args: list[str], kills: int, seed: int
) -> JobStatus:
    """Kill the run at ``kills`` random points, then resume until the job is finished."""
    env = cli_env(fake)
    rng = random.Random(seed)
    points = sorted(rng.uniform(0.05, 0.9) for _ in range(kills))
    killed = 0
    for point in points:
        killed += await kill_at(journal, env, int(point * fleet.id_count), run_args)
        assert 0 < journal_settled(journal) < fleet.id_count or not killed
    assert killed >= 1
    await resume(journal, run_args, env)
    if not job_status(journal).finished:
        # Only a kill between a lock's creation and the commit of its ID (no record deleted
        # under it yet) leaves a lock no journal knows: its records wait until it expires.
        errors = job_open_errors(journal)
        assert errors and all("code 15000414" in msg for *_, msg in errors), errors
        await asyncio.sleep(LOCK_TTL)
        await resume(journal, run_args, env)
    return job_status(journal)


async def resume(journal: Path, run_args: list[str], env: dict[str, str]) -> None:
    run = await cli("cleanup", "run", "--journal", str(journal), *run_args, env=env)
    assert run.status in (0, 1), run.err


async def crash_test(run_args: list[str], kills: int, seed: int, tmp_path: Path) -> None:
    async with FakeKooDrive(
        app_id=APP_ID, app_secret=APP_SECRET, seed=seed, lock_ttl=LOCK_TTL
    ) as fake:
        fake.record_requests = False
        fleet = seed_fleet(
            fake,
            users=CRASH_USERS,
            devices_per_user=CRASH_DEVICES,
            scopes_per_device=CRASH_SCOPES,
            records_per_device=CRASH_RECORDS,
        )
        assert fleet.id_count == 20_000
        inject_random_faults(fake, 0.05, seed=seed)
        journal = tmp_path / "job.db"
        plan_job(fleet.manifest_text().splitlines(), journal)
        args = ["--max-attempts", "8", "--lock-lifetime", str(LOCK_TTL), *run_args]
        status = await crash_and_resume(fake, fleet, journal, args, kills, seed)
        assert_store_agrees(fake, fleet, journal, status)
        assert status.failed == 0 and status.complete  # 8 attempts ride out 5% faults
