"""A hostile HTTP/1.1 peer for tests: a raw asyncio TCP server that misbehaves on purpose.

Not ``aiohttp.web``: a well-behaved server library cannot reset mid-answer, lie about lengths,
break chunked framing or send a garbage status line. This one reads each request itself
(head, then a ``Content-Length`` body), records it, and lets a *behaviour* write whatever
bytes it likes::

    async with HostileServer(reset_before_headers(), respond_json(200, {"code": 0})) as peer:
        ...  # point a client at peer.url; the first request is reset, the next answered
    assert peer.connections == 2 and len(peer.requests) == 2

Behaviours are taken in order, one per request; the last one repeats (or ``then=``). For
answers that depend on the request, pass ``route=`` a function of the ``SeenRequest``.
Unless a behaviour keeps the connection alive (``respond(..., keep_alive=True)``), the
connection is closed after it, so every request of a client comes on a fresh connection.

It listens on 127.0.0.1, port 0, and reaches nothing else. To measure a client's memory
against it, see ``child_memory``.
"""

from __future__ import annotations

import asyncio
import functools
import json
import socket
import struct
import zlib
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from types import TracebackType
from typing import Any, Self

MiB = 1 << 20
GiB = 1 << 30


@dataclass
class SeenRequest:
    """One request as the peer read it (header names lower-cased)."""

    method: str
    target: str
    headers: dict[str, str]
    body: bytes
    connection: int  # 1 for the first connection accepted, 2 for the next, ...

    def json(self) -> Any:
        return json.loads(self.body)


@dataclass
class Exchange:
    """What a behaviour works with: the request, and ways to write or drop the connection."""

    request: SeenRequest
    writer: asyncio.StreamWriter
    keep_alive: bool = False  # set by a behaviour that leaves the connection usable

    async def send(self, data: bytes) -> None:
        self.writer.write(data)
        await self.writer.drain()

    def reset(self) -> None:
        """Drop the connection with a TCP RST (SO_LINGER 0), not a clean FIN."""
        sock = self.writer.get_extra_info("socket")
        if sock is not None:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        self.writer.transport.abort()


Behaviour = Callable[[Exchange], Awaitable[None]]


class HostileServer:
    """The peer; an async context manager. See the module docstring.

    ``connections`` counts the connections accepted, ``requests`` holds every request read
    (a reset before the head was read is a connection without a request).
    """

    def __init__(
        self,
        *script: Behaviour,
        then: Behaviour | None = None,
        route: Callable[[SeenRequest], Behaviour] | None = None,
    ) -> None:
        if not script and then is None and route is None:
            raise ValueError("give at least one behaviour, then= or route=")
        self.script, self.then, self.route = script, then, route
        self.connections = 0
        self.requests: list[SeenRequest] = []
        self._server: asyncio.Server | None = None
        self._tasks: set[asyncio.Task[None]] = set()

    @property
    def url(self) -> str:
        assert self._server is not None, "not started"
        host, port = self._server.sockets[0].getsockname()[:2]
        return f"http://{host}:{port}"

    async def __aenter__(self) -> Self:
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        return self

    async def __aexit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        assert self._server is not None
        self._server.close()
        for task in list(self._tasks):  # behaviours that hang, connections left open
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        await self._server.wait_closed()

    def _behaviour(self, request: SeenRequest) -> Behaviour:
        if self.route is not None:
            return self.route(request)
        index = len(self.requests) - 1
        if index < len(self.script):
            return self.script[index]
        return self.then if self.then is not None else self.script[-1]

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._tasks.add(task)
        self.connections += 1
        number = self.connections
        try:
            while (request := await _read_request(reader, number)) is not None:
                self.requests.append(request)
                exchange = Exchange(request, writer)
                await self._behaviour(request)(exchange)
                if not exchange.keep_alive:
                    break
        except (ConnectionError, asyncio.IncompleteReadError, asyncio.LimitOverrunError):
            pass  # the client gave up first: what hostile tests are about
        finally:
            self._tasks.discard(task)
            if not writer.transport.is_closing():
                writer.close()


async def _read_request(reader: asyncio.StreamReader, number: int) -> SeenRequest | None:
    try:
        head = await reader.readuntil(b"\r\n\r\n")
    except asyncio.IncompleteReadError:
        return None  # the client closed an idle connection
    line, *header_lines = head.decode("latin-1").split("\r\n")
    method, target, _version = line.split(" ", 2)
    headers = {}
    for header in header_lines:
        if header:
            name, _, value = header.partition(":")
            headers[name.strip().lower()] = value.strip()
    body = await reader.readexactly(int(headers.get("content-length", "0")))
    return SeenRequest(method, target, headers, body, number)


# --- behaviours -------------------------------------------------------------------------------


def _head(status: int, headers: dict[str, str], *, reason: str = "X") -> bytes:
    lines = [f"HTTP/1.1 {status} {reason}", *(f"{k}: {v}" for k, v in headers.items())]
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")


def respond(
    status: int = 200,
    body: bytes = b"",
    headers: dict[str, str] | None = None,
    *,
    keep_alive: bool = False,
) -> Behaviour:
    """A well-formed answer (``Content-Length`` framing)."""

    async def behaviour(exchange: Exchange) -> None:
        all_headers = {"Content-Type": "application/json", "Content-Length": str(len(body))}
        all_headers["Connection"] = "keep-alive" if keep_alive else "close"
        all_headers.update(headers or {})
        await exchange.send(_head(status, all_headers) + body)
        exchange.keep_alive = keep_alive

    return behaviour


def respond_json(status: int, payload: object, **kwargs: Any) -> Behaviour:
    return respond(status, json.dumps(payload).encode(), **kwargs)


def raw(data: bytes) -> Behaviour:
    """Arbitrary canned bytes, then a clean close."""

    async def behaviour(exchange: Exchange) -> None:
        await exchange.send(data)

    return behaviour


def reset_before_headers() -> Behaviour:
    """Read the request, then reset the connection without a byte of answer."""

    async def behaviour(exchange: Exchange) -> None:
        exchange.reset()

    return behaviour


def close_before_headers() -> Behaviour:
    """Read the request, then close cleanly (FIN) without a byte of answer."""
    return raw(b"")


def reset_after_headers(status: int = 200, promised: int = 1000) -> Behaviour:
    """Send the head of an answer promising ``promised`` body bytes, then reset."""

    async def behaviour(exchange: Exchange) -> None:
        await exchange.send(_head(status, {"Content-Length": str(promised)}))
        exchange.reset()

    return behaviour


def truncate(body: bytes, keep: int, status: int = 200) -> Behaviour:
    """Promise ``len(body)`` bytes, send the first ``keep``, then close cleanly."""

    async def behaviour(exchange: Exchange) -> None:
        head = _head(status, {"Content-Type": "application/json", "Content-Length": str(len(body))})
        await exchange.send(head + body[:keep])

    return behaviour


def trickle(data: bytes, *, every: float = 0.05, size: int = 1) -> Behaviour:
    """Send ``data`` (a whole raw answer) ``size`` bytes at a time, ``every`` seconds apart."""

    async def behaviour(exchange: Exchange) -> None:
        for start in range(0, len(data), size):
            await exchange.send(data[start : start + size])
            await asyncio.sleep(every)

    return behaviour


def hang() -> Behaviour:
    """Read the request and never answer (until the client or the server gives up)."""

    async def behaviour(exchange: Exchange) -> None:
        await asyncio.Event().wait()

    return behaviour


def garbage_status_line(line: bytes = b"HTTP/1.1 2OO KO") -> Behaviour:
    """A status line no HTTP parser accepts, then a plausible rest of an answer."""
    return raw(line + b"\r\nContent-Length: 2\r\n\r\n{}")


def bad_chunked() -> Behaviour:
    """``Transfer-Encoding: chunked`` whose first chunk size is not hexadecimal."""
    return raw(_CHUNKED_HEAD + b"zz\r\n{}\r\n0\r\n\r\n")


_CHUNKED_HEAD = _head(200, {"Content-Type": "application/json", "Transfer-Encoding": "chunked"})


def _chunk(data: bytes) -> bytes:
    return b"%x\r\n%s\r\n" % (len(data), data)


def chunked(body: bytes, piece: int = 64 * 1024) -> Behaviour:
    """``body`` with ``Transfer-Encoding: chunked`` (no length announced), ``piece`` bytes per
    chunk; stops quietly when the client hangs up."""

    async def behaviour(exchange: Exchange) -> None:
        await exchange.send(_CHUNKED_HEAD)
        for start in range(0, len(body), piece):
            await exchange.send(_chunk(body[start : start + piece]))
        await exchange.send(b"0\r\n\r\n")

    return behaviour


def endless_chunked(
    first: bytes = b"[", filler: bytes = b" ", *, piece: int = 64 * 1024, cap: int = 64 * MiB
) -> Behaviour:
    """A chunked body that never ends: ``first``, then chunks of ``piece`` ``filler`` bytes
    until ``cap`` bytes were sent, then silence, never the terminating chunk (``cap`` only
    spares memory to a client that buffers: it still never sees the end). Stops quietly when
    the client hangs up."""

    async def behaviour(exchange: Exchange) -> None:
        await exchange.send(_CHUNKED_HEAD + _chunk(first))
        filling = _chunk(filler * (piece // len(filler)))
        for _ in range(cap // piece):
            await exchange.send(filling)
        await asyncio.Event().wait()

    return behaviour


def deep_json(depth: int = 1100, *, where: str = "unknown") -> bytes:
    """A small body nesting ``depth`` arrays: ``where`` is ``"unknown"`` (an unknown field of
    ``data``), ``"top"`` (the whole body), ``"msg"`` or ``"code"`` (those fields)."""
    nest = b"[" * depth + b"]" * depth
    if where == "top":
        return nest
    if where == "unknown":
        return b'{"code":0,"msg":"success","data":{"recordId":"1","extra":' + nest + b"}}"
    return b'{"' + where.encode() + b'":' + nest + b"}"


def deep_nesting(status: int = 200, depth: int = 1100, *, where: str = "unknown") -> Behaviour:
    """An answer whose body nests ``depth`` arrays (see ``deep_json``): ~2 KB for 1,100."""
    return respond(status, deep_json(depth, where=where))


def gzip_bomb(inflated: int = GiB, status: int = 200) -> Behaviour:
    """``Content-Encoding: gzip``: ~1 MiB on the wire that inflates to ``inflated`` zero bytes
    (a multiple of 16 MiB). Streamed in 64 KiB writes; stops quietly when the client hangs up."""

    async def behaviour(exchange: Exchange) -> None:
        bomb = gzip_bomb_bytes(inflated)
        headers = {
            "Content-Type": "application/json",
            "Content-Encoding": "gzip",
            "Content-Length": str(len(bomb)),
        }
        await exchange.send(_head(status, headers))
        view = memoryview(bomb)
        for start in range(0, len(bomb), 64 * 1024):
            await exchange.send(view[start : start + 64 * 1024].tobytes())

    return behaviour


_SEGMENT = 16 * MiB


@functools.cache
def gzip_bomb_bytes(inflated: int = GiB) -> bytes:
    """A valid gzip member of ``inflated`` zeros (CRC and size included), built cheaply.

    Deflating 1 GiB takes ~2 s; instead 16 MiB of zeros is deflated and sync-flushed (which
    byte-aligns the stream): from the second segment on, the compressor's state repeats and so
    do its bytes, so one segment is repeated. ~0.3 s for 1 GiB, ~1 MiB held, never 1 GiB.
    """
    if inflated <= 0 or inflated % _SEGMENT:
        raise ValueError("inflated must be a positive multiple of 16 MiB")
    zeros = bytes(_SEGMENT)
    deflate = zlib.compressobj(9, zlib.DEFLATED, -15)  # raw deflate: the gzip framing is ours
    first = deflate.compress(zeros) + deflate.flush(zlib.Z_SYNC_FLUSH)
    repeated = deflate.compress(zeros) + deflate.flush(zlib.Z_SYNC_FLUSH)
    if deflate.compress(zeros) + deflate.flush(zlib.Z_SYNC_FLUSH) != repeated:
        raise RuntimeError("zlib's output for zeros does not repeat; cannot build the bomb")
    end = deflate.flush(zlib.Z_FINISH)  # an empty final block: independent of the history
    crc = 0
    for _ in range(inflated // _SEGMENT):
        crc = zlib.crc32(zeros, crc)
    header = b"\x1f\x8b\x08\x00\x00\x00\x00\x00\x02\xff"  # gzip, deflate, no name, max level
    trailer = struct.pack("<II", crc, inflated & 0xFFFFFFFF)
    middle = repeated * (inflated // _SEGMENT - 1)
    return header + first + middle + end + trailer
