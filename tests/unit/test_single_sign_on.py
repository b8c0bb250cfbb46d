"""Single sign-on's pure parts: the group map and what groups grant, who a set of claims
names, and the checks an ID token must pass (signed here with keys of the test's own)."""

from __future__ import annotations

import time
from typing import Any

import pytest
from joserfc import jwt
from joserfc.errors import InvalidKeyIdError
from joserfc.jwk import KeySet, OctKey, RSAKey
from pydantic import ValidationError

from tocsin.actors.domain.accounts.access import Role
from tocsin.actors.domain.accounts.single_sign_on import (
    Grant, Grants, grants_for, groups_of, identity_of, parse_group_map,
)
from tocsin.actors.identity_provider import Endpoints, SignInRefused, checked_claims
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
