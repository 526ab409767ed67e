"""Micro-benchmarks without sockets: decoding one record, and the retry wrapper's toll.

"SDK codec" is what the SDK does with every ``get_record`` answer body: ``read_payload``
(``json`` + the body ``code`` check) then the endpoint's answer decoder (the cattrs
structuring into ``BackupRecord``). These use package internals on purpose: they time the
exact functions the client calls.
"""

from __future__ import annotations

import json
import time
import timeit
from collections.abc import Awaitable, Callable
from typing import Any

from tenacity import AsyncRetrying, stop_after_attempt

from koodrive_backup import BackupRecord, RetryPolicy
from koodrive_backup._answers import read_payload
from koodrive_backup._codec import structure
from koodrive_backup._endpoints import GET_RECORD
from koodrive_backup._protocol import RawResponse
from koodrive_backup._retry import Retrier

from ._bare_server import RECORD_BODY, RECORD_SIZE
from ._config import RECORD_ID, Sizes
from ._driver import Spread, spread
from ._peer import RecordEnvelope
from ._report import CaseResult, Target

__all__ = ["decode_case", "retry_wrapper_case"]

SDK_CODEC = "SDK codec: bytes -> BackupRecord"
PYDANTIC = "peer: pydantic model_validate_json"


def _per_call_us(fn: Callable[[], object], loops: int, runs: int) -> Spread:
    timer = timeit.Timer(fn)
    timer.timeit(max(1, loops // 10))  # warm-up
    return spread([total / loops * 1e6 for total in timer.repeat(repeat=runs, number=loops)])


def _decoders() -> dict[str, Callable[[], object]]:
    request = GET_RECORD.request({"record_id": RECORD_ID})
    response = RawResponse(200, {}, RECORD_BODY)
    data = json.loads(RECORD_BODY)["data"]
    decoders: dict[str, Callable[[], object]] = {
        "json.loads alone": lambda: json.loads(RECORD_BODY),
        SDK_CODEC: lambda: GET_RECORD.answer(read_payload(response, request), request),
        "SDK structure only (dict -> BackupRecord)": lambda: structure(data, BackupRecord),
        PYDANTIC: lambda: RecordEnvelope.model_validate_json(RECORD_BODY),
    }
    try:
        import orjson
    except ImportError:
        return decoders
    decoders["orjson.loads + SDK structure"] = lambda: structure(
        orjson.loads(RECORD_BODY)["data"], BackupRecord
    )
    return decoders


async def decode_case(sizes: Sizes) -> CaseResult:
    """Microseconds to turn one get_record answer (``RECORD_SIZE`` bytes) into a record, per
    decoder."""
    result = CaseResult("decode", f"decode one get_record answer ({RECORD_SIZE} bytes), no I/O")
    decoders = _decoders()
    record = decoders[SDK_CODEC]()
    if not isinstance(record, BackupRecord) or record.device_info is None:
        raise AssertionError(f"the SDK codec decoded {record!r}")
    loops, runs = sizes.decode_loops, sizes.runs
    timings = {name: _per_call_us(fn, loops, runs) for name, fn in decoders.items()}
    result.lines.append(f"    {'decoder':<48}{'us/record median [min-max]':>30}")
    result.lines += [_row(name, t) for name, t in timings.items()]
    result.data = {name: t.as_dict() for name, t in timings.items()}
    ratio = timings[SDK_CODEC].median / timings[PYDANTIC].median
    result.lines.append(f"    SDK codec / pydantic model_validate_json: {ratio:.2f}x")
    result.targets.append(
        Target("decode: SDK codec / pydantic model_validate_json", ratio, 1.0, "x", False)
    )
    return result


def _row(name: str, timing: Spread) -> str:
    text = f"{timing.median:.2f} [{timing.low:.2f}-{timing.high:.2f}]"
    return f"    {name:<48}{text:>30}"


# --- the retry wrapper on the success path ---------------------------------------------------


async def _async_per_call_us(fn: Callable[[], Awaitable[object]], loops: int, runs: int) -> Spread:
    for _ in range(max(1, loops // 10)):
        await fn()
    values = []
    for _ in range(runs):
        started = time.perf_counter()
        for _ in range(loops):
            await fn()
        values.append((time.perf_counter() - started) / loops * 1e6)
    return spread(values)


def _wrappers() -> dict[str, Callable[[], Awaitable[object]]]:
    payload: dict[str, Any] = {"code": 0}
    retrier = Retrier(RetryPolicy())

    async def attempt(_number: int = 1) -> dict[str, Any]:  # the SDK passes the attempt number
        return payload

    async def sdk() -> object:
        return await retrier.run(attempt, idempotent=True)

    async def tenacity_loop() -> object:
        async for try_ in AsyncRetrying(stop=stop_after_attempt(4), reraise=True):
            with try_:
                return await attempt()
        raise AssertionError("unreachable")

    return {
        "bare await (no retry wrapper)": attempt,
        "SDK Retrier.run, success": sdk,
        "tenacity AsyncRetrying, one pass": tenacity_loop,
    }


async def retry_wrapper_case(sizes: Sizes) -> CaseResult:
    """What wrapping a call in the retry machinery costs when the first attempt succeeds."""
    result = CaseResult("retry_wrapper", "retry wrapper on the success path, no I/O")
    timings = {
        name: await _async_per_call_us(fn, sizes.decode_loops, sizes.runs)
        for name, fn in _wrappers().items()
    }
    result.lines.append(f"    {'wrapper':<48}{'us/call median [min-max]':>30}")
    result.lines += [_row(name, t) for name, t in timings.items()]
    result.data = {name: t.as_dict() for name, t in timings.items()}
    return result
