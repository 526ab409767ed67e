"""Batch operations, public names: the engine of ``_batch`` and scope deletion by function.

The bulk operations are client methods (``client.delete_scopes``, ``client.iter_delete_scopes``,
``client.delete_records``, ``client.add_scopes``, built in ``_bulk``). This module keeps the
engine's names for code that runs its own batches (``run_batch``, ``stream_batch``) and the
function forms ``delete_scopes(client, ...)`` / ``iter_delete_scopes(client, ...)``.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Unpack

from ._batch import (
    BatchResult,
    ChunkAnswer,
    ChunkOutcome,
    ProgressCallback,
)
from ._batch_stream import BatchOptions, BatchStream, run_batch, stream_batch
from ._bulk import ScopeDeletionOptions
from ._endpoints import MAX_IDS_PER_REQUEST
from ._retry import STOP_ERRORS, stops_batch
from .client import BackupClient
from .models import DeleteScopesResult, ScopeFailure

__all__ = [
    "MAX_IDS_PER_REQUEST",
    "STOP_ERRORS",
    "BatchOptions",
    "BatchResult",
    "BatchStream",
    "ChunkAnswer",
    "ChunkOutcome",
    "ProgressCallback",
    "ScopeDeletionOptions",
    "delete_scopes",
    "iter_delete_scopes",
    "run_batch",
    "stops_batch",
    "stream_batch",
]


async def delete_scopes(
    client: BackupClient,
    device_id: str,
    scope_ids: Iterable[str | int],
    **options: Unpack[ScopeDeletionOptions],
) -> DeleteScopesResult:
    """``client.delete_scopes(device_id, scope_ids, ...)``, which documents the contract."""
    return await client.delete_scopes(device_id, scope_ids, **options)


def iter_delete_scopes(
    client: BackupClient,
    device_id: str,
    scope_ids: Iterable[str | int],
    **options: Unpack[ScopeDeletionOptions],
) -> BatchStream[str, ScopeFailure]:
    """``client.iter_delete_scopes(device_id, scope_ids, ...)``: a stream of ``ChunkOutcome`` s.

    ::

        async with iter_delete_scopes(client, device_id, ids) as stream:
            async for outcome in stream:
                ...                      # outcome.deleted / .failed / .unprocessed / .error
        result = stream.result           # the merged BatchResult, also after an early exit
    """
    return client.iter_delete_scopes(device_id, scope_ids, **options)
