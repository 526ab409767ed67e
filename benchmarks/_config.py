"""Sizes of a full and a ``--quick`` run, and the constants the cases share."""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass, replace

from koodrive_backup.testing import PREFIX

__all__ = [
    "DEVICE_ID",
    "FIRST_ID",
    "FULL",
    "PREFIX",
    "QUICK",
    "RECORD_ID",
    "RECORD_PATH",
    "SCOPE_PATH",
    "TOKEN",
    "USER_ID",
    "Sizes",
    "raw_headers",
    "synthetic_ids",
    "x_date",
]

USER_ID = "1505084218764547200"
TOKEN = "bench-token-not-a-secret"
RECORD_ID = "1842862763295184641"  # the ID inside the bare server's canned answer
DEVICE_ID = "1842812272691451648"  # any valid ID: the bare server does not check it
FIRST_ID = 1_842_846_715_527_366_528  # where synthetic IDs start
#: The API's paths (``PREFIX`` is the fake's: ``/koodrive/ose/v1/backup``).
RECORD_PATH = PREFIX + "/record/"
SCOPE_PATH = PREFIX + "/device/{}/scope"


@dataclass(frozen=True)
class Sizes:
    """How much work each case does. Every timed case runs ``runs`` times after a warm-up."""

    quick: bool
    runs: int = 7  # at least 5; more pairs make the run-by-run ratios steadier
    warmup: int = 200  # calls before the timed runs of each variant, at each concurrency
    requests: int = 3000  # get_record calls per run (SDK, raw aiohttp)
    peer_requests: int = 1000  # httpx is ~10x slower: fewer calls keep a run above 1 s
    concurrencies: tuple[int, ...] = (1, 8, 32, 128)
    target_concurrency: int = 32
    retry_requests: int = 2000  # logical calls per run in the retry case
    decode_loops: int = 20_000  # calls per timing in the decode micro-benchmarks
    batch_ids: int = 100_000  # 1,000 chunks of 100
    batch_concurrency: int = 32
    batch_latency: float = 0.02
    overhead_requests: int = 300  # 100-ID deletes per run, fake vs bare server
    memory_ids: int = 1_000_000
    memory_runs: int = 5  # each is a fresh process deleting memory_ids IDs

    def with_runs(self, runs: int) -> Sizes:
        return replace(self, runs=runs, memory_runs=min(runs, self.memory_runs))


FULL = Sizes(quick=False)
QUICK = Sizes(
    quick=True,
    runs=5,
    warmup=30,
    requests=300,
    peer_requests=100,
    retry_requests=200,
    decode_loops=2_000,
    batch_ids=10_000,
    overhead_requests=40,
    memory_ids=20_000,
    memory_runs=1,
)


def x_date(margin: float = 5.0) -> str:
    """An ``X-Date`` value a few seconds in the past (the fake refuses future dates)."""
    return time.strftime("%Y%m%dT%H%M%SZ", time.gmtime(time.time() - margin))


def raw_headers(
    token: str = TOKEN, user_id: str = USER_ID, *, json_body: bool = False
) -> dict[str, str]:
    """What a hand-written client sends: the bearer token, the user and an ``X-Date`` (and,
    with ``json_body``, the content type of a JSON body)."""
    headers = {"Authorization": f"Bearer {token}", "X-User-Id": user_id, "X-Date": x_date()}
    if json_body:
        headers["Content-Type"] = "application/json"
    return headers


def synthetic_ids(count: int, start: int = 0) -> Iterator[str]:
    """19-digit decimal IDs like the server's, from ``FIRST_ID + start``, made one at a time
    (so a million never sit in memory as a list). They exist nowhere: for the bare server,
    which deletes whatever it is sent."""
    return (str(FIRST_ID + n) for n in range(start, start + count))
