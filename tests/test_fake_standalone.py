"""Fake server: standalone mode (``python -m koodrive_backup.testing``) and pytest fixtures."""

from __future__ import annotations

import asyncio
import io
import json
import os
import signal
import sys
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from test_fake_support import x_date

from koodrive_backup.testing import FakeKooDrive
from koodrive_backup.testing.__main__ import main, parse_args, serve

Factory = Callable[..., Awaitable[FakeKooDrive]]


def _lines(path: str | Path, *, missing_ok: bool = False) -> list[str]:
    if missing_ok and not Path(path).exists():
        return []
    return Path(path).read_text().split()


async def _delete(info: dict[str, Any], ids: list[str]) -> Any:
    headers = {
        "Authorization": f"Bearer {info['token']}",
        "X-User-Id": info["user_id"],
        "X-Date": x_date(),
    }
    url = f"{info['url']}/koodrive/ose/v1/backup/device/{info['device_id']}/scope"
    async with (
        aiohttp.ClientSession() as session,
        session.delete(url, json={"scopeIdList": ids}, headers=headers) as resp,
    ):
        assert resp.status == 200
        return await resp.json()


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
async def test_standalone_process(sig: signal.Signals) -> None:
    args = ["--port", "0", "--json", "--seed-scopes", "5", "--seed-records", "2"]
    proc = await asyncio.create_subprocess_exec(
        *(sys.executable, "-m", "koodrive_backup.testing", *args),
        stdout=asyncio.subprocess.PIPE,
        env={**os.environ, "PYTHONWARNINGS": "error"},
    )
    assert proc.stdout is not None
    try:
        line = await asyncio.wait_for(proc.stdout.readline(), timeout=30)
        info = json.loads(line)
        assert info["url"].startswith("http://127.0.0.1:")
        assert info["scope_count"] == 5 and info["record_count"] == 2
        ids = _lines(info["scope_ids_file"])
        assert len(_lines(info["record_ids_file"])) == 2
        reply = await _delete(info, ids[:2])
        assert reply["scopeIdList"] == ids[:2]
    finally:
        if proc.returncode is None:
            proc.send_signal(sig)
        rest = await asyncio.wait_for(proc.stdout.read(), timeout=30)
        code = await asyncio.wait_for(proc.wait(), timeout=30)
    assert code == 0
    assert rest == b""  # one JSON line, nothing else
    assert _lines(info["record_ids_file"], missing_ok=True) == []  # temp files removed


async def test_serve_in_process_human_output(tmp_path: Path) -> None:
    ids_file = tmp_path / "scopes.txt"
    options = parse_args(
        ["--port", "0", "--seed-scopes", "3", "--scope-ids-file", str(ids_file), "--seed", "4"]
    )
    out = io.StringIO()
    stop = asyncio.Event()
    task = asyncio.create_task(serve(options, out=out, stop=stop))
    for _ in range(500):
        if "Press Ctrl+C" in out.getvalue():
            break
        await asyncio.sleep(0.01)
    text = out.getvalue()
    stop.set()
    await task
    assert "listening on http://127.0.0.1:" in text
    assert "device_id:" in text and "token:" in text
    assert len(_lines(ids_file)) == 3  # a named file is kept


def test_main_argument_errors(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exc:
        main(["--port", "0", "--app-id", "only-id"])
    assert exc.value.code == 2
    assert "--app-secret" in capsys.readouterr().err


async def test_fixture_gives_started_fake(koodrive_fake: FakeKooDrive) -> None:
    assert koodrive_fake.url.startswith("http://127.0.0.1:")
    assert koodrive_fake.port > 0
    assert len(koodrive_fake.user_id) == 19 and koodrive_fake.token


async def test_factory_fixture_options(koodrive_fake_factory: Factory) -> None:
    fake = await koodrive_fake_factory(lock_ttl=5.0, latency=0.0, token="t", user_id="u")
    assert (fake.lock_ttl, fake.token, fake.user_id) == (5.0, "t", "u")
    assert fake.url != ""


def test_plugin_registered_by_entry_point(pytestconfig: pytest.Config) -> None:
    assert pytestconfig.pluginmanager.hasplugin("koodrive_backup")


async def test_lifecycle_without_context_manager() -> None:
    fake = FakeKooDrive()
    with pytest.raises(RuntimeError):
        _ = fake.url
    await fake.start()
    try:
        with pytest.raises(RuntimeError):
            await fake.start()
        assert fake.url.endswith(f":{fake.port}")
    finally:
        await fake.close()
    await fake.close()  # idempotent
    with pytest.raises(RuntimeError):
        _ = fake.url


def test_constructor_checks() -> None:
    with pytest.raises(TypeError):
        FakeKooDrive(app_id="a")
    fake = FakeKooDrive()
    with pytest.raises(ValueError):
        fake.latency = -1
    with pytest.raises(KeyError):
        fake.add_scopes("1", 1)
    with pytest.raises(ValueError):
        fake.add_record(fake.add_device(), module_code="999")
