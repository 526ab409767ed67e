"""Records (reference §3): create, list/iterate, complete, and bulk deletion with accounting."""

from __future__ import annotations

import asyncio
import random

import pytest
from seams import VirtualClock

from koodrive_backup import (
    BackupClient,
    BackupRecord,
    BatchProgress,
    ConflictError,
    DecodeError,
    LockLostError,
    NotFoundError,
    PermissionDeniedError,
    RecordStatus,
    ServerError,
)
from koodrive_backup import _endpoints as ep
from koodrive_backup._records import PageIterator
from koodrive_backup.models import DeleteRecordsResult, Page, RecordFailure
from koodrive_backup.testing import FakeKooDrive, Fault

# --- create / complete ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("properties", "stored"),
    [
        ({"app": "gallery", "n": 3}, '{"app":"gallery","n":3}'),
        ([1, "zwei"], '[1,"zwei"]'),
        ('{"kept": "as given"}', '{"kept": "as given"}'),
        (None, None),
    ],
)
async def test_create_record(
    fake: FakeKooDrive, client: BackupClient, properties: object, stored: str | None
) -> None:
    device_id = fake.add_device()
    lock_id = fake.add_lock("100")
    record = await client.create_record("100", device_id, lock_id=lock_id, properties=properties)  # type: ignore[arg-type]
    assert isinstance(record, BackupRecord)
    assert record.status is RecordStatus.NEW and record.module_code == "100"
    assert record.properties == stored
    assert record.device_info is not None and record.device_info.device_id == device_id
    assert fake.has_record(record.record_id)
    sent = fake.requests[-1]
    assert sent.headers["x-backup-lock-id"] == lock_id
    expected = {"moduleCode": "100", "deviceId": device_id}
    if stored is not None:
        expected["properties"] = stored
    assert sent.json == expected


@pytest.mark.parametrize(
    ("properties", "error"),
    [
        ("{not json", ValueError),
        ("", ValueError),
        ({"x": float("nan")}, ValueError),
        (42, TypeError),
        (b"{}", TypeError),
        ({"x": object()}, TypeError),
    ],
)
async def test_bad_properties_are_refused_before_any_request(
    fake: FakeKooDrive, client: BackupClient, properties: object, error: type[Exception]
) -> None:
    with pytest.raises(error):
        await client.create_record("101", "1", lock_id="l@101", properties=properties)  # type: ignore[arg-type]
    with pytest.raises(error):
        await client.complete_record("1", lock_id="l@101", properties=properties)  # type: ignore[arg-type]
    assert fake.request_count == 0


async def test_create_record_with_a_foreign_module_lock_is_a_conflict(
    fake: FakeKooDrive, client: BackupClient
) -> None:
    with pytest.raises(ConflictError):
        await client.create_record("101", fake.add_device(), lock_id=fake.add_lock("102"))


async def test_create_record_for_an_unknown_device(
    fake: FakeKooDrive, client: BackupClient
) -> None:
    with pytest.raises(NotFoundError):
        await client.create_record("101", "1234", lock_id=fake.add_lock("101"))


async def test_complete_record(fake: FakeKooDrive, client: BackupClient) -> None:
    record_id = fake.add_record(fake.add_device(), properties='{"a":1}')
    lock_id = fake.add_lock("101")
    await client.complete_record(record_id, lock_id=lock_id)
    assert fake.requests[-1].json == {}  # the reference's example body (§3.4)
    record = await client.get_record(record_id)
    assert record.status is RecordStatus.COMPLETED and record.end_time is not None
    assert record.properties == '{"a":1}'
    await client.complete_record(record_id, lock_id=lock_id, properties={"done": True})
    assert (await client.get_record(record_id)).properties == '{"done":true}'


@pytest.mark.parametrize("record_id", ["", "a/b", "..", "x" * 129, "a b"])
async def test_bad_record_ids_are_refused(
    fake: FakeKooDrive, client: BackupClient, record_id: str
) -> None:
    with pytest.raises(ValueError):
        await client.complete_record(record_id, lock_id="l@101")
    with pytest.raises(ValueError):
        await client.list_files(record_id)
    assert fake.request_count == 0


# --- list / iterate ---------------------------------------------------------------------------


async def test_list_records_pages_and_filters(fake: FakeKooDrive, client: BackupClient) -> None:
    mine, other = fake.add_device(), fake.add_device()
    ids = [fake.add_record(mine) for _ in range(3)]
    fake.add_record(other)
    fake.add_record(mine, module_code="102")
    first = await client.list_records("101", page_size=2, device_id=mine)
    assert isinstance(first, Page) and [r.record_id for r in first.items] == ids[:2]
    assert first.next_cursor is not None
    second = await client.list_records("101", 2, first.next_cursor, mine)
    assert [r.record_id for r in second.items] == ids[2:]
    assert second.next_cursor is None
    assert dict(fake.requests[0].query) == {"moduleCode": "101", "pageSize": "2", "deviceId": mine}


async def test_iter_records_walks_every_page_exactly_once(
    fake: FakeKooDrive, client: BackupClient
) -> None:
    device_id = fake.add_device()
    ids = [fake.add_record(device_id) for _ in range(7)]
    fake.add_record(device_id, module_code="100")
    seen = [record.record_id async for record in client.iter_records("101", page_size=3)]
    assert seen == ids
    assert fake.route_counts["listBackupRecord"] == 3  # 3 + 3 + 1
    cursors = [r.query.get("cursor") for r in fake.requests]
    assert cursors[0] is None and len(set(cursors)) == 3


async def test_iter_records_of_nothing(fake: FakeKooDrive, client: BackupClient) -> None:
    assert [r async for r in client.iter_records("102")] == []
    assert fake.route_counts["listBackupRecord"] == 1


async def test_iter_records_checks_arguments_at_the_call(
    fake: FakeKooDrive, client: BackupClient
) -> None:
    with pytest.raises(ValueError):
        client.iter_records("999")
    with pytest.raises(ValueError):
        client.iter_records("101", page_size=101)
    with pytest.raises(ValueError):
        client.iter_records("101", device_id="a/b")
    assert fake.request_count == 0


@pytest.mark.parametrize(
    ("kwargs", "error"),
    [
        ({"page_size": 0}, ValueError),
        ({"page_size": 101}, ValueError),
        ({"page_size": True}, TypeError),
        ({"page_size": 10.0}, TypeError),
        ({"cursor": ""}, ValueError),
        ({"cursor": "c" * 1001}, ValueError),
        ({"cursor": 5}, TypeError),
        ({"device_id": "../x"}, ValueError),
    ],
)
async def test_list_records_validation(
    fake: FakeKooDrive, client: BackupClient, kwargs: dict[str, object], error: type[Exception]
) -> None:
    with pytest.raises(error):
        await client.list_records("101", **kwargs)  # type: ignore[arg-type]
    assert fake.request_count == 0


async def test_a_repeated_cursor_ends_with_decode_error_instead_of_looping() -> None:
    pages = {None: Page((1, 2), "c1"), "c1": Page((3,), "c2"), "c2": Page((4,), "c1")}
    calls: list[str | None] = []

    async def fetch(cursor: str | None) -> Page[int]:
        calls.append(cursor)
        return pages[cursor]

    seen = []
    with pytest.raises(DecodeError, match="repeated a list cursor"):
        async for item in PageIterator(fetch):
            seen.append(item)
    assert seen == [1, 2, 3] and calls == [None, "c1", "c2"]


@pytest.mark.parametrize("end", [{}, {"nextCursor": None}, {"nextCursor": ""}])
def test_decode_page_end_markers(end: dict[str, object]) -> None:
    req = ep.LIST_RECORDS.request({"module_code": "101", "page_size": 100})
    payload = {"code": 0, "msg": "success", "data": [{"recordId": 1842862763295184641}], **end}
    page = ep.LIST_RECORDS.answer(payload, req)
    assert page.items == (BackupRecord("1842862763295184641"),) and page.next_cursor is None


@pytest.mark.parametrize(
    "payload",
    [{"data": {"recordId": "1"}}, {"data": [], "nextCursor": 5}, {"data": [{"status": 0}]}],
)
def test_decode_page_refuses_wrong_shapes(payload: dict[str, object]) -> None:
    req = ep.LIST_RECORDS.request({"module_code": "101", "page_size": 100})
    with pytest.raises(DecodeError):
        ep.LIST_RECORDS.answer(payload, req)


# --- delete_records ---------------------------------------------------------------------------


async def test_delete_records_accounts_for_every_id_in_input_order(
    fake: FakeKooDrive, client: BackupClient
) -> None:
    device_id = fake.add_device()
    a, b, c, d = (fake.add_record(device_id) for _ in range(4))
    missing = "1000000000000000001"
    # c fails on every attempt of its call (transient): unprocessed, with the error kept.
    fake.inject(Fault.status(503), when=lambda r: r.path.endswith(c), times=None)
    progress: list[BatchProgress] = []
    ids: list[str | int] = [a, missing, b, a, c, int(d)]

    result = await client.delete_records(
        ids, lock_id=fake.add_lock("101"), concurrency=3, on_progress=progress.append
    )

    assert isinstance(result, DeleteRecordsResult)
    assert result.deleted == (a, b, d)
    assert [(f.record_id, f.error_code, f.status) for f in result.failed] == [
        (missing, "15000404", 404),  # the server's code, and the HTTP status
        (a, "15000424", None),  # the repeat, never sent
    ]
    assert result.unprocessed == (c,)
    assert len(result.errors) == 1 and isinstance(result.errors[0], ServerError)
    assert result.gone == (a, missing, b, d)
    assert not result.ok
    assert sum(1 for r in fake.requests if r.path.endswith(a)) == 1
    assert fake.has_record(c) and not fake.has_record(a)
    assert progress[-1] == BatchProgress(done=6, total=6, deleted=3, failed=2, unprocessed=1)
    assert len(progress) == 5  # one per unique ID


async def test_delete_records_lost_answer_is_gone(fake: FakeKooDrive, client: BackupClient) -> None:
    record_id = fake.add_record(fake.add_device())
    fake.inject(Fault.lose_response(), route="deleteBackupRecord")
    result = await client.delete_records([record_id], lock_id=fake.add_lock("101"))
    # The retry met 404 after an attempt that may have deleted it: deleted (API.md).
    assert result.deleted == (record_id,) and result.failed == () and result.ok
    assert result.gone == (record_id,)
    assert fake.route_counts["deleteBackupRecord"] == 2  # DELETE is retried


async def test_delete_records_refusals_are_per_record_failures(
    fake: FakeKooDrive, client: BackupClient
) -> None:
    device_id = fake.add_device()
    album = fake.add_record(device_id)
    refused = fake.add_record(device_id)
    conflict = Fault.status(409, code=15000413)  # a refusal of that one record
    fake.inject(conflict, route="deleteBackupRecord", when=lambda r: refused in r.path)
    result = await client.delete_records([refused, album], lock_id=fake.add_lock("101"))
    assert result.deleted == (album,)
    (failure,) = result.failed
    assert failure == RecordFailure(refused, "15000413", failure.msg, 409)
    assert result.unprocessed == () and result.errors == ()


async def test_delete_records_stops_after_a_permission_failure(
    fake: FakeKooDrive, client: BackupClient
) -> None:
    device_id = fake.add_device()
    ids = [fake.add_record(device_id) for _ in range(4)]
    fake.inject(Fault.status(403), route="deleteBackupRecord")
    result = await client.delete_records(ids, lock_id=fake.add_lock("101"), concurrency=1)
    assert result.unprocessed == tuple(ids) and result.deleted == ()
    assert isinstance(result.errors[0], PermissionDeniedError)
    assert fake.route_counts["deleteBackupRecord"] == 1


async def test_delete_records_bounded_concurrency(fake: FakeKooDrive, client: BackupClient) -> None:
    device_id = fake.add_device()
    ids = [fake.add_record(device_id) for _ in range(12)]
    fake.latency = 0.01
    result = await client.delete_records(ids, lock_id=fake.add_lock("101"), concurrency=3)
    assert result.deleted == tuple(ids) and result.ok
    assert fake.max_in_flight_by_route["deleteBackupRecord"] <= 3


async def test_delete_records_empty_input_sends_nothing(
    fake: FakeKooDrive, client: BackupClient
) -> None:
    result = await client.delete_records([], lock_id="l@101")
    assert result == DeleteRecordsResult() and result.ok
    assert fake.request_count == 0


@pytest.mark.parametrize(
    ("ids", "kwargs", "error"),
    [
        (["1", "a/b"], {}, ValueError),
        (["1", ""], {}, ValueError),
        (["1", 2.0], {}, TypeError),
        (["1", True], {}, TypeError),
        (["1", None], {}, TypeError),
        ("123", {}, TypeError),  # a lone string is not a list of IDs
        (["1"], {"concurrency": 0}, ValueError),
        (["1"], {"lock_id": "bad\nlock"}, ValueError),
        (["1"], {"on_progress": 5}, TypeError),
    ],
)
async def test_delete_records_validation_before_any_request(
    fake: FakeKooDrive,
    client: BackupClient,
    ids: object,
    kwargs: dict[str, object],
    error: type[Exception],
) -> None:
    options: dict[str, object] = {"lock_id": "l@101", **kwargs}
    with pytest.raises(error):
        await client.delete_records(ids, **options)  # type: ignore[arg-type]
    assert fake.request_count == 0


async def test_delete_records_stops_when_the_managed_lock_is_lost_mid_way(
    fake: FakeKooDrive,
) -> None:
    device_id = fake.add_device()
    ids = [fake.add_record(device_id) for _ in range(5)]
    clock = VirtualClock()
    fake.clock = clock.time  # the lock's lifetime runs on the shared virtual clock
    client = BackupClient(fake.url, user_id=fake.user_id, token=fake.token, clock=clock)
    async with client, client.lock("101") as lock:

        async def lose_lock(progress: BatchProgress) -> None:
            if progress.done == 1:
                fake.expire_lock(lock.lock_id)  # the next renewal is refused: lost
                await clock.run_until(lambda: lock.lost, step=10)

        result = await client.delete_records(
            ids, lock_id=lock.lock_id, concurrency=1, on_progress=lose_lock
        )
    assert result.deleted == (ids[0],)
    assert result.unprocessed == tuple(ids[1:])
    assert len(result.errors) == 1 and isinstance(result.errors[0], LockLostError)
    assert fake.route_counts["deleteBackupRecord"] == 1


async def test_iter_delete_records_streams_each_record_and_keeps_its_result(
    fake: FakeKooDrive, client: BackupClient
) -> None:
    device_id = fake.add_device()
    ids = [fake.add_record(device_id) for _ in range(6)]
    lock_id = fake.add_lock("101")
    stream = client.iter_delete_records([*ids, "nope", ids[0]], lock_id, concurrency=1)
    async with stream:
        outcomes = [await anext(stream) for _ in range(3)]  # then leave early
    result = stream.result
    assert [o.deleted for o in outcomes] == [(ids[0],), (ids[1],), (ids[2],)]
    assert result.deleted[:3] == tuple(ids[:3])
    assert result.failed[-1].error_code == "15000424"  # the repeat of ids[0], never sent
    occurrences = len(result.deleted) + len(result.failed) + len(result.unprocessed)
    assert occurrences == 8  # each input occurrence once, settled or not
    assert not any(fake.has_record(rid) for rid in result.gone)


async def test_delete_records_cancellation_is_prompt(
    fake: FakeKooDrive, client: BackupClient
) -> None:
    device_id = fake.add_device()
    ids = [fake.add_record(device_id) for _ in range(20)]
    fake.inject(Fault.latency(0.3), route="deleteBackupRecord", times=None)
    task = asyncio.create_task(client.delete_records(ids, lock_id=fake.add_lock("101")))
    async with asyncio.timeout(10):
        while fake.in_flight < 1:  # noqa: ASYNC110 -- waiting for the server to see requests
            await asyncio.sleep(0.001)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert fake.route_counts["deleteBackupRecord"] <= 8  # nothing started after cancel


async def test_delete_record_body_is_the_seed_example(
    fake: FakeKooDrive, client: BackupClient
) -> None:
    record_id = fake.add_record(fake.add_device())
    lock_id = fake.add_lock("101")
    await client.delete_record(record_id, lock_id=lock_id)
    sent = fake.requests[-1]
    assert (sent.method, sent.body, sent.headers["x-backup-lock-id"]) == ("DELETE", b"", lock_id)


@pytest.mark.parametrize("seed", range(4))
async def test_delete_records_accounting_invariant(
    fake: FakeKooDrive, client: BackupClient, seed: int
) -> None:
    """Every input occurrence lands in exactly one list, each in input order (random mixes)."""
    rng = random.Random(seed)
    device_id = fake.add_device()
    existing = [fake.add_record(device_id) for _ in range(15)]
    missing = [str(10**18 + n) for n in range(5)]
    flaky = set(rng.sample(existing, 3))
    fake.inject(Fault.status(500), when=lambda r: r.path.rsplit("/", 1)[-1] in flaky, times=None)
    ids = [rng.choice(existing + missing) for _ in range(30)]
    expected: dict[str, list[tuple[str, str | None]]] = {"d": [], "f": [], "u": []}
    seen: set[str] = set()
    for rid in ids:
        if rid in seen:
            expected["f"].append((rid, "15000424"))
        elif rid in flaky:
            expected["u"].append((rid, None))
        elif rid in missing:
            expected["f"].append((rid, "15000404"))
        else:
            expected["d"].append((rid, None))
        seen.add(rid)

    result = await client.delete_records(ids, lock_id=fake.add_lock("101"), concurrency=4)

    assert list(result.deleted) == [rid for rid, _ in expected["d"]]
    assert [(f.record_id, f.error_code) for f in result.failed] == expected["f"]
    assert list(result.unprocessed) == [rid for rid, _ in expected["u"]]
    assert len(result.errors) == len({rid for rid, _ in expected["u"]})
    assert len(result.deleted) + len(result.failed) + len(result.unprocessed) == len(ids)
