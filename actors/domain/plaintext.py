"""Text from alerts, made safe to send: a line that stays one line, a body that keeps its
lines and nothing that breaks a message on its way. Pure.

Anyone who can send an alert writes this text. A line break in a summary would start a new
mail header; NUL ends a string in C and Postgres refuses it; a lone surrogate cannot be
encoded as UTF-8; XML (TwiML) allows no control character but tab and line breaks; an
unclosed right-to-left override turns the words that follow it around. What cannot be shown
becomes U+FFFD, so a reader sees that something was there.
"""

from __future__ import annotations

import re

REPLACEMENT = "\ufffd"
ELLIPSIS = "…"

# Line breaks, as `str.splitlines` counts them.
_LINE_BREAK = re.compile("\r\n|[\n\v\f\r\x1c-\x1e\x85\u2028\u2029]")
# Control characters (C0, DEL, C1) other than tab and newline, lone surrogates, and the two
# noncharacters XML refuses.
_UNSHOWABLE = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\ud800-\udfff\ufffe\uffff]")
# Bidirectional embeddings, overrides and isolates, and what closes them (Unicode UAX #9).
_OPENS_EMBEDDING = frozenset("\u202a\u202b\u202d\u202e")
_OPENS_ISOLATE = frozenset("\u2066\u2067\u2068")
_POP_EMBEDDING, _POP_ISOLATE = "\u202c", "\u2069"
_BIDI = re.compile("[\u202a-\u202e\u2066-\u2069]")


def one_line(text: str, limit: int) -> str:
    """`text` on one line: every line break, tab and run of spaces one space, what cannot be
    shown U+FFFD, at most `limit` characters of it (cut with an ellipsis), and the
    bidirectional overrides those leave open closed at its end."""
    line = " ".join(_UNSHOWABLE.sub(REPLACEMENT, _LINE_BREAK.sub(" ", text)).split())
    return closed(cut(line, limit))


def body(text: str) -> str:
    """`text` with its lines (each ended by a plain newline, whatever ended it before) and
    tabs kept, and what cannot be shown U+FFFD."""
    return _UNSHOWABLE.sub(REPLACEMENT, _LINE_BREAK.sub("\n", text))


def cut(text: str, limit: int) -> str:
    """At most `limit` characters: a longer text is cut and ends with an ellipsis."""
    return text if len(text) <= limit else text[: max(limit - 1, 0)] + ELLIPSIS


def closed(text: str) -> str:
    """`text` with every bidirectional embedding, override or isolate it leaves open closed at
    its end: right-to-left text stays right to left, and what follows it reads as written."""
    if not _BIDI.search(text):
        return text
    open_: list[str] = []  # the character that closes each, innermost last
    for char in text:
        if char in _OPENS_EMBEDDING:
            open_.append(_POP_EMBEDDING)
        elif char in _OPENS_ISOLATE:
            open_.append(_POP_ISOLATE)
        elif char == _POP_EMBEDDING and open_ and open_[-1] == _POP_EMBEDDING:
            open_.pop()
        elif char == _POP_ISOLATE and _POP_ISOLATE in open_:
            while open_.pop() != _POP_ISOLATE:  # it closes the embeddings inside the isolate too
                pass
    return text + "".join(reversed(open_))
