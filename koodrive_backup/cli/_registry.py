"""The one registry of commands: the parser, the dispatch and the completion script are all
built from ``COMMANDS``. A new command is one ``Command(...)`` line here, its arguments in
``_arguments`` and its handler in a module of its own (imported only when it runs).

A handler is ``handler(args, ctx) -> int``, or an ``async def`` returning the exit status
(run under ``asyncio.run``).
"""

from __future__ import annotations

import argparse
import importlib
from collections.abc import Awaitable, Callable

import attrs

from . import _arguments as a

__all__ = ["COMMANDS", "GROUPS", "Command", "Group", "Handler"]

Handler = Callable[..., "int | Awaitable[int]"]


@attrs.frozen
class Group:
    """A command with actions (``scopes list``, ``scopes delete``)."""

    name: str
    help: str
    aliases: tuple[str, ...] = ()


@attrs.frozen
class Command:
    """One runnable command: its place in the tree, its handler and its arguments."""

    path: tuple[str, ...]
    handler: str  # "_module:function" of this package
    help: str
    arguments: Callable[[argparse.ArgumentParser], None] | None = None
    description: str | None = None
    connects: bool = True  # takes the connection options
    delegates: bool = False  # hands its arguments, as given, to another program's parser

    @property
    def name(self) -> str:
        return " ".join(self.path)

    def load(self) -> Handler:
        module, function = self.handler.split(":")
        handler: Handler = getattr(importlib.import_module(module, __package__), function)
        return handler


GROUPS = (
    Group("devices", "list the devices bound to the user", ("device",)),
    Group("scopes", "list or bulk-delete the backup scopes of a device", ("scope",)),
    Group("record", "view, list and bulk-delete backup records", ("records",)),
    Group("files", "list the files of a backup record", ("file",)),
    Group("lock", "create, release or wait for a backup lock", ("locks",)),
    Group("cleanup", "fleet cleanup jobs: plan, run, resume, status (docs/jobs.md)"),
)

_DELETION = """\
Every ID ends up deleted, already gone (not found: absent all the same), failed or
unprocessed. --dry-run only reads and shows what would be deleted. On a terminal, more than
1000 IDs ask for confirmation (--yes skips it). --unprocessed-out writes the IDs that are
not gone, to feed back with --from-file; Ctrl-C stops promptly and loses nothing. Exit 5
when most IDs were not found: the input probably does not match."""

COMMANDS = (
    Command(("devices", "list"), "._lists:devices_list", "list the user's devices", a.devices_list),
    Command(
        ("scopes", "list"),
        "._lists:scopes_list",
        "list a device's scopes (of one module, or all)",
        a.scopes_list,
    ),
    Command(
        ("scopes", "delete"),
        "._delete:scopes_delete",
        "delete any number of scopes of a device, accounting for every ID",
        a.scopes_delete,
        "Delete scopes in chunks of up to 100 IDs with bounded concurrency.\n" + _DELETION,
    ),
    Command(("record", "get"), "._commands:record_get", "view a backup record", a.record_get),
    Command(
        ("record", "list"),
        "._lists:records_list",
        "list a module's records (of one device, older than a date, of a status)",
        a.records_list,
    ),
    Command(
        ("record", "delete"),
        "._delete:record_delete",
        "delete any number of records under a managed lock",
        a.record_delete,
        "Delete records (one request each, with bounded concurrency) under a lock of --module\n"
        "that is taken, renewed and released for the run (or under --lock-id).\n" + _DELETION,
    ),
    Command(("files", "list"), "._lists:files_list", "list a record's files", a.files_list),
    Command(
        ("lock", "create"),
        "._lock_commands:lock_create",
        "create a lock (valid 10 minutes, not renewed) and print its ID",
        a.lock_create,
    ),
    Command(("lock", "release"), "._lock_commands:lock_release", "release a lock", a.lock_release),
    Command(
        ("lock", "wait"),
        "._lock_commands:lock_wait",
        "wait until a module's lock can be taken (a stuck lock expires)",
        a.lock_wait,
    ),
    Command(
        ("cleanup", "plan"),
        "._cleanup:cleanup_plan",
        "check a manifest, write a journal",
        a.cleanup_plan,
        connects=False,
    ),
    Command(
        ("cleanup", "run"),
        "._cleanup:cleanup_run",
        "run or resume the job of a journal",
        a.cleanup_run,
        "Discover, delete and record every ID's outcome in the journal; after a crash, "
        "kill -9 or Ctrl-C, run again to resume. App credentials (KOODRIVE_APP_ID and "
        "KOODRIVE_APP_SECRET, or a profile's) sign for every user.",
    ),
    Command(
        ("cleanup", "status"),
        "._cleanup:cleanup_status",
        "counts and failures of a journal",
        a.cleanup_status,
        connects=False,
    ),
    Command(
        ("demo",),
        "._commands:demo",
        "bulk cleanup against an in-process fake server, with faults, then a check",
        a.demo,
        "Start the embedded fake server, seed it, inject transient faults, delete every "
        "scope through the SDK with a progress bar, view a record, delete it under a lock, "
        "and check the fake's store. Exit 0 when all is well. --fleet runs a fleet "
        "cleanup job instead, interrupted and resumed.",
        connects=False,
    ),
    Command(
        ("fake-server",),
        "._commands:fake_server",
        "run the embedded fake KooDrive server (same as python -m koodrive_backup.testing)",
        connects=False,
        delegates=True,
    ),
    Command(
        ("completion",),
        "._completion:completion",
        "print a bash or zsh completion script",
        a.completion,
        'Activate with: eval "$(koodrive-backup completion bash)" in ~/.bashrc; for zsh, '
        "write the script as _koodrive-backup into a folder of $fpath before compinit.",
        connects=False,
    ),
)
