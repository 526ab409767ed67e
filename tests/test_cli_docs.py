"""docs/cli.md: its transcripts are replayed against the fake server (its python block runs
under pytest-asyncio strict mode in tests/test_docs.py, as every block of the docs does).

Every ```console block of docs/cli.md, in order, is one session in one temporary folder:

- ``$ koodrive-backup fake-server ... &`` starts the fake server in the background (on a
  free port instead of the ``--port 8080`` shown) and its banner is compared;
  ``127.0.0.1:8080`` then stands for the port it got, in commands and in output;
- ``$ export NAME=VALUE ...`` sets environment variables for the later commands;
- any other ``$ command`` runs in bash and its standard output is compared with the lines
  that follow it (standard error, where progress goes, is not shown in the transcripts).

The documented placeholders match what changes from run to run: ``<TIME>`` a time such as
``2025-06-01T12:00:00+00:00``, ``<SECONDS>`` a decimal number, ``<RATE>`` a whole number,
``<PATH>`` a file path; a line ``...`` matches any lines.
"""

from __future__ import annotations

import asyncio
import os
import re
import shlex
import subprocess
from pathlib import Path

import attrs
from cli_support import RUN_TIMEOUT, command, env_for

DOC = Path(__file__).resolve().parent.parent / "docs" / "cli.md"
SHOWN_PORT = "127.0.0.1:8080"
PLACEHOLDERS = {
    "<TIME>": r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(?:\.\d+)?(?:Z|[+-]\d\d:\d\d)",
    "<SECONDS>": r"\d+\.\d+",
    "<RATE>": r"\d+",
    "<PATH>": r"\S+",
}
_TOKEN = re.compile("|".join(map(re.escape, PLACEHOLDERS)))


@attrs.frozen
class Step:
    command: str
    expected: tuple[str, ...]
    line: int  # where it is in docs/cli.md


def transcript_steps(text: str) -> list[Step]:
    """The ``$`` commands of every console block, with the output lines that follow each."""
    steps: list[Step] = []
    lines = text.splitlines()
    inside = False
    for number, line in enumerate(lines, 1):
        if line.startswith("```"):
            inside = line.strip() == "```console"
            continue
        if not inside:
            continue
        if line.startswith("$ "):
            steps.append(Step(line[2:], (), number))
        elif steps:
            last = steps[-1]
            steps[-1] = attrs.evolve(last, expected=(*last.expected, line))
    return steps


def line_pattern(expected: str) -> re.Pattern[str]:
    parts = _TOKEN.split(expected)
    tokens = _TOKEN.findall(expected)
    regex = re.escape(parts[0])
    for token, part in zip(tokens, parts[1:], strict=True):
        regex += PLACEHOLDERS[token] + re.escape(part)
    return re.compile(regex + r"\Z")


def matches(expected: tuple[str, ...], actual: list[str]) -> bool:
    """Line by line, ``...`` matching any run of lines."""
    if not expected:
        return not actual
    head, rest = expected[0], expected[1:]
    if head == "...":
        return any(matches(rest, actual[n:]) for n in range(len(actual) + 1))
    return bool(actual) and bool(line_pattern(head).match(actual[0])) and matches(rest, actual[1:])


class Session:
    """The environment, folder and background server of one replayed transcript."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        bin_dir = os.path.dirname(command()[0])
        self.env = env_for(None, PATH=f"{bin_dir}{os.pathsep}{os.environ.get('PATH', '')}")
        self.port = SHOWN_PORT
        self.server: subprocess.Popen[str] | None = None

    def local(self, text: str) -> str:
        return text.replace(SHOWN_PORT, self.port)

    def run(self, step: Step) -> list[str]:
        if step.command.endswith(" &"):
            return self._start(step.command[:-2])
        if step.command.startswith("export "):
            for item in shlex.split(self.local(step.command))[1:]:
                name, _, value = item.partition("=")
                self.env[name] = value
            return []
        done = subprocess.run(
            ["bash", "-c", self.local(step.command)],
            cwd=self.folder,
            env=self.env,
            capture_output=True,
            text=True,
            timeout=RUN_TIMEOUT,
        )
        assert "Traceback" not in done.stderr, done.stderr
        return [line.replace(self.port, SHOWN_PORT) for line in done.stdout.splitlines()]

    def _start(self, line: str) -> list[str]:
        argv = shlex.split(line.replace("--port 8080", "--port 0"))
        assert argv[:2] == ["koodrive-backup", "fake-server"], line
        self.server = subprocess.Popen(
            [*command(), *argv[1:]], stdout=subprocess.PIPE, text=True, env=self.env,
            cwd=self.folder,
        )  # fmt: skip
        assert self.server.stdout is not None
        banner = [self.server.stdout.readline().rstrip("\n")]
        while banner[-1] != "Press Ctrl+C to stop.":
            banner.append(self.server.stdout.readline().rstrip("\n"))
        self.port = re.findall(r"127\.0\.0\.1:\d+", banner[0])[0]
        return [line.replace(self.port, SHOWN_PORT) for line in banner]

    def close(self) -> None:
        if self.server is not None:
            self.server.send_signal(2)
            self.server.communicate(timeout=RUN_TIMEOUT)


STEPS = transcript_steps(DOC.read_text())


def test_the_transcripts_cover_the_operator_workflow() -> None:
    commands = " ; ".join(step.command for step in STEPS)
    for needed in (
        "fake-server",
        "devices list",
        "--ids > ",
        "scopes delete",
        "--dry-run",
        "records list --module 101 --before",
        "record delete --module 101 --from-file",
    ):
        assert needed in commands


async def test_the_transcripts_replay(tmp_path: Path) -> None:
    session = Session(tmp_path)
    try:
        for step in STEPS:
            actual = await asyncio.to_thread(session.run, step)
            assert matches(step.expected, actual), (
                f"docs/cli.md line {step.line}: $ {step.command}\n"
                + "\n".join(["expected:", *step.expected, "actual:", *actual])
            )
    finally:
        await asyncio.to_thread(session.close)


def test_placeholders_match_what_they_document() -> None:
    assert matches(("at <TIME>, took <SECONDS> s (<RATE> IDs/s)",),
                   ["at 2025-06-01T12:00:00+00:00, took 0.25 s (1000 IDs/s)"])  # fmt: skip
    assert not matches(("at <TIME>",), ["at yesterday"])
    assert matches(("a", "...", "z"), ["a", "b", "c", "z"]) and matches(("a", "..."), ["a"])
    assert not matches(("a",), ["a", "b"])
