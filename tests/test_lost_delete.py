"""A delete whose answer was lost (issue 11, API.md "Resilience options").

When an attempt of ``delete_record`` may have reached the server (request sent, then a
timeout, a reset or a 5xx) and a later attempt of the same call is answered 404, the call
returns normally (the record is gone) and logs at INFO. A 404 on the first attempt, or after
failures that prove nothing was processed, still raises ``NotFoundError``.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

import pytest
from conftest import FAST
from seams import MockTransport, answer

from koodrive_backup import (
    APIConnectionError,
    APITimeoutError,
    BackupClient,
    HttpRequest,
    NotFoundError,
    RawResponse,
)
from koodrive_backup.testing import FakeKooDrive, Fault

LOCK = "lock-1@101"
NOT_FOUND = answer(404, {"code": 15000404, "msg": "record not found"})


async def test_a_lost_answer_then_404_is_success(
    fake: FakeKooDrive, client: BackupClient, caplog: pytest.LogCaptureFixture
) -> None:
    record_id = fake.add_record(fake.add_device())
    fake.inject(Fault.lose_response(), route="deleteBackupRecord")
    with caplog.at_level(logging.INFO, logger="koodrive_backup"):
        await client.delete_record(record_id, lock_id=fake.add_lock("101"))
    assert not fake.has_record(record_id)
    assert fake.route_counts["deleteBackupRecord"] == 2  # deleted, then 404
    (line,) = [r for r in caplog.records if "taken as done" in r.getMessage()]
    assert line.levelno == logging.INFO and record_id in line.getMessage()


async def test_a_processed_5xx_then_404_is_success(
    fake: FakeKooDrive, client: BackupClient
) -> None:
    record_id = fake.add_record(fake.add_device())
    fake.inject(Fault.status(503, process=True), route="deleteBackupRecord")
    await client.delete_record(record_id, lock_id=fake.add_lock("101"))
    assert fake.route_counts["deleteBackupRecord"] == 2


async def test_a_404_on_the_first_attempt_still_raises(
    fake: FakeKooDrive, client: BackupClient
) -> None:
    with pytest.raises(NotFoundError):
        await client.delete_record("1842862763295184641", lock_id=fake.add_lock("101"))
    assert fake.route_counts["deleteBackupRecord"] == 1


def scripted(*steps: RawResponse | Exception) -> Callable[[HttpRequest], RawResponse]:
    """A handler answering (or raising) ``steps`` in order."""
    queue = list(steps)

    def handle(request: HttpRequest) -> RawResponse:
        step = queue.pop(0)
        if isinstance(step, Exception):
            raise step
        return step

    return handle


async def delete_through(handler: Callable[[HttpRequest], RawResponse]) -> int:
    transport = MockTransport(handler)
    async with BackupClient(
        "https://kd.example", user_id="1", token="t", retry=FAST, transport=transport
    ) as client:
        await client.delete_record("1842862763295184641", lock_id=LOCK)
    return len(transport.requests)


@pytest.mark.parametrize(
    "first",
    [
        APIConnectionError("GET /x: reset"),  # sent, then reset: may have been processed
        APITimeoutError("GET /x: timeout"),
        answer(500, {"code": 15000500}),
        answer(502),
        answer(504, {"code": 15000504}),
    ],
    ids=["reset", "timeout", "500", "502", "504"],
)
async def test_any_failure_that_may_have_been_processed_then_404_is_success(
    first: RawResponse | Exception,
) -> None:
    assert await delete_through(scripted(first, NOT_FOUND)) == 2


@pytest.mark.parametrize(
    "first",
    [
        APIConnectionError("GET /x: refused", request_sent=False),  # never reached the server
        APITimeoutError("GET /x: connect timeout", request_sent=False),
        answer(429, {"code": 15000429}, {"Retry-After": "0"}),
        answer(408),
    ],
    ids=["refused", "connect-timeout", "429", "408"],
)
async def test_a_404_after_failures_that_prove_nothing_was_processed_raises(
    first: RawResponse | Exception,
) -> None:
    with pytest.raises(NotFoundError):
        await delete_through(scripted(first, NOT_FOUND))


async def test_one_failure_that_may_have_been_processed_is_enough() -> None:
    steps = (answer(503), APIConnectionError("refused", request_sent=False), NOT_FOUND)
    assert await delete_through(scripted(*steps)) == 3


async def test_other_operations_keep_their_404(fake: FakeKooDrive, client: BackupClient) -> None:
    """Only deleteBackupRecord is marked: a GET after a lost answer still raises 404."""
    fake.inject(Fault.lose_response(), route="getBackupRecord")
    with pytest.raises(NotFoundError):
        await client.get_record("1842862763295184641")
    assert fake.route_counts["getBackupRecord"] == 2
