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
from collections.abc import AsyncIterable, AsyncIterator, Callable, Iterable
from datetime import datetime
from operator import attrgetter
from typing import Any, TypeVar

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


Column = tuple[str, str | Callable[[Any], object]]
CREATED: Column = ("created", lambda item: _when(item.create_time))


def _view(noun: str, id_field: str, *columns: Column) -> View[Any]:
    """A model's view: columns by attribute name (or a function), its JSON, its ID field."""
    getters = tuple((head, attrgetter(c) if isinstance(c, str) else c) for head, c in columns)
    return View(noun, getters, model_json, attrgetter(id_field))


DEVICES: View[DeviceEntity] = _view(
    "device",
    "device_id",
    ("device ID", "device_id"),
    ("machine code", "machine_code"),
    ("name", "device_name"),
    ("OS", "device_os"),
    CREATED,
)
SCOPES: View[ScopeInfo] = _view(
    "scope",
    "scope_id",
    ("scope ID", "scope_id"),
    ("module", "module_code"),
    ("local path", "local_path"),
    ("target folder", "target_folder_path"),
    CREATED,
)
RECORDS: View[BackupRecord] = _view(
    "record", "record_id", ("record ID", "record_id"), ("status", _status),
    ("device ID", _device_of), CREATED,
)  # fmt: skip
FILES: View[BackupFile] = _view(
    "file", "file_id", ("file ID", "file_id"), ("name", "file_name"), ("size", "size"), CREATED
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
