"""The transport against peers that bloat, reset and break framing (issue 11 items 2, 7, 8).

API.md "Resilience options": a body larger than ``max_response_bytes`` (after decompression)
raises ``ResponseTooLargeError``, is not retried and is not read past the limit; the server
sees at most ``max_attempts`` requests per call, also when every connection is reset; a
borrowed session's ``raise_for_status=True`` does not change what the SDK raises.
"""

from __future__ import annotations

import asyncio
import gzip
import json
import zlib
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import aiohttp
import pytest
from child_memory import PEAK_RSS_PRELUDE, run_python
from conftest import FAST
from hostile import (
    Behaviour,
    HostileServer,
    MiB,
    SeenRequest,
    chunked,
    close_before_headers,
    endless_chunked,
    gzip_bomb,
    reset_after_headers,
    reset_before_headers,
    respond,
    respond_json,
    trickle,
)

from koodrive_backup import (
    APIConnectionError,
    APITimeoutError,
    BackupClient,
    DecodeError,
    NotFoundError,
    ResponseTooLargeError,
    RetryPolicy,
    ServerError,
)
from koodrive_backup.testing import FakeKooDrive, Fault

RECORD_ID = "1842862763295184641"
RECORD = {
    "code": 0,
    "msg": "success",
    "data": {"recordId": RECORD_ID, "moduleCode": "101", "status": 0, "version": 1},
}
RECORD_BODY = json.dumps(RECORD).encode()
#: Seconds before a call that should have ended is declared hung: a safety net, not a measure.
HANG_GUARD = 30.0


@asynccontextmanager
async def client_for(
    peer: HostileServer, *, borrowed: bool = False, **options: Any
) -> AsyncIterator[BackupClient]:
    """A client of the peer, over its own session or a borrowed one with aiohttp's defaults
    (``auto_decompress=True``, its own ``Accept-Encoding``): the same guarantees either way."""
    options.setdefault("retry", FAST)
    async with aiohttp.ClientSession() as session:
        if borrowed:
            options["session"] = session
        async with BackupClient(peer.url, user_id="1", token="hostile-token", **options) as c:
            yield c


def padded(size: int) -> bytes:
    """A valid getBackupRecord answer of exactly ``size`` bytes (padding in ``msg``)."""
    bare = len(json.dumps({**RECORD, "msg": ""}).encode())
    body = json.dumps({**RECORD, "msg": "x" * (size - bare)}).encode()
    assert len(body) == size
    return body


def head(length: int) -> bytes:
    """The head of a JSON answer of ``length`` bytes, as ``respond`` sends it."""
    return (
        b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
        b"Content-Length: %d\r\nConnection: close\r\n\r\n" % length
    )


def encoded(body: bytes, encoding: str, data: bytes | None = None) -> Behaviour:
    return respond(200, body if data is None else data, {"Content-Encoding": encoding})


FRAMINGS = ["content-length", "chunked", "gzip", "deflate"]


def framed(framing: str, body: bytes) -> Behaviour:
    """``body`` sent with a length, chunked (no length announced), gzip'd or deflated."""
    if framing == "content-length":
        return respond(200, body)
    if framing == "chunked":
        return chunked(body, piece=700)
    return encoded(body, framing, (gzip.compress if framing == "gzip" else zlib.compress)(body))


# --- item 2: the response size limit ----------------------------------------------------------


async def test_gzip_bomb_is_refused_within_bounded_memory() -> None:
    """Done-when of issue 11: 1 MiB of gzip inflating to 1 GiB raises ResponseTooLargeError,
    and the client's peak RSS grows by less than 64 MB (a child process, measured, not timed)."""

    def route(request: SeenRequest) -> Behaviour:
        return gzip_bomb() if request.target.endswith("/2") else respond(200, RECORD_BODY)

    child = PEAK_RSS_PRELUDE + (
        "import asyncio, json, sys\n"
        "from koodrive_backup import BackupClient, RetryPolicy\n"
        "async def main():\n"
        "    async with BackupClient(sys.argv[1], user_id='1', token='t',\n"
        "                            retry=RetryPolicy(initial_delay=0.001)) as client:\n"
        "        await client.get_record('1')  # warm-up: imports, connection, parser\n"
        "        before = peak_rss_kib()\n"
        "        try:\n"
        "            await client.get_record('2')\n"
        "            error = None\n"
        "        except Exception as exc:\n"
        "            error = [type(exc).__name__, getattr(exc, 'limit', None)]\n"
        "        print(json.dumps({'before': before, 'after': peak_rss_kib(), 'error': error}))\n"
        "asyncio.run(main())\n"
    )
    async with HostileServer(route=route) as peer:
        measured = await run_python(child, peer.url)
    assert measured["error"] == ["ResponseTooLargeError", 8 * MiB]  # the default limit
    assert measured["after"] - measured["before"] < 64 * 1000  # KiB: under 64 MB
    assert len(peer.requests) == 2  # the bomb was not asked for twice


@pytest.mark.parametrize("framing", FRAMINGS)
async def test_a_body_of_exactly_the_limit_is_read(framing: str) -> None:
    peer = HostileServer(framed(framing, padded(3000)))
    async with peer, client_for(peer, max_response_bytes=3000) as client:
        record = await client.get_record(RECORD_ID)
    assert record.record_id == RECORD_ID


@pytest.mark.parametrize("borrowed", [False, True], ids=["own", "borrowed"])
@pytest.mark.parametrize("framing", FRAMINGS)
async def test_one_byte_over_the_limit_is_too_large_and_not_retried(
    framing: str, borrowed: bool
) -> None:
    peer = HostileServer(framed(framing, padded(3001)))
    async with peer, client_for(peer, borrowed=borrowed, max_response_bytes=3000) as client:
        with pytest.raises(ResponseTooLargeError) as info:
            await client.get_record(RECORD_ID)
    assert isinstance(info.value, DecodeError)
    assert (info.value.status, info.value.limit) == (200, 3000)
    assert "max_response_bytes (3000 bytes)" in str(info.value)
    assert len(peer.requests) == 1  # not retried


async def test_an_announced_length_over_the_limit_is_refused_before_reading() -> None:
    """The head promises 100 MiB and the connection is then reset: the refusal comes from
    the Content-Length alone (reading any of the body would meet the reset instead)."""
    peer = HostileServer(reset_after_headers(500, promised=100 * MiB))
    async with peer, client_for(peer) as client:
        with pytest.raises(ResponseTooLargeError) as info:
            await client.get_record(RECORD_ID)
    assert info.value.status == 500 and len(peer.requests) == 1  # a 5xx, yet not retried


async def test_a_streamed_body_that_never_ends_stops_at_the_limit() -> None:
    """No length announced and no end: a client that reads to the end before counting never
    returns (the guard turns that into a failure); the limit ends it after 1 MiB."""
    peer = HostileServer(endless_chunked())
    async with peer, client_for(peer, max_response_bytes=MiB) as client:
        with pytest.raises(ResponseTooLargeError) as info:
            async with asyncio.timeout(HANG_GUARD):
                await client.list_devices()
    assert (info.value.status, info.value.limit) == (200, MiB)
    assert len(peer.requests) == 1  # not retried


@pytest.mark.parametrize("borrowed", [False, True], ids=["own", "borrowed"])
async def test_the_timeout_bounds_the_whole_attempt_not_each_read(borrowed: bool) -> None:
    """A peer trickling a valid answer one byte every 50 ms never pauses as long as the
    0.2 s timeout, yet would take ~8 s in all: the attempt times out."""
    peer = HostileServer(trickle(head(len(RECORD_BODY)) + RECORD_BODY, every=0.05))
    one = RetryPolicy(max_attempts=1)
    async with peer, client_for(peer, borrowed=borrowed, retry=one, timeout=0.2) as client:
        with pytest.raises(APITimeoutError):
            async with asyncio.timeout(HANG_GUARD):
                await client.get_record(RECORD_ID)
    assert len(peer.requests) == 1


def test_max_response_bytes_is_checked() -> None:
    with pytest.raises(ValueError, match="max_response_bytes"):
        BackupClient("https://kd.example", user_id="1", token="t", max_response_bytes=0)
    with pytest.raises(TypeError, match="max_response_bytes"):
        BackupClient("https://kd.example", user_id="1", token="t", max_response_bytes=1.5)  # type: ignore[arg-type]


# --- compressed answers: decoded here, correctly ---------------------------------------------


@pytest.mark.parametrize(
    ("encoding", "compress"),
    [
        ("gzip", gzip.compress),
        ("x-gzip", gzip.compress),
        ("deflate", zlib.compress),  # RFC 9110: zlib-wrapped
        ("deflate", lambda data: zlib.compress(data)[2:-4]),  # raw, as some servers send it
        ("GZIP", gzip.compress),
        ("identity", lambda data: data),
    ],
)
@pytest.mark.parametrize("borrowed", [False, True], ids=["own", "borrowed"])
async def test_compressed_answers_are_decoded(encoding: str, compress: Any, borrowed: bool) -> None:
    peer = HostileServer(encoded(RECORD_BODY, encoding, compress(RECORD_BODY)))
    async with peer, client_for(peer, borrowed=borrowed) as client:
        record = await client.get_record(RECORD_ID)
    assert record.record_id == RECORD_ID
    assert peer.requests[0].headers["accept-encoding"] == "gzip, deflate"  # what is decoded


@pytest.mark.parametrize(
    ("encoding", "data", "problem"),
    [
        ("br", b"\x1b\x00", "an encoding not asked for: 'br'"),
        ("gzip, gzip", gzip.compress(gzip.compress(RECORD_BODY)), "not asked for"),
        ("gzip", gzip.compress(RECORD_BODY)[:-12], "ends before its end marker"),
        ("gzip", b"\x1f\x8b\x08\x00garbage-garbage", "cannot be decoded"),
        ("deflate", b"\x78\x9c" + b"\xff" * 20, "cannot be decoded"),
    ],
)
async def test_a_body_that_does_not_decode_is_a_decode_error(
    encoding: str, data: bytes, problem: str
) -> None:
    peer = HostileServer(encoded(RECORD_BODY, encoding, data))
    async with peer, client_for(peer) as client:
        with pytest.raises(DecodeError, match=problem):
            await client.get_record(RECORD_ID)
    assert len(peer.requests) == 1


# --- item 7: a borrowed session with raise_for_status=True ------------------------------------


async def test_a_borrowed_raise_for_status_session_still_gives_typed_errors(
    fake: FakeKooDrive,
) -> None:
    async with aiohttp.ClientSession(raise_for_status=True) as session:
        async with BackupClient(
            fake.url, user_id=fake.user_id, token=fake.token, session=session, retry=FAST
        ) as client:
            with pytest.raises(NotFoundError):
                await client.get_record(RECORD_ID)
            assert fake.route_counts["getBackupRecord"] == 1  # a 404 is not retried
            fake.inject(Fault.status(503), route="listBoundDevice", times=None)
            with pytest.raises(ServerError):
                await client.list_devices()
            assert fake.route_counts["listBoundDevice"] == FAST.max_attempts
        assert not session.closed  # borrowed: never closed by the client


# --- item 8: wire attempts ---------------------------------------------------------------------

THREE = RetryPolicy(max_attempts=3, initial_delay=0.001, max_delay=0.001)


@pytest.mark.parametrize(
    "behaviour", [reset_before_headers(), close_before_headers()], ids=["reset", "close"]
)
@pytest.mark.parametrize("method", ["GET", "DELETE"])
@pytest.mark.parametrize("borrowed", [False, True], ids=["own", "borrowed"])
async def test_every_connection_reset_means_max_attempts_requests(
    behaviour: Behaviour, method: str, borrowed: bool
) -> None:
    peer = HostileServer(behaviour)
    async with peer, client_for(peer, borrowed=borrowed, retry=THREE) as client:
        with pytest.raises(APIConnectionError):
            if method == "GET":
                await client.get_record(RECORD_ID)
            else:
                await client.delete_record(RECORD_ID, lock_id="L@101")
    assert [r.method for r in peer.requests] == [method] * 3  # aiohttp re-sent none of them
    assert peer.connections == 3


async def test_a_reset_on_a_pooled_connection_is_not_re_sent() -> None:
    """The first answer keeps the connection alive; the next request, on that pooled
    connection, is read and reset: one attempt is one request."""
    peer = HostileServer(respond(200, RECORD_BODY, keep_alive=True), reset_before_headers())
    async with peer, client_for(peer, retry=RetryPolicy(max_attempts=1)) as client:
        await client.get_record(RECORD_ID)
        with pytest.raises(APIConnectionError):
            await client.get_record(RECORD_ID)
    assert len(peer.requests) == 2
    assert [r.connection for r in peer.requests] == [1, 1]


async def test_a_success_after_resets_counts_each_request_once() -> None:
    peer = HostileServer(reset_before_headers(), reset_before_headers(), respond_json(200, RECORD))
    async with peer, client_for(peer, retry=THREE) as client:
        record = await client.get_record(RECORD_ID)
    assert record.record_id == RECORD_ID and len(peer.requests) == 3
