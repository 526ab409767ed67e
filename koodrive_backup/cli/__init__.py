"""The ``koodrive-backup`` command line (also ``python -m koodrive_backup``).

::

    koodrive-backup devices list                                   # find what to delete
    koodrive-backup scopes list DEVICE_ID [--module M] [--ids]
    koodrive-backup records list --module M [--device D] [--before T] [--status S] [--ids]
    koodrive-backup files list RECORD_ID
    koodrive-backup scopes delete DEVICE_ID [ID ...] [--from-file PATH|-] [--dry-run]
    koodrive-backup record delete [ID ...] [--from-file PATH|-] --module M [--dry-run]
    koodrive-backup record get RECORD_ID
    koodrive-backup lock create|wait MODULE | lock release LOCK_ID
    koodrive-backup cleanup plan|run|status --journal JOB.db ...   # fleet cleanup jobs
    koodrive-backup demo [--fleet] | fake-server [...] | completion bash|zsh

The commands are listed once, in ``_registry``; docs/cli.md is the reference. Exit statuses:
0 success, 1 partial failure, 2 usage or bad input, 3 authentication/permission, 4 other API
or connection failure, 5 most IDs not found, 130 Ctrl-C (143 SIGTERM). Nothing in the
package imports this module; rich and shtab (optional) are imported only here, and each
command's module only when it runs, so the command line starts fast.
"""

from __future__ import annotations

import argparse
import asyncio
import inspect
import os
import sys
import traceback
from collections.abc import Sequence

from ..errors import (
    APIConnectionError,
    APIError,
    AuthenticationError,
    ConflictError,
    KooDriveError,
    PermissionDeniedError,
)
from ._errors import EXIT_INTERRUPTED, EXIT_PARTIAL, UsageError, exit_status_for
from ._logs import SHOWN, log, log_command, setup_logging
from ._output import print_error, print_json

__all__ = ["describe", "main"]


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the exit status (usage errors exit 2 via argparse)."""
    from ._context import Context
    from ._parser import parse

    args = parse(argv)
    try:
        retries = setup_logging(debug=args.debug, verbose=args.verbose, log_file=args.log_file)
    except UsageError as exc:
        print_error(str(exc))
        return exit_status_for(exc)
    log_command(sys.argv[1:] if argv is None else argv)
    ctx = Context(environ=os.environ, warn=_warn, retries=retries)
    status = _run(args, ctx)
    log.info("exit status %d", status)
    return status


def _run(args: argparse.Namespace, ctx: object) -> int:
    try:
        outcome = args.command_spec.load()(args, ctx)
        return asyncio.run(outcome) if inspect.iscoroutine(outcome) else int(outcome)
    except KeyboardInterrupt:
        print("koodrive-backup: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    except BrokenPipeError:
        # The reader went away (`... | head`): stop quietly, as the Python docs recommend.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return EXIT_PARTIAL
    except Exception as exc:
        return _fail(exc, args)


def _fail(exc: Exception, args: argparse.Namespace) -> int:
    """One clear line on standard error (and one JSON error object with ``--json``)."""
    if args.debug:
        traceback.print_exc()
    message, status = describe(exc, debug=args.debug), exit_status_for(exc)
    log.error("%s", message, extra=SHOWN)
    if args.json:
        print_json({"error": {**_error_fields(exc), "message": message, "exit_status": status}})
    print_error(message)
    return status


def _error_fields(exc: BaseException) -> dict[str, object]:
    fields: dict[str, object] = {"type": type(exc).__name__}
    if isinstance(exc, APIError):
        fields.update(status=exc.status, code=None if exc.code is None else str(exc.code))
    return fields


def _warn(message: str) -> None:
    print(f"koodrive-backup: {message}", file=sys.stderr)


def describe(exc: BaseException, *, debug: bool = False) -> str:
    """One clear line for an error (SDK messages never contain a secret)."""
    if isinstance(exc, AuthenticationError):
        return f"authentication refused: {exc} (check the token or the app credentials)"
    if isinstance(exc, PermissionDeniedError):
        return f"permission denied: {exc} (check KOODRIVE_USER_ID and the credential's rights)"
    if isinstance(exc, APIConnectionError):
        return f"cannot reach the server: {exc}"
    if isinstance(exc, ConflictError) and exc.method == "POST" and exc.path.endswith("/lock"):
        return (
            f"{exc} (a run that crashed or lost its answer may hold it: "
            "`koodrive-backup lock wait MODULE` waits until it can be taken)"
        )
    if isinstance(exc, KooDriveError | UsageError):
        return str(exc)  # names the request, the HTTP status, the code and the server's msg
    if isinstance(exc, ValueError | TypeError):
        return "bad input: " + str(exc).replace(
            "pass allow_insecure_http=True", "--allow-insecure-http"
        )
    hint = "" if debug else " (run with --debug for the traceback)"
    kind = "" if isinstance(exc, OSError) else f"{type(exc).__name__}: "
    return f"{kind}{exc}{hint}"
