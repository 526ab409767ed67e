"""Client CPU of ``get_record`` without sockets, for instruction counting under callgrind.

The machine is shared and noisy; an instruction count is not. This runs ``--calls`` calls
of ``get_record`` through a ``BackupClient`` whose transport answers at once with the bare
server's canned record (aiohttp-like headers, a ``Date`` that moves with the clock), so all
that is counted is the SDK's own work per call plus the event loop's. Count twice and
subtract, so that start-up cancels out::

    for n in 2000 4000; do PYTHONHASHSEED=0 valgrind --tool=callgrind \\
        --callgrind-out-file=/tmp/cg.$n python -m benchmarks._instructions --calls $n; done
    # per call = (total at 4000 - total at 2000) / 2000 ("summary:" line of each file)

``--rate-limit`` gives the client a ``RateLimit`` that never blocks (a rate far above what
one core can send), to measure what waiting for a token costs when there is no wait.
``--url URL`` sends over aiohttp to a bare server started apart
(``python -m benchmarks._bare_server``), to count a whole ``get_record`` as a user pays it.
"""

from __future__ import annotations

import argparse
import asyncio
import email.utils
import time
from typing import Any

from multidict import CIMultiDict, CIMultiDictProxy

from koodrive_backup import BackupClient, HttpRequest, RawResponse

from ._bare_server import RECORD_BODY
from ._config import RECORD_ID, TOKEN, USER_ID

NEVER_BLOCKS = 1e9  # tokens per second (and burst): no call ever waits


class StubTransport:
    """Answers every request with the canned record, as aiohttp would hand it over."""

    def __init__(self) -> None:
        self._second = -1
        self._headers: CIMultiDictProxy[str] = CIMultiDictProxy(CIMultiDict())

    def _answer_headers(self) -> CIMultiDictProxy[str]:
        second = int(time.time())
        if second != self._second:  # a server's Date changes once a second
            self._second = second
            headers = CIMultiDict(
                {
                    "Content-Type": "application/json",
                    "Content-Length": str(len(RECORD_BODY)),
                    "Date": email.utils.formatdate(second, usegmt=True),
                    "Server": "Python/3.11 aiohttp/3",
                }
            )
            self._headers = CIMultiDictProxy(headers)
        return self._headers

    async def send(self, request: HttpRequest) -> RawResponse:
        return RawResponse(200, self._answer_headers(), RECORD_BODY)

    async def aclose(self) -> None:
        pass


async def run(calls: int, rate_limit: float | None, url: str | None) -> None:
    options: dict[str, Any] = {} if rate_limit is None else {"rate_limit": rate_limit}
    if url is None:
        options["transport"] = StubTransport()
    async with BackupClient(
        url or "https://bench.example", user_id=USER_ID, token=TOKEN, **options
    ) as client:
        for _ in range(calls):
            record = await client.get_record(RECORD_ID)
        assert record.record_id == RECORD_ID


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m benchmarks._instructions")
    parser.add_argument("--calls", type=int, default=2000)
    parser.add_argument("--rate-limit", action="store_true", help="a limiter that never blocks")
    parser.add_argument("--url", help="a bare server's URL (default: the stub transport)")
    args = parser.parse_args()
    asyncio.run(run(args.calls, NEVER_BLOCKS if args.rate_limit else None, args.url))


if __name__ == "__main__":
    main()
