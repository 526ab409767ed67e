"""``BackupClient``: the public async API, one method per operation.

The operations are grouped in private mixins so that each module stays readable:
``_lock`` (locks, the managed lock, and the shared plumbing), ``_records`` (records and
files), ``_devices`` (devices, scopes, configs) and ``_bulk`` (``delete_records``,
``add_scopes``). Request building and decoding live in ``_endpoints``.

Retries (API.md "Retry policy"): GET and DELETE are retried on any transient failure. POST
and PATCH are retried only on failures that prove the request was not processed (the
connection could not be opened, 429, 503 with ``Retry-After``); each POST/PATCH method takes
``retry_unsafe=True`` to retry it like a GET when repeating it is harmless to the caller.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable
from types import TracebackType
from typing import TYPE_CHECKING, Self

from . import _endpoints as ep
from . import _validate as check
from . import batching
from ._bulk import BulkOps
from ._devices import DeviceOps
from ._lock import ManagedLock
from ._records import RecordOps
from ._retry import RetryPolicy
from ._session import Transport
from ._signing import Auth, BearerAuth
from .batching import BatchStream, ProgressCallback
from .models import BackupRecord, DeleteScopesResult, ScopeFailure

if TYPE_CHECKING:  # aiohttp stays in _session (DESIGN.md); here it is only an annotation
    import aiohttp

__all__ = ["BackupClient"]


class BackupClient(BulkOps, RecordOps, DeviceOps):
    """Async client of the KooDrive backup API (``/koodrive/ose/v1/backup``).

    Use it as ``async with BackupClient(...) as client:`` or call ``await client.close()``.
    Every request carries ``X-User-Id``, a fresh ``X-Date`` and fresh auth headers on each
    attempt; transient failures are retried under ``retry`` (see ``RetryPolicy``).

    Arguments: ``base_url`` is ``scheme://host[:port]`` (the SDK adds the API path);
    ``user_id`` is sent as ``X-User-Id``; exactly one of ``token`` (shorthand for
    ``BearerAuth(token)``) or ``auth``; ``timeout`` is seconds per attempt; ``session`` borrows
    an ``aiohttp.ClientSession`` that is never closed by the client; ``http://`` is refused
    unless the host is loopback or ``allow_insecure_http=True``.

    Extra keyword options: ``clock_skew_margin`` (seconds ``X-Date`` is backdated so that a
    server clock slightly behind ours never sees a future time; default 5),
    ``connection_limit`` (size of the connection pool we create; default 100) and ``sleep``
    (the coroutine used to wait between retries; a test hook).
    """

    def __init__(
        self,
        base_url: str,
        *,
        user_id: str,
        token: str | None = None,
        auth: Auth | None = None,
        retry: RetryPolicy | None = None,
        timeout: float = 30.0,
        session: aiohttp.ClientSession | None = None,
        allow_insecure_http: bool = False,
        clock_skew_margin: float = 5.0,
        connection_limit: int = 100,
        sleep: Callable[[float], Awaitable[None]] | None = None,
    ) -> None:
        if (token is None) == (auth is None):
            raise TypeError("pass exactly one of token= or auth=")
        if auth is not None and not isinstance(auth, Auth):
            raise TypeError("auth must be a BearerAuth, HmacAuth or another Auth subclass")
        if retry is not None and not isinstance(retry, RetryPolicy):
            raise TypeError("retry must be a RetryPolicy")
        self.base_url = check.base_url(base_url, allow_insecure_http=allow_insecure_http)
        self.user_id = check.header_value(user_id, "user_id")
        self._transport = Transport(
            self.base_url,
            user_id=self.user_id,
            auth=auth if auth is not None else BearerAuth(token),
            retry=retry or RetryPolicy(),
            timeout=check.positive_seconds(timeout, "timeout"),
            session=session,
            clock_skew_margin=clock_skew_margin,
            connection_limit=check.positive_int(connection_limit, "connection_limit"),
            sleep=sleep,
        )
        #: Locks held by ``lock()`` contexts, by ID: operations refuse a lost one.
        self._managed_locks: dict[str, ManagedLock] = {}

    def __repr__(self) -> str:
        return (
            f"BackupClient({self.base_url!r}, user_id={self.user_id!r}, "
            f"auth={self._transport.auth!r})"
        )

    @property
    def retry(self) -> RetryPolicy:
        """The retry policy every call of this client runs under."""
        return self._transport.retry

    @property
    def closed(self) -> bool:
        """True once ``close()`` was called; calls then raise ``RuntimeError``."""
        return self._transport.closed

    async def close(self) -> None:
        """Close the client (and its session, unless borrowed). Idempotent."""
        await self._transport.close()

    async def __aenter__(self) -> Self:
        if self.closed:
            raise RuntimeError("this BackupClient is closed")
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()

    # --- records (seed pages 004 and 000) -----------------------------------------------------

    async def get_record(self, record_id: str, lock_id: str | None = None) -> BackupRecord:
        """View one backup record (``GET /record/{recordId}``).

        ``lock_id`` is optional (the reference's example sends one). Raises ``ValueError`` /
        ``TypeError`` for a bad ID and ``LockLostError`` for a lost managed lock before any
        request, ``NotFoundError`` for an unknown record, and the other ``KooDriveError``
        subclasses for server and transport failures.
        """
        req = ep.build_get_record(
            check.path_id(record_id, "record_id"),
            None if lock_id is None else self._lock_header(lock_id),
        )
        return ep.decode_data(await self._send(req), BackupRecord, req)

    async def delete_record(self, record_id: str, lock_id: str) -> None:
        """Delete a backup record and its files (``DELETE /record/{recordId}``); needs a lock.

        Retried like any DELETE: a retry after a lost answer meets ``NotFoundError`` (the
        first attempt deleted it). Raises ``ValueError``/``TypeError`` for bad arguments and
        ``LockLostError`` for a lost managed lock before any request, ``NotFoundError`` for
        an unknown record, and the ``KooDriveError`` subclasses for failures (a refused lock
        is a ``ConflictError`` or another ``APIError``).
        """
        req = ep.build_delete_record(
            check.path_id(record_id, "record_id"), self._lock_header(lock_id)
        )
        await self._send(req)

    # --- scopes (seed page 001) ---------------------------------------------------------------

    async def delete_scopes(
        self,
        device_id: str,
        scope_ids: Iterable[str | int],
        *,
        chunk_size: int = 100,
        concurrency: int = 8,
        on_progress: ProgressCallback | None = None,
    ) -> DeleteScopesResult:
        """Delete any number of backup scopes of a device, accounting for every input ID.

        ``scope_ids``: any iterable of ``str`` or ``int`` (sent as its exact decimal string),
        checked before any request. The unique IDs go in chunks of ``chunk_size`` (1..100),
        at most ``concurrency`` requests in flight, each retried as usual. Every input
        occurrence lands in exactly one of ``deleted``, ``failed`` (the server's code, or
        ``15000424`` for a repeat in the input, which is sent once) or ``unprocessed`` (its
        request failed after retries: the exception is in ``errors``), each in input order.
        Nothing is raised for a partial failure: check ``result.ok``, feed
        ``result.unprocessed`` into a new call. ``result.gone`` lists the IDs known to be
        absent now (deleted, or ``15000418`` not found, which is what a retry reports after
        an answer was lost). ``on_progress`` gets a ``BatchProgress`` after each chunk.
        See ``koodrive_backup.batching.delete_scopes`` for the full contract.
        """
        return await batching.delete_scopes(
            self,
            device_id,
            scope_ids,
            chunk_size=chunk_size,
            concurrency=concurrency,
            on_progress=on_progress,
        )

    def iter_delete_scopes(
        self,
        device_id: str,
        scope_ids: Iterable[str | int],
        *,
        chunk_size: int = 100,
        concurrency: int = 8,
        on_progress: ProgressCallback | None = None,
    ) -> BatchStream[str, ScopeFailure]:
        """``delete_scopes`` as a stream of per-chunk ``ChunkOutcome`` s (arguments checked now).

        ``async with client.iter_delete_scopes(dev, ids) as stream: async for outcome in
        stream: ...``; ``stream.result`` is the merged result afterwards. Leaving the block
        early cancels the requests in flight.
        """
        return batching.iter_delete_scopes(
            self,
            device_id,
            scope_ids,
            chunk_size=chunk_size,
            concurrency=concurrency,
            on_progress=on_progress,
        )

    async def _delete_scope_chunk(
        self, device_id: str, scope_ids: list[str]
    ) -> ep.ScopeDeleteAnswer:
        """One ``batchDeleteBackupScope`` request (≤ 100 validated IDs), retried as usual."""
        req = ep.build_delete_scopes(device_id, scope_ids)
        return ep.decode_delete_scopes(await self._transport.call(req), req)
