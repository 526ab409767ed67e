"""The Ray engine: the same accounting as the local one, and the same crash test.

One local Ray cluster for the whole module (started once, ``num_cpus=2``); the in-process
runs use it as is, and the ``cleanup run`` children join it with ``--ray-address``, so a
``kill -9`` of a child kills its driver (Ray then ends the child's actors) and never leaves
a cluster behind. Deselect locally with ``-m "not ray"``.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from test_jobs_support import (
    APP_ID,
    APP_SECRET,
    ARRIVAL_SLACK,
    assert_store_agrees,
    crash_test,
    inject_random_faults,
    job_options,
    rate_bound,
    served_span,
    watch_record_locks,
)

from koodrive_backup.jobs import plan_job, run_job
from koodrive_backup.testing import FakeKooDrive, seed_fleet

pytestmark = pytest.mark.ray


@pytest.fixture(scope="module")
def ray_address() -> Iterator[str]:
    ray: Any = pytest.importorskip("ray")
    ray.init(num_cpus=2, include_dashboard=False, logging_level="WARNING", log_to_driver=False)
    try:
        yield ray.get_runtime_context().gcs_address
    finally:
        ray.shutdown()


async def test_the_ray_engine_accounts_like_the_local_one(ray_address: str, tmp_path: Path) -> None:
    async with FakeKooDrive(app_id=APP_ID, app_secret=APP_SECRET, seed=31) as fake:
        fleet = seed_fleet(
            fake, users=5, devices_per_user=2, scopes_per_device=240, records_per_device=6
        )
        inject_random_faults(fake, 0.05, seed=31)
        journal = tmp_path / "job.db"
        plan_job(fleet.manifest_text().splitlines(), journal)
        locks = watch_record_locks(fake, journal)

        status = await run_job(journal, job_options(fake), engine="ray", ray_actors=2)

        assert status.complete and status.targets_done == 10
        assert_store_agrees(fake, fleet, journal, status)
        assert len(locks) >= 60 and all(committed for _, committed in locks)  # before use
        assert fake.route_counts["createBackupLock"] == fake.route_counts["releaseBackupLock"]


async def test_the_ray_engine_divides_the_rate_among_its_actors(
    ray_address: str, tmp_path: Path
) -> None:
    # Seed 34: two of the four users go to each actor (by the hash of their IDs).
    async with FakeKooDrive(app_id=APP_ID, app_secret=APP_SECRET, seed=34) as fake:
        # 8 listings + 16 chunks = 24 requests. Each of the 2 actors limits its clients to
        # RateLimit(6) (burst 6): the job sends 12 a second at most, 12 at once. Were each
        # given the whole rate, 24 requests (12 per actor) would not wait at all.
        fleet = seed_fleet(fake, users=4, devices_per_user=2, scopes_per_device=150)
        journal = tmp_path / "job.db"
        plan_job(fleet.manifest_text().splitlines(), journal)
        started = time.monotonic()

        status = await run_job(journal, job_options(fake, rate=12.0), engine="ray", ray_actors=2)

        elapsed, sent = time.monotonic() - started, fake.request_count
        assert status.complete and sent == 24
        assert elapsed >= rate_bound(sent, 12, burst=12)  # the contract: 1.0 s
        assert served_span(fake) >= rate_bound(sent, 12, burst=12) - ARRIVAL_SLACK
        assert status.rate_limit_wait is not None and status.rate_limit_wait > 0  # summed


async def test_kill_9_at_random_points_then_resume_on_ray(ray_address: str, tmp_path: Path) -> None:
    args = ["--engine", "ray", "--ray-address", ray_address, "--ray-actors", "2"]
    await crash_test(args, kills=2, seed=17, tmp_path=tmp_path)
