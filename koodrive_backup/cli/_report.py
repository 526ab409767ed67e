"""Turning results into tables and JSON documents (shared by ``scopes delete`` and ``demo``)."""

from __future__ import annotations

import enum
import signal
from collections import Counter
from datetime import datetime
from typing import Any

import attrs

from ..errors import APIError, KooDriveError
from ..models import NOT_FOUND_CODE, REPEATED_ID_CODE, BackupRecord
from ._bulk import BulkOutcome
from ._output import format_table

__all__ = ["bulk_json", "bulk_table", "record_json", "record_table", "wait_seconds"]

_SHOWN_FAILURES = 20
_SHOWN_ERRORS = 5


def _jsonable(_: object, __: object, value: Any) -> Any:
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, enum.Enum):
        return value.value
    return value


def record_json(record: BackupRecord) -> dict[str, Any]:
    """The record with snake_case names, ISO-8601 times and plain enum values."""
    return attrs.asdict(record, value_serializer=_jsonable)


def record_table(record: BackupRecord, title: str) -> str:
    data = record_json(record)
    if isinstance(record.status, enum.Enum):
        data["status"] = f"{record.status.value} ({record.status.name})"  # 1 (COMPLETED)
    device = data.pop("device_info") or {}
    rows = [(key, _cell(value)) for key, value in data.items()]
    rows += [(f"device {key}", _cell(value)) for key, value in device.items()]
    return format_table(rows, title)


def _cell(value: object) -> str:
    return "-" if value is None or value == "" else str(value)


def error_json(exc: KooDriveError) -> dict[str, Any]:
    data: dict[str, Any] = {"type": type(exc).__name__, "message": str(exc)}
    if isinstance(exc, APIError):
        data.update(status=exc.status, code=None if exc.code is None else str(exc.code))
    return data


def counts(outcome: BulkOutcome) -> dict[str, int]:
    """Counts of input occurrences per list; ``not_found``/``repeated`` are parts of ``failed``."""
    result = outcome.result
    codes = Counter(f.error_code for f in result.failed)
    return {
        "input": outcome.total,
        "unique": len(outcome.unique_ids),
        "deleted": len(result.deleted),
        "failed": len(result.failed),
        "not_found": codes[NOT_FOUND_CODE],
        "repeated": codes[REPEATED_ID_CODE],
        "unprocessed": len(result.unprocessed),
        "gone": len(result.gone),
        "remaining": len(outcome.not_gone),
    }


def signal_name(signum: int | None) -> str | None:
    return None if signum is None else signal.Signals(signum).name


def bulk_json(outcome: BulkOutcome, device_id: str, unprocessed_out: str | None) -> dict[str, Any]:
    result = outcome.result
    return {
        "device_id": device_id,
        "ok": outcome.exit_status == 0,
        "exit_status": outcome.exit_status,
        "interrupted": signal_name(outcome.interrupted),
        "stopped_by": None if outcome.stopped_by is None else error_json(outcome.stopped_by),
        "counts": counts(outcome),
        "elapsed_seconds": round(outcome.elapsed, 3),
        "ids_per_second": round(_rate(outcome), 1),
        "rate_limit_wait_seconds": wait_seconds(outcome),
        "deleted": list(result.deleted),
        "failed": [attrs.asdict(f) for f in result.failed],
        "unprocessed": list(result.unprocessed),
        "gone": list(result.gone),
        "remaining": list(outcome.not_gone),
        "unprocessed_out": unprocessed_out,
        "errors": [error_json(e) for e in result.errors],
    }


def wait_seconds(outcome: BulkOutcome) -> float | None:
    """Seconds the run's requests waited for --rate tokens, summed (None: no --rate)."""
    wait = outcome.rate_limit_wait
    return None if wait is None else round(wait, 3)


def _rate(outcome: BulkOutcome) -> float:
    settled = len(outcome.unique_ids) - len(outcome.result.unprocessed)
    return settled / outcome.elapsed if outcome.elapsed > 0 else 0.0


def bulk_rows(outcome: BulkOutcome) -> list[tuple[str, str, str]]:
    """The summary rows shared by ``scopes delete`` and ``demo``."""
    n = counts(outcome)
    other = n["failed"] - n["not_found"] - n["repeated"]
    given = f"{n['input']}" + (f" ({n['unique']} unique)" if n["unique"] != n["input"] else "")
    rows = [
        ("IDs given", given, ""),
        ("deleted", str(n["deleted"]), ""),
        ("not found", str(n["not_found"]), "15000418: already gone (counts as done)"),
    ]
    if n["repeated"]:
        rows.append(("repeated", str(n["repeated"]), "15000424: repeats in the input, sent once"))
    rows += [
        ("failed", str(other), "other per-ID refusals by the server"),
        ("unprocessed", str(n["unprocessed"]), "not settled: request failed or run stopped"),
    ]
    if outcome.rate_limit_wait is not None:
        wait = f"{outcome.rate_limit_wait:.2f} s"
        rows.append(("rate-limit wait", wait, "for --rate tokens, summed over concurrent requests"))
    rows += [
        ("elapsed", f"{outcome.elapsed:.2f} s", ""),
        ("rate", f"{_rate(outcome):.0f} IDs/s", ""),
    ]
    return rows


def bulk_table(outcome: BulkOutcome, device_id: str, unprocessed_out: str | None) -> str:
    parts = [format_table(bulk_rows(outcome), f"Scope deletion on device {device_id}")]
    failures = [
        (f.scope_id, f.error_code, f.msg or "")
        for f in outcome.result.failed
        if f.error_code not in (NOT_FOUND_CODE, REPEATED_ID_CODE)
    ]
    if failures:
        more = len(failures) - _SHOWN_FAILURES
        title = "Failed IDs" + (f" (first {_SHOWN_FAILURES}; {more} more)" if more > 0 else "")
        parts.append(format_table(failures[:_SHOWN_FAILURES], title, ("scope ID", "code", "msg")))
    errors = outcome.result.errors
    if errors and not (outcome.stopped_by is not None and len(errors) == 1):
        parts.append(_errors_table(errors))
    parts.append(_verdict(outcome, device_id, unprocessed_out))
    return "\n\n".join(parts)


def _errors_table(errors: tuple[KooDriveError, ...]) -> str:
    seen = Counter(str(e) for e in errors)
    rows = [(count, message) for message, count in seen.most_common(_SHOWN_ERRORS)]
    title = f"Requests that failed after retries ({len(errors)})"
    return format_table(rows, title, ("chunks", "last error"))


def _verdict(outcome: BulkOutcome, device_id: str, unprocessed_out: str | None) -> str:
    remaining = len(outcome.not_gone)
    lines = []
    if outcome.interrupted is not None:
        lines.append(f"Interrupted ({signal_name(outcome.interrupted)}): stopped early.")
    elif outcome.stopped_by is not None:
        lines.append(f"Stopped: {outcome.stopped_by}")
    if remaining == 0:
        lines.append("Done: every ID given is gone.")
        return "\n".join(lines)
    lines.append(f"{remaining} IDs are not known to be gone.")
    if unprocessed_out is not None:
        lines.append(
            f"They are in {unprocessed_out}; resume with:\n"
            f"  koodrive-backup scopes delete {device_id} --from-file {unprocessed_out}"
        )
    else:
        lines.append("Use --unprocessed-out FILE to keep them for a resume (or --json).")
    return "\n".join(lines)
