r"""The exception tree of koodrive_backup (a leaf module: it imports nothing from the package).

::

    KooDriveError
    ├── APIConnectionError        no usable HTTP answer after retries (connect, reset, DNS)
    │   └── APITimeoutError
    ├── APIError                  the server answered with an error: .status (HTTP), .code, .msg
    │   ├── BadRequestError       400
    │   ├── AuthenticationError   401
    │   │   └── TokenProviderError  no token: the token_provider failed, hung or was cancelled
    │   ├── PermissionDeniedError 403
    │   ├── NotFoundError         404
    │   ├── ConflictError         409
    │   ├── RateLimitError        429 (.retry_after: float seconds or None)
    │   └── ServerError           5xx
    ├── DecodeError               the body is not JSON, or not the documented shape
    │   └── ResponseTooLargeError the body is larger than max_response_bytes
    └── LockLostError             a managed lock could not be renewed (see ``BackupClient.lock``)

Messages never contain credentials: exceptions are built from the method, the path (IDs are
not secrets), the status and what the server said, never from request headers. Nor does their
chain: an SDK error raised because a third-party exception occurred (aiohttp's, whose
``request_info.headers`` hold ``Authorization``) or a ``token_provider`` failed is raised with
neither ``__cause__`` nor ``__context__`` pointing at it; its message names that exception's
type and text instead.

Messages are always one printable line: ``str()`` of any of these exceptions escapes control,
format and separator characters (``\n`` -> ``\\n``, ``\x1b`` -> ``\\x1b``), so text a server
chose (a ``msg`` with a newline, an ID with an escape sequence) cannot forge log lines when an
exception is logged with ``%s`` or shown in a traceback. The attributes (``msg``, ``body``,
...) keep the text as received.
"""

from __future__ import annotations

import reprlib
from typing import Any

__all__ = [
    "APIConnectionError",
    "APIError",
    "APITimeoutError",
    "AuthenticationError",
    "BadRequestError",
    "ConflictError",
    "DecodeError",
    "KooDriveError",
    "LockLostError",
    "NotFoundError",
    "PermissionDeniedError",
    "RateLimitError",
    "ResponseTooLargeError",
    "ServerError",
    "TokenProviderError",
]

_BODY_EXCERPT = 200

#: What a body's ``code`` may be: a JSON value, kept as given unless numeric (see ``APIError``).
BodyCode = int | str | float | bool | list[Any] | dict[str, Any] | None

# A bounded rendering for JSON containers a server put where text belongs: never deeper than
# 4 levels nor longer than ~200 characters, so a 1,000-level nested ``msg`` costs nothing and
# cannot raise RecursionError while a message is built (str() of it would).
_SHORT = reprlib.Repr()
_SHORT.maxlevel = 4
_SHORT.maxstring = _SHORT.maxother = _BODY_EXCERPT
_SHORT.maxlist = _SHORT.maxdict = 10
_SHORT.maxlong = _BODY_EXCERPT


def one_line(text: str) -> str:
    r"""``text`` with every non-printable character escaped (``\n`` -> ``\\n``): one log line.

    Non-printable is ``str.isprintable()``'s notion: control (Cc), format (Cf), line and
    paragraph separators, lone surrogates, ... Printable non-ASCII text stays readable.
    """
    if text.isprintable():  # the usual case: one C-speed scan, no copy
        return text
    return "".join(ch if ch.isprintable() else _escaped(ch) for ch in text)


def _escaped(ch: str) -> str:
    return ch.encode("unicode_escape").decode("ascii")


def shown(value: object) -> str:
    """Server-sent JSON as message text: strings and ints as they are, anything else bounded
    (a JSON int has at most 4,300 digits: ``json.loads`` refuses longer ones)."""
    if isinstance(value, str):
        return value
    return str(value) if type(value) is int else _SHORT.repr(value)


class KooDriveError(Exception):
    """Base class of every error this SDK raises on purpose (not ValueError/TypeError).

    ``str()`` is always one printable line (see the module docstring), whoever built the
    message, so every subclass and every message built elsewhere is covered.
    """

    def __str__(self) -> str:
        return one_line(super().__str__())


class APIConnectionError(KooDriveError):
    """No usable HTTP answer: the connection failed, was reset, or DNS failed.

    ``request_sent`` is False only when the failure proves the request never reached the
    server (the connection could not be opened); the retry rules for POST/PATCH use it.
    """

    def __init__(self, message: str, *, request_sent: bool = True) -> None:
        super().__init__(message)
        self.request_sent = request_sent


class APITimeoutError(APIConnectionError):
    """The attempt did not complete within the per-attempt timeout."""


class APIError(KooDriveError):
    """The server answered with an error (HTTP status >= 300, or a 2xx whose body code != 0).

    Attributes: ``status`` (HTTP status), ``code`` (the body's ``code``: an ``int`` when it is
    an int or a string of ASCII digits with an optional leading ``-``, else the JSON value as
    given, ``None`` when absent or ``null``), ``msg`` (the body's message or ``None``),
    ``method`` and ``path`` of the request, and ``retry_after`` (the answer's ``Retry-After`` in
    seconds, ``None`` when absent or unparseable).
    """

    def __init__(
        self,
        status: int,
        code: BodyCode = None,
        msg: str | None = None,
        *,
        method: str = "",
        path: str = "",
        retry_after: float | None = None,
    ) -> None:
        self.status = status
        self.code = code
        self.msg = msg
        self.method = method
        self.path = path
        self.retry_after = retry_after
        super().__init__(self._describe())

    def _describe(self) -> str:
        where = f"{self.method} {self.path}: " if self.method else ""
        text = f"{where}HTTP {self.status}"
        if self.code is not None:
            text += f", code {shown(self.code)[:_BODY_EXCERPT]}"
        if self.msg:
            text += f": {self.msg[:_BODY_EXCERPT]}"
        return text

    def __reduce__(self) -> tuple[object, ...]:
        return (_rebuild_api_error, (type(self), self.__dict__))


def _rebuild_api_error(cls: type[APIError], state: dict[str, object]) -> APIError:
    error = cls.__new__(cls)
    error.__dict__.update(state)
    Exception.__init__(error, error._describe())
    return error


class BadRequestError(APIError):
    """HTTP 400: the server refused the parameters."""


class AuthenticationError(APIError):
    """HTTP 401: the credential was refused."""


class TokenProviderError(AuthenticationError):
    """No token to send: the ``token_provider`` raised, returned a non-string, did not answer
    within the call's ``timeout``, or its call was cancelled by ``client.close()``.

    ``status`` is 401 (the request could not be authenticated) and ``code`` is ``None``;
    ``msg`` says what happened to the provider call, naming the exception it raised by type
    and text. Not retried; the next call asks the provider again.
    """

    def _describe(self) -> str:
        where = f"{self.method} {self.path}: " if self.method else ""
        return f"{where}no token: {self.msg}"


class PermissionDeniedError(APIError):
    """HTTP 403: the credential is valid but not allowed to do this."""


class NotFoundError(APIError):
    """HTTP 404: the record, device or path does not exist."""


class ConflictError(APIError):
    """HTTP 409: the state on the server conflicts (a lock is held, a value changed)."""


class RateLimitError(APIError):
    """HTTP 429. ``retry_after`` is the server's ``Retry-After`` in seconds, or ``None``."""


class ServerError(APIError):
    """HTTP 5xx."""


class DecodeError(KooDriveError):
    """The body is not JSON, or not the documented shape.

    ``status`` is the HTTP status and ``body`` a truncated excerpt of what was received.
    """

    def __init__(self, message: str, *, status: int, body: bytes | str = b"") -> None:
        if isinstance(body, bytes):
            body = body[:_BODY_EXCERPT].decode("utf-8", "replace")
        self.status = status
        self.body = body[:_BODY_EXCERPT]
        super().__init__(f"{message} (HTTP {status}, body {self.body!r})")

    def __reduce__(self) -> tuple[object, ...]:
        return (_rebuild_plain, (type(self), self.args, self.__dict__))


class ResponseTooLargeError(DecodeError):
    """The answer's body is larger than ``max_response_bytes`` (counted after decompression).

    Raised while reading, before the limit is passed (a ``Content-Length`` above the limit is
    refused before any body byte is read); not retried. ``limit`` is the limit in bytes.
    """

    def __init__(self, message: str, *, status: int, limit: int) -> None:
        super().__init__(message, status=status)
        self.limit = limit


def _rebuild_plain(
    cls: type[KooDriveError], args: tuple[object, ...], state: dict[str, object]
) -> KooDriveError:
    error = cls.__new__(cls)
    error.__dict__.update(state)
    Exception.__init__(error, *args)
    return error


class LockLostError(KooDriveError):
    """A lock managed by ``BackupClient.lock()`` could not be renewed and may have expired.

    Raised by the next operation that uses the lock, instead of a confusing server error.
    """
