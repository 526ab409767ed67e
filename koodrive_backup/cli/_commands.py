"""The small commands: ``record get``, ``demo`` (which picks its variant) and ``fake-server``
(which hands its arguments to the fake's own program)."""

from __future__ import annotations

import argparse

from ._config import settings_from
from ._context import Context
from ._errors import EXIT_OK
from ._output import print_json
from ._report import record_json, record_table

__all__ = ["demo", "fake_server", "record_get"]


async def record_get(args: argparse.Namespace, ctx: Context) -> int:
    """``record get RECORD_ID [--lock-id L]``: print the record."""
    async with settings_from(args, ctx.environ, ctx.warn).client() as client:
        record = await client.get_record(args.record_id, lock_id=args.lock_id)
    if args.json:
        print_json(record_json(record))
    else:
        print(record_table(record, f"Backup record {record.record_id}"))
    return EXIT_OK


async def demo(args: argparse.Namespace, ctx: Context) -> int:
    """``demo``, or ``demo --fleet`` (a fleet cleanup job, interrupted and resumed); each
    imports the fake server, so only when asked for."""
    if args.fleet:
        from ._fleet_demo import run_fleet_demo

        return await run_fleet_demo(args)
    from ._demo import run_demo

    return await run_demo(args, ctx.retries)


def fake_server(args: argparse.Namespace, ctx: Context) -> int:
    """``fake-server ...``: ``python -m koodrive_backup.testing`` in this process, with the
    arguments as given (one parser: the fake's own), and ``--json``/``--debug`` given before
    the command passed on."""
    from ..testing.__main__ import main  # the fake server only when asked for

    argv = list(args.delegated)
    argv += ["--json"] * args.json + ["--debug"] * args.debug
    return main(argv, prog="koodrive-backup fake-server", error_prefix="koodrive-backup")
