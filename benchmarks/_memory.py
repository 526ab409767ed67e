"""Peak memory of ``delete_scopes`` over IDs from a generator, measured in a fresh process.

The parent runs ``python -m benchmarks._memory --url URL --ids N`` once per run against the
bare server and reads one JSON line. Method: the peak resident set size of the child,
``VmHWM`` in ``/proc/self/status`` (Linux), read after a warm-up batch (imports done,
connection pool open) and again after the big batch, while its result is still alive. The
growth of the peak is what the batch cost on top of a warmed-up client, result included.

Not ``resource.getrusage().ru_maxrss``: Linux carries it across ``exec`` from the parent's
memory at spawn time (so a big parent hides the child's growth); it is only the fallback
where ``/proc`` is missing. Not tracemalloc: it sees only Python allocations and slows the
run several times over.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import resource
import sys
import time

from koodrive_backup import BackupClient, RetryPolicy

from ._config import DEVICE_ID, TOKEN, USER_ID, Sizes, synthetic_ids
from ._driver import spread
from ._report import CaseResult, Target
from ._servers import BARE, REPO_ROOT, server

__all__ = ["memory_case"]


def peak_rss_kib() -> tuple[int, str]:
    """Peak RSS of this process in KiB, and how it was read."""
    try:
        with open("/proc/self/status", encoding="ascii") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]), "VmHWM (/proc/self/status)"
    except OSError:
        pass
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return (peak // 1024 if sys.platform == "darwin" else peak), "ru_maxrss"  # macOS: bytes


async def measure(url: str, count: int, concurrency: int) -> dict[str, object]:
    async with BackupClient(url, user_id=USER_ID, token=TOKEN, retry=RetryPolicy()) as client:
        await client.delete_scopes(DEVICE_ID, synthetic_ids(3_200, start=-10_000))
        gc.collect()
        before, method = peak_rss_kib()
        started = time.perf_counter()
        result = await client.delete_scopes(
            DEVICE_ID, synthetic_ids(count), concurrency=concurrency
        )
        wall = time.perf_counter() - started
        after, _ = peak_rss_kib()
        return {
            "ids": count,
            "deleted": len(result.deleted),
            "unprocessed": len(result.unprocessed),
            "peak_rss_before_kib": before,
            "peak_rss_after_kib": after,
            "growth_mb": (after - before) * 1024 / 1e6,
            "wall_s": wall,
            "method": f"peak RSS growth, {method}, fresh process",
        }


# --- parent side ----------------------------------------------------------------------------


async def child_answer(module: str, *args: str) -> dict[str, object]:
    """Run ``python -m module *args`` in a fresh process; its last stdout line, as JSON."""
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", module, *args, stdout=asyncio.subprocess.PIPE, cwd=REPO_ROOT
    )
    try:
        out, _ = await process.communicate()
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()
    if process.returncode != 0:
        raise RuntimeError(f"{module} child exited with status {process.returncode}")
    answer: dict[str, object] = json.loads(out.splitlines()[-1])
    return answer


async def _child_run(url: str, count: int, concurrency: int) -> dict[str, object]:
    args = (f"--url={url}", f"--ids={count}", f"--concurrency={concurrency}")
    return await child_answer("benchmarks._memory", *args)


async def memory_case(sizes: Sizes) -> CaseResult:
    """Peak RSS growth of one ``delete_scopes`` over ``memory_ids`` generated IDs."""
    count, concurrency = sizes.memory_ids, sizes.batch_concurrency
    result = CaseResult(
        "memory",
        f"memory: delete_scopes over {count:,} IDs from a generator (bare server, concurrency"
        f" {concurrency}), fresh process per run, peak RSS (VmHWM) growth",
    )
    async with server(BARE) as bare:
        runs = [await _child_run(bare.url, count, concurrency) for _ in range(sizes.memory_runs)]
    for run in runs:
        if run["deleted"] != count:
            raise AssertionError(f"memory run deleted {run['deleted']} of {count} IDs")
    growth = spread([float(str(run["growth_mb"])) for run in runs])
    wall = spread([float(str(run["wall_s"])) for run in runs])
    result.lines.append(
        f"    peak RSS growth median {growth.median:,.1f} MB [{growth.low:,.1f}-"
        f"{growth.high:,.1f}] over {len(runs)} run(s); {growth.median * 1e6 / count:,.0f}"
        f" bytes/ID; batch wall median {wall.median:.2f} s"
    )
    result.data = {"runs": runs, "growth_mb": growth.as_dict(), "wall_s": wall.as_dict()}
    limit = 250.0 * count / 1_000_000 if sizes.quick else 250.0
    name = f"memory: peak RSS growth, {count:,} IDs" + (" (target scaled)" if sizes.quick else "")
    result.targets.append(Target(name, growth.median, round(limit, 1), "MB", at_least=False))
    return result


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m benchmarks._memory")
    parser.add_argument("--url", required=True)
    parser.add_argument("--ids", type=int, default=1_000_000)
    parser.add_argument("--concurrency", type=int, default=32)
    args = parser.parse_args(argv)
    print(json.dumps(asyncio.run(measure(args.url, args.ids, args.concurrency))), flush=True)


if __name__ == "__main__":
    main()
