"""Incidents in the browser: they appear and change state live, without a reload, and a
responder acts on them from the incident page."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any

import httpx
import pytest
from playwright.sync_api import Page, expect

from tests.browser.conftest import WAIT_MS, Person, Tab, incident_id_of, trigger_alert
from tests.client import Service, create_service


LIVE_MS = 2_000  # how soon a change must show on an open page


@pytest.fixture
def service(tocsin: Any, admin_token: str) -> Service:
    return create_service(tocsin.base_url, admin_token, f"checkout-{uuid.uuid4().hex[:6]}")


def open_live(tab: Tab, path: str) -> Page:
    """The page, once its live stream is connected; marked so that a reload would show."""
    page = tab.open(path)
    expect(page.locator("#live")).to_have_attribute("data-state", "live", timeout=WAIT_MS)
    page.evaluate("window.notReloaded = true")
    return page


def assert_not_reloaded(page: Page) -> None:
    assert page.evaluate("window.notReloaded === true"), "the page was reloaded"


def row_of(page: Page, summary: str) -> Any:
    return page.locator("tr.incident-row", has_text=summary)


def test_a_new_alert_shows_on_the_open_incidents_page_within_two_seconds(
    new_tab: Callable[..., Tab], responder: Person, tocsin: Any, admin_token: str,
) -> None:
    tab = new_tab(responder)
    page = open_live(tab, "/ui/incidents")
    service_name = f"inventory-{uuid.uuid4().hex[:6]}"  # made after the page loaded its names
    service = create_service(tocsin.base_url, admin_token, service_name)
    summary = f"Disk full on db-{uuid.uuid4().hex[:6]}"

    dedup_key = trigger_alert(tocsin.base_url, service.key, summary)

    row = row_of(page, summary)
    expect(row).to_be_visible(timeout=LIVE_MS)
    expect(row).to_have_attribute("data-status", "triggered")
    expect(row.locator("td[data-label=Service]")).to_have_text(service_name)
    expect(row.locator("td[data-label=Occurrences]")).to_have_text("1")

    trigger_alert(tocsin.base_url, service.key, summary, dedup_key=dedup_key)
    expect(row.locator("td[data-label=Occurrences]")).to_have_text("2", timeout=LIVE_MS)
    assert_not_reloaded(page)
    tab.assert_clean_console()


def test_acknowledging_updates_this_page_and_another_persons_without_a_reload(
    new_tab: Callable[..., Tab], responder: Person, admin_person: Person, tocsin: Any, service: Service,
    api: httpx.Client,
) -> None:
    summary = f"Checkout latency {uuid.uuid4().hex[:6]}"
    trigger_alert(tocsin.base_url, service.key, summary)
    incident_id = incident_id_of(api, service.id, summary)
    mine = new_tab(responder)
    theirs = new_tab(admin_person)
    incident_page = open_live(mine, f"/ui/incidents/{incident_id}")
    list_page = open_live(theirs, "/ui/incidents")
    expect(row_of(list_page, summary)).to_have_attribute("data-status", "triggered")

    incident_page.get_by_role("button", name="Acknowledge").click()

    expect(incident_page.locator("dd[data-fact=Status]")).to_have_text("acknowledged", timeout=LIVE_MS)
    expect(incident_page.get_by_role("button", name="Acknowledge")).to_be_disabled()
    expect(incident_page.locator("#timeline [data-kind=acknowledged]")).to_contain_text(responder.name)
    expect(row_of(list_page, summary)).to_have_attribute("data-status", "acknowledged", timeout=LIVE_MS)
    assert_not_reloaded(incident_page)
    assert_not_reloaded(list_page)
    mine.assert_clean_console()
    theirs.assert_clean_console()


def test_a_responder_adds_a_note_snoozes_and_resolves(
    new_tab: Callable[..., Tab], responder: Person, tocsin: Any, service: Service, api: httpx.Client,
) -> None:
    summary = f"Queue backlog {uuid.uuid4().hex[:6]}"
    trigger_alert(tocsin.base_url, service.key, summary)
    incident_id = incident_id_of(api, service.id, summary)
    tab = new_tab(responder)
    page = open_live(tab, f"/ui/incidents/{incident_id}")

    page.get_by_label("Note").fill("Rolling back the 14:02 deploy")
    page.get_by_role("button", name="Add note").click()
    expect(page.locator("#timeline [data-kind=note]")).to_contain_text("Rolling back the 14:02 deploy")

    page.get_by_label("Snooze for").select_option("30")
    page.get_by_role("button", name="Snooze").click()
    expect(page.locator("#timeline [data-kind=snoozed]")).to_be_visible()
    expect(page.locator("dd[data-fact='Snoozed until']")).to_be_visible()

    page.get_by_role("button", name="Resolve").click()
    expect(page.locator("dd[data-fact=Status]")).to_have_text("resolved")
    for action in ("Acknowledge", "Resolve", "Escalate"):
        expect(page.get_by_role("button", name=action, exact=True)).to_be_disabled()
    assert_not_reloaded(page)
    tab.assert_clean_console()


def test_a_refused_action_shows_the_apis_reason(
    new_tab: Callable[..., Tab], responder: Person, tocsin: Any, service: Service, api: httpx.Client,
) -> None:
    """The service has no escalation policy, so there is no level to escalate to."""
    summary = f"Cache misses {uuid.uuid4().hex[:6]}"
    trigger_alert(tocsin.base_url, service.key, summary)
    page = new_tab(responder).open(f"/ui/incidents/{incident_id_of(api, service.id, summary)}")

    page.get_by_role("button", name="Escalate").click()

    expect(page.locator("#action-error")).to_contain_text("cannot escalate")


def test_the_incident_list_is_usable_with_the_keyboard(
    new_tab: Callable[..., Tab], responder: Person, tocsin: Any, service: Service, api: httpx.Client,
) -> None:
    summary = f"Keyboard path {uuid.uuid4().hex[:6]}"
    trigger_alert(tocsin.base_url, service.key, summary)
    incident_id = incident_id_of(api, service.id, summary)
    tab = new_tab(responder)
    page = open_live(tab, "/ui/incidents")

    link = row_of(page, summary).get_by_role("link")
    tab_until(page, lambda: link.evaluate("node => node === document.activeElement"))
    page.keyboard.press("Enter")
    page.wait_for_url(f"**/ui/incidents/{incident_id}")
    expect(page.locator("body[data-ready=true]")).to_be_attached()
    acknowledge = page.get_by_role("button", name="Acknowledge")
    tab_until(page, lambda: acknowledge.evaluate("node => node === document.activeElement"))
    page.keyboard.press("Enter")

    expect(page.locator("dd[data-fact=Status]")).to_have_text("acknowledged", timeout=LIVE_MS)
    tab.assert_clean_console()


def tab_until(page: Page, focused: Callable[[], bool], limit: int = 80) -> None:
    for _ in range(limit):
        page.keyboard.press("Tab")
        if focused():
            return
    raise AssertionError(f"not reached with {limit} presses of Tab")


def test_status_filters_narrow_the_list(
    new_tab: Callable[..., Tab], responder: Person, tocsin: Any, service: Service, api: httpx.Client,
) -> None:
    summary = f"Filtered {uuid.uuid4().hex[:6]}"
    trigger_alert(tocsin.base_url, service.key, summary)
    tab = new_tab(responder)
    page = open_live(tab, f"/ui/incidents?service_id={service.id}")
    expect(row_of(page, summary)).to_be_visible()

    page.get_by_label("Triggered").uncheck()
    expect(row_of(page, summary)).to_have_count(0)
    assert "status=acknowledged" in page.url

    page.get_by_label("Triggered").check()
    expect(row_of(page, summary)).to_be_visible()
    tab.assert_clean_console()
