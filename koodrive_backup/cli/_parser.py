"""The argparse command tree (stdlib: no extra dependency for argument parsing)."""

from __future__ import annotations

import argparse
from collections.abc import Callable
from typing import TYPE_CHECKING

from .. import __version__
from ._config import AUTH_STYLES, ENV_BASE_URL, ENV_TOKEN, ENV_USER_ID

__all__ = ["build_parser"]

if TYPE_CHECKING:
    Subcommands = argparse._SubParsersAction[argparse.ArgumentParser]

MAX_CHUNK = 100  # batchDeleteBackupScope takes at most 100 IDs (seed page 001)

EPILOG = f"""\
configuration: {ENV_BASE_URL}, {ENV_USER_ID} and {ENV_TOKEN} (or --token-file PATH).
exit status: 0 success, 1 partial failure (some IDs failed or unprocessed), 2 usage or bad
input, 3 authentication/permission refused, 4 other API or connection failure, 130 Ctrl-C.
"""


def _int_in(low: int, high: int | None = None) -> Callable[[str], int]:
    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"not an integer: {text!r}") from None
        if value < low or (high is not None and value > high):
            bound = f"{low}..{high}" if high is not None else f">= {low}"
            raise argparse.ArgumentTypeError(f"must be {bound}, not {value}")
        return value

    return parse


def _fraction(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
    if not 0.0 <= value <= 1.0:
        raise argparse.ArgumentTypeError(f"must be within 0..1, not {value}")
    return value


def _positive_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
    if not value > 0:
        raise argparse.ArgumentTypeError(f"must be > 0, not {value}")
    return value


def _output_options() -> argparse.ArgumentParser:
    common = argparse.ArgumentParser(add_help=False)
    group = common.add_argument_group("output")
    group.add_argument(
        "--json", action="store_true", help="print JSON for scripts (IDs as strings)"
    )
    group.add_argument("-v", "--verbose", action="store_true", help="log retries on stderr")
    group.add_argument("--debug", action="store_true", help="debug logs; tracebacks on errors")
    return common


def _connection_options() -> argparse.ArgumentParser:
    common = argparse.ArgumentParser(add_help=False)
    group = common.add_argument_group("connection (flags win over the environment)")
    group.add_argument("--base-url", metavar="URL", help=f"https://host[:port] (${ENV_BASE_URL})")
    group.add_argument("--user-id", metavar="ID", help=f"sent as X-User-Id (${ENV_USER_ID})")
    group.add_argument(
        "--token-file", metavar="PATH", help=f"read the token from this file (else ${ENV_TOKEN})"
    )
    group.add_argument(
        "--token", help="the token itself: visible to other users in the process list (warned)"
    )
    group.add_argument(
        "--auth-style", choices=AUTH_STYLES, default="bearer", help="Authorization header form"
    )
    group.add_argument("--timeout", type=_positive_float, default=30.0, help="seconds per attempt")
    group.add_argument(
        "--max-attempts", type=_int_in(1), default=4, help="attempts per request (1: no retry)"
    )
    group.add_argument(
        "--allow-insecure-http", action="store_true", help="permit http:// to a non-loopback host"
    )
    return common


def _batch_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--chunk-size", type=_int_in(1, MAX_CHUNK), default=MAX_CHUNK, help="IDs per request"
    )
    parser.add_argument(
        "--concurrency", type=_int_in(1), default=8, help="requests in flight (default 8)"
    )
    parser.add_argument("--no-progress", action="store_true", help="no progress display")
    parser.add_argument(
        "--rate",
        type=_positive_float,
        metavar="N",
        help="at most N requests per second for the whole run, retries included (default: "
        "no limit); the summary says how long the run waited for it",
    )


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="koodrive-backup",
        description="KooDrive backup API from the command line (and a self-contained demo).",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    output, connection = _output_options(), _connection_options()
    _add_demo(commands, output)
    _add_record(commands, [output, connection])
    _add_scopes(commands, [output, connection])
    _add_lock(commands, [output, connection])
    _add_fake_server(commands)
    return parser


def _add_demo(commands: Subcommands, output: argparse.ArgumentParser) -> None:
    demo = commands.add_parser(
        "demo",
        parents=[output],
        help="bulk cleanup against an in-process fake server, with faults, then a check",
        description="Start the embedded fake server, seed it, inject transient faults, delete "
        "every scope through the SDK with a progress bar, view a record, delete it under a "
        "lock, and check the fake's store. Exit 0 when all is well.",
    )
    demo.add_argument("--scopes", type=_int_in(0), default=20_000, help="scopes to seed")
    demo.add_argument(
        "--fault-rate", type=_fraction, default=0.05, help="share of failing requests (0.05)"
    )
    demo.add_argument("--seed", type=int, default=1, help="seed of the fault draws and IDs")
    _batch_options(demo)


def _add_record(commands: Subcommands, parents: list[argparse.ArgumentParser]) -> None:
    record = commands.add_parser("record", help="view or delete one backup record")
    actions = record.add_subparsers(dest="action", metavar="ACTION", required=True)
    get = actions.add_parser("get", parents=parents, help="view a backup record")
    get.add_argument("record_id", metavar="RECORD_ID")
    get.add_argument("--lock-id", help="send this lock ID (optional)")
    delete = actions.add_parser("delete", parents=parents, help="delete a record (needs a lock)")
    delete.add_argument("record_id", metavar="RECORD_ID")
    delete.add_argument("--lock-id", required=True, help="a lock for the record's module")


def _add_lock(commands: Subcommands, parents: list[argparse.ArgumentParser]) -> None:
    lock = commands.add_parser("lock", help="create or release a backup lock")
    actions = lock.add_subparsers(dest="action", metavar="ACTION", required=True)
    create = actions.add_parser(
        "create", parents=parents, help="create a lock (valid 10 minutes) and print its ID"
    )
    create.add_argument("module_code", metavar="MODULE", choices=("100", "101", "102"))
    release = actions.add_parser("release", parents=parents, help="release a lock")
    release.add_argument("lock_id", metavar="LOCK_ID")


def _add_scopes(commands: Subcommands, parents: list[argparse.ArgumentParser]) -> None:
    scopes = commands.add_parser("scopes", help="bulk-delete backup scopes of a device")
    actions = scopes.add_subparsers(dest="action", metavar="ACTION", required=True)
    delete = actions.add_parser(
        "delete",
        parents=parents,
        help="delete any number of scopes, accounting for every ID",
        description="Delete scopes in chunks of up to 100 IDs with bounded concurrency. Every "
        "ID ends up deleted, failed or unprocessed; --unprocessed-out writes the IDs that are "
        "not gone, to feed back with --from-file. Ctrl-C stops promptly and loses nothing.",
    )
    delete.add_argument("device_id", metavar="DEVICE_ID")
    delete.add_argument("scope_ids", metavar="SCOPE_ID", nargs="*", help="IDs to delete")
    delete.add_argument(
        "--from-file", metavar="PATH", help="read IDs, one a line ('-': standard input)"
    )
    delete.add_argument(
        "--unprocessed-out",
        metavar="FILE",
        help="write the IDs not known to be gone (one a line) to resume with --from-file",
    )
    _batch_options(delete)


def _add_fake_server(commands: Subcommands) -> None:
    fake = commands.add_parser(
        "fake-server",
        help="run the embedded fake KooDrive server standalone",
        description="Serve the fake KooDrive backup API until Ctrl-C; prints its URL, a user "
        "ID, a made-up token and a seeded device ID.",
    )
    fake.add_argument("--host", default="127.0.0.1", help="bind address (default 127.0.0.1)")
    fake.add_argument("--port", type=_int_in(0, 65535), default=8080, help="0 picks a free one")
    fake.add_argument("--json", action="store_true", help="print one JSON line with the details")
    fake.add_argument("--latency", type=float, default=0.0, help="seconds added per request")
    fake.add_argument("--seed-scopes", type=_int_in(0), default=0, metavar="N")
    fake.add_argument("--seed-records", type=_int_in(0), default=0, metavar="N")
