"""Decoding: the seed pages' examples, exact IDs, lenient shapes, and hypothesis round trips."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta, timezone

import pytest
from hypothesis import given
from hypothesis import strategies as st

from koodrive_backup import (
    BackupRecord,
    DecodeError,
    DeleteScopesResult,
    DeviceEntity,
    ModuleCode,
    RecordStatus,
    ScopeFailure,
)
from koodrive_backup import _endpoints as ep
from koodrive_backup._codec import ShapeError, structure, unstructure, wire_name
from koodrive_backup._endpoints import ScopeDeleteAnswer

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
            {"recordId": "1", "deviceInfo": {"deviceId": "2", "createTime": 5}},
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
