"""Moving from Opsgenie, end to end: `tocsin import opsgenie` reads the fake Opsgenie through its
official SDK, `tocsin config plan` and `apply` apply the file to a running Tocsin, then Tocsin's
on-call answer every 15 minutes over 14 days equals Opsgenie's timeline, each kept 36-character
API key sent to Tocsin's Opsgenie Alert API opens its incident on the mapped service, the
heartbeats hang on their team's service, and `--check` finds no difference until Opsgenie's
schedule changes."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.e2e.conftest import (
    check_before_and_after, import_plan_and_apply, incidents_of, moving_from, on_call_disagreements,
)
from tests.fakes import opsgenie_account as fixture
from tests.fakes.opsgenie_api import FakeOpsgenie
from tests.fakes.pagerduty_account import dst_window_start

PREFIX = "og-move "  # the deployment is shared: other tests may have their own "ops" team
ZONES = ("Europe/Berlin", "America/Chicago", "Asia/Kolkata")


@pytest.fixture(scope="module")
def window() -> datetime:
    return dst_window_start(datetime.now(timezone.utc), ZONES)


@pytest.fixture(scope="module")
def opsgenie(window: datetime) -> Iterator[FakeOpsgenie]:
    with FakeOpsgenie(fixture.account(window, PREFIX)) as og:
        yield og


@pytest.fixture(scope="module")
def applied(tocsin: Any, admin_token: str, opsgenie: FakeOpsgenie,
            tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """The README's steps 1 and 2 done; the file written. Its tests run in the same environment."""
    with moving_from(tocsin, admin_token, OPSGENIE_API_KEY=opsgenie.key):
        yield import_plan_and_apply("opsgenie", opsgenie.url, tmp_path_factory.mktemp("import"))


def test_the_report_says_what_was_not_mapped(applied: Path) -> None:
    report = applied.with_name("opsgenie.unmapped.txt").read_text()
    assert f"integration {PREFIX}ops-email: type Email has no counterpart" in report
    assert "Tocsin cannot page Opsgenie's app" in report


def test_tocsin_answers_as_opsgenie_every_15_minutes(applied: Path, api: httpx.Client, window: datetime,
                                                     opsgenie: FakeOpsgenie) -> None:
    emails = {u["id"]: u["username"] for u in opsgenie.account["users"]}
    timelines = {s["name"]: [(start, end, emails[user]) for start, end, user in opsgenie.timeline(s["id"], window, 14)]
                 for s in opsgenie.account["schedules"]}
    assert len(timelines) == 3
    assert on_call_disagreements(api, timelines, window) == {}


def test_every_kept_api_key_opens_its_incident_on_the_mapped_service(
        applied: Path, api: httpx.Client, anonymous: httpx.Client, opsgenie: FakeOpsgenie) -> None:
    services = {s["name"]: s["id"] for s in api.get("/api/v1/services").json()["services"]}
    kept = [i for i in opsgenie.account["integrations"] if i["type"] == "API"]
    assert len(kept) == 2
    for integration in kept:
        alias = f"moved-{uuid.uuid4().hex[:8]}"
        sent = anonymous.post("/v2/alerts", json={"message": "Disk full", "alias": alias},
                              headers={"Authorization": f"GenieKey {integration['apiKey']}"})
        assert sent.status_code == 202, sent.text
        opened = incidents_of(api, services[integration["name"]])
        assert f"og:{alias}" in [incident["dedup_key"] for incident in opened], integration["name"]


def test_heartbeats_hang_on_their_teams_service(applied: Path, api: httpx.Client, opsgenie: FakeOpsgenie) -> None:
    services = {s["name"]: s["id"] for s in api.get("/api/v1/services").json()["services"]}
    for service, beat in ((f"{PREFIX}ops-api", f"{PREFIX}nightly-backup"), (f"{PREFIX}web-api", f"{PREFIX}web-cron")):
        answer = api.get(f"/api/v1/services/{services[service]}/heartbeats")
        assert answer.status_code == 200, answer.text
        assert [h["name"] for h in answer.json()["heartbeats"]] == [beat]


def test_check_finds_no_difference_until_opsgenie_changes(applied: Path, window: datetime, opsgenie: FakeOpsgenie,
                                                          capsys: pytest.CaptureFixture[str]) -> None:
    hana = fixture.users()[7]

    def change() -> None:
        opsgenie.add_override("sched-web", hana["id"], window + timedelta(days=3), window + timedelta(days=3, hours=2))

    out = check_before_and_after("opsgenie", opsgenie.url, window, change, capsys)
    assert f"{PREFIX}web-oncall:" in out and f"Opsgenie says {hana['username']}" in out, out
    assert "1 difference(s)" in out
