"""An embedded fake KooDrive backup server, for tests, demos and benchmarks (like moto).

::

    from koodrive_backup.testing import FakeKooDrive, Fault

    async with FakeKooDrive() as fake:            # 127.0.0.1, a free port
        device_id = fake.add_device()
        scope_ids = fake.add_scopes(device_id, 250)
        fake.inject(Fault.status(503, retry_after="1"), route="batchDeleteBackupScope")
        ...  # point a client at fake.url with fake.user_id / fake.token

It serves the 19 endpoints of ``/koodrive/ose/v1/backup`` over an in-memory store and
checks the documented rules itself (it imports nothing from the client side of the
package): ``Authorization`` (``Bearer <t>``, ``Bearer+<t>``, a raw token, or an
``HMAC-SHA256`` app signature), ``X-User-Id``, the 15-minute ``X-Date`` window,
``x-backup-lock-id``, the 100-item batch limits, and strict request decoding (unknown
fields, wrong types, out-of-range values: 400). Route names are the reference's doc ids
(``createBackupLock`` ... ``listConfigInfos``); see ``ROUTE_NAMES``.

Error answers are ``{"code": <int>, "msg": <str>}``. Codes the docs do not give are ours:

====== ========= ===========================================================================
HTTP   code      meaning
====== ========= ===========================================================================
400    15000400  parameter invalid: body/query decoding, limits, bad cursor, missing X-User-Id
401    15000401  Authorization missing, unknown token or AppId, malformed HMAC header
401    15000402  HMAC signature does not match
403    15000403  X-User-Id is not the credential's user
404    15000404  unknown path, or unknown (or another user's) device / record / config
405    15000406  method not allowed on that path
400    15000405  X-Date missing, malformed, older than 15 minutes, or later than server time
409    15000409  updateConfigInfo: stored value differs from currentConfigValue
400    15000410  x-backup-lock-id header missing where required
409    15000411  lock unknown or released
403    15000412  lock held by another user
409    15000413  lock is for another module than the record / request (createBackupRecord,
                 completeBackup, createBackupFile; not deleteBackupRecord, see below)
409    15000414  createBackupLock while this user's lock for that module is active
409    15000415  lock expired
413    15000400  request body over 4 MiB
500    15000500  internal error of the fake itself (a bug: please report)
200    "15000418" per item in failedScopeList: the backup scope does not exist (seed 001)
200    "15000424" per item in failedScopeList: repeated in one request (seed 001)
====== ========= ===========================================================================

``Fault.status(n)`` answers ``{"code": 15000000 + n}`` unless given a ``code``. X-Date
failures are 400, not 401, so token providers are not asked to refresh for a clock problem.

Order of checks: route (404/405) -> injected faults -> Authorization (401) -> X-User-Id
(400/403) -> X-Date (400) -> body and query decoding (400) -> lock header (400/409/403) ->
path resources (404) -> lock module vs resource (409).

Choices where the reference is silent:

- Lists (``listBackupRecord``, ``listBackupFile``) omit ``nextCursor`` on the last page.
  Cursors are opaque (base64url of the last ID returned), so deletes between pages neither
  skip nor repeat items. Records list in creation order; an unknown ``deviceId`` filter
  gives an empty list.
- ``getBackupRecord`` / ``listBackupFile`` accept an optional ``x-backup-lock-id``; when
  present it must be a valid lock of the caller (any module).
- Locks: one active lock per (user, module). ``renewalBackupLock`` resets expiry to now +
  ``lock_ttl``; an expired lock cannot be renewed (409 15000415), a new one may be created.
  Releasing twice gives 409 15000411.
- ``completeBackup`` may complete a record again (version + 1 each time).
- ``deleteBackupRecord`` removes the record and its files at once (no status 2). It takes
  any valid lock of the caller, whatever its module: seed page 000 deletes record
  ``1842862763295184641`` (module ``101`` in seed page 004) with a lock ending ``@102`` and
  shows success. The module-match rule (15000413) is the reference's inference from the lock
  ID shape; it is kept only where no seed page contradicts it.
- ``bindDevice`` with a machineCode already bound by the user returns that device unchanged.
  ``unbindDevice`` removes the device with its scopes and configs; its records remain.
- ``batchAddBackupScope`` answers top level ``{"code", "msg", "scopeList": [ScopeInfo],
  "failedScopeList": [{"localPath", "targetFolderPath", "errorCode": "15000424", "msg"}]}``;
  the same pair added in separate requests makes two scopes.
- ``batchDeleteBackupScope`` lists repeats (15000424) first, then unknown IDs (15000418) in
  request order, like seed page 001.
- ``createBackupFile`` answers ``data`` = BackupFile (fileId, fileName, createTime, plus
  description, mimeType, fileType, parentFolder, sha256 and size=length when sent).
- Endpoints documented without a body refuse a non-empty one; a body must be sent with
  ``Content-Type: application/json``; JSON ``null`` is a wrong type for any field.
- The server clock is ``clock()`` (default ``time.time``) plus ``clock_offset`` seconds
  (settable). Every answer's ``Date`` header, the ``X-Date`` window and stored times follow
  it: ``fake.clock_offset = 3600`` is a server whose clock is an hour ahead of its clients'.
- An HMAC app (``FakeKooDrive(app_id=, app_secret=)``, ``add_app``) signs for every user of
  the fake: ``X-User-Id`` picks the user, and must be one made by ``add_user`` (else 403).
  ``add_app(..., user_id=)`` makes an app of one user.
- A fleet (many users, their devices, scopes and records, and a cleanup manifest):
  ``seed_fleet(fake, users=..., devices_per_user=..., ...)``; standalone: ``--users``.

Faults: ``fake.inject(Fault.status(503), route="batchDeleteBackupScope", times=1)``; see
``Fault`` and ``FakeKooDrive.inject``. ``BackupClient`` sends one request per attempt (it
turns off aiohttp's own re-send), so ``Fault.disconnect()`` / ``Fault.lose_response()`` with
``times=1`` show up as two requests to the fake only when the retry policy retries. A plain
aiohttp client of your own re-sends a GET/PUT/DELETE once, by itself, when the connection
drops: there the second request is aiohttp's.

Standalone: ``python -m koodrive_backup.testing --help`` (see ``__main__``).
pytest: the ``koodrive_fake`` fixture (``koodrive_backup.testing.pytest_plugin``).
"""

from __future__ import annotations

from ._errors import (
    CONFIG_CONFLICT,
    INTERNAL_ERROR,
    LOCK_EXPIRED,
    LOCK_FOREIGN,
    LOCK_HELD,
    LOCK_MODULE_MISMATCH,
    LOCK_NOT_FOUND,
    LOCK_REQUIRED,
    METHOD_NOT_ALLOWED,
    NOT_FOUND,
    PARAM_INVALID,
    SCOPE_NOT_FOUND,
    SCOPE_REPEATED,
    SIGNATURE_INVALID,
    UNAUTHORIZED,
    USER_MISMATCH,
    X_DATE_INVALID,
)
from ._fake import FakeKooDrive
from ._fault import Fault
from ._faults import FaultRule
from ._fleet import Fleet, seed_fleet
from ._requests import FakeRequest
from ._routes import PREFIX, ROUTE_NAMES
from ._seeding import FakeUser

__all__ = [
    "CONFIG_CONFLICT",
    "INTERNAL_ERROR",
    "LOCK_EXPIRED",
    "LOCK_FOREIGN",
    "LOCK_HELD",
    "LOCK_MODULE_MISMATCH",
    "LOCK_NOT_FOUND",
    "LOCK_REQUIRED",
    "METHOD_NOT_ALLOWED",
    "NOT_FOUND",
    "PARAM_INVALID",
    "PREFIX",
    "ROUTE_NAMES",
    "SCOPE_NOT_FOUND",
    "SCOPE_REPEATED",
    "SIGNATURE_INVALID",
    "UNAUTHORIZED",
    "USER_MISMATCH",
    "X_DATE_INVALID",
    "FakeKooDrive",
    "FakeRequest",
    "FakeUser",
    "Fault",
    "FaultRule",
    "Fleet",
    "seed_fleet",
]
