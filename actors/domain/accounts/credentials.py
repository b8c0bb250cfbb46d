"""Random secrets for sessions, CSRF and personal API tokens, and how they are stored. Pure.

Each secret carries 256 random bits from `secrets`, so a plain SHA-256 digest is what the
database keeps: nobody can guess back from it, and it can be looked up by value (a salted,
slow hash is for passwords, which people choose).
"""

from __future__ import annotations

import hashlib
import hmac
import secrets

API_TOKEN_PREFIX = "tcs_"
# How many characters of a token are kept in the clear, to tell tokens apart in a list.
SHOWN_CHARACTERS = len(API_TOKEN_PREFIX) + 6
_RANDOM_BYTES = 32


def new_session_id() -> str:
    return secrets.token_urlsafe(_RANDOM_BYTES)


def new_csrf_token() -> str:
    return secrets.token_urlsafe(_RANDOM_BYTES)


def new_api_token() -> str:
    """"tcs_" and 43 URL-safe characters: the prefix lets secret scanners and our own
    authentication recognise a personal token."""
    return API_TOKEN_PREFIX + secrets.token_urlsafe(_RANDOM_BYTES)


def is_api_token(value: str) -> bool:
    return value.startswith(API_TOKEN_PREFIX)


def shown_part(token: str) -> str:
    return token[:SHOWN_CHARACTERS]


def digest(secret: str) -> str:
    """What the database keeps for a session id or a token."""
    return hashlib.sha256(secret.encode()).hexdigest()


def same_secret(presented: str | None, expected: str) -> bool:
    """Compared in constant time, so the time taken tells nothing about how much matched."""
    if not presented or not expected:
        return False
    return hmac.compare_digest(presented.encode(), expected.encode())
