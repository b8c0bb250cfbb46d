"""The Reports page in Chromium: a person paged by text for two incidents of a service, one
acknowledged and resolved from the dashboard's API; the page shows the figures, draws its
charts as SVG, offers the CSV downloads, and is screenshotted at desktop and phone width."""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable
from typing import Any

import httpx
import pytest
from playwright.sync_api import expect

from tests.browser.conftest import DESKTOP, PHONE, Person, Tab, created, make_person, screenshot, trigger_alert


@pytest.fixture(scope="module")
def reported(api: httpx.Client, tocsin: Any, fake_twilio: Any) -> dict[str, Any]:
    """Rosa (Europe/Berlin) is texted for two incidents of "payments"; she acknowledges and
    resolves the first."""
    rosa = make_person(api, "Rosa Report", "responder")
    assert api.patch(f"/api/v1/users/{rosa.id}", json={"time_zone": "Europe/Berlin"}).status_code == 200
    phone = f"+1415556{uuid.uuid4().int % 10000:04d}"
    method = created(api, f"/api/v1/users/{rosa.id}/contact-methods", {"kind": "sms", "address": phone,
                                                                     "verified": True})
    created(api, f"/api/v1/users/{rosa.id}/notification-rules",
            {"contact_method_id": method["id"], "urgency": "high", "delay_minutes": 0})
    policy = created(api, "/api/v1/escalation-policies", {"name": f"Payments {uuid.uuid4().hex[:4]}", "levels": [
        {"delay_minutes": 30, "targets": [{"type": "user", "id": rosa.id}]}]})
    service = created(api, "/api/v1/services", {"name": "payments", "escalation_policy_id": policy["id"]})
    key = created(api, f"/api/v1/services/{service['id']}/integrations", {"type": "pagerduty"})["key"]
    for number, dedup_key in enumerate(("card-declines", "ledger-lag"), start=1):
        trigger_alert(tocsin.base_url, key, f"{dedup_key} alarm", dedup_key)
        wait_for_texts(fake_twilio, phone, number)
    incidents = api.get("/api/v1/incidents", params={"service_id": service["id"]}).json()["incidents"]
    first = min(i["id"] for i in incidents)
    for action in ("acknowledge", "resolve"):
        assert api.post(f"/api/v1/incidents/{first}/{action}").status_code == 200
    return {"service_id": service["id"], "person": rosa}


def wait_for_texts(fake_twilio: Any, phone: str, count: int, timeout_s: float = 20) -> None:
    deadline = time.monotonic() + timeout_s
    while sum(1 for sms in fake_twilio.messages if sms.to == phone) < count:
        assert time.monotonic() < deadline, f"fewer than {count} texts to {phone} in {timeout_s} s"
        time.sleep(0.1)


@pytest.mark.parametrize("viewport", [DESKTOP, PHONE], ids=["desktop", "phone"])
def test_the_reports_page_draws_its_charts_and_offers_csv(
    new_tab: Callable[..., Tab], admin_person: Person, reported: dict[str, Any], viewport: dict[str, int],
) -> None:
    tab = new_tab(admin_person, viewport)
    page = tab.open(f"/ui/reports?service_id={reported['service_id']}")
    expect(page.locator("body")).to_have_attribute("data-report", "shown")
    expect(page.get_by_label("Service", exact=True)).to_have_value(reported["service_id"])
    expect(page.locator("#totals [data-figure='Incidents'] dd")).to_have_text("2")
    expect(page.locator("#totals [data-figure='Acknowledged by a person'] dd")).to_have_text("1")

    row = page.locator(f"#people tr[data-user='{reported['person'].id}']")
    expect(row).to_contain_text("Rosa Report")
    expect(row).to_contain_text("Europe/Berlin")
    expect(row.locator("td[data-label='Pages']")).to_have_text("2")
    # The people chart: a legend of three series, then pages, night and weekend bars for Rosa.
    bars = page.locator("#people-chart svg[data-chart='bars'] rect[data-value]")
    expect(bars).to_have_count(3)
    expect(bars.first).to_have_attribute("data-value", "2")
    assert bars.first.bounding_box()["width"] > 0  # type: ignore[index]
    # The histograms: eight buckets each; one incident acknowledged, one resolved.
    for chart in ("#mtta-chart", "#mttr-chart"):
        columns = page.locator(f"{chart} svg[data-chart='columns'] rect.bar")
        expect(columns).to_have_count(8)
        assert sum(int(columns.nth(i).get_attribute("data-value") or 0) for i in range(8)) == 1
    expect(page.locator("#alerts tbody tr")).to_have_count(2)

    link = page.locator("a[data-table='people']")
    href = link.get_attribute("href") or ""
    assert href.startswith("/api/v1/reports/people.csv?") and f"service_id={reported['service_id']}" in href
    answer = page.request.get(href)
    assert answer.status == 200 and answer.headers["content-type"].startswith("text/csv")
    assert answer.text().splitlines()[0].startswith("user_id,name,time_zone,pages")
    screenshot(page, "reports")
    tab.assert_clean_console()


def test_a_viewer_reads_the_reports_page(new_tab: Callable[..., Tab], viewer: Person,
                                         reported: dict[str, Any]) -> None:
    tab = new_tab(viewer)
    page = tab.open(f"/ui/reports?service_id={reported['service_id']}")
    expect(page.locator("body")).to_have_attribute("data-report", "shown")
    expect(page.locator("#people tbody tr")).to_have_count(1)
    tab.assert_clean_console()
