"""Input checks that run before any I/O (API.md "bad input is refused before any request").

Each function returns the normalised value or raises ``TypeError`` (wrong type) or
``ValueError`` (right type, bad value). Messages name the argument, never a credential.
"""

from __future__ import annotations

import ipaddress
import math
import re
import unicodedata
from collections.abc import Iterable
from typing import cast
from urllib.parse import urlsplit

from .models import ModuleCode

__all__ = [
    "base_url",
    "header_value",
    "iterable",
    "module_code",
    "path_id",
    "positive_int",
    "positive_seconds",
    "scope_id",
    "scope_ids",
]

API_PREFIX = "/koodrive/ose/v1/backup"
_PATH_ID = re.compile(r"[A-Za-z0-9._@=+:-]{1,128}\Z")
_MODULE_CODES = frozenset(code.value for code in ModuleCode)


def path_id(value: object, name: str) -> str:
    """An ID placed in a URL path: refused (not percent-encoded) unless it matches API.md."""
    if not isinstance(value, str):
        raise TypeError(f"{name} must be a str, not {type(value).__name__}")
    if not _PATH_ID.match(value) or value in (".", ".."):
        raise ValueError(f"{name} must match ^[A-Za-z0-9._@=+:-]{{1,128}}$ and not be . or ..")
    return value


def header_value(value: object, name: str) -> str:
    """A caller-supplied header value: a str without CR, LF or NUL (header injection)."""
    if not isinstance(value, str):
        raise TypeError(f"{name} must be a str, not {type(value).__name__}")
    if not value or "\r" in value or "\n" in value or "\0" in value:
        raise ValueError(f"{name} must be non-empty and must not contain CR, LF or NUL")
    return value


def scope_id(value: object, position: int) -> str:
    """A scope ID: ``str`` (non-empty, no whitespace/control) or ``int`` (exact decimal)."""
    kind = type(value)
    if kind is int:
        return str(value)
    if kind is str:
        text: str = value  # type: ignore[assignment]
        if text and not _has_space_or_control(text):
            return text
        raise ValueError(
            f"scope_ids[{position}] must be non-empty and free of whitespace and control characters"
        )
    if isinstance(value, int) and not isinstance(value, bool):
        return str(int(value))  # an int subclass (IntEnum, numpy-free): its exact value
    if isinstance(value, str):
        return scope_id(str.__str__(value), position)
    raise TypeError(f"scope_ids[{position}] must be a str or int, not {kind.__name__}")


_ID_BYTES = bytes(range(0x21, 0x7F))  # printable ASCII but space: what plain IDs are made of


def scope_ids(values: Iterable[object]) -> list[str]:
    """Every element checked by ``scope_id`` (a message names the failing position).

    Plain printable-ASCII strings, the common case, are checked all at once at C speed
    (100,000 IDs in ~3 ms instead of ~60 ms with a call each).
    """
    items = list(values)
    if list(map(type, items)).count(str) == len(items) and all(items):
        # Non-empty strs: joined by a comma (itself an allowed character) they hold a space or
        # a control character exactly when one of them does; bytes.translate deletes every
        # allowed ASCII character at C speed.
        strings = cast(list[str], items)
        joined = ",".join(strings)
        if joined.isascii() and not joined.encode("ascii").translate(None, _ID_BYTES):
            return strings
    checked: list[str] = []
    append = checked.append
    for position, value in enumerate(items):
        if type(value) is str and value.isalnum() and value.isascii():
            append(value)
        else:
            append(scope_id(value, position))
    return checked


def _has_space_or_control(text: str) -> bool:
    if text.isascii():
        return not text.isprintable() or " " in text
    return any(ch.isspace() or unicodedata.category(ch) in ("Cc", "Cf") for ch in text)


def module_code(value: object) -> str:
    """``"100"``/``"101"``/``"102"`` or a ``ModuleCode``; anything else is refused."""
    if not isinstance(value, str):
        raise TypeError(f"module_code must be a str or ModuleCode, not {type(value).__name__}")
    text = str.__str__(value)
    if text not in _MODULE_CODES:
        raise ValueError(f"module_code must be one of 100, 101, 102, not {text[:20]!r}")
    return text


def iterable(value: object, name: str) -> Iterable[object]:
    """An iterable of items; a lone ``str``/``bytes`` (an iterable of characters) is refused."""
    if isinstance(value, str | bytes | bytearray) or not isinstance(value, Iterable):
        raise TypeError(f"{name} must be an iterable of IDs, not {type(value).__name__}")
    return value


def positive_seconds(value: object, name: str) -> float:
    """A finite number of seconds > 0 (``bool`` is not a number here)."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise TypeError(f"{name} must be a number of seconds, not {type(value).__name__}")
    if not math.isfinite(value) or value <= 0:
        raise ValueError(f"{name} must be a positive, finite number of seconds")
    return float(value)


def positive_int(value: object, name: str, *, maximum: int | None = None) -> int:
    if not isinstance(value, int) or isinstance(value, bool):
        raise TypeError(f"{name} must be an int, not {type(value).__name__}")
    if value < 1 or (maximum is not None and value > maximum):
        bound = f"1..{maximum}" if maximum is not None else ">= 1"
        raise ValueError(f"{name} must be {bound}, not {value}")
    return value


def is_loopback(host: str) -> bool:
    """``localhost``, 127.0.0.0/8 or ::1, matched exactly (``127.0.0.1.example.com`` is not)."""
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def base_url(value: object, *, allow_insecure_http: bool) -> str:
    """``scheme://host[:port][/prefix]`` -> the URL the API paths are appended to."""
    if not isinstance(value, str):
        raise TypeError(f"base_url must be a str, not {type(value).__name__}")
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError("base_url must look like https://host[:port]")
    if parts.query or parts.fragment or parts.username or parts.password:
        raise ValueError("base_url must not carry a query, a fragment or credentials")
    parts.port  # noqa: B018 -- raises ValueError for a malformed port
    if parts.scheme == "http" and not allow_insecure_http and not is_loopback(parts.hostname):
        raise ValueError(
            "base_url uses http:// to a non-loopback host; use https:// "
            "or pass allow_insecure_http=True"
        )
    path = parts.path.rstrip("/")
    if path.endswith(API_PREFIX):
        raise ValueError(f"base_url must not include {API_PREFIX}: the SDK adds it")
    header_value(value, "base_url")
    return f"{parts.scheme}://{parts.netloc}{path}"
