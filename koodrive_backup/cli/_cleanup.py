"""``koodrive-backup cleanup plan|run|status``: fleet cleanup jobs (``koodrive_backup.jobs``).

::

    koodrive-backup cleanup plan MANIFEST.jsonl --journal JOB.db
    koodrive-backup cleanup run --journal JOB.db [--concurrency N] [--engine local|ray]
    koodrive-backup cleanup status --journal JOB.db [--json]

Credentials: ``KOODRIVE_APP_ID`` + ``KOODRIVE_APP_SECRET`` (or ``--app-id`` /
``--app-secret-file``) sign for every user; a token (``KOODRIVE_TOKEN``, ``--token-file``)
works for a journal of one user. Exit statuses of ``run``: 0 every planned ID is gone, 1 some
failed or are pending, 2 bad usage, 3 the credential was refused, 130/143 interrupted (the
journal is resumable: run again). ``status`` exits 0 when the job is complete, else 1.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import signal
import sys
from collections.abc import Coroutine, Iterator, Mapping
from typing import Any

from .. import RetryPolicy
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
from ._argtypes import int_in, positive_float
from ._cleanup_output import JobProgress, print_open_errors, print_status, status_table
from ._commands import Context
from ._config import ENV_BASE_URL, ENV_TOKEN, ENV_USER_ID, read_token_file
from ._config import _token as token_setting  # the token flags of every command
from ._errors import EXIT_AUTH, EXIT_OK, EXIT_PARTIAL, UsageError
from ._output import print_error

__all__ = ["add_cleanup_parser", "run_cleanup"]

ENV_APP_ID = "KOODRIVE_APP_ID"
ENV_APP_SECRET = "KOODRIVE_APP_SECRET"
_DESCRIPTION = """\
A durable cleanup of many users and devices. `plan` checks a JSON Lines manifest (one target
a line: user_id, device_id, module_code, scopes "all" or a list, records_before) and writes
a journal (one SQLite file). `run` discovers, deletes and records every ID's outcome in it;
after a crash, kill -9 or Ctrl-C, `run` again resumes. `status` prints the accounting.
"""


def add_cleanup_parser(commands: Any, parents: list[argparse.ArgumentParser]) -> None:
    """Register ``cleanup`` and its three actions (``parents``: output, connection)."""
    cleanup = commands.add_parser(
        "cleanup", help="fleet cleanup jobs: plan, run, resume, status", description=_DESCRIPTION
    )
    actions = cleanup.add_subparsers(dest="action", metavar="ACTION", required=True)
    plan = actions.add_parser("plan", parents=parents[:1], help="check a manifest, write a journal")
    plan.add_argument("manifest", metavar="MANIFEST", help="JSON Lines file ('-': stdin)")
    _journal_option(plan)
    run = actions.add_parser("run", parents=parents, help="run or resume the job of a journal")
    _journal_option(run)
    _run_options(run)
    status = actions.add_parser("status", parents=parents[:1], help="counts and failures")
    _journal_option(status)


def _journal_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--journal", required=True, metavar="JOB.db", help="the job's journal")


def _run_options(run: argparse.ArgumentParser) -> None:
    run.add_argument("--concurrency", type=int_in(1), default=8, help="targets at once (8)")
    run.add_argument(
        "--requests", type=int_in(1), default=4, help="requests in flight per target (4)"
    )
    run.add_argument("--engine", choices=("local", "ray"), default="local", help="where to run")
    run.add_argument("--ray-address", metavar="A", help="join this Ray cluster (else start one)")
    run.add_argument("--ray-actors", type=int_in(1), metavar="N", help="Ray actors (CPUs)")
    run.add_argument("--passes", type=int_in(1), default=3, help="tries of pending IDs (3)")
    run.add_argument(
        "--lock-lifetime", type=positive_float, default=600.0, metavar="S",
        help="seconds the server keeps a backup lock (600; renewed at half)",
    )  # fmt: skip
    run.add_argument("--retry-failed", action="store_true", help="send failed IDs again")
    run.add_argument("--app-id", help=f"app ID for HMAC signing (${ENV_APP_ID})")
    run.add_argument(
        "--app-secret-file", metavar="PATH", help=f"read the app secret here (${ENV_APP_SECRET})"
    )
    run.add_argument("--no-progress", action="store_true", help="no progress display")


async def run_cleanup(args: argparse.Namespace, ctx: Context) -> int:
    """Dispatch ``cleanup ACTION``; returns the exit status."""
    try:
        if args.action == "plan":
            return _plan(args)
        if args.action == "status":
            return _status(args)
        return await _run(args, ctx)
    except JournalError as exc:
        raise UsageError(str(exc)) from None


def _plan(args: argparse.Namespace) -> int:
    summary = plan_job(args.manifest, args.journal)
    if args.json:
        print(json.dumps({"journal": args.journal, **_summary_json(summary)}))
    else:
        print(
            f"Planned {summary.targets} target(s) in {args.journal}: {summary.ids} ID(s) listed, "
            f"{summary.to_discover} target(s) to discover at run time."
        )
    return EXIT_OK


def _summary_json(summary: Any) -> dict[str, int]:
    return {"targets": summary.targets, "ids": summary.ids, "to_discover": summary.to_discover}


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
        counts, interrupted = await _interruptible(work)
    except JobAuthError as exc:
        progress.close()
        print_error(f"{exc} (check the app credentials or the token); run again to resume")
        return EXIT_AUTH
    progress.close()
    return _report(args, counts, interrupted)


def _report(args: argparse.Namespace, counts: JobStatus | None, interrupted: int | None) -> int:
    counts = counts or job_status(args.journal)
    if args.json:
        print(json.dumps(counts.as_json(job_failures(args.journal))))
    else:
        print(status_table(counts, f"Cleanup {args.journal}"))
    if interrupted is not None:
        name = signal.Signals(interrupted).name
        print(f"koodrive-backup: interrupted by {name}; run again to resume", file=sys.stderr)
        return 128 + interrupted
    if not counts.complete and not args.json:
        print_open_errors(job_open_errors(args.journal))
        print(f"Not complete: see `koodrive-backup cleanup status --journal {args.journal}`.")
    return EXIT_OK if counts.complete else EXIT_PARTIAL


async def _interruptible(
    work: Coroutine[Any, Any, JobStatus],
) -> tuple[JobStatus | None, int | None]:
    """Run ``work`` in a task that SIGINT/SIGTERM cancel; the job commits what settled and
    stops. Returns its counts (``None`` when interrupted) and the signal, if any."""
    task = asyncio.create_task(work)
    stopped: list[int] = []

    def stop(signum: int) -> None:
        if not task.done():
            stopped.append(signum)
            task.cancel()

    with _on_signals(stop):
        try:
            return await task, None
        except asyncio.CancelledError:
            if not stopped:
                raise  # cancelled from outside (asyncio.run's own Ctrl-C handling)
            return None, stopped[0]


@contextlib.contextmanager
def _on_signals(callback: Any) -> Iterator[None]:
    loop = asyncio.get_running_loop()
    installed = []
    for signum in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError, RuntimeError, ValueError):
            loop.add_signal_handler(signum, callback, signum)
            installed.append(signum)
    try:
        yield
    finally:
        for signum in installed:
            loop.remove_signal_handler(signum)


def client_options(
    args: argparse.Namespace, environ: Mapping[str, str], warn: Any
) -> ClientOptions:
    """App credentials (flags win over the environment), else a single user's token."""
    base_url = args.base_url or environ.get(ENV_BASE_URL, "")
    if not base_url:
        raise UsageError(f"missing configuration: set {ENV_BASE_URL} (or --base-url)")
    app_id = args.app_id or environ.get(ENV_APP_ID, "")
    secret = (
        read_token_file(args.app_secret_file, warn)
        if args.app_secret_file
        else environ.get(ENV_APP_SECRET, "").strip()
    )
    common: dict[str, Any] = {
        "retry": RetryPolicy(max_attempts=args.max_attempts),
        "timeout": args.timeout,
        "allow_insecure_http": args.allow_insecure_http,
    }
    if app_id and secret:
        return ClientOptions(base_url, app_id=app_id, app_secret=secret, **common)
    token = token_setting(args, environ, warn)
    if not token:
        raise UsageError(
            f"missing credentials: set {ENV_APP_ID} and {ENV_APP_SECRET} (or, for a journal "
            f"of one user, {ENV_TOKEN} or --token-file)"
        )
    user_id = args.user_id or environ.get(ENV_USER_ID) or None
    return ClientOptions(
        base_url, token=token, user_id=user_id, auth_style=args.auth_style, **common
    )
