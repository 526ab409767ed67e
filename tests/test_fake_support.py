"""Helpers for the fake-server tests: a tiny plain-aiohttp client (no SDK code involved)."""

from __future__ import annotations

import contextlib
import json
import time
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass
from typing import Any

import aiohttp
from multidict import CIMultiDictProxy

from koodrive_backup.testing import PREFIX, FakeKooDrive


def x_date(stamp: float | None = None) -> str:
    """``YYYYMMDDTHHMMSSZ`` for ``stamp`` (default: now)."""
    return time.strftime("%Y%m%dT%H%M%SZ", time.gmtime(time.time() if stamp is None else stamp))


@dataclass
class Reply:
    status: int
    body: Any  # parsed JSON, or None when not JSON
    raw: bytes
    headers: CIMultiDictProxy[str]

    @property
    def code(self) -> Any:
        return self.body.get("code") if isinstance(self.body, dict) else None

    @property
    def data(self) -> Any:
        return self.body["data"]


class Api:
    """Sends requests to a fake with valid headers unless told otherwise."""

    def __init__(
        self,
        session: aiohttp.ClientSession,
        fake: FakeKooDrive,
        *,
        token: str | None = None,
        user_id: str | None = None,
    ) -> None:
        self.session = session
        self.fake = fake
        self.token = fake.token if token is None else token
        self.user_id = fake.user_id if user_id is None else user_id

    def headers(self, **overrides: str | None) -> dict[str, str]:
        base: dict[str, str | None] = {
            "Authorization": f"Bearer {self.token}",
            "X-User-Id": self.user_id,
            "X-Date": x_date(),
        }
        base.update(overrides)
        return {k: v for k, v in base.items() if v is not None}

    async def call(
        self,
        method: str,
        path: str,
        *,
        body: Any = None,
        raw: bytes | None = None,
        params: Mapping[str, str] | None = None,
        lock: str | None = None,
        headers: Mapping[str, str | None] | None = None,
    ) -> Reply:
        sent = self.headers(**(headers or {}))
        if lock is not None:
            sent["x-backup-lock-id"] = lock
        data = raw
        if body is not None:
            data = json.dumps(body).encode()
        if data is not None:
            sent.setdefault("Content-Type", "application/json")
        url = self.fake.url + PREFIX + path
        async with self.session.request(
            method, url, data=data, params=params, headers=sent
        ) as resp:
            payload = await resp.read()
            try:
                parsed = json.loads(payload)
            except ValueError:
                parsed = None
            return Reply(resp.status, parsed, payload, resp.headers)

    # shorthands for the common operations

    async def lock(self, module_code: str = "101") -> str:
        reply = await self.call("POST", "/lock", body={"moduleCode": module_code})
        assert reply.status == 200, reply.body
        lock_id: str = reply.data["lockId"]
        return lock_id

    async def delete_scopes(self, device_id: str, ids: list[Any]) -> Reply:
        return await self.call("DELETE", f"/device/{device_id}/scope", body={"scopeIdList": ids})


@contextlib.asynccontextmanager
async def connect(fake: FakeKooDrive, **kwargs: Any) -> AsyncIterator[Api]:
    async with aiohttp.ClientSession() as session:
        yield Api(session, fake, **kwargs)


def assert_error(reply: Reply, status: int, code: int) -> None:
    assert (reply.status, reply.code) == (status, code), reply.body
    assert set(reply.body) == {"code", "msg"}
    assert isinstance(reply.body["msg"], str) and reply.body["msg"]
