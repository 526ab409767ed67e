"""The documentation as data: code blocks, headings and links, read with markdown-it-py.

Used by ``test_docs.py`` (every python block runs; links resolve; documented signatures
match) and ``test_api_cleanup.py`` (the cleanup example of docs/api.md, run with faults). A
block is marked as not meant to run by an HTML comment on the line before it:
``<!-- not run: why -->``.
"""

from __future__ import annotations

import ast
import builtins
import inspect
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

from markdown_it import MarkdownIt
from markdown_it.token import Token

ROOT = Path(__file__).resolve().parent.parent
#: Every markdown file of the project that users or contributors read.
DOCS = (
    ROOT / "README.md",
    ROOT / "CONTRIBUTING.md",
    ROOT / "benchmarks" / "README.md",
    *sorted((ROOT / "docs").glob("*.md")),
)
NOT_RUN = re.compile(r"<!--\s*not run:(.*?)-->", re.DOTALL)


@dataclass(frozen=True)
class Block:
    """One fenced code block: where it is, its language, its text, and its not-run reason."""

    path: Path
    line: int  # 1-based line of the opening fence
    language: str
    code: str
    not_run: str | None = None  # the reason given by a preceding <!-- not run: ... -->

    @property
    def where(self) -> str:
        return f"{self.path.relative_to(ROOT)}:{self.line}"


@cache
def tokens(path: Path) -> list[Token]:
    return MarkdownIt("commonmark").enable("table").parse(path.read_text(encoding="utf-8"))


def code_blocks(path: Path) -> list[Block]:
    """The fenced code blocks of ``path``, in order, each with its not-run reason if any."""
    found = []
    previous: Token | None = None
    for token in tokens(path):
        if token.type == "fence":
            assert token.map is not None
            language = token.info.split()[0] if token.info.strip() else ""
            reason = not_run_reason(previous)
            found.append(Block(path, token.map[0] + 1, language, token.content, reason))
        previous = token
    return found


def not_run_reason(token: Token | None) -> str | None:
    """The reason of a ``<!-- not run: reason -->`` comment token, else ``None``."""
    if token is None or token.type != "html_block":
        return None
    match = NOT_RUN.fullmatch(token.content.strip())
    return None if match is None else match.group(1).strip()


def markers(path: Path) -> list[tuple[int, Token | None]]:
    """Every not-run comment of ``path``: (its line, the token right after it)."""
    found = []
    stream = tokens(path)
    for index, token in enumerate(stream):
        if token.type == "html_block" and NOT_RUN.fullmatch(token.content.strip()):
            assert token.map is not None
            after = stream[index + 1] if index + 1 < len(stream) else None
            found.append((token.map[0] + 1, after))
    return found


def block_with(path: Path, marker: str) -> Block:
    """The one python block of ``path`` that contains ``marker``."""
    (block,) = [b for b in code_blocks(path) if b.language == "python" and marker in b.code]
    return block


def definitions(block: Block) -> dict[str, Any]:
    """Execute only the imports and definitions of ``block`` (not its top-level statements,
    which may ``await``); return the namespace."""
    tree = ast.parse(block.code)
    kept = (ast.Import, ast.ImportFrom, ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)
    tree.body = [node for node in tree.body if isinstance(node, kept)]
    namespace: dict[str, Any] = {}
    exec(compile(tree, block.where, "exec", dont_inherit=True), namespace)  # no __future__
    return namespace


# --- names a block uses -------------------------------------------------------------------------


def free_names(code: str) -> set[str]:
    """Names ``code`` reads but binds nowhere (no import, assignment, def or parameter) and
    that are not builtins. Scopes are merged: a conservative check for a missing import."""
    tree = ast.parse(code)
    bound: set[str] = set()
    loaded: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Name):
            (loaded if isinstance(node.ctx, ast.Load) else bound).add(node.id)
        elif isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            bound.add(node.name)
        elif isinstance(node, ast.arg):
            bound.add(node.arg)
        elif isinstance(node, ast.alias):
            bound.add(node.asname or node.name.split(".")[0])
        elif isinstance(node, ast.ExceptHandler) and node.name:
            bound.add(node.name)
    return loaded - bound - set(dir(builtins))


def defines_tests(code: str) -> bool:
    """Whether the block is a pytest module: it defines top-level ``test_*`` functions."""
    return bool(defined_tests(code))


def defined_tests(code: str) -> list[str]:
    """The names of the top-level ``test_*`` functions of ``code``."""
    tree = ast.parse(code)
    functions = (ast.FunctionDef, ast.AsyncFunctionDef)
    return [n.name for n in tree.body if isinstance(n, functions) and n.name.startswith("test_")]


def is_program(code: str) -> bool:
    """Whether the block is a whole program: it calls ``asyncio.run(...)`` at the top level."""
    for node in ast.parse(code).body:
        if isinstance(node, ast.Expr) and isinstance(node.value, ast.Call):
            func = node.value.func
            if isinstance(func, ast.Attribute) and ast.unparse(func) == "asyncio.run":
                return True
    return False


# --- headings and links -------------------------------------------------------------------------


def slug(text: str) -> str:
    """GitHub's anchor for a heading: lower case, punctuation dropped, spaces to hyphens."""
    return re.sub(r"[^\w\- ]", "", text.strip().lower()).replace(" ", "-")


def anchors(path: Path) -> set[str]:
    """The ``#anchors`` of the headings of ``path`` (a repeated heading gets ``-1``, ``-2``)."""
    found: set[str] = set()
    stream = tokens(path)
    for index, token in enumerate(stream):
        if token.type != "heading_open":
            continue
        inline = stream[index + 1]
        text = "".join(child.content for child in inline.children or ())
        base = anchor = slug(text)
        number = 0
        while anchor in found:
            number += 1
            anchor = f"{base}-{number}"
        found.add(anchor)
    return found


def links(path: Path) -> list[str]:
    """Every link and image target of ``path``, in order."""
    found = []
    for token in tokens(path):
        for child in token.children or ():
            if child.type == "link_open":
                found.append(str(child.attrGet("href")))
            elif child.type == "image":
                found.append(str(child.attrGet("src")))
    return found


def code_spans(path: Path) -> str:
    """The text of every inline code span and code block of ``path``, one per line."""
    parts = []
    for token in tokens(path):
        if token.type in ("fence", "code_block"):
            parts.append(token.content)
        parts.extend(inline_code_of(token))
    return "\n".join(parts)


def inline_code(path: Path) -> list[str]:
    """The inline code spans of ``path``, in order (a span's line breaks read as spaces)."""
    return [span for token in tokens(path) for span in inline_code_of(token)]


def inline_code_of(token: Token) -> list[str]:
    return [child.content for child in token.children or () if child.type == "code_inline"]


# --- signatures as a doc writes them -----------------------------------------------------------

Param = inspect.Parameter
#: Positional parameters in order, then keyword-only ones by name: (name, kind, default).
Shape = list[tuple[str, str, object]]


def shape(params: Iterable[Param]) -> Shape:
    found = [(p.name, p.kind.name, p.default) for p in params]
    keyword_only = Param.KEYWORD_ONLY.name
    return [p for p in found if p[1] != keyword_only] + sorted(
        (p for p in found if p[1] == keyword_only), key=lambda p: p[0]
    )


def documented_shape(span: str, name: str) -> Shape | None:
    """The shape of ``Name(a, b=1, *, c=None)`` as a doc writes it, or ``None`` when the span
    is not a parameter list with literal defaults (a call such as ``RateLimit(2.5)``)."""
    try:
        (function,) = ast.parse(f"def _{span[len(name) :]}: pass").body
        assert isinstance(function, ast.FunctionDef)
        return shape(documented_params(function.args))
    except (SyntaxError, ValueError):
        return None


def documented_params(args: ast.arguments) -> Iterator[Param]:
    positional = [*args.posonlyargs, *args.args]
    defaults = [None] * (len(positional) - len(args.defaults)) + list(args.defaults)
    kinds: list[Any] = [Param.POSITIONAL_ONLY] * len(args.posonlyargs)
    kinds += [Param.POSITIONAL_OR_KEYWORD] * len(args.args)
    for arg, kind, default in zip(positional, kinds, defaults, strict=True):
        yield literal_param(arg.arg, kind, default)
    if args.vararg is not None:
        yield Param(args.vararg.arg, Param.VAR_POSITIONAL)
    for arg, default in zip(args.kwonlyargs, args.kw_defaults, strict=True):
        yield literal_param(arg.arg, Param.KEYWORD_ONLY, default)
    if args.kwarg is not None:
        yield Param(args.kwarg.arg, Param.VAR_KEYWORD)


def literal_param(name: str, kind: Any, default: ast.expr | None) -> Param:
    if default is None:
        return Param(name, kind)
    return Param(name, kind, default=ast.literal_eval(default))  # ValueError: not a literal
