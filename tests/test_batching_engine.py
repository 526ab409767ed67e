"""The generic batch engine (``run_batch`` / ``stream_batch``) with in-process ``send_chunk`` s."""

from __future__ import annotations

import asyncio
import logging

import pytest

from koodrive_backup import (
    AuthenticationError,
    BatchProgress,
    KooDriveError,
    ScopeFailure,
    ServerError,
)
from koodrive_backup.batching import BatchResult, ChunkAnswer, run_batch, stream_batch


def repeated(key: int) -> ScopeFailure:
    return ScopeFailure(str(key), "15000424", "repeat")


async def delete_all(chunk: list[int]) -> ChunkAnswer[int, ScopeFailure]:
    await asyncio.sleep(0)
    return ChunkAnswer(deleted=tuple(chunk))


async def test_keys_of_any_hashable_type_are_deduped_chunked_and_merged() -> None:
    chunks: list[list[int]] = []

    async def send(chunk: list[int]) -> ChunkAnswer[int, ScopeFailure]:
        chunks.append(chunk)
        gone = tuple((key, ScopeFailure(str(key), "404", None)) for key in chunk if key % 3 == 0)
        return ChunkAnswer(deleted=tuple(key for key in chunk if key % 3), failed=gone)

    result = await run_batch(
        [1, 2, 3, 2, 4, 5, 6, 1],
        send,
        chunk_size=2,
        concurrency=1,
        repeated_failure=repeated,
        is_gone=lambda failure: failure.error_code == "404",
    )
    assert chunks == [[1, 2], [3, 4], [5, 6]]
    assert result == BatchResult(
        deleted=(1, 2, 4, 5),
        failed=(
            ScopeFailure("3", "404", None),
            repeated(2),
            ScopeFailure("6", "404", None),
            repeated(1),
        ),
        unprocessed=(),
        errors=(),
        gone=(1, 2, 3, 4, 5, 6),
    )
    assert not result.ok


async def test_a_pool_of_workers_not_a_task_per_chunk() -> None:
    active = peak = most_tasks = 0

    async def send(chunk: list[int]) -> ChunkAnswer[int, ScopeFailure]:
        nonlocal active, peak, most_tasks
        active += 1
        peak = max(peak, active)
        most_tasks = max(most_tasks, len(asyncio.all_tasks()))
        await asyncio.sleep(0)
        active -= 1
        return ChunkAnswer(deleted=tuple(chunk))

    result = await run_batch(
        range(5000), send, chunk_size=5, concurrency=4, repeated_failure=repeated
    )
    assert peak == 4
    assert most_tasks <= 4 + 1  # the workers and the test's own task
    assert result.deleted == tuple(range(5000))


async def test_a_failed_chunk_does_not_stop_the_others_and_errors_keep_chunk_order() -> None:
    async def send(chunk: list[int]) -> ChunkAnswer[int, ScopeFailure]:
        await asyncio.sleep(0.001 * (10 - chunk[0] // 10))  # later chunks finish first
        if chunk[0] in (20, 70):
            raise ServerError(503, None, f"chunk {chunk[0]}")
        return ChunkAnswer(deleted=tuple(chunk))

    result = await run_batch(
        range(100), send, chunk_size=10, concurrency=10, repeated_failure=repeated
    )
    assert [error.msg for error in result.errors] == ["chunk 20", "chunk 70"]  # type: ignore[attr-defined]
    assert result.unprocessed == (*range(20, 30), *range(70, 80))
    assert len(result.deleted) == 80


async def test_a_stop_error_settles_the_unsent_chunks_as_unprocessed() -> None:
    sent: list[list[int]] = []

    async def send(chunk: list[int]) -> ChunkAnswer[int, ScopeFailure]:
        sent.append(chunk)
        if chunk[0] == 10:
            raise AuthenticationError(401, 15000401, "refused")
        return ChunkAnswer(deleted=tuple(chunk))

    stream = stream_batch(
        [*range(40), 35, 5], send, chunk_size=10, concurrency=1, repeated_failure=repeated
    )
    outcomes = [outcome async for outcome in stream]
    assert sent == [list(range(10)), list(range(10, 20))]
    assert [(o.index, o.sent, o.error is not None) for o in outcomes] == [
        (0, True, False),
        (1, True, True),
        (2, False, False),
        (3, False, False),
    ]
    assert outcomes[3].unprocessed == tuple(range(30, 40)) and outcomes[3].failed == (repeated(35),)
    assert stream.result.unprocessed == tuple(range(10, 40))
    assert stream.result.failed == (repeated(35), repeated(5))


async def test_keys_the_server_did_not_get_are_ignored_and_logged(
    caplog: pytest.LogCaptureFixture,
) -> None:
    async def send(chunk: list[int]) -> ChunkAnswer[int, ScopeFailure]:
        failures = ((chunk[0], ScopeFailure(str(chunk[0]), "X", None)), (-7, repeated(-7)))
        return ChunkAnswer(deleted=(*chunk[1:], chunk[0], 10_000, 5), failed=failures)

    with caplog.at_level(logging.WARNING, logger="koodrive_backup"):
        result = await run_batch(
            range(4), send, chunk_size=2, concurrency=1, repeated_failure=repeated
        )
    # 5 belongs to no chunk; 0 and 2 are failed even though also reported deleted.
    assert result.deleted == (1, 3) and [f.scope_id for f in result.failed] == ["0", "2"]
    warnings = [r for r in caplog.records if r.name == "koodrive_backup"]
    assert len(warnings) == 2 and all(r.levelno == logging.WARNING for r in warnings)
    assert "10000" in warnings[0].getMessage() and "-7" in warnings[0].getMessage()


async def test_keys_of_the_chunk_the_server_does_not_mention_are_unprocessed() -> None:
    async def send(chunk: list[int]) -> ChunkAnswer[int, ScopeFailure]:
        return ChunkAnswer(deleted=tuple(key for key in chunk if key % 2))

    result = await run_batch(range(6), send, chunk_size=4, concurrency=2, repeated_failure=repeated)
    assert result.deleted == (1, 3, 5) and result.unprocessed == (0, 2, 4)


async def test_async_progress_reports_never_overlap_and_arrive_in_order() -> None:
    reports: list[BatchProgress] = []
    busy = False

    async def report(progress: BatchProgress) -> None:
        nonlocal busy
        assert not busy
        busy = True
        await asyncio.sleep(0.001)
        reports.append(progress)
        busy = False

    await run_batch(
        range(200),
        delete_all,
        chunk_size=10,
        concurrency=5,
        repeated_failure=repeated,
        on_progress=report,
    )
    assert [r.done for r in reports] == list(range(10, 201, 10))


async def test_an_unexpected_exception_is_that_chunks_error_and_the_rest_goes_on(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Issue 11: a batch never ends without a result but for cancellation."""
    secret = {"Authorization": "Bearer s3cret"}

    class Bug(Exception):
        def __init__(self) -> None:
            super().__init__("bug in chunk 3")
            self.headers = secret  # what the wrapper must not carry along

    async def send(chunk: list[int]) -> ChunkAnswer[int, ScopeFailure]:
        await asyncio.sleep(0)
        if chunk[0] == 30:
            try:
                raise KeyError("context")
            except KeyError:
                raise Bug from None  # a chain the wrapper must not keep
        return ChunkAnswer(deleted=tuple(chunk))

    result = await run_batch(
        range(100), send, chunk_size=10, concurrency=4, repeated_failure=repeated
    )
    assert result.unprocessed == tuple(range(30, 40))
    assert result.deleted == (*range(30), *range(40, 100))
    (error,) = result.errors
    assert type(error) is KooDriveError and result.stopped_by is None
    assert str(error) == "batch chunk 3: unexpected Bug: bug in chunk 3"
    assert error.__cause__ is None and error.__context__ is None and vars(error) == {}
    assert error.__traceback__ is not None  # where it happened
    assert "unexpected Bug" in caplog.text
    assert asyncio.all_tasks() == {asyncio.current_task()}


async def test_cancelling_run_batch_cancels_workers() -> None:
    started = asyncio.Event()

    async def send(chunk: list[int]) -> ChunkAnswer[int, ScopeFailure]:
        started.set()
        await asyncio.sleep(10)
        return ChunkAnswer()

    task = asyncio.create_task(
        run_batch(range(100), send, chunk_size=10, concurrency=3, repeated_failure=repeated)
    )
    await started.wait()
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert asyncio.all_tasks() == {asyncio.current_task()}


async def test_a_stream_yields_failed_chunks_as_outcomes_and_can_be_closed_unstarted() -> None:
    async def send(chunk: list[int]) -> ChunkAnswer[int, ScopeFailure]:
        raise RuntimeError("closed client")

    stream = stream_batch(range(10), send, chunk_size=5, concurrency=1, repeated_failure=repeated)
    outcomes = [outcome async for outcome in stream]
    assert [outcome.unprocessed for outcome in outcomes] == [(0, 1, 2, 3, 4), (5, 6, 7, 8, 9)]
    assert all("unexpected RuntimeError: closed client" in str(o.error) for o in outcomes)
    assert stream.result.unprocessed == tuple(range(10)) and len(stream.result.errors) == 2
    idle = stream_batch(range(10), send, chunk_size=5, concurrency=1, repeated_failure=repeated)
    await idle.aclose()
    assert [outcome async for outcome in idle] == []


@pytest.mark.parametrize(("option", "value"), [("chunk_size", 0), ("concurrency", 0)])
async def test_engine_options_are_checked_before_keys_are_read(option: str, value: int) -> None:
    def keys() -> object:
        raise AssertionError("keys read")
        yield

    options = {"chunk_size": 10, "concurrency": 1, option: value}
    with pytest.raises(ValueError, match=option):
        await run_batch(keys(), delete_all, repeated_failure=repeated, **options)  # type: ignore[arg-type]


async def test_cancelling_a_stream_consumer_cancels_the_batch_too() -> None:
    started = asyncio.Event()

    async def send(chunk: list[int]) -> ChunkAnswer[int, ScopeFailure]:
        started.set()
        await asyncio.sleep(10)
        return ChunkAnswer()

    stream = stream_batch(range(100), send, chunk_size=10, concurrency=2, repeated_failure=repeated)

    async def consume() -> None:
        async for _ in stream:  # no ``async with``: the cancellation alone must clean up
            pass

    task = asyncio.create_task(consume())
    await started.wait()
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert asyncio.all_tasks() == {asyncio.current_task()}


async def test_chunks_longer_than_a_kilobyte_of_state_are_marked_whole() -> None:
    # The "server echoed the whole chunk" fast path must mark every key of a long chunk.
    async def echo(chunk: list[int]) -> ChunkAnswer[int, ScopeFailure]:
        return ChunkAnswer(tuple(chunk))

    keys = list(range(5000))
    result = await run_batch(keys, echo, chunk_size=2048, concurrency=2, repeated_failure=repeated)
    assert result.deleted == tuple(keys) and result.gone == tuple(keys)
    assert result.ok


async def test_echo_in_another_order_still_counts_every_key() -> None:
    async def reversed_echo(chunk: list[int]) -> ChunkAnswer[int, ScopeFailure]:
        return ChunkAnswer(tuple(reversed(chunk)))

    keys = [3, 1, 2, 1]
    result = await run_batch(
        keys, reversed_echo, chunk_size=2, concurrency=1, repeated_failure=repeated
    )
    assert result.deleted == (3, 1, 2)
    assert [f.scope_id for f in result.failed] == ["1"]
