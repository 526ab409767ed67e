"""``run_job`` against the fake: discovery, accounting, resume, locks, failures, credentials."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from test_jobs_support import (
    APP_ID,
    APP_SECRET,
    FAST,
    assert_store_agrees,
    inject_random_faults,
    job_options,
    read_accounting,
    wait_until,
)

from koodrive_backup import BackupClient, RateLimit
from koodrive_backup.jobs import (
    ClientOptions,
    JobAuthError,
    JobBusyError,
    JobStatus,
    RunOptions,
    WorkerSettings,
    job_failures,
    job_open_errors,
    job_status,
    make_client,
    plan_job,
    run_job,
)
from koodrive_backup.testing import FakeKooDrive, Fault, seed_fleet


@pytest.fixture
async def fake() -> AsyncIterator[FakeKooDrive]:
    async with FakeKooDrive(app_id=APP_ID, app_secret=APP_SECRET, seed=11) as server:
        yield server


async def test_a_fleet_with_faults_is_cleaned_and_accounted(
    fake: FakeKooDrive, tmp_path: Path
) -> None:
    fleet = seed_fleet(
        fake, users=4, devices_per_user=3, scopes_per_device=230, records_per_device=7
    )
    bystander = fake.add_device(user_id=fleet.users[0].user_id)
    kept = [*fake.add_scopes(bystander, 3), fake.add_record(bystander)]
    inject_random_faults(fake, 0.1, seed=3)
    journal = tmp_path / "job.db"
    plan_job(fleet.manifest_text().splitlines(), journal)
    seen: list[JobStatus] = []

    status = await run_job(journal, job_options(fake), on_progress=seen.append)

    assert status.complete and status.targets_done == 12
    assert status.gone > 0  # lost answers: the retry met "not found"
    assert_store_agrees(fake, fleet, journal, status)
    assert all(fake.has_scope(bystander, s) for s in kept[:3]) and fake.has_record(kept[3])
    assert seen[-1] == status  # the progress ends on the journal's own counts
    assert fake.route_counts["createBackupLock"] == fake.route_counts["releaseBackupLock"]


async def test_records_before_keeps_newer_records(fake: FakeKooDrive, tmp_path: Path) -> None:
    user = fake.add_user()
    device = fake.add_device(user_id=user.user_id)
    old = [fake.add_record(device) for _ in range(3)]
    other_module = fake.add_record(device, module_code="100")
    before = "2999-01-01T00:00:00+00:00"
    manifest = {"user_id": user.user_id, "device_id": device, "module_code": "101"}
    plan_job([json.dumps({**manifest, "records_before": before})], tmp_path / "job.db")
    status = await run_job(tmp_path / "job.db", job_options(fake))
    assert (status.planned, status.deleted) == (3, 3)
    assert not any(fake.has_record(r) for r in old) and fake.has_record(other_module)

    young = fake.add_record(device)
    past = {**manifest, "records_before": "2000-01-01T00:00:00Z"}
    plan_job([json.dumps(past)], tmp_path / "past.db")
    assert (await run_job(tmp_path / "past.db", job_options(fake))).planned == 0
    assert fake.has_record(young)


async def test_a_cancelled_run_resumes_without_counting_twice(
    fake: FakeKooDrive, tmp_path: Path
) -> None:
    fleet = seed_fleet(
        fake, users=3, devices_per_user=2, scopes_per_device=600, records_per_device=10
    )
    inject_random_faults(fake, 0.05, seed=5)
    fake.inject(Fault.latency(0.002), route="batchDeleteBackupScope", times=None)
    journal = tmp_path / "job.db"
    plan_job(fleet.manifest_text().splitlines(), journal)
    halfway = asyncio.Event()

    def watch(counts: JobStatus) -> None:
        if counts.deleted + counts.gone > fleet.id_count // 3:
            halfway.set()

    run = asyncio.create_task(run_job(journal, job_options(fake), on_progress=watch))
    await halfway.wait()
    run.cancel()
    with pytest.raises(asyncio.CancelledError):
        await run
    stopped = job_status(journal)
    assert 0 < stopped.deleted + stopped.gone < fleet.id_count
    assert stopped.pending > 0 and not stopped.finished

    seen: list[JobStatus] = []
    status = await run_job(journal, job_options(fake), on_progress=seen.append)

    assert status.complete and seen[-1] == status  # discoveries redone are not counted twice
    assert status.deleted + status.gone >= stopped.deleted + stopped.gone
    assert_store_agrees(fake, fleet, journal, status)


async def test_a_stale_lock_of_a_crashed_run_is_released_first(
    fake: FakeKooDrive, tmp_path: Path
) -> None:
    fleet = seed_fleet(fake, users=1, devices_per_user=1, records_per_device=4)
    journal = tmp_path / "job.db"
    plan_job(fleet.manifest_text().splitlines(), journal)
    user_id = fleet.users[0].user_id
    stale = fake.add_lock("101", user_id=user_id)  # held by "the killed run"
    import sqlite3  # the journal as the killed run left it: the lock ID written

    with sqlite3.connect(journal) as db:
        db.execute("INSERT INTO locks VALUES (?, '101', ?)", (user_id, stale))

    status = await run_job(journal, job_options(fake))

    assert status.complete and not fake.has_lock(stale)
    releases = [r for r in fake.requests if r.route == "releaseBackupLock"]
    assert releases[0].headers["x-backup-lock-id"] == stale  # released before any record
    with sqlite3.connect(journal) as db:
        assert db.execute("SELECT count(*) FROM locks").fetchone() == (0,)


async def test_an_unknown_device_fails_its_target_only(fake: FakeKooDrive, tmp_path: Path) -> None:
    fleet = seed_fleet(fake, users=1, devices_per_user=2, scopes_per_device=5)
    user_id = fleet.users[0].user_id
    lines = fleet.manifest_text().splitlines()
    ghost = {"user_id": user_id, "device_id": "1999999999999999999", "module_code": "101"}
    lines.append(json.dumps({**ghost, "scopes": "all"}))
    lines.append(json.dumps({**ghost, "module_code": "100", "scopes": ["1", "2"]}))
    journal = tmp_path / "job.db"
    plan_job(lines, journal)

    status = await run_job(journal, job_options(fake))

    assert (status.targets_done, status.targets_failed) == (2, 2)
    assert (status.deleted, status.failed, status.pending) == (10, 2, 0)
    assert not status.complete and status.finished
    failures = list(job_failures(journal))
    assert [(f.kind, f.id) for f in failures] == [
        ("target", ghost["device_id"]),
        ("target", ghost["device_id"]),
        ("scope", "1"),
        ("scope", "2"),
    ]
    assert {f.code for f in failures} == {"15000404"}


async def test_a_refused_credential_stops_the_run_resumably(
    fake: FakeKooDrive, tmp_path: Path
) -> None:
    fleet = seed_fleet(fake, users=2, devices_per_user=2, scopes_per_device=50)
    journal = tmp_path / "job.db"
    plan_job(fleet.manifest_text().splitlines(), journal)
    wrong = ClientOptions(fake.url, app_id=APP_ID, app_secret="not-the-secret", retry=FAST)
    with pytest.raises(JobAuthError) as caught:
        await run_job(journal, wrong)
    assert "not-the-secret" not in str(caught.value) and APP_SECRET not in repr(caught.value)
    assert job_status(journal).targets_done == 0
    assert (await run_job(journal, job_options(fake))).complete


async def test_a_token_works_for_one_user_only(fake: FakeKooDrive, tmp_path: Path) -> None:
    fleet = seed_fleet(fake, users=2, devices_per_user=1, scopes_per_device=3)
    journal = tmp_path / "job.db"
    plan_job(fleet.manifest_text().splitlines(), journal)
    first = fleet.users[0]
    with pytest.raises(ValueError, match="a token acts for one user"):
        await run_job(journal, ClientOptions(fake.url, token=first.token, retry=FAST))
    assert fake.request_count == 0  # refused before any request

    plan_job(fleet.manifest_text().splitlines()[:1], tmp_path / "one.db")
    status = await run_job(tmp_path / "one.db", ClientOptions(fake.url, token=first.token))
    assert status.complete and status.deleted == 3


async def test_failed_ids_are_final_until_retry_failed(fake: FakeKooDrive, tmp_path: Path) -> None:
    fleet = seed_fleet(fake, users=1, devices_per_user=1, scopes_per_device=250)
    fake.inject(Fault.status(400, code=15000400), route="batchDeleteBackupScope", times=1)
    journal = tmp_path / "job.db"
    plan_job(fleet.manifest_text().splitlines(), journal)
    first = await run_job(journal, job_options(fake), worker=WorkerSettings(requests=1))
    assert (first.failed, first.deleted, first.targets_failed) == (100, 150, 1)
    assert {f.code for f in job_failures(journal)} == {"15000400"}
    again = await run_job(journal, job_options(fake))
    assert again == first  # a finished job is not worked again
    retried = await run_job(journal, job_options(fake), options=RunOptions(retry_failed=True))
    assert retried.complete and retried.deleted == 250
    assert_store_agrees(fake, fleet, journal, retried)


async def test_transient_failures_leave_ids_pending_for_the_next_run(
    fake: FakeKooDrive, tmp_path: Path
) -> None:
    fleet = seed_fleet(fake, users=1, devices_per_user=1, scopes_per_device=120)
    (unlucky,) = [ids[0].encode() for ids in fleet.scope_ids.values()]
    fake.inject(Fault.status(503), when=lambda r: unlucky in r.body, times=None)
    journal = tmp_path / "job.db"
    plan_job(fleet.manifest_text().splitlines(), journal)
    first = await run_job(journal, job_options(fake), options=RunOptions(passes=3))
    assert (first.deleted, first.pending, first.targets_done) == (20, 100, 0)
    assert fake.route_counts["batchDeleteBackupScope"] == 1 + 3 * 8  # 3 passes of 8 attempts
    ((*_, last_error),) = job_open_errors(journal)  # what `status` shows for the open target
    assert "HTTP 503" in last_error
    fake.clear_faults()
    second = await run_job(journal, job_options(fake))
    assert second.complete and read_accounting(journal).repeated == 0


async def test_two_runs_of_one_journal_are_refused(fake: FakeKooDrive, tmp_path: Path) -> None:
    fleet = seed_fleet(fake, users=1, devices_per_user=1, scopes_per_device=300)
    fake.inject(Fault.latency(0.05), route="batchDeleteBackupScope", times=None)
    journal = tmp_path / "job.db"
    plan_job(fleet.manifest_text().splitlines(), journal)
    slow = WorkerSettings(requests=1)
    first = asyncio.create_task(run_job(journal, job_options(fake), worker=slow))
    await asyncio.sleep(0.05)
    with pytest.raises(JobBusyError, match="another run"):
        await run_job(journal, job_options(fake))
    assert (await first).complete


def test_client_options_keep_secrets_out_of_their_repr() -> None:
    hmac = ClientOptions("https://h.example", app_id="app", app_secret="s3cr3t-app")
    token = ClientOptions("https://h.example", token="s3cr3t-token", user_id="1")
    assert "s3cr3t" not in repr(hmac) + repr(token) and "app" in repr(hmac)
    with pytest.raises(TypeError):
        ClientOptions("https://h.example", app_id="app", app_secret="x", token="y")
    with pytest.raises(TypeError):
        ClientOptions("https://h.example", app_id="app")


async def test_each_record_is_journaled_as_it_settles(fake: FakeKooDrive, tmp_path: Path) -> None:
    fleet = seed_fleet(fake, users=1, devices_per_user=1, records_per_device=24)
    (record_ids,) = fleet.record_ids.values()
    fake.inject(Fault.latency(0.03), route="deleteBackupRecord", times=None)
    journal = tmp_path / "job.db"
    plan_job(fleet.manifest_text().splitlines(), journal)
    one_at_a_time = WorkerSettings(requests=1)  # the 24 records: one window of 200, in order
    run = asyncio.create_task(run_job(journal, job_options(fake), worker=one_at_a_time))

    await wait_until(lambda: job_status(journal).deleted >= 3)  # read by another connection

    assert sum(fake.has_record(r) for r in record_ids) > 0  # the window is still being deleted
    status = await run
    assert status.complete and status.deleted == 24
    assert_store_agrees(fake, fleet, journal, status)


async def test_a_run_that_cannot_start_leaves_the_journal_closed(
    fake: FakeKooDrive, tmp_path: Path
) -> None:
    fleet = seed_fleet(fake, users=1, devices_per_user=1, scopes_per_device=3)
    journal = tmp_path / "job.db"
    plan_job(fleet.manifest_text().splitlines(), journal)
    wal = tmp_path / "job.db-wal"  # exists while a connection has the journal open

    with pytest.raises(ValueError, match="engine"):
        await run_job(journal, job_options(fake), engine="elsewhere")  # type: ignore[arg-type]
    assert not wal.exists()
    with pytest.raises(ValueError, match="client_factory"):
        await run_job(journal, job_options(fake), engine="ray", client_factory=make_client_copy)
    assert not wal.exists() and fake.request_count == 0
    assert (await run_job(journal, job_options(fake))).complete


def make_client_copy(options: ClientOptions, user_id: str, limit: RateLimit | None) -> BackupClient:
    return make_client(options, user_id, limit)


def test_planned_is_the_sum_of_the_four_outcomes() -> None:
    counts = JobStatus(deleted=1, gone=2, failed=3, pending=4)
    assert counts.planned == 10 and counts.as_json()["ids"] == {
        "planned": 10,
        "deleted": 1,
        "gone": 2,
        "failed": 3,
        "pending": 4,
    }
    counts.pending -= 4  # the runner's counts move: planned follows
    assert counts.planned == 6


def test_client_options_check_the_rate_before_any_request() -> None:
    assert ClientOptions("https://h.example", token="t", rate=2).rate_limit() is not None
    assert ClientOptions("https://h.example", token="t").rate_limit() is None
    for bad, error in ((0, ValueError), (-1.0, ValueError), (float("inf"), ValueError)):
        with pytest.raises(error):
            ClientOptions("https://h.example", token="t", rate=bad)
    with pytest.raises(TypeError):
        ClientOptions("https://h.example", token="t", rate="fast")  # type: ignore[arg-type]


async def test_one_rate_limit_is_shared_by_the_clients_of_a_run(
    fake: FakeKooDrive, tmp_path: Path
) -> None:
    fleet = seed_fleet(fake, users=3, devices_per_user=1, scopes_per_device=120)
    journal = tmp_path / "job.db"
    plan_job(fleet.manifest_text().splitlines(), journal)
    made: list[BackupClient] = []

    def factory(options: ClientOptions, user_id: str, limit: RateLimit | None) -> BackupClient:
        made.append(make_client(options, user_id, limit))
        return made[-1]

    seen: list[JobStatus] = []
    status = await run_job(
        journal, job_options(fake, rate=5), client_factory=factory, on_progress=seen.append
    )

    assert status.complete and len(made) == 3  # one client per user ...
    limit = made[0].rate_limit
    assert limit is not None and limit.per_second == 5.0
    assert all(client.rate_limit is limit for client in made)  # ... and one limit for all
    # 9 requests (3 listings, 6 chunks) through RateLimit(5), burst 5: 0.8 s at least
    assert status.rate_limit_wait == seen[-1].rate_limit_wait  # the last report carries it
    assert status.rate_limit_wait is not None and status.rate_limit_wait > 0
    assert status.rate_limit_wait == pytest.approx(sum(c.rate_limit_wait for c in made))
    assert all(counts.rate_limit_wait is None for counts in seen[:-1])  # set when it ends
    unlimited = await run_job(journal, job_options(fake))
    assert unlimited.rate_limit_wait is None and unlimited == status  # not in the accounting


async def test_a_lost_lock_leaves_records_pending_and_a_new_lock_goes_on(tmp_path: Path) -> None:
    async with FakeKooDrive(app_id=APP_ID, app_secret=APP_SECRET, lock_ttl=1.0) as fake:
        fleet = seed_fleet(fake, users=1, devices_per_user=1, records_per_device=24)
        fake.inject(Fault.status(409, code=15000415), route="renewalBackupLock", times=None)
        fake.inject(Fault.latency(0.06), route="deleteBackupRecord", times=None)
        journal = tmp_path / "job.db"
        plan_job(fleet.manifest_text().splitlines(), journal)
        quick = WorkerSettings(requests=1, lock_lifetime=1.0)  # renewed (and refused) at 0.5 s
        options = RunOptions(record_window=100, passes=1)
        first = await run_job(journal, job_options(fake), worker=quick, options=options)
        assert 0 < first.deleted < 24 and first.pending == 24 - first.deleted
        assert first.failed == 0  # records of a lost lock wait, they do not fail
        status = first
        for _ in range(10):
            status = await run_job(journal, job_options(fake), worker=quick, options=options)
            if status.complete:
                break
        assert status.complete and fake.route_counts["createBackupLock"] >= 2
        assert_store_agrees(fake, fleet, journal, status)
