"""Keys met before, at most so many, the oldest forgotten first: the dedup keys a sender has
sent (an alert of a key it has not may open an incident, and goes to its shard in a call of
its own: see `tocsin.actors.shard_router`; one forgotten goes so again, which costs a small
call and nothing else), and the provider messages a channel took for its rows (`in_doubt`).
"""

from __future__ import annotations

from collections import OrderedDict

# Keys of (service, dedup key): at about 200 bytes each, some 20 MB in a gateway replica.
DEFAULT_CAPACITY = 100_000


class SentKeys:
    __slots__ = ("_capacity", "_keys")

    def __init__(self, capacity: int = DEFAULT_CAPACITY) -> None:
        self._capacity = capacity
        self._keys: OrderedDict[tuple[str, str], None] = OrderedDict()

    def first(self, key: tuple[str, str]) -> bool:
        """Whether this key is met for the first time (as far as it is remembered); from now
        on it counts as met."""
        if key in self._keys:
            return False
        self._keys[key] = None
        if len(self._keys) > self._capacity:
            self._keys.popitem(last=False)
        return True

    def __contains__(self, key: object) -> bool:
        return key in self._keys

    def __len__(self) -> int:
        return len(self._keys)
