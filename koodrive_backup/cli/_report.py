"""Turning results into tables and JSON documents (bulk runs, records, errors).

One vocabulary everywhere (progress line, summary, JSON, exit status, docs):

- **deleted**: the server deleted the ID (in a dry run, **would delete**: it exists);
- **already gone**: the server did not find it (``15000418`` for a scope, HTTP 404 for a
  record); it is absent, which is what a cleanup wants, so it counts as done;
- **repeated**: a later repeat of an ID in the input (sent once);
- **failed**: any other refusal of one ID, with the server's code and message;
- **unprocessed**: its request failed after retries, or the run stopped before it.
"""

from __future__ import annotations

import enum
import signal
import textwrap
from collections import Counter
from collections.abc import Mapping
from datetime import datetime
from typing import Any

import attrs

from ..errors import APIError, KooDriveError
from ..models import BackupRecord
from ._bulk import BulkOutcome
from ._output import format_table

__all__ = [
    "Target",
    "bulk_json",
    "bulk_rows",
    "bulk_table",
    "counts",
    "error_json",
    "model_json",
    "record_json",
    "record_table",
    "signal_name",
    "timing_line",
    "wait_row",
    "wait_seconds",
]

_SHOWN_FAILURES = 20
_SHOWN_ERRORS = 5
_WIDTH = 92


@attrs.frozen
class Target:
    """What a bulk run was about: for its title, its verdict and its JSON."""

    title: str  # "Scope deletion on device 123"
    where: str  # "on device 123"
    subject: str  # what the input may not match: "the device"
    resume: str  # the command to run again on what is left, without its --from-file
    fields: Mapping[str, object] = attrs.field(factory=dict)  # {"device_id": "123"}


def _jsonable(_: object, __: object, value: Any) -> Any:
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, enum.Enum):
        return value.value
    return value


def model_json(model: Any) -> dict[str, Any]:
    """A model (attrs class) with snake_case names, ISO-8601 times and plain enum values."""
    return attrs.asdict(model, value_serializer=_jsonable)


def record_json(record: BackupRecord) -> dict[str, Any]:
    return model_json(record)


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


def error_json(exc: BaseException) -> dict[str, Any]:
    data: dict[str, Any] = {"type": type(exc).__name__, "message": str(exc)}
    if isinstance(exc, APIError):
        data.update(status=exc.status, code=None if exc.code is None else str(exc.code))
    return data


def signal_name(signum: int | None) -> str | None:
    return None if signum is None else signal.Signals(signum).name


def counts(outcome: BulkOutcome) -> dict[str, int]:
    """Input occurrences per outcome; ``unique``, ``already_gone`` and ``remaining`` count
    unique IDs. In a dry run ``would_delete`` stands for ``deleted``."""
    result = outcome.result
    return {
        "input": outcome.total,
        "unique": len(outcome.unique_ids),
        _done_key(outcome): len(result.deleted),
        "already_gone": len(outcome.already_gone),
        "repeated": len(outcome.repeated),
        "failed": len(outcome.refused),
        "unprocessed": len(result.unprocessed),
        "remaining": len(outcome.not_gone),
    }


def _done_key(outcome: BulkOutcome) -> str:
    return "would_delete" if outcome.dry_run else "deleted"


def bulk_json(outcome: BulkOutcome, target: Target, unprocessed_out: str | None) -> dict[str, Any]:
    kind, result = outcome.kind, outcome.result
    return {
        **target.fields,
        "dry_run": outcome.dry_run,
        "ok": outcome.exit_status == 0,
        "exit_status": outcome.exit_status,
        "interrupted": signal_name(outcome.interrupted),
        "stopped_by": None if outcome.stopped_by is None else error_json(outcome.stopped_by),
        "mostly_not_found": outcome.mostly_not_found,
        "counts": counts(outcome),
        "elapsed_seconds": round(outcome.elapsed, 3),
        "ids_per_second": round(_rate(outcome), 1),
        "rate_limit_wait_seconds": wait_seconds(outcome.rate_limit_wait),
        _done_key(outcome): list(result.deleted),
        "already_gone": list(outcome.already_gone),
        "repeated": [kind.failure_id(f) for f in outcome.repeated],
        "failed": [
            {"id": kind.failure_id(f), "code": kind.code(f), "msg": kind.msg(f)}
            for f in outcome.refused
        ],
        "unprocessed": list(result.unprocessed),
        "remaining": list(outcome.not_gone),
        "unprocessed_out": unprocessed_out,
        "errors": [error_json(e) for e in result.errors],
    }


def wait_seconds(wait: float | None) -> float | None:
    """``rate_limit_wait_seconds`` of a JSON summary: ``None`` (null) without ``--rate``."""
    return None if wait is None else round(wait, 3)


def wait_row(wait: float | None) -> list[tuple[str, str, str]]:
    """The summary row of the time spent waiting for ``--rate`` (none without a limit)."""
    if wait is None:
        return []
    return [("rate-limit wait", f"{wait:.2f} s", "for --rate, summed over requests in flight")]


def _rate(outcome: BulkOutcome) -> float:
    settled = len(outcome.unique_ids) - len(outcome.result.unprocessed)
    return settled / outcome.elapsed if outcome.elapsed > 0 else 0.0


def timing_line(outcome: BulkOutcome) -> str:
    return f"Took {outcome.elapsed:.2f} s ({_rate(outcome):.0f} IDs/s)."


def bulk_rows(outcome: BulkOutcome) -> list[tuple[str, str, str]]:
    """The summary rows shared by the bulk commands and the demo."""
    n, dry = counts(outcome), outcome.dry_run
    given = f"{n['input']}" + (f" ({n['unique']} unique)" if n["unique"] != n["input"] else "")
    rows = [
        ("IDs given", given, ""),
        ("would delete", str(n["would_delete"]), "exist now") if dry else
        ("deleted", str(n["deleted"]), ""),
        ("already gone", str(n["already_gone"]), "not found: nothing to delete" if dry else
         "not found: deleted before, or by an attempt whose answer was lost"),
    ]  # fmt: skip
    if n["repeated"]:
        rows.append(("repeated", str(n["repeated"]), "given more than once; sent once"))
    rows += [
        ("failed", str(n["failed"]), "would be refused" if dry else "refused by the server"),
        ("unprocessed", str(n["unprocessed"]), "not settled: a request failed after retries, "
         "or the run stopped"),
    ]  # fmt: skip
    return rows + wait_row(outcome.rate_limit_wait)


def bulk_table(outcome: BulkOutcome, target: Target, unprocessed_out: str | None) -> str:
    title = f"Dry run: {target.title.lower()}" if outcome.dry_run else target.title
    parts = [format_table(bulk_rows(outcome), title) + "\n" + timing_line(outcome)]
    kind, refused = outcome.kind, outcome.refused
    if refused:
        more = len(refused) - _SHOWN_FAILURES
        heading = "Failed IDs" + (f" (first {_SHOWN_FAILURES}; {more} more)" if more > 0 else "")
        rows = [(kind.failure_id(f), kind.code(f), kind.msg(f) or "") for f in refused]
        parts.append(
            format_table(rows[:_SHOWN_FAILURES], heading, (f"{kind.noun} ID", "code", "msg"))
        )
    errors = outcome.result.errors
    if errors and not (outcome.stopped_by is not None and len(errors) == 1):
        parts.append(_errors_table(errors))
    parts.append(verdict(outcome, target, unprocessed_out))
    return "\n\n".join(parts)


def _errors_table(errors: tuple[KooDriveError, ...]) -> str:
    seen = Counter(str(e) for e in errors)
    rows = [(count, message) for message, count in seen.most_common(_SHOWN_ERRORS)]
    title = f"Requests that failed after retries ({len(errors)})"
    return format_table(rows, title, ("requests", "last error"))


def verdict(outcome: BulkOutcome, target: Target, unprocessed_out: str | None) -> str:
    """The closing lines: what happened, and what to do next."""
    lines = []
    if outcome.interrupted is not None:
        lines.append(f"Interrupted ({signal_name(outcome.interrupted)}): stopped early.")
    elif outcome.stopped_by is not None:
        lines.append(f"Stopped: {outcome.stopped_by}")
    if outcome.mostly_not_found:
        lines.append(textwrap.fill(not_found_message(outcome, target), _WIDTH))
    if outcome.dry_run:
        return "\n".join([*lines, _dry_run_verdict(outcome)])
    remaining = len(outcome.not_gone)
    if remaining == 0:
        if not outcome.mostly_not_found:
            lines.append(f"Done: all {_count(len(outcome.unique_ids), 'ID')} are gone.")
        return "\n".join(lines)
    lines.append(
        f"{_count(remaining, 'ID')} {'is' if remaining == 1 else 'are'} not known to be gone."
    )
    if unprocessed_out is not None:
        lines.append(
            f"They are in {unprocessed_out}; resume with:\n  {target.resume} "
            f"--from-file {unprocessed_out} --unprocessed-out {unprocessed_out}"
        )
    else:
        lines.append("Use --unprocessed-out FILE to keep them for a resume (or --json).")
    return "\n".join(lines)


def not_found_message(outcome: BulkOutcome, target: Target) -> str:
    gone, unique = len(outcome.already_gone), len(outcome.unique_ids)
    return (
        f"{gone} of {_count(unique, 'ID')} ({gone / unique:.0%}) were not found {target.where}: "
        f"the input probably does not match {target.subject}. They count as gone, but check "
        f"where the IDs came from (exit status 5: more than --max-not-found "
        f"{outcome.max_not_found:g} not found)."
    )


def _dry_run_verdict(outcome: BulkOutcome) -> str:
    would = _count(len(outcome.result.deleted), outcome.kind.noun)
    text = f"Dry run: nothing was deleted; {would} would be deleted"
    if outcome.result.unprocessed:
        text += f", {len(outcome.result.unprocessed)} could not be checked"
    return text + ".\nRun the command again without --dry-run to delete them."


def _count(n: int, noun: str) -> str:
    return f"{n} {noun}{'' if n == 1 else 's'}"
