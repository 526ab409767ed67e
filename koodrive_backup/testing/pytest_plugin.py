"""pytest plugin (entry point ``pytest11: koodrive_backup``): fake KooDrive fixtures.

- ``koodrive_fake``: a started ``FakeKooDrive`` (default options), closed after the test.
- ``koodrive_fake_factory``: ``await koodrive_fake_factory(**options)`` starts a fake with
  ``FakeKooDrive(**options)``; every fake it made is closed after the test.

Both are async fixtures (function scope) and need pytest-asyncio.
"""

from __future__ import annotations

import importlib.util

__all__: list[str] = []

# The entry point loads this plugin in every pytest run of an environment with the SDK
# installed: without pytest-asyncio, offer no fixtures rather than break that run.
if importlib.util.find_spec("pytest_asyncio") is not None:
    from ._fixtures import FakeFactory, koodrive_fake, koodrive_fake_factory

    __all__ += ["FakeFactory", "koodrive_fake", "koodrive_fake_factory"]
