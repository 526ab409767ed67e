"""The 19 routes of reference §0, matched by hand (one dict lookup per request)."""

from __future__ import annotations

from typing import Final

from ._errors import METHOD_NOT_ALLOWED, ApiError, not_found

PREFIX: Final = "/koodrive/ose/v1/backup"

# Path shape (an ID segment is "*") -> method -> route name (the reference's doc id).
_TABLE: Final[dict[tuple[str, ...], dict[str, str]]] = {
    ("lock",): {
        "POST": "createBackupLock",
        "PATCH": "renewalBackupLock",
        "DELETE": "releaseBackupLock",
    },
    ("record",): {"POST": "createBackupRecord", "GET": "listBackupRecord"},
    ("record", "*"): {
        "GET": "getBackupRecord",
        "PATCH": "completeBackup",
        "DELETE": "deleteBackupRecord",
    },
    ("record", "*", "file"): {"POST": "createBackupFile"},
    ("record", "*", "files"): {"GET": "listBackupFile"},
    ("device",): {"POST": "bindDevice", "GET": "listBoundDevice"},
    ("device", "*"): {"DELETE": "unbindDevice"},
    ("device", "*", "scope"): {
        "POST": "batchAddBackupScope",
        "GET": "listBackupScope",
        "DELETE": "batchDeleteBackupScope",
    },
    ("device", "*", "config"): {"GET": "getConfigInfo", "PATCH": "updateConfigInfo"},
    ("device", "*", "configs"): {"GET": "listConfigInfos"},
}

ROUTE_NAMES: Final = frozenset(name for methods in _TABLE.values() for name in methods.values())


def match(method: str, path: str) -> tuple[str, str | None]:
    """(route name, path ID or ``None``); 404 for an unknown path, 405 for a wrong method."""
    if not path.startswith(PREFIX + "/"):
        raise not_found("No such API.")
    parts = path[len(PREFIX) + 1 :].split("/")
    path_id = None
    if len(parts) > 1:
        path_id = parts[1]
        parts[1] = "*"
    methods = _TABLE.get(tuple(parts))
    if methods is None or path_id == "":
        raise not_found("No such API.")
    name = methods.get(method)
    if name is None:
        raise ApiError(405, METHOD_NOT_ALLOWED, f"Method {method} is not allowed here.")
    return name, path_id
