"""Plain values passed between the runner (the driver) and its workers (local or Ray actors).

They hold only strings, ints and tuples, so they cross a process boundary (pickled by Ray)
cheaply, and no exception object (which could carry anything) travels with them.
"""

from __future__ import annotations

from collections.abc import AsyncGenerator
from typing import Literal, TypeAlias

import attrs

from .. import (
    APIError,
    AuthenticationError,
    KooDriveError,
    NotFoundError,
    PermissionDeniedError,
    RateLimitError,
    ServerError,
)

__all__ = [
    "CHUNK",
    "DELETED",
    "FAILED",
    "GONE",
    "PENDING",
    "RECORD",
    "SCOPE",
    "ErrorInfo",
    "Event",
    "Found",
    "LockHeld",
    "LockReleased",
    "Settled",
    "Stream",
    "classify",
]

#: IDs per scope request (the server's limit, seed page 001) and per journal chunk row: the
#: driver maps a request's chunk index back to its journal row, so both must be this one.
CHUNK = 100
SCOPE, RECORD = 0, 1  # the kind of an ID in the journal
KIND_NAMES = ("scope", "record")
PENDING, DELETED, GONE, FAILED = 0, 1, 2, 3  # an ID's outcome in the journal

#: What an error means for the job: stop the run (the credential is refused), fail the whole
#: target (its device is unknown or forbidden), fail the IDs it was about, or try again later.
ErrorKind = Literal["auth", "target", "ids", "transient"]
#: Answers that may change on a retry (API.md "Retry policy"): 429, 5xx, and 408, which the
#: SDK raises as a plain ``APIError`` (API.md "Errors": 408 has no class of its own).
_TRANSIENT = (RateLimitError, ServerError)
_REQUEST_TIMEOUT = 408


@attrs.frozen
class ErrorInfo:
    """An error as the journal keeps it: its meaning, a code and a message (no secrets:
    SDK exception texts never hold a token or app secret)."""

    kind: ErrorKind
    code: str
    msg: str


def classify(exc: KooDriveError) -> ErrorInfo:
    """What ``exc`` (raised or kept by the SDK after its own retries) means for the job."""
    msg = str(exc)
    if isinstance(exc, APIError):
        code = str(exc.code) if exc.code is not None else str(exc.status)
        if isinstance(exc, AuthenticationError):
            return ErrorInfo("auth", code, msg)
        if isinstance(exc, _TRANSIENT) or exc.status == _REQUEST_TIMEOUT:
            return ErrorInfo("transient", code, msg)
        if isinstance(exc, PermissionDeniedError | NotFoundError):
            return ErrorInfo("target", code, msg)
        return ErrorInfo("ids", code, msg)
    # APIConnectionError, DecodeError (a garbled answer), LockLostError (take a new lock):
    # the next pass or run tries again.
    return ErrorInfo("transient", type(exc).__name__, msg)


@attrs.frozen
class Settled:
    """The outcome of one chunk (scopes: ``index`` in its window) or one window (records).

    Every ID of the chunk is in exactly one of ``deleted``, ``gone`` (not found: absent
    already), ``failed`` (``(id, code, msg)``) or ``unprocessed`` (still pending). ``error``
    is why the request failed, when it did.
    """

    index: int
    deleted: tuple[str, ...] = ()
    gone: tuple[str, ...] = ()
    failed: tuple[tuple[str, str, str], ...] = ()
    unprocessed: tuple[str, ...] = ()
    error: ErrorInfo | None = None


@attrs.frozen
class LockHeld:
    """A backup lock was created for ``(user_id, module_code)``: journal it at once."""

    user_id: str
    module_code: str
    lock_id: str


@attrs.frozen
class LockReleased:
    """The lock was released: the journal forgets it."""

    user_id: str
    module_code: str
    lock_id: str


@attrs.frozen
class Found:
    """IDs discovered by a listing (one page of records, or all scopes of a module)."""

    ids: tuple[str, ...]


Event = Settled | LockHeld | LockReleased
#: What a worker's operation streams (``_worker``) and the runner reads: events, discovered
#: IDs, or the error that stopped the operation.
Stream: TypeAlias = AsyncGenerator[Event | Found | ErrorInfo, None]
