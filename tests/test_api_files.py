"""Files of a record (reference §4): create (answer unseen by the reference), list, iterate."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from koodrive_backup import BackupClient, BackupFile, NotFoundError
from koodrive_backup import _endpoints as ep
from koodrive_backup.models import CreatedFile
from koodrive_backup.testing import FakeKooDrive

SHA = "ab" * 32


async def test_create_file(fake: FakeKooDrive, client: BackupClient) -> None:
    record_id = fake.add_record(fake.add_device())
    lock_id = fake.add_lock("101")
    created = await client.create_file(
        record_id,
        lock_id=lock_id,
        file_name="IMG_0001.jpg",
        description="a photo",
        mime_type="image/jpeg",
        file_type="photo",
        parent_folder="root",
        sha256=SHA,
        length=1234,
    )
    assert isinstance(created, CreatedFile)
    assert created.file_id in fake.file_ids(record_id)
    assert (created.file_name, created.sha256, created.size) == ("IMG_0001.jpg", SHA, 1234)
    assert created.description == "a photo" and created.create_time is not None
    assert created.raw["data"]["mimeType"] == "image/jpeg"  # undocumented: kept in raw
    assert created.raw["data"]["parentFolder"] == ["root"]
    assert fake.requests[-1].json == {
        "fileName": "IMG_0001.jpg",
        "description": "a photo",
        "mimeType": "image/jpeg",
        "fileType": "photo",
        "sha256": SHA,
        "parentFolder": ["root"],
        "length": 1234,
    }
    assert fake.requests[-1].headers["x-backup-lock-id"] == lock_id


async def test_create_file_sends_only_what_is_given(
    fake: FakeKooDrive, client: BackupClient
) -> None:
    record_id = fake.add_record(fake.add_device())
    created = await client.create_file(
        record_id, lock_id=fake.add_lock("101"), file_name="a", parent_folder=["f1", "f2"]
    )
    assert fake.requests[-1].json == {"fileName": "a", "parentFolder": ["f1", "f2"]}
    assert created.size is None


async def test_create_file_in_an_unknown_record(fake: FakeKooDrive, client: BackupClient) -> None:
    with pytest.raises(NotFoundError):
        await client.create_file("42", lock_id=fake.add_lock("101"), file_name="a")


@pytest.mark.parametrize(
    ("kwargs", "error"),
    [
        ({"file_name": ""}, ValueError),
        ({"file_name": "."}, ValueError),
        ({"file_name": ".."}, ValueError),
        ({"file_name": "x" * 251}, ValueError),
        *[({"file_name": f"a{ch}b"}, ValueError) for ch in '<>|:"*?/'],
        ({"file_name": None}, TypeError),
        ({"file_name": "a", "length": -1}, ValueError),
        ({"file_name": "a", "length": 1.5}, TypeError),
        ({"file_name": "a", "length": True}, TypeError),
        ({"file_name": "a", "parent_folder": []}, ValueError),
        ({"file_name": "a", "parent_folder": [""]}, TypeError),
        ({"file_name": "a", "parent_folder": 7}, TypeError),
        ({"file_name": "a", "sha256": 7}, TypeError),
        ({"file_name": "a", "mime_type": b"x"}, TypeError),
        ({"file_name": "a", "lock_id": "x\r\n"}, ValueError),
    ],
)
async def test_create_file_validation_before_any_request(
    fake: FakeKooDrive, client: BackupClient, kwargs: dict[str, Any], error: type[Exception]
) -> None:
    options: dict[str, Any] = {"lock_id": "l@101", **kwargs}
    with pytest.raises(error):
        await client.create_file("1", **options)
    assert fake.request_count == 0


async def test_longest_file_name_is_accepted(fake: FakeKooDrive, client: BackupClient) -> None:
    record_id = fake.add_record(fake.add_device())
    name = "n" * 250
    created = await client.create_file(record_id, lock_id=fake.add_lock("101"), file_name=name)
    assert created.file_name == name


# --- decoding an answer the reference never showed -------------------------------------------

REQ = ep.CREATE_FILE.request({"record_id": "1", "file_name": "a.jpg"})


def test_undocumented_fields_stay_in_raw() -> None:
    # Shaped like the enterprise "upload step 1" answer the reference suspects (§4.1 [I]).
    payload = {
        "code": 0,
        "msg": "success",
        "data": {
            "fileId": 1842862763295184641,
            "fileName": "a.bin",
            "uploadId": "u-1",
            "multiParts": [{"partNumber": 1, "uploadUrl": "https://up.example/1"}],
        },
        "traceId": "t",
    }
    created = ep.CREATE_FILE.answer(payload, REQ)
    assert created.file_id == "1842862763295184641" and created.file_name == "a.bin"
    assert created.raw["data"]["multiParts"][0]["partNumber"] == 1
    assert created.raw["traceId"] == "t"


@pytest.mark.parametrize("payload", [{"code": 0, "msg": "success"}, {"data": None}, {"data": []}])
def test_an_answer_without_a_data_object_does_not_fail(payload: dict[str, Any]) -> None:
    created = ep.CREATE_FILE.answer(payload, REQ)
    assert created == CreatedFile() and created.raw == payload


def test_a_badly_typed_field_is_dropped_not_fatal(caplog: pytest.LogCaptureFixture) -> None:
    payload = {"data": {"fileId": "9", "size": "big", "createTime": "2025-09-15T06:14:48.630Z"}}
    created = ep.CREATE_FILE.answer(payload, REQ)
    assert created.file_id == "9" and created.size is None
    assert created.create_time == datetime(2025, 9, 15, 6, 14, 48, 630000, tzinfo=UTC)
    assert "size" in caplog.text


# --- list / iterate ---------------------------------------------------------------------------


async def test_list_and_iter_files(fake: FakeKooDrive, client: BackupClient) -> None:
    record_id = fake.add_record(fake.add_device(), files=5)
    page = await client.list_files(record_id, page_size=2)
    assert len(page.items) == 2 and page.next_cursor is not None
    assert all(isinstance(f, BackupFile) for f in page.items)
    fake.reset_stats()
    files = [f async for f in client.iter_files(record_id, page_size=2)]
    assert [f.file_id for f in files] == fake.file_ids(record_id)
    assert [f.file_name for f in files] == [f"file{n}.bin" for n in range(5)]
    assert files[3].size == 3 and files[0].sha256 == "0" * 64
    assert fake.route_counts["listBackupFile"] == 3


async def test_list_files_with_the_optional_lock(fake: FakeKooDrive, client: BackupClient) -> None:
    record_id = fake.add_record(fake.add_device(), files=1)
    lock_id = fake.add_lock("101")
    page = await client.list_files(record_id, 1, lock_id=lock_id)
    assert len(page.items) == 1 and page.next_cursor is None
    assert fake.requests[-1].headers["x-backup-lock-id"] == lock_id
    assert dict(fake.requests[-1].query) == {"pageSize": "1"}  # the reference example's query
    async for _ in client.iter_files(record_id, lock_id=lock_id):
        pass
    assert fake.requests[-1].headers["x-backup-lock-id"] == lock_id


async def test_list_files_of_an_unknown_record(fake: FakeKooDrive, client: BackupClient) -> None:
    with pytest.raises(NotFoundError):
        await client.list_files("1842862763295184641")
    with pytest.raises(ValueError):
        client.iter_files("1", page_size=0)
