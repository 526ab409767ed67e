"""Event hooks (``BackupClient(hooks=...)``): what is reported, in which order, with what.

Single calls run over a ``MockTransport`` and a ``VirtualClock`` (exact sequences and
durations); bulk operations and locks against the fake over real sockets.
"""

from __future__ import annotations

import asyncio
import logging

import pytest
from conftest import FAST
from otel_kit import EveryHook, Recorded, on_virtual_time
from seams import MockTransport, VirtualClock, answer

from koodrive_backup import (
    AuthenticationError,
    BackupClient,
    BearerAuth,
    Hooks,
    HttpRequest,
    PermissionDeniedError,
    RawResponse,
    RequestInfo,
    RetryPolicy,
    ServerError,
)
from koodrive_backup import _endpoints as ep
from koodrive_backup._telemetry import Telemetry, otel_adapter
from koodrive_backup.testing import FakeKooDrive, Fault

URL = "https://kd.example:8443"
RECORD_ID = "1842862763295184641"
RECORD = {"code": 0, "data": {"recordId": RECORD_ID, "status": 1}}


def scripted(*responses: RawResponse) -> MockTransport:
    items = iter(responses)
    return MockTransport(lambda request: next(items))


async def test_a_call_reports_each_exchange_the_retry_and_the_401_resend() -> None:
    transport = scripted(
        answer(503, {"code": 1}, {"Retry-After": "1"}),
        answer(401, {"code": 1}),
        answer(200, RECORD),
    )
    tokens = ["first", "second"]

    async def provider() -> str:
        return tokens.pop(0)

    hooks, clock = EveryHook(), VirtualClock(autojump=True)
    async with BackupClient(
        URL,
        user_id="42",
        auth=BearerAuth(token_provider=provider),
        transport=transport,
        clock=clock,
        hooks=hooks,
    ) as client:
        await client.get_record(RECORD_ID)

    assert hooks.names() == [
        "on_request", "on_response", "on_retry", "on_request", "on_response",
        "on_request", "on_response", "on_call",
    ]  # fmt: skip
    path = f"/koodrive/ose/v1/backup/record/{RECORD_ID}"
    info = RequestInfo("get_record", "GET", ep.GET_RECORD.url_template, path, "kd.example", 8443)
    requests, responses = hooks.of("on_request"), hooks.of("on_response")
    assert {event.request for event in hooks.of("on_request") + responses} == {info}
    assert [(e.attempt, e.resend) for e in requests] == [(1, None), (2, None), (2, "auth")]
    assert [(e.status, type(e.error), e.resend) for e in responses] == [
        (503, ServerError, None),
        (401, AuthenticationError, None),
        (200, type(None), "auth"),
    ]
    (retry,) = hooks.of("on_retry")
    assert (retry.attempt, retry.reason, retry.wait_s) == (2, "http_503", 1.0)
    assert isinstance(retry.error, ServerError)
    (call,) = hooks.of("on_call")
    assert (call.outcome, call.error, call.attempts, call.status, call.code) == (
        "ok", None, 2, 200, None,
    )  # fmt: skip
    assert call.retry_wait_s == 1.0 == call.duration_s  # virtual time: only the wait passed


async def test_a_failed_call_reports_its_error_and_code() -> None:
    hooks = EveryHook()
    transport = scripted(answer(403, {"code": 15000403, "msg": "no"}))
    async with BackupClient(
        URL, user_id="42", token="tok", transport=transport, clock=VirtualClock(), hooks=hooks
    ) as client:
        with pytest.raises(PermissionDeniedError) as caught:
            await client.get_record(RECORD_ID)
    (call,) = hooks.of("on_call")
    assert (call.outcome, call.error, call.code, call.status, call.attempts) == (
        "PermissionDeniedError", caught.value, 15000403, 403, 1,
    )  # fmt: skip


async def test_a_hook_that_raises_is_logged_and_the_call_goes_on(
    caplog: pytest.LogCaptureFixture,
) -> None:
    class Broken(Hooks):
        def on_request(self, event: object) -> None:
            raise RuntimeError("hook bug")

        def on_call(self, event: object) -> None:
            raise KeyError("another")

    transport = scripted(answer(200, RECORD))
    async with BackupClient(
        URL, user_id="42", token="tok", transport=transport, clock=VirtualClock(), hooks=Broken()
    ) as client:
        with caplog.at_level(logging.WARNING, logger="koodrive_backup"):
            record = await client.get_record(RECORD_ID)
    assert record.record_id == RECORD_ID
    assert [r.getMessage() for r in caplog.records] == [
        "telemetry hook on_request raised; ignored",
        "telemetry hook on_call raised; ignored",
    ]


async def test_a_cancelled_call_is_reported_as_cancelled() -> None:
    never: asyncio.Future[RawResponse] = asyncio.get_running_loop().create_future()

    async def hang(request: HttpRequest) -> RawResponse:
        return await never

    hooks = EveryHook()
    async with BackupClient(
        URL, user_id="42", token="tok", transport=MockTransport(hang), hooks=hooks
    ) as client:
        task = asyncio.create_task(client.get_record(RECORD_ID))
        await asyncio.sleep(0)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
    assert hooks.names() == ["on_request", "on_call"]  # no answer to report
    assert hooks.of("on_call")[0].outcome == "cancelled"


def test_hooks_and_telemetry_are_checked_at_construction() -> None:
    with pytest.raises(TypeError, match="Hooks"):
        BackupClient(URL, user_id="42", token="tok", hooks=object())  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="telemetry"):
        BackupClient(URL, user_id="42", token="tok", telemetry="yes")  # type: ignore[arg-type]


# --- bulk operations ----------------------------------------------------------------------


async def test_chunk_and_batch_events_account_like_the_result(fake: FakeKooDrive) -> None:
    device = fake.add_device()
    present = fake.add_scopes(device, 240)
    scope_ids = [*present, "absent-1", present[3], present[150]]  # 243 occurrences
    fake.inject(Fault.status(503), route="batchDeleteBackupScope", times=4)  # one chunk fails
    hooks = EveryHook()
    async with BackupClient(
        fake.url, user_id=fake.user_id, token=fake.token, retry=FAST, hooks=hooks
    ) as client:
        result = await client.delete_scopes(device, scope_ids, concurrency=1)

    chunks = hooks.of("on_chunk")
    assert [(c.index, c.size, c.sent) for c in chunks] == [
        (0, 100, True),
        (1, 100, True),
        (2, 41, True),
    ]
    assert [c.unprocessed for c in chunks] == [100, 0, 0]  # the first chunk failed 4 times
    assert isinstance(chunks[0].error, ServerError) and chunks[1].error is None
    (batch,) = hooks.of("on_batch")
    assert (batch.operation, batch.outcome, batch.total) == ("delete_scopes", "partial", 243)
    counts = (len(result.deleted), len(result.failed), len(result.unprocessed))
    assert (batch.deleted, batch.failed, batch.unprocessed) == counts == (140, 3, 100)
    per_chunk = [(c.deleted, c.failed, c.unprocessed) for c in chunks]
    assert tuple(map(sum, zip(*per_chunk, strict=True))) == counts
    assert (batch.gone, batch.errors) == (len(result.gone), len(result.errors)) == (141, 1)
    calls = hooks.of("on_call")
    assert {c.request.operation for c in calls} == {"delete_scopes.chunk"}
    assert [c.attempts for c in calls] == [4, 1, 1]


async def test_chunks_never_sent_after_a_stop_are_reported_unsent(fake: FakeKooDrive) -> None:
    device = fake.add_device()
    scope_ids = fake.add_scopes(device, 300)
    fake.inject(Fault.status(403), route="batchDeleteBackupScope")
    hooks = EveryHook()
    async with BackupClient(
        fake.url, user_id=fake.user_id, token=fake.token, retry=FAST, hooks=hooks
    ) as client:
        await client.delete_scopes(device, scope_ids, concurrency=1)
    assert [(c.sent, c.unprocessed) for c in hooks.of("on_chunk")] == [
        (True, 100), (False, 100), (False, 100),
    ]  # fmt: skip
    assert len(hooks.of("on_call")) == 1


# --- locks and the rate limit ---------------------------------------------------------------


async def test_lock_renewals_report_renewed_retrying_and_lost() -> None:
    clock, hooks = VirtualClock(), EveryHook()
    async with (
        on_virtual_time(clock, retry=RetryPolicy(max_attempts=1), hooks=hooks) as (fake, client),
        client.lock("101") as lock,
    ):
        await clock.run_until(lambda: lock.renewals == 1, step=10)
        fake.inject(Fault.status(503), route="renewalBackupLock")
        await clock.run_until(lambda: lock.renewals == 2, step=10)
        fake.inject(Fault.status(409, code=15000415), route="renewalBackupLock")
        await clock.run_until(lambda: lock.lost, step=10)
    renewals = hooks.of("on_lock_renewal")
    assert [(r.outcome, r.renewals) for r in renewals] == [
        ("renewed", 1), ("retrying", 1), ("renewed", 2), ("lost", 2),
    ]  # fmt: skip
    assert {(r.lock_id, r.module_code) for r in renewals} == {(lock.lock_id, "101")}
    assert isinstance(renewals[1].error, ServerError)
    assert renewals[3].error is lock.error
    assert renewals[0].error is None


async def test_a_rate_limit_wait_is_reported_to_hooks_and_metrics() -> None:
    # The limiter itself is another change: this is the point it reports to.
    hooks, rec = EveryHook(), Recorded()
    telemetry = Telemetry(
        hooks, otel_adapter(rec.options), base_url=URL, clock=VirtualClock().monotonic
    )
    watch = telemetry.watch(ep.GET_RECORD.request({"record_id": RECORD_ID}))
    assert watch is not None
    with watch, watch.attempt(1):
        watch.rate_limited(0.25)
        watch.answered(200)
    (waited,) = hooks.of("on_rate_limit")
    assert (waited.request.operation, waited.attempt, waited.wait_s) == ("get_record", 1, 0.25)
    labels = {"koodrive.operation": "get_record"}
    assert rec.total("koodrive.client.rate_limit.waits", **labels) == 1
    assert rec.total("koodrive.client.rate_limit.wait_time", **labels) == 0.25
    (call,) = rec.spans("koodrive.get_record")
    assert [e.name for e in call.events] == ["koodrive.rate_limit.wait", "koodrive.attempt"]
