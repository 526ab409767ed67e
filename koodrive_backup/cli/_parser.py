"""The argparse tree, built from the registry (``_registry.COMMANDS``).

- Global options (``_options``) work before or after the command.
- Every option that takes a value shows its default (``Formatter``).
- ``fake-server`` delegates: what follows it is handed, as given, to the fake's own parser
  (``koodrive_backup.testing.__main__``), so the two programs cannot drift apart. Only the
  completion script attaches that parser here (``full=True``), to complete its options.
- Abbreviated long options are refused: a script's flags mean what they say.
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from .. import __version__
from ._options import add_options, apply_defaults
from ._registry import COMMANDS, GROUPS, Command

__all__ = ["EPILOG", "Formatter", "build_parser", "parse"]

if TYPE_CHECKING:
    Subcommands = argparse._SubParsersAction[argparse.ArgumentParser]

EPILOG = """\
configuration: flags, a profile of ~/.config/koodrive-backup/config.toml (--profile), or the
environment: KOODRIVE_BASE_URL, KOODRIVE_USER_ID, KOODRIVE_TOKEN_FILE (or KOODRIVE_TOKEN),
KOODRIVE_APP_ID + KOODRIVE_APP_SECRET. See docs/cli.md.
exit status: 0 success, 1 partial failure (some IDs not gone) or not done, 2 usage or bad
input, 3 authentication/permission refused, 4 other API or connection failure, 5 most IDs
not found (the input probably does not match), 130 Ctrl-C (143 SIGTERM).
"""


class Formatter(argparse.RawDescriptionHelpFormatter):
    """Keeps descriptions as written and appends ``(default: X)`` to options with a value."""

    def _get_help_string(self, action: argparse.Action) -> str:
        text = action.help or ""
        default = action.default
        if "(default" in text or not action.option_strings or action.nargs == 0:
            return text
        if default is None or default is argparse.SUPPRESS or isinstance(default, bool):
            return text
        return f"{text} (default: %(default)s)"


def _parser_options(**extra: Any) -> dict[str, Any]:
    return {"formatter_class": Formatter, "allow_abbrev": False, **extra}


def build_parser(*, full: bool = False) -> argparse.ArgumentParser:
    """The whole tree. ``full``: also the fake server's options (for the completion script)."""
    parser = argparse.ArgumentParser(
        prog="koodrive-backup",
        description="The KooDrive backup API from the command line: find what to delete,\n"
        "rehearse it, delete it safely, and say exactly what happened.",
        epilog=EPILOG,
        **_parser_options(),
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    add_options(parser, connects=True)
    top = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    groups: dict[str, Subcommands] = {}
    for command in COMMANDS:
        container = _container(top, groups, command.path[:-1])
        _add_command(container, command, full=full)
    return parser


def _container(
    top: Subcommands, groups: dict[str, Subcommands], path: tuple[str, ...]
) -> Subcommands:
    """The subparsers a command is added to: the top level, or its group's (made once)."""
    if not path:
        return top
    (name,) = path
    if name not in groups:
        group = next(g for g in GROUPS if g.name == name)
        parser = top.add_parser(
            name, help=group.help, aliases=list(group.aliases), **_parser_options()
        )
        groups[name] = parser.add_subparsers(dest="action", metavar="ACTION", required=True)
    return groups[name]


def _add_command(container: Subcommands, command: Command, *, full: bool) -> None:
    parser = container.add_parser(
        command.path[-1],
        help=command.help,
        description=command.description or command.help,
        add_help=not command.delegates,
        **_parser_options(),
    )
    if command.delegates:
        if full:
            from ..testing.__main__ import add_arguments  # only for the completion script

            add_arguments(parser)
    else:
        add_options(parser, connects=command.connects)
    if command.arguments is not None:
        command.arguments(parser)
    parser.set_defaults(command_spec=command)


def parse(argv: Sequence[str] | None = None) -> argparse.Namespace:
    """Parse ``argv``; exits 2 with a usage message on a bad command line (argparse)."""
    parser = build_parser()
    args, extras = parser.parse_known_args(argv)
    command: Command = args.command_spec
    if extras and not command.delegates:
        parser.error(f"unrecognized arguments: {' '.join(extras)}")
    args.delegated = extras
    apply_defaults(args)
    return args
