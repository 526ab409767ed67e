"""OpenTelemetry spans and metrics (API.md "Telemetry"), recorded in memory by the SDK,
against the fake over real sockets. Providers are given per client (``TelemetryOptions``):
the global ones are tested in a child process (tests/test_telemetry_global.py)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable

import pytest
from conftest import FAST
from opentelemetry import trace
from opentelemetry.sdk.trace import Event, ReadableSpan
from opentelemetry.trace import SpanKind, StatusCode
from otel_kit import Recorded, attrs, on_virtual_time, parent_of, span_id
from seams import VirtualClock

from koodrive_backup import (
    APIConnectionError,
    BackupClient,
    BearerAuth,
    NotFoundError,
    RetryPolicy,
)
from koodrive_backup.testing import FakeKooDrive, FakeRequest, Fault

RECORD_TEMPLATE = "/koodrive/ose/v1/backup/record/{record_id}"
SCOPES_TEMPLATE = "/koodrive/ose/v1/backup/device/{device_id}/scope"


@pytest.fixture
def rec() -> Recorded:
    return Recorded()


@pytest.fixture
async def traced(fake: FakeKooDrive, rec: Recorded) -> AsyncIterator[BackupClient]:
    async with BackupClient(
        fake.url, user_id=fake.user_id, token=fake.token, retry=FAST, telemetry=rec.options
    ) as client:
        yield client


def events(span: ReadableSpan, name: str) -> list[Event]:
    return [event for event in span.events if event.name == name]


def containing(scope_id: str) -> Callable[[FakeRequest], bool]:
    """A fault filter: the request whose body holds ``scope_id``."""
    marker = f'"{scope_id}"'.encode()
    return lambda request: marker in request.body


# --- the acceptance: a batch of 1,000 IDs with faults -------------------------------


async def test_a_faulty_batch_of_1000_ids_is_one_span_with_10_chunk_children(
    fake: FakeKooDrive, traced: BackupClient, rec: Recorded
) -> None:
    device = fake.add_device()
    present = fake.add_scopes(device, 995)
    absent = [f"absent-{n}" for n in range(5)]  # the server answers 15000418: failed, gone
    scope_ids = present + absent + present[:7]  # 7 repeats: 1,007 occurrences, 1,000 unique
    route = "batchDeleteBackupScope"
    fake.inject(Fault.status(503), route=route, when=containing(present[200]))  # retried
    fake.inject(Fault.status(429, retry_after=0), route=route, when=containing(present[500]))
    processed = Fault.status(503, process=True)  # deleted, answer lost: the retry gets 15000418
    fake.inject(processed, route=route, when=containing(present[300]))
    fake.inject(Fault.status(503), route=route, when=containing(present[700]), times=None)

    result = await traced.delete_scopes(device, scope_ids)

    (batch,) = rec.spans("koodrive.delete_scopes")
    chunks = rec.spans("koodrive.delete_scopes.chunk")
    assert parent_of(batch) is None and len(chunks) == 10
    assert {parent_of(chunk) for chunk in chunks} == {span_id(batch)}
    by_index = {attrs(chunk)["koodrive.chunk.index"]: chunk for chunk in chunks}
    assert sorted(by_index) == list(range(10))
    attributes = attrs(batch)
    assert attributes["koodrive.batch.total"] == len(scope_ids) == 1007
    assert attributes["koodrive.batch.deleted"] == len(result.deleted) == 795
    assert attributes["koodrive.batch.failed"] == len(result.failed) == 100 + 5 + 7
    assert attributes["koodrive.batch.unprocessed"] == len(result.unprocessed) == 100
    assert attributes["koodrive.batch.gone"] == len(result.gone) == 900
    assert attributes["koodrive.outcome"] == "partial"
    # Attempts and retries are visible on each chunk's span.
    assert [attrs(by_index[i])["koodrive.attempts"] for i in range(10)] == [
        1, 1, 2, 2, 1, 2, 1, 4, 1, 1,
    ]  # fmt: skip
    reasons = [attrs(e)["koodrive.retry.reason"] for e in events(by_index[5], "koodrive.retry")]
    assert reasons == ["http_429"]
    failed = by_index[7]
    assert failed.status.status_code is StatusCode.ERROR
    assert attrs(failed)["koodrive.chunk.unprocessed"] == 100
    assert attrs(failed)["error.type"] == "ServerError"
    attempts = [e for chunk in chunks for e in events(chunk, "koodrive.attempt")]
    assert len(attempts) == 16 == fake.route_counts[route]
    assert all(chunk.kind is SpanKind.CLIENT for chunk in chunks)  # each is a request
    assert (
        rec.total("koodrive.client.retries", **{"koodrive.operation": "delete_scopes.chunk"}) == 6
    )
    for outcome, ids in [("deleted", result.deleted), ("failed", result.failed)]:
        labels = {"koodrive.operation": "delete_scopes", "koodrive.outcome": outcome}
        assert rec.total("koodrive.client.batch.ids", **labels) == len(ids)
    assert fake.token not in rec.export_text()


async def test_an_early_exit_from_a_stream_ends_the_batch_span_with_the_streams_accounting(
    fake: FakeKooDrive, traced: BackupClient, rec: Recorded
) -> None:
    device = fake.add_device()
    scope_ids = fake.add_scopes(device, 500)
    async with traced.iter_delete_scopes(device, scope_ids, concurrency=1) as stream:
        async for _ in stream:
            break
    (batch,) = rec.spans("koodrive.delete_scopes")
    assert attrs(batch)["koodrive.outcome"] == "cancelled"
    assert attrs(batch)["koodrive.batch.deleted"] == len(stream.result.deleted) >= 100
    assert attrs(batch)["koodrive.batch.unprocessed"] == len(stream.result.unprocessed)


# --- one call -----------------------------------------------------------------------------------


async def test_a_call_is_a_span_with_http_client_attributes_and_no_ids(
    fake: FakeKooDrive, traced: BackupClient, rec: Recorded
) -> None:
    record_id = fake.add_record(fake.add_device())
    await traced.get_record(record_id)
    (call,) = rec.spans()
    assert call.name == "koodrive.get_record" and call.kind is SpanKind.CLIENT
    attributes = attrs(call)
    assert attributes["http.request.method"] == "GET"
    assert attributes["url.template"] == RECORD_TEMPLATE
    assert attributes["server.address"] == "127.0.0.1"
    assert attributes["server.port"] == int(fake.url.rsplit(":", 1)[1])
    assert attributes["http.response.status_code"] == 200
    assert "url.path" not in attributes
    assert record_id not in rec.export_text()
    (attempt,) = call.events
    assert attempt.name == "koodrive.attempt"
    assert attrs(attempt)["koodrive.attempt"] == 1
    assert attrs(attempt)["http.response.status_code"] == 200
    assert attrs(call)["koodrive.attempts"] == 1
    assert attrs(call)["koodrive.outcome"] == "ok"
    assert call.status.status_code is StatusCode.UNSET


async def test_include_paths_adds_the_path_with_its_ids(fake: FakeKooDrive) -> None:
    rec = Recorded(include_paths=True)
    record_id = fake.add_record(fake.add_device())
    async with BackupClient(
        fake.url, user_id=fake.user_id, token=fake.token, telemetry=rec.options
    ) as client:
        await client.get_record(record_id)
    path = f"/koodrive/ose/v1/backup/record/{record_id}"
    assert [attrs(s)["url.path"] for s in rec.spans()] == [path]
    assert all("url.path" not in labels for _, labels, _ in rec.metric_points())


async def test_a_users_span_around_a_call_is_its_parent_and_stays_current(
    fake: FakeKooDrive, traced: BackupClient, rec: Recorded
) -> None:
    record_id = fake.add_record(fake.add_device())
    with rec.tracer.start_as_current_span("job") as job:
        await traced.get_record(record_id)
        assert trace.get_current_span() is job
        await traced.delete_scopes(fake.add_device(), ["1", "2"])
    (outer,) = rec.spans("job")
    assert parent_of(rec.spans("koodrive.get_record")[0]) == span_id(outer)
    assert parent_of(rec.spans("koodrive.delete_scopes")[0]) == span_id(outer)
    assert trace.get_current_span() is trace.INVALID_SPAN


async def test_a_failure_records_the_sdk_exception_and_not_its_chain(
    fake: FakeKooDrive, rec: Recorded
) -> None:
    fake.inject(Fault.disconnect(), times=None)
    async with BackupClient(
        fake.url,
        user_id=fake.user_id,
        token=fake.token,
        retry=RetryPolicy(max_attempts=1),
        telemetry=rec.options,
    ) as client:
        with pytest.raises(APIConnectionError) as caught:
            await client.get_record("1842862763295184641")
    assert caught.value.__cause__ is None  # the SDK keeps no chain (it could hold secrets)
    (call,) = rec.spans("koodrive.get_record")
    assert call.status.status_code is StatusCode.ERROR
    assert attrs(call)["error.type"] == "APIConnectionError"
    assert "http.response.status_code" not in attrs(call)
    (event,) = [e for e in call.events if e.name == "exception"]
    assert attrs(event) == {
        "exception.type": "koodrive_backup.errors.APIConnectionError",
        "exception.message": str(caught.value),
    }
    assert "Traceback" not in rec.export_text()


async def test_an_api_error_carries_its_status_and_code(
    traced: BackupClient, rec: Recorded
) -> None:
    with pytest.raises(NotFoundError):
        await traced.get_record("1842862763295184641")
    (call,) = rec.spans("koodrive.get_record")
    assert attrs(call)["http.response.status_code"] == 404
    assert attrs(call)["koodrive.code"] == 15000404
    assert attrs(call)["koodrive.outcome"] == "NotFoundError"
    labels = {"koodrive.operation": "get_record", "koodrive.outcome": "NotFoundError"}
    assert rec.total("koodrive.client.operation.duration", **labels) == 1


async def test_retries_and_the_401_resend_are_visible(fake: FakeKooDrive, rec: Recorded) -> None:
    record_id = fake.add_record(fake.add_device())
    tokens = ["stale", fake.token]

    async def provider() -> str:
        return tokens.pop(0)

    fake.inject(Fault.status(503, retry_after=0))
    async with BackupClient(
        fake.url,
        user_id=fake.user_id,
        auth=BearerAuth(token_provider=provider),
        retry=FAST,
        telemetry=rec.options,
    ) as client:
        await client.get_record(record_id)
    (call,) = rec.spans("koodrive.get_record")
    assert attrs(call)["koodrive.attempts"] == 2
    assert [e.name for e in call.events] == [
        "koodrive.attempt", "koodrive.retry", "koodrive.resend", "koodrive.attempt",
    ]  # fmt: skip
    first, retry, resend, second = (attrs(e) for e in call.events)
    assert (retry["koodrive.retry.reason"], retry["koodrive.attempt"]) == ("http_503", 2)
    assert (first["http.response.status_code"], first["error.type"]) == (503, "ServerError")
    assert (resend["http.response.status_code"], resend["koodrive.attempt"]) == (401, 2)
    assert resend["koodrive.resend.reason"] == "auth"
    assert second["http.response.status_code"] == 200 and "error.type" not in second
    operation = {"koodrive.operation": "get_record"}
    assert (
        rec.total("koodrive.client.resends", **operation, **{"koodrive.resend.reason": "auth"}) == 1
    )
    assert rec.total("koodrive.client.attempts", **operation) == 2
    assert (
        rec.total("koodrive.client.retries", **operation, **{"koodrive.retry.reason": "http_503"})
        == 1
    )


async def test_a_cancelled_call_ends_its_spans_and_restores_the_context(
    fake: FakeKooDrive, traced: BackupClient, rec: Recorded
) -> None:
    fake.inject(Fault.latency(5.0))
    with rec.tracer.start_as_current_span("job") as job:
        task = asyncio.create_task(traced.get_record("1842862763295184641"))
        await asyncio.sleep(0.05)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        assert trace.get_current_span() is job
    (call,) = rec.spans("koodrive.get_record")
    assert attrs(call)["koodrive.outcome"] == "cancelled"
    assert call.status.status_code is StatusCode.UNSET
    assert call.events == ()  # the attempt never settled


# --- locks ------------------------------------------------------------------------------------


async def test_lock_renewals_are_spans_of_their_own(rec: Recorded) -> None:
    clock = VirtualClock()
    no_wait = RetryPolicy(initial_delay=0, max_delay=0)
    async with on_virtual_time(clock, retry=no_wait, telemetry=rec.options) as (fake, client):
        with rec.tracer.start_as_current_span("job"):
            async with client.lock("101") as lock:
                await clock.run_until(lambda: lock.renewals >= 2, step=10)
                fake.inject(Fault.status(409, code=15000415), route="renewalBackupLock")
                await clock.run_until(lambda: lock.lost, step=10)
    renewals = rec.spans("koodrive.lock.renewal")
    assert [attrs(s)["koodrive.outcome"] for s in renewals] == ["renewed", "renewed", "lost"]
    assert [attrs(s)["koodrive.lock.renewals"] for s in renewals] == [1, 2, 2]
    assert {attrs(s)["koodrive.operation"] for s in renewals} == {"lock.renewal"}
    assert renewals[-1].status.status_code is StatusCode.ERROR
    (job,) = rec.spans("job")
    assert {parent_of(s) for s in renewals} == {span_id(job)}
    calls = rec.spans("koodrive.renew_lock")
    assert [parent_of(c) for c in calls] == [span_id(s) for s in renewals]
    assert rec.total("koodrive.client.lock.renewals", **{"koodrive.outcome": "renewed"}) == 2
    assert rec.total("koodrive.client.lock.renewals", **{"koodrive.outcome": "lost"}) == 1
