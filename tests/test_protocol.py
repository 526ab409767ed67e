"""Table tests for the sans-I/O protocol: status/code -> exception, Retry-After, payloads."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from email.utils import format_datetime

import pytest

from koodrive_backup import (
    APIError,
    AuthenticationError,
    BadRequestError,
    ConflictError,
    DecodeError,
    NotFoundError,
    PermissionDeniedError,
    RateLimitError,
    ServerError,
)
from koodrive_backup import _endpoints as ep
from koodrive_backup._answers import normalise_code, parse_retry_after, read_payload
from koodrive_backup._protocol import LOCK_HEADER, Endpoint, RawResponse, Request, host_header

GET = ep.GET_RECORD.request({"record_id": "1"})
DELETE = ep.DELETE_RECORD.request({"record_id": "1", "lock_id": "L"})


def answer(status: int, body: object = None, headers: dict[str, str] | None = None) -> RawResponse:
    raw = (
        body if isinstance(body, bytes) else json.dumps(body).encode() if body is not None else b""
    )
    return RawResponse(status, headers or {}, raw)


@pytest.mark.parametrize(
    ("status", "cls"),
    [
        (400, BadRequestError),
        (401, AuthenticationError),
        (403, PermissionDeniedError),
        (404, NotFoundError),
        (409, ConflictError),
        (429, RateLimitError),
        (500, ServerError),
        (502, ServerError),
        (503, ServerError),
        (599, ServerError),
        (302, APIError),
        (405, APIError),
        (418, APIError),
    ],
)
def test_status_maps_to_exception_class(status: int, cls: type[APIError]) -> None:
    with pytest.raises(APIError) as info:
        read_payload(answer(status, {"code": 15000400, "msg": "bad"}), GET)
    assert type(info.value) is cls
    assert (info.value.status, info.value.code, info.value.msg) == (status, 15000400, "bad")
    assert info.value.method == "GET"
    assert info.value.path == "/koodrive/ose/v1/backup/record/1"


def test_error_body_that_is_not_json_keeps_the_status_class() -> None:
    with pytest.raises(ServerError) as info:
        read_payload(answer(502, b"<html>Bad Gateway</html>"), GET)
    assert info.value.code is None and info.value.msg is None


def test_gateway_error_shape_is_understood() -> None:
    body = {"error_code": "APIGW.0301", "error_msg": "Incorrect IAM authentication"}
    with pytest.raises(AuthenticationError) as info:
        read_payload(answer(401, body), GET)
    assert (info.value.code, info.value.msg) == ("APIGW.0301", "Incorrect IAM authentication")


def test_2xx_with_nonzero_code_raises_plain_api_error() -> None:
    with pytest.raises(APIError) as info:
        read_payload(answer(200, {"code": "15000500", "msg": "internal"}), GET)
    assert type(info.value) is APIError
    assert (info.value.status, info.value.code) == (200, 15000500)


@pytest.mark.parametrize("body", [{"code": 0, "data": {}}, {"code": "0", "data": {}}, {"data": {}}])
def test_2xx_success_bodies(body: dict[str, object]) -> None:
    assert read_payload(answer(200, body), GET) == body


# Issue 11 item 11: only a code whose ``.code`` would be the int 0 is a success; ``null`` is
# "no code given". Everything else raises, however zero-like, and keeps the code as given.
SUCCESS_CODES = [0, "0", "-0", "00", None]
ERROR_CODES = [
    False, True, 0.0, -0.0, 1e-300, "0.0", "", " 0", "0 ", "+0", "0x0", "\uff10", "\u0660",
    "false", "null", [], [0], {}, {"code": 0}, 1, -1, "1", 2**70,
]  # fmt: skip


@pytest.mark.parametrize("code", SUCCESS_CODES)
def test_2xx_codes_that_mean_success(code: object) -> None:
    body = {"code": code, "data": {}}
    assert read_payload(answer(200, body), GET) == body


@pytest.mark.parametrize("code", ERROR_CODES)
@pytest.mark.parametrize("status", [200, 201, 204])
def test_2xx_codes_that_are_not_zero_raise_with_the_code_as_given(
    code: object, status: int
) -> None:
    with pytest.raises(APIError) as info:
        read_payload(answer(status, {"code": code, "msg": "odd"}), GET)
    assert type(info.value) is APIError and info.value.status == status
    expected = 1 if code == "1" else code  # the one numeric string of the table -> int
    assert info.value.code == expected and type(info.value.code) is type(expected)


def test_empty_2xx_body_success_only_for_operations_without_data() -> None:
    assert read_payload(answer(200, b""), DELETE) == {}
    with pytest.raises(DecodeError) as info:
        read_payload(answer(200, b""), GET)
    assert info.value.status == 200


@pytest.mark.parametrize("body", [b"not json", b'{"data": ', b"[1, 2]", b'"text"', b"\xff\xfe"])
def test_2xx_body_that_is_not_a_json_object_is_a_decode_error(body: bytes) -> None:
    with pytest.raises(DecodeError) as info:
        read_payload(answer(200, body), GET)
    assert info.value.status == 200
    assert info.value.body  # a truncated excerpt of what came back


def test_decode_error_truncates_the_body() -> None:
    with pytest.raises(DecodeError) as info:
        read_payload(answer(200, b"x" * 10_000), GET)
    assert len(info.value.body) == 200
    assert len(str(info.value)) < 400


@pytest.mark.parametrize(
    ("code", "expected"),
    [
        (0, 0),
        (15000418, 15000418),
        ("15000418", 15000418),
        ("-1", -1),
        ("APIGW.0301", "APIGW.0301"),
        ("-0", 0),
        ("1" * 5000, "1" * 5000),  # too long for int(): kept as given, no ValueError
        (False, False),  # as given: a bool is not a number here, nor a string
        (0.0, 0.0),
        ([1], [1]),
        ("\uff11\uff12", "\uff11\uff12"),  # full-width digits are not ASCII digits: kept as given
        ("", ""),
        (None, None),
    ],
)
def test_normalise_code(code: object, expected: object) -> None:
    assert normalise_code(code) == expected and type(normalise_code(code)) is type(expected)


# --- deep nesting (issue 11 item 1): every parse is a ValueError, never RecursionError -------

DEEP_BODIES = [
    b"[" * 1100 + b"]" * 1100,
    b'{"code":0,"data":{"recordId":"1","x":' + b"[" * 1100 + b"]" * 1100 + b"}}",
    b'{"a":' * 1100 + b"1" + b"}" * 1100,
    b"[" * 100_000,  # unterminated as well
]


@pytest.mark.parametrize("body", DEEP_BODIES)
@pytest.mark.parametrize("accelerated", [True, False])
def test_deep_nesting_is_a_value_error_for_both_parsers(
    body: bytes, accelerated: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    from koodrive_backup import _protocol

    if not accelerated:
        monkeypatch.setattr(_protocol, "_orjson", None)
    with pytest.raises(ValueError):
        _protocol.loads(body)
    with pytest.raises(DecodeError):
        read_payload(answer(200, body), GET)
    with pytest.raises(ServerError) as info:
        read_payload(answer(503, body), GET)
    assert (info.value.code, info.value.msg) == (None, None)


NOW = 1_700_000_000.0


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (None, None),
        ("0", 0.0),
        ("5", 5.0),
        ("1.5", 1.5),
        (" 7 ", 7.0),
        ("-3", 0.0),
        ("garbage", None),
        ("", None),
        ("nan", None),
        ("inf", None),
        (format_datetime(datetime.fromtimestamp(NOW + 30, UTC), usegmt=True), 30.0),
        (format_datetime(datetime.fromtimestamp(NOW - 30, UTC), usegmt=True), 0.0),
        ("Wed, 21 Oct 2015 07:28:00 GMT", 0.0),
    ],
)
def test_parse_retry_after(value: str | None, expected: float | None) -> None:
    assert parse_retry_after(value, now=NOW) == expected


def test_a_retry_after_date_is_measured_from_the_answers_own_date() -> None:
    server_now = NOW + 3600  # the server's clock is an hour ahead of ours
    value = format_datetime(datetime.fromtimestamp(server_now + 30, UTC), usegmt=True)
    date = format_datetime(datetime.fromtimestamp(server_now, UTC), usegmt=True)
    assert parse_retry_after(value, now=NOW, date=date) == 30.0
    assert parse_retry_after(value, now=NOW, date="garbage") == 3630.0  # then: our clock
    with pytest.raises(ServerError) as info:
        read_payload(answer(503, None, {"Retry-After": value, "Date": date}), GET)
    assert info.value.retry_after == 30.0


def test_retry_after_is_carried_on_every_api_error() -> None:
    with pytest.raises(ServerError) as info:
        read_payload(answer(503, {"code": 1}, {"Retry-After": "2"}), GET)
    assert info.value.retry_after == 2.0
    with pytest.raises(RateLimitError) as rate:
        read_payload(answer(429, None, {"Retry-After": "1.25"}), GET)
    assert rate.value.retry_after == 1.25


def test_request_builder_shapes() -> None:
    endpoint: Endpoint[None] = Endpoint(
        "createBackupLock",
        "POST",
        "/lock",
        query=("a", "b"),
        body=("module_code", "name"),
        headers=(("lock_id", LOCK_HEADER),),
    )
    values = {"a": 1, "b": None, "module_code": "101", "name": "é", "lock_id": "L@101"}
    req = endpoint.request(values)
    assert isinstance(req, Request)
    assert req.path == "/koodrive/ose/v1/backup/lock"
    assert req.query == (("a", "1"),)
    assert req.body == '{"moduleCode":"101","name":"é"}'.encode()
    assert req.headers == (("x-backup-lock-id", "L@101"),)
    assert req.endpoint.idempotent is False
    assert GET.endpoint.idempotent is True and DELETE.endpoint.idempotent is True


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        (b'{"id": 1842862763295184641}', {"id": 1842862763295184641}),
        (b'{"id": 18446744073709551615}', {"id": 18446744073709551615}),  # 2**64 - 1
        (b'{"id": 123456789012345678901234567890}', {"id": 123456789012345678901234567890}),
        (b'{"ids": [1, -9300000000000000000]}', {"ids": [1, -9300000000000000000]}),
        (b'{"id": "12345678901234567890123", "n": 5}', {"id": "12345678901234567890123", "n": 5}),
        (b'{"x": NaN}', None),  # orjson refuses NaN; the standard library accepts it
        (b"\xff\xfe{\x00}\x00", {}),  # UTF-16: only the standard library detects it
    ],
)
@pytest.mark.parametrize("accelerated", [True, False])
def test_loads_keeps_every_integer_exact(
    body: bytes, expected: object, accelerated: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    from koodrive_backup import _protocol

    if not accelerated:
        monkeypatch.setattr(_protocol, "_orjson", None)
    parsed = _protocol.loads(body)
    if expected is None:
        assert parsed["x"] != parsed["x"]  # NaN
    else:
        assert parsed == expected
        assert not any(isinstance(v, float) for v in _leaves(parsed))


def _leaves(value: object) -> list[object]:
    if isinstance(value, dict):
        return [leaf for v in value.values() for leaf in _leaves(v)]
    if isinstance(value, list):
        return [leaf for v in value for leaf in _leaves(v)]
    return [value]


def test_loads_uses_the_accelerator_for_ordinary_bodies(monkeypatch: pytest.MonkeyPatch) -> None:
    from koodrive_backup import _protocol

    pytest.importorskip("orjson")
    calls: list[bytes] = []

    class Spy:
        @staticmethod
        def loads(body: bytes) -> object:
            calls.append(body)
            return {"spied": True}

    monkeypatch.setattr(_protocol, "_orjson", Spy)
    assert _protocol.loads(b'{"recordId": "1842862763295184641"}') == {"spied": True}
    assert _protocol.loads(b'{"id": 123456789012345678901}') == {"id": 123456789012345678901}
    assert len(calls) == 1  # the long bare number went to the exact parser


@pytest.mark.parametrize(
    "body",
    [
        {"scopeIdList": ["1842846715527366528", "é", 'a"b', "\u2028"]},
        {"moduleCode": "101", "n": 5, "none": None, "yes": True, "nested": {"a": [1, 2]}},
        {"big": 10**30},  # beyond 64 bits: only the standard library writes it
    ],
)
def test_json_body_bytes_do_not_depend_on_the_accelerator(
    body: dict[str, object], monkeypatch: pytest.MonkeyPatch
) -> None:
    from koodrive_backup import _protocol

    accelerated = _protocol.json_body(body)
    monkeypatch.setattr(_protocol, "_orjson", None)
    assert _protocol.json_body(body) == accelerated
    assert json.loads(accelerated) == body


@pytest.mark.parametrize(
    ("base_url", "host"),
    [
        ("https://kd.example", "kd.example"),
        ("https://KD.Example:443/prefix", "kd.example"),
        ("http://kd.example:80", "kd.example"),
        ("https://kd.example:8443", "kd.example:8443"),
        ("http://127.0.0.1:8080", "127.0.0.1:8080"),
        ("http://[::1]:8080", "[::1]:8080"),
        ("https://[::1]", "[::1]"),
    ],
)
def test_the_signed_host_is_the_one_an_http_client_derives(base_url: str, host: str) -> None:
    assert host_header(base_url) == host
