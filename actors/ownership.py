"""Which shard owns a service: a stable hash of the service id modulo the shard count.

The count is fixed at deployment and independent of the number of nodes, so ownership
never moves while Tocsin runs.
"""

from __future__ import annotations

import zlib


def shard_index(service_id: str, shard_count: int) -> int:
    # crc32, not hash(): Python's str hash is salted per process.
    return zlib.crc32(service_id.encode()) % shard_count


SHARD_PREFIX = "tocsin-shard-"


def shard_name(index: int) -> str:
    return f"{SHARD_PREFIX}{index}"
