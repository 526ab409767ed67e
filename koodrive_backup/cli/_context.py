"""What every command handler gets besides its arguments."""

from __future__ import annotations

from collections.abc import Callable, Mapping

import attrs

from ._logs import RetryCounter

__all__ = ["Context"]


@attrs.frozen
class Context:
    """What commands need from the process: the environment, a way to warn, and the count
    of the SDK's retries (the demo reports it)."""

    environ: Mapping[str, str]
    warn: Callable[[str], None]
    retries: RetryCounter = attrs.field(factory=RetryCounter)
