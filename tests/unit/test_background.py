"""A background task: started once however often asked, and over when stop returns."""

from __future__ import annotations

import asyncio

from tocsin.actors.background import Background


async def test_it_starts_once_and_nothing_of_it_runs_after_stop() -> None:
    started: list[int] = []
    ended: list[int] = []

    async def work() -> None:
        started.append(1)
        try:
            await asyncio.Event().wait()
        finally:
            ended.append(1)

    task = Background(work)
    task.start()
    task.start()
    await asyncio.sleep(0)
    assert (started, task.running) == ([1], True)

    await task.stop()
    assert (ended, task.running) == ([1], False)
    task.start()
    await asyncio.sleep(0)
    await task.stop()
    assert (started, ended) == ([1, 1], [1, 1])
