"""``python -m benchmarks [--quick] [--runs N] [--case NAME ...] [--out DIR]``.

Runs every case (servers in separate processes), prints one table per case and PASS/MISS
per target, and writes ``<out>/<mode>-<timestamp>.json`` and ``.png``. Exit status: 0 when
every case ran (targets are measured, never asserted), 1 when a case crashed, 2 on bad usage.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import time
import traceback
from collections.abc import Awaitable, Callable
from dataclasses import asdict
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from ._batch_cases import batch_latency_case, batch_throughput_case, fake_overhead_case
from ._config import FULL, QUICK, Sizes
from ._fleet_case import fleet_case
from ._http_cases import get_record_case, retry_case
from ._memory import memory_case
from ._micro_cases import decode_case, retry_wrapper_case
from ._ratelimit_case import rate_limit_case
from ._report import CaseResult, machine_facts, write_chart, write_json
from ._telemetry_case import telemetry_case

Case = Callable[[Sizes], Awaitable[CaseResult]]
CASES: dict[str, Case] = {
    "decode": decode_case,
    "retry_wrapper": retry_wrapper_case,
    "get_record": get_record_case,
    "telemetry": telemetry_case,
    "retry": retry_case,
    "rate_limit": rate_limit_case,
    "batch_throughput": batch_throughput_case,
    "batch_latency": batch_latency_case,
    "fake_overhead": fake_overhead_case,
    "memory": memory_case,
    "fleet": fleet_case,
}
DEFAULT_OUT = Path(__file__).resolve().parent / "results"


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks",
        description="Benchmark the SDK against raw aiohttp and an httpx+pydantic peer.",
    )
    parser.add_argument("--quick", action="store_true", help="tiny sizes (CI smoke run)")
    parser.add_argument("--runs", type=int, help="timed runs per case (default 5)")
    parser.add_argument(
        "--case", action="append", choices=sorted(CASES), help="run only this case (repeatable)"
    )
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help="where results go")
    args = parser.parse_args(argv)
    if args.runs is not None and args.runs < 1:
        parser.error("--runs must be >= 1")
    return args


async def run_case(name: str, case: Case, sizes: Sizes) -> CaseResult:
    started = time.perf_counter()
    try:
        result = await case(sizes)
    except Exception:  # a crash is reported, the other cases still run
        result = CaseResult(name, name, error=traceback.format_exc())
    result.seconds = time.perf_counter() - started
    return result


def print_case(result: CaseResult) -> None:
    print(f"\n== {result.title}  ({result.seconds:.1f} s)", flush=True)
    if result.error is not None:
        print(f"  CRASHED:\n{result.error}", flush=True)
        return
    for line in result.lines:
        print(line)
    for target in result.targets:
        print(target.line())
    sys.stdout.flush()


async def run_all(names: list[str], sizes: Sizes) -> list[CaseResult]:
    results = []
    for name in names:
        result = await run_case(name, CASES[name], sizes)
        print_case(result)
        results.append(result)
    return results


def summary(results: list[CaseResult]) -> list[str]:
    lines = ["", "== targets (one run; measured, not asserted)"]
    lines += [target.line() for result in results for target in result.targets]
    crashed = [result.name for result in results if result.error is not None]
    if crashed:
        lines.append(f"  CRASHED cases: {', '.join(crashed)}")
    return lines


def document(results: list[CaseResult], sizes: Sizes, machine: dict[str, Any]) -> dict[str, Any]:
    return {
        "command": " ".join(["python -m benchmarks", *sys.argv[1:]]),
        "finished": datetime.now(UTC).isoformat(timespec="seconds"),
        "mode": "quick" if sizes.quick else "full",
        "machine": {**machine, "load_average_at_end": list(os.getloadavg())},  # Unix only
        "sizes": asdict(sizes),
        "cases": {
            r.name: {"title": r.title, "seconds": r.seconds, "error": r.error, **r.data}
            for r in results
        },
        "targets": [t.as_dict() for r in results for t in r.targets],
    }


def save(results: list[CaseResult], sizes: Sizes, machine: dict[str, Any], out: Path) -> None:
    stem = f"{'quick' if sizes.quick else 'full'}-{datetime.now():%Y%m%d-%H%M%S}"
    json_path = out / f"{stem}.json"
    write_json(json_path, document(results, sizes, machine))
    print(f"\nresults: {json_path}")
    curves = next((r.data.get("chart") for r in results if r.name == "get_record"), None)
    if curves:
        title = (
            f"get_record, bare server on loopback ({machine['usable_cpus']} CPUs,"
            f" Python {machine['python']}, aiohttp {machine['versions']['aiohttp']})"
        )
        chart_path = out / f"{stem}.png"
        if write_chart(chart_path, curves, title):
            print(f"chart:   {chart_path}")


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    sizes = QUICK if args.quick else FULL
    if args.runs is not None:
        sizes = sizes.with_runs(args.runs)
    names = args.case or list(CASES)
    machine = machine_facts()
    print(
        f"koodrive_backup benchmarks ({'quick' if sizes.quick else 'full'}, {sizes.runs} runs):"
        f" Python {machine['python']}, {machine['usable_cpus']} CPUs,"
        f" aiohttp {machine['versions']['aiohttp']}, load {machine['load_average_at_start']}"
    )
    started = time.perf_counter()
    results = asyncio.run(run_all(names, sizes))
    print("\n".join(summary(results)))
    save(results, sizes, machine, args.out)
    print(f"total {time.perf_counter() - started:.1f} s")
    return 1 if any(result.error is not None for result in results) else 0


if __name__ == "__main__":
    sys.exit(main())
