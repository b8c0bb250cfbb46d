"""What every import shares: the report of what could not be mapped, weekly windows from spans
of wall-clock time, and writing the document and its report side by side."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import yaml

from tocsin.actors.domain.config.document import Document, Window, document_data
from tocsin.actors.store.services import is_routing_key

_DAY_MINUTES = 24 * 60
WEEK_MINUTES = 7 * _DAY_MINUTES


@dataclass(frozen=True)
class Unmapped:
    """Something of the source account the document leaves out or approximates, and why."""

    what: str
    why: str

    def __str__(self) -> str:
        return f"{self.what}: {self.why}"


class Report(list[Unmapped]):
    def add(self, what: str, why: str) -> None:
        self.append(Unmapped(what, why))


def weekly_windows(day: int, start_minute: int, minutes: int) -> Iterator[Window]:
    """A span of wall-clock time from `start_minute` of `day` (0 = Monday) lasting `minutes`
    (at most a week), cut into Tocsin's windows of at most one day each."""
    while minutes > 0:
        chunk = min(minutes, _DAY_MINUTES - start_minute)
        yield Window(day % 7, _hhmm(start_minute), _hhmm((start_minute + chunk) % _DAY_MINUTES))
        minutes -= chunk
        day, start_minute = day + 1, 0


def _hhmm(minute: int) -> str:
    return f"{minute // 60:02d}:{minute % 60:02d}"


def wall_handoff(start: datetime, zone: str) -> tuple[str, bool]:
    """The wall-clock handoff HH:MM of a rotation starting at `start`, and whether it falls on
    a whole minute (Tocsin's handoffs do)."""
    local = start.astimezone(ZoneInfo(zone))
    return _hhmm(local.hour * 60 + local.minute), local.second == 0 and local.microsecond == 0


def known_zone(zone: str | None) -> bool:
    try:
        ZoneInfo(zone or "")
    except (ZoneInfoNotFoundError, ValueError, OSError):
        return False
    return True


def usable_key(key: str | None) -> bool:
    """Whether a source's key can be kept as a Tocsin integration key."""
    return key is not None and is_routing_key(key)


def write(document: Document, report: Report, out: Path, source: str) -> Path:
    """The document as YAML at `out`, and the report beside it; the report's path."""
    head = (f"# Imported from {source}. Review before `tocsin config apply`:\n"
            f"# {len(report)} item(s) could not be mapped exactly; see {report_path(out).name}.\n")
    out.write_text(head + yaml.safe_dump(document_data(document), sort_keys=False, allow_unicode=True))
    lines = [f"What the import from {source} could not map, and why", ""] + [f"- {item}" for item in report]
    report_path(out).write_text("\n".join(lines) + "\n")
    return report_path(out)


def report_path(out: Path) -> Path:
    return out.with_name(out.stem + ".unmapped.txt")
