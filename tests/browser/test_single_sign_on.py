"""Signing in with single sign-on in Chromium: the login page's button, the identity provider's
own page (tests/fakes/oidc_provider.py, at "localhost": another site than Tocsin at
127.0.0.1, as a real provider is), and back to the dashboard logged in, with the role the
person's groups map to at each sign-in. A made-up or replayed way back is refused."""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable
from typing import Any

from playwright.sync_api import expect

from tests.browser.conftest import WAIT_MS, Tab, screenshot

# The provider's page asks for a stylesheet from the internet: nothing leaves loopback.
BEYOND_LOOPBACK = re.compile(r"^https?://(?!127\.0\.0\.1[:/]|localhost[:/])")
CALLBACK = "/api/v1/sso/callback"


def identity(fake_idp: Any, *groups: str) -> tuple[str, str]:
    subject, name = f"sub-{uuid.uuid4().hex[:10]}", f"Sso {uuid.uuid4().hex[:6]}"
    fake_idp.set_user(subject, {"email": f"{subject}@example.com", "name": name, "groups": list(groups)})
    return subject, name


def sign_in_with_sso(tab: Tab, fake_idp: Any, subject: str) -> list[str]:
    """From the login page through the provider's page as `subject`, to the incidents page;
    the callback URLs the browser went to."""
    tab.context.route(BEYOND_LOOPBACK, lambda route: route.abort())
    # Seen on the context: once the service worker is running, it is the one that fetches pages.
    callbacks: list[str] = []
    tab.context.on("request", lambda request: callbacks.append(request.url)
                   if CALLBACK in request.url and request.url not in callbacks else None)
    tab.page.goto("/ui/login")
    tab.page.get_by_role("link", name="Sign in with SSO").click()
    tab.page.wait_for_url(f"{fake_idp.issuer}/oauth2/authorize?**", timeout=WAIT_MS)
    tab.page.get_by_placeholder("sub").fill(subject)
    tab.page.get_by_role("button", name="Authorize").click()
    tab.page.wait_for_url("**/ui/incidents", timeout=WAIT_MS)
    tab.page.locator("body[data-ready]").wait_for(timeout=WAIT_MS)
    return callbacks


def test_the_first_sign_in_creates_the_user_with_their_groups_role(
    new_tab: Callable[..., Tab], fake_idp: Any, api: Any
) -> None:
    subject, name = identity(fake_idp, "tocsin-responders", "payments-oncall")
    tab = new_tab()
    tab.page.goto("/ui/login")
    expect(tab.page.get_by_role("link", name="Sign in with SSO")).to_be_visible()
    expect(tab.page.get_by_text("break-glass")).to_be_hidden()  # passwords are on for everyone here
    screenshot(tab.page, "login-with-sso")

    sign_in_with_sso(tab, fake_idp, subject)

    expect(tab.page.locator("#who-name")).to_have_text(name)
    expect(tab.page.locator("#who-role")).to_have_text("responder")
    [user] = [u for u in api.get("/api/v1/users").json()["users"] if u["email"] == f"{subject}@example.com"]
    assert user["single_sign_on"] is True and user["role"] == "responder"
    tab.assert_clean_console("net::ERR_FAILED")


def test_a_changed_group_applies_at_the_next_sign_in(new_tab: Callable[..., Tab], fake_idp: Any) -> None:
    subject, name = identity(fake_idp, "tocsin-responders")
    first = new_tab()
    sign_in_with_sso(first, fake_idp, subject)
    expect(first.page.locator("#who-role")).to_have_text("responder")

    fake_idp.set_user(subject, {"email": f"{subject}@example.com", "name": name, "groups": ["tocsin-admins"]})
    second = new_tab()
    sign_in_with_sso(second, fake_idp, subject)
    expect(second.page.locator("#who-role")).to_have_text("admin")
    second.assert_clean_console("net::ERR_FAILED")


def test_a_made_up_or_replayed_way_back_is_refused(new_tab: Callable[..., Tab], fake_idp: Any) -> None:
    tab = new_tab()
    [callback] = sign_in_with_sso(tab, fake_idp, identity(fake_idp, "tocsin-admins")[0])

    replayed = tab.page.goto(callback)
    assert replayed is not None and replayed.status == 400
    expect(tab.page.locator("body")).to_contain_text("already used")

    forged = re.sub(r"state=[^&]+", "state=made-up-by-someone", callback)
    answer = tab.page.goto(forged)
    assert answer is not None and answer.status == 400
    expect(tab.page.locator("body")).to_contain_text("unknown or was already used")
    tab.assert_clean_console("net::ERR_FAILED", "status of 400")
