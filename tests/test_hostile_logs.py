"""Log forging (issue 11 item 10): server text never reaches a log line or a message raw.

A server that puts ``\\n`` (or an escape sequence, a line separator, ...) in ``msg`` must not
be able to start a new log line or hide one: every exception's ``str()`` escapes what is not
printable, and the SDK's log lines format exceptions with ``%s``, so each record stays one
printable line. The attributes keep the text as received.
"""

from __future__ import annotations

import json
import logging
import pickle

import pytest
from conftest import FAST
from hostile import Behaviour, HostileServer, bad_chunked, garbage_status_line, respond_json
from seams import MockTransport, VirtualClock

from koodrive_backup import (
    APIConnectionError,
    APIError,
    BackupClient,
    DecodeError,
    LockLostError,
    ServerError,
)
from koodrive_backup._codec import ShapeError
from koodrive_backup._protocol import RawResponse
from koodrive_backup.testing import FakeKooDrive, Fault

FORGED = "boom\n2026-01-01 00:00:00 INFO koodrive_backup: all good\r\x1b[2K\u2028\x85\u200b"
NASTY = [FORGED, "a\x00b", "tab\there", "lone \udc80 surrogate", "\x07bell", "\u202eevil"]


def one_printable_line(text: str) -> bool:
    return text.isprintable()  # no \n, \r, other controls, separators, format characters


@pytest.mark.parametrize("text", NASTY)
def test_every_sdk_exception_text_is_one_printable_line(text: str) -> None:
    errors: list[Exception] = [
        APIError(503, text, text, method="GET", path="/x"),
        ServerError(500, None, text),
        DecodeError(text, status=200, body=text.encode("utf-8", "surrogatepass")),
        APIConnectionError(f"GET /x: ClientOSError: {text}"),
        LockLostError(f"backup lock {text} was lost"),
        ShapeError(f"BackupRecord.recordId: {text}"),
    ]
    for error in errors:
        assert one_printable_line(str(error)), repr(error)
        assert "\\n" in str(error) or "\n" not in text  # escaped, not dropped
    assert errors[0].msg == text and errors[0].code == text  # type: ignore[attr-defined]


async def test_an_error_built_from_an_answer_escapes_its_msg_and_keeps_it() -> None:
    body = json.dumps({"code": 15000500, "msg": FORGED}).encode()
    transport = MockTransport(lambda request: RawResponse(503, {}, body))
    async with BackupClient(
        "https://kd.example", user_id="1", token="t", transport=transport, retry=FAST
    ) as client:
        with pytest.raises(ServerError) as info:
            await client.get_record("1")
    assert info.value.msg is not None and "\n" in info.value.msg  # the attribute is raw
    assert one_printable_line(str(info.value)) and "boom\\n2026" in str(info.value)


def test_escaping_survives_pickling() -> None:
    error = pickle.loads(pickle.dumps(APIError(400, 1, FORGED, method="GET", path="/x")))
    assert one_printable_line(str(error)) and error.msg == FORGED


def test_a_log_record_of_such_an_error_is_one_line(caplog: pytest.LogCaptureFixture) -> None:
    logger = logging.getLogger("koodrive_backup")
    with caplog.at_level(logging.INFO, logger="koodrive_backup"):
        logger.info("failed (%s)", ServerError(503, None, FORGED))
    (record,) = caplog.records
    assert one_printable_line(record.getMessage())


def sdk_lines(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.name.startswith("koodrive_backup")]


async def test_the_retry_info_line_is_one_line(
    fake: FakeKooDrive, client: BackupClient, caplog: pytest.LogCaptureFixture
) -> None:
    record_id = fake.add_record(fake.add_device())
    fake.inject(Fault.status(503, msg=FORGED), route="getBackupRecord")
    with caplog.at_level(logging.INFO, logger="koodrive_backup"):
        await client.get_record(record_id)
    (line,) = [m for m in sdk_lines(caplog) if m.startswith("retrying")]
    assert one_printable_line(line) and "boom\\n2026" in line


async def test_the_lost_lock_warning_and_the_failed_release_are_one_line(
    fake: FakeKooDrive, caplog: pytest.LogCaptureFixture
) -> None:
    clock = VirtualClock()  # the renewer waits on it: virtual seconds, no real waiting
    refusal = Fault.status(409, code=15000415, msg=FORGED)
    with caplog.at_level(logging.INFO, logger="koodrive_backup"):
        async with (
            BackupClient(fake.url, user_id=fake.user_id, token=fake.token, clock=clock) as client,
            client.lock("101", renew_interval=1.0, lifetime=5.0) as lock,
        ):
            fake.inject(refusal, route="renewalBackupLock", times=None)
            fake.inject(refusal, route="releaseBackupLock", times=None)
            await clock.run_until(lambda: lock.lost, step=0.1)
            with pytest.raises(LockLostError) as lost:
                lock.check()
    assert one_printable_line(str(lost.value))
    lines = sdk_lines(caplog)
    assert any(line.startswith("backup lock") and "lost" in line for line in lines)
    assert all(one_printable_line(line) for line in lines), lines


async def test_a_hostile_msg_over_a_raw_socket_stays_escaped(
    caplog: pytest.LogCaptureFixture,
) -> None:
    body = {"code": 15000503, "msg": FORGED}
    peer = HostileServer(respond_json(503, body), respond_json(200, {"code": 0}))
    async with peer, BackupClient(peer.url, user_id="1", token="t", retry=FAST) as client:
        with caplog.at_level(logging.INFO, logger="koodrive_backup"):
            await client.delete_record("1", lock_id="L@101")
    assert len(peer.requests) == 2  # one 503, one success
    lines = sdk_lines(caplog)
    assert lines and all(one_printable_line(line) for line in lines), lines


@pytest.mark.parametrize(
    "behaviour",
    [garbage_status_line(b"HTTP/1.1 2\x1b[2J00 OK\x07"), bad_chunked()],
    ids=["garbage-status-line", "bad-chunked"],
)
async def test_transport_errors_quoting_the_server_are_one_line(
    behaviour: Behaviour, caplog: pytest.LogCaptureFixture
) -> None:
    """aiohttp's own messages for broken framing span lines and quote the server's bytes."""
    peer = HostileServer(behaviour)
    async with peer, BackupClient(peer.url, user_id="1", token="t", retry=FAST) as client:
        with (
            caplog.at_level(logging.INFO, logger="koodrive_backup"),
            pytest.raises(APIConnectionError) as info,
        ):
            await client.get_record("1")
    assert one_printable_line(str(info.value))
    lines = sdk_lines(caplog)
    assert lines and all(one_printable_line(line) for line in lines), lines
