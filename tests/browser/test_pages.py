"""Every page over a realistic set-up: no console errors, readable on a 390-px phone, and
screenshots of each at desktop and phone width (test-artifacts/screenshots/).
Also the notifications page's dead letters and their retry."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import datetime, timedelta, timezone
from typing import Any

import httpx
import pytest
from playwright.sync_api import Page, expect

from tests.browser.conftest import DESKTOP, PHONE, Person, Tab, created, make_person, screenshot, trigger_alert


PAGES = ["incidents", "oncall", "services", "rules", "policies", "schedules", "users", "notifications", "reports",
         "audit"]


@pytest.fixture(scope="module")
def storefront(api: httpx.Client, tocsin: Any, fake_twilio: Any, db: Callable[..., Any]) -> dict[str, Any]:
    """Dana is on call for the storefront and is texted when it breaks; one text to Erin died."""
    dana = make_person(api, "Dana Duty", "responder")
    phone = f"+1415555{uuid.uuid4().int % 10000:04d}"
    method = created(api, f"/api/v1/users/{dana.id}/contact-methods",
                     {"kind": "sms", "address": phone, "verified": True})
    created(api, f"/api/v1/users/{dana.id}/notification-rules",
            {"contact_method_id": method["id"], "urgency": "high", "delay_minutes": 0})
    start = (datetime.now(timezone.utc) - timedelta(days=2)).isoformat()
    schedule = created(api, "/api/v1/schedules", {
        "name": "Storefront primary", "time_zone": "America/New_York",
        "layers": [{"name": "weekly", "rotation": {"participants": [dana.id], "start": start,
                                                   "shift_length": 1, "unit": "weeks", "handoff": "09:00"}}],
    })
    later = datetime.now(timezone.utc) + timedelta(days=3)
    created(api, f"/api/v1/schedules/{schedule['id']}/overrides", {
        "user_id": dana.id, "start": later.isoformat(), "end": (later + timedelta(hours=12)).isoformat()})
    policy = created(api, "/api/v1/escalation-policies", {"name": "Storefront escalation", "levels": [
        {"delay_minutes": 10, "targets": [{"type": "schedule", "id": schedule["id"]}]}]})
    service = created(api, "/api/v1/services", {"name": "storefront", "escalation_policy_id": policy["id"]})
    integration = created(api, f"/api/v1/services/{service['id']}/integrations", {"type": "pagerduty"})
    summary = f"Checkout error rate above 5% ({uuid.uuid4().hex[:4]})"
    trigger_alert(tocsin.base_url, integration["key"], summary)
    fake_twilio.wait_for_text(phone, timeout_s=20)
    [incident] = [i for i in api.get("/api/v1/incidents", params={"service_id": service["id"]}).json()["incidents"]]
    return {"incident_id": incident["id"], "dead_id": dead_notification(api, db), "summary": summary,
           "service_id": service["id"]}


def dead_notification(api: httpx.Client, db: Callable[..., Any]) -> int:
    """A push notification that failed for good (push has no provider in the test deployment)."""
    erin = make_person(api, "Erin Endpoint", "responder")
    method = created(api, f"/api/v1/users/{erin.id}/contact-methods",
                     {"kind": "push", "address": "arn:aws:sns:us-east-1:1:endpoint/GCM/app/1", "verified": True})
    notification_id: int = db("fetchval", """
        INSERT INTO notifications (user_id, contact_method_id, channel, delay_minutes, urgency, message, send_at,
                                   status, attempts, last_error, created_at, updated_at)
        VALUES ($1, $2, 'push', 0, 'high', 'storefront down', now(), 'dead', 6, 'sns: endpoint disabled',
                now(), now()) RETURNING id""", erin.id, method["id"])
    db("execute", "INSERT INTO notification_attempts (notification_id, provider, at, outcome, error)"
                  " VALUES ($1, 'sns', now(), 'failed', 'sns: endpoint disabled')", notification_id)
    return notification_id


def path_of(name: str, storefront: dict[str, Any]) -> str:
    if name == "incident":
        return f"/ui/incidents/{storefront['incident_id']}"
    if name == "services":  # with the storefront's integrations shown
        return f"/ui/services#service-{storefront['service_id']}"
    return f"/ui/{name}"


def assert_fits(page: Page, width: int) -> None:
    """Nothing wider than the screen: no sideways scrolling to read a page."""
    scroll_width = page.evaluate("document.documentElement.scrollWidth")
    assert scroll_width <= width, f"{page.url} is {scroll_width} px wide on a {width}-px screen"


@pytest.mark.parametrize("viewport", [DESKTOP, PHONE], ids=["desktop", "phone"])
def test_every_page_loads_without_console_errors_and_fits_the_screen(
    new_tab: Callable[..., Tab], admin_person: Person, storefront: dict[str, Any], viewport: dict[str, int],
) -> None:
    tab = new_tab(admin_person, viewport)
    for name in [*PAGES, "incident"]:
        page = tab.open(path_of(name, storefront))
        if name.startswith("incident"):
            expect(page.locator("#live")).to_have_attribute("data-state", "live")
        if name == "services":
            expect(page.locator(f"#service-{storefront['service_id']} .integration")).to_have_count(1)
        assert_fits(page, viewport["width"])
        screenshot(page, name)
    tab.assert_clean_console()


def test_the_incident_timeline_has_its_page_and_delivery_attempt(
    new_tab: Callable[..., Tab], responder: Person, storefront: dict[str, Any],
) -> None:
    tab = new_tab(responder)
    page = tab.open(f"/ui/incidents/{storefront['incident_id']}")

    timeline = page.locator("#timeline")
    expect(timeline.locator("[data-kind=triggered]")).to_contain_text(storefront["summary"])
    expect(timeline.locator("[data-kind=paged]")).to_be_visible()
    expect(timeline.locator("[data-kind=notification]")).to_contain_text("sms to Dana Duty")
    expect(timeline.locator("[data-kind=attempt]").first).to_contain_text("via twilio")
    expect(page.locator("#notifications tbody tr")).to_have_count(1)
    tab.assert_clean_console()


def test_an_admin_retries_a_dead_notification(
    new_tab: Callable[..., Tab], admin_person: Person, storefront: dict[str, Any],
) -> None:
    tab = new_tab(admin_person)
    page = tab.open("/ui/notifications?status=dead")
    row = page.locator(f"#notifications tr[data-id='{storefront['dead_id']}']")
    expect(row).to_have_attribute("data-status", "dead")
    expect(row).to_contain_text("sns: endpoint disabled")
    expect(page.locator(".channel[data-channel=sms]")).to_contain_text("twilio")
    expect(page.locator(".channel[data-channel=sms] [data-provider=twilio]")).to_contain_text("closed")

    row.get_by_role("button", name=f"Delivery attempts of notification {storefront['dead_id']}").click()
    expect(page.locator("tr.attempts:not([hidden])")).to_contain_text("via sns: failed")
    row.get_by_role("button", name=f"Retry notification {storefront['dead_id']}").click()

    expect(page.locator(f"#notifications tr[data-id='{storefront['dead_id']}']")).to_have_attribute(
        "data-status", "pending")
    tab.assert_clean_console()


def test_only_an_admin_is_offered_a_retry(
    new_tab: Callable[..., Tab], responder: Person, storefront: dict[str, Any], api: httpx.Client,
    db: Callable[..., Any],
) -> None:
    dead_id = dead_notification(api, db)
    page = new_tab(responder).open("/ui/notifications?status=dead")

    row = page.locator(f"#notifications tr[data-id='{dead_id}']")
    expect(row).to_be_visible()
    expect(row.get_by_role("button", name=f"Retry notification {dead_id}")).to_have_count(0)
