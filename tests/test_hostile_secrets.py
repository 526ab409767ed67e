"""No secret in any exception reachable from an SDK exception (issue 11 item 6).

API.md "Resilience options", Credentials: no exception raised by the SDK, nor any exception
chained to it (``__cause__``/``__context__``), holds the token or app secret in its ``str``,
``repr`` or attributes. aiohttp's exceptions carry the request headers (``Authorization``)
in ``request_info``: the walk below follows causes, contexts, args and attributes (into
containers and objects) and looks at the ``str`` and ``repr`` of everything it meets.
Tracebacks are not followed: their frames hold the locals of every function on the way, for
any exception Python raises, and that is not what "holds" means here.
"""

from __future__ import annotations

import contextlib
import socket
from collections.abc import Callable, Iterator
from types import FrameType, FunctionType, ModuleType, TracebackType

import pytest
from hostile import (
    Behaviour,
    HostileServer,
    bad_chunked,
    garbage_status_line,
    hang,
    reset_after_headers,
    reset_before_headers,
    truncate,
)
from seams import MockTransport, answer

from koodrive_backup import (
    APIConnectionError,
    Auth,
    BackupClient,
    BearerAuth,
    HmacAuth,
    KooDriveError,
    RetryPolicy,
)

URL = "https://api.example"
TOKEN = "tok-7f3a9c1e-very-secret"
APP_SECRET = "app-secret-5d2b8e4f"
TWO = RetryPolicy(max_attempts=2, initial_delay=0.001, max_delay=0.001)
_OPAQUE = (type, ModuleType, FunctionType, FrameType, TracebackType)


def reachable(root: BaseException, limit: int = 20_000) -> Iterator[object]:
    """Every object reachable from ``root`` through exception links, args, attributes
    (``__dict__`` and slots) and container items; each once."""
    seen: set[int] = set()
    pending: list[object] = [root]
    while pending and len(seen) < limit:
        obj = pending.pop()
        if (
            id(obj) in seen
            or isinstance(obj, _OPAQUE)
            or (callable(obj) and not isinstance(obj, BaseException))
        ):
            continue
        seen.add(id(obj))
        yield obj
        pending.extend(_links(obj))


def _links(obj: object) -> list[object]:
    links: list[object] = []
    if isinstance(obj, BaseException):
        links += [obj.__cause__, obj.__context__, *obj.args]
    if isinstance(obj, dict):
        links += [*obj.keys(), *obj.values()]
    elif isinstance(obj, list | tuple | set | frozenset):
        links += list(obj)
    elif hasattr(obj, "items") and callable(obj.items) and not isinstance(obj, type):
        with contextlib.suppress(TypeError):
            links += [value for pair in obj.items() for value in pair]  # multidicts
    if hasattr(obj, "__dict__") and not isinstance(obj, str | bytes):
        links += list(vars(obj).values())
    for name in getattr(type(obj), "__slots__", ()):
        links.append(getattr(obj, name, None))
    return [link for link in links if link is not None]


def leaks(exc: BaseException, secrets: tuple[str, ...]) -> list[str]:
    found = []
    for obj in reachable(exc):
        for text in (_safe(str, obj), _safe(repr, obj)):
            for secret in secrets:
                if secret in text:
                    found.append(f"{type(obj).__name__}: {text[:200]}")
    return found


def _safe(show: Callable[[object], str], obj: object) -> str:
    try:
        return show(obj)
    except Exception:  # a repr that fails is no leak
        return ""


def refused_url() -> str:
    with socket.socket() as sock:  # a loopback port nobody listens on once closed
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}"


AUTHS: dict[str, tuple[Callable[[], Auth], tuple[str, ...]]] = {
    "bearer": (lambda: BearerAuth(TOKEN), (TOKEN,)),
    # The secret never goes on the wire; the signature does, and must not end up in chains.
    "hmac": (lambda: HmacAuth("app-1", APP_SECRET), (APP_SECRET, "Signature=")),
}
BEHAVIOURS: dict[str, Behaviour] = {
    "garbage-status-line": garbage_status_line(),
    "bad-chunked": bad_chunked(),
    "reset-before-headers": reset_before_headers(),
    "reset-after-headers": reset_after_headers(),
    "truncated": truncate(b'{"code": 0, "data": {}}', 5),
    "timeout": hang(),
}


async def failure(url: str, auth: Auth) -> BaseException:
    async with BackupClient(url, user_id="1", auth=auth, retry=TWO, timeout=0.2) as client:
        with pytest.raises(KooDriveError) as info:
            await client.get_record("1842862763295184641")
    return info.value


@pytest.mark.parametrize("auth_kind", sorted(AUTHS))
@pytest.mark.parametrize("behaviour", sorted(BEHAVIOURS))
async def test_no_secret_anywhere_in_the_chain(behaviour: str, auth_kind: str) -> None:
    make_auth, secrets = AUTHS[auth_kind]
    async with HostileServer(BEHAVIOURS[behaviour]) as peer:
        error = await failure(peer.url, make_auth())
    sent = peer.requests[0].headers["authorization"]
    assert any(secret in sent for secret in secrets) or auth_kind == "hmac"  # the test bites
    assert isinstance(error, APIConnectionError)
    assert leaks(error, secrets) == []
    assert error.__cause__ is None and error.__context__ is None  # named, not chained


@pytest.mark.parametrize("auth_kind", sorted(AUTHS))
async def test_no_secret_when_the_connection_is_refused(auth_kind: str) -> None:
    make_auth, secrets = AUTHS[auth_kind]
    error = await failure(refused_url(), make_auth())
    assert isinstance(error, APIConnectionError) and not error.request_sent
    assert leaks(error, secrets) == []


def test_the_walk_finds_a_secret_held_the_way_aiohttp_holds_it() -> None:
    """The walk itself: a header dict two objects deep, behind ``__cause__``, is found."""

    class Info:
        def __init__(self) -> None:
            self.headers = {"Authorization": f"Bearer {TOKEN}"}

    class Transport(Exception):
        def __init__(self) -> None:
            super().__init__("boom")
            self.request_info = Info()

    try:
        try:
            raise Transport()
        except Transport as exc:
            raise APIConnectionError("GET /x: boom") from exc
    except APIConnectionError as exc:
        assert leaks(exc, (TOKEN,)) != []


@pytest.mark.parametrize("auth_kind", sorted(AUTHS))
async def test_no_secret_in_the_repr_of_a_request_sent(auth_kind: str) -> None:
    """The ``HttpRequest`` a transport is given (a public type, in test failures and logs
    of custom transports) shows header names, never their values."""
    make_auth, secrets = AUTHS[auth_kind]
    transport = MockTransport(lambda request: answer(200, {"code": 0, "data": []}))
    async with BackupClient(URL, user_id="1", auth=make_auth(), transport=transport) as client:
        await client.list_devices()
    (request,) = transport.requests
    credential = request.headers["Authorization"]
    assert any(secret in credential for secret in secrets) or auth_kind == "hmac"  # it bites
    for text in (repr(request), str(request)):
        assert credential not in text
        assert not [secret for secret in secrets if secret in text]
    assert "Authorization" in repr(request) and "/device" in repr(request)
