"""The public surface is pinned: a change to it is a deliberate change to this list."""

from __future__ import annotations

import koodrive_backup
import koodrive_backup.testing

EXPECTED = {
    # the I/O seam (pass your own transport or clock to BackupClient)
    "Transport",
    "HttpRequest",
    "RawResponse",
    "AiohttpTransport",
    "Clock",
    "SystemClock",
    # observability: event hooks and OpenTelemetry options (docs/observability.md)
    "Hooks",
    "TelemetryOptions",
    "RequestInfo",
    "RequestEvent",
    "ResponseEvent",
    "RetryEvent",
    "CallEvent",
    "ChunkEvent",
    "BatchEvent",
    "LockRenewalEvent",
    "RateLimitEvent",
    "AddScopesProgress",
    "ScopeSpec",
    "ScopeAddFailure",
    "RecordFailure",
    "ManagedLock",
    "LockContext",
    "DeleteRecordsResult",
    "CreatedFile",
    "ChunkOutcome",
    "BatchStream",
    "BatchResult",
    "AddScopesResult",
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
    "RateLimit",
    "RateLimitError",
    "RecordStatus",
    "ResponseTooLargeError",
    "TokenProviderError",
    "RetryPolicy",
    "ScopeFailure",
    "ScopeInfo",
    "ServerError",
    "SignableRequest",
    "__version__",
}


def test_all_is_pinned() -> None:
    assert set(koodrive_backup.__all__) == EXPECTED
    assert len(koodrive_backup.__all__) == len(EXPECTED)


def test_every_exported_name_exists() -> None:
    for name in koodrive_backup.__all__:
        assert hasattr(koodrive_backup, name), name
    for name in koodrive_backup.testing.__all__:
        assert hasattr(koodrive_backup.testing, name), name


def test_error_tree() -> None:
    from koodrive_backup import (
        APIConnectionError,
        APIError,
        APITimeoutError,
        AuthenticationError,
        BadRequestError,
        ConflictError,
        DecodeError,
        KooDriveError,
        NotFoundError,
        PermissionDeniedError,
        RateLimitError,
        ResponseTooLargeError,
        ServerError,
        TokenProviderError,
    )

    assert issubclass(APITimeoutError, APIConnectionError)
    assert issubclass(ResponseTooLargeError, DecodeError)
    assert issubclass(TokenProviderError, AuthenticationError)
    for cls in (APIConnectionError, APIError, DecodeError):
        assert issubclass(cls, KooDriveError)
    for cls in (
        BadRequestError,
        AuthenticationError,
        PermissionDeniedError,
        NotFoundError,
        ConflictError,
        RateLimitError,
        ServerError,
    ):
        assert issubclass(cls, APIError)


def test_errors_pickle_with_their_fields() -> None:
    import pickle

    from koodrive_backup import (
        DecodeError,
        RateLimitError,
        ResponseTooLargeError,
        TokenProviderError,
    )

    error = pickle.loads(pickle.dumps(RateLimitError(429, 1, "slow", retry_after=2.0)))
    assert (error.status, error.code, error.msg, error.retry_after) == (429, 1, "slow", 2.0)
    decode = pickle.loads(pickle.dumps(DecodeError("bad", status=200, body=b"<html>")))
    assert (decode.status, decode.body) == (200, "<html>")
    large = pickle.loads(pickle.dumps(ResponseTooLargeError("big", status=200, limit=10)))
    assert (type(large), large.status, large.limit, str(large)) == (
        ResponseTooLargeError,
        200,
        10,
        "big (HTTP 200, body '')",
    )
    provider = pickle.loads(pickle.dumps(TokenProviderError(401, msg="token_provider hung")))
    assert (type(provider), provider.status, str(provider)) == (
        TokenProviderError,
        401,
        "no token: token_provider hung",
    )


def test_py_typed_ships() -> None:
    from pathlib import Path

    assert (Path(koodrive_backup.__file__).parent / "py.typed").exists()
