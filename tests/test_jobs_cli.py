"""``koodrive-backup cleanup plan|run|status`` and ``demo --fleet``, run as child processes
against a fake serving in the test's event loop."""

from __future__ import annotations

import asyncio
import json
import os
import re
import signal
import time
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from test_jobs_support import (
    APP_ID,
    APP_SECRET,
    ARRIVAL_SLACK,
    assert_store_agrees,
    cli,
    cli_env,
    inject_random_faults,
    rate_bound,
    served_span,
    start_cli,
    wait_until,
)

from koodrive_backup.jobs import job_status
from koodrive_backup.testing import FakeKooDrive, Fault, Fleet, seed_fleet


@pytest.fixture
async def fake() -> AsyncIterator[FakeKooDrive]:
    async with FakeKooDrive(app_id=APP_ID, app_secret=APP_SECRET, seed=21) as server:
        yield server


def manifest_of(fleet: Fleet, tmp_path: Path) -> str:
    path = tmp_path / "fleet.jsonl"
    fleet.write_manifest(path)
    return str(path)


async def test_plan_run_status(fake: FakeKooDrive, tmp_path: Path) -> None:
    fleet = seed_fleet(
        fake, users=3, devices_per_user=2, scopes_per_device=150, records_per_device=4
    )
    inject_random_faults(fake, 0.05, seed=2)
    for route in ("batchDeleteBackupScope", "deleteBackupRecord"):  # sent again: not found
        fake.inject(Fault.lose_response(), route=route)
    journal = str(tmp_path / "job.db")
    env = cli_env(fake)

    planned = await cli(
        "cleanup", "plan", manifest_of(fleet, tmp_path), "--journal", journal, env=env
    )
    assert planned.status == 0, planned.err
    assert "Planned 6 target(s)" in planned.out
    ran = await cli("cleanup", "run", "--journal", journal, "--max-attempts", "8", env=env)
    assert ran.status == 0, ran.err
    assert "progress:" in ran.err and "IDs settled" in ran.err and "targets finished" in ran.err
    shown = await cli("cleanup", "status", "--journal", journal, "--json", env=env)
    assert shown.status == 0
    document = json.loads(shown.out)
    ids = document["ids"]
    assert ids["gone"] > 0 and ids["deleted"] > 0  # the lost answers' IDs are gone
    assert document == {
        "targets": {"total": 6, "done": 6, "failed": 0},
        "ids": {
            "planned": fleet.id_count,
            "deleted": fleet.id_count - ids["gone"],
            "gone": ids["gone"],
            "failed": 0,
            "pending": 0,
        },
        "failures": [],
    }
    assert_store_agrees(fake, fleet, Path(journal), job_status(journal))


async def test_failures_exit_1_and_are_listed(fake: FakeKooDrive, tmp_path: Path) -> None:
    fleet = seed_fleet(fake, users=1, devices_per_user=2, scopes_per_device=10)
    (device_id, scope_ids), _ = fleet.scope_ids.items()
    refusal = Fault.status(400, code=15000400, msg="refused")
    fake.inject(refusal, route="batchDeleteBackupScope", when=lambda r: device_id in r.path)
    journal = str(tmp_path / "job.db")
    env = cli_env(fake)
    assert (
        await cli("cleanup", "plan", manifest_of(fleet, tmp_path), "--journal", journal, env=env)
    ).status == 0

    ran = await cli("cleanup", "run", "--journal", journal, "--json", env=env)

    assert ran.status == 1
    document = json.loads(ran.out)
    assert document["ids"] == {"planned": 20, "deleted": 10, "gone": 0, "failed": 10, "pending": 0}
    assert document["targets"] == {"total": 2, "done": 1, "failed": 1}
    failure = document["failures"][0]
    assert set(failure) == {"kind", "id", "user_id", "device_id", "code", "msg"}
    assert (failure["kind"], failure["device_id"], failure["code"]) == (
        "scope",
        device_id,
        "15000400",
    )
    assert sorted(f["id"] for f in document["failures"]) == sorted(scope_ids)
    status = await cli("cleanup", "status", "--journal", journal, env=env)
    assert status.status == 1 and f"failed scope {scope_ids[0]}" in status.out
    shown = await cli("cleanup", "status", "--journal", journal, "--json", env=env)
    del document["rate_limit_wait_seconds"]
    assert json.loads(shown.out) == document  # run --json: status --json and the wait


async def test_bad_usage_exits_2(fake: FakeKooDrive, tmp_path: Path) -> None:
    bad = tmp_path / "bad.jsonl"
    bad.write_text(
        '{"user_id": "1", "device_id": "2", "module_code": "101", "scopes": "all"}\n{"x": 1}\n'
    )
    journal = str(tmp_path / "job.db")
    env = cli_env(fake)
    planned = await cli("cleanup", "plan", str(bad), "--journal", journal, env=env)
    assert planned.status == 2 and "manifest line 2: unknown key(s) 'x'" in planned.err
    assert not await asyncio.to_thread(os.path.exists, journal)
    missing = await cli("cleanup", "run", "--journal", journal, env=env)
    assert missing.status == 2 and "no journal" in missing.err
    bad.write_text('{"user_id": "1", "device_id": "2", "module_code": "101", "scopes": "all"}\n')
    assert (await cli("cleanup", "plan", str(bad), "--journal", journal, env=env)).status == 0
    no_creds = await cli(
        "cleanup", "run", "--journal", journal, env=cli_env(None, KOODRIVE_BASE_URL=fake.url)
    )
    assert no_creds.status == 2 and "KOODRIVE_APP_ID" in no_creds.err
    assert fake.request_count == 0


async def test_a_refused_secret_exits_3_and_never_shows(fake: FakeKooDrive, tmp_path: Path) -> None:
    fleet = seed_fleet(fake, users=1, devices_per_user=1, scopes_per_device=5)
    journal = str(tmp_path / "job.db")
    env = cli_env(fake, KOODRIVE_APP_SECRET="wrong-secret-5b1f")
    assert (
        await cli("cleanup", "plan", manifest_of(fleet, tmp_path), "--journal", journal, env=env)
    ).status == 0
    ran = await cli("cleanup", "run", "--journal", journal, env=env)
    assert ran.status == 3 and "refused the credential" in ran.err
    assert "wrong-secret-5b1f" not in ran.out + ran.err
    assert (await cli("cleanup", "run", "--journal", journal, env=cli_env(fake))).status == 0


async def test_cleanup_run_rate_limits_the_whole_job_and_reports_the_wait(
    fake: FakeKooDrive, tmp_path: Path
) -> None:
    # 4 users (4 clients): 4 listings + 8 chunks = 12 requests, 3 per client. Limits of their
    # own (burst 8 each) would never make them wait; one RateLimit(8) for the job does.
    fleet = seed_fleet(fake, users=4, devices_per_user=1, scopes_per_device=150)
    journal = str(tmp_path / "job.db")
    env = cli_env(fake)
    await cli("cleanup", "plan", manifest_of(fleet, tmp_path), "--journal", journal, env=env)
    started = time.monotonic()

    ran = await cli("cleanup", "run", "--journal", journal, "--rate", "8", env=env)

    elapsed, sent = time.monotonic() - started, fake.request_count
    assert ran.status == 0, ran.err
    assert sent == 12 and elapsed >= rate_bound(sent, 8, burst=8)  # the contract: 0.5 s
    assert served_span(fake) >= rate_bound(sent, 8, burst=8) - ARRIVAL_SLACK  # one limit
    waited = re.search(r"rate-limit wait +(\d+\.\d\d) s", ran.out)
    assert waited is not None and float(waited.group(1)) > 0, ran.out
    again = await cli("cleanup", "run", "--journal", journal, "--json", "--rate", "8", env=env)
    assert json.loads(again.out)["rate_limit_wait_seconds"] == 0  # nothing left to send
    unlimited = await cli("cleanup", "run", "--journal", journal, "--json", env=env)
    assert json.loads(unlimited.out)["rate_limit_wait_seconds"] is None
    assert "rate-limit wait" not in (await cli("cleanup", "run", "--journal", journal, env=env)).out


async def test_sigint_leaves_a_resumable_journal(fake: FakeKooDrive, tmp_path: Path) -> None:
    fleet = seed_fleet(fake, users=2, devices_per_user=2, scopes_per_device=1000)
    fake.inject(Fault.latency(0.01), route="batchDeleteBackupScope", times=None)
    journal = str(tmp_path / "job.db")
    env = cli_env(fake)
    assert (
        await cli("cleanup", "plan", manifest_of(fleet, tmp_path), "--journal", journal, env=env)
    ).status == 0
    args = ("--requests", "1", "--rate", "1000")
    proc = await start_cli("cleanup", "run", "--journal", journal, *args, env=env)
    await wait_until(lambda: job_status(journal).deleted > 0)
    proc.send_signal(signal.SIGINT)
    out, err = await asyncio.wait_for(proc.communicate(), 60)
    assert proc.returncode == 130 and b"interrupted by SIGINT; run again to resume" in err
    assert re.search(rb"rate-limit wait +\d+\.\d\d s", out), out  # measured until the stop
    stopped = job_status(journal)
    assert 0 < stopped.deleted < fleet.id_count and stopped.pending > 0

    resumed = await cli("cleanup", "run", "--journal", journal, env=env)

    assert resumed.status == 0, resumed.err
    assert_store_agrees(fake, fleet, Path(journal), job_status(journal))


async def test_demo_fleet_exits_0() -> None:
    run = await cli(
        "demo", "--fleet", "--users", "5", "--scopes-per-device", "300", "--json", env=cli_env(None)
    )
    assert run.status == 0, run.err
    document = json.loads(run.out)
    assert document["ok"] is True and all(document["checks"].values())
    assert 0 < document["first_run_settled"] < 5 * 4 * 305
    assert document["ids"]["planned"] == 5 * 4 * 305 and document["ids"]["pending"] == 0


async def test_an_unfinished_target_says_why(fake: FakeKooDrive, tmp_path: Path) -> None:
    fleet = seed_fleet(fake, users=1, devices_per_user=2, scopes_per_device=10)
    stuck = fleet.devices[0][1]
    fake.inject(
        Fault.status(503), route="listBackupScope", when=lambda r: stuck in r.path, times=None
    )
    journal = str(tmp_path / "job.db")
    env = cli_env(fake)
    assert (
        await cli("cleanup", "plan", manifest_of(fleet, tmp_path), "--journal", journal, env=env)
    ).status == 0
    ran = await cli("cleanup", "run", "--journal", journal, "--max-attempts", "1", env=env)
    assert ran.status == 1
    assert f"open: user {fleet.users[0].user_id} device {stuck} module 101:" in ran.out
    assert "HTTP 503" in ran.out
    shown = await cli("cleanup", "status", "--journal", journal, env=env)
    assert shown.status == 1 and f"device {stuck}" in shown.out
    fake.clear_faults()
    assert (await cli("cleanup", "run", "--journal", journal, env=env)).status == 0
