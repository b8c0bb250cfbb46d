"""From a page of an escalation level to the notifications to send: targets to people,
people to their notification rules.

Pure: the caller looks people up (schedules resolved to whoever is on call) and passes a
function that answers for one target. Rules GoAlert and PagerDuty users expect:

- A person reached through several targets of one level (directly and through a schedule)
  is paged once.
- Each of the person's notification rules for the incident's urgency gives one
  notification, `delay_minutes` after the page.
- Only verified contact methods are used, as in GoAlert: a number that was never confirmed
  may belong to someone else.
- A person with no rule for the urgency is not skipped silently: every verified contact
  method is used at once, and the log says so.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, replace
from datetime import datetime, timedelta

from tocsin.actors.domain.escalation_state import Page, Target
from tocsin.actors.domain.events import Urgency


@dataclass(frozen=True, slots=True)
class ContactMethod:
    id: str
    channel: str  # sms, voice, push, email, slack, webhook
    verified: bool


@dataclass(frozen=True, slots=True)
class Rule:
    id: str
    contact_method_id: str
    urgency: Urgency
    delay_minutes: int


@dataclass(frozen=True, slots=True)
class Person:
    id: str
    name: str
    methods: tuple[ContactMethod, ...] = ()
    rules: tuple[Rule, ...] = ()


@dataclass(frozen=True, slots=True)
class Notification:
    user_id: str
    contact_method_id: str
    channel: str
    rule_id: str | None
    delay_minutes: int
    send_at: datetime
    # The page's first notification that is due at once: a channel sends these before the
    # rest of any page, so in a storm every new incident reaches someone first.
    first_of_page: bool = False


# Who a target stands for at paging time, and a note for the log when that is nobody
# (an unknown user, a schedule with nobody on call).
Lookup = Callable[[Target], tuple[list[Person], str | None]]


def notify(person: Person, urgency: Urgency, at: datetime) -> tuple[list[Notification], str]:
    """The person's notifications for a page at `at`, and how the log describes them."""
    verified = {m.id: m for m in person.methods if m.verified}
    rules = [r for r in person.rules if r.urgency is urgency]
    chosen: list[tuple[str | None, ContactMethod, int]]
    if rules:
        chosen = [(r.id, verified[r.contact_method_id], r.delay_minutes) for r in rules
                  if r.contact_method_id in verified]
        if not chosen:
            return [], f"{person.name} (no verified contact method in their {urgency.value}-urgency rules)"
        how = ""
    else:
        chosen = [(None, method, 0) for method in verified.values()]
        if not chosen:
            return [], f"{person.name} (no verified contact method)"
        how = f"no {urgency.value}-urgency rules: every verified contact method; "
    chosen.sort(key=lambda item: (item[2], item[1].channel))
    notifications = [
        Notification(person.id, method.id, method.channel, rule_id, delay, at + timedelta(minutes=delay))
        for rule_id, method, delay in chosen
    ]
    return notifications, f"{person.name} ({how}{_describe(notifications)})"


def page_notifications(page: Page, urgency: Urgency, lookup: Lookup) -> tuple[list[Notification], str]:
    """Every notification of one page, and the incident-log line for it."""
    seen: set[str] = set()
    notifications: list[Notification] = []
    parts: list[str] = []
    for target in page.targets:
        people, note = lookup(target)
        if note:
            parts.append(note)
        for person in people:
            if person.id in seen:
                continue
            seen.add(person.id)
            sent, description = notify(person, urgency, page.at)
            notifications += sent
            parts.append(description)
    notifications = _mark_first(notifications)
    where = f"level {page.level + 1}" + (f", repeat {page.pass_}" if page.pass_ else "")
    if not notifications:
        parts.append("nobody was notified")
    return notifications, f"paged {where}: " + "; ".join(parts)


def _mark_first(notifications: list[Notification]) -> list[Notification]:
    immediate = next((i for i, n in enumerate(notifications) if n.delay_minutes == 0), None)
    if immediate is not None:
        notifications[immediate] = replace(notifications[immediate], first_of_page=True)
    return notifications


def _describe(notifications: Iterable[Notification]) -> str:
    return ", ".join(
        f"{n.channel} {'now' if n.delay_minutes == 0 else f'in {n.delay_minutes} min'}" for n in notifications
    )
