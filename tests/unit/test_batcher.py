"""tocsin.actors.batcher.Batcher against a fake shard call."""

from __future__ import annotations

import asyncio
from collections.abc import Iterable

import pytest

from tocsin.actors.batcher import BatchFailed, Batcher

LONG_DELAY_S = 60.0  # never reached: these tests flush on size or on a returning call


class FakeCall:
    """A shard call that records its batches, answers each item with `str(item)` and can be
    held open (to keep calls in flight) or made to fail for batches holding given items."""

    def __init__(self, *, hold: bool = False, fail_on: Iterable[int] = (), answers_short: bool = False) -> None:
        self.batches: list[list[int]] = []
        self.in_flight = 0
        self.most_in_flight = 0
        self._fail_on = set(fail_on)
        self._answers_short = answers_short
        self._released = asyncio.Event()
        if not hold:
            self._released.set()

    def release(self) -> None:
        self._released.set()

    async def __call__(self, items: list[int]) -> list[str]:
        self.batches.append(list(items))
        self.in_flight += 1
        self.most_in_flight = max(self.most_in_flight, self.in_flight)
        try:
            await self._released.wait()
            if self._fail_on.intersection(items):
                raise ConnectionError("shard down")
            answers = [str(item) for item in items]
            return answers[:-1] if self._answers_short else answers
        finally:
            self.in_flight -= 1


def batcher(call: FakeCall, *, max_items: int = 100, max_delay_s: float = 0.0,
            max_in_flight: int = 1) -> Batcher[int, str]:
    return Batcher(call, max_items=max_items, max_delay_s=max_delay_s, max_in_flight=max_in_flight)


def submit_all(b: Batcher[int, str], items: Iterable[int]) -> list[asyncio.Task[str]]:
    return [asyncio.create_task(b.submit(item)) for item in items]


async def settle() -> None:
    """Let every ready task run until none is left to run."""
    for _ in range(10):
        await asyncio.sleep(0)


async def test_items_wait_until_max_items_are_queued() -> None:
    call = FakeCall()
    b = batcher(call, max_items=3, max_delay_s=LONG_DELAY_S)

    first_two = submit_all(b, [1, 2])
    await settle()
    assert call.batches == [] and b.queued == 2

    results = await asyncio.gather(*first_two, b.submit(3))

    assert call.batches == [[1, 2, 3]]
    assert results == ["1", "2", "3"]
    assert b.queued == 0


async def test_with_a_delay_items_wait_and_go_in_one_call() -> None:
    call = FakeCall()
    b = batcher(call, max_items=100, max_delay_s=0.01)

    tasks = submit_all(b, range(5))
    await settle()
    assert call.batches == []

    assert await asyncio.gather(*tasks) == ["0", "1", "2", "3", "4"]
    assert call.batches == [[0, 1, 2, 3, 4]]


async def test_without_a_delay_each_item_goes_at_once_when_nothing_is_in_flight() -> None:
    call = FakeCall()
    b = batcher(call, max_delay_s=0.0)

    assert await b.submit(1) == "1"
    assert await b.submit(2) == "2"

    assert call.batches == [[1], [2]]


async def test_items_submitted_during_a_call_go_together_in_the_next_call() -> None:
    call = FakeCall(hold=True)
    b = batcher(call, max_in_flight=1)

    tasks = submit_all(b, [1])
    await settle()
    tasks += submit_all(b, [2, 3, 4])
    await settle()
    assert call.batches == [[1]] and b.queued == 3

    call.release()

    assert await asyncio.gather(*tasks) == ["1", "2", "3", "4"]
    assert call.batches == [[1], [2, 3, 4]]


async def test_items_whose_delay_ran_out_during_a_call_go_when_it_returns() -> None:
    call = FakeCall(hold=True)
    b = batcher(call, max_items=1, max_delay_s=0.001)

    tasks = submit_all(b, [1])
    await settle()
    tasks += submit_all(b, [2])
    await asyncio.sleep(0.01)  # the timer fires while the first call is still out
    assert call.batches == [[1]] and b.queued == 1

    call.release()

    assert await asyncio.gather(*tasks) == ["1", "2"]
    assert call.batches == [[1], [2]]


async def test_results_reach_their_own_submitter_in_order() -> None:
    call = FakeCall()
    b = batcher(call, max_items=4, max_in_flight=2)

    results = await asyncio.gather(*submit_all(b, range(30)))

    assert results == [str(item) for item in range(30)]
    assert len(call.batches) > 1
    assert sorted(item for batch in call.batches for item in batch) == list(range(30))


async def test_a_failed_call_fails_every_item_of_its_batch_only() -> None:
    call = FakeCall(hold=True, fail_on=[2])
    b = batcher(call, max_items=2, max_delay_s=LONG_DELAY_S, max_in_flight=2)

    tasks = submit_all(b, [1, 2, 3, 4])
    await settle()
    assert call.batches == [[1, 2], [3, 4]]
    call.release()
    results = await asyncio.gather(*tasks, return_exceptions=True)

    assert [type(result) for result in results[:2]] == [BatchFailed, BatchFailed]
    assert all(str(result) == "shard down" for result in results[:2])
    assert results[2:] == ["3", "4"]


async def test_batches_after_a_failed_call_still_work() -> None:
    call = FakeCall(fail_on=[1])
    b = batcher(call)

    with pytest.raises(BatchFailed, match="shard down"):
        await b.submit(1)

    assert await b.submit(2) == "2"
    assert call.batches == [[1], [2]]


async def test_a_failure_without_a_message_is_named_by_its_type() -> None:
    async def fail(items: list[int]) -> list[str]:
        raise TimeoutError

    with pytest.raises(BatchFailed, match="^TimeoutError$"):
        await Batcher(fail, max_items=1, max_delay_s=0.0).submit(1)


@pytest.mark.parametrize("max_in_flight", [1, 3])
async def test_max_in_flight_allows_that_many_calls_at_once_and_no_more(max_in_flight: int) -> None:
    call = FakeCall(hold=True)
    b = batcher(call, max_items=1, max_in_flight=max_in_flight)

    tasks = submit_all(b, range(max_in_flight + 2))
    await settle()
    assert call.in_flight == max_in_flight
    assert b.queued == 2

    call.release()
    await asyncio.gather(*tasks)

    assert call.most_in_flight == max_in_flight
    assert call.batches[max_in_flight:] == [[max_in_flight, max_in_flight + 1]]


async def test_a_call_answering_too_few_results_fails_the_batch() -> None:
    call = FakeCall(answers_short=True)
    b = batcher(call, max_items=2, max_delay_s=LONG_DELAY_S)

    tasks = submit_all(b, [1, 2])
    done, _ = await asyncio.wait(tasks, timeout=0.05)
    for task in tasks:
        task.cancel()  # do not leave a submitter hanging past the test

    assert len(done) == 2
    assert all(isinstance(task.exception(), BatchFailed) for task in done)


async def test_items_of_one_request_go_in_one_call_with_their_answers_in_order() -> None:
    call = FakeCall()
    b = batcher(call, max_delay_s=0.0)

    assert await b.submit_many([5, 6, 7]) == ["5", "6", "7"]

    assert call.batches == [[5, 6, 7]]


async def test_one_failed_item_of_a_request_fails_the_request() -> None:
    call = FakeCall(fail_on=[6])
    b = batcher(call)

    with pytest.raises(BatchFailed):
        await b.submit_many([5, 6, 7])
    assert await b.submit_many([8]) == ["8"]  # and the batcher goes on
