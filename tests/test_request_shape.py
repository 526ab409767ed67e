"""Request shaping (method, path, headers, body) with aioresponses: no server involved."""

from __future__ import annotations

import json
import re
from collections.abc import AsyncIterator
from typing import Any

import pytest
from aioresponses import aioresponses
from yarl import URL

from koodrive_backup import BackupClient, BearerAuth, HmacAuth, RetryPolicy, SignableRequest
from koodrive_backup._signing import (
    authorization_header,
    canonical_request,
    signature,
    string_to_sign,
)

BASE = "https://kd.example"
API = BASE + "/koodrive/ose/v1/backup"
X_DATE = re.compile(r"\d{8}T\d{6}Z\Z")


@pytest.fixture
def mocked() -> Any:
    with aioresponses() as m:
        yield m


@pytest.fixture
async def client() -> AsyncIterator[BackupClient]:
    async with BackupClient(
        BASE, user_id="1505084218764547200", token="tok-abc", retry=RetryPolicy(max_attempts=1)
    ) as c:
        yield c


def sent(mocked: Any, method: str, url: str) -> list[Any]:
    return list(mocked.requests[(method, URL(url))])


RECORD = {"data": {"recordId": "1842862763295184641", "status": 0}, "code": 0, "msg": "success"}


async def test_get_record_shape(mocked: Any, client: BackupClient) -> None:
    url = API + "/record/1842862763295184641"
    mocked.get(url, payload=RECORD)
    await client.get_record("1842862763295184641", lock_id="78e41c7e@102")
    (call,) = sent(mocked, "GET", url)
    headers = call.kwargs["headers"]
    assert headers["Authorization"] == "Bearer tok-abc"
    assert headers["X-User-Id"] == "1505084218764547200"
    assert X_DATE.match(headers["X-Date"])
    assert headers["x-backup-lock-id"] == "78e41c7e@102"
    assert "Host" not in headers  # aiohttp derives it from the URL, as a signature assumes
    assert call.kwargs["data"] is None
    assert call.kwargs["allow_redirects"] is False


async def test_get_record_without_lock_sends_no_lock_header(
    mocked: Any, client: BackupClient
) -> None:
    url = API + "/record/1"
    mocked.get(url, payload=RECORD)
    await client.get_record("1")
    (call,) = sent(mocked, "GET", url)
    assert "x-backup-lock-id" not in call.kwargs["headers"]


async def test_delete_record_shape(mocked: Any, client: BackupClient) -> None:
    url = API + "/record/1842862763295184641"
    mocked.delete(url, payload={"code": 0, "msg": "success"})
    await client.delete_record("1842862763295184641", lock_id="L@102")
    (call,) = sent(mocked, "DELETE", url)
    assert call.kwargs["headers"]["x-backup-lock-id"] == "L@102"
    assert call.kwargs["data"] is None


async def test_delete_scopes_is_a_delete_with_a_json_body_of_strings(
    mocked: Any, client: BackupClient
) -> None:
    url = API + "/device/1842812272691451648/scope"
    mocked.delete(url, payload={"scopeIdList": ["9223372036854775807"], "code": 0})
    result = await client.delete_scopes("1842812272691451648", [2**63 - 1, "345"])
    (call,) = sent(mocked, "DELETE", url)
    assert call.kwargs["headers"]["Content-Type"] == "application/json"
    assert json.loads(call.kwargs["data"]) == {"scopeIdList": ["9223372036854775807", "345"]}
    assert b'"9223372036854775807"' in call.kwargs["data"]  # a JSON string, not a number
    assert result.deleted == ("9223372036854775807",)
    assert result.unprocessed == ("345",)  # mentioned in neither list


@pytest.mark.parametrize(
    ("style", "expected"), [("bearer", "Bearer t"), ("bearer+", "Bearer+t"), ("raw", "t")]
)
async def test_bearer_styles_on_the_wire(mocked: Any, style: str, expected: str) -> None:
    url = API + "/record/1"
    mocked.get(url, payload=RECORD)
    async with BackupClient(BASE, user_id="u", auth=BearerAuth("t", style=style)) as c:  # type: ignore[arg-type]
        await c.get_record("1")
    assert sent(mocked, "GET", url)[0].kwargs["headers"]["Authorization"] == expected


async def test_hmac_signs_the_host_with_its_port(mocked: Any) -> None:
    url = "https://kd.example:8443/koodrive/ose/v1/backup/record/1"
    mocked.get(url, payload=RECORD)
    async with BackupClient(
        "https://kd.example:8443", user_id="u", auth=HmacAuth("app", "s3cret")
    ) as c:
        await c.get_record("1")
    headers = sent(mocked, "GET", url)[0].kwargs["headers"]
    assert "Host" not in headers  # aiohttp sends the one it derives: kd.example:8443
    signed = {"x-date": headers["X-Date"], "x-user-id": "u"}
    canonical = canonical_request(
        SignableRequest("GET", "kd.example:8443", url.split(":8443")[1], (), signed, b""),
        HmacAuth.SIGNED_HEADERS,
    )
    expected = authorization_header(
        "app", HmacAuth.SIGNED_HEADERS, signature("s3cret", string_to_sign(canonical))
    )
    assert headers["Authorization"] == expected


async def test_bad_input_makes_no_request(mocked: Any, client: BackupClient) -> None:
    with pytest.raises(ValueError):
        await client.get_record("../etc")
    with pytest.raises(ValueError):
        await client.delete_record("1", lock_id="L\r\nX-Evil: 1")
    with pytest.raises(TypeError):
        await client.delete_scopes("1", ["1", 2.0])  # type: ignore[list-item]
    with pytest.raises(ValueError):
        await client.delete_scopes("1", ["1"], chunk_size=101)
    assert mocked.requests == {}


async def test_empty_scope_input_makes_no_request(mocked: Any, client: BackupClient) -> None:
    result = await client.delete_scopes("1", [])
    assert result.ok and result.deleted == () and mocked.requests == {}


async def test_lock_id_may_be_passed_positionally_as_api_md_writes_it(
    mocked: Any, client: BackupClient
) -> None:
    url = API + "/record/1"
    mocked.get(url, payload=RECORD)
    mocked.delete(url, payload={"code": 0, "msg": "success"})
    await client.get_record("1", "L@101")
    await client.delete_record("1", "L@101")
    assert sent(mocked, "GET", url)[0].kwargs["headers"]["x-backup-lock-id"] == "L@101"
    assert sent(mocked, "DELETE", url)[0].kwargs["headers"]["x-backup-lock-id"] == "L@101"
