"""The crash test of issue 13: ``kill -9`` of a child running ``cleanup run`` at random points
of a 20,000-ID fleet job with faults, resumed until finished; then the journal and the
fake's store must agree ID by ID. (The same with ``--engine ray``: test_jobs_ray.py.)"""

from __future__ import annotations

from pathlib import Path

from test_jobs_support import crash_test


async def test_kill_9_at_random_points_then_resume(tmp_path: Path) -> None:
    await crash_test([], kills=4, seed=13, tmp_path=tmp_path)
