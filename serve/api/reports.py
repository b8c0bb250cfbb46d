"""On-call health reports over a period: GET /api/v1/reports as JSON, and each of its
tables as CSV at GET /api/v1/reports/{table}.csv with the same query.

    from, to     the period [from, to), ISO 8601 instants with an offset; default the 30 days
                 up to now; at most 366 days
    service_id   one service (default: all)
    team_id      the services of one team (with service_id: that service, if it is the team's)
    top          how many of the noisiest alerts and rules (default 10, at most 100)

The tables: `services` (an "all" row first, then one per service), `people`, `alerts`,
`rules`, and `incidents` (CSV only: each incident with its own figures, to check the others by).
Durations are in seconds, instants in UTC. What each figure means is in
actors/domain/reports.py. Any signed-in role may read them.

A CSV cell of text from outside (a dedup key, a summary, a name) that a spreadsheet would read
as a formula (it starts with =, +, -, @, a tab or a carriage return) is sent with a ' before it.
"""

from __future__ import annotations

import asyncio
import csv
import io
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass
from datetime import datetime, timedelta
from typing import Any, Literal

from fastapi import APIRouter, Depends, HTTPException, Query
from fastapi.responses import Response

from tocsin.actors.domain import reports as domain
from tocsin.actors.store import reports as store
from tocsin.serve.api.instants import instant
from tocsin.serve.api.auth import require_viewer
from tocsin.serve.api.report_models import ReportOut
from tocsin.serve.runtime import GatewayRuntime, get_runtime

router = APIRouter(prefix="/api/v1/reports", tags=["Reports"], dependencies=[Depends(require_viewer)])

DEFAULT_PERIOD = timedelta(days=30)
# What one report reads into memory is bounded: past this, a shorter period or one service.
MOST_INCIDENTS = 100_000
MOST_TOP = 100

Table = Literal["services", "people", "alerts", "rules", "incidents"]
_CSV = "text/csv; charset=utf-8"
_CSV_ANSWER: dict[int | str, dict[str, Any]] = {200: {"content": {"text/csv": {}}, "description": "The table as CSV"}}
_FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")

_FROM = Query(None, alias="from", description="ISO 8601 instant with a UTC offset; default 30 days before to")
_TO = Query(None, description="ISO 8601 instant with a UTC offset; default now")
_TOP = Query(domain.DEFAULT_TOP, ge=1, le=MOST_TOP, description="how many of the noisiest alerts and rules")


@dataclass(frozen=True)
class Scope:
    start: datetime
    end: datetime
    service_id: str | None
    team_id: str | None
    services: list[str] | None  # None: all


@dataclass(frozen=True)
class Named:
    """A report with the names of what it counts."""

    report: domain.Report
    scope: Scope
    services: dict[str, str]
    rules: dict[str, str]


@router.get("", response_model=ReportOut)
async def report(
    from_: str | None = _FROM, to: str | None = _TO, service_id: uuid.UUID | None = None,
    team_id: uuid.UUID | None = None, top: int = _TOP, runtime: GatewayRuntime = Depends(get_runtime),
) -> dict[str, Any]:
    """Incidents, MTTA and MTTR (median, p90), pages per person, night and weekend pages in each
    person's own time zone, and the noisiest alerts and rules, over a period."""
    named = await _named_report(runtime, from_, to, service_id, team_id, top)
    return {
        "from": named.scope.start, "to": named.scope.end,
        "service_id": named.scope.service_id, "team_id": named.scope.team_id,
        "totals": _totals(named.report.totals),
        "services": [{"service_id": s.service_id, "name": named.services.get(s.service_id, ""), **_totals(s.totals)}
                     for s in named.report.services],
        "people": [asdict(p) for p in named.report.people],
        "alerts": [{**asdict(a), "service_name": named.services.get(a.service_id, "")} for a in named.report.alerts],
        "rules": [{**asdict(r), "name": named.rules.get(r.rule_id, "")} for r in named.report.rules],
    }


@router.get("/{table}.csv", response_class=Response, responses=_CSV_ANSWER)
async def report_table(
    table: Table, from_: str | None = _FROM, to: str | None = _TO, service_id: uuid.UUID | None = None,
    team_id: uuid.UUID | None = None, top: int = _TOP, runtime: GatewayRuntime = Depends(get_runtime),
) -> Response:
    """One table of the report as CSV, with a header row: services, people, alerts, rules or
    incidents."""
    named = await _named_report(runtime, from_, to, service_id, team_id, top)
    header, rows = _TABLES[table](named)
    name = f"tocsin-{table}-{named.scope.start:%Y%m%dT%H%MZ}-{named.scope.end:%Y%m%dT%H%MZ}.csv"
    return Response(_csv(header, rows), media_type=_CSV,
                    headers={"Content-Disposition": f'attachment; filename="{name}"'})


async def _named_report(runtime: GatewayRuntime, start_text: str | None, end_text: str | None,
                        service_id: uuid.UUID | None, team_id: uuid.UUID | None, top: int) -> Named:
    start, end = period(start_text, end_text, runtime.now())
    async with runtime.database.connection() as conn:
        services = await _services(conn, service_id, team_id)
        scope = Scope(start, end, str(service_id) if service_id else None, str(team_id) if team_id else None,
                      services)
        incidents = await store.incidents(conn, start, end, services, MOST_INCIDENTS + 1)
        if len(incidents) > MOST_INCIDENTS:
            raise HTTPException(400, f"more than {MOST_INCIDENTS} incidents were opened from from to to:"
                                     " choose a shorter period or one service")
        log = await store.log_entries(conn, start, end, services)
        deliveries = await store.deliveries(conn, start, end, services)
        matches = await store.rule_matches(conn, start, end, services)
        people = await store.people(conn, sorted({d.user_id for d in deliveries}))
        service_names = await store.service_names(conn, sorted({i.service_id for i in incidents}))
        rule_names = await store.rule_names(conn, sorted({m.rule_id for m in matches}))
    built = await asyncio.to_thread(domain.build_report, start, end, incidents, log, deliveries, matches, people, top)
    return Named(built, scope, service_names, rule_names)


def period(start_text: str | None, end_text: str | None, now: datetime) -> tuple[datetime, datetime]:
    """[from, to): to defaults to now, from to 30 days before to; at most 366 days."""
    end = instant("to", end_text, now)
    start = instant("from", start_text, end - DEFAULT_PERIOD)
    if end <= start:
        raise HTTPException(400, "to: must be after from")
    if end - start > domain.LONGEST_PERIOD:
        raise HTTPException(400, f"to: a report covers at most {domain.LONGEST_PERIOD.days} days from from")
    return start, end


async def _services(conn: Any, service_id: uuid.UUID | None, team_id: uuid.UUID | None) -> list[str] | None:
    """The services the report covers (None: all), or a 404 naming what does not exist."""
    if service_id is not None and not await store.service_exists(conn, str(service_id)):
        raise HTTPException(404, f"no service with id {service_id}")
    if team_id is None:
        return [str(service_id)] if service_id else None
    owned = await store.services_of_team(conn, str(team_id))
    if owned is None:
        raise HTTPException(404, f"no team with id {team_id}")
    return [s for s in owned if s == str(service_id)] if service_id else owned


# -- tables ----------------------------------------------------------------------------------------

Rows = tuple[list[str], list[list[object]]]
_TOTALS_HEADER = [
    "incidents", "suppressed", "acknowledged_by_person", "acknowledged_by_source", "resolved", "open",
    "acknowledged_without_action", "pages", "night_pages", "weekend_pages", "off_hours_pages",
    "mtta_count", "mtta_median_s", "mtta_p90_s", "mttr_count", "mttr_median_s", "mttr_p90_s",
]


def _totals(totals: domain.Totals) -> dict[str, Any]:
    found = asdict(totals)
    found["mtta"], found["mttr"] = _durations(totals.mtta), _durations(totals.mttr)
    return found


def _durations(durations: domain.Durations) -> dict[str, Any]:
    bounds: list[int | None] = [*domain.DURATION_BUCKETS, None]
    return {"count": durations.count, "median_s": durations.median_s, "p90_s": durations.p90_s,
            "buckets": [{"le_s": bound, "count": count} for bound, count in zip(bounds, durations.buckets)]}


def _totals_row(totals: domain.Totals) -> list[object]:
    flat = asdict(totals)
    return [*(flat[name] for name in _TOTALS_HEADER[:11]),
            totals.mtta.count, totals.mtta.median_s, totals.mtta.p90_s,
            totals.mttr.count, totals.mttr.median_s, totals.mttr.p90_s]


def _services_table(named: Named) -> Rows:
    rows: list[list[object]] = [["", "all", *_totals_row(named.report.totals)]]
    rows += [[s.service_id, named.services.get(s.service_id, ""), *_totals_row(s.totals)]
             for s in named.report.services]
    return ["service_id", "service_name", *_TOTALS_HEADER], rows


def _people_table(named: Named) -> Rows:
    header = ["user_id", "name", "time_zone", "pages", "night_pages", "weekend_pages", "off_hours_pages", "incidents"]
    return header, [[asdict(p)[name] for name in header] for p in named.report.people]


def _alerts_table(named: Named) -> Rows:
    header = ["service_id", "service_name", "dedup_key", "summary", "incidents", "occurrences", "pages",
              "acknowledged_without_action"]
    return header, [[{**asdict(a), "service_name": named.services.get(a.service_id, "")}[name] for name in header]
                    for a in named.report.alerts]


def _rules_table(named: Named) -> Rows:
    header = ["rule_id", "name", "incidents", "alerts", "pages", "acknowledged_without_action"]
    return header, [[{**asdict(r), "name": named.rules.get(r.rule_id, "")}[name] for name in header]
                    for r in named.report.rules]


def _incidents_table(named: Named) -> Rows:
    header = ["incident_id", "service_id", "dedup_key", "created_at", "acknowledged_at", "acknowledged_by_person",
              "time_to_acknowledge_s", "resolved_at", "time_to_resolve_s", "suppressed", "pages",
              "acknowledged_without_action"]
    rows: list[list[object]] = []
    for f in named.report.incidents:
        tta, ttr = f.time_to_acknowledge, f.time_to_resolve
        rows.append([f.id, f.service_id, f.dedup_key, f.created_at, f.acknowledged_at, f.acknowledged_by_person,
                     tta.total_seconds() if tta is not None else None, f.resolved_at,
                     ttr.total_seconds() if ttr is not None else None, f.suppressed, f.pages,
                     f.acknowledged_without_action])
    return header, rows


_TABLES = {"services": _services_table, "people": _people_table, "alerts": _alerts_table, "rules": _rules_table,
           "incidents": _incidents_table}


def _csv(header: Sequence[str], rows: Iterable[Sequence[object]]) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(header)
    writer.writerows([_cell(value) for value in row] for row in rows)
    return out.getvalue()


def _cell(value: object) -> object:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, datetime):
        return value.isoformat().replace("+00:00", "Z")
    if isinstance(value, str) and value.startswith(_FORMULA_STARTS):
        return "'" + value
    return value
