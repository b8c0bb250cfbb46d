"""Action tokens: what a push notification's Acknowledge and Resolve buttons carry, so that
a phone acts on the incident from its lock screen with no session.

A token names one notification and one action, with a MAC over both (HMAC-SHA256 keyed with
a key only Tocsin holds): it cannot be made for another notification or action, nor guessed.
Nothing is stored when a push goes out; the notification it names says who acts (the person
it was sent to) and on what (its incident). A token is refused when:

- it is malformed or its MAC does not check (`read` answers None);
- it was used before: single-use, per notification and action (the caller records uses);
- its incident is resolved, or the notification is older than `LIFETIME` (`refusal`).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from datetime import datetime, timedelta
from enum import Enum

LIFETIME = timedelta(hours=24)
_MAC_BYTES = 16
_VERSION = "1"


class Action(str, Enum):
    ACKNOWLEDGE = "acknowledge"
    RESOLVE = "resolve"


def _mac(key: bytes, notification_id: int, action: Action) -> str:
    digest = hmac.new(key, f"{_VERSION}:{notification_id}:{action.value}".encode(), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest[:_MAC_BYTES]).rstrip(b"=").decode()


def mint(key: bytes, notification_id: int, action: Action) -> str:
    """The token for `action` on the incident of notification `notification_id`."""
    return f"{_VERSION}.{notification_id}.{action.value[0]}.{_mac(key, notification_id, action)}"


_BY_LETTER = {a.value[0]: a for a in Action}


def read(key: bytes, token: str) -> tuple[int, Action] | None:
    """The notification and action the token names; None when it is not one of ours."""
    parts = token.split(".")
    if len(parts) != 4 or parts[0] != _VERSION or parts[2] not in _BY_LETTER or not parts[1].isdigit():
        return None
    if len(parts[1]) > 19:  # more than a bigint holds
        return None
    notification_id, action = int(parts[1]), _BY_LETTER[parts[2]]
    if not hmac.compare_digest(parts[3].encode(), _mac(key, notification_id, action).encode()):
        return None
    return notification_id, action


def use_id(notification_id: int, action: Action) -> str:
    """What a use of this token is recorded as: the same token used again finds it."""
    return f"{notification_id}:{action.value}"


def refusal(incident_status: str | None, sent_at: datetime, now: datetime) -> str | None:
    """Why a genuine, unused token may not act any more; None when it may."""
    if incident_status is None:
        return "its incident no longer exists"
    if incident_status == "resolved":
        return "its incident is resolved"
    if now - sent_at > LIFETIME:
        return f"it expired {int(LIFETIME.total_seconds() // 3600)} hours after its notification"
    return None
