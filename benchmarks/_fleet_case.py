"""``fleet``: what the job journal costs, and the memory of a million-ID job.

- Throughput: the same ``batch_ids`` scope IDs (8 devices of one user) deleted by
  ``run_job`` (a planned journal, 8 targets at once x 4 requests each = 32 in flight) and by
  plain ``delete_scopes`` per device (concurrency 32), against the bare server, runs
  interleaved; each variant opens and closes its client inside the timing. The plan is
  written before each timed run (it is ``cleanup plan``, not ``run``); the run's journal
  work (opening it, reading pending IDs, writing every outcome) is timed.
- Memory: a fresh child process plans and runs a ``memory_ids``-ID job (1,000,000 in a full
  run: 100 targets of 10,000 listed IDs) against the bare server; the growth of its peak RSS
  (``VmHWM``) over a warmed-up baseline, after the plan and after the run.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import tempfile
import time
from pathlib import Path

from koodrive_backup import BackupClient, RetryPolicy
from koodrive_backup.jobs import ClientOptions, RunOptions, WorkerSettings, plan_job, run_job

from ._config import FIRST_ID, TOKEN, USER_ID, Sizes, synthetic_ids
from ._driver import Sample, Series, Stopwatch, paired_ratio, rate
from ._memory import child_answer, peak_rss_kib
from ._report import CaseResult, Target, series_row, table_header
from ._servers import BARE, Server, server

__all__ = ["fleet_case", "measure"]

DEVICES = 8
JOB = {"options": RunOptions(concurrency=8), "worker": WorkerSettings(requests=4)}


def _manifest(path: Path, targets: int, per_target: int, start: int = 0) -> None:
    """``targets`` lines of ``per_target`` listed scope IDs each, written line by line."""
    with open(path, "w", encoding="ascii") as out:
        for target in range(targets):
            ids = list(synthetic_ids(per_target, start + target * per_target))
            line = {"user_id": USER_ID, "device_id": str(FIRST_ID + target), "module_code": "101"}
            out.write(json.dumps({**line, "scopes": ids}) + "\n")


def _options(url: str) -> ClientOptions:
    return ClientOptions(url, token=TOKEN, user_id=USER_ID, retry=RetryPolicy())


async def _cleanup_run(bare: Server, tmp: Path, count: int, run: int) -> Sample:
    manifest, journal = tmp / f"m{run}.jsonl", tmp / f"job{run}.db"
    _manifest(manifest, DEVICES, count // DEVICES, start=run * count)
    plan_job(manifest, journal)
    watch = Stopwatch(bare)
    watch.start()
    status = await run_job(journal, _options(bare.url), **JOB)  # type: ignore[arg-type]
    sample = watch.stop(count)
    if status.deleted != count:
        raise AssertionError(f"cleanup run deleted {status.deleted} of {count} IDs")
    return sample


async def _plain_run(bare: Server, count: int, concurrency: int) -> Sample:
    """The same IDs by ``delete_scopes`` per device, client opened and closed in the timing
    as ``run_job`` does with its own."""
    per_device = count // DEVICES
    watch = Stopwatch(bare)
    watch.start()
    deleted = 0
    async with _client(bare) as client:
        for device in range(DEVICES):
            ids = list(synthetic_ids(per_device, device * per_device))
            answer = await client.delete_scopes(
                str(FIRST_ID + device), ids, concurrency=concurrency
            )
            deleted += len(answer.deleted)
    sample = watch.stop(count)
    if deleted != count:
        raise AssertionError(f"delete_scopes deleted {deleted} of {count} IDs")
    return sample


async def fleet_case(sizes: Sizes) -> CaseResult:
    """Journal cost (IDs/s of ``cleanup run`` vs plain ``delete_scopes``) and job memory."""
    count, concurrency = sizes.batch_ids, sizes.batch_concurrency
    title = (
        f"fleet: {count:,} scope IDs on {DEVICES} devices, bare server; cleanup run (8 targets"
        f" x 4 requests) vs delete_scopes per device (concurrency {concurrency})"
    )
    result = CaseResult("fleet", title)
    plain_s, job_s = Series("plain delete_scopes per device"), Series("cleanup run (journal)")
    with tempfile.TemporaryDirectory(prefix="koodrive-fleet-") as tmp:
        async with server(BARE) as bare:
            await _plain_run(bare, DEVICES * 300, concurrency)  # warm-up
            await _cleanup_run(bare, Path(tmp), DEVICES * 300, -1)
            for run in range(sizes.runs):
                plain_s.samples.append(await _plain_run(bare, count, concurrency))
                job_s.samples.append(await _cleanup_run(bare, Path(tmp), count, run))
            memory = await _memory_child(bare.url, sizes.memory_ids)
    ratio = paired_ratio(job_s, plain_s, rate).median
    result.lines += [table_header("IDs/s"), series_row(plain_s), series_row(job_s, plain_s)]
    result.lines.append(_memory_line(memory))
    result.data = {"plain": plain_s.as_dict(), "job": job_s.as_dict(), "ratio": ratio}
    result.data["memory"] = memory
    name = "fleet: cleanup run IDs/s / plain" + (" (small: start-up weighs)" if sizes.quick else "")
    result.targets.append(Target(name, ratio, 0.75, "x", True))
    limit = 300.0 * sizes.memory_ids / 1_000_000 if sizes.quick else 300.0
    name = f"fleet: peak RSS growth, {sizes.memory_ids:,}-ID job" + (
        " (target scaled)" if sizes.quick else ""
    )
    growth = float(str(memory["growth_mb"]))
    result.targets.append(Target(name, growth, round(limit, 1), "MB", at_least=False))
    return result


def _client(bare: Server) -> BackupClient:
    return BackupClient(bare.url, user_id=USER_ID, token=TOKEN, retry=RetryPolicy())


def _memory_line(memory: dict[str, object]) -> str:
    return (
        f"    {memory['ids']:,} IDs: plan {memory['plan_s']:.1f} s, run {memory['run_s']:.1f} s;"
        f" peak RSS growth {memory['growth_mb']:.1f} MB (after plan {memory['plan_growth_mb']:.1f}"
        " MB), fresh process, VmHWM"
    )


# --- the memory child -------------------------------------------------------------------------


async def _memory_child(url: str, count: int) -> dict[str, object]:
    return await child_answer("benchmarks._fleet_case", f"--url={url}", f"--ids={count}")


async def measure(url: str, count: int) -> dict[str, object]:
    """Plan and run a ``count``-ID job in this process; peak RSS growth over a warm baseline."""
    targets = max(1, count // 10_000)
    with tempfile.TemporaryDirectory(prefix="koodrive-fleet-mem-") as tmp:
        folder = Path(tmp)
        _manifest(folder / "warm.jsonl", 2, 500, start=-10_000)
        plan_job(folder / "warm.jsonl", folder / "warm.db")
        await run_job(folder / "warm.db", _options(url), **JOB)  # type: ignore[arg-type]
        _manifest(folder / "m.jsonl", targets, count // targets)
        gc.collect()
        before, method = peak_rss_kib()
        started = time.perf_counter()
        plan_job(folder / "m.jsonl", folder / "job.db")
        planned, plan_s = peak_rss_kib()[0], time.perf_counter() - started
        started = time.perf_counter()
        status = await run_job(folder / "job.db", _options(url), **JOB)  # type: ignore[arg-type]
        after, run_s = peak_rss_kib()[0], time.perf_counter() - started
    if status.deleted != count:
        raise AssertionError(f"memory job deleted {status.deleted} of {count}")
    return {
        "ids": count,
        "plan_s": plan_s,
        "run_s": run_s,
        "plan_growth_mb": (planned - before) * 1024 / 1e6,
        "growth_mb": (after - before) * 1024 / 1e6,
        "method": f"peak RSS growth, {method}, fresh process",
    }


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m benchmarks._fleet_case")
    parser.add_argument("--url", required=True)
    parser.add_argument("--ids", type=int, default=1_000_000)
    args = parser.parse_args(argv)
    print(json.dumps(asyncio.run(measure(args.url, args.ids))), flush=True)


if __name__ == "__main__":
    main()
