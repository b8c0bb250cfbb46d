"""Request and response bodies of the schedule API.

The layer documents are those stored in `schedules.layers` (see tocsin.actors.domain.definitions),
so one set of models validates them coming in and describes them going out.
"""

from __future__ import annotations

import uuid
from datetime import datetime, timezone
from typing import Annotated, Literal

from pydantic import AfterValidator, AwareDatetime, BaseModel, ConfigDict, Field, ValidationInfo, field_validator

from tocsin.actors.domain.definitions import parse_time
from tocsin.serve.api.models import Description, Name, TeamId, TimeZone

EARLIEST = datetime(1970, 1, 1, tzinfo=timezone.utc)
LATEST = datetime(2200, 1, 1, tzinfo=timezone.utc)


def _wall_time(value: str) -> str:
    try:
        parsed = parse_time(value)
    except ValueError:
        parsed = None
    if parsed is None or len(value) != 5 or parsed.second or parsed.microsecond:
        raise ValueError(f"{value!r} is not a wall-clock time HH:MM, from 00:00 to 23:59")
    return value


def _in_range(value: datetime) -> datetime:
    if not EARLIEST <= value < LATEST:
        raise ValueError(f"must be between {EARLIEST.year} and {LATEST.year}")
    return value


WallTime = Annotated[str, Field(examples=["09:00"]), AfterValidator(_wall_time)]
Instant = Annotated[AwareDatetime, AfterValidator(_in_range)]


class _Document(BaseModel):
    model_config = ConfigDict(extra="forbid")


class WindowDoc(_Document):
    day: int = Field(ge=0, le=6, description="0 = Monday … 6 = Sunday")
    start: WallTime
    end: WallTime = Field(description="At or before start: the window ends on the next day")


class RestrictionDoc(_Document):
    windows: list[WindowDoc] = Field(min_length=1, max_length=50)


class RotationDoc(_Document):
    participants: list[uuid.UUID] = Field(min_length=1, max_length=100, description="User ids, in turn order")
    start: Instant = Field(description="When the first participant's turn begins, with a UTC offset")
    shift_length: int = Field(ge=1, le=1000)
    unit: Literal["hours", "days", "weeks"]
    handoff: WallTime = Field("00:00", description="Wall-clock time of the handoffs, in the schedule's zone")


class LayerDoc(_Document):
    name: Name
    priority: int = Field(0, ge=-1000, le=1000, description="A higher layer covers lower ones where it has someone")
    rotation: RotationDoc
    restriction: RestrictionDoc | None = Field(None, description="null: on call all the time")


class ScheduleIn(_Document):
    name: Name
    team_id: TeamId = None
    description: Description = ""
    time_zone: TimeZone
    layers: list[LayerDoc] = Field(max_length=20)
    owner_id: uuid.UUID | None = Field(None, description="The user who answers for the schedule: told when an"
                                                         " incoming person misses a reachability check")
    reachability_check: bool = Field(False, description="Ask each incoming person to confirm they can be reached"
                                                        " before their shift")
    check_lead_minutes: int = Field(60, ge=1, le=1440, description="How long before a shift the check is sent")


class ScheduleOut(BaseModel):
    id: str
    name: str
    team_id: str | None
    description: str
    time_zone: str
    layers: list[LayerDoc]
    version: int
    owner_id: str | None
    reachability_check: bool
    check_lead_minutes: int
    calendar_url: str | None = Field(description="The schedule's iCalendar feed; the token in it is the credential,"
                                                 " shown only to admins (null for others)")
    created_at: datetime
    updated_at: datetime


class ScheduleList(BaseModel):
    schedules: list[ScheduleOut]


class OverrideIn(_Document):
    user_id: uuid.UUID
    start: Instant
    end: Instant

    @field_validator("end")
    @classmethod
    def _after_start(cls, end: datetime, info: ValidationInfo) -> datetime:
        start = info.data.get("start")
        if start is not None and end <= start:
            raise ValueError("end must be after start")
        return end


class OverrideOut(BaseModel):
    id: str
    schedule_id: str
    user_id: str
    start: datetime
    end: datetime
    created_at: datetime


class OverrideList(BaseModel):
    overrides: list[OverrideOut]


class CheckOut(BaseModel):
    id: str
    schedule_id: str
    user_id: str
    user_name: str
    shift_start: datetime
    send_at: datetime = Field(description="When the test page was (or is to be) sent")
    status: Literal["waiting", "acknowledged", "missed", "cancelled"] = Field(
        description="waiting for the person; acknowledged by them; missed (not acknowledged by the shift's start,"
                    " and `told` were told); cancelled (the shift no longer held)")
    page_status: str | None = Field(description="The test page's notification status; null when none was sent")
    acknowledged_at: datetime | None
    missed_at: datetime | None
    told: list[str] = Field(description="The users told of a missed check")
    note: str | None
    created_at: datetime


class CheckList(BaseModel):
    checks: list[CheckOut]


class Person(BaseModel):
    id: str
    name: str | None = Field(description="null when the user no longer exists")
    email: str | None


class LayerSource(BaseModel):
    type: Literal["layer"] = "layer"
    index: int = Field(description="The layer's position in the schedule's layers")
    name: str


class OverrideSource(BaseModel):
    type: Literal["override"] = "override"
    override_id: str | None = Field(description="The override in force when the shift starts")


class ShiftOut(BaseModel):
    user_id: str
    user_name: str | None
    start: datetime
    end: datetime
    source: LayerSource | OverrideSource = Field(discriminator="type")


class ShiftList(BaseModel):
    model_config = ConfigDict(populate_by_name=True)
    schedule_id: str
    from_: datetime = Field(alias="from")
    to: datetime
    shifts: list[ShiftOut]


class OnCallOut(BaseModel):
    schedule_id: str
    at: datetime
    users: list[Person] = Field(description="Who is on call at `at`; empty when nobody is")
    shift: ShiftOut | None = Field(
        description="The shift covering `at`, with its bounds as far as 31 days either side of it"
    )


class ScheduleOnCall(BaseModel):
    schedule_id: str
    schedule_name: str
    users: list[Person]


class OnCallEverywhere(BaseModel):
    at: datetime
    oncall: list[ScheduleOnCall]
