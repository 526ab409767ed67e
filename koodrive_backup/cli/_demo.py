"""``koodrive-backup demo``: the main job in one command, against an in-process fake server.

1. start ``FakeKooDrive`` on 127.0.0.1 (a free port), seed a device with ``--scopes`` scopes
   and a few records;
2. turn on seeded random transient faults on the scope-deletion route (503 with
   ``Retry-After: 0``, a dropped connection, an answer lost after the deletion was done);
3. delete every scope through the SDK (the same code as ``scopes delete``, progress bar and
   Ctrl-C included), with a retry policy of short delays so the demo takes seconds (and at
   most ``--rate`` requests per second, when given);
4. view a record, take a managed lock, delete the record under it;
5. print a summary and check the fake's store: every ID reported gone is really absent,
   no scope is left, the record is gone (and the others are kept).

Counting: "requests" are what the server saw (``fake.request_count``, all routes); "chunk
requests" those of ``batchDeleteBackupScope``; every chunk request beyond one per chunk is a
repeat caused by a fault. "SDK retries" are counted from the SDK's INFO log records
("retrying ... after attempt N failed"). The two agree: the SDK turns off aiohttp's own
re-send of an idempotent request after a dropped connection (every request is an attempt).
"""

from __future__ import annotations

import argparse
from typing import Any

import attrs

from .._retry import RetryPolicy
from ..client import BackupClient
from ..models import BackupRecord
from ..testing import FakeKooDrive, Fault
from ._bulk import SCOPES, BulkOutcome, run_bulk
from ._delete import scope_deletion
from ._errors import EXIT_API, EXIT_OK
from ._logs import RetryCounter
from ._output import format_table, make_progress, print_json
from ._report import (
    bulk_rows,
    counts,
    error_json,
    record_json,
    record_table,
    signal_name,
    timing_line,
    wait_seconds,
)

__all__ = ["DEMO_RETRY", "demo_faults", "run_demo"]

SCOPE_ROUTE = "batchDeleteBackupScope"
#: Short delays so 20,000 scopes with 5% faults take seconds; 8 attempts so that a chunk
#: failing every attempt (0.05**8) does not happen in practice.
DEMO_RETRY = RetryPolicy(max_attempts=8, initial_delay=0.01, max_delay=0.2)
DEMO_RECORDS = 3


def demo_faults() -> list[Fault]:
    """The demos' random faults: a 503, a dropped connection, an answer lost after the work."""
    return [Fault.status(503, retry_after="0"), Fault.disconnect(), Fault.lose_response()]


async def run_demo(args: argparse.Namespace, retries: RetryCounter) -> int:
    """Run the demo; exit 0 when the cleanup completed and every check passed."""
    async with FakeKooDrive(seed=args.seed) as fake:
        device_id, scope_ids, record_ids = _seed(fake, args.scopes)
        fake.set_random_faults(args.fault_rate, demo_faults(), seed=args.seed, route=SCOPE_ROUTE)
        if not args.json:
            _print_intro(fake.url, args)
        async with BackupClient(
            fake.url, user_id=fake.user_id, token=fake.token, retry=DEMO_RETRY,
            rate_limit=args.rate,
        ) as client:  # fmt: skip
            opener = scope_deletion(client, device_id, scope_ids, args)
            progress = make_progress(
                len(scope_ids), "deleting scopes", enabled=not args.no_progress
            )
            outcome = await run_bulk(scope_ids, opener, SCOPES, progress=progress, client=client)
            record = None
            if outcome.interrupted is None and outcome.stopped_by is None:
                record = await client.get_record(record_ids[0])
                async with client.lock(record.module_code or "101") as lock:
                    await client.delete_record(record.record_id, lock_id=lock.lock_id)
        checks = _checks(fake, device_id, outcome, record_ids, deleted_record=record is not None)
        stats = _stats(fake, outcome, retries.retries)
    ok = all(checks.values()) and outcome.exit_status == EXIT_OK and record is not None
    status = outcome.exit_status  # 130 interrupted, 1 IDs left, 3/4 stopped by an error
    if status == EXIT_OK and not ok:
        status = EXIT_API  # a check against the store failed: the SDK reported wrongly
    report = _Report(device_id, outcome, stats, record, checks, ok)
    if args.json:
        print_json(_json(args, report))
    else:
        print(_table(report))
    return status


@attrs.frozen
class _Report:
    """What the demo did and found, for its table or its JSON document."""

    device_id: str
    outcome: BulkOutcome
    stats: dict[str, int]
    record: BackupRecord | None
    checks: dict[str, bool]
    ok: bool


def _seed(fake: FakeKooDrive, scopes: int) -> tuple[str, list[str], list[str]]:
    device_id = fake.add_device(machine_code="demo_laptop", device_name="demo laptop")
    scope_ids = fake.add_scopes(device_id, scopes)
    record_ids = [
        fake.add_record(device_id, files=2, properties='{"album":"holidays"}', completed=True)
        for _ in range(DEMO_RECORDS)
    ]
    return device_id, scope_ids, record_ids


def _print_intro(url: str, args: argparse.Namespace) -> None:
    print(
        f"Fake KooDrive server at {url} (in this process). Deleting {args.scopes} scopes in "
        f"chunks of {args.chunk_size}, {args.concurrency} in flight"
        f"{'' if args.rate is None else f' (at most {args.rate:g} requests/s)'}; "
        f"{args.fault_rate:.0%} of "
        f"scope-deletion requests fail transiently (seed {args.seed}).\n",
        flush=True,
    )


def _checks(
    fake: FakeKooDrive,
    device_id: str,
    outcome: BulkOutcome,
    record_ids: list[str],
    *,
    deleted_record: bool,
) -> dict[str, bool]:
    """Compare what the SDK reported with the fake's store (the ground truth)."""
    left = set(fake.scope_ids(device_id))
    checks = {
        # The claim that matters: nothing reported gone is still there. (IDs reported
        # unprocessed may or may not be gone -- a request in flight may have been carried out.)
        "every ID reported gone is absent from the store": left.isdisjoint(outcome.result.gone),
        "the device has no scopes left": not left,
    }
    if deleted_record:
        checks["the deleted record is gone, the others are kept"] = not fake.has_record(
            record_ids[0]
        ) and all(fake.has_record(r) for r in record_ids[1:])
    return checks


def _stats(fake: FakeKooDrive, outcome: BulkOutcome, sdk_retries: int) -> dict[str, int]:
    chunk_requests = fake.route_counts[SCOPE_ROUTE]
    return {
        "requests": fake.request_count,
        "chunks": outcome.chunks_settled,
        "chunk_requests": chunk_requests,
        "repeated_chunk_requests": max(0, chunk_requests - outcome.chunks_settled),
        "sdk_retries": sdk_retries,
    }


def _table(report: _Report) -> str:
    outcome = report.outcome
    rows = bulk_rows(outcome)
    rows[2] = (
        "already gone",
        rows[2][1],
        "not found: deleted by an attempt whose answer was lost",
    )
    rows += _request_rows(report.stats)
    title = f"Bulk cleanup of device {report.device_id}"
    parts = [format_table(rows, title) + "\n" + timing_line(outcome)]
    if report.record is not None:
        viewed = "Viewed record (then deleted under a managed lock)"
        parts.append(record_table(report.record, viewed))
    parts.append(_verdict(outcome, report.checks, report.ok))
    return "\n\n".join(parts)


def _request_rows(stats: dict[str, int]) -> list[tuple[str, str, str]]:
    other = stats["requests"] - stats["chunk_requests"]
    repeats = stats["repeated_chunk_requests"]
    why = "each one an SDK attempt after a fault: every request on the wire is one"
    return [
        (
            "requests",
            str(stats["requests"]),
            f"seen by the server: {stats['chunk_requests']} for {stats['chunks']} chunks "
            f"+ {other} for the record and the lock",
        ),
        ("retries", str(repeats), why),
    ]


def _verdict(outcome: BulkOutcome, checks: dict[str, bool], ok: bool) -> str:
    lines = ["Check against the fake's store"]
    lines += [f"  [{'ok' if passed else 'FAILED'}] {name}" for name, passed in checks.items()]
    if outcome.interrupted is not None:
        lines.append(f"\nInterrupted ({signal_name(outcome.interrupted)}).")
    elif outcome.stopped_by is not None:
        lines.append(f"\nStopped: {outcome.stopped_by}")
    if outcome.not_gone:
        lines.append(
            f"\n{len(outcome.not_gone)} IDs are not known to be gone (their requests failed "
            f"{DEMO_RETRY.max_attempts} attempts): try a lower --fault-rate."
        )
    lines.append("\nDemo OK." if ok else "\nDemo FAILED.")
    return "\n".join(lines)


def _json(args: argparse.Namespace, report: _Report) -> dict[str, Any]:
    outcome, record = report.outcome, report.record
    return {
        "ok": report.ok,
        "device_id": report.device_id,
        "scopes": args.scopes,
        "fault_rate": args.fault_rate,
        "seed": args.seed,
        "counts": counts(outcome),
        **report.stats,
        "elapsed_seconds": round(outcome.elapsed, 3),
        "ids_per_second": round(len(outcome.unique_ids) / max(outcome.elapsed, 1e-9), 1),
        "rate_limit_wait_seconds": wait_seconds(outcome.rate_limit_wait),
        "interrupted": signal_name(outcome.interrupted),
        "stopped_by": None if outcome.stopped_by is None else error_json(outcome.stopped_by),
        "record": None if record is None else record_json(record),
        "record_deleted": record is not None,
        "checks": report.checks,
    }
