"""Fake server: Authorization (bearer styles, HMAC), X-User-Id, X-Date, clock offset."""

from __future__ import annotations

import email.utils
import hashlib
import hmac
import json
import time
from collections.abc import Awaitable, Callable

import pytest
from test_fake_support import assert_error, connect, x_date

from koodrive_backup.testing import (
    PARAM_INVALID,
    PREFIX,
    SIGNATURE_INVALID,
    UNAUTHORIZED,
    USER_MISMATCH,
    X_DATE_INVALID,
    FakeKooDrive,
)
from koodrive_backup.testing._auth import (
    canonical_query,
    canonical_request,
    canonical_uri,
    signature,
    string_to_sign,
)

Factory = Callable[..., Awaitable[FakeKooDrive]]

# -- bearer tokens and X-User-Id ---------------------------------------------------------


@pytest.mark.parametrize("style", ["Bearer {}", "Bearer+{}", "{}", "bearer {}"])
async def test_bearer_styles_accepted(koodrive_fake: FakeKooDrive, style: str) -> None:
    async with connect(koodrive_fake) as api:
        auth = style.format(koodrive_fake.token)
        reply = await api.call("GET", "/device", headers={"Authorization": auth})
    assert reply.status == 200
    assert reply.body == {"code": 0, "msg": "success", "data": []}


async def test_wrong_token_is_401(koodrive_fake: FakeKooDrive) -> None:
    async with connect(koodrive_fake, token="not-the-token") as api:
        assert_error(await api.call("GET", "/device"), 401, UNAUTHORIZED)


async def test_missing_authorization_is_401(koodrive_fake: FakeKooDrive) -> None:
    async with connect(koodrive_fake) as api:
        reply = await api.call("GET", "/device", headers={"Authorization": None})
    assert_error(reply, 401, UNAUTHORIZED)


async def test_user_id_mismatch_is_403(koodrive_fake: FakeKooDrive) -> None:
    async with connect(koodrive_fake, user_id="1505084218764547200") as api:
        assert_error(await api.call("GET", "/device"), 403, USER_MISMATCH)


async def test_missing_user_id_is_400(koodrive_fake: FakeKooDrive) -> None:
    async with connect(koodrive_fake) as api:
        reply = await api.call("GET", "/device", headers={"X-User-Id": None})
    assert_error(reply, 400, PARAM_INVALID)


async def test_second_user_sees_only_own_devices(koodrive_fake: FakeKooDrive) -> None:
    other = koodrive_fake.add_user(token="tok-2", user_id="1000000000000000002")
    mine = koodrive_fake.add_device()
    theirs = koodrive_fake.add_device(user_id=other.user_id)
    async with connect(koodrive_fake, token=other.token, user_id=other.user_id) as api:
        listed = await api.call("GET", "/device")
        foreign = await api.call("DELETE", f"/device/{mine}")
    assert [d["deviceId"] for d in listed.data] == [theirs]
    assert foreign.status == 404
    assert koodrive_fake.has_device(mine)


async def test_revoked_token_is_401(koodrive_fake: FakeKooDrive) -> None:
    koodrive_fake.revoke_token(koodrive_fake.token)
    async with connect(koodrive_fake) as api:
        assert_error(await api.call("GET", "/device"), 401, UNAUTHORIZED)


# -- X-Date ------------------------------------------------------------------------------


@pytest.mark.parametrize("age", [16 * 60, 3600])
async def test_stale_x_date_is_400(koodrive_fake: FakeKooDrive, age: float) -> None:
    async with connect(koodrive_fake) as api:
        reply = await api.call("GET", "/device", headers={"X-Date": x_date(time.time() - age)})
    assert_error(reply, 400, X_DATE_INVALID)


async def test_future_x_date_is_400(koodrive_fake: FakeKooDrive) -> None:
    async with connect(koodrive_fake) as api:
        reply = await api.call("GET", "/device", headers={"X-Date": x_date(time.time() + 120)})
    assert_error(reply, 400, X_DATE_INVALID)


async def test_x_date_within_window_accepted(koodrive_fake: FakeKooDrive) -> None:
    async with connect(koodrive_fake) as api:
        reply = await api.call("GET", "/device", headers={"X-Date": x_date(time.time() - 14 * 60)})
    assert reply.status == 200


@pytest.mark.parametrize(
    "value", [None, "2025-11-03T07:01:40Z", "20251103T070140", "20251332T070140Z", "x" * 16]
)
async def test_missing_or_malformed_x_date_is_400(
    koodrive_fake: FakeKooDrive, value: str | None
) -> None:
    async with connect(koodrive_fake) as api:
        reply = await api.call("GET", "/device", headers={"X-Date": value})
    assert_error(reply, 400, X_DATE_INVALID)


async def test_clock_offset_moves_the_window(koodrive_fake: FakeKooDrive) -> None:
    koodrive_fake.clock_offset = -30.0
    async with connect(koodrive_fake) as api:
        now = await api.call("GET", "/device", headers={"X-Date": x_date(time.time())})
        behind = await api.call("GET", "/device", headers={"X-Date": x_date(time.time() - 60)})
    assert_error(now, 400, X_DATE_INVALID)  # later than the server's (slow) clock
    assert behind.status == 200
    served = email.utils.parsedate_to_datetime(behind.headers["Date"]).timestamp()
    assert served < time.time() - 25  # the Date header shows the server's (slow) clock


async def test_clock_offset_an_hour_ahead_shows_in_date_and_window(
    koodrive_fake_factory: Factory,
) -> None:
    fake = await koodrive_fake_factory(clock_offset=3600.0)
    async with connect(fake) as api:
        ours = await api.call("GET", "/device", headers={"X-Date": x_date(time.time())})
        theirs = await api.call("GET", "/device", headers={"X-Date": x_date(fake.now() - 5)})
    assert_error(ours, 400, X_DATE_INVALID)  # an hour old by the server's clock
    assert theirs.status == 200
    served = email.utils.parsedate_to_datetime(ours.headers["Date"]).timestamp()
    assert served > time.time() + 3590
    assert fake.clock_offset == 3600.0


async def test_injected_clock(koodrive_fake_factory: Factory) -> None:
    fixed = 1_762_153_300.0  # 2025-11-03T07:01:40Z
    fake = await koodrive_fake_factory(clock=lambda: fixed)
    async with connect(fake) as api:
        ok = await api.call("GET", "/device", headers={"X-Date": "20251103T070140Z"})
        late = await api.call("GET", "/device", headers={"X-Date": "20251103T070141Z"})
    assert ok.status == 200
    assert_error(late, 400, X_DATE_INVALID)
    assert fake.now() == fixed


# -- HMAC known answers ------------------------------------------------------------------

KAT_SECRET = "kat-secret"
KAT_BODY = b'{"scopeIdList":["123"]}'
KAT_HEADERS = {
    "host": "127.0.0.1:8080",
    "x-date": "20251103T070140Z",
    "x-user-id": "1505084218764547200",
}
KAT_CANONICAL = (
    "DELETE\n"
    "/koodrive/ose/v1/backup/device/1842812272691451648/scope/\n"
    "\n"
    "host:127.0.0.1:8080\n"
    "x-date:20251103T070140Z\n"
    "x-user-id:1505084218764547200\n"
    "\n"
    "host;x-date;x-user-id\n"
    "5169753f1b7d297c0c2b162d34c00257cb9443fb744aa74e352631caf9a1fc9f"
)
KAT_STRING_TO_SIGN = "HMAC-SHA256\n1223b4e717845b65dc81791189c791b100c8de03464e07806a56e216839462de"
KAT_SIGNATURE = "d2230dff71ad6cca730262943313f64e40f6aebedba312558d981e2ecdc711a4"


def test_hmac_known_answer_by_hand() -> None:
    """The pinned values above, recomputed with nothing but hashlib/hmac."""
    assert hashlib.sha256(KAT_BODY).hexdigest() == KAT_CANONICAL.rsplit("\n", 1)[1]
    digest = hashlib.sha256(KAT_CANONICAL.encode()).hexdigest()
    assert f"HMAC-SHA256\n{digest}" == KAT_STRING_TO_SIGN
    mac = hmac.new(KAT_SECRET.encode(), KAT_STRING_TO_SIGN.encode(), hashlib.sha256)
    assert mac.hexdigest() == KAT_SIGNATURE


def test_hmac_verifier_steps_match_known_answer() -> None:
    signed = ["host", "x-date", "x-user-id"]
    path = "/koodrive/ose/v1/backup/device/1842812272691451648/scope"
    canonical = canonical_request("delete", path, [], KAT_HEADERS, signed, KAT_BODY)
    assert canonical == KAT_CANONICAL
    assert string_to_sign(canonical) == KAT_STRING_TO_SIGN
    assert signature(KAT_SECRET, KAT_STRING_TO_SIGN) == KAT_SIGNATURE


def test_canonical_uri_and_query() -> None:
    assert canonical_uri("/a/b") == "/a/b/"
    assert canonical_uri("/a/b/") == "/a/b/"
    assert canonical_uri("/record/x@102:y~z") == "/record/x%40102%3Ay~z/"
    assert canonical_query([]) == ""
    params = [("pageSize", "10"), ("moduleCode", "101"), ("cursor", "a b/c+="), ("e", "")]
    assert canonical_query(params) == "cursor=a%20b%2Fc%2B%3D&e=&moduleCode=101&pageSize=10"


# -- HMAC live ---------------------------------------------------------------------------


def _sign(
    fake: FakeKooDrive, method: str, path: str, query: str, body: bytes, secret: str = "app-secret"
) -> dict[str, str]:
    """HMAC headers built by hand (independent of the fake's verifier); ``path`` after PREFIX."""
    host = f"127.0.0.1:{fake.port}"
    date = x_date()
    uid = fake.user_id
    path = PREFIX + path
    lines = f"host:{host}\nx-date:{date}\nx-user-id:{uid}\n"
    canonical = "\n".join(
        [
            method,
            path + "/",
            query,
            lines,
            "host;x-date;x-user-id",
            hashlib.sha256(body).hexdigest(),
        ]
    )
    to_sign = "HMAC-SHA256\n" + hashlib.sha256(canonical.encode()).hexdigest()
    sig = hmac.new(secret.encode(), to_sign.encode(), hashlib.sha256).hexdigest()
    auth = f"HMAC-SHA256 AppId=app-1,SignedHeaders=host;x-date;x-user-id,Signature={sig}"
    return {"Authorization": auth, "X-Date": date, "X-User-Id": uid, "Host": host}


async def _hmac_fake(factory: Factory) -> FakeKooDrive:
    return await factory(app_id="app-1", app_secret="app-secret")


async def test_hmac_signed_request_accepted(koodrive_fake_factory: Factory) -> None:
    fake = await _hmac_fake(koodrive_fake_factory)
    device_id = fake.add_device()
    scope_ids = fake.add_scopes(device_id, 2)
    body = json.dumps({"scopeIdList": [scope_ids[0]]}).encode()
    path = f"/device/{device_id}/scope"
    async with connect(fake) as api:
        deleted = await api.call(
            "DELETE", path, raw=body, headers=_sign(fake, "DELETE", path, "", body)
        )
        listed = await api.call(
            "GET",
            path,
            params={"moduleCode": "101"},
            headers=_sign(fake, "GET", path, "moduleCode=101", b""),
        )
    assert deleted.status == 200, deleted.body
    assert deleted.body["scopeIdList"] == [scope_ids[0]]
    assert listed.status == 200, listed.body
    assert [s["scopeId"] for s in listed.body["scopeList"]] == [scope_ids[1]]


@pytest.mark.parametrize("tamper", ["body", "signature", "secret", "user"])
async def test_hmac_tampered_rejected(koodrive_fake_factory: Factory, tamper: str) -> None:
    fake = await _hmac_fake(koodrive_fake_factory)
    device_id = fake.add_device()
    scope_id = fake.add_scopes(device_id, 1)[0]
    body = json.dumps({"scopeIdList": [scope_id]}).encode()
    path = f"/device/{device_id}/scope"
    secret = "wrong" if tamper == "secret" else "app-secret"
    headers = _sign(fake, "DELETE", path, "", body, secret)
    if tamper == "signature":
        auth = headers["Authorization"]
        headers["Authorization"] = auth[:-1] + ("1" if auth.endswith("0") else "0")
    if tamper == "user":
        headers["X-User-Id"] = "1000000000000000001"  # signed value no longer matches
    sent = body.replace(b'"]', b'", "1"]') if tamper == "body" else body
    async with connect(fake) as api:
        reply = await api.call("DELETE", path, raw=sent, headers=headers)
    assert_error(reply, 401, SIGNATURE_INVALID)
    assert fake.has_scope(device_id, scope_id)


@pytest.mark.parametrize(
    "auth",
    [
        "HMAC-SHA256 AppId=app-1,SignedHeaders=host;x-date,Signature=00",
        "HMAC-SHA256 AppId=app-1,SignedHeaders=x-date;host;x-user-id,Signature=00",
        "HMAC-SHA256 AppId=nope,SignedHeaders=host;x-date;x-user-id,Signature=00",
        "HMAC-SHA256 AppId=app-1,Signature=00",
    ],
)
async def test_hmac_malformed_header_is_401(koodrive_fake_factory: Factory, auth: str) -> None:
    fake = await _hmac_fake(koodrive_fake_factory)
    async with connect(fake) as api:
        reply = await api.call("GET", "/device", headers={"Authorization": auth})
    assert_error(reply, 401, UNAUTHORIZED)
