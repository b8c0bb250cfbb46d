"""Microsoft Teams: the contact method's address is a Teams workflow webhook URL (a "Post to a
channel when a webhook request is received" workflow), and a page is posted there as a
message carrying one Adaptive Card: the incident's summary, urgency and service, and an
"Open in Tocsin" action (tocsin.actors.domain.chat_cards).

The URL holds its own credential (its `sig` query parameter), so it is https only (plain
http only to loopback, for local receivers), goes to allowed addresses only (httpclient.py),
and errors and logs name its host alone. Each URL is a workflow of its own: a circuit breaker
per destination, as for outbound webhooks. A workflow answers 202 Accepted when it takes the
message; whatever the card then becomes is Teams' business.
"""

from __future__ import annotations

import json

from tocsin.actors.domain.chat_cards import PageView, teams_message
from tocsin.actors.providers import httpclient
from tocsin.actors.providers.base import Outgoing, Receipt
from tocsin.actors.providers.resolver import Resolve, resolve
from tocsin.actors.providers.settings import TeamsSettings


def view_of(message: Outgoing) -> PageView:
    """What the card shows: the page's alert, or, for a message of its own words (a
    verification code, a bundle), those words as its summary."""
    alert = message.alert
    if alert is None:
        return PageView(message.incident_id or 0, "Tocsin", message.text, "low", link=message.link)
    return PageView(alert.incident_id, alert.service, alert.summary, alert.urgency, link=message.link)


class TeamsProvider:
    name = "teams"
    channels = frozenset({"teams"})
    per_destination = True  # each address is a workflow of its own: a circuit breaker per host

    def __init__(self, config: TeamsSettings, resolver: Resolve = resolve) -> None:
        self._client = httpclient.make_client(config.allowed_destinations, config.timeout_s, resolver)

    async def send(self, message: Outgoing) -> Receipt:
        url = httpclient.check_url(self.name, message.address, https_only=True)
        body = json.dumps(teams_message(view_of(message))).encode()
        await httpclient.post(self._client, self.name, url, content=body, headers={"Content-Type": "application/json"})
        return Receipt()

    async def close(self) -> None:
        await self._client.aclose()


def from_settings(config: TeamsSettings) -> TeamsProvider:
    """Always configured: a workflow's URL is all it needs, and each address is one."""
    return TeamsProvider(config)
