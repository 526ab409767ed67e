"""Shared fixtures: a fake KooDrive server on loopback and a client with millisecond retries."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from koodrive_backup import BackupClient, RetryPolicy
from koodrive_backup.testing import FakeKooDrive

#: Retries that wait milliseconds, so retry paths cost nothing in the suite.
FAST = RetryPolicy(initial_delay=0.001, max_delay=0.01)


@pytest.fixture
async def fake() -> AsyncIterator[FakeKooDrive]:
    async with FakeKooDrive() as server:
        yield server


@pytest.fixture
async def client(fake: FakeKooDrive) -> AsyncIterator[BackupClient]:
    async with BackupClient(fake.url, user_id=fake.user_id, token=fake.token, retry=FAST) as c:
        yield c
