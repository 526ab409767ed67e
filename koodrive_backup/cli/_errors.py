"""Exit statuses of the command line, and the one place an exception becomes one of them."""

from __future__ import annotations

import signal

from ..errors import AuthenticationError, KooDriveError, PermissionDeniedError

__all__ = [
    "EXIT_API",
    "EXIT_AUTH",
    "EXIT_INTERRUPTED",
    "EXIT_NOT_FOUND",
    "EXIT_OK",
    "EXIT_PARTIAL",
    "EXIT_USAGE",
    "UsageError",
    "exit_status_for",
]

EXIT_OK = 0
#: Some IDs failed or were left unprocessed (the others were handled); or not done at all:
#: a declined confirmation, a lock still held after ``lock wait --max-wait``.
EXIT_PARTIAL = 1
#: Bad command line, bad input (an ID, a file that cannot be read) or missing configuration.
EXIT_USAGE = 2
#: The server refused the credential (401) or the permission (403).
EXIT_AUTH = 3
#: Any other API error, a connection failure, an answer we cannot read.
EXIT_API = 4
#: A deletion where most IDs (more than ``--max-not-found``) were not found: they count as
#: gone, but the input probably does not match the device or module (a wrong file).
EXIT_NOT_FOUND = 5
#: Stopped by Ctrl-C (128 + SIGINT, the shell convention); SIGTERM gives 143.
EXIT_INTERRUPTED = 128 + signal.SIGINT


class UsageError(Exception):
    """Bad input or configuration found by the CLI itself: one line, exit status 2."""


def exit_status_for(exc: BaseException) -> int:
    """The exit status of a command that failed with ``exc``."""
    if isinstance(exc, AuthenticationError | PermissionDeniedError):
        return EXIT_AUTH
    if isinstance(exc, KooDriveError):
        return EXIT_API
    if isinstance(exc, UsageError | ValueError | TypeError | OSError):
        return EXIT_USAGE
    if isinstance(exc, KeyboardInterrupt):
        return EXIT_INTERRUPTED
    return EXIT_API  # an unexpected failure: not a usage problem, not a partial result
