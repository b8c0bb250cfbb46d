"""What a text from a phone means, and what Tocsin says back."""

from __future__ import annotations

import pytest

from tocsin.actors.domain.events import Command
from tocsin.actors.domain.replies import Intent, TextReply, outcome_text, parse_text


@pytest.mark.parametrize("body, expected", [
    ("1a", TextReply(Intent.ACT, 1, Command.ACKNOWLEDGE)),
    (" 12 C ", TextReply(Intent.ACT, 12, Command.RESOLVE)),
    ("3\te\n", TextReply(Intent.ACT, 3, Command.ESCALATE)),
    ("stop", TextReply(Intent.STOP)),
    ("Stop All", TextReply(Intent.STOP)),
    ("UNSUBSCRIBE", TextReply(Intent.STOP)),
    ("quit", TextReply(Intent.STOP)),
    ("start", TextReply(Intent.START)),
    ("Yes", TextReply(Intent.START)),
    ("unstop", TextReply(Intent.START)),
    ("ack", TextReply(Intent.UNKNOWN)),
    ("1x", TextReply(Intent.UNKNOWN)),
    ("a1", TextReply(Intent.UNKNOWN)),
    ("1ac", TextReply(Intent.UNKNOWN)),
    ("", TextReply(Intent.UNKNOWN)),
    ("0" * 12 + "1a", TextReply(Intent.UNKNOWN)),
    ("please stop", TextReply(Intent.UNKNOWN)),
])
def test_parse_text(body: str, expected: TextReply) -> None:
    assert parse_text(body) == expected


@pytest.mark.parametrize("outcome, status, note, expected", [
    ("acknowledged", "acknowledged", None, "Incident 7 acknowledged."),
    ("escalated", "triggered", None, "Incident 7 escalated."),
    ("unchanged", "acknowledged", None, "Incident 7 is already acknowledged."),
    ("unchanged", None, None, "Incident 7 is already resolved."),
    ("refused", "triggered", "the service has no escalation policy",
     "Could not escalate incident 7: the service has no escalation policy."),
])
def test_outcome_text(outcome: str, status: str | None, note: str | None, expected: str) -> None:
    assert outcome_text(Command.ESCALATE if outcome != "acknowledged" else Command.ACKNOWLEDGE, 7, outcome, status,
                        note) == expected
