"""Batch scope deletion (seed page 001, ``batchDeleteBackupScope``, reference §6.3).

``delete_scopes`` and its streaming form ``iter_delete_scopes``, on the generic engine of
``_batch`` (whose public names are re-exported here). A scope deleted by an attempt whose
answer was lost is reported by the retry as ``15000418`` (not found): it is in ``failed``
with the server's code and also in ``gone``, the list a cleanup really needs.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING

from . import _validate as check
from ._batch import (
    STOP_ERRORS,
    BatchResult,
    BatchStream,
    ChunkAnswer,
    ChunkOutcome,
    ProgressCallback,
    run_batch,
    stream_batch,
)
from ._batch import prepare as _prepare
from .models import NOT_FOUND_CODE, REPEATED_ID_CODE, DeleteScopesResult, ScopeFailure

if TYPE_CHECKING:
    from ._batch import _Batch
    from .client import BackupClient

__all__ = [
    "MAX_IDS_PER_REQUEST",
    "STOP_ERRORS",
    "BatchResult",
    "BatchStream",
    "ChunkAnswer",
    "ChunkOutcome",
    "ProgressCallback",
    "delete_scopes",
    "iter_delete_scopes",
    "run_batch",
    "stream_batch",
]

#: The server refuses more than 100 IDs per batchDeleteBackupScope request (seed page 001).
MAX_IDS_PER_REQUEST = 100


# --- batchDeleteBackupScope (seed page 001, reference §6.3) ----------------------------------


async def delete_scopes(
    client: BackupClient,
    device_id: str,
    scope_ids: Iterable[str | int],
    *,
    chunk_size: int = 100,
    concurrency: int = 8,
    on_progress: ProgressCallback | None = None,
) -> DeleteScopesResult:
    """Delete any number of backup scopes of a device, accounting for every input ID.

    ``scope_ids``: any iterable of ``str`` (non-empty, no whitespace/control characters) or
    ``int`` (sent as its decimal string). Every element, ``device_id``, ``chunk_size``
    (1..100) and ``concurrency`` (>= 1) are checked before any request: a bad one raises
    ``TypeError``/``ValueError`` (an element's message names its position). An empty input
    returns an empty result without a request.

    The unique IDs are sent in consecutive chunks of ``chunk_size``, at most ``concurrency``
    requests at once, each retried by the session layer. Every input occurrence lands in
    exactly one of ``deleted``, ``failed`` or ``unprocessed``, each in input order:

    * a repeat of an earlier ID (``"123"`` and ``123`` are the same) is not sent; it is failed
      with ``15000424``, as the server does for a repeat inside one request;
    * an ID the server lists in ``failedScopeList`` is failed with the server's code and
      message, even if also in ``scopeIdList``; one it mentions in neither is unprocessed; one
      it reports that was not in the request is ignored (and logged at WARNING);
    * a chunk whose request still fails after retries leaves its IDs unprocessed and its
      exception in ``errors`` (chunk order); the other chunks go on. After an
      ``AuthenticationError``/``PermissionDeniedError`` no new chunk is started.

    Nothing is raised for a partial failure: check ``result.ok`` and feed ``unprocessed`` into
    a new call. A ``15000418`` (not found) failure may mean the scope was deleted by an earlier
    attempt whose answer was lost (or by an earlier run): it keeps the server's code in
    ``failed`` and is listed in ``result.gone``, the IDs known to be absent now.

    ``on_progress`` (plain or async callable) gets a ``BatchProgress`` after each chunk, in
    input occurrences; the repeats of an ID count as failed with the chunk of its first
    occurrence. Its exceptions are logged and ignored. Cancelling the call cancels the requests
    in flight and raises ``CancelledError``. A closed client raises ``RuntimeError``.
    """
    return (
        await _scope_batch(client, device_id, scope_ids, chunk_size, concurrency, on_progress).run()
    ).to_result()


def iter_delete_scopes(
    client: BackupClient,
    device_id: str,
    scope_ids: Iterable[str | int],
    *,
    chunk_size: int = 100,
    concurrency: int = 8,
    on_progress: ProgressCallback | None = None,
) -> BatchStream[str, ScopeFailure]:
    """``delete_scopes`` as a stream: yields a ``ChunkOutcome`` per chunk as it completes.

    Arguments are checked here, when called (same rules as ``delete_scopes``). Use::

        async with iter_delete_scopes(client, device_id, ids) as stream:
            async for outcome in stream:
                ...                      # outcome.deleted / .failed / .unprocessed / .error
        result = stream.result           # the merged BatchResult (.to_result() for the model)
    """
    return BatchStream(
        _scope_batch(client, device_id, scope_ids, chunk_size, concurrency, on_progress)
    )


def _scope_batch(
    client: BackupClient,
    device_id: str,
    scope_ids: Iterable[str | int],
    chunk_size: int,
    concurrency: int,
    on_progress: ProgressCallback | None,
) -> _Batch[str, ScopeFailure]:
    device_id = check.path_id(device_id, "device_id")
    check.positive_int(chunk_size, "chunk_size", maximum=MAX_IDS_PER_REQUEST)
    check.positive_int(concurrency, "concurrency")
    ids = check.scope_ids(check.iterable(scope_ids, "scope_ids"))

    async def send(chunk: list[str]) -> ChunkAnswer[str, ScopeFailure]:
        answer = await client._delete_scope_chunk(device_id, chunk)
        failed = tuple((failure.scope_id, failure) for failure in answer.failed_scope_list)
        return ChunkAnswer(answer.scope_id_list, failed)

    return _prepare(
        ids,
        send,
        chunk_size,
        concurrency,
        _repeated_scope,
        on_progress,
        NOT_FOUND_CODE,
        STOP_ERRORS,
    )


def _repeated_scope(scope_id: str) -> ScopeFailure:
    return ScopeFailure(scope_id, REPEATED_ID_CODE, "repeated scope ID in the input; sent once")
