"""Seed a fleet in the fake: users, their devices, scopes and records, and the manifest of a
cleanup of all of it (the JSON Lines format of ``koodrive-backup cleanup plan``).

The fake's own code only (``testing`` never imports the client side): the manifest lines
are plain dicts, written as API.md "Fleet cleanup jobs" describes them.
"""

from __future__ import annotations

import json
import math
import os
import time
from dataclasses import dataclass, field
from typing import Any

from ._fake import FakeKooDrive
from ._seeding import FakeUser
from ._store import format_time

__all__ = ["Fleet", "seed_fleet"]


@dataclass
class Fleet:
    """What ``seed_fleet`` made. ``devices``: ``(user_id, device_id)`` pairs; ``scope_ids``
    and ``record_ids``: per device ID; ``manifest``: one target per device."""

    users: list[FakeUser] = field(default_factory=list)
    devices: list[tuple[str, str]] = field(default_factory=list)
    scope_ids: dict[str, list[str]] = field(default_factory=dict)
    record_ids: dict[str, list[str]] = field(default_factory=dict)
    manifest: list[dict[str, Any]] = field(default_factory=list)

    @property
    def id_count(self) -> int:
        """Scopes plus records seeded."""
        scopes = sum(map(len, self.scope_ids.values()))
        return scopes + sum(map(len, self.record_ids.values()))

    def manifest_text(self) -> str:
        return "".join(json.dumps(line) + "\n" for line in self.manifest)

    def write_manifest(self, path: str | os.PathLike[str]) -> None:
        """Write the manifest (JSON Lines) to ``path``."""
        with open(path, "w", encoding="utf-8") as out:
            out.write(self.manifest_text())


def seed_fleet(
    fake: FakeKooDrive,
    *,
    users: int,
    devices_per_user: int,
    scopes_per_device: int = 0,
    records_per_device: int = 0,
    module_code: str = "101",
) -> Fleet:
    """Make ``users`` new users, each with ``devices_per_user`` devices, each with that many
    scopes and records of ``module_code``. The manifest cleans all of it: ``"scopes": "all"``
    and ``"records_before"`` just after the last record's creation time."""
    fleet = Fleet()
    for _ in range(users):
        user = fake.add_user()
        fleet.users.append(user)
        for _ in range(devices_per_user):
            device_id = fake.add_device(user_id=user.user_id)
            fleet.devices.append((user.user_id, device_id))
            fleet.scope_ids[device_id] = fake.add_scopes(
                device_id, scopes_per_device, module_code=module_code
            )
            fleet.record_ids[device_id] = [
                fake.add_record(device_id, module_code=module_code)
                for _ in range(records_per_device)
            ]
    before = _after_now(fake)
    for user_id, device_id in fleet.devices:
        line: dict[str, Any] = {"user_id": user_id, "device_id": device_id}
        line["module_code"] = module_code
        line["scopes"] = "all" if scopes_per_device else None
        line["records_before"] = before if records_per_device else None
        fleet.manifest.append(line)
    return fleet


def _after_now(fake: FakeKooDrive) -> str:
    """A time after every record made so far (whole seconds, so it also reads cleanly)."""
    return format_time(math.floor(max(fake.now(), time.time())) + 1.0)
