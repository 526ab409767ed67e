"""Error codes the fake server answers with, and the exception that carries them.

The real service's codes for auth, X-Date, parameter and lock failures are not documented
(reference §12.3); the values below are our choice and are listed, with their HTTP status,
in the table of the ``koodrive_backup.testing`` module docstring. Only 15000418 and 15000424
come from the documentation (seed page 001).
"""

from __future__ import annotations

from typing import Final

SUCCESS: Final = 0
PARAM_INVALID: Final = 15000400
UNAUTHORIZED: Final = 15000401
SIGNATURE_INVALID: Final = 15000402
USER_MISMATCH: Final = 15000403
NOT_FOUND: Final = 15000404
X_DATE_INVALID: Final = 15000405
METHOD_NOT_ALLOWED: Final = 15000406
CONFIG_CONFLICT: Final = 15000409
LOCK_REQUIRED: Final = 15000410
LOCK_NOT_FOUND: Final = 15000411
LOCK_FOREIGN: Final = 15000412
LOCK_MODULE_MISMATCH: Final = 15000413
LOCK_HELD: Final = 15000414
LOCK_EXPIRED: Final = 15000415
INTERNAL_ERROR: Final = 15000500

# Per-item codes inside 200 answers (strings on the wire, seed page 001).
SCOPE_NOT_FOUND: Final = "15000418"
SCOPE_NOT_FOUND_MSG: Final = "The backup scope does not exist."
SCOPE_REPEATED: Final = "15000424"
SCOPE_REPEATED_MSG: Final = "Request to repeatedly delete scopeId."
SCOPE_ADD_REPEATED_MSG: Final = "Request to repeatedly add scope."


class ApiError(Exception):
    """Raised inside the fake to answer ``status`` with ``{"code": code, "msg": msg}``."""

    def __init__(self, status: int, code: int, msg: str) -> None:
        super().__init__(status, code, msg)
        self.status = status
        self.code = code
        self.msg = msg


def bad_request(msg: str) -> ApiError:
    """A 400 parameter error (strict decoding, limits, malformed headers)."""
    return ApiError(400, PARAM_INVALID, msg)


def not_found(msg: str) -> ApiError:
    """A 404 for an unknown route or an unknown (or another user's) resource."""
    return ApiError(404, NOT_FOUND, msg)
