"""The global options: accepted before the command and after it, defined once.

Every global option is added to the top parser and to each command's parser with
``default=SUPPRESS``, so a value given in either place lands in the namespace and a command's
parser never overwrites one given before the command (argparse copies a subparser's defaults
over the parent's). ``apply_defaults`` then fills in what was not given. Connection settings
default to ``None`` here: ``_config`` layers them (flag > profile > environment > built-in)
and the help shows the built-in value.

``--rate N`` (``RATE``) is a connection option too: every command that talks to a server takes
it, and ``demo`` (which makes its own server) adds it alone (``add_option``).
"""

from __future__ import annotations

import argparse
from collections.abc import Mapping
from typing import Any

import attrs

from ._argtypes import int_in, positive_float
from ._config import (
    AUTH_STYLES,
    DEFAULT_MAX_ATTEMPTS,
    DEFAULT_TIMEOUT,
    ENV_APP_ID,
    ENV_APP_SECRET,
    ENV_BASE_URL,
    ENV_TOKEN,
    ENV_TOKEN_FILE,
    ENV_USER_ID,
)
from ._profiles import ENV_PROFILE, PROFILE_FILE_HINT

__all__ = ["CONNECTION", "OUTPUT", "RATE", "Option", "add_option", "add_options", "apply_defaults"]


@attrs.frozen
class Option:
    """One global option: its flags, help, value when not given, and the default to show."""

    flags: tuple[str, ...]
    help: str
    default: object = None
    shown: str | None = None  # the default as the help shows it (when layered by _config)
    kwargs: Mapping[str, Any] = attrs.field(factory=dict)

    @property
    def dest(self) -> str:
        return self.flags[-1].lstrip("-").replace("-", "_")

    def help_text(self) -> str:
        return self.help if self.shown is None else f"{self.help} (default: {self.shown})"


_FLAG = {"action": "store_true"}

OUTPUT = (
    Option(("--json",), "print one JSON document on standard output", False, kwargs=_FLAG),
    Option(("-v", "--verbose"), "log each step and retry on standard error", False, kwargs=_FLAG),
    Option(("--debug",), "debug logs; a traceback on errors", False, kwargs=_FLAG),
    Option(
        ("--log-file",),
        "append timestamped logs (INFO, DEBUG with --debug) to this file",
        kwargs={"metavar": "PATH"},
    ),
)

#: One limiter for the whole run (every request and retry of every client the command makes).
RATE = Option(
    ("--rate",),
    "at most N requests per second for the whole run, retries included; the summary of a "
    "bulk run says how long it waited",
    shown="unlimited",
    kwargs={"type": positive_float, "metavar": "N"},
)

CONNECTION = (
    Option(
        ("--profile",),
        f"use this profile of {PROFILE_FILE_HINT} (${ENV_PROFILE})",
        kwargs={"metavar": "NAME"},
    ),
    Option(("--base-url",), f"https://host[:port] (${ENV_BASE_URL})", kwargs={"metavar": "URL"}),
    Option(("--user-id",), f"sent as X-User-Id (${ENV_USER_ID})", kwargs={"metavar": "ID"}),
    Option(
        ("--token-file",),
        f"read the token from this file (${ENV_TOKEN_FILE}; or the token in ${ENV_TOKEN})",
        kwargs={"metavar": "PATH"},
    ),
    Option(
        ("--token",),
        "the token itself: visible to other local users in the process list (warned)",
        kwargs={"metavar": "TOKEN"},
    ),
    Option(
        ("--app-id",), f"app ID of HMAC app credentials (${ENV_APP_ID})", kwargs={"metavar": "ID"}
    ),
    Option(
        ("--app-secret-file",),
        f"read the app secret from this file (${ENV_APP_SECRET})",
        kwargs={"metavar": "PATH"},
    ),
    Option(
        ("--auth-style",),
        "Authorization header form of a token",
        shown="bearer",
        kwargs={"choices": AUTH_STYLES},
    ),
    Option(
        ("--timeout",),
        "seconds per attempt",
        shown=f"{DEFAULT_TIMEOUT:g}",
        kwargs={"type": positive_float, "metavar": "S"},
    ),
    Option(
        ("--max-attempts",),
        "attempts per request; 1 disables retries",
        shown=str(DEFAULT_MAX_ATTEMPTS),
        kwargs={"type": int_in(1), "metavar": "N"},
    ),
    RATE,
    Option(
        ("--allow-insecure-http",), "permit http:// to a non-loopback host", False, kwargs=_FLAG
    ),
)

_GROUPS = (
    ("output", OUTPUT),
    ("connection (flags win over profiles and the environment)", CONNECTION),
)


def add_options(parser: argparse.ArgumentParser, *, connects: bool) -> None:
    """Add the output options (and, for commands that talk to a server, the connection ones)."""
    for title, options in _GROUPS if connects else _GROUPS[:1]:
        group = parser.add_argument_group(title)
        for option in options:
            add_option(group, option)


def add_option(container: argparse._ActionsContainer, option: Option) -> None:
    """Add one global option; not given here, it keeps a value given before the command."""
    container.add_argument(
        *option.flags,
        dest=option.dest,
        default=argparse.SUPPRESS,
        help=option.help_text(),
        **option.kwargs,
    )


def apply_defaults(args: argparse.Namespace) -> None:
    """Give every global option not on the command line its value when not given."""
    for _, options in _GROUPS:
        for option in options:
            if not hasattr(args, option.dest):
                setattr(args, option.dest, option.default)
