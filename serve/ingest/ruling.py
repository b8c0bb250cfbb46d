"""Routing rules acting on the alerts a source sends, on their way to the shards: the one place
every integration's alerts pass (the gateway's formats through serve/ingest/common.py
`submit`, e-mail through the listener).

`Ruling.ruled(inputs, integration, now)` answers each input as the shard is to take it, or
None for an alert dropped. An alert event goes through the routes of its router integration
(when it came through one: they choose its service), its service's rules and the inhibit
rules (actors/domain/rule_verdict.py `judge`), and comes out with what they decided
(`Verdict.applied`); an acknowledge or resolve that no route matches follows the open incident
the router's alerts opened under its dedup key; every match and drop is counted in the tally (actors/rule_tally.py).
Incident commands pass as they are.

Inhibition is answered from memory by the Inhibitor (serve/inhibitor.py), which the ruling
hands each new version of the inhibit rules as the book loads it.

Cost: an alert to a service with no rules, while no inhibit rule is enabled (or there is no
inhibitor), costs one dict lookup per request; nothing is parsed or allocated for it. An alert
like one decided before (the same fields, through the same rule sets: a storm's, or a
re-notification) is answered from the verdicts remembered (actors/domain/verdict_memo.py),
without its view or the rules, while no inhibit rule is active.

`submit_ruled` sends what `ruled` answered as `ShardRouter.submit_many` would: a dropped
alert is not sent, and its reply says `dropped`, so that the source is answered as for any
alert taken (it must not send it again).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from tocsin.actors.background import Background
from tocsin.actors.domain.batch_plan import Reply
from tocsin.actors.domain.events import Action, AlertEvent, ServiceInput
from tocsin.actors.domain.incident import Outcome
from tocsin.actors.domain.rule_verdict import Verdict, judge
from tocsin.actors.domain.rules import InhibitRules
from tocsin.actors.domain.verdict_memo import Ruled, VerdictMemo, verdict_key
from tocsin.actors.rule_tally import RuleTally
from tocsin.actors.rulebook import Router, RuleBook, event_view
from tocsin.actors.shard_router import ShardRouter
from tocsin.actors.store import incidents as incident_store
from tocsin.actors.store.database import UNAVAILABLE
from tocsin.actors.store.services import IntegrationKey
from tocsin.serve.inhibitor import Inhibitor

log = logging.getLogger(__name__)

ROUTER = "router"  # the integration type whose alerts are routed
READY_WAIT_S = 5.0  # how long the first alerts after a start wait for the rules' first load
RETRY_S = 1.0
DROPPED = Reply(Outcome.DROPPED.value, note="dropped by a routing rule")


class RulesUnavailable(Exception):
    """The rules an alert needs could not be read (the database being away, or a router's
    routes not compiling): the source should retry later."""


class Ruling:
    """A gateway's (or the e-mail listener's) rules, tally and inhibition (see the module)."""

    def __init__(self, book: RuleBook, tally: RuleTally, inhibitor: Inhibitor | None = None) -> None:
        self.book = book
        self.tally = tally
        self._inhibitor = inhibitor
        self._inhibit_seen: InhibitRules | None = None
        self._inhibiting = False
        self._feeding = Background(self._feed_inhibitor)
        self._verdicts = VerdictMemo()

    def start(self) -> None:
        """Poll the rules, flush the tally and hand the inhibitor each new version of the
        inhibit rules, in the background of the running loop (once)."""
        self.book.start()
        self.tally.start()
        if self._inhibitor is not None:
            self._feeding.start()

    async def stop(self) -> None:
        await self._feeding.stop()
        if self._inhibitor is not None:
            await self._inhibitor.close()
        await self.book.stop()
        await self.tally.stop()

    async def _feed_inhibitor(self) -> None:
        if self._inhibitor is not None:
            await self._feed(self._inhibitor)

    async def _feed(self, inhibitor: Inhibitor) -> None:
        """The inhibitor follows the book's inhibit rules: replaced at each load that changed them."""
        fed: InhibitRules | None = None
        await self.book.ready()
        await inhibitor.start()
        while True:
            rules = self.book.inhibit
            if rules is not fed:
                try:
                    await inhibitor.replace_rules(rules)
                    fed = rules
                except Exception as exc:  # noqa: BLE001 - the database or the bus away: tried again
                    log.warning("inhibition: cannot load the open incidents for new rules, retrying: %r", exc)
                    await asyncio.sleep(RETRY_S)
                    continue
            await self.book.next_load()

    async def ruled(self, inputs: Sequence[ServiceInput], integration: IntegrationKey, now: datetime,
                    payloads: Sequence[Mapping[str, Any]] | None = None) -> Sequence[ServiceInput | None]:
        """Each input as the shard is to take it, None for an alert dropped; `inputs` itself
        when no rule can apply. `payloads`: each alert event's payload as JSON values, by
        position, when its format has them (the rules read them instead of parsing the text).
        RulesUnavailable when the rules cannot be read."""
        book = self.book
        if book.generation < 0:
            await self._loaded()
        router: Router | None = None
        if integration.type == ROUTER:
            router = book.router(integration.integration_id) or await self._reloaded_router(integration)
            format = router.format
        elif book.service(integration.service_id) is None and not self._inhibit_active():
            return inputs
        else:
            format = integration.type
        read: Sequence[Mapping[str, Any] | None] = payloads if payloads is not None else [None] * len(inputs)
        follow = await self._follow_ups(inputs, read, router, now) if router is not None else {}
        counted: list[Verdict] = []
        self._verdicts.follow(book.generation)  # after the awaits above, before any verdict of this request
        ruled = [self._judged(item, format, router, now, counted, follow.get(item.dedup_key), payload)
                 if isinstance(item, AlertEvent) else item for item, payload in zip(inputs, read)]
        if counted:
            self.tally.count(counted, router.integration_id if router else None, now)
        return ruled

    async def _follow_ups(self, inputs: Sequence[ServiceInput], payloads: Sequence[Mapping[str, Any] | None],
                          router: Router, now: datetime) -> dict[str, str]:
        """dedup key → service, for the acknowledges and resolves among `inputs` that none of the
        router's routes matches: each goes to the service whose open incident the router's alerts
        opened under its key, as the alert it follows went (a PagerDuty resolve carries nothing
        else to route by). One query per request that holds any; none for triggers."""
        keys = [item.dedup_key for item, payload in zip(inputs, payloads)
                if isinstance(item, AlertEvent) and item.action != Action.TRIGGER
                and router.rules.evaluate(event_view(router.format, item, payload), now).by_catch_all]
        if not keys:
            return {}
        try:
            async with self.book.database.connection() as conn:
                return await incident_store.open_services_by_key(conn, router.integration_id, keys)
        except UNAVAILABLE:
            raise RulesUnavailable("the incidents these alerts follow cannot be read now") from None

    def _judged(self, event: AlertEvent, format: str, router: Router | None, now: datetime, counted: list[Verdict],
                follows_to: str | None = None, payload: Mapping[str, Any] | None = None) -> AlertEvent | None:
        """The event as the rules decided, its verdict added to `counted` when the tally counts it
        (once per request); `follows_to`: the service of the incident it follows, which it goes
        to without the router's routes. Answered from the verdicts remembered when it can be."""
        book = self.book
        routes = router.rules if router is not None and follows_to is None else None
        inhibit = self._inhibitor if self._inhibit_active() else None
        key = verdict_key(format, event, routes, follows_to) if inhibit is None else None
        made = self._verdicts.recalled(key, book.service) if key is not None else None
        if made is None:
            verdict = judge(event_view(format, event, payload), now, service_id=follows_to or event.service_id or None,
                            router=routes, service_rules=book.service, inhibit=inhibit,
                            service_exists=book.has_service)
            made = Ruled.of(verdict, event)
            if key is not None:
                self._verdicts.keep(key, made, book.service)
        if made.counted:
            counted.append(made.verdict)
        return made.event(event)

    def _inhibit_active(self) -> bool:
        """Whether an enabled inhibit rule is held and something answers for it; worked out
        again only when the book's inhibit rules are another object (a reload)."""
        if self._inhibitor is None:
            return False
        rules = self.book.inhibit
        if rules is not self._inhibit_seen:
            self._inhibit_seen, self._inhibiting = rules, any(rule.enabled for rule in rules.rules)
        return self._inhibiting

    async def _loaded(self) -> None:
        try:
            await asyncio.wait_for(self.book.ready(), READY_WAIT_S)
        except asyncio.TimeoutError:
            raise RulesUnavailable("the routing rules are not loaded yet") from None

    async def _reloaded_router(self, integration: IntegrationKey) -> Router:
        """The router, after loading the rules again: it may be newer than the last load."""
        try:
            await self.book.refresh()
        except UNAVAILABLE:
            raise RulesUnavailable("the routing rules cannot be read now") from None
        router = self.book.router(integration.integration_id)
        if router is None:
            raise RulesUnavailable("this router's routes cannot be read now")
        return router


async def submit_ruled(shards: ShardRouter, ruled: Sequence[ServiceInput | None]) -> list[Reply]:
    """The inputs of one request as `Ruling.ruled` answered them, sent as `shards.submit_many`
    sends them (BatchFailed unless durable), None (dropped) being answered DROPPED."""
    kept = [item for item in ruled if item is not None]
    if len(kept) == 1:  # most requests: without the grouping by shard
        replies = [await shards.submit(kept[0])]
    else:
        replies = await shards.submit_many(kept) if kept else []
    if len(kept) == len(ruled):
        return replies
    answered = iter(replies)
    return [DROPPED if item is None else next(answered) for item in ruled]
