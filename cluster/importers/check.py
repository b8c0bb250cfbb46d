"""`tocsin import … --check`: after the move, who the source says is on call against Tocsin's
answer, for every schedule, at every step of a window (15 minutes over the next 14 days).

Both sides come as timelines, (start, end, e-mail) entries by schedule name: the source's own
rendering (PagerDuty's final schedule, Opsgenie's timeline) and Tocsin's shifts
(GET /api/v1/schedules/{id}/shifts), so each schedule costs one request per side. Runs of
steps that differ the same way are reported as one difference.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import httpx

Timeline = list[tuple[datetime, datetime, str]]
STEP = timedelta(minutes=15)
WINDOW = timedelta(days=14)
_NO_SCHEDULE = "(no such schedule in Tocsin)"


@dataclass(frozen=True)
class Difference:
    schedule: str
    start: datetime
    end: datetime
    source: tuple[str, ...]
    tocsin: tuple[str, ...]

    def describe(self, source_name: str) -> str:
        def people(who: tuple[str, ...]) -> str:
            return ", ".join(who) or "nobody"

        return (f"{self.schedule}: {self.start.isoformat()} to {self.end.isoformat()}: {source_name} says"
                f" {people(self.source)}, Tocsin says {people(self.tocsin)}")


def on_call(timeline: Timeline, at: datetime) -> tuple[str, ...]:
    return tuple(sorted({who for start, end, who in timeline if start <= at < end}))


def differences(source: dict[str, Timeline], tocsin: dict[str, Timeline], start: datetime,
                end: datetime, step: timedelta = STEP) -> list[Difference]:
    """Every run of steps in [start, end) where the two disagree, schedule by schedule."""
    found: list[Difference] = []
    for name in sorted(source):
        theirs = tocsin.get(name)
        if theirs is None:
            found.append(Difference(name, start, end, (), (_NO_SCHEDULE,)))
            continue
        at, run = start, None
        while at < end:
            pair = on_call(source[name], at), on_call(theirs, at)
            if run is not None and (pair != (run.source, run.tocsin) or run.end != at):
                found.append(run)
                run = None
            if pair[0] != pair[1]:
                run = Difference(name, run.start if run else at, at + step, *pair)
            at += step
        if run is not None:
            found.append(run)
    return found


def tocsin_timelines(url: str, token: str, start: datetime, end: datetime) -> dict[str, Timeline]:
    """Every Tocsin schedule's shifts over [start, end), by name, people by e-mail address."""
    with httpx.Client(base_url=url, headers={"Authorization": f"Bearer {token}"}, timeout=60) as api:
        emails = {u["id"]: u["email"] for u in _get(api, "/api/v1/users")["users"]}
        out = {}
        for schedule in _get(api, "/api/v1/schedules")["schedules"]:
            shifts = _get(api, f"/api/v1/schedules/{schedule['id']}/shifts",
                          {"from": start.isoformat(), "to": end.isoformat()})["shifts"]
            out[schedule["name"]] = [(datetime.fromisoformat(s["start"]), datetime.fromisoformat(s["end"]),
                                      emails.get(s["user_id"], s["user_id"])) for s in shifts]
        return out


def _get(api: httpx.Client, path: str, params: dict[str, str] | None = None) -> Any:
    response = api.get(path, params=params)
    if response.status_code != 200:
        raise CheckFailed(f"Tocsin answered {response.status_code} to GET {path}: {response.text[:300]}")
    return response.json()


class CheckFailed(Exception):
    """Tocsin could not be asked."""
