"""The reference server: bare aiohttp handlers answering canned JSON, as cheap as possible.

Run as ``python -m benchmarks._bare_server [--port 0] [--latency S] [--fail-first]``; the
first stdout line is ``{"url": "http://127.0.0.1:<port>"}``. It ignores every header (no
auth, no X-Date), so it measures the HTTP stack, not the fake's rules.

- ``GET .../record/{id}``: ``RECORD_BODY``, ``{"data": {BackupRecord}, "code": 0, "msg": ...}``
  (``RECORD_SIZE`` bytes).
- ``DELETE .../device/{id}/scope``: ``{"scopeIdList": <the request's IDs>, "code": 0, ...}``.
- ``--fail-first``: the first request for each record ID (or scope body) answers 503, the
  next one answers normally (then the ID is forgotten): every call costs exactly one retry.
- ``--latency S``: each answer waits ``S`` seconds first.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import socket
import sys

from aiohttp import web

from ._config import PREFIX

# Same shape as seed page 004, with the optional fields filled in.
RECORD_BODY = json.dumps(
    {
        "data": {
            "recordId": "1842862763295184641",
            "moduleCode": "101",
            "status": 1,
            "properties": '{"test":"123","album":"Summer 2025"}',
            "version": 3,
            "createTime": "2025-12-17T07:59:20.752Z",
            "endTime": "2025-12-17T08:04:11.103Z",
            "deviceInfo": {
                "deviceId": "1842812272691451648",
                "machineCode": "m-4f1c2b7a9e",
                "deviceName": "Living room NAS",
                "deviceOS": "linux",
                "createTime": "2025-11-03T07:01:40.000Z",
            },
        },
        "code": 0,
        "msg": "success",
    },
    separators=(",", ":"),
).encode()
RECORD_SIZE = len(RECORD_BODY)  # quoted in the cases' titles
UNAVAILABLE_BODY = b'{"code":15000503,"msg":"service unavailable"}'
JSON = "application/json"


class Handlers:
    """The two routes; ``failed_once`` remembers which IDs already got their 503."""

    def __init__(self, *, latency: float, fail_first: bool) -> None:
        self.latency = latency
        self.fail_first = fail_first
        self.failed_once: set[str] = set()

    def _should_fail(self, key: str) -> bool:
        if not self.fail_first:
            return False
        if key in self.failed_once:
            self.failed_once.discard(key)
            return False
        self.failed_once.add(key)
        return True

    async def get_record(self, request: web.Request) -> web.Response:
        if self.latency:
            await asyncio.sleep(self.latency)
        if self._should_fail(request.match_info["record_id"]):
            return web.Response(status=503, body=UNAVAILABLE_BODY, content_type=JSON)
        return web.Response(body=RECORD_BODY, content_type=JSON)

    async def delete_scopes(self, request: web.Request) -> web.Response:
        raw = await request.read()
        if self.latency:
            await asyncio.sleep(self.latency)
        if self._should_fail(raw.decode()):
            return web.Response(status=503, body=UNAVAILABLE_BODY, content_type=JSON)
        ids = json.loads(raw)["scopeIdList"]
        body = json.dumps({"scopeIdList": ids, "code": 0, "msg": "success"})
        return web.Response(text=body, content_type=JSON)


def make_app(*, latency: float = 0.0, fail_first: bool = False) -> web.Application:
    handlers = Handlers(latency=latency, fail_first=fail_first)
    app = web.Application()
    app.router.add_get(PREFIX + "/record/{record_id}", handlers.get_record)
    app.router.add_delete(PREFIX + "/device/{device_id}/scope", handlers.delete_scopes)
    return app


async def serve(port: int, latency: float, fail_first: bool) -> None:
    runner = web.AppRunner(make_app(latency=latency, fail_first=fail_first), access_log=None)
    await runner.setup()
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", port))
    site = web.SockSite(runner, sock, backlog=1024)
    await site.start()
    print(json.dumps({"url": f"http://127.0.0.1:{sock.getsockname()[1]}"}), flush=True)
    try:
        await asyncio.Event().wait()  # until killed
    finally:
        await runner.cleanup()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m benchmarks._bare_server")
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--latency", type=float, default=0.0, help="seconds per answer")
    parser.add_argument("--fail-first", action="store_true", help="503 once per ID, then 200")
    args = parser.parse_args(argv)
    try:
        asyncio.run(serve(args.port, args.latency, args.fail_first))
    except KeyboardInterrupt:
        sys.exit(0)


if __name__ == "__main__":
    main()
