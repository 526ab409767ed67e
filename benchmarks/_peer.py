"""The peer: ``get_record`` written the way many Python API SDKs are built (httpx + pydantic).

It is what a user might pick or write instead of this SDK: an ``httpx.AsyncClient`` with
default headers, a small retry loop, and pydantic v2 models validated straight from the
response bytes. It is deliberately reasonable, not a straw man: one shared client, pooled
connections (the same limit of 100 as the SDK), ``model_validate_json`` (pydantic's fastest
path). It only serves the benchmark; it is not part of the SDK.
"""

from __future__ import annotations

import asyncio
import random
import time
from datetime import datetime
from typing import Any

import httpx
from pydantic import BaseModel, ConfigDict
from pydantic.alias_generators import to_camel

from koodrive_backup.testing import PREFIX

__all__ = ["PeerClient", "PeerError", "PeerRecord"]

RETRYABLE = frozenset({408, 429, 500, 502, 503, 504})


class _Model(BaseModel):
    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, frozen=True)


class PeerDevice(_Model):
    device_id: str
    machine_code: str | None = None
    device_name: str | None = None
    device_os: str | None = None
    create_time: datetime | None = None

    model_config = ConfigDict(
        alias_generator=lambda name: "deviceOS" if name == "device_os" else to_camel(name),
        populate_by_name=True,
        frozen=True,
    )


class PeerRecord(_Model):
    record_id: str
    module_code: str | None = None
    status: int | None = None
    properties: str | None = None
    version: int | None = None
    create_time: datetime | None = None
    end_time: datetime | None = None
    device_info: PeerDevice | None = None


class RecordEnvelope(_Model):
    data: PeerRecord | None = None
    code: int | str | None = None
    msg: str | None = None


class PeerError(Exception):
    def __init__(self, status: int, body: Any) -> None:
        super().__init__(f"HTTP {status}: {body!r}"[:200])
        self.status = status


class PeerClient:
    """``httpx`` + ``pydantic`` client for ``GET /record/{id}`` with a simple retry loop."""

    def __init__(
        self, base_url: str, *, user_id: str, token: str, max_retries: int = 3, delay: float = 0.5
    ) -> None:
        self._http = httpx.AsyncClient(
            base_url=base_url + PREFIX,
            headers={"Authorization": f"Bearer {token}", "X-User-Id": user_id},
            timeout=30.0,
            limits=httpx.Limits(max_connections=100, max_keepalive_connections=100),
        )
        self._max_retries = max_retries
        self._delay = delay

    async def close(self) -> None:
        await self._http.aclose()

    async def get_record(self, record_id: str) -> PeerRecord:
        for attempt in range(self._max_retries + 1):
            x_date = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime(time.time() - 5))
            response = await self._http.get(f"/record/{record_id}", headers={"X-Date": x_date})
            if response.status_code in RETRYABLE and attempt < self._max_retries:
                await asyncio.sleep(self._delay * 2**attempt * random.random())
                continue
            if response.status_code >= 400:
                raise PeerError(response.status_code, response.text)
            envelope = RecordEnvelope.model_validate_json(response.content)
            if envelope.code not in (0, "0", None) or envelope.data is None:
                raise PeerError(response.status_code, envelope.msg)
            return envelope.data
        raise AssertionError("unreachable")
