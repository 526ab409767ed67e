"""The manifest reader and ``plan``: strict lines, numbered refusals, nothing planned on error."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest

from koodrive_backup.jobs import (
    JournalError,
    ManifestError,
    Target,
    job_outcomes,
    job_status,
    plan_job,
    read_manifest,
)

USER, DEVICE = "1505084218764547200", "1842812272691451648"


def line(**fields: object) -> str:
    base: dict[str, object] = {"user_id": USER, "device_id": DEVICE, "module_code": "101"}
    base.update(fields)
    return json.dumps(base)


def test_targets_are_read_exactly() -> None:
    lines = [
        line(scopes="all"),
        "",
        line(device_id="7", module_code="100", scopes=["1", 2, "1"]),
        line(module_code="102", records_before="2025-01-01T00:00:00Z"),
    ]
    targets = list(read_manifest(lines))
    assert targets == [
        Target(USER, DEVICE, "101", "all", None, line=1),
        Target(USER, "7", "100", ("1", "2"), None, line=3),  # "1" and 1 are one ID
        Target(USER, DEVICE, "102", None, datetime(2025, 1, 1, tzinfo=UTC), line=4),
    ]


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("{oops", "not JSON"),
        ("[1, 2]", "must be a JSON object"),
        (line(scopes="all", scope="x"), "unknown key(s) 'scope'"),
        (line(), "nothing to clean"),
        (line(scopes="some"), '"scopes" must be "all"'),
        (line(scopes=["a/b"]), "scopes[0]"),
        (line(scopes=[1.5]), "scopes[0]"),
        (line(scopes="all", module_code=101), '"module_code" must be'),
        (line(scopes="all", device_id=".."), '"device_id"'),
        (line(scopes="all", user_id=""), '"user_id" must be a non-empty string'),
        (line(scopes="all", user_id="1\r\nX-Evil: 1"), "control characters"),
        (line(records_before="2025-01-01T00:00:00"), "needs a UTC offset"),
        (line(records_before="yesterday"), "not an ISO-8601 time"),
        (json.dumps({"device_id": DEVICE, "module_code": "101", "scopes": "all"}), "user_id"),
    ],
)
def test_a_bad_line_is_refused_with_its_number(text: str, reason: str) -> None:
    with pytest.raises(ManifestError) as caught:
        list(read_manifest([line(scopes="all", device_id="1"), text]))
    assert caught.value.line == 2
    assert reason in str(caught.value) and str(caught.value).startswith("manifest line 2: ")


def test_a_second_line_for_the_same_device_and_module_is_refused() -> None:
    lines = [line(scopes="all"), line(scopes=["1"], module_code="100"), line(scopes=["2"])]
    with pytest.raises(ManifestError, match=r"line 3: .* already the target of line 1"):
        list(read_manifest(lines))


def test_plan_writes_the_targets_and_listed_ids(tmp_path: Path) -> None:
    manifest = tmp_path / "m.jsonl"
    manifest.write_text(line(scopes=["3", "1", "3"]) + "\n" + line(module_code="100", scopes="all"))
    summary = plan_job(manifest, tmp_path / "job.db")
    assert (summary.targets, summary.ids, summary.to_discover) == (2, 2, 1)
    status = job_status(tmp_path / "job.db")
    assert (status.targets_total, status.planned, status.pending) == (2, 2, 2)
    assert [row[3] for row in job_outcomes(tmp_path / "job.db")] == ["3", "1"]


def test_nothing_is_planned_from_a_bad_manifest(tmp_path: Path) -> None:
    lines = [line(scopes=[str(n) for n in range(1000)]), line(scopes="all", device_id="x y")]
    with pytest.raises(ManifestError, match="line 2"):
        plan_job(lines, tmp_path / "job.db")
    assert list(tmp_path.iterdir()) == []  # no journal, no temporary file left
    with pytest.raises(JournalError, match="no journal"):
        job_status(tmp_path / "job.db")


def test_plan_never_overwrites_a_journal(tmp_path: Path) -> None:
    plan_job([line(scopes="all")], tmp_path / "job.db")
    with pytest.raises(FileExistsError, match="resume it with `cleanup run`"):
        plan_job([line(scopes=["1"])], tmp_path / "job.db")
    assert job_status(tmp_path / "job.db").planned == 0  # the first plan is intact


def test_a_file_that_is_not_a_journal_is_refused(tmp_path: Path) -> None:
    (tmp_path / "x.db").write_text("hello")
    with pytest.raises(JournalError, match="not a cleanup journal"):
        job_status(tmp_path / "x.db")
