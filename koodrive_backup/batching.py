"""Batch scope deletion: validate, dedupe, chunk, send, and account for every input ID.

(Initial sequential version; bounded concurrency, progress and streaming build on it.)
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from typing import TYPE_CHECKING

from . import _validate as check
from .errors import KooDriveError
from .models import REPEATED_ID_CODE, DeleteScopesResult, ScopeFailure

if TYPE_CHECKING:
    from .client import BackupClient, ProgressCallback

__all__ = ["delete_scopes"]

logger = logging.getLogger("koodrive_backup")
MAX_IDS_PER_REQUEST = 100


async def delete_scopes(
    client: BackupClient,
    device_id: str,
    scope_ids: Iterable[str | int],
    *,
    chunk_size: int = 100,
    concurrency: int = 8,
    on_progress: ProgressCallback | None = None,
) -> DeleteScopesResult:
    device_id = check.path_id(device_id, "device_id")
    check.positive_int(chunk_size, "chunk_size", maximum=MAX_IDS_PER_REQUEST)
    check.positive_int(concurrency, "concurrency")
    ids = [check.scope_id(value, position) for position, value in enumerate(scope_ids)]
    unique = list(dict.fromkeys(ids))
    outcome: dict[str, str | ScopeFailure | None] = {}  # "deleted", a failure, None=unprocessed
    errors: list[KooDriveError] = []
    for start in range(0, len(unique), chunk_size):
        chunk = unique[start : start + chunk_size]
        try:
            answer = await client._delete_scope_chunk(device_id, chunk)
        except KooDriveError as exc:
            errors.append(exc)
            continue
        members = set(chunk)
        for scope_id in answer.scope_id_list:
            if scope_id in members:
                outcome.setdefault(scope_id, "deleted")
        for failure in answer.failed_scope_list:
            if failure.scope_id in members:
                outcome[failure.scope_id] = failure
    deleted: list[str] = []
    failed: list[ScopeFailure] = []
    unprocessed: list[str] = []
    seen: set[str] = set()
    for scope_id in ids:
        if scope_id in seen:
            failed.append(ScopeFailure(scope_id, REPEATED_ID_CODE, "repeated scope ID in input"))
            continue
        seen.add(scope_id)
        result = outcome.get(scope_id)
        if result == "deleted":
            deleted.append(scope_id)
        elif isinstance(result, ScopeFailure):
            failed.append(result)
        else:
            unprocessed.append(scope_id)
    return DeleteScopesResult(tuple(deleted), tuple(failed), tuple(unprocessed), tuple(errors))
