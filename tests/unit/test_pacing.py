"""A provider's pace: its rate is held, and urgent messages get their turn first."""

from __future__ import annotations

import asyncio
import time

from tocsin.actors.pacing import ProviderPace


async def test_waiting_messages_go_out_at_the_providers_rate() -> None:
    pace = ProviderPace(rate_per_s=100)
    started = time.monotonic()
    went: list[float] = []

    async def send() -> None:
        await pace.take()
        went.append(time.monotonic() - started)

    await asyncio.gather(*(send() for _ in range(21)))

    assert went[-1] >= 0.19  # one at once (the burst), then one every 10 ms
    assert all(later - earlier >= 0.009 for earlier, later in zip(went[1:], went[2:]))


async def test_an_urgent_message_goes_before_the_others_already_waiting() -> None:
    pace = ProviderPace(rate_per_s=10)
    order: list[str] = []

    async def send(name: str, urgent: bool = False) -> None:
        await pace.take(urgent)
        order.append(name)

    others = [asyncio.create_task(send(f"round-{n}")) for n in range(6)]
    while not order:  # the first has gone; the next waits a tenth of a second for its token
        await asyncio.sleep(0)
    await asyncio.gather(send("first page", urgent=True), *others)

    assert order[:2] == ["round-0", "first page"] and pace.waiting == 0


async def test_a_cancelled_waiter_does_not_hold_up_the_next() -> None:
    pace = ProviderPace(rate_per_s=50)
    await pace.take()  # the burst is spent
    gone = asyncio.create_task(pace.take())
    await asyncio.sleep(0)
    gone.cancel()
    await asyncio.wait_for(pace.take(), 1.0)
    assert pace.waiting == 0
