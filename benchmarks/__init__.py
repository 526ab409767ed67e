"""Benchmarks of koodrive_backup against raw aiohttp and an httpx + pydantic peer.

Run ``python -m benchmarks`` (full, a few minutes) or ``python -m benchmarks --quick``
(tiny sizes, under a minute, used by ``.ci/run``). See ``__main__`` for the options and
``benchmarks/README.md`` for what each case measures and how to read the results.
"""
