"""Connection settings from flags or the environment, and the client built from them.

A token is read from ``KOODRIVE_TOKEN``, ``--token-file PATH`` or (discouraged) ``--token``.
A token on the command line is visible to other local users in the process list (``ps``),
so it is accepted with a warning; the token is never printed, logged or put in a message.
"""

from __future__ import annotations

import argparse
import os
import stat
from collections.abc import Callable, Mapping
from typing import Literal, cast

import attrs

from .._retry import RetryPolicy
from .._signing import BearerAuth
from ..client import BackupClient
from ._errors import UsageError

__all__ = [
    "AUTH_STYLES",
    "ENV_BASE_URL",
    "ENV_TOKEN",
    "ENV_USER_ID",
    "Settings",
    "open_client",
    "settings_from",
]

ENV_BASE_URL = "KOODRIVE_BASE_URL"
ENV_USER_ID = "KOODRIVE_USER_ID"
ENV_TOKEN = "KOODRIVE_TOKEN"

AuthStyle = Literal["bearer", "bearer+", "raw"]
AUTH_STYLES: tuple[AuthStyle, ...] = ("bearer", "bearer+", "raw")

TOKEN_FLAG_WARNING = (
    "warning: --token is visible to other local users in the process list; "
    f"prefer {ENV_TOKEN} or --token-file"
)


@attrs.frozen
class Settings:
    """Everything needed to build a ``BackupClient`` (the token is kept out of the repr)."""

    base_url: str
    user_id: str
    token: str = attrs.field(repr=False)
    auth_style: AuthStyle = "bearer"
    timeout: float = 30.0
    retry: RetryPolicy = attrs.field(factory=RetryPolicy)
    allow_insecure_http: bool = False
    rate: float | None = None  # requests per second for the whole run (--rate)


def settings_from(
    args: argparse.Namespace, environ: Mapping[str, str], warn: Callable[[str], None]
) -> Settings:
    """Flags win over the environment. Raises ``UsageError`` naming what is missing."""
    base_url = args.base_url or environ.get(ENV_BASE_URL, "")
    user_id = args.user_id or environ.get(ENV_USER_ID, "")
    token = _token(args, environ, warn)
    missing = [
        f"{name} (or {flag})"
        for name, flag, value in (
            (ENV_BASE_URL, "--base-url", base_url),
            (ENV_USER_ID, "--user-id", user_id),
            (ENV_TOKEN, "--token-file", token),
        )
        if not value
    ]
    if missing:
        raise UsageError("missing configuration: set " + ", ".join(missing))
    return Settings(
        base_url=base_url,
        user_id=user_id,
        token=token,
        auth_style=cast(AuthStyle, args.auth_style),
        timeout=args.timeout,
        retry=RetryPolicy(max_attempts=args.max_attempts),
        allow_insecure_http=args.allow_insecure_http,
        rate=getattr(args, "rate", None),  # only the commands that send many requests have it
    )


def _token(
    args: argparse.Namespace, environ: Mapping[str, str], warn: Callable[[str], None]
) -> str:
    if args.token is not None and args.token_file is not None:
        raise UsageError("give --token-file or --token, not both")
    if args.token is not None:
        warn(TOKEN_FLAG_WARNING)
        return str(args.token).strip()
    if args.token_file is not None:
        return read_token_file(args.token_file, warn)
    return environ.get(ENV_TOKEN, "").strip()


def read_token_file(path: str, warn: Callable[[str], None]) -> str:
    """The file's first line, stripped. Warns when others may read the file (POSIX)."""
    try:
        with open(path, encoding="utf-8") as handle:
            mode = os.fstat(handle.fileno()).st_mode
            token = handle.readline().strip()
    except (OSError, UnicodeDecodeError) as exc:
        raise UsageError(f"cannot read the token file {path!r}: {_reason(exc)}") from None
    if not token:
        raise UsageError(f"the token file {path!r} is empty")
    if os.name == "posix" and stat.S_ISREG(mode) and mode & 0o077:
        warn(f"warning: the token file {path!r} is readable by other users (chmod 600 it)")
    return token


def _reason(exc: BaseException) -> str:
    if isinstance(exc, OSError) and exc.strerror:
        return exc.strerror
    return type(exc).__name__


def open_client(settings: Settings) -> BackupClient:
    """A ``BackupClient`` for ``settings``; ``ValueError`` (exit 2) for a bad URL or user ID."""
    return BackupClient(
        settings.base_url,
        user_id=settings.user_id,
        auth=BearerAuth(settings.token, style=settings.auth_style),
        retry=settings.retry,
        timeout=settings.timeout,
        allow_insecure_http=settings.allow_insecure_http,
        rate_limit=settings.rate,
    )
