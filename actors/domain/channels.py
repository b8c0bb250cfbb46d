"""The channels Tocsin pages people over, declared once: each is a kind of contact method, and
has a channel actor of its own delivering through that channel's providers.

The REST API's contact kinds and channel filter, and the channel actors started, are these.
A Literal, so that the type checker knows each name, and pydantic's schema lists them as it
lists any other choice; CHANNELS is the same names as a tuple, in this order.
"""

from __future__ import annotations

import re
from typing import Literal, get_args

Channel = Literal["sms", "voice", "push", "webpush", "email", "slack", "webhook", "teams"]
CHANNELS: tuple[Channel, ...] = get_args(Channel)

SLACK_WEB_API_ADDRESS = re.compile(r"[CGDUW][A-Z0-9]{6,}")
"""A Slack address that is a channel (C…, G… private, D… direct) or a user (U…, W…: a direct
message from the bot): posted through the Web API with the bot token. Any other Slack address
is an incoming-webhook URL."""

SLACK_USER_ID = re.compile(r"[UW][A-Z0-9]{2,30}")
"""A Slack user's id, as a Tocsin user is linked to it: who presses a page's buttons."""
