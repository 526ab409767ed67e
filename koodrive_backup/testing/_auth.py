"""The fake's own credential checks: bearer tokens, HMAC-SHA256 app signatures, X-Date.

Deliberately independent of ``koodrive_backup._signing`` (DESIGN.md: one shared bug must
not pass on both sides). The signing rule is reference §8.3 as pinned by API.md:

    canonical request = METHOD \\n URI \\n QUERY \\n HEADERS \\n SIGNED \\n PAYLOAD_HASH
    string to sign    = "HMAC-SHA256\\n" + hex(sha256(canonical request))
    signature         = hex(hmac_sha256(app_secret, string to sign))
"""

from __future__ import annotations

import functools
import hashlib
import hmac
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Final, NamedTuple
from urllib.parse import quote

from ._errors import (
    SIGNATURE_INVALID,
    UNAUTHORIZED,
    USER_MISMATCH,
    X_DATE_INVALID,
    ApiError,
    bad_request,
)

ALGORITHM: Final = "HMAC-SHA256"
REQUIRED_SIGNED: Final = frozenset({"host", "x-date", "x-user-id"})
X_DATE_WINDOW: Final = 15 * 60.0  # seconds; reference §9


@dataclass(frozen=True, slots=True)
class App:
    """App credentials for HMAC signing; requests signed by the app act for ``user_id``, or
    for any user of the fake (the one ``X-User-Id`` names) when ``user_id`` is ``None``."""

    app_id: str
    app_secret: str = field(repr=False)
    user_id: str | None


@dataclass(slots=True)
class Credentials:
    """Token -> user and app id -> app tables, and every user the fake knows."""

    tokens: dict[str, str] = field(default_factory=dict)
    apps: dict[str, App] = field(default_factory=dict)
    users: set[str] = field(default_factory=set)


# -- canonical request (pure, known-answer tested) -------------------------------------


def _enc(text: str) -> str:
    # quote() keeps exactly A-Z a-z 0-9 - _ . ~ when safe="" (RFC 3986 unreserved).
    return quote(text, safe="")


def canonical_uri(path: str) -> str:
    """Each path segment percent-encoded except unreserved, plus a trailing ``/``."""
    uri = "/".join(_enc(segment) for segment in path.split("/"))
    return uri if uri.endswith("/") else uri + "/"


def canonical_query(params: Iterable[tuple[str, str]]) -> str:
    """Parameters sorted by name (then value), encoded, ``name=value`` joined by ``&``."""
    return "&".join(f"{k}={v}" for k, v in sorted((_enc(k), _enc(v)) for k, v in params))


def canonical_request(
    method: str,
    path: str,
    params: Iterable[tuple[str, str]],
    headers: Mapping[str, str],
    signed: list[str],
    body: bytes,
) -> str:
    """``headers`` maps the lower-case signed names to their values as received."""
    lines = "".join(f"{name}:{headers[name].strip()}\n" for name in signed)
    return "\n".join(
        (
            method.upper(),
            canonical_uri(path),
            canonical_query(params),
            lines,
            ";".join(signed),
            hashlib.sha256(body).hexdigest(),
        )
    )


def string_to_sign(canonical: str) -> str:
    return f"{ALGORITHM}\n{hashlib.sha256(canonical.encode('utf-8')).hexdigest()}"


def signature(app_secret: str, to_sign: str) -> str:
    key = app_secret.encode("utf-8")
    return hmac.new(key, to_sign.encode("utf-8"), hashlib.sha256).hexdigest()


# -- header parsing ---------------------------------------------------------------------


def _unauthorized(msg: str) -> ApiError:
    return ApiError(401, UNAUTHORIZED, msg)


def bearer_token(value: str) -> str:
    """``Bearer <t>``, the documented literal ``Bearer+<t>``, or a raw ``<t>`` (reference §8)."""
    head = value[:7].lower()
    if head in ("bearer ", "bearer+"):
        value = value[7:].strip()
    if not value:
        raise _unauthorized("empty access token")
    return value


def parse_hmac(value: str) -> tuple[str, list[str], str]:
    """``HMAC-SHA256 AppId=..,SignedHeaders=..,Signature=..`` -> (app id, signed, signature)."""
    parts: dict[str, str] = {}
    for item in value[len(ALGORITHM) + 1 :].split(","):
        key, eq, val = item.strip().partition("=")
        if not eq or key in parts:
            raise _unauthorized("malformed HMAC-SHA256 Authorization header")
        parts[key] = val
    if set(parts) != {"AppId", "SignedHeaders", "Signature"}:
        raise _unauthorized("Authorization needs AppId, SignedHeaders and Signature")
    signed = parts["SignedHeaders"].split(";")
    if signed != sorted(set(signed)) or any(name != name.lower() for name in signed):
        raise _unauthorized("SignedHeaders must be lower-case, sorted and unique")
    if not REQUIRED_SIGNED.issubset(signed):
        raise _unauthorized("SignedHeaders must include host, x-date and x-user-id")
    return parts["AppId"], signed, parts["Signature"]


class Incoming(NamedTuple):
    """A request as received, what a credential is checked against (``headers``:
    case-insensitive; ``params``: the query's pairs)."""

    method: str
    path: str
    params: Iterable[tuple[str, str]]
    headers: Mapping[str, str]
    body: bytes


def verify_hmac(creds: Credentials, value: str, incoming: Incoming) -> str | None:
    """Check an app signature; returns the app's user id (``None``: any user)."""
    method, path, params, headers, body = incoming
    app_id, signed, given = parse_hmac(value)
    app = creds.apps.get(app_id)
    if app is None:
        raise _unauthorized("unknown AppId")
    picked: dict[str, str] = {}
    for name in signed:
        header = headers.get(name)
        if header is None:
            raise _unauthorized(f"signed header {name} is missing")
        picked[name] = header
    canonical = canonical_request(method, path, params, picked, signed, body)
    expected = signature(app.app_secret, string_to_sign(canonical))
    if not hmac.compare_digest(expected, given.lower()):
        raise ApiError(401, SIGNATURE_INVALID, "signature does not match")
    return app.user_id


def authenticate(creds: Credentials, incoming: Incoming) -> str:
    """Return the calling user's id, or raise 401 (credential) / 400 / 403 (X-User-Id)."""
    headers = incoming.headers
    value = headers.get("Authorization")
    if value is None:
        raise _unauthorized("Authorization header is required")
    user_id: str | None
    if value.startswith(ALGORITHM + " "):
        user_id = verify_hmac(creds, value, incoming)
    else:
        user_id = creds.tokens.get(bearer_token(value))
        if user_id is None:
            raise _unauthorized("invalid access token")
    claimed = headers.get("X-User-Id")
    if claimed is None:
        raise bad_request("X-User-Id header is required")
    if user_id is None and claimed in creds.users:  # an app that signs for every user
        return claimed
    if claimed != user_id:
        raise ApiError(403, USER_MISMATCH, "X-User-Id does not match the credential")
    return user_id


# -- X-Date -----------------------------------------------------------------------------


def _x_date_error(msg: str) -> ApiError:
    return ApiError(400, X_DATE_INVALID, msg)


@functools.lru_cache(maxsize=256)  # clients send the same X-Date for a whole second
def parse_x_date(value: str) -> float:
    """``YYYYMMDDTHHMMSSZ`` (UTC) -> POSIX seconds."""
    if len(value) != 16 or value[8] != "T" or value[15] != "Z":
        raise _x_date_error("X-Date must look like 20251103T070140Z")
    digits = value[:8] + value[9:15]
    if not (digits.isascii() and digits.isdigit()):
        raise _x_date_error("X-Date must look like 20251103T070140Z")
    try:
        moment = datetime(
            int(digits[0:4]),
            int(digits[4:6]),
            int(digits[6:8]),
            int(digits[8:10]),
            int(digits[10:12]),
            int(digits[12:14]),
            tzinfo=UTC,
        )
    except ValueError:
        raise _x_date_error("X-Date is not a valid date") from None
    return moment.timestamp()


def check_x_date(value: str | None, now: float) -> None:
    """Reject a missing X-Date, one older than 15 minutes, or one later than ``now``."""
    if value is None:
        raise _x_date_error("X-Date header is required")
    stamp = parse_x_date(value)
    if stamp > now:
        raise _x_date_error("X-Date is later than the server time")
    if stamp < now - X_DATE_WINDOW:
        raise _x_date_error("X-Date is more than 15 minutes old")
