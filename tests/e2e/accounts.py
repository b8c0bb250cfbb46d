"""People with passwords, logged in over HTTP the way the dashboard does it.

Logins go through throwaway clients: the session cookie is Secure, which an http.cookiejar
keeps but never sends over plain http, so tests pass it on themselves, in a Cookie header.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

import httpx

PASSWORD = "a password long enough"
COOKIE = "tocsin_session"


def new_address() -> str:
    """A client address of this test's own (198.18.0.0/15, reserved for network tests), sent as
    X-Forwarded-For: the failed-login limit per address then counts this test alone."""
    n = uuid.uuid4().int
    return f"198.{18 + (n >> 16) % 2}.{(n >> 8) % 256}.{n % 256}"


def make_user(api: httpx.Client, role: str, password: str | None = PASSWORD, name: str | None = None) -> dict[str, Any]:
    name = name or f"{role.title()} {uuid.uuid4().hex[:6]}"
    body: dict[str, Any] = {"name": name, "email": f"{role}.{uuid.uuid4().hex[:10]}@example.com", "role": role}
    if password is not None:
        body["password"] = password
    created = api.post("/api/v1/users", json=body)
    assert created.status_code == 201, created.text
    return created.json()  # type: ignore[no-any-return]


def log_in(base_url: str, email: str, password: str = PASSWORD, address: str | None = None) -> httpx.Response:
    headers = {"X-Forwarded-For": address or new_address()}
    return httpx.post(f"{base_url}/api/v1/session", json={"email": email, "password": password}, headers=headers,
                      timeout=30)


def session_cookie(response: httpx.Response) -> tuple[str, dict[str, str]]:
    """The cookie's value and its attributes (lower-cased names) from Set-Cookie."""
    for header in response.headers.get_list("set-cookie"):
        name_value, *attributes = [part.strip() for part in header.split(";")]
        name, _, value = name_value.partition("=")
        if name == COOKIE:
            pairs = (attribute.partition("=") for attribute in attributes)
            return value, {key.lower(): val for key, _, val in pairs}
    raise AssertionError(f"no {COOKIE} cookie in {response.headers.get_list('set-cookie')}")


@dataclass(frozen=True)
class Login:
    """A logged-in user: the session cookie, its CSRF token and who it is."""

    user: dict[str, Any]
    cookie: str
    csrf_token: str

    def headers(self, csrf: bool = True) -> dict[str, str]:
        headers = {"Cookie": f"{COOKIE}={self.cookie}"}
        if csrf:
            headers["X-CSRF-Token"] = self.csrf_token
        return headers


def logged_in(base_url: str, user: dict[str, Any], password: str = PASSWORD) -> Login:
    response = log_in(base_url, user["email"], password)
    assert response.status_code == 200, response.text
    cookie, _ = session_cookie(response)
    return Login(user, cookie, response.json()["csrf_token"])


def personal_token(base_url: str, login: Login, name: str = "tests") -> str:
    created = httpx.post(f"{base_url}/api/v1/tokens", json={"name": name}, headers=login.headers(), timeout=30)
    assert created.status_code == 201, created.text
    return created.json()["token"]  # type: ignore[no-any-return]
