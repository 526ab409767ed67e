"""The arguments of each command (their handlers live elsewhere and are imported only when
the command runs, so building the parser stays cheap). Every option that takes a value shows
its default in the help (``_parser.Formatter``)."""

from __future__ import annotations

import argparse

from ._argtypes import (
    fraction,
    int_in,
    non_negative_float,
    point_in_time,
    positive_float,
    record_status,
    share,
)
from ._options import RATE, add_option

__all__ = [
    "cleanup_plan",
    "cleanup_run",
    "cleanup_status",
    "completion",
    "demo",
    "devices_list",
    "files_list",
    "lock_create",
    "lock_release",
    "lock_wait",
    "record_delete",
    "record_get",
    "records_list",
    "scopes_delete",
    "scopes_list",
]

MODULES = ("100", "101", "102")
MAX_CHUNK = 100  # batchDeleteBackupScope takes at most 100 IDs (seed page 001)
DEFAULT_CONCURRENCY = 8


# --- shared groups ----------------------------------------------------------------------------


def _listing(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("listing")
    group.add_argument(
        "--ids", action="store_true", help="one ID a line (ready for --from-file), nothing else"
    )
    group.add_argument("--limit", type=int_in(1), metavar="N", help="stop after N items")


def _deletion(parser: argparse.ArgumentParser, noun: str, *, chunked: bool) -> None:
    parser.add_argument("ids", metavar=f"{noun.upper()}_ID", nargs="*", help="IDs to delete")
    group = parser.add_argument_group("deletion")
    group.add_argument(
        "--from-file", metavar="PATH", help="read IDs, one a line ('-': standard input)"
    )
    group.add_argument(
        "--unprocessed-out",
        metavar="FILE",
        help="write the IDs not known to be gone (one a line) to resume with --from-file",
    )
    group.add_argument(
        "--dry-run",
        action="store_true",
        help="check everything and show what would be deleted; only reads from the server",
    )
    group.add_argument(
        "-y", "--yes", action="store_true", help="do not ask before deleting over 1000 IDs"
    )
    group.add_argument(
        "--max-not-found",
        type=share,
        default=0.5,
        metavar="SHARE",
        help="exit 5 when more than this share of the IDs is not found (1: never)",
    )
    if chunked:
        group.add_argument(
            "--chunk-size",
            type=int_in(1, MAX_CHUNK),
            default=MAX_CHUNK,
            metavar="N",
            help="IDs per request",
        )
    _concurrency(group)
    _no_progress(group)


def _concurrency(group: argparse._ActionsContainer) -> None:
    group.add_argument(
        "--concurrency",
        type=int_in(1),
        default=DEFAULT_CONCURRENCY,
        metavar="N",
        help="requests in flight",
    )


def _no_progress(group: argparse._ActionsContainer) -> None:
    group.add_argument("--no-progress", action="store_true", help="no progress display")


def _module(parser: argparse.ArgumentParser, *, required: bool, help: str) -> None:
    parser.add_argument("--module", choices=MODULES, required=required, help=help)


# --- devices, scopes, records, files ------------------------------------------------------------


def devices_list(parser: argparse.ArgumentParser) -> None:
    _listing(parser)


def scopes_list(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("device_id", metavar="DEVICE_ID")
    _module(parser, required=False, help="this module only (default: all three)")
    _listing(parser)


def scopes_delete(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("device_id", metavar="DEVICE_ID")
    _deletion(parser, "scope", chunked=True)


def records_list(parser: argparse.ArgumentParser) -> None:
    _module(parser, required=True, help="the records' module")
    parser.add_argument("--device", metavar="DEVICE_ID", help="this device's records only")
    parser.add_argument(
        "--before",
        type=point_in_time,
        metavar="TIME",
        help="created before this ISO-8601 date or time (UTC unless a zone is given), "
        "or this long ago: 30d, 12h, 90m, 2w",
    )
    parser.add_argument(
        "--status",
        type=record_status,
        metavar="STATUS",
        help="new, completed or to_be_deleted (or 0, 1, 2)",
    )
    _listing(parser)


def record_get(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("record_id", metavar="RECORD_ID")
    parser.add_argument("--lock-id", help="send this lock ID (optional)")


def record_delete(parser: argparse.ArgumentParser) -> None:
    _deletion(parser, "record", chunked=False)
    _module(parser, required=False, help="take, renew and release a lock of this module")
    parser.add_argument("--lock-id", help="use this lock (held by you) instead of --module")


def files_list(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("record_id", metavar="RECORD_ID")
    parser.add_argument("--lock-id", help="send this lock ID (optional)")
    _listing(parser)


# --- locks ------------------------------------------------------------------------------------


def lock_create(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("module_code", metavar="MODULE", choices=MODULES)


def lock_release(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("lock_id", metavar="LOCK_ID")


def lock_wait(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("module_code", metavar="MODULE", choices=MODULES)
    parser.add_argument(
        "--interval", type=positive_float, default=5.0, metavar="S", help="seconds between tries"
    )
    parser.add_argument(
        "--max-wait",
        type=non_negative_float,
        default=660.0,
        metavar="S",
        help="give up (exit 1) after this many seconds: a lock lasts 600 s after its last renewal",
    )
    parser.add_argument("--keep", action="store_true", help="keep the lock and print its ID")
    _no_progress(parser)


# --- demo, completion ---------------------------------------------------------------------------


def demo(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--scopes", type=int_in(0), default=20_000, metavar="N", help="scopes to seed"
    )
    parser.add_argument(
        "--fault-rate", type=fraction, default=0.05, metavar="F", help="share of failing requests"
    )
    parser.add_argument(
        "--seed", type=int, default=1, metavar="S", help="seed of the fault draws and IDs"
    )
    parser.add_argument(
        "--chunk-size", type=int_in(1, MAX_CHUNK), default=MAX_CHUNK, metavar="N",
        help="IDs per request",
    )  # fmt: skip
    _concurrency(parser)
    _no_progress(parser)
    add_option(parser, RATE)  # the demo takes no other connection option: it has its server
    group = parser.add_argument_group("fleet demo (--fleet)")
    group.add_argument("--fleet", action="store_true", help="a fleet cleanup job instead")
    group.add_argument("--users", type=int_in(1), default=50, metavar="N", help="users")
    group.add_argument(
        "--devices-per-user", type=int_in(1), default=4, metavar="N", help="devices per user"
    )
    group.add_argument(
        "--scopes-per-device", type=int_in(0), default=500, metavar="N", help="scopes per device"
    )
    group.add_argument(
        "--records-per-device", type=int_in(0), default=5, metavar="N", help="records per device"
    )


def completion(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("shell", choices=("bash", "zsh"), help="the shell to complete for")


# --- cleanup (fleet jobs) ---------------------------------------------------------------------


def _journal(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--journal", required=True, metavar="JOB.db", help="the job's journal")


def cleanup_plan(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("manifest", metavar="MANIFEST", help="JSON Lines file ('-': stdin)")
    _journal(parser)


def cleanup_status(parser: argparse.ArgumentParser) -> None:
    _journal(parser)


def cleanup_run(parser: argparse.ArgumentParser) -> None:
    _journal(parser)
    parser.add_argument(
        "--concurrency", type=int_in(1), default=8, metavar="N", help="targets at once"
    )
    parser.add_argument(
        "--requests", type=int_in(1), default=4, metavar="N", help="requests in flight per target"
    )
    parser.add_argument("--engine", choices=("local", "ray"), default="local", help="where to run")
    parser.add_argument("--ray-address", metavar="A", help="join this Ray cluster (else start one)")
    parser.add_argument("--ray-actors", type=int_in(1), metavar="N", help="Ray actors (CPUs)")
    parser.add_argument(
        "--passes", type=int_in(1), default=3, metavar="N", help="tries of pending IDs"
    )
    parser.add_argument(
        "--lock-lifetime",
        type=positive_float,
        default=600.0,
        metavar="S",
        help="seconds the server keeps a backup lock (renewed at half)",
    )
    parser.add_argument("--retry-failed", action="store_true", help="send failed IDs again")
    _no_progress(parser)
