"""``rate_limit``: how exactly a ``RateLimit`` paces calls, and what it costs when it does not.

Accuracy: N ``get_record`` calls through ``RateLimit(R)`` (burst R) at concurrency 32
against the bare server take at least ``(N - burst) / R`` seconds (the contract); the
ratio wall / that ideal shows how close the pacing is (1.00 = exact, above = slower).

Cost: client CPU per ``get_record`` with a limiter that never blocks (a rate no machine
reaches) against the same client without one, runs interleaved; target: at most 3% more.
For a figure that does not move on a shared machine, count instructions instead
(``python -m benchmarks.instructions plain ratelimit``).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from contextlib import AsyncExitStack

from koodrive_backup import BackupClient, RateLimit, RetryPolicy

from ._config import RECORD_ID, TOKEN, USER_ID, Sizes
from ._driver import Series, cpu_us, drive, interleave, paired_ratio, spread
from ._report import CaseResult, Target, series_row, table_header
from ._servers import BARE, server

__all__ = ["rate_limit_case"]

NEVER_BLOCKS = 1e9  # tokens per second and burst
NONE, LIMITED = "SDK, no rate limit", "SDK, RateLimit that never blocks"


async def _client(stack: AsyncExitStack, url: str, limit: RateLimit | None) -> BackupClient:
    client = BackupClient(url, user_id=USER_ID, token=TOKEN, retry=RetryPolicy(), rate_limit=limit)
    return await stack.enter_async_context(client)


def _get_record(client: BackupClient) -> Callable[[int], Awaitable[object]]:
    return lambda _: client.get_record(RECORD_ID)


async def _accuracy(url: str, rate: float, calls: int, runs: int) -> dict[str, object]:
    """Wall time of ``calls`` calls through a fresh ``RateLimit(rate)``, per run."""
    ideal = (calls - int(rate)) / rate
    walls = []
    for _ in range(runs):
        async with AsyncExitStack() as stack:
            client = await _client(stack, url, RateLimit(rate))
            sample = await drive(_get_record(client), calls, 32)
        walls.append(sample.wall)
    wall = spread(walls)
    return {
        "rate": rate,
        "calls": calls,
        "ideal_s": ideal,
        "wall_s": wall.as_dict(),
        "wall_over_ideal": wall.median / ideal,
    }


async def _cost(url: str, sizes: Sizes) -> dict[str, Series]:
    async with AsyncExitStack() as stack:
        calls = {
            NONE: _get_record(await _client(stack, url, None)),
            LIMITED: _get_record(await _client(stack, url, RateLimit(NEVER_BLOCKS))),
        }
        return await interleave(
            calls, sizes.requests, sizes.target_concurrency, runs=sizes.runs, warmup=sizes.warmup
        )


async def rate_limit_case(sizes: Sizes) -> CaseResult:
    """Pacing accuracy at two rates, then the CPU toll of a limiter that never blocks."""
    result = CaseResult("rate_limit", "rate_limit: RateLimit pacing and cost, bare server")
    seconds = 0.5 if sizes.quick else 2.0  # the ideal duration of each accuracy run
    async with server(BARE) as bare:
        accuracy = [
            await _accuracy(bare.url, rate, int(rate * (1 + seconds)), min(3, sizes.runs))
            for rate in (100.0, 1000.0)
        ]
        series = await _cost(bare.url, sizes)
    result.lines.append(f"    {'pacing':<36}{'ideal s':>10}{'wall s median':>16}{'wall/ideal':>12}")
    for row in accuracy:
        label = f"{row['calls']} calls at RateLimit({row['rate']:g})"
        wall = row["wall_s"]["median"]  # type: ignore[index]
        result.lines.append(
            f"    {label:<36}{row['ideal_s']:>10.2f}{wall:>16.3f}{row['wall_over_ideal']:>12.3f}"
        )
    result.lines += [table_header("req/s"), series_row(series[NONE])]
    result.lines.append(series_row(series[LIMITED], series[NONE]))
    ratio = paired_ratio(series[LIMITED], series[NONE], cpu_us)
    result.lines.append(
        f"    client CPU per call, limiter / none: {ratio.median:.3f}x"
        f" [{ratio.low:.3f}-{ratio.high:.3f}] (run-by-run)"
    )
    result.data = {
        "accuracy": accuracy,
        "cost": {name: s.as_dict() for name, s in series.items()},
        "cpu_ratio_limiter_to_none": ratio.as_dict(),
    }
    name = "rate_limit: client CPU, never-blocking limiter / none"
    result.targets.append(Target(name, ratio.median, 1.03, "x", at_least=False))
    return result
