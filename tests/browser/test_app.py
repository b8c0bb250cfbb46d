"""The dashboard as an installable app in Chromium: its manifest and icons, the service worker
(scope "/"), the incident list offline with the state it last saw, logout forgetting what was
kept, and the four pages a responder uses at night at phone width (390×844), screenshotted."""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import Callable, Iterator
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import httpx
import pytest
from playwright.sync_api import Browser, Page, expect

from tests.browser.conftest import (
    CHROMIUM, PHONE, WAIT_MS, Person, Tab, created, incident_id_of, log_in, make_person, screenshot, trigger_alert,
)
from tests.client import create_service

OFFLINE_BANNER = re.compile(r"^Offline — showing the state at \d\d:\d\d$")
SMALLEST_TAP_PX = 44


@pytest.fixture(scope="module")
def night(api: httpx.Client, tocsin: Any, admin_token: str) -> dict[str, Any]:
    """Nora is on call for the payments service tonight and has an override in three days;
    payments has an open incident."""
    nora = make_person(api, "Nora Night", "responder")
    start = (datetime.now(timezone.utc) - timedelta(hours=3)).isoformat()
    schedule = created(api, "/api/v1/schedules", {
        "name": f"Payments primary {uuid.uuid4().hex[:4]}", "time_zone": "Europe/Lisbon",
        "layers": [{"name": "daily", "rotation": {"participants": [nora.id], "start": start,
                                                  "shift_length": 1, "unit": "days", "handoff": "08:00"}}],
    })
    later = datetime.now(timezone.utc) + timedelta(days=3)
    created(api, f"/api/v1/schedules/{schedule['id']}/overrides", {
        "user_id": nora.id, "start": later.isoformat(), "end": (later + timedelta(hours=6)).isoformat()})
    service = create_service(tocsin.base_url, admin_token, f"payments-{uuid.uuid4().hex[:6]}")
    summary = f"Card authorisations failing ({uuid.uuid4().hex[:4]})"
    trigger_alert(tocsin.base_url, service.key, summary)
    incident_id = incident_id_of(api, service.id, summary)
    return {"nora": nora, "schedule": schedule, "summary": summary, "incident_id": incident_id}


def controlled_by_the_worker(tab: Tab, path: str) -> Page:
    """`path` opened once the service worker controls the page, so its reads pass through it."""
    page = tab.open(path)
    page.wait_for_function("navigator.serviceWorker.controller?.state === 'activated'")
    return tab.open(path)


def kept_answers(page: Page) -> list[str]:
    """The addresses of the API answers the service worker keeps."""
    return page.evaluate("""async () => {
        const kept = [];
        for (const name of await caches.keys()) {
            if (!name.startsWith("tocsin-api-")) continue;
            const cache = await caches.open(name);
            kept.push(...(await cache.keys()).map((request) => new URL(request.url).pathname));
        }
        return kept;
    }""")  # type: ignore[no-any-return]


@pytest.fixture
def profile_tab(browser: Browser, tocsin: Any, tmp_path: Path) -> Iterator[Tab]:
    """A tab in a Chromium with a profile on disk: Chromium installs no app from an incognito
    context (which every new_context is), so its installability is checked in this one."""
    context = browser.browser_type.launch_persistent_context(
        str(tmp_path / "profile"), executable_path=str(CHROMIUM), headless=True, base_url=tocsin.base_url,
        timeout=60_000)
    try:
        context.set_default_timeout(WAIT_MS)
        tab = Tab(context, context.pages[0] if context.pages else context.new_page())
        tab.watch()
        yield tab
    finally:
        context.close()


def test_the_manifest_is_linked_and_chromium_finds_the_app_installable(profile_tab: Tab, responder: Person) -> None:
    log_in(profile_tab.page, responder)
    page = profile_tab.open("/ui/incidents")

    cdp = profile_tab.context.new_cdp_session(page)
    found = cdp.send("Page.getAppManifest")
    assert found["url"].endswith("/static/manifest.webmanifest")
    assert found["errors"] == []
    manifest = json.loads(found["data"])
    assert manifest["name"] == "Tocsin" and manifest["short_name"] == "Tocsin"
    assert manifest["start_url"] == "/ui/incidents" and manifest["display"] == "standalone"
    assert manifest["theme_color"] and manifest["background_color"]
    purposes = {(icon["sizes"], icon.get("purpose", "any")) for icon in manifest["icons"]}
    assert {("192x192", "any"), ("512x512", "any"), ("512x512", "maskable"), ("any", "any")} <= purposes
    for icon in manifest["icons"]:
        assert icon["type"].startswith("image/"), icon
        image = page.request.get(icon["src"])
        assert image.status == 200 and image.headers["content-type"] == icon["type"], icon

    page.wait_for_function("navigator.serviceWorker.controller?.state === 'activated'")
    errors = cdp.send("Page.getInstallabilityErrors")["installabilityErrors"]
    assert errors == [], errors
    profile_tab.assert_clean_console()


def test_the_service_worker_is_activated_for_the_whole_origin(
    new_tab: Callable[..., Tab], responder: Person, tocsin: Any,
) -> None:
    tab = new_tab(responder)
    page = tab.open("/ui/oncall")

    worker = page.evaluate("""async () => {
        const registration = await navigator.serviceWorker.ready;
        return { scope: registration.scope, script: registration.active.scriptURL };
    }""")
    page.wait_for_function("navigator.serviceWorker.controller?.state === 'activated'")

    assert worker == {"scope": f"{tocsin.base_url}/", "script": f"{tocsin.base_url}/sw.js"}
    tab.assert_clean_console()


def test_offline_the_incident_list_shows_the_state_it_last_saw_and_says_so(
    new_tab: Callable[..., Tab], night: dict[str, Any],
) -> None:
    tab = new_tab(night["nora"], PHONE)
    page = controlled_by_the_worker(tab, "/ui/incidents")
    row = page.locator("tr.incident-row", has_text=night["summary"])
    expect(row).to_be_visible()
    expect(page.locator("#offline")).to_be_hidden()

    tab.context.set_offline(True)
    page.reload()

    expect(page.locator("body")).to_have_attribute("data-ready", "true")
    expect(page.locator("tr.incident-row", has_text=night["summary"])).to_have_attribute("data-status", "triggered")
    expect(page.locator("#offline")).to_be_visible()
    expect(page.locator("#offline")).to_have_text(OFFLINE_BANNER)
    expect(page.locator("#live")).to_have_attribute("data-state", "connecting")  # the stream is never kept
    screenshot(page, "app-offline-incidents")

    tab.context.set_offline(False)
    expect(page.locator("#live")).to_have_attribute("data-state", "live")
    expect(page.locator("#offline")).to_be_hidden()
    tab.assert_clean_console("ERR_INTERNET_DISCONNECTED", "Failed to load resource")


def test_logging_out_forgets_the_answers_kept_for_offline(
    new_tab: Callable[..., Tab], night: dict[str, Any],
) -> None:
    tab = new_tab(night["nora"])
    page = controlled_by_the_worker(tab, "/ui/incidents")
    expect(page.locator("tr.incident-row", has_text=night["summary"])).to_be_visible()
    assert {"/api/v1/session", "/api/v1/incidents"} <= set(kept_answers(page))

    page.get_by_role("button", name="Log out").click()
    page.wait_for_url("**/ui/login")

    assert kept_answers(page) == []
    tab.context.set_offline(True)
    page.goto("/ui/incidents")  # the page itself is kept; nobody's incidents are
    expect(page.locator("body")).to_have_attribute("data-ready", "failed")
    expect(page.locator("tr.incident-row")).to_have_count(0)
    expect(page.get_by_text(night["summary"])).to_have_count(0)


def assert_fits_the_phone(page: Page) -> None:
    width = page.evaluate("document.scrollingElement.scrollWidth")
    assert width <= PHONE["width"], f"{page.url} is {width} px wide on a {PHONE['width']}-px screen"


def assert_tappable(page: Page, name: str) -> None:
    box = page.get_by_role("button", name=name, exact=True).bounding_box()
    assert box is not None, name
    assert box["height"] >= SMALLEST_TAP_PX and box["width"] >= SMALLEST_TAP_PX, (name, box)


def test_the_night_pages_fit_a_phone_and_are_screenshotted(
    new_tab: Callable[..., Tab], night: dict[str, Any],
) -> None:
    tab = new_tab(night["nora"], PHONE)

    page = tab.open("/ui/incidents")
    expect(page.locator("tr.incident-row", has_text=night["summary"])).to_be_visible()
    expect(page.get_by_role("navigation", name="Sections")).to_be_hidden()
    assert_fits_the_phone(page)
    screenshot(page, "app-incidents")

    page.get_by_role("button", name="Menu").click()
    sections = page.get_by_role("navigation", name="Sections")
    expect(sections.get_by_role("link", name="My shifts")).to_be_visible()
    expect(page.get_by_role("button", name="Log out")).to_be_visible()
    assert_fits_the_phone(page)
    screenshot(page, "app-menu")

    page = tab.open(f"/ui/incidents/{night['incident_id']}")
    expect(page.locator("#live")).to_have_attribute("data-state", "live")
    for action in ["Acknowledge", "Resolve", "Escalate"]:
        assert_tappable(page, action)
    assert_fits_the_phone(page)
    screenshot(page, "app-incident")

    page = tab.open("/ui/oncall")
    expect(page.locator(f"#now-schedules tr[data-schedule='{night['schedule']['id']}']")).to_contain_text("Nora Night")
    assert_fits_the_phone(page)
    screenshot(page, "app-oncall")

    page = tab.open("/ui/shifts")
    shifts = page.locator(f"#my-shifts li[data-schedule='{night['schedule']['id']}']")
    expect(shifts.first).to_contain_text("on call now")
    expect(shifts.filter(has_text="override")).to_have_count(1)
    assert_fits_the_phone(page)
    screenshot(page, "app-shifts")
    tab.assert_clean_console()
