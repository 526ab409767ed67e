"""Property test of the batch accounting (no sockets: a real client over a mock transport).

Random inputs (ints and strings, many duplicates, 0..1000 occurrences) meet a fake server whose
answer for each ID and each chunk is a pure function of the drawn parameters, so the expected
result can be computed by a simple sequential model and compared exactly, whatever order the
concurrent chunks finish in.
"""

from __future__ import annotations

import asyncio
import json
import random

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from seams import MockTransport, answer

from koodrive_backup import (
    APIConnectionError,
    APITimeoutError,
    BackupClient,
    BatchProgress,
    DeleteScopesResult,
    HttpRequest,
    KooDriveError,
    RawResponse,
    RetryPolicy,
)
from koodrive_backup.batching import delete_scopes

FATES = ("deleted", "deleted", "deleted", "failed", "both", "gone", "silent", "foreign")
OTHER_CODE = "15000999"


class Fates:
    """Per-ID and per-chunk behaviour of the fake server, derived from drawn numbers."""

    def __init__(self, salt: int, chunk_fail_every: int) -> None:
        self.salt = salt
        self.chunk_fail_every = chunk_fail_every

    def of(self, scope_id: str) -> str:
        return FATES[(int(scope_id) * 7919 + self.salt) % len(FATES)]

    def chunk_fails(self, chunk: list[str]) -> bool:
        return (int(chunk[0]) + self.salt) % self.chunk_fail_every == 0


class FakeServer:
    """Answers each chunk request per ``Fates``, letting other chunks overtake it."""

    def __init__(self, fates: Fates, seed: int) -> None:
        self.fates = fates
        self.rng = random.Random(seed)
        self.chunks: list[list[str]] = []

    async def __call__(self, request: HttpRequest) -> RawResponse:
        ids: list[str] = json.loads(request.body)["scopeIdList"]
        self.chunks.append(ids)
        for _ in range(self.rng.randrange(4)):  # let other chunks overtake this one
            await asyncio.sleep(0)
        if self.fates.chunk_fails(ids):
            return answer(500, {"code": 15000500, "msg": f"chunk starting {ids[0]}"})
        deleted: list[str] = []
        failed: list[dict[str, str]] = []
        for sid in ids:
            fate = self.fates.of(sid)
            if fate in ("deleted", "both", "foreign"):
                deleted.append(sid)
            if fate in ("failed", "both"):
                failed.append(failure(sid, OTHER_CODE, "refused"))
            elif fate == "gone":
                failed.append(failure(sid, "15000418", "not found"))
            if fate == "foreign":  # IDs that were never in this request: ignored
                deleted.append(f"9{sid}000")
                failed.append(failure(f"8{sid}000", OTHER_CODE, "stray"))
        self.rng.shuffle(deleted)
        return answer(200, {"code": 0, "scopeIdList": deleted, "failedScopeList": failed})


def failure(scope_id: str, code: str, msg: str) -> dict[str, str]:
    return {"scopeId": scope_id, "errorCode": code, "msg": msg}


async def delete_through(
    server: FakeServer | ChaosServer, source: object, **options: object
) -> DeleteScopesResult:
    transport = MockTransport(server)
    once = RetryPolicy(max_attempts=1)
    async with BackupClient(
        "https://kd.example", user_id="1", token="t", retry=once, transport=transport
    ) as client:
        return await delete_scopes(client, "device-1", source, **options)  # type: ignore[arg-type]


def expected(ids: list[str], fates: Fates, chunk_size: int) -> dict[str, object]:
    """The sequential model of API.md's accounting rules."""
    unique = list(dict.fromkeys(ids))
    chunks = [unique[i : i + chunk_size] for i in range(0, len(unique), chunk_size)]
    broken = {sid for chunk in chunks if fates.chunk_fails(chunk) for sid in chunk}
    deleted, failed, unprocessed, gone, seen = [], [], [], [], set()
    for sid in ids:
        if sid in seen:
            failed.append((sid, "15000424"))
            continue
        seen.add(sid)
        fate = fates.of(sid)
        if sid in broken or fate == "silent":
            unprocessed.append(sid)
        elif fate in ("deleted", "foreign"):
            deleted.append(sid)
            gone.append(sid)
        else:
            code = "15000418" if fate == "gone" else OTHER_CODE
            failed.append((sid, code))
            if fate == "gone":
                gone.append(sid)
    errors = [f"chunk starting {chunk[0]}" for chunk in chunks if fates.chunk_fails(chunk)]
    return {
        "deleted": deleted,
        "failed": failed,
        "unprocessed": unprocessed,
        "gone": gone,
        "errors": errors,
        "requests": len(chunks),
    }


scope_id = st.one_of(st.integers(0, 40), st.integers(0, 10**6))
element = st.tuples(scope_id, st.booleans()).map(lambda pair: pair[0] if pair[1] else str(pair[0]))


def bulk(size: int, pool: int, seed: int) -> list[int | str]:
    """Large inputs (hypothesis lists tend to be short): ``size`` draws from ``pool`` IDs."""
    rng = random.Random(seed)
    values = (rng.randrange(pool) for _ in range(size))
    return [value if rng.random() < 0.5 else str(value) for value in values]


inputs = st.one_of(
    st.lists(element, max_size=1000),
    st.builds(bulk, st.integers(0, 1000), st.integers(1, 3000), st.integers(0, 2**32)),
)


@settings(
    max_examples=100,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(
    values=inputs,
    chunk_size=st.integers(1, 100),
    concurrency=st.integers(1, 12),
    salt=st.integers(0, 10**6),
    chunk_fail_every=st.integers(2, 9),
    seed=st.integers(0, 2**32),
    as_generator=st.booleans(),
)
def test_every_occurrence_is_accounted_for_exactly_once_in_input_order(
    values: list[int | str],
    chunk_size: int,
    concurrency: int,
    salt: int,
    chunk_fail_every: int,
    seed: int,
    as_generator: bool,
) -> None:
    fates = Fates(salt, chunk_fail_every)
    server = FakeServer(fates, seed)
    progress: list[BatchProgress] = []
    ids = [str(value) for value in values]
    source = (value for value in values) if as_generator else values
    result = asyncio.run(
        delete_through(
            server,
            source,
            chunk_size=chunk_size,
            concurrency=concurrency,
            on_progress=progress.append,
        )
    )
    want = expected(ids, fates, chunk_size)

    assert list(result.deleted) == want["deleted"]
    assert [(f.scope_id, f.error_code) for f in result.failed] == want["failed"]
    assert list(result.unprocessed) == want["unprocessed"]
    assert list(result.gone) == want["gone"]
    assert [error.msg for error in result.errors] == want["errors"]  # type: ignore[attr-defined]
    assert result.ok == (not want["failed"] and not want["unprocessed"])
    # The invariant itself, independent of the model: each occurrence exactly once.
    settled = sorted([*result.deleted, *(f.scope_id for f in result.failed), *result.unprocessed])
    assert settled == sorted(ids)
    # Each unique ID was sent once, in chunks of at most chunk_size.
    sent = [sid for chunk in server.chunks for sid in chunk]
    assert sorted(sent) == sorted(set(ids))
    assert len(server.chunks) == want["requests"]
    assert all(1 <= len(chunk) <= chunk_size for chunk in server.chunks)
    # One progress report per chunk, running counts ending at the totals.
    assert len(progress) == want["requests"]
    assert [p.done for p in progress] == sorted(p.done for p in progress)
    for report in progress:
        assert report.total == len(ids)
        assert report.done == report.deleted + report.failed + report.unprocessed
    if progress:
        last = progress[-1]
        assert (last.done, last.deleted, last.failed, last.unprocessed) == (
            len(ids),
            len(result.deleted),
            len(result.failed),
            len(result.unprocessed),
        )


# --- issue 11: any exception inside a chunk is that chunk's error ------------------------------

#: What a chunk's request may meet: an answer, a typed SDK error, or anything nobody foresaw.
CHUNK_FATES = (
    "ok",
    "ok",
    "connection",
    "timeout",
    "garbage",
    "deep",
    "value",
    "key",
    "runtime",
    "recursion",
    "unicode",
    "zero",
    "auth",
)
UNFORESEEN = {
    "value": ValueError("bad value"),
    "key": KeyError("missing"),
    "runtime": RuntimeError("broken state"),
    "recursion": RecursionError("too deep"),
    "unicode": UnicodeDecodeError("utf-8", b"\xff", 0, 1, "invalid start byte"),
    "zero": ZeroDivisionError("division by zero"),
}


class ChaosServer:
    """Answers each chunk per a fate drawn from its first ID and a salt; records the chunks."""

    def __init__(self, salt: int, seed: int) -> None:
        self.salt = salt
        self.rng = random.Random(seed)
        self.chunks: list[list[str]] = []
        self.fates: dict[str, str] = {}

    def fate(self, chunk: list[str]) -> str:
        return CHUNK_FATES[(int(chunk[0]) * 31 + self.salt) % len(CHUNK_FATES)]

    async def __call__(self, request: HttpRequest) -> RawResponse:
        ids: list[str] = json.loads(request.body)["scopeIdList"]
        self.chunks.append(ids)
        fate = self.fates[ids[0]] = self.fate(ids)
        for _ in range(self.rng.randrange(3)):  # let other chunks overtake this one
            await asyncio.sleep(0)
        if fate in UNFORESEEN:
            raise UNFORESEEN[fate]
        if fate == "connection":
            raise APIConnectionError("reset")
        if fate == "timeout":
            raise APITimeoutError("timed out")
        if fate == "auth":
            return answer(401, {"code": 15000401, "msg": "token expired"})
        if fate == "garbage":
            return RawResponse(200, {}, b"\xff\xfe<html>")
        if fate == "deep":
            return RawResponse(200, {}, b"[" * 5000 + b"]" * 5000)
        return answer(200, {"code": 0, "scopeIdList": ids})


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    values=st.lists(st.integers(0, 400), max_size=400),
    chunk_size=st.integers(1, 30),
    concurrency=st.integers(1, 8),
    salt=st.integers(0, 10**6),
    seed=st.integers(0, 2**32),
)
def test_any_chunk_exception_is_that_chunks_error_and_every_occurrence_is_accounted_once(
    values: list[int], chunk_size: int, concurrency: int, salt: int, seed: int
) -> None:
    server = ChaosServer(salt, seed)
    result = asyncio.run(
        delete_through(server, values, chunk_size=chunk_size, concurrency=concurrency)
    )
    ids = [str(value) for value in values]
    settled = sorted([*result.deleted, *(f.scope_id for f in result.failed), *result.unprocessed])
    assert settled == sorted(ids)  # each occurrence exactly once, whatever went wrong
    assert [f.error_code for f in result.failed] == ["15000424"] * (len(ids) - len(set(ids)))
    sent = [sid for chunk in server.chunks for sid in chunk]
    assert len(sent) == len(set(sent))  # each ID sent at most once
    answered = {sid for chunk in server.chunks if server.fates[chunk[0]] == "ok" for sid in chunk}
    assert set(result.deleted) == answered
    assert set(result.unprocessed) == set(ids) - answered
    failed_chunks = [chunk for chunk in server.chunks if server.fates[chunk[0]] != "ok"]
    assert len(result.errors) == len(failed_chunks)
    assert all(isinstance(error, KooDriveError) for error in result.errors)
    unforeseen = [e for e in result.errors if type(e) is KooDriveError]
    expected = [name for name in (server.fates[c[0]] for c in failed_chunks) if name in UNFORESEEN]
    assert len(unforeseen) == len(expected)
    assert all("unexpected" in str(error) for error in unforeseen)
    # Only the 401 stops the batch (stops_batch); an unforeseen exception does not.
    if all(server.fates[chunk[0]] != "auth" for chunk in server.chunks):
        assert len(server.chunks) == -(-len(set(ids)) // chunk_size)
