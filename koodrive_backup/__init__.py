"""koodrive_backup: async Python SDK for the KooDrive carrier backup API.

>>> from koodrive_backup import BackupClient
>>> async with BackupClient("https://host.example", user_id="...", token="...") as client:
...     record = await client.get_record("1842862763295184641")
"""

from ._batch import BatchResult, ChunkOutcome
from ._batch_stream import BatchStream
from ._hooks import (
    BatchEvent,
    CallEvent,
    ChunkEvent,
    Hooks,
    LockRenewalEvent,
    RateLimitEvent,
    RequestEvent,
    RequestInfo,
    ResponseEvent,
    RetryEvent,
    TelemetryOptions,
)
from ._locks import LockContext, ManagedLock
from ._protocol import RawResponse
from ._retry import RetryPolicy
from ._signing import Auth, BearerAuth, HmacAuth, SignableRequest
from ._transport import AiohttpTransport, Clock, HttpRequest, SystemClock, Transport
from .client import BackupClient
from .errors import (
    APIConnectionError,
    APIError,
    APITimeoutError,
    AuthenticationError,
    BadRequestError,
    ConflictError,
    DecodeError,
    KooDriveError,
    LockLostError,
    NotFoundError,
    PermissionDeniedError,
    RateLimitError,
    ServerError,
)
from .models import (
    NOT_FOUND_CODE,
    REPEATED_ID_CODE,
    AddScopesProgress,
    AddScopesResult,
    BackupFile,
    BackupRecord,
    BatchProgress,
    ConfigInfo,
    CreatedFile,
    DeleteRecordsResult,
    DeleteScopesResult,
    DeviceEntity,
    LockInfo,
    ModuleCode,
    Page,
    RecordFailure,
    RecordStatus,
    ScopeAddFailure,
    ScopeFailure,
    ScopeInfo,
    ScopeSpec,
)

__version__ = "0.1.0"

__all__ = [
    "APIConnectionError",
    "APIError",
    "APITimeoutError",
    "AddScopesProgress",
    "AddScopesResult",
    "AiohttpTransport",
    "Auth",
    "AuthenticationError",
    "BackupClient",
    "BackupFile",
    "BackupRecord",
    "BadRequestError",
    "BatchEvent",
    "BatchProgress",
    "BatchResult",
    "BatchStream",
    "BearerAuth",
    "CallEvent",
    "ChunkEvent",
    "ChunkOutcome",
    "Clock",
    "ConfigInfo",
    "ConflictError",
    "CreatedFile",
    "DecodeError",
    "DeleteRecordsResult",
    "DeleteScopesResult",
    "DeviceEntity",
    "HmacAuth",
    "Hooks",
    "HttpRequest",
    "KooDriveError",
    "LockContext",
    "LockInfo",
    "LockLostError",
    "LockRenewalEvent",
    "ManagedLock",
    "ModuleCode",
    "NOT_FOUND_CODE",
    "NotFoundError",
    "Page",
    "PermissionDeniedError",
    "REPEATED_ID_CODE",
    "RateLimitError",
    "RateLimitEvent",
    "RawResponse",
    "RecordFailure",
    "RecordStatus",
    "RequestEvent",
    "RequestInfo",
    "ResponseEvent",
    "RetryEvent",
    "RetryPolicy",
    "ScopeAddFailure",
    "ScopeFailure",
    "ScopeInfo",
    "ScopeSpec",
    "ServerError",
    "SignableRequest",
    "SystemClock",
    "TelemetryOptions",
    "Transport",
    "__version__",
]
