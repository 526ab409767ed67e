"""``get_record`` over real sockets: the SDK vs raw aiohttp vs the httpx+pydantic peer.

Two raw baselines (issue 15): hand-written aiohttp with its defaults (what users write), and
hand-written aiohttp on the session the SDK builds for this API (``_transport.sdk_session``:
the limit of this stack). All variants talk to the bare server (canned answers, separate
process), so the numbers measure the clients. Runs are interleaved (raw, SDK, peer, raw,
...) so that a noisy neighbour slows all variants alike and the ratios stay fair.
"""

from __future__ import annotations

import itertools
from collections.abc import Awaitable, Callable
from contextlib import AsyncExitStack
from typing import Any

import aiohttp

from koodrive_backup import BackupClient, RetryPolicy
from koodrive_backup._transport import sdk_session

from ._bare_server import RECORD_SIZE
from ._config import RECORD_ID, RECORD_PATH, TOKEN, USER_ID, Sizes, raw_headers
from ._driver import Series, cpu_us, interleave, paired_ratio, rate, ratios_to
from ._peer import PeerClient
from ._report import CaseResult, Target, series_row, table_header
from ._servers import BARE, server

__all__ = ["get_record_case", "retry_case"]

Call = Callable[[int], Awaitable[object]]
RAW, SDK, PEER = "raw aiohttp", "SDK (BackupClient)", "peer (httpx + pydantic)"
RAW_TUNED = "raw aiohttp, SDK session settings"


def new_session() -> aiohttp.ClientSession:
    return aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=100))


async def _variants(url: str, stack: AsyncExitStack) -> dict[str, Call]:
    session = await stack.enter_async_context(new_session())
    tuned, options = sdk_session()
    await stack.enter_async_context(tuned)
    client = await stack.enter_async_context(
        BackupClient(url, user_id=USER_ID, token=TOKEN, retry=RetryPolicy())
    )
    peer = PeerClient(url, user_id=USER_ID, token=TOKEN)
    stack.push_async_callback(peer.close)
    record_url, headers = url + RECORD_PATH + RECORD_ID, raw_headers()

    async def raw(_: int) -> object:
        async with session.get(record_url, headers=headers) as response:
            return await response.json()

    async def raw_tuned(_: int) -> object:
        async with tuned.get(record_url, headers=headers, **options) as response:
            return await response.json()

    async def sdk(_: int) -> object:
        return await client.get_record(RECORD_ID)

    async def peer_call(_: int) -> object:
        return await peer.get_record(RECORD_ID)

    return {RAW: raw, RAW_TUNED: raw_tuned, SDK: sdk, PEER: peer_call}


async def _check_answers(calls: dict[str, Call]) -> None:
    """A benchmark of wrong answers is worthless: every variant must decode the record."""
    raw = await calls[RAW](0)
    if not isinstance(raw, dict) or raw["data"]["recordId"] != RECORD_ID:
        raise AssertionError(f"raw aiohttp got {raw!r}")
    tuned = await calls[RAW_TUNED](0)
    if not isinstance(tuned, dict) or tuned["data"]["recordId"] != RECORD_ID:
        raise AssertionError(f"raw aiohttp on the SDK's session got {tuned!r}")
    for name in (SDK, PEER):
        record = await calls[name](0)
        if getattr(record, "record_id", None) != RECORD_ID:
            raise AssertionError(f"{name} decoded {record!r}")


async def get_record_case(sizes: Sizes) -> CaseResult:
    """Requests/s and client CPU per request at each concurrency, plus the c=32 targets."""
    result = CaseResult("get_record", f"get_record: bare server, {RECORD_SIZE}-byte answer")
    result.lines.append(table_header("req/s"))
    by_concurrency: dict[int, dict[str, Series]] = {}
    async with server(BARE) as bare, AsyncExitStack() as stack:
        calls = await _variants(bare.url, stack)
        await _check_answers(calls)
        counts = {name: sizes.peer_requests if name == PEER else sizes.requests for name in calls}
        for concurrency in sizes.concurrencies:
            series = await interleave(
                calls, counts, concurrency, runs=sizes.runs, warmup=sizes.warmup, meter=bare
            )
            by_concurrency[concurrency] = series
            result.lines.append(f"  concurrency {concurrency}")
            result.lines.extend(series_row(s, series[RAW]) for s in series.values())
            cpu = paired_ratio(series[SDK], series[RAW], cpu_us)
            result.lines.append(
                f"    SDK client CPU per request / raw: {cpu.median:.2f}x"
                f" [{cpu.low:.2f}-{cpu.high:.2f}] (run-by-run)"
            )
    result.data = {
        "server": "bare aiohttp (benchmarks._bare_server)",
        "by_concurrency": {
            str(c): {name: s.as_dict() for name, s in series.items()}
            for c, series in by_concurrency.items()
        },
        "ratios_to_raw": {str(c): ratios(series) for c, series in by_concurrency.items()},
        "chart": _curves(by_concurrency),
    }
    at = by_concurrency.get(sizes.target_concurrency)
    if at is not None:
        result.targets += _targets(at, sizes.target_concurrency)
    return result


def ratios(series: dict[str, Series]) -> dict[str, Any]:
    """Per variant: run-by-run ratios to raw aiohttp (req/s and client CPU per request)."""
    raw = series[RAW]
    return {name: ratios_to(s, raw) for name, s in series.items() if s is not raw}


def _targets(series: dict[str, Series], concurrency: int) -> list[Target]:
    """Issue 15's targets: the SDK against hand-written aiohttp, with its defaults and with
    the SDK's session settings (req/s, run-by-run medians)."""
    sdk = series[SDK]
    return [
        Target(
            f"get_record c={concurrency}: SDK req/s / raw aiohttp (defaults)",
            paired_ratio(sdk, series[RAW], rate).median,
            1.00,
            "x",
            at_least=True,
        ),
        Target(
            f"get_record c={concurrency}: SDK req/s / raw aiohttp (SDK session settings)",
            paired_ratio(sdk, series[RAW_TUNED], rate).median,
            0.90,
            "x",
            at_least=True,
        ),
    ]


def _curves(by_concurrency: dict[int, dict[str, Series]]) -> dict[str, list[dict[str, float]]]:
    curves: dict[str, list[dict[str, float]]] = {}
    for concurrency, series in by_concurrency.items():
        for name, s in series.items():
            rate = s.rate
            point = {"concurrency": concurrency, "median": rate.median}
            curves.setdefault(name, []).append({**point, "low": rate.low, "high": rate.high})
    return curves


# --- the retry path ------------------------------------------------------------------------


async def _retry_variants(url: str, faulty_url: str, stack: AsyncExitStack) -> dict[str, Call]:
    """Each logical call gets a fresh record ID: the faulty server answers 503 to its first
    request and 200 to the second, so every call costs exactly one retry."""
    session = await stack.enter_async_context(new_session())
    # The retry path itself: no quota (every call here fails once; the quota is not the
    # subject, and it would stop retries after 100 of them).
    no_wait = RetryPolicy(initial_delay=0.0, max_delay=0.0, retry_quota=None)
    client = await stack.enter_async_context(
        BackupClient(url, user_id=USER_ID, token=TOKEN, retry=no_wait)
    )
    faulty = await stack.enter_async_context(
        BackupClient(faulty_url, user_id=USER_ID, token=TOKEN, retry=no_wait)
    )
    headers, fresh = raw_headers(), itertools.count()

    async def raw_retrying(_: int) -> Any:
        url = f"{faulty_url}{RECORD_PATH}w{next(fresh)}"
        while True:
            async with session.get(url, headers=headers) as response:
                if response.status != 503:
                    return await response.json()
                await response.read()

    async def sdk_clean(_: int) -> object:
        return await client.get_record(RECORD_ID)

    async def sdk_retrying(_: int) -> object:
        return await faulty.get_record(f"s{next(fresh)}")

    return {
        "raw aiohttp, 503 then 200 (hand loop)": raw_retrying,
        "SDK, no faults": sdk_clean,
        "SDK, 503 then 200 (one retry)": sdk_retrying,
    }


async def retry_case(sizes: Sizes) -> CaseResult:
    """The cost of one retry: every call answered 503 once then 200, vs no faults."""
    result = CaseResult("retry", f"retry path: get_record, concurrency {sizes.target_concurrency}")
    result.lines.append(table_header("calls/s"))
    async with (
        server(BARE) as bare,
        server(BARE, "--fail-first") as faulty,
        AsyncExitStack() as stack,
    ):
        calls = await _retry_variants(bare.url, faulty.url, stack)
        series = await interleave(
            calls,
            sizes.retry_requests,
            sizes.target_concurrency,
            runs=sizes.runs,
            warmup=sizes.warmup,
        )
    raw, clean, retrying = series.values()
    result.lines += [series_row(clean), series_row(raw), series_row(retrying, raw)]
    cpu_ratio = paired_ratio(retrying, clean, cpu_us).median
    result.lines.append(
        f"    one retry costs {retrying.cpu_us.median - clean.cpu_us.median:.1f} us of client CPU"
        f" per call ({cpu_ratio:.2f}x a clean call; two HTTP exchanges instead of one)"
    )
    vs_raw = paired_ratio(retrying, raw, cpu_us).median
    result.data = {
        "series": {name: s.as_dict() for name, s in series.items()},
        "retry_cpu_ratio_vs_clean": cpu_ratio,
        "retry_cpu_ratio_vs_raw_loop": vs_raw,
        "retry_rate_ratio_vs_raw_loop": paired_ratio(retrying, raw, rate).median,
    }
    result.targets.append(
        Target("one retry: SDK client CPU per call / raw retry loop", vs_raw, 1.5, "x", False)
    )
    return result
