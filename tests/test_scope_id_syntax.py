"""Scope IDs follow the path-ID syntax (issue 11 item 5, API.md "Resilience options").

``^[A-Za-z0-9._@=+:-]{1,128}$``: a comma, a quote, a space, non-ASCII text or a lone surrogate
is refused with ``ValueError`` naming its position, before any request, in the SDK and in
the CLI (whose message says what an ID looks like and names the line of an ID file).
"""

from __future__ import annotations

import asyncio
import os
import sys
from pathlib import Path

import pytest

from koodrive_backup import BackupClient
from koodrive_backup.cli._errors import UsageError
from koodrive_backup.cli._ids import read_ids
from koodrive_backup.testing import FakeKooDrive

SYNTAX = "1 to 128 characters from A-Z a-z 0-9 . _ @ = + : -"


@pytest.mark.parametrize(
    "bad",
    ["id1,id2,id3,", '"123"', "12 3", "\u00e9t\u00e9", "a\ud800b", "\udcff", "x" * 129, "a;b"],
)
async def test_a_bad_id_in_a_later_chunk_is_refused_before_any_request(
    fake: FakeKooDrive, client: BackupClient, bad: str
) -> None:
    device_id = fake.add_device()
    ids = [*fake.add_scopes(device_id, 5), bad]  # chunk 3 of 3 at chunk_size=2
    with pytest.raises(ValueError, match=r"scope_ids\[5\]") as info:
        await client.delete_scopes(device_id, ids, chunk_size=2)
    assert "^[A-Za-z0-9._@=+:-]{1,128}$" in str(info.value)
    assert fake.request_count == 0 and all(fake.has_scope(device_id, i) for i in ids[:5])


async def test_ids_of_the_syntax_and_ints_are_sent(
    fake: FakeKooDrive, client: BackupClient
) -> None:
    device_id = fake.add_device()
    ids: list[str | int] = ["1760265745989677300VW5TYWZlSW50ZWdlcg==", "a.b_c@d=e+f:g-h", 123]
    result = await client.delete_scopes(device_id, ids)
    assert [f.scope_id for f in result.failed] == ["1760265745989677300VW5TYWZlSW50ZWdlcg==",
                                                   "a.b_c@d=e+f:g-h", "123"]  # fmt: skip
    assert fake.request_count == 1  # sent, and answered "not found" by the fake


def test_an_id_file_line_with_commas_is_refused_with_its_number(tmp_path: Path) -> None:
    path = tmp_path / "ids.csv"
    path.write_text("1842846715527366528\nid1,id2,id3,\n", encoding="utf-8")
    with pytest.raises(UsageError) as info:
        read_ids([], str(path), "scope")
    message = str(info.value)
    assert "line 2" in message and "'id1,id2,id3,'" in message and SYNTAX in message


async def test_the_cli_refuses_a_csv_line_before_any_request(
    fake: FakeKooDrive, tmp_path: Path
) -> None:
    device_id = fake.add_device()
    path = tmp_path / "ids.csv"
    path.write_text("id1,id2,id3,\n", encoding="utf-8")
    env = {k: v for k, v in os.environ.items() if not k.startswith("KOODRIVE_")}
    env.update(KOODRIVE_BASE_URL=fake.url, KOODRIVE_USER_ID=fake.user_id, KOODRIVE_TOKEN=fake.token)
    child = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "koodrive_backup", "scopes", "delete", device_id,
        "--from-file", str(path),
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE, env=env,
    )  # fmt: skip
    _, err = await asyncio.wait_for(child.communicate(), 60)
    assert child.returncode == 2, err
    assert "line 1" in err.decode() and SYNTAX in err.decode()
    assert fake.request_count == 0
