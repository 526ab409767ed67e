"""The fake serves a fleet: many users, app credentials that sign for every one of them, and
seeding (in Python and standalone) that writes a ready cleanup manifest."""

from __future__ import annotations

import asyncio
import json
import sys
from datetime import datetime
from pathlib import Path

import pytest

from koodrive_backup import BackupClient, HmacAuth, PermissionDeniedError
from koodrive_backup.jobs import read_manifest
from koodrive_backup.testing import FakeKooDrive, seed_fleet


async def test_each_user_has_its_own_token() -> None:
    async with FakeKooDrive() as fake:
        alice, bob = fake.add_user(), fake.add_user()
        assert alice.user_id != bob.user_id and alice.token != bob.token
        device = fake.add_device(user_id=alice.user_id)
        async with BackupClient(fake.url, user_id=alice.user_id, token=alice.token) as client:
            assert [d.device_id for d in await client.list_devices()] == [device]
        async with BackupClient(fake.url, user_id=alice.user_id, token=bob.token) as client:
            with pytest.raises(PermissionDeniedError):
                await client.list_devices()


async def test_app_credentials_sign_for_every_user() -> None:
    async with FakeKooDrive(app_id="app-9", app_secret="secret-9") as fake:
        users = [fake.add_user() for _ in range(3)]
        devices = {u.user_id: fake.add_device(user_id=u.user_id) for u in users}
        for user in users:  # X-User-Id picks the user: each sees its own devices only
            auth = HmacAuth("app-9", "secret-9")
            async with BackupClient(fake.url, user_id=user.user_id, auth=auth) as client:
                seen = [d.device_id for d in await client.list_devices()]
            assert seen == [devices[user.user_id]]
        auth = HmacAuth("app-9", "secret-9")
        async with BackupClient(fake.url, user_id="1000000000000000001", auth=auth) as client:
            with pytest.raises(PermissionDeniedError):  # not a user of the fake
                await client.list_devices()


async def test_an_app_of_one_user_acts_for_that_user_only() -> None:
    async with FakeKooDrive() as fake:
        other = fake.add_user()
        fake.add_app("solo", "solo-secret", user_id=other.user_id)
        auth = HmacAuth("solo", "solo-secret")
        async with BackupClient(fake.url, user_id=other.user_id, auth=auth) as client:
            assert await client.list_devices() == ()
        async with BackupClient(fake.url, user_id=fake.user_id, auth=auth) as client:
            with pytest.raises(PermissionDeniedError):
                await client.list_devices()


async def test_seed_fleet_makes_a_ready_manifest(tmp_path: Path) -> None:
    async with FakeKooDrive(app_id="a", app_secret="s") as fake:
        fleet = seed_fleet(
            fake, users=2, devices_per_user=3, scopes_per_device=4, records_per_device=2
        )
        assert len(fleet.users) == 2 and len(fleet.devices) == 6 and fleet.id_count == 36
        for user_id, device_id in fleet.devices:
            assert fake.scope_ids(device_id) == fleet.scope_ids[device_id]
            assert all(fake.has_record(r) for r in fleet.record_ids[device_id])
            assert user_id in {u.user_id for u in fleet.users}
        fleet.write_manifest(tmp_path / "m.jsonl")
        targets = list(read_manifest((tmp_path / "m.jsonl").read_text().splitlines()))
        newest = max(
            datetime.fromisoformat(fake.record_json(r)["createTime"])
            for ids in fleet.record_ids.values()
            for r in ids
        )
    assert [(t.user_id, t.device_id) for t in targets] == fleet.devices
    assert all(t.scopes == "all" and t.module_code == "101" for t in targets)
    assert all(t.records_before is not None and t.records_before > newest for t in targets)


async def test_standalone_seeds_a_fleet_and_prints_its_manifest(tmp_path: Path) -> None:
    manifest = tmp_path / "fleet.jsonl"
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "koodrive_backup.testing", "--port", "0", "--json",
        "--users", "3", "--devices-per-user", "2", "--scopes-per-device", "5",
        "--records-per-device", "1", "--manifest", str(manifest),
        stdout=asyncio.subprocess.PIPE,
    )  # fmt: skip
    try:
        assert proc.stdout is not None
        info = json.loads(await asyncio.wait_for(proc.stdout.readline(), 60))
        assert (info["users"], info["fleet_ids"], info["manifest"]) == (3, 36, str(manifest))
        lines = (await asyncio.to_thread(manifest.read_text)).splitlines()
        targets = list(read_manifest(lines))
        assert len({t.user_id for t in targets}) == 3 and len(targets) == 6
        auth = HmacAuth(info["app_id"], info["app_secret"])
        async with BackupClient(info["url"], user_id=targets[0].user_id, auth=auth) as client:
            scopes = await client.list_scopes(targets[0].device_id, "101")
        assert len(scopes) == 5
    finally:
        proc.terminate()
        await proc.wait()
