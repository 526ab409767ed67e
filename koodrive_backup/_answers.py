"""Sans-I/O protocol, the answer side: a ``RawResponse`` -> the JSON object, or the typed error.

``read_payload`` is what every answer goes through; ``error_for`` is the one place where an
HTTP status and a body ``code`` become an exception class (API.md "Errors"). ``Retry-After``
and ``Date`` headers are read here too.
"""

from __future__ import annotations

import math
import time
from collections.abc import Mapping
from datetime import UTC
from email.utils import parsedate_to_datetime
from typing import Any, cast

from ._protocol import Payload, RawResponse, Request, loads
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
    "error_for",
    "is_success_code",
    "normalise_code",
    "parse_http_date",
    "parse_retry_after",
    "read_payload",
]


def read_payload(response: RawResponse, req: Request) -> Payload:
    """The JSON object of a successful answer, or raise the typed error for it."""
    status = response.status
    if not 200 <= status < 300:
        raise error_for(status, _json_or_none(response.body), req, response.headers)
    body = response.body
    if not body or body.isspace():  # isspace stops at the first other byte: no copy
        if req.endpoint.expects_data:
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
        retry_after=parse_retry_after(headers.get("Retry-After"), date=headers.get("Date")),
    )


def parse_retry_after(
    value: str | None, now: float | None = None, *, date: str | None = None
) -> float | None:
    """``Retry-After`` as seconds: delta-seconds (fractions allowed) or an HTTP date.

    An HTTP date is measured from the answer's own ``Date`` header when it has a readable
    one (both are the server's clock, so a local clock that is off does not distort the
    wait), else from ``now`` (default: our clock). Unparseable -> ``None`` (backoff is
    used); negative or a past date -> 0.
    """
    if value is None:
        return None
    text = value.strip()
    seconds: float | None
    try:
        seconds = float(text)
    except ValueError:
        seconds = _seconds_until(text, date, now)
    if seconds is None or not math.isfinite(seconds):
        return None
    return max(0.0, seconds)


def _seconds_until(http_date: str, date: str | None, now: float | None) -> float | None:
    when = parse_http_date(http_date)
    if when is None:
        return None
    base = parse_http_date(date)
    if base is None:
        base = time.time() if now is None else now
    return when - base


def parse_http_date(text: str | None) -> float | None:
    """An HTTP date (RFC 9110 §5.6.7, the obsolete forms too) as POSIX seconds; ``None``
    when absent or unreadable. Never raises, whatever a server sends."""
    if not text:
        return None
    try:
        when = parsedate_to_datetime(text)
    except (TypeError, ValueError, IndexError, OverflowError):
        return None
    if when.tzinfo is None:  # "-0000": RFC 9110 dates are GMT anyway
        when = when.replace(tzinfo=UTC)
    return when.timestamp()
