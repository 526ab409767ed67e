"""The hostile peer of ``tests/hostile.py`` does what it says, seen from a raw socket.

Later hostile tests trust it (a gzip bomb that is not one would make a size-limit test pass
for nothing), so each misbehaviour is checked here at the byte level, without the SDK.
"""

from __future__ import annotations

import asyncio
import time
import zlib
from urllib.parse import urlsplit

import pytest
from child_memory import PEAK_RSS_PRELUDE, run_python
from hostile import (
    Behaviour,
    GiB,
    HostileServer,
    MiB,
    SeenRequest,
    bad_chunked,
    chunked,
    close_before_headers,
    deep_json,
    endless_chunked,
    garbage_status_line,
    gzip_bomb,
    gzip_bomb_bytes,
    reset_after_headers,
    reset_before_headers,
    respond,
    respond_json,
    trickle,
    truncate,
)

REQUEST = b"POST /x HTTP/1.1\r\nHost: h\r\nContent-Length: 2\r\n\r\n{}"


async def exchange(peer: HostileServer, request: bytes = REQUEST) -> bytes:
    """Send one request on a fresh connection and read until the peer closes."""
    parts = urlsplit(peer.url)
    reader, writer = await asyncio.open_connection(parts.hostname, parts.port)
    try:
        writer.write(request)
        await writer.drain()
        return await reader.read()
    finally:
        writer.close()


async def test_records_requests_and_connections_and_follows_the_script() -> None:
    async with HostileServer(respond(201, b"one"), respond_json(200, {"n": 2})) as peer:
        first = await exchange(peer)
        second = await exchange(peer)
        third = await exchange(peer)  # the last behaviour repeats
    assert first.startswith(b"HTTP/1.1 201 ") and first.endswith(b"\r\n\r\none")
    assert second.endswith(b'{"n": 2}') and third == second
    assert peer.connections == 3 and len(peer.requests) == 3
    seen = peer.requests[0]
    assert (seen.method, seen.target, seen.body, seen.connection) == ("POST", "/x", b"{}", 1)
    assert seen.headers["host"] == "h" and seen.json() == {}


async def test_keep_alive_serves_several_requests_on_one_connection() -> None:
    async with HostileServer(respond(200, b"a", keep_alive=True), respond(200, b"b")) as peer:
        parts = urlsplit(peer.url)
        reader, writer = await asyncio.open_connection(parts.hostname, parts.port)
        writer.write(REQUEST + REQUEST)
        answers = await reader.read()
        writer.close()
    assert answers.count(b"HTTP/1.1 200") == 2
    assert peer.connections == 1 and [r.connection for r in peer.requests] == [1, 1]


async def test_route_picks_the_behaviour_from_the_request() -> None:
    def route(request: SeenRequest) -> Behaviour:
        return respond(200, request.target.encode())

    async with HostileServer(route=route) as peer:
        answer = await exchange(peer, REQUEST.replace(b"/x", b"/route/7"))
    assert answer.endswith(b"/route/7")


@pytest.mark.parametrize("behaviour", [reset_before_headers(), reset_after_headers()])
async def test_resets_are_tcp_resets(behaviour: Behaviour) -> None:
    async with HostileServer(behaviour) as peer:
        with pytest.raises(ConnectionResetError):
            await exchange(peer)
    assert len(peer.requests) == 1  # the request was read before the reset


async def test_clean_close_and_truncation() -> None:
    async with HostileServer(close_before_headers(), truncate(b'{"code": 0}', 4)) as peer:
        nothing = await exchange(peer)
        cut = await exchange(peer)
    assert nothing == b""
    assert b"Content-Length: 11\r\n" in cut and cut.endswith(b'\r\n\r\n{"co')


async def test_trickle_sends_every_byte_slowly() -> None:
    data = b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n"
    async with HostileServer(trickle(data, every=0.002, size=4)) as peer:
        started = time.monotonic()
        received = await exchange(peer)
        elapsed = time.monotonic() - started
    assert received == data
    assert elapsed >= 0.002 * (len(data) // 4)  # at least the sleeps between the pieces


async def test_garbage_status_line_and_bad_chunked_framing_are_sent_as_such() -> None:
    async with HostileServer(garbage_status_line(), bad_chunked()) as peer:
        garbage = await exchange(peer)
        chunked = await exchange(peer)
    assert garbage.startswith(b"HTTP/1.1 2OO KO\r\n")
    assert b"Transfer-Encoding: chunked\r\n" in chunked and chunked.endswith(
        b"\r\n\r\nzz\r\n{}\r\n0\r\n\r\n"
    )


async def test_chunked_frames_the_body_in_pieces() -> None:
    async with HostileServer(chunked(b"abcde", piece=2)) as peer:
        answer = await exchange(peer)
    head, _, body = answer.partition(b"\r\n\r\n")
    assert b"Transfer-Encoding: chunked" in head and b"Content-Length" not in head
    assert body == b"2\r\nab\r\n2\r\ncd\r\n1\r\ne\r\n0\r\n\r\n"


async def test_endless_chunked_sends_up_to_its_cap_and_never_the_last_chunk() -> None:
    async with HostileServer(endless_chunked(b"[", b" ", piece=4, cap=8)) as peer:
        parts = urlsplit(peer.url)
        reader, writer = await asyncio.open_connection(parts.hostname, parts.port)
        writer.write(REQUEST)
        head = await reader.readuntil(b"\r\n\r\n")
        body = await reader.readexactly(len(b"1\r\n[\r\n" + 2 * b"4\r\n    \r\n"))
        with pytest.raises(TimeoutError):  # then silence: no last chunk, no close
            await asyncio.wait_for(reader.read(1), 0.05)
        writer.close()
    assert b"Transfer-Encoding: chunked" in head
    assert body == b"1\r\n[\r\n4\r\n    \r\n4\r\n    \r\n"


def test_deep_json_is_small_and_deep() -> None:
    body = deep_json(1100)
    assert len(body) < 2400 and body.count(b"[") == 1100
    assert deep_json(5, where="top") == b"[[[[[]]]]]"
    assert deep_json(2, where="msg") == b'{"msg":[[]]}'


def _inflate(bomb: bytes) -> tuple[int, bool]:
    """Inflate in bounded pieces (never the whole output at once): size, all zeros?"""
    inflater = zlib.decompressobj(31)  # gzip framing: checks the CRC-32 and the size
    total, zeros, pending = 0, True, bomb
    while pending and not inflater.eof:
        piece = inflater.decompress(pending, MiB)
        total += len(piece)
        zeros = zeros and not piece.strip(b"\0")
        pending = inflater.unconsumed_tail
    assert inflater.eof and not inflater.unused_data
    return total, zeros


def test_gzip_bomb_is_a_valid_gzip_of_zeros() -> None:
    assert _inflate(gzip_bomb_bytes(64 * MiB)) == (64 * MiB, True)
    big = gzip_bomb_bytes(GiB)  # same construction, more repeats of one segment
    assert len(big) < 1.1 * MiB  # 1 GiB of zeros in ~1 MiB on the wire


async def test_gzip_bomb_is_streamed_with_its_headers() -> None:
    bomb = gzip_bomb_bytes(16 * MiB)
    async with HostileServer(gzip_bomb(16 * MiB)) as peer:
        answer = await exchange(peer)
    head, _, body = answer.partition(b"\r\n\r\n")
    assert b"Content-Encoding: gzip" in head and body == bomb


async def test_peak_rss_of_a_child_sees_what_it_allocates() -> None:
    source = PEAK_RSS_PRELUDE + (
        "import json\n"
        "before = peak_rss_kib()\n"
        "block = bytearray(128 * 1024 * 1024)\n"
        "block[::4096] = b'x' * len(block[::4096])  # touch every page\n"
        "print(json.dumps({'before': before, 'after': peak_rss_kib()}))\n"
    )
    measured = await run_python(source)
    assert measured["after"] - measured["before"] >= 120 * 1024  # KiB
