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
    """A loopback address of this test's own to connect from (all of 127.0.0.0/8 is loopback
    on Linux; 127.0.0.1, which the shared clients use, never): the per-address limits then
    count this test alone, as they would a client on another machine."""
    n = uuid.uuid4().int
    return f"127.{1 + n % 254}.{(n >> 8) % 256}.{1 + (n >> 16) % 254}"


def make_user(api: httpx.Client, role: str, password: str | None = PASSWORD, name: str | None = None) -> dict[str, Any]:
    name = name or f"{role.title()} {uuid.uuid4().hex[:6]}"
    body: dict[str, Any] = {"name": name, "email": f"{role}.{uuid.uuid4().hex[:10]}@example.com", "role": role}
    if password is not None:
        body["password"] = password
    created = api.post("/api/v1/users", json=body)
    assert created.status_code == 201, created.text
    return created.json()  # type: ignore[no-any-return]


def client_at(base_url: str, address: str | None = None, **options: Any) -> httpx.Client:
    """A client whose connections come from `address` (a new one when None)."""
    transport = httpx.HTTPTransport(local_address=address or new_address())
    return httpx.Client(base_url=base_url, transport=transport, timeout=30, **options)


def log_in(base_url: str, email: str, password: str = PASSWORD, address: str | None = None,
           headers: dict[str, str] | None = None) -> httpx.Response:
    with client_at(base_url, address) as client:
        return client.post("/api/v1/session", json={"email": email, "password": password}, headers=headers)


def session_cookie(response: httpx.Response, cookie: str = COOKIE) -> tuple[str, dict[str, str]]:
    """The cookie's value and its attributes (lower-cased names) from Set-Cookie."""
    for header in response.headers.get_list("set-cookie"):
        name_value, *attributes = [part.strip() for part in header.split(";")]
        name, _, value = name_value.partition("=")
        if name == cookie:
            pairs = (attribute.partition("=") for attribute in attributes)
            return value, {key.lower(): val for key, _, val in pairs}
    raise AssertionError(f"no {cookie} cookie in {response.headers.get_list('set-cookie')}")


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
