"""``grouped``: how a Ray actor batches its worker's events into Ray items (plain asyncio, no
Ray needed). Events must arrive complete and in order; a pause longer than the delay ends a
group; the source's errors come through; closing the groups closes the source."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncGenerator

import pytest

from koodrive_backup.jobs._ray import grouped

DELAY = 0.1


async def burst_pause_burst(closed: list[bool]) -> AsyncGenerator[int, None]:
    try:
        for n in range(3):
            yield n  # one after another: within DELAY of each other
        await asyncio.sleep(2.5 * DELAY)  # longer than DELAY: the group must have ended
        for n in range(3, 5):
            yield n
    finally:
        closed.append(True)


async def test_events_arrive_in_order_and_a_pause_ends_a_group() -> None:
    closed: list[bool] = []
    groups = [group async for group in grouped(burst_pause_burst(closed), DELAY)]

    assert [event for group in groups for event in group] == [0, 1, 2, 3, 4]
    assert groups == [[0, 1, 2], [3, 4]]
    assert closed == [True]


async def test_an_error_of_the_source_comes_through_after_its_events() -> None:
    async def failing() -> AsyncGenerator[int, None]:
        yield 1
        raise RuntimeError("worker bug")

    seen: list[int] = []
    with pytest.raises(RuntimeError, match="worker bug"):
        async for group in grouped(failing(), DELAY):
            seen += group
    assert seen == [1]  # what came before the error is delivered first


async def test_closing_the_groups_closes_the_source_and_leaves_no_task() -> None:
    closed: list[bool] = []

    async def endless() -> AsyncGenerator[int, None]:
        try:
            n = 0
            while True:
                yield n
                n += 1
                await asyncio.sleep(3 * DELAY)  # each group waits for the next one
        finally:
            closed.append(True)

    groups = grouped(endless(), DELAY)
    assert await anext(groups) == [0]
    await groups.aclose()  # while the next event is being awaited in a task

    assert closed == [True]
    assert {t for t in asyncio.all_tasks() if t is not asyncio.current_task()} == set()
