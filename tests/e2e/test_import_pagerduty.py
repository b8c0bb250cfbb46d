"""Moving from PagerDuty, end to end: `tocsin import pagerduty` reads the fake PagerDuty (its
official client, over TLS), `tocsin config apply` applies the file to a running Tocsin, then
Tocsin's on-call answer every 15 minutes over 14 days equals PagerDuty's final schedule, each
kept routing key opens its incident on the mapped service, and `--check` finds no difference
until PagerDuty's schedule changes."""

from __future__ import annotations

from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.client import trigger
from tests.e2e.conftest import incidents_of
from tests.fakes import pagerduty_account as fixture
from tests.fakes.pagerduty_api import FakePagerDuty
from tocsin.cluster.cli import main

STEP = timedelta(minutes=15)


@pytest.fixture(scope="module")
def window() -> datetime:
    return fixture.dst_window_start(datetime.now(timezone.utc))


@pytest.fixture(scope="module")
def pagerduty(window: datetime) -> Iterator[FakePagerDuty]:
    with FakePagerDuty(fixture.account(window)) as pd:
        yield pd


@pytest.fixture(scope="module")
def environment(tocsin: Any, admin_token: str, pagerduty: FakePagerDuty) -> Iterator[None]:
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("SSL_CERT_FILE", pagerduty.ca_file)  # the fake's own certificate
        patch.setenv("PAGERDUTY_API_KEY", pagerduty.token)
        patch.setenv("TOCSIN_URL", tocsin.base_url)
        patch.setenv("TOCSIN_TOKEN", admin_token)
        yield


@pytest.fixture(scope="module")
def applied(environment: None, pagerduty: FakePagerDuty, tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("import") / "pagerduty.yaml"
    assert main(["import", "pagerduty", "--api-url", pagerduty.url, "--out", str(out)]) == 0
    assert main(["config", "apply", "-f", str(out)]) == 0
    return out


def test_the_report_says_what_was_not_mapped(applied: Path) -> None:
    report = applied.with_name("pagerduty.unmapped.txt").read_text()
    assert "generic_email_inbound_integration" in report
    assert "push_notification_contact_method" in report


def test_tocsin_answers_as_pagerduty_every_15_minutes(applied: Path, api: httpx.Client, window: datetime,
                                                      pagerduty: FakePagerDuty) -> None:
    ids = {s["name"]: s["id"] for s in api.get("/api/v1/schedules").json()["schedules"]}
    emails = {u["id"]: u["email"] for u in pagerduty.account["users"]}
    end = window + timedelta(days=14)
    steps = [window + n * STEP for n in range(int((end - window) / STEP))]
    for schedule in pagerduty.account["schedules"]:
        entries = pagerduty.final_schedule(schedule["id"], window, end)
        expected = [[emails[u] for s, e, u in entries if s <= at < e] for at in steps]

        def ask(at: datetime, schedule_id: str = ids[schedule["name"]]) -> list[str]:
            answer = api.get(f"/api/v1/schedules/{schedule_id}/oncall", params={"at": at.isoformat()})
            assert answer.status_code == 200, answer.text
            return [user["email"] for user in answer.json()["users"]]

        with ThreadPoolExecutor(4) as pool:
            answers = list(pool.map(ask, steps))
        wrong = [(at, want, got) for at, want, got in zip(steps, expected, answers) if want != got]
        assert not wrong, (schedule["name"], wrong[:5])


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
    check = ["import", "pagerduty", "--api-url", pagerduty.url, "--check", "--from", window.isoformat()]
    assert main(check) == 0
    assert "No differences" in capsys.readouterr().out
    pagerduty.add_override("PS00008", "PU00010", window + timedelta(days=2), window + timedelta(days=2, hours=3))
    assert main(check) == 1
    out = capsys.readouterr().out
    assert "Sydney db:" in out and "PagerDuty says kofi.mensah@pd-import.example" in out, out
    assert "1 difference(s)" in out
