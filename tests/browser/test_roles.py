"""What each role is offered: a viewer sees no action and the API refuses it anyway; a
responder acts on incidents but does not change the set-up."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any

import httpx
import pytest
from playwright.sync_api import Page, expect

from tests.browser.conftest import Person, Tab, incident_id_of, trigger_alert
from tests.client import create_service


SETUP_FORMS = {
    "/ui/services": "#service-form",
    "/ui/rules": "#rule-form",
    "/ui/policies": "#policy-form",
    "/ui/schedules": "#schedule-form",
    "/ui/users": "#user-form",
}


@pytest.fixture
def incident(tocsin: Any, admin_token: str, api: httpx.Client) -> int:
    service = create_service(tocsin.base_url, admin_token, f"billing-{uuid.uuid4().hex[:6]}")
    summary = f"Payments failing {uuid.uuid4().hex[:6]}"
    trigger_alert(tocsin.base_url, service.key, summary)
    return incident_id_of(api, service.id, summary)


def csrf_token(page: Page) -> str:
    return str(page.request.get("/api/v1/session").json()["csrf_token"])


def test_a_viewer_sees_no_action_and_the_api_refuses_one(
    new_tab: Callable[..., Tab], viewer: Person, incident: int, api: httpx.Client,
) -> None:
    tab = new_tab(viewer)
    page = tab.open(f"/ui/incidents/{incident}")
    expect(page.locator("dd[data-fact=Status]")).to_have_text("triggered")

    expect(page.locator("#actions")).to_have_count(0)
    expect(page.get_by_role("button", name="Acknowledge")).to_have_count(0)
    expect(page.get_by_role("button", name="Resolve")).to_have_count(0)
    expect(page.get_by_label("Note")).to_have_count(0)

    # The same request the button would make, with the viewer's own cookie and CSRF token.
    refused = page.request.post(f"/api/v1/incidents/{incident}/acknowledge",
                                headers={"X-CSRF-Token": csrf_token(page)})
    assert refused.status == 403, refused.text()
    assert "responder" in refused.json()["message"]
    assert api.get(f"/api/v1/incidents/{incident}").json()["status"] == "triggered"
    tab.assert_clean_console()


def test_a_viewer_is_offered_no_change_anywhere(new_tab: Callable[..., Tab], viewer: Person) -> None:
    tab = new_tab(viewer)
    for path, form in {**SETUP_FORMS, "/ui/oncall": "#override-form"}.items():
        page = tab.open(path)
        expect(page.locator(form)).to_have_count(0)
        expect(page.locator("main button.danger")).to_have_count(0)
    tab.assert_clean_console()


def test_a_responder_acts_on_incidents_but_does_not_change_the_set_up(
    new_tab: Callable[..., Tab], responder: Person, incident: int,
) -> None:
    tab = new_tab(responder)
    page = tab.open(f"/ui/incidents/{incident}")
    expect(page.get_by_role("button", name="Acknowledge")).to_be_enabled()
    for path, form in SETUP_FORMS.items():
        expect(tab.open(path).locator(form)).to_have_count(0)
    expect(tab.open("/ui/oncall").locator("#override-form")).to_be_visible()

    refused = page.request.post("/api/v1/services", data={"name": "not mine to make"},
                                headers={"X-CSRF-Token": csrf_token(page)})
    assert refused.status == 403, refused.text()
    tab.assert_clean_console()


def test_a_change_without_the_csrf_token_is_refused(new_tab: Callable[..., Tab], responder: Person,
                                                    incident: int) -> None:
    page = new_tab(responder).open("/ui/incidents")

    refused = page.request.post(f"/api/v1/incidents/{incident}/acknowledge")

    assert refused.status == 403 and "CSRF" in refused.json()["message"]
