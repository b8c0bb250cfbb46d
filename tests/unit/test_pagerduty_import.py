"""The PagerDuty account mapped to a configuration document, with no network: every schedule
the document holds, computed by Tocsin's schedules, puts the same person on call as PagerDuty's
final schedule (the fake's own rendering) at every 15 minutes of 14 days around a clock change."""

from __future__ import annotations

from datetime import datetime, time, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest

from tests.fakes import pagerduty_account as fixture
from tests.fakes import pagerduty_render as render
from tocsin.actors.domain import schedule as domain
from tocsin.actors.domain.config import document as doc
from tocsin.cluster.importers.pagerduty import to_document

pytestmark = pytest.mark.unit

STEP = timedelta(minutes=15)


def _domain(schedule: doc.Schedule) -> domain.Schedule:
    """The document's schedule as Tocsin computes it, e-mail addresses standing for users."""
    def hhmm(text: str) -> time:
        return time.fromisoformat(text)

    layers = tuple(domain.Layer(
        rotation=domain.Rotation(layer.rotation.participants, layer.rotation.start, layer.rotation.shift_length,
                                 domain.Unit(layer.rotation.unit), hhmm(layer.rotation.handoff)),
        restriction=domain.Restriction(tuple(domain.Window(w.day, hhmm(w.start), hhmm(w.end))
                                             for w in layer.restriction.windows)) if layer.restriction else None,
        priority=layer.priority) for layer in schedule.layers)
    overrides = tuple(domain.Override(o.user, o.start, o.end) for o in schedule.overrides or ())
    return domain.Schedule(ZoneInfo(schedule.time_zone), layers, overrides)


@pytest.fixture(scope="module")
def window() -> datetime:
    return fixture.dst_window_start(datetime.now(timezone.utc))


@pytest.fixture(scope="module")
def imported(window: datetime) -> tuple[dict, doc.Document, list]:
    """The account as read_account hands it over, read the day before the window, and its mapping."""
    account = fixture.account(window)
    document, report = to_document(account, window - timedelta(days=1))
    return account, document, report


def test_a_clock_change_falls_inside_the_window(window: datetime) -> None:
    end = window + timedelta(days=14)
    assert any(window.astimezone(ZoneInfo(z)).utcoffset() != end.astimezone(ZoneInfo(z)).utcoffset()
               for z in fixture.ZONES)


def test_every_schedule_puts_the_same_person_on_call_every_15_minutes(window, imported) -> None:
    account, document, _ = imported
    emails = {u["id"]: u["email"] for u in account["users"]}
    by_name = {s.name: s for s in document.schedules}
    assert len(by_name) == 8
    compared = 0
    for source in account["schedules"]:
        mine = _domain(by_name[source["name"]])
        overrides = account["overrides"][source["id"]]
        at = window
        while at < window + timedelta(days=14):
            expected = render.on_call(source, overrides, at)
            assert domain.on_call(mine, at) == ([emails[expected]] if expected else []), (source["name"], at)
            at += STEP
            compared += 1
    assert compared == 8 * 14 * 96


def test_routing_keys_are_kept_on_their_services(imported) -> None:
    account, document, _ = imported
    services = {s.name: s for s in document.services}
    assert len(services) == 12
    for source in account["services"]:
        [events] = [i for i in source["integrations"] if i["type"] == "events_api_v2_inbound_integration"]
        [kept] = services[source["name"]].integrations or ()
        assert (kept.type, kept.key) == ("pagerduty", events["integration_key"])


def test_people_policies_and_windows_carry_over(imported) -> None:
    _, document, _ = imported
    ana = next(u for u in document.users if u.email == "ana.lima@pd-import.example")
    assert (ana.role, ana.time_zone) == ("admin", "America/New_York")
    methods = {(m.kind, m.address): m for m in ana.contact_methods or ()}
    assert set(methods) == {("email", ana.email), ("sms", "+12025550100"), ("voice", "+447700900000")}
    assert methods[("sms", "+12025550100")].notification_rules == (doc.NotificationRule("high", 2),)
    platform = next(p for p in document.escalation_policies if p.name == "Platform")
    assert platform.repeat == 2
    assert platform.levels[1].targets == (doc.Target(schedule="Platform secondary"),
                                          doc.Target(user="ana.lima@pd-import.example"))
    ledger = next(s for s in document.services if s.name == "ledger")
    assert (ledger.escalation_policy, len(ledger.maintenance_windows or ())) == ("Payments", 1)


def test_what_has_no_counterpart_is_reported_with_why(imported) -> None:
    _, _, report = imported
    text = "\n".join(str(item) for item in report)
    assert "push_notification_contact_method" in text and "ben.okafor" not in text  # only users 3, 13, 23
    assert "generic_email_inbound_integration" in text
    assert "service reports: urgency rule use_support_hours" in text
    assert "layer Old rotation: ended before the import" in text
