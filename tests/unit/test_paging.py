"""From a page to notifications: targets to people (each once), people to their notification
rules for the incident's urgency, verified contact methods only, and the log line for it."""

from __future__ import annotations

from datetime import timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tocsin.actors.domain.clock import FakeClock
from tocsin.actors.domain.escalation_state import Page, Target
from tocsin.actors.domain.events import Urgency
from tocsin.actors.domain.paging import ContactMethod, Lookup, Notification, Person, Rule, notify, page_notifications

HIGH, LOW = Urgency.HIGH, Urgency.LOW
AT = FakeClock().now()

SMS = ContactMethod("alice-sms", "sms", verified=True)
VOICE = ContactMethod("alice-voice", "voice", verified=True)
EMAIL = ContactMethod("alice-email", "email", verified=False)  # never confirmed
ALICE = Person("alice", "Alice", (SMS, VOICE, EMAIL), (
    Rule("voice-high", VOICE.id, HIGH, 5),
    Rule("email-high", EMAIL.id, HIGH, 1),
    Rule("sms-high", SMS.id, HIGH, 0),
    Rule("sms-low", SMS.id, LOW, 10),
))
ALICE_HIGH = "Alice (sms now, voice in 5 min)"

BOB_PUSH = ContactMethod("bob-push", "push", verified=True)
BOB = Person("bob", "Bob", (BOB_PUSH,), (Rule("push-high", BOB_PUSH.id, HIGH, 2),))

USER_ALICE, USER_BOB, USER_NOBODY = Target.user("alice"), Target.user("bob"), Target.user("nobody")
PRIMARY, EMPTY = Target.schedule("primary"), Target.schedule("empty")


def lookup(target: Target) -> tuple[list[Person], str | None]:
    """Alice is on call on Primary; nobody is on call on Empty; user "nobody" does not exist."""
    return {
        USER_ALICE: ([ALICE], None),
        USER_BOB: ([BOB], None),
        PRIMARY: ([ALICE], None),
        EMPTY: ([], "schedule Empty: nobody on call"),
    }.get(target, ([], f"unknown user {target.id}"))


def with_people(*people: Person) -> Lookup:
    """A lookup where each user target stands for the person with its id."""
    by_id = {person.id: person for person in people}
    return lambda target: ([by_id[target.id]], None)


def sent(notifications: list[Notification]) -> list[tuple[str, str, str | None, int]]:
    return [(n.user_id, n.channel, n.rule_id, n.delay_minutes) for n in notifications]


# -- one person ---------------------------------------------------------------------------


def test_only_the_rules_for_the_urgency_each_at_page_time_plus_its_delay() -> None:
    high, high_text = notify(ALICE, HIGH, AT)
    low, low_text = notify(ALICE, LOW, AT)

    assert high == [
        Notification("alice", SMS.id, "sms", "sms-high", 0, AT),
        Notification("alice", VOICE.id, "voice", "voice-high", 5, AT + timedelta(minutes=5)),
    ]
    assert high_text == ALICE_HIGH
    assert low == [Notification("alice", SMS.id, "sms", "sms-low", 10, AT + timedelta(minutes=10))]
    assert low_text == "Alice (sms in 10 min)"


def test_notifications_are_sorted_by_delay_then_channel() -> None:
    methods = tuple(ContactMethod(f"m-{c}", c, verified=True) for c in ("voice", "sms", "push", "email"))
    rules = tuple(Rule(f"r-{m.channel}", m.id, HIGH, delay) for m, delay in zip(methods, (15, 0, 5, 0)))

    notifications, text = notify(Person("erin", "Erin", methods, rules), HIGH, AT)

    assert [(n.delay_minutes, n.channel) for n in notifications] == [
        (0, "email"), (0, "sms"), (5, "push"), (15, "voice")
    ]
    assert [n.send_at for n in notifications] == [AT + timedelta(minutes=m) for m in (0, 0, 5, 15)]
    assert text == "Erin (email now, sms now, push in 5 min, voice in 15 min)"


def test_unverified_contact_methods_are_skipped_and_the_log_says_when_none_is_left() -> None:
    phone = ContactMethod("frank-voice", "voice", verified=False)
    sms = ContactMethod("frank-sms", "sms", verified=True)  # verified, but no rule names it
    frank = Person("frank", "Frank", (phone, sms), (
        Rule("voice-high", phone.id, HIGH, 0),
        Rule("gone-high", "deleted-method", HIGH, 3),
    ))

    notifications, text = notify(frank, HIGH, AT)

    assert notifications == []
    assert text == "Frank (no verified contact method in their high-urgency rules)"
    assert "alice-email" not in {n.contact_method_id for n in notify(ALICE, HIGH, AT)[0]}


def test_without_rules_for_the_urgency_every_verified_method_is_used_at_once() -> None:
    carol = Person("carol", "Carol", (
        ContactMethod("carol-voice", "voice", verified=True),
        ContactMethod("carol-sms", "sms", verified=True),
        ContactMethod("carol-email", "email", verified=False),
    ), (Rule("voice-low", "carol-voice", LOW, 10),))

    notifications, text = notify(carol, HIGH, AT)

    assert notifications == [
        Notification("carol", "carol-sms", "sms", None, 0, AT),
        Notification("carol", "carol-voice", "voice", None, 0, AT),
    ]
    assert text == "Carol (no high-urgency rules: every verified contact method; sms now, voice now)"


@pytest.mark.parametrize("methods", [(), (ContactMethod("dan-sms", "sms", verified=False),)])
def test_without_rules_or_verified_methods_nobody_is_notified_and_the_log_says_so(
    methods: tuple[ContactMethod, ...]
) -> None:
    assert notify(Person("dan", "Dan", methods), LOW, AT) == ([], "Dan (no verified contact method)")


# -- one page -----------------------------------------------------------------------------


def test_a_person_reached_through_two_targets_of_a_level_is_notified_once() -> None:
    page = Page(0, 0, (USER_ALICE, PRIMARY), AT)

    notifications, text = page_notifications(page, HIGH, lookup)

    assert sent(notifications) == sent(notify(ALICE, HIGH, AT)[0])
    assert text == f"paged level 1: {ALICE_HIGH}"


def test_everyone_reached_is_notified_in_the_order_of_the_targets() -> None:
    at = AT + timedelta(minutes=30)

    notifications, text = page_notifications(Page(1, 0, (USER_BOB, PRIMARY), at), HIGH, lookup)

    assert sent(notifications) == [
        ("bob", "push", "push-high", 2), ("alice", "sms", "sms-high", 0), ("alice", "voice", "voice-high", 5)
    ]
    assert [n.send_at for n in notifications] == [at + timedelta(minutes=m) for m in (2, 0, 5)]
    assert text == f"paged level 2: Bob (push in 2 min); {ALICE_HIGH}"


def test_the_first_notification_due_at_once_is_marked_first_of_its_page() -> None:
    notifications, _ = page_notifications(Page(1, 0, (USER_BOB, PRIMARY), AT), HIGH, lookup)

    # Bob's push waits 2 minutes; Alice's SMS is due at once, so it goes out before the rest.
    assert [(n.user_id, n.channel) for n in notifications if n.first_of_page] == [("alice", "sms")]


def test_a_page_with_nothing_due_at_once_marks_none_first() -> None:
    notifications, _ = page_notifications(Page(0, 0, (USER_BOB,), AT), HIGH, lookup)

    assert notifications and not any(n.first_of_page for n in notifications)


def test_the_page_uses_the_incidents_urgency() -> None:
    notifications, text = page_notifications(Page(0, 0, (USER_ALICE, USER_BOB), AT), LOW, lookup)

    assert sent(notifications) == [("alice", "sms", "sms-low", 10), ("bob", "push", None, 0)]
    assert text == (
        "paged level 1: Alice (sms in 10 min); Bob (no low-urgency rules: every verified contact method; push now)"
    )


def test_a_lookup_note_appears_in_the_log() -> None:
    notifications, text = page_notifications(Page(0, 0, (EMPTY, USER_ALICE), AT), HIGH, lookup)

    assert len(notifications) == 2
    assert text == f"paged level 1: schedule Empty: nobody on call; {ALICE_HIGH}"


@pytest.mark.parametrize(("targets", "text"), [
    ((EMPTY,), "paged level 1: schedule Empty: nobody on call; nobody was notified"),
    ((USER_NOBODY, EMPTY), "paged level 1: unknown user nobody; schedule Empty: nobody on call; nobody was notified"),
])
def test_nobody_was_notified_when_nobody_is_reachable(targets: tuple[Target, ...], text: str) -> None:
    assert page_notifications(Page(0, 0, targets, AT), HIGH, lookup) == ([], text)


def test_nobody_was_notified_when_nobody_has_a_usable_method() -> None:
    dan = Person("dan", "Dan", (ContactMethod("dan-sms", "sms", verified=False),))

    notifications, text = page_notifications(Page(0, 0, (Target.user("dan"),), AT), HIGH, with_people(dan))

    assert notifications == []
    assert text == "paged level 1: Dan (no verified contact method); nobody was notified"


@pytest.mark.parametrize(("level", "pass_", "where"), [
    (0, 0, "level 1"),
    (2, 0, "level 3"),
    (0, 1, "level 1, repeat 1"),
    (2, 2, "level 3, repeat 2"),
])
def test_the_log_names_the_level_from_one_and_the_repeat(level: int, pass_: int, where: str) -> None:
    _, text = page_notifications(Page(level, pass_, (USER_BOB,), AT), HIGH, lookup)

    assert text == f"paged {where}: Bob (push in 2 min)"


# -- properties ---------------------------------------------------------------------------

CHANNELS = ["sms", "voice", "push", "email"]


@st.composite
def people(draw: st.DrawFn) -> Person:
    verified = draw(st.lists(st.booleans(), min_size=0, max_size=4))
    methods = tuple(ContactMethod(f"m{n}", CHANNELS[n], ok) for n, ok in enumerate(verified))
    method_ids = [m.id for m in methods] + ["deleted"]
    rules = draw(st.lists(st.tuples(st.sampled_from(method_ids), st.sampled_from(list(Urgency)), st.integers(0, 30)),
                          max_size=6))
    return Person("p", "P", methods, tuple(Rule(f"r{n}", m, u, d) for n, (m, u, d) in enumerate(rules)))


@settings(max_examples=200, deadline=None)
@given(person=people(), urgency=st.sampled_from(list(Urgency)))
def test_notifications_follow_the_rules_of_the_urgency_on_verified_methods(person: Person, urgency: Urgency) -> None:
    notifications, _ = notify(person, urgency, AT)

    verified = {m.id for m in person.methods if m.verified}
    rules = {r.id: r for r in person.rules if r.urgency is urgency}
    expected: list[tuple[str, str | None, int]] = (
        [(r.contact_method_id, r.id, r.delay_minutes) for r in rules.values() if r.contact_method_id in verified]
        if rules else [(method_id, None, 0) for method_id in verified]
    )
    assert sorted((n.contact_method_id, n.rule_id, n.delay_minutes) for n in notifications) == sorted(expected)
    assert [n.delay_minutes for n in notifications] == sorted(n.delay_minutes for n in notifications)
    assert all(n.send_at == AT + timedelta(minutes=n.delay_minutes) for n in notifications)
