"""The shape of an Opsgenie API key (a UUID's, 36 characters): one an `opsgenie` integration
may keep when an account is imported, so that its senders change only their base URL."""

from __future__ import annotations

import re

OPSGENIE_KEY_LENGTH = 36
_OPSGENIE_KEY = re.compile("[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")


def is_opsgenie_key(text: str) -> bool:
    return _OPSGENIE_KEY.fullmatch(text) is not None
