"""The REST API's shapes for on-call health reports (what each figure means is in
actors/domain/reports.py)."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, Field


class Bucket(BaseModel):
    le_s: int | None = Field(description="upper bound in seconds; null for the last, open-ended bucket")
    count: int


class DurationsOut(BaseModel):
    count: int = Field(description="how many incidents the figure is over")
    median_s: float | None = Field(description="nearest-rank median in seconds; null when count is 0")
    p90_s: float | None = Field(description="nearest-rank 90th percentile in seconds; null when count is 0")
    buckets: list[Bucket]


class TotalsOut(BaseModel):
    incidents: int
    suppressed: int = Field(description="opened, but routing rules paged nobody; not in MTTA, MTTR or noise")
    acknowledged_by_person: int
    acknowledged_by_source: int
    resolved: int
    open: int
    acknowledged_without_action: int
    pages: int
    night_pages: int = Field(description="pages at 22:00–07:00 in the paged person's time zone")
    weekend_pages: int = Field(description="pages on a Saturday or Sunday in the paged person's time zone")
    off_hours_pages: int = Field(description="pages at night or at a weekend, each counted once")
    mtta: DurationsOut
    mttr: DurationsOut


class ServiceReport(TotalsOut):
    service_id: str
    name: str


class PersonReport(BaseModel):
    user_id: str
    name: str
    time_zone: str
    pages: int
    night_pages: int
    weekend_pages: int
    off_hours_pages: int
    incidents: int


class NoisyAlertOut(BaseModel):
    service_id: str
    service_name: str
    dedup_key: str
    summary: str
    incidents: int
    occurrences: int
    pages: int
    acknowledged_without_action: int


class NoisyRuleOut(BaseModel):
    rule_id: str
    name: str
    incidents: int
    alerts: int
    pages: int
    acknowledged_without_action: int


class ReportOut(BaseModel):
    from_: datetime = Field(alias="from", serialization_alias="from")
    to: datetime
    service_id: str | None
    team_id: str | None
    totals: TotalsOut
    services: list[ServiceReport]
    people: list[PersonReport]
    alerts: list[NoisyAlertOut]
    rules: list[NoisyRuleOut]
