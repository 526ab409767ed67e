"""The list commands through the console script: tables, ``--json``, ``--ids``, filters, and
lazy paging (first lines out before the last page is asked for; memory that does not grow
with the list)."""

from __future__ import annotations

import asyncio
import sys
import time
from pathlib import Path

from cli_support import RUN_TIMEOUT, cli, command, env_for, fake

from koodrive_backup.testing import FakeKooDrive

__all__ = ["fake"]  # the fixture, imported for pytest

DAY = 86400.0


async def test_devices_list_as_table_json_and_ids(fake: FakeKooDrive) -> None:
    first = fake.add_device(machine_code="laptop_1", device_name="work laptop")
    second = fake.add_device(machine_code="phone_2", device_name=None)

    table, as_json, ids = await asyncio.gather(
        cli("devices", "list", fake=fake),
        cli("devices", "list", "--json", fake=fake),
        cli("device", "list", "--ids", fake=fake),  # the singular is an alias
    )

    assert table.status == as_json.status == ids.status == 0, table.err
    lines = table.out.splitlines()
    assert lines[0].split() == ["device", "ID", "machine", "code", "name", "OS", "created"]
    assert lines[2].split()[:4] == [first, "laptop_1", "work", "laptop"]
    assert lines[3].split()[:3] == [second, "phone_2", "-"]  # no name: a dash
    assert lines[-1] == "2 devices"
    assert [d["device_id"] for d in as_json.json()] == [first, second]
    assert ids.out == f"{first}\n{second}\n"


async def test_scopes_list_one_module_or_all(fake: FakeKooDrive) -> None:
    device_id = fake.add_device()
    albums = fake.add_scopes(device_id, 3, module_code="101")
    folders = fake.add_scopes(device_id, 2, module_code="100")

    one, every, as_json = await asyncio.gather(
        cli("scopes", "list", device_id, "--module", "101", "--ids", fake=fake),
        cli("scopes", "list", device_id, "--ids", fake=fake),
        cli("scopes", "list", device_id, "--module", "100", "--json", fake=fake),
    )

    assert one.out.split() == albums
    assert every.out.split() == folders + albums  # modules 100, 101, 102 in turn
    data = as_json.json()
    assert [s["scope_id"] for s in data] == folders
    assert data[0]["local_path"] == "/local/0" and data[0]["module_code"] == "100"


async def test_records_list_filters_by_age_status_and_device(fake: FakeKooDrive) -> None:
    laptop, phone = fake.add_device(), fake.add_device()
    now = fake.now()
    old = [fake.add_record(laptop, created_at=now - d * DAY) for d in (40, 30)]
    old_done = fake.add_record(laptop, created_at=now - 35 * DAY, completed=True)
    recent = fake.add_record(laptop, created_at=now - DAY)
    other_device = fake.add_record(phone, created_at=now - 50 * DAY)
    other_module = fake.add_record(laptop, module_code="100", created_at=now - 50 * DAY)

    before, dated, done, on_laptop, limited = await asyncio.gather(
        cli("records", "list", "--module", "101", "--before", "20d", "--ids", fake=fake),
        cli("records", "list", "--module", "101", "--before", _iso(now - 32 * DAY), "--ids",
            fake=fake),
        cli("records", "list", "--module", "101", "--status", "completed", "--json", fake=fake),
        cli("records", "list", "--module", "101", "--device", laptop, "--ids", fake=fake),
        cli("records", "list", "--module", "101", "--limit", "2", fake=fake),
    )  # fmt: skip

    assert before.status == 0, before.err
    assert before.out.split() == [*old, old_done, other_device]  # listing order, filtered
    assert dated.out.split() == [old[0], old_done, other_device]
    assert [r["record_id"] for r in done.json()] == [old_done] and done.json()[0]["status"] == 1
    assert on_laptop.out.split() == [*old, old_done, recent]
    assert limited.out.splitlines()[-1] == "2 records"
    assert other_module not in before.out + on_laptop.out


def _iso(stamp: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(stamp))


async def test_files_list(fake: FakeKooDrive) -> None:
    record_id = fake.add_record(fake.add_device(), files=3)
    run = await cli("files", "list", record_id, "--json", fake=fake)
    assert run.status == 0, run.err
    assert [f["file_id"] for f in run.json()] == fake.file_ids(record_id)
    assert [f["file_name"] for f in run.json()] == ["file0.bin", "file1.bin", "file2.bin"]


async def test_an_empty_list_is_still_one_json_document(fake: FakeKooDrive) -> None:
    run = await cli("records", "list", "--module", "102", "--json", fake=fake)
    table = await cli("records", "list", "--module", "102", fake=fake)
    assert run.status == 0 and run.json() == []
    assert table.out == "0 records\n"


async def test_records_stream_out_before_the_last_page_is_asked_for(fake: FakeKooDrive) -> None:
    device_id = fake.add_device()
    ids = [fake.add_record(device_id) for _ in range(1000)]  # 10 pages of 100
    fake.latency = 0.1
    proc = await asyncio.create_subprocess_exec(
        *command(), "records", "list", "--module", "101", "--ids",
        stdout=asyncio.subprocess.PIPE, env=env_for(fake),
    )  # fmt: skip
    assert proc.stdout is not None
    first = await asyncio.wait_for(proc.stdout.readline(), RUN_TIMEOUT)
    pages_when_first_line_came = fake.route_counts["listBackupRecord"]
    rest, _ = await asyncio.wait_for(proc.communicate(), RUN_TIMEOUT)

    assert first.decode().strip() == ids[0]
    assert pages_when_first_line_came < 10  # printed while later pages were still to come
    assert [first.decode().strip(), *rest.decode().split()] == ids
    assert fake.route_counts["listBackupRecord"] == 10


_MAXRSS = (
    "import resource, subprocess, sys; subprocess.run(sys.argv[1:], stdout=subprocess.DEVNULL,"
    " check=True); print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)"
)


async def _peak_kib(fake: FakeKooDrive, tmp_path: Path) -> int:
    """The peak memory (KiB) of one ``records list --json`` child process."""
    run = await cli(
        *("records", "list", "--module", "101", "--json"),
        fake=fake,
        prefix=[sys.executable, "-c", _MAXRSS, *command()],
        cwd=str(tmp_path),
    )
    assert run.status == 0, run.err
    return int(run.out)


async def test_listing_memory_does_not_grow_with_the_list(
    fake: FakeKooDrive, tmp_path: Path
) -> None:
    device_id = fake.add_device()
    fake.record_requests = False
    for _ in range(5_000):
        fake.add_record(device_id)
    small = await _peak_kib(fake, tmp_path)
    for _ in range(95_000):
        fake.add_record(device_id)
    large = await _peak_kib(fake, tmp_path)

    # Holding 100,000 decoded records (with their device) would take well over 100 MiB.
    assert large < small + 20 * 1024, (small, large)
