"""Bulk record deletion and bulk scope creation, on the generic engine of ``batching``.

Both keep the accounting of ``delete_scopes`` (API.md): validation before any request, repeats
sent once and reported as ``15000424``, bounded concurrency, and every input occurrence in
exactly one of done / ``failed`` / ``unprocessed``, in input order.
"""

from __future__ import annotations

from collections.abc import Iterable

from . import _endpoints as ep
from . import _validate as check
from ._devices import scope_spec
from ._lock import LockOps
from ._retry import is_retryable
from .batching import STOP_ERRORS, ChunkAnswer, ProgressCallback, run_batch
from .errors import APIError, LockLostError, NotFoundError
from .models import (
    REPEATED_ID_CODE,
    AddScopesResult,
    DeleteRecordsResult,
    ModuleCode,
    RecordFailure,
    ScopeAddFailure,
    ScopeInfo,
    ScopeSpec,
)

__all__ = ["BulkOps"]


MAX_SCOPES_PER_REQUEST = 100  # reference §6.1


class BulkOps(LockOps):
    """``delete_records`` and ``add_scopes``."""

    async def delete_records(
        self,
        record_ids: Iterable[str | int],
        lock_id: str,
        *,
        concurrency: int = 8,
        on_progress: ProgressCallback | None = None,
    ) -> DeleteRecordsResult:
        """Delete any number of backup records (one ``DELETE /record/{id}`` each), under a lock.

        ``record_ids``: an iterable of ``str`` path IDs (or ``int``, sent as its decimal
        string). Every ID, ``lock_id`` and ``concurrency`` (>= 1) are checked before any
        request (``ValueError``/``TypeError``); a lost managed lock raises ``LockLostError``
        before starting. An empty input returns an empty result without a request.

        At most ``concurrency`` requests are in flight; each is retried like any DELETE.
        Every input occurrence lands in exactly one of ``deleted``, ``failed`` or
        ``unprocessed``, each in input order: a repeat is not sent and is failed with
        ``15000424``; a definitive refusal (404, 409, other 4xx, a body error code) is failed
        with the server's code (else the HTTP status) and message; a request that still fails
        after retries leaves its ID unprocessed and its exception in ``errors``. After an
        ``AuthenticationError``/``PermissionDeniedError``, or when the managed lock is lost
        mid-way (``LockLostError`` in ``errors``), no new request is started and the rest is
        unprocessed. ``result.gone`` lists the IDs deleted or not found (a retry after a lost
        answer meets 404). ``on_progress`` gets a ``BatchProgress`` after each request; its
        exceptions are logged. Nothing is raised for a partial failure; cancelling the call
        cancels the requests in flight.
        """
        lock = self._lock_header(lock_id)
        ids = _record_ids(record_ids)
        not_found: set[str] = set()  # refused as unknown: absent now, like the deleted ones

        async def send(chunk: list[str]) -> ChunkAnswer[str, RecordFailure]:
            (record_id,) = chunk
            req = ep.build_delete_record(record_id, self._lock_header(lock))
            try:
                await self._send(req)
            except APIError as exc:
                if _transient_or_fatal(exc):
                    raise  # unprocessed, or stops the batch (401, 403)
                if isinstance(exc, NotFoundError):
                    not_found.add(record_id)
                # about this record: 404, 409, other 4xx
                return ChunkAnswer(failed=((record_id, _failure(record_id, exc)),))
            return ChunkAnswer(deleted=(record_id,))

        result = await run_batch(
            ids,
            send,
            chunk_size=1,  # no batch endpoint for records (reference §3.5)
            concurrency=check.positive_int(concurrency, "concurrency"),
            repeated_failure=_repeated_record,
            on_progress=on_progress,
            gone_code=None,
            stop_on=(*STOP_ERRORS, LockLostError),
        )
        gone = not_found.union(result.deleted)
        return DeleteRecordsResult(
            result.deleted,
            result.failed,
            result.unprocessed,
            result.errors,
            gone_ids=tuple(rid for rid in dict.fromkeys(ids) if rid in gone),
        )

    async def add_scopes(
        self,
        device_id: str,
        module_code: ModuleCode | str,
        scopes: Iterable[ScopeSpec | tuple[str | None, str | None]],
        *,
        chunk_size: int = 100,
        concurrency: int = 1,
        on_progress: ProgressCallback | None = None,
        retry_unsafe: bool = False,
    ) -> AddScopesResult:
        """Add backup scopes to a device, any number of them (``POST /device/{id}/scope``).

        ``scopes``: ``ScopeSpec(local_path, target_folder_path)`` values or ``(local_path,
        target_folder_path)`` pairs; each path is empty/``None`` or starts with ``/``, holds no
        backslash and is at most 10000 characters, and the two are not both empty. All of
        them, ``device_id``, ``module_code``, ``chunk_size`` (1..100) and ``concurrency``
        (>= 1) are checked before any request (``ValueError``/``TypeError``).

        The unique specs are sent in chunks of ``chunk_size`` (the server takes 100 per
        request), ``concurrency`` requests at a time (default 1, so scopes are created in input
        order). Every input occurrence lands in exactly one of ``added`` (the created
        ``ScopeInfo``), ``failed`` or ``unprocessed``, in input order: a repeated spec is sent
        once and the repeat failed with ``15000424``; a spec the server lists in
        ``failedScopeList`` is failed with its code; one the answer does not mention, or whose
        request failed, is unprocessed (exceptions in ``errors``). A POST: a request is not
        retried after a failure that may have been processed (a blind retry would create the
        scopes twice) unless ``retry_unsafe=True``. ``on_progress`` gets a ``BatchProgress``
        per chunk (its ``deleted`` counts added scopes). Nothing is raised for a partial
        failure.
        """
        device = check.path_id(device_id, "device_id")
        code = check.module_code(module_code)
        size = check.positive_int(chunk_size, "chunk_size", maximum=MAX_SCOPES_PER_REQUEST)
        specs = [scope_spec(value, n) for n, value in enumerate(check.iterable(scopes, "scopes"))]
        created: dict[ScopeSpec, ScopeInfo] = {}

        async def send(chunk: list[ScopeSpec]) -> ChunkAnswer[ScopeSpec, ScopeAddFailure]:
            req = ep.build_add_scopes(device, code, chunk)
            answer = ep.decode_add_scopes(await self._send(req, retry_unsafe=retry_unsafe), req)
            return _scope_chunk_answer(answer, created)

        result = await run_batch(
            specs,
            send,
            chunk_size=size,
            concurrency=check.positive_int(concurrency, "concurrency"),
            repeated_failure=_repeated_scope,
            on_progress=on_progress,
            gone_code=None,
        )
        added = tuple(created[spec] for spec in result.deleted)
        return AddScopesResult(added, result.failed, result.unprocessed, result.errors)


# --- delete_records helpers -------------------------------------------------------------------


def _record_ids(values: object) -> list[str]:
    ids = []
    for position, value in enumerate(check.iterable(values, "record_ids")):
        if isinstance(value, int) and not isinstance(value, bool):
            value = str(int(value))  # exact decimal, as for scope IDs
        ids.append(check.path_id(value, f"record_ids[{position}]"))
    return ids


def _transient_or_fatal(exc: APIError) -> bool:
    """Errors that are not about this one record: transient ones (unprocessed after the
    transport's retries) and those the engine stops on (401, 403)."""
    return is_retryable(exc, idempotent=True) or isinstance(exc, STOP_ERRORS)


def _failure(record_id: str, exc: APIError) -> RecordFailure:
    code = str(exc.code) if exc.code is not None else str(exc.status)
    return RecordFailure(record_id, code, exc.msg, exc.status)


def _repeated_record(record_id: str) -> RecordFailure:
    return RecordFailure(record_id, REPEATED_ID_CODE, "repeated record ID in the input; sent once")


# --- add_scopes helpers -----------------------------------------------------------------------


def _repeated_scope(spec: ScopeSpec) -> ScopeAddFailure:
    return ScopeAddFailure(spec, REPEATED_ID_CODE, "repeated scope in the input; sent once")


def _key(local: str | None, target: str | None) -> ScopeSpec:
    return ScopeSpec(local or "", target or "")


def _scope_chunk_answer(
    answer: ep.ScopeAddAnswer, created: dict[ScopeSpec, ScopeInfo]
) -> ChunkAnswer[ScopeSpec, ScopeAddFailure]:
    """Match the answer to the chunk by path pair (the answer carries no request index)."""
    done = []
    for info in answer.scope_list:
        spec = _key(info.local_path, info.target_folder_path)
        created.setdefault(spec, info)
        done.append(spec)
    failed = []
    for item in answer.failed_scope_list:
        spec = _key(item.local_path, item.target_folder_path)
        failed.append((spec, ScopeAddFailure(spec, item.error_code, item.msg)))
    return ChunkAnswer(tuple(done), tuple(failed))
