"""IDs as the journal keeps them: listed IDs the API cannot address, and IDs that are already
gone when a run sends them again."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from test_jobs_support import (
    APP_ID,
    APP_SECRET,
    assert_store_agrees,
    job_options,
    read_accounting,
    renaming_factory,
)

from koodrive_backup import RetryPolicy
from koodrive_backup.jobs import (
    ClientOptions,
    RunOptions,
    job_failures,
    job_status,
    plan_job,
    run_job,
)
from koodrive_backup.testing import FakeKooDrive, Fault, seed_fleet


@pytest.fixture
async def fake() -> AsyncIterator[FakeKooDrive]:
    async with FakeKooDrive(app_id=APP_ID, app_secret=APP_SECRET, seed=41) as server:
        yield server


@pytest.mark.parametrize("odd", ["a b", "a  b ", " ", "a,b", "x" * 129])
async def test_a_listed_id_the_api_cannot_address_fails_alone(
    fake: FakeKooDrive, tmp_path: Path, odd: str
) -> None:
    fleet = seed_fleet(fake, users=1, devices_per_user=1, scopes_per_device=3)
    ((device_id, scope_ids),) = fleet.scope_ids.items()
    journal = tmp_path / "job.db"
    plan_job(fleet.manifest_text().splitlines(), journal)
    factory = renaming_factory({scope_ids[0]: odd})  # the server lists it as `odd`

    status = await run_job(journal, job_options(fake), client_factory=factory)

    assert (status.planned, status.deleted, status.failed, status.pending) == (3, 2, 1, 0)
    assert job_status(journal) == status
    assert [(f.kind, f.id, f.code) for f in job_failures(journal)] == [("scope", odd, "invalid_id")]
    book = read_accounting(journal)
    assert book.repeated == 0
    assert book.outcomes == {
        ("scope", odd): "failed",
        ("scope", scope_ids[1]): "deleted",
        ("scope", scope_ids[2]): "deleted",
    }
    assert fake.has_scope(device_id, scope_ids[0])  # never sent: nothing could address it


async def test_retry_failed_leaves_ids_the_api_cannot_address_failed(
    fake: FakeKooDrive, tmp_path: Path
) -> None:
    fleet = seed_fleet(fake, users=1, devices_per_user=1, scopes_per_device=3)
    ((_, scope_ids),) = fleet.scope_ids.items()
    journal = tmp_path / "job.db"
    plan_job(fleet.manifest_text().splitlines(), journal)
    factory = renaming_factory({scope_ids[0]: "a,b"})
    first = await run_job(journal, job_options(fake), client_factory=factory)
    assert (first.deleted, first.failed, first.targets_failed) == (2, 1, 1)
    sent = fake.request_count

    again = await run_job(
        journal, job_options(fake), options=RunOptions(retry_failed=True), client_factory=factory
    )

    assert again == first  # still failed: a retry could never send it
    assert fake.request_count == sent  # and nothing was sent for it
    assert [(f.id, f.code) for f in job_failures(journal)] == [("a,b", "invalid_id")]


async def test_a_record_deleted_before_its_outcome_was_journaled_counts_as_gone(
    fake: FakeKooDrive, tmp_path: Path
) -> None:
    fleet = seed_fleet(fake, users=1, devices_per_user=1, records_per_device=4)
    ((_, record_ids),) = fleet.record_ids.items()
    lost = record_ids[1]  # the server deletes it, its answer never arrives (as after a kill)
    fake.inject(Fault.lose_response(), route="deleteBackupRecord", when=lambda r: lost in r.path)
    journal = tmp_path / "job.db"
    plan_job(fleet.manifest_text().splitlines(), journal)
    no_retry = ClientOptions(
        fake.url, app_id=APP_ID, app_secret=APP_SECRET, retry=RetryPolicy(max_attempts=1)
    )
    first = await run_job(journal, no_retry, options=RunOptions(passes=1))
    assert (first.deleted, first.gone, first.pending) == (3, 0, 1)
    assert not fake.has_record(lost)  # absent, still pending in the journal

    status = await run_job(journal, job_options(fake))  # sends it again: "not found"

    assert status.complete and (status.deleted, status.gone) == (3, 1)
    assert read_accounting(journal).outcomes[("record", lost)] == "gone"
    assert_store_agrees(fake, fleet, journal, status)


@pytest.mark.parametrize(
    ("status", "outcome"), [(408, "pending"), (429, "pending"), (502, "pending"), (400, "failed")]
)
async def test_an_answer_that_may_change_leaves_the_ids_pending(
    fake: FakeKooDrive, tmp_path: Path, status: int, outcome: str
) -> None:
    fleet = seed_fleet(fake, users=1, devices_per_user=1, scopes_per_device=3)
    fake.inject(Fault.status(status), route="batchDeleteBackupScope", times=None)
    journal = tmp_path / "job.db"
    plan_job(fleet.manifest_text().splitlines(), journal)
    once = ClientOptions(
        fake.url, app_id=APP_ID, app_secret=APP_SECRET, retry=RetryPolicy(max_attempts=1)
    )

    await run_job(journal, once, options=RunOptions(passes=1))

    assert set(read_accounting(journal).outcomes.values()) == {outcome}
