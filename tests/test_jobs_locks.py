"""Backup locks of a job: a lock ID is in the journal before any record is deleted under it
(a run after a crash then releases it rather than waiting for it to expire)."""

from __future__ import annotations

from pathlib import Path

from test_jobs_support import (
    APP_ID,
    APP_SECRET,
    assert_store_agrees,
    job_options,
    watch_record_locks,
)

from koodrive_backup.jobs import WorkerSettings, plan_job, run_job
from koodrive_backup.testing import FakeKooDrive, Fault, seed_fleet


async def test_a_lock_id_is_committed_before_the_first_record_is_deleted(tmp_path: Path) -> None:
    async with FakeKooDrive(app_id=APP_ID, app_secret=APP_SECRET, seed=43) as fake:
        # One user, two devices: both targets share the user's lock for module 101.
        fleet = seed_fleet(fake, users=1, devices_per_user=2, records_per_device=6)
        fake.inject(Fault.latency(0.01), route="deleteBackupRecord", times=None)
        journal = tmp_path / "job.db"
        plan_job(fleet.manifest_text().splitlines(), journal)
        seen = watch_record_locks(fake, journal)

        status = await run_job(journal, job_options(fake), worker=WorkerSettings(requests=2))

        assert status.complete and len(seen) == 12
        assert all(committed for _, committed in seen), seen
        assert_store_agrees(fake, fleet, journal, status)
