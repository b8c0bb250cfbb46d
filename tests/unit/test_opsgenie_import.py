"""The Opsgenie account mapped to a configuration document, with no network: each schedule,
computed by Tocsin's schedules, has the same people on call as the fake's own rendering of
Opsgenie's timeline every 15 minutes over 14 days around a clock change; API keys are kept."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from tests.fakes import opsgenie_account as fixture
from tests.fakes import opsgenie_api as oracle
from tests.fakes.pagerduty_account import dst_window_start
from tests.unit.test_pagerduty_import import STEP, _domain
from tocsin.actors.domain import schedule as domain
from tocsin.cluster.importers.opsgenie import to_document

pytestmark = pytest.mark.unit


@pytest.fixture(scope="module")
def window() -> datetime:
    return dst_window_start(datetime.now(timezone.utc), ("Europe/Berlin", "America/Chicago", "Asia/Kolkata"))


def test_every_schedule_has_the_same_people_on_call_every_15_minutes(window) -> None:
    account = fixture.account(window)
    document, _ = to_document(account, window - timedelta(days=1))
    emails = {u["id"]: u["username"] for u in account["users"]}
    by_name = {s.name: _domain(s) for s in document.schedules}
    for source in account["schedules"]:
        at = window
        while at < window + timedelta(days=14):
            expected = sorted(emails[u] for u in oracle.on_call(source, account["overrides"][source["id"]], at))
            assert domain.on_call(by_name[source["name"]], at) == expected, (source["name"], at)
            at += STEP


def test_api_keys_teams_escalations_and_heartbeats_carry_over(window) -> None:
    document, report = to_document(fixture.account(window), window)
    services = {s.name: s for s in document.services}
    assert set(services) == {"ops-api", "web-api"}
    [kept] = services["ops-api"].integrations or ()
    assert (kept.type, kept.key) == ("opsgenie", "3f2c1a9e-7b6d-4e5f-9a8b-0c1d2e3f4a5b")
    assert [b.name for b in services["web-api"].heartbeats or ()] == ["web-cron"]
    assert services["ops-api"].escalation_policy == "ops-escalation"
    ops = next(p for p in document.escalation_policies if p.name == "ops-escalation")
    assert [(len(level.targets), level.delay_minutes) for level in ops.levels] == [(1, 10), (1, 20)]
    assert ops.repeat == 2
    assert {t.name: len(t.members or ()) for t in document.teams} == {"ops": 4, "web": 4}
    text = "\n".join(map(str, report))
    assert "recipient team" in text and "type Email has no counterpart" in text
