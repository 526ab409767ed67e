"""The wire's primitive values: names, strings, integers, timestamps, enum values, lock IDs.

Each ``_structure_*`` function takes one JSON value and returns the model's value or raises
``ShapeError``; ``_codec`` builds its converter (and its generated per-class structure
functions) from them. The rules are listed in ``_codec``'s docstring.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from .errors import one_line
from .models import ModuleCode, RecordStatus

__all__ = [
    "MODULES",
    "STATUSES",
    "ShapeError",
    "id_hook",
    "parse_timestamp",
    "structure_int",
    "structure_module",
    "structure_optional_int",
    "structure_optional_str",
    "structure_optional_timestamp",
    "structure_status",
    "structure_str",
    "wire_name",
]

_SPECIAL_NAMES = {"device_os": "deviceOS"}
_DIGITS = re.compile(r"-?[0-9]+\Z")


class ShapeError(ValueError):
    """The data does not have the documented shape; the message names the wire field.

    Its text is one printable line, like a ``KooDriveError``'s: it may quote server data.
    """

    def __str__(self) -> str:
        return one_line(super().__str__())


def wire_name(python_name: str) -> str:
    """``record_id`` -> ``recordId`` (and the reference's one irregular name, ``deviceOS``)."""
    special = _SPECIAL_NAMES.get(python_name)
    if special is not None:
        return special
    head, *rest = python_name.split("_")
    return head + "".join(part.capitalize() for part in rest)


def structure_str(value: object, _: object) -> str:
    if isinstance(value, str):
        return value if type(value) is str else str.__str__(value)
    if type(value) is int:  # exact: Python ints are unbounded, never a float on the way
        return str(value)
    raise ShapeError(f"expected a string, got {type(value).__name__}")


def structure_optional_str(value: object, _: object) -> str | None:
    if value is None or type(value) is str:
        return value
    return structure_str(value, None)


def structure_optional_int(value: object, _: object) -> int | None:
    if value is None or type(value) is int:
        return value
    return structure_int(value, None)


def structure_optional_timestamp(value: object, _: object) -> datetime | None:
    return None if value is None else parse_timestamp(value)


def structure_int(value: object, _: object) -> int:
    if type(value) is int:
        return value
    if type(value) is str and _DIGITS.match(value):
        return int(value)
    raise ShapeError(f"expected an integer, got {type(value).__name__}")


def parse_timestamp(value: object, _: object = None) -> datetime:
    """ISO-8601 text or epoch milliseconds (a number or a digit string) -> aware UTC datetime."""
    if type(value) is str:
        try:
            parsed = datetime.fromisoformat(value)
        except ValueError:
            return _from_epoch_text(value)
        # fromisoformat also takes some digit strings ("20251217", "2025121711": basic format,
        # at most 15 characters), which are epoch ms here. A date with a time is longer: the
        # usual timestamp pays one len(), not an isdigit() (~300 instructions, x3 a record).
        if len(value) < 16 and value.isdigit():
            return _from_epoch_text(value)
        return parsed if parsed.tzinfo is not None else parsed.replace(tzinfo=UTC)
    if type(value) is int:
        return _from_epoch_ms(value)
    if type(value) is float and value.is_integer():  # 1.765958360752E12: exact, see above
        return _from_epoch_ms(int(value))
    raise ShapeError(f"expected a timestamp (ISO-8601 or epoch ms), got {_number_or_type(value)}")


def _from_epoch_text(text: str) -> datetime:
    if _DIGITS.match(text):  # ASCII digits, optional "-"
        return _from_epoch_ms(text)
    raise ShapeError(f"not an ISO-8601 timestamp nor epoch milliseconds: {text[:40]!r}")


_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def _from_epoch_ms(value: int | str) -> datetime:
    """Exact integer arithmetic: no float rounding of the milliseconds."""
    try:
        return _EPOCH + timedelta(milliseconds=int(value))
    except (OverflowError, ValueError):  # beyond year 1..9999, or a 4,300+ digit string
        raise ShapeError("epoch milliseconds out of range") from None


def _number_or_type(value: object) -> str:
    return "a non-integral number" if type(value) is float else type(value).__name__


def _structure_id(value: object, _: object) -> str:
    text = value if type(value) is str else structure_str(value, None)
    if text.isprintable() and " " not in text:
        return text
    raise ShapeError(f"an ID must not hold whitespace or control characters: {text[:40]!r}")


def id_hook(name: str, tp: object) -> Callable[[Any, Any], Any] | None:
    """The checked hook of a lock ID field (see the module docstring), else ``None``."""
    return _structure_id if name == "lock_id" and tp is str else None


# Enum members by value: a dict lookup costs ~50 ns, calling the Enum class ~1 µs.
STATUSES: dict[int, RecordStatus] = {member.value: member for member in RecordStatus}
MODULES: dict[str, ModuleCode] = {member.value: member for member in ModuleCode}


def structure_status(value: object, _: object) -> RecordStatus | int | None:
    if value is None:
        return None
    number = structure_int(value, None)
    return STATUSES.get(number, number)


def structure_module(value: object, _: object) -> ModuleCode | str | None:
    if value is None:
        return None
    text = structure_str(value, None)
    return MODULES.get(text, text)
