"""The cleanup manifest: JSON Lines, one target (a device's module of one user) per line.

``{"user_id": "...", "device_id": "...", "module_code": "101", "scopes": "all" | [IDs],
"records_before": "2025-01-01T00:00:00Z" | null}`` (API.md "Fleet cleanup jobs").

Checked strictly, so that a typo never turns into a silent no-op or a wrong deletion: an
unknown key, a missing ``user_id``/``device_id``/``module_code``, a bad ID, a naive or
unparseable time, a line with nothing to clean, or a second line for the same device and
module raises ``ManifestError`` naming the line. Blank lines are skipped.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Iterator
from datetime import datetime
from typing import Any

import attrs

__all__ = ["ManifestError", "Target", "is_path_id", "parse_line", "read_manifest"]

#: Path IDs (device and scope IDs), API.md "Path IDs": refused, never percent-encoded.
_PATH_ID = re.compile(r"[A-Za-z0-9._@=+:-]{1,128}")
_MODULES = ("100", "101", "102")
_KEYS = frozenset({"user_id", "device_id", "module_code", "scopes", "records_before"})


class ManifestError(ValueError):
    """A manifest line that cannot be planned; ``line`` is its 1-based number."""

    def __init__(self, line: int, reason: str) -> None:
        self.line = line
        self.reason = reason
        super().__init__(f"manifest line {line}: {reason}")


@attrs.frozen
class Target:
    """One line of the manifest: what to clean on one device, for one module.

    ``scopes``: ``"all"`` (every scope of the module, found by ``list_scopes``), a tuple of
    scope IDs (exact strings, repeats removed), or ``None`` (no scopes). ``records_before``:
    delete the device's records of the module created before this aware ``datetime``
    (found by ``iter_records``), or ``None``. ``line`` is the manifest line it came from.
    """

    user_id: str
    device_id: str
    module_code: str
    scopes: str | tuple[str, ...] | None = None
    records_before: datetime | None = None
    line: int = 0


def read_manifest(lines: Iterable[str]) -> Iterator[Target]:
    """Targets of a manifest, lazily, in line order; ``ManifestError`` at the first bad line.

    ``lines`` is any iterable of text lines (an open file works). Nothing is kept but the
    device/module pairs seen so far (to refuse a repeated target), so a manifest of millions
    of scope IDs streams.
    """
    seen: dict[tuple[str, str], int] = {}
    for number, text in enumerate(lines, 1):
        if not text.strip():
            continue
        target = parse_line(text, number)
        key = (target.device_id, target.module_code)
        first = seen.setdefault(key, number)
        if first != number:
            raise ManifestError(
                number,
                f"device {target.device_id} module {target.module_code} is already the "
                f"target of line {first} (one line per device and module)",
            )
        yield target


def parse_line(text: str, number: int) -> Target:
    """One manifest line as a ``Target``; ``ManifestError`` when it is not a valid target."""
    try:
        data = json.loads(text)
    except ValueError as exc:  # json.JSONDecodeError and invalid UTF-8 surrogates
        raise ManifestError(number, f"not JSON ({exc})") from None
    if not isinstance(data, dict):
        raise ManifestError(number, "must be a JSON object")
    unknown = sorted(set(data) - _KEYS)
    if unknown:
        raise ManifestError(number, f"unknown key(s) {', '.join(map(repr, unknown))}")
    try:
        return _target(data, number)
    except (TypeError, ValueError) as exc:
        raise ManifestError(number, str(exc)) from None


def _target(data: dict[str, Any], number: int) -> Target:
    scopes = _scopes(data.get("scopes"))
    before = _time(data.get("records_before"))
    if scopes is None and before is None:
        raise ValueError('nothing to clean: give "scopes" and/or "records_before"')
    return Target(
        user_id=_user_id(data.get("user_id")),
        device_id=_path_id(data.get("device_id"), "device_id"),
        module_code=_module(data.get("module_code")),
        scopes=scopes,
        records_before=before,
        line=number,
    )


def _user_id(value: object) -> str:
    if not isinstance(value, str) or not value:
        raise TypeError('"user_id" must be a non-empty string')
    if not value.isprintable() or value != value.strip():  # a header value: no CR/LF
        raise ValueError('"user_id" must not hold control characters or surrounding spaces')
    return value


def _path_id(value: object, name: str) -> str:
    if isinstance(value, int) and not isinstance(value, bool):
        value = str(value)  # exact decimal, as the SDK sends an int ID
    if not isinstance(value, str):
        raise TypeError(f'"{name}" must be a string')
    if not is_path_id(value):
        raise ValueError(f'"{name}" {value!r} is not a valid ID ([A-Za-z0-9._@=+:-], 1..128)')
    return value


def is_path_id(value: str) -> bool:
    """Whether ``value`` is a path ID (API.md "Path IDs"): the SDK sends it as is."""
    return _PATH_ID.fullmatch(value) is not None and value not in (".", "..")


def _module(value: object) -> str:
    if value not in _MODULES:
        raise ValueError(f'"module_code" must be "100", "101" or "102", not {value!r}')
    return str(value)


def _scopes(value: object) -> str | tuple[str, ...] | None:
    if value is None or value == "all":
        return value
    if not isinstance(value, list):
        raise TypeError('"scopes" must be "all", a list of scope IDs, or null')
    ids = (_path_id(item, f"scopes[{n}]") for n, item in enumerate(value))
    return tuple(dict.fromkeys(ids))  # "123" and 123 are one ID: planned once


def _time(value: object) -> datetime | None:
    if value is None:
        return None
    if not isinstance(value, str):
        raise TypeError('"records_before" must be an ISO-8601 string or null')
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        raise ValueError(f'"records_before" {value!r} is not an ISO-8601 time') from None
    if moment.tzinfo is None:  # a naive time would be read in some machine's local zone
        raise ValueError(f'"records_before" {value!r} needs a UTC offset (e.g. "Z")')
    return moment
