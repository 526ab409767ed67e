"""Backup records and their files (reference §3, §4): the client's record operations.

Lists are cursor-paged: ``list_*`` returns one ``Page``; ``iter_*`` walks every page,
following ``nextCursor`` until it is absent or empty.
"""

from __future__ import annotations

import json
from collections import deque
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from typing import Any, Generic, TypeVar

from . import _endpoints as ep
from . import _validate as check
from ._lock import LockOps
from .errors import DecodeError
from .models import BackupFile, BackupRecord, CreatedFile, ModuleCode, Page

__all__ = ["PageIterator", "RecordOps"]

T = TypeVar("T")

MAX_PAGE_SIZE = 100  # reference §1.3
MAX_CURSOR = 1000  # reference §1.3
MAX_FILE_NAME = 250  # reference §4.1
BAD_FILE_NAME_CHARS = frozenset('<>|:"*?/')  # reference §4.1


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


class RecordOps(LockOps):
    """Records (create, list, complete) and files (create, list); deletes live on the client."""

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
        req = ep.build_create_record(
            check.module_code(module_code),
            check.path_id(device_id, "device_id"),
            self._lock_header(lock_id),
            json_text(properties),
        )
        return ep.decode_record(await self._send(req, retry_unsafe=retry_unsafe), req)

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
        req = ep.build_list_records(
            check.module_code(module_code),
            page_size_arg(page_size),
            cursor_arg(cursor),
            None if device_id is None else check.path_id(device_id, "device_id"),
        )
        return ep.decode_page(await self._send(req), BackupRecord, req)

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
        size = page_size_arg(page_size)
        device = None if device_id is None else check.path_id(device_id, "device_id")

        async def fetch(cursor: str | None) -> Page[BackupRecord]:
            return await self.list_records(code, size, cursor, device)

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
        req = ep.build_complete_record(
            check.path_id(record_id, "record_id"), self._lock_header(lock_id), json_text(properties)
        )
        await self._send(req, retry_unsafe=retry_unsafe)

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
        body = file_body(file_name, description, mime_type, file_type, parent_folder, sha256)
        if length is not None:
            body["length"] = non_negative_int(length, "length")
        req = ep.build_create_file(
            check.path_id(record_id, "record_id"), self._lock_header(lock_id), body
        )
        return ep.decode_create_file(await self._send(req, retry_unsafe=retry_unsafe), req)

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
        req = ep.build_list_files(
            check.path_id(record_id, "record_id"),
            page_size_arg(page_size),
            cursor_arg(cursor),
            None if lock_id is None else self._lock_header(lock_id),
        )
        return ep.decode_page(await self._send(req), BackupFile, req)

    def iter_files(
        self, record_id: str, *, page_size: int = 100, lock_id: str | None = None
    ) -> AsyncIterator[BackupFile]:
        """Every file of a record, page after page (``async for file in ...``).

        Arguments are checked at the call; each page request raises what ``list_files``
        raises, from the ``async for``.
        """
        rid = check.path_id(record_id, "record_id")
        size = page_size_arg(page_size)
        lock = None if lock_id is None else check.header_value(lock_id, "lock_id")

        async def fetch(cursor: str | None) -> Page[BackupFile]:
            return await self.list_files(rid, size, cursor, lock_id=lock)

        return PageIterator(fetch)


# --- argument checks (reference §1.3, §3.1, §4.1) ---------------------------------------------


def json_text(value: object) -> str | None:
    """``properties``: JSON text as a ``str`` (checked), or a dict/list serialised here."""
    if value is None:
        return None
    if isinstance(value, str):
        try:
            json.loads(value)
        except ValueError:
            raise ValueError("properties must be JSON text (or a dict/list)") from None
        return str.__str__(value)
    if isinstance(value, dict | list):
        try:
            return json.dumps(value, ensure_ascii=False, allow_nan=False, separators=(",", ":"))
        except ValueError:
            raise ValueError("properties must not contain NaN or infinity") from None
    raise TypeError(f"properties must be a str, dict or list, not {type(value).__name__}")


def page_size_arg(value: object) -> int:
    return check.positive_int(value, "page_size", maximum=MAX_PAGE_SIZE)


def cursor_arg(value: object) -> str | None:
    """An opaque cursor: ``None`` or a non-empty string of at most 1000 characters."""
    if value is None:
        return None
    if not isinstance(value, str):
        raise TypeError(f"cursor must be a str or None, not {type(value).__name__}")
    if not 1 <= len(value) <= MAX_CURSOR:
        raise ValueError(f"cursor must be 1..{MAX_CURSOR} characters")
    return str.__str__(value)


def non_negative_int(value: object, name: str) -> int:
    if not isinstance(value, int) or isinstance(value, bool):
        raise TypeError(f"{name} must be an int, not {type(value).__name__}")
    if value < 0:
        raise ValueError(f"{name} must be >= 0")
    return int(value)


def file_name_arg(value: object) -> str:
    if not isinstance(value, str):
        raise TypeError(f"file_name must be a str, not {type(value).__name__}")
    if value in ("", ".", ".."):
        raise ValueError('file_name must not be empty, "." or ".."')
    if len(value) > MAX_FILE_NAME or not BAD_FILE_NAME_CHARS.isdisjoint(value):
        raise ValueError(f'file_name must be <= {MAX_FILE_NAME} characters without < > | : " * ? /')
    return str.__str__(value)


def optional_str(value: object, name: str) -> str | None:
    if value is None or isinstance(value, str):
        return value
    raise TypeError(f"{name} must be a str or None, not {type(value).__name__}")


def file_body(
    file_name: object,
    description: object,
    mime_type: object,
    file_type: object,
    parent_folder: object,
    sha256: object,
) -> dict[str, Any]:
    """The createBackupFile body without ``length``; ``None`` fields are left out."""
    body: dict[str, Any] = {"fileName": file_name_arg(file_name)}
    for wire, value, name in (
        ("description", description, "description"),
        ("mimeType", mime_type, "mime_type"),
        ("fileType", file_type, "file_type"),
        ("sha256", sha256, "sha256"),
    ):
        text = optional_str(value, name)
        if text is not None:
            body[wire] = text
    parents = parent_folder_arg(parent_folder)
    if parents is not None:
        body["parentFolder"] = parents
    return body


def parent_folder_arg(value: object) -> list[str] | None:
    if value is None:
        return None
    items = [value] if isinstance(value, str) else value
    if not isinstance(items, list | tuple) or not all(isinstance(v, str) and v for v in items):
        raise TypeError("parent_folder must be a folder ID or a list of non-empty str")
    if not items:
        raise ValueError("parent_folder must not be an empty list")
    return [str.__str__(v) for v in items]
