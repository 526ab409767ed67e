"""Run the fake KooDrive server standalone until SIGINT/SIGTERM (then exit 0).

    python -m koodrive_backup.testing [--host 127.0.0.1] [--port 8080] [--latency 0.02]
        [--seed-scopes N] [--seed-records N] [--record-days-apart D] [--json] [--debug] ...

``koodrive-backup fake-server`` is the same program: the CLI hands its arguments to ``main``
(one parser, defined here; this package never imports the CLI).

It seeds one device for the default user and prints the URL, user id, token and device id.
With ``--users N`` it also seeds a fleet (``--devices-per-user``, ``--scopes-per-device``,
``--records-per-device``) and writes a ready cleanup manifest (``--manifest PATH``, else a
temp file): ``"users"``, ``"fleet_ids"``, ``"manifest"``, plus app credentials that sign
for every user (``--app-id``/``--app-secret``, made up when not given: ``"app_secret"`` is
then printed, as the token is: it is the fake's own invention).
With ``--json`` it prints exactly one JSON line, flushed, for a parent process to read:
``{"url", "api_url", "user_id", "token", "device_id", "scope_count", "record_count"}``, plus
``"scope_ids_file"`` / ``"record_ids_file"`` (one ID per line) when scopes / records were
seeded, and ``"app_id"`` with ``--app-id``. ID files made in the temp directory are removed
at exit; files named with ``--scope-ids-file`` / ``--record-ids-file`` are kept.

Reuse from Python (e.g. the CLI):

- ``main(argv=None, *, prog=PROG, error_prefix=None) -> int``: parse ``argv``, serve, return
  the exit status (2 when it cannot listen). Blocking: it runs its own event loop.
- ``add_arguments(parser)``: the options, for a parser that embeds this program.
- ``await serve(options, *, out=sys.stdout, stop=None)``: ``options`` is ``parse_args(argv)``;
  serves until ``stop`` (an ``asyncio.Event``) is set, or, when ``stop`` is ``None``, until
  SIGINT/SIGTERM.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import logging
import os
import secrets
import signal
import sys
import tempfile
import traceback
from collections.abc import Iterator, Sequence
from typing import Any, TextIO

from ._fake import FakeKooDrive
from ._fleet import seed_fleet

PROG = "python -m koodrive_backup.testing"
DEFAULT_PORT = 8080
DAY = 86400.0


def build_parser(prog: str = PROG) -> argparse.ArgumentParser:
    """The one parser of the standalone fake (``koodrive-backup fake-server`` delegates here)."""
    p = argparse.ArgumentParser(
        prog=prog,
        description="Serve a fake KooDrive backup API until interrupted (Ctrl-C or SIGTERM).",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
        allow_abbrev=False,
    )
    add_arguments(p)
    return p


def add_arguments(p: argparse.ArgumentParser) -> None:
    """Every option of the standalone fake, each with its help (defaults shown by the parser)."""
    p.add_argument("--host", default="127.0.0.1", help="bind address")
    p.add_argument(
        "--port", type=int, default=DEFAULT_PORT, help="port to listen on; 0 picks a free one"
    )
    p.add_argument("--latency", type=float, default=0.0, help="seconds added per request")
    p.add_argument("--seed-scopes", type=int, default=0, metavar="N", help="scopes to seed")
    p.add_argument("--seed-records", type=int, default=0, metavar="N", help="records to seed")
    p.add_argument(
        "--record-days-apart", type=float, default=0.0, metavar="DAYS",
        help="seeded records are created this many days apart, the last one now",
    )  # fmt: skip
    p.add_argument("--module-code", default="101", choices=("100", "101", "102"),
                   help="module of the seeded scopes and records")  # fmt: skip
    p.add_argument("--scope-ids-file", metavar="PATH", help="write seeded scope IDs here")
    p.add_argument("--record-ids-file", metavar="PATH", help="write seeded record IDs here")
    p.add_argument("--json", action="store_true", help="print one JSON line with the details")
    p.add_argument("--user-id", help="the default user's id (generated if omitted)")
    p.add_argument("--token", help="the default user's token (generated if omitted)")
    p.add_argument("--app-id", help="accept HMAC signatures by this app (needs --app-secret)")
    p.add_argument("--app-secret", help="the app secret for --app-id")
    p.add_argument("--lock-ttl", type=float, default=600.0, help="lock lifetime in seconds")
    p.add_argument("--seed", type=int, default=None, help="seed for IDs and tokens")
    p.add_argument("--no-log", action="store_true", help="keep no request log (long runs)")
    p.add_argument("--debug", action="store_true", help="log every request on stderr")
    fleet = p.add_argument_group("fleet (a cleanup manifest of many users)")
    fleet.add_argument("--users", type=int, default=0, metavar="N", help="users to seed")
    fleet.add_argument("--devices-per-user", type=int, default=1, metavar="N",
                       help="devices per seeded user")  # fmt: skip
    fleet.add_argument("--scopes-per-device", type=int, default=0, metavar="N",
                       help="scopes per seeded device")  # fmt: skip
    fleet.add_argument("--records-per-device", type=int, default=0, metavar="N",
                       help="records per seeded device")  # fmt: skip
    fleet.add_argument("--manifest", metavar="PATH", help="write the fleet's manifest here")


def parse_args(argv: Sequence[str] | None = None, prog: str = PROG) -> argparse.Namespace:
    parser = build_parser(prog)
    options = parser.parse_args(argv)
    if (options.app_id is None) != (options.app_secret is None):
        parser.error("--app-id and --app-secret go together")
    if options.users and options.app_id is None:  # a fleet needs credentials for every user
        options.app_id, options.app_secret = "fake-app", secrets.token_hex(16)
        options.made_up_secret = True
    return options


def _output_path(path: str | None, prefix: str, suffix: str, made: list[str]) -> str:
    """``path``, or a new temporary file of ours (listed in ``made``: removed at exit)."""
    if path is None:
        fd, path = tempfile.mkstemp(prefix=prefix, suffix=suffix)
        os.close(fd)
        made.append(path)
    return path


def _write_ids(ids: list[str], path: str | None, prefix: str, made: list[str]) -> str:
    path = _output_path(path, prefix, ".txt", made)
    with open(path, "w", encoding="ascii") as fh:
        fh.writelines(f"{i}\n" for i in ids)
    return path


def _seed(fake: FakeKooDrive, options: argparse.Namespace, made: list[str]) -> dict[str, Any]:
    device_id = fake.add_device(machine_code="fake_device")
    info: dict[str, Any] = {"device_id": device_id}
    module = options.module_code
    scope_ids = fake.add_scopes(device_id, options.seed_scopes, module_code=module)
    records = _seed_records(fake, device_id, options)
    info["scope_count"] = len(scope_ids)
    info["record_count"] = len(records)
    if scope_ids:
        path = options.scope_ids_file
        info["scope_ids_file"] = _write_ids(scope_ids, path, "koodrive-scopes-", made)
    if records:
        path = options.record_ids_file
        info["record_ids_file"] = _write_ids(records, path, "koodrive-records-", made)
    if options.users:
        info.update(_seed_fleet(fake, options, made))
    return info


def _seed_records(fake: FakeKooDrive, device_id: str, options: argparse.Namespace) -> list[str]:
    """Oldest first, ``--record-days-apart`` apart, the last one created now."""
    count, now = options.seed_records, fake.now()
    return [
        fake.add_record(
            device_id,
            module_code=options.module_code,
            created_at=now - (count - 1 - n) * options.record_days_apart * DAY,
        )
        for n in range(count)
    ]


def _seed_fleet(fake: FakeKooDrive, options: argparse.Namespace, made: list[str]) -> dict[str, Any]:
    fleet = seed_fleet(
        fake,
        users=options.users,
        devices_per_user=options.devices_per_user,
        scopes_per_device=options.scopes_per_device,
        records_per_device=options.records_per_device,
        module_code=options.module_code,
    )
    path = _output_path(options.manifest, "koodrive-manifest-", ".jsonl", made)
    fleet.write_manifest(path)
    info: dict[str, Any] = {"users": options.users, "fleet_ids": fleet.id_count}
    info["manifest"] = path
    if getattr(options, "made_up_secret", False):
        info["app_secret"] = options.app_secret
    return info


def _print_info(info: dict[str, Any], as_json: bool, out: TextIO) -> None:
    if as_json:
        out.write(json.dumps(info) + "\n")
    else:
        out.write(f"KooDrive fake server listening on {info['url']}\n")
        for key, value in info.items():
            if key != "url":
                out.write(f"  {key}: {value}\n")
        out.write("Press Ctrl+C to stop.\n")
    out.flush()


@contextlib.contextmanager
def _signals(stop: asyncio.Event) -> Iterator[None]:
    loop = asyncio.get_running_loop()
    installed = []
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError, RuntimeError):  # e.g. Windows
            loop.add_signal_handler(sig, stop.set)
            installed.append(sig)
    try:
        yield
    finally:
        for sig in installed:
            loop.remove_signal_handler(sig)


async def serve(
    options: argparse.Namespace, *, out: TextIO = sys.stdout, stop: asyncio.Event | None = None
) -> None:
    """Serve until ``stop`` is set (or SIGINT/SIGTERM when ``stop`` is ``None``)."""
    fake = FakeKooDrive(
        host=options.host,
        port=options.port,
        user_id=options.user_id,
        token=options.token,
        app_id=options.app_id,
        app_secret=options.app_secret,
        lock_ttl=options.lock_ttl,
        latency=options.latency,
        seed=options.seed,
        record_requests=not options.no_log,
    )
    made: list[str] = []
    try:
        async with fake:
            info: dict[str, Any] = {"url": fake.url, "api_url": fake.api_url}
            info.update(user_id=fake.user_id, token=fake.token)
            if fake.app_id is not None:
                info["app_id"] = fake.app_id
            info.update(_seed(fake, options, made))
            _print_info(info, options.json, out)
            if stop is None:
                stop = asyncio.Event()
                with _signals(stop):
                    await stop.wait()
            else:
                await stop.wait()
    finally:
        for path in made:
            with contextlib.suppress(OSError):
                os.remove(path)


def main(
    argv: Sequence[str] | None = None, *, prog: str = PROG, error_prefix: str | None = None
) -> int:
    """Command-line entry point; returns the exit status (2 when it cannot listen).

    ``prog`` names the program in the help and usage; ``error_prefix`` starts the one-line
    error (``koodrive-backup`` when the CLI delegates here; default ``prog``).
    """
    options = parse_args(argv, prog)
    if options.debug:
        _log_requests()
    try:
        asyncio.run(serve(options))
    except KeyboardInterrupt:  # no signal handlers (e.g. Windows)
        pass
    except OSError as exc:  # e.g. the port is taken
        reason = os.strerror(exc.errno) if exc.errno else str(exc)
        print(
            f"{error_prefix or prog}: error: cannot listen on {options.host}:{options.port}: "
            f"{reason} (choose another --port, or --port 0 for a free one)",
            file=sys.stderr,
        )
        if options.debug:
            traceback.print_exc()
        return 2
    return 0


def _log_requests() -> None:
    """``--debug``: one timestamped line per request (and any failure of the fake) on stderr."""
    handler = logging.StreamHandler()
    handler.setFormatter(logging.Formatter("%(asctime)s %(name)s %(levelname)s: %(message)s"))
    logger = logging.getLogger("koodrive_backup.testing")
    logger.addHandler(handler)
    logger.setLevel(logging.DEBUG)


if __name__ == "__main__":
    sys.exit(main())
