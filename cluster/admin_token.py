"""The admin token's one rule, applied by `tocsin up` and the Serve entrypoint before they start;
and what makes a long enough token guessable all the same, which `tocsin doctor` reports."""

from __future__ import annotations

# The admin token opens the whole API as an admin, from anywhere the API is reachable: long
# enough that it cannot be guessed (a generated one has 43 characters).
MIN_ADMIN_TOKEN_LENGTH = 32


def admin_token_problem(token: str, source: str = "TOCSIN_ADMIN_TOKEN") -> str | None:
    """Why `token`, read from `source`, cannot be the admin token; None when it can."""
    if len(token) >= MIN_ADMIN_TOKEN_LENGTH:
        return None
    return (f"{source} has {len(token)} characters; the admin token opens the whole API, so it needs at"
            f" least {MIN_ADMIN_TOKEN_LENGTH}. Make one with"
            " python3 -c 'import secrets; print(secrets.token_urlsafe(32))'")


# Words of examples and guides, and a few characters repeated: a token long enough for the
# rule only by them is guessable all the same.
KNOWN_PLACEHOLDERS = ("change_me", "changeme", "change-me", "secret", "password", "admin", "token", "example")
MIN_DISTINCT_CHARACTERS = 8
_MAKE_ONE = "Make one with python3 -c 'import secrets; print(secrets.token_urlsafe(32))'"


def admin_token_weakness(token: str, source: str = "TOCSIN_ADMIN_TOKEN") -> str | None:
    """Why `token`, long enough, can be guessed all the same; None when nothing is known against it."""
    rest = token.lower()
    for word in KNOWN_PLACEHOLDERS:
        rest = rest.replace(word, "")
    if len(rest) < MIN_ADMIN_TOKEN_LENGTH:
        return (f"{source} is mostly words of examples (such as CHANGE_ME); replace it with a random token."
                f" {_MAKE_ONE}")
    if len(set(token)) < MIN_DISTINCT_CHARACTERS:
        return (f"{source} has only {len(set(token))} different characters; replace it with a random token."
                f" {_MAKE_ONE}")
    return None
