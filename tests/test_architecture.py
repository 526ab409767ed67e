"""The layer rules of DESIGN.md, held by reading every module's imports.

``LAYERS`` is the one ordered list of the package: a module may import only from layers
before its own (a subpackage is one layer: its modules may import each other), imports for
type checkers included, and the module graph has no cycle. A module missing from the list
fails the test, so a new module must be given its place.
"""

from __future__ import annotations

import ast
import re
from collections.abc import Iterable, Iterator
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parent.parent / "koodrive_backup"

#: Bottom to top. ``__init__`` is the package root (it re-exports the public names).
LAYERS = [
    "errors",  # the exception tree: a leaf
    "models",  # attrs classes only
    "_wire",  # the wire's primitive values: names, strings, ints, timestamps, enums
    "_codec",  # the one cattrs converter
    "_protocol",  # sans-I/O, requests: endpoint descriptions -> request values; JSON
    "_answers",  # sans-I/O, answers: a raw response -> data, or THE typed error
    "_validate",  # argument checks before any I/O
    "_endpoints",  # the 19 endpoints, described once
    "_signing",  # pure signing steps and the auth strategies
    "_retry",  # pure retry decisions and the tenacity wiring
    "_ratelimit",  # RateLimit: the token bucket (aiolimiter) every attempt waits for
    "_hooks",  # the public event hooks and their events (no OpenTelemetry)
    "_otel",  # the OpenTelemetry adapter: spans and metrics from those events
    "_call_watch",  # one call under telemetry: what the session reports
    "_telemetry",  # the per-client watcher the session, engine and locks report to
    "_batch_plan",  # the engine's bookkeeping: the deduplicated input, the running counts
    "_batch",  # the pure batch engine
    "_batch_stream",  # its public front: run_batch, stream_batch, BatchStream
    "_transport",  # the I/O seam: the HTTP exchange (aiohttp) and the clock
    "_session",  # the per-attempt loop: sign -> send -> classify, under retries
    "_requester",  # what operation groups get: send a described request, the managed locks
    "_locks",  # lock operations and the managed lock
    "_records",  # records and files
    "_devices",  # devices, scopes, configs
    "_bulk",  # the bulk operations on the engine
    "client",  # BackupClient: the groups over one requester
    "batching",  # public names of the engine, function forms
    "__init__",  # the package root
    "jobs",  # fleet cleanup jobs, on the public client
    "testing",  # the embedded fake server (imports nothing of the client side)
    "cli",  # the command line
    "__main__",
]

ROOMS = [
    ("aiohttp", ("_transport", "testing")),
    ("cattrs", ("_codec",)),
    ("tenacity", ("_retry",)),
    ("aiolimiter", ("_ratelimit",)),
    ("rich", ("cli",)),
    ("shtab", ("cli",)),
    ("ray", ("jobs",)),
    ("opentelemetry", ("_otel",)),
]


# --- reading a package's import graph ----------------------------------------------------------


def module_name(path: Path, root: Path) -> str:
    parts = list(path.relative_to(root.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def modules_of(root: Path) -> dict[str, Path]:
    return {module_name(path, root): path for path in sorted(root.rglob("*.py"))}


def raw_imports(path: Path, name: str) -> Iterable[tuple[str, str | None]]:
    """``(module, imported name or None)`` for every import statement, TYPE_CHECKING ones
    too, relative imports resolved against ``name``'s package."""
    is_package = path.name == "__init__.py"
    package = name.split(".") if is_package else name.split(".")[:-1]
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            yield from ((alias.name, None) for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = package[: len(package) - node.level + 1] if node.level else []
            module = ".".join([*base, node.module] if node.module else base)
            yield from ((module, alias.name) for alias in node.names)


def imports_of(path: Path, name: str, known: Iterable[str]) -> set[str]:
    """Absolute names of what a module imports: a submodule when ``from x import sub`` names
    one, else the module itself (third parties by their full dotted name)."""
    known = set(known)
    found = set()
    for module, alias in raw_imports(path, name):
        child = f"{module}.{alias}" if alias else None
        found.add(child if child in known else module)
    return found


def graph(root: Path) -> dict[str, set[str]]:
    """Module -> the package's modules it imports."""
    modules = modules_of(root)
    return {
        name: {i for i in imports_of(path, name, modules) if i in modules}
        for name, path in modules.items()
    }


def layer_of(module: str, layers: list[str]) -> int:
    parts = module.split(".")
    key = "__init__" if len(parts) == 1 else parts[1]
    return layers.index(key)


def upward_imports(root: Path, layers: list[str]) -> list[tuple[str, str]]:
    """Every (importer, imported) pair that goes up the layer list or sideways between layers."""
    edges = graph(root)
    bad = []
    for module, targets in edges.items():
        for target in targets:
            same_package_layer = module.split(".")[:2] == target.split(".")[:2]
            mine, theirs = layer_of(module, layers), layer_of(target, layers)
            if theirs > mine or (theirs == mine and not same_package_layer):
                bad.append((module, target))
    return sorted(bad)


def unplaced(root: Path, layers: list[str]) -> list[str]:
    missing = []
    for module in modules_of(root):
        try:
            layer_of(module, layers)
        except ValueError:
            missing.append(module)
    return missing


def cycles(root: Path) -> list[list[str]]:
    """Import cycles, each as the path that closes it (depth-first search)."""
    edges = graph(root)
    found: list[list[str]] = []
    state: dict[str, int] = {}  # 1: on the current path, 2: done

    def visit(module: str, path: list[str]) -> None:
        state[module] = 1
        for target in sorted(edges[module]):
            if state.get(target) == 1:
                found.append([*path[path.index(target) :], target])
            elif target not in state:
                visit(target, [*path, target])
        state[module] = 2

    for module in sorted(edges):
        if module not in state:
            visit(module, [module])
    return found


def users_of(root: Path, library: str) -> set[str]:
    modules = modules_of(root)
    return {
        name
        for name, path in modules.items()
        if any(i == library or i.startswith(library + ".") for i in imports_of(path, name, ()))
    }


#: The libraries of the package's extras (pyproject: cli, speedups, otel, ray).
OPTIONAL = ("rich", "shtab", "orjson", "opentelemetry", "ray")
#: The one import of an extra that runs on import: ``_protocol``'s accelerator, under a
#: ``try`` that catches ``ImportError``.
EAGER_ALLOWED = {("koodrive_backup._protocol", "orjson", True)}

Eager = tuple[str, str, bool]  # (module, library, guarded by an ImportError handler)


def eager_imports(root: Path, libraries: tuple[str, ...]) -> set[Eager]:
    """Every import of ``libraries`` that runs when a module of ``root`` is imported: outside
    function bodies, so inside a module-level ``try``, ``if``, ``with``, ``for`` or class body
    too (not in an ``if TYPE_CHECKING:`` body, which never runs)."""
    found = set()
    for name, path in modules_of(root).items():
        for node, guarded in runs_on_import(ast.parse(path.read_text()).body):
            found |= {(name, lib, guarded) for lib in imported(node) if lib in libraries}
    return found


def runs_on_import(body: list[ast.stmt], guarded: bool = False) -> Iterator[tuple[ast.stmt, bool]]:
    """The statements of ``body`` that run when it does, each with whether an enclosing
    ``try`` catches ``ImportError``."""
    for node in body:
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            continue
        if isinstance(node, ast.If) and ast.unparse(node.test).endswith("TYPE_CHECKING"):
            yield from runs_on_import(node.orelse, guarded)
            continue
        yield node, guarded
        if isinstance(node, ast.Try):
            yield from runs_on_import(node.body, guarded or catches_import_error(node))
            yield from runs_on_import([*node.orelse, *node.finalbody], guarded)
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.ExceptHandler | ast.match_case):
                yield from runs_on_import(child.body, guarded)
            elif isinstance(child, ast.stmt) and not isinstance(node, ast.Try):
                yield from runs_on_import([child], guarded)  # if/else, with, for, class bodies


def catches_import_error(node: ast.Try) -> bool:
    caught = " ".join(ast.unparse(h.type) for h in node.handlers if h.type is not None)
    return re.search(r"\b(ImportError|ModuleNotFoundError)\b", caught) is not None


def imported(node: ast.stmt) -> list[str]:
    """The top-level packages an import statement imports (none for a relative import)."""
    if isinstance(node, ast.Import):
        return [alias.name.split(".")[0] for alias in node.names]
    if isinstance(node, ast.ImportFrom) and not node.level and node.module:
        return [node.module.split(".")[0]]
    return []


# --- the package's rules -----------------------------------------------------------------------


def test_every_module_has_a_layer() -> None:
    assert unplaced(PACKAGE, LAYERS) == []


def test_no_module_imports_up_or_sideways() -> None:
    assert upward_imports(PACKAGE, LAYERS) == []


def test_no_import_cycles() -> None:
    assert cycles(PACKAGE) == []


@pytest.mark.parametrize(("library", "rooms"), ROOMS)
def test_third_parties_stay_in_their_room(library: str, rooms: tuple[str, ...]) -> None:
    allowed = tuple(f"koodrive_backup.{room}" for room in rooms)
    assert {m for m in users_of(PACKAGE, library) if not m.startswith(allowed)} == set()


def test_errors_is_a_leaf_and_models_only_uses_errors() -> None:
    edges = graph(PACKAGE)
    assert edges["koodrive_backup.errors"] == set()
    assert edges["koodrive_backup.models"] <= {"koodrive_backup.errors"}


def test_testing_checks_the_client_with_its_own_code() -> None:
    edges = graph(PACKAGE)
    for module, targets in edges.items():
        if module.startswith("koodrive_backup.testing"):
            assert all(t.startswith("koodrive_backup.testing") for t in targets), module


def test_nothing_imports_the_cli() -> None:
    def in_cli(module: str) -> bool:
        return module == "koodrive_backup.cli" or module.startswith("koodrive_backup.cli.")

    importers = {m for m, targets in graph(PACKAGE).items() if any(map(in_cli, targets))}
    assert {m for m in importers if not in_cli(m)} <= {"koodrive_backup.__main__"}


def test_jobs_use_the_public_client_api_only() -> None:
    """jobs sits above the client: of the package it imports the public names of the root
    (``from koodrive_backup import ...``) and its own modules, nothing else."""
    for module, targets in graph(PACKAGE).items():
        if module.startswith("koodrive_backup.jobs"):
            foreign = {t for t in targets if t != "koodrive_backup"}
            assert {t for t in foreign if not t.startswith("koodrive_backup.jobs")} == set()


def test_only_the_cli_imports_jobs() -> None:
    def in_jobs(module: str) -> bool:
        return module == "koodrive_backup.jobs" or module.startswith("koodrive_backup.jobs.")

    importers = {m for m, targets in graph(PACKAGE).items() if any(map(in_jobs, targets))}
    assert all(m.startswith("koodrive_backup.cli") for m in importers if not in_jobs(m))


def test_optional_extras_are_imported_lazily() -> None:
    """No module imports an extra's library when it is imported, only where it is used, so
    the package imports and works without them (``_protocol``'s guarded orjson aside)."""
    assert eager_imports(PACKAGE, OPTIONAL) <= EAGER_ALLOWED


# --- the checker itself, on a throwaway package -------------------------------------------------


def plant(tmp_path: Path, files: dict[str, str]) -> Path:
    root = tmp_path / "pkg"
    for name, text in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return root


def test_the_checker_finds_a_planted_upward_import_and_cycle(tmp_path: Path) -> None:
    root = plant(
        tmp_path,
        {
            "__init__.py": "from .high import thing\n",
            "low.py": "import typing\nif typing.TYPE_CHECKING:\n    from . import high\n",
            "high.py": "from . import low\nthing = 1\n",
            "sub/__init__.py": "",
            "sub/a.py": "from .b import x\n",
            "sub/b.py": "from . import a\nx = 1\n",
            "stray.py": "",
        },
    )
    layers = ["low", "high", "__init__", "sub"]
    assert upward_imports(root, layers) == [("pkg.low", "pkg.high")]  # under TYPE_CHECKING
    assert sorted(map(tuple, cycles(root))) == [
        ("pkg.high", "pkg.low", "pkg.high"),
        ("pkg.sub.a", "pkg.sub.b", "pkg.sub.a"),
    ]
    assert unplaced(root, layers) == ["pkg.stray"]


def test_the_checker_passes_a_clean_package(tmp_path: Path) -> None:
    root = plant(
        tmp_path,
        {
            "__init__.py": "from .high import thing\n",
            "low.py": "import json\n",
            "high.py": "from . import low\nfrom .low import json\nthing = 1\n",
        },
    )
    assert upward_imports(root, ["low", "high", "__init__"]) == []
    assert cycles(root) == []


def test_the_checker_finds_planted_eager_imports_of_extras(tmp_path: Path) -> None:
    root = plant(
        tmp_path,
        {
            "__init__.py": "",
            "tried.py": "try:\n    import rich\nexcept ImportError:\n    rich = None\n",
            "branch.py": "import sys\nif sys.platform:\n    pass\nelse:\n    import shtab\n",
            "context.py": "import os\nwith os.scandir():\n    from ray.util import x\n",
            "holder.py": "class Holder:\n    import orjson\n    def m(self):\n        import ray\n",
            "bare.py": "import opentelemetry.trace as trace\n",
            "lazy.py": (
                "from typing import TYPE_CHECKING\n"
                "if TYPE_CHECKING:\n    from opentelemetry import trace\n"
                "def f():\n    import ray\n    from rich import print\n"
            ),
        },
    )
    assert eager_imports(root, OPTIONAL) == {
        ("pkg.tried", "rich", True),
        ("pkg.branch", "shtab", False),
        ("pkg.context", "ray", False),
        ("pkg.holder", "orjson", False),
        ("pkg.bare", "opentelemetry", False),
    }
