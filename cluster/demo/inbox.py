"""What the demo's people received, and what they answered: one list per person, newest
last, shared by the demo's providers (which add to it) and its phone (which shows it).
Bounded, so a demo left running for days keeps its memory."""

from __future__ import annotations

import itertools
import threading
import time
from dataclasses import asdict, dataclass, field
from typing import Any, Literal

from tocsin.cluster.demo.people import PEOPLE, owner_of

Kind = Literal["text", "call", "email", "push", "reply"]
KEEP = 200  # items per person


@dataclass
class Item:
    """One thing on a person's phone: a text, a call (its words, and where its keys go), an
    e-mail, a push, or what the person sent back and the answer."""

    id: int
    kind: Kind
    title: str
    body: str
    at: float = field(default_factory=time.time)
    sid: str = ""  # Twilio's id of a text or call
    voice_url: str = ""  # where a call fetches its words
    keypad_url: str = ""  # where a call's key presses go, once answered
    said: list[str] = field(default_factory=list)  # a call's words, as they are heard

    def shown(self) -> dict[str, Any]:
        shown = asdict(self)
        for private in ("sid", "voice_url", "keypad_url"):
            shown.pop(private)
        shown["answerable"] = self.kind in ("text", "call")
        return shown


class Inbox:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._ids = itertools.count(1)
        self._items: dict[str, list[Item]] = {person.name: [] for person in PEOPLE}

    def add(self, address: str, kind: Kind, title: str, body: str, **more: Any) -> Item | None:
        """Recorded for the person with `address`; None (nothing kept) for anyone else."""
        person = owner_of(address)
        if person is None:
            return None
        with self._lock:
            item = Item(next(self._ids), kind, title, body, **more)
            items = self._items[person.name]
            items.append(item)
            del items[:-KEEP]
        return item

    def hear(self, item: Item, words: list[str], keypad_url: str) -> None:
        """A call's words heard, and where its next key press goes ("" when it hung up)."""
        with self._lock:
            item.said.extend(words)
            item.keypad_url = keypad_url

    def find(self, item_id: int, kind: Kind) -> tuple[str, Item] | None:
        """The item and whose it is."""
        with self._lock:
            for name, items in self._items.items():
                for item in items:
                    if item.id == item_id and item.kind == kind:
                        return name, item
        return None

    def shown(self) -> list[dict[str, Any]]:
        """Each person with what they received, newest first."""
        with self._lock:
            return [{"name": person.name, "time_zone": person.time_zone, "phone": person.phone,
                     "email": person.email, "items": [item.shown() for item in reversed(self._items[person.name])]}
                    for person in PEOPLE]
