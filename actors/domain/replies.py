"""What a person means by a text or a key press, and what Tocsin says back. Pure.

A text is "<code><letter>" ("3a": acknowledge the incident this person knows as 3), one of
the carrier keywords that switch texts off and on again, or anything else (answered with
how to reply). A key press during a call is one digit of `VOICE_MENU`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import Enum

from tocsin.actors.domain.events import Command

# The carriers' and Twilio's opt-out and opt-in keywords.
STOP_WORDS = frozenset({"STOP", "STOPALL", "UNSUBSCRIBE", "CANCEL", "END", "QUIT"})
START_WORDS = frozenset({"START", "YES", "UNSTOP"})

LETTERS = {"a": Command.ACKNOWLEDGE, "c": Command.RESOLVE, "e": Command.ESCALATE}
KEYS = {"4": Command.ACKNOWLEDGE, "6": Command.RESOLVE, "5": Command.ESCALATE}
REPEAT_KEY = "*"

_CODED = re.compile(r"(\d{1,9})([ace])")

HOW_TO_REPLY = ("Tocsin: reply with the incident's code and a letter, e.g. 3a to acknowledge, 3c to close,"
                " 3e to escalate. Reply STOP to get no more texts.")
STOPPED = "Tocsin: you will get no more texts on this number. Reply START to get them again."
STARTED = "Tocsin: texts to this number are on again. Reply STOP to switch them off."
NOT_RECORDED = "Tocsin could not record that just now. Please try again."


class Intent(str, Enum):
    ACT = "act"
    STOP = "stop"
    START = "start"
    UNKNOWN = "unknown"


@dataclass(frozen=True, slots=True)
class TextReply:
    intent: Intent
    code: int | None = None
    command: Command | None = None


def parse_text(body: str) -> TextReply:
    """Case and spaces do not matter: " 3 A" is "3a"."""
    squeezed = "".join(body.split()).lower()
    if squeezed.upper() in STOP_WORDS:
        return TextReply(Intent.STOP)
    if squeezed.upper() in START_WORDS:
        return TextReply(Intent.START)
    match = _CODED.fullmatch(squeezed)
    if match is None:
        return TextReply(Intent.UNKNOWN)
    return TextReply(Intent.ACT, int(match.group(1)), LETTERS[match.group(2)])


def unknown_code(code: int) -> str:
    return f"Tocsin: no incident has the reply code {code} on this number. {HOW_TO_REPLY}"


_DONE = {"acknowledged": "acknowledged", "resolved": "resolved", "escalated": "escalated", "duplicate": "recorded"}


def outcome_text(command: Command, incident_id: int, outcome: str, status: str | None, note: str | None) -> str:
    """One sentence on what the command did, for a text or to be read out."""
    if outcome in _DONE:
        return f"Incident {incident_id} {_DONE[outcome]}."
    if outcome == "unchanged":  # with no status: the incident is no longer open
        return f"Incident {incident_id} is already {status or 'resolved'}."
    reason = f": {note}" if note else ""
    return f"Could not {command.value} incident {incident_id}{reason}."
