"""A Server-Sent Events client for tests, reading the way EventSource does: blocks of
fields, comments ignored, an `id` field (even without data) moving the last event id on."""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import httpx
import orjson

# Longer than the stream's 15 s keep-alive: a read that waits this long means a dead stream.
READ_TIMEOUT_S = 25.0


@dataclass(frozen=True)
class Message:
    event: str
    id: str | None
    data: str

    def json(self) -> Any:
        return orjson.loads(self.data)


class EventStream:
    def __init__(self, response: httpx.Response) -> None:
        self.response = response
        self.last_event_id: str | None = None
        self._lines = response.iter_lines()

    def connected(self) -> None:
        """Read the stream's first block, sent once it follows the bus from its start id."""
        first = next(self._lines)
        assert first.startswith("retry:"), first
        for line in self._lines:  # up to the blank line that ends the block
            if not line:
                break

    def next_message(self, deadline: float) -> Message:
        """The next dispatched message (comments and id-only blocks update the last id)."""
        fields: dict[str, list[str]] = {}
        while time.monotonic() < deadline:
            line = next(self._lines)
            if line:
                name, _, value = line.partition(":")
                if name:  # a line starting with ':' is a comment
                    fields.setdefault(name, []).append(value.removeprefix(" "))
                continue
            if "id" in fields:
                self.last_event_id = fields["id"][-1]
            if "data" in fields:
                event = fields.get("event", ["message"])[-1]
                return Message(event, self.last_event_id, "\n".join(fields["data"]))
            fields = {}
        raise AssertionError("no message from the stream in time")

    def keep_alive(self, timeout_s: float) -> None:
        """Wait for a keep-alive comment, failing on any message before it."""
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            line = next(self._lines)
            if line.startswith(": keep-alive"):
                return
            assert not line, f"expected a keep-alive, got {line!r}"
        raise AssertionError("no keep-alive in time")

    def messages(self, count: int, timeout_s: float = 30.0) -> list[Message]:
        deadline = time.monotonic() + timeout_s
        return [self.next_message(deadline) for _ in range(count)]

    def until(self, done: Any, timeout_s: float = 30.0) -> list[Message]:
        """Messages up to and including the first for which `done(message)` is true."""
        deadline = time.monotonic() + timeout_s
        taken = [self.next_message(deadline)]
        while not done(taken[-1]):
            taken.append(self.next_message(deadline))
        return taken


@contextmanager
def open_stream(
    client: httpx.Client, *, last_event_id: str | None = None, headers: dict[str, str] | None = None,
    params: dict[str, str] | None = None,
) -> Iterator[EventStream]:
    """GET /api/v1/stream, resuming after `last_event_id` (sent as EventSource sends it, in
    the Last-Event-ID header); yields once the stream has said it is connected. Leaving the
    block drops the connection."""
    sent = dict(headers or {})
    if last_event_id is not None:
        sent["Last-Event-ID"] = last_event_id
    timeout = httpx.Timeout(10.0, read=READ_TIMEOUT_S)
    with client.stream("GET", "/api/v1/stream", params=params or {}, headers=sent, timeout=timeout) as response:
        assert response.status_code == 200, response.read().decode()
        assert response.headers["content-type"].startswith("text/event-stream")
        stream = EventStream(response)
        stream.connected()
        yield stream
