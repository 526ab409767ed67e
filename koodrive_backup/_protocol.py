"""Sans-I/O protocol: endpoint descriptions -> request values; answers -> data or errors.

Nothing here performs I/O. An ``Endpoint`` describes one operation of the API once (method,
path template, query and body fields, headers, how to read its answer, whether a retry is
safe); ``Endpoint.request`` turns validated arguments into a ``Request``. ``_session`` sends
it and hands back a ``RawResponse``; ``read_payload`` turns that into the JSON object or
raises the typed error. ``error_for`` is the one place where an HTTP status and a body
``code`` become an exception class.
"""

from __future__ import annotations

import json
import math
import time
from collections.abc import Callable, Mapping
from datetime import UTC
from email.utils import parsedate_to_datetime
from typing import Any, Generic, NamedTuple, TypeVar, cast
from urllib.parse import urlsplit

from ._codec import wire_name
from .errors import (
    APIError,
    AuthenticationError,
    BadRequestError,
    BodyCode,
    ConflictError,
    DecodeError,
    NotFoundError,
    PermissionDeniedError,
    RateLimitError,
    ServerError,
    shown,
)

__all__ = [
    "API_PREFIX",
    "LOCK_HEADER",
    "Endpoint",
    "Payload",
    "RawResponse",
    "Request",
    "error_for",
    "host_header",
    "is_success_code",
    "json_body",
    "loads",
    "normalise_code",
    "parse_http_date",
    "parse_retry_after",
    "read_payload",
]

try:  # an optional accelerator; the standard library is the reference behaviour
    import orjson as _orjson
except ImportError:  # pragma: no cover - depends on the environment
    _orjson = None  # type: ignore[assignment]

# orjson is exact for integers that fit in 64 bits; a longer one (20+ digits, or a minus and
# 19 digits) may become a float. Digits and "-" map to "1", all else to "0": a run of twenty
# "1"s is then found by a plain substring search, far cheaper than a regex scan.
_DIGIT_MAP = bytes(0x31 if chr(byte) in "0123456789-" else 0x30 for byte in range(256))
_LONG_RUN = b"1" * 20

API_PREFIX = "/koodrive/ose/v1/backup"
LOCK_HEADER = "x-backup-lock-id"
Payload = dict[str, Any]
T = TypeVar("T")
Answer = Callable[[Payload, "Request"], T]


class Endpoint(Generic[T]):
    """One operation of the backup API, described once.

    ``template`` is the path under ``API_PREFIX`` with ``{name}`` placeholders; ``query`` and
    ``body`` name the (snake_case) arguments sent as query parameters or JSON body fields
    (camelCase on the wire; ``None`` values are left out; ``body=None`` sends no body);
    ``headers`` maps argument names to header names. ``answer(payload, request)`` decodes a
    successful answer (``None``: the operation returns nothing and an empty body is fine).
    GET and DELETE are ``idempotent`` (retried on any transient failure); POST and PATCH are
    not (see ``_retry``). ``gone_on_retry_404``: a 404 met by a retry, after an attempt that may
    have been processed, means "already done" (the delete whose answer was lost, API.md).
    """

    __slots__ = (
        "_body",
        "_path",
        "_pieces",
        "_query",
        "answer",
        "gone_on_retry_404",
        "headers",
        "idempotent",
        "method",
        "route",
        "template",
    )

    def __init__(
        self,
        route: str,
        method: str,
        template: str,
        answer: Answer[T] | None = None,
        *,
        query: tuple[str, ...] = (),
        body: tuple[str, ...] | None = None,
        headers: tuple[tuple[str, str], ...] = (),
        gone_on_retry_404: bool = False,
    ) -> None:
        self.route = route  # the reference's page name, e.g. "getBackupRecord"
        self.method = method
        self.template = template
        self.answer: Answer[T] = no_answer if answer is None else answer
        self.headers = headers
        self.idempotent = method in ("GET", "DELETE")
        self.gone_on_retry_404 = gone_on_retry_404
        self._path = API_PREFIX + template
        self._pieces = _split_template(self._path)
        self._query = tuple((name, wire_name(name)) for name in query)
        self._body = None if body is None else tuple((name, wire_name(name)) for name in body)

    def __repr__(self) -> str:
        return f"<Endpoint {self.route}: {self.method} {self._path}>"

    @property
    def expects_data(self) -> bool:
        """Whether a success must carry a body (an empty 2xx is fine when nothing is returned)."""
        return self.answer is not no_answer

    @property
    def url_template(self) -> str:
        """The full path template, e.g. ``/koodrive/ose/v1/backup/record/{record_id}``."""
        return self._path

    def request(self, values: Mapping[str, Any]) -> Request:
        """The request for already-validated ``values`` (path, query, body and header args)."""
        head, field, tail = self._pieces  # every path of this API holds at most one ID
        path = head if field is None else head + values[field] + tail
        query: tuple[tuple[str, str], ...] = ()
        if self._query:
            query = tuple(
                (wire, str(values[name]))
                for name, wire in self._query
                if values.get(name) is not None
            )
        body = b""
        if self._body is not None:
            fields = {
                wire: values[name] for name, wire in self._body if values.get(name) is not None
            }
            body = json_body(fields)
        headers: tuple[tuple[str, str], ...] = ()
        if self.headers:
            headers = tuple(
                [(header, values[name]) for name, header in self.headers if values.get(name)]
            )
        return Request(self, path, query, body, headers)


def _split_template(path: str) -> tuple[str, str | None, str]:
    """``"/a/{name}/b"`` -> ``("/a/", "name", "/b")``; no placeholder -> ``(path, None, "")``."""
    head, brace, rest = path.partition("{")
    if not brace:
        return path, None, ""
    field, _, tail = rest.partition("}")
    if "{" in tail:
        raise ValueError(f"a path template holds at most one placeholder: {path!r}")
    return head, field, tail


def no_answer(payload: Payload, req: Request) -> Any:
    """The answer of an operation that returns nothing: ``None``, whatever the body holds."""
    return None


class Request(NamedTuple):
    """One API call as data: its endpoint and what goes on the wire. ``path`` includes the
    prefix. A tuple because one is built per call and a tuple is Python's cheapest value."""

    endpoint: Endpoint[Any]
    path: str
    query: tuple[tuple[str, str], ...] = ()
    body: bytes = b""
    headers: tuple[tuple[str, str], ...] = ()

    @property
    def method(self) -> str:
        return self.endpoint.method

    @property
    def route(self) -> str:
        return self.endpoint.route

    def __str__(self) -> str:
        return f"{self.endpoint.method} {self.path}"


class RawResponse(NamedTuple):
    """What came back: the status, the headers and the body bytes, nothing interpreted."""

    status: int
    headers: Mapping[str, str]
    body: bytes


_DEFAULT_PORTS = {"http": 80, "https": 443}


def host_header(base_url: str) -> str:
    """The ``Host`` value an HTTP client derives from the URL (RFC 9110 §7.2): the host in
    lower case (IPv6 in brackets), the port only when it is not the scheme's default.

    The session never sets ``Host`` itself (the transport sends this derived value, as aiohttp
    does); a signature covers exactly this value.
    """
    parts = urlsplit(base_url)
    host = parts.hostname or ""
    if ":" in host:
        host = f"[{host}]"
    port = parts.port
    return host if port is None or port == _DEFAULT_PORTS.get(parts.scheme) else f"{host}:{port}"


def json_body(body: Mapping[str, Any]) -> bytes:
    """Compact UTF-8 JSON. orjson, when installed, writes the very same bytes faster; what it
    refuses (ints beyond 64 bits) goes to the standard library."""
    if _orjson is not None:
        try:
            return _orjson.dumps(body)
        except TypeError:  # orjson.JSONEncodeError
            pass
    return json.dumps(body, separators=(",", ":"), ensure_ascii=False).encode()


# --- answers ----------------------------------------------------------------------------------


def read_payload(response: RawResponse, req: Request) -> Payload:
    """The JSON object of a successful answer, or raise the typed error for it."""
    status = response.status
    if not 200 <= status < 300:
        raise error_for(status, _json_or_none(response.body), req, response.headers)
    body = response.body
    if not body or body.isspace():  # isspace stops at the first other byte: no copy
        if req.endpoint.expects_data:
            raise DecodeError(f"{req.method} {req.path}: empty body", status=status)
        return {}
    try:
        payload = loads(body)
    except ValueError as exc:  # includes UnicodeDecodeError and nesting too deep
        raise DecodeError(
            f"{req.method} {req.path}: body is not JSON ({exc})", status=status, body=body
        ) from None
    if type(payload) is not dict:
        raise DecodeError(
            f"{req.method} {req.path}: body is not a JSON object", status=status, body=body
        )
    code = payload.get("code")
    if (code != 0 or type(code) is not int) and not is_success_code(code):  # int 0: one test
        raise error_for(status, payload, req, response.headers)
    return payload


def is_success_code(code: object) -> bool:
    """Whether a 2xx body's ``code`` means success (API.md "Errors": "present and not 0").

    Success is a ``code`` that is absent or ``null`` (no code given), the JSON integer 0, or a
    string whose ``.code`` would be the integer 0 (ASCII digits, optional leading ``-``: "0",
    "-0", "00"), so an ``APIError`` never carries ``code == 0``. Everything else is an error,
    however zero-like: ``false``, ``0.0``, ``"0.0"``, ``" 0"``, ``[]``, ``{}``, ``true``.
    """
    if code is None:
        return True
    if type(code) is str:
        value = normalise_code(code)
        return type(value) is int and value == 0
    return type(code) is int and code == 0


def loads(body: bytes) -> Any:
    """Parse JSON keeping every integer exact; every failure is a ``ValueError``.

    With the optional ``orjson`` installed (``pip install 'koodrive-backup[speedups]'``)
    answers parse cheaper. orjson turns integers beyond 64 bits into floats,
    so a body holding a run of 20 digits (or of 19 after a minus, even inside a string: the
    check is conservative) goes to the standard library parser, which is exact for any size;
    so does any body orjson refuses (the standard library is more lenient, e.g. ``NaN``).

    Nesting deeper than the parsers allow (orjson: 1024 levels; the standard library: about
    the interpreter's recursion limit) is a ``ValueError`` too, never a ``RecursionError``:
    a 2 KB body of 1,100 nested arrays must not crash the caller.
    """
    if _orjson is not None and _LONG_RUN not in body.translate(_DIGIT_MAP):
        try:
            return _orjson.loads(body)
        except ValueError:
            pass
    try:
        return json.loads(body)
    except RecursionError:
        raise ValueError("JSON nested too deeply") from None


def _json_or_none(body: bytes) -> Payload | None:
    try:
        payload = loads(body)
    except ValueError:
        return None
    return payload if type(payload) is dict else None


def normalise_code(code: Any) -> BodyCode:
    """An int, or a string of ASCII digits (optional leading ``-``) -> ``int``; else as given.

    "As given" is the JSON value itself (``False`` stays ``False``, ``0.0`` stays ``0.0``);
    a digit string too long for ``int()`` (over 4,300 digits) is kept as the string.
    """
    if code is None or type(code) is int:
        return code
    if type(code) is str:
        digits = code[1:] if code.startswith("-") else code
        if digits.isascii() and digits.isdigit():
            try:
                return int(code)
            except ValueError:  # beyond sys.get_int_max_str_digits()
                return code
    return cast(BodyCode, code)  # a JSON value: str, float, bool, list or dict


_STATUS_ERRORS: dict[int, type[APIError]] = {
    400: BadRequestError,
    401: AuthenticationError,
    403: PermissionDeniedError,
    404: NotFoundError,
    409: ConflictError,
    429: RateLimitError,
}


def error_for(
    status: int, payload: Payload | None, req: Request, headers: Mapping[str, str]
) -> APIError:
    """THE mapping from an HTTP status and body to an exception (API.md "Errors").

    The body is ``{code, msg}`` (reference §12.2) or the API gateway's ``{error_code,
    error_msg}``; a body that is not JSON (a proxy's HTML page) gives ``code=None``.
    """
    cls = _STATUS_ERRORS.get(status) or (ServerError if 500 <= status < 600 else APIError)
    code: object = None
    msg: object = None
    if payload is not None:
        code = payload.get("code", payload.get("error_code"))
        msg = payload.get("msg", payload.get("error_msg"))
    return cls(
        status,
        normalise_code(code),
        None if msg is None else shown(msg),  # bounded: a nested msg cannot recurse
        method=req.method,
        path=req.path,
        retry_after=parse_retry_after(headers.get("Retry-After"), date=headers.get("Date")),
    )


def parse_retry_after(
    value: str | None, now: float | None = None, *, date: str | None = None
) -> float | None:
    """``Retry-After`` as seconds: delta-seconds (fractions allowed) or an HTTP date.

    An HTTP date is measured from the answer's own ``Date`` header when it has a readable
    one (both are the server's clock, so a local clock that is off does not distort the
    wait), else from ``now`` (default: our clock). Unparseable -> ``None`` (backoff is
    used); negative or a past date -> 0.
    """
    if value is None:
        return None
    text = value.strip()
    seconds: float | None
    try:
        seconds = float(text)
    except ValueError:
        seconds = _seconds_until(text, date, now)
    if seconds is None or not math.isfinite(seconds):
        return None
    return max(0.0, seconds)


def _seconds_until(http_date: str, date: str | None, now: float | None) -> float | None:
    when = parse_http_date(http_date)
    if when is None:
        return None
    base = parse_http_date(date)
    if base is None:
        base = time.time() if now is None else now
    return when - base


def parse_http_date(text: str | None) -> float | None:
    """An HTTP date (RFC 9110 §5.6.7, the obsolete forms too) as POSIX seconds; ``None``
    when absent or unreadable. Never raises, whatever a server sends."""
    if not text:
        return None
    try:
        when = parsedate_to_datetime(text)
    except (TypeError, ValueError, IndexError, OverflowError):
        return None
    if when.tzinfo is None:  # "-0000": RFC 9110 dates are GMT anyway
        when = when.replace(tzinfo=UTC)
    return when.timestamp()
