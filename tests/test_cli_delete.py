"""Bulk record deletion, dry runs and the safety rails, through the console script."""

from __future__ import annotations

import asyncio
import json
import signal
from pathlib import Path

from cli_support import RUN_TIMEOUT, cli, command, env_for, fake, one_line_error

from koodrive_backup.testing import FakeKooDrive

__all__ = ["fake"]  # the fixture, imported for pytest

DELETE_ROUTES = ("batchDeleteBackupScope", "deleteBackupRecord")


def _writes(fake: FakeKooDrive) -> int:
    """Requests that change something (deletes, locks)."""
    routes = (*DELETE_ROUTES, "createBackupLock", "releaseBackupLock")
    return sum(fake.route_counts[r] for r in routes)


async def test_record_delete_many_under_a_managed_lock(fake: FakeKooDrive, tmp_path: Path) -> None:
    device_id = fake.add_device()
    ids = [fake.add_record(device_id) for _ in range(30)]
    keep = fake.add_record(device_id)
    path = tmp_path / "ids.txt"
    path.write_text("\n".join(ids[10:]) + "\n")

    run = await cli(
        "record", "delete", *ids[:10], "--from-file", str(path), "--module", "101", "--json",
        fake=fake,
    )  # fmt: skip

    assert run.status == 0, run.err
    data = run.json()
    assert data["deleted"] == ids and data["module_code"] == "101"
    assert data["counts"]["deleted"] == 30 and data["remaining"] == []
    assert not any(fake.has_record(r) for r in ids) and fake.has_record(keep)
    assert fake.route_counts["createBackupLock"] == 1
    assert fake.route_counts["releaseBackupLock"] == 1  # released at the end
    locks = {
        r.headers.get("x-backup-lock-id") for r in fake.requests if r.route == "deleteBackupRecord"
    }
    assert len(locks) == 1 and None not in locks


async def test_record_delete_needs_a_module_or_a_lock(fake: FakeKooDrive) -> None:
    run = await cli("record", "delete", "1", fake=fake)
    assert run.status == 2 and "--module" in one_line_error(run)
    assert fake.request_count == 0


async def test_a_held_lock_says_when_it_expires_and_how_to_wait(fake: FakeKooDrive) -> None:
    record_id = fake.add_record(fake.add_device())
    fake.add_lock("101")  # held by an earlier run that crashed

    run = await cli("record", "delete", record_id, "--module", "101", fake=fake)

    assert run.status == 4
    error = one_line_error(run)
    assert "already held" in error and "expires in 600 s" in error
    assert "koodrive-backup lock wait" in error
    assert fake.has_record(record_id)


async def test_record_delete_ctrl_c_releases_the_lock_and_loses_nothing(
    fake: FakeKooDrive, tmp_path: Path
) -> None:
    device_id = fake.add_device()
    ids = [fake.add_record(device_id) for _ in range(200)]
    fake.latency = 0.05  # 200 requests, 2 at a time: ~5 s; interrupted after the first
    left = tmp_path / "left.txt"
    proc = await asyncio.create_subprocess_exec(
        *command(), "record", "delete", *ids, "--module", "101", "--concurrency", "2",
        "--json", "--unprocessed-out", str(left),
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE, env=env_for(fake),
    )  # fmt: skip
    assert proc.stderr is not None
    first = await asyncio.wait_for(proc.stderr.readline(), RUN_TIMEOUT)
    assert first.startswith(b"progress:"), first
    proc.send_signal(signal.SIGINT)
    out, _ = await asyncio.wait_for(proc.communicate(), RUN_TIMEOUT)

    assert proc.returncode == 130
    data = json.loads(out)
    written = left.read_text().splitlines()
    assert data["interrupted"] == "SIGINT" and written == data["remaining"] and written
    assert not any(fake.has_record(r) for r in set(ids) - set(written))  # reported gone: gone
    assert fake.route_counts["releaseBackupLock"] == 1  # the lock is not left to expire
    fake.latency = 0.0
    resumed = await cli("record", "delete", "--from-file", str(left), "--module", "101", fake=fake)
    assert resumed.status == 0, resumed.out + resumed.err
    assert not any(fake.has_record(r) for r in ids)


async def test_dry_run_of_scopes_only_reads(fake: FakeKooDrive, tmp_path: Path) -> None:
    device_id = fake.add_device()
    ids = fake.add_scopes(device_id, 150) + fake.add_scopes(device_id, 5, module_code="100")
    absent = ["424242", "434343"]
    path = tmp_path / "ids.txt"
    path.write_text("\n".join([*ids, *absent, ids[0]]) + "\n")

    human = await cli(
        "scopes", "delete", device_id, "--from-file", str(path), "--dry-run", fake=fake
    )
    as_json = await cli(
        "scopes", "delete", device_id, "--from-file", str(path), "--dry-run", "--json", fake=fake
    )

    assert human.status == 0, human.err
    assert "would delete  155" in human.out and "already gone  2" in human.out
    assert "nothing was deleted; 155 scopes would be deleted" in human.out
    data = as_json.json()
    assert data["dry_run"] is True and data["would_delete"] == ids
    assert data["already_gone"] == absent and data["repeated"] == [ids[0]]
    assert _writes(fake) == 0 and fake.route_counts["listBackupScope"] == 6  # 3 modules, twice
    assert set(fake.scope_ids(device_id)) == set(ids)


async def test_dry_run_of_records_reads_each_and_checks_the_module(fake: FakeKooDrive) -> None:
    device_id = fake.add_device()
    albums = [fake.add_record(device_id) for _ in range(3)]
    folder = fake.add_record(device_id, module_code="100")

    run = await cli(
        "record", "delete", *albums, folder, "999", "--module", "101", "--dry-run", "--json",
        fake=fake,
    )  # fmt: skip

    assert run.status == 0, run.err
    data = run.json()
    assert data["would_delete"] == albums and data["already_gone"] == ["999"]
    assert data["failed"] == [
        {"id": folder, "code": "module", "msg": "a record of module 100, not 101"}
    ]
    assert _writes(fake) == 0 and fake.route_counts["getBackupRecord"] == 5
    assert all(fake.has_record(r) for r in [*albums, folder])


async def test_comma_joined_ids_are_refused_before_any_request(
    fake: FakeKooDrive, tmp_path: Path
) -> None:
    device_id = fake.add_device()
    ids = fake.add_scopes(device_id, 6)
    path = tmp_path / "ids.csv"
    path.write_text(",".join(ids[:3]) + "\n" + ",".join(ids[3:]) + "\n")

    for args in (("scopes", "delete", device_id), ("record", "delete", "--module", "101")):
        run = await cli(*args, "--from-file", str(path), fake=fake)
        assert run.status == 2
        error = one_line_error(run)
        assert "line 1" in error and "several IDs on one line" in error
    assert fake.request_count == 0 and len(fake.scope_ids(device_id)) == 6


async def test_ids_that_do_not_exist_exit_5_with_a_clear_message(
    fake: FakeKooDrive, tmp_path: Path
) -> None:
    device_id = fake.add_device()
    kept = fake.add_scopes(device_id, 10)
    path = tmp_path / "other-device.txt"
    path.write_text("".join(f"9{n:018d}\n" for n in range(1001)))  # 1001 IDs, none exist

    run = await cli("scopes", "delete", device_id, "--from-file", str(path), fake=fake)
    as_json = await cli(
        "scopes", "delete", device_id, "--from-file", str(path), "--json", fake=fake
    )
    allowed = await cli(
        "scopes", "delete", device_id, "--from-file", str(path), "--max-not-found", "100%",
        fake=fake,
    )  # fmt: skip

    assert run.status == 5  # no terminal: no question asked, even for 1001 IDs
    error = one_line_error(run)
    assert "1001 of 1001 IDs (100%) were not found on device" in error
    assert "the input probably does not match the device" in error
    assert "already gone  1001" in run.out
    assert as_json.status == 5 and as_json.json()["mostly_not_found"] is True
    assert as_json.json()["counts"]["already_gone"] == 1001
    assert allowed.status == 0
    assert set(fake.scope_ids(device_id)) == set(kept)


async def test_json_error_object_for_a_failed_command(fake: FakeKooDrive) -> None:
    before = await cli("--json", "record", "get", "nope", fake=fake)
    after = await cli("record", "get", "nope", "--json", fake=fake)

    for run in (before, after):
        assert run.status == 4
        error = json.loads(run.out)["error"]  # one JSON document on standard output
        assert error["type"] == "NotFoundError" and error["status"] == 404
        assert error["exit_status"] == 4 and "HTTP 404" in error["message"]
        assert "HTTP 404" in one_line_error(run)  # and the line for people on stderr
