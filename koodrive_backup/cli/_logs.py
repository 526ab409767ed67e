"""Logging of the command line: timestamped lines on standard error and in ``--log-file``.

The SDK logs on the ``koodrive_backup`` logger (retries at INFO, anomalies at WARNING); the
CLI adds its own steps on ``koodrive_backup.cli`` (what a command was asked to do, its
counts, its exit status), so a ``--log-file`` is an audit trail of a cleanup. Standard error
shows WARNING (INFO with ``-v``, DEBUG with ``--debug``); the file gets INFO (DEBUG with
``--debug``) whatever ``-v`` says. Times are UTC, ISO 8601 with milliseconds. Secrets never
reach a log record (the SDK's messages hold none; the command line is logged with the
``--token`` value masked).
"""

from __future__ import annotations

import logging
import sys
import time
from collections.abc import Sequence

from ._errors import UsageError

__all__ = ["SHOWN", "RetryCounter", "log", "log_command", "setup_logging"]

log = logging.getLogger("koodrive_backup.cli")
#: ``log.error(..., extra=SHOWN)``: the message is on standard error already.
SHOWN = {"shown": True}
_STDERR_FORMAT = "%(asctime)s koodrive-backup %(levelname)s: %(message)s"
_FILE_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"


class _UTCFormatter(logging.Formatter):
    converter = time.gmtime  # type: ignore[assignment]  # typeshed's signature is too narrow
    default_time_format = "%Y-%m-%dT%H:%M:%S"
    default_msec_format = "%s.%03dZ"


class _StderrHandler(logging.StreamHandler):  # type: ignore[type-arg]
    """Writes to the *current* ``sys.stderr`` (rich redirects it above a live bar); skips
    records already shown there as an error line (``extra=SHOWN``: for the log file only)."""

    def emit(self, record: logging.LogRecord) -> None:
        if getattr(record, "shown", False):
            return
        self.setStream(sys.stderr)
        super().emit(record)


class RetryCounter(logging.Handler):
    """Counts the SDK's "retrying ... after attempt N failed" records (INFO)."""

    def __init__(self) -> None:
        super().__init__(logging.INFO)
        self.retries = 0

    def emit(self, record: logging.LogRecord) -> None:
        if isinstance(record.msg, str) and record.msg.startswith("retrying"):
            self.retries += 1


def setup_logging(*, debug: bool, verbose: bool, log_file: str | None = None) -> RetryCounter:
    """Route the package's log records; returns the retry counter (the demo reports it)."""
    logger = logging.getLogger("koodrive_backup")
    level = logging.DEBUG if debug else logging.INFO if verbose else logging.WARNING
    handlers: list[logging.Handler] = [_handler(_StderrHandler(), level, _STDERR_FORMAT)]
    if log_file is not None:
        handlers.append(_handler(_file_handler(log_file), min(level, logging.INFO), _FILE_FORMAT))
    counter = RetryCounter()
    for handler in list(logger.handlers):  # main() may run more than once in a process
        logger.removeHandler(handler)
    for handler in (*handlers, counter):
        logger.addHandler(handler)
    logger.setLevel(logging.DEBUG if debug else logging.INFO)  # INFO: the retry counter
    logger.propagate = False
    return counter


def _handler(handler: logging.Handler, level: int, fmt: str) -> logging.Handler:
    handler.setLevel(level)
    handler.setFormatter(_UTCFormatter(fmt))
    return handler


def _file_handler(path: str) -> logging.Handler:
    try:
        return logging.FileHandler(path, encoding="utf-8")
    except OSError as exc:
        raise UsageError(f"--log-file: cannot open {path!r}: {exc.strerror or exc}") from None


def log_command(argv: Sequence[str]) -> None:
    """Log the command line at INFO, with the value of ``--token`` masked."""
    shown, mask = [], False
    for arg in argv:
        if mask:
            arg, mask = "***", False
        elif arg == "--token":
            mask = True
        elif arg.startswith("--token="):
            arg = "--token=***"
        shown.append(arg)
    log.info("command: koodrive-backup %s", " ".join(shown))
