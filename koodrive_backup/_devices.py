"""Devices, their backup scopes and module configs (reference §5, §6, §7).

Field patterns are checked before sending (reference §5.1, §6.1, §7): ``re.ASCII`` makes
``\\s`` the ASCII whitespace class, as in the (Java) server's patterns.
"""

from __future__ import annotations

import re

from . import _endpoints as ep
from . import _validate as check
from ._lock import LockOps
from .models import ConfigInfo, DeviceEntity, ModuleCode, ScopeInfo, ScopeSpec

__all__ = ["DeviceOps", "scope_spec"]

MACHINE_CODE = re.compile(r"[a-zA-Z0-9_]{1,64}\Z", re.ASCII)
DEVICE_NAME = re.compile(r"[a-zA-Z0-9\-_\s]{1,32}\Z", re.ASCII)
DEVICE_OS = re.compile(r"[a-zA-Z0-9_\s]{1,32}\Z", re.ASCII)
CONFIG_TOKEN = re.compile(r"[a-zA-Z0-9_]{1,32}\Z", re.ASCII)
TRACE_ID_LENGTH = 58  # reference §1.1
MAX_SCOPE_PATH = 10000  # reference §6.1


class DeviceOps(LockOps):
    """Device binding, scope listing and module configuration."""

    # --- devices (reference §5) ---------------------------------------------------------------

    async def bind_device(
        self,
        machine_code: str,
        device_name: str | None = None,
        device_os: str | None = None,
        *,
        trace_id: str | None = None,
        retry_unsafe: bool = False,
    ) -> DeviceEntity:
        """Bind a device to the user (``POST /device``) and return it with its ``device_id``.

        Patterns (reference §5.1): ``machine_code`` ``^[a-zA-Z0-9_]{1,64}$``, ``device_name``
        ``^[a-zA-Z0-9-_\\s]{1,32}$``, ``device_os`` ``^[a-zA-Z0-9_\\s]{1,32}$``; ``trace_id``
        (sent as ``X-traceid``) is 58 printable ASCII characters. A POST: not retried after a
        failure that may have been processed unless ``retry_unsafe=True``. Raises
        ``ValueError``/``TypeError`` before any request, and the ``KooDriveError`` subclasses.
        """
        req = ep.build_bind_device(
            pattern_arg(machine_code, "machine_code", MACHINE_CODE),
            None if device_name is None else pattern_arg(device_name, "device_name", DEVICE_NAME),
            None if device_os is None else pattern_arg(device_os, "device_os", DEVICE_OS),
            None if trace_id is None else trace_id_arg(trace_id),
        )
        return ep.decode_device(await self._send(req, retry_unsafe=retry_unsafe), req)

    async def list_devices(self) -> tuple[DeviceEntity, ...]:
        """All devices bound to the user (``GET /device``; not paged).

        Raises the ``KooDriveError`` subclasses (``DecodeError`` for a wrong shape).
        """
        req = ep.build_list_devices()
        return ep.decode_list(await self._send(req), DeviceEntity, req)

    async def unbind_device(self, device_id: str) -> DeviceEntity | None:
        """Unbind a device (``DELETE /device/{deviceId}``); returns the device as it was.

        ``None`` when the answer carries no device. Retried like any DELETE: a retry after a
        lost answer meets ``NotFoundError`` (the first attempt unbound it). Raises
        ``ValueError``/``TypeError`` for a bad ID before any request, ``NotFoundError`` for an
        unknown device, and the other ``KooDriveError`` subclasses.
        """
        req = ep.build_unbind_device(check.path_id(device_id, "device_id"))
        return ep.decode_unbind_device(await self._send(req), req)

    # --- scopes (reference §6) ----------------------------------------------------------------

    async def list_scopes(
        self, device_id: str, module_code: ModuleCode | str
    ) -> tuple[ScopeInfo, ...]:
        """A device's backup scopes of one module (``GET /device/{deviceId}/scope``).

        Not paged; the answer's ``scopeList`` is top level. Raises ``ValueError``/
        ``TypeError`` before any request, ``NotFoundError`` for an unknown device, and the
        other ``KooDriveError`` subclasses.
        """
        req = ep.build_list_scopes(
            check.path_id(device_id, "device_id"), check.module_code(module_code)
        )
        return ep.decode_list_scopes(await self._send(req), req)

    # --- configs (reference §7) ---------------------------------------------------------------

    async def get_config(
        self, device_id: str, module_code: ModuleCode | str, config_name: str
    ) -> ConfigInfo:
        """One configuration item of a device's module (``GET /device/{deviceId}/config``).

        ``config_name`` matches ``^[a-zA-Z0-9_]{1,32}$``. Raises ``ValueError``/``TypeError``
        before any request, ``NotFoundError`` for an unknown device or item, and the other
        ``KooDriveError`` subclasses.
        """
        req = ep.build_get_config(
            check.path_id(device_id, "device_id"),
            check.module_code(module_code),
            pattern_arg(config_name, "config_name", CONFIG_TOKEN),
        )
        return ep.decode_config(await self._send(req), req)

    async def update_config(
        self,
        device_id: str,
        module_code: ModuleCode | str,
        config_name: str,
        current_value: str,
        new_value: str,
        *,
        retry_unsafe: bool = False,
    ) -> ConfigInfo:
        """Compare-and-set a configuration item (``PATCH /device/{deviceId}/config``).

        The server sets ``new_value`` only if the stored value is ``current_value``, else it
        answers ``ConflictError`` (409). Names and values match ``^[a-zA-Z0-9_]{1,32}$``.
        A PATCH: not retried after a failure that may have been processed unless
        ``retry_unsafe=True`` (then a retry whose first attempt succeeded meets
        ``ConflictError``, the value having changed). Raises ``ValueError``/``TypeError``
        before any request, ``NotFoundError`` for an unknown device or item, and the other
        ``KooDriveError`` subclasses.
        """
        req = ep.build_update_config(
            check.path_id(device_id, "device_id"),
            check.module_code(module_code),
            pattern_arg(config_name, "config_name", CONFIG_TOKEN),
            pattern_arg(current_value, "current_value", CONFIG_TOKEN),
            pattern_arg(new_value, "new_value", CONFIG_TOKEN),
        )
        return ep.decode_config(await self._send(req, retry_unsafe=retry_unsafe), req)

    async def list_configs(
        self, device_id: str, module_code: ModuleCode | str
    ) -> tuple[ConfigInfo, ...]:
        """All configuration items of a device's module (``GET /device/{deviceId}/configs``).

        Raises ``ValueError``/``TypeError`` before any request, ``NotFoundError`` for an
        unknown device, and the other ``KooDriveError`` subclasses.
        """
        req = ep.build_list_configs(
            check.path_id(device_id, "device_id"), check.module_code(module_code)
        )
        return ep.decode_list(await self._send(req), ConfigInfo, req)


# --- argument checks --------------------------------------------------------------------------


def pattern_arg(value: object, name: str, pattern: re.Pattern[str]) -> str:
    if not isinstance(value, str):
        raise TypeError(f"{name} must be a str, not {type(value).__name__}")
    if not pattern.match(value):
        raise ValueError(f"{name} must match ^{pattern.pattern.removesuffix(chr(92) + 'Z')}$")
    return str.__str__(value)


def trace_id_arg(value: object) -> str:
    text = check.header_value(value, "trace_id")
    if len(text) != TRACE_ID_LENGTH or not (text.isascii() and text.isprintable()):
        raise ValueError(f"trace_id must be {TRACE_ID_LENGTH} printable ASCII characters")
    return text


def scope_path(value: object, name: str, position: int) -> str:
    """Empty, or ``/``-rooted without backslash, at most 10000 characters (§6.1)."""
    if value is None:
        return ""
    if not isinstance(value, str):
        raise TypeError(f"scopes[{position}].{name} must be a str, not {type(value).__name__}")
    text = str.__str__(value)
    if text and (not text.startswith("/") or "\\" in text or len(text) > MAX_SCOPE_PATH):
        raise ValueError(
            f"scopes[{position}].{name} must be empty, or start with / and hold no backslash "
            f"(at most {MAX_SCOPE_PATH} characters)"
        )
    return text


def scope_spec(value: object, position: int) -> ScopeSpec:
    """A ``ScopeSpec`` or a ``(local_path, target_folder_path)`` pair; ``None`` = empty."""
    if isinstance(value, ScopeSpec):
        local, target = value.local_path, value.target_folder_path
    elif isinstance(value, tuple) and len(value) == 2:
        local, target = value
    else:
        raise TypeError(
            f"scopes[{position}] must be a ScopeSpec or a (local_path, target_folder_path) "
            f"pair, not {type(value).__name__}"
        )
    spec = ScopeSpec(
        scope_path(local, "local_path", position),
        scope_path(target, "target_folder_path", position),
    )
    if not spec.local_path and not spec.target_folder_path:
        raise ValueError(f"scopes[{position}]: local_path and target_folder_path are both empty")
    return spec
