"""Single sign-on with OpenID Connect: the dashboard's "Sign in with SSO".

`GET /api/v1/sso/login` sends the browser to the identity provider with a fresh state, nonce
and PKCE verifier, kept server-side (actors/store/sso.py) and bound to this browser by the
`tocsin_sso` cookie (HttpOnly; SameSite=Lax, as the way back from the provider is a
navigation from another site, which a Strict cookie would not come with). The provider sends
the browser back to `GET /api/v1/sso/callback`, which takes the sign-in (once: a replayed
callback URL finds nothing), redeems the code, checks the ID token
(actors/identity_provider.py), finds or creates the user, applies their groups, and logs
them in exactly as a password does (serve/api/session.py `start_session`).

Refusals: 400 for a sign-in that cannot be believed (unknown or used state, another
browser's, too old, a refused code, an ID token that does not hold), 403 for an identity
that may not sign in here, 404 when single sign-on is not configured, 502 when the provider
cannot be reached.
"""

from __future__ import annotations

import re
import secrets
from datetime import timedelta
from collections.abc import Awaitable
from typing import Any, Literal, TypeVar

import asyncpg
from fastapi import APIRouter, Depends, HTTPException, Query, Request
from fastapi.responses import RedirectResponse
from pydantic import BaseModel, Field

from tocsin.actors.domain.accounts.access import Role
from tocsin.actors.domain.accounts.credentials import digest
from tocsin.actors.domain.accounts.single_sign_on import Identity, identity_of
from tocsin.actors.identity_provider import IdentityProvider, ProviderUnreachable, SignInRefused
from tocsin.actors.settings import Settings
from tocsin.actors.store import sso as store
from tocsin.serve.api.session import start_session
from tocsin.serve.openapi import ErrorOut
from tocsin.serve.runtime import GatewayRuntime, get_runtime

router = APIRouter(prefix="/api/v1/sso", tags=["Session"])

SIGN_IN_COOKIE = "tocsin_sso"
COOKIE_PATH = "/api/v1/sso"
LANDING = "/ui/incidents"
# A dashboard page only, never another site (as the login page's own check).
_NEXT_PAGE = re.compile(r"/ui/[\w\-/?=&%.,]*")
NOT_CONFIGURED = "single sign-on is not configured (TOCSIN_OIDC_DISCOVERY_URL and TOCSIN_OIDC_CLIENT_ID)"
START_AGAIN = "start again from the login page"
UNREACHABLE = "the identity provider could not be reached, or answered what is no answer"

T = TypeVar("T")
# What OAuth 2.0 allows in a state, a code and an error (RFC 6749, appendix A): printable
# ASCII. The lengths keep a callback's address within what the ingress reads (about 10 KB).
VISIBLE = r"^[\x20-\x7e]*$"


class SsoOut(BaseModel):
    enabled: bool = Field(description="whether single sign-on is configured")
    login_url: str | None = Field(description="where the browser goes to sign in with single sign-on")
    local_passwords: Literal["on", "break-glass"] = Field(
        description="`break-glass`: only break-glass users may log in with a password")


@router.get("", response_model=SsoOut)
async def sso_status(runtime: GatewayRuntime = Depends(get_runtime)) -> dict[str, Any]:
    """How one logs in here: what the login page shows."""
    settings = runtime.settings
    return {"enabled": settings.sso_enabled, "login_url": f"{COOKIE_PATH}/login" if settings.sso_enabled else None,
            "local_passwords": settings.local_passwords}


@router.get("/login", status_code=303, response_class=RedirectResponse, responses={
    303: {"description": "to the identity provider's sign-in"},
    404: {"description": NOT_CONFIGURED},
    502: {"description": UNREACHABLE, "model": ErrorOut},
})
async def sso_login(
    next: str = Query(LANDING, max_length=500, description="the dashboard page to land on once signed in"),
    runtime: GatewayRuntime = Depends(get_runtime),
) -> RedirectResponse:
    """Start signing in: to the identity provider, with a state, a nonce and a PKCE challenge."""
    provider = _provider(runtime)
    state, nonce, verifier, browser = (secrets.token_urlsafe(32) for _ in range(4))
    # The verifier is 43 characters of [A-Za-z0-9_-], as RFC 7636 asks.
    url = await _asking(provider.authorization_url(state, nonce, verifier))
    settings, now = runtime.settings, runtime.now()
    lifetime = timedelta(minutes=settings.oidc_login_minutes)
    async with runtime.database.connection() as conn:
        await store.begin(conn, digest(state), digest(browser), nonce, verifier, _next_page(next), now, now + lifetime)
    response = RedirectResponse(url, status_code=303)
    response.set_cookie(SIGN_IN_COOKIE, browser, max_age=int(lifetime.total_seconds()), path=COOKIE_PATH,
                        secure=settings.cookie_secure, httponly=True, samesite="lax")
    return response


@router.get("/callback", status_code=303, response_class=RedirectResponse, responses={
    303: {"description": "signed in (the session cookie is set): to the dashboard"},
    400: {"description": "the sign-in cannot be believed: an unknown or already used state, another browser's,"
                         " too old, a code the provider refuses, or an ID token that does not hold"},
    403: {"description": "this identity may not sign in here"},
    404: {"description": NOT_CONFIGURED},
    502: {"description": UNREACHABLE, "model": ErrorOut},
})
async def sso_callback(
    request: Request,
    state: str | None = Query(None, max_length=512, pattern=VISIBLE),
    code: str | None = Query(None, max_length=2048, pattern=VISIBLE),
    error: str | None = Query(None, max_length=128, pattern=VISIBLE),
    error_description: str | None = Query(None, max_length=512, pattern=VISIBLE),
    runtime: GatewayRuntime = Depends(get_runtime),
) -> RedirectResponse:
    """Where the identity provider sends the browser back: logs the user in, once."""
    provider = _provider(runtime)
    if error:  # the person said no, or the provider would not sign them in: nothing to take
        raise HTTPException(400, f"the identity provider did not sign you in: {error}"
                                 f"{': ' + error_description if error_description else ''}")
    if not state:
        raise HTTPException(400, f"the sign-in came back without its state: {START_AGAIN}")
    async with runtime.database.connection() as conn:
        sign_in = await store.take(conn, digest(state), digest(request.cookies.get(SIGN_IN_COOKIE) or ""))
        if sign_in is None and await store.pending(conn, digest(state)):
            raise HTTPException(400, "this sign-in was started in another browser, or its cookie is gone:"
                                     f" {START_AGAIN}")
    if sign_in is None:
        raise HTTPException(400, f"this sign-in is unknown or was already used (each works once): {START_AGAIN}")
    if runtime.now() >= sign_in["expires_at"]:
        raise HTTPException(400, f"this sign-in took longer than {runtime.settings.oidc_login_minutes:g} minutes:"
                                 f" {START_AGAIN}")
    if not code:
        raise HTTPException(400, f"the sign-in came back without a code: {START_AGAIN}")
    try:
        claims = await _asking(provider.redeem(code, sign_in["code_verifier"], sign_in["nonce"]))
    except SignInRefused as exc:
        raise HTTPException(400, str(exc)) from None
    identity = identity_of(claims, runtime.settings.oidc_groups_claim)
    response = RedirectResponse(sign_in["next_page"], status_code=303)
    async with runtime.database.connection() as conn, conn.transaction():
        user = await _user_for(conn, identity, runtime.settings)
        await store.apply_group_claims(conn, user["id"], identity.groups, runtime.settings.group_map,
                                       Role(runtime.settings.oidc_default_role))
        await start_session(conn, runtime, response, user["id"])
    response.delete_cookie(SIGN_IN_COOKIE, path=COOKIE_PATH, secure=runtime.settings.cookie_secure, httponly=True,
                           samesite="lax")
    return response


async def _user_for(conn: asyncpg.Connection, identity: Identity, settings: Settings) -> dict[str, Any]:
    """The user this identity signs in: the one linked to it; at its first sign-in the user
    with its e-mail address (then linked), or with provisioning "create" a new one."""
    user = await store.find_by_subject(conn, identity.issuer, identity.subject)
    if user is not None:
        return user
    email = identity.email if identity.email and "@" in identity.email and len(identity.email) <= 254 else None
    if email is None:
        raise HTTPException(403, "the identity provider sent no usable e-mail address for this identity, which"
                                 " Tocsin needs at a first sign-in (ask for the email scope)")
    if identity.email_verified is False:
        raise HTTPException(403, f"the identity provider says {email} is not verified: verify it there first")
    user = await store.find_by_email(conn, email)
    if user is not None:
        if user["oidc_subject"] is not None:
            raise HTTPException(403, f"the Tocsin user with {email} signs in as another identity of the provider")
        await store.link(conn, user["id"], identity.issuer, identity.subject)
        return user
    if settings.oidc_provisioning == "existing":
        raise HTTPException(403, f"no Tocsin user has the e-mail address {email}, and users are not created at"
                                 " sign-in here: ask an admin to add you")
    try:
        async with conn.transaction():  # a savepoint: a lost race is a refusal, not a broken transaction
            return await store.create(conn, identity, email, Role(settings.oidc_default_role))
    except asyncpg.UniqueViolationError:
        raise HTTPException(403, f"another sign-in created the user with {email} at the same time: sign in again")


def _provider(runtime: GatewayRuntime) -> IdentityProvider:
    if runtime.identity_provider is None:
        raise HTTPException(404, NOT_CONFIGURED)
    return runtime.identity_provider


async def _asking(call: Awaitable[T]) -> T:
    """Await a call to the provider; 502 when it cannot be reached."""
    try:
        return await call
    except ProviderUnreachable as exc:
        raise HTTPException(502, str(exc)) from None


def _next_page(page: str) -> str:
    return page if _NEXT_PAGE.fullmatch(page) else LANDING
