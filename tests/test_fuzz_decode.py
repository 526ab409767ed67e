"""Fuzzing the answer decoder (issue 11): whatever a server sends, only typed errors come out.

- ``read_payload`` (and ``loads`` under it) on arbitrary bytes and arbitrary JSON, for success
  and error statuses: a JSON object or a ``KooDriveError``, nothing else;
- ``_codec.structure`` for every attrs model of ``koodrive_backup.models`` and every answer
  type of the endpoints: an instance or a ``ShapeError`` (which the endpoints wrap);
- every endpoint decoder on arbitrary payloads: a value or a ``KooDriveError``.

Runs are bounded (``max_examples``) so the suite stays fast; ``.hypothesis/`` is ignored by git.
"""

from __future__ import annotations

import inspect
import json
from collections.abc import Callable
from functools import partial
from typing import Any

import attrs
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from koodrive_backup import KooDriveError, models
from koodrive_backup import _endpoints as ep
from koodrive_backup._answers import read_payload
from koodrive_backup._codec import ShapeError, structure, structure_explained, wire_name
from koodrive_backup._protocol import Endpoint, RawResponse

# Bounded runs: ~30 parametrized targets, so a few dozen examples each keep the file at a few
# seconds; the answer parser itself gets more.
BOUNDED = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
PARSER_RUNS = settings(BOUNDED, max_examples=200)

# Every attrs model, except the results the SDK builds itself and never decodes (they hold
# exceptions) and the bare generic Page (decoded as Page[X], below).
NOT_DECODED = {models.DeleteScopesResult, models.DeleteRecordsResult, models.AddScopesResult}
MODELS = [
    cls
    for _, cls in inspect.getmembers(models, inspect.isclass)
    if attrs.has(cls) and cls not in NOT_DECODED and cls is not models.Page
]
ANSWERS = [ep.ScopeDeleteAnswer, ep.ScopeAddAnswer, ep.FailedScopeListItem]
PAGES = [
    models.Page[models.BackupRecord],
    models.Page[models.BackupFile],
    models.Page[models.ScopeInfo],
]
TARGETS = [*MODELS, *ANSWERS, *PAGES]

GET = ep.GET_RECORD.request({"record_id": "1"})
DELETE = ep.DELETE_RECORD.request({"record_id": "1", "lock_id": "L"})
STATUSES = st.sampled_from([200, 201, 204, 302, 400, 401, 404, 409, 418, 429, 500, 503])

# Text with everything a hostile server may send: controls, separators, lone surrogates.
texts = st.text(st.characters(exclude_categories=()), max_size=12)
scalars = (
    st.none()
    | st.booleans()
    | st.integers()
    | st.integers(min_value=-(10**60), max_value=10**60)  # beyond 64 bits
    | st.floats(allow_nan=True, allow_infinity=True)
    | texts
    | st.sampled_from(["0", "-0", "0.0", "1765958360752", "2025-12-17T07:59:20.752Z", ""])
)
json_values = st.recursive(
    scalars,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(texts, inner, max_size=4),
    max_leaves=16,
)


def deep(depth: int) -> list[Any]:
    value: list[Any] = []
    for _ in range(depth):
        value = [value]
    return value


deep_values = st.integers(min_value=900, max_value=3000).map(deep)


def shaped_like(cls: Any) -> st.SearchStrategy[dict[str, Any]]:
    """Objects with some of ``cls``'s own wire names, holding anything: reaches the hooks."""
    origin = getattr(cls, "__origin__", cls)
    names = [wire_name(a.name) for a in attrs.fields(origin)]
    return st.fixed_dictionaries({}, optional=dict.fromkeys(names, json_values | deep_values))


def anything_for(cls: Any) -> st.SearchStrategy[Any]:
    return shaped_like(cls) | json_values


def deep_body(depth: int, where: str) -> bytes:
    """Built as bytes: json.dumps itself would recurse on such a value."""
    nest = b"[" * depth + b"]" * depth
    return nest if where == "top" else b'{"code":0,"' + where.encode() + b'":' + nest + b"}"


def body_bytes() -> st.SearchStrategy[bytes]:
    as_json = json_values.map(lambda v: json.dumps(v).encode())
    wrapped = st.fixed_dictionaries(
        {}, optional={"code": json_values, "msg": json_values, "data": json_values}
    ).map(lambda v: json.dumps(v).encode())
    where = st.sampled_from(["top", "data", "msg", "code", "unknown"])
    deep_bodies = st.builds(deep_body, st.integers(min_value=900, max_value=3000), where)
    return st.binary(max_size=300) | as_json | wrapped | deep_bodies


@PARSER_RUNS
@given(status=STATUSES, body=body_bytes(), expects_data=st.booleans())
def test_read_payload_only_raises_koodrive_errors(
    status: int, body: bytes, expects_data: bool
) -> None:
    req = GET if expects_data else DELETE
    try:
        payload = read_payload(RawResponse(status, {}, body), req)
    except KooDriveError as exc:
        assert str(exc).isprintable() and len(str(exc)) < 2000
    else:
        assert 200 <= status < 300 and type(payload) is dict


@pytest.mark.parametrize("cls", TARGETS, ids=lambda c: getattr(c, "__name__", str(c)))
def test_structure_only_raises_shape_errors(cls: Any) -> None:
    @BOUNDED
    @given(data=anything_for(cls))
    def check(data: Any) -> None:
        try:
            decoded = structure(data, cls)
        except ShapeError as exc:
            assert str(exc).isprintable()
        else:
            assert isinstance(decoded, getattr(cls, "__origin__", cls))

    check()


@pytest.mark.parametrize("cls", TARGETS, ids=lambda c: getattr(c, "__name__", str(c)))
def test_the_generated_fast_path_agrees_with_cattrs_own(cls: Any) -> None:
    """The generated structure functions decide; cattrs' own explain failures: they must
    accept the same data and decode it to equal values."""

    @BOUNDED
    @given(data=anything_for(cls))
    def check(data: Any) -> None:
        try:
            reference = structure_explained(data, cls)
        except ShapeError:
            with pytest.raises(ShapeError):
                structure(data, cls)
        else:
            assert structure(data, cls) == reference

    check()


def _decoders() -> dict[str, Callable[[Any], object]]:
    """Every endpoint's answer decoder, by route name."""
    return {route: partial(_decode_with, endpoint) for route, endpoint in ep.ENDPOINTS.items()}


def _decode_with(endpoint: Endpoint[Any], payload: Any) -> object:
    return endpoint.answer(payload, GET)


@pytest.mark.parametrize("name", sorted(_decoders()))
def test_endpoint_decoders_only_raise_koodrive_errors(name: str) -> None:
    decode = _decoders()[name]
    fields = st.fixed_dictionaries(
        {},
        optional={
            "data": anything_for(models.BackupRecord) | st.lists(json_values, max_size=3),
            "nextCursor": json_values,
            "scopeIdList": json_values,
            "failedScopeList": json_values,
            "scopeList": json_values,
        },
    )

    @BOUNDED
    @given(payload=fields | st.dictionaries(texts, json_values, max_size=4))
    def check(payload: dict[str, Any]) -> None:
        try:
            decode(payload)
        except KooDriveError as exc:
            assert str(exc).isprintable()

    check()
