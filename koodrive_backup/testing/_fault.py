"""``Fault``: what the fake does instead of (or on top of) answering normally (a value)."""

from __future__ import annotations

import email.utils
import http
from dataclasses import dataclass
from typing import Final, Literal

FaultKind = Literal[
    "status",
    "latency",
    "body_code",
    "malformed_json",
    "truncated_json",
    "disconnect",
    "lose_response",
]
MALFORMED_BODY: Final = b'{"code": 0, "msg": "success", "data": {oops}}'
CANNED_SUCCESS: Final = b'{"code":0,"msg":"success","data":{"lockId":"00000000"}}'


def _retry_after_text(value: str | float | None) -> str | None:
    if value is None or isinstance(value, str):
        return value
    return format(value, "g")


def _phrase(status: int) -> str:
    try:
        return http.HTTPStatus(status).phrase
    except ValueError:
        return "injected error"


@dataclass(frozen=True, slots=True)
class Fault:
    """One injectable misbehaviour; build it with the class methods."""

    kind: FaultKind
    http_status: int = 200
    code: int = 0
    msg: str = "success"
    retry_after: str | None = None
    delay: float = 0.0
    process: bool = False

    @classmethod
    def status(
        cls,
        status: int,
        *,
        retry_after: str | float | None = None,
        code: int | None = None,
        msg: str | None = None,
        process: bool = False,
    ) -> Fault:
        """Answer ``status`` with ``{code, msg}`` (default code ``15000000 + status``).

        ``retry_after`` (seconds or an HTTP date) becomes a ``Retry-After`` header. With
        ``process=True`` the request is carried out first and only the answer is replaced.
        """
        if not 100 <= status <= 599:
            raise ValueError(f"not an HTTP status: {status}")
        return cls(
            "status",
            http_status=status,
            code=15000000 + status if code is None else code,
            msg=_phrase(status) if msg is None else msg,
            retry_after=_retry_after_text(retry_after),
            process=process,
        )

    @classmethod
    def latency(cls, seconds: float) -> Fault:
        """Wait ``seconds`` before handling the request normally."""
        if seconds < 0:
            raise ValueError("latency must be >= 0")
        return cls("latency", delay=seconds)

    @classmethod
    def body_code(cls, code: int, msg: str = "injected error", *, process: bool = False) -> Fault:
        """HTTP 200 whose body carries a non-zero ``code``."""
        return cls("body_code", code=code, msg=msg, process=process)

    @classmethod
    def malformed_json(cls, *, process: bool = False) -> Fault:
        """HTTP 200, ``Content-Type: application/json``, a body that is not JSON."""
        return cls("malformed_json", process=process)

    @classmethod
    def truncated_json(cls, *, process: bool = False) -> Fault:
        """HTTP 200 with the first half of a JSON body (the real one when ``process``)."""
        return cls("truncated_json", process=process)

    @classmethod
    def disconnect(cls) -> Fault:
        """Close the connection without processing or answering: nothing changes."""
        return cls("disconnect")

    @classmethod
    def lose_response(cls) -> Fault:
        """Process the request (the store changes), then close without answering."""
        return cls("lose_response", process=True)

    @staticmethod
    def http_date(stamp: float) -> str:
        """An HTTP date for ``Retry-After`` (e.g. ``Fault.http_date(time.time() + 2)``)."""
        return email.utils.formatdate(stamp, usegmt=True)
