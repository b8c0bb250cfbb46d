"""Moving from PagerDuty, end to end: `tocsin import pagerduty` reads the fake PagerDuty (its
official client, over TLS), `tocsin config plan` and `apply` apply the file to a running Tocsin, then
Tocsin's on-call answer every 15 minutes over 14 days equals PagerDuty's final schedule, each
kept routing key opens its incident on the mapped service, and `--check` finds no difference
until PagerDuty's schedule changes."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.client import trigger
from tests.e2e.conftest import (
    check_before_and_after, import_plan_and_apply, incidents_of, moving_from, on_call_disagreements,
)
from tests.fakes import pagerduty_account as fixture
from tests.fakes.pagerduty_api import FakePagerDuty

PREFIX = "pd-move "  # the deployment is shared: other tests have their own "checkout-api"


@pytest.fixture(scope="module")
def window() -> datetime:
    return fixture.dst_window_start(datetime.now(timezone.utc))


@pytest.fixture(scope="module")
def pagerduty(window: datetime) -> Iterator[FakePagerDuty]:
    with FakePagerDuty(fixture.account(window, PREFIX)) as pd:
        yield pd


@pytest.fixture(scope="module")
def applied(tocsin: Any, admin_token: str, pagerduty: FakePagerDuty,
            tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """The README's steps 1 and 2 done; the file written. Its tests run in the same environment."""
    variables = {"SSL_CERT_FILE": pagerduty.ca_file,  # the fake's own certificate
                 "PAGERDUTY_API_KEY": pagerduty.token}
    with moving_from(tocsin, admin_token, **variables):
        yield import_plan_and_apply("pagerduty", pagerduty.url, tmp_path_factory.mktemp("import"))


def test_the_report_says_what_was_not_mapped(applied: Path) -> None:
    report = applied.with_name("pagerduty.unmapped.txt").read_text()
    assert "generic_email_inbound_integration" in report
    assert "push_notification_contact_method" in report


def test_tocsin_answers_as_pagerduty_every_15_minutes(applied: Path, api: httpx.Client, window: datetime,
                                                      pagerduty: FakePagerDuty) -> None:
    emails = {u["id"]: u["email"] for u in pagerduty.account["users"]}
    timelines = {s["name"]: [(start, end, emails[user]) for start, end, user in
                             pagerduty.final_schedule(s["id"], window, window + timedelta(days=14))]
                 for s in pagerduty.account["schedules"]}
    assert len(timelines) == 8
    assert on_call_disagreements(api, timelines, window) == {}


def test_every_kept_routing_key_opens_its_incident_on_the_mapped_service(
        applied: Path, api: httpx.Client, anonymous: httpx.Client, pagerduty: FakePagerDuty) -> None:
    services = {s["name"]: s["id"] for s in api.get("/api/v1/services").json()["services"]}
    for source in pagerduty.account["services"]:
        [events] = [i for i in source["integrations"] if i["type"] == "events_api_v2_inbound_integration"]
        sent = anonymous.post("/v2/enqueue", json=trigger(events["integration_key"], dedup_key=f"moved-{source['id']}"))
        assert sent.status_code == 202, sent.text
        opened = incidents_of(api, services[source["name"]])
        assert f"moved-{source['id']}" in [incident["dedup_key"] for incident in opened], source["name"]


def test_check_finds_no_difference_until_pagerduty_changes(applied: Path, window: datetime, pagerduty: FakePagerDuty,
                                                           capsys: pytest.CaptureFixture[str]) -> None:
    def change() -> None:
        pagerduty.add_override("PS00008", "PU00010", window + timedelta(days=2), window + timedelta(days=2, hours=3))

    out = check_before_and_after("pagerduty", pagerduty.url, window, change, capsys)
    assert f"{PREFIX}Sydney db:" in out and "PagerDuty says kofi.mensah@pd-import.example" in out, out
    assert "1 difference(s)" in out
