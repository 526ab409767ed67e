"""Per-endpoint request builders and answer decoders (sans-I/O).

Each endpoint is a pair: ``build_*`` returns a ``Request`` from already-validated arguments,
``decode_*`` turns the answer's JSON object into models (raising ``DecodeError``). Section
numbers refer to ``koodrive-backup-api.md``; the seed pages are the primary spec.
"""

from __future__ import annotations

from typing import Any, TypeVar

import attrs

from ._codec import ShapeError, structure
from ._protocol import Payload, Request, request
from .errors import DecodeError
from .models import ScopeFailure

__all__ = [
    "ScopeDeleteAnswer",
    "build_delete_record",
    "build_delete_scopes",
    "build_get_record",
    "decode_data",
    "decode_delete_scopes",
    "decode_top_level",
]

T = TypeVar("T")


def decode_data(payload: Payload, cls: type[T], req: Request) -> T:
    """Decode ``payload["data"]`` (the usual envelope, reference §1.2) into ``cls``."""
    if "data" not in payload or payload["data"] is None:
        raise DecodeError(f"{req.method} {req.path}: answer has no data", status=200)
    return decode_top_level(payload["data"], cls, req)


def decode_top_level(data: Any, cls: type[T], req: Request) -> T:
    """Decode ``data`` into ``cls``; shape problems become ``DecodeError`` with wire names."""
    try:
        return structure(data, cls)
    except ShapeError as exc:
        raise DecodeError(f"{req.method} {req.path}: {exc}", status=200) from None


# --- getBackupRecord / deleteBackupRecord (seed pages 004 and 000, reference §3.3, §3.5) ---


def build_get_record(record_id: str, lock_id: str | None) -> Request:
    return request("GET", f"/record/{record_id}", "getBackupRecord", lock_id=lock_id)


def build_delete_record(record_id: str, lock_id: str) -> Request:
    return request(
        "DELETE", f"/record/{record_id}", "deleteBackupRecord", lock_id=lock_id, expects_data=False
    )


# --- batchDeleteBackupScope (seed page 001, reference §6.3) ----------------------------------


@attrs.frozen
class ScopeDeleteAnswer:
    """The top-level answer of a scope deletion (no ``data`` wrapper)."""

    scope_id_list: tuple[str, ...] = ()
    failed_scope_list: tuple[ScopeFailure, ...] = ()


def build_delete_scopes(device_id: str, scope_ids: list[str]) -> Request:
    """DELETE with a JSON body ``{"scopeIdList": [...]}``; IDs always sent as JSON strings."""
    return request(
        "DELETE",
        f"/device/{device_id}/scope",
        "batchDeleteBackupScope",
        body={"scopeIdList": scope_ids},
    )


def decode_delete_scopes(payload: Payload, req: Request) -> ScopeDeleteAnswer:
    return decode_top_level(payload, ScopeDeleteAnswer, req)
