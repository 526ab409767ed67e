"""Decoding: the seed pages' examples, exact IDs, lenient shapes, and hypothesis round trips."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta, timezone
from typing import get_args, get_origin, get_type_hints

import attrs
import pytest
from hypothesis import given
from hypothesis import strategies as st

from koodrive_backup import (
    BackupFile,
    BackupRecord,
    ConfigInfo,
    CreatedFile,
    DecodeError,
    DeleteScopesResult,
    DeviceEntity,
    LockInfo,
    ModuleCode,
    Page,
    RecordStatus,
    ScopeFailure,
    ScopeInfo,
)
from koodrive_backup import _endpoints as ep
from koodrive_backup._codec import ShapeError, structure, unstructure, wire_name
from koodrive_backup._endpoints import ScopeAddAnswer, ScopeDeleteAnswer

# Seed page 004 (getBackupRecord), response example, verbatim.
SEED_004 = """{
  "data" : {
    "recordId" : "1842862763295184641",
    "moduleCode" : "101",
    "status" : 0,
    "properties" : "{\\"test\\":\\"123\\"}",
    "version" : 1,
    "createTime" : "2025-12-17T07:59:20.752Z"
  },
  "code" : 0,
  "msg" : "success"
}"""

# Seed page 001 (batchDeleteBackupScope), response example, verbatim.
SEED_001 = """{
"scopeIdList" : [ "1842846715527366528" ],
"failedScopeList" : [ {
"scopeId" : "123", "errorCode" : "15000424", "msg" : "Request to repeatedly delete scopeId."
}, {
"scopeId" : "123", "errorCode" : "15000418", "msg" : "The backup scope does not exist."
}, {
"scopeId" : "345", "errorCode" : "15000418", "msg" : "The backup scope does not exist."
}, {
"scopeId" : "1760265745989677312", "errorCode" : "15000418",
"msg" : "The backup scope does not exist."
} ],
"code" : 0,
"msg" : "success"
}"""

GET = ep.GET_RECORD.request({"record_id": "1842862763295184641"})
DEL = ep.DELETE_SCOPES.request({"device_id": "1", "scope_id_list": ["1"]})


def test_seed_004_get_record_example() -> None:
    record = ep.GET_RECORD.answer(json.loads(SEED_004), GET)
    assert record.record_id == "1842862763295184641"
    assert record.status is RecordStatus.NEW
    assert record.create_time == datetime(2025, 12, 17, 7, 59, 20, 752000, tzinfo=UTC)
    assert record.create_time.tzinfo is not None
    assert record.device_info is None
    assert record.end_time is None
    assert record.module_code == "101" and record.module_code is ModuleCode.ALBUM
    assert record.properties == '{"test":"123"}'
    assert record.version == 1


def test_seed_001_delete_scopes_example() -> None:
    answer = ep.DELETE_SCOPES.answer(json.loads(SEED_001), DEL)
    assert answer.scope_id_list == ("1842846715527366528",)
    assert answer.failed_scope_list[0] == ScopeFailure(
        "123", "15000424", "Request to repeatedly delete scopeId."
    )
    assert [f.error_code for f in answer.failed_scope_list] == ["15000424"] + ["15000418"] * 3
    assert answer.failed_scope_list[3].scope_id == "1760265745989677312"


def test_failed_scope_list_as_a_single_object_and_ids_as_numbers() -> None:
    payload = {
        "scopeIdList": [9223372036854775807, "5"],
        "failedScopeList": {"scopeId": 1842846715527366528, "errorCode": 15000418},
        "code": 0,
    }
    answer = ep.DELETE_SCOPES.answer(payload, DEL)
    assert answer.scope_id_list == ("9223372036854775807", "5")
    assert answer.failed_scope_list == (ScopeFailure("1842846715527366528", "15000418", None),)


def test_big_json_numbers_stay_exact_through_json_loads() -> None:
    payload = json.loads('{"data": {"recordId": 1842862763295184641}}')
    assert ep.GET_RECORD.answer(payload, GET).record_id == "1842862763295184641"


def test_missing_lists_decode_as_empty() -> None:
    assert ep.DELETE_SCOPES.answer({"code": 0}, DEL) == ScopeDeleteAnswer((), ())


@pytest.mark.parametrize(
    ("data", "where"),
    [
        ({"recordId": 1.8428627632951846e18}, "recordId"),  # a float is never an ID
        ({"recordId": True}, "recordId"),
        ({"recordId": "1", "status": "new"}, "status"),
        ({"recordId": "1", "version": 1.5}, "version"),
        ({"recordId": "1", "createTime": "yesterday"}, "createTime"),
        (
            {"recordId": "1", "deviceInfo": {"deviceId": "2", "createTime": 5.5}},
            "deviceInfo.createTime",
        ),
        ({"recordId": "1", "deviceInfo": []}, "deviceInfo"),
        ({"status": 0}, "recordId"),
    ],
)
def test_bad_shapes_name_the_wire_field(data: dict[str, object], where: str) -> None:
    with pytest.raises(DecodeError) as info:
        ep.GET_RECORD.answer({"data": data}, GET)
    assert f"BackupRecord.{where}" in str(info.value)


def test_no_data_is_a_decode_error() -> None:
    with pytest.raises(DecodeError):
        ep.GET_RECORD.answer({"code": 0, "msg": "success"}, GET)
    with pytest.raises(DecodeError):
        ep.DELETE_SCOPES.answer({"scopeIdList": "123"}, DEL)


def test_unknown_fields_are_ignored_and_unknown_enum_values_kept() -> None:
    data = {"recordId": "1", "status": 7, "moduleCode": "199", "newField": {"x": 1}}
    record = structure(data, BackupRecord)
    assert record.status == 7 and type(record.status) is int
    assert record.module_code == "199" and type(record.module_code) is str


def test_timestamps_naive_and_offset() -> None:
    naive = structure({"deviceId": "1", "createTime": "2025-09-15T06:14:48.630"}, DeviceEntity)
    assert naive.create_time == datetime(2025, 9, 15, 6, 14, 48, 630000, tzinfo=UTC)
    offset = structure({"deviceId": "1", "createTime": "2025-09-15T14:14:48+08:00"}, DeviceEntity)
    assert offset.create_time == datetime(2025, 9, 15, 6, 14, 48, tzinfo=UTC)


def test_device_os_wire_name() -> None:
    assert wire_name("device_os") == "deviceOS"
    assert wire_name("target_folder_path") == "targetFolderPath"
    assert structure({"deviceId": "1", "deviceOS": "android"}, DeviceEntity).device_os == "android"


def test_shape_error_for_non_objects() -> None:
    with pytest.raises(ShapeError):
        structure([1, 2], BackupRecord)


def test_result_properties() -> None:
    result = DeleteScopesResult(
        deleted=("1", "2"),
        failed=(ScopeFailure("3", "15000418"), ScopeFailure("1", "15000424")),
        unprocessed=(),
    )
    assert not result.ok
    assert result.gone == ("1", "2", "3")
    assert DeleteScopesResult(deleted=("1",)).ok
    ordered = DeleteScopesResult(deleted=("2",), gone_ids=("9", "2"))
    assert ordered.gone == ("9", "2")


# --- hypothesis round trips: structure(unstructure(x)) == x -----------------------------------

ids = st.one_of(
    st.integers(min_value=0, max_value=2**64).map(str),
    st.text(alphabet="0123456789abcdef-@", min_size=1, max_size=40),
)
texts = st.none() | st.text(max_size=30)
aware = st.datetimes(
    min_value=datetime(2000, 1, 1), max_value=datetime(2100, 1, 1), timezones=st.just(UTC)
).map(lambda d: d.replace(microsecond=d.microsecond // 1000 * 1000))
devices = st.builds(
    DeviceEntity,
    device_id=ids,
    machine_code=texts,
    device_name=texts,
    device_os=texts,
    create_time=st.none() | aware,
)
records = st.builds(
    BackupRecord,
    record_id=ids,
    module_code=st.none() | st.sampled_from(list(ModuleCode)),
    status=st.none() | st.sampled_from(list(RecordStatus)) | st.integers(3, 99),
    properties=texts,
    version=st.none() | st.integers(-(2**63), 2**63),
    create_time=st.none() | aware,
    end_time=st.none() | aware,
    device_info=st.none() | devices,
)


@given(records)
def test_record_round_trip(record: BackupRecord) -> None:
    wire = json.loads(json.dumps(unstructure(record)))
    assert structure(wire, BackupRecord) == record


@given(
    st.builds(ScopeFailure, scope_id=ids, error_code=st.integers(0, 99999999).map(str), msg=texts)
)
def test_scope_failure_round_trip(failure: ScopeFailure) -> None:
    assert structure(json.loads(json.dumps(unstructure(failure))), ScopeFailure) == failure


def test_unstructure_uses_wire_names_and_utc() -> None:
    when = datetime(2025, 1, 1, 8, 0, tzinfo=timezone(timedelta(hours=8)))
    wire = unstructure(DeviceEntity("1", device_os="x", create_time=when))
    assert wire == {"deviceId": "1", "deviceOS": "x", "createTime": "2025-01-01T00:00:00.000Z"}


# --- null lists (issue 11 item 4): a codec rule, the same for every list field ---------------

LIST_ANSWERS = [ScopeDeleteAnswer, ScopeAddAnswer, Page[ScopeInfo], Page[BackupRecord]]


def _list_fields(cls: type) -> list[str]:
    origin = get_origin(cls) or cls
    hints = get_type_hints(origin)
    return [a.name for a in attrs.fields(origin) if get_origin(hints[a.name]) is tuple]


@pytest.mark.parametrize("cls", LIST_ANSWERS, ids=lambda c: getattr(c, "__name__", str(c)))
def test_null_where_a_list_belongs_is_empty_for_every_list_field(cls: type) -> None:
    fields = _list_fields(cls)
    assert fields  # the table holds the classes with list fields
    decoded: object = structure({wire_name(name): None for name in fields}, cls)
    assert all(getattr(decoded, name) == () for name in fields)


def test_null_scope_lists_of_a_batch_answer() -> None:
    answer = ep.DELETE_SCOPES.answer({"code": 0, "scopeIdList": None, "failedScopeList": None}, DEL)
    assert answer == ScopeDeleteAnswer((), ())


# --- timestamps as epoch milliseconds (issue 11 item 12d) -------------------------------------

SEED_TIME = datetime(2025, 12, 17, 7, 59, 20, 752000, tzinfo=UTC)  # seed page 004
SEED_MS = 1765958360752


def _timestamp_fields() -> list[tuple[type, str]]:
    """Every datetime field of every model that is decoded from the wire."""
    found: list[tuple[type, str]] = []
    for cls in (DeviceEntity, BackupRecord, BackupFile, ScopeInfo, CreatedFile):
        hints = get_type_hints(cls)
        found += [(cls, a.name) for a in attrs.fields(cls) if datetime in get_args(hints[a.name])]
    return found


def _with_required(cls: type, **wire: object) -> dict[str, object]:
    required = {wire_name(a.name): "1" for a in attrs.fields(cls) if a.default is attrs.NOTHING}
    return {**required, **wire}


@pytest.mark.parametrize(("cls", "name"), _timestamp_fields())
@pytest.mark.parametrize(
    "value", [SEED_MS, str(SEED_MS), float(SEED_MS), "2025-12-17T07:59:20.752Z"]
)
def test_epoch_milliseconds_decode_like_iso(cls: type, name: str, value: object) -> None:
    decoded = getattr(structure(_with_required(cls, **{wire_name(name): value}), cls), name)
    assert decoded == SEED_TIME and decoded.tzinfo is UTC


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (0, datetime(1970, 1, 1, tzinfo=UTC)),
        (-1, datetime(1969, 12, 31, 23, 59, 59, 999000, tzinfo=UTC)),
        ("-1000", datetime(1969, 12, 31, 23, 59, 59, tzinfo=UTC)),
        (253402300799999, datetime(9999, 12, 31, 23, 59, 59, 999000, tzinfo=UTC)),
        (1.0e12, datetime(2001, 9, 9, 1, 46, 40, tzinfo=UTC)),
        # Digit strings that datetime.fromisoformat also reads (ISO basic format, 1704-10-12
        # 23:45 and 2025-12-17): a digit string is epoch milliseconds, always.
        ("1704101212345", datetime(2024, 1, 1, 9, 26, 52, 345000, tzinfo=UTC)),
        ("20251217", datetime(1970, 1, 1, 5, 37, 31, 217000, tzinfo=UTC)),
    ],
)
def test_epoch_millisecond_edges(value: object, expected: datetime) -> None:
    assert structure({"deviceId": "1", "createTime": value}, DeviceEntity).create_time == expected


@pytest.mark.parametrize(
    "value",
    [True, False, 1.5, float("nan"), float("inf"), 253402300800000, 10**30, "9" * 5000, "1e12",
     "12:30", [SEED_MS], {"ms": SEED_MS}],
)  # fmt: skip
def test_what_is_not_a_timestamp(value: object) -> None:
    with pytest.raises(ShapeError, match=r"DeviceEntity\.createTime"):
        structure({"deviceId": "1", "createTime": value}, DeviceEntity)


# --- lock IDs: no whitespace or control characters (API.md, hostile answers) ------------------

BAD_IDS = ["a\nb", "a\rb", "a b", "\x1b[2J", "a\u2028", "a\u200bb", "\udc80", "L@101\r\nX-Evil: 1"]


@pytest.mark.parametrize("bad", BAD_IDS)
def test_a_lock_id_with_whitespace_or_control_characters_is_refused(bad: str) -> None:
    """The SDK sends a lock ID back in a header and names it in log lines."""
    with pytest.raises(ShapeError, match=r"LockInfo\.lockId") as info:
        structure({"lockId": bad}, LockInfo)
    assert str(info.value).isprintable()
    good = "78e41c7e-db02-4d55-85b3-8153e4fefd2e@102"  # seed page 004's lock
    assert structure({"lockId": good}, LockInfo) == LockInfo(good)


@pytest.mark.parametrize(
    ("cls", "wire"),
    [(BackupRecord, "recordId"), (DeviceEntity, "deviceId"), (BackupFile, "fileId"),
     (ScopeInfo, "scopeId"), (ConfigInfo, "deviceId")],
)  # fmt: skip
def test_other_ids_are_data_for_the_caller(cls: type, wire: str) -> None:
    """Validated when passed back as an argument; never logged raw (see _codec)."""
    decoded: object = structure(_with_required(cls, **{wire: "a\nb"}), cls)
    assert getattr(decoded, attrs.fields(cls)[0].name) == "a\nb"


def test_the_ids_of_a_batch_answer_are_left_to_the_batch_helpers() -> None:
    """They are only matched against the IDs sent; any other is ignored (and logged)."""
    answer = structure(
        {"scopeIdList": ["1", 2, "3\t"], "failedScopeList": {"scopeId": "4\n", "errorCode": "1"}},
        ScopeDeleteAnswer,
    )
    assert answer.scope_id_list == ("1", "2", "3\t")
    assert answer.failed_scope_list == (ScopeFailure("4\n", "1"),)


# --- deep nesting inside the codec (issue 11 item 1) ------------------------------------------


def _deep(depth: int) -> list[object]:
    value: list[object] = []
    for _ in range(depth):
        value = [value]
    return value


@pytest.mark.parametrize("field", ["recordId", "properties", "createTime", "deviceInfo", "status"])
def test_deep_structures_in_known_fields_are_shape_errors(field: str) -> None:
    with pytest.raises(ShapeError, match=rf"BackupRecord\.{field}"):
        structure({"recordId": "1", field: _deep(5000)}, BackupRecord)


def test_deep_structures_in_unknown_fields_are_ignored() -> None:
    record = structure({"recordId": "1", "extra": _deep(5000)}, BackupRecord)
    assert record == BackupRecord("1")
