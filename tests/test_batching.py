"""delete_scopes / iter_delete_scopes against the fake KooDrive server (real sockets, loopback)."""

from __future__ import annotations

import asyncio
import gc
import logging
import threading
import warnings
from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest

from koodrive_backup import (
    AuthenticationError,
    BackupClient,
    BatchProgress,
    DeleteScopesResult,
    KooDriveError,
    PermissionDeniedError,
    RetryPolicy,
    ScopeFailure,
    ServerError,
)
from koodrive_backup.batching import ChunkOutcome, iter_delete_scopes
from koodrive_backup.testing import FakeKooDrive, Fault

ROUTE = "batchDeleteBackupScope"
FAST_RETRY = RetryPolicy(initial_delay=0.001, max_delay=0.01)


@pytest.fixture
async def client(fake: FakeKooDrive) -> AsyncIterator[BackupClient]:
    async with BackupClient(
        fake.url, user_id=fake.user_id, token=fake.token, retry=FAST_RETRY
    ) as backup:
        yield backup


@pytest.fixture
def threaded_fake() -> Iterator[FakeKooDrive]:
    """A fake served by its own event loop in a thread: the test loop then holds only the
    client's tasks, so "no task left behind" can be checked exactly."""
    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()

    def run(coro: Any) -> Any:
        return asyncio.run_coroutine_threadsafe(coro, loop).result(timeout=10)

    async def start() -> FakeKooDrive:
        return await FakeKooDrive().start()

    server: FakeKooDrive = run(start())
    try:
        yield server
    finally:
        run(server.close())
        loop.call_soon_threadsafe(loop.stop)
        thread.join(timeout=10)
        loop.close()


def sent_chunks(fake: FakeKooDrive) -> list[list[str]]:
    return [req.json["scopeIdList"] for req in fake.requests if req.route == ROUTE]


def chunk_holding(scope_id: str) -> Any:
    return lambda req: scope_id in ((req.json or {}).get("scopeIdList") or [])


def codes(result: DeleteScopesResult) -> dict[str, str]:
    return {f.scope_id: f.error_code for f in result.failed if f.error_code != "15000424"}


# --- validation: nothing is sent ------------------------------------------------------------


@pytest.mark.parametrize(
    ("bad", "error"),
    [
        (1.5, TypeError),
        (True, TypeError),
        (None, TypeError),
        (b"12", TypeError),
        ("", ValueError),
        ("a b", ValueError),
        ("12\x00", ValueError),
        ("12\u200b", ValueError),  # Cf (zero-width space)
        ("\t", ValueError),
    ],
)
async def test_a_bad_element_is_refused_by_position_before_any_request(
    fake: FakeKooDrive, client: BackupClient, bad: object, error: type[Exception]
) -> None:
    device_id = fake.add_device()
    ids = fake.add_scopes(device_id, 150)

    def source() -> Iterator[object]:
        yield from ids  # the bad element comes after more than one chunk's worth
        yield bad

    with pytest.raises(error, match=r"scope_ids\[150\]"):
        await client.delete_scopes(device_id, source())  # type: ignore[arg-type]
    with pytest.raises(error, match=r"scope_ids\[150\]"):
        iter_delete_scopes(client, device_id, source())  # type: ignore[arg-type]
    assert fake.requests == [] and fake.route_counts[ROUTE] == 0
    assert all(fake.has_scope(device_id, sid) for sid in ids)


@pytest.mark.parametrize(
    ("options", "error"),
    [
        ({"chunk_size": 0}, ValueError),
        ({"chunk_size": 101}, ValueError),
        ({"chunk_size": 5.0}, TypeError),
        ({"concurrency": 0}, ValueError),
        ({"concurrency": -1}, ValueError),
        ({"on_progress": "print"}, TypeError),
        ({"chunksize": 10}, TypeError),  # a misspelt option is not silently ignored
    ],
)
async def test_bad_options_are_refused_before_any_request(
    fake: FakeKooDrive, client: BackupClient, options: dict[str, Any], error: type[Exception]
) -> None:
    device_id = fake.add_device()
    ids = fake.add_scopes(device_id, 3)
    with pytest.raises(error):
        await client.delete_scopes(device_id, ids, **options)
    with pytest.raises(error):
        iter_delete_scopes(client, device_id, ids, **options)
    assert fake.requests == []


@pytest.mark.parametrize("device_id", ["", "a/b", "..", "x y"])
async def test_a_bad_device_id_is_refused_before_any_request(
    fake: FakeKooDrive, client: BackupClient, device_id: str
) -> None:
    with pytest.raises(ValueError, match="device_id"):
        await client.delete_scopes(device_id, ["1"])
    assert fake.requests == []


@pytest.mark.parametrize("not_ids", ["123", b"123", 123])
async def test_a_lone_string_or_number_is_not_an_iterable_of_ids(
    fake: FakeKooDrive, client: BackupClient, not_ids: Any
) -> None:
    with pytest.raises(TypeError, match="iterable"):
        await client.delete_scopes(fake.add_device(), not_ids)
    assert fake.requests == []


async def test_empty_input_returns_an_empty_result_without_a_request(
    fake: FakeKooDrive, client: BackupClient
) -> None:
    reports: list[BatchProgress] = []
    result = await client.delete_scopes(fake.add_device(), iter(()), on_progress=reports.append)
    assert result == DeleteScopesResult() and result.ok and result.gone == ()
    assert fake.requests == [] and reports == []


async def test_a_closed_client_raises_runtime_error(fake: FakeKooDrive) -> None:
    client = BackupClient(fake.url, user_id=fake.user_id, token=fake.token)
    await client.close()
    with pytest.raises(RuntimeError, match="closed"):
        await client.delete_scopes(fake.add_device(), ["1", "2"])
    with pytest.raises(RuntimeError, match="closed"):
        await client.delete_scopes(fake.add_device(), [])  # even with nothing to send
    with pytest.raises(RuntimeError, match="closed"):
        client.iter_delete_scopes(fake.add_device(), ["1"])
    assert fake.requests == []


async def test_a_client_closed_mid_batch_ends_it_with_a_result(fake: FakeKooDrive) -> None:
    """Issue 11: a batch never ends without a result but for cancellation. The chunk that
    meets the closed client fails (a KooDriveError naming the RuntimeError) and no new chunk
    is started: every occurrence is still accounted for."""
    device_id = fake.add_device()
    ids = fake.add_scopes(device_id, 50)
    client = BackupClient(fake.url, user_id=fake.user_id, token=fake.token)

    async def close_after_the_second(progress: BatchProgress) -> None:
        if progress.done == 20:
            await client.close()

    result = await client.delete_scopes(
        device_id, ids, chunk_size=10, concurrency=1, on_progress=close_after_the_second
    )
    assert result.deleted == tuple(ids[:20]) and result.unprocessed == tuple(ids[20:])
    (error,) = result.errors  # the third chunk; the rest was never started
    assert type(error) is KooDriveError and "RuntimeError: this BackupClient is closed" in str(
        error
    )
    assert fake.route_counts[ROUTE] == 2


# --- chunking, concurrency, dedupe ----------------------------------------------------------


async def test_250_ids_go_in_requests_of_100_100_50(
    fake: FakeKooDrive, client: BackupClient
) -> None:
    device_id = fake.add_device()
    ids = fake.add_scopes(device_id, 250)
    result = await client.delete_scopes(device_id, ids, concurrency=1)
    assert [len(chunk) for chunk in sent_chunks(fake)] == [100, 100, 50]
    assert [sid for chunk in sent_chunks(fake) for sid in chunk] == ids
    assert result.deleted == tuple(ids) and result.ok and result.gone == tuple(ids)
    assert not any(fake.has_scope(device_id, sid) for sid in ids)


async def test_at_most_concurrency_requests_are_in_flight(
    fake: FakeKooDrive, client: BackupClient
) -> None:
    device_id = fake.add_device()
    ids = fake.add_scopes(device_id, 100)
    fake.latency = 0.01
    result = await client.delete_scopes(device_id, ids, chunk_size=5, concurrency=3)
    assert fake.route_counts[ROUTE] == 20
    assert 1 < fake.max_in_flight <= 3
    assert result.deleted == tuple(ids)  # input order, whatever order the chunks finished in


async def test_duplicates_across_chunks_are_sent_once_and_reported_as_repeats(
    fake: FakeKooDrive, client: BackupClient
) -> None:
    device_id = fake.add_device()
    ids = fake.add_scopes(device_id, 30)
    given: list[str | int] = [*ids[:20], int(ids[3]), *ids[20:], ids[25], int(ids[0]), ids[3]]
    result = await client.delete_scopes(device_id, given, chunk_size=7)
    sent = [sid for chunk in sent_chunks(fake) for sid in chunk]
    assert sent == ids  # every ID once, in input order
    assert result.deleted == tuple(ids)
    assert [(f.scope_id, f.error_code) for f in result.failed] == [
        (ids[3], "15000424"),
        (ids[25], "15000424"),
        (ids[0], "15000424"),
        (ids[3], "15000424"),
    ]
    assert result.gone == tuple(ids) and not result.ok


# --- partial failures ------------------------------------------------------------------------


async def test_a_lost_answer_is_retried_and_reported_as_not_found_and_gone(
    fake: FakeKooDrive, client: BackupClient
) -> None:
    device_id = fake.add_device()
    ids = fake.add_scopes(device_id, 250)
    fake.inject(Fault.lose_response(), route=ROUTE, when=chunk_holding(ids[100]))
    result = await client.delete_scopes(device_id, ids)
    assert result.deleted == (*ids[:100], *ids[200:])
    assert codes(result) == dict.fromkeys(ids[100:200], "15000418")
    assert [f.scope_id for f in result.failed] == ids[100:200]  # input order
    assert result.gone == tuple(ids) and result.unprocessed == () and result.errors == ()
    assert not any(fake.has_scope(device_id, sid) for sid in ids)
    assert fake.route_counts[ROUTE] == 4


async def test_a_chunk_that_fails_after_retries_leaves_its_ids_unprocessed(
    fake: FakeKooDrive, client: BackupClient
) -> None:
    device_id = fake.add_device()
    ids = fake.add_scopes(device_id, 250)
    attempts = client.retry.max_attempts
    fake.inject(Fault.status(500), route=ROUTE, when=chunk_holding(ids[100]), times=attempts)
    result = await client.delete_scopes(device_id, ids)
    assert result.unprocessed == tuple(ids[100:200])
    assert result.deleted == (*ids[:100], *ids[200:])
    assert len(result.errors) == 1 and isinstance(result.errors[0], ServerError)
    assert result.errors[0].status == 500 and not result.ok
    assert all(fake.has_scope(device_id, sid) for sid in ids[100:200])
    again = await client.delete_scopes(device_id, result.unprocessed)  # the documented remedy
    assert again.ok and again.deleted == tuple(ids[100:200])
    assert not any(fake.has_scope(device_id, sid) for sid in ids)


async def test_errors_are_kept_for_every_failed_chunk_in_chunk_order(
    fake: FakeKooDrive, client: BackupClient
) -> None:
    device_id = fake.add_device()
    ids = fake.add_scopes(device_id, 50)
    attempts = client.retry.max_attempts
    fake.inject(Fault.status(503), route=ROUTE, when=chunk_holding(ids[40]), times=attempts)
    fake.inject(Fault.status(500), route=ROUTE, when=chunk_holding(ids[10]), times=attempts)
    result = await client.delete_scopes(device_id, ids, chunk_size=10, concurrency=5)
    assert [error.status for error in result.errors] == [500, 503]  # type: ignore[attr-defined]
    assert result.unprocessed == (*ids[10:20], *ids[40:50])
    assert result.deleted == (*ids[:10], *ids[20:40])


async def test_ids_the_server_does_not_know_are_failed_with_its_code(
    fake: FakeKooDrive, client: BackupClient
) -> None:
    device_id = fake.add_device()
    ids = fake.add_scopes(device_id, 3)
    result = await client.delete_scopes(device_id, [ids[0], 424242, ids[1], "999", ids[2]])
    assert result.deleted == tuple(ids)
    assert codes(result) == {"424242": "15000418", "999": "15000418"}
    assert result.gone == (ids[0], "424242", ids[1], "999", ids[2])


@pytest.mark.parametrize("refusal", [AuthenticationError, PermissionDeniedError])
async def test_an_auth_failure_stops_new_chunks(
    fake: FakeKooDrive, refusal: type[Exception]
) -> None:
    device_id = fake.add_device()
    ids = fake.add_scopes(device_id, 250)
    if refusal is AuthenticationError:
        user_id, token = fake.user_id, "not-a-valid-token"
    else:  # a valid token used for another user's X-User-Id: 403
        user_id, token = fake.add_user().user_id, fake.token
    reports: list[BatchProgress] = []
    async with BackupClient(fake.url, user_id=user_id, token=token, retry=FAST_RETRY) as client:
        result = await client.delete_scopes(
            device_id, ids, concurrency=1, on_progress=reports.append
        )
    assert fake.route_counts[ROUTE] == 1
    assert result.unprocessed == tuple(ids) and result.deleted == () and result.failed == ()
    assert len(result.errors) == 1 and isinstance(result.errors[0], refusal)
    assert [r.done for r in reports] == [100, 200, 250] and reports[-1].unprocessed == 250
    assert all(fake.has_scope(device_id, sid) for sid in ids)


async def test_an_auth_failure_with_concurrency_sends_at_most_the_chunks_in_flight(
    fake: FakeKooDrive,
) -> None:
    device_id = fake.add_device()
    ids = fake.add_scopes(device_id, 1000)
    async with BackupClient(fake.url, user_id=fake.user_id, token="wrong", retry=FAST_RETRY) as c:
        result = await c.delete_scopes(device_id, ids, chunk_size=10, concurrency=4)
    assert 1 <= fake.route_counts[ROUTE] <= 4
    assert len(result.errors) == fake.route_counts[ROUTE]
    assert result.unprocessed == tuple(ids)


# --- progress and streaming ------------------------------------------------------------------


async def test_sync_progress_counts_occurrences_with_repeats_in_their_first_chunk(
    fake: FakeKooDrive, client: BackupClient
) -> None:
    device_id = fake.add_device()
    ids = fake.add_scopes(device_id, 25)
    reports: list[BatchProgress] = []
    given = [*ids, ids[0], ids[24], "777"]  # two repeats; "777" does not exist
    await client.delete_scopes(
        device_id, given, chunk_size=10, concurrency=1, on_progress=reports.append
    )
    assert reports == [
        BatchProgress(done=11, total=28, deleted=10, failed=1, unprocessed=0),
        BatchProgress(done=21, total=28, deleted=20, failed=1, unprocessed=0),
        BatchProgress(done=28, total=28, deleted=25, failed=3, unprocessed=0),
    ]


async def test_async_progress_is_awaited_after_each_chunk(
    fake: FakeKooDrive, client: BackupClient
) -> None:
    device_id = fake.add_device()
    ids = fake.add_scopes(device_id, 95)
    reports: list[BatchProgress] = []

    async def report(progress: BatchProgress) -> None:
        await asyncio.sleep(0)
        reports.append(progress)

    result = await client.delete_scopes(device_id, ids, chunk_size=10, on_progress=report)
    assert len(reports) == 10
    assert [r.done for r in reports] == sorted(r.done for r in reports)
    assert reports[-1] == BatchProgress(95, 95, 95, 0, 0) and result.ok


async def test_a_raising_progress_callback_is_logged_and_the_batch_goes_on(
    fake: FakeKooDrive, client: BackupClient, caplog: pytest.LogCaptureFixture
) -> None:
    device_id = fake.add_device()
    ids = fake.add_scopes(device_id, 30)

    def broken(progress: BatchProgress) -> None:
        raise ZeroDivisionError("bad callback")

    with caplog.at_level(logging.WARNING, logger="koodrive_backup"):
        result = await client.delete_scopes(device_id, ids, chunk_size=10, on_progress=broken)
    assert result.ok and result.deleted == tuple(ids)
    warned = [
        r for r in caplog.records if r.name == "koodrive_backup" and "on_progress" in r.message
    ]
    assert len(warned) == 3 and all(r.levelno == logging.WARNING for r in warned)


async def test_the_stream_yields_each_chunk_and_then_the_merged_result(
    fake: FakeKooDrive, client: BackupClient
) -> None:
    device_id = fake.add_device()
    ids = fake.add_scopes(device_id, 45)
    fake.inject(Fault.lose_response(), route=ROUTE, when=chunk_holding(ids[12]))
    given = [*ids, ids[12], "555"]
    outcomes: list[ChunkOutcome[str, ScopeFailure]] = []
    async with iter_delete_scopes(client, device_id, given, chunk_size=10) as stream:
        async for outcome in stream:
            outcomes.append(outcome)
    assert sorted(o.index for o in outcomes) == [0, 1, 2, 3, 4]
    by_index = {o.index: o for o in outcomes}
    assert by_index[1].deleted == () and by_index[1].error is None
    assert [(f.scope_id, f.error_code) for f in by_index[1].failed] == [
        *((sid, "15000418") for sid in ids[10:20]),
        (ids[12], "15000424"),  # the repeat travels with its first occurrence's chunk
    ]
    assert by_index[4].deleted == tuple(ids[40:]) and by_index[4].failed[0].scope_id == "555"
    result = stream.result
    assert result.deleted == (*ids[:10], *ids[20:])
    assert result.gone == (*ids, "555")
    settled = [sid for o in outcomes for sid in (*o.deleted, *o.unprocessed)]
    settled += [f.scope_id for o in outcomes for f in o.failed]
    assert sorted(settled) == sorted(given)


# --- soak and cancellation -------------------------------------------------------------------


async def test_soak_10000_ids_with_transient_faults_and_lost_answers(fake: FakeKooDrive) -> None:
    device_id = fake.add_device()
    ids = fake.add_scopes(device_id, 10_000)
    given: list[str | int] = [*ids, *(int(sid) for sid in ids[::50])]  # 200 repeats
    fake.record_requests = False
    transient = [Fault.status(503), Fault.status(500), Fault.status(502), Fault.disconnect()]
    fake.set_random_faults(0.25, [*transient, Fault.lose_response()], seed=4, route=ROUTE)
    retry = RetryPolicy(max_attempts=6, initial_delay=0.001, max_delay=0.005)
    async with BackupClient(fake.url, user_id=fake.user_id, token=fake.token, retry=retry) as c:
        result = await c.delete_scopes(device_id, given, concurrency=8)
        firsts = [f.scope_id for f in result.failed if f.error_code != "15000424"]
        unique_settled = [*result.deleted, *firsts, *result.unprocessed]
        assert sorted(unique_settled) == sorted(ids)  # none lost, none in two lists
        assert len(result.failed) - len(firsts) == 200
        assert {f.error_code for f in result.failed} <= {"15000418", "15000424"}
        assert not any(fake.has_scope(device_id, sid) for sid in result.gone)
        assert set(result.gone) == set(result.deleted) | set(firsts)
        assert len(firsts) > 0  # the lost answers did happen, and were accounted for
        fake.clear_faults()
        rest = await c.delete_scopes(device_id, result.unprocessed)
        assert rest.ok
    assert fake.scope_ids(device_id) == []


async def test_cancelling_the_call_cancels_requests_in_flight_and_leaves_no_task(
    threaded_fake: FakeKooDrive,
) -> None:
    fake = threaded_fake
    device_id = fake.add_device()
    ids = fake.add_scopes(device_id, 1000)
    fake.latency = 0.3
    client = BackupClient(fake.url, user_id=fake.user_id, token=fake.token, retry=FAST_RETRY)
    first_chunk_done = asyncio.Event()
    task = asyncio.create_task(
        client.delete_scopes(
            device_id,
            ids,
            chunk_size=50,
            concurrency=2,
            on_progress=lambda progress: first_chunk_done.set(),
        )
    )
    await first_chunk_done.wait()
    for _ in range(2000):  # until the next chunk's request is at the server
        if fake.route_counts[ROUTE] >= 3:
            break
        await asyncio.sleep(0.005)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert fake.in_flight >= 1  # we did not wait for the server's answer
    assert asyncio.all_tasks() == {asyncio.current_task()}
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        await client.close()
        gc.collect()
    assert caught == []
    assert fake.route_counts[ROUTE] <= 4


async def test_leaving_a_stream_early_cancels_its_chunks(
    threaded_fake: FakeKooDrive,
) -> None:
    fake = threaded_fake
    device_id = fake.add_device()
    ids = fake.add_scopes(device_id, 200)
    fake.latency = 0.05
    async with BackupClient(fake.url, user_id=fake.user_id, token=fake.token) as client:
        async with iter_delete_scopes(client, device_id, ids, chunk_size=10, concurrency=2) as s:
            async for outcome in s:
                assert outcome.deleted
                break
        assert asyncio.all_tasks() == {asyncio.current_task()}
        result = s.result  # known after an early exit too: what settled, and the rest
    assert fake.route_counts[ROUTE] < 20
    assert set(outcome.deleted) <= set(result.deleted) and not result.failed
    assert sorted((*result.deleted, *result.unprocessed)) == sorted(ids)  # each once
    assert not any(fake.has_scope(device_id, sid) for sid in result.deleted)


async def test_a_stream_left_early_keeps_outcomes_that_settled_but_were_not_read(
    fake: FakeKooDrive, client: BackupClient
) -> None:
    device_id = fake.add_device()
    ids = fake.add_scopes(device_id, 50)
    given = [*ids, ids[3]]
    three_settled = asyncio.Event()

    def report(progress: BatchProgress) -> None:
        if progress.done >= 30:
            three_settled.set()

    stream = client.iter_delete_scopes(
        device_id, given, chunk_size=10, concurrency=1, on_progress=report
    )
    async with stream:
        first = await anext(stream)
        await three_settled.wait()  # two more chunks settle while nobody reads them
    result = stream.result
    assert first.index == 0
    assert result.deleted[:30] == tuple(ids[:30])  # the unread chunks 1 and 2 are kept
    assert [f.error_code for f in result.failed] == ["15000424"]  # the repeat, once
    assert len(result.deleted) + len(result.failed) + len(result.unprocessed) == len(given)
    # What is still on the server is unprocessed (a chunk cut off in flight may be gone too).
    assert {sid for sid in ids if fake.has_scope(device_id, sid)} <= set(result.unprocessed)
