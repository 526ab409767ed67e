"""Results: targets with PASS/MISS, the printed table, the JSON file and the PNG chart."""

from __future__ import annotations

import json
import os
import platform
import sys
from dataclasses import asdict, dataclass, field
from importlib import metadata
from pathlib import Path
from typing import Any

from ._driver import Series, Spread, paired_ratio, rate

__all__ = [
    "CaseResult",
    "Target",
    "machine_facts",
    "series_row",
    "table_header",
    "write_chart",
    "write_json",
]

RATE_WIDTH = 30


@dataclass(frozen=True)
class Target:
    """A goal from issue #7, checked against one run's numbers (never asserted)."""

    name: str
    value: float
    limit: float
    unit: str
    at_least: bool  # True: value >= limit passes; False: value <= limit passes

    @property
    def passed(self) -> bool:
        return self.value >= self.limit if self.at_least else self.value <= self.limit

    def line(self) -> str:
        verdict = "PASS" if self.passed else "MISS"
        sign = ">=" if self.at_least else "<="
        return (
            f"  {verdict}  {self.name:<58} {self.value:>9.2f}{self.unit:<3}"
            f" target {sign} {self.limit:g}{self.unit}"
        )

    def as_dict(self) -> dict[str, Any]:
        return {**asdict(self), "passed": self.passed}


@dataclass
class CaseResult:
    """What one case produced: printable lines, JSON data, targets, or the crash."""

    name: str
    title: str
    lines: list[str] = field(default_factory=list)
    data: dict[str, Any] = field(default_factory=dict)
    targets: list[Target] = field(default_factory=list)
    error: str | None = None
    seconds: float = 0.0


def fmt_rate(rate: Spread) -> str:
    text = f"{rate.median:,.0f} [{rate.low:,.0f}-{rate.high:,.0f}]"
    return f"{text:>{RATE_WIDTH}}"


def table_header(unit: str = "calls/s") -> str:
    return (
        f"    {'variant':<36}{unit + ' median [min-max]':>{RATE_WIDTH}}"
        f"{'CPU us/call':>13}{'server us':>11}{'ratio':>8}"
    )


def series_row(series: Series, baseline: Series | None = None) -> str:
    """``label  rate [range]  client CPU  server CPU  rate ratio to the baseline`` (the
    median of the run-by-run ratios, see ``paired_ratio``)."""
    ratio = ""
    if baseline is not None and len(series.samples) == len(baseline.samples):
        ratio = f"{paired_ratio(series, baseline, rate).median:.2f}x"
    server = series.server_cpu_us
    server_text = "" if server is None else f"{server.median:.1f}"
    return (
        f"    {series.label:<36}{fmt_rate(series.rate)}"
        f"{series.cpu_us.median:>13.1f}{server_text:>11}{ratio:>8}"
    )


def machine_facts() -> dict[str, Any]:
    versions: dict[str, str | None] = {}
    for dist in ("aiohttp", "httpx", "pydantic", "cattrs", "attrs", "tenacity", "orjson"):
        try:
            versions[dist] = metadata.version(dist)
        except metadata.PackageNotFoundError:
            versions[dist] = None
    try:
        versions["koodrive-backup"] = metadata.version("koodrive-backup")
    except metadata.PackageNotFoundError:
        versions["koodrive-backup"] = None
    affinity = os.sched_getaffinity(0) if hasattr(os, "sched_getaffinity") else None
    return {
        "python": sys.version.split()[0],
        "implementation": platform.python_implementation(),
        "platform": platform.platform(),
        "machine": platform.machine(),
        "cpu_count": os.cpu_count(),
        "usable_cpus": None if affinity is None else len(affinity),
        "load_average_at_start": list(os.getloadavg()) if hasattr(os, "getloadavg") else None,
        "versions": versions,
    }


def write_json(path: Path, document: dict[str, Any]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(document, indent=2, default=str) + "\n")


def write_chart(path: Path, curves: dict[str, list[dict[str, float]]], title: str) -> bool:
    """Requests/s against concurrency, one line per variant with min-max error bars.

    ``curves`` maps a label to points ``{"concurrency", "median", "low", "high"}``. Returns
    False (and writes nothing) when matplotlib is not installed.
    """
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return False
    figure, axes = plt.subplots(figsize=(8, 5), dpi=110)
    for label, points in curves.items():
        xs = [p["concurrency"] for p in points]
        ys = [p["median"] for p in points]
        below = [p["median"] - p["low"] for p in points]
        above = [p["high"] - p["median"] for p in points]
        errors = [below, above]
        axes.errorbar(xs, ys, yerr=errors, marker="o", capsize=3, label=label)
    axes.set_xscale("log", base=2)
    axes.set_xticks(sorted({p["concurrency"] for pts in curves.values() for p in pts}))
    axes.get_xaxis().set_major_formatter(matplotlib.ticker.ScalarFormatter())
    axes.set_xlabel("concurrency (requests in flight)")
    axes.set_ylabel("requests/s (median, min-max bars)")
    axes.set_ylim(bottom=0)
    axes.set_title(title)
    axes.grid(True, alpha=0.3)
    axes.legend()
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.tight_layout()
    figure.savefig(path)
    plt.close(figure)
    return True
