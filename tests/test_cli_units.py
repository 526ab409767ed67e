"""In-process unit tests of the CLI's pure parts (configuration, input, accounting)."""

from __future__ import annotations

import argparse
import logging
import os
import signal
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import attrs
import pytest

from koodrive_backup.batching import BatchResult, stops_batch
from koodrive_backup.cli._argtypes import point_in_time, record_status, share
from koodrive_backup.cli._bulk import SCOPES, BulkOutcome
from koodrive_backup.cli._config import TOKEN_FLAG_WARNING, settings_from
from koodrive_backup.cli._errors import UsageError
from koodrive_backup.cli._ids import read_ids, write_ids
from koodrive_backup.cli._logs import log_command
from koodrive_backup.cli._parser import parse
from koodrive_backup.errors import (
    APIConnectionError,
    APITimeoutError,
    AuthenticationError,
    BadRequestError,
    DecodeError,
    NotFoundError,
    RateLimitError,
    ServerError,
)
from koodrive_backup.models import ScopeFailure

SECRET = "unit-test-token-0123456789"


def _args(*argv: str) -> argparse.Namespace:
    return parse(["record", "get", "1", *argv])


# --- configuration ----------------------------------------------------------------------------


def test_flags_win_over_the_environment_and_the_token_flag_warns() -> None:
    warnings: list[str] = []
    env = {"KOODRIVE_BASE_URL": "https://env", "KOODRIVE_USER_ID": "7", "KOODRIVE_TOKEN": "t"}
    settings = settings_from(
        _args("--base-url", "https://flag", "--token", SECRET), env, warnings.append
    )

    token = settings.credential.token
    assert (settings.base_url, settings.user_id, token) == ("https://flag", "7", SECRET)
    assert warnings == [TOKEN_FLAG_WARNING]
    assert SECRET not in repr(settings)


def test_rate_is_an_option_of_the_commands_that_send_many_requests() -> None:
    env = {"KOODRIVE_BASE_URL": "https://h", "KOODRIVE_USER_ID": "7", "KOODRIVE_TOKEN": "t"}
    scopes = parse(["scopes", "delete", "9", "1", "--rate", "2.5"])
    settings = settings_from(scopes, env, print)
    assert settings.rate == 2.5
    assert settings.rate_limit is not None and settings.rate_limit.per_second == 2.5
    clients = [settings.client(), settings.client("8")]
    assert all(c.rate_limit is settings.rate_limit for c in clients)  # one limit for the run
    before = parse(["--rate", "3", "scopes", "delete", "9", "1"])  # a global option
    assert settings_from(before, env, print).rate == 3.0
    unlimited = settings_from(_args(), env, print)  # not given: no limit
    assert unlimited.rate is None and unlimited.client().rate_limit is None
    assert parse(["demo", "--rate", "50"]).rate == 50.0
    assert parse(["demo"]).rate is None
    for bad in ("0", "-1", "fast", "inf", "nan"):
        with pytest.raises(SystemExit):
            parse(["scopes", "delete", "9", "1", "--rate", bad])


def test_token_file_is_read_and_a_readable_one_warned(tmp_path: Path) -> None:
    path = tmp_path / "token"
    path.write_text(SECRET + "\n")
    os.chmod(path, 0o644)
    warnings: list[str] = []
    env = {"KOODRIVE_BASE_URL": "https://h", "KOODRIVE_USER_ID": "7", "KOODRIVE_TOKEN": "env"}

    settings = settings_from(_args("--token-file", str(path)), env, warnings.append)

    assert settings.credential.token == SECRET
    assert len(warnings) == 1 and "readable by other users" in warnings[0]
    assert all(SECRET not in w for w in warnings)


@pytest.mark.parametrize(
    ("argv", "env", "message"),
    [
        ((), {}, "KOODRIVE_BASE_URL"),
        ((), {"KOODRIVE_BASE_URL": "https://h", "KOODRIVE_USER_ID": "7"}, "KOODRIVE_TOKEN"),
        (("--token", "a", "--token-file", "b"), {}, "not both"),
        (("--token-file", "/nonexistent/token"), {}, "cannot read the token file"),
    ],
)
def test_missing_or_conflicting_configuration_is_a_usage_error(
    argv: tuple[str, ...], env: dict[str, str], message: str
) -> None:
    with pytest.raises(UsageError, match=message):
        settings_from(_args(*argv), env, lambda _: None)


# --- input and output files -------------------------------------------------------------------


def test_ids_from_arguments_then_file(tmp_path: Path) -> None:
    path = tmp_path / "ids.txt"
    path.write_text(" 3\r\n\n4\n", encoding="utf-8")
    assert read_ids(["1", "2"], str(path), "scope") == ["1", "2", "3", "4"]


@pytest.mark.parametrize(
    ("lines", "where"),
    [
        ("1\n2 3\n", "line 2: .* several IDs on one line"),
        ("1\n2,3,4\n", "line 2: .* several IDs on one line"),
        ("1\n\x00\n", "line 2"),
        ("a\u200bb\n", "line 1"),
        ("1\n..\n", "line 2"),
        ("1\n" + "7" * 129 + "\n", "line 2"),
        ('"1"\n', "line 1"),  # quoted: not an ID
    ],
)
def test_a_bad_line_names_its_number(tmp_path: Path, lines: str, where: str) -> None:
    path = tmp_path / "ids.txt"
    path.write_text(lines, encoding="utf-8")
    with pytest.raises(UsageError, match=where):
        read_ids([], str(path), "scope")


def test_no_ids_at_all_is_a_usage_error() -> None:
    with pytest.raises(UsageError, match="no scope IDs"):
        read_ids([], None, "scope")


def test_write_ids_replaces_the_file_whole(tmp_path: Path) -> None:
    path = tmp_path / "left.txt"
    path.write_text("old\n")
    write_ids(str(path), ["1", "2"])
    assert path.read_text() == "1\n2\n"
    write_ids(str(path), [])
    assert path.read_text() == ""
    assert os.listdir(tmp_path) == ["left.txt"]  # no temporary file left behind


# --- accounting -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("error", "stops"),
    [
        (AuthenticationError(401), True),
        (BadRequestError(400), True),
        (NotFoundError(404), True),
        (RateLimitError(429), False),
        (ServerError(503), False),
        (APIConnectionError("refused", request_sent=False), True),
        (APIConnectionError("reset", request_sent=True), False),
        (APITimeoutError("slow", request_sent=False), False),
        (DecodeError("bad", status=200), False),
    ],
)
def test_which_chunk_errors_stop_the_run(error: Exception, stops: bool) -> None:
    assert stops_batch(error) is stops  # type: ignore[arg-type]


def _outcome(result: BatchResult[str, ScopeFailure], unique: tuple[str, ...]) -> BulkOutcome:
    return BulkOutcome(result, SCOPES, unique_ids=unique, total=4, chunks_settled=2, elapsed=1)


def test_the_exit_status_follows_the_outcome() -> None:
    not_found = ScopeFailure("b", "15000418", "not found")
    repeat = ScopeFailure("a", "15000424", "repeated")
    result: BatchResult[str, ScopeFailure] = BatchResult(
        ("a",), (not_found, repeat), ("c",), (ServerError(500),), ("a", "b")
    )
    outcome = _outcome(result, ("a", "b", "c"))

    assert outcome.not_gone == ("c",)
    assert outcome.already_gone == ("b",) and outcome.repeated == (repeat,)
    assert outcome.refused == ()  # not found and repeats are not failures
    assert outcome.exit_status == 1
    stopped = attrs.evolve(result, stopped_by=AuthenticationError(401))
    assert attrs.evolve(outcome, result=stopped).exit_status == 3
    stopped = attrs.evolve(result, stopped_by=NotFoundError(404))
    assert attrs.evolve(outcome, result=stopped).exit_status == 4
    assert attrs.evolve(outcome, interrupted=signal.SIGINT).exit_status == 130
    everything: BatchResult[str, object] = BatchResult(("a", "b"), (), (), (), ("a", "b"))
    assert attrs.evolve(outcome, result=everything, unique_ids=("a", "b")).exit_status == 0


def test_mostly_not_found_exits_5_above_the_threshold_but_not_in_a_dry_run() -> None:
    absent = tuple(ScopeFailure(i, "15000418", "not found") for i in "bcd")
    result: BatchResult[str, ScopeFailure] = BatchResult(("a",), absent, (), (), tuple("abcd"))
    outcome = _outcome(result, tuple("abcd"))  # 3 of 4 not found: 75%

    assert outcome.not_gone == () and outcome.mostly_not_found
    assert outcome.exit_status == 5
    assert attrs.evolve(outcome, max_not_found=0.75).exit_status == 0  # not *more* than 75%
    assert attrs.evolve(outcome, dry_run=True).exit_status == 0
    assert attrs.evolve(outcome, interrupted=signal.SIGTERM).exit_status == 143


# --- layered settings: flags > named profile > environment > default profile -----------------

PROFILES = """\
default_profile = "home"

[profiles.home]
base_url = "https://home.example"
user_id = "11"
token_file = "home.token"

[profiles.fleet]
base_url = "https://fleet.example"
app_id = "the-app"
app_secret_file = "secrets/fleet.secret"  # relative to the file's folder
timeout = 7
rate = 40
"""


def _config(tmp_path: Path, text: str = PROFILES) -> dict[str, str]:
    folder = tmp_path / "koodrive-backup"
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "config.toml").write_text(text)
    (folder / "home.token").write_text("home-token\n")
    os.chmod(folder / "home.token", 0o600)
    return {"XDG_CONFIG_HOME": str(tmp_path)}


def test_the_environment_wins_over_the_default_profile(tmp_path: Path) -> None:
    env = _config(tmp_path) | {"KOODRIVE_BASE_URL": "https://env.example"}
    settings = settings_from(_args(), env, lambda _: None)

    assert settings.base_url == "https://env.example"  # environment over the default profile
    assert settings.user_id == "11" and settings.credential.token == "home-token"
    assert settings.credential.origin == "profile 'home'"


def test_a_named_profile_wins_over_the_environment(tmp_path: Path) -> None:
    env = _config(tmp_path)
    secret = tmp_path / "koodrive-backup" / "secrets" / "fleet.secret"
    secret.parent.mkdir()
    secret.write_text("s3cret\n")
    os.chmod(secret, 0o600)
    env |= {"KOODRIVE_BASE_URL": "https://env.example", "KOODRIVE_TOKEN": "t"}
    settings = settings_from(_args("--profile", "fleet", "--user-id", "5"), env, lambda _: None)

    assert settings.base_url == "https://fleet.example" and settings.user_id == "5"
    assert settings.timeout == 7.0 and settings.rate == 40.0  # a profile may limit the rate
    argv = ("--profile", "fleet", "--user-id", "5", "--rate", "2")
    flagged = settings_from(_args(*argv), env, print)
    assert flagged.rate == 2.0 and flagged.rate_limit is not None  # the flag wins
    credential = settings.credential  # app credentials, whole, from the profile
    assert (credential.app_id, credential.app_secret, credential.token) == (
        "the-app",
        "s3cret",
        None,
    )
    assert "s3cret" not in repr(settings)
    by_env = settings_from(_args("--user-id", "5"), env | {"KOODRIVE_PROFILE": "fleet"}, print)
    assert by_env.base_url == "https://fleet.example"


@pytest.mark.parametrize(
    ("text", "argv", "message"),
    [
        (PROFILES, ("--profile", "nope"), "no profile 'nope' .*profiles: fleet, home"),
        ("[profiles.x]\nbase_ur = 'h'\n", ("--profile", "x"), "unknown key 'base_ur'"),
        ("[profiles.x]\ntimeout = 'long'\n", ("--profile", "x"), "timeout has the wrong type"),
        ("[profiles.x]\nrate = true\n", ("--profile", "x"), "rate has the wrong type"),
        ("[profiles.x]\nrate = 0\n", ("--profile", "x"), "rate must be > 0, not 0"),
        ("[profiles.x]\ntimeout = -1.5\n", ("--profile", "x"), "timeout must be > 0"),
        ("[profiles.x\n", ("--profile", "x"), "cannot read"),
        ("[profiles.x]\napp_id = 'a'\n", ("--profile", "x"), "need both an app ID and"),
    ],
)
def test_a_bad_profile_is_a_usage_error(
    tmp_path: Path, text: str, argv: tuple[str, ...], message: str
) -> None:
    with pytest.raises(UsageError, match=message):
        settings_from(_args(*argv), _config(tmp_path, text), lambda _: None)


def test_a_secret_in_a_readable_profile_is_warned(tmp_path: Path) -> None:
    env = _config(tmp_path, "[profiles.x]\nbase_url='https://h'\nuser_id='1'\ntoken='tok'\n")
    os.chmod(tmp_path / "koodrive-backup" / "config.toml", 0o644)
    warnings: list[str] = []
    settings = settings_from(_args("--profile", "x"), env, warnings.append)
    assert settings.credential.token == "tok"
    assert len(warnings) == 1 and "readable by other users" in warnings[0]


def test_token_file_from_the_environment(tmp_path: Path) -> None:
    path = tmp_path / "token"
    path.write_text(SECRET + "\n")
    os.chmod(path, 0o600)
    env = {
        "KOODRIVE_BASE_URL": "https://h",
        "KOODRIVE_USER_ID": "7",
        "KOODRIVE_TOKEN_FILE": str(path),
    }
    assert settings_from(_args(), env, lambda _: None).credential.token == SECRET
    both = env | {"KOODRIVE_TOKEN": "t"}
    with pytest.raises(UsageError, match="not both"):
        settings_from(_args(), both, lambda _: None)


# --- the command line: global options anywhere, defaults in the help --------------------------


def test_global_options_work_before_and_after_the_command() -> None:
    before = parse(["--json", "--timeout", "5", "record", "get", "1"])
    after = parse(["record", "get", "1", "--json", "--timeout", "5"])
    neither = parse(["record", "get", "1"])
    for args in (before, after):
        assert args.json is True and args.timeout == 5.0
    assert neither.json is False and neither.timeout is None  # layered later: 30 s built in


def test_every_option_with_a_value_shows_its_default_in_the_help() -> None:
    from koodrive_backup.cli._options import CONNECTION, OUTPUT
    from koodrive_backup.cli._parser import build_parser

    layered = {o.flags[-1] for o in (*OUTPUT, *CONNECTION) if o.shown is not None}
    missing = []
    for name, parser in _all_parsers(build_parser(full=True)):
        text = parser.format_help()
        for action in parser._actions:
            if not action.option_strings or action.nargs == 0:
                continue
            flag = action.option_strings[-1]
            real = action.default not in (None, argparse.SUPPRESS)
            if (real or flag in layered) and "default" not in _help_line(text, flag):
                missing.append(f"{name} {flag}")
    assert missing == []
    assert len(layered) >= 3  # --auth-style, --timeout, --max-attempts


def _all_parsers(parser: argparse.ArgumentParser, name: str = "koodrive-backup") -> list[Any]:
    found = [(name, parser)]
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for sub_name, sub in action.choices.items():
                found += _all_parsers(sub, f"{name} {sub_name}")
    return found


def _help_line(text: str, flag: str) -> str:
    """The help text of ``flag``, its wrapped lines joined."""
    lines = text.splitlines()
    start = next(i for i, line in enumerate(lines) if line.strip().startswith(flag))
    block = [lines[start]]
    for line in lines[start + 1 :]:
        if not line.startswith("    ") or line.strip().startswith("-"):
            break
        block.append(line)
    return " ".join(block)


@pytest.mark.parametrize(
    ("text", "hours_ago"), [("30d", 720), ("12h", 12), ("90m", 1.5), ("2w", 336)]
)
def test_before_takes_an_age(text: str, hours_ago: float) -> None:
    when = point_in_time(text)
    age = datetime.now(UTC) - when
    assert abs(age.total_seconds() - hours_ago * 3600) < 60


def test_before_takes_dates_and_times() -> None:
    assert point_in_time("2025-01-31") == datetime(2025, 1, 31, tzinfo=UTC)
    assert point_in_time("2025-01-31T12:00:00+01:00") == datetime(2025, 1, 31, 11, tzinfo=UTC)
    with pytest.raises(argparse.ArgumentTypeError, match="not a date"):
        point_in_time("last tuesday")


def test_shares_and_statuses() -> None:
    assert share("0.25") == 0.25 and share("50%") == 0.5
    with pytest.raises(argparse.ArgumentTypeError):
        share("150%")
    assert record_status("completed") == 1 and record_status("TO-BE-DELETED") == 2
    assert record_status("0") == 0


def test_the_logged_command_line_masks_the_token(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.INFO, logger="koodrive_backup.cli"):
        log_command(["record", "get", "1", "--token", SECRET, f"--token={SECRET}"])
    assert SECRET not in caplog.text and "--token *** --token=***" in caplog.text
