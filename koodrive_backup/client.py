"""``BackupClient``: the public async API, one method per operation."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable
from types import TracebackType
from typing import Self

import aiohttp

from . import _endpoints as ep
from . import _validate as check
from ._retry import RetryPolicy
from ._session import Transport
from ._signing import Auth, BearerAuth
from .models import BackupRecord, BatchProgress, DeleteScopesResult

__all__ = ["BackupClient"]

ProgressCallback = Callable[[BatchProgress], object | Awaitable[object]]


class BackupClient:
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
        if isinstance(timeout, bool) or not isinstance(timeout, int | float) or timeout <= 0:
            raise ValueError("timeout must be a positive number of seconds")
        self.base_url = check.base_url(base_url, allow_insecure_http=allow_insecure_http)
        self.user_id = check.header_value(user_id, "user_id")
        self._transport = Transport(
            self.base_url,
            user_id=self.user_id,
            auth=auth if auth is not None else BearerAuth(token),
            retry=retry or RetryPolicy(),
            timeout=float(timeout),
            session=session,
            clock_skew_margin=clock_skew_margin,
            connection_limit=check.positive_int(connection_limit, "connection_limit"),
            sleep=sleep,
        )

    def __repr__(self) -> str:
        return (
            f"BackupClient({self.base_url!r}, user_id={self.user_id!r}, "
            f"auth={self._transport.auth!r})"
        )

    @property
    def retry(self) -> RetryPolicy:
        return self._transport.retry

    @property
    def closed(self) -> bool:
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

    async def get_record(self, record_id: str, *, lock_id: str | None = None) -> BackupRecord:
        """View one backup record (``GET /record/{recordId}``).

        ``lock_id`` is optional (the reference's example sends one). Raises ``ValueError`` /
        ``TypeError`` for a bad ID before any request, ``NotFoundError`` for an unknown record,
        and the other ``KooDriveError`` subclasses for server and transport failures.
        """
        req = ep.build_get_record(
            check.path_id(record_id, "record_id"),
            None if lock_id is None else check.header_value(lock_id, "lock_id"),
        )
        return ep.decode_data(await self._transport.call(req), BackupRecord, req)

    async def delete_record(self, record_id: str, *, lock_id: str) -> None:
        """Delete a backup record and its files (``DELETE /record/{recordId}``); needs a lock.

        Raises ``ValueError``/``TypeError`` for bad arguments before any request, and the
        ``KooDriveError`` subclasses for failures (a refused lock is an ``APIError``).
        """
        req = ep.build_delete_record(
            check.path_id(record_id, "record_id"), check.header_value(lock_id, "lock_id")
        )
        await self._transport.call(req)

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
        """Delete backup scopes of a device, any number of them, accounting for every ID.

        See ``koodrive_backup.batching.delete_scopes`` for the full contract.
        """
        from .batching import delete_scopes

        return await delete_scopes(
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
