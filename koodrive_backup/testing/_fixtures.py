"""The fixtures of ``pytest_plugin`` (imported only when pytest-asyncio is installed)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import pytest_asyncio

from ._fake import FakeKooDrive

FakeFactory = Callable[..., Awaitable[FakeKooDrive]]


@pytest_asyncio.fixture
async def koodrive_fake() -> AsyncIterator[FakeKooDrive]:
    """A started fake server on 127.0.0.1 with a free port."""
    async with FakeKooDrive() as fake:
        yield fake


@pytest_asyncio.fixture
async def koodrive_fake_factory() -> AsyncIterator[FakeFactory]:
    """Start fakes with custom options; all are closed at teardown."""
    started: list[FakeKooDrive] = []

    async def make(**options: Any) -> FakeKooDrive:
        fake = await FakeKooDrive(**options).start()
        started.append(fake)
        return fake

    try:
        yield make
    finally:
        for fake in reversed(started):
            await fake.close()
