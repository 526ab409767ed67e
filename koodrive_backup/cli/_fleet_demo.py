"""``koodrive-backup demo --fleet``: a fleet cleanup job against the embedded fake server.

1. start ``FakeKooDrive`` with app credentials (they sign for every user), seed ``--users``
   users with ``--devices-per-user`` devices, each with scopes and records, and write the
   manifest (``"scopes": "all"``, ``"records_before"``) into a temporary directory;
2. inject seeded random faults into the list and delete routes (503, dropped connections,
   answers lost after the server did the work);
3. ``plan`` the journal, ``run`` it, and cancel the run part-way (as Ctrl-C would);
4. ``run`` again: the job resumes from the journal and finishes;
5. print the accounting and check the fake's store: every ID reported deleted or gone is
   absent, every ID reported failed is still there, none is pending, every seeded ID was
   planned once.

Exit 0 when the job completed and every check passed.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import tempfile
from pathlib import Path
from typing import Any

from ..jobs import ClientOptions, JobStatus, job_outcomes, plan_job, run_job
from ..testing import FakeKooDrive, Fleet, seed_fleet
from ._cleanup_output import JobProgress, status_table
from ._demo import DEMO_RETRY, demo_faults
from ._errors import EXIT_API, EXIT_OK
from ._output import format_table
from ._report import wait_seconds

__all__ = ["add_fleet_options", "run_fleet_demo"]

APP_ID = "demo-app"
APP_SECRET = "demo-secret-not-a-real-one"  # the fake's own invention, like its tokens
#: Routes the faults hit: the listings and deletes (whose retries are safe). Locks are left
#: alone: a lost answer to createBackupLock would hold the lock until it expires.
FAULT_ROUTES = frozenset(
    {"listBackupScope", "listBackupRecord", "batchDeleteBackupScope", "deleteBackupRecord"}
)
STOP_AT = 0.4  # share of the IDs settled when the first run is cancelled


def add_fleet_options(demo: argparse.ArgumentParser) -> None:
    """The ``demo`` flags of the fleet variant."""
    group = demo.add_argument_group("fleet demo (--fleet)")
    group.add_argument("--fleet", action="store_true", help="a fleet cleanup job instead")
    group.add_argument("--users", type=int, default=50, metavar="N", help="users (50)")
    group.add_argument("--devices-per-user", type=int, default=4, metavar="N", help="(4)")
    group.add_argument("--scopes-per-device", type=int, default=500, metavar="N", help="(500)")
    group.add_argument("--records-per-device", type=int, default=5, metavar="N", help="(5)")


async def run_fleet_demo(args: argparse.Namespace) -> int:
    """Run the fleet demo; exit 0 when the job completed and the store agrees with it."""
    with tempfile.TemporaryDirectory(prefix="koodrive-fleet-demo-") as tmp:
        async with FakeKooDrive(app_id=APP_ID, app_secret=APP_SECRET, seed=args.seed) as fake:
            fleet = seed_fleet(
                fake,
                users=args.users,
                devices_per_user=args.devices_per_user,
                scopes_per_device=args.scopes_per_device,
                records_per_device=args.records_per_device,
            )
            faults = demo_faults()
            fake.set_random_faults(args.fault_rate, faults, seed=args.seed, route=FAULT_ROUTES)
            journal = Path(tmp) / "job.db"
            plan_job(fleet.manifest_text().splitlines(), journal)
            if not args.json:
                _print_intro(fake, fleet, args)
            options = ClientOptions(
                fake.url, app_id=APP_ID, app_secret=APP_SECRET, retry=DEMO_RETRY, rate=args.rate
            )
            first = await _interrupted_run(journal, options, fleet.id_count)
            progress = JobProgress(enabled=not args.no_progress and not args.json)
            final = await run_job(journal, options, on_progress=progress.update)
            progress.close()
            checks = _checks(fake, fleet, journal, final)
    ok = final.complete and all(checks.values())
    _print_result(args, first, final, checks, ok)
    return EXIT_OK if ok else EXIT_API


async def _interrupted_run(journal: Path, options: ClientOptions, total: int) -> JobStatus:
    """Run the job and cancel it once ``STOP_AT`` of the IDs are settled (as Ctrl-C does)."""
    reached = asyncio.Event()
    seen: list[JobStatus] = []

    def watch(counts: JobStatus) -> None:
        seen.append(counts)
        if counts.planned - counts.pending >= STOP_AT * total:
            reached.set()

    run = asyncio.create_task(run_job(journal, options, on_progress=watch))
    waiter = asyncio.create_task(reached.wait())
    await asyncio.wait([run, waiter], return_when=asyncio.FIRST_COMPLETED)
    waiter.cancel()
    run.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await run
    return seen[-1] if seen else JobStatus()


def _checks(fake: FakeKooDrive, fleet: Fleet, journal: Path, final: JobStatus) -> dict[str, bool]:
    """The store against the journal, ID by ID."""
    reported_absent_present = failed_absent = pending = 0
    planned: set[tuple[str, str]] = set()
    repeated = 0
    for kind, _, device_id, item, outcome in job_outcomes(journal):
        present = fake.has_scope(device_id, item) if kind == "scope" else fake.has_record(item)
        reported_absent_present += outcome in ("deleted", "gone") and present
        failed_absent += outcome == "failed" and not present
        pending += outcome == "pending"
        repeated += (kind, item) in planned
        planned.add((kind, item))
    seeded = {("scope", i) for ids in fleet.scope_ids.values() for i in ids}
    seeded |= {("record", i) for ids in fleet.record_ids.values() for i in ids}
    return {
        "every seeded ID was planned once": planned == seeded and not repeated,
        "every ID reported deleted or gone is absent": reported_absent_present == 0,
        "every ID reported failed is still there": failed_absent == 0,
        "nothing is left pending": pending == 0 and final.pending == 0,
        "planned = deleted + gone + failed": final.planned
        == final.deleted + final.gone + final.failed,
    }


def _print_intro(fake: FakeKooDrive, fleet: Fleet, args: argparse.Namespace) -> None:
    print(
        f"Fleet cleanup demo against a fake KooDrive server at {fake.url}: {len(fleet.users)}"
        f" users, {len(fleet.devices)} devices, {fleet.id_count:,} IDs (scopes and records),"
        f" {args.fault_rate:.0%} of list/delete requests failing (503, dropped connections,"
        f" lost answers). The first run is cancelled at {STOP_AT:.0%}, the second resumes."
    )


def _print_result(
    args: argparse.Namespace,
    first: JobStatus,
    final: JobStatus,
    checks: dict[str, bool],
    ok: bool,
) -> None:
    wait = _total_wait(first, final)
    if args.json:
        document: dict[str, Any] = {"ok": ok, "first_run_settled": first.planned - first.pending}
        document.update(final.as_json(), checks=checks, rate_limit_wait_seconds=wait_seconds(wait))
        print(json.dumps(document, indent=2))
        return
    settled = first.planned - first.pending
    print(f"First run cancelled after {settled:,} IDs settled; resumed from the journal.")
    print(status_table(final, "Accounting (from the journal)", wait))
    rows = [("PASS" if passed else "FAIL", name) for name, passed in checks.items()]
    print(format_table(rows, "Store check (the fake server's state)"))
    print("Demo OK." if ok else "Demo FAILED.")


def _total_wait(first: JobStatus, final: JobStatus) -> float | None:
    """Both runs' rate-limit wait (``None`` without ``--rate``)."""
    if final.rate_limit_wait is None:
        return None
    return final.rate_limit_wait + (first.rate_limit_wait or 0.0)
