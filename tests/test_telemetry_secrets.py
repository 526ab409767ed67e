"""No secret in telemetry (API.md "Telemetry"): every operation, with bearer and HMAC auth,
through successes, retries, 401 re-sends and failures, against the fake; then everything the
OpenTelemetry SDK exported (span names, attributes, events, statuses, metric labels) and
every hook payload (events, their exceptions and the exceptions' chains) is scanned for the
token, the app secret, the signatures and the ``Authorization`` values the fake received."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import pytest
from conftest import FAST
from otel_kit import EveryHook, Recorded

from koodrive_backup import (
    APIConnectionError,
    AuthenticationError,
    BackupClient,
    BearerAuth,
    HmacAuth,
    NotFoundError,
)
from koodrive_backup.testing import FakeKooDrive, Fault

APP_ID, APP_SECRET = "app-0001", "hmac-app-secret-0123456789abcdef"
STALE_TOKEN = "stale-token-4f9a1c77e2"

SINGLE_CALLS = {
    "create_lock", "renew_lock", "release_lock", "create_record", "get_record",
    "list_records", "complete_record", "create_file", "list_files", "delete_record",
    "bind_device", "list_devices", "unbind_device", "list_scopes", "get_config",
    "update_config", "list_configs",
}  # fmt: skip
BULK = {"delete_scopes", "delete_records", "add_scopes"}


@pytest.fixture
async def fake() -> AsyncIterator[FakeKooDrive]:
    async with FakeKooDrive(app_id=APP_ID, app_secret=APP_SECRET) as server:
        yield server


def bearer(fake: FakeKooDrive) -> BearerAuth:
    """A provider whose first token is refused: the first call is re-sent after a 401."""
    tokens = iter([STALE_TOKEN])

    async def provider() -> str:
        return next(tokens, fake.token)

    return BearerAuth(token_provider=provider)


async def exercise(client: BackupClient, fake: FakeKooDrive, *, resends: bool) -> None:
    """Every operation once or more, with retries, re-sends and failures on the way."""
    device = (await client.bind_device("machine_1", device_name="NAS")).device_id
    await client.list_devices()
    fake.add_config(device, "100", "quota", "1")
    await client.get_config(device, "100", "quota")
    await client.update_config(device, "100", "quota", "1", "2")
    await client.list_configs(device, "100")
    await client.add_scopes(device, "100", [("/DCIM", "/Backup"), ("/Music", None)])
    await client.list_scopes(device, "100")
    await client.delete_scopes(device, [*fake.add_scopes(device, 150), "absent-1"])
    lock = await client.create_lock("100")
    await client.renew_lock(lock.lock_id)
    await client.release_lock(lock.lock_id)
    async with client.lock("101", renew_interval=0.02, lifetime=5.0) as held:
        await records(client, fake, device, held.lock_id)
        async with asyncio.timeout(5):  # renewals every 20 ms: wait for one
            while held.renewals < 1:  # noqa: ASYNC110 - the lock offers no event to wait on
                await asyncio.sleep(0.01)
    await failures(client, fake, resends=resends)
    await client.unbind_device(device)


async def records(client: BackupClient, fake: FakeKooDrive, device: str, lock_id: str) -> None:
    record = await client.create_record("101", device, lock_id, properties={"album": "x"})
    fake.inject(Fault.status(503), route="getBackupRecord")  # a retry
    await client.get_record(record.record_id)
    await client.create_file(record.record_id, lock_id, "a.bin", length=3)
    await client.list_files(record.record_id)
    await client.complete_record(record.record_id, lock_id)
    await client.list_records("101", device_id=device)
    async for _ in client.iter_records("101"):
        pass
    await client.delete_record(record.record_id, lock_id)
    others = [fake.add_record(device) for _ in range(3)]
    await client.delete_records([*others, "absent-2"], lock_id)


async def failures(client: BackupClient, fake: FakeKooDrive, *, resends: bool) -> None:
    with pytest.raises(NotFoundError):
        await client.get_record("absent-3")
    fake.inject(Fault.disconnect(), route="listBoundDevice", times=None)
    with pytest.raises(APIConnectionError):
        await client.list_devices()
    fake.clear_faults()
    fake.inject(Fault.status(401), route="listBoundDevice")  # bearer: re-sent; HMAC: raised
    if resends:
        await client.list_devices()
    else:
        with pytest.raises(AuthenticationError):
            await client.list_devices()


def hook_text(hooks: EveryHook) -> str:
    """Every payload as text: the events, and each exception with its whole chain."""
    parts: list[str] = []
    for name, event in hooks.events:
        parts += [name, repr(event)]
        error: Any = getattr(event, "error", None)
        seen: set[int] = set()
        while error is not None and id(error) not in seen:
            seen.add(id(error))
            parts += [str(error), repr(error), repr(vars(error))]
            error = error.__cause__ or error.__context__
    return "\n".join(parts)


def secrets_sent(fake: FakeKooDrive) -> set[str]:
    """The token, the app secret, and each Authorization value the fake received, with the
    signature inside it."""
    found = {fake.token, STALE_TOKEN, APP_SECRET}
    for request in fake.requests:
        value = request.headers.get("Authorization")
        if value:
            found.add(value)
            found.add(value.rsplit("=", 1)[-1] if "Signature=" in value else value.split()[-1])
    return found


@pytest.mark.parametrize("kind", ["bearer", "hmac"])
async def test_no_secret_reaches_spans_metrics_or_hooks(fake: FakeKooDrive, kind: str) -> None:
    rec, hooks = Recorded(include_paths=True), EveryHook()
    auth = bearer(fake) if kind == "bearer" else HmacAuth(APP_ID, APP_SECRET)
    async with BackupClient(
        fake.url, user_id=fake.user_id, auth=auth, retry=FAST, telemetry=rec.options, hooks=hooks
    ) as client:
        await exercise(client, fake, resends=kind == "bearer")

    names = {span.name for span in rec.spans()}
    assert {f"koodrive.{op}" for op in SINGLE_CALLS | BULK} <= names  # every operation ran
    assert {f"koodrive.{op}.chunk" for op in BULK} <= names
    assert "koodrive.lock.renewal" in names
    events = set(hooks.names())
    assert {"on_retry", "on_chunk", "on_batch", "on_lock_renewal"} <= events
    assert any(e.resend == "auth" for e in hooks.of("on_request")) is (kind == "bearer")
    assert any(e.error is not None for e in hooks.of("on_call"))
    exported = rec.export_text() + "\n" + hook_text(hooks)
    sent = secrets_sent(fake)
    assert len(sent) > 3  # the Authorization values were collected
    assert [secret for secret in sent if secret in exported] == []
