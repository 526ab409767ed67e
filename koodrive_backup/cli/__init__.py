"""The ``koodrive-backup`` command line (also ``python -m koodrive_backup``).

::

    koodrive-backup demo [--scopes N] [--fault-rate F]        # self-contained, exit 0 when OK
    koodrive-backup scopes delete DEVICE_ID [ID ...] [--from-file PATH|-] [--unprocessed-out F]
    koodrive-backup record get RECORD_ID [--lock-id L]
    koodrive-backup record delete RECORD_ID --lock-id L
    koodrive-backup lock create MODULE | lock release LOCK_ID
    koodrive-backup fake-server [--host 127.0.0.1] [--port 8080]
    koodrive-backup cleanup plan|run|status --journal JOB.db ...   # fleet cleanup jobs
    koodrive-backup demo --fleet                                   # a fleet job, resumed

Configuration: ``KOODRIVE_BASE_URL``, ``KOODRIVE_USER_ID``, ``KOODRIVE_TOKEN`` (or
``--token-file``); flags win. Exit statuses: 0 success, 1 partial failure, 2 usage or bad
input, 3 authentication/permission, 4 other API or connection failure, 130 Ctrl-C (143
SIGTERM). Nothing in the package imports this module; rich (optional) is imported only here.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import traceback
from collections.abc import Awaitable, Callable, Sequence

from ..errors import (
    APIConnectionError,
    AuthenticationError,
    KooDriveError,
    PermissionDeniedError,
)
from ._commands import (
    Context,
    lock_create,
    lock_release,
    record_delete,
    record_get,
    run_fake_server,
    scopes_delete,
)
from ._errors import EXIT_INTERRUPTED, EXIT_PARTIAL, UsageError, exit_status_for
from ._output import RetryCounter, print_error, setup_logging
from ._parser import build_parser

__all__ = ["main"]

Command = Callable[[argparse.Namespace, Context], Awaitable[int]]

_COMMANDS: dict[tuple[str, str | None], Command] = {
    ("record", "get"): record_get,
    ("record", "delete"): record_delete,
    ("scopes", "delete"): scopes_delete,
    ("lock", "create"): lock_create,
    ("lock", "release"): lock_release,
}


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the exit status (usage errors exit 2 via argparse)."""
    args = build_parser().parse_args(argv)
    debug = bool(getattr(args, "debug", False))
    if args.command == "fake-server":
        return run_fake_server(args)
    retries = setup_logging(debug=debug, verbose=bool(getattr(args, "verbose", False)))
    try:
        return asyncio.run(_dispatch(args, retries))
    except KeyboardInterrupt:
        print("koodrive-backup: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    except BrokenPipeError:
        # The reader went away (`... | head`): stop quietly, as the Python docs recommend.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return EXIT_PARTIAL
    except Exception as exc:
        if debug:
            traceback.print_exc()
        print_error(describe(exc, debug=debug))
        return exit_status_for(exc)


async def _dispatch(args: argparse.Namespace, retries: RetryCounter) -> int:
    ctx = Context(environ=os.environ, warn=_warn)
    if args.command == "demo" and args.fleet:
        from ._fleet_demo import run_fleet_demo

        return await run_fleet_demo(args)
    if args.command == "demo":
        from ._demo import run_demo  # imports the fake server only when needed

        return await run_demo(args, ctx, retries)
    if args.command == "cleanup":
        from ._cleanup import run_cleanup

        return await run_cleanup(args, ctx)
    return await _COMMANDS[(args.command, getattr(args, "action", None))](args, ctx)


def _warn(message: str) -> None:
    print(f"koodrive-backup: {message}", file=sys.stderr)


def describe(exc: BaseException, *, debug: bool = False) -> str:
    """One clear line for an error (SDK messages never contain the token)."""
    if isinstance(exc, AuthenticationError):
        return f"authentication refused: {exc} (check KOODRIVE_TOKEN or --token-file)"
    if isinstance(exc, PermissionDeniedError):
        return f"permission denied: {exc} (check KOODRIVE_USER_ID and the token's rights)"
    if isinstance(exc, APIConnectionError):
        return f"cannot reach the server: {exc}"
    if isinstance(exc, KooDriveError):
        return str(exc)  # names the request, the HTTP status, the code and the server's msg
    if isinstance(exc, UsageError):
        return str(exc)
    if isinstance(exc, ValueError | TypeError):
        return "bad input: " + str(exc).replace(
            "pass allow_insecure_http=True", "--allow-insecure-http"
        )
    hint = "" if debug else " (run with --debug for the traceback)"
    kind = "" if isinstance(exc, OSError) else f"{type(exc).__name__}: "
    return f"{kind}{exc}{hint}"
