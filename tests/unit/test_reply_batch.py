"""A shard call's replies as columns (tocsin.actors.domain.reply_batch): carried across the
process as Ray carries them, they come back as the same replies in the same order, the
replies the shard shared still shared, and cost the pickle less than the list did."""

from __future__ import annotations

import pickle

from ray import cloudpickle  # as Ray pickles what a call returns

from tocsin.actors.domain.batch_plan import Reply
from tocsin.actors.domain.reply_batch import ReplyBatch


def carried(batch: ReplyBatch) -> ReplyBatch:
    loaded: ReplyBatch = pickle.loads(cloudpickle.dumps(batch))
    return loaded


def storm_replies(alerts: int, incidents: int) -> list[Reply]:
    """As the shard makes them: one reply per incident and outcome, shared by its alerts."""
    shared = [Reply("occurrence", n, "triggered") for n in range(1, incidents + 1)]
    return [shared[n % incidents] for n in range(alerts)]


def test_replies_come_back_the_same_in_order_and_shared_as_they_were() -> None:
    opened = Reply("opened", 7, "triggered")
    invalid = Reply("invalid", note="the database cannot store text holding U+0000", fields=("summary",))
    replies = [opened, Reply("occurrence", 7, "triggered"), invalid, opened, Reply("duplicate"),
               Reply("refused", 9, "acknowledged", "no such level")]

    back = carried(ReplyBatch.of(replies)).replies()

    assert back == replies
    assert back[0] is back[3] and back[0] is not back[1]
    assert len(ReplyBatch.of(replies)) == 6


def test_no_replies() -> None:
    assert carried(ReplyBatch.of([])).replies() == []


def test_a_storm_call_pickles_smaller_as_columns() -> None:
    replies = storm_replies(1500, 1000)
    as_list = cloudpickle.dumps(replies)
    as_columns = cloudpickle.dumps(ReplyBatch.of(replies))

    assert carried(ReplyBatch.of(replies)).replies() == replies
    assert len(as_columns) < len(as_list)
