"""Signing: X-Date, bearer styles, token providers, and HMAC known-answer tests.

The HMAC expected values below were worked out by hand from the rule in API.md / reference
§8.3: the canonical request is spelled out literally, and the digests were computed outside
Python with ``openssl dgst -sha256`` (body, canonical request) and ``openssl dgst -sha256
-hmac`` (signature), so the test does not check the code against itself.
Assumptions where the reference has gaps: headers sorted by lower-case name, value trimmed as
sent, the payload hash is the hex SHA-256 of the exact body (of b"" when there is none).
"""

from __future__ import annotations

import asyncio
import hashlib

import pytest

from koodrive_backup import AuthenticationError, BearerAuth, HmacAuth, TokenProviderError
from koodrive_backup._signing import (
    SignableRequest,
    XDateClock,
    authorization_header,
    canonical_query,
    canonical_request,
    canonical_uri,
    format_x_date,
    signature,
    string_to_sign,
)

SECRET = "test-secret-not-real"
SIGNED = ("host", "x-date", "x-user-id")
BODY = b'{"scopeIdList":["123","345"]}'
SCOPE_DELETE = SignableRequest(
    method="DELETE",
    host="127.0.0.1:8443",
    path="/koodrive/ose/v1/backup/device/1842812272691451648/scope",
    query=(),
    headers={"x-date": "20251103T070140Z", "x-user-id": "1505084218764547200"},
    body=BODY,
)
SCOPE_DELETE_CANONICAL = (
    "DELETE\n"
    "/koodrive/ose/v1/backup/device/1842812272691451648/scope/\n"
    "\n"
    "host:127.0.0.1:8443\n"
    "x-date:20251103T070140Z\n"
    "x-user-id:1505084218764547200\n"
    "\n"
    "host;x-date;x-user-id\n"
    "1395083a1c5ccb2e3172893f4e4d94c1f72914a48a4c24128a8b9c9eebd17ec8"
)
SCOPE_DELETE_SIGNATURE = "4b248aabc650d09953c6b9840f630b1f138967a9fa77b0060b8f1913883ba9b9"

LIST_FILES = SignableRequest(
    method="get",
    host="kd.example",
    path="/koodrive/ose/v1/backup/record/a@b=c+d:e/files",
    query=(("pageSize", "10"), ("cursor", "a/b c")),
    headers={"x-date": " 20251103T070140Z ", "x-user-id": "u1"},
    body=b"",
)
LIST_FILES_CANONICAL = (
    "GET\n"
    "/koodrive/ose/v1/backup/record/a%40b%3Dc%2Bd%3Ae/files/\n"
    "cursor=a%2Fb%20c&pageSize=10\n"
    "host:kd.example\n"
    "x-date:20251103T070140Z\n"
    "x-user-id:u1\n"
    "\n"
    "host;x-date;x-user-id\n"
    "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
)
LIST_FILES_SIGNATURE = "0a6061e1b40aeb4f2806ea243d5b362b3f0a3cd5476c78ed16df4ffe209f9a50"


def test_body_hash_known_answer() -> None:
    assert hashlib.sha256(BODY).hexdigest() == SCOPE_DELETE_CANONICAL.rsplit("\n", 1)[1]


@pytest.mark.parametrize(
    ("request_", "canonical", "expected"),
    [
        (SCOPE_DELETE, SCOPE_DELETE_CANONICAL, SCOPE_DELETE_SIGNATURE),
        (LIST_FILES, LIST_FILES_CANONICAL, LIST_FILES_SIGNATURE),
    ],
)
def test_hmac_steps_known_answers(request_: SignableRequest, canonical: str, expected: str) -> None:
    assert canonical_request(request_, SIGNED) == canonical
    assert (
        string_to_sign(canonical)
        == "HMAC-SHA256\n" + hashlib.sha256(canonical.encode()).hexdigest()
    )
    assert signature(SECRET, string_to_sign(canonical)) == expected


async def test_hmac_auth_header_known_answer() -> None:
    headers = await HmacAuth("app-123", SECRET).headers(SCOPE_DELETE)
    assert headers == {
        "Authorization": "HMAC-SHA256 AppId=app-123,SignedHeaders=host;x-date;x-user-id,"
        f"Signature={SCOPE_DELETE_SIGNATURE}"
    }


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        ("/koodrive/ose/v1/backup/lock", "/koodrive/ose/v1/backup/lock/"),
        ("/a/", "/a/"),
        ("/", "/"),
        ("/r/a b~c_d.e-f", "/r/a%20b~c_d.e-f/"),
    ],
)
def test_canonical_uri(path: str, expected: str) -> None:
    assert canonical_uri(path) == expected


def test_canonical_query_sorts_and_encodes() -> None:
    assert canonical_query(()) == ""
    assert canonical_query((("b", "2"), ("a", ""), ("a", "x y"))) == "a=&a=x%20y&b=2"


def test_authorization_header_format() -> None:
    assert authorization_header("id", SIGNED, "ab") == (
        "HMAC-SHA256 AppId=id,SignedHeaders=host;x-date;x-user-id,Signature=ab"
    )


def test_format_x_date() -> None:
    assert format_x_date(1_762_153_300.9) == "20251103T070140Z"


def test_x_date_is_backdated_and_cached_per_second() -> None:
    now = [1_762_153_305.7]
    clock = XDateClock(margin=5.0, now=lambda: now[0])
    assert clock() == "20251103T070140Z"
    first = clock()
    now[0] += 0.2
    assert clock() is first  # same second: the cached string
    now[0] += 1.0
    assert clock() == "20251103T070141Z"
    with pytest.raises(ValueError):
        XDateClock(margin=-1)


@pytest.mark.parametrize(
    ("style", "expected"),
    [("bearer", "Bearer tok-1"), ("bearer+", "Bearer+tok-1"), ("raw", "tok-1")],
)
async def test_bearer_styles(style: str, expected: str) -> None:
    auth = BearerAuth("tok-1", style=style)  # type: ignore[arg-type]
    assert await auth.headers(SCOPE_DELETE) == {"Authorization": expected}
    assert await auth.refresh({"Authorization": expected}) is False  # static: nothing to re-ask


def test_bearer_construction_rules() -> None:
    async def provider() -> str:
        return "t"

    with pytest.raises(TypeError):
        BearerAuth()
    with pytest.raises(TypeError):
        BearerAuth("t", token_provider=provider)
    with pytest.raises(ValueError):
        BearerAuth("t", style="basic")  # type: ignore[arg-type]
    with pytest.raises(ValueError):
        BearerAuth("t\r\nX-Evil: 1")


def test_reprs_hide_secrets() -> None:
    assert "sekrit" not in repr(BearerAuth("sekrit-token"))
    assert "sekrit" not in repr(HmacAuth("app", "sekrit-secret"))
    assert "app" in repr(HmacAuth("app", "sekrit-secret"))


async def test_token_provider_is_cached_and_shared() -> None:
    calls = 0

    async def provider() -> str:
        nonlocal calls
        calls += 1
        await asyncio.sleep(0)
        return f"tok-{calls}"

    auth = BearerAuth(token_provider=provider)
    results = await asyncio.gather(*(auth.headers(SCOPE_DELETE) for _ in range(10)))
    assert calls == 1
    assert all(r == {"Authorization": "Bearer tok-1"} for r in results)


async def test_concurrent_401s_share_one_provider_call() -> None:
    calls = 0

    async def provider() -> str:
        nonlocal calls
        calls += 1
        await asyncio.sleep(0)
        return f"tok-{calls}"

    auth = BearerAuth(token_provider=provider)
    refused = await auth.headers(SCOPE_DELETE)
    assert all(await asyncio.gather(*(auth.refresh(refused) for _ in range(10))))
    assert calls == 2
    assert await auth.headers(SCOPE_DELETE) == {"Authorization": "Bearer tok-2"}
    auth.forget()
    assert await auth.headers(SCOPE_DELETE) == {"Authorization": "Bearer tok-3"}


async def test_provider_returning_a_non_string_is_a_token_provider_error() -> None:
    async def provider() -> str:
        return 123  # type: ignore[return-value]

    with pytest.raises(TokenProviderError, match="returned int, not str") as info:
        await BearerAuth(token_provider=provider).headers(SCOPE_DELETE)
    assert isinstance(info.value, AuthenticationError) and info.value.status == 401
    assert info.value.path == SCOPE_DELETE.path
