"""Delivery errors as a viewer or responder reads them: which provider did not deliver, and
nothing of what the destination's network answered."""

from __future__ import annotations

import pytest

from tocsin.actors.domain.redaction import HIDDEN, for_non_admins


@pytest.mark.parametrize(("recorded", "provider"), [
    ("webhook: HTTP 500 from 10.0.0.5:8080", "webhook"),
    ("webhook: ConnectError reaching 169.254.169.254", "webhook"),
    ("webhook: no answer from internal.corp in time", "webhook"),
    ("slack: HTTP 404 from hooks.slack.com", "slack"),
    ("slack: chat.postMessage refused: channel_not_found", "slack"),
    ("smtp: 550 5.1.1 <a@b>: Recipient address rejected: User unknown in relay 10.1.1.1", "smtp"),
    ("twilio: 21211 (HTTP 400) The 'To' number is not valid", "twilio"),
    ("webhook: HTTP 500 from host\nwith a second line", "webhook"),
])
def test_what_a_provider_said_is_hidden(recorded, provider):
    assert for_non_admins(recorded) == f"{provider}: {HIDDEN}"


@pytest.mark.parametrize("recorded", ["no answer within 10 s", "RuntimeError('10.0.0.5 refused')", "Webhook: x",
                                      "some provider: what it said", ""])
def test_anything_else_unknown_is_hidden_whole(recorded):
    assert for_non_admins(recorded) == HIDDEN


@pytest.mark.parametrize("recorded", [
    None, "circuit breaker open: provider skipped", "no provider is configured for this channel",
    "the contact method no longer exists", "the contact method is switched off (STOP)", "the incident is resolved",
    "webhook: destination not allowed", "slack: not an https URL", "webhook: not a URL",
    "smtp: not an e-mail address",
])
def test_reasons_that_name_nothing_of_the_destination_are_shown(recorded):
    assert for_non_admins(recorded) == recorded
