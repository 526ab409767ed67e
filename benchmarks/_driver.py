"""The load driver and the statistics every case reports.

``drive`` runs ``concurrency`` worker coroutines that pull indexes from one shared counter
until ``total`` calls are done (no ``total`` tasks up front), and measures the wall time and
the CPU time of this process (``time.process_time``: user + system, all threads, not the
server's, which runs in another process).
"""

from __future__ import annotations

import asyncio
import itertools
import statistics
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any, Protocol

__all__ = [
    "CpuMeter",
    "Sample",
    "Series",
    "Spread",
    "Stopwatch",
    "cpu_us",
    "drive",
    "interleave",
    "paired_ratio",
    "rate",
    "ratios_to",
    "spread",
]

Call = Callable[[int], Awaitable[object]]


class CpuMeter(Protocol):
    """Something whose CPU time can be read, e.g. a server process (``None``: unknown)."""

    def cpu_seconds(self) -> float | None: ...


@dataclass(frozen=True)
class Sample:
    """One timed run: ``calls`` calls in ``wall`` seconds using ``cpu`` client CPU seconds
    (and ``server_cpu`` seconds of the server process, when it could be read)."""

    calls: int
    wall: float
    cpu: float
    server_cpu: float | None = None

    @property
    def rate(self) -> float:
        return self.calls / self.wall

    @property
    def cpu_us(self) -> float:
        return self.cpu / self.calls * 1e6

    @property
    def wall_us(self) -> float:
        return self.wall / self.calls * 1e6

    @property
    def server_cpu_us(self) -> float | None:
        return None if self.server_cpu is None else self.server_cpu / self.calls * 1e6


class Stopwatch:
    """Wall, client CPU and (optionally) server CPU between ``start()`` and ``stop(calls)``."""

    def __init__(self, server: CpuMeter | None = None) -> None:
        self._server = server
        self._cpu0 = self._wall0 = 0.0
        self._server0: float | None = None

    def start(self) -> None:
        self._server0 = None if self._server is None else self._server.cpu_seconds()
        self._cpu0, self._wall0 = time.process_time(), time.perf_counter()

    def stop(self, calls: int) -> Sample:
        wall, cpu = time.perf_counter() - self._wall0, time.process_time() - self._cpu0
        server_cpu = None
        if self._server is not None and self._server0 is not None:
            now = self._server.cpu_seconds()
            server_cpu = None if now is None else now - self._server0
        return Sample(calls, wall, cpu, server_cpu)


async def drive(call: Call, total: int, concurrency: int, server: CpuMeter | None = None) -> Sample:
    """Make ``total`` calls ``call(i)`` with at most ``concurrency`` in flight."""
    next_index = itertools.count().__next__

    async def worker() -> None:
        while (index := next_index()) < total:
            await call(index)

    watch = Stopwatch(server)
    watch.start()
    await asyncio.gather(*(worker() for _ in range(min(concurrency, total))))
    return watch.stop(total)


async def interleave(
    calls: Mapping[str, Call],
    total: int | Mapping[str, int],
    concurrency: int,
    *,
    runs: int,
    warmup: int,
    meter: CpuMeter | None = None,
    alternate: bool = False,
) -> dict[str, Series]:
    """A warm-up of ``warmup`` calls per variant, then ``runs`` rounds of one timed run of
    ``total`` calls (per variant, if a mapping) per variant. Interleaved, so that a noisy
    neighbour slows every variant alike; with ``alternate`` every other round runs them in
    reverse order (A B C, C B A, ...), so that a machine growing slower or faster during
    the case weighs on all of them alike too."""
    counts = total if isinstance(total, Mapping) else dict.fromkeys(calls, total)
    series = {name: Series(name) for name in calls}
    for call in calls.values():
        await drive(call, warmup, concurrency)
    names = list(calls)
    for run in range(runs):
        for name in reversed(names) if alternate and run % 2 else names:
            sample = await drive(calls[name], counts[name], concurrency, meter)
            series[name].samples.append(sample)
    return series


@dataclass(frozen=True)
class Spread:
    """Median and range of one metric over the runs (values kept for the JSON file)."""

    median: float
    low: float
    high: float
    values: tuple[float, ...]

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def spread(values: Sequence[float]) -> Spread:
    return Spread(statistics.median(values), min(values), max(values), tuple(values))


@dataclass
class Series:
    """The runs of one variant of one case (e.g. "SDK at concurrency 32")."""

    label: str
    samples: list[Sample] = field(default_factory=list)
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def rate(self) -> Spread:
        return spread([s.rate for s in self.samples])

    @property
    def cpu_us(self) -> Spread:
        return spread([s.cpu_us for s in self.samples])

    @property
    def wall(self) -> Spread:
        return spread([s.wall for s in self.samples])

    @property
    def wall_us(self) -> Spread:
        return spread([s.wall_us for s in self.samples])

    @property
    def server_cpu_us(self) -> Spread | None:
        values = [s.server_cpu_us for s in self.samples]
        known = [v for v in values if v is not None]
        return spread(known) if known and len(known) == len(values) else None

    def as_dict(self) -> dict[str, Any]:
        server = self.server_cpu_us
        return {
            "label": self.label,
            "calls_per_run": self.samples[0].calls if self.samples else 0,
            "runs": len(self.samples),
            "per_second": self.rate.as_dict(),
            "client_cpu_us_per_call": self.cpu_us.as_dict(),
            "wall_s": self.wall.as_dict(),
            "server_cpu_us_per_call": None if server is None else server.as_dict(),
            **self.extra,
        }


def paired_ratio(series: Series, baseline: Series, metric: Callable[[Sample], float]) -> Spread:
    """Run-by-run ratios ``metric(series run i) / metric(baseline run i)``.

    Runs of the variants are interleaved, so run ``i`` of each saw the same machine; the
    median of the per-run ratios is steadier than the ratio of the medians when neighbours
    make the machine's speed drift.
    """
    pairs = zip(series.samples, baseline.samples, strict=True)
    return spread([metric(mine) / metric(theirs) for mine, theirs in pairs])


def ratios_to(series: Series, baseline: Series) -> dict[str, Any]:
    """Run-by-run ratios of ``series`` to ``baseline``: req/s and client CPU per call."""
    return {
        "per_second": paired_ratio(series, baseline, rate).as_dict(),
        "client_cpu_us_per_call": paired_ratio(series, baseline, cpu_us).as_dict(),
    }


def rate(sample: Sample) -> float:
    return sample.rate


def cpu_us(sample: Sample) -> float:
    return sample.cpu_us
