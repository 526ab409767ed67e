"""Batch scope deletion: server-bound wall time, throughput vs raw aiohttp, the fake's cost.

- ``batch_latency``: the fake adds 20 ms per request; deleting 100,000 existing scopes in
  1,000 chunks at concurrency 32 should take about ``ceil(1000 / 32) * 20 ms`` (the server
  bound), not more.
- ``batch_throughput``: no latency, bare server; chunk requests/s of ``delete_scopes`` vs raw
  aiohttp sending the same 1,000 JSON bodies at the same concurrency.
- ``fake_overhead`` (issue #3): one 100-ID delete round trip through the fake vs through a
  bare aiohttp handler, same raw client, concurrency 1.
"""

from __future__ import annotations

import json
import math
import tempfile
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import aiohttp

from koodrive_backup import BackupClient, RetryPolicy

from ._config import DEVICE_ID, SCOPE_PATH, TOKEN, USER_ID, Sizes, raw_headers, synthetic_ids
from ._driver import Sample, Series, Stopwatch, drive, paired_ratio, rate
from ._http_cases import new_session
from ._report import CaseResult, Target, series_row, table_header
from ._servers import BARE, FAKE, Server, server

__all__ = ["batch_latency_case", "batch_throughput_case", "fake_overhead_case"]

CHUNK = 100
Call = Callable[[int], Awaitable[object]]


def chunked(ids: list[str]) -> list[list[str]]:
    return [ids[start : start + CHUNK] for start in range(0, len(ids), CHUNK)]


def _bodies(ids: list[str]) -> list[tuple[bytes, int]]:
    """Ready JSON bodies of 100-ID chunks, each with its ID count."""
    return [(json.dumps({"scopeIdList": chunk}).encode(), len(chunk)) for chunk in chunked(ids)]


@asynccontextmanager
async def seeded_fake(scopes: int, *extra: str) -> AsyncIterator[tuple[Server, list[str]]]:
    """The fake (its own standalone entry point) with ``scopes`` seeded scopes, and their IDs."""
    with tempfile.TemporaryDirectory(prefix="koodrive-bench-") as tmp:
        ids_file = Path(tmp) / "scope_ids.txt"
        args = ["--port", "0", "--json", "--no-log", "--seed-scopes", str(scopes)]
        args += ["--scope-ids-file", str(ids_file), *extra]
        async with server(FAKE, *args) as fake:
            yield fake, ids_file.read_text().split()


def _client(srv: Server) -> BackupClient:
    user_id, token = srv.info.get("user_id", USER_ID), srv.info.get("token", TOKEN)
    return BackupClient(srv.url, user_id=user_id, token=token, retry=RetryPolicy())


# --- batch_latency ---------------------------------------------------------------------------


async def batch_latency_case(sizes: Sizes) -> CaseResult:
    """Wall time of ``delete_scopes`` against a 20 ms server vs the ideal server bound, with
    raw aiohttp deleting the same number of (other) seeded scopes as the reference."""
    latency, concurrency = sizes.batch_latency, sizes.batch_concurrency
    chunks = math.ceil(sizes.batch_ids / CHUNK)
    ideal = math.ceil(chunks / concurrency) * latency
    title = (
        f"batch_latency: {sizes.batch_ids:,} IDs ({chunks:,} chunks), fake server +"
        f"{latency * 1000:.0f} ms/request, concurrency {concurrency}"
    )
    result = CaseResult("batch_latency", title)
    warm = CHUNK * concurrency
    per_variant = warm + sizes.batch_ids * sizes.runs
    sdk_s, raw_s = Series("SDK delete_scopes"), Series("raw aiohttp, same bodies")
    async with (
        seeded_fake(2 * per_variant, "--latency", str(latency)) as (fake, ids),
        _client(fake) as client,
        new_session() as session,
    ):
        device_id = fake.info["device_id"]
        sdk_ids, raw_ids = ids[:per_variant], ids[per_variant:]

        async def raw_batch(batch: list[str]) -> Sample:
            call = _delete_call(session, fake, device_id, _bodies(batch))
            return await drive(call, math.ceil(len(batch) / CHUNK), concurrency, fake)

        await client.delete_scopes(device_id, sdk_ids[:warm], concurrency=concurrency)
        await raw_batch(raw_ids[:warm])
        for run in range(sizes.runs):
            start = warm + run * sizes.batch_ids
            sdk_s.samples.append(
                await _sdk_batch(client, fake, sdk_ids[start:][: sizes.batch_ids], concurrency)
            )
            raw_s.samples.append(await raw_batch(raw_ids[start:][: sizes.batch_ids]))
    _latency_report(result, sdk_s, raw_s, ideal, chunks, sizes)
    return result


async def _sdk_batch(
    client: BackupClient, fake: Server, batch: list[str], concurrency: int
) -> Sample:
    watch = Stopwatch(fake)
    watch.start()
    answer = await client.delete_scopes(fake.info["device_id"], batch, concurrency=concurrency)
    sample = watch.stop(math.ceil(len(batch) / CHUNK))
    _check_all_deleted(answer.deleted, batch, answer.errors)
    return sample


def _latency_report(
    result: CaseResult, sdk: Series, raw: Series, ideal: float, chunks: int, sizes: Sizes
) -> None:
    concurrency, latency = sizes.batch_concurrency, sizes.batch_latency
    result.lines.append(
        f"    ideal: ceil({chunks}/{concurrency}) x {latency * 1000:.0f} ms"
        f" = {ideal * 1000:,.0f} ms per batch"
    )
    for series in (raw, sdk):
        wall = series.wall
        result.lines.append(
            f"    {series.label:<36} wall median {wall.median * 1000:,.0f} ms"
            f" [{wall.low * 1000:,.0f}-{wall.high * 1000:,.0f}] = {wall.median / ideal:.2f}x ideal"
        )
    result.lines += [table_header("chunks/s"), series_row(raw), series_row(sdk, raw)]
    result.data = {
        "sdk": sdk.as_dict(),
        "raw": raw.as_dict(),
        "ideal_wall_s": ideal,
        "sdk_ratio_to_ideal": sdk.wall.median / ideal,
        "raw_ratio_to_ideal": raw.wall.median / ideal,
    }
    result.targets.append(
        Target(
            "batch 20 ms latency: SDK wall time / ideal", sdk.wall.median / ideal, 1.25, "x", False
        )
    )


def _check_all_deleted(deleted: tuple[str, ...], batch: list[str], errors: tuple[Any, ...]) -> None:
    if len(deleted) != len(batch):
        raise AssertionError(
            f"delete_scopes deleted {len(deleted)} of {len(batch)} IDs; errors: {errors[:3]!r}"
        )


# --- batch_throughput ------------------------------------------------------------------------


def _throughput_calls(
    url: str, ids: list[str], client: BackupClient, session: aiohttp.ClientSession, sizes: Sizes
) -> tuple[Call, Call]:
    bodies = chunked(ids)
    delete_url, headers = url + SCOPE_PATH.format(DEVICE_ID), raw_headers(json_body=True)

    async def raw(index: int) -> object:
        body = json.dumps({"scopeIdList": bodies[index]}).encode()
        async with session.delete(delete_url, data=body, headers=headers) as response:
            return await response.json()

    async def sdk(_: int) -> object:
        answer = await client.delete_scopes(DEVICE_ID, ids, concurrency=sizes.batch_concurrency)
        _check_all_deleted(answer.deleted, ids, answer.errors)
        return answer

    return raw, sdk


async def batch_throughput_case(sizes: Sizes) -> CaseResult:
    """Chunk requests/s: ``delete_scopes`` vs raw aiohttp sending the same bodies."""
    chunks, concurrency = math.ceil(sizes.batch_ids / CHUNK), sizes.batch_concurrency
    title = (
        f"batch_throughput: {sizes.batch_ids:,} IDs ({chunks:,} DELETE bodies), bare server,"
        f" no latency, concurrency {concurrency}"
    )
    result = CaseResult("batch_throughput", title)
    ids = list(synthetic_ids(sizes.batch_ids))
    raw_series, sdk_series = Series("raw aiohttp, same bodies"), Series("SDK delete_scopes")
    async with server(BARE) as bare, new_session() as session, _client(bare) as client:
        raw, sdk = _throughput_calls(bare.url, ids, client, session, sizes)
        await drive(raw, min(chunks, 3 * concurrency), concurrency)
        await client.delete_scopes(DEVICE_ID, ids[: 3 * concurrency * CHUNK])
        for _ in range(sizes.runs):
            raw_series.samples.append(await drive(raw, chunks, concurrency, bare))
            sample = await drive(sdk, 1, 1, bare)  # one call = the whole batch
            sdk_series.samples.append(_per_chunk(sample, chunks))
    result.lines.append(table_header("chunks/s"))
    result.lines += [series_row(raw_series), series_row(sdk_series, raw_series)]
    ratio = paired_ratio(sdk_series, raw_series, rate).median
    result.data = {"raw": raw_series.as_dict(), "sdk": sdk_series.as_dict(), "ratio": ratio}
    result.targets.append(
        Target("batch no latency: SDK chunks/s / raw aiohttp", ratio, 0.95, "x", at_least=True)
    )
    return result


def _per_chunk(sample: Sample, chunks: int) -> Sample:
    """A one-call sample of a whole batch, restated per chunk request."""
    return Sample(chunks, sample.wall, sample.cpu, sample.server_cpu)


# --- fake_overhead (issue #3) ----------------------------------------------------------------


def _delete_call(
    session: aiohttp.ClientSession, srv: Server, device_id: str, bodies: list[tuple[bytes, int]]
) -> Call:
    """A raw aiohttp call that sends the next body and checks every ID was deleted."""
    user_id, token = srv.info.get("user_id", USER_ID), srv.info.get("token", TOKEN)
    url = srv.url + SCOPE_PATH.format(device_id)
    headers = raw_headers(token, user_id, json_body=True)
    queue = iter(bodies)

    async def call(_: int) -> object:
        body, count = next(queue)
        async with session.delete(url, data=body, headers=headers) as response:
            answer = await response.json()
        if response.status != 200 or len(answer.get("scopeIdList", ())) != count:
            raise AssertionError(f"{srv.url}: HTTP {response.status}, {str(answer)[:200]}")
        return answer

    return call


async def fake_overhead_case(sizes: Sizes) -> CaseResult:
    """Round trip of one 100-ID delete: the fake vs a bare handler, concurrency 1."""
    result = CaseResult(
        "fake_overhead", "fake_overhead: one 100-ID scope delete, raw aiohttp client, concurrency 1"
    )
    warm = min(sizes.warmup, 50)
    calls_needed = warm + sizes.overhead_requests * sizes.runs
    fake_s, bare_s = Series("fake server (koodrive_backup.testing)"), Series("bare aiohttp handler")
    async with (
        seeded_fake(calls_needed * CHUNK) as (fake, ids),
        server(BARE) as bare,
        new_session() as session,
    ):
        bodies = _bodies(ids)
        fake_call = _delete_call(session, fake, fake.info["device_id"], bodies)
        bare_call = _delete_call(session, bare, DEVICE_ID, bodies)
        await drive(fake_call, warm, 1)
        await drive(bare_call, warm, 1)
        for _ in range(sizes.runs):
            fake_s.samples.append(await drive(fake_call, sizes.overhead_requests, 1, fake))
            bare_s.samples.append(await drive(bare_call, sizes.overhead_requests, 1, bare))
    ratio = paired_ratio(fake_s, bare_s, lambda sample: sample.wall_us).median
    result.lines += [table_header("deletes/s"), series_row(bare_s), series_row(fake_s, bare_s)]
    result.lines.append(
        f"    round trip median: fake {fake_s.wall_us.median:,.0f} us, bare"
        f" {bare_s.wall_us.median:,.0f} us -> {ratio:.2f}x (run-by-run)"
    )
    result.data = {
        "fake": fake_s.as_dict(),
        "bare": bare_s.as_dict(),
        "round_trip_us": {"fake": fake_s.wall_us.as_dict(), "bare": bare_s.wall_us.as_dict()},
        "ratio": ratio,
    }
    result.targets.append(
        Target("fake: 100-ID delete round trip / bare handler", ratio, 1.5, "x", at_least=False)
    )
    return result
