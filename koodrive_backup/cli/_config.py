"""Connection settings, layered, and the clients built from them.

Each setting comes from the first of these that has it:

1. a flag (``--base-url``, ``--token-file``, ...);
2. the profile named by ``--profile`` or ``KOODRIVE_PROFILE``;
3. the environment (``KOODRIVE_BASE_URL``, ``KOODRIVE_USER_ID``, ``KOODRIVE_TOKEN``,
   ``KOODRIVE_TOKEN_FILE``, ``KOODRIVE_APP_ID``, ``KOODRIVE_APP_SECRET``);
4. the configuration file's default profile (``default_profile``, or one named ``default``);
5. the built-in default (timeout 30 s, 4 attempts, ``bearer``, no rate limit).

The credential is taken whole from the first layer that holds one, never mixed across
layers: app credentials (``app_id`` + secret: ``HmacAuth``, which signs for every user, as
the fleet jobs need) win over a token in the same layer; a token comes from ``token`` or
``token_file`` (not both). A token given with ``--token`` is visible to other local users in
the process list, so it is accepted with a warning; secrets are never printed or logged.
"""

from __future__ import annotations

import argparse
import os
import stat
from collections.abc import Callable, Mapping
from typing import Literal, cast

import attrs

from .._ratelimit import RateLimit
from .._retry import RetryPolicy
from .._signing import Auth, BearerAuth, HmacAuth
from ..client import BackupClient
from ._errors import UsageError
from ._profiles import ENV_PROFILE, load_profile

__all__ = [
    "AUTH_STYLES",
    "ENV_APP_ID",
    "ENV_APP_SECRET",
    "ENV_BASE_URL",
    "ENV_TOKEN",
    "ENV_TOKEN_FILE",
    "ENV_USER_ID",
    "Credential",
    "Settings",
    "open_client",
    "read_secret_file",
    "settings_from",
]

ENV_BASE_URL = "KOODRIVE_BASE_URL"
ENV_USER_ID = "KOODRIVE_USER_ID"
ENV_TOKEN = "KOODRIVE_TOKEN"
ENV_TOKEN_FILE = "KOODRIVE_TOKEN_FILE"
ENV_APP_ID = "KOODRIVE_APP_ID"
ENV_APP_SECRET = "KOODRIVE_APP_SECRET"
DEFAULT_TIMEOUT = 30.0
DEFAULT_MAX_ATTEMPTS = 4

AuthStyle = Literal["bearer", "bearer+", "raw"]
AUTH_STYLES: tuple[AuthStyle, ...] = ("bearer", "bearer+", "raw")

TOKEN_FLAG_WARNING = (
    "warning: --token is visible to other local users in the process list; "
    f"prefer {ENV_TOKEN_FILE}, {ENV_TOKEN} or --token-file"
)
_ENV = {
    "base_url": ENV_BASE_URL,
    "user_id": ENV_USER_ID,
    "token": ENV_TOKEN,
    "token_file": ENV_TOKEN_FILE,
    "app_id": ENV_APP_ID,
    "app_secret": ENV_APP_SECRET,
}
_FLAGS = (
    "base_url",
    "user_id",
    "token",
    "token_file",
    "app_id",
    "app_secret_file",
    "auth_style",
    "timeout",
    "max_attempts",
    "rate",
    "allow_insecure_http",
)
_CREDENTIAL_KEYS = frozenset({"token", "token_file", "app_id", "app_secret", "app_secret_file"})
Layer = tuple[str, Mapping[str, object]]  # (where the values come from, the values)


@attrs.frozen
class Credential:
    """A bearer token or app credentials (secrets kept out of the repr)."""

    origin: str
    token: str | None = attrs.field(default=None, repr=False)
    app_id: str | None = None
    app_secret: str | None = attrs.field(default=None, repr=False)
    style: AuthStyle = "bearer"

    def auth(self) -> Auth:
        if self.app_id is not None and self.app_secret is not None:
            return HmacAuth(self.app_id, self.app_secret)
        return BearerAuth(self.token, style=self.style)


def _limit_of(settings: Settings) -> RateLimit | None:
    return None if settings.rate is None else RateLimit(settings.rate)


@attrs.frozen
class Settings:
    """Everything needed to build a ``BackupClient``; ``user_id`` may be unset for commands
    that act for many users (``cleanup run``).

    ``rate`` (``--rate``): requests per second for the whole run. ``rate_limit`` is the one
    ``RateLimit`` built from it, given to every client these settings make, so a command's
    clients share the rate instead of each having it.
    """

    base_url: str
    user_id: str | None
    credential: Credential
    timeout: float = DEFAULT_TIMEOUT
    retry: RetryPolicy = attrs.field(factory=RetryPolicy)
    allow_insecure_http: bool = False
    rate: float | None = None
    rate_limit: RateLimit | None = attrs.field(
        init=False, eq=False, repr=False, default=attrs.Factory(_limit_of, takes_self=True)
    )

    def client(self, user_id: str | None = None) -> BackupClient:
        """A client for ``user_id`` (default: the configured one); ``ValueError`` (exit 2)
        for a bad URL or user ID."""
        return BackupClient(
            self.base_url,
            user_id=user_id or self.user_id or "",
            auth=self.credential.auth(),
            retry=self.retry,
            timeout=self.timeout,
            allow_insecure_http=self.allow_insecure_http,
            rate_limit=self.rate_limit,
        )


def open_client(settings: Settings) -> BackupClient:
    return settings.client()


def settings_from(
    args: argparse.Namespace,
    environ: Mapping[str, str],
    warn: Callable[[str], None],
    *,
    need_user: bool = True,
) -> Settings:
    """The layered settings. Raises ``UsageError`` naming what is missing or conflicting."""
    layers = _layers(args, environ, warn)
    values = {key: _first(layers, key) for key in ("base_url", "user_id", "auth_style")}
    credential = _credential(layers, str(values["auth_style"] or "bearer"), warn)
    _require(values, credential, need_user)
    assert credential is not None
    attempts = _first(layers, "max_attempts") or DEFAULT_MAX_ATTEMPTS
    return Settings(
        base_url=str(values["base_url"]),
        user_id=str(values["user_id"]) if values["user_id"] else None,
        credential=credential,
        timeout=float(cast(float, _first(layers, "timeout") or DEFAULT_TIMEOUT)),
        retry=RetryPolicy(max_attempts=cast(int, attempts)),
        allow_insecure_http=bool(_first(layers, "allow_insecure_http")),
        rate=_rate(_first(layers, "rate")),
    )


def _rate(value: object) -> float | None:
    """``--rate`` or a profile's ``rate``: both checked (> 0) where they were read."""
    return None if value is None else float(cast(float, value))


def _require(values: Mapping[str, object], credential: Credential | None, need_user: bool) -> None:
    """One ``UsageError`` naming every missing setting."""
    needed = [("base_url", ENV_BASE_URL, "--base-url")]
    if need_user:
        needed.append(("user_id", ENV_USER_ID, "--user-id"))
    missing = [f"{env} (or {flag})" for key, env, flag in needed if not values[key]]
    if credential is None:
        missing.append(
            f"{ENV_TOKEN_FILE} or {ENV_TOKEN} (or --token-file), "
            f"or {ENV_APP_ID} and {ENV_APP_SECRET} (app credentials)"
        )
    if missing:
        raise UsageError(
            "missing configuration: set " + ", ".join(missing) + " or use a profile (--profile)"
        )


def _layers(
    args: argparse.Namespace, environ: Mapping[str, str], warn: Callable[[str], None]
) -> list[Layer]:
    """The sources, first wins: flags, a named profile, the environment, the default one."""
    flags = {key: getattr(args, key, None) for key in _FLAGS}
    env = {key: environ.get(name, "").strip() for key, name in _ENV.items()}
    named = getattr(args, "profile", None) or environ.get(ENV_PROFILE) or None
    profile = load_profile(named, environ, warn)
    layers: list[Layer] = [("flags", _given(flags)), ("environment", _given(env))]
    if profile is not None:
        layers.insert(1 if named else 2, (f"profile {profile.name!r}", profile.values))
    return layers


def _given(values: Mapping[str, object]) -> dict[str, object]:
    return {key: value for key, value in values.items() if value not in (None, "", False)}


def _first(layers: list[Layer], key: str) -> object:
    return next((values[key] for _, values in layers if key in values), None)


def _credential(layers: list[Layer], style: str, warn: Callable[[str], None]) -> Credential | None:
    for origin, values in layers:
        if not _CREDENTIAL_KEYS.isdisjoint(values):
            return _credential_of(origin, values, cast(AuthStyle, style), warn)
    return None


def _credential_of(
    origin: str, values: Mapping[str, object], style: AuthStyle, warn: Callable[[str], None]
) -> Credential:
    if "app_id" in values or "app_secret" in values or "app_secret_file" in values:
        return _app_credential(origin, values, warn)
    if "token" in values and "token_file" in values:
        raise UsageError(f"{origin}: give a token or a token file, not both")
    if "token_file" in values:
        token = read_secret_file(str(values["token_file"]), warn, what="token")
    else:
        token = str(values["token"]).strip()
        if origin == "flags":
            warn(TOKEN_FLAG_WARNING)
    return Credential(origin, token=token, style=style)


def _app_credential(
    origin: str, values: Mapping[str, object], warn: Callable[[str], None]
) -> Credential:
    if "app_secret_file" in values:
        secret = read_secret_file(str(values["app_secret_file"]), warn, what="app secret")
    else:
        secret = str(values.get("app_secret", "")).strip()
    app_id = str(values.get("app_id", "")).strip()
    if not app_id or not secret:
        raise UsageError(f"{origin}: app credentials need both an app ID and an app secret")
    return Credential(origin, app_id=app_id, app_secret=secret)


def read_secret_file(path: str, warn: Callable[[str], None], *, what: str = "token") -> str:
    """The file's first line, stripped. Warns when others may read the file (POSIX)."""
    try:
        with open(path, encoding="utf-8") as handle:
            mode = os.fstat(handle.fileno()).st_mode
            secret = handle.readline().strip()
    except (OSError, UnicodeDecodeError) as exc:
        raise UsageError(f"cannot read the {what} file {path!r}: {_reason(exc)}") from None
    if not secret:
        raise UsageError(f"the {what} file {path!r} is empty")
    if os.name == "posix" and stat.S_ISREG(mode) and mode & 0o077:
        warn(f"warning: the {what} file {path!r} is readable by other users (chmod 600 it)")
    return secret


def _reason(exc: BaseException) -> str:
    if isinstance(exc, OSError) and exc.strerror:
        return exc.strerror
    return type(exc).__name__
