"""Passwords, kept as argon2id hashes (argon2-cffi's defaults: RFC 9106's low-memory
profile, 64 MiB and three passes per hash). Pure, but slow on purpose: a hash takes a
tenth of a second or more, so callers on an event loop run these in a thread.
"""

from __future__ import annotations

from functools import cache

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

MIN_LENGTH = 8
# Hashing cost does not grow with the length, but a request body should stay small.
MAX_LENGTH = 1024

_hasher = PasswordHasher()


def hash_password(password: str) -> str:
    """What is stored: "$argon2id$v=19$m=…,t=…,p=…$<salt>$<hash>", a fresh salt each time."""
    return _hasher.hash(password)


def password_matches(stored: str | None, password: str) -> bool:
    """Whether `password` is the one `stored` was made from. With nothing stored (no such
    user, or no password yet) a hash is still checked, so that the answer takes as long
    and says nothing about whether the account exists."""
    try:
        return _hasher.verify(stored or _stand_in(), password) and stored is not None
    except (VerificationError, InvalidHashError):
        return False


def needs_rehash(stored: str) -> bool:
    """Whether `stored` was made with weaker parameters than today's, and so should be
    replaced at the next successful login."""
    try:
        return _hasher.check_needs_rehash(stored)
    except InvalidHashError:
        return True


@cache
def _stand_in() -> str:
    # Made once, on first use, with the same parameters as real hashes (so it costs the same).
    return _hasher.hash("no account has this password")
