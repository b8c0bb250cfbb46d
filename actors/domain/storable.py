"""Text Postgres cannot store: made storable at the edge, and named when it got past it.

Postgres refuses U+0000 in text, json and jsonb, and in jsonb also its escape `\\u0000`,
in values and keys alike; asyncpg cannot send a surrogate code point (Python keeps one
when bytes were decoded with "surrogateescape", as an SMTP envelope's are). The edge
replaces each with U+FFFD and keeps the alert: losing an alert is worse than a changed
character. What else a sender controls is refused before it gets here, as a 4xx: both
JSON parsers refuse unpaired surrogate escapes, nesting past 255 (pydantic) or 1024
(orjson) levels, and numbers past their range; dedup keys are at most 255 characters
(512 for an Opsgenie alias), well inside what an index row holds.

Should an input get past the edge anyway (a route that forgot it, a new kind of value),
the shard isolates it and `unstorable` names where it holds such text.
"""

from __future__ import annotations

import dataclasses
import json
import re
from collections.abc import Mapping
from typing import Any

from tocsin.actors.domain.events import AlertEvent, IncidentCommand, ServiceInput

REPLACEMENT = "\ufffd"

_SURROGATE = re.compile("[\ud800-\udfff]")
# A run of backslashes before "u0000": an escape of U+0000 when the run is odd (its last
# backslash starts the escape), the text "\u0000" when it is even (escaped backslashes).
_BACKSLASHES_U0000 = re.compile(r"\\+u0000")


def storable(text: str) -> str:
    """`text` with U+0000 and surrogates replaced by U+FFFD; the same object when clean."""
    if "\x00" in text:
        text = text.replace("\x00", REPLACEMENT)
    if not text.isascii() and _SURROGATE.search(text) is not None:  # isascii is a flag: free
        text = _SURROGATE.sub(REPLACEMENT, text)
    return text


def storable_json(text: str) -> str:
    """JSON text (as orjson or pydantic wrote it: UTF-8, no surrogates) with the escape
    `\\u0000` replaced by `\\ufffd`, in keys and values alike."""
    if "\\u0000" in text:
        text = _BACKSLASHES_U0000.sub(_replaced_escape, text)
    return storable(text)


def _replaced_escape(found: re.Match[str]) -> str:
    run = found.group()
    return run[:-4] + "fffd" if (len(run) - 5) % 2 else run


def storable_input(item: ServiceInput) -> ServiceInput:
    """The input with every text Postgres would refuse made storable; the same object
    when there is none, which costs a few substring checks."""
    if isinstance(item, AlertEvent):
        if _clean(item.summary) and _clean(item.source) and _clean(item.dedup_key) and _clean_json(item.payload):
            return item
        return dataclasses.replace(
            item, dedup_key=storable(item.dedup_key), summary=_storable_or_none(item.summary),
            source=_storable_or_none(item.source), payload=storable_json(item.payload),
        )
    if _clean(item.actor) and _clean(item.text):
        return item
    return dataclasses.replace(item, actor=storable(item.actor), text=_storable_or_none(item.text))


def unstorable(item: ServiceInput) -> tuple[list[str], str]:
    """Where the input holds text Postgres refuses, and what, as the rest of a sentence that
    starts with them: for an alert, the paths in the event as its source sent it (its
    payload, e.g. "labels.instance"), else the alert's own fields; for a command, its
    fields. Paths are made storable themselves, to be shown. ([], "") when there is none."""
    own = ("actor", "text") if isinstance(item, IncidentCommand) else ("summary", "source", "dedup_key")
    bad = {} if isinstance(item, IncidentCommand) else _unclean(_texts_in_payload(item.payload))
    bad = bad or _unclean({name: getattr(item, name) for name in own})
    if not bad:
        return [], ""
    nul = any("\x00" in text for text in bad.values())
    surrogate = any(_SURROGATE.search(text) for text in bad.values())
    what = " or ".join(["U+0000"] * nul + ["a surrogate code point"] * surrogate)
    return list(bad), f"holds {what}, which cannot be stored"


def _clean(text: str | None) -> bool:
    return text is None or ("\x00" not in text and (text.isascii() or _SURROGATE.search(text) is None))


def _unclean(texts: Mapping[str, str | None]) -> dict[str, str]:
    return {path: text for path, text in texts.items() if text is not None and not _clean(text)}


def _clean_json(text: str) -> bool:
    # orjson and pydantic write no surrogates (they refuse them): no need to scan for them.
    # `rfind` looks for the escape from its backslash, rare in JSON text, where `in` looks for
    # it from its last "0", common in instants and numbers: half the time, the same answer.
    return text.rfind("\\u0000") < 0 and "\x00" not in text


def _storable_or_none(text: str | None) -> str | None:
    return None if text is None else storable(text)


def _texts_in_payload(payload: str) -> dict[str, str]:
    """Every text of the JSON document, keys included, by its path; {} when it does not parse."""
    found: dict[str, str] = {}
    try:
        # The standard parser, not orjson: it also reads the escapes Postgres refuses.
        _walk(json.loads(payload), "", found)
    except (ValueError, RecursionError):  # orjson writes up to 1024 levels; Python recurses ~1000
        return {}
    return found


def _walk(value: Any, path: str, found: dict[str, str]) -> None:
    if isinstance(value, str):
        found[path or "(the whole value)"] = value
    elif isinstance(value, dict):
        for key, item in value.items():
            where = f"{path}.{storable(key)}" if path else storable(key)
            found.setdefault(where + " (the key)", key)
            _walk(item, where, found)
    elif isinstance(value, list):
        for index, item in enumerate(value):
            _walk(item, f"{path}.{index}" if path else str(index), found)
