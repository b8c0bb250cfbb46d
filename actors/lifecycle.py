"""How Tocsin's long-lived actors are placed and kept alive."""

from __future__ import annotations

from typing import Any


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
