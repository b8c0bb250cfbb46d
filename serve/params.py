"""Identifiers and text in paths and query strings, checked where they come in.

A value that cannot name anything (digits that are not ASCII, a number past Postgres's
bigint, a control character) is refused with a 4xx naming the parameter, before it
reaches the database, where it would raise an error that reads like an outage.
"""

from __future__ import annotations

import re
from typing import Annotated

from pydantic import BeforeValidator, Field

INT64_MAX = 2**63 - 1

Int64Id = Annotated[int, Field(ge=1, le=INT64_MAX)]
"""The id of a bigint row (an incident, a notification). In a query string, declare it as
`Annotated[Int64Id, Query(...)]`: FastAPI drops these bounds for a `= Query(...)` default."""


_DIGITS = re.compile(r"[0-9]{1,19}")


def _ascii_digits(value: object) -> object:
    if isinstance(value, str) and not _DIGITS.fullmatch(value):
        raise ValueError("must be the next_cursor of a previous page: up to 19 digits 0-9")
    return value


Cursor = Annotated[int, Field(ge=1, le=INT64_MAX), BeforeValidator(_ascii_digits)]
"""A page's `next_cursor`: a bigint id, in ASCII digits when it comes as text."""

_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")


def control_character(text: str) -> str | None:
    """The first control character in `text` (NUL, a line break, …) as U+XXXX; None when
    there is none."""
    found = _CONTROL.search(text)
    return f"U+{ord(found.group()):04X}" if found else None

