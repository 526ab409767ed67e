"""Strict request decoding: the fake refuses what the API does not define.

The SDK decodes leniently; the fake decodes strictly (DESIGN.md habit 8) so a client that
sends an unknown field, a wrong type or an out-of-range value gets a 400 right away.
Every failure raises ``ApiError`` 400 / 15000400 with the wire name in the message.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
from collections.abc import Iterable, Mapping
from typing import Any, Final

from multidict import MultiMapping

from ._errors import bad_request

MODULE_CODES: Final = frozenset({"100", "101", "102"})
MAX_CURSOR_LEN: Final = 1000
MAX_PAGE_SIZE: Final = 100
CONFIG_RE: Final = re.compile(r"[a-zA-Z0-9_]{1,32}")
MACHINE_CODE_RE: Final = re.compile(r"[a-zA-Z0-9_]{1,64}")
DEVICE_NAME_RE: Final = re.compile(r"[a-zA-Z0-9\-_\s]{1,32}")
DEVICE_OS_RE: Final = re.compile(r"[a-zA-Z0-9_\s]{1,32}")
_ID_TYPES: Final = frozenset({str, int})

JsonObject = dict[str, Any]


def _no_duplicate_keys(pairs: list[tuple[str, Any]]) -> JsonObject:
    obj = dict(pairs)
    if len(obj) != len(pairs):
        raise bad_request("duplicate key in JSON object")
    return obj


def _no_constant(name: str) -> Any:
    raise bad_request(f"{name} is not valid JSON")


def json_object(body: bytes, content_type: str) -> JsonObject:
    """Parse a request body that must be one JSON object (``{}`` when the body is empty)."""
    if not body:
        return {}
    if content_type.partition(";")[0].strip().lower() != "application/json":
        raise bad_request("Content-Type must be application/json")
    try:
        value = json.loads(
            body.decode("utf-8"),
            object_pairs_hook=_no_duplicate_keys,
            parse_constant=_no_constant,
        )
    except (UnicodeDecodeError, ValueError, RecursionError) as exc:  # deep nesting: 400 too
        raise bad_request(f"request body is not valid JSON: {exc}") from None
    if not isinstance(value, dict):
        raise bad_request("request body must be a JSON object")
    return value


def no_body(body: bytes) -> None:
    """Endpoints documented without a body refuse one."""
    if body:
        raise bad_request("this endpoint takes no request body")


def check_fields(
    obj: Mapping[str, Any], required: Iterable[str], optional: Iterable[str] = ()
) -> None:
    """Refuse unknown and missing fields."""
    required = tuple(required)
    allowed = set(required).union(optional)
    unknown = sorted(set(obj) - allowed)
    if unknown:
        raise bad_request(f"unknown field(s): {', '.join(unknown)}")
    missing = [name for name in required if name not in obj]
    if missing:
        raise bad_request(f"missing required field(s): {', '.join(missing)}")


def string(obj: Mapping[str, Any], name: str, *, max_len: int | None = None) -> str | None:
    """A string field (``None`` when absent; ``null`` is a wrong type)."""
    if name not in obj:
        return None
    value = obj[name]
    if not isinstance(value, str):
        raise bad_request(f"{name} must be a string")
    if max_len is not None and len(value) > max_len:
        raise bad_request(f"{name} is longer than {max_len} characters")
    return value


def pattern(obj: Mapping[str, Any], name: str, regex: re.Pattern[str]) -> str | None:
    """A string field that must fully match ``regex`` (``None`` when absent)."""
    value = string(obj, name)
    if value is not None and regex.fullmatch(value) is None:
        raise bad_request(f"{name} does not match {regex.pattern}")
    return value


def module_code(value: object, name: str = "moduleCode") -> str:
    """``"100"`` / ``"101"`` / ``"102"`` (reference §1.3), as a JSON string only."""
    if not isinstance(value, str) or value not in MODULE_CODES:
        raise bad_request(f'{name} must be one of "100", "101", "102"')
    return value


def integer(obj: Mapping[str, Any], name: str, *, minimum: int = 0) -> int | None:
    """An integer field (bool and float refused)."""
    if name not in obj:
        return None
    value = obj[name]
    if type(value) is not int or value < minimum:
        raise bad_request(f"{name} must be an integer >= {minimum}")
    return value


def string_list(obj: Mapping[str, Any], name: str) -> list[str] | None:
    """A list of strings (``None`` when absent)."""
    if name not in obj:
        return None
    value = obj[name]
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise bad_request(f"{name} must be a list of strings")
    return value


def id_list(value: object, name: str, *, limit: int = 100) -> list[str]:
    """A list of IDs: strings kept exactly, JSON integers as their decimal string (seed 001)."""
    if not isinstance(value, list):
        raise bad_request(f"{name} must be a list")
    if len(value) > limit:
        raise bad_request(f"{name} holds more than {limit} items")
    kinds = set(map(type, value))  # exact types: bool, float, None, list, dict are refused
    if not kinds <= _ID_TYPES:
        raise bad_request(f"{name} items must be strings or integers")
    if int in kinds:
        return [str(item) if type(item) is int else item for item in value]
    return value


def query(
    q: MultiMapping[str], required: Iterable[str], optional: Iterable[str] = ()
) -> dict[str, str]:
    """Query parameters: unknown, repeated or missing names are refused."""
    out: dict[str, str] = {}
    for key, value in q.items():
        if key in out:
            raise bad_request(f"query parameter {key} is repeated")
        out[key] = value
    check_fields(out, required, optional)
    return out


def page_size(value: str) -> int:
    """``pageSize``: decimal digits, 1..100 (reference §1.3)."""
    if not value.isascii() or not value.isdigit() or not 1 <= int(value) <= MAX_PAGE_SIZE:
        raise bad_request(f"pageSize must be an integer from 1 to {MAX_PAGE_SIZE}")
    return int(value)


def encode_cursor(kind: str, last_key: int) -> str:
    """Opaque cursor: base64url (unpadded) of ``<kind>:<last id>``."""
    raw = f"{kind}:{last_key}".encode("ascii")
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")


def decode_cursor(kind: str, cursor: str | None) -> int | None:
    """The last ID of the previous page, or ``None`` for the first page."""
    if cursor is None:
        return None
    if not cursor or len(cursor) > MAX_CURSOR_LEN or not cursor.isascii():
        raise bad_request("cursor is invalid")
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode("ascii")
    except (binascii.Error, UnicodeDecodeError, ValueError):
        raise bad_request("cursor is invalid") from None
    prefix, _, digits = raw.partition(":")
    if prefix != kind or not digits.isdigit():
        raise bad_request("cursor is invalid")
    return int(digits)


# --- request items of the file and scope endpoints (reference §4.1, §6.1) -------------

MAX_BATCH: Final = 100
MAX_PATH_LEN: Final = 10000
MAX_FILE_NAME: Final = 250
BAD_FILE_NAME_CHARS: Final = frozenset('<>|:"*?/')


def file_name(name: str | None) -> str:
    """Reference §4.1: <= 250 chars, none of < > | : " * ? /, not "", "." or ".."."""
    if name is None or name in ("", ".", ".."):
        raise bad_request('fileName must not be empty, "." or ".."')
    if len(name) > MAX_FILE_NAME or not BAD_FILE_NAME_CHARS.isdisjoint(name):
        raise bad_request('fileName is too long or contains one of < > | : " * ? /')
    return name


def file_extra(body: JsonObject) -> JsonObject:
    extra: JsonObject = {}
    for name in ("description", "mimeType", "fileType", "sha256"):
        value = string(body, name)
        if value is not None:
            extra[name] = value
    parents = string_list(body, "parentFolder")
    if parents is not None:
        extra["parentFolder"] = parents
    length = integer(body, "length")
    if length is not None:
        extra["size"] = length
    return extra


def _scope_path(item: Mapping[str, Any], name: str) -> str:
    value = string(item, name, max_len=MAX_PATH_LEN) or ""
    if value and (not value.startswith("/") or "\\" in value):
        raise bad_request(f"{name} must be empty or start with / and hold no backslash")
    return value


def scope_pairs(value: object) -> list[tuple[str, str]]:
    """``scopeList``: <= 100 ScopeBaseInfo objects (reference §6.1)."""
    if not isinstance(value, list) or len(value) > MAX_BATCH:
        raise bad_request(f"scopeList must be a list of at most {MAX_BATCH} items")
    pairs = []
    for item in value:
        if not isinstance(item, dict):
            raise bad_request("scopeList items must be objects")
        check_fields(item, (), ("localPath", "targetFolderPath"))
        pair = (_scope_path(item, "localPath"), _scope_path(item, "targetFolderPath"))
        if pair == ("", ""):
            raise bad_request("localPath and targetFolderPath must not both be empty")
        pairs.append(pair)
    return pairs
