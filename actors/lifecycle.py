"""How Tocsin's long-lived actors are placed and kept alive."""

from __future__ import annotations

import gc
from typing import Any

import ray


def detached_options(name: str, namespace: str, max_concurrency: int) -> dict[str, Any]:
    """Named (found again by name), detached (outlives the process that made it), restarted
    forever by Ray, which also retries calls across a restart; no CPU reserved, since they
    wait on I/O; spread over the cluster's nodes, so losing one node loses few of them."""
    return {
        "name": name,
        "namespace": namespace,
        "lifetime": "detached",
        "max_restarts": -1,
        "max_task_retries": -1,
        "max_concurrency": max_concurrency,
        "num_cpus": 0,
        "get_if_exists": True,
        "scheduling_strategy": "SPREAD",
    }


# A storm's batch makes thousands of objects, nearly all gone by its end. With Python's
# default of a young-generation collection every 700 allocations, each batch was collected
# dozens of times mid-way, and what was alive then (the batch itself) was promoted to be
# walked again by the older generations' collections: timed with the collector's callbacks
# during a storm, 15 % of the gateway's CPU time and 9 % of a shard's went to collecting,
# against 7 % and 4 % with this.
YOUNG_COLLECTION_EVERY = 10_000  # allocations


def tune_garbage_collection() -> bool:
    """In a Ray actor's process (a shard, a channel actor, a gateway replica), collect
    the young generation less often (`YOUNG_COLLECTION_EVERY`), and take what start-up made
    out of the collector's sight for good, as Ray Serve does for its replicas: the modules,
    classes and functions of Ray, asyncpg and Tocsin, some 100,000 objects that live as
    long as the process, every one of which each full collection walked (in a shard during
    a storm, a pause of 56–67 ms every two seconds, holding up the batch under way and the
    first pages in it; 17–51 ms with them frozen). Garbage is collected first, so that none
    is kept forever; objects made later are collected as usual. Elsewhere (a test's
    process, a shard hosted in-process) it does nothing: False."""
    if not ray.is_initialized() or ray.get_runtime_context().get_actor_id() is None:
        return False
    gc.collect()
    gc.freeze()
    _, middle, oldest = gc.get_threshold()
    gc.set_threshold(YOUNG_COLLECTION_EVERY, middle, oldest)
    return True


def garbage_collection() -> dict[str, int]:
    """How this process's collector is set, for an actor's stats."""
    return {"frozen_objects": gc.get_freeze_count(), "young_collection_every": gc.get_threshold()[0]}
