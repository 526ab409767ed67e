"""The commands that talk to a real endpoint: ``record get|delete``, ``scopes delete``; and
``fake-server``, which runs the embedded fake standalone."""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from collections.abc import Callable, Iterable, Mapping, Sequence

import attrs

from .. import _validate as check
from ._bulk import BulkOutcome, delete_scopes_interruptibly
from ._config import open_client, settings_from
from ._errors import EXIT_OK, EXIT_USAGE, UsageError
from ._output import make_progress, print_error, print_json
from ._report import bulk_json, bulk_table, record_json, record_table

__all__ = [
    "Context",
    "lock_create",
    "lock_release",
    "record_delete",
    "record_get",
    "run_fake_server",
    "scopes_delete",
]


@attrs.frozen
class Context:
    """What commands need from the process: the environment and a way to warn."""

    environ: Mapping[str, str]
    warn: Callable[[str], None]


async def record_get(args: argparse.Namespace, ctx: Context) -> int:
    """``record get RECORD_ID [--lock-id L]``: print the record."""
    settings = settings_from(args, ctx.environ, ctx.warn)
    async with open_client(settings) as client:
        record = await client.get_record(args.record_id, lock_id=args.lock_id)
    if args.json:
        print_json(record_json(record))
    else:
        print(record_table(record, f"Backup record {record.record_id}"))
    return EXIT_OK


async def record_delete(args: argparse.Namespace, ctx: Context) -> int:
    """``record delete RECORD_ID --lock-id L``: delete the record and its files."""
    settings = settings_from(args, ctx.environ, ctx.warn)
    async with open_client(settings) as client:
        await client.delete_record(args.record_id, lock_id=args.lock_id)
    if args.json:
        print_json({"record_id": args.record_id, "deleted": True})
    else:
        print(f"Deleted backup record {args.record_id}.")
    return EXIT_OK


# --- scopes delete -----------------------------------------------------------------------------


async def scopes_delete(args: argparse.Namespace, ctx: Context) -> int:
    """``scopes delete DEVICE_ID [ID ...] [--from-file PATH|-]``: the bulk cleanup."""
    device_id = check.path_id(args.device_id, "DEVICE_ID")
    ids = read_scope_ids(args.scope_ids, args.from_file)
    _check_writable(args.unprocessed_out)
    settings = settings_from(args, ctx.environ, ctx.warn)
    async with open_client(settings) as client:
        outcome = await delete_scopes_interruptibly(
            client,
            device_id,
            ids,
            chunk_size=args.chunk_size,
            concurrency=args.concurrency,
            make_progress=lambda total: make_progress(
                total, "deleting scopes", enabled=not args.no_progress
            ),
        )
    return _report_bulk(outcome, device_id, args)


def _report_bulk(outcome: BulkOutcome, device_id: str, args: argparse.Namespace) -> int:
    status = outcome.exit_status
    written = None
    if args.unprocessed_out is not None:
        try:
            write_ids(args.unprocessed_out, outcome.not_gone)
            written = args.unprocessed_out
        except OSError as exc:
            print_error(f"cannot write {args.unprocessed_out!r}: {exc.strerror or exc}")
            status = max(status, EXIT_USAGE)
    if args.json:
        print_json(bulk_json(outcome, device_id, written))
    else:
        print(bulk_table(outcome, device_id, written))
    return status


def read_scope_ids(arguments: Sequence[str], from_file: str | None) -> list[str]:
    """IDs from the arguments, then the file (or standard input), validated before any I/O."""
    if not arguments and from_file is None:
        raise UsageError(
            "no scope IDs: give them as arguments or with --from-file PATH (- for stdin)"
        )
    ids = [_scope_id(value, f"argument {n + 1}") for n, value in enumerate(arguments)]
    if from_file is not None:
        ids.extend(_read_id_lines(from_file))
    return ids


def _read_id_lines(path: str) -> list[str]:
    name = "standard input" if path == "-" else path
    try:
        if path == "-":
            lines: Iterable[str] = sys.stdin.read().splitlines()
        else:
            with open(path, encoding="utf-8") as handle:
                lines = handle.read().splitlines()
    except (OSError, UnicodeDecodeError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
        raise UsageError(f"cannot read {name}: {reason}") from None
    # One ID a line; surrounding spaces and blank lines are ignored (CRLF files work too).
    return [
        _scope_id(line.strip(), f"{name} line {number}")
        for number, line in enumerate(lines, 1)
        if line.strip()
    ]


def _scope_id(value: str, where: str) -> str:
    """One ID as typed or read from a line; a line like ``id1,id2,id3,`` is refused, not sent
    (and answered "not found") as one ID. The message says what an ID looks like."""
    try:
        return check.scope_id(value, 0)
    except ValueError:
        shown = value if len(value) <= 40 else value[:40] + "..."
        raise UsageError(
            f"{where}: not a scope ID: {shown!r} (a scope ID is {check.ID_SYNTAX}; "
            "give one ID per line or argument)"
        ) from None


def _check_writable(path: str | None) -> None:
    """Refuse an --unprocessed-out we could not write, before deleting anything."""
    if path is None:
        return
    folder = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(folder) or not os.access(folder, os.W_OK):
        raise UsageError(f"--unprocessed-out: cannot write into {folder!r}")
    if os.path.isdir(path):
        raise UsageError(f"--unprocessed-out: {path!r} is a directory")


def write_ids(path: str, ids: Iterable[str]) -> None:
    """Write one ID a line, atomically (a crash never leaves half a file); may be empty."""
    folder = os.path.dirname(os.path.abspath(path))
    fd, temp = tempfile.mkstemp(prefix=".koodrive-", suffix=".tmp", dir=folder)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.writelines(f"{scope_id}\n" for scope_id in ids)
        os.replace(temp, path)
    except BaseException:
        os.unlink(temp)
        raise


# --- fake-server -------------------------------------------------------------------------------


def run_fake_server(args: argparse.Namespace) -> int:
    """Run ``python -m koodrive_backup.testing`` in this process (its own event loop)."""
    from ..testing.__main__ import main as fake_main

    argv = ["--host", args.host, "--port", str(args.port), "--latency", str(args.latency)]
    argv += ["--seed-scopes", str(args.seed_scopes), "--seed-records", str(args.seed_records)]
    if args.json:
        argv.append("--json")
    return fake_main(argv)


# --- lock create / release (so that `record delete --lock-id` is usable from a shell) ----------


async def lock_create(args: argparse.Namespace, ctx: Context) -> int:
    """``lock create MODULE``: print a new lock ID (valid 10 minutes; not renewed)."""
    settings = settings_from(args, ctx.environ, ctx.warn)
    async with open_client(settings) as client:
        lock = await client.create_lock(args.module_code)
    if args.json:
        print_json({"lock_id": lock.lock_id, "module_code": args.module_code})
    else:
        print(lock.lock_id)
    return EXIT_OK


async def lock_release(args: argparse.Namespace, ctx: Context) -> int:
    """``lock release LOCK_ID``."""
    settings = settings_from(args, ctx.environ, ctx.warn)
    async with open_client(settings) as client:
        await client.release_lock(args.lock_id)
    if args.json:
        print_json({"lock_id": args.lock_id, "released": True})
    else:
        print(f"Released lock {args.lock_id}.")
    return EXIT_OK
