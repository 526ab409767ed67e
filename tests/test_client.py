"""BackupClient against the embedded fake server over real loopback sockets."""

from __future__ import annotations

import asyncio
import logging
import re
import socket
from collections.abc import AsyncIterator

import aiohttp
import pytest
from seams import MockTransport, VirtualClock, answer

from koodrive_backup import (
    APIConnectionError,
    APIError,
    APITimeoutError,
    AuthenticationError,
    BackupClient,
    BadRequestError,
    BearerAuth,
    ConflictError,
    DecodeError,
    HmacAuth,
    NotFoundError,
    RateLimitError,
    RecordStatus,
    RetryPolicy,
    ServerError,
)
from koodrive_backup.testing import FakeKooDrive, Fault

FAST = RetryPolicy(initial_delay=0.001, max_delay=0.005)
TOKEN = "tok-sekrit-0123456789"
RECORD = {"code": 0, "data": {"recordId": "1", "moduleCode": "101", "status": 1}}


@pytest.fixture
async def fake() -> AsyncIterator[FakeKooDrive]:
    async with FakeKooDrive(token=TOKEN) as server:
        yield server


def client_for(fake: FakeKooDrive, **kwargs: object) -> BackupClient:
    options: dict[str, object] = {"user_id": fake.user_id, "token": fake.token, "retry": FAST}
    options.update(kwargs)
    return BackupClient(fake.url, **options)  # type: ignore[arg-type]


# --- issue "done when" checks -----------------------------------------------------------------


async def test_503_then_200_makes_two_requests_each_with_its_own_x_date(
    fake: FakeKooDrive,
) -> None:
    record_id = fake.add_record(fake.add_device())
    fake.inject(Fault.status(503), route="getBackupRecord", times=1)

    class TwoSecondWaits(VirtualClock):
        async def sleep(self, seconds: float) -> None:  # a retry "waits" two seconds, instantly
            await super().sleep(2.0)

    clock = TwoSecondWaits(1_800_000_000.0, autojump=True)
    fake.clock = lambda: clock.now + 60  # the server clock is ahead: our X-Dates are accepted
    async with client_for(fake, clock=clock) as client:
        record = await client.get_record(record_id)
    assert record.record_id == record_id and record.status is RecordStatus.NEW
    dates = [r.headers["X-Date"] for r in fake.requests]
    assert len(dates) == 2
    assert dates[0] != dates[1]  # signed per attempt, not per call
    assert all(re.fullmatch(r"\d{8}T\d{6}Z", d) for d in dates)


async def test_400_is_not_retried(fake: FakeKooDrive) -> None:
    fake.inject(Fault.status(400, code=15000400, msg="bad parameter"), route="getBackupRecord")
    async with client_for(fake) as client:
        with pytest.raises(BadRequestError) as info:
            await client.get_record("1842862763295184641")
    assert (info.value.status, info.value.code, info.value.msg) == (400, 15000400, "bad parameter")
    assert fake.request_count == 1


async def test_429_with_retry_after_above_the_cap_is_raised_at_once(fake: FakeKooDrive) -> None:
    fake.inject(Fault.status(429, retry_after="120"), route="getBackupRecord")
    async with client_for(fake, retry=RetryPolicy(max_retry_after=60)) as client:
        with pytest.raises(RateLimitError) as info:
            await client.get_record("1842862763295184641")
    assert info.value.retry_after == 120.0
    assert fake.request_count == 1


async def test_retry_after_is_waited_exactly(fake: FakeKooDrive) -> None:
    record_id = fake.add_record(fake.add_device())
    fake.inject(Fault.status(429, retry_after="0.5"), route="getBackupRecord", times=1)
    clock = VirtualClock(autojump=True)
    async with client_for(fake, clock=clock) as client:
        await client.get_record(record_id)
    assert clock.sleeps == [0.5]


async def test_int_scope_id_is_sent_as_its_exact_decimal_string(fake: FakeKooDrive) -> None:
    device_id = fake.add_device()
    async with client_for(fake) as client:
        result = await client.delete_scopes(device_id, [2**63 - 1])
    assert fake.requests[0].json == {"scopeIdList": ["9223372036854775807"]}
    assert result.failed[0].scope_id == "9223372036854775807"
    assert result.failed[0].error_code == "15000418"


# --- operations -------------------------------------------------------------------------------


async def test_get_and_delete_record_with_a_lock(fake: FakeKooDrive) -> None:
    device_id = fake.add_device()
    record_id = fake.add_record(device_id, module_code="102")
    lock_id = fake.add_lock("102")
    async with client_for(fake) as client:
        record = await client.get_record(record_id, lock_id=lock_id)
        assert record.module_code == "102"
        assert record.device_info is not None and record.device_info.device_id == device_id
        await client.delete_record(record_id, lock_id=lock_id)
        assert not fake.has_record(record_id)
        with pytest.raises(NotFoundError):
            await client.get_record(record_id)
    assert fake.requests[1].headers["x-backup-lock-id"] == lock_id


async def test_delete_record_with_a_released_lock_is_refused(fake: FakeKooDrive) -> None:
    record_id = fake.add_record(fake.add_device())
    async with client_for(fake) as client:
        with pytest.raises(ConflictError) as info:
            await client.delete_record(
                record_id, lock_id="00000000-0000-0000-0000-000000000000@101"
            )
    assert info.value.code == 15000411
    assert fake.has_record(record_id)


async def test_scope_deletion_reports_repeats_and_unknown_ids(fake: FakeKooDrive) -> None:
    device_id = fake.add_device()
    existing = fake.add_scopes(device_id, 2)
    async with client_for(fake) as client:
        result = await client.delete_scopes(
            device_id, [existing[0], "123", int(existing[1]), "123"]
        )
    assert result.deleted == tuple(existing)
    assert [(f.scope_id, f.error_code) for f in result.failed] == [
        ("123", "15000418"),
        ("123", "15000424"),
    ]
    assert result.gone == (existing[0], "123", existing[1])
    assert not any(fake.has_scope(device_id, s) for s in existing)


async def test_lost_answer_after_deletion_is_reported_as_not_found_and_gone(
    fake: FakeKooDrive,
) -> None:
    device_id = fake.add_device()
    scope_ids = fake.add_scopes(device_id, 3)
    fake.inject(Fault.lose_response(), route="batchDeleteBackupScope", times=1)
    async with client_for(fake) as client:
        result = await client.delete_scopes(device_id, scope_ids)
    assert fake.route_counts["batchDeleteBackupScope"] == 2
    assert result.deleted == ()
    assert [f.error_code for f in result.failed] == ["15000418"] * 3
    assert result.gone == tuple(scope_ids)
    assert not any(fake.has_scope(device_id, s) for s in scope_ids)


# --- failures ---------------------------------------------------------------------------------


async def test_a_chunk_that_keeps_failing_is_unprocessed_with_its_error(fake: FakeKooDrive) -> None:
    device_id = fake.add_device()
    scope_ids = fake.add_scopes(device_id, 2)
    fake.inject(Fault.status(500), route="batchDeleteBackupScope", times=10)
    async with client_for(fake, retry=RetryPolicy(max_attempts=3, initial_delay=0.001)) as client:
        result = await client.delete_scopes(device_id, scope_ids)
    assert result.unprocessed == tuple(scope_ids) and not result.ok
    assert len(result.errors) == 1 and isinstance(result.errors[0], ServerError)
    assert fake.route_counts["batchDeleteBackupScope"] == 3


@pytest.mark.parametrize(
    ("fault", "error"),
    [
        (Fault.malformed_json(), DecodeError),
        (Fault.truncated_json(), DecodeError),
        (Fault.body_code(15000500, msg="busy"), APIError),
    ],
)
async def test_bad_bodies_are_not_retried(
    fake: FakeKooDrive, fault: Fault, error: type[Exception]
) -> None:
    fake.inject(fault, route="getBackupRecord")
    async with client_for(fake) as client:
        with pytest.raises(error) as info:
            await client.get_record("1842862763295184641")
    assert fake.request_count == 1
    assert getattr(info.value, "status", None) == 200


async def test_disconnects_are_retried_then_raised_as_connection_errors(
    fake: FakeKooDrive, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="koodrive_backup")
    fake.inject(Fault.disconnect(), route="getBackupRecord", times=10)
    async with client_for(fake, retry=RetryPolicy(max_attempts=2, initial_delay=0.001)) as client:
        with pytest.raises(APIConnectionError) as info:
            await client.get_record("1842862763295184641")
    # aiohttp's exception is named, not chained (its request_info holds the headers).
    assert "ServerDisconnectedError" in str(info.value)
    assert info.value.__cause__ is None and info.value.__context__ is None
    retries = [r for r in caplog.records if r.getMessage().startswith("retrying")]
    assert len(retries) == 1  # two SDK attempts
    assert fake.route_counts["getBackupRecord"] == 2  # and no re-send by aiohttp


async def test_per_attempt_timeout(fake: FakeKooDrive) -> None:
    fake.inject(Fault.latency(2.0), route="getBackupRecord", times=2)
    async with client_for(fake, timeout=0.05, retry=RetryPolicy(max_attempts=2)) as client:
        with pytest.raises(APITimeoutError):
            await client.get_record("1842862763295184641")
    assert fake.route_counts["getBackupRecord"] == 2


async def test_connection_refused_is_an_unsent_connection_error() -> None:
    with socket.socket() as sock:  # a loopback port that nobody listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    async with BackupClient(
        f"http://127.0.0.1:{port}",
        user_id="u",
        token="t",
        retry=RetryPolicy(max_attempts=2, initial_delay=0.001),
    ) as client:
        with pytest.raises(APIConnectionError) as info:
            await client.get_record("1")
    assert info.value.request_sent is False


# --- clocks -----------------------------------------------------------------------------------


async def test_server_clock_a_few_seconds_behind_still_accepts_our_x_date(
    fake: FakeKooDrive,
) -> None:
    record_id = fake.add_record(fake.add_device())
    fake.clock_offset = -3.0
    async with client_for(fake, retry=RetryPolicy(max_attempts=1)) as client:
        assert (await client.get_record(record_id)).record_id == record_id


async def test_a_server_behind_us_refuses_the_first_x_date_and_the_clock_re_send_fixes_it(
    fake: FakeKooDrive,
) -> None:
    record_id = fake.add_record(fake.add_device())
    fake.clock_offset = -30.0
    async with client_for(fake, clock_skew_margin=0, retry=RetryPolicy(max_attempts=1)) as client:
        assert (await client.get_record(record_id)).record_id == record_id
    first, second = fake.requests
    assert (first.status, second.status) == (400, 200)  # 400 15000405: X-Date in the future
    assert first.headers["X-Date"] > second.headers["X-Date"]


# --- auth -------------------------------------------------------------------------------------


async def test_token_provider_is_asked_again_once_after_a_401(fake: FakeKooDrive) -> None:
    record_id = fake.add_record(fake.add_device())
    answers = ["stale-token", fake.token]

    async def provider() -> str:
        return answers.pop(0)

    auth = BearerAuth(token_provider=provider)
    async with BackupClient(
        fake.url, user_id=fake.user_id, auth=auth, retry=RetryPolicy(max_attempts=1)
    ) as client:
        assert (await client.get_record(record_id)).record_id == record_id
    assert answers == []
    assert [r.status for r in fake.requests] == [401, 200]


async def test_second_401_raises_and_drops_the_cached_token(fake: FakeKooDrive) -> None:
    calls = 0

    async def provider() -> str:
        nonlocal calls
        calls += 1
        return f"wrong-{calls}"

    async with BackupClient(
        fake.url, user_id=fake.user_id, auth=BearerAuth(token_provider=provider), retry=FAST
    ) as client:
        with pytest.raises(AuthenticationError):
            await client.get_record("1842862763295184641")
        assert fake.request_count == 2 and calls == 2
        with pytest.raises(AuthenticationError):
            await client.get_record("1842862763295184641")
    assert calls == 4  # dropped after the second 401: asked again for the next call


async def test_hmac_signature_accepted_by_the_fake() -> None:
    async with FakeKooDrive(app_id="app-1", app_secret="app-secret-not-real") as fake:
        record_id = fake.add_record(fake.add_device())
        auth = HmacAuth("app-1", "app-secret-not-real")
        async with BackupClient(fake.url, user_id=fake.user_id, auth=auth) as client:
            assert (await client.get_record(record_id)).record_id == record_id
            device_id = fake.add_device()
            scope_ids = fake.add_scopes(device_id, 3)
            assert (await client.delete_scopes(device_id, scope_ids)).deleted == tuple(scope_ids)
        bad = HmacAuth("app-1", "wrong-secret")
        async with BackupClient(fake.url, user_id=fake.user_id, auth=bad) as client:
            with pytest.raises(AuthenticationError):
                await client.get_record(record_id)


async def test_secrets_never_reach_logs_reprs_or_errors(
    fake: FakeKooDrive, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG, logger="koodrive_backup")
    fake.inject(Fault.status(503), route="getBackupRecord", times=1)
    fake.inject(Fault.status(401), route="getBackupRecord", times=1)
    client = client_for(fake)
    texts = [repr(client)]
    async with client:
        with pytest.raises(AuthenticationError) as info:
            await client.get_record("1842862763295184641")
    texts += [str(info.value), repr(info.value), *(r.getMessage() for r in caplog.records)]
    assert any("attempt" in t for t in texts)  # the DEBUG lines were emitted
    assert not [t for t in texts if TOKEN in t]


# --- lifecycle --------------------------------------------------------------------------------


async def test_closed_client_raises_runtime_error_and_close_is_idempotent(
    fake: FakeKooDrive,
) -> None:
    client = client_for(fake)
    await client.close()
    await client.close()
    with pytest.raises(RuntimeError, match="closed"):
        await client.get_record("1")
    with pytest.raises(RuntimeError):
        async with client:
            pass
    assert fake.request_count == 0


async def test_borrowed_session_is_used_and_never_closed(fake: FakeKooDrive) -> None:
    record_id = fake.add_record(fake.add_device())
    async with aiohttp.ClientSession() as session:
        async with client_for(fake, session=session) as client:
            await client.get_record(record_id)
        assert not session.closed
        async with session.get(fake.url + "/koodrive/ose/v1/backup/device") as resp:
            assert resp.status == 401  # the borrowed session still works


async def test_connections_are_reused(fake: FakeKooDrive) -> None:
    record_id = fake.add_record(fake.add_device())
    async with client_for(fake) as client:
        for _ in range(5):
            await client.get_record(record_id)
    assert len({r.peer for r in fake.requests}) == 1  # five requests, one connection


def test_construction_rules() -> None:
    with pytest.raises(TypeError):
        BackupClient("https://kd.example", user_id="u")
    with pytest.raises(TypeError):
        BackupClient("https://kd.example", user_id="u", token="t", auth=BearerAuth("t"))
    with pytest.raises(ValueError):
        BackupClient("http://kd.example", user_id="u", token="t")
    assert BackupClient("http://kd.example", user_id="u", token="t", allow_insecure_http=True)
    with pytest.raises(ValueError):
        BackupClient("https://kd.example", user_id="u\r\nX: y", token="t")
    with pytest.raises(ValueError):
        BackupClient("https://kd.example", user_id="u", token="t", timeout=0)


@pytest.mark.parametrize(
    ("name", "value", "error"),
    [
        ("clock_skew_margin", float("nan"), ValueError),  # was: ValueError at every call
        ("clock_skew_margin", float("inf"), ValueError),  # was: OverflowError at every call
        ("clock_skew_margin", -1, ValueError),
        ("clock_skew_margin", True, TypeError),
        ("clock_skew_margin", "5", TypeError),
        ("timeout", float("nan"), ValueError),
        ("timeout", float("inf"), ValueError),
        ("timeout", True, TypeError),
        ("max_response_bytes", 0, ValueError),
        ("max_response_bytes", True, TypeError),
        ("max_response_bytes", float("nan"), TypeError),
        ("session", "x", TypeError),  # was: an AttributeError at the first call
        ("session", object(), TypeError),
    ],
)
def test_bad_options_are_refused_at_construction(name: str, value: object, error: type) -> None:
    with pytest.raises(error, match=name):
        BackupClient("https://kd.example", user_id="u", token="t", **{name: value})  # type: ignore[arg-type]


async def test_a_zero_clock_skew_margin_is_accepted() -> None:
    transport = MockTransport(lambda request: answer(200, RECORD))
    clock = VirtualClock(start=1_800_000_000.0)
    async with BackupClient(
        "https://kd.example", user_id="u", token="t", transport=transport, clock=clock,
        clock_skew_margin=0,
    ) as client:  # fmt: skip
        await client.get_record("1")
    assert transport.requests[0].headers["X-Date"] == "20270115T080000Z"


async def test_cancelling_a_call_is_prompt_and_not_retried(fake: FakeKooDrive) -> None:
    fake.latency = 5.0
    async with client_for(fake) as client:
        task = asyncio.create_task(client.get_record("1842862763295184641"))
        for _ in range(1000):  # until the request is at the server
            if fake.in_flight:
                break
            await asyncio.sleep(0.005)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
    assert fake.request_count == 1
