"""A ``base_url`` with a path prefix (issue 11 item 12b): one rule, the path actually sent.

``https://host/gateway`` sends ``/gateway/koodrive/ose/v1/backup/...``; that very path is
what ``HmacAuth`` signs, what error messages and log lines name, and what the CLI shows. The
fake, mounted under the same prefix, checks the signature with its own code over the path it
received.
"""

from __future__ import annotations

import logging
from urllib.parse import urlsplit

import pytest
from conftest import FAST
from seams import MockTransport, answer

from koodrive_backup import BackupClient, HmacAuth, HttpRequest, NotFoundError, RawResponse
from koodrive_backup._signing import (
    SignableRequest,
    authorization_header,
    canonical_request,
    signature,
    string_to_sign,
)
from koodrive_backup.testing import FakeKooDrive

PREFIX = "/gateway/v2"
API = "/koodrive/ose/v1/backup"
APP_ID, APP_SECRET = "app-1", "app-secret-1"


async def test_hmac_signed_calls_pass_the_fakes_check_under_a_prefix() -> None:
    async with FakeKooDrive(app_id=APP_ID, app_secret=APP_SECRET, path_prefix=PREFIX) as fake:
        assert fake.url.endswith(PREFIX)
        device_id = fake.add_device()
        record_id = fake.add_record(device_id)
        auth = HmacAuth(APP_ID, APP_SECRET)
        async with BackupClient(fake.url, user_id=fake.user_id, auth=auth, retry=FAST) as client:
            record = await client.get_record(record_id)
            result = await client.delete_scopes(device_id, fake.add_scopes(device_id, 3))
            devices = await client.list_devices(), await client.iter_records("101").__anext__()
    assert record.record_id == record_id and result.ok and devices[0]
    assert all(r.path.startswith(PREFIX + API) and r.status == 200 for r in fake.requests)


async def test_without_the_prefix_the_fake_has_no_such_api() -> None:
    async with FakeKooDrive(path_prefix=PREFIX) as fake:
        origin = fake.url.removesuffix(PREFIX)
        async with BackupClient(origin, user_id=fake.user_id, token=fake.token) as client:
            with pytest.raises(NotFoundError):
                await client.list_devices()


async def test_the_signature_covers_the_path_in_the_url(caplog: pytest.LogCaptureFixture) -> None:
    """With a mock transport: recompute the signature over the URL's own path."""
    seen: list[HttpRequest] = []

    def handler(request: HttpRequest) -> RawResponse:
        seen.append(request)
        return answer(503 if len(seen) == 1 else 404, {"code": 15000404, "msg": "no record"})

    auth = HmacAuth(APP_ID, APP_SECRET)
    async with BackupClient(
        "https://kd.example:8443" + PREFIX + "/",
        user_id="1",
        auth=auth,
        retry=FAST,
        transport=MockTransport(handler),
    ) as client:
        with (
            caplog.at_level(logging.INFO, logger="koodrive_backup"),
            pytest.raises(NotFoundError) as info,
        ):
            await client.get_record("1842862763295184641", lock_id="L@101")
    path = urlsplit(seen[0].url).path
    assert path == f"{PREFIX}{API}/record/1842862763295184641"
    headers = {k.lower(): v for k, v in seen[0].headers.items()}
    signable = SignableRequest(
        "GET", "kd.example:8443", path, (), {"x-date": headers["x-date"], "x-user-id": "1"}, b""
    )
    signed = HmacAuth.SIGNED_HEADERS
    expected = signature(APP_SECRET, string_to_sign(canonical_request(signable, signed)))
    assert headers["authorization"] == authorization_header(APP_ID, signed, expected)
    assert info.value.path == path and f"GET {path}: HTTP 404" in str(info.value)
    assert any(f"retrying GET {path}" in r.getMessage() for r in caplog.records)


@pytest.mark.parametrize(
    "url",
    [
        "https://kd.example/a%2Fb",  # percent-encoding: what is sent would not be what is signed
        "https://kd.example/a b",
        "https://kd.example//gw",
        "https://kd.example/gw/../x",
        "https://kd.example/./gw",
        "https://kd.example/gw/\u00e9",
    ],
)
def test_a_prefix_that_would_be_rewritten_on_the_way_is_refused(url: str) -> None:
    with pytest.raises(ValueError, match="path prefix"):
        BackupClient(url, user_id="1", token="t")


def test_a_prefix_is_kept_in_base_url() -> None:
    client = BackupClient("https://kd.example/gateway/v2/", user_id="1", token="t")
    assert client.base_url == "https://kd.example/gateway/v2"
