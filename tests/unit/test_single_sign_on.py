"""Single sign-on's own parts: the group map and what groups grant, who a set of claims names,
the checks an ID token must pass (signed here with keys of the test's own), and the code
exchange with PKCE against a provider scripted here (no network)."""

from __future__ import annotations

import base64
import time
from typing import Any
from urllib.parse import parse_qsl

import httpx
import pytest
from authlib.oauth2.rfc7636 import create_s256_code_challenge
from joserfc import jwt
from joserfc.errors import InvalidKeyIdError
from joserfc.jwk import KeySet, OctKey, RSAKey
from pydantic import ValidationError

from tocsin.actors.domain.accounts.access import Role
from tocsin.actors.domain.accounts.single_sign_on import (
    Grant, Grants, grants_for, groups_of, identity_of, parse_group_map,
)
from tocsin.actors.identity_provider import Endpoints, IdentityProvider, SignInRefused, checked_claims
from tocsin.actors.settings import Settings

MAP = parse_group_map("""{
    "oncall-admins": {"role": "admin"},
    "sre": [{"role": "responder"}, {"team": "platform", "role": "admin"}],
    "payments": {"team": "payments", "role": "viewer"},
    "payments-oncall": {"team": "payments", "role": "responder"}
}""")


def test_the_group_map_reads_one_grant_or_several():
    assert MAP["oncall-admins"] == (Grant(Role.ADMIN),)
    assert MAP["sre"] == (Grant(Role.RESPONDER), Grant(Role.ADMIN, "platform"))
    assert parse_group_map("  ") == {}


@pytest.mark.parametrize(("text", "says"), [
    ("{nope", "not JSON"),
    ('["admins"]', "JSON object"),
    ('{"g": {"role": "owner"}}', "'owner' is none of viewer, responder, admin"),
    ('{"g": {"team": "x"}}', "each grant is"),
    ('{"g": {"role": "admin", "scope": "all"}}', "each grant is"),
    ('{"g": []}', "maps to nothing"),
    ('{"g": {"team": " ", "role": "admin"}}', "team's name"),
])
def test_a_group_map_that_cannot_be_read_says_why(text, says):
    with pytest.raises(ValueError, match=says):
        parse_group_map(text)


def test_a_setting_with_a_bad_group_map_is_refused_at_start():
    with pytest.raises(ValidationError, match="none of viewer, responder, admin"):
        Settings(oidc_group_map='{"g": {"role": "root"}}')
    assert Settings(oidc_group_map='{"g": {"role": "admin"}}').group_map == {"g": (Grant(Role.ADMIN),)}


def test_groups_grant_the_highest_role_of_each_kind():
    assert grants_for(["sre", "payments", "payments-oncall", "unmapped"], MAP) == Grants(
        Role.RESPONDER, {"platform": Role.ADMIN, "payments": Role.RESPONDER})
    assert grants_for(["sre", "oncall-admins"], MAP).role == Role.ADMIN
    assert grants_for(["payments"], MAP) == Grants(None, {"payments": Role.VIEWER})
    assert grants_for([], MAP) == Grants(None, {})


def test_the_groups_claim_is_a_list_or_one_name():
    assert groups_of({"groups": ["a", 7, "b"]}, "groups") == ["a", "b"]
    assert groups_of({"roles": "a"}, "roles") == ["a"]
    assert groups_of({}, "groups") == [] and groups_of({"groups": {"a": 1}}, "groups") == []


def test_an_identity_is_named_by_what_the_provider_tells():
    claims = {"iss": "https://idp", "sub": "s-1", "email": " a@example.com ", "email_verified": True,
              "preferred_username": "ann", "zoneinfo": "Europe/Paris", "groups": ["g"]}
    identity = identity_of(claims, "groups")
    assert (identity.email, identity.name, identity.time_zone, identity.groups) == (
        "a@example.com", "ann", "Europe/Paris", ("g",))
    assert identity_of({"iss": "i", "sub": "s-2"}, "groups").name == "s-2"


# -- the ID token ----------------------------------------------------------------------------------

KEY = RSAKey.generate_key(2048, parameters={"kid": "k1"})
OTHER_KEY = RSAKey.generate_key(2048, parameters={"kid": "k1"})  # the same key id, another key
KEYS = KeySet([KEY])
ENDPOINTS = Endpoints(issuer="https://idp.example", authorization="a", token="t", jwks="j", userinfo=None,
                      algorithms=("RS256",))
CLIENT = "tocsin"
NONCE = "the-nonce-of-this-sign-in"


def token(key: RSAKey = KEY, alg: str = "RS256", **changes: Any) -> str:
    now = int(time.time())
    claims = {"iss": ENDPOINTS.issuer, "sub": "s-1", "aud": CLIENT, "iat": now, "exp": now + 300, "nonce": NONCE,
              **changes}
    return jwt.encode({"alg": alg, "kid": "k1"}, {k: v for k, v in claims.items() if v is not None}, key)


def test_an_id_token_that_holds_gives_its_claims():
    assert checked_claims(token(), KEYS, ENDPOINTS, CLIENT, NONCE)["sub"] == "s-1"
    assert checked_claims(token(aud=[CLIENT]), KEYS, ENDPOINTS, CLIENT, NONCE)["sub"] == "s-1"


@pytest.mark.parametrize(("forged", "says"), [
    (lambda: token(nonce="a-replayed-nonce"), "nonce"),
    (lambda: token(nonce=None), "nonce"),
    (lambda: token(aud="another-client"), "aud"),
    (lambda: token(iss="https://evil.example"), "iss"),
    (lambda: token(exp=int(time.time()) - 3600), "expired"),
    (lambda: token(key=OTHER_KEY), "signature"),
    (lambda: token()[:-4] + "AAAA", "signature"),
    (lambda: "not.a.jwt", "ID token"),
])
def test_an_id_token_that_does_not_hold_is_refused_saying_why(forged, says):
    with pytest.raises(SignInRefused, match=says):
        checked_claims(forged(), KEYS, ENDPOINTS, CLIENT, NONCE)


def test_an_id_token_signed_with_an_algorithm_the_provider_does_not_use_is_refused():
    hmac_token = jwt.encode({"alg": "HS256", "kid": "k1"}, {"iss": ENDPOINTS.issuer, "sub": "s", "aud": CLIENT,
                                                           "nonce": NONCE}, OctKey.generate_key(256))
    with pytest.raises(SignInRefused, match="'HS256' is not allowed"):
        checked_claims(hmac_token, KEYS, ENDPOINTS, CLIENT, NONCE)


def test_a_key_id_the_keys_lack_is_told_so_that_they_are_read_again():
    stranger = RSAKey.generate_key(2048, parameters={"kid": "k2"})
    with pytest.raises(InvalidKeyIdError):
        checked_claims(jwt.encode({"alg": "RS256", "kid": "k2"}, {"sub": "s"}, stranger), KEYS, ENDPOINTS, CLIENT,
                       NONCE)


# -- the exchange, against a provider scripted here -------------------------------------------------

class ScriptedProvider:
    """Discovery, keys and a token endpoint that checks what a client must send: the code,
    the redirect URI, the client's secret (client_secret_basic) and the PKCE verifier whose
    S256 challenge the authorization URL carried."""

    def __init__(self) -> None:
        self.challenge = ""
        self.nonce = ""
        self.token_requests: list[dict[str, str]] = []

    def handle(self, request: httpx.Request) -> httpx.Response:
        if request.url.path == "/.well-known/openid-configuration":
            return httpx.Response(200, json={
                "issuer": ENDPOINTS.issuer, "authorization_endpoint": f"{ENDPOINTS.issuer}/authorize",
                "token_endpoint": f"{ENDPOINTS.issuer}/token", "jwks_uri": f"{ENDPOINTS.issuer}/jwks",
                "id_token_signing_alg_values_supported": ["RS256", "none"]})
        if request.url.path == "/jwks":
            return httpx.Response(200, json=KEYS.as_dict(private=False))
        form = dict(parse_qsl(request.content.decode()))
        self.token_requests.append({**form, "authorization": request.headers.get("authorization", "")})
        if form.get("code") != "the-code" or create_s256_code_challenge(form.get("code_verifier", "")) != self.challenge:
            return httpx.Response(400, json={"error": "invalid_grant", "error_description": "code or verifier"})
        return httpx.Response(200, json={"token_type": "Bearer", "id_token": token(nonce=self.nonce, groups=["g"])})


async def test_a_sign_in_sends_the_pkce_challenge_then_redeems_its_code_with_the_verifier():
    scripted = ScriptedProvider()
    settings = Settings(oidc_discovery_url=f"{ENDPOINTS.issuer}/.well-known/openid-configuration",
                        oidc_client_id=CLIENT, oidc_client_secret="s:e cret", public_url="https://tocsin.example")
    provider = IdentityProvider(settings, transport=httpx.MockTransport(scripted.handle))
    verifier = "v" * 43

    asked = httpx.URL(await provider.authorization_url("the-state", NONCE, verifier))
    params = dict(asked.params)
    assert params["code_challenge_method"] == "S256" and params["code_challenge"] != verifier
    assert (params["response_type"], params["client_id"], params["state"], params["nonce"]) == (
        "code", CLIENT, "the-state", NONCE)
    assert params["redirect_uri"] == "https://tocsin.example/api/v1/sso/callback"
    scripted.challenge, scripted.nonce = params["code_challenge"], params["nonce"]

    claims = await provider.redeem("the-code", verifier, NONCE)
    assert claims["sub"] == "s-1" and claims["groups"] == ["g"]
    [sent] = scripted.token_requests
    assert sent["redirect_uri"] == params["redirect_uri"] and sent["grant_type"] == "authorization_code"
    assert sent["authorization"] == "Basic " + base64.b64encode(b"tocsin:s%3Ae%20cret").decode()

    with pytest.raises(SignInRefused, match="invalid_grant: code or verifier"):
        await provider.redeem("the-code", "w" * 43, NONCE)  # another sign-in's verifier
