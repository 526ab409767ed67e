"""The bulk operations, all built the same way on the engine of ``_batch``.

``delete_scopes`` (and its stream), ``delete_records`` and ``add_scopes`` each: check every
argument before any request, describe how one chunk is sent and read, run the engine, and
turn its ``BatchResult`` into the public result. The accounting (API.md: every input
occurrence in exactly one of done / ``failed`` / ``unprocessed``, in input order; repeats
sent once and failed with ``15000424``), the stop rule and ``gone`` come from the engine.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Iterable
from typing import TypedDict, TypeVar, Unpack

from . import _endpoints as ep
from . import _validate as check
from ._batch import (
    Batch,
    BatchResult,
    ChunkAnswer,
    ProgressCallback,
    SendChunk,
    prepare,
)
from ._batch_stream import BatchStream
from ._requester import Operations, Requester
from ._retry import STOP_ERRORS, is_retryable
from ._telemetry import ObserveBatch
from .errors import APIError
from .models import (
    NOT_FOUND_CODE,
    REPEATED_ID_CODE,
    AddScopesProgress,
    AddScopesResult,
    BatchProgress,
    DeleteRecordsResult,
    DeleteScopesResult,
    ModuleCode,
    RecordFailure,
    ScopeAddFailure,
    ScopeFailure,
    ScopeInfo,
    ScopeSpec,
)

__all__ = ["DEFAULT_CONCURRENCY", "BulkOps", "ScopeDeletionOptions"]

K = TypeVar("K", bound=Hashable)
F = TypeVar("F")
#: Requests in flight at once, unless told otherwise.
DEFAULT_CONCURRENCY = 8


class ScopeDeletionOptions(TypedDict, total=False):
    """The keyword options of ``delete_scopes`` and ``iter_delete_scopes``."""

    chunk_size: int
    concurrency: int
    on_progress: ProgressCallback | None


#: ``add_scopes``' ``on_progress``: a plain or async callable taking an ``AddScopesProgress``.
AddScopesProgressCallback = Callable[[AddScopesProgress], object]


class BulkOps(Operations):
    """Operations on many IDs at once, with exact accounting."""

    async def delete_scopes(
        self,
        device_id: str,
        scope_ids: Iterable[str | int],
        *,
        chunk_size: int = ep.MAX_IDS_PER_REQUEST,
        concurrency: int = DEFAULT_CONCURRENCY,
        on_progress: ProgressCallback | None = None,
    ) -> DeleteScopesResult:
        """Delete any number of backup scopes of a device, accounting for every input ID.

        ``scope_ids``: any iterable of ``str`` (path-ID syntax) or ``int`` (sent as its exact
        decimal string). Every element, ``device_id``, ``chunk_size`` (1..100) and
        ``concurrency`` (>= 1) are checked before any request: a bad one raises
        ``TypeError``/``ValueError`` (an element's message names its position). An empty
        input returns an empty result without a request.

        The unique IDs are sent in consecutive chunks of ``chunk_size``, at most
        ``concurrency`` requests at once, each retried as usual. Every input occurrence lands
        in exactly one of ``deleted``, ``failed`` or ``unprocessed``, each in input order:

        * a repeat of an earlier ID (``"123"`` and ``123`` are the same) is not sent; it is
          failed with ``15000424``, as the server does for a repeat inside one request;
        * an ID the server lists in ``failedScopeList`` is failed with the server's code and
          message, even if also in ``scopeIdList``; one it mentions in neither is
          unprocessed; one it reports that was not in the request is ignored (and logged);
        * a chunk whose request still fails after retries leaves its IDs unprocessed and its
          exception in ``errors`` (chunk order); the other chunks go on, unless the error
          would recur on every chunk (``batching.stops_batch``: 401, 403, another 4xx but
          408/429, a server that cannot be reached): then no new chunk is started.

        Nothing is raised for a partial failure: check ``result.ok`` and feed ``unprocessed``
        into a new call. ``result.gone`` lists the IDs known to be absent now: deleted, or
        ``15000418`` (not found), which is what a retry reports after an answer was lost.
        ``on_progress`` (plain or async) gets a ``BatchProgress`` after each chunk; its
        exceptions are logged. Cancelling the call cancels the requests in flight and raises
        ``CancelledError``. A closed client raises ``RuntimeError``.
        """
        options = ScopeDeletionOptions(
            chunk_size=chunk_size, concurrency=concurrency, on_progress=on_progress
        )
        return _scopes_result(await self._scope_deletion(device_id, scope_ids, options).run())

    def iter_delete_scopes(
        self,
        device_id: str,
        scope_ids: Iterable[str | int],
        **options: Unpack[ScopeDeletionOptions],
    ) -> BatchStream[str, ScopeFailure]:
        """``delete_scopes`` as a stream of per-chunk ``ChunkOutcome`` s (arguments checked now).

        Takes the arguments of ``delete_scopes`` (``chunk_size``, ``concurrency``,
        ``on_progress``).
        Use ``async with client.iter_delete_scopes(dev, ids) as stream: async for outcome in
        stream: ...``. Leaving the block early cancels the requests in flight;
        ``stream.result`` is then the merged ``BatchResult``: every chunk that settled, read or
        not, and the rest unprocessed (what a resume must send again).
        """
        return BatchStream(self._scope_deletion(device_id, scope_ids, options))

    def _scope_deletion(
        self, device_id: str, scope_ids: Iterable[str | int], options: ScopeDeletionOptions
    ) -> Batch[str, ScopeFailure]:
        unknown = options.keys() - ScopeDeletionOptions.__annotations__.keys()
        if unknown:
            raise TypeError(f"unexpected keyword argument(s): {', '.join(sorted(unknown))}")
        device = check.path_id(device_id, "device_id")
        ids = check.scope_ids(check.iterable(scope_ids, "scope_ids"))

        async def send(chunk: list[str]) -> ChunkAnswer[str, ScopeFailure]:
            answer = await self._rq.call(ep.DELETE_SCOPES, device_id=device, scope_id_list=chunk)
            failed = tuple((failure.scope_id, failure) for failure in answer.failed_scope_list)
            return ChunkAnswer(answer.scope_id_list, failed)

        return _batch(
            self._rq,
            ids,
            send,
            options.get("chunk_size", ep.MAX_IDS_PER_REQUEST),
            options.get("concurrency", DEFAULT_CONCURRENCY),
            options.get("on_progress"),
            _repeated_scope,
            _not_found,
            self._rq.telemetry.batches("delete_scopes"),
        )

    async def delete_records(
        self,
        record_ids: Iterable[str | int],
        lock_id: str,
        *,
        concurrency: int = DEFAULT_CONCURRENCY,
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
        ``15000424``; a definitive refusal of one record (404, 409, another 4xx, a body error
        code) is failed with the server's code (else the HTTP status) and message; a request
        that still fails after retries leaves its ID unprocessed and its exception in
        ``errors``. After an ``AuthenticationError``/``PermissionDeniedError``, or when the
        managed lock is lost mid-way (``LockLostError`` in ``errors``), no new request is
        started and the rest is unprocessed. A retry answered 404 after an attempt that may
        have deleted the record counts as deleted (``delete_record``). ``result.gone`` lists
        the IDs deleted or not found. ``on_progress`` gets a
        ``BatchProgress`` after each request. Nothing is raised for a partial failure;
        cancelling the call cancels the requests in flight.
        """
        result = await self._record_deletion(record_ids, lock_id, concurrency, on_progress).run()
        return DeleteRecordsResult(
            result.deleted, result.failed, result.unprocessed, result.errors, gone_ids=result.gone
        )

    def iter_delete_records(
        self,
        record_ids: Iterable[str | int],
        lock_id: str,
        *,
        concurrency: int = DEFAULT_CONCURRENCY,
        on_progress: ProgressCallback | None = None,
    ) -> BatchStream[str, RecordFailure]:
        """``delete_records`` as a stream of per-record ``ChunkOutcome`` s (arguments checked
        now), like ``iter_delete_scopes``: leaving it early cancels the requests in flight, and
        ``stream.result`` keeps every record that settled."""
        return BatchStream(self._record_deletion(record_ids, lock_id, concurrency, on_progress))

    def _record_deletion(
        self,
        record_ids: Iterable[str | int],
        lock_id: str,
        concurrency: int,
        on_progress: ProgressCallback | None,
    ) -> Batch[str, RecordFailure]:
        lock = self._rq.lock_id(lock_id)
        ids = check.record_ids(record_ids)

        async def send(chunk: list[str]) -> ChunkAnswer[str, RecordFailure]:
            (record_id,) = chunk  # no batch endpoint for records (reference §3.5)
            try:
                await self._rq.call(
                    ep.DELETE_RECORD, record_id=record_id, lock_id=self._rq.lock_id(lock)
                )
            except APIError as exc:
                if is_retryable(exc, idempotent=True) or isinstance(exc, STOP_ERRORS):
                    raise  # not about this record: unprocessed, or the batch stops
                return ChunkAnswer(failed=((record_id, _record_failure(record_id, exc)),))
            return ChunkAnswer(deleted=(record_id,))

        observe = self._rq.telemetry.batches("delete_records")
        return _batch(
            self._rq, ids, send, 1, concurrency, on_progress, _repeated_record, _status_404, observe
        )

    async def add_scopes(
        self,
        device_id: str,
        module_code: ModuleCode | str,
        scopes: Iterable[ScopeSpec | tuple[str | None, str | None]],
        *,
        chunk_size: int = ep.MAX_IDS_PER_REQUEST,
        concurrency: int = 1,
        on_progress: AddScopesProgressCallback | None = None,
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
        scopes twice) unless ``retry_unsafe=True``. ``on_progress`` gets an
        ``AddScopesProgress`` per chunk. Nothing is raised for a partial failure.
        """
        device = check.path_id(device_id, "device_id")
        code = check.module_code(module_code)
        specs = [
            check.scope_spec(value, n) for n, value in enumerate(check.iterable(scopes, "scopes"))
        ]
        created: dict[ScopeSpec, ScopeInfo] = {}

        async def send(chunk: list[ScopeSpec]) -> ChunkAnswer[ScopeSpec, ScopeAddFailure]:
            answer = await self._rq.call(
                ep.ADD_SCOPES,
                retry_unsafe=retry_unsafe,
                device_id=device,
                module_code=code,
                scope_list=[_wire_spec(spec) for spec in chunk],
            )
            return _scopes_added(answer, created)

        report = None if on_progress is None else _as_add_progress(on_progress)
        observe = self._rq.telemetry.batches("add_scopes")
        batch = _batch(
            self._rq, specs, send, chunk_size, concurrency, report, _repeated_spec, None, observe
        )
        result = await batch.run()
        added = tuple(created[spec] for spec in result.deleted)
        return AddScopesResult(added, result.failed, result.unprocessed, result.errors)


def _batch(
    rq: Requester,
    keys: list[K],
    send: SendChunk[K, F],
    chunk_size: int,
    concurrency: int,
    on_progress: ProgressCallback | None,
    repeated: Callable[[K], F],
    is_gone: Callable[[F], bool] | None,
    observe: ObserveBatch,
) -> Batch[K, F]:
    """The engine, with the server's per-request limit on ``chunk_size``; ``observe`` is
    the telemetry of the operation (``Telemetry.batches``).

    A closed client raises ``RuntimeError`` here, like any call on it; a client closed
    mid-batch makes the chunk that meets it fail (a ``KooDriveError`` in ``errors``) and
    stops the batch: the rest is unprocessed, and the result is returned.
    """
    batch = prepare(
        keys,
        send,
        chunk_size=chunk_size,
        concurrency=concurrency,
        repeated_failure=repeated,
        on_progress=on_progress,
        is_gone=is_gone,
        stop_when=rq.stops_batch,
        max_chunk_size=ep.MAX_IDS_PER_REQUEST,
        observe=observe,
    )
    rq.ensure_open()
    return batch


# --- delete_scopes ----------------------------------------------------------------------------


def _scopes_result(result: BatchResult[str, ScopeFailure]) -> DeleteScopesResult:
    return DeleteScopesResult(
        result.deleted, result.failed, result.unprocessed, result.errors, gone_ids=result.gone
    )


def _repeated_scope(scope_id: str) -> ScopeFailure:
    return ScopeFailure(scope_id, REPEATED_ID_CODE, "repeated scope ID in the input; sent once")


def _not_found(failure: ScopeFailure) -> bool:
    """``15000418``: absent now, also when an earlier attempt deleted it and lost the answer."""
    return failure.error_code == NOT_FOUND_CODE


# --- delete_records ---------------------------------------------------------------------------


def _record_failure(record_id: str, exc: APIError) -> RecordFailure:
    code = str(exc.code) if exc.code is not None else str(exc.status)
    return RecordFailure(record_id, code, exc.msg, exc.status)


def _repeated_record(record_id: str) -> RecordFailure:
    return RecordFailure(record_id, REPEATED_ID_CODE, "repeated record ID in the input; sent once")


def _status_404(failure: RecordFailure) -> bool:
    return failure.status == 404


# --- add_scopes -------------------------------------------------------------------------------


def _wire_spec(spec: ScopeSpec) -> dict[str, str]:
    """A ``ScopeBaseInfo`` (§6.1): an empty path is left out."""
    item = {}
    if spec.local_path:
        item["localPath"] = spec.local_path
    if spec.target_folder_path:
        item["targetFolderPath"] = spec.target_folder_path
    return item


def _repeated_spec(spec: ScopeSpec) -> ScopeAddFailure:
    return ScopeAddFailure(spec, REPEATED_ID_CODE, "repeated scope in the input; sent once")


def _spec(local: str | None, target: str | None) -> ScopeSpec:
    return ScopeSpec(local or "", target or "")


def _scopes_added(
    answer: ep.ScopeAddAnswer, created: dict[ScopeSpec, ScopeInfo]
) -> ChunkAnswer[ScopeSpec, ScopeAddFailure]:
    """Match the answer to the chunk by path pair (the answer carries no request index)."""
    done = []
    for info in answer.scope_list:
        spec = _spec(info.local_path, info.target_folder_path)
        created.setdefault(spec, info)
        done.append(spec)
    failed = []
    for item in answer.failed_scope_list:
        spec = _spec(item.local_path, item.target_folder_path)
        failed.append((spec, ScopeAddFailure(spec, item.error_code, item.msg)))
    return ChunkAnswer(tuple(done), tuple(failed))


def _as_add_progress(on_progress: AddScopesProgressCallback) -> ProgressCallback:
    """Report the engine's counts as ``AddScopesProgress`` (its ``added`` are the engine's
    ``deleted``: keys done)."""
    if not callable(on_progress):
        raise TypeError("on_progress must be callable")

    def report(p: BatchProgress) -> object:
        return on_progress(AddScopesProgress(p.done, p.total, p.deleted, p.failed, p.unprocessed))

    return report
