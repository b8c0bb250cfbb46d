"""An OpenID Connect provider on loopback: oidc-provider-mock (a real authorization server built
on authlib: discovery, an authorize page where one chooses the subject, a token endpoint with
single-use codes, RS256-signed ID tokens, userinfo), served from a thread. It does not check
PKCE's verifier; tests/unit/test_single_sign_on.py checks what Tocsin sends for it.

    with FakeIdentityProvider() as idp:
        idp.env()                           # the TOCSIN_OIDC_* settings that point Tocsin here
        idp.set_user("sub-1", {"email": ..., "groups": [...]})   # the claims a subject signs in with
        idp.authorize(authorization_url, "sub-1")  # the authorize page's button pressed; the callback URL
        idp.deny(authorization_url)                # its Deny button; the callback URL, with the error

It listens on "localhost", while Tocsin is reached as 127.0.0.1: two sites to a browser, as a
real provider and Tocsin are, so the cookies' SameSite rules meet what they meet in
production (nothing leaves loopback). It stops within a bounded time when the block ends.
"""

from __future__ import annotations

import json
from types import TracebackType
from typing import Any

import httpx

CLIENT_ID = "tocsin-tests"
CLIENT_SECRET = "fake-oidc-client-secret-0123456789"
# What the test deployment maps: a global role, another, and a role in a team.
GROUP_MAP = {
    "tocsin-admins": {"role": "admin"},
    "tocsin-responders": {"role": "responder"},
    "payments-oncall": {"team": "payments", "role": "responder"},
}


class FakeIdentityProvider:
    def __init__(self) -> None:
        from oidc_provider_mock import run_server_in_thread

        # Nonces are required, as Tocsin always sends one. It listens on "localhost".
        self._running = run_server_in_thread(require_nonce=True)
        self.issuer = ""

    def __enter__(self) -> FakeIdentityProvider:
        server = self._running.__enter__()
        self.issuer = f"http://localhost:{server.server_port}"
        return self

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None,
                 trace: TracebackType | None) -> None:
        self._running.__exit__(kind, error, trace)

    @property
    def discovery_url(self) -> str:
        return f"{self.issuer}/.well-known/openid-configuration"

    def env(self, **overrides: str) -> dict[str, str]:
        return {
            "TOCSIN_OIDC_DISCOVERY_URL": self.discovery_url,
            "TOCSIN_OIDC_CLIENT_ID": CLIENT_ID,
            "TOCSIN_OIDC_CLIENT_SECRET": CLIENT_SECRET,
            "TOCSIN_OIDC_GROUP_MAP": json.dumps(GROUP_MAP),
            **overrides,
        }

    def set_user(self, subject: str, claims: dict[str, Any]) -> None:
        """The claims `subject` signs in with from now on (the provider's user directory)."""
        response = httpx.put(f"{self.issuer}/users/{subject}", json=claims, timeout=10)
        assert response.status_code == 204, response.text

    def authorize(self, authorization_url: str, subject: str) -> str:
        """Press "Authorize" as `subject` on the provider's page; where it sends the browser back."""
        return self._press(authorization_url, {"sub": subject})

    def deny(self, authorization_url: str) -> str:
        """Press "Deny" on the provider's page; where it sends the browser back."""
        return self._press(authorization_url, {"action": "deny"})

    @staticmethod
    def _press(authorization_url: str, form: dict[str, str]) -> str:
        response = httpx.post(authorization_url, data=form, timeout=10)
        assert response.status_code == 302, response.text
        return response.headers["location"]
