"""Argument types of the command line: parse a flag's text or raise ``ArgumentTypeError``."""

from __future__ import annotations

import argparse
import re
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from ..models import RecordStatus

__all__ = [
    "fraction",
    "int_in",
    "non_negative_float",
    "point_in_time",
    "positive_float",
    "record_status",
    "share",
]


def int_in(low: int, high: int | None = None) -> Callable[[str], int]:
    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"not an integer: {text!r}") from None
        if value < low or (high is not None and value > high):
            bound = f"{low}..{high}" if high is not None else f">= {low}"
            raise argparse.ArgumentTypeError(f"must be {bound}, not {value}")
        return value

    return parse


def _float(text: str) -> float:
    try:
        return float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None


def _checked(value: float, ok: bool, rule: str) -> float:
    if not ok:
        raise argparse.ArgumentTypeError(f"must be {rule}, not {value}")
    return value


def fraction(text: str) -> float:
    value = _float(text)
    return _checked(value, 0.0 <= value <= 1.0, "within 0..1")


def positive_float(text: str) -> float:
    value = _float(text)
    return _checked(value, 0 < value < float("inf"), "a finite number > 0")


def non_negative_float(text: str) -> float:
    value = _float(text)
    return _checked(value, 0 <= value < float("inf"), "a finite number >= 0")


def share(text: str) -> float:
    """A share of the IDs: ``0.5`` or ``50%`` (0..1)."""
    if text.endswith("%"):
        return fraction(str(_float(text[:-1]) / 100))
    return fraction(text)


_AGE = re.compile(r"(\d+(?:\.\d+)?)([smhdw])\Z")
_AGE_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 7 * 86400}


def point_in_time(text: str) -> datetime:
    """``--before``: an ISO-8601 date or time (UTC unless it names a zone), or an age such as
    ``30d``, ``12h``, ``90m``, ``2w`` (that long before now)."""
    age = _AGE.match(text.strip())
    if age:
        seconds = float(age.group(1)) * _AGE_UNITS[age.group(2)]
        return datetime.now(UTC) - timedelta(seconds=seconds)
    try:
        when = datetime.fromisoformat(text.strip())
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"not a date, time or age: {text!r} (e.g. 2025-01-31, 2025-01-31T12:00:00Z, 30d)"
        ) from None
    return when if when.tzinfo is not None else when.replace(tzinfo=UTC)


def record_status(text: str) -> int:
    """``--status``: ``new``, ``completed``, ``to_be_deleted`` (any case) or the number."""
    name = text.strip().upper().replace("-", "_")
    if name in RecordStatus.__members__:
        return int(RecordStatus[name])
    if name.isdigit():
        return int(name)
    choices = ", ".join(s.name.lower() for s in RecordStatus)
    raise argparse.ArgumentTypeError(f"not a record status: {text!r} (one of {choices}, or 0..2)")
