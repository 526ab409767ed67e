"""koodrive_backup: async Python SDK for the KooDrive carrier backup API.

>>> from koodrive_backup import BackupClient
>>> async with BackupClient("https://host.example", user_id="...", token="...") as client:
...     record = await client.get_record("1842862763295184641")
"""

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
    BackupFile,
    BackupRecord,
    BatchProgress,
    ConfigInfo,
    DeleteScopesResult,
    DeviceEntity,
    LockInfo,
    ModuleCode,
    Page,
    RecordStatus,
    ScopeFailure,
    ScopeInfo,
)

__version__ = "0.1.0"

__all__ = [
    "APIConnectionError",
    "APIError",
    "APITimeoutError",
    "Auth",
    "AuthenticationError",
    "BackupClient",
    "BackupFile",
    "BackupRecord",
    "BadRequestError",
    "BatchProgress",
    "BearerAuth",
    "ConfigInfo",
    "ConflictError",
    "DecodeError",
    "DeleteScopesResult",
    "DeviceEntity",
    "HmacAuth",
    "KooDriveError",
    "LockInfo",
    "LockLostError",
    "ModuleCode",
    "NOT_FOUND_CODE",
    "NotFoundError",
    "Page",
    "PermissionDeniedError",
    "REPEATED_ID_CODE",
    "RateLimitError",
    "RecordStatus",
    "RetryPolicy",
    "ScopeFailure",
    "ScopeInfo",
    "ServerError",
    "SignableRequest",
    "__version__",
]
