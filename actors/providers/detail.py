"""How much of a server's own words goes into a `ProviderError`: enough to diagnose,
never a whole page."""

from __future__ import annotations

LIMIT = 200


def detail(text: str) -> str:
    text = " ".join(text.split())
    return text if len(text) <= LIMIT else text[: LIMIT - 1] + "…"
