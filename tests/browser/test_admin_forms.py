"""The admin forms: services and integrations, escalation policies, schedules, users and
their contact methods, each showing the API's reason when it refuses."""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable

import httpx
from playwright.sync_api import expect

from tests.browser.conftest import Person, Tab, created, make_person



def unique(name: str) -> str:
    return f"{name} {uuid.uuid4().hex[:6]}"


def test_an_admin_creates_a_service_and_copies_its_routing_key(
    new_tab: Callable[..., Tab], admin_person: Person, api: httpx.Client,
) -> None:
    tab = new_tab(admin_person)
    tab.context.grant_permissions(["clipboard-read", "clipboard-write"])
    page = tab.open("/ui/services")
    name = unique("search-api")

    page.get_by_label("Name", exact=True).fill(name)
    page.get_by_label("Urgency").select_option("severity")
    page.get_by_role("button", name="Create service").click()

    card = page.locator("details.card", has_text=name)
    expect(card).to_have_attribute("open", "")
    card.get_by_label("Kind of source").select_option("alertmanager")
    card.get_by_role("button", name="Add integration").click()
    integration = card.locator(".integration[data-type=alertmanager]")
    expect(integration).to_contain_text("webhook_configs")
    url = integration.locator("code.url").inner_text()
    key = integration.locator("code.key").inner_text()
    assert url.endswith(f"/integrations/alertmanager/{key}")

    integration.get_by_role("button", name="Copy alertmanager key").click()
    expect(integration.get_by_role("button", name="Copy alertmanager key")).to_have_text("Copied")
    assert page.evaluate("navigator.clipboard.readText()") == key

    [service] = [s for s in api.get("/api/v1/services").json()["services"] if s["name"] == name]
    assert service["urgency"] == "severity"
    tab.assert_clean_console()


def test_each_kind_of_source_is_told_where_to_send(
    new_tab: Callable[..., Tab], admin_person: Person, api: httpx.Client,
) -> None:
    service = created(api, "/api/v1/services", {"name": unique("ledger")})
    for kind in ("pagerduty", "opsgenie", "grafana", "generic", "email"):
        created(api, f"/api/v1/services/{service['id']}/integrations", {"type": kind})
    created(api, f"/api/v1/services/{service['id']}/heartbeats", {"name": "nightly backup", "interval_seconds": 3600})
    page = new_tab(admin_person).open("/ui/services")

    card = page.locator(f"details.card[data-service='{service['id']}']")
    card.locator("summary").click()

    urls = {kind: card.locator(f".integration[data-type={kind}] code.url") for kind in
            ("pagerduty", "opsgenie", "grafana", "generic", "email")}
    expect(urls["pagerduty"]).to_have_text(re.compile(r"/v2/enqueue$"))
    expect(urls["opsgenie"]).to_have_text(re.compile(r"/v2/alerts$"))
    expect(urls["grafana"]).to_contain_text("/integrations/grafana/")
    expect(urls["generic"]).to_contain_text("/integrations/generic/")
    expect(urls["email"]).to_contain_text("@")
    expect(card.locator(".integration", has_text="nightly backup")).to_contain_text("/api/v1/heartbeats/")


def test_a_refused_form_shows_the_reason_next_to_it(
    new_tab: Callable[..., Tab], admin_person: Person, api: httpx.Client,
) -> None:
    person = make_person(api, unique("Pat"), "responder")
    tab = new_tab(admin_person)
    page = tab.open("/ui/users")
    card = page.locator(f"details.card[data-user='{person.id}']")
    card.locator("summary").click()

    card.get_by_label("Kind").select_option("sms")
    card.get_by_label("Address").fill("555 0100")
    card.get_by_role("button", name="Add contact method").click()

    expect(card.locator("form", has_text="Add contact method").get_by_role("alert")).to_contain_text("E.164")
    card.get_by_label("Address").fill("+14155550100")
    card.get_by_role("button", name="Add contact method").click()
    expect(card.locator("ul.plain li", has_text="+14155550100")).to_be_visible()
    tab.assert_clean_console("status of 422")


def test_an_admin_adds_a_user_who_can_then_log_in(
    new_tab: Callable[..., Tab], admin_person: Person,
) -> None:
    tab = new_tab(admin_person)
    page = tab.open("/ui/users")
    email = f"new.{uuid.uuid4().hex[:8]}@example.com"

    form = page.locator("#user-form")
    form.get_by_label("Name", exact=True).fill("Nia New")
    form.get_by_label("E-mail address").fill(email)
    form.get_by_label("Role").select_option("viewer")
    form.get_by_label("Password (optional").fill("short")
    form.get_by_role("button", name="Add user").click()
    assert form.get_by_label("Password (optional").evaluate("input => !input.validity.valid")

    form.get_by_label("Password (optional").fill("a long enough password")
    form.get_by_role("button", name="Add user").click()
    expect(page.locator("details.card", has_text=email)).to_have_attribute("open", "")

    other = new_tab(Person("", "Nia New", email, "viewer", "a long enough password"))
    expect(other.open("/ui/incidents").locator("#who-role")).to_have_text("viewer")
    tab.assert_clean_console()


def test_an_admin_creates_a_schedule_and_a_policy_paging_it(
    new_tab: Callable[..., Tab], admin_person: Person, api: httpx.Client,
) -> None:
    first = make_person(api, unique("Fay"), "responder")
    second = make_person(api, unique("Gus"), "responder")
    tab = new_tab(admin_person)
    page = tab.open("/ui/schedules")
    schedule_name = unique("Database rota")

    page.get_by_label("Name", exact=True).fill(schedule_name)
    page.get_by_label("Time zone").fill("Europe/Lisbon")
    page.get_by_label("Each turn lasts").fill("1")
    page.get_by_label("Unit").select_option("days")
    for person in (first, second):
        page.get_by_label("Add a person to the rotation").select_option(label=person.name)
        page.get_by_role("button", name="Add", exact=True).click()
    page.get_by_role("button", name="Create schedule").click()

    card = page.locator("article.card", has_text=schedule_name)
    expect(card).to_contain_text(f"{first.name} → {second.name}")
    expect(card.locator(".shift-list li").first).to_be_visible()

    page = tab.open("/ui/policies")
    policy_name = unique("Database escalation")
    page.get_by_label("Name", exact=True).fill(policy_name)
    page.get_by_label("Page (choose one or more)").select_option(label=schedule_name)
    page.get_by_role("button", name="Add a level").click()
    page.get_by_label("Page (choose one or more)").nth(1).select_option(label=second.name)
    page.get_by_label("Minutes before the next level").nth(1).fill("30")
    page.get_by_role("button", name="Create escalation policy").click()

    policy = page.locator("article.card", has_text=policy_name)
    expect(policy.locator("ol.levels-view li")).to_have_count(2)
    expect(policy.locator("ol.levels-view li").first).to_contain_text(f"{schedule_name} (schedule)")
    expect(policy.locator("ol.levels-view li").nth(1)).to_contain_text(f"{second.name}, given 30 min to acknowledge")
    tab.assert_clean_console()

