"""Tuning the garbage collector is for a Ray actor's own process: anywhere else (a test's
process, a shard hosted in-process) it leaves the collector as it is."""

from __future__ import annotations

import gc

from tocsin.actors.lifecycle import garbage_collection, tune_garbage_collection


def test_outside_a_ray_actor_the_collector_is_left_as_it_is() -> None:
    before = gc.get_freeze_count(), gc.get_threshold()

    assert tune_garbage_collection() is False
    assert (gc.get_freeze_count(), gc.get_threshold()) == before
    assert garbage_collection() == {"frozen_objects": before[0], "young_collection_every": before[1][0]}
