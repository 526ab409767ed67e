"""In-process unit tests of the CLI's pure parts (configuration, input, accounting)."""

from __future__ import annotations

import argparse
import os
import signal
from pathlib import Path

import attrs
import pytest

from koodrive_backup.batching import BatchResult, stops_batch
from koodrive_backup.cli._bulk import BulkOutcome
from koodrive_backup.cli._commands import read_scope_ids, write_ids
from koodrive_backup.cli._config import TOKEN_FLAG_WARNING, settings_from
from koodrive_backup.cli._errors import UsageError
from koodrive_backup.cli._parser import build_parser
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
    return build_parser().parse_args(["record", "get", "1", *argv])


# --- configuration ----------------------------------------------------------------------------


def test_flags_win_over_the_environment_and_the_token_flag_warns() -> None:
    warnings: list[str] = []
    env = {"KOODRIVE_BASE_URL": "https://env", "KOODRIVE_USER_ID": "7", "KOODRIVE_TOKEN": "t"}
    settings = settings_from(
        _args("--base-url", "https://flag", "--token", SECRET), env, warnings.append
    )

    assert (settings.base_url, settings.user_id, settings.token) == ("https://flag", "7", SECRET)
    assert warnings == [TOKEN_FLAG_WARNING]
    assert SECRET not in repr(settings)


def test_rate_is_an_option_of_the_commands_that_send_many_requests() -> None:
    env = {"KOODRIVE_BASE_URL": "https://h", "KOODRIVE_USER_ID": "7", "KOODRIVE_TOKEN": "t"}
    scopes = build_parser().parse_args(["scopes", "delete", "9", "1", "--rate", "2.5"])
    assert settings_from(scopes, env, print).rate == 2.5
    assert settings_from(_args(), env, print).rate is None  # record get: one request
    assert build_parser().parse_args(["demo", "--rate", "50"]).rate == 50.0
    for bad in ("0", "-1", "fast"):
        with pytest.raises(SystemExit):
            build_parser().parse_args(["scopes", "delete", "9", "1", "--rate", bad])


def test_token_file_is_read_and_a_readable_one_warned(tmp_path: Path) -> None:
    path = tmp_path / "token"
    path.write_text(SECRET + "\n")
    os.chmod(path, 0o644)
    warnings: list[str] = []
    env = {"KOODRIVE_BASE_URL": "https://h", "KOODRIVE_USER_ID": "7", "KOODRIVE_TOKEN": "env"}

    settings = settings_from(_args("--token-file", str(path)), env, warnings.append)

    assert settings.token == SECRET
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
    assert read_scope_ids(["1", "2"], str(path)) == ["1", "2", "3", "4"]


@pytest.mark.parametrize(
    ("lines", "where"), [("1\n2 3\n", "line 2"), ("1\n\x00\n", "line 2"), ("a\u200bb\n", "line 1")]
)
def test_a_bad_line_names_its_number(tmp_path: Path, lines: str, where: str) -> None:
    path = tmp_path / "ids.txt"
    path.write_text(lines, encoding="utf-8")
    with pytest.raises(UsageError, match=where):
        read_scope_ids([], str(path))


def test_no_ids_at_all_is_a_usage_error() -> None:
    with pytest.raises(UsageError, match="no scope IDs"):
        read_scope_ids([], None)


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


def test_the_exit_status_follows_the_outcome() -> None:
    not_found = ScopeFailure("b", "15000418", "not found")
    repeat = ScopeFailure("a", "15000424", "repeated")
    result: BatchResult[str, ScopeFailure] = BatchResult(
        ("a",), (not_found, repeat), ("c",), (ServerError(500),), ("a", "b")
    )
    outcome = BulkOutcome(result, unique_ids=("a", "b", "c"), total=4, chunks_settled=2, elapsed=1)

    assert outcome.not_gone == ("c",)
    assert outcome.exit_status == 1
    stopped = attrs.evolve(result, stopped_by=AuthenticationError(401))
    assert attrs.evolve(outcome, result=stopped).exit_status == 3
    stopped = attrs.evolve(result, stopped_by=NotFoundError(404))
    assert attrs.evolve(outcome, result=stopped).exit_status == 4
    assert attrs.evolve(outcome, interrupted=signal.SIGINT).exit_status == 130
    everything = BatchResult(("a", "b"), (), (), (), ("a", "b"))
    assert attrs.evolve(outcome, result=everything, unique_ids=("a", "b")).exit_status == 0
