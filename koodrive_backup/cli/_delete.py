"""``scopes delete`` and ``record delete``: the bulk deletions, their dry runs and their rails.

Both read IDs the same way (arguments, ``--from-file PATH|-``; all checked before any
request), ask before deleting more than ``CONFIRM_ABOVE`` IDs on a terminal (unless
``--yes``), run through the one bulk runner (``_bulk.run_bulk``) and report the same way.
They differ only in the stream that does the work:

- scopes: ``client.iter_delete_scopes`` (chunks of up to 100 IDs);
- records: ``client.iter_delete_records`` under a managed lock of ``--module`` (taken,
  renewed, released), or under ``--lock-id`` given by the caller;
- ``--dry-run``: ``batching.stream_batch`` over reads only: the device's scope lists (three
  requests), or one ``get_record`` per record. "Deleted" then means "exists: would be
  deleted", "not found" means "already gone", and nothing is written.
"""

from __future__ import annotations

import argparse
import contextlib
from collections.abc import AsyncIterator, Sequence
from typing import Any

from ..batching import BatchStream, ChunkAnswer, stream_batch
from ..client import BackupClient
from ..errors import NotFoundError
from ..models import NOT_FOUND_CODE, REPEATED_ID_CODE, ModuleCode, RecordFailure, ScopeFailure
from ._bulk import RECORDS, SCOPES, BulkOutcome, Kind, StreamOpener, run_bulk
from ._config import Settings, settings_from
from ._context import Context
from ._errors import EXIT_PARTIAL, EXIT_USAGE, UsageError
from ._ids import check_writable, path_id, read_ids, write_ids
from ._logs import log
from ._output import make_progress, print_error, print_json
from ._prompt import confirm
from ._report import Target, bulk_json, bulk_table, not_found_message

__all__ = ["record_delete", "scope_deletion", "scopes_delete"]

MODULES = tuple(code.value for code in ModuleCode)


async def scopes_delete(args: argparse.Namespace, ctx: Context) -> int:
    """``scopes delete DEVICE_ID [ID ...] [--from-file PATH|-]``."""
    device = path_id(args.device_id, "DEVICE_ID", "device")
    target = Target(
        f"Scope deletion on device {device}",
        f"on device {device}",
        "the device",
        f"koodrive-backup scopes delete {device}",
        {"device_id": device},
    )
    ids, settings = _prepare(args, ctx, "scope")
    if not _confirmed(args, ids, f"scopes of device {device}"):
        return EXIT_PARTIAL
    async with settings.client() as client:
        opener = (_scope_check if args.dry_run else scope_deletion)(client, device, ids, args)
        outcome = await _run(args, ids, opener, SCOPES, "scopes", client)
    return _report(outcome, target, args)


async def record_delete(args: argparse.Namespace, ctx: Context) -> int:
    """``record delete [ID ...] [--from-file PATH|-] (--module M | --lock-id L)``."""
    if args.module is None and args.lock_id is None and not args.dry_run:
        raise UsageError(
            "record delete needs --module M (a lock of that module is taken, renewed and "
            "released for the run) or --lock-id L (a lock you hold)"
        )
    where = (
        f"module {args.module}"
        if args.module
        else f"under lock {args.lock_id}"
        if args.lock_id
        else "any module"
    )
    resume = "koodrive-backup record delete " + (
        f"--module {args.module}" if args.module else "--lock-id LOCK_ID"
    )
    target = Target(
        f"Record deletion ({where})",
        f"({where})",
        "the user's records of that module",
        resume,
        {"module_code": args.module},
    )
    ids, settings = _prepare(args, ctx, "record")
    if not _confirmed(args, ids, f"records ({where})"):
        return EXIT_PARTIAL
    async with settings.client() as client:
        opener = (_record_check if args.dry_run else _record_deletion)(client, ids, args)
        outcome = await _run(args, ids, opener, RECORDS, "records", client)
    return _report(outcome, target, args)


def _prepare(args: argparse.Namespace, ctx: Context, noun: str) -> tuple[list[str], Settings]:
    """Everything that can be checked before a request: the IDs, the output file, settings."""
    ids = read_ids(args.ids, args.from_file, noun)
    check_writable(args.unprocessed_out)
    settings = settings_from(args, ctx.environ, ctx.warn)
    log.info(
        "%s delete: %d IDs (%d unique)%s",
        noun,
        len(ids),
        len(set(ids)),
        " (dry run)" if args.dry_run else "",
    )
    return ids, settings


def _confirmed(args: argparse.Namespace, ids: Sequence[str], what: str) -> bool:
    """The terminal rail: more than ``CONFIRM_ABOVE`` unique IDs ask first (not a dry run)."""
    if args.dry_run or args.yes:
        return True
    return confirm(len(set(ids)), what)


async def _run(
    args: argparse.Namespace,
    ids: list[str],
    opener: StreamOpener,
    kind: Kind[Any],
    noun: str,
    client: BackupClient,
) -> BulkOutcome:
    label = f"checking {noun}" if args.dry_run else f"deleting {noun}"
    progress = make_progress(
        len(ids),
        label,
        enabled=not args.no_progress,
        done_word="found" if args.dry_run else "deleted",
    )
    return await run_bulk(
        ids,
        opener,
        kind,
        progress=progress,
        dry_run=args.dry_run,
        max_not_found=args.max_not_found,
        client=client,
    )


# --- the streams ----------------------------------------------------------------------------


def scope_deletion(
    client: BackupClient, device: str, ids: list[str], args: argparse.Namespace
) -> StreamOpener:
    """``iter_delete_scopes`` with ``args.chunk_size`` and ``args.concurrency`` (the demo's
    too)."""

    @contextlib.asynccontextmanager
    async def opened() -> AsyncIterator[BatchStream[str, Any]]:
        stream = client.iter_delete_scopes(
            device, ids, chunk_size=args.chunk_size, concurrency=args.concurrency
        )
        async with stream:
            yield stream

    return opened


def _record_deletion(
    client: BackupClient, ids: list[str], args: argparse.Namespace
) -> StreamOpener:
    @contextlib.asynccontextmanager
    async def opened() -> AsyncIterator[BatchStream[str, Any]]:
        async with contextlib.AsyncExitStack() as stack:
            lock_id = args.lock_id
            if lock_id is None:
                lock = await stack.enter_async_context(client.lock(args.module))
                lock_id = lock.lock_id
                log.info("took backup lock %s for module %s", lock_id, args.module)
            stream = client.iter_delete_records(ids, lock_id, concurrency=args.concurrency)
            async with stream:
                yield stream

    return opened


def _scope_check(
    client: BackupClient, device: str, ids: list[str], args: argparse.Namespace
) -> StreamOpener:
    """The dry run of ``scopes delete``: the device's scopes of every module (three reads),
    then each chunk is answered from that set."""

    @contextlib.asynccontextmanager
    async def opened() -> AsyncIterator[BatchStream[str, Any]]:
        existing: set[str] = set()
        for module in MODULES:
            existing.update(s.scope_id for s in await client.list_scopes(device, module))

        async def check(chunk: list[str]) -> ChunkAnswer[str, ScopeFailure]:
            found = tuple(i for i in chunk if i in existing)
            missing = tuple((i, _absent_scope(i)) for i in chunk if i not in existing)
            return ChunkAnswer(found, missing)

        stream = stream_batch(
            ids,
            check,
            chunk_size=args.chunk_size,
            concurrency=1,
            repeated_failure=_repeated_scope,
            is_gone=SCOPES.is_gone,
        )
        async with stream:
            yield stream

    return opened


def _record_check(client: BackupClient, ids: list[str], args: argparse.Namespace) -> StreamOpener:
    """The dry run of ``record delete``: one ``get_record`` per record (404: already gone; a
    record of another module than ``--module`` would be refused by the lock)."""

    async def check(chunk: list[str]) -> ChunkAnswer[str, RecordFailure]:
        (record_id,) = chunk
        try:
            record = await client.get_record(record_id)
        except NotFoundError as exc:
            failure = RecordFailure(record_id, str(exc.code or 404), exc.msg, 404)
            return ChunkAnswer(failed=((record_id, failure),))
        if args.module is not None and record.module_code != args.module:
            msg = f"a record of module {record.module_code}, not {args.module}"
            return ChunkAnswer(failed=((record_id, RecordFailure(record_id, "module", msg)),))
        return ChunkAnswer(deleted=(record_id,))

    @contextlib.asynccontextmanager
    async def opened() -> AsyncIterator[BatchStream[str, Any]]:
        stream = stream_batch(
            ids,
            check,
            chunk_size=1,
            concurrency=args.concurrency,
            repeated_failure=_repeated_record,
            is_gone=RECORDS.is_gone,
        )
        async with stream:
            yield stream

    return opened


def _absent_scope(scope_id: str) -> ScopeFailure:
    return ScopeFailure(scope_id, NOT_FOUND_CODE, "not found on the device (dry run)")


def _repeated_scope(scope_id: str) -> ScopeFailure:
    return ScopeFailure(scope_id, REPEATED_ID_CODE, "repeated scope ID in the input; sent once")


def _repeated_record(record_id: str) -> RecordFailure:
    return RecordFailure(record_id, REPEATED_ID_CODE, "repeated record ID in the input; sent once")


# --- the report -----------------------------------------------------------------------------


def _report(outcome: BulkOutcome, target: Target, args: argparse.Namespace) -> int:
    status = outcome.exit_status
    written = None
    if args.unprocessed_out is not None and not outcome.dry_run:
        try:
            write_ids(args.unprocessed_out, outcome.not_gone)
            written = args.unprocessed_out
        except OSError as exc:
            print_error(f"cannot write {args.unprocessed_out!r}: {exc.strerror or exc}")
            status = max(status, EXIT_USAGE)
    if args.json:
        print_json(bulk_json(outcome, target, written))
    else:
        print(bulk_table(outcome, target, written), flush=True)
    if outcome.mostly_not_found and not outcome.dry_run:
        print_error(not_found_message(outcome, target))
    log.info("%s: %s; exit status %d", target.title, _counts_text(outcome), status)
    return status


def _counts_text(outcome: BulkOutcome) -> str:
    result = outcome.result
    return (
        f"deleted {len(result.deleted)}, already gone {len(outcome.already_gone)}, "
        f"failed {len(outcome.refused)}, unprocessed {len(result.unprocessed)}"
    )
