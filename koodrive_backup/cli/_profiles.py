"""Profiles: named connection settings in ``$XDG_CONFIG_HOME/koodrive-backup/config.toml``.

::

    default_profile = "prod"          # optional: the profile used when none is named

    [profiles.prod]
    base_url = "https://backup.example.com"
    user_id = "1505084218764547200"
    token_file = "~/.config/koodrive-backup/prod.token"

    [profiles.fleet]
    base_url = "https://backup.example.com"
    app_id = "my-app"
    app_secret_file = "fleet.secret"  # relative paths are relative to this file's folder

Keys: ``base_url``, ``user_id``, ``token_file`` or ``token``, ``app_id`` with
``app_secret_file`` or ``app_secret``, ``auth_style``, ``timeout``, ``max_attempts``,
``rate`` (requests per second, as ``--rate``), ``allow_insecure_http``. An unknown key is
refused (a typo must not silently fall back to another setting), and so is a number that
is not > 0. A secret written in the file itself is accepted with a warning when others
may read the file. ``tomllib`` (standard library) reads it; it is imported only when a
profile is needed.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, cast

import attrs

from ._errors import UsageError

__all__ = ["ENV_PROFILE", "PROFILE_FILE_HINT", "Profile", "config_path", "load_profile"]

ENV_PROFILE = "KOODRIVE_PROFILE"
PROFILE_FILE_HINT = "~/.config/koodrive-backup/config.toml"
DEFAULT_NAME = "default"

_TYPES: dict[str, type | tuple[type, ...]] = {
    "base_url": str,
    "user_id": str,
    "token": str,
    "token_file": str,
    "app_id": str,
    "app_secret": str,
    "app_secret_file": str,
    "auth_style": str,
    "timeout": (int, float),
    "max_attempts": int,
    "rate": (int, float),
    "allow_insecure_http": bool,
}
_PATHS = frozenset({"token_file", "app_secret_file"})
_SECRETS = frozenset({"token", "app_secret"})
_POSITIVE = frozenset({"timeout", "max_attempts", "rate"})


@attrs.frozen
class Profile:
    """One profile's settings (paths resolved; secrets kept out of the repr)."""

    name: str
    path: Path
    values: Mapping[str, object] = attrs.field(repr=False)


def config_path(environ: Mapping[str, str]) -> Path:
    """``$XDG_CONFIG_HOME/koodrive-backup/config.toml`` (``~/.config`` when unset)."""
    base = environ.get("XDG_CONFIG_HOME") or os.path.join(os.path.expanduser("~"), ".config")
    return Path(base) / "koodrive-backup" / "config.toml"


def load_profile(
    name: str | None, environ: Mapping[str, str], warn: Callable[[str], None]
) -> Profile | None:
    """The profile ``name``; with ``None`` the file's default profile, if any.

    A named profile that does not exist (or no file) is a ``UsageError``; without a name, no
    file or no default profile gives ``None``.
    """
    path = config_path(environ)
    if not path.exists():
        if name is not None:
            raise UsageError(f"profile {name!r}: no configuration file at {path}")
        return None
    document = _read(path)
    profiles = document.get("profiles", {})
    chosen = name or document.get("default_profile") or DEFAULT_NAME
    if chosen not in profiles:
        if name is None and "default_profile" not in document:
            return None
        known = ", ".join(sorted(profiles)) or "none"
        raise UsageError(f"no profile {chosen!r} in {path} (profiles: {known})")
    values = _checked(profiles[chosen], chosen, path)
    _warn_if_readable(values, path, warn)
    return Profile(chosen, path, values)


def _read(path: Path) -> dict[str, Any]:
    import tomllib  # only when a profile is used: keeps the CLI's start fast

    try:
        with path.open("rb") as handle:
            document = tomllib.load(handle)
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise UsageError(f"cannot read {path}: {exc}") from None
    if not isinstance(document.get("profiles", {}), dict):
        raise UsageError(f"{path}: [profiles] must be a table of tables")
    return document


def _checked(table: object, name: str, path: Path) -> dict[str, object]:
    if not isinstance(table, dict):
        raise UsageError(f"{path}: profiles.{name} must be a table")
    values: dict[str, object] = {}
    for key, value in table.items():
        kind = _TYPES.get(key)
        if kind is None:
            known = ", ".join(_TYPES)
            raise UsageError(f"{path}: profiles.{name}: unknown key {key!r} (keys: {known})")
        if not isinstance(value, kind) or (kind is not bool and isinstance(value, bool)):
            raise UsageError(f"{path}: profiles.{name}.{key} has the wrong type")
        if key in _POSITIVE and not 0 < cast(float, value) < float("inf"):
            # 0 would otherwise read as "not set" and fall back to the default silently
            raise UsageError(f"{path}: profiles.{name}.{key} must be > 0, not {value}")
        values[key] = _resolved(value, path) if key in _PATHS else value
    return values


def _resolved(value: object, path: Path) -> str:
    """``~`` expanded; a relative path is relative to the configuration file's folder."""
    return str(path.parent / os.path.expanduser(str(value)))


def _warn_if_readable(
    values: Mapping[str, object], path: Path, warn: Callable[[str], None]
) -> None:
    if os.name != "posix" or _SECRETS.isdisjoint(values):
        return
    mode = path.stat().st_mode
    if stat.S_ISREG(mode) and mode & 0o077:
        warn(f"warning: {path} holds a secret and is readable by other users (chmod 600 it)")
