"""koodrive_backup: async Python SDK for the KooDrive carrier backup API.

>>> from koodrive_backup import BackupClient
>>> async with BackupClient("https://host.example", user_id="...", token="...") as client:
...     record = await client.get_record("1842862763295184641")
"""

from ._batch import BatchResult, BatchStream, ChunkOutcome
from ._lock import LockContext, ManagedLock
from ._retry import RetryPolicy
from ._signing import Auth, BearerAuth, HmacAuth, SignableRequest
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
    "AddScopesResult",
    "Auth",
    "AuthenticationError",
    "BackupClient",
    "BackupFile",
    "BackupRecord",
    "BadRequestError",
    "BatchProgress",
    "BatchResult",
    "BatchStream",
    "BearerAuth",
    "ChunkOutcome",
    "ConfigInfo",
    "ConflictError",
    "CreatedFile",
    "DecodeError",
    "DeleteRecordsResult",
    "DeleteScopesResult",
    "DeviceEntity",
    "HmacAuth",
    "KooDriveError",
    "LockContext",
    "LockInfo",
    "LockLostError",
    "ManagedLock",
    "ModuleCode",
    "NOT_FOUND_CODE",
    "NotFoundError",
    "Page",
    "PermissionDeniedError",
    "REPEATED_ID_CODE",
    "RateLimitError",
    "RecordFailure",
    "RecordStatus",
    "RetryPolicy",
    "ScopeAddFailure",
    "ScopeFailure",
    "ScopeInfo",
    "ScopeSpec",
    "ServerError",
    "SignableRequest",
    "__version__",
]
