"""``koodrive-backup cleanup plan|run|status``: fleet cleanup jobs (``koodrive_backup.jobs``).

::

    koodrive-backup cleanup plan MANIFEST.jsonl --journal JOB.db
    koodrive-backup cleanup run --journal JOB.db [--concurrency N] [--rate R] [--engine local|ray]
    koodrive-backup cleanup status --journal JOB.db [--json]

Credentials (the CLI's layered settings, ``_config``): app credentials (``KOODRIVE_APP_ID``
+ ``KOODRIVE_APP_SECRET``, ``--app-id`` / ``--app-secret-file``, or a profile's) sign for every
user; a token (``KOODRIVE_TOKEN_FILE``, ``KOODRIVE_TOKEN``, ``--token-file``) works for a
journal of one user. ``--rate R`` limits the whole job to R requests per second (each Ray
actor gets its share); the summary says how long the run waited for it. Exit statuses of
``run``: 0 every planned ID is gone, 1 some failed or are pending, 2 bad usage, 3 the
credential was refused, 130/143 interrupted (the journal is resumable: run again).
``status`` exits 0 when the job is complete, else 1.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import signal
import sys
from collections.abc import Callable, Iterator, Mapping
from typing import Any

import attrs

from ..jobs import (
    ClientOptions,
    JobAuthError,
    JobStatus,
    JournalError,
    RunOptions,
    WorkerSettings,
    job_failures,
    job_open_errors,
    job_status,
    plan_job,
    ray_available,
    run_job,
)
from ._bulk import interruptible
from ._cleanup_output import (
    JobProgress,
    print_json,
    print_open_errors,
    print_status,
    status_table,
)
from ._config import settings_from
from ._context import Context
from ._errors import EXIT_AUTH, EXIT_OK, EXIT_PARTIAL, UsageError
from ._output import print_error
from ._report import wait_seconds

__all__ = ["cleanup_plan", "cleanup_run", "cleanup_status", "client_options"]


def cleanup_plan(args: argparse.Namespace, ctx: Context) -> int:
    """``cleanup plan MANIFEST --journal JOB.db``."""
    with _journal_errors():
        return _plan(args)


def cleanup_status(args: argparse.Namespace, ctx: Context) -> int:
    """``cleanup status --journal JOB.db``: 0 when the job is complete, else 1."""
    with _journal_errors():
        return _status(args)


async def cleanup_run(args: argparse.Namespace, ctx: Context) -> int:
    """``cleanup run --journal JOB.db``: run or resume the job."""
    with _journal_errors():
        return await _run(args, ctx)


@contextlib.contextmanager
def _journal_errors() -> Iterator[None]:
    try:
        yield
    except JournalError as exc:
        raise UsageError(str(exc)) from None


def _plan(args: argparse.Namespace) -> int:
    summary = plan_job(args.manifest, args.journal)
    if args.json:
        print(json.dumps({"journal": args.journal, **attrs.asdict(summary)}))
    else:
        print(
            f"Planned {summary.targets} target(s) in {args.journal}: {summary.ids} ID(s) listed, "
            f"{summary.to_discover} target(s) to discover at run time."
        )
    return EXIT_OK


def _status(args: argparse.Namespace) -> int:
    counts = job_status(args.journal)
    print_status(counts, job_failures(args.journal), as_json=args.json)
    if not args.json:
        print_open_errors(job_open_errors(args.journal))
    return EXIT_OK if counts.complete else EXIT_PARTIAL


async def _run(args: argparse.Namespace, ctx: Context) -> int:
    options = client_options(args, ctx.environ, ctx.warn)
    if args.engine == "ray" and not ray_available():
        raise UsageError("--engine ray needs Ray: pip install 'koodrive-backup[ray]'")
    progress = JobProgress(enabled=not args.no_progress and not args.json)
    work = run_job(
        args.journal,
        options,
        options=RunOptions(
            concurrency=args.concurrency, passes=args.passes, retry_failed=args.retry_failed
        ),
        worker=WorkerSettings(requests=args.requests, lock_lifetime=args.lock_lifetime),
        engine=args.engine,
        ray_address=args.ray_address,
        ray_actors=args.ray_actors,
        on_progress=progress.update,
    )
    try:
        counts, interrupted = await interruptible(work)
    except JobAuthError as exc:
        progress.close()
        print_error(f"{exc} (check the app credentials or the token); run again to resume")
        return EXIT_AUTH
    progress.close()
    # The run's last progress report carries its rate-limit wait, also when interrupted.
    wait = None if progress.last is None else progress.last.rate_limit_wait
    return _report(args, counts, interrupted, wait)


def _report(
    args: argparse.Namespace, counts: JobStatus | None, interrupted: int | None, wait: float | None
) -> int:
    counts = counts or job_status(args.journal)
    if args.json:  # the failures streamed, as by `status --json`
        print_json(counts, job_failures(args.journal), rate_limit_wait_seconds=wait_seconds(wait))
    else:
        print(status_table(counts, f"Cleanup {args.journal}", wait))
    if interrupted is not None:
        name = signal.Signals(interrupted).name
        print(f"koodrive-backup: interrupted by {name}; run again to resume", file=sys.stderr)
        return 128 + interrupted
    if not counts.complete and not args.json:
        print_open_errors(job_open_errors(args.journal))
        print(f"Not complete: see `koodrive-backup cleanup status --journal {args.journal}`.")
    return EXIT_OK if counts.complete else EXIT_PARTIAL


def client_options(
    args: argparse.Namespace, environ: Mapping[str, str], warn: Callable[[str], None]
) -> ClientOptions:
    """The CLI's layered settings (flags, profile, environment) as the job's client options:
    app credentials sign for every user; a token works for a journal of one user."""
    settings = settings_from(args, environ, warn, need_user=False)
    credential = settings.credential
    common: dict[str, Any] = {
        "retry": settings.retry,
        "timeout": settings.timeout,
        "allow_insecure_http": settings.allow_insecure_http,
        "rate": settings.rate,  # a number: each worker (each Ray actor) builds its limit
    }
    if credential.app_id is not None:
        return ClientOptions(
            settings.base_url, app_id=credential.app_id, app_secret=credential.app_secret, **common
        )
    return ClientOptions(
        settings.base_url,
        token=credential.token,
        user_id=settings.user_id,
        auth_style=credential.style,
        **common,
    )
