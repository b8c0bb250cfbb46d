"""The demo phone belongs to `tocsin demo` alone: on any other Tocsin its page, its script and
its API are not there, even to an admin (the API asks for one first, as all of it does);
tests/browser/test_demo.py uses the phone in the demo."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from tocsin.actors.settings import Settings


@pytest.mark.parametrize(("method", "path"), [
    ("GET", "/ui/demo-phone"), ("GET", "/ui/demo-phone/phone.js"), ("GET", "/api/v1/demo-phone"),
    ("POST", "/api/v1/demo-phone/texts/1/reply"), ("POST", "/api/v1/demo-phone/calls/1/keys"),
])
def test_a_tocsin_that_is_not_the_demo_has_no_demo_phone(tocsin: Any, admin_token: str, method: str,
                                                         path: str) -> None:
    answer = httpx.request(method, tocsin.base_url + path, headers={"Authorization": f"Bearer {admin_token}"},
                           json={"body": "1a", "digits": "4"}, timeout=30)

    assert answer.status_code == 404, answer.text
    assert "tocsin demo" in answer.json()["message"]


def test_no_variable_turns_the_demo_phone_on(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TOCSIN_DEMO_PHONE_URL", "http://127.0.0.1:9/")
    monkeypatch.setenv("TOCSIN_DEMO_PHONE_SECRET", "guessed")

    settings = Settings.from_env()

    assert settings.demo_phone_url is None and settings.demo_phone_secret is None
