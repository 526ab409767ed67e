"""The session logic without sockets: a real ``BackupClient`` over a ``MockTransport``.

Signing per attempt, retries and their waits, the 401 re-send, error mapping and the shape of
each exchange, with the network and the clock replaced through the client's I/O seam.
"""

from __future__ import annotations

import asyncio
import itertools
import time
from collections.abc import Mapping

import pytest
from seams import MockTransport, VirtualClock, answer

from koodrive_backup import (
    APIConnectionError,
    APIError,
    Auth,
    AuthenticationError,
    BackupClient,
    BearerAuth,
    HmacAuth,
    HttpRequest,
    NotFoundError,
    RawResponse,
    RetryPolicy,
    ServerError,
    SignableRequest,
)

URL = "https://kd.example:8443/base"
RECORD = {"code": 0, "data": {"recordId": "1842862763295184641", "status": 1}}
POLICY = RetryPolicy(initial_delay=1.0, max_delay=1.0)
SIGNABLE = SignableRequest("GET", "kd.example", "/x", (), {"x-date": "d", "x-user-id": "1"}, b"")


def scripted(*responses: RawResponse | Exception) -> MockTransport:
    """A transport answering (or raising) the given items in order."""
    items = iter(responses)

    def handler(request: HttpRequest) -> RawResponse:
        item = next(items)
        if isinstance(item, Exception):
            raise item
        return item

    return MockTransport(handler)


def client_over(transport: MockTransport, clock: VirtualClock, **options: object) -> BackupClient:
    settings: dict[str, object] = {"user_id": "42", "token": "tok", "retry": POLICY}
    settings.update(options)
    return BackupClient(URL, transport=transport, clock=clock, **settings)  # type: ignore[arg-type]


async def test_each_attempt_is_signed_afresh_with_its_own_x_date() -> None:
    busy = answer(503, {"code": 1}, {"Retry-After": "1"})
    transport = scripted(busy, busy, answer(200, RECORD))
    clock = VirtualClock(1_800_000_000.0, autojump=True)
    async with client_over(transport, clock, auth=HmacAuth("app", "s3cret"), token=None) as c:
        record = await c.get_record("1842862763295184641")
    assert record.record_id == "1842862763295184641"
    assert clock.sleeps == [1.0, 1.0]  # the waits went to the injected clock
    dates = [r.headers["X-Date"] for r in transport.requests]
    signatures = [r.headers["Authorization"] for r in transport.requests]
    backdated = [1_800_000_000 - 5 + n for n in range(3)]  # 5 s margin, 1 s between tries
    assert dates == [time.strftime("%Y%m%dT%H%M%SZ", time.gmtime(t)) for t in backdated]
    assert len(set(signatures)) == 3  # a new signature for each X-Date


async def test_the_exchange_carries_the_signed_host_and_the_full_url() -> None:
    page = {"code": 0, "data": [], "nextCursor": None}
    transport = scripted(answer(200, page))
    async with client_over(transport, VirtualClock()) as client:
        await client.list_records("101", page_size=5, cursor="a b/c", device_id="7")
    (sent,) = transport.requests
    assert sent.method == "GET"
    assert sent.url == (
        "https://kd.example:8443/base/koodrive/ose/v1/backup/record"
        "?moduleCode=101&pageSize=5&cursor=a%20b%2Fc&deviceId=7"
    )
    assert sent.headers["X-User-Id"] == "42" and sent.headers["Authorization"] == "Bearer tok"
    assert sent.body == b"" and sent.timeout == 30.0


class Traced(HmacAuth):
    """A strategy extended the documented way: override ``headers`` (async), call super."""

    async def headers(self, request: SignableRequest) -> Mapping[str, str]:
        return {**await super().headers(request), "X-Trace": request.method}


class Custom(Auth):
    async def headers(self, request: SignableRequest) -> Mapping[str, str]:
        await asyncio.sleep(0)
        return {"Authorization": "Custom abc"}


@pytest.mark.parametrize(
    ("auth", "extra"),
    [(Traced("app", "s3cret"), "X-Trace"), (Custom(), "Authorization")],
    ids=["subclass", "own"],
)
async def test_an_auth_that_overrides_headers_alone_is_awaited(auth: Auth, extra: str) -> None:
    """``headers_now`` (the no-wait path) must not bypass an override of ``headers``."""
    transport = scripted(answer(200, RECORD))
    async with client_over(transport, VirtualClock(), auth=auth, token=None) as client:
        await client.get_record("1842862763295184641")
    (sent,) = transport.requests
    assert extra in sent.headers and sent.headers["Authorization"].startswith(("HMAC", "Custom"))
    assert auth.headers_now(SIGNABLE) is None  # so the session awaits headers()


async def test_a_401_asks_the_provider_again_and_resends_without_counting_an_attempt() -> None:
    tokens = itertools.count(1)

    async def provider() -> str:
        return f"t{next(tokens)}"

    transport = scripted(answer(401, {"code": 15000401}), answer(200, RECORD))
    auth = BearerAuth(token_provider=provider)
    once = RetryPolicy(max_attempts=1)
    async with client_over(transport, VirtualClock(), token=None, auth=auth, retry=once) as c:
        await c.get_record("1")
    assert [r.headers["Authorization"] for r in transport.requests] == ["Bearer t1", "Bearer t2"]


async def test_a_second_401_raises_and_drops_the_cached_token() -> None:
    tokens = itertools.count(1)

    async def provider() -> str:
        return f"t{next(tokens)}"

    refused = answer(401, {"code": 15000401, "msg": "expired"})
    transport = scripted(refused, refused, answer(200, RECORD))
    auth = BearerAuth(token_provider=provider)
    async with client_over(transport, VirtualClock(), token=None, auth=auth) as client:
        with pytest.raises(AuthenticationError) as info:
            await client.get_record("1")
        assert info.value.code == 15000401
        await client.get_record("1")  # the provider is asked afresh
    assert [r.headers["Authorization"] for r in transport.requests][-1] == "Bearer t3"


@pytest.mark.parametrize(
    ("response", "error", "code"),
    [
        (answer(404, {"code": 15000404, "msg": "no such record"}), NotFoundError, 15000404),
        (answer(200, {"code": "15000777", "msg": "refused"}), APIError, 15000777),
        (RawResponse(502, {}, b"<html>proxy</html>"), ServerError, None),
    ],
)
async def test_answers_map_to_typed_errors(
    response: RawResponse, error: type[APIError], code: int | None
) -> None:
    transport = scripted(response)
    async with client_over(transport, VirtualClock(), retry=RetryPolicy(max_attempts=1)) as c:
        with pytest.raises(error) as info:
            await c.get_record("1")
    assert type(info.value) is error and info.value.code == code


async def test_transport_failures_are_retried_by_the_rules_of_the_method() -> None:
    refused = APIConnectionError("refused", request_sent=False)
    reset = APIConnectionError("reset")
    transport = scripted(reset, answer(200, RECORD), refused, answer(200, {"code": 0}), reset)
    clock = VirtualClock(autojump=True)
    async with client_over(transport, clock) as client:
        await client.get_record("1")  # a GET: retried after a reset
        await client.renew_lock("L@101")  # a PATCH: retried, the request never left
        with pytest.raises(APIConnectionError):
            await client.renew_lock("L@101")  # a PATCH after a reset: not retried
    assert len(transport.requests) == 5


async def test_a_closed_client_sends_nothing_and_closes_its_transport() -> None:
    transport = scripted()
    client = client_over(transport, VirtualClock())
    await client.close()
    assert transport.closed
    with pytest.raises(RuntimeError, match="closed"):
        await client.get_record("1")
    assert transport.requests == []


async def test_a_borrowed_session_and_a_transport_do_not_mix() -> None:
    with pytest.raises(TypeError, match="not both"):
        BackupClient(URL, user_id="1", token="t", transport=scripted(), session=object())  # type: ignore[arg-type]
