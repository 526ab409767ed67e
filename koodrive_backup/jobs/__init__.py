"""Fleet cleanup jobs: plan from a manifest, run and resume from a SQLite journal.

::

    from koodrive_backup.jobs import ClientOptions, job_status, plan_job, run_job

    plan_job("manifest.jsonl", "job.db")                       # check, then record the targets
    status = await run_job("job.db", ClientOptions(url, app_id=app_id, app_secret=secret))
    print(status.as_json())                                     # or job_status("job.db")

A layer above the client: it uses the public ``koodrive_backup`` API only (``list_scopes``,
``iter_delete_scopes``, ``list_records``, ``iter_delete_records`` under ``client.lock()``).
Ray (``engine="ray"``) is imported only when asked for. See docs/jobs.md.
"""

from __future__ import annotations

from ._clients import ClientOptions, make_client
from ._job import JobBusyError, plan_job, run_job
from ._journal import JournalError, PlanSummary
from ._manifest import ManifestError, Target, read_manifest
from ._ray import ray_available
from ._runner import JobAuthError, RunOptions
from ._status import (
    Failure,
    JobStatus,
    job_failures,
    job_open_errors,
    job_outcomes,
    job_status,
)
from ._worker import WorkerSettings

__all__ = [
    "ClientOptions",
    "Failure",
    "JobAuthError",
    "JobBusyError",
    "JobStatus",
    "JournalError",
    "ManifestError",
    "PlanSummary",
    "RunOptions",
    "Target",
    "WorkerSettings",
    "job_failures",
    "job_open_errors",
    "job_outcomes",
    "job_status",
    "make_client",
    "plan_job",
    "ray_available",
    "read_manifest",
    "run_job",
]
