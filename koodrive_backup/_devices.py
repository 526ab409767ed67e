"""Devices, their backup scopes and module configs (reference §5, §6, §7).

Field patterns are checked before sending (``_validate``, reference §5.1, §6.1, §7).
Adding and deleting scopes are bulk operations: see ``_bulk``.
"""

from __future__ import annotations

import re

from . import _endpoints as ep
from . import _validate as check
from ._requester import Operations
from .models import ConfigInfo, DeviceEntity, ModuleCode, ScopeInfo

__all__ = ["DeviceOps"]


class DeviceOps(Operations):
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
        return await self._rq.call(
            ep.BIND_DEVICE,
            retry_unsafe=retry_unsafe,
            machine_code=check.matching(machine_code, "machine_code", check.MACHINE_CODE),
            device_name=_optional(device_name, "device_name", check.DEVICE_NAME),
            device_os=_optional(device_os, "device_os", check.DEVICE_OS),
            trace_id=None if trace_id is None else check.trace_id(trace_id),
        )

    async def list_devices(self) -> tuple[DeviceEntity, ...]:
        """All devices bound to the user (``GET /device``; not paged).

        Raises the ``KooDriveError`` subclasses (``DecodeError`` for a wrong shape).
        """
        return await self._rq.call(ep.LIST_DEVICES)

    async def unbind_device(self, device_id: str) -> DeviceEntity | None:
        """Unbind a device (``DELETE /device/{deviceId}``); returns the device as it was.

        ``None`` when the answer carries no device. Retried like any DELETE: a retry after a
        lost answer meets ``NotFoundError`` (the first attempt unbound it). Raises
        ``ValueError``/``TypeError`` for a bad ID before any request, ``NotFoundError`` for an
        unknown device, and the other ``KooDriveError`` subclasses.
        """
        device = check.path_id(device_id, "device_id")
        return await self._rq.call(ep.UNBIND_DEVICE, device_id=device)

    # --- scopes (reference §6) ----------------------------------------------------------------

    async def list_scopes(
        self, device_id: str, module_code: ModuleCode | str
    ) -> tuple[ScopeInfo, ...]:
        """A device's backup scopes of one module (``GET /device/{deviceId}/scope``).

        Not paged; the answer's ``scopeList`` is top level. Raises ``ValueError``/
        ``TypeError`` before any request, ``NotFoundError`` for an unknown device, and the
        other ``KooDriveError`` subclasses.
        """
        return await self._rq.call(
            ep.LIST_SCOPES,
            device_id=check.path_id(device_id, "device_id"),
            module_code=check.module_code(module_code),
        )

    # --- configs (reference §7) ---------------------------------------------------------------

    async def get_config(
        self, device_id: str, module_code: ModuleCode | str, config_name: str
    ) -> ConfigInfo:
        """One configuration item of a device's module (``GET /device/{deviceId}/config``).

        ``config_name`` matches ``^[a-zA-Z0-9_]{1,32}$``. Raises ``ValueError``/``TypeError``
        before any request, ``NotFoundError`` for an unknown device or item, and the other
        ``KooDriveError`` subclasses.
        """
        return await self._rq.call(
            ep.GET_CONFIG,
            device_id=check.path_id(device_id, "device_id"),
            module_code=check.module_code(module_code),
            config_name=check.matching(config_name, "config_name", check.CONFIG_TOKEN),
        )

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
        token = check.CONFIG_TOKEN
        return await self._rq.call(
            ep.UPDATE_CONFIG,
            retry_unsafe=retry_unsafe,
            device_id=check.path_id(device_id, "device_id"),
            module_code=check.module_code(module_code),
            config_name=check.matching(config_name, "config_name", token),
            current_config_value=check.matching(current_value, "current_value", token),
            new_config_value=check.matching(new_value, "new_value", token),
        )

    async def list_configs(
        self, device_id: str, module_code: ModuleCode | str
    ) -> tuple[ConfigInfo, ...]:
        """All configuration items of a device's module (``GET /device/{deviceId}/configs``).

        Raises ``ValueError``/``TypeError`` before any request, ``NotFoundError`` for an
        unknown device, and the other ``KooDriveError`` subclasses.
        """
        return await self._rq.call(
            ep.LIST_CONFIGS,
            device_id=check.path_id(device_id, "device_id"),
            module_code=check.module_code(module_code),
        )


def _optional(value: object, name: str, regex: re.Pattern[str]) -> str | None:
    return None if value is None else check.matching(value, name, regex)
