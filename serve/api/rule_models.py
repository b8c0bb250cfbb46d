"""The REST API's shapes for routing rules and router integrations.

A rule's own parts (conditions, actions, source, target, equal) are plain JSON here: the core
(actors/domain/rules) reads and checks them when the rule is saved, and names every problem
with its path. A null part is as good as an absent one, so that a rule read back (where the
parts not of its kind are null) can be sent again.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from tocsin.actors.store.rules import Kind
from tocsin.serve.api.models import TeamId

RouterFormat = Literal["pagerduty", "alertmanager", "grafana", "opsgenie", "generic"]
"""The formats a router may take: those sent as JSON over HTTP, in FORMATS' order
(serve/ingest/formats.py); a test holds them equal."""

SPEC_PARTS = ("conditions", "actions", "continue", "route_to", "source", "target", "equal")
JSON_DOC = "JSON, as the rules' reference describes it"


class RuleFields(BaseModel):
    """A rule's editable fields: the body of PUT /api/v1/rules/{id}."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    name: str = Field(max_length=255)
    enabled: bool = True
    conditions: Any = Field(None, description=f"which alerts it matches ({JSON_DOC}); none: every alert")
    actions: Any = Field(None, description=f"service rules: what it does ({JSON_DOC})")
    continue_: bool | None = Field(None, alias="continue",
                                   description="service rules: try the next rules too once this one matched")
    route_to: str | None = Field(None, max_length=64, description="router rules: the id of the service to send to")
    source: Any = Field(None, description="inhibit rules: the condition an open incident meets")
    target: Any = Field(None, description="inhibit rules: the condition of the alerts it silences")
    equal: Any = Field(None, description="inhibit rules: field paths whose values must be the same")
    position: int | None = Field(None, ge=0, le=100_000,
                                 description="where in its set, from 0; past the end is the end")

    def spec(self, rule_id: str) -> dict[str, Any]:
        """The rule as the core reads it: its id, name, enabled and each part that is set."""
        parts = self.model_dump(by_alias=True, include={"name", "enabled", "continue_", "conditions", "actions",
                                                         "route_to", "source", "target", "equal"})
        return {"id": rule_id, **{key: value for key, value in parts.items() if value is not None}}


class RuleSetIn(BaseModel):
    """Which rule set: a service's, a router integration's, or the inhibit rules."""

    model_config = ConfigDict(extra="forbid")

    kind: Kind
    service_id: uuid.UUID | None = Field(None, description="kind service: the service")
    integration_id: uuid.UUID | None = Field(None, description="kind router: the router integration")


class RuleIn(RuleFields, RuleSetIn):
    """A new rule, appended to its set unless `position` says where."""


class RuleOrderIn(RuleSetIn):
    ids: list[uuid.UUID] = Field(max_length=10_000, description="every rule of the set, in the new order")


class Matches(BaseModel):
    last_hour: int
    last_day: int


class RuleOut(BaseModel):
    """A rule; the parts not of its kind are null."""

    model_config = ConfigDict(populate_by_name=True)

    id: str
    kind: Kind
    service_id: str | None
    integration_id: str | None
    position: int
    name: str
    enabled: bool
    conditions: Any = None
    actions: Any = None
    continue_: bool | None = Field(None, alias="continue")
    route_to: str | None = None
    source: Any = None
    target: Any = None
    equal: Any = None
    version: int
    updated_at: datetime
    updated_by: str
    matches: Matches


class CatchAll(BaseModel):
    """Where a router sends what none of its rules matched: one of the two."""

    model_config = ConfigDict(extra="forbid")

    route_to: str | None = Field(None, max_length=64, description="the id of a service")
    drop: Literal[True] | None = Field(None, description="true: drop it (it is only counted)")

    def options(self) -> dict[str, Any]:
        return self.model_dump(exclude_none=True)


class RuleList(BaseModel):
    rules: list[RuleOut]
    catch_all: dict[str, Any] | None = Field(description="a router's catch-all; null for other sets")


class RuleVersionOut(BaseModel):
    version: int
    spec: dict[str, Any]
    saved_at: datetime
    saved_by: str
    deleted: bool


class RuleVersionList(BaseModel):
    versions: list[RuleVersionOut] = Field(description="every saved version, the first first")


class RuleTestIn(BaseModel):
    """A sample alert, as its source sends it, for a router's routes then its service's rules,
    or for a service's rules."""

    model_config = ConfigDict(extra="forbid")

    format: RouterFormat
    payload: Any = Field(description="the body as the source sends it")
    integration_id: uuid.UUID | None = Field(None, description="a router integration: its routes decide first")
    service_id: uuid.UUID | None = Field(None, description="without a router: the service it is sent to")


class RoutedOut(BaseModel):
    rule: str | None = Field(description="the route that matched; null when the catch-all decided")
    by_catch_all: bool
    service_id: str | None = Field(description="the service it goes to; null when dropped")


class TestedAlertOut(BaseModel):
    summary: str | None
    severity: str | None
    urgency: str | None
    priority: str | None
    dedup_key: str
    details: dict[str, str] = Field(description="details the rules add")
    tags: list[str] = Field(description="tags the rules add")


class TestedOut(BaseModel):
    router: RoutedOut | None
    service_rules: list[str] = Field(description="the ids of the service's rules that matched, in order")
    inhibited_by: str | None
    alert: TestedAlertOut
    disposition: Literal["page", "pause", "suppress", "drop"]
    pause_minutes: int
    would_page: bool = Field(description="a trigger that goes on as usual, paging if it opens an incident")


class RuleTestOut(BaseModel):
    alerts: list[TestedOut] = Field(description="one per alert of the payload, in order")


class RouterIntegrationIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    type: Literal["router"]
    name: str = Field("", max_length=255)
    team_id: TeamId = None
    format: RouterFormat = Field(description="what its source sends, read as that source's integrations read it")
    catch_all: CatchAll


class RouterIntegrationPatch(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str | None = Field(None, max_length=255)
    team_id: TeamId = None
    catch_all: CatchAll | None = None


class RouterIntegrationOut(BaseModel):
    id: str
    service_id: None = None
    type: Literal["router"]
    name: str
    team_id: str | None
    key: str | None = Field(description="its key: a credential, shown to admins only (null to others)")
    config: dict[str, Any]
    format: str
    catch_all: dict[str, Any]
    created_at: datetime
    revoked_at: datetime | None
    url: str | None = Field(description="where its source sends (admins only, as the key is in it)")


class RouterIntegrationList(BaseModel):
    integrations: list[RouterIntegrationOut]
