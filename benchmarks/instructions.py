"""Instructions per ``get_record`` under valgrind: exact figures where timings are noisy.

``python -m benchmarks.instructions [VARIANT ...] [--calls N] [--chunks]`` runs, for each
variant, a child process making ``N`` and ``2N`` calls under ``valgrind --tool=callgrind``
(with ``PYTHONHASHSEED=0``) and prints the difference divided by ``N``: the instructions of
one call, start-up excluded. The client talks to a stub transport answering like the bare
server (no sockets, no event-loop I/O), so the figure is the SDK's own work. With
``--chunks`` a "call" is one 100-ID chunk of a ``delete_scopes`` of ``N`` chunks (8 in flight).
``--bare`` talks to the bare server over loopback instead (the server runs in a process of
its own, not counted): the figure then includes aiohttp and the event loop, a whole call.
``--no-gc`` disables the cyclic garbage collector in the child: its passes cost more the
more objects a process holds (importing ``opentelemetry`` alone adds about 4% to a chunk),
which hides the difference between two code paths.

Variants: ``plain`` (the client as constructed by default: with ``opentelemetry-api``
importable and no provider configured, that is "installed, not configured"), ``off``
(``telemetry=False``), ``hooks`` (a ``Hooks`` subclass overriding ``on_call``), ``traced``
(an SDK ``TracerProvider`` with a no-op exporter and a ``MeterProvider`` with an in-memory
reader, given through ``TelemetryOptions``), ``ratelimit`` (a ``RateLimit`` that never
blocks: what waiting for a token costs when there is no wait).
"""

from __future__ import annotations

import argparse
import asyncio
import email.utils
import gc
import json
import os
import re
import subprocess
import sys
import time
from typing import Any

from multidict import CIMultiDict, CIMultiDictProxy

from koodrive_backup import HttpRequest, RawResponse

from ._bare_server import RECORD_BODY
from ._config import RECORD_ID, TOKEN, USER_ID, synthetic_ids
from ._servers import BARE, server

VARIANTS = ("plain", "off", "hooks", "traced", "ratelimit")
NEVER_BLOCKS = 1e9  # tokens per second (and burst) of the ``ratelimit`` variant: no call waits


class _Stub:
    """A transport answering like the bare server, as aiohttp hands it over (a ``Transport``):
    a GET with the canned record, a scope deletion with the IDs it was sent, all deleted; a
    ``Date`` header that changes once a second, as a server's does."""

    def __init__(self) -> None:
        self._second = -1
        self._headers: CIMultiDictProxy[str] = CIMultiDictProxy(CIMultiDict())

    def _answer_headers(self) -> CIMultiDictProxy[str]:
        second = int(time.time())
        if second != self._second:
            self._second = second
            date = email.utils.formatdate(second, usegmt=True)
            headers = {"Content-Type": "application/json", "Date": date}
            self._headers = CIMultiDictProxy(CIMultiDict(headers))
        return self._headers

    async def send(self, request: HttpRequest) -> RawResponse:
        if request.method == "GET":
            return RawResponse(200, self._answer_headers(), RECORD_BODY)
        ids = json.loads(request.body)["scopeIdList"]
        body = json.dumps({"code": 0, "scopeIdList": ids}).encode()
        return RawResponse(200, self._answer_headers(), body)

    async def aclose(self) -> None:
        return None


def _options(variant: str) -> dict[str, Any]:
    if variant == "plain":
        return {}
    if variant == "off":
        return {"telemetry": False}
    if variant == "ratelimit":
        return {"rate_limit": NEVER_BLOCKS}
    if variant == "traced":
        from ._telemetry_case import recording_options

        return {"telemetry": recording_options(batched=False)}
    if variant != "hooks":
        raise ValueError(f"unknown variant {variant!r}: one of {', '.join(VARIANTS)}")
    from koodrive_backup import Hooks

    class Calls(Hooks):  # one overridden hook: the others cost nothing
        def on_call(self, event: object) -> None:
            return None

    return {"hooks": Calls()}


async def _calls(variant: str, calls: int, chunks: bool = False, bare: bool = False) -> None:
    if bare:
        async with server(BARE) as running:
            await _calls_to(variant, calls, chunks, {"base_url": running.url})
    else:
        await _calls_to(variant, calls, chunks, {"transport": _Stub()})


async def _calls_to(variant: str, calls: int, chunks: bool, where: dict[str, Any]) -> None:
    from koodrive_backup import BackupClient

    url = where.pop("base_url", "https://host.example")
    options = {**_options(variant), **where}
    client = BackupClient(url, user_id=USER_ID, token=TOKEN, **options)
    if chunks:  # warm-up: a batch of 10 chunks in both runs
        await client.delete_scopes("1", list(synthetic_ids(1000)), concurrency=8)
        await client.delete_scopes("1", list(synthetic_ids(calls * 100)), concurrency=8)
    else:
        for _ in range(calls + 50):  # 50 warm-up calls in both runs: first allocations
            await client.get_record(RECORD_ID)
    await client.close()


def _count(variant: str, calls: int, flags: list[str]) -> int:
    """Instructions of a child process making ``calls`` calls (or chunks)."""
    command = ["valgrind", "--tool=callgrind", "--callgrind-out-file=/dev/null"]
    command += [sys.executable, "-m", "benchmarks.instructions", "--child", variant, str(calls)]
    command += flags
    env = {**os.environ, "PYTHONHASHSEED": "0"}
    done = subprocess.run(command, capture_output=True, text=True, env=env, check=True)
    match = re.search(r"Collected : (\d+)", done.stderr)
    if match is None:
        raise RuntimeError(f"no callgrind total in:\n{done.stderr}")
    return int(match.group(1))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.instructions")
    parser.add_argument("variants", nargs="*", default=list(VARIANTS))
    parser.add_argument("--calls", type=int, default=2000)
    parser.add_argument("--chunks", action="store_true", help="delete_scopes chunks")
    parser.add_argument("--no-gc", action="store_true", help="no cyclic GC in the child")
    parser.add_argument("--bare", action="store_true", help="over loopback, bare server")
    parser.add_argument("--child", nargs=2, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        if args.no_gc:
            gc.disable()
        asyncio.run(_calls(args.child[0], int(args.child[1]), args.chunks, args.bare))
        return 0
    what = "100-ID chunk of delete_scopes" if args.chunks else "get_record"
    options = (("--chunks", args.chunks), ("--no-gc", args.no_gc), ("--bare", args.bare))
    flags = [flag for flag, on in options if on]
    for variant in args.variants:
        counts = [_count(variant, n * args.calls, flags) for n in (1, 2)]
        per_call = (counts[1] - counts[0]) / args.calls
        print(f"{variant:<8} {per_call / 1000:8.1f}k instructions per {what}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
