"""Who may do what: three roles in order, and the caller a request acts as. Pure.

Viewers read everything; responders also act on incidents and on what is their own (their
contact methods, notification rules, and the overrides that put them on call); admins
manage everything else. Secrets that belong to a person (webhook URLs, calendar tokens) are
shown to that person and to admins only.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum
from functools import total_ordering


@total_ordering
class Role(Enum):
    """Ordered: viewer < responder < admin. The value is what users.role stores."""

    VIEWER = "viewer"
    RESPONDER = "responder"
    ADMIN = "admin"

    @property
    def rank(self) -> int:
        return _RANKS.index(self.value)

    def __lt__(self, other: object) -> bool:
        # Defined by rank, never by the values' spelling (alphabetically admin comes first).
        if not isinstance(other, Role):
            return NotImplemented
        return self.rank < other.rank


_RANKS = ("viewer", "responder", "admin")


@dataclass(frozen=True, slots=True)
class Caller:
    """Whoever a request acts for, once its credentials check out."""

    user_id: str | None  # None for the admin token, which is nobody's
    name: str  # what the incident log records as the actor
    role: Role
    via: str  # "session" | "token" | "admin-token"

    def has(self, role: Role) -> bool:
        return self.role >= role

    def is_user(self, user_id: object) -> bool:
        return self.user_id is not None and self.user_id == str(user_id)

    def may_see_secrets_of(self, user_id: object) -> bool:
        """Whether this caller sees the secrets in what belongs to `user_id` (a webhook URL,
        a calendar feed's token): an admin anyone's, every other role only their own."""
        return self.has(Role.ADMIN) or self.is_user(user_id)

    def may_change_own(self, user_id: object) -> bool:
        """Whether this caller may change what belongs to `user_id`: an admin anyone's, a
        responder their own."""
        return self.has(Role.ADMIN) or (self.has(Role.RESPONDER) and self.is_user(user_id))
