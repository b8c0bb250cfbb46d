"""The channels Tocsin pages people over, declared once: each is a kind of contact method, and
has a channel actor of its own delivering through that channel's providers.

The REST API's contact kinds and channel filter, and the channel actors started, are these.
A Literal, so that the type checker knows each name, and pydantic's schema lists them as it
lists any other choice; CHANNELS is the same names as a tuple, in this order.
"""

from __future__ import annotations

from typing import Literal, get_args

Channel = Literal["sms", "voice", "push", "webpush", "email", "slack", "webhook", "teams"]
CHANNELS: tuple[Channel, ...] = get_args(Channel)
