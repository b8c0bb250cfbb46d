"""The admin token's one rule, applied by `tocsin up` and the Serve entrypoint before they start."""

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
