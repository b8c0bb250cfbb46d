"""Request and response bodies of the REST API."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from actors.domain.events import Severity, Status


class ServiceIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str = Field(min_length=1, max_length=255)
    description: str = Field("", max_length=4096)


class ServicePatch(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str | None = Field(None, min_length=1, max_length=255)
    description: str | None = Field(None, max_length=4096)


class ServiceOut(BaseModel):
    id: str
    name: str
    description: str
    created_at: datetime
    updated_at: datetime


class ServiceList(BaseModel):
    services: list[ServiceOut]


IntegrationType = Literal["pagerduty"]


class IntegrationIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    type: IntegrationType
    name: str = Field("", max_length=255)


class IntegrationOut(BaseModel):
    id: str
    service_id: str
    type: str
    name: str
    key: str
    created_at: datetime
    revoked_at: datetime | None
    url: str = Field(description="Where a source of this type sends its events")


class IntegrationList(BaseModel):
    integrations: list[IntegrationOut]


class IncidentOut(BaseModel):
    id: int
    service_id: str
    dedup_key: str
    status: Status
    summary: str
    severity: Severity
    source: str | None
    occurrences: int
    created_at: datetime
    updated_at: datetime
    last_occurrence_at: datetime
    acknowledged_at: datetime | None
    resolved_at: datetime | None


class IncidentList(BaseModel):
    incidents: list[IncidentOut]
    next_cursor: str | None


class TimelineEntry(BaseModel):
    at: datetime
    kind: str
    actor: str
    message: str


class IncidentDetail(IncidentOut):
    details: Any
    timeline: list[TimelineEntry]
