"""A storm of PagerDuty events and Alertmanager notifications from a client that records
every answer, and the check that what it was told is durable is in the database.

Each connection sends, in turn over the services, a PagerDuty trigger (202 when durable)
or an Alertmanager notification of a few alerts (200 when every alert is durable). A
refused request (503 or 429 with Retry-After, or no answer at all) is sent again once its
Retry-After has passed, as PagerDuty's and Alertmanager's clients do, while the
connection carries on with other alerts. Every alert is an event for a (service, dedup
key); what was accepted is counted per key, and so is what was refused, which may or may
not have been stored.
"""

from __future__ import annotations

import asyncio
import collections
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import httpx

from tests.client import trigger
from tests.e2e.alert_payloads import AM_HEADERS, am_alert, am_notification

Key = tuple[str, str]  # (service id, dedup key)
ALLOWED_REFUSALS = (503, 429)  # "not durable, come back later"; anything else is a failure
MAX_RETRY_WAIT_S = 2.0


@dataclass(frozen=True)
class StormService:
    service_id: str
    pagerduty_key: str
    alertmanager_key: str


@dataclass(frozen=True)
class Request:
    service_id: str
    path: str
    body: dict[str, Any]
    keys: tuple[str, ...]  # the dedup key of each alert it carries
    headers: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Answer:
    service_id: str
    sent_at: float  # epoch seconds
    answered_at: float
    status: int | None  # None: no HTTP answer (the connection failed)
    retry_after: str | None
    detail: str = ""


@dataclass
class StormRecord:
    accepted: collections.Counter[Key] = field(default_factory=collections.Counter)
    refused: collections.Counter[Key] = field(default_factory=collections.Counter)
    answers: list[Answer] = field(default_factory=list)
    unsettled: list[Request] = field(default_factory=list)  # refused and not yet accepted

    @property
    def statuses(self) -> collections.Counter[int | None]:
        return collections.Counter(a.status for a in self.answers)

    def failures(self) -> list[Answer]:
        """Answers other than durable or "retry later" with a Retry-After."""
        return [a for a in self.answers
                if a.status not in (200, 202) and not (a.status in ALLOWED_REFUSALS and a.retry_after)]

    def keys(self) -> set[Key]:
        return set(self.accepted) | set(self.refused)


class AlertStorm:
    def __init__(self, base_url: str, services: list[StormService], *, connections: int = 8, keys: int = 12,
                 alerts_per_notification: int = 3) -> None:
        self._base_url = base_url
        self._services = services
        self._connections = connections
        self._keys = keys
        self._alerts = alerts_per_notification
        self.record = StormRecord()

    async def run(self, seconds: float, should_stop: Callable[[], bool] = lambda: False) -> StormRecord:
        """Storm for `seconds` (or until `should_stop()`), then send again whatever is still
        refused until it is accepted."""
        stop_at = time.monotonic() + seconds
        limits = httpx.Limits(max_connections=self._connections)
        async with httpx.AsyncClient(base_url=self._base_url, limits=limits, timeout=60) as client:
            await asyncio.gather(*(self._connection(client, n, lambda: time.monotonic() >= stop_at or should_stop())
                                   for n in range(self._connections)))
            await self._settle(client)
        return self.record

    async def burst(self, service: StormService, alerts: int) -> None:
        """One Alertmanager notification of `alerts` new alerts, sent until accepted: as many
        incidents opened in one commit."""
        fleet = [am_alert(f"burst-{n}.storm:9100") for n in range(alerts)]
        request = Request(service.service_id, f"/integrations/alertmanager/{service.alertmanager_key}",
                          am_notification(*fleet), tuple(f"am:{a['fingerprint']}" for a in fleet), AM_HEADERS)
        async with httpx.AsyncClient(base_url=self._base_url, timeout=60) as client:
            while (wait := await self._send(client, request)) is not None:
                await asyncio.sleep(wait)

    async def _connection(self, client: httpx.AsyncClient, number: int, done: Callable[[], bool]) -> None:
        retries: list[tuple[float, Request]] = []
        sent = 0
        while not done():
            due = [r for r in retries if r[0] <= time.monotonic()]
            if due:
                retries.remove(due[0])
                request = due[0][1]
            else:
                request = self._request(number, sent)
                sent += 1
            wait = await self._send(client, request)
            if wait is not None:
                retries.append((time.monotonic() + wait, request))
        self.record.unsettled += [r for _, r in retries]

    async def _settle(self, client: httpx.AsyncClient, timeout_s: float = 60) -> None:
        deadline = time.monotonic() + timeout_s
        while self.record.unsettled and time.monotonic() < deadline:
            pending, self.record.unsettled = self.record.unsettled, []
            for request in pending:
                if await self._send(client, request) is not None:
                    self.record.unsettled.append(request)
            if self.record.unsettled:
                await asyncio.sleep(0.5)

    def _request(self, connection: int, n: int) -> Request:
        service = self._services[(connection + n) % len(self._services)]
        spread = connection * 7 + n
        if n % 2 == 0:
            dedup_key = f"pd-{spread % self._keys}"
            return Request(service.service_id, "/v2/enqueue",
                           trigger(service.pagerduty_key, dedup_key, summary=f"{dedup_key} failing"), (dedup_key,))
        first = spread % self._keys
        alerts = [am_alert(f"node-{(first + i) % self._keys}.storm:9100") for i in range(self._alerts)]
        return Request(service.service_id, f"/integrations/alertmanager/{service.alertmanager_key}",
                       am_notification(*alerts), tuple(f"am:{a['fingerprint']}" for a in alerts), AM_HEADERS)

    async def _send(self, client: httpx.AsyncClient, request: Request) -> float | None:
        """Send once and record the answer; None when accepted, else how long to wait."""
        sent_at = time.time()
        try:
            response = await client.post(request.path, json=request.body, headers=request.headers)
        except httpx.TransportError as exc:
            self._count(request, Answer(request.service_id, sent_at, time.time(), None, None, repr(exc)))
            return 1.0
        retry_after = response.headers.get("retry-after")
        answer = Answer(request.service_id, sent_at, time.time(), response.status_code, retry_after,
                        "" if response.status_code < 300 else response.text[:200])
        self._count(request, answer)
        if response.status_code in (200, 202):
            return None
        return min(float(retry_after or 1.0), MAX_RETRY_WAIT_S)

    def _count(self, request: Request, answer: Answer) -> None:
        self.record.answers.append(answer)
        tally = self.record.accepted if answer.status in (200, 202) else self.record.refused
        for key in request.keys:
            tally[(request.service_id, key)] += 1


def check_durable(db: Callable[..., Any], record: StormRecord, service_ids: list[str]) -> dict[str, int]:
    """What a client was told is what the database holds:
    - exactly one incident per (service, dedup key) the storm sent, and no other;
    - each holds at least the alerts accepted for it, and at most those plus the refused
      ones (a refused alert may have been stored: its answer was lost, or it timed out);
    - the incidents' occurrences add up to the raw alerts stored.
    Returns the totals, for the test's report."""
    rows = db("fetch", "SELECT service_id::text, dedup_key, occurrences FROM incidents"
                 " WHERE service_id = ANY($1::uuid[])", service_ids)
    incidents = collections.Counter((r["service_id"], r["dedup_key"]) for r in rows)
    duplicated = [key for key, count in incidents.items() if count > 1]
    assert not duplicated, f"a dedup key opened more than one incident: {duplicated[:5]}"
    missing, unexpected = sorted(record.keys() - set(incidents)), sorted(set(incidents) - record.keys())
    assert not missing and not unexpected, (
        f"{len(incidents)} incidents for {len(record.keys())} keys sent; missing {missing[:5]}, unexpected {unexpected[:5]}")
    occurrences = {(r["service_id"], r["dedup_key"]): r["occurrences"] for r in rows}
    short = {k: (occurrences[k], n) for k, n in record.accepted.items() if occurrences[k] < n}
    assert not short, f"alerts answered as durable are missing (stored, accepted): {list(short.items())[:5]}"
    extra = {k: (occurrences[k], record.accepted[k], record.refused[k]) for k in occurrences
             if occurrences[k] > record.accepted[k] + record.refused[k]}
    assert not extra, f"more alerts stored than sent (stored, accepted, refused): {list(extra.items())[:5]}"
    stored = db("fetchval", "SELECT count(*) FROM alerts WHERE service_id = ANY($1::uuid[])", service_ids)
    assert stored == sum(occurrences.values()), f"{stored} raw alerts for {sum(occurrences.values())} occurrences"
    assert not record.unsettled, f"{len(record.unsettled)} requests never accepted after the storm"
    return {"incidents": len(incidents), "alerts_stored": stored, "accepted": sum(record.accepted.values()),
            "refused": sum(record.refused.values())}
