"""Logging in and out of the dashboard."""

from __future__ import annotations

from collections.abc import Callable

from playwright.sync_api import expect

from tests.browser.conftest import WAIT_MS, Person, Tab, log_in



def test_a_person_logs_in_and_sees_their_name_and_role(new_tab: Callable[..., Tab], responder: Person) -> None:
    tab = new_tab()
    tab.page.goto("/")
    tab.page.wait_for_url("**/ui/login")

    log_in(tab.page, responder)

    page = tab.open("/ui/incidents")
    expect(page.locator("#who-name")).to_have_text(responder.name)
    expect(page.locator("#who-role")).to_have_text("responder")
    expect(page.get_by_role("link", name="Incidents")).to_have_attribute("aria-current", "page")
    tab.assert_clean_console()


def test_a_wrong_password_is_refused_with_a_message(new_tab: Callable[..., Tab], responder: Person) -> None:
    tab = new_tab()
    tab.page.goto("/ui/login")
    tab.page.get_by_label("E-mail address").fill(responder.email)
    tab.page.get_by_label("Password").fill("not the password")
    tab.page.get_by_role("button", name="Log in").click()

    expect(tab.page.get_by_role("alert")).to_have_text("Wrong e-mail address or password.")
    assert tab.page.url.endswith("/ui/login")
    tab.assert_clean_console("status of 401")


def test_a_page_without_a_session_sends_to_the_login_and_back(new_tab: Callable[..., Tab],
                                                              responder: Person) -> None:
    tab = new_tab()
    tab.page.goto("/ui/oncall")
    tab.page.wait_for_url("**/ui/login?next=%2Fui%2Foncall", timeout=WAIT_MS)

    tab.page.get_by_label("E-mail address").fill(responder.email)
    tab.page.get_by_label("Password").fill(responder.password)
    tab.page.get_by_role("button", name="Log in").click()

    tab.page.wait_for_url("**/ui/oncall", timeout=WAIT_MS)
    tab.assert_clean_console("status of 401")


def test_logging_out_ends_the_session(new_tab: Callable[..., Tab], responder: Person) -> None:
    tab = new_tab(responder)
    page = tab.open("/ui/services")

    page.get_by_role("button", name="Log out").click()

    page.wait_for_url("**/ui/login", timeout=WAIT_MS)
    assert page.request.get("/api/v1/session").status == 401
    tab.assert_clean_console()
