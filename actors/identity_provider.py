"""The OpenID Connect provider as Tocsin's gateway talks to it: its discovery document, the
authorization URL a browser is sent to (code flow with PKCE S256, a state and a nonce), and
redeeming the code that comes back for the identity it proves.

The ID token is checked before anything in it is believed: its signature against the
provider's published keys (fetched again once when a key id is unknown, as after a key
rotation), its issuer against the discovery document's, its audience against our client id,
its expiry, and its nonce against the one this sign-in sent. Claims the ID token lacks
(e-mail, groups) are taken from the userinfo endpoint when the provider has one, for the
same subject only.

authlib does the protocol (the authorization request, PKCE's S256 challenge, the token
request's body, the ID token's claims); httpx carries it, as every other outbound request of
Tocsin. (authlib's own httpx client would run on whichever of httpx and httpx2 is installed,
so the same sign-in could meet different HTTP stacks from one install to another.) Requests
go to the provider the operator configured (TOCSIN_OIDC_DISCOVERY_URL), not to an address
anyone else chose, so a plain client with timeouts carries them, not the checked
destinations that pages to user-given addresses go through.
"""

from __future__ import annotations

import base64
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

import httpx
from authlib.oauth2.rfc6749.parameters import prepare_grant_uri, prepare_token_request
from authlib.oauth2.rfc7636 import create_s256_code_challenge
from authlib.oidc.core import CodeIDToken
from joserfc import jwt
from joserfc.errors import InvalidKeyIdError, JoseError
from joserfc.jwk import KeySet
from joserfc.jws import JWSRegistry

from tocsin.actors.settings import Settings

CALLBACK_PATH = "/api/v1/sso/callback"
# The discovery document and the keys are read again after this long.
METADATA_TTL_S = 3600.0
# Clocks of the provider and of Tocsin may differ this much when checking exp and iat.
CLOCK_LEEWAY_S = 60
# Claims of the ID token the userinfo endpoint never overrides.
_TOKEN_ONLY = frozenset({"iss", "sub", "aud", "exp", "iat", "nbf", "nonce", "azp", "at_hash", "auth_time"})


class ProviderUnreachable(Exception):
    """The provider could not be asked, or answered what is no answer (502)."""


class SignInRefused(Exception):
    """The sign-in cannot be believed: the provider refused the code, or its ID token does not
    hold (400)."""


@dataclass(frozen=True, slots=True)
class Endpoints:
    issuer: str
    authorization: str
    token: str
    jwks: str
    userinfo: str | None
    algorithms: tuple[str, ...]


class IdentityProvider:
    """One configured provider; one per gateway replica, which caches what it discovered."""

    def __init__(self, settings: Settings, transport: httpx.AsyncBaseTransport | None = None) -> None:
        """`transport`: where requests go instead of the network (tests)."""
        assert settings.oidc_discovery_url and settings.oidc_client_id, "single sign-on is not configured"
        self._discovery_url = settings.oidc_discovery_url
        self._client_id = settings.oidc_client_id
        secret = settings.oidc_client_secret
        self._client_secret = secret.get_secret_value() if secret else None
        self._scopes = settings.oidc_scopes
        self.redirect_uri = settings.reachable_url + CALLBACK_PATH
        self._timeout = httpx.Timeout(settings.oidc_timeout_s)
        self._transport = transport
        self._endpoints: Endpoints | None = None
        self._keys: KeySet | None = None
        self._read_at = 0.0

    async def authorization_url(self, state: str, nonce: str, code_verifier: str) -> str:
        """Where to send the browser: the provider's sign-in, which sends it back to the callback."""
        endpoints = await self.endpoints()
        return str(prepare_grant_uri(
            endpoints.authorization, self._client_id, "code", redirect_uri=self.redirect_uri, scope=self._scopes,
            state=state, nonce=nonce, code_challenge=create_s256_code_challenge(code_verifier),
            code_challenge_method="S256",
        ))

    async def redeem(self, code: str, code_verifier: str, nonce: str) -> dict[str, Any]:
        """The checked claims of who signed in, for the code the provider sent back."""
        endpoints = await self.endpoints()
        async with httpx.AsyncClient(timeout=self._timeout, transport=self._transport) as client:
            token = await self._token(client, endpoints, code, code_verifier)
            id_token, access_token = token.get("id_token"), token.get("access_token")
            if not isinstance(id_token, str):
                raise SignInRefused("the identity provider answered without an ID token (is the openid scope asked?)")
            claims = await self._checked_claims(id_token, access_token, nonce, endpoints)
            if isinstance(access_token, str) and endpoints.userinfo:
                claims = await self._with_userinfo(client, claims, endpoints.userinfo, access_token)
            return claims

    async def _token(
        self, client: httpx.AsyncClient, endpoints: Endpoints, code: str, code_verifier: str
    ) -> Mapping[str, Any]:
        body = prepare_token_request("authorization_code", redirect_uri=self.redirect_uri, code=code,
                                     code_verifier=code_verifier)
        headers = {"Content-Type": "application/x-www-form-urlencoded", "Accept": "application/json"}
        if self._client_secret is None:  # a public client: PKCE alone proves the code is ours
            body = prepare_token_request("authorization_code", body, client_id=self._client_id)
        else:  # client_secret_basic, each part form-encoded first (RFC 6749, 2.3.1)
            pair = f"{quote(self._client_id, safe='')}:{quote(self._client_secret, safe='')}"
            headers["Authorization"] = "Basic " + base64.b64encode(pair.encode()).decode()
        try:
            response = await client.post(endpoints.token, content=body, headers=headers)
            token = response.json()
        except httpx.HTTPError as exc:
            raise ProviderUnreachable(f"the identity provider's token endpoint could not be reached: {exc!r}") from None
        except ValueError:
            raise ProviderUnreachable(f"the identity provider's token endpoint answered {response.status_code}"
                                      " without JSON") from None
        if not isinstance(token, Mapping):
            raise ProviderUnreachable("the identity provider's token endpoint answered no JSON object")
        if "error" in token or response.status_code != 200:
            description = token.get("error_description")
            raise SignInRefused(f"the identity provider refused the sign-in's code: {token.get('error', response.status_code)}"
                                f"{': ' + str(description) if description else ''}")
        return token

    async def endpoints(self) -> Endpoints:
        if self._endpoints is None or time.monotonic() - self._read_at > METADATA_TTL_S:
            self._endpoints, self._keys = await self._discover(), None
            self._read_at = time.monotonic()
        return self._endpoints

    async def _discover(self) -> Endpoints:
        document = await self._get_json(self._discovery_url, "discovery document")
        try:
            algorithms = document.get("id_token_signing_alg_values_supported") or ["RS256"]
            return Endpoints(
                issuer=str(document["issuer"]), authorization=str(document["authorization_endpoint"]),
                token=str(document["token_endpoint"]), jwks=str(document["jwks_uri"]),
                userinfo=str(document["userinfo_endpoint"]) if document.get("userinfo_endpoint") else None,
                # "none" is never accepted, whatever the document says.
                algorithms=tuple(str(a) for a in algorithms if str(a).lower() != "none"),
            )
        except (KeyError, TypeError) as exc:
            raise ProviderUnreachable(f"the identity provider's discovery document lacks {exc}") from None

    async def _key_set(self, endpoints: Endpoints, again: bool = False) -> KeySet:
        if self._keys is None or again:
            try:
                self._keys = KeySet.import_key_set(await self._get_json(endpoints.jwks, "signing keys"))  # type: ignore[arg-type]
            except (JoseError, ValueError, TypeError, KeyError) as exc:
                raise ProviderUnreachable(f"the identity provider's signing keys cannot be read: {exc}") from None
        return self._keys

    async def _checked_claims(
        self, id_token: str, access_token: object, nonce: str, endpoints: Endpoints
    ) -> dict[str, Any]:
        try:
            return checked_claims(id_token, await self._key_set(endpoints), endpoints, self._client_id, nonce,
                                  access_token)
        except InvalidKeyIdError:  # signed with a key published since: read the keys again
            keys = await self._key_set(endpoints, again=True)
        try:
            return checked_claims(id_token, keys, endpoints, self._client_id, nonce, access_token)
        except InvalidKeyIdError:
            raise SignInRefused("the ID token is signed with a key the identity provider does not publish") from None

    async def _with_userinfo(
        self, client: httpx.AsyncClient, claims: dict[str, Any], url: str, access_token: str
    ) -> dict[str, Any]:
        try:
            response = await client.get(url, headers={"Authorization": f"Bearer {access_token}",
                                                      "Accept": "application/json"})
            response.raise_for_status()
            info = response.json()
        except (httpx.HTTPError, ValueError) as exc:
            raise ProviderUnreachable(f"the identity provider's userinfo endpoint did not answer: {exc!r}") from None
        if not isinstance(info, Mapping) or info.get("sub") != claims["sub"]:
            raise SignInRefused("the identity provider's userinfo is about another subject than its ID token")
        extra = {name: value for name, value in info.items() if name not in _TOKEN_ONLY and name not in claims}
        return {**claims, **extra}

    async def _get_json(self, url: str, what: str) -> Mapping[str, Any]:
        try:
            async with httpx.AsyncClient(timeout=self._timeout, transport=self._transport) as client:
                response = await client.get(url, headers={"Accept": "application/json"})
                response.raise_for_status()
                document = response.json()
        except (httpx.HTTPError, ValueError) as exc:
            raise ProviderUnreachable(f"the identity provider's {what} could not be read at {url}: {exc!r}") from None
        if not isinstance(document, Mapping):
            raise ProviderUnreachable(f"the identity provider's {what} at {url} is not a JSON object")
        return document


def checked_claims(
    id_token: str, keys: KeySet, endpoints: Endpoints, client_id: str, nonce: str, access_token: object = None
) -> dict[str, Any]:
    """The ID token's claims once its signature, issuer, audience, expiry and nonce hold;
    SignInRefused saying which does not. InvalidKeyIdError when no key of `keys` has its key id."""
    registry = JWSRegistry(algorithms=list(endpoints.algorithms), strict_check_header=False)
    try:
        decoded = jwt.decode(id_token, keys, registry=registry)
        params = {"nonce": nonce, "client_id": client_id}
        if isinstance(access_token, str):
            params["access_token"] = access_token
        claims = CodeIDToken(decoded.claims, decoded.header, {
            "iss": {"essential": True, "values": [endpoints.issuer]},
            "aud": {"essential": True, "values": [client_id]},
            "nonce": {"essential": True},
        }, params)
        claims.validate(leeway=CLOCK_LEEWAY_S)
    except InvalidKeyIdError:
        raise
    except JoseError as exc:
        raise SignInRefused(f"the ID token does not hold: {_described(exc)}") from None
    except ValueError as exc:  # not a JWT at all
        raise SignInRefused(f"the ID token cannot be read: {exc}") from None
    return dict(claims)


def _described(exc: JoseError) -> str:
    return f"{exc.error}: {exc.description}" if getattr(exc, "description", None) else str(exc.error)
