"""The list commands: find what to delete.

::

    koodrive-backup devices list
    koodrive-backup scopes list DEVICE_ID [--module M]
    koodrive-backup records list --module M [--device D] [--before T] [--status S]
    koodrive-backup files list RECORD_ID

Each prints a table, ``--json`` (one JSON array) or ``--ids`` (one ID a line, ready for
``--from-file``), as the SDK's lazy iterators deliver (``_listing``). ``--before`` and
``--status`` filter records on our side: the API has no such filters, so every record of
the module (of the device, with ``--device``) is read, a page at a time.
"""

from __future__ import annotations

import argparse
import enum
from collections.abc import AsyncIterable, AsyncIterator, Iterable
from datetime import datetime
from typing import TypeVar

from ..models import BackupFile, BackupRecord, DeviceEntity, ModuleCode, ScopeInfo
from ._config import settings_from
from ._context import Context
from ._errors import EXIT_OK
from ._listing import View, output_mode, write_listing
from ._report import model_json

__all__ = ["devices_list", "files_list", "records_list", "scopes_list"]

T = TypeVar("T")


def _when(value: datetime | None) -> str | None:
    return None if value is None else value.isoformat(timespec="seconds")


def _status(record: BackupRecord) -> object:
    status = record.status
    return status.name if isinstance(status, enum.Enum) else status


def _device_of(record: BackupRecord) -> str | None:
    return None if record.device_info is None else record.device_info.device_id


DEVICES: View[DeviceEntity] = View(
    "device",
    (
        ("device ID", lambda d: d.device_id),
        ("machine code", lambda d: d.machine_code),
        ("name", lambda d: d.device_name),
        ("OS", lambda d: d.device_os),
        ("created", lambda d: _when(d.create_time)),
    ),
    model_json,
    lambda d: d.device_id,
)
SCOPES: View[ScopeInfo] = View(
    "scope",
    (
        ("scope ID", lambda s: s.scope_id),
        ("module", lambda s: s.module_code),
        ("local path", lambda s: s.local_path),
        ("target folder", lambda s: s.target_folder_path),
        ("created", lambda s: _when(s.create_time)),
    ),
    model_json,
    lambda s: s.scope_id,
)
RECORDS: View[BackupRecord] = View(
    "record",
    (
        ("record ID", lambda r: r.record_id),
        ("status", _status),
        ("device ID", _device_of),
        ("created", lambda r: _when(r.create_time)),
    ),
    model_json,
    lambda r: r.record_id,
)
FILES: View[BackupFile] = View(
    "file",
    (
        ("file ID", lambda f: f.file_id),
        ("name", lambda f: f.file_name),
        ("size", lambda f: f.size),
        ("created", lambda f: _when(f.create_time)),
    ),
    model_json,
    lambda f: f.file_id,
)


async def devices_list(args: argparse.Namespace, ctx: Context) -> int:
    """``devices list``: the devices bound to the user (one request)."""
    mode = output_mode(args)
    async with settings_from(args, ctx.environ, ctx.warn).client() as client:
        devices = await client.list_devices()
    await write_listing(_aiter(devices), DEVICES, mode, limit=args.limit)
    return EXIT_OK


async def scopes_list(args: argparse.Namespace, ctx: Context) -> int:
    """``scopes list DEVICE_ID [--module M]``: one module's scopes, or every module's."""
    mode = output_mode(args)
    modules = [args.module] if args.module else [code.value for code in ModuleCode]
    async with settings_from(args, ctx.environ, ctx.warn).client() as client:

        async def scopes() -> AsyncIterator[ScopeInfo]:
            for module in modules:
                for scope in await client.list_scopes(args.device_id, module):
                    yield scope

        await write_listing(scopes(), SCOPES, mode, limit=args.limit)
    return EXIT_OK


async def records_list(args: argparse.Namespace, ctx: Context) -> int:
    """``records list --module M [--device D] [--before T] [--status S]``, page by page."""
    mode = output_mode(args)
    async with settings_from(args, ctx.environ, ctx.warn).client() as client:
        records = client.iter_records(args.module, device_id=args.device)
        await write_listing(_filtered(records, args), RECORDS, mode, limit=args.limit)
    return EXIT_OK


async def _filtered(
    records: AsyncIterable[BackupRecord], args: argparse.Namespace
) -> AsyncIterator[BackupRecord]:
    """``--before``: created before that time (a record without a creation time is left
    out); ``--status``: that status."""
    async for record in records:
        if args.before is not None and (
            record.create_time is None or record.create_time >= args.before
        ):
            continue
        if args.status is not None and record.status != args.status:
            continue
        yield record


async def files_list(args: argparse.Namespace, ctx: Context) -> int:
    """``files list RECORD_ID``: the record's files, page by page."""
    mode = output_mode(args)
    async with settings_from(args, ctx.environ, ctx.warn).client() as client:
        files = client.iter_files(args.record_id, lock_id=args.lock_id)
        await write_listing(files, FILES, mode, limit=args.limit)
    return EXIT_OK


async def _aiter(items: Iterable[T]) -> AsyncIterator[T]:
    for item in items:
        yield item
