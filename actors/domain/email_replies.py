"""Replies to page e-mails: the Reply-To address a page e-mail carries, and what a reply means.

A page e-mail's Reply-To is `reply+<token>@<email domain>`: the token is 26 characters of
lowercase base32 (128 random bits, given out by the sender and stored only as its SHA-256),
naming one notification, so the incident and the person it was sent to. The "+" keeps these
addresses apart from the integrations' (32 characters of their key alphabet, no "+").

A reply acts with the first meaningful line of its text: what a person typed above the quote.
Quoted lines ("> ..."), "On ... wrote:" attributions, signatures ("-- "), and what follows a
forwarded or original-message header are not read. Its first word is the command ("ack",
"acknowledge", "resolve", "escalate", whatever the case, with trailing punctuation); when the
text holds no line at all, the subject (without "Re:") is read the same way. Pure.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable, Iterator

from tocsin.actors.domain.events import Command

LOCAL_PREFIX = "reply+"
TOKEN_LENGTH = 26
_TOKEN = re.compile(rf"reply\+([a-z2-7]{{{TOKEN_LENGTH}}})")

WORDS = {"ack": Command.ACKNOWLEDGE, "acknowledge": Command.ACKNOWLEDGE, "acknowledged": Command.ACKNOWLEDGE,
         "resolve": Command.RESOLVE, "resolved": Command.RESOLVE,
         "escalate": Command.ESCALATE}

HOW_TO_REPLY = "Reply to this e-mail with ack, resolve or escalate on the first line to act on the incident."
HELP = ("Tocsin did not understand this reply: write ack, resolve or escalate on its first line, above the"
        " quoted page")

# Lines after which nothing the person wrote comes: a signature, a quoted original, a
# phone's "sent from" line.
_ENDS = re.compile(r"(--\s*|_{5,}|-{3,}\s*original message\s*-{3,}|-{3,}\s*forwarded message\s*-{3,}"
                   r"|(from|von|de|sent|envoyé|gesendet):\s.*|sent from my .*)", re.IGNORECASE)
_ATTRIBUTION_START = re.compile(r"(on|am|le|el|op)\s.*", re.IGNORECASE)
_WROTE = re.compile(r".*\b(wrote|schrieb|a écrit|escribió|schreef)\b.*:\s*", re.IGNORECASE)
_ATTRIBUTION_MAX = 400  # longer lines are no attribution: the patterns are not run over them
_REPLY_PREFIX = re.compile(r"\s*(?:(?:re|aw|sv|antw)\s*(?:\[\d+\]\s*)?:\s*)+", re.IGNORECASE)
_PUNCTUATION = ".,;:!?'\"()[]*_"


def token_of(local_part: str) -> str | None:
    """The token of a reply address's local part (before the @), or None when it is not one."""
    found = _TOKEN.fullmatch(local_part.lower())
    return found.group(1) if found else None


def is_reply_address(local_part: str) -> bool:
    """Whether the local part is meant as a reply address (well-formed or not)."""
    return local_part.lower().startswith(LOCAL_PREFIX)


def address(token: str, domain: str) -> str:
    return f"{LOCAL_PREFIX}{token}@{domain}"


def token_hash(token: str) -> str:
    """What is stored of a token: the address alone is the credential, the table is not."""
    return hashlib.sha256(token.encode()).hexdigest()


def command_of(text: str, subject: str = "") -> Command | None:
    """The command of a reply: its first meaningful line's first word, else the subject's;
    None when neither is a command."""
    line = first_line(text.splitlines())
    if line is None:
        line = _REPLY_PREFIX.sub("", subject, count=1).strip() or None
    if line is None:
        return None
    first_word = line.split(maxsplit=1)[0].strip(_PUNCTUATION).lower()
    return WORDS.get(first_word)


def first_line(lines: Iterable[str]) -> str | None:
    """The first line the person wrote: not blank, not quoted, not an attribution; None when
    the reply ends (a signature, a quoted original) before any."""
    for line in _unattributed(lines):
        stripped = line.strip()
        if not stripped or stripped.startswith(">"):
            continue
        if _ENDS.fullmatch(stripped):
            return None
        return stripped
    return None


def _unattributed(lines: Iterable[str]) -> Iterator[str]:
    """The lines without "<someone> wrote:" attributions, also when a mail program broke one
    in two ("On Mon, 3 Jun 2024, Tocsin <" then "reply+...> wrote:")."""
    held: str | None = None
    for line in lines:
        if _attribution_end(line):
            held = None  # an attribution, with its first half if it was broken
            continue
        if held is not None:
            yield held
        held = line if _ATTRIBUTION_START.fullmatch(line.strip()) else None
        if held is None:
            yield line
    if held is not None:
        yield held


def _attribution_end(line: str) -> bool:
    stripped = line.strip()
    return len(stripped) <= _ATTRIBUTION_MAX and _WROTE.fullmatch(stripped) is not None


def outcome_refusal(outcome: str) -> bool:
    """Whether the shard's outcome means the reply did nothing (its token may be used again)."""
    return outcome in ("refused", "invalid", "dropped")
