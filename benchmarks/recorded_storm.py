"""An Alertmanager-format storm from a client that keeps every answer, alert by alert.

Each request is one webhook notification, as Alertmanager sends it, to one service. Every
alert in it carries an annotation, `delivery`, that names that copy of it
("<storm>.<request>.<n>"): afterwards each copy answered 200 can be looked for by name in
the `alerts` table. A request refused (anything but 200) is sent again once its Retry-After
has passed (at most MAX_RETRY_WAIT_S), as Alertmanager retries a notification: a new
request, whose copies carry new names.

Two kinds of services take the storm. A paging service's alerts open incidents, which page
people: they are released one at a time, `new_per_s` over the storm, to the paging services
in turn, and each request to a paging service carries every alert released to it so far
(Alertmanager sends a group's firing alerts again with each notification). A quiet
service (no escalation policy) has a standing fleet of firing alerts, `batch` of which each
request carries: repeats, which add occurrences to incidents already open.
"""

from __future__ import annotations

import asyncio
import heapq
import itertools
import time
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from typing import Any

import httpx
import orjson

from tests.e2e.alert_payloads import AM_HEADERS, am_alert, am_notification

MAX_RETRY_WAIT_S = 2.0
SETTLE_S = 120.0  # how long refused requests are sent again after the storm, at most
DURABLE = 200  # what the Alertmanager route answers once every alert of a request is durable


@dataclass(frozen=True)
class Target:
    service_id: str
    key: str  # of its Alertmanager integration
    shard: int
    paging: bool  # its escalation policy pages people


@dataclass(frozen=True)
class Answer:
    request: int  # its number in the storm, the middle part of its alerts' names
    service_id: str
    alerts: int
    sent_at: float  # epoch seconds
    answered_at: float
    status: int | None  # None: no HTTP answer (the connection failed, or timed out)
    retry_after: str | None
    detail: str = ""

    @property
    def durable(self) -> bool:
        return self.status == DURABLE

    @property
    def unavailable(self) -> bool:
        """503 with a Retry-After: "not durable, come back later", as the contract allows."""
        return self.status == 503 and bool(self.retry_after)


@dataclass(frozen=True)
class Request:
    target: Target
    alerts: tuple[dict[str, Any], ...]  # as Alertmanager sends them, without names


class Storm:
    """`name` starts every alert's name and every paging alert's instance, so that storms
    with different names never share an incident or a name."""

    def __init__(self, base_url: str, name: str, targets: list[Target], *, connections: int, batch: int,
                 fleet: int, new_per_s: float) -> None:
        self.base_url = base_url
        self.name = name
        self.targets = targets
        self.connections = connections
        self.batch = batch
        self.fleet = fleet  # standing alerts per quiet service
        self.new_per_s = new_per_s
        self.answers: list[Answer] = []
        self.opening: dict[str, None] = {}  # instances of the paging alerts sent, in order (a set)
        self.unsettled: list[Request] = []  # refused, and not accepted by the end
        self._requests = 0
        self._started = 0.0
        self._released: list[str] = []  # instances of the paging alerts due by now, in order
        self._retries: list[tuple[float, int, Request]] = []  # a heap, soonest due first
        self._order = itertools.count()
        self._alerts: dict[str, dict[str, Any]] = {}

    @property
    def paging(self) -> list[Target]:
        return [t for t in self.targets if t.paging]

    def name_of(self, request: int, n: int) -> str:
        return f"{self.name}.{request}.{n}"

    def opening_keys(self) -> list[str]:
        """The dedup keys of the paging alerts sent: the incidents they open."""
        return [f"am:{self._alert(instance)['fingerprint']}" for instance in self.opening]

    async def run(self, seconds: float) -> None:
        """Storm for `seconds`, then send what is still refused until it is accepted (or
        SETTLE_S has passed: what is left is in `unsettled`)."""
        self._started = time.monotonic()
        self._release()
        limits = httpx.Limits(max_connections=self.connections, max_keepalive_connections=self.connections)
        async with httpx.AsyncClient(base_url=self.base_url, limits=limits, timeout=60) as client:
            stop_at = self._started + seconds
            await asyncio.gather(*(self._connection(client, lambda: time.monotonic() >= stop_at)
                                   for _ in range(self.connections)))
            settle_by = time.monotonic() + SETTLE_S

            def settled() -> bool:
                return not self._retries or time.monotonic() > settle_by

            await asyncio.gather(*(self._connection(client, settled, only_retries=True)
                                   for _ in range(self.connections)))
        self.unsettled = [request for _, _, request in self._retries]

    async def _connection(self, client: httpx.AsyncClient, done: Callable[[], bool],
                          only_retries: bool = False) -> None:
        while not done():
            if self._retries and self._retries[0][0] <= time.monotonic():
                request = heapq.heappop(self._retries)[2]
            elif only_retries:
                await asyncio.sleep(0.05)
                continue
            else:
                request = self._next_request()
            wait = await self._send(client, request)
            if wait is not None:
                heapq.heappush(self._retries, (time.monotonic() + wait, next(self._order), request))

    def _release(self) -> None:
        """Paging alerts due by now: one per paging service at once, then `new_per_s`."""
        paging = len(self.paging)
        due = paging + int((time.monotonic() - self._started) * self.new_per_s) if paging else 0
        while len(self._released) < due:
            self._released.append(f"{self.name}-new-{len(self._released)}.chaos:9100")

    def _next_request(self) -> Request:
        self._release()
        target = self.targets[self._requests % len(self.targets)]
        if target.paging:
            place = self.paging.index(target)
            instances = self._released[place::len(self.paging)][-self.batch:]
            self.opening.update(dict.fromkeys(instances))
        else:
            first = self._requests * self.batch
            instances = [f"{target.service_id[:8]}-standing-{(first + n) % self.fleet}.chaos:9100"
                         for n in range(min(self.batch, self.fleet))]
        return Request(target, tuple(self._alert(instance) for instance in instances))

    def _alert(self, instance: str) -> dict[str, Any]:
        """Built once per instance: its fingerprint is costly to compute."""
        if instance not in self._alerts:
            self._alerts[instance] = am_alert(instance)
        return self._alerts[instance]

    async def _send(self, client: httpx.AsyncClient, request: Request) -> float | None:
        """Send once, as a request of its own, and keep the answer; None when accepted,
        else how long to wait before sending it again."""
        number = self._requests
        self._requests += 1
        named = [{**alert, "annotations": {**alert["annotations"], "delivery": self.name_of(number, n)}}
                 for n, alert in enumerate(request.alerts)]
        body = orjson.dumps(am_notification(*named))
        path = f"/integrations/alertmanager/{request.target.key}"
        answer = partial(Answer, number, request.target.service_id, len(named), time.time())
        try:
            response = await client.post(path, content=body, headers=AM_HEADERS)
        except httpx.TransportError as exc:
            self.answers.append(answer(time.time(), None, None, type(exc).__name__))
            return 1.0
        retry_after = response.headers.get("retry-after")
        self.answers.append(answer(time.time(), response.status_code, retry_after,
                                   "" if response.status_code == DURABLE else response.text[:200]))
        if response.status_code == DURABLE:
            return None
        try:
            return min(float(retry_after or 1.0), MAX_RETRY_WAIT_S)
        except ValueError:  # an HTTP date: not what Tocsin sends
            return MAX_RETRY_WAIT_S

