"""The Ray engine: the same accounting as the local one, and the same crash test.

One local Ray cluster for the whole module (started once, ``num_cpus=2``); the in-process
runs use it as is, and the ``cleanup run`` children join it with ``--ray-address``, so a
``kill -9`` of a child kills its driver (Ray then ends the child's actors) and never leaves
a cluster behind. Deselect locally with ``-m "not ray"``.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from test_jobs_support import (
    APP_ID,
    APP_SECRET,
    assert_store_agrees,
    crash_test,
    inject_random_faults,
    job_options,
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

        status = await run_job(journal, job_options(fake), engine="ray", ray_actors=2)

        assert status.complete and status.targets_done == 10
        assert_store_agrees(fake, fleet, journal, status)
        assert fake.route_counts["createBackupLock"] == fake.route_counts["releaseBackupLock"]


async def test_kill_9_at_random_points_then_resume_on_ray(ray_address: str, tmp_path: Path) -> None:
    args = ["--engine", "ray", "--ray-address", ray_address, "--ray-actors", "2"]
    await crash_test(args, kills=2, seed=17, tmp_path=tmp_path)
