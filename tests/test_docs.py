"""The documentation runs and holds together.

Every python block of README.md, CONTRIBUTING.md, benchmarks/README.md and docs/*.md is
executed (CONTRIBUTING.md, "Examples in the docs are tested", says how each kind runs);
only blocks marked ``<!-- not run: why -->`` are skipped. Relative links and anchors
resolve, the README's commands are the ones CI runs, and the lists the docs keep (public
names, command-line options, benchmark cases, layers) and the signatures they spell out
(``BackupClient(base_url, *, ...)``) match the code.
"""

from __future__ import annotations

import argparse
import ast
import asyncio
import importlib
import inspect
import os
import re
import shlex
import sys
import tomllib
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from doc_blocks import (
    DOCS,
    ROOT,
    Block,
    anchors,
    code_blocks,
    code_spans,
    defined_tests,
    defines_tests,
    documented_shape,
    free_names,
    inline_code,
    is_program,
    links,
    markers,
    shape,
)
from test_architecture import LAYERS

import koodrive_backup
import koodrive_backup.batching
import koodrive_backup.testing
from koodrive_backup import BackupClient
from koodrive_backup.cli._parser import build_parser
from koodrive_backup.testing import FakeKooDrive
from koodrive_backup.testing.__main__ import build_parser as fake_server_parser

BLOCKS = [block for path in DOCS for block in code_blocks(path)]
PYTHON = [block for block in BLOCKS if block.language == "python"]
#: The names a fragment may use without binding them (CONTRIBUTING.md, docs/api.md).
CONTEXT = ("client", "fake", "device_id", "scope_ids", "record_id", "record_ids")
#: python runs; console transcripts are replayed (tests/test_cli_docs.py); the rest is shown.
LANGUAGES = {"python", "sh", "text", "json", "console", "toml"}
REPO = "https://github.com/koodrive/koodrive-backup"
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
README = ROOT / "README.md"
DEMO_COMMAND = (
    "python3 -m venv .venv && .venv/bin/pip install -e '.[cli]' && .venv/bin/koodrive-backup demo"
)
TEST_COMMAND = (
    "python3 -m venv .venv && .venv/bin/pip install -e '.[test]' && .venv/bin/python -m pytest"
)


def where(value: object) -> str:
    return value.where if isinstance(value, Block) else str(Path(str(value)).relative_to(ROOT))


# --- every python block runs ------------------------------------------------------------------


@pytest.fixture
async def context(fake: FakeKooDrive, client: BackupClient) -> dict[str, Any]:
    """What a fragment finds bound: a client of a fresh fake, a device with scopes, records."""
    device_id = fake.add_device()
    scope_ids = fake.add_scopes(device_id, 250)
    record_id = fake.add_record(device_id, files=2)
    record_ids = [fake.add_record(device_id) for _ in range(5)]
    fake.add_config(device_id, "101", "wifi_only", "on")
    return {
        "client": client,
        "fake": fake,
        "device_id": device_id,
        "scope_ids": scope_ids,
        "record_id": record_id,
        "record_ids": record_ids,
    }


@pytest.mark.parametrize("block", PYTHON, ids=where)
async def test_python_block_runs(block: Block, context: dict[str, Any], tmp_path: Path) -> None:
    if block.not_run is not None:
        pytest.skip(f"marked not run: {block.not_run}")
    if defines_tests(block.code):
        await run_test_module(block, tmp_path)
    elif is_program(block.code):
        await run_program(block, context)
    else:
        await run_fragment(block, dict(context))


@pytest.mark.parametrize("block", PYTHON, ids=where)
def test_python_block_binds_every_name_it_uses(block: Block) -> None:
    fragment = not defines_tests(block.code) and not is_program(block.code)
    allowed = set(CONTEXT) if fragment else set()
    assert free_names(block.code) - allowed == set(), f"{block.where}: import or define these"


async def run_fragment(block: Block, namespace: dict[str, Any]) -> None:
    """As typed in ``python -m asyncio``: top-level ``await`` is allowed."""
    # dont_inherit: run as a user would, not under this module's ``from __future__ import``.
    flags = ast.PyCF_ALLOW_TOP_LEVEL_AWAIT
    code = compile(block.code, block.where, "exec", flags=flags, dont_inherit=True)
    result = eval(code, namespace)
    if code.co_flags & inspect.CO_COROUTINE:
        await result


async def run_program(block: Block, context: dict[str, Any]) -> None:
    """A child process, configured like the command line for the seeded fake (a program may
    also start a fake of its own, as those of docs/jobs.md do)."""
    fake = context["fake"]
    env = os.environ | {
        "KOODRIVE_BASE_URL": fake.url,
        "KOODRIVE_USER_ID": fake.user_id,
        "KOODRIVE_TOKEN": fake.token,
    }
    out, err, status = await run([sys.executable, "-c", block.code], env=env)
    assert status == 0, f"{block.where} failed:\n{err}"
    assert out.strip(), f"{block.where} printed nothing"  # each example shows what it did
    if "KOODRIVE_BASE_URL" in block.code:  # configured like the CLI: it shows the fake's data
        seeded = [context["device_id"], context["record_id"], *context["record_ids"]]
        assert any(value in out for value in seeded), f"{block.where} showed no data:\n{out}"


async def run_test_module(block: Block, folder: Path) -> None:
    """A pytest run of its own, with pytest-asyncio in strict mode (a user's default)."""
    (folder / "test_example.py").write_text(block.code, encoding="utf-8")
    (folder / "pytest.ini").write_text("[pytest]\n", encoding="utf-8")  # not our pyproject
    command = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider"]
    out, err, status = await run([*command, "-o", "asyncio_mode=strict"], cwd=folder)
    report = out + err
    expected = len(defined_tests(block.code))
    assert status == 0, f"{block.where}:\n{report}"
    assert re.search(rf"\b{expected} passed\b", out), f"{block.where}:\n{report}"
    assert not re.search(r"\b\d+ (failed|skipped|errors?|xfailed)\b", out), report


async def run(command: list[str], **options: Any) -> tuple[str, str, int]:
    process = await asyncio.create_subprocess_exec(
        *command, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE, **options
    )
    out, err = await process.communicate()
    assert process.returncode is not None
    return out.decode(), err.decode(), process.returncode


# --- what is not run, and why -------------------------------------------------------------------


def test_every_code_block_names_a_known_language() -> None:
    assert [b.where for b in BLOCKS if b.language not in LANGUAGES] == []


def test_only_python_blocks_can_be_marked_not_run_and_each_says_why() -> None:
    misplaced = [
        f"{where(path)}:{line}"
        for path in DOCS
        for line, after in markers(path)
        if after is None or after.type != "fence" or after.info.split()[:1] != ["python"]
    ]
    assert misplaced == [], "a not-run comment must stand right before a python block"
    assert [b.where for b in PYTHON if b.not_run == ""] == [], "say why a block is not run"


def test_a_block_is_not_run_only_when_marked(tmp_path: Path) -> None:
    doc = tmp_path / "doc.md"
    doc.write_text(
        "<!-- not run: needs a real account -->\n```python\nmarked()\n```\n\n"
        "<!-- a plain comment -->\n```python\nplain()\n```\n\n"
        "<!-- not run: the text between -->\n\nSome text.\n\n```python\nafter_text()\n```\n"
    )
    reasons = [(block.code.strip(), block.not_run) for block in code_blocks(doc)]
    assert reasons == [
        ("marked()", "needs a real account"),
        ("plain()", None),
        ("after_text()", None),
    ]
    assert [after is not None and after.type for _, after in markers(doc)] == [
        "fence",
        "paragraph_open",
    ]


# --- the README's two commands -------------------------------------------------------------


def readme_commands() -> list[str]:
    """The README's shell lines that build a virtual environment: the demo, then the tests."""
    sh = [b.code for b in code_blocks(README) if b.language == "sh"]
    lines = (line.strip() for code in sh for line in code.splitlines())
    return [line for line in lines if line.startswith("python3 -m venv")]


def test_readme_shows_the_demo_and_the_test_command() -> None:
    assert readme_commands() == [DEMO_COMMAND, TEST_COMMAND]


def test_ci_runs_the_readme_test_command() -> None:
    ci = [line.strip() for line in (ROOT / ".ci" / "run").read_text().splitlines()]
    assert readme_commands()[1] in ci


def test_readme_commands_install_extras_that_exist() -> None:
    extras = PYPROJECT["project"]["optional-dependencies"]
    for command in readme_commands():
        words = shlex.split(command)
        target = words[words.index("-e") + 1]
        assert target.startswith(".[") and target[2:-1] in extras, target
    assert "rich" in " ".join(extras["cli"]) and "pytest" in " ".join(extras["test"])


def test_demo_command_runs_a_console_script_of_the_package() -> None:
    words = shlex.split(readme_commands()[0])
    script, command = Path(words[-2]).name, words[-1]
    module, _, function = PYPROJECT["project"]["scripts"][script].partition(":")
    assert callable(getattr(importlib.import_module(module), function))
    assert build_parser().parse_args([command]).command == command == "demo"


# --- links ------------------------------------------------------------------------------------


def is_url(target: str) -> bool:
    return re.match(r"[a-zA-Z][a-zA-Z0-9+.-]*:", target) is not None


@pytest.mark.parametrize("path", DOCS, ids=where)
def test_relative_links_and_anchors_resolve(path: Path) -> None:
    broken = []
    for target in links(path):
        if is_url(target):
            continue
        file_part, _, anchor = target.partition("#")
        dest = (path.parent / file_part).resolve() if file_part else path
        if not dest.exists() or (anchor and anchor not in md_anchors(dest)):
            broken.append(target)
    assert broken == []


def md_anchors(path: Path) -> set[str]:
    """The anchors of a markdown file; none for any other file."""
    return anchors(path) if path.suffix == ".md" else set()


def repository_urls() -> Iterator[str]:
    yield from PYPROJECT["project"]["urls"].values()
    yield from (url for path in DOCS for url in links(path) if url.startswith(REPO))


def test_project_urls_point_into_the_repository() -> None:
    urls = PYPROJECT["project"]["urls"]
    assert {"Homepage", "Documentation", "Source", "Issues"} <= urls.keys()
    assert all(url == REPO or url.startswith(REPO + "/") for url in urls.values())
    for url in repository_urls():
        match = re.fullmatch(re.escape(REPO) + r"/(?:tree|blob)/main/(.+)", url)
        if match is not None:
            assert (ROOT / match.group(1)).exists(), url


# --- the lists the docs keep match the code ---------------------------------------------------


def mentions(path: Path, name: str) -> bool:
    """Whether ``name`` appears as a word in a code span or code block of ``path``."""
    return re.search(rf"(?<![\w-]){re.escape(name)}(?![\w-])", code_spans(path)) is not None


@pytest.mark.parametrize(
    ("doc", "names"),
    [
        ("docs/api.md", koodrive_backup.__all__),
        ("docs/api.md", koodrive_backup.batching.__all__),
        ("docs/testing.md", koodrive_backup.testing.__all__),
        ("docs/api.md", CONTEXT[:1] + CONTEXT[2:]),
        ("CONTRIBUTING.md", CONTEXT),
    ],
)
def test_docs_name_every_public_name(doc: str, names: list[str]) -> None:
    assert [name for name in names if not mentions(ROOT / doc, name)] == []


def options_of(parser: argparse.ArgumentParser, path: tuple[str, ...] = ()) -> Iterator[str]:
    """Every command path and long option of ``parser`` and its subcommands (a command's
    aliases, such as ``records`` for ``record``, are not listed again)."""
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            seen: set[int] = set()
            for name, sub in action.choices.items():
                if id(sub) in seen:
                    continue
                seen.add(id(sub))
                yield " ".join((*path, name))
                yield from options_of(sub, (*path, name))
        else:
            yield from (o for o in action.option_strings if o.startswith("--") and o != "--help")


def test_cli_doc_names_every_command_and_option() -> None:
    missing = {o for o in options_of(build_parser()) if not mentions(ROOT / "docs/cli.md", o)}
    assert missing == set()


def test_testing_doc_names_every_option_of_the_standalone_server() -> None:
    options = set(options_of(fake_server_parser()))
    assert {o for o in options if not mentions(ROOT / "docs/testing.md", o)} == set()


def benchmark_cases_and_options() -> set[str]:
    """The keys of ``CASES`` and the ``add_argument`` options of ``benchmarks/__main__.py``,
    read, not imported: the benchmarks need the bench extra, which a test run may lack."""
    tree = ast.parse((ROOT / "benchmarks" / "__main__.py").read_text(encoding="utf-8"))
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.AnnAssign | ast.Assign) and "CASES" in ast.unparse(node)[:6]:
            assert isinstance(node.value, ast.Dict)
            found |= {ast.literal_eval(key) for key in node.value.keys if key is not None}
        elif isinstance(node, ast.Call) and ast.unparse(node.func).endswith(".add_argument"):
            found.add(ast.literal_eval(node.args[0]))
    return found


def test_benchmarks_doc_names_every_case_and_option() -> None:
    wanted = benchmark_cases_and_options()
    assert {"--quick", "--case", "get_record", "batch_throughput"} <= wanted
    doc = ROOT / "benchmarks" / "README.md"
    assert {name for name in wanted if not mentions(doc, name)} == set()


# --- documented signatures match the code ------------------------------------------------------

#: The public callables whose whole signature a doc spells out as a code span ``Name(...)``,
#: and where. Usage spans such as ``RetryPolicy(max_attempts=1)`` may sit beside it.
SIGNATURES: list[tuple[str, Callable[..., object]]] = [
    ("docs/api.md", koodrive_backup.BackupClient),
    ("docs/api.md", koodrive_backup.RetryPolicy),
    ("docs/api.md", koodrive_backup.BearerAuth),
    ("docs/api.md", koodrive_backup.HmacAuth),
    ("docs/api.md", koodrive_backup.SignableRequest),
    ("docs/api.md", koodrive_backup.HttpRequest),
    ("docs/api.md", koodrive_backup.RawResponse),
    ("docs/api.md", koodrive_backup.AiohttpTransport),
    ("docs/api.md", koodrive_backup.TelemetryOptions),
    ("docs/resilience.md", koodrive_backup.RateLimit),
    ("docs/testing.md", FakeKooDrive),
]


@pytest.mark.parametrize(("doc", "obj"), SIGNATURES, ids=lambda v: getattr(v, "__name__", v))
def test_documented_signature_matches_the_code(doc: str, obj: Callable[..., object]) -> None:
    name = obj.__name__
    spans = [span for span in inline_code(ROOT / doc) if span.startswith(name + "(")]
    real = inspect.signature(obj)
    documented = [documented_shape(span, name) for span in spans]
    assert shape(real.parameters.values()) in documented, f"{doc}: no `{name}{real}`"


def test_a_signature_that_drifted_does_not_match() -> None:
    real = shape(inspect.signature(koodrive_backup.RateLimit).parameters.values())
    assert documented_shape("RateLimit(per_second, burst=None)", "RateLimit") == real
    assert documented_shape("RateLimit(per_second)", "RateLimit") != real  # an option omitted
    assert documented_shape("RateLimit(per_second, burst=1)", "RateLimit") != real
    assert documented_shape("RateLimit(per_second, *, burst=None)", "RateLimit") != real
    assert documented_shape("RateLimit(burst=None, per_second=1)", "RateLimit") != real
    assert documented_shape("RateLimit(2.5)", "RateLimit") is None


def test_design_doc_lists_every_layer_in_order() -> None:
    package = Path(koodrive_backup.__file__).parent
    existing = [
        layer
        for layer in LAYERS
        if (package / f"{layer}.py").exists() or (package / layer / "__init__.py").exists()
    ]
    items = re.findall(r"^\d+\. `([\w.]+)`:", (ROOT / "docs" / "design.md").read_text(), re.M)
    assert items == existing
