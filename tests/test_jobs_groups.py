"""A Ray actor's body without Ray (plain asyncio). ``grouped``: how it batches its worker's
events into Ray items: events must arrive complete and in order; a pause longer than the
delay ends a group; the source's errors come through; closing the groups closes the source.
``WorkerActor``: its worker, which runs ahead of the driver, deletes no record under a new
lock before the driver confirms the lock ID is journaled."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncGenerator

import pytest
from test_jobs_support import APP_ID, APP_SECRET, job_options

from koodrive_backup.jobs import WorkerSettings
from koodrive_backup.jobs._events import LockHeld, Settled
from koodrive_backup.jobs._ray import GROUP_DELAY, WorkerActor, grouped
from koodrive_backup.testing import FakeKooDrive

DELAY = 0.1
BURST_DELAY = 0.5  # ample for 3 events yielded back to back, even on a loaded machine


async def burst_pause_burst(closed: list[bool], resume: asyncio.Event) -> AsyncGenerator[int, None]:
    try:
        for n in range(3):
            yield n  # one after another, no wait between them
        await resume.wait()  # paused until the first group is out: longer than its delay
        for n in range(3, 5):
            yield n
    finally:
        closed.append(True)


async def test_events_arrive_in_order_and_a_pause_ends_a_group() -> None:
    closed: list[bool] = []
    resume = asyncio.Event()
    groups = []
    async for group in grouped(burst_pause_burst(closed, resume), BURST_DELAY):
        groups.append(group)
        resume.set()

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


async def test_an_actor_deletes_no_record_under_a_new_lock_before_the_driver_confirms() -> None:
    async with FakeKooDrive(app_id=APP_ID, app_secret=APP_SECRET, seed=47) as fake:
        user = fake.add_user()
        device = fake.add_device(user_id=user.user_id)
        records = [fake.add_record(device) for _ in range(3)]
        actor = WorkerActor(job_options(fake), WorkerSettings())
        groups = actor.groups("delete_records", user.user_id, "101", records)
        try:
            (held,) = await anext(groups)
            assert isinstance(held, LockHeld) and fake.has_lock(held.lock_id)
            following = asyncio.ensure_future(anext(groups))
            await asyncio.sleep(5 * GROUP_DELAY)  # the worker is free to run ahead meanwhile

            assert fake.route_counts["deleteBackupRecord"] == 0 and not following.done()
            await actor.lock_journaled(held)
            events = await following
            async for group in groups:
                events += group
        finally:
            await groups.aclose()
            await actor.close()
        assert sum(len(e.deleted) for e in events if isinstance(e, Settled)) == 3
        assert not any(fake.has_record(r) for r in records)
