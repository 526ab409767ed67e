"""A ``token_provider`` that hangs or fails (issue 11 item 3), against the fake server.

API.md "Resilience options", Credentials: a provider call is bounded by the call's
``timeout``; a provider that hangs or fails makes that call fail with ``AuthenticationError``
(here its subclass ``TokenProviderError``) and the next call asks the provider again; a failure
that arrives after its caller was cancelled is not replayed to the next caller; no provider
task survives ``client.close()``. Concurrent callers still share one provider call.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager

import pytest
from conftest import FAST

from koodrive_backup import (
    AuthenticationError,
    BackupClient,
    BearerAuth,
    NotFoundError,
    TokenProviderError,
)
from koodrive_backup.testing import FakeKooDrive

RECORD_ID = "1842862763295184641"


class Provider:
    """A provider scripted per call: each entry is awaited for that call's answer."""

    def __init__(self, *script: Callable[[], Awaitable[str]]) -> None:
        self.script = list(script)
        self.calls = 0
        self.cancelled = 0
        self.started = asyncio.Event()

    async def __call__(self) -> str:
        step = self.script[min(self.calls, len(self.script) - 1)]
        self.calls += 1
        self.started.set()
        try:
            return await step()
        except asyncio.CancelledError:
            self.cancelled += 1
            raise


def token(fake: FakeKooDrive, gate: asyncio.Event | None = None) -> Callable[[], Awaitable[str]]:
    """The fake's token, once ``gate`` (if any) is set."""

    async def answer() -> str:
        if gate is not None:
            await gate.wait()
        return fake.token

    return answer


async def forever() -> str:
    await asyncio.Event().wait()
    raise AssertionError("unreachable")


def failing(message: str, gate: asyncio.Event | None = None) -> Callable[[], Awaitable[str]]:
    async def fail() -> str:
        if gate is not None:
            await gate.wait()
        raise ConnectionError(message)

    return fail


@asynccontextmanager
async def client_with(
    fake: FakeKooDrive, provider: Provider, seconds: float = 30.0
) -> AsyncIterator[BackupClient]:
    auth = BearerAuth(token_provider=provider)
    async with BackupClient(
        fake.url, user_id=fake.user_id, auth=auth, retry=FAST, timeout=seconds
    ) as client:
        yield client


#: A guard against a hang (the bug these tests catch), not a timing assertion.
GUARD = 10.0


def others() -> set[asyncio.Task[object]]:
    return asyncio.all_tasks() - {asyncio.current_task()}


async def test_a_hung_provider_fails_the_call_within_its_timeout_and_is_asked_again(
    fake: FakeKooDrive,
) -> None:
    provider = Provider(forever, token(fake))
    async with client_with(fake, provider, seconds=0.05) as client:
        with pytest.raises(TokenProviderError, match="within the call's timeout") as info:
            async with asyncio.timeout(GUARD):
                await client.get_record(RECORD_ID)
        assert isinstance(info.value, AuthenticationError)
        await asyncio.sleep(0)  # the cancelled provider call ends on the next loop turn
        assert provider.cancelled == 1 and others() == set()  # no provider task left behind
        with pytest.raises(NotFoundError):  # the next call asks again, and gets through
            await client.get_record(RECORD_ID)
    assert provider.calls == 2
    assert fake.route_counts["getBackupRecord"] == 1  # nothing was sent without a token


async def test_a_failing_provider_fails_the_call_and_the_next_call_asks_again(
    fake: FakeKooDrive,
) -> None:
    provider = Provider(failing("identity server down"), token(fake))
    async with client_with(fake, provider) as client:
        with pytest.raises(TokenProviderError) as info:
            await client.get_record(RECORD_ID)
        assert "raised ConnectionError: identity server down" in str(info.value)
        assert info.value.__cause__ is None and info.value.__context__ is None  # not chained
        assert fake.request_count == 0  # not retried: nothing sent
        with pytest.raises(NotFoundError):
            await client.get_record(RECORD_ID)
    assert provider.calls == 2


async def test_a_failure_after_its_caller_was_cancelled_is_not_replayed(
    fake: FakeKooDrive,
) -> None:
    gate = asyncio.Event()
    provider = Provider(failing("stale failure", gate), token(fake))
    async with client_with(fake, provider) as client:
        first = asyncio.create_task(client.get_record(RECORD_ID))
        await provider.started.wait()
        first.cancel()
        with pytest.raises(asyncio.CancelledError):
            await first
        gate.set()  # the first provider call would fail now, with nobody waiting for it
        await asyncio.sleep(0)
        with pytest.raises(NotFoundError):  # asked again: a token, not the stale failure
            await client.get_record(RECORD_ID)
    assert provider.calls == 2


async def test_concurrent_callers_share_one_provider_call(fake: FakeKooDrive) -> None:
    gate = asyncio.Event()
    provider = Provider(token(fake, gate))
    async with client_with(fake, provider) as client:
        calls = [asyncio.create_task(client.get_record(RECORD_ID)) for _ in range(5)]
        await provider.started.wait()
        await asyncio.sleep(0.01)
        gate.set()
        results = await asyncio.gather(*calls, return_exceptions=True)
    assert all(isinstance(result, NotFoundError) for result in results)
    assert provider.calls == 1


async def test_one_caller_timing_out_does_not_fail_the_others(fake: FakeKooDrive) -> None:
    gate = asyncio.Event()
    provider = Provider(token(fake, gate))
    auth = BearerAuth(token_provider=provider)
    async with (
        BackupClient(fake.url, user_id=fake.user_id, auth=auth, timeout=0.05) as quick,
        BackupClient(fake.url, user_id=fake.user_id, auth=auth, timeout=30) as patient,
    ):
        waiting = asyncio.create_task(patient.get_record(RECORD_ID))
        await provider.started.wait()
        with pytest.raises(TokenProviderError):
            async with asyncio.timeout(GUARD):
                await quick.get_record(RECORD_ID)
        gate.set()
        with pytest.raises(NotFoundError):
            await waiting  # its shared provider call went on
    assert provider.calls == 1 and provider.cancelled == 0


async def test_close_leaves_no_provider_task_behind(fake: FakeKooDrive) -> None:
    provider = Provider(forever)
    client = BackupClient(fake.url, user_id=fake.user_id, auth=BearerAuth(token_provider=provider))
    call = asyncio.create_task(client.get_record(RECORD_ID))
    await provider.started.wait()
    await client.close()
    assert provider.cancelled == 1
    with pytest.raises(TokenProviderError, match="cancelled"):
        await call
    assert others() == set()


async def test_a_provider_hanging_on_the_re_ask_after_a_401_is_bounded_too(
    fake: FakeKooDrive,
) -> None:
    provider = Provider(lambda: asyncio.sleep(0, "stale-token"), forever)
    async with client_with(fake, provider, seconds=0.05) as client:
        with pytest.raises(TokenProviderError, match="within the call's timeout"):
            async with asyncio.timeout(GUARD):
                await client.get_record(RECORD_ID)
    assert provider.calls == 2 and fake.route_counts["getBackupRecord"] == 1
