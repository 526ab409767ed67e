"""Sans-I/O protocol, the request side: endpoint descriptions -> request values; JSON.

Nothing here performs I/O. An ``Endpoint`` describes one operation of the API once (method,
path template, query and body fields, headers, how to read its answer, whether a retry is
safe); ``Endpoint.request`` turns validated arguments into a ``Request``. ``_session`` sends
it and hands back a ``RawResponse``, which ``_answers`` turns into data or the typed error.
``json_body`` and ``loads`` are JSON both ways, with the optional orjson.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from typing import Any, Generic, NamedTuple, TypeVar
from urllib.parse import urlsplit

from ._codec import wire_name

__all__ = [
    "API_PREFIX",
    "LOCK_HEADER",
    "Endpoint",
    "Payload",
    "RawResponse",
    "Request",
    "host_header",
    "json_body",
    "loads",
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
