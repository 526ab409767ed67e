"""Operator comforts through the console script: profiles, app credentials, token files,
log files, lock recovery, the fake server as one program, and shell completion."""

from __future__ import annotations

import asyncio
import json
import os
import re
import shutil
import signal
import socket
import sys
from pathlib import Path

import pytest
from cli_support import RUN_TIMEOUT, TOKEN, cli, command, env_for, fake, one_line_error

from koodrive_backup.testing import FakeKooDrive

__all__ = ["fake"]  # the fixture, imported for pytest

STAMP = r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z"


def _private(path: Path, text: str) -> Path:
    path.write_text(text)
    os.chmod(path, 0o600)
    return path


async def test_a_profile_holds_the_whole_configuration(fake: FakeKooDrive, tmp_path: Path) -> None:
    device_id = fake.add_device()
    folder = tmp_path / "koodrive-backup"
    folder.mkdir()
    _private(folder / "staging.token", fake.token + "\n")
    (folder / "config.toml").write_text(
        f'[profiles.staging]\nbase_url = "{fake.url}"\nuser_id = "{fake.user_id}"\n'
        'token_file = "staging.token"\n'
    )
    env = env_for(None, XDG_CONFIG_HOME=str(tmp_path))

    named = await cli("devices", "list", "--ids", "--profile", "staging", env=env)
    unnamed = await cli("devices", "list", "--ids", env=env)

    assert named.status == 0, named.err
    assert named.out.split() == [device_id]
    assert unnamed.status == 2 and "KOODRIVE_BASE_URL" in one_line_error(unnamed)


async def test_app_credentials_and_a_token_file_from_the_environment(tmp_path: Path) -> None:
    async with FakeKooDrive(token=TOKEN, app_id="ops-app", app_secret="ops-secret-1") as fake:
        device_id = fake.add_device()
        secret = _private(tmp_path / "app.secret", "ops-secret-1\n")
        token = _private(tmp_path / "token", TOKEN + "\n")
        base = {"KOODRIVE_BASE_URL": fake.url, "KOODRIVE_USER_ID": fake.user_id}
        by_env = env_for(
            None, **base, KOODRIVE_APP_ID="ops-app", KOODRIVE_APP_SECRET="ops-secret-1"
        )
        by_flag = env_for(None, **base)
        by_token_file = env_for(None, **base, KOODRIVE_TOKEN_FILE=str(token))

        runs = await asyncio.gather(
            cli("devices", "list", "--ids", env=by_env),
            cli("devices", "list", "--ids", "--app-id", "ops-app", "--app-secret-file",
                str(secret), env=by_flag),
            cli("devices", "list", "--ids", env=by_token_file),
        )  # fmt: skip
        signed = [r.headers["Authorization"] for r in fake.requests]

    for run in runs:
        assert run.status == 0, run.err
        assert run.out.split() == [device_id] and "ops-secret-1" not in run.out + run.err
    assert [s.split(" ")[0] for s in signed].count("HMAC-SHA256") == 2
    assert signed.count(f"Bearer {TOKEN}") == 1


async def test_log_file_and_verbose_lines_carry_timestamps(
    fake: FakeKooDrive, tmp_path: Path
) -> None:
    device_id = fake.add_device()
    ids = fake.add_scopes(device_id, 5)
    log = tmp_path / "audit.log"

    run = await cli(
        "--log-file", str(log), "scopes", "delete", device_id, *ids, "-v", "--token", TOKEN,
        fake=fake,
    )  # fmt: skip

    assert run.status == 0, run.err
    lines = log.read_text().splitlines()
    assert all(re.match(STAMP + " (INFO|WARNING|DEBUG|ERROR) koodrive_backup", x) for x in lines)
    text = "\n".join(lines)
    assert f"command: koodrive-backup --log-file {log} scopes delete {device_id}" in text
    assert "--token ***" in text and TOKEN not in text
    assert "deleted 5, already gone 0, failed 0, unprocessed 0; exit status 0" in text
    verbose = [x for x in run.err.splitlines() if " koodrive-backup INFO: " in x]
    assert verbose and all(re.match(STAMP, x) for x in verbose)


async def test_a_stuck_lock_is_waited_for(fake: FakeKooDrive) -> None:
    held = fake.add_lock("101", ttl=1.0)  # a lock left behind: expires in a second

    waited = await cli("lock", "wait", "101", "--interval", "0.2", fake=fake)
    assert waited.status == 0, waited.err
    assert re.search(r"The lock of module 101 is free \(waited \d+ s\)", waited.out)
    progress = [x for x in waited.err.splitlines() if x.startswith("progress: waiting")]
    assert progress and "already held; it expires in 1 s" in progress[0]
    assert not fake.has_lock(held) and fake.route_counts["releaseBackupLock"] == 1

    fake.add_lock("101")  # held for 10 minutes
    given_up = await cli("lock", "wait", "101", "--interval", "0.1", "--max-wait", "0.3", fake=fake)
    assert given_up.status == 1
    assert "still held" in one_line_error(given_up)

    kept = await cli("lock", "wait", "102", "--keep", "--json", fake=fake)
    assert kept.status == 0 and fake.has_lock(kept.json()["lock_id"])


async def test_fake_server_is_the_same_program_as_python_m_testing() -> None:
    env = env_for(None)
    ours = await cli("fake-server", "--help", env=env)
    theirs = await cli("--help", prefix=[sys.executable, "-m", "koodrive_backup.testing"], env=env)

    assert ours.status == theirs.status == 0
    normalized = re.sub(r"\s+", " ", ours.out.replace("koodrive-backup fake-server", "PROG"))
    expected = re.sub(r"\s+", " ", theirs.out.replace("python -m koodrive_backup.testing", "PROG"))
    assert normalized == expected
    assert "--port PORT port to listen on; 0 picks a free one (default: 8080)" in normalized
    assert "--debug" in normalized and "--seed-records N records to seed (default: 0)" in normalized


async def test_a_busy_port_is_one_clean_error() -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        run = await cli("fake-server", "--port", str(port), env=env_for(None))

    assert run.status == 2
    assert one_line_error(run) == (
        f"koodrive-backup: error: cannot listen on 127.0.0.1:{port}: Address already in use "
        "(choose another --port, or --port 0 for a free one)"
    )


async def test_fake_server_debug_logs_each_request() -> None:
    proc = await asyncio.create_subprocess_exec(
        *command(), "--json", "fake-server", "--port", "0", "--debug",
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE, env=env_for(None),
    )  # fmt: skip
    assert proc.stdout is not None and proc.stderr is not None
    info = json.loads(await asyncio.wait_for(proc.stdout.readline(), RUN_TIMEOUT))
    env = env_for(None, KOODRIVE_BASE_URL=info["url"], KOODRIVE_USER_ID=info["user_id"])
    env["KOODRIVE_TOKEN"] = info["token"]
    listed = await cli("devices", "list", "--ids", env=env)
    line = await asyncio.wait_for(proc.stderr.readline(), RUN_TIMEOUT)
    proc.send_signal(signal.SIGINT)
    await asyncio.wait_for(proc.communicate(), RUN_TIMEOUT)

    assert listed.out.split() == [info["device_id"]]
    assert re.search(r"DEBUG: GET /koodrive/ose/v1/backup/device -> 200", line.decode())
    assert proc.returncode == 0


async def test_bash_completion_completes_commands_and_options(tmp_path: Path) -> None:
    script = await cli("completion", "bash", env=env_for(None))
    assert script.status == 0, script.err
    path = tmp_path / "koodrive-backup.bash"
    path.write_text(script.out)
    probe = (
        f"source {path}\n"
        'ask() { COMP_WORDS=("$@"); COMP_CWORD=$(($# - 1)); '
        '_shtab_koodrive_backup koodrive-backup "${@: -1}" "${@: -2:1}"; '
        'echo "${COMPREPLY[*]}"; }\n'
        "ask koodrive-backup sco\n"
        "ask koodrive-backup scopes delete 1 --from\n"
        "ask koodrive-backup record list --module 1\n"
        "ask koodrive-backup fake-server --seed-s\n"
    )
    run = await cli("-c", probe, prefix=["bash"], env=env_for(None))

    assert run.status == 0, run.err
    assert run.out.splitlines() == ["scopes scope", "--from-file", "100 101 102", "--seed-scopes"]


async def test_zsh_completion_script() -> None:
    run = await cli("completion", "zsh", env=env_for(None))
    assert run.status == 0
    assert run.out.startswith("#compdef koodrive-backup")
    assert "--unprocessed-out" in run.out and "--max-not-found" in run.out
    zsh = shutil.which("zsh")
    if zsh is None:
        pytest.skip("zsh is not installed: the script's syntax is not checked")
    checked = await cli("-n", "-c", run.out, prefix=[zsh], env=env_for(None))
    assert checked.status == 0, checked.err
