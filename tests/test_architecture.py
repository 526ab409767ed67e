"""The layer rules of DESIGN.md, held by reading every module's imports."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parent.parent / "koodrive_backup"
MODULES = sorted(PACKAGE.rglob("*.py"))


def imports_of(path: Path) -> set[str]:
    """Absolute names of everything a module imports (relative imports resolved)."""
    parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
    package = parts[:-1]  # the package a relative import starts from
    found: set[str] = set()
    tree = ast.parse(path.read_text())
    for block in ast.walk(tree):  # imports for type checkers only are not run-time arrows
        if isinstance(block, ast.If) and "TYPE_CHECKING" in ast.unparse(block.test):
            block.body = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = package[: len(package) - node.level + 1] if node.level else []
            module = ".".join([*base, node.module] if node.module else base)
            found.add(module)
            found.update(f"{module}.{alias.name}" for alias in node.names)
    return found


def name_of(path: Path) -> str:
    return ".".join(path.relative_to(PACKAGE.parent).with_suffix("").parts)


def users_of(prefix: str) -> set[str]:
    return {
        name_of(p)
        for p in MODULES
        if any(i == prefix or i.startswith(prefix + ".") for i in imports_of(p))
    }


def in_testing(module: str) -> bool:
    return module.startswith("koodrive_backup.testing")


@pytest.mark.parametrize(
    ("library", "rooms"),
    [
        ("aiohttp", ("koodrive_backup._session", "koodrive_backup.testing")),
        ("cattrs", ("koodrive_backup._codec",)),
        ("tenacity", ("koodrive_backup._retry",)),
        ("rich", ("koodrive_backup.cli",)),
        ("ray", ("koodrive_backup.jobs",)),
    ],
)
def test_third_parties_stay_in_their_room(library: str, rooms: tuple[str, ...]) -> None:
    assert {m for m in users_of(library) if not m.startswith(rooms)} == set()


def test_errors_is_a_leaf_and_models_only_uses_errors() -> None:
    errors = imports_of(PACKAGE / "errors.py")
    assert not [i for i in errors if i.startswith("koodrive_backup")]
    models = {i for i in imports_of(PACKAGE / "models.py") if i.startswith("koodrive_backup")}
    assert models <= {"koodrive_backup.errors", "koodrive_backup.errors.KooDriveError"}


def test_testing_checks_the_client_with_its_own_code() -> None:
    for path in (PACKAGE / "testing").rglob("*.py"):
        ours = {i for i in imports_of(path) if i.startswith("koodrive_backup")}
        assert all(in_testing(i) for i in ours), (path.name, ours)


def test_nothing_imports_the_cli() -> None:
    assert {
        m for m in users_of("koodrive_backup.cli") if not m.startswith("koodrive_backup.cli")
    } <= {"koodrive_backup.__main__"}


def test_lower_layers_never_import_higher_ones() -> None:
    order = [
        "errors",
        "models",
        "_codec",
        "_validate",
        "_protocol",
        "_signing",
        "_retry",
        "_session",
    ]
    higher = {"client", "batching", "cli", "testing", "jobs"}
    for position, module in enumerate(order):
        ours = {
            i.split(".")[1]
            for i in imports_of(PACKAGE / f"{module}.py")
            if i.startswith("koodrive_backup.")
        }
        assert not ours & higher, module
        assert not ours & set(order[position + 1 :]) - {"_validate"}, module


def test_jobs_use_the_public_client_api_only() -> None:
    """jobs sits above the client: it imports ``koodrive_backup``'s public names, its own
    modules and nothing else of the package (no private module, no testing, no cli)."""
    import koodrive_backup

    public = set(koodrive_backup.__all__)
    for path in (PACKAGE / "jobs").rglob("*.py"):
        ours = {i for i in imports_of(path) if i.startswith("koodrive_backup")}
        foreign = {
            i
            for i in ours
            if i != "koodrive_backup"
            and not i.startswith("koodrive_backup.jobs")
            and i.split(".")[1] not in public
        }
        assert foreign == set(), (path.name, foreign)


def test_only_the_cli_imports_jobs() -> None:
    users = {
        m for m in users_of("koodrive_backup.jobs") if not m.startswith("koodrive_backup.jobs")
    }
    assert all(m.startswith("koodrive_backup.cli") for m in users), users


def test_optional_extras_are_imported_lazily() -> None:
    """No module imports ray, rich, opentelemetry or orjson at its top level."""
    optional = ("ray", "rich", "opentelemetry", "orjson")
    for path in MODULES:
        for node in ast.parse(path.read_text()).body:
            names = []
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and not node.level and node.module:
                names = [node.module]
            assert not [n for n in names if n.split(".")[0] in optional], (path, names)
