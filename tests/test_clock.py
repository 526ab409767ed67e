"""The server's clock (API.md "Resilience options"): ``client.clock_offset`` from each
answer's ``Date``, ``X-Date = now + offset - margin``, and the one clock re-send.

End to end on the fake with its clock an hour off either way; the decisions on a
``MockTransport`` whose answers carry a ``Date`` made from a ``VirtualClock``.
"""

from __future__ import annotations

import calendar
import email.utils
import logging
import time

import pytest
from seams import MockTransport, VirtualClock, answer

from koodrive_backup import (
    APIError,
    AuthenticationError,
    BackupClient,
    BadRequestError,
    BearerAuth,
    ConflictError,
    HmacAuth,
    HttpRequest,
    NotFoundError,
    PermissionDeniedError,
    RawResponse,
    RetryPolicy,
)
from koodrive_backup.testing import FakeKooDrive

URL = "https://api.example"
RECORD = {"code": 0, "data": {"recordId": "1", "moduleCode": "101", "status": 1}}
X_DATE_REFUSED = {"code": 15000405, "msg": "X-Date is later than the server time"}
START = 1_800_000_000.0  # a whole second: Date headers and X-Dates are whole seconds


def http_date(stamp: float) -> str:
    return email.utils.formatdate(stamp, usegmt=True)


def x_date_of(request: HttpRequest) -> float:
    return parse_x_date(request.headers["X-Date"])


def parse_x_date(value: str) -> float:
    return calendar.timegm(time.strptime(value, "%Y%m%dT%H%M%SZ"))


def x_date_at(stamp: float) -> str:
    return time.strftime("%Y%m%dT%H%M%SZ", time.gmtime(stamp))


# --- end to end: the fake's clock an hour off ---------------------------------------------------


@pytest.mark.parametrize("server_ahead", [3600.0, -3600.0])
@pytest.mark.parametrize("auth", ["token", "hmac"])
async def test_a_clock_an_hour_off_works_from_the_first_call(
    server_ahead: float, auth: str
) -> None:
    clock = VirtualClock(start=START)  # the fake's clock and the client's: exact values
    async with FakeKooDrive(app_id="app-1", app_secret="app-secret-1", clock=clock.time) as fake:
        record_id = fake.add_record(fake.add_device())
        fake.clock_offset = server_ahead  # our clock is an hour behind it, or ahead of it
        credential = (
            {"token": fake.token}
            if auth == "token"
            else {"auth": HmacAuth("app-1", "app-secret-1")}
        )
        async with BackupClient(
            fake.url,
            user_id=fake.user_id,
            clock=clock,
            retry=RetryPolicy(max_attempts=1, retry_quota=0),  # the re-send is not a retry
            **credential,
        ) as client:
            assert client.clock_offset == 0.0
            assert (await client.get_record(record_id)).record_id == record_id
            assert client.clock_offset == server_ahead
            assert len(fake.requests) == 2  # refused X-Date, then the clock re-send
            first, second = fake.requests
            assert (first.status, first.path_id) == (400, record_id)
            assert second.status == 200
            assert parse_x_date(second.headers["X-Date"]) == START + server_ahead - 5

            assert (await client.get_record(record_id)).record_id == record_id
            assert len(fake.requests) == 3  # learned: one request from now on


async def test_a_server_ahead_within_its_window_costs_no_re_send() -> None:
    clock = VirtualClock(start=START)
    async with FakeKooDrive(clock=clock.time) as fake:
        record_id = fake.add_record(fake.add_device())
        fake.clock_offset = 600.0  # our X-Date looks 10 minutes old: accepted, and we learn
        async with BackupClient(
            fake.url, user_id=fake.user_id, token=fake.token, clock=clock
        ) as client:
            await client.get_record(record_id)
            assert client.clock_offset == 600.0
            await client.get_record(record_id)
        first, second = fake.requests
    assert first.status == second.status == 200
    assert parse_x_date(first.headers["X-Date"]) == START - 5  # nothing learned yet
    # The second X-Date is on the server's clock: clock_skew_margin (5 s) behind it.
    assert second.time - parse_x_date(second.headers["X-Date"]) == 5


# --- X-Date follows the learned offset ------------------------------------------------------


class DatedServer:
    """Answers from a script, each with a ``Date`` on a server clock ``ahead`` of ``clock``."""

    def __init__(self, clock: VirtualClock, ahead: float, *answers: tuple[int, object]) -> None:
        self.clock = clock
        self.ahead = ahead
        self.answers = list(answers)

    def __call__(self, request: HttpRequest) -> RawResponse:
        status, payload = self.answers.pop(0) if self.answers else (200, RECORD)
        date = http_date(self.clock.now + self.ahead)
        return answer(status, payload, {"Date": date})


def client_for(transport: MockTransport, clock: VirtualClock, **options: object) -> BackupClient:
    return BackupClient(
        URL,
        user_id="1",
        token="t",
        transport=transport,
        clock=clock,
        **options,  # type: ignore[arg-type]
    )


async def test_x_date_is_now_plus_offset_minus_margin() -> None:
    clock = VirtualClock(start=1_800_000_000.0)
    transport = MockTransport(DatedServer(clock, 1234.0))
    async with client_for(transport, clock, clock_skew_margin=7.0) as client:
        await client.get_record("1")
        assert client.clock_offset == 1234.0
        await client.get_record("1")
    first, second = transport.requests
    assert first.headers["X-Date"] == x_date_at(1_800_000_000 - 7)  # nothing learned yet
    assert second.headers["X-Date"] == x_date_at(1_800_000_000 + 1234 - 7)


async def test_the_date_header_is_read_when_its_text_changes() -> None:
    clock = VirtualClock(start=1_800_000_000.0)
    transport = MockTransport(DatedServer(clock, 100.0))
    async with client_for(transport, clock) as client:
        await client.get_record("1")
        assert client.clock_offset == 100.0
        await clock.advance(0.5)  # the same Date text: kept, not parsed again
        await client.get_record("1")
        assert client.clock_offset == 100.0
        await clock.advance(0.75)  # a new second: read again (whole seconds, so 99.75)
        await client.get_record("1")
        assert client.clock_offset == pytest.approx(99.75)


@pytest.mark.parametrize(
    "date",
    [
        "yesterday",
        "",
        "Mon, 01 Jan 1900 00:00:00 GMT",  # not a live server's clock
        "Fri, 31 Dec 99999 23:59:59 GMT",  # no such year
        "Sun, 06 Nov 1994 08:49:37 GMT",  # before 2000: garbage
        "Thu, 31 Dec 9998 12:00:00 GMT",  # would make an unformattable X-Date soon
    ],
)
async def test_an_unreadable_or_absurd_date_is_ignored(date: str) -> None:
    transport = MockTransport(lambda request: answer(200, RECORD, {"Date": date}))
    async with BackupClient(URL, user_id="1", token="t", transport=transport) as client:
        await client.get_record("1")
        await client.get_record("1")
        assert client.clock_offset == 0.0


# --- the clock re-send ------------------------------------------------------------------------


async def test_an_x_date_refusal_is_re_sent_once_with_a_corrected_x_date(
    caplog: pytest.LogCaptureFixture,
) -> None:
    clock = VirtualClock(start=1_800_000_000.0)
    transport = MockTransport(DatedServer(clock, -3600.0, (400, X_DATE_REFUSED)))
    caplog.set_level(logging.INFO, logger="koodrive_backup")
    async with client_for(transport, clock, retry=RetryPolicy(max_attempts=1)) as client:
        assert (await client.get_record("1")).record_id == "1"
    first, second = transport.requests
    assert x_date_of(first) == 1_800_000_000 - 5
    assert x_date_of(second) == 1_800_000_000 - 3600 - 5
    assert any("X-Date was +3600 s off" in r.getMessage() for r in caplog.records)


async def failing_call(server: DatedServer, error: type) -> tuple[int, float]:
    """One ``get_record`` (one attempt) that must raise ``error``: how many requests it
    sent, and the clock offset learned."""
    transport = MockTransport(server)
    async with client_for(transport, server.clock, retry=RetryPolicy(max_attempts=1)) as client:
        with pytest.raises(error):
            await client.get_record("1")
        return len(transport.requests), client.clock_offset


class JumpingServer(DatedServer):
    """Refuses every X-Date, its clock an hour further ahead at each answer."""

    def __call__(self, request: HttpRequest) -> RawResponse:
        self.ahead += 3600.0
        self.answers.append(self.answers[0])
        return super().__call__(request)


@pytest.mark.parametrize(
    ("status", "error"),
    [(400, BadRequestError), (401, AuthenticationError), (403, PermissionDeniedError)],
)
async def test_the_clock_re_send_happens_once_per_attempt(status: int, error: type) -> None:
    server = JumpingServer(VirtualClock(start=1_800_000_000.0), 0.0, (status, X_DATE_REFUSED))
    sent, _ = await failing_call(server, error)
    assert sent == 2


async def test_an_error_with_a_right_clock_is_not_re_sent() -> None:
    server = DatedServer(VirtualClock(start=1_800_000_000.0), 0.0, (400, {"code": 15000400}))
    assert await failing_call(server, BadRequestError) == (1, 0.0)


@pytest.mark.parametrize(
    ("status", "error"),
    [
        (404, NotFoundError),
        (409, ConflictError),
        (200, APIError),  # a 2xx whose body reports an error
        (418, APIError),
    ],
)
async def test_an_off_clock_on_another_error_is_learned_but_not_re_sent(
    status: int, error: type
) -> None:
    server = DatedServer(VirtualClock(start=1_800_000_000.0), 3600.0, (status, X_DATE_REFUSED))
    assert await failing_call(server, error) == (1, 3600.0)


async def test_a_401_from_the_clock_then_from_the_token_uses_both_re_sends() -> None:
    clock = VirtualClock(start=1_800_000_000.0)
    server = DatedServer(clock, 3600.0, (401, {"code": 1}), (401, {"code": 2}))
    transport = MockTransport(server)
    tokens = iter(["stale", "fresh"])

    async def provider() -> str:
        return next(tokens)

    async with BackupClient(
        URL, user_id="1", auth=BearerAuth(token_provider=provider), transport=transport,
        clock=clock, retry=RetryPolicy(max_attempts=1),
    ) as client:  # fmt: skip
        assert (await client.get_record("1")).record_id == "1"
    auths = [r.headers["Authorization"] for r in transport.requests]
    assert auths == ["Bearer stale", "Bearer stale", "Bearer fresh"]  # clock, then token


async def test_without_date_headers_nothing_changes() -> None:
    transport = MockTransport(lambda request: answer(401, {"code": 1}))
    async with BackupClient(
        URL, user_id="1", token="t", transport=transport, retry=RetryPolicy(max_attempts=1)
    ) as client:
        with pytest.raises(AuthenticationError):
            await client.get_record("1")
        assert client.clock_offset == 0.0
    assert len(transport.requests) == 1
