"""Backup records and their files (reference §3, §4; seed pages 004 and 000).

Lists are cursor-paged: ``list_*`` returns one ``Page``; ``iter_*`` walks every page,
following ``nextCursor`` until it is absent or empty.
"""

from __future__ import annotations

from collections import deque
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from typing import Any, Generic, TypeVar

from . import _endpoints as ep
from . import _validate as check
from ._requester import Operations
from .errors import DecodeError
from .models import BackupFile, BackupRecord, CreatedFile, ModuleCode, Page

__all__ = ["PageIterator", "RecordOps"]

T = TypeVar("T")


class PageIterator(Generic[T]):
    """An async iterator over every item of a cursor-paged list, fetching pages lazily.

    Each page is requested once; the walk ends on an absent or empty ``nextCursor``. A server
    that hands back a cursor it already gave would loop forever: that raises ``DecodeError``.
    """

    def __init__(self, fetch: Callable[[str | None], Awaitable[Page[T]]]) -> None:
        self._fetch = fetch
        self._buffer: deque[T] = deque()
        self._cursor: str | None = None
        self._seen: set[str] = set()
        self._done = False

    def __aiter__(self) -> PageIterator[T]:
        return self

    async def __anext__(self) -> T:
        while not self._buffer:
            if self._done:
                raise StopAsyncIteration
            page = await self._fetch(self._cursor)
            self._buffer.extend(page.items)
            self._advance(page.next_cursor)
        return self._buffer.popleft()

    def _advance(self, cursor: str | None) -> None:
        if cursor is None:
            self._done = True
            return
        if cursor in self._seen:
            self._done = True
            raise DecodeError("the server repeated a list cursor (the list would loop)", status=200)
        self._seen.add(cursor)
        self._cursor = cursor


class RecordOps(Operations):
    """Records (view, create, list, complete, delete) and their files (create, list)."""

    async def get_record(self, record_id: str, lock_id: str | None = None) -> BackupRecord:
        """View one backup record (``GET /record/{recordId}``).

        ``lock_id`` is optional (the reference's example sends one). Raises ``ValueError`` /
        ``TypeError`` for a bad ID and ``LockLostError`` for a lost managed lock before any
        request, ``NotFoundError`` for an unknown record, and the other ``KooDriveError``
        subclasses for server and transport failures.
        """
        rid = check.path_id(record_id, "record_id")
        lock = self._rq.optional_lock_id(lock_id)
        return await self._rq.call(ep.GET_RECORD, record_id=rid, lock_id=lock)

    async def delete_record(self, record_id: str, lock_id: str) -> None:
        """Delete a backup record and its files (``DELETE /record/{recordId}``); needs a lock.

        Retried like any DELETE. A delete whose answer was lost (API.md): when an attempt may
        have reached the server (sent, then a timeout, a reset or a 5xx) and a later attempt
        is answered 404, that earlier attempt deleted it: the call returns normally (logged at
        INFO). Raises ``ValueError``/``TypeError`` for bad arguments and ``LockLostError`` for
        a lost managed lock before any request, ``NotFoundError`` for an unknown record (a 404
        on the first attempt), and the ``KooDriveError`` subclasses for failures (a refused
        lock is a ``ConflictError`` or another ``APIError``).
        """
        rid = check.path_id(record_id, "record_id")
        await self._rq.call(ep.DELETE_RECORD, record_id=rid, lock_id=self._rq.lock_id(lock_id))

    async def create_record(
        self,
        module_code: ModuleCode | str,
        device_id: str,
        lock_id: str,
        properties: str | dict[str, Any] | list[Any] | None = None,
        *,
        retry_unsafe: bool = False,
    ) -> BackupRecord:
        """Start a backup record for a device and module (``POST /record``); needs a lock.

        ``properties`` is stored as JSON text: pass a ``str`` holding JSON text (checked) or a
        ``dict``/``list`` (serialised with ``json.dumps``). A POST: retried only on failures
        that prove it was not processed (a blind retry could create a second record) unless
        ``retry_unsafe=True``. Raises ``ValueError``/``TypeError`` for bad arguments and
        ``LockLostError`` for a lost managed lock, both before any request; ``NotFoundError``
        for an unknown device, ``ConflictError`` for a refused lock, and the other
        ``KooDriveError`` subclasses.
        """
        return await self._rq.call(
            ep.CREATE_RECORD,
            retry_unsafe=retry_unsafe,
            module_code=check.module_code(module_code),
            device_id=check.path_id(device_id, "device_id"),
            lock_id=self._rq.lock_id(lock_id),
            properties=check.json_text(properties),
        )

    async def list_records(
        self,
        module_code: ModuleCode | str,
        page_size: int = 100,
        cursor: str | None = None,
        device_id: str | None = None,
    ) -> Page[BackupRecord]:
        """One page of a module's backup records (``GET /record``), optionally one device's.

        ``page_size`` is 1..100; ``cursor`` is the previous page's ``next_cursor`` (``None``
        for the first page). The result's ``next_cursor`` is ``None`` on the last page.
        Raises ``ValueError``/``TypeError`` for bad arguments before any request, and the
        ``KooDriveError`` subclasses (``DecodeError`` for an answer of the wrong shape).
        """
        return await self._rq.call(
            ep.LIST_RECORDS,
            module_code=check.module_code(module_code),
            page_size=check.page_size(page_size),
            cursor=check.cursor(cursor),
            device_id=None if device_id is None else check.path_id(device_id, "device_id"),
        )

    def iter_records(
        self,
        module_code: ModuleCode | str,
        device_id: str | None = None,
        *,
        page_size: int = 100,
    ) -> AsyncIterator[BackupRecord]:
        """Every backup record of a module (optionally of one device), page after page.

        ``async for record in client.iter_records("101"): ...``. Arguments are checked at
        the call (``ValueError``/``TypeError``); each page request raises what
        ``list_records`` raises, from the ``async for``.
        """
        code = check.module_code(module_code)
        size = check.page_size(page_size)
        device = None if device_id is None else check.path_id(device_id, "device_id")

        async def fetch(cursor: str | None) -> Page[BackupRecord]:
            return await self._rq.call(
                ep.LIST_RECORDS, module_code=code, page_size=size, cursor=cursor, device_id=device
            )

        return PageIterator(fetch)

    async def complete_record(
        self,
        record_id: str,
        lock_id: str,
        properties: str | dict[str, Any] | list[Any] | None = None,
        *,
        retry_unsafe: bool = False,
    ) -> None:
        """Mark a record completed (``PATCH /record/{recordId}``); needs a lock.

        ``properties`` as in ``create_record`` (``None`` leaves them as they are). A PATCH:
        retried only on failures that prove it was not processed unless ``retry_unsafe=True``
        (completing twice bumps ``version`` twice). Raises ``ValueError``/``TypeError`` and
        ``LockLostError`` before any request, ``NotFoundError`` for an unknown record,
        ``ConflictError`` for a refused lock, and the other ``KooDriveError`` subclasses.
        """
        await self._rq.call(
            ep.COMPLETE_RECORD,
            retry_unsafe=retry_unsafe,
            record_id=check.path_id(record_id, "record_id"),
            lock_id=self._rq.lock_id(lock_id),
            properties=check.json_text(properties),
        )

    # --- files (reference §4) -----------------------------------------------------------------

    async def create_file(
        self,
        record_id: str,
        lock_id: str,
        file_name: str,
        *,
        description: str | None = None,
        mime_type: str | None = None,
        file_type: str | None = None,
        parent_folder: str | Sequence[str] | None = None,
        sha256: str | None = None,
        length: int | None = None,
        retry_unsafe: bool = False,
    ) -> CreatedFile:
        """Register a file in a record (``POST /record/{recordId}/file``); needs a lock.

        ``file_name``: at most 250 characters, none of ``< > | : " * ? /``, not ``""``, ``.``
        or ``..``. ``parent_folder`` is a folder ID (``"root"`` for the root) or a list of
        them (the server uses the first). ``length`` is the size in bytes. The reference
        could not show the answer: the documented fields are decoded and the whole answer is
        kept in ``CreatedFile.raw``. A POST: not retried after a failure that may have been
        processed unless ``retry_unsafe=True``. Raises ``ValueError``/``TypeError`` and
        ``LockLostError`` before any request, ``NotFoundError`` for an unknown record, and the
        other ``KooDriveError`` subclasses.
        """
        fields = check.file_fields(
            file_name,
            length,
            description=description,
            mime_type=mime_type,
            file_type=file_type,
            parent_folder=parent_folder,
            sha256=sha256,
        )
        return await self._rq.call(
            ep.CREATE_FILE,
            retry_unsafe=retry_unsafe,
            record_id=check.path_id(record_id, "record_id"),
            lock_id=self._rq.lock_id(lock_id),
            **fields,
        )

    async def list_files(
        self,
        record_id: str,
        page_size: int = 100,
        cursor: str | None = None,
        *,
        lock_id: str | None = None,
    ) -> Page[BackupFile]:
        """One page of a record's files (``GET /record/{recordId}/files``).

        ``lock_id`` is optional (the reference's example sends one). Raises ``ValueError`` /
        ``TypeError`` (and ``LockLostError`` for a lost managed lock) before any request,
        ``NotFoundError`` for an unknown record, and the other ``KooDriveError`` subclasses.
        """
        return await self._rq.call(
            ep.LIST_FILES,
            record_id=check.path_id(record_id, "record_id"),
            page_size=check.page_size(page_size),
            cursor=check.cursor(cursor),
            lock_id=self._rq.optional_lock_id(lock_id),
        )

    def iter_files(
        self, record_id: str, *, page_size: int = 100, lock_id: str | None = None
    ) -> AsyncIterator[BackupFile]:
        """Every file of a record, page after page (``async for file in ...``).

        Arguments are checked at the call; each page request raises what ``list_files``
        raises, from the ``async for``.
        """
        rid = check.path_id(record_id, "record_id")
        size = check.page_size(page_size)
        lock = None if lock_id is None else check.header_value(lock_id, "lock_id")

        async def fetch(cursor: str | None) -> Page[BackupFile]:
            lease = self._rq.optional_lock_id(lock)  # a lost lock: raised by this page
            return await self._rq.call(
                ep.LIST_FILES, record_id=rid, page_size=size, cursor=cursor, lock_id=lease
            )

        return PageIterator(fetch)
