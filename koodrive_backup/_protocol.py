"""Sans-I/O protocol: request values per endpoint, and answers classified into data or errors.

Nothing here performs I/O: ``_session`` sends a ``Request`` and hands back a ``RawResponse``;
``read_payload`` turns that into the JSON object or raises the typed error. ``error_for`` is the
one place where an HTTP status and a body ``code`` become an exception class.
"""

from __future__ import annotations

import json
import math
import time
from collections.abc import Mapping
from datetime import UTC
from email.utils import parsedate_to_datetime
from typing import Any, NamedTuple, cast

from .errors import (
    APIError,
    AuthenticationError,
    BadRequestError,
    BodyCode,
    ConflictError,
    DecodeError,
    NotFoundError,
    PermissionDeniedError,
    RateLimitError,
    ServerError,
    shown,
)

__all__ = [
    "API_PREFIX",
    "RawResponse",
    "Request",
    "error_for",
    "is_success_code",
    "json_body",
    "loads",
    "normalise_code",
    "parse_retry_after",
    "read_payload",
]

try:  # an optional accelerator; the standard library is the reference behaviour
    import orjson as _orjson
except ImportError:  # pragma: no cover - depends on the environment
    _orjson = None  # type: ignore[assignment]

# orjson is exact for integers that fit in 64 bits; a longer one (20+ digits, or a minus and
# 19 digits) may become a float. Digits and "-" map to "1", all else to "0": a run of twenty
# "1"s is then found by a plain substring search, ~10x cheaper than a regex scan.
_DIGIT_MAP = bytes(0x31 if chr(byte) in "0123456789-" else 0x30 for byte in range(256))
_LONG_RUN = b"1" * 20

API_PREFIX = "/koodrive/ose/v1/backup"
LOCK_HEADER = "x-backup-lock-id"
Payload = dict[str, Any]


class Request(NamedTuple):
    """One API call as data. ``path`` is the full path (prefix included).

    A NamedTuple rather than an attrs class: one is built per call, and a tuple is the
    cheapest immutable value Python has (the success path is measured, see benchmarks/).
    """

    method: str
    path: str
    route: str  # the reference's page name, e.g. "getBackupRecord" (for logs)
    query: tuple[tuple[str, str], ...] = ()
    body: bytes = b""
    headers: tuple[tuple[str, str], ...] = ()
    #: GET and DELETE are retried on any transient failure; POST and PATCH only on failures
    #: that prove the request was not processed (see ``_retry``).
    idempotent: bool = True
    #: An empty 2xx body is a success for operations that return nothing, an error otherwise.
    expects_data: bool = True

    def __str__(self) -> str:
        return f"{self.method} {self.path}"


class RawResponse(NamedTuple):
    """What came back: the status, the headers and the body bytes, nothing interpreted."""

    status: int
    headers: Mapping[str, str]
    body: bytes


def request(
    method: str,
    path: str,
    route: str,
    *,
    query: Mapping[str, str | int | None] | None = None,
    body: Mapping[str, Any] | None = None,
    lock_id: str | None = None,
    expects_data: bool = True,
) -> Request:
    """Build a ``Request``; ``None`` query values are left out; bodies are compact JSON."""
    pairs = tuple((k, str(v)) for k, v in query.items() if v is not None) if query else ()
    return Request(
        method=method,
        path=API_PREFIX + path,
        route=route,
        query=pairs,
        body=json_body(body) if body is not None else b"",
        headers=((LOCK_HEADER, lock_id),) if lock_id is not None else (),
        idempotent=method in ("GET", "DELETE", "HEAD"),
        expects_data=expects_data,
    )


def json_body(body: Mapping[str, Any]) -> bytes:
    """Compact UTF-8 JSON. orjson, when installed, writes the very same bytes ~5x faster (a
    100-ID scope list: ~8 -> ~1.5 µs); what it refuses (ints beyond 64 bits) goes to json."""
    if _orjson is not None:
        try:
            return _orjson.dumps(body)
        except TypeError:  # orjson.JSONEncodeError
            pass
    return json.dumps(body, separators=(",", ":"), ensure_ascii=False).encode()


# --- answers ----------------------------------------------------------------------------------


def read_payload(response: RawResponse, req: Request) -> Payload:
    """The JSON object of a successful answer, or raise the typed error for it."""
    status = response.status
    if not 200 <= status < 300:
        raise error_for(status, _json_or_none(response.body), req, response.headers)
    body = response.body
    if not body or body.isspace():  # isspace stops at the first other byte: no copy
        if req.expects_data:
            raise DecodeError(f"{req.method} {req.path}: empty body", status=status)
        return {}
    try:
        payload = loads(body)
    except ValueError as exc:  # includes UnicodeDecodeError and nesting too deep
        raise DecodeError(
            f"{req.method} {req.path}: body is not JSON ({exc})", status=status, body=body
        ) from None
    if type(payload) is not dict:
        raise DecodeError(
            f"{req.method} {req.path}: body is not a JSON object", status=status, body=body
        )
    code = payload.get("code")
    if (code != 0 or type(code) is not int) and not is_success_code(code):  # int 0: one test
        raise error_for(status, payload, req, response.headers)
    return payload


def is_success_code(code: object) -> bool:
    """Whether a 2xx body's ``code`` means success (API.md "Errors": "present and not 0").

    Success is a ``code`` that is absent or ``null`` (no code given), the JSON integer 0, or a
    string whose ``.code`` would be the integer 0 (ASCII digits, optional leading ``-``: "0",
    "-0", "00"), so an ``APIError`` never carries ``code == 0``. Everything else is an error,
    however zero-like: ``false``, ``0.0``, ``"0.0"``, ``" 0"``, ``[]``, ``{}``, ``true``.
    """
    if code is None:
        return True
    if type(code) is str:
        value = normalise_code(code)
        return type(value) is int and value == 0
    return type(code) is int and code == 0


def loads(body: bytes) -> Any:
    """Parse JSON keeping every integer exact; every failure is a ``ValueError``.

    With the optional ``orjson`` installed (``pip install 'koodrive-backup[speedups]'``) a
    typical answer parses about 2x cheaper. orjson turns integers beyond 64 bits into floats,
    so a body holding a run of 20 digits (or of 19 after a minus, even inside a string: the
    check is conservative) goes to the standard library parser, which is exact for any size;
    so does any body orjson refuses (the standard library is more lenient, e.g. ``NaN``).

    Nesting deeper than the parsers allow (orjson: 1024 levels; the standard library: about
    the interpreter's recursion limit) is a ``ValueError`` too, never a ``RecursionError``:
    a 2 KB body of 1,100 nested arrays must not crash the caller.
    """
    if _orjson is not None and _LONG_RUN not in body.translate(_DIGIT_MAP):
        try:
            return _orjson.loads(body)
        except ValueError:
            pass
    try:
        return json.loads(body)
    except RecursionError:
        raise ValueError("JSON nested too deeply") from None


def _json_or_none(body: bytes) -> Payload | None:
    try:
        payload = loads(body)
    except ValueError:
        return None
    return payload if type(payload) is dict else None


def normalise_code(code: Any) -> BodyCode:
    """An int, or a string of ASCII digits (optional leading ``-``) -> ``int``; else as given.

    "As given" is the JSON value itself (``False`` stays ``False``, ``0.0`` stays ``0.0``);
    a digit string too long for ``int()`` (over 4,300 digits) is kept as the string.
    """
    if code is None or type(code) is int:
        return code
    if type(code) is str:
        digits = code[1:] if code.startswith("-") else code
        if digits.isascii() and digits.isdigit():
            try:
                return int(code)
            except ValueError:  # beyond sys.get_int_max_str_digits()
                return code
    return cast(BodyCode, code)  # a JSON value: str, float, bool, list or dict


_STATUS_ERRORS: dict[int, type[APIError]] = {
    400: BadRequestError,
    401: AuthenticationError,
    403: PermissionDeniedError,
    404: NotFoundError,
    409: ConflictError,
    429: RateLimitError,
}


def error_for(
    status: int, payload: Payload | None, req: Request, headers: Mapping[str, str]
) -> APIError:
    """THE mapping from an HTTP status and body to an exception (API.md "Errors").

    The body is ``{code, msg}`` (reference §12.2) or the API gateway's ``{error_code,
    error_msg}``; a body that is not JSON (a proxy's HTML page) gives ``code=None``.
    """
    cls = _STATUS_ERRORS.get(status) or (ServerError if 500 <= status < 600 else APIError)
    code: object = None
    msg: object = None
    if payload is not None:
        code = payload.get("code", payload.get("error_code"))
        msg = payload.get("msg", payload.get("error_msg"))
    return cls(
        status,
        normalise_code(code),
        None if msg is None else shown(msg),  # bounded: a nested msg cannot recurse
        method=req.method,
        path=req.path,
        retry_after=parse_retry_after(headers.get("Retry-After")),
    )


def parse_retry_after(value: str | None, now: float | None = None) -> float | None:
    """``Retry-After`` as seconds: delta-seconds (fractions allowed) or an HTTP date.

    Unparseable -> ``None`` (backoff is used); negative or a past date -> 0.
    """
    if value is None:
        return None
    text = value.strip()
    seconds: float | None
    try:
        seconds = float(text)
    except ValueError:
        seconds = _seconds_until(text, time.time() if now is None else now)
    if seconds is None or not math.isfinite(seconds):
        return None
    return max(0.0, seconds)


def _seconds_until(http_date: str, now: float) -> float | None:
    try:
        when = parsedate_to_datetime(http_date)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:  # "-0000": RFC 9110 dates are GMT anyway
        when = when.replace(tzinfo=UTC)
    return when.timestamp() - now
