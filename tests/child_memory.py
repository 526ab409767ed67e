"""A client's memory, measured in a child process (peak RSS, not timed).

``run_python`` runs a script in a fresh interpreter while the test's event loop keeps
serving (a ``HostileServer``, say); ``PEAK_RSS_PRELUDE`` gives that script ``peak_rss_kib()``.

``benchmarks._memory.peak_rss_kib`` measures the same way, but the test suite does not import
the benchmarks package (``test_docs`` reads it as text: its cases need the ``bench`` extra,
which a test run may lack), and a ``python -c`` child would need the repository on its path
to import it; here the function is source text the child runs itself.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import sys
from typing import Any

#: Source to put first in a child script: ``peak_rss_kib()`` is the process's peak resident set
#: size in KiB so far. ``VmHWM`` from /proc (Linux), else ``ru_maxrss`` (which Linux carries
#: over ``exec`` from the parent, so it is only the fallback). Measure the growth of the peak
#: between a warm-up and the call under test, in the same child.
PEAK_RSS_PRELUDE = """
import resource, sys

def peak_rss_kib():
    try:
        with open("/proc/self/status") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1])
    except OSError:
        pass
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak // 1024 if sys.platform == "darwin" else peak
"""


CHILD_TIMEOUT = 120.0  # seconds: a safety net against a hung child, not a measurement


async def run_python(source: str, *argv: str) -> Any:
    """Run ``source`` in a fresh interpreter (the test's event loop keeps serving meanwhile)
    and return the JSON of its last stdout line; a failing child fails with its stderr."""
    child = await asyncio.create_subprocess_exec(
        sys.executable,
        "-c",
        source,
        *argv,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    try:
        out, err = await asyncio.wait_for(child.communicate(), CHILD_TIMEOUT)
    except TimeoutError:
        with contextlib.suppress(ProcessLookupError):
            child.kill()
        await child.wait()
        raise
    if child.returncode != 0:
        raise AssertionError(f"child exited {child.returncode}: {err.decode()[-2000:]}")
    return json.loads(out.decode().strip().splitlines()[-1])
