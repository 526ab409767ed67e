"""Sizes of a full and a ``--quick`` run, and the constants the cases share."""

from __future__ import annotations

import time
from dataclasses import dataclass, replace

__all__ = ["FULL", "QUICK", "RECORD_ID", "TOKEN", "USER_ID", "Sizes", "x_date"]

USER_ID = "1505084218764547200"
TOKEN = "bench-token-not-a-secret"
RECORD_ID = "1842862763295184641"  # the ID inside the bare server's canned answer


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
